"""Scoring answers as LoCoMo does: normalised token F1, and whether an answer abstains."""

from __future__ import annotations

import re
import string
from collections import Counter

_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCT = str.maketrans("", "", string.punctuation)
_ABSTAIN = re.compile(r"\b(not mentioned|no information|don't know|do not know|"
                      r"not in my memories|nothing about .* in my memories|"
                      r"my memories about .* do not say|unknown|cannot tell|can't tell|"
                      r"not said)\b", re.I)


def normalise(text: str) -> list[str]:
    """Lower-case, punctuation and articles removed, split on whitespace."""
    return _ARTICLES.sub(" ", text.lower().translate(_PUNCT)).split()


def token_f1(prediction: str, truth: str) -> float:
    pred, gold = normalise(prediction), normalise(truth)
    common = Counter(pred) & Counter(gold)
    overlap = sum(common.values())
    if not pred or not gold or not overlap:
        return float(pred == gold)
    precision, recall = overlap / len(pred), overlap / len(gold)
    return 2 * precision * recall / (precision + recall)


def abstains(answer: str | None) -> bool:
    return bool(answer) and bool(_ABSTAIN.search(answer))
