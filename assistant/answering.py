"""Short answers from recalled memories: dates read from the memories themselves for
"when" questions, and a cleaned-up answer phrase from the generator for the rest."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator, Sequence
from datetime import datetime

from assistant.generator import Generator
from assistant.grounding import (
    LEADING_DATE,
    about_subject,
    cited,
    content_words,
    memory_text,
    speaker_of,
    subject_of,
    supporting,
)
from assistant.quoting import Encode, Quote, answering_quote, quoted, quoted_memory
from assistant.timeparse import MONTHS, WEEKDAYS, TimeRef, find_time_refs
from assistant.timeparse import format_day as format_date
from memory_store.records import Hit

log = logging.getLogger(__name__)
WHEN_QUESTION = re.compile(r"^\s*(?:when\b|on what (?:date|day)|what (?:date|day|year|month)\b|"
                           r"which (?:year|month|day)\b|in what (?:year|month)\b)", re.I)
_ANNOTATION = re.compile(r"\s*\[[^\]]*\]")  # "[7 May 2023]" added by annotate(), photo notes


def said_text(hit: Hit) -> str:
    """What was said, as said: without the stored date prefix and bracketed annotations."""
    return _ANNOTATION.sub("", LEADING_DATE.sub("", hit.text)).strip()


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


# The generator's prompt: plain completion text in the style of the memories it is given
# (dated lines, "Name: what they said"). Measured on held-out LoCoMo questions (README).
INSTRUCTION = "Answer each question with a short phrase taken from the notes.\n\n"
EXAMPLES = """Notes:
(3 March 2024) Anna: I adopted a grey cat called Miso last weekend!
(3 March 2024) Ben: That's lovely. I've been baking sourdough bread every Sunday.
Question: What is the name of Anna's cat?
Answer: Miso

Notes:
(12 June 2023) Tom: I ran my first half marathon in Lyon, it was tough but I loved it.
(2 May 2023) Sara: I started volunteering at an animal shelter to help dogs find homes.
Question: What did Sara start doing?
Answer: volunteering at an animal shelter

Notes:
(8 July 2023) Lena: We went hiking and swimming at the lake, and the kids collected shells.
(1 July 2023) Omar: My sister gave me a book about birds for my birthday.
Question: What activities did Lena's family do at the lake?
Answer: hiking, swimming, collecting shells

"""
TUNED_PROMPT = "notes-v1"  # answer_prompt(examples=False): what an adapter is trained on
STOP = ("\n", "[", "Notes:", "Question:")
MAX_ANSWER_WORDS = 15
ABSTAINED = "I have nothing about"  # how an abstention starts, or:
UNSAID = "My memories"  # ... about your partner do not say that."
GROUNDING_MEMORIES = 5  # of the recalled memories (all shown to the user), those that may
# support an answer: the prompt's 3 and the next 2 (LoCoMo conversation 26, shipped
# adapter: 20% wrong abstentions against 21% with the prompt's 3 only, category 5 the same)


def note_line(hit: Hit, limit: int = 400) -> str:
    text = " ".join(said_text(hit).split())[:limit]
    return f"({format_date(hit.created_at)}) {text}"


def answer_prompt(question: str, hits: Sequence[Hit],
                  history: Sequence[tuple[str, str]] = (), *, examples: bool = True) -> str:
    """The completion prompt: the memories best-last (nearest the question, where the
    small model looks), then the conversation's recent turns, then the question. A model
    fine-tuned on this task (`assistant train-generator`) gets no worked examples."""
    notes = "\n".join(note_line(h) for h in reversed(hits)) or "(nothing)"
    recent = ""
    if history:
        said = [f"{role.title()}: {' '.join(text.split())[:200]}" for role, text in history]
        recent = "Recent conversation:\n" + "\n".join(said) + "\n"
    return (f"{INSTRUCTION}{EXAMPLES if examples else ''}Notes:\n{notes}\n{recent}"
            f"Question: {question.strip()}\nAnswer:")


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
