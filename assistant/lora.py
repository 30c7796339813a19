"""Low-rank adapters (LoRA) for the embedded generator and the encoder's query side.

`assistant train-generator` and `assistant train` train them; loading merges them into the
base weights (W += scale * B @ A), so an adapted model runs exactly as fast as the plain one.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch
from torch import nn

FORMAT = 1
TARGETS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
# The encoder (BERT-style MiniLM): every linear layer of each transformer block.
ENCODER_TARGETS = (("attention.self", "query"), ("attention.self", "key"),
                   ("attention.self", "value"), ("attention.output", "dense"),
                   ("intermediate", "dense"), ("output", "dense"))


class LoRALinear(nn.Module):
    """A frozen linear layer plus a trainable low-rank update; B starts at zero, so the
    wrapped model starts out identical to the base."""

    def __init__(self, base: nn.Linear, rank: int, alpha: float) -> None:
        super().__init__()
        self.base = base
        self.scale = alpha / rank
        self.a = nn.Parameter(torch.randn(rank, base.in_features) / base.in_features ** 0.5)
        self.b = nn.Parameter(torch.zeros(base.out_features, rank))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.base(x) + (x @ self.a.t() @ self.b.t()) * self.scale


def _targets(model: Any, first_layer: int) -> Iterator[tuple[str, nn.Module, str]]:
    """(qualified name, parent module, attribute) of each adapted linear layer."""
    if hasattr(model, "encoder"):  # a BERT-style encoder
        for i, layer in enumerate(model.encoder.layer):
            for path, attr in ENCODER_TARGETS if i >= first_layer else ():
                parent = layer.get_submodule(path)
                if isinstance(getattr(parent, attr, None), (nn.Linear, LoRALinear)):
                    yield f"encoder.{i}.{path}.{attr}", parent, attr
        return
    for i, layer in enumerate(model.model.layers):
        if i < first_layer:
            continue
        for part in ("self_attn", "mlp"):
            parent = getattr(layer, part)
            for attr in TARGETS:
                if isinstance(getattr(parent, attr, None), (nn.Linear, LoRALinear)):
                    yield f"layers.{i}.{part}.{attr}", parent, attr


def attach(model: Any, *, rank: int, alpha: float, first_layer: int) -> list[nn.Parameter]:
    """Freeze `model` and wrap its upper layers' projections; returns the trainable params."""
    for p in model.parameters():
        p.requires_grad_(False)
    params = []
    for _, parent, attr in _targets(model, first_layer):
        wrapped = LoRALinear(getattr(parent, attr), rank, alpha)
        setattr(parent, attr, wrapped)
        params += [wrapped.a, wrapped.b]
    return params


def detach(model: Any) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """Unwrap every adapted layer, leaving the base model as it was; returns the adapter."""
    weights = {}
    for name, parent, attr in list(_targets(model, 0)):
        wrapped = getattr(parent, attr)
        if isinstance(wrapped, LoRALinear):
            weights[name] = (wrapped.a.detach().clone(), wrapped.b.detach().clone())
            setattr(parent, attr, wrapped.base)
    return weights


def save(path: Path, weights: dict, *, rank: int, alpha: float, first_layer: int,
         base: str, prompt: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"format": FORMAT, "base": base, "prompt": prompt, "rank": rank,
                "alpha": alpha, "first_layer": first_layer, "weights": weights}, path)


def load(path: Path) -> dict:
    """An adapter file's contents; a clear error when it is not one."""
    try:
        adapter = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise ValueError(f"adapter {path} is not readable ({exc}); train one with "
                         "`assistant train-generator` or set adapter = \"none\"") from exc
    if not isinstance(adapter, dict) or adapter.get("format") != FORMAT:
        raise ValueError(f"adapter {path} is not a format-{FORMAT} LoRA adapter file")
    return adapter


def merge(model: Any, adapter: dict, source: str = "adapter") -> None:
    """Add the adapter's low-rank updates into `model`'s weights, checking every shape
    first so a mismatched adapter (another base model) changes nothing."""
    layers = {name: (parent, attr) for name, parent, attr in _targets(model, 0)}
    scale = adapter["alpha"] / adapter["rank"]
    updates = []
    for name, (a, b) in adapter["weights"].items():
        if name not in layers:
            raise ValueError(f"{source} adapts {name}, which this model does not have: it "
                             f"was trained for {adapter.get('base')}")
        linear = getattr(*layers[name])
        if (b.shape[0], a.shape[1]) != tuple(linear.weight.shape):
            raise ValueError(f"{source}: {name} is {tuple(linear.weight.shape)} here but "
                             f"{(b.shape[0], a.shape[1])} in the adapter (trained for "
                             f"{adapter.get('base')})")
        updates.append((linear, (b.float() @ a.float()) * scale))
    with torch.no_grad():
        for linear, delta in updates:
            linear.weight += delta.to(linear.weight.dtype)
