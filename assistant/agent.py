"""One turn of the assistant: encode, recall, prompt, stream, persist. No UI code here."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass, field

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
                 generator=None, use_ltmt: bool = True) -> None:
        self.settings = settings
        self.encoder = encoder or Encoder()
        self._generator = generator
        self.use_ltmt = use_ltmt
        self._recaller = None
        self.store = MemoryStore(settings.home, embedding_model=self.encoder.name,
                                 dim=self.encoder.dim)

    @property
    def recaller(self):
        """LTM-T retrieval (or plain hybrid with use_ltmt=False); torch loads on first use."""
        if self._recaller is None:
            from assistant.recall import Recaller, load_model

            self._recaller = Recaller(self.store, load_model() if self.use_ltmt else None)
        return self._recaller

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

    def recall(self, query: str, k: int | None = None) -> list[Hit]:
        """The k memories most relevant to `query`, ranked by LTM-T from a fresh state."""
        r = self.recaller
        return r.recall(query, self.encoder.encode_one(query), r.initial_state(),
                        k or self.settings.k, utcnow()).hits

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
        state = self.recaller.load_state(conversation_id)
        recalled = self.recaller.recall(text, vector, state, self.settings.k, utcnow(),
                                        exclude=[memory_id])
        pieces = self._generate(text, recalled.hits)
        return Answer(recalled.hits, self._then_store(conversation_id, pieces, recalled.state))

    def _then_store(self, conversation_id: int, pieces: Iterator[str], state) -> Iterator[str]:
        parts = []
        for piece in pieces:
            parts.append(piece)
            yield piece
        # The model's own answers are kept as messages, not memories: a 135M model's
        # guesses must not come back later as facts.
        self.store.add_message(conversation_id, "assistant", "".join(parts).strip(), utcnow())
        self.recaller.save_state(conversation_id, state)

    def _generate(self, question: str, sources: list[Hit]) -> Iterator[str]:
        prompt = answer_prompt(question, sources)
        return self.generator.stream(prompt, max_new_tokens=self.settings.max_new_tokens,
                                     stop=("\n",))


