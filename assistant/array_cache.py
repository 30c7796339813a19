"""Arrays kept in the cache folder so a later process needs no torch to read them (LTM-T's
checkpoint, the answer adapter): named by the source file's content, written whole or
not at all."""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path

import numpy as np


def digest(path: Path) -> str:
    """What names a file's copy: the start of its content's SHA-256."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(1 << 20):
            h.update(block)
    return h.hexdigest()[:24]


def write(cached: Path, meta: dict, arrays: dict[str, np.ndarray]) -> None:
    """Save `meta` (JSON) and `arrays` as `cached` (.npz); a killed write leaves no half."""
    cached.parent.mkdir(parents=True, exist_ok=True)
    fd, part = tempfile.mkstemp(prefix=f".{cached.name}.", dir=cached.parent)
    try:
        with os.fdopen(fd, "wb") as f:  # np.savez would add ".npz" to a name without it
            np.savez(f, meta=np.array(json.dumps(meta)), **arrays)
            f.flush()
            os.fsync(f.fileno())
        os.replace(part, cached)
    finally:
        if os.path.exists(part):
            os.unlink(part)


def read(cached: Path) -> tuple[dict, dict[str, np.ndarray]]:
    """The meta and arrays `write` saved."""
    with np.load(cached, allow_pickle=False) as z:
        return json.loads(str(z["meta"])), {k: z[k] for k in z.files if k != "meta"}
