"""Engine, sessions and explicit schema migrations (PRAGMA user_version)."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.orm import Session, sessionmaker

from memory_store.models import Base

# FTS5 mirrors memories.text; the generation counter lets every process notice, with one
# cheap read, that another one added or removed memories (its FAISS copy is then stale).
_FTS_AND_TRIGGERS = [
    "CREATE VIRTUAL TABLE memories_fts USING fts5("
    "text, content='memories', content_rowid='id', tokenize='porter unicode61')",
    "INSERT INTO meta(key, value) VALUES ('generation', '0')",
    """CREATE TRIGGER memories_ai AFTER INSERT ON memories BEGIN
         INSERT INTO memories_fts(rowid, text) VALUES (new.id, new.text);
         UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'generation';
       END""",
    """CREATE TRIGGER memories_ad AFTER DELETE ON memories BEGIN
         INSERT INTO memories_fts(memories_fts, rowid, text) VALUES ('delete', old.id, old.text);
         UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'generation';
       END""",
    """CREATE TRIGGER memories_au AFTER UPDATE OF text ON memories BEGIN
         INSERT INTO memories_fts(memories_fts, rowid, text) VALUES ('delete', old.id, old.text);
         INSERT INTO memories_fts(rowid, text) VALUES (new.id, new.text);
       END""",
]


def _v1_initial(conn: Connection) -> None:
    Base.metadata.create_all(conn)
    for statement in _FTS_AND_TRIGGERS:
        conn.exec_driver_sql(statement)


# Ordered; entry i moves the schema from version i to i + 1. Never edit a released step.
MIGRATIONS: list[Callable[[Connection], None]] = [_v1_initial]
SCHEMA_VERSION = len(MIGRATIONS)


class SchemaTooNewError(RuntimeError):
    """The database was written by a newer version of this program."""


def _set_pragmas(dbapi_conn: sqlite3.Connection, _record: object) -> None:
    cursor = dbapi_conn.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    # Safe with WAL: a power cut can lose the last commit, never corrupt the file.
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


def make_engine(path: Path) -> Engine:
    """An engine on the SQLite file at `path`, with WAL, foreign keys and a busy timeout."""
    engine = create_engine(f"sqlite:///{path}")
    event.listen(engine, "connect", _set_pragmas)
    return engine


def migrate(engine: Engine) -> int:
    """Bring the schema to SCHEMA_VERSION, one transaction per step; returns the version."""
    with engine.connect() as conn:
        version = conn.exec_driver_sql("PRAGMA user_version").scalar_one()
    if version > SCHEMA_VERSION:
        raise SchemaTooNewError(
            f"{engine.url.database}: schema version {version} is newer than this program's "
            f"{SCHEMA_VERSION}; upgrade the assistant to open it."
        )
    for step in range(version, SCHEMA_VERSION):
        with engine.begin() as conn:
            MIGRATIONS[step](conn)
            conn.exec_driver_sql(f"PRAGMA user_version = {step + 1}")
    return SCHEMA_VERSION


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    """The one sessionmaker of a store; use `with Session.begin() as s:` per unit of work."""
    return sessionmaker(engine, expire_on_commit=False)


def generation(conn: Connection | Session) -> int:
    """The counter bumped by every insert or delete of a memory."""
    return int(conn.execute(text("SELECT value FROM meta WHERE key = 'generation'")).scalar_one())
