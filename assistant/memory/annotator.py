"""Reads each statement of the user's for whom it is about and what it states, keeps the
people and the facts (current and history) in memory, and marks what a newer statement
replaced. Everything here is derived from the memories' meta, so it is rebuilt after a
memory is forgotten and nothing survives its source.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from assistant.memory import text as memory_text
from assistant.memory.facts import MANY, Statement, conflicts, sentences, statements
from assistant.memory.people import USER, Life, Mention, Person, mentions, read_people
from assistant.memory.proposals import proposed
from memory_store.base import StoreBase
from memory_store.records import Hit

_KINDS = ("turn", "fact")


def _states_facts(hit: Hit) -> bool:
    """The user's own statements and pinned facts; never a document's words (whatever its
    meta says), never a model's proposal (memory/proposals.py): it states nothing about
    anyone until the user accepts it, so it never replaces what they said."""
    return hit.kind in _KINDS and memory_text.reads_people(hit) and not proposed(hit)


@dataclass(frozen=True)
class Fact:
    """One statement of a value: who ("User" or a person's key), subject, value, and the
    memory that said it, when."""

    who: str
    subject: str
    value: str
    memory_id: int
    said: datetime


@dataclass
class Replaced:
    """A newer statement replaced an older one about the same person and subject."""

    who: str
    subject: str
    old: Fact
    new: Fact

    @property
    def title(self) -> str:
        return self.subject if self.who == USER else f"{self.who}'s {self.subject}"


class Annotator:
    """The people and facts of one store, kept up to date as memories are written."""

    def __init__(self, store: StoreBase) -> None:
        self.store = store
        self.life = Life()
        self.timelines: dict[tuple[str, str], list[Fact]] = {}
        self._last: dict[int | None, Mention] = {}  # per conversation: who "she" is
        self.reload()

    def reload(self) -> None:
        """Everything again from the store's meta (after a memory was forgotten)."""
        read = self.store.with_meta("about", kinds=_KINDS)
        self.life = read_people((h.id, h.created_at, memory_text.about(h) or []) for h in read)
        self.timelines = {}
        self._last = {}
        for h in read:
            for f in memory_text.facts(h):
                self._record(Fact(f["who"], f["subject"], f["value"], h.id, h.created_at))
            self._remember_last(h.conversation_id, memory_text.about(h) or [])

    # Questions -----------------------------------------------------------------------------

    def person(self, phrase: str) -> Person | None:
        return self.life.resolve(phrase)

    def holder(self, phrase: str) -> str | None:
        """"I" -> "User"; "my sister", "Lucia" -> the person's key; None if unknown."""
        if phrase.lower() in ("i", "me", "my"):
            return USER
        p = self.life.resolve(phrase)
        return p.key if p else None

    def timeline(self, who: str, subject: str) -> list[Fact]:
        """Every value stated, oldest first; the last is current."""
        return self.timelines.get((who, subject), [])

    # Writing -------------------------------------------------------------------------------

    def pending(self) -> list[Replaced]:
        """Read every memory not read yet (imports, older stores); what it replaced."""
        return self.annotate(self.store.with_meta("about", present=False, kinds=_KINDS))

    def annotate(self, hits: Sequence[Hit]) -> list[Replaced]:
        """Read these new memories (oldest first), store what they say in their meta, mark
        the statements they replace; returns the replacements."""
        replaced: list[Replaced] = []
        metas: dict[int, dict] = {}
        for h in sorted(hits, key=lambda h: (h.created_at, h.id)):
            if memory_text.about(h) is not None:
                continue  # read already
            if not _states_facts(h):
                metas[h.id] = memory_text.annotated(h, [], [])  # read: nothing in it
                continue
            about, stated = self._read(h)
            metas[h.id] = memory_text.annotated(
                h, [m.to_json() for m in about],
                [{"who": f.who, "subject": f.subject, "value": f.value} for f in stated])
            for f in stated:
                replaced += self._record(f)
        self.store.set_metas(metas)
        for r in replaced:
            self._supersede(r)
        return replaced

    def _read(self, h: Hit) -> tuple[list[Mention], list[Fact]]:
        last = self._last_in(h.conversation_id)
        about: list[Mention] = []
        stated: list[Fact] = []
        for sentence in sentences(memory_text.spoken(h)):
            here = []
            for m in mentions(sentence, self.life, last):
                if m.name != USER:
                    p = self.life.add(m, h.created_at, h.id)
                    m = last = Mention(p.name, p.relation)
                here.append(m)
            about += [m for m in here if m not in about]
            for st in statements(sentence):
                who = self._holder(st, here, last)
                if who is not None:
                    stated.append(Fact(who, st.subject, st.value, h.id, h.created_at))
        self._last[h.conversation_id] = last if last is not None else Mention(USER)
        return about, stated

    def _key(self, m: Mention) -> str | None:
        p = (self.life.named(m.name) if m.name else None) or \
            (self.life.related(m.relation) if m.relation else None)
        return p.key if p else None

    def _holder(self, st: Statement, here: list[Mention], last: Mention | None) -> str | None:
        who = st.who.lower()
        if who == "i":
            return USER
        if who in ("she", "he"):
            others = [m for m in here if m.name != USER]
            chosen = others[0] if others else last
            return self._key(chosen) if chosen is not None and chosen.name != USER else None
        p = self.life.resolve(st.who)
        return p.key if p else None

    def _record(self, fact: Fact) -> list[Replaced]:
        """Add a fact to its timeline (in the order said); the replacement it makes."""
        line = self.timelines.setdefault((fact.who, fact.subject), [])
        before = line[-1] if line else None
        line.append(fact)
        line.sort(key=lambda f: (f.said, f.memory_id))
        current = line[-1]
        if before is None or before.memory_id == fact.memory_id or fact.subject in MANY:
            return []  # a second instrument adds to the first
        older = before if current is fact else fact
        if not conflicts(Statement(fact.subject, current.value), older.value):
            return []
        return [Replaced(fact.who, fact.subject, older, current)]

    def _supersede(self, r: Replaced) -> None:
        """The older memory is superseded once none of its facts is current any more."""
        old = self.store.get(r.old.memory_id)
        if old is None or old.superseded_by is not None:
            return
        still = [f for f in memory_text.facts(old)
                 if (line := self.timeline(f["who"], f["subject"]))
                 and line[-1].memory_id == old.id]
        if not still:
            self.store.supersede(old.id, r.new.memory_id)

    def _last_in(self, conversation_id: int | None) -> Mention | None:
        if conversation_id not in self._last and conversation_id is not None:
            for h in self.store.conversation_memories(conversation_id):
                self._remember_last(conversation_id, memory_text.about(h) or [])
        return self._last.get(conversation_id)

    def _remember_last(self, conversation_id: int | None, about: list[dict]) -> None:
        others = [a for a in about if a.get("name") != USER]
        if others:
            self._last[conversation_id] = Mention(others[-1]["name"],
                                                  others[-1].get("relation", ""))
