"""What a model asks to remember (the tool loop's `remember`) is a proposal, never the
user's memory unasked: kept unpinned, read as stating nothing of anyone (so it replaces
nothing the user said), until the user accepts it (pinned, and read as their fact from
then on) or rejects it (forgotten). Its meta says which: "proposal": "pending" or
"accepted"."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from assistant.memory import text as memory_text
from memory_store.records import Hit, NewMemory

if TYPE_CHECKING:
    from assistant.memory.encoder import Encoder
    from memory_store.base import StoreBase

PENDING, ACCEPTED = "pending", "accepted"


def proposed(hit: Hit) -> bool:
    """A model's proposal the user has not accepted (or rejected) yet."""
    return (hit.meta or {}).get("proposal") == PENDING


class Proposals:
    """The proposals of one store; `read` reads new memories for people and facts (and
    returns what they replaced), `forget` deletes memories with everything from them."""

    def __init__(self, store: StoreBase, encoder: Encoder,
                 read: Callable[[Sequence[int]], list], forget: Callable[[list[int]], int]
                 ) -> None:
        self.store, self.encoder, self.read, self.forget = store, encoder, read, forget

    def propose(self, fact: str, *, when: datetime, at: datetime, source: str,
                into: list[Hit] | None = None) -> Hit:
        """Keep `fact` as a proposal said `when` (local time; stored `at`, UTC), from
        `source` ("model:NAME"); added to `into`, the turn's list."""
        written = memory_text.fact(fact, when=when, speaker="", proposal=PENDING)
        (mid,) = self.store.add_memories([NewMemory(
            kind="fact", text=written.text, created_at=at, source=source, pinned=False,
            embedding=self.encoder.encode_one(written.text), meta=written.meta)])
        self.read([mid])  # read as stating nothing: the annotator skips proposals
        hit = self.store.get(mid)
        if into is not None:
            into.append(hit)
        return hit

    def pending(self) -> list[Hit]:
        """What models asked to remember that the user has not answered yet."""
        return [h for h in self.store.with_meta("proposal", kinds=("fact",)) if proposed(h)]

    def accept(self, memory_id: int) -> tuple[Hit, list]:
        """The user keeps it: pinned, and read as their fact (it may replace an older one,
        as `remember` does); returns it and what it replaced."""
        hit = self._awaiting(memory_id)
        meta = {k: v for k, v in (hit.meta or {}).items() if k not in ("about", "facts")}
        self.store.set_metas({memory_id: meta | {"proposal": ACCEPTED}})
        self.store.set_pinned(memory_id, True)
        replaced = self.read([memory_id])
        return self.store.get(memory_id), replaced

    def decide(self, ids: Sequence[int], keep: Sequence[int]) -> list:
        """Accept those of `ids` in `keep`, reject the rest; returns what the accepted
        replaced."""
        replaced = []
        for i in ids:
            if i in keep:
                replaced += self.accept(i)[1]
            else:
                self.reject(i)
        return replaced

    def reject(self, memory_id: int) -> None:
        """The user does not keep it: it is forgotten."""
        self._awaiting(memory_id)
        self.forget([memory_id])

    def _awaiting(self, memory_id: int) -> Hit:
        hit = self.store.get(memory_id)
        if hit is None or not proposed(hit):
            raise ValueError(f"memory #{memory_id} is not a proposal awaiting an answer "
                             "(accepted, rejected, or never proposed)")
        return hit
