"""Statements of a fact about someone that a later statement can replace, and questions
that ask for one ("Where does my sister live now?").

No large model is needed: a few patterns name who the fact is about ("I", "my sister",
"Lucia", "she"), the attribute (where they live, work, their job, ...) and its value.
Two statements about the same person and attribute with different values conflict; the
newer is current, the older is history. The patterns are deliberately narrow: a false
conflict would hide a true memory, a missed one only keeps both.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from assistant.memory.people import NAME, RELATION
from assistant.memory.timeparse import find_time_refs

_VALUE = r"(?P<value>[^.,;!?()]+?)"
_END = r"\s*(?i:now|these days|again|at the moment|for now)?\s*(?:[.,;!?)]|$| and | but | since " \
       r"| because | with | where | which | who | last | in \d| this | next )"
_NOW = r"(?i:(?:now |currently |just |recently |finally |still |actually |also )*)"
# Who: "I", "my sister", "Lucia", "she"; whose: "my", "my sister's", "Lucia's", "her".
WHO = rf"(?P<who>\b(?i:i|she|he)\b|(?i:\bmy {RELATION})|{NAME})"
_POSS = "(?:'s|’s)"
WHOSE = rf"(?P<who>(?i:\bmy {RELATION}){_POSS}|{NAME}{_POSS}|(?i:\bmy\b|\bher\b|\bhis\b))"
_JOB_WORDS = {"nurse", "chef", "cook", "pilot", "judge", "vet", "doctor", "dentist", "surgeon",
              "engineer", "teacher", "lawyer", "architect", "accountant", "pharmacist",
              "scientist", "journalist", "designer", "developer", "programmer", "barista",
              "librarian", "plumber", "electrician", "carpenter", "firefighter", "paramedic",
              "midwife", "therapist", "student", "consultant", "analyst", "manager",
              "director", "writer", "editor", "photographer", "musician", "artist", "actor",
              "actress", "translator", "mechanic", "baker", "butcher", "farmer", "officer",
              "detective", "professor", "lecturer", "researcher", "waiter", "waitress",
              "cashier", "receptionist", "secretary", "clerk", "banker", "broker", "agent",
              "economist", "physicist", "chemist", "biologist", "psychologist", "surveyor",
              "technician", "tutor", "coach", "trainer", "instructor", "caretaker",
              "gardener", "driver", "florist", "tailor", "jeweller", "optician",
              "physiotherapist", "radiologist", "veterinarian", "dietitian", "nutritionist",
              "social worker", "entrepreneur", "freelancer", "founder", "ceo", "cto",
              "intern", "apprentice", "paralegal", "sommelier", "bartender", "curator",
              "archivist", "illustrator", "animator", "sailor", "soldier", "ranger",
              "diplomat", "politician", "pastor", "priest", "rabbi", "imam", "potter"}
_NOT_JOBS = {"vegetarian", "vegan", "beginner", "member", "fan", "lover", "runner", "reader",
             "believer", "newcomer", "regular", "customer", "user", "owner", "parent",
             "mother", "father", "sister", "brother", "friend", "introvert", "extrovert",
             "early riser", "night owl", "foodie", "smoker"}
_JOB_SUFFIX = ("er", "or", "ist", "ian", "ant", "ent", "eer", "ect", "man", "woman", "ive")


def _job_like(words: str) -> bool:
    words = words.lower().strip()
    last = words.split()[-1] if words else ""
    return bool(last) and words not in _NOT_JOBS and last not in _NOT_JOBS and (
        last in _JOB_WORDS or words in _JOB_WORDS or last.endswith(_JOB_SUFFIX))


# (attribute, pattern); each finds who and the value. "{job}" patterns also give where.
_PATTERNS: list[tuple[str, str]] = [
    ("residence", rf"{WHO}(?i:'ve| has| have|’ve)? {_NOW}(?i:moved|relocated|moving)"
                  rf" (?i:back )?(?i:to) {_VALUE}{_END}"),
    ("residence", rf"{WHO}(?i:'s| is| am|'m|’s|’m)? {_NOW}(?i:lives?|living|resides?|residing|"
                  rf"based|settled)(?i: in) {_VALUE}{_END}"),
    ("employer", rf"{WHO} {_NOW}(?i:works?|working|is working|has been working) (?i:at|for) "
                 rf"{_VALUE}{_END}"),
    ("employer", rf"{WHO}(?i:'ve| has| have|’ve)? {_NOW}(?i:joined|started (?:a (?:new )?job |"
                 rf"working )?at|got a (?:new )?job (?:at|with)) {_VALUE}{_END}"),
    ("job", rf"{WHO} {_NOW}(?i:works?|working|is working) as (?:an? )?{_VALUE}{_END}"),
    ("job", rf"{WHO}(?i:'s| is| am|'m|’s|’m) {_NOW}(?i:an?) (?P<value>[a-z][a-z-]*(?: [a-z][a-z-]*)"
            rf"{{0,2}})(?: (?i:at|for|with) (?P<at>[^.,;!?()]+?))?{_END}"),
    ("age", rf"{WHO}(?i:'s| is| am|'m|’s|’m) (?P<value>\d{{1,3}})(?: years old)?\b"),
    ("name", rf"(?i:\bmy name is|\bcall me|\bi'm called) (?P<who>){NAME}"),
    ("favourite {thing}", rf"{WHOSE} (?i:new )?(?i:favou?rite) (?P<thing>[a-z]+(?: [a-z]+)?)"
                          rf" (?i:is|was) {_VALUE}{_END}"),
    ("{thing}", rf"{WHOSE} (?P<thing>(?i:phone number|mobile number|number|email(?: address)?|"
                rf"address|birthday)) (?i:is) {_VALUE}{_END}"),
]
_COMPILED = [(attribute, re.compile(p)) for attribute, p in _PATTERNS]
_DROP = re.compile(r"^(?:my)\s+", re.IGNORECASE)
_ARTICLE = re.compile(r"^(?:the|a|an)\s+", re.IGNORECASE)
_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z\"'“])")


def sentences(text: str) -> list[str]:
    """The sentences of a message ("Dr. Patel" does not end one)."""
    out: list[str] = []
    for piece in _SENTENCE.split(text):
        if out and re.search(r"\b(?:Dr|Mr|Mrs|Ms|Prof|St|vs|e\.g|i\.e)\.$", out[-1]):
            out[-1] += " " + piece
        else:
            out.append(piece)
    return [s.strip() for s in out if s.strip()]


@dataclass(frozen=True)
class Statement:
    """What a sentence says: of `who` ("I", "my sister", "Lucia", "she"), the attribute
    ("residence") has the value ("Porto", as said)."""

    subject: str
    value: str
    who: str = "I"

    @property
    def key(self) -> str:
        return self.value.lower()


def _value(raw: str) -> str:
    value = _DROP.sub("", " ".join(raw.split()))
    refs = find_time_refs(value, date.today())  # "Porto last month" -> "Porto"
    return (value[:refs[0].span[0]] if refs else value).strip(" '\"’")


# "my brother Tom works", "Marta, my cello teacher, lives": the name is who (the people
# module records the relation).
_APPOSITIVES = [re.compile(p) for p in (rf"(?i:\bmy {RELATION}),? {NAME}\b(?!,? my)",
                                        rf"\b{NAME}, (?i:my {RELATION}),",
                                        rf"\b{NAME} \((?i:my {RELATION})\)")]


def _plain(sentence: str) -> str:
    for pattern in _APPOSITIVES:
        sentence = pattern.sub(lambda m: m["name"], sentence)
    return sentence


def statements(text: str) -> list[Statement]:
    """Every fact the text states, at most one per person and attribute (the last)."""
    found: dict[tuple[str, str], Statement] = {}
    for sentence in map(_plain, sentences(text)):
        for attribute, pattern in _COMPILED:
            for m in pattern.finditer(sentence):
                groups = m.groupdict()
                who = " ".join((groups.get("who") or "I").split()).removesuffix("'s") \
                    .removesuffix("’s")
                who = {"my": "I", "her": "she", "his": "he"}.get(who.lower(), who)
                if attribute == "name":
                    value = groups["name"]
                else:
                    value = _value(groups["value"])
                if attribute == "job":  # "a plumber in Leeds": the job is the plumber
                    value = _ARTICLE.sub("", re.split(r" (?:in|at|for|with|from|on) ", value)[0])
                if not value or (attribute == "job" and not _job_like(value)):
                    continue
                subject = attribute.format(thing=(groups.get("thing") or "").lower())
                subject = {"mobile number": "phone number", "number": "phone number",
                           "email address": "email"}.get(subject, subject)
                found[(who.lower(), subject)] = Statement(subject, value, who)
                if attribute == "job" and groups.get("at"):
                    found[(who.lower(), "employer")] = Statement("employer",
                                                                 _value(groups["at"]), who)
    return list(found.values())


def conflicts(new: Statement, old_value: str) -> bool:
    """A different value for the same subject; "Berlin" and "berlin, germany" agree."""
    a, b = _ARTICLE.sub("", new.key), _ARTICLE.sub("", old_value.lower())
    return not (a == b or a.startswith(b + " ") or b.startswith(a + " ")
                or a.split(",")[0] == b.split(",")[0])


# Questions ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Asked:
    """A question for one attribute of one person: `who` as the question says it."""

    who: str
    subject: str
    before: bool = False  # "used to", "before", "previously": the history, not the value


_QWHO = rf"(?P<who>\b(?i:i)\b|(?i:\bmy {RELATION})|{NAME})"
_QWHOSE = rf"(?P<who>(?i:\bmy {RELATION}){_POSS}|{NAME}{_POSS}|(?i:\bmy\b))"
_DO = r"(?i:does|do|did|has|have)"
_QUESTIONS: list[tuple[str, str]] = [
    ("residence", rf"(?i:where) {_DO} {_QWHO} (?i:(?:currently |now )?(?:live|stay|reside|move"
                  rf"|relocate|used to live))"),
    ("residence", rf"(?i:where) (?i:is|was|am) {_QWHO} (?i:living|based|staying|settled)"),
    ("residence", rf"(?i:what|which) (?i:city|town|country|place) {_DO} {_QWHO} (?i:(?:currently "
                  rf"|now )?(?:live|move|reside|used to live))"),
    ("residence", rf"(?i:where) {_QWHO} (?i:lived|used to live)"),
    ("employer", rf"(?i:where) {_DO} {_QWHO} (?i:(?:currently |now )?(?:work|used to work))"),
    ("employer", rf"(?i:what|which) (?i:company|firm|organi[sz]ation|employer|place|hospital|"
                 rf"school) {_DO} {_QWHO} (?i:(?:currently |now )?work (?:for|at))"),
    ("employer", rf"(?i:who) {_DO} {_QWHO} (?i:(?:currently |now )?work for)"),
    ("employer", rf"(?i:where) (?i:is|was|am) {_QWHO} (?i:working|employed)"),
    ("job", rf"(?i:what) {_DO} {_QWHO} (?i:do)(?i: for (?:a living|work|a job))?\s*"
            rf"(?:now)?\s*\??$"),
    ("job", rf"(?i:what) {_DO} {_QWHO} (?i:work as)"),
    ("job", rf"(?i:what)(?i:'s| is| was) {_QWHOSE} (?i:(?:current )?(?:job|profession|"
            rf"occupation|line of work|job title))"),
    ("name", r"(?i:what)(?i:'s| is) (?P<who>(?i:my)) (?i:name)\b"),
    ("age", rf"(?i:how old) (?i:is|am|was) {_QWHO}"),
    ("{thing}", rf"(?i:what)(?i:'s| is| was) {_QWHOSE} (?P<thing>(?i:phone number|mobile number"
                rf"|number|email(?: address)?|address|birthday))"),
    ("{thing}", rf"(?i:when)(?i:'s| is) {_QWHOSE} (?P<thing>(?i:birthday))"),
    ("favourite {thing}", rf"(?i:what)(?i:'s| is| was) {_QWHOSE} (?i:favou?rite) "
                          rf"(?P<thing>[a-z]+(?: [a-z]+)?)\s*\??$"),
]
_QCOMPILED = [(attribute, re.compile(p)) for attribute, p in _QUESTIONS]
_BEFORE = re.compile(r"\b(?:before|used to|previously|formerly|originally|earlier|prior|"
                     r"in the past)\b", re.I)


def asked(question: str) -> Asked | None:
    """The person and attribute a question asks for, or None."""
    for attribute, pattern in _QCOMPILED:
        if m := pattern.search(question):
            who = " ".join(m["who"].split()).removesuffix("'s").removesuffix("’s")
            who = "I" if who.lower() in ("i", "my") else who
            thing = (m.groupdict().get("thing") or "").lower()
            subject = attribute.format(thing=thing)
            subject = {"mobile number": "phone number", "number": "phone number",
                       "email address": "email"}.get(subject, subject)
            return Asked(who, subject, bool(_BEFORE.search(question)))
    return None
