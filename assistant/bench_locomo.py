"""`assistant bench locomo`: evidence recall (and answers) on LoCoMo-format conversations."""

from __future__ import annotations

import json
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
import torch

from assistant.encoder import Encoder
from assistant.locomo import Question, Sample, load, recall_at
from assistant.recall import Recaller, load_model
from assistant.replay import replay
from memory_store.store import MemoryStore

KS = (5, 10, 25)
WRITE_DEPTH = 20  # candidates the write step reads while a conversation is replayed


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


def run(files: list[Path], out: Path, *, use_ltmt: bool = True, answers: bool = False,
        limit: int | None = None, weights: Path | None = None, encoder: Encoder | None = None,
        generator=None, cache_dir: Path | None = None) -> dict:
    """Replay each conversation into a fresh store, ask its questions, write JSON lines."""
    encoder = encoder or Encoder()
    model = load_model(weights) if use_ltmt else None
    if use_ltmt and model is None:
        raise FileNotFoundError(f"no LTM-T weights at {weights or 'data/ltmt.pt'}; "
                                "run `assistant train` or pass --no-ltmt")
    if answers and generator is None:
        from assistant.generator import EmbeddedGenerator, default_cache_dir

        generator = EmbeddedGenerator(cache_dir=cache_dir or default_cache_dir())
    rows, started = [], time.perf_counter()
    with out.open("w", encoding="utf-8") as sink, tempfile.TemporaryDirectory() as tmp:
        for path in files:
            sample = load(path)
            store = MemoryStore(Path(tmp) / sample.name, embedding_model=encoder.name,
                                dim=encoder.dim)
            recaller = Recaller(store, model)
            _, state = replay_with_state(sample, store, encoder, recaller)
            now = sample.turns[-1].when
            questions = select_questions(sample.questions, limit)
            vectors = encoder.encode([q.question for q in questions])
            for q, vec in zip(questions, vectors, strict=True):
                hits = recaller.recall(q.question, vec, state, 50, now).hits
                answer = None
                if answers:
                    from assistant.generator import complete
                    from assistant.prompting import answer_prompt

                    answer = complete(generator, answer_prompt(q.question, hits[:6]),
                                      max_new_tokens=32).strip()
                row = {"sample": sample.name, "qid": q.qid, "category": q.category,
                       "question": q.question, "retrieved": dia_ids(hits), "answer": answer}
                sink.write(json.dumps(row, ensure_ascii=False) + "\n")
                rows.append((row, q))
            store.close()
    return summarise(rows, time.perf_counter() - started)


def summarise(rows, seconds: float) -> dict:
    """Recall@k overall and by category (1-4), per sample too."""
    by: dict[str, list[dict]] = defaultdict(list)
    for row, q in rows:
        if q.category not in (1, 2, 3, 4) or not q.evidence:
            continue
        r = {k: recall_at(row["retrieved"], q.evidence, k) for k in KS}
        for key in ("all", f"category {q.category}", f"sample {row['sample']}"):
            by[key].append(r)
    table = {key: {f"recall@{k}": round(float(np.mean([r[k] for r in rs])), 3) for k in KS}
             | {"questions": len(rs)} for key, rs in sorted(by.items())}
    return {"seconds": round(seconds, 1), "questions_written": len(rows), "recall": table}


def format_table(summary: dict) -> str:
    lines = [f"{'':<16}{'n':>5}" + "".join(f"{'R@' + str(k):>8}" for k in KS)]
    for key, r in summary["recall"].items():
        lines.append(f"{key:<16}{r['questions']:>5}" +
                     "".join(f"{r[f'recall@{k}']:>8.3f}" for k in KS))
    lines.append(f"{summary['questions_written']} questions written in {summary['seconds']} s")
    return "\n".join(lines)
