"""`assistant bench locomo`: evidence recall (and answers) on LoCoMo-format conversations."""

from __future__ import annotations

import json
import tempfile
import time
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch

from assistant.answer_eval import abstains, token_f1
from assistant.answering import clean_answer, respond
from assistant.encoder import Encoder
from assistant.locomo import Question, Sample, load, recall_at
from assistant.recall import Recaller, load_model
from assistant.replay import replay
from memory_store.records import Hit
from memory_store.store import MemoryStore

KS = (5, 10, 25)
WRITE_DEPTH = 20  # candidates the write step reads while a conversation is replayed
ANSWER_DEPTH = 50  # hits kept per question: recall@25 and the abstention rule read them


def select_questions(questions: list[Question], limit: int | None) -> list[Question]:
    """With a limit: the first N of categories 1-4; without: every question, 1-5."""
    if limit is None:
        return list(questions)
    return [q for q in questions if q.category in (1, 2, 3, 4)][:limit]


def dia_ids(hits) -> list[str]:
    """Hits as dia_ids in rank order; a memory spanning turns gives them in order, once."""
    out, seen = [], set()
    for h in hits:
        meta = h.meta or {}
        for d in meta.get("dia_ids") or [meta.get("dia_id")]:
            if d and d not in seen:
                seen.add(d)
                out.append(d)
    return out


def replay_with_state(sample: Sample, store: MemoryStore, encoder: Encoder,
                      recaller: Recaller) -> tuple[int, torch.Tensor | None]:
    """Replay a conversation, running LTM-T's step on every turn as the chat does; the
    final state is saved with the conversation. Returns (conversation id, state)."""
    state = recaller.initial_state()

    def step(turn, text, vec, mid):
        nonlocal state
        if recaller.model is not None:
            state = recaller.recall(text, vec, state, 1, turn.when, exclude=[mid],
                                    depth=WRITE_DEPTH).state

    cid = replay(sample, store, encoder, step)
    recaller.save_state(cid, state)
    return cid, state


def recalled(sample: Sample, questions: list[Question], encoder: Encoder, model,
             k: int) -> Iterator[tuple[Question, list[Hit]]]:
    """Replay `sample` into a fresh temporary store (LTM-T stepping on every turn), then
    recall each question's top `k` as the app would, at the conversation's last moment."""
    with tempfile.TemporaryDirectory() as tmp:
        store = MemoryStore(Path(tmp), embedding_model=encoder.name, dim=encoder.dim)
        try:
            recaller = Recaller(store, model)
            _, state = replay_with_state(sample, store, encoder, recaller)
            now = sample.turns[-1].when
            vectors = encoder.encode([q.question for q in questions])
            for q, vec in zip(questions, vectors, strict=True):
                yield q, recaller.recall(q.question, vec, state, k, now).hits
        finally:
            store.close()


def run(files: list[Path], out: Path, *, use_ltmt: bool = True, answers: bool = False,
        limit: int | None = None, weights: Path | None = None, encoder: Encoder | None = None,
        generator=None, cache_dir: Path | None = None) -> dict:
    """Replay each conversation into a fresh store, ask its questions, write JSON lines."""
    encoder = encoder or Encoder()
    model = load_model(weights) if use_ltmt else None
    if use_ltmt and model is None:
        raise FileNotFoundError(f"no LTM-T weights at {weights or 'data/ltmt.pt'}; "
                                "run `assistant train` or pass --no-ltmt")
    if answers and generator is None:  # what the app answers with by default
        from assistant.generator import make_generator

        generator = make_generator("embedded", cache_dir)
    rows, started = [], time.perf_counter()
    with out.open("w", encoding="utf-8") as sink:
        for path in files:
            sample = load(path)
            questions = select_questions(sample.questions, limit)
            for q, hits in recalled(sample, questions, encoder, model, ANSWER_DEPTH):
                answer = None
                if answers:
                    answer = clean_answer("".join(respond(q.question, hits, generator)))
                row = {"sample": sample.name, "qid": q.qid, "category": q.category,
                       "question": q.question, "retrieved": dia_ids(hits), "answer": answer}
                sink.write(json.dumps(row, ensure_ascii=False) + "\n")
                rows.append((row, q))
    return summarise(rows, time.perf_counter() - started)


def summarise(rows, seconds: float) -> dict:
    """Recall@k overall and by category (1-4), per sample too; with answers, token F1 the
    same way, and how often the answer abstains (category 5: rightly; 1-4: wrongly)."""
    by: dict[str, list[dict]] = defaultdict(list)
    f1: dict[str, list[float]] = defaultdict(list)
    abstained: dict[str, list[bool]] = defaultdict(list)
    for row, q in rows:
        if row["answer"] is not None:
            group = "category 5" if q.category == 5 else "categories 1-4"
            abstained[group].append(abstains(row["answer"]))
        if q.category not in (1, 2, 3, 4) or not q.evidence:
            continue
        r = {k: recall_at(row["retrieved"], q.evidence, k) for k in KS}
        for key in ("all", f"category {q.category}", f"sample {row['sample']}"):
            by[key].append(r)
            if row["answer"] is not None:
                f1[key].append(token_f1(row["answer"], q.answer or ""))
    table = {key: {f"recall@{k}": round(float(np.mean([r[k] for r in rs])), 3) for k in KS}
             | {"questions": len(rs)}
             | ({"f1": round(float(np.mean(f1[key])), 3)} if f1.get(key) else {})
             for key, rs in sorted(by.items())}
    out = {"seconds": round(seconds, 1), "questions_written": len(rows), "recall": table}
    if abstained:
        out["abstention_rate"] = {k: round(float(np.mean(v)), 3) for k, v in abstained.items()}
        out["seconds_per_question"] = round(seconds / max(len(rows), 1), 2)
    return out


def format_table(summary: dict) -> str:
    with_f1 = any("f1" in r for r in summary["recall"].values())
    lines = [f"{'':<16}{'n':>5}" + "".join(f"{'R@' + str(k):>8}" for k in KS)
             + (f"{'F1':>8}" if with_f1 else "")]
    for key, r in summary["recall"].items():
        lines.append(f"{key:<16}{r['questions']:>5}" +
                     "".join(f"{r[f'recall@{k}']:>8.3f}" for k in KS)
                     + (f"{r.get('f1', 0.0):>8.3f}" if with_f1 else ""))
    for group, rate in summary.get("abstention_rate", {}).items():
        lines.append(f"abstained on {group}: {rate:.1%}")
    lines.append(f"{summary['questions_written']} questions written in {summary['seconds']} s")
    return "\n".join(lines)
