"""SqliteStore: the memory in one data folder. SQLite is the truth (WAL, explicit
migrations, FTS5 kept in step by triggers); FAISS is a cache of its vectors, keyed by
memory id, reconciled with it whenever another writer may have moved it."""

from __future__ import annotations

import functools
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

import numpy as np
from sqlalchemy import func, select, text

from memory_store import db, fulltext
from memory_store.base import CheckReport, StoreBase
from memory_store.db import generation, make_engine, make_sessionmaker, migrate
from memory_store.fusion import fused_hits
from memory_store.models import Memory, utcnow
from memory_store.records import Hit
from memory_store.vector_index import APPROXIMATE_AT, TRAIN_SAMPLE, VectorIndex

log = logging.getLogger(__name__)

DB_FILE = "memory.sqlite3"
INDEX_FILE = "memories.faiss"
_SQL_TIME = "%Y-%m-%d %H:%M:%S.%f"  # how SQLAlchemy stores DateTime in SQLite
_SQL_IN_BATCH = 900  # below SQLite's default limit of bound parameters


def _index_locked(method):
    """One thread at a time touches the FAISS index (the chat app searches in one worker
    while another imports or forgets); SQLite handles its own concurrency."""

    @functools.wraps(method)
    def locked(self, *args, **kwargs):
        with self._index_lock:
            return method(self, *args, **kwargs)

    return locked


class SqliteStore(StoreBase):
    """The memory store of one data folder: SQLite, FTS5 and a FAISS cache."""

    backend = "sqlite"

    def __init__(self, home: Path, *, embedding_model: str, dim: int) -> None:
        super().__init__(embedding_model=embedding_model, dim=dim)
        self.home = Path(home)
        self._index_lock = threading.RLock()
        self.db_path = self.home / DB_FILE
        if self.db_path.is_dir():  # made by `store copy --to sqlite:///.../memory.sqlite3`
            raise ValueError(f"{self.db_path} is a folder, not the database: an older "
                             f"`store copy` made it a data folder of its own. Rename it "
                             f"(e.g. to {self.home / 'copied-store'}) and use it with "
                             f"--store sqlite:///FOLDER; this data folder then works again")
        self.where = str(self.db_path)  # for messages: where the memories are
        self.index_path = self.home / INDEX_FILE
        # A folder (or database) this process cannot write is still read: searching and
        # answering work; anything that would write fails saying the store is read-only.
        self.read_only = _read_only(self.home, self.db_path)
        if self.read_only:
            self._engine = db.make_read_only_engine(self.db_path)
            migrate(self._engine, read_only=True)
        else:
            _private_folder(self.home)
            # Created 0600 before SQLite opens it: its -wal and -shm files take the
            # database file's mode, so they are private from their first byte too.
            os.close(os.open(self.db_path, os.O_CREAT | os.O_WRONLY, 0o600))
            for companion in ("-wal", "-shm"):
                if (wal := self.db_path.with_name(DB_FILE + companion)).exists():
                    wal.chmod(0o600)
            self._engine = make_engine(self.db_path)
            migrate(self._engine)
            self.db_path.chmod(0o600)
        self.Session = make_sessionmaker(self._engine)  # reads: never wait for a writer
        # Writes take the write lock when they begin: a read-then-write transaction
        # upgraded later fails at once ("database is locked") if another process wrote.
        self.Write = make_sessionmaker(self._engine.execution_options(immediate=True))
        self._opened()
        self._index = VectorIndex(dim)
        self._index_generation = -1
        self._dirty = False
        self._open_index()

    @classmethod
    def repair(cls, home: Path) -> list[str]:
        """Mend a damaged schema (`assistant doctor --repair`) after copying the database
        aside; returns what was done, the copy first."""
        path = Path(home) / DB_FILE
        backup = path.with_name(f"{DB_FILE}.before-repair-{utcnow():%Y%m%d-%H%M%S-%f}")
        copy = sqlite3.connect(path, isolation_level=None)
        try:
            copy.execute("VACUUM INTO ?", (str(backup),))  # consistent, WAL included
        finally:
            copy.close()
        backup.chmod(0o600)
        engine = make_engine(path)
        try:
            return [f"copied the database to {backup}", *db.repair(engine)]
        finally:
            engine.dispose()

    # The FAISS cache ---------------------------------------------------------------------

    @_index_locked
    def flush(self) -> None:
        """Write the FAISS cache if it changed since it was last saved."""
        self._sync_index()
        if self._dirty and not self.read_only:  # read-only: the rebuilt copy lives in memory
            meta = {"model": self.embedding_model, "dim": self.dim, "store": self.store_id,
                    "generation": self._index_generation, "count": self._index.count}
            self._index.save(self.index_path, meta)
            self._dirty = False

    def reconcile(self) -> None:
        self._sync_index(force=True)
        self.flush()

    def _open_index(self) -> None:
        loaded = VectorIndex.load(self.index_path, self.dim) if self.index_path.exists() else None
        if loaded is not None:
            index, meta = loaded
            # Another store's file (same model, same ids) would pass every id check.
            if (meta.get("model"), meta.get("dim"), meta.get("store")) == (
                    self.embedding_model, self.dim, self.store_id):
                self._index = index
                # The file's generation: if SQLite is still there, it is not rewritten.
                self._index_generation = int(meta.get("generation", -1))
            else:
                log.warning("vector index %s belongs to another store or model; rebuilding",
                            self.index_path)
        # Always reconcile ids at open: the file may be stale after a crash or another process.
        self._sync_index(force=True)
        self.flush()

    @_index_locked
    def _sync_index(self, force: bool = False) -> None:
        """Make FAISS hold exactly SQLite's memories; cheap when nothing changed."""
        with self.Session() as s:
            gen = generation(s)
            if gen == self._index_generation and not force:
                return
            sql_ids = np.fromiter(s.scalars(select(Memory.id)), dtype=np.int64)
            faiss_ids = self._index.ids()
            extra = np.setdiff1d(faiss_ids, sql_ids, assume_unique=True)
            missing = np.setdiff1d(sql_ids, faiss_ids, assume_unique=True)
            if len(extra):
                self._index.remove(extra)
            for start in range(0, len(missing), _SQL_IN_BATCH):
                batch = missing[start:start + _SQL_IN_BATCH].tolist()
                rows = s.execute(select(Memory.id, Memory.embedding).where(Memory.id.in_(batch)))
                ids, blobs = zip(*rows.all(), strict=True)
                self._index.add(ids, np.frombuffer(b"".join(blobs), dtype=np.float32))
        if len(extra) or len(missing):
            log.info("vector index synced: +%d -%d", len(missing), len(extra))
            self._dirty = True
        if gen != self._index_generation:
            self._dirty = True
            self._index_generation = gen
        self._maybe_approximate()

    @_index_locked
    def _maybe_approximate(self) -> None:
        """Past APPROXIMATE_AT memories the index becomes IVF-fp16, rebuilt from SQLite in
        batches (never all vectors in memory at once); it stays so below it."""
        if self._index.is_approximate or self._index.count < APPROXIMATE_AT:
            return
        started = time.perf_counter()
        with self.Session() as s:
            n = s.scalar(select(func.count()).select_from(Memory))
            step = max(1, n // TRAIN_SAMPLE)  # every step-th memory: a sample over all time
            sample = [np.frombuffer(b, np.float32) for b in s.scalars(
                select(Memory.embedding).where(Memory.id % step == 0).limit(TRAIN_SAMPLE))]
            index = VectorIndex.approximate(self.dim, np.stack(sample), 4 * n)  # room to grow
            last = 0
            while True:
                rows = s.execute(select(Memory.id, Memory.embedding).where(Memory.id > last)
                                 .order_by(Memory.id).limit(50_000)).all()
                if not rows:
                    break
                ids, blobs = zip(*rows, strict=True)
                index.add(ids, np.frombuffer(b"".join(blobs), np.float32))
                last = ids[-1]
        self._index, self._dirty = index, True
        log.info("vector index: %d memories, now approximate (IVF-fp16) in %.1f s",
                 index.count, time.perf_counter() - started)

    @_index_locked
    def verify_index(self) -> list[int]:
        """Ids whose FAISS vector is missing, extra or not SQLite's (after a sync): [] when
        the index holds exactly what SQLite does. Reads every vector: for checks, not
        for the hot path."""
        self._sync_index()
        held = set(self._index.ids().tolist())
        wrong = []
        with self.Session() as s:
            for mid, blob in s.execute(select(Memory.id, Memory.embedding)):
                vector = self._index.vector(mid) if mid in held else None
                if vector is None or not _same(vector, blob, self._index.is_approximate):
                    wrong.append(mid)
                held.discard(mid)
        return sorted(wrong + list(held))

    def check(self) -> CheckReport:
        """SQLite's and the full-text index's own integrity checks, foreign keys, and the
        FAISS index against SQLite vector for vector (`doctor`, `bench faults`)."""
        with self.Session() as s:
            sqlite_ok = s.execute(text("PRAGMA integrity_check")).scalar_one() == "ok"
            broken_links = len(s.execute(text("PRAGMA foreign_key_check")).all())
        try:
            with self.Write.begin() as s:
                s.execute(text("INSERT INTO memories_fts(memories_fts) "
                               "VALUES ('integrity-check')"))
            fts_ok = True
        except Exception as exc:  # SQLITE_CORRUPT_VTAB: the index disagrees with the table
            log.warning("full-text index check failed: %s", exc)
            fts_ok = False
        return CheckReport(database_ok=sqlite_ok, fulltext_ok=fts_ok, broken_links=broken_links,
                           index_mismatches=len(self.verify_index()))

    @_index_locked
    def _index_rows(self, rows: Sequence[Memory]) -> None:
        """Mirror committed rows into FAISS (a crash before this is mended by _sync_index)."""
        if rows:
            self._index.add([r.id for r in rows],
                            np.frombuffer(b"".join(r.embedding for r in rows), np.float32))
            self._dirty = True

    def _added(self, rows: Sequence[Memory]) -> None:
        self._sync_after_write(rows)

    def _changed(self) -> None:
        self._sync_index()

    @_index_locked
    def _sync_after_write(self, added: Sequence[Memory]) -> None:
        # Our own writes are mirrored directly; the generation check catches other processes.
        before = self._index_generation
        self._index_rows(added)
        with self.Session() as s:
            gen = generation(s)
        if gen - before == len(added) and before >= 0:
            self._index_generation = gen
            self._maybe_approximate()
        else:
            self._sync_index()

    @_index_locked
    def forget(self, memory_id: int) -> bool:
        """Delete a memory from SQLite, FTS and FAISS together; False if it did not exist."""
        deleted = super().forget(memory_id)
        if deleted:
            self._index.remove([memory_id])
            self._dirty = True
            self._sync_index()
            self.flush()
        return deleted

    def scrub(self) -> None:
        """FTS5 keeps a deleted row's terms in its index segments until they are merged;
        secure_delete (set on every connection) zeroes the freed pages; the checkpoint
        empties the write-ahead log that still holds the old pages."""
        with self.Write.begin() as s:
            s.execute(text("INSERT INTO memories_fts(memories_fts) VALUES ('optimize')"))
        with self._engine.connect() as conn:
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")

    # Reading -----------------------------------------------------------------------------

    @_index_locked
    def search(self, vector: np.ndarray | None, query: str = "", k: int = 10, *,
               kinds: Sequence[str] | None = None, since: datetime | None = None,
               until: datetime | None = None, depth: int | None = None) -> list[Hit]:
        """Hybrid search: dense (FAISS) and lexical (BM25) ranks fused by RRF.

        Filters run inside both searches, never after top-k, so when a vector is given
        the result has exactly k hits whenever k memories pass the filters.
        """
        self._sync_index()
        depth = max(depth or 0, 2 * k, 50)
        where, params = _filters(kinds, since, until)
        with self.Session() as s:
            allowed = None
            if where:
                allowed = np.fromiter(
                    s.scalars(select(Memory.id).where(_text_clause(where, params))), np.int64)
            dense: dict[int, float] = {}
            if vector is not None and (allowed is None or len(allowed)):
                scores, ids = self._index.search(vector, depth, allowed)
                dense = dict(zip(ids.tolist(), scores.tolist(), strict=True))
            lexical = dict(fulltext.search(s, query, depth, where, params)) if query else {}
            return fused_hits(s, dense, lexical, k)

    @_index_locked
    def nearest_ids(self, vector: np.ndarray, k: int) -> list[int]:
        self._sync_index()
        return self._index.search(vector, k)[1].tolist()

    def stats(self) -> dict:
        index = "approximate (IVF-fp16)" if self._index.is_approximate else "flat"
        return self.counts() | {"vector_index": self._index.count, "index": index,
                                "embedding_model": self.embedding_model, "backend": "sqlite",
                                "home": str(self.home)}


def _read_only(home: Path, db_path: Path) -> bool:
    """The store exists but this process cannot write it (os.access asks the kernel: a
    read-only mount, the modes and the process's privileges all count)."""
    return db_path.is_file() and not (os.access(home, os.W_OK) and os.access(db_path, os.W_OK))


def _private_folder(home: Path) -> None:
    """A new data folder is owner-only (memories are private); one that exists keeps the
    mode its owner gave it."""
    try:
        home.mkdir(parents=True, mode=0o700)
    except FileExistsError:
        return
    os.chmod(home, 0o700)  # whatever the umask took away


def _same(vector: np.ndarray, blob: bytes, approximate: bool) -> bool:
    """The index's vector is the stored one: bit for bit, or within half precision."""
    if not approximate:
        return vector.tobytes() == blob
    return bool(np.allclose(vector, np.frombuffer(blob, np.float32), atol=0.01))


def _filters(kinds, since, until) -> tuple[str, dict]:
    parts, params = [], {}
    if kinds:
        names = [f":kind{i}" for i in range(len(kinds))]
        parts.append(f"m.kind IN ({', '.join(names)})")
        params.update({n[1:]: k for n, k in zip(names, kinds, strict=True)})
    if since is not None:
        parts.append("m.created_at >= :since")
        params["since"] = since.strftime(_SQL_TIME)
    if until is not None:
        parts.append("m.created_at < :until")
        params["until"] = until.strftime(_SQL_TIME)
    return " AND ".join(parts), params


def _text_clause(where: str, params: dict):
    # The filter text refers to `m`; alias the table so both searches share one clause.
    return text(f"memories.id IN (SELECT m.id FROM memories m WHERE {where})").bindparams(**params)
