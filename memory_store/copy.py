"""`assistant store copy`: a whole memory from one store to another (SQLite to PostgreSQL
and back), every row with its id, so links, sources ("conversation:3#turn=4") and LTM-T
states stay valid; then both sides' rows are counted and checksummed."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime

from sqlalchemy import func, insert, select, text, update

from memory_store.base import StoreBase
from memory_store.models import Conversation, Document, Memory, Message, ModelState

# Parents before children, so every foreign key points at a row already copied.
TABLES = (Document, Conversation, Message, Memory, ModelState)
BATCH = 1000


class CopyError(RuntimeError):
    """The copy cannot start or did not arrive whole; the message says which."""


def copy_store(source: StoreBase, target: StoreBase) -> dict:
    """Copy every document, conversation, message, memory (with its embedding) and model
    state of `source` into the empty `target`; returns the counts and the checksum, the
    same on both sides (else CopyError)."""
    if any(target.counts()[k] for k in ("memories", "documents", "conversations")):
        raise CopyError(f"{target.where} already holds memories; copy into an empty store")
    links = []
    with source.Session() as src, target.Write.begin() as dst:
        for model in TABLES:
            table = model.__table__
            query = select(table).order_by(*table.primary_key.columns)
            for rows in src.execute(query).mappings().partitions(BATCH):
                rows = [dict(r) for r in rows]
                if model is Memory:  # a newer memory may come later: linked at the end
                    links += [(r["id"], r["superseded_by"]) for r in rows if r["superseded_by"]]
                    for r in rows:
                        r["superseded_by"] = None
                dst.execute(insert(table), rows)
        for old, new in links:
            dst.execute(update(Memory).where(Memory.id == old).values(superseded_by=new))
        if dst.bind.dialect.name == "postgresql":  # new rows continue after the copied ids
            for model in (Document, Conversation, Message, Memory):
                name = model.__tablename__
                dst.execute(text(f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), "
                                 f"(SELECT coalesce(max(id), 0) + 1 FROM {name}), false)"))
    target.reconcile()
    copied, arrived = summary(source), summary(target)
    if copied != arrived:
        raise CopyError(f"the copy in {target.where} differs from {source.where}: "
                        f"{arrived} != {copied}")
    return arrived


def summary(store: StoreBase) -> dict:
    """Rows per table and one SHA-256 over all of them, in id order (text, times, links,
    embeddings, states), comparable across backends."""
    digest = hashlib.sha256()
    counts = {}
    with store.Session() as s:
        for model in TABLES:
            table = model.__table__
            counts[table.name] = s.scalar(select(func.count()).select_from(table))
            query = select(table).order_by(*table.primary_key.columns)
            for row in s.execute(query).mappings():
                digest.update(json.dumps({k: _plain(v) for k, v in row.items()},
                                         sort_keys=True).encode())
    return {"rows": counts, "sha256": digest.hexdigest()}


def _plain(value):
    if isinstance(value, bytes):
        return hashlib.sha256(value).hexdigest()
    if isinstance(value, datetime):
        return value.isoformat()
    return value
