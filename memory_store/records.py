"""Plain values that cross the store's boundary (no ORM objects leave a session)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime

import numpy as np


def iso(when: datetime) -> str:
    """ISO 8601 with an explicit UTC offset (stored times are naive UTC)."""
    return when.replace(tzinfo=UTC).isoformat()


@dataclass
class NewMemory:
    """A memory to store; `source` may be left empty for chat turns (the store fills it)."""

    kind: str
    text: str
    embedding: np.ndarray
    created_at: datetime
    source: str = ""
    meta: dict | None = None
    pinned: bool = False


@dataclass
class NewTurn:
    """One turn of an imported conversation; `memories` is what to remember of it: one
    memory, or one per part of a turn too long to embed whole, or none."""

    role: str
    text: str
    created_at: datetime
    memories: list[NewMemory] = field(default_factory=list)
    sources: list[dict] | None = None  # an answer's sources (memory_store.message_sources)


@dataclass
class NewConversation:
    title: str
    created_at: datetime
    external_id: str
    turns: list[NewTurn] = field(default_factory=list)


@dataclass
class DocumentRecord:
    id: int
    path: str
    content_hash: str
    kind: str
    title: str
    chunks: int


@dataclass
class ConversationRecord:
    id: int
    title: str
    origin: str
    created_at: datetime
    updated_at: datetime
    messages: int


@dataclass
class MessageRecord:
    id: int
    conversation_id: int
    turn: int
    role: str
    text: str
    created_at: datetime
    sources: list[dict] | None = None  # an answer's (memory_store.message_sources)


@dataclass
class Hit:
    """A retrieved memory with its fused score and the evidence behind it."""

    id: int
    kind: str
    text: str
    source: str
    created_at: datetime
    score: float = 0.0
    pinned: bool = False
    superseded_by: int | None = None
    meta: dict | None = None
    conversation_id: int | None = None
    dense_score: float | None = None
    lexical_score: float | None = None
    dense_rank: int | None = None
    lexical_rank: int | None = None
    weight: float | None = None  # LTM-T attention on this memory for the current answer

    def to_json(self) -> dict:
        return {
            "id": self.id,
            "kind": self.kind,
            "text": self.text,
            "score": round(self.score, 6),
            "source": self.source,
            "created_at": iso(self.created_at),
            "pinned": self.pinned,
            "superseded_by": self.superseded_by,
            "dense_score": None if self.dense_score is None else round(self.dense_score, 6),
            "lexical_score": None if self.lexical_score is None else round(self.lexical_score, 6),
            "weight": None if self.weight is None else round(self.weight, 6),
            "meta": self.meta or {},
        }


@dataclass(frozen=True)
class CheckReport:
    """What `doctor` and `bench faults` learn of a store: the database's own integrity
    check, the word index against the text, links to rows that are gone, and vectors the
    vector index holds wrongly (a cache that is not the database's)."""

    database_ok: bool
    fulltext_ok: bool
    broken_links: int
    index_mismatches: int

    @property
    def ok(self) -> bool:
        return self.database_ok and self.fulltext_ok and not self.broken_links \
            and not self.index_mismatches

    def to_json(self) -> dict:
        return asdict(self)
