"""One turn of the assistant: encode, recall, prompt, stream, persist. No UI code here."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from assistant.config import Settings
from assistant.encoder import Encoder
from assistant.prompting import answer_prompt
from memory_store.models import utcnow
from memory_store.records import Hit, NewMemory
from memory_store.store import MemoryStore

log = logging.getLogger(__name__)


@dataclass
class Answer:
    """A streamed answer: iterate `pieces` for text; `sources` are the memories it was given."""

    sources: list[Hit]
    pieces: Iterator[str]
    text: str = ""
    _parts: list[str] = field(default_factory=list)

    def __iter__(self) -> Iterator[str]:
        for piece in self.pieces:
            self._parts.append(piece)
            yield piece
        self.text = "".join(self._parts).strip()


class Agent:
    """Owns the store, the encoder and the generator for one data folder."""

    def __init__(self, settings: Settings, encoder: Encoder | None = None,
                 generator=None) -> None:
        self.settings = settings
        self.encoder = encoder or Encoder()
        self._generator = generator
        self.store = MemoryStore(settings.home, embedding_model=self.encoder.name,
                                 dim=self.encoder.dim)

    def close(self) -> None:
        self.store.close()

    def __enter__(self) -> Agent:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def generator(self):
        if self._generator is None:
            from assistant.generator import EmbeddedGenerator

            self._generator = EmbeddedGenerator(cache_dir=self.settings.cache_dir)
        return self._generator

    def recall(self, query: str, k: int | None = None, *, exclude: set[int] | None = None
               ) -> list[Hit]:
        """The k memories most relevant to `query` (hybrid dense + lexical)."""
        k = k or self.settings.k
        extra = len(exclude or ())
        hits = self.store.search(self.encoder.encode_one(query), query, k + extra)
        return [h for h in hits if h.id not in (exclude or set())][:k]

    def ask(self, question: str, k: int | None = None) -> Answer:
        """Answer `question` from memory without remembering it (the `ask` command)."""
        sources = self.recall(question, k)
        return Answer(sources, self._generate(question, sources))

    def chat_turn(self, conversation_id: int, text: str) -> Answer:
        """Remember the user's message (before generating: a crash loses nothing), answer
        it from memory, and store the answer when the stream completes."""
        vector = self.encoder.encode_one(text)
        _, memory_id = self.store.add_message(
            conversation_id, "user", text, utcnow(),
            memory=NewMemory(kind="turn", text=f"User: {text}", embedding=vector,
                             created_at=utcnow(), meta={"role": "user"}),
        )
        hits = self.store.search(vector, text, self.settings.k + 1)
        sources = [h for h in hits if h.id != memory_id][: self.settings.k]
        return Answer(sources, self._then_store(conversation_id, self._generate(text, sources)))

    def _then_store(self, conversation_id: int, pieces: Iterator[str]) -> Iterator[str]:
        parts = []
        for piece in pieces:
            parts.append(piece)
            yield piece
        # The model's own answers are kept as messages, not memories: a 135M model's
        # guesses must not come back later as facts.
        self.store.add_message(conversation_id, "assistant", "".join(parts).strip(), utcnow())

    def _generate(self, question: str, sources: list[Hit]) -> Iterator[str]:
        prompt = answer_prompt(question, sources)
        return self.generator.stream(prompt, max_new_tokens=self.settings.max_new_tokens,
                                     stop=("\n",))


def open_agent(home: Path | None = None) -> Agent:
    from assistant.config import load_settings

    return Agent(load_settings(home))
