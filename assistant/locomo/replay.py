"""Feed a LoCoMo conversation into a store turn by turn, as the chat would, under fair use."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from assistant.locomo.data import Sample, Turn
from assistant.memory.encoder import Encoder
from memory_store.base import StoreBase
from memory_store.records import NewMemory

# Called after each turn is stored: (turn, its memory text, its vector, its memory id).
TurnHook = Callable[[Turn, str, np.ndarray, int], None]


def replay(sample: Sample, store: StoreBase, encoder: Encoder, on_turn: TurnHook | None = None
           ) -> int:
    """Store every turn (speaker, text, photo caption, session time) in order; returns the
    conversation id. Nothing else of the sample (observations, summaries, qa) is read."""
    turns = sample.turns
    cid = store.create_conversation(title=f"{sample.speakers[0]} & {sample.speakers[1]}",
                                    created_at=turns[0].when, origin="locomo")
    memories = [t.memory() for t in turns]
    vectors = encoder.encode([m.text for m in memories])
    for turn, memory, vec in zip(turns, memories, vectors, strict=True):
        _, (mid,) = store.add_message(cid, turn.speaker, turn.text, turn.when, memory=NewMemory(
            kind="turn", text=memory.text, embedding=vec, created_at=turn.when,
            meta=memory.meta))
        if on_turn is not None:
            on_turn(turn, memory.text, vec, mid)
    return cid
