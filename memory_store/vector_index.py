"""FAISS cache of the memories' embeddings: IndexIDMap2 over IndexFlatIP, SQL id == FAISS id.

The file is only a cache of SQLite. It is written atomically (temp file + rename, under a
file lock) with a JSON sidecar saying which embedding model and store generation it holds;
anything unreadable or mismatched is reported as missing so the store rebuilds it.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import tempfile
import threading
from collections.abc import Iterable
from contextlib import contextmanager
from pathlib import Path

import faiss
import numpy as np

log = logging.getLogger(__name__)


class VectorIndex:
    """Inner-product search over L2-normalised vectors keyed by memory id."""

    def __init__(self, dim: int) -> None:
        self.dim = dim
        self._index = faiss.IndexIDMap2(faiss.IndexFlatIP(dim))
        # FAISS objects are not safe to mutate while another thread searches them.
        self._lock = threading.Lock()

    @property
    def count(self) -> int:
        return int(self._index.ntotal)

    def ids(self) -> np.ndarray:
        """All ids held, as int64."""
        with self._lock:
            return faiss.vector_to_array(self._index.id_map).astype(np.int64)

    def vector(self, memory_id: int) -> np.ndarray:
        """The vector held under `memory_id` (which must be held)."""
        with self._lock:
            return self._index.reconstruct(int(memory_id))

    def add(self, ids: Iterable[int], vectors: np.ndarray) -> None:
        ids_arr = np.asarray(list(ids), dtype=np.int64)
        vecs = np.ascontiguousarray(vectors, dtype=np.float32).reshape(-1, self.dim)
        assert len(ids_arr) == len(vecs), f"{len(ids_arr)} ids for {len(vecs)} vectors"
        if len(ids_arr):
            with self._lock:
                self._index.add_with_ids(vecs, ids_arr)

    def remove(self, ids: Iterable[int]) -> int:
        ids_arr = np.asarray(list(ids), dtype=np.int64)
        if not len(ids_arr):
            return 0
        with self._lock:
            return int(self._index.remove_ids(faiss.IDSelectorBatch(ids_arr)))

    def search(
        self, query: np.ndarray, k: int, allowed: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top-k (scores, ids) for one query; `allowed` restricts ids inside FAISS, so a
        filter never leaves fewer than k results when k allowed ones exist."""
        q = np.ascontiguousarray(query, dtype=np.float32).reshape(1, self.dim)
        params = None
        if allowed is not None:
            params = faiss.SearchParameters(sel=faiss.IDSelectorBatch(allowed.astype(np.int64)))
        with self._lock:
            k = min(k, self.count)
            if k <= 0:
                return np.empty(0, np.float32), np.empty(0, np.int64)
            scores, ids = self._index.search(q, k, params=params)
        keep = ids[0] >= 0
        return scores[0][keep], ids[0][keep]

    # Files ------------------------------------------------------------------------------

    def save(self, path: Path, meta: dict) -> None:
        """Write index and sidecar atomically; concurrent writers are serialised by a lock file."""
        with _file_lock(path), self._lock:
            _atomic_write(path, faiss.serialize_index(self._index).tobytes())
            _atomic_write(_meta_path(path), json.dumps(meta).encode())

    @classmethod
    def load(cls, path: Path, dim: int) -> tuple[VectorIndex, dict] | None:
        """The saved index and its sidecar, or None when missing, unreadable or the wrong shape."""
        try:
            with _file_lock(path):
                meta = json.loads(_meta_path(path).read_text())
                raw = np.frombuffer(path.read_bytes(), dtype=np.uint8)
            # No downcast_index: its result does not own the index, which is then freed.
            index = faiss.deserialize_index(raw)
        except (OSError, ValueError, RuntimeError) as exc:
            # A deleted or garbage file is expected after a crash or by hand; SQLite has it all.
            log.warning("vector index %s unusable (%s); it will be rebuilt", path, exc)
            return None
        if not isinstance(index, faiss.IndexIDMap2) or index.d != dim:
            log.warning("vector index %s has the wrong type or dimension; rebuilding", path)
            return None
        self = cls(dim)
        self._index = index
        return self, meta


def _meta_path(path: Path) -> Path:
    return path.with_name(path.name + ".json")


def _atomic_write(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name + ".", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@contextmanager
def _file_lock(path: Path):
    with open(path.with_name(path.name + ".lock"), "a+") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
