"""The embedded SmolLM2 (any plain Llama in a model cache) answered by NumPy alone: torch's
import was 2 of the ~4 s a cold `assistant ask` took, and most of the app's wait for its
models. The weights are the cache's float32 safetensors, mapped rather than read; an
answer adapter (lora.py) is added into them at load as lora.merge adds it in torch.

smollm.py stays the torch twin for training; tests/test_generator.py checks this one's
logits against it and its greedy tokens against transformers' generate."""

from __future__ import annotations

import json
import logging
import math
import mmap
import re
from pathlib import Path

import numpy as np

from assistant import array_cache
from assistant.answer.backends.smollm_files import Config, Tokenizer, Unsupported

log = logging.getLogger(__name__)

# What lora.py adapts: the projections of attention and the MLP, named as in its adapters.
_ADAPTED = re.compile(r"layers\.\d+\.(?:self_attn\.[qkvo]_proj|mlp\.(?:gate|up|down)_proj)")
QUERY_BLOCK = 128  # prompt positions attended at once: bounds the scores' memory


def read_safetensors(path: Path) -> dict[str, np.ndarray]:
    """Every float32 tensor of a safetensors file, as read-only views of the mapped file."""
    with open(path, "rb") as f:
        size = int.from_bytes(f.read(8), "little")
        if not 2 <= size <= 100_000_000:
            raise ValueError(f"{path} is not a safetensors file (header of {size} bytes)")
        header = json.loads(f.read(size))
        mapped = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
    arrays = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        if info["dtype"] != "F32":
            raise Unsupported(f"{path}: {name} is {info['dtype']}, not float32")
        begin, end = info["data_offsets"]
        count = (end - begin) // 4
        arrays[name] = np.frombuffer(mapped, np.float32, count, 8 + size + begin
                                     ).reshape(info["shape"])
    return arrays


def _rms_norm(x: np.ndarray, weight: np.ndarray, eps: float) -> np.ndarray:
    return weight * (x * (1.0 / np.sqrt(np.mean(x * x, -1, keepdims=True) + eps)))


def _silu(x: np.ndarray) -> np.ndarray:
    with np.errstate(over="ignore"):  # exp(-x) overflows for very negative x: silu is -0
        e = np.exp(-x)
        e += 1.0
        return np.divide(x, e, out=e)


def _rotate(x: np.ndarray, cos: np.ndarray, sin: np.ndarray) -> np.ndarray:
    half = x.shape[-1] // 2
    return x * cos + np.concatenate((-x[..., half:], x[..., :half]), -1) * sin


class Cache:
    """The keys and values of every layer so far, for one stream; grows by doubling."""

    def __init__(self, layers: int, kv_heads: int, head_dim: int) -> None:
        self.keys = [np.empty((kv_heads, 0, head_dim), np.float32) for _ in range(layers)]
        self.values = [k.copy() for k in self.keys]
        self.length = 0

    def add(self, layer: int, k: np.ndarray, v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Append one layer's new keys and values (kv_heads, t, head_dim); all so far."""
        end = self.length + k.shape[1]
        if end > self.keys[layer].shape[1]:
            room = max(end, 2 * self.keys[layer].shape[1], 64)
            for store in (self.keys, self.values):
                grown = np.empty(store[layer].shape[:1] + (room,) + store[layer].shape[2:],
                                 np.float32)
                grown[:, :self.length] = store[layer][:, :self.length]
                store[layer] = grown
        self.keys[layer][:, self.length:end] = k
        self.values[layer][:, self.length:end] = v
        return self.keys[layer][:, :end], self.values[layer][:, :end]


class NumpyLlama:
    """A Llama's forward pass with a KV cache, greedy use only (the assistant's)."""

    def __init__(self, cfg: Config, weights: dict[str, np.ndarray], eos: list[int]) -> None:
        self.cfg, self.weights, self.eos = cfg, weights, eos
        self.max_positions = cfg.max_position_embeddings
        w = weights
        self.embed = w["model.embed_tokens.weight"]
        self.head = self.embed if cfg.tie_word_embeddings else w["lm_head.weight"]
        self.norm = w["model.norm.weight"]
        names = ("input_layernorm", "self_attn.q_proj", "self_attn.k_proj",
                 "self_attn.v_proj", "self_attn.o_proj", "post_attention_layernorm",
                 "mlp.gate_proj", "mlp.up_proj", "mlp.down_proj")
        self.layers = [tuple(w[f"model.layers.{i}.{n}.weight"] for n in names)
                       for i in range(cfg.num_hidden_layers)]
        d, q, kv, m = (cfg.hidden_size, cfg.num_attention_heads * cfg.head_dim,
                       cfg.num_key_value_heads * cfg.head_dim, cfg.intermediate_size)
        shapes = [(d,), (q, d), (kv, d), (kv, d), (d, q), (d,), (m, d), (m, d), (d, m)]
        for i, layer in enumerate(self.layers):  # a wrong file fails here, not mid-answer
            for name, array, shape in zip(names, layer, shapes, strict=True):
                if array.shape != shape:
                    raise ValueError(f"layer {i} {name} is {array.shape}, not {shape}")
        if self.embed.shape != (cfg.vocab_size, d) or self.head.shape != self.embed.shape:
            raise ValueError(f"embeddings are {self.embed.shape}, not {(cfg.vocab_size, d)}")
        # RoPE's default frequencies, as transformers computes them (float32 throughout).
        hd = cfg.head_dim
        self.inv_freq = (1.0 / (cfg.rope_theta ** (
            np.arange(0, hd, 2, dtype=np.int64).astype(np.float32) / hd))).astype(np.float32)

    def merged(self, adapter: dict, source: str) -> NumpyLlama:
        """This model with an answer adapter added into its weights (see merge)."""
        return NumpyLlama(self.cfg, merge(self.weights, adapter, source), self.eos)

    def new_cache(self) -> Cache:
        return Cache(self.cfg.num_hidden_layers, self.cfg.num_key_value_heads,
                     self.cfg.head_dim)

    def forward(self, ids: list[int], cache: Cache) -> np.ndarray:
        """The next-token logits (vocab,) after `ids`, which follow what `cache` holds."""
        c, t, start = self.cfg, len(ids), cache.length
        heads, kv, hd = c.num_attention_heads, c.num_key_value_heads, c.head_dim
        freqs = np.arange(start, start + t, dtype=np.float32)[:, None] * self.inv_freq
        emb = np.concatenate((freqs, freqs), -1)
        cos, sin = np.cos(emb), np.sin(emb)  # (t, hd), shared by every head
        x = self.embed[ids]  # (t, hidden), a copy: the mapped weights stay untouched
        for i, (n1, wq, wk, wv, wo, n2, wg, wu, wd) in enumerate(self.layers):
            h = _rms_norm(x, n1, c.rms_norm_eps)
            q = _rotate((h @ wq.T).reshape(t, heads, hd).transpose(1, 0, 2), cos, sin)
            k = _rotate((h @ wk.T).reshape(t, kv, hd).transpose(1, 0, 2), cos, sin)
            v = (h @ wv.T).reshape(t, kv, hd).transpose(1, 0, 2)
            keys, values = cache.add(i, k, v)
            x = x + self._attend(q, keys, values, start) @ wo.T
            h = _rms_norm(x, n2, c.rms_norm_eps)
            x = x + (_silu(h @ wg.T) * (h @ wu.T)) @ wd.T
        cache.length += t
        return _rms_norm(x[-1], self.norm, c.rms_norm_eps) @ self.head.T

    def _attend(self, q: np.ndarray, keys: np.ndarray, values: np.ndarray,
                start: int) -> np.ndarray:
        """Causal grouped-query attention of q (heads, t, hd) over all keys (kv, L, hd);
        (t, heads * hd)."""
        heads, t, hd = q.shape
        kv = keys.shape[0]
        groups = heads // kv
        out = np.empty((kv, groups, t, hd), np.float32)
        q = q.reshape(kv, groups, t, hd) * np.float32(1 / math.sqrt(hd))
        for s in range(0, t, QUERY_BLOCK):
            e = min(t, s + QUERY_BLOCK)
            seen = start + e  # causal: the keys after this block's last position are unseen
            tri = None
            if e - s > 1:  # position start + j sees up to itself among the block's own keys
                tri = np.triu(np.full((e - s, e - s), -np.inf, np.float32), 1)
            # One 2-D product per kv head: NumPy's stacked matmul is ~3x slower here.
            for j in range(kv):
                scores = (q[j, :, s:e].reshape(-1, hd) @ keys[j, :seen].T).reshape(
                    groups, e - s, seen)
                if tri is not None:
                    scores[:, :, seen - (e - s):] += tri
                scores -= scores.max(-1, keepdims=True)
                np.exp(scores, out=scores)
                scores /= scores.sum(-1, keepdims=True)
                out[j, :, s:e] = (scores.reshape(-1, seen) @ values[j, :seen]).reshape(
                    groups, e - s, hd)
        return out.reshape(heads, t, hd).transpose(1, 0, 2).reshape(t, heads * hd)


def merge(weights: dict[str, np.ndarray], adapter: dict, source: str) -> dict[str, np.ndarray]:
    """`weights` with the adapter's low-rank updates added (W + scale * B @ A), checking
    every shape first, with lora.merge's checks and messages."""
    scale = adapter["alpha"] / adapter["rank"]
    keys = {}
    for name, (a, b) in adapter["weights"].items():
        key = f"model.{name}.weight"
        if key not in weights or not _ADAPTED.fullmatch(name):
            raise ValueError(f"{source} adapts {name}, which this model does not have: it "
                             f"was trained for {adapter.get('base')}")
        if (b.shape[0], a.shape[1]) != weights[key].shape:
            raise ValueError(f"{source}: {name} is {weights[key].shape} here but "
                             f"{(b.shape[0], a.shape[1])} in the adapter (trained for "
                             f"{adapter.get('base')})")
        keys[name] = key
    merged = dict(weights)
    for name, (a, b) in adapter["weights"].items():
        merged[keys[name]] = weights[keys[name]] + (b @ a) * np.float32(scale)
    return merged


def load_adapter(path: Path, cache_dir: Path) -> dict:
    """An adapter file (torch-saved by `assistant train-generator`) as NumPy arrays, kept
    once in `cache_dir` by the file's content, so only its first load needs torch; a
    copy that cannot be read is made again."""
    cached = Path(cache_dir) / f"lora-{array_cache.digest(path)}.npz"
    if cached.is_file():
        try:
            adapter, arrays = array_cache.read(cached)
            adapter["weights"] = {k[2:]: (v, arrays["b/" + k[2:]]) for k, v in arrays.items()
                                  if k.startswith("a/")}
            return adapter
        except Exception as exc:  # a half-written or damaged copy: made again below
            log.warning("adapter copy %s unreadable (%s); making it again", cached, exc)
    from assistant import lora  # torch: this once only

    adapter = lora.load(path)
    adapter["weights"] = {name: (a.float().numpy(), b.float().numpy())
                          for name, (a, b) in adapter["weights"].items()}
    try:
        array_cache.write(cached, {k: v for k, v in adapter.items() if k != "weights"},
                          {f"{side}/{name}": pair[i] for name, pair in adapter["weights"].items()
                           for i, side in enumerate("ab")})
    except OSError as exc:  # a read-only cache costs the next start torch, not the answer
        log.warning("could not keep adapter %s in %s (%s)", path, cache_dir, exc)
    return adapter


def load(folder: Path) -> tuple[NumpyLlama, Tokenizer]:
    """The runtime and tokenizer of a cache folder written by EmbeddedGenerator; raises
    Unsupported for a model it does not run."""
    cfg = Config.read(folder / "config.json")
    generation = json.loads((folder / "generation_config.json").read_text()) \
        if (folder / "generation_config.json").is_file() else {}
    eos = generation.get("eos_token_id", [])
    weights = read_safetensors(folder / "model.safetensors")
    expected = 3 + 9 * cfg.num_hidden_layers - ("lm_head.weight" not in weights)
    if len(weights) != expected or "model.embed_tokens.weight" not in weights:
        raise ValueError(f"{folder / 'model.safetensors'} holds {len(weights)} tensors, "
                         f"not the {expected} of this config")
    return NumpyLlama(cfg, weights, eos if isinstance(eos, list) else [eos]), \
        Tokenizer(folder)
