"""The summary memory of a finished conversation: generated, or extracted when the
generated text is not grounded in what was said (a 135M model invents easily)."""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence

from assistant.answer.protocol import Generator, complete
from assistant.commands import is_question
from assistant.memory.facts import sentences
from assistant.memory.text import FORGOTTEN
from memory_store.records import MessageRecord

log = logging.getLogger(__name__)
MAX_WORDS = 60
_WORD = re.compile(r"[a-z0-9']+")
_STOP = {"the", "a", "an", "and", "or", "of", "to", "in", "on", "at", "for", "with", "is",
         "was", "are", "were", "be", "user", "assistant", "they", "he", "she", "it", "that",
         "this", "about", "their", "his", "her", "conversation", "summary", "discussed", "i",
         "my", "you", "your", "we", "talked", "has", "had", "have", "by", "from", "as"}


def extractive(messages: Sequence[MessageRecord]) -> str:
    """The user's own sentences, first ones first, up to MAX_WORDS words."""
    words: list[str] = []
    for m in messages:
        if m.role != "user" or m.text.startswith("/") or is_question(m.text):
            continue
        # "Dr. Patel" does not end a sentence; a forgotten one is not summarised.
        first = next((x for x in sentences(m.text) if FORGOTTEN not in x), "")
        words += first.split()
        if len(words) >= MAX_WORDS:
            break
    return " ".join(words[:MAX_WORDS])


def grounded(summary: str, source: str, threshold: float = 0.7) -> bool:
    """Most content words of the summary occur in what was said."""
    said = set(_WORD.findall(source.lower()))
    content = [w for w in _WORD.findall(summary.lower()) if w not in _STOP]
    return len(content) >= 3 and sum(w in said for w in content) / len(content) >= threshold


def summarize_messages(messages: Sequence[MessageRecord], generator: Generator
                       ) -> tuple[str, str]:
    """(summary, method): "generator" when its text is grounded, else "extractive"."""
    transcript = "\n".join(f"{m.role.title()}: {' '.join(m.text.split())[:300]}"
                           for m in messages[-12:])
    prompt = ("Write one sentence that summarises what the user said in this conversation."
              f"\n\n{transcript}\n\nSummary: The user")
    try:
        text = "The user " + complete(generator, prompt, max_new_tokens=48, stop=("\n",)).strip()
    except Exception:  # a broken generator must not lose the summary
        log.exception("summary generation failed; using the extractive summary")
        text = ""
    if grounded(text, transcript):
        return " ".join(text.split()[:MAX_WORDS]), "generator"
    return extractive(messages), "extractive"
