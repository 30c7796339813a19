"""Hybrid ranking shared by both backends: a dense and a lexical ranking fused by
reciprocal rank, each hit carrying the evidence behind its place."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from memory_store.models import Memory
from memory_store.records import Hit

RRF_K = 60  # reciprocal-rank fusion constant from Cormack et al.; flattens rank differences


def hit(m: Memory) -> Hit:
    """A memory row as the plain record that leaves the store."""
    return Hit(id=m.id, kind=m.kind, text=m.text, source=m.source, created_at=m.created_at,
               pinned=m.pinned, superseded_by=m.superseded_by, meta=m.meta,
               conversation_id=m.conversation_id)


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
    hits = [hit(rows[i]) for i in top if i in rows]
    dense_rank = {mid: r for r, mid in enumerate(dense)}
    lexical_rank = {mid: r for r, mid in enumerate(lexical)}
    for h in hits:
        h.score, h.dense_score = fused[h.id], dense.get(h.id)
        h.lexical_score = lexical.get(h.id)
        h.dense_rank, h.lexical_rank = dense_rank.get(h.id), lexical_rank.get(h.id)
    return hits
