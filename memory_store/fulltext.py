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


def match_expression(query: str) -> str | None:
    """An FTS5 MATCH string that ORs the query's content words; None when it has none."""
    words = [w.lower() for w in _TOKEN.findall(query)]
    content = [w for w in words if w not in STOPWORDS] or words
    unique = list(dict.fromkeys(content))
    if not unique:
        return None
    # Quoting makes every word a literal, so user text can never be FTS5 syntax.
    return " OR ".join('"' + w.replace('"', '""') + '"' for w in unique)


def search(session: Session, query: str, limit: int, where_sql: str = "", params: dict | None = None
           ) -> list[tuple[int, float]]:
    """Top `limit` (memory id, bm25 score; higher is better) for `query`.

    `where_sql` is an extra condition on the joined `memories m` row (kind, time, ...).
    """
    expr = match_expression(query)
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
