"""An answer's sources as a message keeps them: which memories it was given and the one
it rests on, by id, label, date and kind. Never their text: a memory's words are kept in
the memory (and its transcript) only, so forgetting it leaves none here; `drop` takes
its entry out of every message when it is forgotten."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import String, cast, select, update
from sqlalchemy.orm import Session

from memory_store.models import Message
from memory_store.records import Hit, iso


def cited(reply) -> list[dict]:
    """A finished reply's sources (`reply.sources`, hits; `reply.support`, the hit an
    answer rests on, counted only when `reply.answered`), as a message keeps them."""
    support = reply.support if reply.answered else None
    return entries(reply.sources, support.id if support is not None else None)


def entries(hits: Sequence[Hit], support_id: int | None = None) -> list[dict]:
    """Hits as source entries, in their order; the date is the stored (UTC) day."""
    return [{"memory": h.id, "source": h.source, "date": iso(h.created_at)[:10],
             "kind": h.kind, "support": h.id == support_id} for h in hits]


def drop(s: Session, memory_id: int) -> None:
    """Take a forgotten memory's entry out of every message's sources, in `s`. The id's
    digits in the JSON text find the candidates (on both backends); the entries decide."""
    rows = s.execute(select(Message.id, Message.sources).where(
        cast(Message.sources, String).like(f"%{memory_id}%"))).all()
    for message_id, sources in rows:
        kept = [e for e in sources or [] if e.get("memory") != memory_id]
        if kept != sources:
            s.execute(update(Message).where(Message.id == message_id).values(sources=kept))
