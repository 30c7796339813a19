"""The date strategy: a "when" question is answered from the memories themselves, with
the time the best of them mention (relative phrases anchored to the day they were said),
else the day the best one was said. No model is involved."""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from datetime import datetime

from assistant.answer.draft import Draft
from assistant.answer.grounding import about_subject, content_words, subject_of
from assistant.memory.text import body, said_words
from assistant.memory.timeparse import MONTHS, WEEKDAYS, TimeRef, find_time_refs, format_day
from memory_store.records import Hit

WHEN_QUESTION = re.compile(r"^\s*(?:when\b|on what (?:date|day)|what (?:date|day|year|month)\b|"
                           r"which (?:year|month|day)\b|in what (?:year|month)\b)", re.I)


def asks_when(question: str) -> bool:
    return bool(WHEN_QUESTION.match(question))


def when_phrase(ref: TimeRef, said_on: datetime) -> str:
    """A time reference as an answer, relative phrases anchored to when they were said:
    "last Friday" said on 15 July 2023 -> "the Friday before 15 July 2023"."""
    on = said_on.date()
    weekday = next((w for w in WEEKDAYS if w in ref.phrase.lower()), None)
    if weekday and ref.granularity == "day" and ref.start < on:
        return f"the {weekday.title()} before {format_day(on)}"
    if ref.granularity == "day":
        return format_day(ref.start)
    if ref.granularity in ("week", "weekend"):
        side = "before" if ref.end < on else "after" if ref.start > on else "of"
        return f"the {ref.granularity} {side} {format_day(on)}"
    if ref.granularity == "month":
        return f"{MONTHS[ref.start.month - 1].title()} {ref.start.year}"
    return str(ref.start.year)


def date_answer(question: str, hits: Sequence[Hit], look: int = 2
                ) -> tuple[str, Hit] | None:
    """For a "when" question: the time the best memories mention, else the date the best
    one was said, with the memory it was read from; None for other questions or without
    memories."""
    if not hits or not asks_when(question):
        return None
    for hit in hits[:look]:
        refs = find_time_refs(said_words(hit), hit.created_at)
        if refs:
            return when_phrase(refs[0], hit.created_at), hit
    return format_day(hits[0].created_at), hits[0]


def about_the_question(question: str, memories: Sequence[Hit]) -> list[Hit]:
    """The memories a "when" answer may be read off: those about the question's subject;
    when it names no one, those sharing a word with what it asks (else the date would be
    any memory's date)."""
    subject = subject_of(question)
    about = about_subject(question, memories)
    if subject.names or subject.relations:
        return about
    asked = content_words(question)
    return [h for h in about if asked & content_words(body(h))]


def dated(question: str, memories: Sequence[Hit]) -> Iterator[str]:
    """Strategy: the date read off the memories about the question, with the one it was
    read from (already about the subject: the check takes it as it is)."""
    found = date_answer(question, about_the_question(question, memories))
    if found is None:
        return None
    yield from ()
    return Draft(found[0], "date", found[1])
