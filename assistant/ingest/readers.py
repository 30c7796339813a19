"""read_document: one entry point that picks the reader for a file and checks the result."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from assistant.ingest.chatgpt_reader import read_chatgpt, scan_chatgpt
from assistant.ingest.conversation_reader import is_conversation_export, read_conversation_export
from assistant.ingest.docx_reader import read_docx
from assistant.ingest.html_reader import read_html
from assistant.ingest.markdown_reader import read_markdown
from assistant.ingest.pdf_reader import read_pdf
from assistant.ingest.text_reader import read_text
from assistant.ingest.types import (
    CHATGPT_EXPORT_NAME,
    SUPPORTED_SUFFIXES,
    ReadDocument,
    ReadError,
    Section,
)

_READERS: dict[str, tuple[str, Callable[[Path, bytes], tuple[str, list[Section]]]]] = {
    ".txt": ("text", read_text),
    ".md": ("markdown", read_markdown),
    ".markdown": ("markdown", read_markdown),
    ".html": ("html", read_html),
    ".htm": ("html", read_html),
    ".pdf": ("pdf", read_pdf),
    ".docx": ("docx", read_docx),
}
assert set(_READERS) == SUPPORTED_SUFFIXES, "every supported suffix needs a reader"

# Reading a whole file into memory is fine for documents and chat exports, not for
# a disk image picked by mistake.
MAX_FILE_BYTES = 1024 * 1024 * 1024


def read_document(path: Path) -> ReadDocument:
    """Read one file into sections (or conversations); raise ReadError if it cannot be."""
    path = Path(path)
    is_export = path.name.lower() == CHATGPT_EXPORT_NAME
    suffix = path.suffix.lower()
    if not is_export and suffix not in _READERS:
        supported = ", ".join(sorted(SUPPORTED_SUFFIXES))
        kind = f"'{suffix}'" if suffix else "(no suffix)"
        raise ReadError(
            path,
            f"unsupported file type {kind}; supported: {supported} and {CHATGPT_EXPORT_NAME}",
        )
    raw = _read_bytes(path)
    if not raw.strip():
        raise ReadError(path, "empty: no text to import")
    content_hash = hashlib.sha256(raw).hexdigest()
    try:
        if is_export:
            title, conversations = read_chatgpt(path, raw)
            return ReadDocument(path, "chatgpt", title, content_hash, [], conversations)
        if suffix in (".md", ".markdown") and is_conversation_export(raw):
            # `assistant conversations export`: conversations again, not a document.
            title, conversations = read_conversation_export(path, raw)
            return ReadDocument(path, "conversations", title, content_hash, [], conversations)
        kind, reader = _READERS[suffix]
        title, sections = reader(path, raw)
    except RecursionError as exc:  # hostile nesting that slipped past a parser
        raise ReadError(path, "too deeply nested to read; is the file damaged?") from exc
    if not sections:
        raise ReadError(path, "empty: no text to import")
    return ReadDocument(path, kind, title, content_hash, sections, [])


@dataclass(frozen=True)
class ExportFile:
    """A checked ChatGPT export, ready to stream: its text and what it holds."""

    path: Path
    content_hash: str
    text: str
    conversations: int
    turns: int


def open_export(path: Path) -> ExportFile:
    """Read and check a whole conversations.json without keeping its parsed objects."""
    raw = _read_bytes(path)
    if not raw.strip():
        raise ReadError(path, "empty: no text to import")
    text, conversations, turns = scan_chatgpt(path, raw)
    return ExportFile(path, hashlib.sha256(raw).hexdigest(), text, conversations, turns)


def file_hash(path: Path) -> str:
    """sha256 hex of the file's bytes, read in blocks after the size check (a huge file
    is refused before any of it is read, and hashing never holds it whole)."""
    digest, read = hashlib.sha256(), 0
    with _open_checked(path) as (f, _):
        for block in iter(lambda: f.read(1024 * 1024), b""):
            read += len(block)
            if read > MAX_FILE_BYTES:  # grew past the cap since the check
                raise _too_large(path)
            digest.update(block)
    return digest.hexdigest()


def _read_bytes(path: Path) -> bytes:
    """The file's bytes, with OS errors turned into ReadError."""
    with _open_checked(path) as (f, size):
        # One byte past the size: a file that grew past the cap since is still refused.
        raw = f.read(size + 1)
    if len(raw) > MAX_FILE_BYTES:
        raise _too_large(path)
    return raw


@contextmanager
def _open_checked(path: Path) -> Iterator[tuple[BinaryIO, int]]:
    """The file open for reading and its size, once that size (of the file opened, not of
    whatever the name points to later) is within MAX_FILE_BYTES; OS errors become
    ReadError."""
    try:
        with open(path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            if size > MAX_FILE_BYTES:
                raise _too_large(path)
            yield f, size
    except OSError as exc:
        raise ReadError(path, f"cannot read the file ({exc.strerror or exc})") from exc


def _too_large(path: Path) -> ReadError:
    return ReadError(path, "too large to import (over 1 GB); split it into parts")
