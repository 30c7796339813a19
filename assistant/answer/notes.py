"""Short answers from recalled memories: dates read from the memories themselves for
"when" questions, and a cleaned-up answer phrase from the generator for the rest."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator, Sequence
from datetime import datetime

from assistant.answer.grounding import (
    about_subject,
    cited,
    content_words,
    memory_text,
    said_text,
    speaker_of,
    subject_of,
    supporting,
)
from assistant.answer.prompts import STOP, answer_prompt
from assistant.answer.protocol import Generator
from assistant.answer.quoting import Encode, Quote, answering_quote, quoted, quoted_memory
from assistant.memory.timeparse import MONTHS, WEEKDAYS, TimeRef, find_time_refs
from assistant.memory.timeparse import format_day as format_date
from memory_store.records import Hit

log = logging.getLogger(__name__)
WHEN_QUESTION = re.compile(r"^\s*(?:when\b|on what (?:date|day)|what (?:date|day|year|month)\b|"
                           r"which (?:year|month|day)\b|in what (?:year|month)\b)", re.I)
def when_phrase(ref: TimeRef, said_on: datetime) -> str:
    """A time reference as an answer, relative phrases anchored to when they were said:
    "last Friday" said on 15 July 2023 -> "the Friday before 15 July 2023"."""
    on = said_on.date()
    weekday = next((w for w in WEEKDAYS if w in ref.phrase.lower()), None)
    if weekday and ref.granularity == "day" and ref.start < on:
        return f"the {weekday.title()} before {format_date(on)}"
    if ref.granularity == "day":
        return format_date(ref.start)
    if ref.granularity in ("week", "weekend"):
        side = "before" if ref.end < on else "after" if ref.start > on else "of"
        return f"the {ref.granularity} {side} {format_date(on)}"
    if ref.granularity == "month":
        return f"{MONTHS[ref.start.month - 1].title()} {ref.start.year}"
    return str(ref.start.year)


def date_answer(question: str, hits: Sequence[Hit], look: int = 2
                ) -> tuple[str, Hit] | None:
    """For a "when" question: the time the best memories mention, else the date the best
    one was said, with the memory it was read from; None for other questions or without
    memories."""
    if not hits or not WHEN_QUESTION.match(question):
        return None
    for hit in hits[:look]:
        refs = find_time_refs(said_text(hit), hit.created_at)
        if refs:
            return when_phrase(refs[0], hit.created_at), hit
    return format_date(hits[0].created_at), hits[0]


MAX_ANSWER_WORDS = 15
ABSTAINED = "I have nothing about"  # how an abstention starts, or:
UNSAID = "My memories"  # ... about your partner do not say that."
GROUNDING_MEMORIES = 5  # of the recalled memories (all shown to the user), those that may
# support an answer: the prompt's 3 and the next 2 (LoCoMo conversation 26, shipped
# adapter: 20% wrong abstentions against 21% with the prompt's 3 only, category 5 the same)


def clean_answer(raw: str) -> str:
    """The answer phrase alone: no "Name:" prefix, no trailing dated or bracketed notes,
    no repeated list items, at most MAX_ANSWER_WORDS words."""
    text = re.split(r"\s*\[|\s*\(\d", raw.strip())[0]
    text = re.sub(r"^[A-Z][\w .'-]{0,30}:\s+", "", text)
    items, seen = [], set()
    for item in re.split(r",(?!\d{3}\b)", text):  # "1,250 euros" is one item
        key = item.strip().lower()
        if key and key not in seen:
            seen.add(key)
            items.append(item.strip())
    return " ".join(", ".join(items).split()[:MAX_ANSWER_WORDS])


def abstention(question: str, hits: Sequence[Hit]) -> str:
    """"I don't know", said with what it is about and the closest memory there is."""
    about = subject_of(question).describe()
    theirs = about_subject(question, hits[:GROUNDING_MEMORIES])
    if theirs and about != "that":  # there are memories about it, just not this
        text = f"{UNSAID} about {about} do not say that."
    else:
        text = f"{ABSTAINED} {about} in my memories."
    nearby = theirs or list(hits)
    # What the user (or a person) said, before the assistant's own replies.
    closest = [h for h in nearby if speaker_of(h) != "Assistant"][:1] or nearby[:1]
    if closest:
        said = " ".join(said_text(closest[0]).split())
        said = said if len(said) <= 120 else said[:119] + "\u2026"
        text += (f" The closest: \u201c{said}\u201d ({format_date(closest[0].created_at)}, "
                 f"{closest[0].source or closest[0].kind}).")
    return text


def support_of(question: str, answer: str, hits: Sequence[Hit],
               prompt_memories: int = 3) -> Hit | None:
    """The memory a finished answer from `respond` rests on: the one a date was read
    from, or the one the grounding check found; None for an abstention."""
    if not answer or answer.startswith((ABSTAINED, UNSAID)):
        return None
    if (source := quoted_memory(answer, hits)) is not None:
        return source
    if cites := cited(answer, hits):  # a chat model's answer names its memories
        about = about_subject(question, cites)
        return about[0] if about else None
    if WHEN_QUESTION.match(question):
        when = date_answer(question, about_the_question(question, hits[:prompt_memories]))
        return when[1] if when is not None else None
    return supporting(question, answer, hits[:GROUNDING_MEMORIES])


def about_the_question(question: str, memories: Sequence[Hit]) -> list[Hit]:
    """The memories a "when" answer may be read off: those about the question's subject;
    when it names no one, those sharing a word with what it asks (else the date would be
    any memory's date)."""
    subject = subject_of(question)
    about = about_subject(question, memories)
    if subject.names or subject.relations:
        return about
    asked = content_words(question)
    return [h for h in about if asked & content_words(memory_text(h))]


def respond(question: str, hits: Sequence[Hit], generator: Generator, *,
            prompt_memories: int = 3, max_new_tokens: int = 24,
            history: Sequence[tuple[str, str]] = (), encode: Encode | None = None
            ) -> Iterator[str]:
    """The answer to `question` from `hits` (best first): a sentence quoted from a
    document (with `encode`, when the best memory is one), a date read from the memories,
    or the generator's phrase, each only when a memory it was given supports it; else an
    abstention. Yields the whole checked answer: nothing unchecked reaches the screen."""
    top = list(hits[:prompt_memories])
    if top and top[0].kind == "chunk" and encode is not None:
        quote = answering_quote(question, [h for h in top if h.kind == "chunk"], encode)
        if quote is not None and about_subject(question, [quote.hit]):
            yield quoted(quote)
        else:
            yield abstention(question, hits)
        return
    if WHEN_QUESTION.match(question):
        when = date_answer(question, about_the_question(question, top))
        yield when[0] if when is not None else abstention(question, hits)
        return
    if not top:
        yield abstention(question, hits)
        return
    tuned = getattr(generator, "tuned", False)
    parts = []
    for piece in generator.stream(answer_prompt(question, top, history, examples=not tuned),
                                  max_new_tokens=max_new_tokens, stop=STOP):
        parts.append(piece)
        yield ""  # nothing unchecked is shown, but the caller may stop here (Esc)
    answer = clean_answer("".join(parts))
    if answer and supporting(question, answer, hits[:GROUNDING_MEMORIES]) is not None:
        yield answer
        return
    log.info("no memory supports %r as the answer to %r", answer, question)
    # What was said about it, quoted, beats both a wrong phrase and "I don't know".
    quote = said_quote(question, hits, encode) if encode is not None else None
    yield quoted(quote) if quote is not None else abstention(question, hits)


def said_quote(question: str, hits: Sequence[Hit], encode: Encode) -> Quote | None:
    """The sentence said about the question's subject that answers it, if one does: of
    the first GROUNDING_MEMORIES, statements only (not questions, not the assistant's)."""
    said = [h for h in about_subject(question, hits[:GROUNDING_MEMORIES])
            if not (h.meta or {}).get("question") and speaker_of(h) != "Assistant"]
    return answering_quote(question, said, encode)
