"""MemoryStore: the one facade over SQLite (truth), FTS5 (lexical) and FAISS (dense).
PostgresStore (pg_store.py) is the same facade over PostgreSQL with pgvector;
`open_store` picks one by URL."""

from __future__ import annotations

import functools
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

import numpy as np
from sqlalchemy import delete, func, select, text, update
from sqlalchemy.orm import Session

from memory_store import db, fulltext
from memory_store.db import (  # noqa: F401  (StoreDamagedError re-exported for callers)
    StoreDamagedError,
    generation,
    make_engine,
    make_sessionmaker,
    migrate,
)
from memory_store.models import Conversation, Document, Memory, Message, Meta, ModelState, utcnow
from memory_store.records import (
    ConversationRecord,
    DocumentRecord,
    Hit,
    MessageRecord,
    NewConversation,
    NewMemory,
)
from memory_store.vector_index import APPROXIMATE_AT, TRAIN_SAMPLE, VectorIndex

log = logging.getLogger(__name__)

DB_FILE = "memory.sqlite3"
INDEX_FILE = "memories.faiss"
STAGED = "\n(importing)"  # ends the path of a document being imported in parts
RRF_K = 60  # reciprocal-rank fusion constant from Cormack et al.; flattens rank differences
_SQL_TIME = "%Y-%m-%d %H:%M:%S.%f"  # how SQLAlchemy stores DateTime in SQLite
_SQL_IN_BATCH = 900  # below SQLite's default limit of bound parameters


def _index_locked(method):
    """One thread at a time touches the FAISS index (the chat app searches in one worker
    while another imports or forgets); SQLite handles its own concurrency."""

    @functools.wraps(method)
    def locked(self, *args, **kwargs):
        with self._index_lock:
            return method(self, *args, **kwargs)

    return locked


class EmbeddingMismatchError(RuntimeError):
    """The store holds vectors of another embedding model or dimension."""


class MemoryStore:
    """Add, search, forget and count memories in one data folder."""

    def __init__(self, home: Path, *, embedding_model: str, dim: int) -> None:
        self.home = Path(home)
        self.home.mkdir(parents=True, exist_ok=True)
        os.chmod(self.home, 0o700)  # memories are private: owner only
        self.embedding_model = embedding_model
        self.dim = dim
        self._index_lock = threading.RLock()
        self.db_path = self.home / DB_FILE
        self.where = str(self.db_path)  # for messages: where the memories are
        self.index_path = self.home / INDEX_FILE
        # Created 0600 before SQLite opens it: its -wal and -shm files take the database
        # file's mode, so they are private from their first byte too.
        os.close(os.open(self.db_path, os.O_CREAT | os.O_WRONLY, 0o600))
        for companion in ("-wal", "-shm"):
            if (wal := self.db_path.with_name(DB_FILE + companion)).exists():
                wal.chmod(0o600)
        self._engine = make_engine(self.db_path)
        migrate(self._engine)
        self.db_path.chmod(0o600)
        self.Session = make_sessionmaker(self._engine)  # reads: never wait for a writer
        # Writes take the write lock when they begin: a read-then-write transaction
        # upgraded later fails at once ("database is locked") if another process wrote.
        self.Write = make_sessionmaker(self._engine.execution_options(immediate=True))
        self._check_embedding_model()
        self._index = VectorIndex(dim)
        self._index_generation = -1
        self._dirty = False
        self._open_index()

    @classmethod
    def repair(cls, home: Path) -> list[str]:
        """Mend a damaged schema (`assistant doctor --repair`) after copying the database
        aside; returns what was done, the copy first."""
        path = Path(home) / DB_FILE
        backup = path.with_name(f"{DB_FILE}.before-repair-{utcnow():%Y%m%d-%H%M%S-%f}")
        copy = sqlite3.connect(path, isolation_level=None)
        try:
            copy.execute("VACUUM INTO ?", (str(backup),))  # consistent, WAL included
        finally:
            copy.close()
        backup.chmod(0o600)
        engine = make_engine(path)
        try:
            return [f"copied the database to {backup}", *db.repair(engine)]
        finally:
            engine.dispose()

    # Lifecycle ---------------------------------------------------------------------------

    def __enter__(self) -> MemoryStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.flush()
        self._engine.dispose()

    @_index_locked
    def flush(self) -> None:
        """Write the FAISS cache if it changed since it was last saved."""
        self._sync_index()
        if self._dirty:
            meta = {"model": self.embedding_model, "dim": self.dim, "store": self.store_id,
                    "generation": self._index_generation, "count": self._index.count}
            self._index.save(self.index_path, meta)
            self._dirty = False

    def _check_embedding_model(self) -> None:
        with self.Write.begin() as s:
            self._take_turns(s, "meta")  # two processes opening a new store at once
            rows = dict(s.execute(select(Meta.key, Meta.value)).all())
            self.store_id = rows["store_id"]
            if "embedding_model" not in rows:
                s.add_all([Meta(key="embedding_model", value=self.embedding_model),
                           Meta(key="dim", value=str(self.dim))])
            elif rows["embedding_model"] != self.embedding_model or int(rows["dim"]) != self.dim:
                raise EmbeddingMismatchError(
                    f"{self.where}: memories were embedded with {rows['embedding_model']} "
                    f"({rows['dim']}-d), not {self.embedding_model} ({self.dim}-d); "
                    "use the same encoder or a new data folder."
                )

    def _open_index(self) -> None:
        loaded = VectorIndex.load(self.index_path, self.dim) if self.index_path.exists() else None
        if loaded is not None:
            index, meta = loaded
            # Another store's file (same model, same ids) would pass every id check.
            if (meta.get("model"), meta.get("dim"), meta.get("store")) == (
                    self.embedding_model, self.dim, self.store_id):
                self._index = index
                # The file's generation: if SQLite is still there, it is not rewritten.
                self._index_generation = int(meta.get("generation", -1))
            else:
                log.warning("vector index %s belongs to another store or model; rebuilding",
                            self.index_path)
        # Always reconcile ids at open: the file may be stale after a crash or another process.
        self._sync_index(force=True)
        self.flush()

    @_index_locked
    def _sync_index(self, force: bool = False) -> None:
        """Make FAISS hold exactly SQLite's memories; cheap when nothing changed."""
        with self.Session() as s:
            gen = generation(s)
            if gen == self._index_generation and not force:
                return
            sql_ids = np.fromiter(s.scalars(select(Memory.id)), dtype=np.int64)
            faiss_ids = self._index.ids()
            extra = np.setdiff1d(faiss_ids, sql_ids, assume_unique=True)
            missing = np.setdiff1d(sql_ids, faiss_ids, assume_unique=True)
            if len(extra):
                self._index.remove(extra)
            for start in range(0, len(missing), _SQL_IN_BATCH):
                batch = missing[start:start + _SQL_IN_BATCH].tolist()
                rows = s.execute(select(Memory.id, Memory.embedding).where(Memory.id.in_(batch)))
                ids, blobs = zip(*rows.all(), strict=True)
                self._index.add(ids, np.frombuffer(b"".join(blobs), dtype=np.float32))
        if len(extra) or len(missing):
            log.info("vector index synced: +%d -%d", len(missing), len(extra))
            self._dirty = True
        if gen != self._index_generation:
            self._dirty = True
            self._index_generation = gen
        self._maybe_approximate()

    @_index_locked
    def _maybe_approximate(self) -> None:
        """Past APPROXIMATE_AT memories the index becomes IVF-fp16, rebuilt from SQLite in
        batches (never all vectors in memory at once); it stays so below it."""
        if self._index.is_approximate or self._index.count < APPROXIMATE_AT:
            return
        started = time.perf_counter()
        with self.Session() as s:
            n = s.scalar(select(func.count()).select_from(Memory))
            step = max(1, n // TRAIN_SAMPLE)  # every step-th memory: a sample over all time
            sample = [np.frombuffer(b, np.float32) for b in s.scalars(
                select(Memory.embedding).where(Memory.id % step == 0).limit(TRAIN_SAMPLE))]
            index = VectorIndex.approximate(self.dim, np.stack(sample), 4 * n)  # room to grow
            last = 0
            while True:
                rows = s.execute(select(Memory.id, Memory.embedding).where(Memory.id > last)
                                 .order_by(Memory.id).limit(50_000)).all()
                if not rows:
                    break
                ids, blobs = zip(*rows, strict=True)
                index.add(ids, np.frombuffer(b"".join(blobs), np.float32))
                last = ids[-1]
        self._index, self._dirty = index, True
        log.info("vector index: %d memories, now approximate (IVF-fp16) in %.1f s",
                 index.count, time.perf_counter() - started)

    @_index_locked
    def verify_index(self) -> list[int]:
        """Ids whose FAISS vector is missing, extra or not SQLite's (after a sync): [] when
        the index holds exactly what SQLite does. Reads every vector: for checks, not
        for the hot path."""
        self._sync_index()
        held = set(self._index.ids().tolist())
        wrong = []
        with self.Session() as s:
            for mid, blob in s.execute(select(Memory.id, Memory.embedding)):
                vector = self._index.vector(mid) if mid in held else None
                if vector is None or not _same(vector, blob, self._index.is_approximate):
                    wrong.append(mid)
                held.discard(mid)
        return sorted(wrong + list(held))

    def check(self) -> dict:
        """SQLite's and the full-text index's own integrity checks, foreign keys, and the
        FAISS index against SQLite vector for vector (`doctor`, `bench faults`)."""
        with self.Session() as s:
            sqlite_ok = s.execute(text("PRAGMA integrity_check")).scalar_one() == "ok"
            broken_links = len(s.execute(text("PRAGMA foreign_key_check")).all())
        try:
            with self.Write.begin() as s:
                s.execute(text("INSERT INTO memories_fts(memories_fts) "
                               "VALUES ('integrity-check')"))
            fts_ok = True
        except Exception as exc:  # SQLITE_CORRUPT_VTAB: the index disagrees with the table
            log.warning("full-text index check failed: %s", exc)
            fts_ok = False
        return {"sqlite_ok": sqlite_ok, "fts_ok": fts_ok, "broken_links": broken_links,
                "index_mismatches": len(self.verify_index())}

    # Writing -----------------------------------------------------------------------------

    def _take_turns(self, s: Session, what: str) -> None:
        """Writers changing the same thing (a document's path, the store's settings) take
        turns (SQLite: each write transaction already holds the database's write lock)."""

    def _memory_row(self, m: NewMemory, **links: int | None) -> Memory:
        vec = np.asarray(m.embedding, dtype=np.float32).reshape(-1)
        assert vec.shape == (self.dim,), f"embedding of shape {vec.shape}, expected ({self.dim},)"
        return Memory(kind=m.kind, text=m.text, source=m.source, created_at=m.created_at,
                      embedding=vec.tobytes(), meta=m.meta, pinned=m.pinned, **links)

    @_index_locked
    def _index_rows(self, rows: Sequence[Memory]) -> None:
        """Mirror committed rows into FAISS (a crash before this is mended by _sync_index)."""
        if rows:
            self._index.add([r.id for r in rows],
                            np.frombuffer(b"".join(r.embedding for r in rows), np.float32))
            self._dirty = True

    def add_memories(self, memories: Sequence[NewMemory], conversation_id: int | None = None
                     ) -> list[int]:
        """Store memories not tied to a message (facts, summaries, synthetic data), optionally
        linked to the conversation they came from, in one transaction."""
        with self.Write.begin() as s:
            rows = [self._memory_row(m, conversation_id=conversation_id) for m in memories]
            s.add_all(rows)
            s.flush()
        self._sync_after_write(rows)
        return [r.id for r in rows]

    @_index_locked
    def _sync_after_write(self, added: Sequence[Memory]) -> None:
        # Our own writes are mirrored directly; the generation check catches other processes.
        before = self._index_generation
        self._index_rows(added)
        with self.Session() as s:
            gen = generation(s)
        if gen - before == len(added) and before >= 0:
            self._index_generation = gen
            self._maybe_approximate()
        else:
            self._sync_index()

    def replace_document(self, *, path: str, content_hash: str, kind: str, title: str,
                         modified_at: datetime, chunks: Sequence[NewMemory]) -> int:
        """Insert a document with its memories, replacing any earlier version of the same
        path, in one transaction: a failure leaves the old version intact."""
        with self.Write.begin() as s:
            self._take_turns(s, path)
            old = s.scalar(select(Document).where(Document.path == path))
            if old is not None:
                s.delete(old)
                s.flush()
            doc = Document(path=path, content_hash=content_hash, kind=kind, title=title,
                           modified_at=modified_at)
            s.add(doc)
            s.flush()
            s.add_all([self._memory_row(m, document_id=doc.id) for m in chunks])
            s.flush()
            doc_id = doc.id
        self._sync_index()
        return doc_id

    # A big file is imported in parts: its chunks go, batch by batch (each batch one
    # commit), under a staging document; the finished document then replaces the old
    # version of the file in one transaction. A killed import leaves the staging document,
    # and importing the same bytes again continues after its last committed batch.

    def staged_document(self, *, path: str, content_hash: str, kind: str, title: str,
                        modified_at: datetime) -> tuple[int, int, int]:
        """(id, memories, conversations) already committed of the staging document for
        `path` at `content_hash`; one staged for other bytes is dropped first."""
        with self.Write.begin() as s:
            self._take_turns(s, path)
            doc = s.scalar(select(Document).where(Document.path == path + STAGED))
            if doc is not None and doc.content_hash != content_hash:
                s.delete(doc)
                s.flush()
                doc = None
            if doc is None:
                doc = Document(path=path + STAGED, content_hash=content_hash, kind=kind,
                               title=title, modified_at=modified_at)
                s.add(doc)
                s.flush()
            memories = s.scalar(select(func.count()).select_from(Memory)
                                .where(Memory.document_id == doc.id))
            conversations = s.scalar(select(func.count()).select_from(Conversation)
                                     .where(Conversation.document_id == doc.id))
            doc_id = doc.id
        self._sync_index()
        return doc_id, memories, conversations

    def add_staged_chunks(self, document_id: int, chunks: Sequence[NewMemory]) -> None:
        """One batch of a staged document's chunks, in one transaction."""
        with self.Write.begin() as s:
            rows = [self._memory_row(m, document_id=document_id) for m in chunks]
            s.add_all(rows)
            s.flush()
        self._sync_after_write(rows)

    def add_staged_conversations(self, document_id: int,
                                 conversations: Sequence[NewConversation]) -> None:
        """Conversations of a staged chat export, with their memories, in one transaction."""
        with self.Write.begin() as s:
            rows = []
            for conv in conversations:
                rows += self._add_conversation(s, conv, document_id)
            s.flush()
        self._sync_after_write(rows)

    def publish_document(self, document_id: int, path: str) -> None:
        """The staged document becomes `path`'s, replacing the old version at once."""
        with self.Write.begin() as s:
            self._take_turns(s, path)
            old = s.scalar(select(Document).where(Document.path == path))
            if old is not None:
                s.delete(old)
                s.flush()
            s.execute(update(Document).where(Document.id == document_id).values(path=path))
        self._sync_index()

    def _add_conversation(self, s: Session, conv: NewConversation, document_id: int | None
                          ) -> list[Memory]:
        c = Conversation(title=conv.title, origin="import", external_id=conv.external_id,
                         document_id=document_id, created_at=conv.created_at,
                         updated_at=conv.turns[-1].created_at if conv.turns else conv.created_at)
        s.add(c)
        s.flush()
        rows = []
        for turn_no, turn in enumerate(conv.turns, start=1):
            msg = Message(conversation_id=c.id, turn=turn_no, role=turn.role, text=turn.text,
                          created_at=turn.created_at)
            s.add(msg)
            if turn.memories:
                s.flush()
            for memory in turn.memories:
                memory.source = memory.source or f"conversation:{c.id}#turn={turn_no}"
                rows.append(self._memory_row(memory, document_id=document_id,
                                             conversation_id=c.id, message_id=msg.id))
        s.add_all(rows)
        return rows

    def create_conversation(self, title: str = "", created_at: datetime | None = None,
                            origin: str = "chat") -> int:
        with self.Write.begin() as s:
            when = created_at or utcnow()
            c = Conversation(title=title, origin=origin, created_at=when, updated_at=when)
            s.add(c)
            s.flush()
            return c.id

    def add_message(self, conversation_id: int, role: str, text: str,
                    created_at: datetime | None = None,
                    memory: NewMemory | Sequence[NewMemory] = ()) -> tuple[int, list[int]]:
        """Append a turn and what to remember of it (a memory, or one per part of a long
        turn), in one transaction: (message id, memory ids)."""
        when = created_at or utcnow()
        memories = [memory] if isinstance(memory, NewMemory) else list(memory)
        with self.Write.begin() as s:
            turn = (s.scalar(select(func.max(Message.turn))
                             .where(Message.conversation_id == conversation_id)) or 0) + 1
            msg = Message(conversation_id=conversation_id, turn=turn, role=role, text=text,
                          created_at=when)
            s.add(msg)
            s.execute(update(Conversation).where(Conversation.id == conversation_id)
                      .values(updated_at=when))
            s.flush()
            rows = []
            for m in memories:
                m.source = m.source or f"conversation:{conversation_id}#turn={turn}"
                rows.append(self._memory_row(m, conversation_id=conversation_id,
                                             message_id=msg.id))
            s.add_all(rows)
            s.flush()
            ids = (msg.id, [r.id for r in rows])
        self._sync_after_write(rows)
        return ids

    @_index_locked
    def forget(self, memory_id: int) -> bool:
        """Delete a memory from SQLite, FTS and FAISS together; False if it did not exist."""
        with self.Write.begin() as s:
            deleted = s.execute(delete(Memory).where(Memory.id == memory_id)).rowcount
        if deleted:
            self._index.remove([memory_id])
            self._dirty = True
            self._sync_index()
            self.flush()
        return bool(deleted)

    def set_pinned(self, memory_id: int, pinned: bool) -> bool:
        """Pin (keep and prefer) or unpin a memory; False if it does not exist."""
        with self.Write.begin() as s:
            return bool(s.execute(update(Memory).where(Memory.id == memory_id)
                                  .values(pinned=pinned)).rowcount)

    def supersede(self, old_id: int, new_id: int) -> None:
        """Mark `old_id` as replaced by the newer `new_id`; both are kept."""
        with self.Write.begin() as s:
            s.execute(update(Memory).where(Memory.id == old_id).values(superseded_by=new_id))

    def active_about(self, subject: str) -> list[Hit]:
        """Memories stating `subject` (meta.subject) that nothing has superseded yet."""
        with self.Session() as s:
            rows = s.scalars(select(Memory).where(
                Memory.meta["subject"].as_string() == subject,
                Memory.superseded_by.is_(None)).order_by(Memory.created_at))
            return [_hit(m) for m in rows]

    def rename_conversation(self, conversation_id: int, title: str) -> None:
        with self.Write.begin() as s:
            s.execute(update(Conversation).where(Conversation.id == conversation_id)
                      .values(title=title))

    def delete_conversation(self, conversation_id: int) -> bool:
        """Delete a conversation with its messages, memories and state (FK cascades)."""
        with self.Write.begin() as s:
            deleted = s.execute(delete(Conversation)
                                .where(Conversation.id == conversation_id)).rowcount
        if deleted:
            self._sync_index()  # the cascade's FTS triggers moved the generation
            self.flush()
        return bool(deleted)

    def conversation_memories(self, conversation_id: int, kind: str | None = None
                              ) -> list[Hit]:
        with self.Session() as s:
            stmt = select(Memory).where(Memory.conversation_id == conversation_id)
            if kind:
                stmt = stmt.where(Memory.kind == kind)
            return [_hit(m) for m in s.scalars(stmt.order_by(Memory.id))]

    def put_state(self, conversation_id: int, name: str, state: bytes) -> None:
        with self.Write.begin() as s:
            s.merge(ModelState(conversation_id=conversation_id, name=name, state=state,
                               updated_at=utcnow()))

    def get_state(self, conversation_id: int, name: str) -> bytes | None:
        with self.Session() as s:
            row = s.get(ModelState, (conversation_id, name))
            return row.state if row else None

    # Reading -----------------------------------------------------------------------------

    @_index_locked
    def search(self, vector: np.ndarray | None, query: str = "", k: int = 10, *,
               kinds: Sequence[str] | None = None, since: datetime | None = None,
               until: datetime | None = None, depth: int | None = None) -> list[Hit]:
        """Hybrid search: dense (FAISS) and lexical (BM25) ranks fused by RRF.

        Filters run inside both searches, never after top-k, so when a vector is given
        the result has exactly k hits whenever k memories pass the filters.
        """
        self._sync_index()
        depth = max(depth or 0, 2 * k, 50)
        where, params = _filters(kinds, since, until)
        with self.Session() as s:
            allowed = None
            if where:
                allowed = np.fromiter(
                    s.scalars(select(Memory.id).where(_text_clause(where, params))), np.int64)
            dense: dict[int, float] = {}
            if vector is not None and (allowed is None or len(allowed)):
                scores, ids = self._index.search(vector, depth, allowed)
                dense = dict(zip(ids.tolist(), scores.tolist(), strict=True))
            lexical = dict(fulltext.search(s, query, depth, where, params)) if query else {}
            return fused_hits(s, dense, lexical, k)

    def get(self, memory_id: int) -> Hit | None:
        with self.Session() as s:
            row = s.get(Memory, memory_id)
            return _hit(row) if row else None

    def embeddings(self, ids: Sequence[int]) -> np.ndarray:
        """Stored vectors of `ids`, in that order, as (n, dim) float32."""
        with self.Session() as s:
            rows = dict(s.execute(select(Memory.id, Memory.embedding)
                                  .where(Memory.id.in_(list(ids)))).all())
        return np.stack([np.frombuffer(rows[i], np.float32) for i in ids]) if ids else \
            np.empty((0, self.dim), np.float32)

    def list_memories(self, kind: str | None = None, limit: int = 50, offset: int = 0
                      ) -> list[Hit]:
        with self.Session() as s:
            stmt = select(Memory).order_by(Memory.created_at.desc(), Memory.id.desc())
            if kind:
                stmt = stmt.where(Memory.kind == kind)
            return [_hit(m) for m in s.scalars(stmt.limit(limit).offset(offset))]

    def document_by_path(self, path: str) -> DocumentRecord | None:
        return self._document(Document.path == path)

    def document_by_hash(self, content_hash: str) -> DocumentRecord | None:
        """The imported (not staged) document with these bytes, if any."""
        return self._document((Document.content_hash == content_hash)
                              & ~Document.path.endswith(STAGED))

    def _document(self, condition) -> DocumentRecord | None:
        with self.Session() as s:
            d = s.scalars(select(Document).where(condition).limit(1)).first()
            if d is None:
                return None
            n = s.scalar(select(func.count()).where(Memory.document_id == d.id))
            return DocumentRecord(d.id, d.path, d.content_hash, d.kind, d.title, n or 0)

    def conversations(self) -> list[ConversationRecord]:
        with self.Session() as s:
            counts = (select(Message.conversation_id, func.count().label("n"))
                      .group_by(Message.conversation_id).subquery())
            rows = s.execute(select(Conversation, counts.c.n)
                             .outerjoin(counts, counts.c.conversation_id == Conversation.id)
                             .order_by(Conversation.updated_at.desc())).all()
            return [ConversationRecord(c.id, c.title, c.origin, c.created_at, c.updated_at, n or 0)
                    for c, n in rows]

    def messages(self, conversation_id: int, last: int | None = None) -> list[MessageRecord]:
        """A conversation's messages in order; with `last`, only that many most recent."""
        with self.Session() as s:
            stmt = select(Message).where(Message.conversation_id == conversation_id)
            if last is not None:
                stmt = stmt.order_by(Message.turn.desc()).limit(last)
            rows = sorted(s.scalars(stmt), key=lambda m: m.turn)
            return [MessageRecord(m.id, m.conversation_id, m.turn, m.role, m.text, m.created_at)
                    for m in rows]

    def stats(self) -> dict:
        return self.counts() | {"vector_index": self._index.count,
                                "embedding_model": self.embedding_model, "backend": "sqlite",
                                "home": str(self.home)}

    def counts(self) -> dict:
        """How many memories (by kind), documents, conversations and messages."""
        with self.Session() as s:
            by_kind = dict(s.execute(select(Memory.kind, func.count()).group_by(Memory.kind)).all())
            return {
                "memories": sum(by_kind.values()),
                "by_kind": by_kind,
                "documents": s.scalar(select(func.count()).select_from(Document)),
                "conversations": s.scalar(select(func.count()).select_from(Conversation)),
                "messages": s.scalar(select(func.count()).select_from(Message)),
            }


def _same(vector: np.ndarray, blob: bytes, approximate: bool) -> bool:
    """The index's vector is the stored one: bit for bit, or within half precision."""
    if not approximate:
        return vector.tobytes() == blob
    return bool(np.allclose(vector, np.frombuffer(blob, np.float32), atol=0.01))


def open_store(home: Path, url: str = "", *, embedding_model: str, dim: int) -> MemoryStore:
    """The store a URL names: "" or "sqlite" for SQLite + FAISS in the data folder `home`,
    sqlite:///FOLDER for the one in another data folder, postgresql+psycopg://... for
    PostgreSQL with pgvector."""
    if url.startswith("postgresql"):
        from memory_store.pg_store import PostgresStore

        return PostgresStore(url, embedding_model=embedding_model, dim=dim)
    if url.startswith("sqlite:///"):
        home, url = Path(url.removeprefix("sqlite://")), ""
    if url not in ("", "sqlite"):
        raise ValueError(f"store URL {redacted(url)!r}: use sqlite (the default) or "
                         "postgresql+psycopg://USER@HOST/DATABASE")
    return MemoryStore(home, embedding_model=embedding_model, dim=dim)


def redacted(url: str) -> str:
    """A store URL fit for a message or a log: its password hidden."""
    try:
        from sqlalchemy.engine import make_url

        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # not a URL at all: show only its scheme
        return url.split(":", 1)[0] + ":..."


def fused_hits(s: Session, dense: dict[int, float], lexical: dict[int, float], k: int
               ) -> list[Hit]:
    """The top k of two rankings (id -> score, best first) fused by RRF, with each hit's
    evidence (scores and ranks in both)."""
    fused: dict[int, float] = {}
    for ranking in (dense, lexical):
        for rank, mid in enumerate(ranking):
            fused[mid] = fused.get(mid, 0.0) + 1.0 / (RRF_K + rank + 1)
    top = sorted(fused, key=lambda i: (-fused[i], i))[:k]
    rows = {m.id: m for m in s.scalars(select(Memory).where(Memory.id.in_(top)))}
    hits = [_hit(rows[i]) for i in top if i in rows]
    dense_rank = {mid: r for r, mid in enumerate(dense)}
    lexical_rank = {mid: r for r, mid in enumerate(lexical)}
    for h in hits:
        h.score, h.dense_score = fused[h.id], dense.get(h.id)
        h.lexical_score = lexical.get(h.id)
        h.dense_rank, h.lexical_rank = dense_rank.get(h.id), lexical_rank.get(h.id)
    return hits


def _hit(m: Memory) -> Hit:
    return Hit(id=m.id, kind=m.kind, text=m.text, source=m.source, created_at=m.created_at,
               pinned=m.pinned, superseded_by=m.superseded_by, meta=m.meta,
               conversation_id=m.conversation_id)


def _filters(kinds, since, until) -> tuple[str, dict]:
    parts, params = [], {}
    if kinds:
        names = [f":kind{i}" for i in range(len(kinds))]
        parts.append(f"m.kind IN ({', '.join(names)})")
        params.update({n[1:]: k for n, k in zip(names, kinds, strict=True)})
    if since is not None:
        parts.append("m.created_at >= :since")
        params["since"] = since.strftime(_SQL_TIME)
    if until is not None:
        parts.append("m.created_at < :until")
        params["until"] = until.strftime(_SQL_TIME)
    return " AND ".join(parts), params


def _text_clause(where: str, params: dict):
    # The filter text refers to `m`; alias the table so both searches share one clause.
    return text(f"memories.id IN (SELECT m.id FROM memories m WHERE {where})").bindparams(**params)
