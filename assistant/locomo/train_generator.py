"""`assistant train-generator`: a LoRA adapter that teaches SmolLM2 to answer from memories.

Each LoCoMo-format conversation is replayed into a temporary store exactly as
`bench locomo` does; every question of categories 1-4 is recalled with LTM-T, and the
example is the prompt the app would build from those memories (`answer_prompt`, without
the worked examples) followed by the gold answer. Only the answer's tokens are trained.
"""

from __future__ import annotations

import hashlib
import json
import random
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from assistant import lora
from assistant.answer.backends.embedded import EmbeddedGenerator
from assistant.answer.prompts import TUNED_PROMPT, answer_prompt
from assistant.locomo.bench import recalled
from assistant.locomo.data import load
from assistant.memory.encoder import Encoder
from assistant.memory.weights import WEIGHTS_FILE
from assistant.shipped import shipped
from memory_store.records import Hit

PROMPT_MEMORIES = 3
MAX_TARGET_TOKENS = 32
# Fixed before any held-out figure was seen (docs/models.md); train_command records them.
SETTINGS = {"lr": 1e-3, "rank": 8, "alpha": 16.0, "first_layer": 15, "batch": 8}


@dataclass(frozen=True)
class Example:
    sample: str
    category: int
    question: str
    hits: tuple[Hit, ...]
    answer: str

    @property
    def prompt(self) -> str:
        return answer_prompt(self.question, self.hits, examples=False)


def collect(files: list[Path], encoder: Encoder, folds_dir: Path | None = None,
            weights: Path | None = None) -> list[Example]:
    """Examples from each file's questions (categories 1-4), recalled as the app would;
    with `folds_dir`, each conversation is recalled by the LTM-T that never saw it."""
    out = []
    for path in files:
        sample = load(path)
        fold = folds_dir / f"ltmt-without-{sample.name}.pt" if folds_dir else None
        questions = [q for q in sample.questions if q.category in (1, 2, 3, 4)]
        out += [Example(sample.name, q.category, q.question, tuple(hits), str(q.answer))
                for q, hits in recalled(sample, questions, encoder, fold or weights,
                                        PROMPT_MEMORIES)]
    return out


def _encode(tokenizer, examples: list[Example]) -> list[tuple[list[int], int]]:
    """(token ids, index of the first answer token) per example."""
    rows = []
    for ex in examples:
        prompt = tokenizer(ex.prompt).input_ids
        target = tokenizer(" " + " ".join(ex.answer.split()) + "\n").input_ids
        rows.append((prompt + target[:MAX_TARGET_TOKENS], len(prompt)))
    return rows


def _batches(rows: list, size: int, rng: random.Random) -> list[list]:
    """Shuffled batches of similar length (less padding, same randomness per seed)."""
    order = rows[:]
    rng.shuffle(order)
    pools = [sorted(order[i:i + size * 8], key=lambda r: len(r[0]))
             for i in range(0, len(order), size * 8)]
    batches = [pool[i:i + size] for pool in pools for i in range(0, len(pool), size)]
    rng.shuffle(batches)
    return batches


def _loss(model, batch: list[tuple[list[int], int]], pad: int) -> torch.Tensor:
    """Mean cross-entropy of the answer tokens; the vocabulary head runs only there."""
    width = max(len(ids) for ids, _ in batch)
    ids = torch.full((len(batch), width), pad)
    mask = torch.zeros((len(batch), width), dtype=torch.long)
    for i, (row, _) in enumerate(batch):
        ids[i, :len(row)] = torch.tensor(row)
        mask[i, :len(row)] = 1
    hidden = model.model(input_ids=ids, attention_mask=mask).last_hidden_state
    rows, cols = [], []
    for i, (row, start) in enumerate(batch):
        rows += [i] * (len(row) - start)
        cols += range(start - 1, len(row) - 1)  # position t predicts token t + 1
    logits = model.lm_head(hidden[rows, cols])
    return torch.nn.functional.cross_entropy(logits, ids[rows, [c + 1 for c in cols]])


def fit(generator: EmbeddedGenerator, examples: list[Example], *, epochs: int = 3, seed: int = 0,
        lr: float = SETTINGS["lr"], rank: int = SETTINGS["rank"],
        alpha: float = SETTINGS["alpha"], first_layer: int = SETTINGS["first_layer"],
        batch: int = SETTINGS["batch"], progress=print) -> tuple[dict, list[float]]:
    """Train an adapter on `generator`'s model and return (adapter weights, mean loss per
    epoch); the model itself is left exactly as it was."""
    torch.manual_seed(seed)
    rng = random.Random(seed)
    model, tokenizer = generator.model, generator.tokenizer
    rows = _encode(tokenizer, examples)
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    params = lora.attach(model, rank=rank, alpha=alpha, first_layer=first_layer)
    losses = []
    try:
        opt = torch.optim.AdamW(params, lr=lr, weight_decay=0.0)
        batches_per_epoch = -(-len(rows) // batch)
        sched = torch.optim.lr_scheduler.LambdaLR(
            opt, lambda step: 1 - step / max(1, epochs * batches_per_epoch))
        for epoch in range(epochs):
            total, started = 0.0, time.perf_counter()
            for b in _batches(rows, batch, rng):
                loss = _loss(model, b, pad)
                loss.backward()
                opt.step()
                sched.step()
                opt.zero_grad()
                total += loss.item() * len(b)
            losses.append(round(total / len(rows), 4))
            progress(f"epoch {epoch + 1}/{epochs}: loss {losses[-1]} "
                     f"({time.perf_counter() - started:.0f} s)")
    finally:
        weights = lora.detach(model)
    return weights, losses


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def train_command(files: list[Path], out: Path, *, encoder: Encoder, generator: EmbeddedGenerator,
                  folds_dir: Path | None = None, weights: Path | None = None,
                  epochs: int = 3, seed: int = 0, progress=print) -> dict:
    """Collect examples, fit, save the adapter and a JSON record of how it was made."""
    started = time.perf_counter()
    examples = collect(files, encoder, folds_dir, weights)
    progress(f"{len(examples)} examples from {len(files)} conversations")
    hp = {"epochs": epochs, **SETTINGS, "seed": seed}
    adapter, losses = fit(generator, examples, progress=progress, **hp)
    lora.save(out, adapter, rank=hp["rank"], alpha=hp["alpha"],
              first_layer=hp["first_layer"], base=generator.name, prompt=TUNED_PROMPT)
    record = {
        "command": "assistant train-generator " + " ".join(
            ["--data", *map(str, files), f"--out {out}", f"--epochs {epochs}", f"--seed {seed}"]
            + ([f"--folds-dir {folds_dir}"] if folds_dir else [])
            + ([f"--weights {weights}"] if weights else [])),
        "data": [{"file": f.name, "sha256": _sha256(f)} for f in files],
        "retrieval": {p.name: _sha256(p) for p in sorted(folds_dir.glob("ltmt-without-*.pt"))}
        if folds_dir else {Path(weights or shipped(WEIGHTS_FILE)).name:
                           _sha256(Path(weights or shipped(WEIGHTS_FILE)))},
        "retrieval_made_by": "assistant train --epochs 4 --seed 0 --folds-dir DIR" if folds_dir
        else "assistant train",
        "examples": len(examples), "prompt": TUNED_PROMPT, "prompt_memories": PROMPT_MEMORIES,
        "base": generator.name, **hp, "loss_per_epoch": losses,
        "seconds": round(time.perf_counter() - started, 1),
        "torch": torch.__version__,
    }
    out.with_suffix(".json").write_text(json.dumps(record, indent=2) + "\n")
    return record
