"""What a strategy hands the pipeline (a Draft) and what the pipeline hands everyone else
(a Reply): the verdict and the supporting memory are data, never read back from text."""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass, field
from typing import Literal

from memory_store.records import Hit

# How a draft was made, which is how the check judges it:
#   "quote"  a document's own sentence: it must be about what was asked;
#   "said"   a sentence said about the question's subject: read from a memory about it;
#   "date"   a time read off a memory about the question;
#   "phrase" the small model's answer phrase: its words must be in the subject's memories;
#   "chat"   a capable model's reply: a memory it cites (or, citing none, one the grounding
#            check finds) must be about what was asked.
How = Literal["quote", "said", "date", "phrase", "chat"]
# answered: shown with the memory it rests on; abstained: "I don't know" and the closest
# memory; noted: a statement acknowledged (nothing was asked); stopped: Esc while it was
# written; failed: the model (or its server) raised.
Verdict = Literal["answered", "abstained", "noted", "stopped", "failed"]


@dataclass
class Draft:
    """A strategy's answer before the check; `hit` is the memory a quote or a date was
    read from."""

    text: str
    how: How
    hit: Hit | None = None


# A strategy yields what is shown while it works ("" while it writes and is checked, so
# the caller may stop there; a tool step's line) and returns its draft, or None.
Strategy = Generator[str, None, Draft | None]


@dataclass
class Reply:
    """A finished answer: what was shown, the verdict, the memory an answer rests on, and
    the memories it was given (with any a tool search found)."""

    text: str
    verdict: Verdict
    support: Hit | None = None
    sources: list[Hit] = field(default_factory=list)
    error: str = ""  # why it failed

    @property
    def answered(self) -> bool:
        return self.verdict == "answered"
