"""LTM-T's query side: a LoRA on the encoder, trained so that a question's vector lands
near the turns that answer it. Memories keep the plain encoder's vectors, so a store never
depends on it; the adapter travels inside the LTM-T checkpoint it was trained with.

Held out by conversation (five dev conversations, leave one out), the adapted questions
alone find the evidence in the top 10 for 0.669 of questions against 0.505 (docs/ltmt.md).
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import torch

from assistant import lora
from assistant.locomo.data import Sample
from assistant.memory.encoder import MODEL_NAME, Encoder, model_dir, pooled

RANK, ALPHA = 8, 16.0
EPOCHS, LR, BATCH = 3, 1e-3, 16
TEMPERATURE = 20.0  # cosine -> logits over a conversation's turns
MAX_QUESTION_TOKENS = 64


@dataclass
class QuestionSet:
    """One conversation's turns (their stored vectors) and its questions' evidence."""

    name: str
    turns: torch.Tensor  # (N, d)
    questions: list[str]
    evidence: list[list[int]]  # rows of `turns`


def question_set(sample: Sample, encoder: Encoder) -> QuestionSet:
    turns = sample.turns
    row = {t.dia_id: i for i, t in enumerate(turns)}
    qs = [q for q in sample.questions if q.category in (1, 2, 3, 4)
          and any(e in row for e in q.evidence)]
    vectors = torch.from_numpy(encoder.encode([t.memory().text for t in turns]))
    return QuestionSet(sample.name, vectors, [q.question for q in qs],
                       [[row[e] for e in q.evidence if e in row] for q in qs])


def train_adapter(sets: list[QuestionSet], seed: int = 0) -> dict | None:
    """A query adapter from `sets` (None without questions): each batch of one
    conversation's questions is pulled towards its evidence among all of its turns."""
    sets = [s for s in sets if s.questions]
    if not sets:
        return None
    from transformers import AutoModel, AutoTokenizer

    torch.manual_seed(seed)
    rng = random.Random(seed)
    tokenizer = AutoTokenizer.from_pretrained(model_dir(), local_files_only=True)
    model = AutoModel.from_pretrained(model_dir(), local_files_only=True)
    params = lora.attach(model, rank=RANK, alpha=ALPHA, first_layer=0)
    opt = torch.optim.AdamW(params, lr=LR, weight_decay=0.0)
    model.train()
    for _ in range(EPOCHS):
        order = []
        for s in sets:  # a batch is one conversation's questions, shuffled each epoch
            idx = rng.sample(range(len(s.questions)), len(s.questions))
            order += [(s, idx[lo:lo + BATCH]) for lo in range(0, len(idx), BATCH)]
        rng.shuffle(order)
        for s, idx in order:
            batch = tokenizer([s.questions[i] for i in idx], padding=True, truncation=True,
                              max_length=MAX_QUESTION_TOKENS, return_tensors="pt")
            log_p = torch.log_softmax(TEMPERATURE * pooled(model, batch) @ s.turns.T, -1)
            loss = -torch.stack([torch.logsumexp(log_p[r, s.evidence[i]], 0)
                                 for r, i in enumerate(idx)]).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
    return {"format": lora.FORMAT, "base": MODEL_NAME, "prompt": "query", "rank": RANK,
            "alpha": ALPHA, "first_layer": 0, "weights": lora.detach(model)}


def settings() -> dict:
    """How an adapter is trained, for the checkpoint's record."""
    return {"rank": RANK, "alpha": ALPHA, "epochs": EPOCHS, "lr": LR, "batch": BATCH,
            "temperature": TEMPERATURE, "targets": "every linear layer of the encoder",
            "objective": "listwise: -log softmax mass on the evidence among all turns"}
