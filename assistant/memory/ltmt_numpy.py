"""LTM-T's inference (query, read, write) in NumPy: what every recall runs, so a search or
a chat turn needs no torch. Training keeps the torch model (ltmt.py); this twin is made
from its weights and gives the same numbers to about 1e-6 (tests/test_ltmt.py).
Shapes as in ltmt.py: x (B, d), state (B, S, d), memories (B, K, d)."""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from assistant import array_cache
from assistant.memory.minilm import gelu

CACHE_FORMAT = 1
_LOADED: dict[str, LTMTNumpy] = {}  # by cache file: one per checkpoint, for every agent
_LOADING = threading.Lock()


def _softmax(x: np.ndarray, axis: int = -1) -> np.ndarray:
    top = np.max(x, axis=axis, keepdims=True)
    top = np.where(np.isfinite(top), top, 0.0)
    e = np.exp(x - top)
    total = e.sum(axis=axis, keepdims=True)
    return np.divide(e, total, out=np.zeros_like(e), where=total > 0)  # all masked -> 0


def _normalize(x: np.ndarray) -> np.ndarray:
    return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-12)


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


@dataclass
class Config:
    dim: int
    slots: int
    heads: int
    n_features: int


class LTMTNumpy:
    """The trained model's parameters as float32 arrays, by their torch names."""

    def __init__(self, config: dict, params: dict[str, np.ndarray],
                 query_adapter: dict | None) -> None:
        self.cfg = Config(config["dim"], config["slots"], config["heads"],
                          config["n_features"])
        self.p = {k: np.asarray(v, np.float32) for k, v in params.items()}
        self.query_adapter = query_adapter  # weights: name -> (a, b) arrays

    def _linear(self, x: np.ndarray, name: str) -> np.ndarray:
        out = x @ self.p[name + ".weight"].T
        bias = self.p.get(name + ".bias")
        return out if bias is None else out + bias

    def initial_state(self, batch: int = 1) -> np.ndarray:
        return np.repeat(self.p["init_state"][None], batch, 0).copy()  # (B, S, d)

    def context(self, x: np.ndarray, state: np.ndarray) -> np.ndarray:
        att = _softmax(np.einsum("bd,bsd->bs", x, state) / math.sqrt(self.cfg.dim))
        return _sigmoid(self.p["ctx_gate"]) * np.einsum("bs,bsd->bd", att, state)

    def query(self, x: np.ndarray, state: np.ndarray) -> np.ndarray:
        c = self.context(x, state)
        return _normalize(x + self._linear(np.concatenate([x, c], -1), "query_mix"))

    def read(self, x: np.ndarray, state: np.ndarray, memories: np.ndarray,
             features: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        B, K, d = memories.shape
        h = self.cfg.heads
        c = self.context(x, state)
        u = x + c
        q = _normalize(x + self._linear(np.concatenate([x, c], -1), "query_mix"))
        keys = self._linear(memories + self._linear(features, "feat_key"), "w_k")
        qh = _normalize(self._linear(u, "w_q").reshape(B, h, d // h))
        kh = _normalize(keys.reshape(B, K, h, d // h))
        per_head = np.einsum("bhe,bkhe->bkh", qh, kh)
        heads = (per_head * _softmax(self.p["head_mix"], 0)).sum(-1)
        direct = np.einsum("bd,bkd->bk", q, memories)
        logits = np.exp(self.p["temperature"]) * (heads + self.p["query_weight"] * direct) / 2
        hidden = gelu(self._linear(features, "feat_score.0"))
        logits = logits + self._linear(hidden, "feat_score.3")[..., 0]
        logits = np.where(mask, logits, -np.inf).astype(np.float32)
        alpha = _softmax(logits)
        return logits, np.einsum("bk,bkd->bd", alpha, memories)

    def write(self, state: np.ndarray, x: np.ndarray, read: np.ndarray) -> np.ndarray:
        S = state.shape[1]
        inp = np.concatenate([state, np.repeat(x[:, None], S, 1),
                              np.repeat(read[:, None], S, 1)], -1)
        z = _sigmoid(self._linear(inp, "write_gate"))
        cand = np.tanh(self._linear(inp, "write_cand"))
        return ((1 - z) * state + z * cand).astype(np.float32)


def load_weights(path: Path | None, cache_dir: Path) -> LTMTNumpy:
    """The shipped (or given) trained weights; a missing file is an error, never a silent
    fallback to plain retrieval."""
    from assistant.shipped import shipped

    path = Path(path) if path is not None else shipped("ltmt.pt")
    if not path.is_file():
        raise FileNotFoundError(f"LTM-T weights {path} do not exist; give a checkpoint made "
                                "by `assistant train`, or --no-ltmt for plain retrieval")
    return load(path, cache_dir)


def load(path: Path, cache_dir: Path) -> LTMTNumpy:
    """The checkpoint at `path` for inference. Its arrays are kept once in `cache_dir`
    (keyed by the file's content), so only the first load of a checkpoint needs torch."""
    cached = Path(cache_dir) / f"ltmt-{array_cache.digest(path)}.npz"
    with _LOADING:
        if str(cached) not in _LOADED:
            if not cached.is_file():
                _write_cache(path, cached)
            _LOADED[str(cached)] = _read_cache(cached)
        return _LOADED[str(cached)]


def from_torch(model) -> LTMTNumpy:
    """The inference twin of a torch LTM-T (training and tests hold one)."""
    return LTMTNumpy(model.cfg.to_dict(), {k: v.detach().numpy()
                                           for k, v in model.state_dict().items()},
                     model.query_adapter)


def _write_cache(path: Path, cached: Path) -> None:
    from assistant.memory.weights import load_checkpoint  # torch: this once only

    model = load_checkpoint(path)[0]
    arrays = {f"p/{k}": v.detach().numpy() for k, v in model.state_dict().items()}
    adapter = model.query_adapter
    meta = {"format": CACHE_FORMAT, "config": model.cfg.to_dict(), "adapter": None}
    if adapter is not None:
        meta["adapter"] = {k: v for k, v in adapter.items() if k != "weights"}
        for name, (a, b) in adapter["weights"].items():
            arrays[f"a/{name}"], arrays[f"b/{name}"] = a.float().numpy(), b.float().numpy()
    array_cache.write(cached, meta, arrays)


def _read_cache(cached: Path) -> LTMTNumpy:
    meta, arrays = array_cache.read(cached)
    params = {k[2:]: v for k, v in arrays.items() if k.startswith("p/")}
    adapter = meta["adapter"]
    if adapter is not None:
        adapter["weights"] = {k[2:]: (v, arrays["b/" + k[2:]]) for k, v in arrays.items()
                              if k.startswith("a/")}
    return LTMTNumpy(meta["config"], params, adapter)
