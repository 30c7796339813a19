"""Store URLs: which backend a URL names, and the URL fit for a message (no password)."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import quote

_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*")
# Connection options whose value is a secret (libpq's password and sslpassword); others,
# such as an sslkey path, are shown: they say which key, not what is in it.
_SECRET_OPTIONS = ("password", "secret", "token")
# An SQLite database named as a file: the store is a folder with the database inside.
_DATABASE_SUFFIXES = {".sqlite3", ".sqlite", ".db"}
ENCODE_ADVICE = ("percent-encode an @ in the user name, password or options as %40 (and : "
                 "/ ? # as %3A %2F %3F %23), or give the password in PGPASSWORD or ~/.pgpass")


def redacted(url: str) -> str:
    """A store URL fit for a message or a log: the password and secret options hidden,
    and with more than one '@' (a password not percent-encoded: where it ends is a guess)
    everything before the last one."""
    if url in ("", "sqlite") or url.startswith("sqlite:///"):
        return url  # a path: nothing secret
    from sqlalchemy.engine import make_url

    scheme = url.split("://", 1)[0] if "://" in url else ""
    scheme = scheme if _SCHEME.fullmatch(scheme) else "?"
    if url.count("@") > 1:
        # A password not percent-encoded: where it ends is a guess, so all before the last
        # "@" is hidden; after it come the host and database, unless an option holds it.
        before, tail = url.rsplit("@", 1)
        shown = "..." if "?" in before else redacted(f"{scheme}://{tail}").split("://", 1)[1]
        return f"{scheme}://***@{shown}"
    try:
        parsed = make_url(url)
    except Exception:  # not a URL at all (a port that is not a number): only its scheme
        return f"{scheme}://..."
    options = "&".join(f"{key}={'***' if key.lower().endswith(_SECRET_OPTIONS) else quote(v)}"
                       for key, values in parsed.query.items()
                       for v in (values if isinstance(values, tuple) else (values,)))
    return parsed.set(query={}).render_as_string(hide_password=True) + \
        ("?" + options if options else "")


def engine_url(url: str) -> str:
    """psycopg 3 for a bare postgresql:// URL (SQLAlchemy's default driver is psycopg2).
    A ValueError (naming the URL redacted) for a URL whose password or user name holds an
    '@' or other reserved character not percent-encoded: its parts would be a guess, and
    the tail of the password taken for the host would reach errors and the log."""
    from sqlalchemy.engine import make_url

    try:
        make_url(url)
    except Exception:
        raise ValueError(f"store URL {redacted(url)!r} cannot be read: {ENCODE_ADVICE}"
                         ) from None  # the parser's message quotes the password
    if url.count("@") > 1:
        raise ValueError(f"store URL {redacted(url)!r} holds more than one '@': "
                         f"{ENCODE_ADVICE}")
    return "postgresql+psycopg://" + url.removeprefix("postgresql://") \
        if url.startswith("postgresql://") else url


def sqlite_folder(url: str, home: Path) -> Path | None:
    """The data folder an SQLite URL names ("" and "sqlite": `home`; sqlite:///FOLDER, or
    sqlite:///FOLDER/memory.sqlite3, its database file, as SQLAlchemy names one), or None
    for a PostgreSQL URL; a ValueError for anything else, such as another file."""
    if url.startswith("postgresql"):
        return None
    if url.startswith("sqlite:///"):
        return _folder(url, Path("/" + url.removeprefix("sqlite:///").lstrip("/")))
    if url in ("", "sqlite"):
        return Path(home)
    raise ValueError(f"store URL {redacted(url)!r}: use sqlite (the default), "
                     "sqlite:///FOLDER or postgresql+psycopg://USER@HOST/DATABASE")


def _folder(url: str, path: Path) -> Path:
    from memory_store.sqlite_store import DB_FILE

    if path.name == DB_FILE:  # the store's own database file: the store is its folder
        return path.parent
    if path.is_dir():
        return path
    if path.exists() or path.suffix.lower() in _DATABASE_SUFFIXES:
        raise ValueError(f"store URL {url!r} names a file; an SQLite store is a folder "
                         f"({DB_FILE} and its index inside): use sqlite:///FOLDER or "
                         f"sqlite:///FOLDER/{DB_FILE}")
    return path
