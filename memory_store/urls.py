"""Store URLs: which backend a URL names, and the URL fit for a message (no password)."""

from __future__ import annotations

from pathlib import Path


def redacted(url: str) -> str:
    """A store URL fit for a message or a log: its password hidden."""
    try:
        from sqlalchemy.engine import make_url

        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # not a URL at all: show only its scheme
        return url.split(":", 1)[0] + ":..."


def engine_url(url: str) -> str:
    """psycopg 3 for a bare postgresql:// URL (SQLAlchemy's default driver is psycopg2)."""
    return "postgresql+psycopg://" + url.removeprefix("postgresql://") \
        if url.startswith("postgresql://") else url


def sqlite_folder(url: str, home: Path) -> Path | None:
    """The data folder an SQLite URL names ("" and "sqlite": `home`; sqlite:///FOLDER),
    or None for a PostgreSQL URL; a ValueError for anything else."""
    if url.startswith("postgresql"):
        return None
    if url.startswith("sqlite:///"):
        return Path(url.removeprefix("sqlite://"))
    if url in ("", "sqlite"):
        return Path(home)
    raise ValueError(f"store URL {redacted(url)!r}: use sqlite (the default) or "
                     "postgresql+psycopg://USER@HOST/DATABASE")
