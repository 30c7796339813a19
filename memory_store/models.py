"""SQLAlchemy 2.0 tables, the same on both backends: the database (SQLite, or PostgreSQL
when a store URL says so) is the source of truth for every memory."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator


def utcnow() -> datetime:
    """Naive UTC now: SQLite has no time zones, so every stored time is UTC."""
    return datetime.now(UTC).replace(tzinfo=None)


class Base(DeclarativeBase):
    pass


class Embedding(TypeDecorator):
    """A float32, L2-normalised vector: bytes in SQLite, pgvector's `vector` in
    PostgreSQL (searchable there by its HNSW index); Python sees the same bytes on both."""

    impl = LargeBinary
    cache_ok = True

    def load_dialect_impl(self, dialect):
        if dialect.name == "postgresql":
            from pgvector.sqlalchemy import Vector

            return dialect.type_descriptor(Vector())
        return dialect.type_descriptor(LargeBinary())

    def process_bind_param(self, value, dialect):
        if value is not None and dialect.name == "postgresql":
            return np.frombuffer(value, np.float32)
        return value

    def process_result_value(self, value, dialect):
        if value is not None and dialect.name == "postgresql":
            return np.asarray(value, np.float32).tobytes()
        return value


class Meta(Base):
    """Key/value facts about the store (embedding model, dimension, generation)."""

    __tablename__ = "meta"
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class Document(Base):
    """An imported file; its chunks are memories of kind 'chunk'."""

    __tablename__ = "documents"
    id: Mapped[int] = mapped_column(primary_key=True)
    path: Mapped[str] = mapped_column(Text, unique=True)
    content_hash: Mapped[str] = mapped_column(String(64), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    title: Mapped[str] = mapped_column(Text, default="")
    modified_at: Mapped[datetime] = mapped_column(DateTime)
    imported_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    memories: Mapped[list[Memory]] = relationship(
        back_populates="document", cascade="all, delete-orphan", passive_deletes=True
    )
    conversations: Mapped[list[Conversation]] = relationship(
        back_populates="document", cascade="all, delete-orphan", passive_deletes=True
    )


class Conversation(Base):
    """A chat, live or imported (a ChatGPT export keeps its document)."""

    __tablename__ = "conversations"
    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(Text, default="")
    origin: Mapped[str] = mapped_column(String(16), default="chat")
    external_id: Mapped[str | None] = mapped_column(Text)
    document_id: Mapped[int | None] = mapped_column(
        ForeignKey("documents.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    document: Mapped[Document | None] = relationship(back_populates="conversations")
    messages: Mapped[list[Message]] = relationship(
        back_populates="conversation",
        cascade="all, delete-orphan",
        passive_deletes=True,
        order_by="Message.turn",
    )


class Message(Base):
    """One turn of a conversation, as said; its memory (if kept) points back here."""

    __tablename__ = "messages"
    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[int] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE"), index=True
    )
    turn: Mapped[int] = mapped_column(Integer)
    role: Mapped[str] = mapped_column(String(16))
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    # An answer's sources: [{"memory", "source", "date", "kind", "support"}], labels and
    # dates only (never memory text: a forget takes its entry out); None when not kept.
    sources: Mapped[list | None] = mapped_column(JSON)
    conversation: Mapped[Conversation] = relationship(back_populates="messages")


class Memory(Base):
    """One retrievable unit: its row id is also its FAISS id and its FTS rowid."""

    __tablename__ = "memories"
    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))  # chunk | turn | fact | summary
    text: Mapped[str] = mapped_column(Text)
    source: Mapped[str] = mapped_column(Text)  # file#page=2, conversation:3#turn=4
    created_at: Mapped[datetime] = mapped_column(DateTime)  # when the remembered thing happened
    ingested_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    embedding: Mapped[bytes] = mapped_column(Embedding)
    pinned: Mapped[bool] = mapped_column(Boolean, default=False)
    superseded_by: Mapped[int | None] = mapped_column(
        ForeignKey("memories.id", ondelete="SET NULL")
    )
    document_id: Mapped[int | None] = mapped_column(
        ForeignKey("documents.id", ondelete="CASCADE"), index=True
    )
    conversation_id: Mapped[int | None] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE"), index=True
    )
    message_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id", ondelete="CASCADE"))
    meta: Mapped[dict | None] = mapped_column(JSON)
    document: Mapped[Document | None] = relationship(back_populates="memories")

    # AUTOINCREMENT: an id is never reused, so the FAISS cache keyed by id cannot serve
    # a forgotten memory's vector for a new one (migration v2 in db.py).
    __table_args__ = (Index("ix_memories_created_at", "created_at"),
                      {"sqlite_autoincrement": True})


class ModelState(Base):
    """Per-conversation model state (the LTM-T slots), so it survives restarts."""

    __tablename__ = "model_state"
    conversation_id: Mapped[int] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE"), primary_key=True
    )
    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    state: Mapped[bytes] = mapped_column(LargeBinary)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)
