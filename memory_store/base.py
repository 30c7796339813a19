"""StoreBase: the memory store's facade, everything in it that is plain SQLAlchemy and the
same on both backends. SqliteStore (FAISS, FTS5) and PostgresStore (pgvector, tsvector)
add the searches, their checks, and what each keeps beside the database."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime

import numpy as np
from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session, sessionmaker

from memory_store import message_sources
from memory_store.fusion import hit
from memory_store.models import Conversation, Document, Memory, Message, Meta, ModelState, utcnow
from memory_store.records import (
    CheckReport,
    ConversationRecord,
    DocumentRecord,
    Hit,
    MessageRecord,
    NewConversation,
    NewMemory,
)

STAGED = "\n(importing)"  # ends the path of a document being imported in parts
BACKFILL_BATCH = 1000


class EmbeddingMismatchError(RuntimeError):
    """The store holds vectors of another embedding model or dimension."""


class StoreBase:
    """Add, search, forget and count memories; a backend sets `Session` (reads), `Write`
    (writes), `where` (for messages) and opens its engine before calling `_opened`."""

    Session: sessionmaker[Session]
    Write: sessionmaker[Session]
    where: str
    backend: str

    def __init__(self, *, embedding_model: str, dim: int) -> None:
        self.embedding_model = embedding_model
        self.dim = dim

    def _opened(self) -> None:
        """Check the stored vectors are this encoder's (two processes opening a new store
        at once take turns writing its settings)."""
        with self.Write.begin() as s:
            self._take_turns(s, "meta")
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

    # What each backend adds ----------------------------------------------------------------

    def search(self, vector: np.ndarray | None, query: str = "", k: int = 10, *,
               kinds: Sequence[str] | None = None, since: datetime | None = None,
               until: datetime | None = None, depth: int | None = None) -> list[Hit]:
        """Hybrid search: dense and lexical ranks fused by RRF, filters inside both."""
        raise NotImplementedError

    def nearest_ids(self, vector: np.ndarray, k: int) -> list[int]:
        """The vector index's own top k, nothing else (to check it against exact search)."""
        raise NotImplementedError

    def check(self) -> CheckReport:
        raise NotImplementedError

    def stats(self) -> dict:
        raise NotImplementedError

    def flush(self) -> None:
        """Write out what is kept beside the database (a FAISS file); nothing by default."""

    def reconcile(self) -> None:
        """Make what is kept beside the database match it again (after rows were written
        around this store, as `store copy` does); nothing by default."""

    def close(self) -> None:
        self.flush()
        self._engine.dispose()

    def __enter__(self):
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _take_turns(self, s: Session, what: str) -> None:
        """Writers changing the same thing (a document's path, the store's settings) take
        turns (SQLite: each write transaction already holds the database's write lock)."""

    def _added(self, rows: Sequence[Memory]) -> None:
        """After a commit that added `rows` (and nothing else)."""

    def _changed(self) -> None:
        """After a commit that may have added, replaced or removed memories."""

    # Writing -------------------------------------------------------------------------------

    def _memory_row(self, m: NewMemory, **links: int | None) -> Memory:
        vec = np.asarray(m.embedding, dtype=np.float32).reshape(-1)
        if vec.shape != (self.dim,):
            raise ValueError(f"embedding of shape {vec.shape} for {m.kind} memory "
                             f"{m.text[:40]!r}; this store holds ({self.dim},)")
        return Memory(kind=m.kind, text=m.text, source=m.source, created_at=m.created_at,
                      embedding=vec.tobytes(), meta=m.meta, pinned=m.pinned, **links)

    def add_memories(self, memories: Sequence[NewMemory], conversation_id: int | None = None
                     ) -> list[int]:
        """Store memories not tied to a message (facts, summaries, synthetic data), optionally
        linked to the conversation they came from, in one transaction."""
        with self.Write.begin() as s:
            rows = [self._memory_row(m, conversation_id=conversation_id) for m in memories]
            s.add_all(rows)
            s.flush()
        self._added(rows)
        return [r.id for r in rows]

    def replace_document(self, *, path: str, content_hash: str, kind: str, title: str,
                         modified_at: datetime, chunks: Sequence[NewMemory]) -> int:
        """Insert a document with its memories, replacing any earlier version of the same
        path, in one transaction: a failure leaves the old version intact."""
        with self.Write.begin() as s:
            self._drop_document(s, path)
            doc = Document(path=path, content_hash=content_hash, kind=kind, title=title,
                           modified_at=modified_at)
            s.add(doc)
            s.flush()
            s.add_all([self._memory_row(m, document_id=doc.id) for m in chunks])
            s.flush()
            doc_id = doc.id
        self._changed()
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
        self._changed()
        return doc_id, memories, conversations

    def add_staged_chunks(self, document_id: int, chunks: Sequence[NewMemory]) -> None:
        """One batch of a staged document's chunks, in one transaction."""
        with self.Write.begin() as s:
            rows = [self._memory_row(m, document_id=document_id) for m in chunks]
            s.add_all(rows)
            s.flush()
        self._added(rows)

    def add_staged_conversations(self, document_id: int,
                                 conversations: Sequence[NewConversation]) -> None:
        """Conversations of a staged chat export, with their memories, in one transaction."""
        with self.Write.begin() as s:
            rows = []
            for conv in conversations:
                rows += self._add_conversation(s, conv, document_id)
            s.flush()
        self._added(rows)

    def publish_document(self, document_id: int, path: str) -> None:
        """The staged document becomes `path`'s, replacing the old version at once."""
        with self.Write.begin() as s:
            self._drop_document(s, path)
            s.execute(update(Document).where(Document.id == document_id).values(path=path))
        self._changed()

    def _drop_document(self, s: Session, path: str) -> None:
        """The document imported from `path`, with its memories, deleted in `s` (after
        taking turns with other writers of that path)."""
        self._take_turns(s, path)
        old = s.scalar(select(Document).where(Document.path == path))
        if old is not None:
            s.delete(old)
            s.flush()

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
                          created_at=turn.created_at, sources=turn.sources)
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
                    memory: NewMemory | Sequence[NewMemory] = (),
                    sources: list[dict] | None = None) -> tuple[int, list[int]]:
        """Append a turn and what to remember of it (a memory, or one per part of a long
        turn), in one transaction: (message id, memory ids). An answer's `sources` are
        kept with it (memory_store.message_sources)."""
        when = created_at or utcnow()
        memories = [memory] if isinstance(memory, NewMemory) else list(memory)
        with self.Write.begin() as s:
            turn = (s.scalar(select(func.max(Message.turn))
                             .where(Message.conversation_id == conversation_id)) or 0) + 1
            msg = Message(conversation_id=conversation_id, turn=turn, role=role, text=text,
                          created_at=when, sources=sources)
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
        self._added(rows)
        return ids

    def forget(self, memory_id: int) -> bool:
        """Delete a memory, from every index and answer's sources too; False if it did
        not exist."""
        with self.Write.begin() as s:
            message_sources.drop(s, memory_id)
            return bool(s.execute(delete(Memory).where(Memory.id == memory_id)).rowcount)

    def scrub(self) -> None:
        """After forgetting: leave no copy of deleted text in the database's files (an
        index's old segments, a journal, free pages); each backend knows its own."""

    def set_message_text(self, message_id: int, text: str) -> None:
        """Rewrite what a transcript says a message was (what is forgotten is taken out)."""
        with self.Write.begin() as s:
            s.execute(update(Message).where(Message.id == message_id).values(text=text))

    def set_pinned(self, memory_id: int, pinned: bool) -> bool:
        """Pin (keep and prefer) or unpin a memory; False if it does not exist."""
        with self.Write.begin() as s:
            return bool(s.execute(update(Memory).where(Memory.id == memory_id)
                                  .values(pinned=pinned)).rowcount)

    def supersede(self, old_id: int, new_id: int) -> None:
        """Mark `old_id` as replaced by the newer `new_id`; both are kept."""
        with self.Write.begin() as s:
            s.execute(update(Memory).where(Memory.id == old_id).values(superseded_by=new_id))

    def with_meta(self, key: str, present: bool = True, kinds: Sequence[str] = ()
                  ) -> list[Hit]:
        """Memories whose meta has (or lacks) `key`, in the order they were said."""
        cond = Memory.meta[key].as_string()
        q = select(Memory).where(cond.is_not(None) if present else cond.is_(None))
        if kinds:
            q = q.where(Memory.kind.in_(kinds))
        with self.Session() as s:
            return [hit(m) for m in s.scalars(q.order_by(Memory.created_at, Memory.id))]

    def set_metas(self, metas: dict[int, dict]) -> None:
        """Replace these memories' meta, in one transaction."""
        with self.Write.begin() as s:
            for memory_id, meta in metas.items():
                s.execute(update(Memory).where(Memory.id == memory_id).values(meta=meta))

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
            self._changed()
            self.flush()
        return bool(deleted)

    def put_state(self, conversation_id: int, name: str, state: bytes) -> None:
        with self.Write.begin() as s:
            s.merge(ModelState(conversation_id=conversation_id, name=name, state=state,
                               updated_at=utcnow()))

    def get_state(self, conversation_id: int, name: str) -> bytes | None:
        with self.Session() as s:
            row = s.get(ModelState, (conversation_id, name))
            return row.state if row else None

    def backfill(self, name: str, fill: Callable[[Hit], dict], batch: int = BACKFILL_BATCH
                 ) -> int | None:
        """Run an application's data migration once per store: `fill` gives each memory's
        meta (it must leave a meta it has already filled as it is), applied in id order,
        one transaction per batch, so a kill loses one batch of work at most. Recorded
        under `name`: None when it had run before, else how many memories changed."""
        key = f"backfill:{name}"
        with self.Session() as s:
            if s.get(Meta, key) is not None:
                return None
        changed, last = 0, 0
        while True:
            with self.Write.begin() as s:
                rows = s.scalars(select(Memory).where(Memory.id > last)
                                 .order_by(Memory.id).limit(batch)).all()
                if not rows:
                    s.merge(Meta(key=key, value=utcnow().isoformat()))
                    return changed
                for row in rows:
                    meta = fill(hit(row))
                    if meta != (row.meta or {}):
                        s.execute(update(Memory).where(Memory.id == row.id).values(meta=meta))
                        changed += 1
                last = rows[-1].id

    # Reading -------------------------------------------------------------------------------

    def get(self, memory_id: int) -> Hit | None:
        with self.Session() as s:
            row = s.get(Memory, memory_id)
            return hit(row) if row else None

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
            return [hit(m) for m in s.scalars(stmt.limit(limit).offset(offset))]

    def conversation_memories(self, conversation_id: int, kind: str | None = None
                              ) -> list[Hit]:
        with self.Session() as s:
            stmt = select(Memory).where(Memory.conversation_id == conversation_id)
            if kind:
                stmt = stmt.where(Memory.kind == kind)
            return [hit(m) for m in s.scalars(stmt.order_by(Memory.id))]

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
            return [MessageRecord(m.id, m.conversation_id, m.turn, m.role, m.text, m.created_at,
                                  m.sources) for m in rows]

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
