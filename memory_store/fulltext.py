"""Lexical (BM25) search over memories with SQLite FTS5, kept in step by triggers."""

from __future__ import annotations

import re

from sqlalchemy import text
from sqlalchemy.orm import Session

# Words that match nearly every memory: they cost time and add nothing to BM25's ranking.
STOPWORDS = frozenset(
    """a an and are as at be but by did do does for from had has have he her his how i
    if in into is it its me my of on or our she so than that the their them then there
    these they this to was we were what when where which who whom why will with would
    you your yours""".split()
)
_TOKEN = re.compile(r"\w+", re.UNICODE)


# A word whose stem is in more than COMMON of the memories, and in more than COMMON_DOCS
# of them, is left out: ranking every memory holding it is what makes a word search slow
# on a big store (at 1M memories, 1% keeps the p95 under 25 ms; `bench scale`), and its
# IDF is low. Below 200,000 memories only words in over 2,000 of them go.
COMMON = 0.01
COMMON_DOCS = 2000


def content_words(query: str) -> list[str]:
    words = [w.lower() for w in _TOKEN.findall(query)]
    return list(dict.fromkeys([w for w in words if w not in STOPWORDS] or words))


def match_expression(words: list[str]) -> str | None:
    """An FTS5 MATCH string that ORs `words`; None when there are none."""
    if not words:
        return None
    # Quoting makes every word a literal, so user text can never be FTS5 syntax.
    return " OR ".join('"' + w.replace('"', '""') + '"' for w in words)


def rare_words(session: Session, words: list[str]) -> list[str]:
    """`words` without the common ones (see COMMON). Their stems come from FTS5's own
    tokenizer (a scratch table on this connection), their counts from the index."""
    total = session.execute(text("SELECT max(id) FROM memories")).scalar() or 0
    if total <= COMMON_DOCS:
        return words  # no word can be in more memories than that yet
    for ddl in ("CREATE VIRTUAL TABLE IF NOT EXISTS temp.query_words USING "
                "fts5(t, tokenize='porter unicode61')",
                "CREATE VIRTUAL TABLE IF NOT EXISTS temp.query_stems USING "
                "fts5vocab(temp, query_words, instance)",
                "CREATE VIRTUAL TABLE IF NOT EXISTS temp.memory_stems USING "
                "fts5vocab(main, memories_fts, row)"):
        session.execute(text(ddl))
    session.execute(text("DELETE FROM temp.query_words"))
    session.execute(text("INSERT INTO temp.query_words(rowid, t) VALUES (:i, :w)"),
                    [{"i": i, "w": w} for i, w in enumerate(words)])
    stems = dict(session.execute(text("SELECT doc, term FROM temp.query_stems")).all())
    names = {f"s{i}": stem for i, stem in enumerate(set(stems.values()))}
    docs = dict(session.execute(text(
        f"SELECT term, doc FROM temp.memory_stems WHERE term IN "
        f"({', '.join(':' + n for n in names) or 'NULL'})"), names).all())
    limit = max(COMMON * total, COMMON_DOCS)
    return [w for i, w in enumerate(words) if docs.get(stems.get(i), 0) <= limit]


def search(session: Session, query: str, limit: int, where_sql: str = "", params: dict | None = None
           ) -> list[tuple[int, float]]:
    """Top `limit` (memory id, bm25 score; higher is better) for `query`.

    `where_sql` is an extra condition on the joined `memories m` row (kind, time, ...).
    """
    expr = match_expression(rare_words(session, content_words(query)))
    if expr is None or limit <= 0:
        return []
    if where_sql:
        sql = (
            "SELECT m.id, bm25(memories_fts) AS s FROM memories_fts "
            "JOIN memories m ON m.id = memories_fts.rowid "
            f"WHERE memories_fts MATCH :q AND ({where_sql}) ORDER BY s LIMIT :n"
        )
    else:
        # Without a join FTS5 can sort by rank itself, which is much faster on large stores.
        sql = ("SELECT rowid, rank FROM memories_fts WHERE memories_fts MATCH :q "
               "ORDER BY rank LIMIT :n")
    rows = session.execute(text(sql), {"q": expr, "n": limit, **(params or {})}).all()
    return [(int(i), -float(s)) for i, s in rows]
