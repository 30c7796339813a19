"""Retrieval with LTM-T: the model's query searches, its read ranks, its write updates H_t.

With `model=None` the same code is plain hybrid retrieval (the `--no-ltmt` ablation).
"""

from __future__ import annotations

import io
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import numpy as np

from assistant.memory import text as memory_text
from assistant.memory.features import FEATURES
from assistant.memory.ltmt_numpy import LTMTNumpy
from assistant.memory.timeparse import find_time_refs, time_window
from memory_store.base import StoreBase
from memory_store.records import Hit

STATE_NAME = "ltmt"
_KINDS = ("turn", "chunk", "fact", "summary")
_FIRST_PERSON = re.compile(r"\b(i|me|my|mine|we|our)\b", re.I)


def candidate_features(hits: Sequence[Hit], question: str, now: datetime) -> np.ndarray:
    """(K, len(FEATURES)) float32 features of the candidates, in FEATURES order."""
    q = question.lower()
    window = time_window(question, now)
    best_lex = max((h.lexical_score or 0.0 for h in hits), default=0.0) or 1.0
    rows = []
    for h in hits:
        speaker = memory_text.speaker(h).lower()
        named = bool(speaker) and (speaker in q if speaker != "user"
                                   else bool(_FIRST_PERSON.search(question)))
        day = h.created_at.date()
        rows.append([
            0.0 if h.dense_rank is None else 10 / (10 + h.dense_rank),
            0.0 if h.lexical_rank is None else 10 / (10 + h.lexical_rank),
            float(h.dense_rank is not None),
            float(h.lexical_rank is not None),
            h.score * 30,
            h.dense_score or 0.0,
            (h.lexical_score or 0.0) / best_lex,
            math.log1p(max((now - h.created_at).days, 0)) / 5,
            float(named),
            *(float(h.kind == k) for k in _KINDS),
            float(h.pinned),
            float(h.superseded_by is not None),
            float(window is not None and window[0] <= day <= window[1]),
        ])
    out = np.asarray(rows, dtype=np.float32).reshape(len(hits), len(FEATURES))
    return out


def in_window(hit: Hit, window: tuple[date, date]) -> bool:
    """Said within the window, or mentions a date inside it ("born on 3 May 1990")."""
    if window[0] <= hit.created_at.date() <= window[1]:
        return True
    return any(r.start <= window[1] and r.end >= window[0]
               for r in find_time_refs(hit.text, hit.created_at))


def _window_first(hits: list[Hit], window: tuple[date, date] | None) -> list[Hit]:
    # A question naming a time ("last week", "in May") wants memories of that time first.
    if window is None:
        return hits
    inside = {h.id for h in hits if in_window(h, window)}
    return sorted(hits, key=lambda h: h.id not in inside)  # stable: model order within each


def state_to_bytes(state: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, np.asarray(state, np.float32), allow_pickle=False)
    return buf.getvalue()


def state_from_bytes(raw: bytes) -> np.ndarray:
    """A saved state: NumPy's format, or torch's (a zip) as stores before 2026-11 kept it."""
    if raw.startswith(b"PK"):
        import torch

        return torch.load(io.BytesIO(raw), map_location="cpu", weights_only=True).numpy()
    return np.load(io.BytesIO(raw), allow_pickle=False)


@dataclass
class Recall:
    """Ranked memories with their LTM-T weights, and the state after this turn."""

    hits: list[Hit]
    state: np.ndarray | None


class Recaller:
    """One retrieval step for a turn or a question, with or without LTM-T."""

    def __init__(self, store: StoreBase, model: LTMTNumpy | None, depth: int = 100) -> None:
        self.store = store
        self.model = model
        self.depth = depth

    def initial_state(self) -> np.ndarray | None:
        return None if self.model is None else self.model.initial_state(1)

    def load_state(self, conversation_id: int) -> np.ndarray | None:
        if self.model is None:
            return None
        raw = self.store.get_state(conversation_id, STATE_NAME)
        state = state_from_bytes(raw) if raw else None
        expected = (1, self.model.cfg.slots, self.model.cfg.dim)
        return state if state is not None and tuple(state.shape) == expected else \
            self.initial_state()

    def save_state(self, conversation_id: int, state: np.ndarray | None) -> None:
        if state is not None:
            self.store.put_state(conversation_id, STATE_NAME, state_to_bytes(state))

    def recall(self, text: str, x: np.ndarray, state: np.ndarray | None, k: int,
               now: datetime | date | None = None, exclude: Sequence[int] = (),
               depth: int | None = None, window: tuple[date, date] | None = None,
               kinds: Sequence[str] | None = None, since: datetime | None = None,
               until: datetime | None = None) -> Recall:
        """The top k memories for `text` (embedding `x`) and the updated state.

        With a time `window` (from the user's own words), memories of that time join the
        candidates through a filtered search and are ranked first. `kinds`, `since` and
        `until` (a caller's explicit filters) hold inside the search, before top-k."""
        now = now or datetime.now()
        now = now if isinstance(now, datetime) else datetime(now.year, now.month, now.day)
        depth = depth or self.depth
        xt = np.asarray(x, np.float32).reshape(1, -1)
        query = xt if self.model is None else self.model.query(xt, state)
        hits = self.store.search(query[0], text, max(depth, k) + len(exclude),
                                 kinds=kinds, since=since, until=until)
        if since is not None or until is not None:
            window = None  # the caller's own time filter wins over the one in the words
        if window is not None:
            seen = {h.id for h in hits}
            start = datetime(window[0].year, window[0].month, window[0].day)
            end = datetime(window[1].year, window[1].month, window[1].day) + timedelta(days=1)
            hits += [h for h in self.store.search(query[0], text, k + len(exclude),
                                                  kinds=kinds, since=start, until=end)
                     if h.id not in seen]
        cap = max(depth, k) + (k if window is not None else 0)
        excluded = set(exclude)
        # A question put to the assistant stays in its transcript; it is not knowledge.
        hits = [h for h in hits if h.id not in excluded and not memory_text.asks(h)][:cap]
        if self.model is None:
            return Recall(_window_first(hits, window)[:k], None)
        if not hits:
            return Recall([], self.model.write(state, xt, np.zeros_like(xt)))
        mem = self.store.embeddings([h.id for h in hits])[None]
        feats = candidate_features(hits, text, now)[None]
        mask = np.ones((1, len(hits)), dtype=bool)
        logits, read = self.model.read(xt, state, mem, feats, mask)
        new_state = self.model.write(state, xt, read)
        top = logits[0] - logits[0].max()
        weights = (np.exp(top) / np.exp(top).sum()).tolist()
        order = sorted(range(len(hits)), key=lambda i: -float(logits[0, i]))
        for i in order:
            hits[i].weight = weights[i]
        return Recall(_window_first([hits[i] for i in order], window)[:k], new_state)
