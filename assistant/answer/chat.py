"""Replies by a capable chat model (a server, a bigger local model of the user's choosing):
the recalled memories, numbered, dated and sourced, go in the system message with the
rules; the reply cites them as [1], [2]. An answer is shown only when a memory it cites is
about what was asked (or, citing none, when the grounding check finds one); a reply that
says it does not know becomes the assistant's own abstention, with the closest memory.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from datetime import datetime

from assistant.answer.grounding import about_subject, cited, supporting
from assistant.answer.notes import abstention
from assistant.answer.prompts import STATEMENT_TASK, chat_messages
from assistant.answer.protocol import Generator
from memory_store.records import Hit

_DOES_NOT_KNOW = re.compile(
    r"\b(?:I (?:do not|don't|cannot|can't) (?:know|tell|find|see|recall|remember)|"
    r"(?:do|does|did) not (?:say|mention|contain|include|state)|"
    r"(?:don't|doesn't|didn't) (?:say|mention|contain|include|state)|"
    r"no (?:memory|memories|record|information|mention)\b|not (?:mentioned|recorded))", re.I)


def chat_support(question: str, reply: str, hits: Sequence[Hit]) -> Hit | None:
    """The memory a chat reply rests on: the first it cites that is about the question's
    subject; citing none, the one the grounding check finds."""
    cites = cited(reply, hits)
    if cites:
        about = about_subject(question, cites)
        return about[0] if about else None
    return supporting(question, reply, hits)


def respond_chat(question: str, hits: Sequence[Hit], generator: Generator, *,
                 max_new_tokens: int, history: Sequence[tuple[str, str]] = (),
                 today: datetime) -> Iterator[str]:
    """The checked answer of a chat model (the counterpart of `answering.respond`)."""
    if not hits:
        yield abstention(question, hits)
        return
    parts = []
    for piece in generator.stream(chat_messages(question, hits, history, today),
                                  max_new_tokens=max_new_tokens, stop=()):
        parts.append(piece)
        yield ""  # nothing unchecked is shown, but the caller may stop here (Esc)
    yield checked_reply(question, "".join(parts).strip(), hits)


def checked_reply(question: str, reply: str, hits: Sequence[Hit]) -> str:
    """The reply when a memory supports it, else the assistant's abstention."""
    unsure = not reply or (_DOES_NOT_KNOW.search(reply) and not cited(reply, hits))
    if unsure or chat_support(question, reply, hits) is None:
        return abstention(question, hits)
    return reply


def reply_to_statement(message: str, hits: Sequence[Hit], generator: Generator, *,
                       max_new_tokens: int, history: Sequence[tuple[str, str]] = (),
                       today: datetime) -> Iterator[str]:
    """A chat model's acknowledgement of something the user told it (already stored)."""
    yield from generator.stream(chat_messages(message, hits, history, today, STATEMENT_TASK),
                                max_new_tokens=max_new_tokens, stop=())
