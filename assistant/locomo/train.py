"""`assistant train`: fit LTM-T on LoCoMo-format conversations with a listwise objective.

Each conversation is replayed into a temporary store under the benchmark's fair-use rule
(only turns and dates reach it). For every turn the plain hybrid candidates are kept (the
write step reads them); for every question of categories 1-4, the top DEPTH hybrid
candidates of the question, with the evidence turns marked as positives (`qa` is used as
training labels only, never as store content).
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from assistant.locomo import query_tower
from assistant.locomo.data import load, recall_at
from assistant.locomo.replay import replay
from assistant.memory.encoder import Encoder
from assistant.memory.ltmt import LTMT, LTMTConfig, listwise_loss
from assistant.memory.recall import candidate_features
from assistant.memory.weights import save_checkpoint
from memory_store.sqlite_store import SqliteStore

DEPTH = 100  # question candidates: recall@100 of plain hybrid bounds what reranking can reach
WRITE_DEPTH = 20
BPTT_STEPS = 4  # the last turns before the questions are unrolled with gradients
# The dev conversations beside the checkout (shared/data/locomo-dev), unless
# ASSISTANT_LOCOMO_DEV names another folder; `--data FILES` overrides both.
DEV_DIR = Path(__file__).resolve().parents[3] / "shared" / "data" / "locomo-dev"


def default_files() -> list[Path]:
    folder = Path(os.environ.get("ASSISTANT_LOCOMO_DEV") or DEV_DIR)
    files = sorted(folder.glob("*.json"))
    if not files:
        raise FileNotFoundError(f"no LoCoMo files in {folder}; pass --data FILES or set "
                                "ASSISTANT_LOCOMO_DEV to their folder")
    return files


@dataclass
class ConvData:
    """Tensors of one conversation: its turns' write candidates and its questions'."""

    name: str
    turn_x: torch.Tensor  # (N, d)
    turn_mem: torch.Tensor  # (N, Kw, d)
    turn_feat: torch.Tensor  # (N, Kw, F)
    turn_mask: torch.Tensor  # (N, Kw)
    q_x: torch.Tensor  # (Q, d)
    q_mem: torch.Tensor  # (Q, K, d)
    q_feat: torch.Tensor  # (Q, K, F)
    q_mask: torch.Tensor  # (Q, K)
    q_target: torch.Tensor  # (Q, K) bool
    q_dia: list[list[str]]  # candidates' dia_ids, plain hybrid order
    q_evidence: list[list[str]]
    q_category: list[int]


def _pad(items: list[np.ndarray], k: int, tail: tuple[int, ...]) -> np.ndarray:
    out = np.zeros((len(items), k, *tail), np.float32)
    for i, a in enumerate(items):
        out[i, : len(a)] = a[:k]
    return out


def build_each(path: Path, encoder: Encoder, question_encoders: list[Encoder]
               ) -> list[ConvData]:
    """Replay one conversation once, then collect its training tensors with each of
    `question_encoders` searching for the questions (the turns' tensors are shared)."""
    sample = load(path)
    turn_rows: list[tuple[np.ndarray, list, np.ndarray]] = []
    out = []
    with tempfile.TemporaryDirectory() as tmp:
        store = SqliteStore(Path(tmp), embedding_model=encoder.name, dim=encoder.dim)

        def on_turn(turn, text, vec, mid):
            hits = [h for h in store.search(vec, text, WRITE_DEPTH + 1) if h.id != mid]
            hits = hits[:WRITE_DEPTH]
            turn_rows.append((vec, hits, candidate_features(hits, text, turn.when)))

        replay(sample, store, encoder, on_turn)
        turn_mem = [store.embeddings([h.id for h in hits]) for _, hits, _ in turn_rows]
        qs = [q for q in sample.questions if q.category in (1, 2, 3, 4) and q.evidence]
        for question_encoder in question_encoders:
            q_vecs = question_encoder.encode([q.question for q in qs])
            q_hits = [store.search(v, q.question, DEPTH) for q, v in zip(qs, q_vecs, strict=True)]
            q_mem = [store.embeddings([h.id for h in hits]) for hits in q_hits]
            out.append(_tensors(sample, qs, turn_rows, turn_mem, q_vecs, q_hits, q_mem,
                                encoder.dim))
        store.close()
    return out


def _tensors(sample, qs, turn_rows, turn_mem, q_vecs, q_hits, q_mem, d: int) -> ConvData:
    now = sample.turns[-1].when
    nf = turn_rows[0][2].shape[1] if turn_rows[0][1] else 16
    q_dia = [[h.meta["dia_id"] for h in hits] for hits in q_hits]
    q_feat = [candidate_features(h, q.question, now) for h, q in zip(q_hits, qs, strict=True)]
    target = np.zeros((len(qs), DEPTH), bool)
    for i, (dias, q) in enumerate(zip(q_dia, qs, strict=True)):
        target[i, : len(dias)] = [x in q.evidence for x in dias]
    mask = lambda rows, k: torch.tensor([[j < len(r) for j in range(k)] for r in rows])  # noqa: E731
    return ConvData(
        name=sample.name,
        turn_x=torch.from_numpy(np.stack([r[0] for r in turn_rows])),
        turn_mem=torch.from_numpy(_pad(turn_mem, WRITE_DEPTH, (d,))),
        turn_feat=torch.from_numpy(_pad([r[2] for r in turn_rows], WRITE_DEPTH, (nf,))),
        turn_mask=mask([r[1] for r in turn_rows], WRITE_DEPTH),
        q_x=torch.from_numpy(q_vecs),
        q_mem=torch.from_numpy(_pad(q_mem, DEPTH, (d,))),
        q_feat=torch.from_numpy(_pad(q_feat, DEPTH, (nf,))),
        q_mask=mask(q_dia, DEPTH),
        q_target=torch.from_numpy(target),
        q_dia=q_dia, q_evidence=[q.evidence for q in qs], q_category=[q.category for q in qs],
    )


def _state(model: LTMT, c: ConvData, start: int, stop: int, state: torch.Tensor) -> torch.Tensor:
    for t in range(start, stop):
        # Turns with no earlier memory (the first) have no candidates: read nothing.
        if c.turn_mask[t].any():
            _, read = model.read(c.turn_x[t:t + 1], state, c.turn_mem[t:t + 1],
                                 c.turn_feat[t:t + 1], c.turn_mask[t:t + 1])
        else:
            read = torch.zeros_like(c.turn_x[t:t + 1])
        state = model.write(state, c.turn_x[t:t + 1], read)
    return state


def evaluate(model: LTMT | None, convs: list[ConvData]) -> dict:
    """Recall@k on the fixed question candidates: LTM-T's order, or plain hybrid's (None);
    recall@10 by question category too."""
    scores: dict[int, list[float]] = {5: [], 10: [], 25: []}
    by_category: dict[int, list[float]] = {}
    for c in convs:
        order = [list(range(len(d))) for d in c.q_dia]
        if model is not None:
            model.eval()
            with torch.no_grad():
                state = _state(model, c, 0, len(c.turn_x), model.initial_state())
                logits, _ = model.read(c.q_x, state.expand(len(c.q_x), -1, -1), c.q_mem,
                                       c.q_feat, c.q_mask)
            order = [[j for j in torch.argsort(row, descending=True).tolist() if j < len(d)]
                     for row, d in zip(logits, c.q_dia, strict=True)]
        for o, dias, ev, cat in zip(order, c.q_dia, c.q_evidence, c.q_category, strict=True):
            ranked = [dias[j] for j in o]
            for k in scores:
                scores[k].append(recall_at(ranked, ev, k))
            by_category.setdefault(cat, []).append(scores[10][-1])
    return {**{f"recall@{k}": round(float(np.mean(v)), 4) for k, v in scores.items()},
            "recall@10 by category": {str(cat): round(float(np.mean(v)), 4)
                                      for cat, v in sorted(by_category.items())},
            "questions by category": {str(cat): len(v) for cat, v in sorted(by_category.items())},
            "questions": len(scores[10])}


def fit(convs: list[ConvData], epochs: int, seed: int, lr: float = 5e-4, batch: int = 32,
        log=print) -> LTMT:
    """Train a fresh LTM-T on `convs`; deterministic for a given seed."""
    torch.manual_seed(seed)
    rng = random.Random(seed)
    model = LTMT(LTMTConfig())
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01)
    for epoch in range(epochs):
        model.train()
        total, steps = 0.0, 0
        for c in rng.sample(convs, len(convs)):
            with torch.no_grad():
                prefix = _state(model, c, 0, len(c.turn_x) - BPTT_STEPS, model.initial_state())
            idx = list(range(len(c.q_x)))
            rng.shuffle(idx)
            for lo in range(0, len(idx), batch):
                b = torch.tensor(idx[lo:lo + batch])
                state = _state(model, c, len(c.turn_x) - BPTT_STEPS, len(c.turn_x), prefix)
                logits, _ = model.read(c.q_x[b], state.expand(len(b), -1, -1), c.q_mem[b],
                                       c.q_feat[b], c.q_mask[b])
                loss = listwise_loss(logits, c.q_target[b])
                opt.zero_grad()
                loss.backward()
                torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
                opt.step()
                total, steps = total + loss.item(), steps + 1
        if epoch % 5 == 4 or epoch == epochs - 1:
            log(f"epoch {epoch + 1}/{epochs} loss {total / max(steps, 1):.4f}")
    return model.eval()


def _question_encoder(encoder: Encoder, adapter: dict | None) -> Encoder:
    return encoder if adapter is None else Encoder(adapter=adapter)


def train_command(files: list[Path], epochs: int, out: Path, seed: int = 0,
                  holdout: list[str] | None = None, encoder: Encoder | None = None,
                  folds_dir: Path | None = None, query_adapter: bool = False,
                  log=print) -> dict:
    """Report held-out recall (leave-one-conversation-out, or the given holdout), then
    train on all `files` and save weights (with a query adapter if asked) and their record.

    Cross-fitting: with `query_adapter`, a conversation's questions are always encoded by
    an adapter that never saw them, for LTM-T's training as for testing (an adapter's own
    training questions would teach LTM-T to trust the search more than it can be
    trusted). The adapter saved with the weights is trained on every file."""
    started = time.perf_counter()
    encoder = encoder or Encoder()
    samples = [load(f) for f in files]
    names = [s.name for s in samples]
    sets = {s.name: query_tower.question_set(s, encoder) for s in samples
            if query_adapter}
    adapters: dict[frozenset, dict | None] = {}

    def adapter(without: frozenset) -> dict | None:
        """The adapter trained on every file but `without` (None: no adapters)."""
        if without not in adapters:
            adapters[without] = query_tower.train_adapter(
                [sets[n] for n in sets if n not in without], seed)
        return adapters[without]

    def key(without) -> frozenset:  # without adapters, one plain encoding serves all
        return frozenset(without) if query_adapter else frozenset(names)

    folds = [[n] for n in names] if holdout is None else [holdout]
    needed = {n: {key({n})} for n in names}  # the saved model's training data
    for fold in folds:
        for n in names:
            needed[n].add(key(set(fold) | {n}))
    data: dict[tuple[str, frozenset], ConvData] = {}
    for path, name in zip(files, names, strict=True):
        keys = sorted(needed[name], key=sorted)
        built = build_each(path, encoder, [_question_encoder(encoder, adapter(k)) for k in keys])
        data.update({(name, k): c for k, c in zip(keys, built, strict=True)})
    log(f"built {len(files)} conversations' questions with {len(adapters) if sets else 0} "
        f"query adapters in {time.perf_counter() - started:.0f} s")
    held_out = {}
    for fold in folds:
        train_set = [data[(n, key(set(fold) | {n}))] for n in names if n not in fold]
        test_set = [data[(n, key(fold))] for n in names if n in fold]
        if not train_set or not test_set:
            continue
        model = fit(train_set, epochs, seed, log=log)
        model.query_adapter = adapter(key(fold))
        if folds_dir is not None:  # for the end-to-end held-out `bench locomo --weights`
            folds_dir.mkdir(parents=True, exist_ok=True)
            save_checkpoint(model, folds_dir / f"ltmt-without-{'-'.join(fold)}.pt",
                            {"trained_on": [c.name for c in train_set], "seed": seed,
                             "epochs": epochs})
        held_out[",".join(fold)] = {"ltmt": evaluate(model, test_set),
                                    "hybrid": evaluate(None, test_set)}
        log(f"held out {fold}: {held_out[','.join(fold)]}")
    model = fit([data[(n, key({n}))] for n in names], epochs, seed, log=log)
    model.query_adapter = adapter(key(()))
    record = {
        "command": f"assistant train --epochs {epochs} --seed {seed}"
                   + (" --query-adapter" if query_adapter else ""),
        "data": [{"file": f.name, "sha256": hashlib.sha256(f.read_bytes()).hexdigest()}
                 for f in files],
        "objective": "listwise: -log softmax mass on evidence turns among "
                     f"{DEPTH} hybrid candidates",
        "epochs": epochs, "seed": seed, "bptt_steps": BPTT_STEPS,
        "config": model.cfg.to_dict(),
        "query_adapter": query_tower.settings() if query_adapter else None,
        "held_out_fixed_candidates": held_out,
        "held_out_pooled": _pooled(held_out),
        "train_fit": evaluate(model, [data[(n, key({n}))] for n in names]),
        "seconds": round(time.perf_counter() - started, 1),
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    save_checkpoint(model, out, record)
    out.with_suffix(".json").write_text(json.dumps(record, indent=2) + "\n")
    return record


def _pooled(held_out: dict) -> dict:
    """Recall@10 over every held-out question, overall and by category."""
    out = {}
    for side in ("ltmt", "hybrid"):
        folds = [f[side] for f in held_out.values()]
        if not folds:
            continue
        total: dict[str, list[float]] = {"all": [0.0, 0]}
        for f in folds:
            total["all"][0] += f["recall@10"] * f["questions"]
            total["all"][1] += f["questions"]
            for cat, r in f["recall@10 by category"].items():
                n = f["questions by category"][cat]
                total.setdefault(cat, [0.0, 0])
                total[cat][0] += r * n
                total[cat][1] += n
        out[side] = {k: round(v[0] / v[1], 4) for k, v in total.items() if v[1]}
    return out
