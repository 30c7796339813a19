"""FAISS cache of the memories' embeddings, SQL id == FAISS id: exact (IndexIDMap2 over
IndexFlatIP) up to APPROXIMATE_AT memories, then approximate (IVF over half-precision
vectors: half the memory, and only NPROBE of its lists searched per query).

The file is only a cache of SQLite. It is written atomically (temp file + rename, under a
file lock) with a JSON sidecar saying which embedding model and store generation it holds,
and the SHA-256 of the very file it describes: an index file without its own sidecar (another
store's, an old copy put back by hand) is never taken for this one. Anything unreadable or
mismatched is reported as missing so the store rebuilds it.
"""

from __future__ import annotations

import fcntl
import hashlib
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

APPROXIMATE_AT = 250_000  # below, flat search is exact and quick enough (p95 ~16 ms at 100k)
NPROBE = 32  # IVF lists searched per query: recall@10 0.98 against exact at 1M (bench scale)
TRAIN_SAMPLE = 64_000  # vectors the IVF centroids are trained on


def ivf_lists(n: int) -> int:
    """IVF lists for about n vectors: ~4 sqrt(n), FAISS's usual rule."""
    return max(64, int(4 * n ** 0.5))


class VectorIndex:
    """Inner-product search over L2-normalised vectors keyed by memory id."""

    def __init__(self, dim: int, index: faiss.Index | None = None) -> None:
        self.dim = dim
        self._index = index if index is not None else faiss.IndexIDMap2(faiss.IndexFlatIP(dim))
        # FAISS objects are not safe to mutate while another thread searches them.
        self._lock = threading.Lock()

    @classmethod
    def approximate(cls, dim: int, sample: np.ndarray, expected: int) -> VectorIndex:
        """An empty IVF-fp16 index trained on `sample`, sized for `expected` vectors; it can
        remove ids (through its hash-table map), as forgetting needs."""
        index = faiss.index_factory(dim, f"IVF{ivf_lists(expected)},SQfp16",
                                    faiss.METRIC_INNER_PRODUCT)
        index.train(np.ascontiguousarray(sample, dtype=np.float32))
        index.set_direct_map_type(faiss.DirectMap.Hashtable)
        index.nprobe = NPROBE
        return cls(dim, index)

    @property
    def is_approximate(self) -> bool:
        return isinstance(self._index, faiss.IndexIVF)

    @property
    def count(self) -> int:
        return int(self._index.ntotal)

    def ids(self) -> np.ndarray:
        """All ids held, as int64."""
        with self._lock:
            if not self.is_approximate:
                return faiss.vector_to_array(self._index.id_map).astype(np.int64)
            lists = self._index.invlists
            held = [faiss.rev_swig_ptr(lists.get_ids(i), lists.list_size(i)).copy()
                    for i in range(lists.nlist) if lists.list_size(i)]
            return np.concatenate(held).astype(np.int64) if held else np.empty(0, np.int64)

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
            if self.is_approximate:  # its hash-table map removes by an id array only
                sel = faiss.IDSelectorArray(len(ids_arr), faiss.swig_ptr(ids_arr))
                return int(self._index.remove_ids(sel))
            return int(self._index.remove_ids(faiss.IDSelectorBatch(ids_arr)))

    def search(
        self, query: np.ndarray, k: int, allowed: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top-k (scores, ids) for one query; `allowed` restricts ids inside FAISS, so a
        filter never leaves fewer than k results when k allowed ones exist."""
        q = np.ascontiguousarray(query, dtype=np.float32).reshape(1, self.dim)
        params = None
        if allowed is not None:
            sel = faiss.IDSelectorBatch(allowed.astype(np.int64))
            params = faiss.SearchParametersIVF(sel=sel, nprobe=self._index.nprobe) \
                if self.is_approximate else faiss.SearchParameters(sel=sel)
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
        digest = hashlib.sha256()

        def write(chunk: bytes, f) -> None:
            digest.update(chunk)
            f.write(chunk)

        with _file_lock(path), self._lock:
            # Written by FAISS straight to the file: no copy of the index in memory.
            _atomic_write(path, lambda f: faiss.write_index(
                self._index, faiss.PyCallbackIOWriter(lambda chunk: write(chunk, f))))
            _atomic_write(_meta_path(path),
                          json.dumps(meta | {SHA256: digest.hexdigest()}).encode())

    @classmethod
    def load(cls, path: Path, dim: int) -> tuple[VectorIndex, dict] | None:
        """The saved index and its sidecar, or None when missing, unreadable, the wrong
        shape, or not the file its sidecar was written with."""
        try:
            with _file_lock(path):
                meta = json.loads(_meta_path(path).read_text())
                if not isinstance(meta, dict) or not isinstance(meta.get(SHA256), str):
                    raise ValueError(f"{_meta_path(path).name} does not say which file it "
                                     "describes")
                index, digest = _read_hashed(path)
        except (OSError, ValueError, RuntimeError) as exc:
            # A deleted or garbage file is expected after a crash or by hand; SQLite has it all.
            log.warning("vector index %s unusable (%s); it will be rebuilt", path, exc)
            return None
        if digest != meta[SHA256]:
            log.warning("vector index %s is not the file its sidecar describes; rebuilding",
                        path)
            return None
        if not isinstance(index, faiss.IndexIDMap2 | faiss.IndexIVF) or index.d != dim:
            log.warning("vector index %s has the wrong type or dimension; rebuilding", path)
            return None
        if isinstance(index, faiss.IndexIVF):
            index.set_direct_map_type(faiss.DirectMap.Hashtable)  # not kept in the file
            index.nprobe = NPROBE
        return cls(dim, index), meta


SHA256 = "sha256"  # the sidecar's key for the digest of its index file


def _meta_path(path: Path) -> Path:
    return path.with_name(path.name + ".json")


def _read_hashed(path: Path) -> tuple[faiss.Index, str]:
    """The index in `path`, read by FAISS straight from the file (no copy in memory), and
    the SHA-256 of every byte of the file, taken as it passes."""
    digest = hashlib.sha256()

    with open(path, "rb") as f:
        def read(n: int) -> bytes:
            chunk = f.read(n)
            digest.update(chunk)
            return chunk

        index = faiss.read_index(faiss.PyCallbackIOReader(read))
        digest.update(f.read())  # anything after the index makes it another file
    return index, digest.hexdigest()


def _atomic_write(path: Path, data) -> None:
    """`data` (bytes, or a function writing to the open file) into `path`, all or nothing."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name + ".", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            if callable(data):
                data(f)
            else:
                f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@contextmanager
def _file_lock(path: Path):
    name = path.with_name(path.name + ".lock")
    try:
        lock = open(name, "a+")  # closed by the `with` below
    except OSError:
        if os.access(path.parent, os.W_OK):
            raise
        # A folder this process cannot write (it only loads then): read the files as they are.
        yield
        return
    with lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
