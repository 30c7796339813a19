"""Grounded or silent: an answer is shown only when one of the memories it was given
supports it, otherwise the assistant says it does not know (and what is closest).

A memory supports an answer when it holds the answer's own words (those not already in
the question) and names what the question is about: the people it names and the
relations it asks after ("my brother", "Ana's husband"). A 135M model asked "What is my
brother's name?" with only a memory about a sister answers with the sister's name; the
answer's words are in that memory, but "brother" is not, so nothing supports it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from memory_store.records import Hit

_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")
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
    "son": set(), "daughter": set(), "kid": {"kids", "child", "children", "son", "daughter"},
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
            "siblings": "sibling", "pets": "pet", "dogs": "dog", "cats": "cat"}


def stem(word: str) -> str:
    """A crude stem, enough to match "painted" with "paint" and "museums" with "museum"."""
    word = word.lower().removesuffix("'s")
    for suffix in ("ing", "ed", "es", "s"):
        if len(word) > len(suffix) + 3 and word.endswith(suffix):
            return word[: -len(suffix)]
    return word


def content_words(text: str) -> set[str]:
    return {_NUMBERS.get(w, stem(w)) for w in _WORD.findall(text.lower())
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


def supporting(question: str, answer: str, memories: Sequence[Hit],
               texts: Sequence[str] | None = None) -> Hit | None:
    """The best memory that names the question's subject, when the memories that do
    (together: a list answer may gather items from several) hold at least half of the
    answer's own words; None when nothing supports the answer."""
    subject = subject_of(question)
    texts = list(texts) if texts is not None else [h.text for h in memories]
    about = [(h, t) for h, t in zip(memories, texts, strict=True) if names_subject(t, subject)]
    if not about:
        return None
    if _YES_NO.match(answer):  # a judgement about the subject, not a fact to copy
        return about[0][0]
    wanted = content_words(answer) - content_words(question)
    if not wanted:  # only the question's own words: no answer at all
        return None
    have = set().union(*(content_words(t) for _, t in about))
    return about[0][0] if 2 * len(wanted & have) >= len(wanted) else None
