"""What an answer repeated of a memory, found in the store: forgetting the memory must take
out the answers that told it back, in every conversation, unless another memory still
says the same (then the answer rests on that one)."""

from __future__ import annotations

import re
from collections.abc import Sequence

from sqlalchemy import or_, select

from memory_store.fulltext import STOPWORDS
from memory_store.models import Memory, Message
from memory_store.records import MessageRecord

_WORD = re.compile(r"\w+", re.UNICODE)


def words(text: str) -> list[str]:
    """Its words, lowercased, in order."""
    return [w.lower() for w in _WORD.findall(text)]


def echoed_runs(text: str, source: str) -> set[tuple[str, ...]]:
    """The longest runs of `source`'s words that `text` repeats, of those that say
    something (not only stopwords, 4 letters or more: "7-19-33", "in Madrid"): what an
    answer took from a memory, whatever its punctuation."""
    said, heard = words(source), words(text)
    where: dict[str, list[int]] = {}
    for j, w in enumerate(said):
        where.setdefault(w, []).append(j)
    runs, i = set(), 0
    while i < len(heard):
        n = max((_common_length(heard, i, said, j) for j in where.get(heard[i], ())),
                default=0)
        run = tuple(heard[i:i + n])
        if run and len("".join(run)) >= 4 and any(w not in STOPWORDS for w in run):
            runs.add(run)
        i += n or 1
    return runs


def _common_length(a: list[str], i: int, b: list[str], j: int) -> int:
    n = 0
    while i + n < len(a) and j + n < len(b) and a[i + n] == b[j + n]:
        n += 1
    return n


def says_in_a_row(text: str, run: Sequence[str]) -> bool:
    """Whether `text` has the words of `run` one after another."""
    found, n = words(text), len(run)
    return any(tuple(found[i:i + n]) == tuple(run) for i in range(len(found) - n + 1))


def messages_with(store, source: str, role: str) -> list[MessageRecord]:
    """`role`'s messages, in every conversation, holding any word of `source` that says
    something (as part of a word, case aside, or as written where the database cannot
    fold a letter's case: the caller checks whole words)."""
    said = {w for w in _WORD.findall(source) if w.lower() not in STOPWORDS}
    if not said:
        return []
    with store.Session() as s:
        rows = s.scalars(select(Message).where(Message.role == role, or_(
            *(Message.text.ilike(f"%{_literal(w)}%", escape="/")
              for w in sorted(said | {w.lower() for w in said})))))
        return [MessageRecord(m.id, m.conversation_id, m.turn, m.role, m.text, m.created_at)
                for m in rows]


def said_elsewhere(store, run: Sequence[str], besides: int) -> bool:
    """Whether a memory other than `besides` says the words of `run` one after another
    (summaries aside: they are written again from what is left). A word whose case the
    database cannot fold counts as not said: then too much goes, never too little."""
    pattern = "%" + "%".join(_literal(w) for w in run) + "%"  # whole words: checked below
    with store.Session() as s:
        texts = s.scalars(select(Memory.text).where(
            Memory.id != besides, Memory.kind != "summary",
            Memory.text.ilike(pattern, escape="/")).execution_options(yield_per=500))
        return any(says_in_a_row(t, run) for t in texts)


def _literal(word: str) -> str:
    """`word` as a LIKE pattern's literal ("_" is LIKE's any-character; "/" escapes)."""
    return word.replace("/", "//").replace("%", "/%").replace("_", "/_")
