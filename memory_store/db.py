"""The SQLite engine, sessions and schema: its migrations (the version in PRAGMA
user_version), the check that a schema is what its version says, and repair."""

from __future__ import annotations

import sqlite3
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote

from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.orm import Session, sessionmaker

from memory_store.migrations import Migration, add_message_sources
from memory_store.migrations import migrate as run_migrations
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


# v2: a memory id is never given to another memory (AUTOINCREMENT), so the FAISS cache,
# keyed by id, cannot keep a forgotten or replaced memory's vector under a new memory; a
# stored embedding cannot change under its id; the store gets an identity, so an index
# file from another store is never taken for this one's.
_MEMORIES_V2 = """CREATE TABLE memories_v2 (
    id INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    kind VARCHAR(16) NOT NULL, text TEXT NOT NULL, source TEXT NOT NULL,
    created_at DATETIME NOT NULL, ingested_at DATETIME NOT NULL, embedding BLOB NOT NULL,
    pinned BOOLEAN NOT NULL,
    superseded_by INTEGER REFERENCES memories (id) ON DELETE SET NULL,
    document_id INTEGER REFERENCES documents (id) ON DELETE CASCADE,
    conversation_id INTEGER REFERENCES conversations (id) ON DELETE CASCADE,
    message_id INTEGER REFERENCES messages (id) ON DELETE CASCADE,
    meta JSON)"""
_COLUMNS = ("id, kind, text, source, created_at, ingested_at, embedding, pinned, document_id, "
            "conversation_id, message_id, meta")
_IMMUTABLE_EMBEDDING = """CREATE TRIGGER memories_embedding_immutable
    BEFORE UPDATE OF embedding ON memories BEGIN
      SELECT RAISE(ABORT, 'memory embeddings are immutable: add a new memory instead');
    END"""


def _v2_ids_never_reused(conn: Connection) -> None:
    ddl = conn.exec_driver_sql(
        "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'memories'").scalar_one()
    if "AUTOINCREMENT" not in ddl.upper():
        # Rebuilt in place (SQLite cannot add AUTOINCREMENT). Triggers go first, so the
        # copy touches neither FTS nor the generation; superseded_by is set after the old
        # table is gone, or dropping it would null the new table's links to it.
        for trigger in ("memories_ai", "memories_ad", "memories_au"):
            conn.exec_driver_sql(f"DROP TRIGGER {trigger}")
        conn.exec_driver_sql(_MEMORIES_V2)
        conn.exec_driver_sql(f"INSERT INTO memories_v2 ({_COLUMNS}) "
                             f"SELECT {_COLUMNS} FROM memories")
        conn.exec_driver_sql("CREATE TEMP TABLE links AS SELECT id, superseded_by FROM memories "
                             "WHERE superseded_by IS NOT NULL")
        conn.exec_driver_sql("DROP TABLE memories")
        conn.exec_driver_sql("ALTER TABLE memories_v2 RENAME TO memories")
        conn.exec_driver_sql("UPDATE memories SET superseded_by = (SELECT superseded_by "
                             "FROM links WHERE links.id = memories.id) WHERE id IN "
                             "(SELECT id FROM links)")
        conn.exec_driver_sql("DROP TABLE links")
        for index in Base.metadata.tables["memories"].indexes:
            index.create(conn)
        for statement in _FTS_AND_TRIGGERS[2:]:
            conn.exec_driver_sql(statement)
        conn.exec_driver_sql("UPDATE meta SET value = CAST(value AS INTEGER) + 1 "
                             "WHERE key = 'generation'")
    conn.exec_driver_sql(_IMMUTABLE_EMBEDDING)
    conn.execute(text("INSERT OR IGNORE INTO meta(key, value) VALUES ('store_id', :id)"),
                 {"id": uuid.uuid4().hex})


MIGRATIONS = [Migration("initial", _v1_initial),
              Migration("ids never reused", _v2_ids_never_reused),
              Migration("answer sources", add_message_sources)]
SCHEMA_VERSION = len(MIGRATIONS)
# What a store at SCHEMA_VERSION holds; anything missing is damage, not a version.
REQUIRED = {"table": {"meta", "documents", "conversations", "messages", "model_state",
                      "memories", "memories_fts"},
            "trigger": {"memories_ai", "memories_ad", "memories_au",
                        "memories_embedding_immutable"}}


class StoreDamagedError(RuntimeError):
    """The database's schema is not what its version says; `assistant doctor --repair`."""


class StoreReadOnlyError(RuntimeError):
    """A store that cannot be written needs a change only a write can make."""


def _set_pragmas(dbapi_conn: sqlite3.Connection, _record: object) -> None:
    cursor = dbapi_conn.cursor()
    # First: switching a new file to WAL takes a lock another opener may hold.
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA secure_delete=ON")  # forgotten text is zeroed, not left in free pages
    _wal(cursor)
    # Safe with WAL: a power cut can lose the last commit, never corrupt the file.
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _wal(cursor: sqlite3.Cursor, attempts: int = 200) -> None:
    """Switch to WAL (a no-op once it is): the switch needs the file to itself and does not
    wait on the busy timeout, so processes opening a new store together take turns."""
    for attempt in range(attempts):
        try:
            if cursor.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or attempt == attempts - 1:
                raise
            time.sleep(0.05)


def _begin(conn: Connection) -> None:
    # pysqlite's own transaction handling sends no BEGIN before DDL, so a CREATE TABLE
    # would commit on its own and a kill mid-setup would leave half a schema; we say
    # BEGIN ourselves (SQLAlchemy's documented recipe). Schema changes take the write lock
    # at once, so a second process opening the same new store waits, then sees it done.
    immediate = conn.get_execution_options().get("immediate", False)
    conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def make_engine(path: Path) -> Engine:
    """An engine on the SQLite file at `path`, with WAL, foreign keys, a busy timeout and
    real transactions (DDL included)."""
    engine = create_engine(f"sqlite:///{path}")
    event.listen(engine, "connect", _set_pragmas)
    event.listen(engine, "begin", _begin)
    return engine


def make_read_only_engine(path: Path) -> Engine:
    """An engine that only reads the SQLite file at `path`, in a folder this process
    cannot write (a read-only mount, a folder made read-only, a backup on a DVD).

    A WAL database is normally read through its -shm file, which a read-only folder cannot
    get; when there is none and no write-ahead log waiting either, the file is complete
    and is opened as immutable (SQLite's documented way to read such a file)."""
    uri = f"file:{quote(str(path))}?mode=ro"
    wal = path.with_name(path.name + "-wal")
    if not path.with_name(path.name + "-shm").exists() and not (
            wal.exists() and wal.stat().st_size):
        uri += "&immutable=1"

    def connect() -> sqlite3.Connection:
        return sqlite3.connect(uri, uri=True, check_same_thread=False)

    # The URL is the file's, for messages; `creator` opens it read-only.
    engine = create_engine(f"sqlite:///{path}", creator=connect)
    event.listen(engine, "connect", _set_read_pragmas)
    event.listen(engine, "begin", lambda conn: conn.exec_driver_sql("BEGIN"))
    return engine


def _set_read_pragmas(dbapi_conn: sqlite3.Connection, _record: object) -> None:
    cursor = dbapi_conn.cursor()
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA query_only=ON")  # a write fails at once, whatever asks for it
    cursor.close()


class _UserVersion:
    """SQLite keeps the schema version in PRAGMA user_version; a write transaction (BEGIN
    IMMEDIATE) is the migration lock."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @contextmanager
    def locked(self) -> Iterator[Connection]:
        with self.engine.connect().execution_options(immediate=True) as conn, conn.begin():
            yield conn

    def read(self, conn: Connection) -> int:
        return conn.exec_driver_sql("PRAGMA user_version").scalar_one()

    def write(self, conn: Connection, version: int) -> None:
        conn.exec_driver_sql(f"PRAGMA user_version = {version}")


def migrate(engine: Engine, read_only: bool = False) -> int:
    """Bring the schema to SCHEMA_VERSION (memory_store.migrations); returns the version.
    A schema that is not what its version says raises StoreDamagedError; one that needs
    upgrading in a store that cannot be written, StoreReadOnlyError."""

    def before(conn: Connection, version: int) -> None:
        # The version is only a number anyone can set: a step is run only on the tables
        # it was written for (a lowered version would re-run a done step and fail half way).
        found = _tables_version(conn)
        if found is None:
            raise _damaged(engine, "its memories table is missing")
        if found != version:
            raise _damaged(engine, f"its schema version says {version}, but its tables are "
                           f"version {found}'s")
        if read_only:
            raise StoreReadOnlyError(
                f"{engine.url.database}: this store (schema version {version}) must be "
                f"upgraded to version {SCHEMA_VERSION}, which writes to it; open it once "
                "where it can be written, or copy the data folder somewhere writable.")

    with engine.connect() as conn:  # no lock when it is current: a reader does not wait
        current = _UserVersion(engine).read(conn) == SCHEMA_VERSION
    if not current:
        run_migrations(MIGRATIONS, _UserVersion(engine), str(engine.url.database), before)
    with engine.connect() as conn:
        missing = {f"{kind} {name}" for kind, names in REQUIRED.items()
                   for name in names - _names(conn)[kind]}
    if missing:
        raise _damaged(engine, f"{', '.join(sorted(missing))} missing")
    return SCHEMA_VERSION


def _tables_version(conn: Connection) -> int | None:
    """The schema version the database itself shows: 0 (no tables yet), 1, or 2 (its step
    made embeddings immutable); None when there are tables but no memories table."""
    names = _names(conn)
    if "memories" not in names["table"]:
        return None if names["table"] & REQUIRED["table"] else 0
    return 2 if "memories_embedding_immutable" in names["trigger"] else 1


def _names(conn: Connection) -> dict[str, set[str]]:
    rows = conn.exec_driver_sql("SELECT type, name FROM sqlite_master").all()
    return {kind: {name for t, name in rows if t == kind} for kind in REQUIRED}


def _damaged(engine: Engine, what: str) -> StoreDamagedError:
    return StoreDamagedError(
        f"{engine.url.database}: the store is damaged ({what}). Your memories are still in "
        "it: run `assistant doctor --repair` (a copy is kept first), or restore a backup.")


def repair(engine: Engine) -> list[str]:
    """Mend a damaged schema from what the memories table holds: the version is read from
    the tables, missing tables and triggers are recreated, the full-text index rebuilt.
    Returns what was done."""
    done = []
    with engine.connect().execution_options(immediate=True) as conn, conn.begin():
        names = _names(conn)
        if "memories" not in names["table"]:
            raise _damaged(engine, "the memories table is gone; restore a backup")
        ddl = conn.exec_driver_sql("SELECT sql FROM sqlite_master WHERE type = 'table' "
                                   "AND name = 'memories'").scalar_one()
        Base.metadata.create_all(conn)  # only what is missing
        done += [f"recreated table {t}" for t in sorted(REQUIRED["table"] - names["table"]
                                                        - {"memories_fts"})]
        if "memories_fts" not in names["table"]:
            conn.exec_driver_sql(_FTS_AND_TRIGGERS[0])
            done.append("recreated table memories_fts")
        if "generation" not in dict(conn.exec_driver_sql("SELECT key, value FROM meta").all()):
            conn.exec_driver_sql(_FTS_AND_TRIGGERS[1])
        for name, statement in zip(("memories_ai", "memories_ad", "memories_au"),
                                   _FTS_AND_TRIGGERS[2:], strict=True):
            if name not in names["trigger"]:
                conn.exec_driver_sql(statement)
                done.append(f"recreated trigger {name}")
        conn.exec_driver_sql("INSERT INTO memories_fts(memories_fts) VALUES ('rebuild')")
        done.append("rebuilt the full-text index from the memories")
        version = 2 if "AUTOINCREMENT" in ddl.upper() else 1
        if version == 2:
            if "memories_embedding_immutable" not in names["trigger"]:
                conn.exec_driver_sql(_IMMUTABLE_EMBEDDING)
            conn.execute(text("INSERT OR IGNORE INTO meta(key, value) VALUES ('store_id', :id)"),
                         {"id": uuid.uuid4().hex})
        conn.exec_driver_sql(f"PRAGMA user_version = {version}")
        done.append(f"schema version set to {version} (read from the tables)")
    migrate(engine)  # the steps after it, as for any older store
    return done


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    """A sessionmaker of a store; use `with Session.begin() as s:` per unit of work."""
    return sessionmaker(engine, expire_on_commit=False)


def generation(conn: Connection | Session) -> int:
    """The counter bumped by every insert or delete of a memory."""
    return int(conn.execute(text("SELECT value FROM meta WHERE key = 'generation'")).scalar_one())
