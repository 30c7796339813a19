"""Answers about the people in the user's life, read off what the user said about them:
"Where does my sister live now?" (the current value, with when it was said), "Where did
I live before?" (the history), "Who is Marta?" and "What is my dog's name?".

The strategy drafts only when the question asks for one attribute of a known person (or
who someone is) and a statement says it; anything else goes to the other strategies. A
draft from any strategy that names a replaced value, and not the current one, is
corrected to the current value before it is shown.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from assistant.answer.draft import Draft, Strategy
from assistant.memory.annotator import Annotator, Fact
from assistant.memory.facts import asked
from assistant.memory.people import NAME, PETS, RELATION, USER, Person, canonical
from assistant.memory.timeparse import format_day
from memory_store.records import Hit

_WHO_IS = re.compile(rf"^\s*(?i:who(?:'s| is| was))\s+{NAME}\s*\??\s*$")
_NAME_OF = [re.compile(rf"^\s*(?i:{p})\s*\??\s*$") for p in (
    rf"who(?:'s| is| was) my {RELATION}",
    rf"what(?:'s| is| was) (?:the name of )?my {RELATION}(?:'s|’s)? name",
    rf"what(?:'s| is| was) the name of my {RELATION}",
    rf"what(?:'s| is) my {RELATION} called",
    rf"what do (?:i|we) call (?:my|our) {RELATION}",
)]


def _said(day) -> str:
    return f"you told me on {format_day(day)}"


def _article(words: str) -> str:
    return f"an {words}" if words[:1].lower() in "aeiou" else f"a {words}"


def _sentence(who: str, person: Person | None, subject: str, value: str, past: bool) -> str:
    you = who == USER
    name = "You" if you else (person.describe() if person else who)
    name = name[0].upper() + name[1:]
    verbs = {"residence": ("live in", "lives in", "lived in"),
             "employer": ("work at", "works at", "worked at"),
             "job": ("are", "is", "was"), "age": ("are", "is", "was")}
    if subject in verbs:
        now_you, now_they, then = verbs[subject]
        verb = then if past else (now_you if you else now_they)
        if you and past and subject in ("job", "age"):
            verb = "were"
        shown = _article(value) if subject == "job" else value
        return f"{name} {verb} {shown}"
    owner = "Your" if you else (f"{person.describe()}'s" if person else f"{who}'s")
    owner = owner[0].upper() + owner[1:]
    return f"{owner} {subject} {'was' if past else 'is'} {value}"


def _hit(memory_id: int | None, memories: Sequence[Hit]) -> Hit | None:
    return next((h for h in memories if h.id == memory_id), None)


def facts_asked(question: str, people: Annotator) -> tuple[str, list[Fact], bool] | None:
    """(who, timeline, asks for the history) for a question about a known attribute."""
    q = asked(question)
    if q is None or (who := people.holder(q.who)) is None:
        return None
    line = people.timeline(who, q.subject)
    return (who, line, q.before) if line else None


def person_asked(question: str, people: Annotator) -> tuple[Person, bool] | None:
    """(the person, the question asks for their name) for "Who is Marta?" and "What is
    my sister's name?"."""
    if m := _WHO_IS.match(question):
        p = people.life.named(m["name"])
        return (p, False) if p is not None and p.relation else None
    for pattern in _NAME_OF:
        if m := pattern.match(question):
            p = people.life.related(canonical(f"{m['mod'] or ''}{m['rel']}"))
            return (p, True) if p is not None and p.name else None
    return None


_MINE = re.compile(r"\b(?:my|me|mine|myself)\b|\b(?:did|do|have|was|am|were|had|should|"
                   r"could|can) I\b|\bI(?:'ve|'m| was| had| did| said| told| have)\b", re.I)
_HOW_TO = re.compile(r"^\s*(?:how (?:do|can|should|would|could) (?:i|we|you|one)|how to|"
                     r"what (?:command|option|flag|setting|file))\b", re.I)


def personal(question: str, people: Annotator) -> bool:
    """A question about the user's own life or someone in it (not how to do something)."""
    if _HOW_TO.search(question):
        return False
    return bool(_MINE.search(question)) or bool(people.life.mentioned_in(question))


def needed(question: str, people: Annotator) -> list[int]:
    """The memories the answer will rest on (recall puts them first)."""
    if found := facts_asked(question, people):
        _, line, before = found
        return [f.memory_id for f in (reversed(line[:-1]) if before else line[-1:])]
    if found := person_asked(question, people):
        p = found[0]
        return [p.introduced_by] if p.introduced_by is not None else []
    return []


def known(question: str, people: Annotator, sources: Sequence[Hit]) -> Strategy:
    """The answer read off what was said about the person, or no draft."""
    yield ""
    if found := facts_asked(question, people):
        who, line, before = found
        person = None if who == USER else people.life.resolve(who)
        subject = asked(question).subject
        if before:
            if len(line) < 2:
                return None
            old = line[-2]
            text = (f"Before {line[-1].value}, "
                    f"{_lower(_sentence(who, person, subject, old.value, past=True))} "
                    f"({_said(old.said)}).")
            return Draft(text, "said", _hit(old.memory_id, sources))
        now = line[-1]
        text = f"{_sentence(who, person, subject, now.value, past=False)} ({_said(now.said)})."
        return Draft(text, "said", _hit(now.memory_id, sources))
    if found := person_asked(question, people):
        p, name_asked = found
        hit = _hit(p.introduced_by, sources)
        if name_asked:
            called = "is called" if p.relation in PETS else "is"
            return Draft(f"Your {p.relation} {called} {p.name}.", "said", hit)
        return Draft(f"{p.name} is your {p.relation}.", "said", hit)
    return None


def _lower(text: str) -> str:
    """Mid-sentence: "you lived", "your sister Lucia lived", "Lucia lived"."""
    return text[0].lower() + text[1:] if text.startswith(("You ", "Your ")) else text


def corrected(question: str, text: str, people: Annotator, sources: Sequence[Hit]
              ) -> tuple[str, Hit] | None:
    """The current value instead of a replaced one the answer names, or None."""
    found = facts_asked(question, people)
    if found is None or found[2]:
        return None
    who, line, _ = found
    current, lowered = line[-1], text.lower()
    stale = [f for f in line[:-1] if f.value.lower() != current.value.lower()
             and re.search(rf"\b{re.escape(f.value.lower())}\b", lowered)]
    if not stale or re.search(rf"\b{re.escape(current.value.lower())}\b", lowered):
        return None
    hit = _hit(current.memory_id, sources)
    if hit is None:
        return None
    person = None if who == USER else people.life.resolve(who)
    subject = asked(question).subject
    return (f"{_sentence(who, person, subject, current.value, past=False)} "
            f"({_said(current.said)}).", hit)
