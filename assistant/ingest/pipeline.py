"""Import files into the memory store: read, chunk, embed, store; one transaction per file."""

from __future__ import annotations

import ctypes
import logging
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from tqdm import tqdm

from assistant.ingest.chatgpt_reader import stream_chatgpt
from assistant.ingest.chunking import CHUNK_OVERLAP, CHUNK_WORDS, TooManyChunks, chunk_sections
from assistant.ingest.readers import file_hash, open_export, read_document
from assistant.ingest.types import (
    CHATGPT_EXPORT_NAME,
    Chunk,
    ImportedConversation,
    ReadDocument,
    ReadError,
    is_supported,
)
from assistant.memory import text as memory_text
from assistant.memory.encoder import Encoder
from memory_store.base import StoreBase
from memory_store.records import NewConversation, NewMemory, NewTurn

log = logging.getLogger(__name__)


@dataclass
class ImportReport:
    """What an import did, file by file."""

    imported: list[tuple[Path, int]] = field(default_factory=list)  # (file, memories)
    skipped: list[tuple[Path, str]] = field(default_factory=list)  # (file, why)
    failed: list[ReadError] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failed


def collect_files(paths: Iterable[Path], within: Sequence[Path] | None = None
                  ) -> tuple[dict[Path, str], list[ReadError]]:
    """Files named directly, plus supported files found recursively in folders, each with
    the name its memories cite: its path inside the folder imported (two `app.md` in one
    folder stay apart), or its own name.

    Links to files are followed: the user's own import may gather notes linked from
    elsewhere. With `within` (resolved folders: what a connected MCP client may import),
    a file whose real location, links followed, lies outside all of them is refused, so
    a link inside an allowed folder cannot reach the rest of the disk."""
    files, errors = {}, []

    def add(f: Path, cited_as: str) -> None:
        if within is not None and not any(f.resolve().is_relative_to(w) for w in within):
            # The target is not named: the caller may not learn what lies outside.
            what = "links to a file" if f.is_symlink() else "lies"
            errors.append(ReadError(f, f"{what} outside the folders allowed for import; "
                                       "refused"))
        else:
            files[f] = cited_as

    for p in map(Path, paths):
        if p.is_dir():
            for f in sorted(p.rglob("*")):
                inside = f.relative_to(p)
                if (f.is_file() and is_supported(f)
                        and not any(part.startswith(".") for part in inside.parts)):
                    add(f, inside.as_posix())
        elif p.is_file():
            add(p, p.name)
        else:
            errors.append(ReadError(p, "no such file or folder"))
    return files, errors


# Called after each file: (files done, files in all, file, memories added or why not).
FileHook = Callable[[int, int, Path, "int | str | ReadError"], None]
# Called after each committed part of a big file: (file, chunks done, chunks in all);
# for a chat export, turns rather than chunks.
ChunkHook = Callable[[Path, int, int], None]
BATCH_CHUNKS = 512  # chunks per commit of a big file: about 20 s of encoding on 2 cores
# Chunks one document may make: ~9 million words, over half an hour of encoding on 2
# cores. More is a hostile or mistaken file, not a document to remember.
MAX_CHUNKS = 50_000


def import_paths(store: StoreBase, encoder: Encoder,
                 paths: Iterable[Path] | Mapping[Path, str], progress: bool | None = None,
                 on_file: FileHook | None = None, batch_chunks: int = BATCH_CHUNKS
                 ) -> ImportReport:
    """Import every file under `paths` (or the files collect_files found, with the names
    they cite); a bad file is reported and the others go on."""
    files, errors = (dict(paths), []) if isinstance(paths, Mapping) else collect_files(paths)
    report = ImportReport(failed=errors)
    for err in errors:
        if on_file:
            on_file(0, len(files), err.path, err)
    # disable=None: a bar on an interactive stderr only, never in logs or pipes.
    bar = tqdm(list(files), unit="file", disable=None if progress is None else not progress,
               desc="importing")
    for done, path in enumerate(bar, start=1):
        bar.set_postfix_str(path.name[:40])
        try:
            result = import_file(
                store, encoder, path, files[path], batch_chunks=batch_chunks,
                on_chunks=lambda p, done, total: bar.set_postfix_str(
                    f"{p.name[:30]} {done}/{total}"))
        except ReadError as exc:
            result = exc
            report.failed.append(exc)
        except Exception as exc:  # a reader bug must not cost the other files
            log.exception("import of %s failed", path)
            result = ReadError(path, f"unexpected error: {exc}")
            report.failed.append(result)
        else:
            if isinstance(result, str):
                report.skipped.append((path, result))
            else:
                report.imported.append((path, result))
        if on_file:
            on_file(done, len(files), path, result)
    store.flush()
    return report


def import_file(store: StoreBase, encoder: Encoder, path: Path, cited_as: str = "", *,
                batch_chunks: int = BATCH_CHUNKS, on_chunks: ChunkHook | None = None,
                max_chunks: int = MAX_CHUNKS) -> int | str:
    """Import one file: the number of memories stored, or why it was skipped. Its
    memories cite it as `cited_as` (default: its name). A file of more than
    `batch_chunks` chunks (a chat export of more turns) is committed in parts, reported
    to `on_chunks`; a document of more than `max_chunks` is refused."""
    path = path.resolve()
    content_hash = file_hash(path)
    same_path = store.document_by_path(str(path))
    if same_path is not None and same_path.content_hash == content_hash:
        return "unchanged since the last import"
    same_content = store.document_by_hash(content_hash)
    if same_content is not None and same_content.path != str(path):
        return f"same content as {same_content.path}, already imported"
    modified = datetime.fromtimestamp(path.stat().st_mtime, UTC).replace(tzinfo=None)
    if path.name.lower() == CHATGPT_EXPORT_NAME:
        return _import_export(store, encoder, path, modified, batch_chunks, on_chunks)
    doc = read_document(path)
    if doc.conversations:  # a conversation export: stored as an imported chat's are
        doc_id, _, _ = store.staged_document(path=str(path), content_hash=doc.content_hash,
                                             kind=doc.kind, title=doc.title, modified_at=modified)
        memories = _conversations(doc.conversations, encoder, origin="export")
        store.add_staged_conversations(doc_id, memories)
        store.publish_document(doc_id, str(path))
        return sum(len(t.memories) for c in memories for t in c.turns)
    try:
        planned = chunk_sections(doc.sections, max_words=CHUNK_WORDS,
                                 overlap_words=CHUNK_OVERLAP, max_chunks=max_chunks)
    except TooManyChunks:
        raise ReadError(path, f"too long to import (over {max_chunks} chunks of about "
                              f"{CHUNK_WORDS} words); split it into smaller files") from None
    cited_as = cited_as or path.name
    if len(planned) > batch_chunks:
        return _import_in_parts(store, encoder, doc, planned, modified, cited_as,
                                batch_chunks, on_chunks)
    chunks = _chunk_memories(doc, planned, encoder, modified, cited_as)
    store.replace_document(path=str(path), content_hash=doc.content_hash, kind=doc.kind,
                           title=doc.title, modified_at=modified, chunks=chunks)
    return len(chunks)


def _import_in_parts(store: StoreBase, encoder: Encoder, doc: ReadDocument,
                     planned: list[Chunk], modified: datetime, cited_as: str,
                     batch_chunks: int, on_chunks: ChunkHook | None) -> int:
    """A big file, committed `batch_chunks` at a time under a staging document (memory
    stays bounded, a kill loses one batch at most), continuing after the last committed
    batch when the same bytes were being imported before, then published at once."""
    doc_id, done, _ = store.staged_document(
        path=str(doc.path), content_hash=doc.content_hash, kind=doc.kind, title=doc.title,
        modified_at=modified)
    if done:
        log.info("continuing the import of %s after chunk %d of %d", doc.path, done,
                 len(planned))
    for start in range(done, len(planned), batch_chunks):
        batch = planned[start:start + batch_chunks]
        store.add_staged_chunks(doc_id, _chunk_memories(doc, batch, encoder, modified,
                                                        cited_as))
        _return_freed_memory()
        if on_chunks:
            on_chunks(doc.path, start + len(batch), len(planned))
    store.publish_document(doc_id, str(doc.path))
    return len(planned)


def _return_freed_memory() -> None:
    """Hand the heap freed by a batch back to the OS. Without it glibc keeps it, and
    batches of varied shapes grow a big import's memory by ~25 MB a batch."""
    if sys.platform.startswith("linux"):
        try:
            ctypes.CDLL("libc.so.6").malloc_trim(0)
        except (OSError, AttributeError):  # not glibc (musl): nothing to hand back
            pass


def _chunk_memories(doc: ReadDocument, chunks: list[Chunk], encoder: Encoder, when: datetime,
                    cited_as: str) -> list[NewMemory]:
    # The heading path is embedded with the text: a chunk under "Zorblat fermentation"
    # is about zorblat fermentation even if its sentences never say so.
    vectors = encoder.encode([_embedding_text(c) for c in chunks])
    page_of = {s.locator: s.page for s in doc.sections}
    written = [memory_text.chunk(c.text, path=str(doc.path), title=doc.title,
                                 locator=c.locator, page=page_of.get(c.locator),
                                 ordinal=c.ordinal) for c in chunks]
    return [NewMemory(kind="chunk", text=w.text, embedding=v, created_at=when, meta=w.meta,
                      source=f"{cited_as}#{c.locator}" if c.locator else cited_as)
            for c, w, v in zip(chunks, written, vectors, strict=True)]


def _embedding_text(chunk: Chunk) -> str:
    is_heading = chunk.locator and not chunk.locator.startswith("page=")
    return f"{chunk.locator}\n{chunk.text}" if is_heading else chunk.text


def _import_export(store: StoreBase, encoder: Encoder, path: Path, modified: datetime,
                   batch_turns: int, on_turns: ChunkHook | None) -> int:
    """A ChatGPT export, checked whole first (a malformed one stores nothing), then parsed
    and committed a few conversations at a time under a staging document, continuing
    after the conversations a killed import committed; published at once at the end."""
    export = open_export(path)
    doc_id, stored, done = store.staged_document(
        path=str(path), content_hash=export.content_hash, kind="chatgpt",
        title="ChatGPT export", modified_at=modified)
    if done:
        log.info("continuing the import of %s after conversation %d of %d", path, done,
                 export.conversations)
    batch: list[ImportedConversation] = []
    turns_read = 0
    for index, conversation in enumerate(stream_chatgpt(path, export.text)):
        turns_read += len(conversation.turns)
        if index < done:
            continue
        batch.append(conversation)
        last = index == export.conversations - 1
        if last or sum(len(c.turns) for c in batch) >= batch_turns:
            memories = _conversations(batch, encoder)
            store.add_staged_conversations(doc_id, memories)
            stored += sum(len(t.memories) for c in memories for t in c.turns)
            batch = []
            _return_freed_memory()
            if on_turns:
                on_turns(path, turns_read, export.turns)
    store.publish_document(doc_id, str(path))
    return stored


def _conversations(conversations: list[ImportedConversation], encoder: Encoder,
                   origin: str = "chatgpt") -> list[NewConversation]:
    """Conversations with their turns' memories: one per turn, or one per part of a turn
    too long for the encoder's window. Both sides are kept: in an export the
    assistant's replies are what the user read."""
    parts = [memory_text.imported(t.text, role=t.role, title=c.title, origin=origin)
             for c in conversations for t in c.turns]
    vectors = iter(encoder.encode([p.text for turn in parts for p in turn]))
    parts_of = iter(parts)
    out = []
    for conv in conversations:
        new_turns = []
        for t in conv.turns:
            memories = [NewMemory(kind="turn", text=p.text, embedding=next(vectors),
                                  created_at=t.created_at, meta=p.meta)
                        for p in next(parts_of)]
            new_turns.append(NewTurn(role=t.role, text=t.text, created_at=t.created_at,
                                     memories=memories, sources=t.sources))
        out.append(NewConversation(conv.title, conv.created_at, conv.external_id, new_turns))
    return out
