"""all-MiniLM-L6-v2's forward pass in NumPy, for one process's few texts: a search or a
chat turn needs one vector, and importing torch and transformers for it costs seconds
(`assistant bench cli`). Same weights, tokenizer and pooling as the torch encoder; its
vectors match to about 1e-6 (tests/test_minilm.py)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

HEADS = 12
EPS = 1e-12  # the model's layer_norm_eps


def _layer_norm(x: np.ndarray, weight: np.ndarray, bias: np.ndarray) -> np.ndarray:
    mean = x.mean(-1, keepdims=True)
    var = ((x - mean) ** 2).mean(-1, keepdims=True)
    return (x - mean) / np.sqrt(var + EPS) * weight + bias


def _erf(x: np.ndarray) -> np.ndarray:
    """Abramowitz and Stegun 7.1.26 (error under 1.5e-7, below float32's own at 1)."""
    sign = np.sign(x)
    a = np.abs(x)
    t = 1.0 / (1.0 + 0.3275911 * a)
    poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027
                                                                          + t * 1.061405429))))
    return sign * (1.0 - poly * np.exp(-a * a))


def gelu(x: np.ndarray) -> np.ndarray:
    return 0.5 * x * (1.0 + _erf(x * 0.7071067811865476))


class MiniLM:
    """Token ids -> mean-pooled unit vectors. `weights`: the model's tensors by name (the
    safetensors file's), with any adapter already merged in."""

    def __init__(self, weights: dict[str, np.ndarray], tokenizer_file: Path,
                 max_tokens: int) -> None:
        from tokenizers import Tokenizer

        self.w = weights
        self.tokenizer = Tokenizer.from_file(str(tokenizer_file))
        self.tokenizer.enable_truncation(max_length=max_tokens)
        self.tokenizer.no_padding()
        self.layers = 1 + max(int(k.split(".")[2]) for k in weights
                              if k.startswith("encoder.layer."))

    def encode(self, texts: list[str]) -> np.ndarray:
        """(n, 384) float32 unit vectors; texts are run one at a time (no padding)."""
        out = [self._one(e.ids) for e in self.tokenizer.encode_batch(texts)]
        return np.stack(out).astype(np.float32)

    def _one(self, ids: list[int]) -> np.ndarray:
        w = self.w
        n = len(ids)
        x = (w["embeddings.word_embeddings.weight"][ids]
             + w["embeddings.position_embeddings.weight"][:n]
             + w["embeddings.token_type_embeddings.weight"][0])
        x = _layer_norm(x, w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"])
        for i in range(self.layers):
            x = self._layer(x, f"encoder.layer.{i}.")
        mean = x.mean(0)
        return mean / max(float(np.linalg.norm(mean)), 1e-12)

    def _linear(self, x: np.ndarray, name: str) -> np.ndarray:
        return x @ self.w[name + ".weight"].T + self.w[name + ".bias"]

    def _layer(self, x: np.ndarray, p: str) -> np.ndarray:
        n, d = x.shape
        e = d // HEADS

        def heads(name: str) -> np.ndarray:
            return self._linear(x, p + "attention.self." + name).reshape(n, HEADS, e) \
                .transpose(1, 0, 2)  # (h, n, e)

        q, k, v = heads("query"), heads("key"), heads("value")
        scores = q @ k.transpose(0, 2, 1) / math.sqrt(e)  # (h, n, n)
        scores = np.exp(scores - scores.max(-1, keepdims=True))
        att = (scores / scores.sum(-1, keepdims=True)) @ v  # (h, n, e)
        att = att.transpose(1, 0, 2).reshape(n, d)
        x = _layer_norm(self._linear(att, p + "attention.output.dense") + x,
                        self.w[p + "attention.output.LayerNorm.weight"],
                        self.w[p + "attention.output.LayerNorm.bias"])
        hidden = gelu(self._linear(x, p + "intermediate.dense"))
        return _layer_norm(self._linear(hidden, p + "output.dense") + x,
                           self.w[p + "output.LayerNorm.weight"],
                           self.w[p + "output.LayerNorm.bias"])
