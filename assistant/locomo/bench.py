"""`assistant bench locomo`: evidence recall (and answers) on LoCoMo-format conversations."""

from __future__ import annotations

import json
import tempfile
import time
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from assistant.agent import Agent
from assistant.answer.draft import Reply
from assistant.answer.protocol import Generator
from assistant.config import Settings, default_cache_dir
from assistant.locomo.data import Question, Sample, load, recall_at
from assistant.locomo.replay import replay
from assistant.locomo.scoring import token_f1
from assistant.memory.encoder import Encoder
from assistant.memory.recall import Recaller
from assistant.memory.weights import load_model
from memory_store.base import StoreBase
from memory_store.records import Hit

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


def replay_with_state(sample: Sample, store: StoreBase, encoder: Encoder,
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


def recalled(sample: Sample, questions: list[Question], encoder: Encoder,
             weights: Path | None, k: int) -> Iterator[tuple[Question, list[Hit]]]:
    """Replay `sample` into a fresh data folder (LTM-T stepping on every turn), then
    recall each question's top `k` through the product's recall (`Agent.recall_for`) at
    the conversation's last moment."""
    settings = Settings(home=Path(tempfile.gettempdir()), cache_dir=default_cache_dir())
    for q, hits, _ in asked(sample, questions, settings, encoder, weights, True, depth=k):
        yield q, hits


def asked(sample: Sample, questions: list[Question], settings: Settings, encoder: Encoder,
          weights: Path | None, use_ltmt: bool, generator: Generator | None = None,
          depth: int = ANSWER_DEPTH) -> Iterator[tuple[Question, list[Hit], Reply | None]]:
    """Replay `sample` into a fresh data folder (LTM-T stepping on every turn), then ask
    each question at the conversation's last moment through the product's answer path
    (`Agent.ask` with the conversation's state and the user's settings). The hits are a
    deeper recall (`depth`) through the same recall, for recall@k; replies only with a
    `generator`."""
    now = sample.turns[-1].when
    with tempfile.TemporaryDirectory() as tmp:
        with Agent(replace(settings, home=Path(tmp)), encoder=encoder, generator=generator,
                   use_ltmt=use_ltmt, clock=lambda: now, ltmt_weights=weights) as agent:
            _, state = replay_with_state(sample, agent.store, encoder, agent.recaller)
            vectors = agent.query_encoder.encode([q.question for q in questions])
            for q, vec in zip(questions, vectors, strict=True):
                hits = agent.recall_for(q.question, vec, state, now, k=depth).hits
                reply = None
                if generator is not None:
                    answer = agent.ask(q.question, state=state)
                    "".join(answer)
                    reply = answer.reply
                yield q, hits, reply


def run(files: list[Path], out: Path, *, use_ltmt: bool = True, answers: bool = False,
        limit: int | None = None, weights: Path | None = None, encoder: Encoder | None = None,
        generator: Generator | None = None, settings: Settings | None = None) -> dict:
    """Replay each conversation into a fresh store, ask its questions, write JSON lines."""
    encoder = encoder or Encoder()
    settings = settings or Settings(home=Path(tempfile.gettempdir()),  # home: replaced
                                    cache_dir=default_cache_dir())
    if use_ltmt:
        load_model(weights)  # a missing or unreadable file is an error before any replay
    if answers and generator is None:  # what the app answers with by default
        from assistant.answer.backends.factory import generator_for

        generator = generator_for(settings)
    rows, started = [], time.perf_counter()
    with out.open("w", encoding="utf-8") as sink:
        for path in files:
            sample = load(path)
            questions = select_questions(sample.questions, limit)
            for q, hits, reply in asked(sample, questions, settings, encoder, weights,
                                        use_ltmt, generator if answers else None):
                row = {"sample": sample.name, "qid": q.qid, "category": q.category,
                       "question": q.question, "retrieved": dia_ids(hits),
                       "answer": reply and reply.text, "verdict": reply and reply.verdict}
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
            abstained[group].append(row["verdict"] == "abstained")
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
