"""Statements about the user that a later statement can replace ("I moved to Berlin").

No large model is needed: a few first-person patterns name a subject (where the user
lives, works, ...) and its value. Two statements with the same subject and different
values conflict; the older one is then marked superseded. The patterns are deliberately
narrow: a false conflict would hide a true memory, a missed one only keeps both.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from assistant.memory.timeparse import find_time_refs

_VALUE = r"(?P<value>[^.,;!?]+?)"
_END = r"\s*(?:now|these days|again)?\s*(?:[.,;!?]|$| and | but | since | because )"
_NOW = r"(?:now |currently |just |recently |finally )?"

# (subject, pattern); the first match in a sentence wins.
_PATTERNS: list[tuple[str, str]] = [
    ("residence", rf"\bi(?:'ve| have)? {_NOW}(?:moved|relocated) to {_VALUE}{_END}"),
    ("residence", rf"\bi(?:'m| am)? {_NOW}(?:live|living|reside|residing|based) in {_VALUE}{_END}"),
    ("employer", rf"\bi(?:'ve| have)? {_NOW}(?:work|working) (?:at|for) {_VALUE}{_END}"),
    ("employer", rf"\bi(?:'ve| have)? {_NOW}(?:joined|started (?:a job |working )?at|got a job at)"
                 rf" {_VALUE}{_END}"),
    ("job", rf"\bi(?:'m| am)? {_NOW}work(?:ing)? as (?:an? )?{_VALUE}{_END}"),
    ("age", r"\bi(?:'m| am) (?P<value>\d{1,3}) (?:years old|now)\b"),
    ("name", rf"\bmy name is {_VALUE}{_END}"),
    ("partner",
     rf"\bmy (?:partner|girlfriend|boyfriend|wife|husband)(?:'s name)? is {_VALUE}{_END}"),
    ("favourite {thing}",
     rf"\bmy (?:new )?favou?rite (?P<thing>[a-z]+(?: [a-z]+)?) is {_VALUE}{_END}"),
    ("{thing}",
     rf"\bmy (?P<thing>phone number|email(?: address)?|address|birthday) is {_VALUE}{_END}"),
]
_COMPILED = [(subject, re.compile(p, re.IGNORECASE)) for subject, p in _PATTERNS]
_DROP = re.compile(r"^(?:the|a|an)\s+", re.IGNORECASE)


@dataclass(frozen=True)
class Statement:
    """What a sentence says about the user: subject ("residence") and its value ("berlin")."""

    subject: str
    value: str


def statements(text: str) -> list[Statement]:
    """Every subject the text states a value for, at most one per subject (the last)."""
    found: dict[str, Statement] = {}
    for sentence in re.split(r"(?<=[.!?])\s+", text):
        for subject, pattern in _COMPILED:
            m = pattern.search(sentence)
            if not m:
                continue
            subject = subject.format(thing=(m.groupdict().get("thing") or "").lower())
            value = _DROP.sub("", " ".join(m["value"].split()))
            refs = find_time_refs(value, date.today())  # "Berlin last month" -> "Berlin"
            value = (value[:refs[0].span[0]] if refs else value).lower().rstrip(" '\"")
            if value:
                found[subject] = Statement(subject, value)
            break
    return list(found.values())


def conflicts(new: Statement, old_value: str) -> bool:
    """A different value for the same subject; "Berlin" and "berlin, germany" agree."""
    a, b = new.value, old_value.lower()
    return not (a == b or a.startswith(b + " ") or b.startswith(a + " ")
                or a.split(",")[0] == b.split(",")[0])
