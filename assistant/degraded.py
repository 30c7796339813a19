"""When the machine, not the command, is the problem: a data folder that cannot be written,
a full disk, a file size limit. The user gets one line saying so and what to do, never a
traceback (nor hundreds of them: one per log record a full disk would not take)."""

from __future__ import annotations

import errno
import logging
import os
import shutil
import sqlite3
from pathlib import Path

FULL = {errno.ENOSPC, errno.EDQUOT}
NOT_WRITABLE = {errno.EROFS, errno.EACCES, errno.EPERM}


class LogFile(logging.FileHandler):
    """The data folder's log. A record it cannot write (a full disk) is dropped without a
    word: the log is for later, the command the user ran matters now."""

    def __init__(self, path: Path) -> None:
        # A new log is private from its first byte; an existing one keeps its mode.
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600))
        super().__init__(path, encoding="utf-8")
        self.failed = False

    def handleError(self, record: logging.LogRecord) -> None:
        self.failed = True


def open_log(path: Path) -> LogFile | None:
    """The log at `path`, or None where it cannot be opened (a read-only folder)."""
    try:
        return LogFile(path)
    except OSError:
        return None


def explain(exc: BaseException, home: Path) -> str | None:
    """One line for an error the machine caused (with what to do), or None for others."""
    for cause in _chain(exc):
        if isinstance(cause, OSError) and cause.errno is not None:
            where = Path(cause.filename) if cause.filename else home
            if cause.errno in FULL:
                return _full(where, cause.strerror)
            if cause.errno == errno.EFBIG:
                return (f"{where} cannot grow: {cause.strerror} (a file size limit, see "
                        "`ulimit -f`, or a full disk); free some space or raise the limit, "
                        "then run the command again")
            if cause.errno in NOT_WRITABLE and where.resolve().is_relative_to(home.resolve()):
                return _read_only(home, f"{cause.strerror}: {where}")
        if isinstance(cause, sqlite3.Error):
            name = getattr(cause, "sqlite_errorname", "") or ""
            if name.startswith("SQLITE_FULL"):
                return _full(home, str(cause))
            if name.startswith("SQLITE_READONLY") or "readonly database" in str(cause):
                return _read_only(home, str(cause))
            if name.startswith("SQLITE_IOERR"):
                if _free(home) == 0:
                    return _full(home, str(cause))
                return (f"the memory store in {home} cannot be read or written ({cause}, "
                        f"{name}): the disk may be full or failing, or a file size limit "
                        "reached; free some space, then run the command again")
    return None


def _chain(exc: BaseException):
    """The exception, what caused it, and the driver's own error inside a SQLAlchemy one."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        yield exc
        if (orig := getattr(exc, "orig", None)) is not None:
            yield orig
        exc = exc.__cause__ or exc.__context__


def _free(home: Path) -> int | None:
    folder = next((p for p in (home, *home.parents) if p.exists()), None)
    try:
        return shutil.disk_usage(folder).free if folder else None
    except OSError:
        return None


def _full(where: Path, what: str) -> str:
    return (f"the disk holding {where} is full ({what}); free some space, then run the "
            "command again")


def _read_only(home: Path, what: str) -> str:
    return (f"{home} cannot be written ({what}), and this command needs to write there; "
            "make it writable, or give another data folder with --home")
