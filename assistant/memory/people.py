"""The people in the user's life, read from what the user says: names, relations, aliases.

No large model: a few patterns over the user's own words ("my sister Lucia", "Marta, my
cello teacher", "I have a dog called Biscuit") introduce a person with a relation; later
"Lucia", "my sister", and "she" (in the same conversation) name the same person. Each
memory the user states records whom it is about (`about` in its meta, written through
memory/text.py); `Life` is rebuilt from those records, so forgetting a memory forgets
what only it said about anyone.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

USER = "User"  # the user, as a person memories are about

# The relation words a person can be introduced by ("my sister", "my cello teacher"); a
# pet is a member of the household too.
FAMILY = {"sister", "brother", "mother", "mom", "mum", "father", "dad", "wife", "husband",
          "partner", "girlfriend", "boyfriend", "fiance", "fiancee", "son", "daughter",
          "cousin", "aunt", "uncle", "niece", "nephew", "grandmother", "grandma",
          "grandfather", "grandpa", "stepmother", "stepfather", "stepsister", "stepbrother",
          "sister-in-law", "brother-in-law", "mother-in-law", "father-in-law"}
OTHERS = {"friend", "colleague", "coworker", "co-worker", "boss", "manager", "neighbour",
          "neighbor", "roommate", "flatmate", "housemate", "landlord", "landlady", "teacher",
          "tutor", "coach", "trainer", "doctor", "dentist", "therapist", "mentor", "student",
          "assistant", "lawyer", "accountant", "vet", "physio", "physiotherapist",
          "babysitter", "nanny", "classmate", "teammate", "bandmate", "ex", "godmother",
          "godfather", "pen pal"}
PETS = {"dog", "cat", "puppy", "kitten", "parrot", "hamster", "rabbit", "bunny", "horse",
        "tortoise", "turtle", "snake", "lizard", "goldfish", "fish", "budgie", "guinea pig",
        "ferret", "pony", "cockatiel"}
_CANONICAL = {"mom": "mother", "mum": "mother", "dad": "father", "grandma": "grandmother",
              "grandpa": "grandfather", "neighbor": "neighbour", "coworker": "colleague",
              "co-worker": "colleague", "fiancee": "fiance", "puppy": "dog", "kitten": "cat",
              "bunny": "rabbit", "flatmate": "roommate", "housemate": "roommate"}
_GENDER = {"she": {"sister", "mother", "wife", "girlfriend", "daughter", "aunt", "niece",
                   "grandmother", "fiancee", "stepmother", "stepsister", "landlady"},
           "he": {"brother", "father", "husband", "boyfriend", "son", "uncle", "nephew",
                  "grandfather", "fiance", "stepfather", "stepbrother"}}
_KIND = r"(?:best |close |old |older |younger |little |big |baby |twin |new |late |ex-)?"
_WORDS = sorted(FAMILY | OTHERS | PETS, key=len, reverse=True)
# "my cello teacher", "my best friend", "my sister": the relation is the last word(s).
RELATION = (rf"{_KIND}(?P<mod>[a-z]+ )?(?P<rel>{'|'.join(map(re.escape, _WORDS))})")
NAME = (r"(?P<name>(?:Dr|Mr|Mrs|Ms|Prof)\.? [A-Z][a-z'’-]+|[A-Z][a-z][a-z'’-]*"
        r"(?: (?!(?:I|And|But|The|In|On|At)\b)[A-Z][a-z][a-z'’-]*)?)")
OWNER = NAME.replace("(?P<name>", "(?P<owner>")
NOT_NAMES = {"I", "The", "A", "An", "My", "And", "But", "So", "He", "She", "They", "We",
              "It", "This", "That", "There", "Here", "Yes", "No", "Ok", "Okay", "Oh", "Hi",
              "Hey", "Also", "Actually", "Anyway", "Well", "Then", "Now", "Today",
              "Yesterday", "Tomorrow", "Last", "Next", "Monday", "Tuesday", "Wednesday",
              "Thursday", "Friday", "Saturday", "Sunday", "January", "February", "March",
              "April", "May", "June", "July", "August", "September", "October", "November",
              "December", "Christmas", "Easter", "English", "Spanish", "French", "German",
              "Portuguese", "Italian", "Dr", "Mr", "Mrs", "Ms", "Prof", "User", "Assistant",
              "Is", "Was", "Has", "Who", "What", "Where", "When", "Why", "How", "Which",
              "Thanks", "Thank", "Please", "Guess", "Sorry", "Just", "By", "For", "In",
              "On", "At", "To", "From", "With", "After", "Before", "If", "Our", "Your", "Big",
             "New", "Good", "Greetings", "Honestly", "Ugh", "Btw", "Fyi", "FYI", "Meet",
             "Work", "Playing", "Turns", "Back", "Sadly", "Luckily", "Finally"}
_INTRODUCED = [re.compile(p) for p in (
    # "my sister Lucia", "my cello teacher, Marta,", "my dog called Biscuit"
    rf"(?i:\bmy {RELATION})(?:,| (?i:called|named|whose name is))? {NAME}",
    # "Marta, my cello teacher", "Marta is my cello teacher", "Lucia (my sister)"
    rf"\b{NAME}(?:, | \(| (?i:is|was|is now|has been) )(?i:my {RELATION})",
    # "my sister's name is Lucia", "my dog is called Biscuit"
    rf"(?i:\bmy {RELATION}(?:'s|’s) name is) {NAME}",
    rf"(?i:\bmy {RELATION} is (?:called|named)) {NAME}",
    # "Tiago's rabbit is named Mango": Tiago's; "Aylin adopted a guinea pig called Bagel"
    rf"\b{OWNER}(?:'s|’s) (?i:{RELATION}) (?i:is (?:called|named)|is|'s called) {NAME}",
    rf"\b{OWNER} (?i:has|had|got|adopted|bought|rescued|has got|just got) (?i:an? (?:new )?"
    rf"{RELATION} (?:called|named)) {NAME}",
    # "I have a dog called Biscuit", "New family member: a dog called Bramble"
    rf"(?i:\ban? (?:new )?{RELATION},? (?:called|named)) {NAME}",
    # "picked up Peanut, a parrot from the shelter", "Miso, our new kitten,"
    rf"\b{NAME}, (?i:(?:an?|our|my) (?:new |little |rescue |young |old )?{RELATION})\b",
    # "meet Crumble: my new dog", "say hello to Miso, my kitten"
    rf"(?i:\b(?:meet|say hello to|say hi to|introducing)) {NAME}[:,] (?i:my {RELATION})",
)]
# "I've got a ferret now!" then "She is called Clover."
_UNNAMED = re.compile(rf"(?i:\b(?:i|we)(?:'ve|’ve| have| just)? (?:got|have|adopted|bought|rescued|"
                      rf"took in|brought home) an? (?:new |little |young )?{RELATION}\b)")
_CALLED = re.compile(rf"(?i:\b(?:she|he|it|they)(?:'s|’s| is| are) (?:called|named)) {NAME}")
_TITLED = re.compile(r"\b(?P<name>Dr\.? [A-Z][a-z'’-]+)")
_MY_RELATION = re.compile(rf"\bmy {RELATION}\b", re.I)
_PRONOUN = re.compile(r"\b(she|he|her|him|his|hers)\b", re.I)
_FIRST_PERSON = re.compile(r"\b(i|i'm|i've|i'd|i'll|me|my|mine|myself)\b", re.I)


def canonical(relation: str) -> str:
    relation = relation.lower().strip()
    head = relation.split()[-1] if relation else ""
    return relation.replace(head, _CANONICAL.get(head, head)) if head else ""


def _name(raw: str) -> str | None:
    name = raw.strip().rstrip("'’")
    first = name.split()[0].rstrip(".")
    return None if first in NOT_NAMES or name in NOT_NAMES else name


def _relation(m: re.Match) -> str:
    relation = canonical(f"{m['mod'] or ''}{m['rel']}")
    owner = m.groupdict().get("owner")
    return f"{owner}'s {relation}" if owner and _name(owner) else relation


@dataclass
class Person:
    """Someone the user has spoken of: how they relate to the user, what they are called."""

    name: str  # "" while only the relation is known ("my sister")
    relation: str = ""
    aliases: set[str] = field(default_factory=set)
    first: datetime | None = None
    last: datetime | None = None
    introduced_by: int | None = None  # the memory that said who they are

    @property
    def key(self) -> str:
        return self.name or f"my {self.relation}"

    def describe(self, you: bool = True) -> str:
        """"your sister Lucia", "Lucia", "your dog Biscuit"."""
        if not self.relation:
            return self.name
        if "'s " in self.relation:  # someone else's pet: "Tomas's hamster Toffee"
            return f"{self.relation} {self.name}".strip()
        owner = "your" if you else "the user's"
        return f"{owner} {self.relation} {self.name}".strip()

    @property
    def pet(self) -> bool:
        return self.relation.split()[-1] in PETS if self.relation else False

    def owned_by(self, owner: str | None) -> bool:
        """A pet of `owner` (a person's key), or of the user's when None."""
        if not self.pet:
            return False
        if owner is None:
            return "'s " not in self.relation
        return self.relation.lower().startswith(f"{owner.lower()}'s ")


@dataclass(frozen=True)
class Mention:
    """A person a memory is about; relation "" when the words do not say it."""

    name: str
    relation: str = ""

    def to_json(self) -> dict:
        return {"name": self.name, "relation": self.relation}


def _matches_relation(person_relation: str, asked: str) -> bool:
    """"my teacher" names "cello teacher"; "sister" names "sister"; "my hamster" does not
    name "Tomas's hamster"."""
    person_relation, asked = person_relation.lower(), asked.lower()
    if not person_relation or ("'s " in person_relation) != ("'s " in asked):
        return False
    return person_relation == asked or (person_relation.split()[-1] == asked.split()[-1]
                                        and asked.split()[-1] == asked)


class Life:
    """The people the user has spoken of, read from their memories' `about` records."""

    def __init__(self) -> None:
        self.people: dict[str, Person] = {}

    # Reading and resolving --------------------------------------------------------------------

    def named(self, name: str) -> Person | None:
        """The person called `name` ("Lucia", "Dr Patel", a first name of "Tom Baker")."""
        wanted = name.lower().replace(".", "").strip()
        for p in self.people.values():
            names = {p.name.lower().replace(".", "")} | {a.lower() for a in p.aliases}
            if wanted in names or (p.name and wanted == p.name.lower().split()[0]):
                return p
        return None

    def related(self, relation: str) -> Person | None:
        """The person most recently spoken of as "my <relation>"."""
        asked = canonical(relation)
        found = [p for p in self.people.values() if _matches_relation(p.relation, asked)]
        return max(found, key=lambda p: p.last or datetime.min) if found else None

    def resolve(self, phrase: str) -> Person | None:
        """"my sister", "Lucia", "Dr. Patel" -> the person; None when unknown."""
        phrase = phrase.strip()
        if m := _MY_RELATION.fullmatch(phrase):
            return self.related(_relation(m))
        return self.named(phrase)

    def mentioned_in(self, text: str) -> list[Person]:
        """The known people `text` names (by name, or as "my <relation>")."""
        out = []
        for p in self.people.values():
            names = [p.name, *p.aliases] if p.name else []
            if p.name and " " in p.name and not p.name.startswith(("Dr", "Mr", "Ms", "Prof")):
                names.append(p.name.split()[0])
            if any(re.search(rf"\b{re.escape(n)}\b", text) for n in names if n):
                out.append(p)
        for m in _MY_RELATION.finditer(text):
            p = self.related(_relation(m))
            if p is not None and p not in out:
                out.append(p)
        return out

    # Writing ------------------------------------------------------------------------------------

    def add(self, mention: Mention, when: datetime, memory_id: int | None = None) -> Person:
        """Record that a memory said `when` is about `mention`; returns the person."""
        person = self.named(mention.name) if mention.name else None
        if person is None and mention.relation:
            # "my sister" then "my sister Lucia": one person; "my friend Tom" then "my
            # friend Ana": two.
            related = self.related(mention.relation)
            if related is not None and (not related.name or not mention.name):
                person = related
        if person is None:
            person = Person(mention.name, mention.relation)
            self.people[person.key] = person
        elif mention.name and not person.name:  # "my sister" is now known as "Lucia"
            del self.people[person.key]
            person.name = mention.name
            self.people[person.key] = person
        if len(mention.relation) > len(person.relation):  # "teacher" -> "cello teacher"
            person.relation = mention.relation
        if mention.relation and mention.name and person.introduced_by is None:
            person.introduced_by = memory_id
        person.first = min(person.first or when, when)
        person.last = max(person.last or when, when)
        return person


def mentions(sentence: str, life: Life, last: Mention | None) -> list[Mention]:
    """Whom one sentence the user said is about, in order: people it introduces, known
    people it names, "my <relation>", "she"/"he" for the last person spoken of, and the
    user when they speak of themselves."""
    found: list[Mention] = []

    def add(m: Mention) -> None:
        if not any(f == m or (m.name and f.name == m.name) for f in found):
            found.append(m)  # the first reading of a name wins ("Tomas's hamster")

    spans = []
    for pattern in _INTRODUCED:
        for m in pattern.finditer(sentence):
            if (name := _name(m["name"])) is not None:
                add(Mention(name, _relation(m)))
                spans.append(m.span())
    for m in _UNNAMED.finditer(sentence):
        if not any(a <= m.start() < b for a, b in spans) and m["rel"] in PETS:
            add(Mention("", _relation(m)))
    if (m := _CALLED.search(sentence)) and last is not None and not last.name \
            and (name := _name(m["name"])):
        add(Mention(name, last.relation))
    for m in _TITLED.finditer(sentence):
        add(Mention(m["name"].replace(".", ""), "doctor"))
    for p in life.mentioned_in(sentence):
        if not any(f.name and f.name == p.name for f in found):
            add(Mention(p.name, p.relation))
    for m in _MY_RELATION.finditer(sentence):
        if any(a <= m.start() < b for a, b in spans):
            continue
        relation = _relation(m)
        if not any(f.relation == relation for f in found):
            p = life.related(relation)
            add(Mention(p.name if p else "", relation))
    if not found and last is not None and last.name != USER \
            and (pronoun := _PRONOUN.search(sentence)):
        other = "he" if pronoun[1].lower() in ("she", "her", "hers") else "she"
        if last.relation.split()[-1:] == [] or last.relation.split()[-1] not in _GENDER[other]:
            add(last)  # "she" is not the brother spoken of last
    if _FIRST_PERSON.search(_MY_RELATION.sub("", sentence)):
        found.insert(0, Mention(USER))
    return found


def read_people(records: Iterable[tuple[int, datetime, list[dict]]]) -> Life:
    """A Life from memories' `about` records (id, when said, about), oldest first."""
    life = Life()
    for memory_id, when, about in records:
        for entry in about:
            if entry.get("name") != USER:
                life.add(Mention(entry.get("name", ""), entry.get("relation", "")), when,
                         memory_id)
    return life
