"""Statements of a fact about someone that a later statement can replace, and questions
that ask for one ("Where does my sister live now?").

No large model is needed: a few patterns name who the fact is about ("I", "my sister",
"Lucia", "she"), the attribute (where they live, work, their job, ...) and its value.
Two statements about the same person and attribute with different values conflict; the
newer is current, the older is history. The patterns are deliberately narrow: a false
conflict would hide a true memory, a missed one only keeps both.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from datetime import date

from assistant.memory.people import NAME, NOT_NAMES, RELATION
from assistant.memory.timeparse import find_time_refs

_VALUE = r"(?P<value>[^.,;!?()]+?)"
_PLACE = r"(?P<value>[A-Z][A-Za-z'’-]*(?: [A-Z][A-Za-z'’-]*)*)"
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
    ("employer", rf"{WHO}(?i:'m|’m| am| is|'s|’s)? {_NOW}(?i:works?|working|is working|has been "
                 rf"working) (?i:at|for) "
                 rf"{_VALUE}{_END}"),
    ("employer", rf"{WHO}(?i:'ve| has| have|’ve)? {_NOW}(?i:joined|started (?:a (?:new )?job |"
                 rf"working )?at|got a (?:new )?job (?:at|with)|signed (?:on )?with) "
                 rf"{_VALUE}{_END}"),
    ("employer", rf"{WHO}(?i:'m| am|’m| is|'s|’s) {_NOW}(?i:employed (?:by|at)|on the payroll "
                 rf"(?:of|at)|hired by) {_VALUE}{_END}"),
    ("employer", rf"(?P<who>(?i:\bmy\b)) (?i:first (?:day|week) (?:at|with)|new (?:job|role|"
                 rf"position) (?:is )?(?:at|with)|employer is) {_VALUE}{_END}"),
    ("job", rf"{WHO} {_NOW}(?i:works?|working|is working) as (?:an? )?{_VALUE}{_END}"),
    ("job", rf"{WHO}(?i:'ve| has| have|’ve)? {_NOW}(?i:started|began|got|took|landed) "
            rf"(?i:a (?:new )?(?:job|position|role|career)) (?i:as) (?:an? )?{_VALUE}{_END}"),
    ("job", rf"(?P<who>\b(?i:his|her|my)\b) (?i:(?:new )?(?:work|job|career|day job)) (?i:as) "
            rf"(?:an? )?{_VALUE}{_END}"),
    ("residence", rf"(?:{NAME}{_POSS}|(?P<who2>\b(?i:my|his|her)\b)) (?i:(?:new )?(?:place|"
                  rf"flat|house|home|apartment)) (?i:in) {_VALUE}{_END}"),
    ("degree", rf"{WHO}(?:'ve| have| has)? (?i:did|got|earned|completed|finished|have|has) "
               rf"(?i:an? )?(?i:degree|bachelor'?s|master'?s|phd|diploma|doctorate)(?: degree)? "
               rf"(?i:in) {_VALUE}{_END}"),
    ("degree", rf"{WHO} (?i:studied|majored in|read) {_VALUE}(?: (?i:at|in) "
               rf"(?:university|uni|college)\b)?{_END}"),
    ("hobby", rf"{WHO}(?:'ve| have| has|’ve)? {_NOW}(?i:taken up|took up|taking up|started "
              rf"learning|began learning|am learning|'m learning|started playing) (?P<value>"
              rf"(?:the )?[a-z][a-z ]{{1,30}}?){_END}"),
    ("job", rf"{WHO}(?i:'s| is| am|'m|’s|’m) {_NOW}(?i:an?) (?P<value>[a-z][a-z-]*(?: [a-z][a-z-]*)"
            rf"{{0,2}})(?: (?i:at|for|with) (?P<at>[^.,;!?()]+?))?{_END}"),
    ("job", rf"{WHO} (?i:trained|qualified|retrained) as (?:an? )?{_VALUE}{_END}"),
    ("job", rf"{WHO} (?i:(?:changed careers|retrained|switched careers) and )?(?i:is now|became|"
            rf"has become|now works as) (?:an? )?{_VALUE}{_END}"),
    ("residence", rf"^(?:[A-Za-z]+[,:] )?{_VALUE} (?i:is where) {WHO} (?i:lives?|live now|"
                  rf"live these days)\b"),
    ("residence", rf"(?i:visiting|visited|staying with) (?i:my {RELATION} )?{NAME} (?i:in) "
                  rf"{_PLACE}[^.]*?(?i:(?:she|he|they)(?:'s| has| have) (?:lived|been living)"
                  rf" there)"),
    ("residence", rf"{WHO} (?i:(?:now |still |also )?(?:has|have|rents?|owns?|bought|found) "
                  rf"(?:an? |her |his |my |our )?(?:new |small |little |tiny |nice )?(?:flat|house|"
                  rf"apartment|place|home|studio|room)) (?i:in) {_VALUE}{_END}"),
    ("residence", rf"{WHO}(?i:'ve| has| have|’ve)? (?i:(?:packed up and |finally |just )?(?:left "
                  rf"for|relocated to|emigrated to|settled in|moved over to|moved back to))"
                  rf" {_VALUE}{_END}"),
    ("residence", rf"{WHOSE} (?i:(?:new )?(?:address|home) is(?: now)? in) {_VALUE}{_END}"),
    ("residence", rf"(?i:home(?: for (?P<who>me))? is(?: now)?(?: in)?) {_VALUE}{_END}"),
    ("job", rf"{WHO}(?i:'s| has|’s) (?i:been) (?:an? )?(?P<value>[a-z][a-z-]*(?: [a-z][a-z-]*)"
            rf"{{0,2}}) (?i:for|since)\b"),
    ("job", rf"{WHOSE} (?i:job|profession|occupation|job title) (?i:is) (?:an? )?{_VALUE}{_END}"),
    ("birthday", rf"{WHO}(?i:'s| is|’s)? (?i:(?:has|have) (?:her|his|my|their) birthday|"
                 rf"birthday is|was born) (?i:on )?(?P<value>\d{{1,2}}(?:st|nd|rd|th)? "
                 rf"[A-Z][a-z]+|[A-Z][a-z]+ \d{{1,2}}(?:st|nd|rd|th)?)"),
    ("birthday", r"(?i:it's|it is) (?P<who>(?i:my)) (?i:birthday) (?i:on) (?P<value>\d{1,2}"
                 r"(?:st|nd|rd|th)? [A-Z][a-z]+|[A-Z][a-z]+ \d{1,2}(?:st|nd|rd|th)?)"),
    ("birthday", rf"^(?P<value>\d{{1,2}}(?:st|nd|rd|th)? [A-Z][a-z]+|[A-Z][a-z]+ \d{{1,2}}"
                 rf"(?:st|nd|rd|th)?) (?i:is) {WHOSE} (?i:birthday)"),
    ("hobby", rf"(?:(?P<who>(?i:my)) )?(?i:new (?:hobby|passion|thing)(?: is)?)[:,]? "
              rf"{_VALUE}{_END}"),
    ("hobby", rf"{WHO}(?:'ve| have|’ve)? {_NOW}(?i:started|began|am|'m|’m) (?i:studying|taking|"
              rf"practising|practicing|learning to play|doing) (?P<value>(?:the )?[A-Za-z][a-z]+"
              rf"(?: [a-z]+)?){_END}"),
    ("allergy", rf"{WHO}(?i:'m| am|’m| is|'s) (?i:(?:very |really |badly )?allergic to) "
                rf"{_VALUE}{_END}"),
    ("allergy", rf"(?P<who>\b(?i:i)\b) (?i:can't|cannot|can’t) (?i:have|eat|take) {_VALUE}, "
                rf"(?i:i'm|i am|i’m) (?i:allergic)"),
    ("car", rf"{WHO} (?i:drives?|drive) (?i:an? |the )?(?i:(?:used |new |old |second-hand )?)"
            rf"{_VALUE}{_END}"),
    ("car", rf"(?P<who>\b(?i:i)\b) (?i:(?:finally |just )?(?:bought|got)) (?i:a|my) (?i:(?:new |"
            rf"used )?car), (?i:an? |the )?(?i:(?:used |new |old )?){_VALUE}{_END}"),
    ("origin", rf"{WHO}(?i:'m|’m| am| is|'s|’s)? (?i:grew up|was raised|was born and raised|"
               rf"originally from|originally come from|come from|comes from|hail from|hails "
               rf"from|from originally) (?:in )?{_VALUE}{_END}"),
    ("degree", rf"{WHOSE} (?i:degree|major) (?i:is|was) (?i:in) {_VALUE}{_END}"),
    ("hobby", rf"{WHO}(?:'ve| have)? (?i:signed up for|enrolled in|booked|joined) (?i:an? |some )?"
              rf"(?P<value>[A-Za-z]+(?: [a-z]+)?) (?i:lessons|classes|course|club|team)\b"),
    ("hobby", r"^(?i:playing) (?P<value>[a-z]+(?: [a-z]+)?) (?i:(?:every|twice|once|three|a few)"
              r"[^.]*?)?(?i:keeps me|is|helps)"),
    ("age", rf"{WHO}(?i:'s| is| am|'m|’s|’m) (?P<value>\d{{1,3}})(?: years old)?\b"),
    ("name", rf"(?i:\bmy name is|\bcall me|\bi'm called) (?P<who>){NAME}"),
    ("name", rf"(?i:\bi'm|\bi am|\bi’m|\bthis is) (?P<who>){NAME}(?=\s*(?:[,.!]|$| here\b| by "
             rf"the way| and\b))"),
    ("favourite {thing}", r"^(?:(?i:nothing beats|i love|i adore|i could eat) )?(?P<value>"
                          r"[A-Za-z][^.,;!?]*?),? (?i:it's|it is|that's|which is|is) (?i:my "
                          r"(?:all-time )?favou?rite) (?P<thing>[a-z]+)"),
    ("residence", rf"(?i:greetings|hello|hi|love) (?i:from) {_VALUE}[:!,] (?i:the move|we've "
                  rf"moved|i've moved|we moved|i moved|moving)"),
    ("favourite {thing}", rf"{WHOSE} (?i:new )?(?i:favou?rite) (?P<thing>[a-z]+(?: [a-z]+)?)"
                          rf" (?i:is|was) {_VALUE}{_END}"),
    ("{thing}", rf"{WHOSE} (?P<thing>(?i:phone number|mobile number|number|email(?: address)?|"
                rf"address|birthday)) (?i:is) {_VALUE}{_END}"),
]


@functools.cache
def _compiled() -> list[tuple[str, re.Pattern]]:
    """Compiled on first use: a search never reads statements, and compiling them all
    took a quarter of a second of every command's start (`assistant bench cli`)."""
    return [(attribute, re.compile(p)) for attribute, p in _PATTERNS]


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


# What a pastime is, so "Which instrument ...?" finds the piano and not the tennis.
INSTRUMENTS = set("""piano cello violin viola guitar bass flute clarinet oboe bassoon saxophone
trumpet trombone tuba horn harp drums ukulele banjo mandolin accordion harmonica organ
keyboard recorder sitar lute harpsichord double-bass bagpipes xylophone""".split())
SPORTS = set("""tennis football soccer basketball baseball volleyball handball rugby cricket golf
hockey squash badminton swimming running cycling climbing bouldering boxing judo karate
fencing rowing sailing surfing skiing snowboarding skating yoga pilates netball softball
lacrosse polo archery triathlon table-tennis ping-pong padel curling darts bowling
kickboxing taekwondo wrestling""".split()) | {"table tennis", "ice hockey", "water polo",
                                            "rock climbing", "martial arts"}
LANGUAGES = set("""english spanish french german italian portuguese dutch swedish norwegian
danish finnish polish czech hungarian greek turkish russian ukrainian arabic hebrew hindi
urdu bengali japanese korean chinese mandarin cantonese thai vietnamese indonesian malay
swahili persian farsi romanian bulgarian croatian serbian icelandic irish welsh catalan
basque latin esperanto tagalog""".split())


def _kind_of_hobby(value: str) -> str:
    v = value.lower()
    head = v.split()[0] if v else ""
    if v in INSTRUMENTS or head in INSTRUMENTS:
        return "instrument"
    if v in LANGUAGES or head in LANGUAGES:
        return "language"
    if v in SPORTS or head in SPORTS:
        return "sport"
    return "hobby"


# Subjects that hold many values at once: a new one adds, it replaces nothing.
MANY = {"instrument", "language", "sport", "hobby", "allergy", "degree"}

_SAME = {"mobile number": "phone number", "number": "phone number", "cell number":
         "phone number", "email address": "email", "favourite dish": "favourite food",
         "favourite meal": "favourite food", "favourite color": "favourite colour",
         "favourite movie": "favourite film", "favourite show": "favourite tv show",
         "favourite band": "favourite music", "favourite singer": "favourite music"}


def same_subject(subject: str) -> str:
    """One name for what is asked and said in other words ("favourite dish" is "food")."""
    return _SAME.get(subject, subject)


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


# "Jonas lives in Ghent and works as a nurse": a second predicate of the same subject, read
# as its own clause with that subject ("Jonas works as a nurse").
_AND_PREDICATE = re.compile(
    r"(?:,\s*(?:and\s+)?|\s+and\s+)(?=(?:now |also |still |recently |just )*(?:lives?|living|"
    r"works?|working|moved|relocated|joined|drives?|studied|majored|trained|qualified|"
    r"took up|has taken up|became|is now|is an?|has been an?)\b)", re.IGNORECASE)


def statements(text: str) -> list[Statement]:
    """Every fact the text states, at most one per person and attribute (the last)."""
    found: dict[tuple[str, str], Statement] = {}
    for sentence in map(_plain, sentences(text)):
        said = _read(sentence, found)
        if not said:  # nobody to give a second predicate to
            continue
        whole = {(st.who.lower(), st.subject) for st in said}
        for clause in _AND_PREDICATE.split(sentence)[1:]:
            more: dict[tuple[str, str], Statement] = {}
            _read(f"{said[0].who} {clause}", more)
            # What the whole sentence said stands ("changed careers and is now a baker").
            found.update((key, st) for key, st in more.items() if key not in whole)
    return list(found.values())


def _read(sentence: str, found: dict[tuple[str, str], Statement]) -> list[Statement]:
    """What one sentence (or clause) states, added to `found`; in the order found."""
    said: list[Statement] = []
    for attribute, pattern in _compiled():
        for m in pattern.finditer(sentence):
            groups = m.groupdict()
            raw = groups["who"] if "who" in groups else (groups.get("who2")
                                                         or groups.get("name"))
            who = " ".join((raw or "I").split()).removesuffix("'s").removesuffix("’s")
            who = {"my": "I", "me": "I", "her": "she", "his": "he"}.get(who.lower(), who)
            if attribute == "name":
                value = groups["name"]
                if value.split()[0] in NOT_NAMES:
                    continue
            elif attribute in ("birthday", "{thing}") and "birthday" in (
                    groups.get("thing") or attribute):
                value = " ".join(groups["value"].split()).removeprefix("on ").strip()
                if not re.search(r"\d", value):
                    continue
            else:
                value = _value(groups["value"])
            if attribute == "job":  # "a plumber in Leeds": the job is the plumber
                value = _ARTICLE.sub("", re.split(r" (?:in|at|for|with|from|on) ", value)[0])
            if not value or (attribute == "job" and not _job_like(value)) or (
                    groups.get("thing") or "").lower() == "address" and value.startswith("in "):
                continue
            subject = attribute.format(thing=(groups.get("thing") or "").lower())
            subject = same_subject(subject)
            if subject == "hobby":
                value = _ARTICLE.sub("", value)
                subject = _kind_of_hobby(value)
            found[(who.lower(), subject)] = Statement(subject, value, who)
            said.append(found[(who.lower(), subject)])
            if attribute == "job" and groups.get("at"):
                found[(who.lower(), "employer")] = Statement("employer",
                                                             _value(groups["at"]), who)
                said.append(found[(who.lower(), "employer")])
    return said


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
    ("residence", rf"(?i:what|which) (?i:city|town|country|place) (?i:is|am|was) {_QWHO} "
                  rf"(?i:in|living in|based in)"),
    ("employer", rf"(?i:where) {_DO} {_QWHO} (?i:(?:currently |now )?(?:work|used to work))"),
    ("employer", rf"(?i:what|which) (?i:company|firm|organi[sz]ation|employer|place|hospital|"
                 rf"school) {_DO} {_QWHO} (?i:(?:currently |now )?work (?:for|at))"),
    ("employer", rf"(?i:who) {_DO} {_QWHO} (?i:(?:currently |now )?work for)"),
    ("employer", rf"(?i:where) (?i:is|was|am) {_QWHO} (?i:working|employed)"),
    ("employer", rf"(?i:who)(?i:'s| is| was) {_QWHOSE} (?i:(?:current )?employer)"),
    ("employer", rf"(?i:who) (?i:employs|pays) {_QWHO}"),
    ("job", rf"(?i:what) {_DO} {_QWHO} (?i:do)(?i: for (?:a living|work|a job))?\s*"
            rf"(?:now)?\s*\??$"),
    ("job", rf"(?i:what) {_DO} {_QWHO} (?i:work as)"),
    ("job", rf"(?i:what) (?i:kind of|sort of|type of|line of) (?i:work|job) {_DO} {_QWHO} "
            rf"(?i:do|have)"),
    ("job", rf"(?i:what)(?i:'s| is| was) {_QWHOSE} (?i:(?:current )?(?:job|profession|"
            rf"occupation|line of work|job title))"),
    ("name", r"(?i:what)(?i:'s| is) (?P<who>(?i:my)) (?i:name)\b"),
    ("degree", rf"(?i:what)(?i:'s| is| was) {_QWHOSE} (?i:degree|major)(?i: in)?\b"),
    ("degree", rf"(?i:what) (?i:did|does|do) {_QWHO} (?i:study|major in|read)\b"),
    ("{thing}", rf"(?i:which|what) (?P<thing>(?i:instrument|hobby|sport|language)) (?i:did|have|"
                rf"has|am|is|do|does) {_QWHO} (?i:take up|taken up|learning|start(?:ed)? "
                rf"learning|play|playing|studying|learn|study)\b"),
    ("allergy", rf"(?i:what) (?i:am|is|are) {_QWHO} (?i:allergic to)"),
    ("car", rf"(?i:what|which) (?i:car|vehicle) (?i:do|does|did) {_QWHO} (?i:drive|have|own)"),
    ("origin", rf"(?i:where) (?i:am|is|are|was|did|do|does) {_QWHO} (?i:originally from|from|"
               rf"grow up|raised|born and raised)"),
    ("age", rf"(?i:how old) (?i:is|am|was) {_QWHO}"),
    ("{thing}", rf"(?i:what)(?i:'s| is| was) {_QWHOSE} (?P<thing>(?i:phone number|mobile number"
                rf"|number|email(?: address)?|address|birthday))"),
    ("{thing}", rf"(?i:when)(?i:'s| is) {_QWHOSE} (?P<thing>(?i:birthday))"),
    ("favourite {thing}", rf"(?i:what)(?i:'s| is| was) {_QWHOSE} (?i:favou?rite) "
                          rf"(?P<thing>[a-z]+(?: [a-z]+)?)\s*\??$"),
]


@functools.cache
def _qcompiled() -> list[tuple[str, re.Pattern]]:
    return [(attribute, re.compile(p)) for attribute, p in _QUESTIONS]


_BEFORE = re.compile(r"\b(?:before|used to|previously|formerly|originally|earlier|prior|"
                     r"in the past)\b", re.I)


# "Remind me, who is Marta?", "Quick question: where does my sister live?"
_PREFIX = re.compile(r"^\s*(?:(?:[A-Za-z']+\s+){0,4}[A-Za-z']+\s*[,:;-]\s+|(?:(?:can|could) you "
                     r"(?:tell|remind) me|do you (?:know|remember)|tell me|remind me)\s+)"
                     r"(?=(?:who|what|where|when|which|how|whose|do|does|did|is|are)\b)", re.I)


def core(question: str) -> str:
    """The question without a lead-in ("Remind me, ...", "Do you know where ...")."""
    q = _PREFIX.sub("", question.strip(), count=1)
    return q[:1].upper() + q[1:]


def asked(question: str) -> Asked | None:
    """The person and attribute a question asks for, or None."""
    question = core(question)
    for attribute, pattern in _qcompiled():
        if m := pattern.search(question):
            who = " ".join(m["who"].split()).removesuffix("'s").removesuffix("’s")
            who = "I" if who.lower() in ("i", "my") else who
            thing = (m.groupdict().get("thing") or "").lower()
            subject = attribute.format(thing=thing)
            subject = same_subject(subject)
            return Asked(who, subject, subject != "origin" and bool(_BEFORE.search(question)))
    return None
