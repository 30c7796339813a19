"""Grounded or silent: an answer is shown only when the memories recalled for it
support it, otherwise the assistant says it does not know (and what is closest).

The memories about the question's subject are those that name the relations it asks
after ("my brother", "Ana's husband") and the people it names; when a person it names is
a speaker in the memories (a chat, an imported conversation), only what that person said
counts. Those memories must hold at least half of the answer's own words (the ones not
already in the question). A 135M model asked "What is my brother's name?" with only a
memory about a sister answers with the sister's name: that memory holds the name, but
not "brother", so nothing supports it. Judgements asked for as such ("Would Ana
likely ...?", a yes or a no) need the subject's memories only.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from assistant.memory import text as memory_text
from assistant.memory.facts import asked, same_subject, statements
from assistant.memory.text import ASSISTANT, USER, body, speaker
from assistant.memory.timeparse import MONTHS, WEEKDAYS
from memory_store.records import Hit

_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")
_JUDGEMENT = re.compile(r"\b(would|likely|might|probably)\b", re.I)  # asks for an inference
_YES_NO = re.compile(r"^\s*(yes|no|likely( not| no| yes)?|probably( not)?)\b[,;.]?", re.I)
_NAME = re.compile(r"\b[A-Z][a-z]+(?:'s)?\b")
_FUNCTION = set("""a an the and or but of to in on at for with from by as into about over after
before than then so if is are was were be been being am do does did done doing have has had
having i me my mine you your yours he him his she her hers it its we us our they them their
this that these those there here what which who whom whose when where why how would could
should can will shall may might must not no yes any some all each every much many more most
very just also too only own same other such one ones up down out off again once tell say said
know think like get got go went make made take took way thing things something anything
""".split())
_QUESTION_NAMES = {"What", "Which", "Who", "Whom", "Whose", "When", "Where", "Why", "How", "Is",
                   "Are", "Was", "Were", "Do", "Does", "Did", "Can", "Could", "Would", "Should",
                   "Will", "Has", "Have", "Had", "Tell", "I", "The", "A", "An", "In", "On", "My",
                   "Remember", "Please", "Yes", "No", "Dr", "Mr", "Mrs", "Ms",
                   "January", "February", "March", "April", "May", "June", "July", "August",
                   "September", "October", "November", "December", "Monday", "Tuesday",
                   "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"}
_QUOTED = re.compile(r"\"[^\"]*\"|\u201c[^\u201d]*\u201d")  # titles: "The Four Seasons"
_NUMBERS = {"one": "1", "two": "2", "three": "3", "four": "4", "five": "5", "six": "6",
            "seven": "7", "eight": "8", "nine": "9", "ten": "10", "twice": "2", "once": "1"}
# Who a question can ask after; each word stands for the words that mean the same.
RELATIONS: dict[str, set[str]] = {
    "brother": set(), "sister": set(), "sibling": {"brother", "sister"},
    "mother": {"mom", "mum", "mama", "mommy"}, "father": {"dad", "papa", "daddy"},
    "wife": {"spouse"}, "husband": {"spouse"}, "partner": {"boyfriend", "girlfriend"},
    "boyfriend": set(), "girlfriend": set(), "fiance": {"fiancee"},
    # A child may be named as such or by the word the question uses.
    "son": {"kid", "kids", "child", "children"},
    "daughter": {"kid", "kids", "child", "children"},
    "kid": {"kids", "child", "children", "son", "daughter"},
    "child": {"kid", "kids", "children", "son", "daughter"},
    "grandmother": {"grandma", "granny", "nan"}, "grandfather": {"grandpa", "granddad"},
    "grandparent": {"grandmother", "grandfather", "grandma", "grandpa"},
    "aunt": set(), "uncle": set(), "cousin": set(), "niece": set(), "nephew": set(),
    "parent": {"mother", "father", "mom", "dad", "mum"},
    "boss": {"manager"}, "colleague": {"coworker", "co-worker"}, "neighbour": {"neighbor"},
    "friend": {"buddy", "pal", "mate", "friends"}, "roommate": {"flatmate"},
    "doctor": {"gp", "physician"},
    "dentist": set(), "teacher": set(),
}
_ALIASES = {"mom": "mother", "mum": "mother", "dad": "father", "kids": "kid",
            "children": "child", "neighbor": "neighbour", "grandma": "grandmother",
            "grandpa": "grandfather", "parents": "parent", "grandparents": "grandparent",
            "siblings": "sibling"}


def stem(word: str) -> str:
    """A crude stem, enough to match "painted" with "paint" and "museums" with "museum"."""
    word = word.lower().removesuffix("'s")
    for suffix in ("ing", "ed", "es", "s"):
        if len(word) > len(suffix) + 3 and word.endswith(suffix):
            return word[: -len(suffix)]
    return word


# Irregular past forms, so "Noor and I saw Rosalia" holds the "see" of "did we see".
_IRREGULAR = dict(pair.split(":") for pair in """saw:see seen:see went:go gone:go met:meet
bought:buy ate:eat eaten:eat ran:run took:take taken:take gave:give given:give came:come
began:begin begun:begin felt:feel left:leave lost:lose won:win wrote:write written:write
read:read found:find kept:keep brought:bring taught:teach thought:think told:tell sold:sell
sang:sing sung:sing drove:drive driven:drive flew:fly flown:fly swam:swim grew:grow
grown:grow knew:know known:know spoke:speak spoken:speak chose:choose chosen:choose
broke:break broken:break built:build spent:spend sent:send paid:pay heard:hear held:hold
slept:sleep caught:catch fell:fall fallen:fall drew:draw drawn:draw rode:ride ridden:ride
""".split())


def content_words(text: str) -> set[str]:
    return {_NUMBERS.get(w) or _IRREGULAR.get(w) or stem(w) for w in _WORD.findall(text.lower())
            if w not in _FUNCTION}


@dataclass(frozen=True)
class Subject:
    """What a question is about: the people it names and the relations it asks after."""

    names: frozenset[str]
    relations: frozenset[str]
    mine: bool  # "my brother": the user's own

    def describe(self) -> str:
        if self.relations:
            owner = "your " if self.mine else ""
            return " or ".join(f"{owner}{r}" for r in sorted(self.relations))
        return " and ".join(sorted(self.names)) or "that"


def subject_of(question: str) -> Subject:
    words = _WORD.findall(question.lower())
    relations = {_ALIASES.get(w.removesuffix("'s"), w.removesuffix("'s")) for w in words}
    relations &= RELATIONS.keys()
    tokens = question.split()
    names = {m.group(0).removesuffix("'s") for m in _NAME.finditer(_QUOTED.sub("", question))}
    first = tokens[0].strip("\"'(") if tokens else ""
    names -= _QUESTION_NAMES | {first}
    return Subject(frozenset(names), frozenset(relations), bool(re.search(r"\bmy\b", question,
                                                                          re.I)))


def names_subject(text: str, subject: Subject) -> bool:
    """The memory mentions every person the question names and every relation it asks
    after (or a word meaning the same)."""
    lowered = text.lower()
    words = {w.removesuffix("'s") for w in _WORD.findall(lowered)}
    for name in subject.names:
        if not re.search(rf"\b{re.escape(name.lower())}\b", lowered):
            return False
    return all(({r} | RELATIONS[r]) & (words | {stem(w) for w in words})
               for r in subject.relations)


def subject_text(hit: Hit) -> str:
    """What a memory is about: its text, and for a document, the document's title and the
    file and heading it comes from (a README section need not name its project)."""
    if hit.kind != "chunk":
        return body(hit)
    title = (hit.meta or {}).get("title", "")
    return f"{body(hit)}\n{title}\n{hit.source.replace('_', ' ')}"


def _speaker_named(question: str, subject: Subject, memories: Sequence[Hit]) -> str | None:
    """The one person the question names who speaks in these memories ("Mel" for
    Melanie too), or None."""
    speakers = {speaker(h) for h in memories} - {"", USER, ASSISTANT}
    named = {p for p in speakers for n in subject.names
             if p == n or (len(n) >= 3 and p.startswith(n))}
    return named.pop() if len(named) == 1 else None


_SELF = re.compile(r"\b(?:i|me|my|mine|myself)\b", re.I)


def _whom(question: str, subject: Subject, memories: Sequence[Hit]) -> list[Hit]:
    """What the user's statements record of whom they are about decides first: a question
    about the user alone ("Where do I live?") is not answered by a statement about their
    sister, a summary (everyone's facts mixed) never answers for a person: the
    statements it summarises do, and a document never says what is true of the user or
    their people (it may hold "I live in ..." in anyone's words)."""
    out = []
    fact = asked(question)
    mine = fact is not None and (fact.who == "I" or fact.who.lower().startswith("my "))
    for h in memories:
        about = memory_text.about(h)
        if mine and h.kind == "chunk":
            continue
        if memory_text.form(h) == memory_text.SUMMARY and (
                subject.names or subject.relations or _SELF.search(question)):
            continue
        if about is not None and not subject.names and not subject.relations \
                and _SELF.search(question) and about \
                and not any(a.get("name") == USER for a in about):
            continue
        out.append(h)
    return out


def _about_in_meta(hit: Hit, subject: Subject) -> bool:
    """The user's statement records that it is about every person the question names and
    every relation it asks after ("Vikram has been a nutritionist" is about "my
    grandfather" once Vikram was introduced as such; "She works as a nurse" about Lucia)."""
    about = memory_text.about(hit)
    if not about or not (subject.names or subject.relations):
        return False
    names = [str(a.get("name", "")).lower() for a in about]
    relations = {w for a in about for w in str(a.get("relation", "")).lower().split()}
    relations = {_ALIASES.get(r, r) for r in relations}
    return all(any(n.lower() == x or x.startswith(n.lower() + " ") for x in names)
               for n in subject.names) and \
        all(({r} | RELATIONS[r]) & relations for r in subject.relations)


def about_subject(question: str, memories: Sequence[Hit]) -> list[Hit]:
    """The memories about what the question asks after, best first."""
    subject = subject_of(question)
    memories = _whom(question, subject, memories)
    if not subject.names and not subject.relations:  # nobody named: the topic must meet
        memories = [h for h in memories if on_topic(question, h)]
    by_text = {h.id for h in _about_in_text(question, subject, memories)}
    # What the words say, or what the user's statement records of whom it is about.
    return [h for h in memories if h.id in by_text or _about_in_meta(h, subject)]


# Words that say when or how it was said, not what about: "What did we talk about last
# weekend?" asks about anything said then.
_WHEN_WORDS = """last next ago yesterday today tonight tomorrow day days week weeks weekend
month months year years morning afternoon evening night now currently recently lately earlier
later time talk talked discuss discussed chat chatted conversation mention mentioned""".split()
_TIME_WORDS = frozenset(stem(w) for w in [*_WHEN_WORDS, *MONTHS, *WEEKDAYS])
_SECRETS = ("password", "passcode", "pin", "phone number", "email")


def on_topic(question: str, hit: Hit) -> bool:
    """The memory is about what the question asks: it shares a word of it (besides when),
    or states the kind of fact it asks for ("Where do I live?": "I moved to Porto"). The
    user's own words need not, unless they hold a secret: whom they are about decides
    (`_whom`), and they say things in their own words ("allergic" for "allergy"). So a
    model citing "my bank PIN is 4321" for "What should I pack for the trip?" is refused,
    and so is a document or a model's memory that shares nothing with the question."""
    if speaker(hit) == USER and not any(names_identifier(body(hit), t) for t in _SECRETS):
        return True
    words = content_words(question) - _TIME_WORDS
    if not words or words & content_words(subject_text(hit)):
        return True
    wanted = asked(question)
    if wanted is None:
        return False
    said = {str(f.get("subject", "")) for f in memory_text.facts(hit)}
    said |= {st.subject for st in statements(memory_text.spoken(hit))}
    return wanted.subject in {same_subject(s) for s in said if s}


def _about_in_text(question: str, subject: Subject, memories: Sequence[Hit]) -> list[Hit]:
    if len(subject.names) > 1:  # "Which city have both Jean and John visited?": either
        return [h for h in memories if any(
            speaker(h).startswith(n)
            or names_subject(subject_text(h), Subject(frozenset({n}), subject.relations,
                                                      subject.mine))
            for n in subject.names)]
    named = _speaker_named(question, subject, memories)
    if named is not None:
        return [h for h in memories if speaker(h) == named
                and names_subject(body(h), Subject(frozenset(), subject.relations,
                                                   subject.mine))]
    return [h for h in memories if names_subject(subject_text(h), subject)]


# Secrets and identifiers: an answer to "What is the backup server's password?" or "my
# mother's phone number" must come from a memory that names that kind of thing (and, for a
# number, holds one), or it is some other number or word the memories happen to hold.
IDENTIFIERS: dict[str, tuple[frozenset[str], re.Pattern | None]] = {
    "password": (frozenset({"password", "passphrase", "passcode", "passwort"}), None),
    "passcode": (frozenset({"passcode", "password", "code", "pin"}), None),
    "pin": (frozenset({"pin", "code", "passcode"}), re.compile(r"\d{3,}")),
    "phone number": (frozenset({"phone", "number", "mobile", "cell", "call", "ring"}),
                     re.compile(r"\d[\d ()+.-]{4,}\d")),
    "number": (frozenset({"number", "no", "phone", "mobile"}), None),
    "email": (frozenset({"email", "e-mail", "mail"}), re.compile(r"\S@\S")),
    "email address": (frozenset({"email", "e-mail", "mail"}), re.compile(r"\S@\S")),
    "address": (frozenset({"address", "street", "road", "avenue", "lane", "live", "lives",
                           "flat", "apartment"}), None),
}
_ASKED_THING = re.compile(
    r"^\s*(?:what|which)(?:'s|\s+(?:is|are|was|were))\b.*?\b(?P<thing>phone number|email "
    r"address|password|passcode|pin|email|number|address)\s*(?:\?|$|\b(?:for|of|to|at|on)\b)",
    re.I)


def asked_identifier(question: str) -> str | None:
    """The secret or identifier the question asks for ("password", "phone number"), or
    None."""
    m = _ASKED_THING.search(question)
    if m is None or (m["thing"].lower() == "number"
                     and not question.rstrip(" ?").lower().endswith("number")):
        return None  # "the highest number of points" asks for a count, not a number
    return m["thing"].lower()


def names_identifier(text: str, thing: str) -> bool:
    """The text names that kind of thing (and holds a number or address where one is
    asked for)."""
    words, pattern = IDENTIFIERS[thing]
    held = set(_WORD.findall(text.lower())) | set(re.findall(r"[a-z]+-[a-z]+", text.lower()))
    return bool(words & held) and (pattern is None or bool(pattern.search(text)))


_WHERE = re.compile(r"^\s*where\b", re.I)
_NAME_ASKED = re.compile(r"^\s*(?:what|which)\b.*\b(?:name|names|called)\b", re.I)


def proper_names(text: str) -> list[str]:
    """The capitalised words of `text` that can be names (not "A", "The", "My", ...)."""
    return [w for w in _NAME.findall(text) if w.removesuffix("'s") not in _QUESTION_NAMES]
_SENTENCE = re.compile(r"(?<=[.!?])\s+")


def _placed(question: str, wanted: set[str], about: Sequence[Hit]) -> Hit | None:
    """A place is where the thing asked about is said to be: one sentence must hold half
    of the question's words (when it has two or more) and half of the answer's. "Near the
    old bridge" from a sentence about lunch does not place the spare key to the cabin, nor
    does "the kitchen" from one about the garden shed key. On LoCoMo's held-out
    generations (497 questions) this withholds one more answer to categories 1-4 (F1
    0.459 -> 0.456) and one more of category 5."""
    asked = content_words(question) - {n.lower() for n in subject_of(question).names}
    for hit in about:
        for sentence in _SENTENCE.split(body(hit)):
            words = content_words(sentence)
            # One asked word may be said otherwise ("Where do I work?": "a new job at the
            # Riverside clinic"); two or more tell one thing from another.
            if (len(asked) < 2 or 2 * len(asked & words) >= len(asked)) \
                    and 2 * len(wanted & words) >= len(wanted):
                return hit
    return None


_CITATION = re.compile(r"\[(\d{1,2}(?:\s*,\s*\d{1,2})*)\]")  # "[1]", "[1, 3]"


def cited(answer: str, memories: Sequence[Hit]) -> list[Hit]:
    """The memories a chat model's answer cites by number (1-based), in citing order."""
    numbers = [int(n) for group in _CITATION.findall(answer) for n in group.split(",")]
    return [memories[n - 1] for n in dict.fromkeys(numbers) if 1 <= n <= len(memories)]


def supporting(question: str, answer: str, memories: Sequence[Hit]) -> Hit | None:
    """The best memory behind `answer`, or None when the memories do not support it."""
    if _NAME_ASKED.search(question) and not proper_names(answer):
        return None  # "What is our dog called?" is not answered by "A greyhound"
    about = about_subject(question, memories)
    if (thing := asked_identifier(question)) is not None:
        about = [h for h in about if names_identifier(body(h), thing)]
    if not about:
        return None
    if _YES_NO.match(answer) or _JUDGEMENT.search(question):
        return about[0]
    wanted = content_words(answer) - content_words(question)
    if not wanted:  # only the question's own words: no answer at all
        return None
    if _WHERE.match(question):
        return _placed(question, wanted, about)
    for hit in about:  # the first memory holding any of them is the one to point to
        if wanted & content_words(body(hit)):
            break
    have = set().union(*(content_words(body(h)) for h in about))
    return hit if 2 * len(wanted & have) >= len(wanted) else None
