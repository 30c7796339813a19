"""THE one writer and reader of a memory's text and meta. Every other module asks here.

A memory's text is what it is searched, embedded and shown by:
  [3 May 2024] User: what was said [annotations]   a chat turn; a pinned fact said in chat
  [3 May 2024] what was remembered                  a fact nobody said in so many words
  [3 May 2024] Summary of the conversation "T": ... a conversation's summary
  User: what was said                               a turn of an imported chat export
  the document's own words                          a part of an imported document
Its meta says what the text is, so nothing reads it back out of the text:
  form      "statement" (what was said), "question" (a message the user asked this
            assistant in its chat: kept in the transcript, never recalled as knowledge),
            "summary" or "chunk" (a part of a document). An imported chat's turns and a
            replayed conversation's are statements: none was put to this assistant;
  speaker   who said it ("User", "Assistant", a person's name; "" when nobody did);
  said_on   the day the text is dated with (ISO), when it is dated;
  part      n, when a message too long for the encoder is remembered in parts;
  about     whom a statement of the user's is about: [{"name", "relation"}], the user
            as {"name": "User"} (memory/people.py reads it; `annotated` writes it);
  facts     what it states of whom: [{"who", "subject", "value"}] (memory/facts.py);
and what each writer adds (a document's path, title and section, a summary's message
count).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime

from assistant.commands import is_question
from assistant.ingest.chunking import turn_parts
from assistant.memory.timeparse import MONTHS, annotate, format_day
from memory_store.records import Hit

STATEMENT, QUESTION, SUMMARY, CHUNK = "statement", "question", "summary", "chunk"
USER, ASSISTANT = "User", "Assistant"
FORGOTTEN = "[forgotten]"  # what a transcript shows where forgotten words were
_ANNOTATION = re.compile(r"\s*\[[^\]]*\]")  # "[7 May 2023]" of annotate(), a photo's note


@dataclass(frozen=True)
class Written:
    """A memory's text and meta, as the store keeps them."""

    text: str
    meta: dict = field(default_factory=dict)


def _dated(day: date | datetime, words: str) -> str:
    return f"[{format_day(day)}] {words}"


def _said_by(speaker: str, words: str) -> str:
    return f"{speaker}: {words}" if speaker else words


# Writers -------------------------------------------------------------------------------------

def turn(words: str, *, speaker: str, when: datetime, form: str = STATEMENT,
         photo: str = "", **meta) -> Written:
    """One thing said in a conversation, dated, its relative times resolved ("yesterday
    [13 May 2026]"), with the photo the speaker shared."""
    noted = f" [shares a photo: {photo}]" if photo else ""
    text = _dated(when, _said_by(speaker, annotate(words, when))) + noted
    return Written(text, {"form": form, "speaker": speaker,
                          "said_on": when.date().isoformat()} | meta)


_SENTENCE = re.compile(r"(?<=[.!?])\s+")


def only_asks(words: str) -> bool:
    """Every sentence of the message asks something: nothing in it is said to be kept.
    "My sister moved to Porto. Where does she live?" states something; "Hi! Where do I
    live?" does not (a sentence of under three words states nothing)."""
    return all(is_question(s) or len(s.split()) < 3 for s in _SENTENCE.split(words.strip())
               if s.strip())


def message(words: str, *, when: datetime, speaker: str = USER, **meta) -> list[Written]:
    """A chat message, in parts when it is too long for the encoder's window (so its end
    is found by meaning); a question is a message that only asks the assistant something
    (it stays in the transcript and is never recalled as knowledge)."""
    parts = turn_parts(words)
    form = QUESTION if only_asks(words) else STATEMENT
    return [turn(part, speaker=speaker, when=when, form=form,
                 **meta | ({"part": n} if len(parts) > 1 else {}))
            for n, part in enumerate(parts, start=1)]


def fact(words: str, *, when: datetime, speaker: str = USER, **meta) -> Written:
    """A fact to keep (pinned): said by `speaker`, or by nobody in so many words ("")."""
    return Written(_dated(when, _said_by(speaker, annotate(words, when))),
                   {"form": STATEMENT, "speaker": speaker,
                    "said_on": when.date().isoformat()} | meta)


def summary(words: str, *, title: str, when: datetime, **meta) -> Written:
    """What a conversation was about, in a sentence or two."""
    return Written(_dated(when, f"Summary of the conversation \"{title}\": {words}"),
                   {"form": SUMMARY, "speaker": "", "said_on": when.date().isoformat()} | meta)


def imported(words: str, *, role: str, **meta) -> list[Written]:
    """A turn of an imported chat export, in parts when long: undated (the store keeps
    when it was said), both sides kept (the assistant's replies are what the user read)."""
    speaker = USER if role == "user" else ASSISTANT
    parts = turn_parts(words)
    return [Written(_said_by(speaker, part), {"form": STATEMENT, "speaker": speaker,
                                              "role": role}
                    | meta | ({"part": n} if len(parts) > 1 else {}))
            for n, part in enumerate(parts, start=1)]


def chunk(words: str, **meta) -> Written:
    """A part of an imported document, in the document's own words."""
    return Written(words, {"form": CHUNK, "speaker": ""} | meta)


# Readers -------------------------------------------------------------------------------------

def form(hit: Hit) -> str:
    return (hit.meta or {}).get("form", "")


def asks(hit: Hit) -> bool:
    """A question put to the assistant: not knowledge."""
    return form(hit) == QUESTION


def speaker(hit: Hit) -> str:
    """Who said it; "" for a document, a summary, or a fact nobody said."""
    return str((hit.meta or {}).get("speaker", ""))


def said_on(hit: Hit) -> date | None:
    """The day the memory's text is dated with, if it is."""
    day = (hit.meta or {}).get("said_on")
    return date.fromisoformat(day) if day else None


def body(hit: Hit) -> str:
    """What a memory holds as the user opens it (photo notes too), without its date."""
    day = said_on(hit)
    prefix = _dated(day, "") if day else ""
    return hit.text[len(prefix):] if prefix and hit.text.startswith(prefix) else hit.text


def said_words(hit: Hit) -> str:
    """What was said, as said: without the date and the bracketed notes added to it."""
    return _ANNOTATION.sub("", body(hit)).strip()


def about(hit: Hit) -> list[dict] | None:
    """Whom a statement is about ([{"name", "relation"}]); None when it was not read for
    people (a document, a summary, someone else's words)."""
    value = (hit.meta or {}).get("about")
    return list(value) if isinstance(value, list) else None


def facts(hit: Hit) -> list[dict]:
    """What the memory states of whom: [{"who", "subject", "value"}]."""
    return [f for f in (hit.meta or {}).get("facts") or [] if isinstance(f, dict)]


def spoken(hit: Hit) -> str:
    """What was said, without the date, the notes, or who said it."""
    words, who = said_words(hit), speaker(hit)
    return words.removeprefix(f"{who}: ") if who else words


def reads_people(hit: Hit) -> bool:
    """The user's own statements (and pinned facts) are read for people and facts."""
    return form(hit) == STATEMENT and (speaker(hit) == USER or hit.kind == "fact")


def annotated(hit: Hit, about: list[dict], facts: list[dict]) -> dict:
    """The memory's meta with whom it is about and what it states."""
    meta = {k: v for k, v in (hit.meta or {}).items() if k not in ("subject", "value")}
    return meta | {"about": about} | ({"facts": facts} if facts else {})


# Stores written before this schema ---------------------------------------------------------

SCHEMA = "memory-text-v1"  # the backfill's name in each store (StoreBase.backfill)
_LEGACY_DATE = re.compile(r"^\[(\d{1,2}) (\w+) (\d{4})\] ")
_LEGACY_SPEAKER = re.compile(r"^([^:\n]{1,39}): ")
_MONTH = {m.title(): n for n, m in enumerate(MONTHS, start=1)}


def backfill(hit: Hit) -> dict:
    """The meta of a memory written before this schema, read from what the old writers
    left (their text shapes and meta keys); a memory already written by it is unchanged."""
    meta = dict(hit.meta or {})
    if "form" in meta:
        return meta
    text, day = hit.text, None
    if (m := _LEGACY_DATE.match(text)) and m[2] in _MONTH:
        day = date(int(m[3]), _MONTH[m[2]], int(m[1]))
        text = text[m.end():]
    said = _LEGACY_SPEAKER.match(text)
    if hit.kind == "chunk":
        return meta | {"form": CHUNK, "speaker": ""}
    if hit.kind == "summary":
        written = {"form": SUMMARY, "speaker": ""}
    elif hit.kind == "fact":  # "User: ..." when said in a chat, else nobody's words
        written = {"form": STATEMENT, "speaker": USER if text.startswith(f"{USER}: ") else ""}
    else:  # a turn: a chat message, an imported export's turn, a replayed conversation's
        who = meta.pop("speaker", None) or (said[1] if said else "")
        written = {"form": QUESTION if meta.pop("question", False) else STATEMENT}
        written["speaker"] = who
        if meta.get("role") == "user" and meta.get("origin") != "chatgpt":
            del meta["role"]  # the chat's own turns: the speaker says it
    return meta | written | ({"said_on": day.isoformat()} if day else {})
