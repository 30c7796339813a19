"""The chat strategy of a capable model (a server, a bigger local model of the user's
choosing): the recalled memories, numbered, dated and sourced, go in the system message
with the rules; the reply cites them as [1], [2]. What it replies to a statement is
shown as it streams; a reply to a question only after the pipeline's check."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime

from assistant.answer.draft import Draft, Strategy
from assistant.answer.prompts import ANSWER_TASK, STATEMENT_TASK, chat_messages
from assistant.answer.protocol import Generator
from memory_store.records import Hit


def chat(question: str, memories: Sequence[Hit], generator: Generator, *,
         max_new_tokens: int, history: Sequence[tuple[str, str]] = (), today: datetime,
         task: str = ANSWER_TASK) -> Strategy:
    """Strategy: the model's reply to the question, from the memories it is given."""
    if not memories:
        return None
    parts = []
    for piece in generator.stream(chat_messages(question, memories, history, today, task),
                                  max_new_tokens=max_new_tokens, stop=()):
        parts.append(piece)
        yield ""  # nothing unchecked is shown, but the caller may stop here (Esc)
    return Draft("".join(parts).strip(), "chat")


def acknowledgement(message: str, memories: Sequence[Hit], generator: Generator, *,
                    max_new_tokens: int, history: Sequence[tuple[str, str]] = (),
                    today: datetime) -> Iterator[str]:
    """A chat model's reply to something the user told it (already stored)."""
    yield from generator.stream(chat_messages(message, memories, history, today,
                                              STATEMENT_TASK),
                                max_new_tokens=max_new_tokens, stop=())
