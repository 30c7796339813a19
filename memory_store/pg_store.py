"""PostgresStore: the store over PostgreSQL, for one memory shared by several
machines. Vectors live in the memories table (pgvector, searched through an HNSW index on
inner product: the embeddings are unit length, so it ranks as cosine does); words in a
generated `tsvector` column with a GIN index, ranked by `ts_rank_cd` (cover density:
PostgreSQL's own ranking, which rewards the query's words found close together; core
PostgreSQL has no BM25, and RRF only uses the rank order). Kind and time filters sit in
both queries' WHERE clauses, before their LIMIT. Several processes may read and write at
once: each search reads the committed rows, so one process's memories are found by the
others on their next search.
"""

from __future__ import annotations

import functools
import logging
import re
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime

import numpy as np
from sqlalchemy import Connection, Engine, create_engine, text
from sqlalchemy.orm import Session

from memory_store import fulltext
from memory_store.base import CheckReport, StoreBase
from memory_store.db import make_sessionmaker
from memory_store.fulltext import STOPWORDS
from memory_store.fusion import fused_hits
from memory_store.migrations import Migration, add_message_sources
from memory_store.migrations import migrate as run_migrations
from memory_store.models import Base
from memory_store.records import Hit
from memory_store.urls import engine_url, redacted

_WORD = re.compile(r"[^\W_]+", re.UNICODE)  # letters and digits only: never tsquery syntax
_MIGRATION_LOCK = 7_260_354  # pg_advisory_xact_lock key: one process migrates at a time


def _v1_initial(conn: Connection, dim: int) -> None:
    Base.metadata.create_all(conn)
    for statement in (
        "ALTER TABLE memories ADD COLUMN tsv tsvector "
        "GENERATED ALWAYS AS (to_tsvector('english', text)) STORED",
        "CREATE INDEX ix_memories_tsv ON memories USING gin (tsv)",
        f"CREATE INDEX ix_memories_hnsw ON memories USING hnsw "
        f"((embedding::vector({dim})) vector_ip_ops)",
        # As in SQLite: a memory's vector never changes under its id.
        "CREATE FUNCTION memories_embedding_immutable() RETURNS trigger LANGUAGE plpgsql AS "
        "$$ BEGIN RAISE EXCEPTION 'memory embeddings are immutable: add a new memory "
        "instead'; END $$",
        "CREATE TRIGGER memories_embedding_immutable BEFORE UPDATE OF embedding ON memories "
        "FOR EACH ROW WHEN (OLD.embedding IS DISTINCT FROM NEW.embedding) "
        "EXECUTE FUNCTION memories_embedding_immutable()",
    ):
        conn.exec_driver_sql(statement)
    conn.execute(text("INSERT INTO meta(key, value) VALUES ('store_id', :id), "
                      "('generation', '0')"), {"id": uuid.uuid4().hex})


def migrations(dim: int) -> list[Migration]:
    """The steps, for vectors of `dim` (the HNSW index is built on their expression)."""
    return [Migration("initial", functools.partial(_v1_initial, dim=dim)),
            Migration("answer sources", add_message_sources)]


SCHEMA_VERSION = len(migrations(0))


log = logging.getLogger(__name__)

class _MetaVersion:
    """PostgreSQL keeps the schema version in the meta table; an advisory lock held for
    the transaction makes processes opening a new database take turns."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @contextmanager
    def locked(self) -> Iterator[Connection]:
        with self.engine.begin() as conn:
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK})
            conn.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS vector")
            yield conn

    def read(self, conn: Connection) -> int:
        if conn.exec_driver_sql("SELECT to_regclass('meta')").scalar() is None:
            return 0
        return int(conn.execute(text("SELECT value FROM meta WHERE key = 'schema_version'"))
                   .scalar() or 0)

    def write(self, conn: Connection, version: int) -> None:
        conn.execute(text("INSERT INTO meta(key, value) VALUES ('schema_version', :v) "
                          "ON CONFLICT (key) DO UPDATE SET value = :v"), {"v": str(version)})


class PostgresStore(StoreBase):
    """Add, search, forget and count memories in a PostgreSQL database. The vectors are
    in the table, indexed by PostgreSQL: nothing is kept beside it."""

    backend = "postgresql"

    def __init__(self, url: str, *, embedding_model: str, dim: int) -> None:
        super().__init__(embedding_model=embedding_model, dim=dim)
        self.url = engine_url(url)
        self.where = redacted(self.url)
        # The password (from the URL or PGPASSWORD) stays in the engine, never in messages.
        self._engine = create_engine(self.url, pool_pre_ping=True)
        run_migrations(migrations(dim), _MetaVersion(self._engine), self.where)
        self.Session = self.Write = make_sessionmaker(self._engine)
        self._opened()
        self._vector = f"m.embedding::vector({dim})"  # the HNSW index's own expression
        self._common, self._common_at = frozenset(), -1e9

    def scrub(self) -> None:
        """A deleted or rewritten row stays in the table's files until they are rewritten:
        VACUUM FULL writes them anew, indexes too (a forget is rare; the tables are locked
        while it runs). The write-ahead log still holds the old rows: the segment is closed
        and a checkpoint makes it unneeded, after which the server deletes it (or, with
        its default wal_recycle = on, reuses it, old bytes and all, until overwritten)."""
        with self._engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            for table in ("memories", "messages", "conversations"):  # a title may quote it
                conn.exec_driver_sql(f"VACUUM FULL {table}")
            # Each needs superuser (or pg_checkpoint, or a grant on pg_switch_wal): without
            # them the server recycles the log on its own schedule.
            for step in ("SELECT pg_switch_wal()", "CHECKPOINT"):
                try:
                    conn.exec_driver_sql(step)
                except Exception as exc:
                    log.info("%s after a forget was refused: %s", step, exc)

    def check(self) -> CheckReport:
        """The full-text column against the text, and links to rows that are gone."""
        with self.Session() as s:
            stale = s.execute(text("SELECT count(*) FROM memories WHERE tsv IS DISTINCT "
                                   "FROM to_tsvector('english', text)")).scalar_one()
            broken = s.execute(text(
                "SELECT count(*) FROM memories m WHERE (m.document_id IS NOT NULL AND NOT "
                "EXISTS (SELECT 1 FROM documents d WHERE d.id = m.document_id)) OR "
                "(m.conversation_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM conversations "
                "c WHERE c.id = m.conversation_id))")).scalar_one()
        return CheckReport(database_ok=True, fulltext_ok=stale == 0, broken_links=broken,
                           index_mismatches=0)

    def _take_turns(self, s: Session, what: str) -> None:
        # Two machines importing the same file at once: the second waits, then replaces
        # the first's version, so the file is there once (not a unique-path error).
        s.execute(text("SELECT pg_advisory_xact_lock(hashtext(:what))"), {"what": what})

    def search(self, vector: np.ndarray | None, query: str = "", k: int = 10, *,
               kinds: Sequence[str] | None = None, since: datetime | None = None,
               until: datetime | None = None, depth: int | None = None) -> list[Hit]:
        """Hybrid search as in SQLite: pgvector's and the full-text ranks fused by RRF,
        filters inside both queries."""
        depth = max(depth or 0, 2 * k, 50)
        where, params = _filters(kinds, since, until)
        with self.Session() as s:
            dense = self._dense(s, vector, depth, where, params) if vector is not None else {}
            lexical = self._lexical(s, query, depth, where, params) if query else {}
            return fused_hits(s, dense, lexical, k)

    def _dense(self, s: Session, vector, depth: int, where: str, params: dict
               ) -> dict[int, float]:
        # HNSW returns at most ef_search rows; the iterative scan keeps a filtered search
        # going until `depth` rows pass the filter.
        s.execute(text(f"SET LOCAL hnsw.ef_search = {min(max(depth, 40), 1000)}"))
        s.execute(text("SET LOCAL hnsw.iterative_scan = relaxed_order"))
        literal = "[" + ",".join(map(repr, np.asarray(vector, np.float32).ravel().tolist())) + "]"
        q = f"CAST(:q AS vector({self.dim}))"
        rows = s.execute(text(
            f"SELECT m.id, -({self._vector} <#> {q}) AS score FROM memories m "
            f"WHERE {where} ORDER BY {self._vector} <#> {q} LIMIT :n"),
            {"q": literal, "n": depth, **params}).all()
        rows.sort(key=lambda r: (-r[1], r[0]))  # relaxed order: nearly sorted
        return {int(i): float(score) for i, score in rows}

    def _lexical(self, s: Session, query: str, depth: int, where: str, params: dict
                 ) -> dict[int, float]:
        words = [w.lower() for w in _WORD.findall(query)]
        words = list(dict.fromkeys([w for w in words if w not in STOPWORDS] or words))
        if not words:
            return {}
        # The query's stems without the common ones (fulltext.COMMON: as on SQLite).
        common = self._common_stems(s)
        stems = [w for w in s.scalars(text("SELECT lexeme FROM unnest(to_tsvector("
                                           "'english', :words))"), {"words": " ".join(words)})
                 if w not in common]
        if not stems:
            return {}
        rows = s.execute(text(
            "SELECT m.id, ts_rank_cd(m.tsv, q) AS score FROM memories m, "
            "to_tsquery('simple', :expr) q "
            f"WHERE m.tsv @@ q AND {where} ORDER BY score DESC, m.id LIMIT :n"),
            {"expr": " | ".join(_quoted(w) for w in stems), "n": depth, **params}).all()
        return {int(i): float(score) for i, score in rows}

    def _common_stems(self, s: Session) -> frozenset[str]:
        """Stems in more than fulltext.COMMON (and COMMON_DOCS) of the memories, from
        PostgreSQL's own statistics (ANALYZE, run by autovacuum as the table grows); read
        again every 10 minutes."""
        now = time.monotonic()
        if now - self._common_at > 600:
            row = s.execute(text(
                "SELECT most_common_elems::text::text[], most_common_elem_freqs, reltuples "
                "FROM pg_stats JOIN pg_class ON relname = tablename "
                "WHERE tablename = 'memories' AND attname = 'tsv'")).first()
            stems = zip(row[0], row[1], strict=False) if row and row[0] else ()
            rows = row[2] if row else 0
            self._common = frozenset(w for w, freq in stems if freq > fulltext.COMMON
                                     and freq * rows > fulltext.COMMON_DOCS)
            self._common_at = now
        return self._common

    def nearest_ids(self, vector: np.ndarray, k: int) -> list[int]:
        with self.Session() as s:
            return list(self._dense(s, vector, max(2 * k, 50), "TRUE", {}))[:k]

    def stats(self) -> dict:
        return self.counts() | {"vector_index": "pgvector hnsw", "index": "hnsw",
                                "embedding_model": self.embedding_model,
                                "backend": "postgresql", "home": self.where}


def _quoted(stem: str) -> str:
    """A stem as a tsquery literal (quoted: never operators)."""
    return "'" + stem.replace("'", "''") + "'"


def _filters(kinds, since, until) -> tuple[str, dict]:
    parts, params = ["TRUE"], {}
    if kinds:
        parts.append("m.kind = ANY(:kinds)")
        params["kinds"] = list(kinds)
    if since is not None:
        parts.append("m.created_at >= :since")
        params["since"] = since
    if until is not None:
        parts.append("m.created_at < :until")
        params["until"] = until
    return " AND ".join(parts), params
