"""LTM-T on disk: checkpoints (config, weights, query adapter and the record of how they
were made, so the file alone rebuilds the model), the shipped weights, and one loaded
copy per file for every agent of the process."""

from __future__ import annotations

import threading
from pathlib import Path

import torch

from assistant.memory.encoder import query_encoder  # noqa: F401 (its home before)
from assistant.memory.ltmt import LTMT, LTMTConfig
from assistant.shipped import shipped

WEIGHTS_FILE = "ltmt.pt"  # the shipped weights (`assistant train`, data/ltmt.json)
_LOADED: dict[tuple[str, int], LTMT] = {}  # inference only, so one copy serves every agent
_LOADING = threading.Lock()


def save_checkpoint(model: LTMT, path, record: dict | None = None) -> None:
    """Weights with their config, query adapter and how they were made."""
    torch.save({"config": model.cfg.to_dict(), "state_dict": model.state_dict(),
                "query_adapter": model.query_adapter, "record": record or {}}, path)


def load_checkpoint(path) -> tuple[LTMT, dict]:
    """The model a checkpoint holds (in eval mode) and its record; a clear error naming
    the file when it cannot be read."""
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
        model = LTMT(LTMTConfig(**ckpt["config"]))
        model.load_state_dict(ckpt["state_dict"])
    except Exception as exc:  # torch's own message is pages long: the cause is chained
        raise ValueError(f"LTM-T weights {path} cannot be read: not an LTM-T checkpoint "
                         f"({type(exc).__name__}); reinstall the assistant, or make them "
                         "again with `assistant train`") from exc
    model.query_adapter = ckpt.get("query_adapter")
    return model.eval(), ckpt.get("record", {})


def load_model(path: Path | None = None) -> LTMT:
    """The shipped (or given) trained weights, loaded once per file and version."""
    path = Path(path) if path is not None else shipped(WEIGHTS_FILE)
    if not path.is_file():
        raise FileNotFoundError(f"LTM-T weights {path} do not exist; give a checkpoint made "
                                "by `assistant train`, or --no-ltmt for plain retrieval")
    key = (str(path.resolve()), path.stat().st_mtime_ns)
    with _LOADING:
        if key not in _LOADED:
            _LOADED[key] = load_checkpoint(path)[0]
        return _LOADED[key]
