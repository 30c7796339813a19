"""Answers about the people in the user's life, read off what the user said about them:
"Where does my sister live now?" (the current value, with when it was said), "Where did
I live before?" (the history), "Who is Marta?", "What is my dog's name?", "When did I
move to Berlin?", "Who do I know that lives in my city?".

The strategy drafts only when the question asks for something of a known person (or who
someone is) and a statement says it. When it asks for an attribute of someone known and
nothing was said of it ("Where does my sister work?" when only her city was), the small
model is not asked to guess. A draft from any strategy that names a replaced value, and
not the current one, is corrected to the current value before it is shown.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from assistant.answer.draft import Draft, Strategy
from assistant.memory import text as memory_text
from assistant.memory.annotator import Annotator, Fact
from assistant.memory.facts import MANY, asked, core
from assistant.memory.people import NAME, OWNER, RELATION, USER, Person, canonical
from assistant.memory.timeparse import MONTHS, find_time_refs, format_day
from memory_store.records import Hit

_END = r"\s*\??\s*$"
_WHO_IS = re.compile(rf"^\s*(?i:who(?:'s| is| was))\s+{NAME}{_END}")
_NAME_OF = [re.compile(rf"^\s*(?i:{p}){_END}") for p in (
    rf"who(?:'s| is| was) my {RELATION}",
    rf"what(?:'s| is| was) (?:the name of )?my {RELATION}(?:'s|’s)? name",
    rf"what(?:'s| is| was) the name of my {RELATION}",
    rf"what(?:'s| is) my {RELATION} called",
    rf"what do (?:i|we) call (?:my|our) {RELATION}",
)]
# "What's Tomas's hamster called?", "What's my father's rabbit called?"
_ANY_NAME = NAME.replace("(?P<name>", "(?:")
_THEIR_PET = re.compile(
    rf"^\s*(?i:what(?:'s| is| was)(?: the name of)?) (?:{OWNER}|(?i:my "
    rf"(?P<orel>[a-z]+(?: [a-z]+)?)))(?:'s|’s) (?i:(?P<pet>[a-z]+(?: [a-z]+)??))"
    rf"(?i:'s name| called| named)?{_END}")
_NAMED_PET = re.compile(rf"^\s*(?i:what did) (?:(?P<me>(?i:i|we))|{OWNER}|(?i:my (?P<orel>[a-z]+"
                        rf"(?: [a-z]+)?))) (?i:name|call) (?i:(?:my|our|his|her|their) )"
                        rf"(?i:(?P<pet>[a-z]+(?: [a-z]+)??)){_END}")
_PET_OF = re.compile(rf"^\s*(?i:what (?:kind of |type of |sort of )?(?:pets?|animals?) "
                     rf"(?:do|does|did) (?P<who>i|my [a-z]+(?: [a-z]+)?|{_ANY_NAME}) "
                     rf"(?:have|own|adopt|get|keep))\b")
_WHEN = re.compile(r"^\s*(?i:when|in which month|in what month|what month) (?i:did) "
                   r"(?P<who>.+?) (?i:(?P<verb>move to|relocate to|start working at|start "
                   r"work at|start at|join|begin working at|take up|start learning|start "
                   r"playing|adopt|get|buy|rescue)) (?P<what>.+?)\s*\??\s*$")
_SAME_CITY = re.compile(r"(?i:\b(?:who|which of the people|which of my friends|anyone)\b.*"
                        r"\b(?:same city|my city|where i live|near me)\b)")
_LIVED_WHEN = re.compile(r"^\s*(?i:(?:which|what) (?:city|town|country) did i live in|where did i "
                         r"live|where was i living|where was i based) (?i:when|while|at the time) "
                         r"(?i:i) (?:[a-z]+ ){1,3}?(?:at |to |for |with )?(?P<what>[A-Z].+?)"
                         r"\s*\??\s*$")
UNKNOWN = Draft("", "said", None)  # known person, nothing said: do not guess


@dataclass
class Found:
    """An answer read off the memories: its text and the memory it rests on."""

    text: str
    memory_id: int | None


def _said(day) -> str:
    return f"you told me on {format_day(day)}"


def _article(words: str) -> str:
    return f"an {words}" if words[:1].lower() in "aeiou" else f"a {words}"


def _cap(text: str) -> str:
    return text[0].upper() + text[1:] if text else text


def _values(line: list[Fact]) -> str:
    seen = list(dict.fromkeys(f.value for f in line))
    return seen[0] if len(seen) == 1 else ", ".join(seen[:-1]) + " and " + seen[-1]


_VERBS = {"residence": ("live in", "lives in", "lived in"),
          "employer": ("work at", "works at", "worked at"),
          "job": ("are", "is", "was"), "age": ("are", "is", "was"),
          "allergy": ("are allergic to", "is allergic to", "were allergic to"),
          "car": ("drive", "drives", "drove"),
          "origin": ("are originally from", "is originally from", "were originally from"),
          "instrument": ("play", "plays", "played"), "sport": ("play", "plays", "played"),
          "language": ("are learning", "is learning", "were learning"),
          "hobby": ("took up", "took up", "took up")}


def _sentence(who: str, person: Person | None, subject: str, value: str, past: bool) -> str:
    you = who == USER
    name = _cap("You" if you else (person.describe() if person else who))
    if subject in _VERBS:
        now_you, now_they, then = _VERBS[subject]
        verb = then if past else (now_you if you else now_they)
        if you and past and verb == "was":
            verb = "were"
        shown = _article(value) if subject in ("job", "car") and " and " not in value \
            else value
        return f"{name} {verb} {shown}"
    owner = _cap("Your" if you else (f"{person.describe()}'s" if person else f"{who}'s"))
    return f"{owner} {subject} {'was' if past else 'is'} {value}"


def _hit(memory_id: int | None, memories: Sequence[Hit]) -> Hit | None:
    return next((h for h in memories if h.id == memory_id), None)


def _month(day: datetime) -> str:
    return f"{MONTHS[day.month - 1].title()} {day.year}"


# Questions ----------------------------------------------------------------------------------

def facts_asked(question: str, people: Annotator) -> tuple[str, str, list[Fact], bool] | None:
    """(who, subject, timeline, asks for the history) for a question about an attribute of
    someone known; the timeline is empty when nothing was said of it."""
    q = asked(question)
    if q is None or (who := people.holder(q.who)) is None:
        return None
    return who, q.subject, people.timeline(who, q.subject), q.before


def person_asked(question: str, people: Annotator) -> tuple[Person, bool] | None:
    """(the person, the question asks for their name) for "Who is Marta?", "What is my
    sister's name?" and "What's Tomas's hamster called?"."""
    if m := _WHO_IS.match(question):
        p = people.life.named(m["name"])
        return (p, False) if p is not None and p.relation else None
    for pattern in _NAME_OF:
        if m := pattern.match(question):
            p = people.life.related(canonical(f"{m['mod'] or ''}{m['rel']}"))
            return (p, True) if p is not None and p.name else None
    if (m := _NAMED_PET.match(question)) and m["me"]:
        p = people.life.related(canonical(m["pet"]))
        return (p, True) if p is not None and p.name else None
    if m := _THEIR_PET.match(question) or _NAMED_PET.match(question):
        owner = people.person(m["owner"]) if m["owner"] else people.life.related(m["orel"])
        if owner is not None and owner.name:
            p = people.life.related(f"{owner.name}'s {canonical(m['pet'])}")
            return (p, True) if p is not None and p.name else None
    return None


def _pets(question: str, people: Annotator) -> Found | None:
    if not (m := _PET_OF.match(question)):
        return None
    who = m["who"]
    owner = None if who.lower() == "i" else people.holder(who)
    if who.lower() != "i" and owner is None:
        return None
    pets = [p for p in people.life.people.values() if p.owned_by(owner) and p.name]
    if not pets:
        return None
    name = "You have" if owner is None else f"{owner} has"
    kinds = [p.relation.split("'s ")[-1] for p in pets]  # "Aylin's guinea pig"
    said = " and ".join(f"{_article(k)} called {p.name}" for k, p in zip(kinds, pets, strict=True))
    return Found(f"{name} {said}.", pets[-1].introduced_by)


def _when_said(question: str, people: Annotator) -> int | None:
    """The memory that says what "When did I move to Busan?" asks about; 0 when the person
    is known and it was never said; None when the question is not such a question."""
    if not (m := _WHEN.match(question)) or (who := people.holder(m["who"])) is None:
        return None
    what = re.sub(r"^(?:the|a|an|my)\s+", "", m["what"].strip(), flags=re.I).lower()
    if m["verb"].lower() in ("adopt", "get", "buy", "rescue"):
        p = people.person(m["what"]) or people.life.related(what)
        return p.introduced_by if p is not None and p.pet and p.introduced_by else 0
    said = [f.memory_id for (holder, _), line in people.timelines.items() if holder == who
            for f in line if re.sub(r"^(?:the|a|an)\s+", "", f.value.lower()) == what]
    return said[-1] if said else 0


def _when(question: str, people: Annotator, memories: Sequence[Hit]) -> Found | None:
    """"When did I move to Busan?": the day the statement says it happened ("last month"),
    else the day it was said."""
    if (memory_id := _when_said(question, people)) is None:
        return None
    if (hit := _hit(memory_id, memories)) is None:
        return Found("", None)  # the person is known; that was never said
    refs = find_time_refs(memory_text.spoken(hit), hit.created_at)
    day = datetime.combine(refs[0].start, datetime.min.time()) if refs else hit.created_at
    return Found(f"In {_month(day)} ({_said(hit.created_at)}).", hit.id)


def _same_city(question: str, people: Annotator) -> Found | None:
    if not _SAME_CITY.search(question):
        return None
    mine = people.timeline(USER, "residence")
    if not mine:
        return None
    city = mine[-1].value.lower()
    theirs = [(people.person(who), line[-1]) for (who, subject), line in
              people.timelines.items()
              if subject == "residence" and who != USER and line[-1].value.lower() == city]
    theirs = [(p, f) for p, f in theirs if p is not None]
    if not theirs:
        return Found("", None)
    names = " and ".join(p.describe() for p, _ in theirs)
    return Found(f"{_cap(names)} {'live' if len(theirs) > 1 else 'lives'} in "
                 f"{mine[-1].value}, as you do.", theirs[0][1].memory_id)


def _lived_when(question: str, people: Annotator) -> Found | None:
    if not (m := _LIVED_WHEN.match(question)):
        return None
    what = m["what"].strip().lower()
    when = next((f.said for (who, _), line in people.timelines.items() if who == USER
                 for f in line if f.value.lower() == what), None)
    homes = [f for f in people.timeline(USER, "residence") if when and f.said <= when]
    if not homes:
        return None
    return Found(f"You lived in {homes[-1].value} then ({_said(homes[-1].said)}).",
                 homes[-1].memory_id)


def _from_facts(question: str, people: Annotator) -> Found | None:
    found = facts_asked(question, people)
    if found is None:
        return None
    who, subject, line, before = found
    if not line:
        return Found("", None)
    person = None if who == USER else people.person(who)
    if before and subject not in MANY:
        if len(line) < 2:
            return Found("", None)  # nothing said of before
        old = line[-2]
        text = (f"Before {line[-1].value}, "
                f"{_lower(_sentence(who, person, subject, old.value, past=True))} "
                f"({_said(old.said)}).")
        return Found(text, old.memory_id)
    value = _values(line) if subject in MANY else line[-1].value
    return Found(f"{_sentence(who, person, subject, value, past=False)} "
                 f"({_said(line[-1].said)}).", line[-1].memory_id)


def read_off(question: str, people: Annotator, memories: Sequence[Hit]) -> Found | None:
    """What the people and facts say in answer, Found("", None) when the question is about
    someone known and nothing answers it, None when it is not such a question."""
    question = core(question)
    for reader in (_lived_when, _same_city, _pets):
        if (found := reader(question, people)) is not None:
            return found
    if (found := _when(question, people, memories)) is not None:
        return found
    if (found := person_asked(question, people)) is not None:
        p, name_asked = found
        if name_asked:
            called = "is called" if p.pet else "is"
            whose = p.relation if "'s " in p.relation else f"your {p.relation}"
            return Found(f"{_cap(whose)} {called} {p.name}.", p.introduced_by)
        whose = p.relation if "'s " in p.relation else f"your {p.relation}"
        return Found(f"{p.name} is {whose}.", p.introduced_by)
    return _from_facts(question, people)


def needed(question: str, people: Annotator) -> list[int]:
    """The memories the answer will rest on (recall puts them first), in the order
    `read_off` reads them."""
    question = core(question)
    for reader in (_lived_when, _same_city, _pets):
        if (f := reader(question, people)) is not None:
            return [f.memory_id] if f.memory_id is not None else []
    if (when := _when_said(question, people)) is not None:
        return [when] if when else []
    if (p := person_asked(question, people)) is not None:
        return [p[0].introduced_by] if p[0].introduced_by is not None else []
    found = facts_asked(question, people)
    if found and found[2]:
        _, subject, line, before = found
        return [f.memory_id for f in (reversed(line[:-1]) if before and subject not in MANY
                                      else line[-1:])]
    return []


_MINE = re.compile(r"\b(?:my|me|mine|myself)\b|\b(?:did|do|have|was|am|were|had|should|"
                   r"could|can) I\b|\bI(?:'ve|'m| was| had| did| said| told| have)\b", re.I)
_HOW_TO = re.compile(r"^\s*(?:how (?:do|can|should|would|could) (?:i|we|you|one)|how to|"
                     r"what (?:command|option|flag|setting|file))\b", re.I)


def personal(question: str, people: Annotator) -> bool:
    """A question about the user's own life or someone in it (not how to do something)."""
    if _HOW_TO.search(question):
        return False
    return bool(_MINE.search(question)) or bool(people.life.mentioned_in(question))


# The strategy -------------------------------------------------------------------------------

def known(question: str, people: Annotator, sources: Sequence[Hit]) -> Strategy:
    """The answer read off what was said about the person; UNKNOWN when the question is
    about someone known and nothing was said of it; else no draft."""
    yield ""
    found = read_off(question, people, sources)
    if found is None:
        return None
    if not found.text:
        return UNKNOWN
    return Draft(found.text, "said", _hit(found.memory_id, sources))


def plausible(question: str, draft: Draft, people: Annotator) -> bool:
    """After UNKNOWN (someone known, nothing said of what is asked), another strategy's
    draft may still be right (a fact said in words no pattern reads), unless it is the day
    a memory was said given as a birthday, or the value of another of their facts (their
    job for where they work) or of the same thing of someone else (the user's employer for
    the sister's)."""
    found = facts_asked(core(question), people)
    if draft.how == "date":  # the day a memory was said is no birthday; it may be a move's
        return found is None or found[1] != "birthday"
    if found is None:
        return True
    who, subject, _, _ = found
    text = draft.text.lower()
    others = [f.value.lower() for (holder, said), line in people.timelines.items()
              for f in line if (holder == who) != (said == subject)]
    return not any(re.search(rf"\b{re.escape(v)}\b", text) for v in others)


def _lower(text: str) -> str:
    """Mid-sentence: "you lived", "your sister Lucia lived", "Lucia lived"."""
    return text[0].lower() + text[1:] if text.startswith(("You ", "Your ")) else text


def corrected(question: str, text: str, people: Annotator, sources: Sequence[Hit]
              ) -> tuple[str, Hit] | None:
    """The current value instead of a replaced one the answer names, or None."""
    found = facts_asked(question, people)
    if found is None or found[3] or not found[2] or found[1] in MANY \
            or _LIVED_WHEN.match(question) or _WHEN.match(question):
        return None  # a question about then, not now
    who, subject, line, _ = found
    current, lowered = line[-1], text.lower()
    stale = [f for f in line[:-1] if f.value.lower() != current.value.lower()
             and re.search(rf"\b{re.escape(f.value.lower())}\b", lowered)]
    if not stale or re.search(rf"\b{re.escape(current.value.lower())}\b", lowered):
        return None
    hit = _hit(current.memory_id, sources)
    if hit is None:
        return None
    person = None if who == USER else people.person(who)
    return (f"{_sentence(who, person, subject, current.value, past=False)} "
            f"({_said(current.said)}).", hit)
