"""An answer as the agent hands it out: streamed while it is written, then its Reply,
and the statements the message replaced (the conflict card)."""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass, field

from assistant.answer.draft import Reply
from memory_store.records import Hit


@dataclass
class Conflict:
    """A newer statement replaced an older one on the same subject; both are kept."""

    subject: str
    old: Hit
    new: Hit


@dataclass
class Answer:
    """A streamed answer: iterate it for what to show; then `reply` says what it was
    (answered, abstained, noted, stopped, failed), what it rests on, what it was given.

    Call `close()` when stopping early (Esc): what was shown so far and the LTM-T state
    are stored then. Normal completion stores them by itself.
    """

    sources: list[Hit]
    pieces: Generator[str, None, Reply]
    conflicts: list[Conflict] = field(default_factory=list)
    on_done: Callable[[Reply], None] | None = None
    reply: Reply | None = None
    # What the model asked to remember while it answered (filled as it runs): memories
    # awaiting the user's accept or reject, never pinned or read as facts before.
    proposals: list[Hit] = field(default_factory=list)
    _shown: list[str] = field(default_factory=list)

    def __iter__(self) -> Iterator[str]:
        while self.reply is None:
            try:
                piece = next(self.pieces)
            except StopIteration as done:
                self._finish(done.value)
                return
            except Exception as exc:  # the model or its server: the Reply says so
                self._finish(Reply(self._so_far(), "failed", None, self.sources, str(exc)))
                raise
            self._shown.append(piece)
            yield piece

    @property
    def text(self) -> str:
        return self.reply.text if self.reply is not None else self._so_far()

    @property
    def support(self) -> Hit | None:
        """The memory the answer rests on; None until it is answered, and for anything
        but an answer."""
        return self.reply.support if self.reply is not None and self.reply.answered else None

    @property
    def cancelled(self) -> bool:
        return self.reply is not None and self.reply.verdict == "stopped"

    def close(self) -> None:
        """Stop writing (if still going) and persist what there is; idempotent."""
        if self.reply is None:
            self.pieces.close()  # releases the generator's lock at once
            self._finish(Reply(self._so_far(), "stopped", None, self.sources))

    def _so_far(self) -> str:
        return "".join(self._shown).strip()

    def _finish(self, reply: Reply) -> None:
        self.reply = reply
        if self.on_done:
            self.on_done(reply)
