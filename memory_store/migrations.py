"""One shape of schema migration for both backends: an ordered list of named steps, each
run once, in its own transaction holding the backend's migration lock, after reading the
version again (another process may have just done it). Where the version is kept and how
the lock is taken is each backend's own (`Versions`)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy import Connection, inspect


class SchemaTooNewError(RuntimeError):
    """The database was written by a newer version of this program."""


@dataclass(frozen=True)
class Migration:
    """Step i moves the schema from version i to i + 1. Never edit a released step."""

    name: str
    apply: Callable[[Connection], None]


class Versions(Protocol):
    """Where a backend keeps its schema version, and its migration lock."""

    def locked(self) -> AbstractContextManager[Connection]:
        """A transaction that holds the lock until it ends."""
        ...

    def read(self, conn: Connection) -> int: ...

    def write(self, conn: Connection, version: int) -> None: ...


def migrate(steps: Sequence[Migration], versions: Versions, where: str,
            before: Callable[[Connection, int], None] = lambda conn, version: None) -> int:
    """Bring the schema to len(steps); returns it. `before` sees the version a step is
    about to move from (a backend's own check that the schema is what it says)."""
    while True:
        with versions.locked() as conn:
            version = versions.read(conn)
            if version > len(steps):
                raise SchemaTooNewError(f"{where}: schema version {version} is newer than "
                                        f"this program's {len(steps)}; upgrade the assistant "
                                        "to open it.")
            if version == len(steps):
                return version
            before(conn, version)
            steps[version].apply(conn)
            versions.write(conn, version + 1)


def add_message_sources(conn: Connection) -> None:
    """v3 (SQLite), v2 (PostgreSQL): messages get `sources`, an answer's sources. A store
    made new already has it (its first step creates the tables as the models are now)."""
    columns = {c["name"] for c in inspect(conn).get_columns("messages")}
    if "sources" not in columns:
        conn.exec_driver_sql("ALTER TABLE messages ADD COLUMN sources JSON")
