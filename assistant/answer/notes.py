"""The phrase strategy of the small embedded model: the notes prompt (the memories as
dated notes), greedy generation cut at the first stop, and the answer phrase cleaned up.
Nothing it writes is shown before the pipeline has checked it."""

from __future__ import annotations

import re
from collections.abc import Sequence

from assistant.answer.draft import Draft, Strategy
from assistant.answer.prompts import STOP, answer_prompt
from assistant.answer.protocol import Generator
from memory_store.records import Hit

MAX_ANSWER_WORDS = 15


def clean_answer(raw: str) -> str:
    """The answer phrase alone: no "Name:" prefix, no trailing dated or bracketed notes,
    no repeated list items, at most MAX_ANSWER_WORDS words."""
    text = re.split(r"\s*\[|\s*\(\d", raw.strip())[0]
    text = re.sub(r"^[A-Z][\w .'-]{0,30}:\s+", "", text)
    items, seen = [], set()
    for item in re.split(r",(?!\d{3}\b)", text):  # "1,250 euros" is one item
        key = item.strip().lower()
        if key and key not in seen:
            seen.add(key)
            items.append(item.strip())
    return " ".join(", ".join(items).split()[:MAX_ANSWER_WORDS])


def phrase(question: str, memories: Sequence[Hit], generator: Generator, *,
           max_new_tokens: int, history: Sequence[tuple[str, str]] = ()) -> Strategy:
    """Strategy: the model's answer phrase from the notes prompt (a model fine-tuned on
    it, `assistant train-generator`, gets no worked examples)."""
    parts = []
    prompt = answer_prompt(question, memories, history, examples=not generator.tuned)
    for piece in generator.stream(prompt, max_new_tokens=max_new_tokens, stop=STOP):
        parts.append(piece)
        yield ""  # nothing unchecked is shown, but the caller may stop here (Esc)
    answer = clean_answer("".join(parts))
    return Draft(answer, "phrase") if answer else None
