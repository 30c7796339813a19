"""The store a URL names: SQLite with FAISS in a data folder, or PostgreSQL."""

from __future__ import annotations

from pathlib import Path

from memory_store.base import StoreBase
from memory_store.urls import sqlite_folder


def open_store(home: Path, url: str = "", *, embedding_model: str, dim: int) -> StoreBase:
    """"" or "sqlite" for SQLite + FAISS in the data folder `home`, sqlite:///FOLDER for
    the one in another data folder, postgresql+psycopg://... for PostgreSQL with
    pgvector."""
    folder = sqlite_folder(url, home)
    if folder is None:
        from memory_store.pg_store import PostgresStore

        return PostgresStore(url, embedding_model=embedding_model, dim=dim)
    from memory_store.sqlite_store import SqliteStore

    return SqliteStore(folder, embedding_model=embedding_model, dim=dim)
