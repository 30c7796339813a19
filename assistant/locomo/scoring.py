"""Scoring answers as LoCoMo does: normalised token F1. Whether an answer abstained is
the Reply's verdict, never read from its text."""

from __future__ import annotations

import re
import string
from collections import Counter

_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCT = str.maketrans("", "", string.punctuation)


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
