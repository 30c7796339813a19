"""The answer prompt: plain completion text with worked examples (no chat template).

Measured on LoCoMo dev (shared/data/locomo-dev/README.md): SmolLM2-135M-Instruct scores
token F1 0.09 with its chat template and 0.16-0.21 with a completion prompt like this one.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from memory_store.records import Hit

INSTRUCTION = (
    "Each memory below has its date and source. Answer the question in a few words, "
    "using only the memories.\n\n"
)

EXAMPLES = """Memories:
[1] (3 March 2024, conversation:2#turn=5) User: I adopted a grey cat called Miso last weekend.
[2] (9 January 2024, recipes.md#Bread) Let the dough rest for two hours before baking.
Question: What is the name of my cat?
Answer: Miso

Memories:
[1] (12 June 2023, conversation:7#turn=2) User: Yesterday I ran my first half marathon in Lyon.
[2] (2 May 2023, notes.txt) The dentist appointment moved to Friday.
Question: Where did I run a half marathon?
Answer: Lyon

"""


def format_date(when: datetime) -> str:
    return f"{when.day} {when:%B %Y}"


def memory_line(n: int, hit: Hit) -> str:
    text = " ".join(hit.text.split())
    return f"[{n}] ({format_date(hit.created_at)}, {hit.source}) {text}"


def answer_prompt(question: str, hits: Sequence[Hit], max_chars_per_memory: int = 600,
                  history: Sequence[tuple[str, str]] = ()) -> str:
    """The completion prompt for `question` given the recalled `hits`, best first, and the
    conversation's most recent (role, text) messages."""
    lines = [memory_line(i, h)[:max_chars_per_memory] for i, h in enumerate(hits, start=1)]
    memories = "\n".join(lines) if lines else "(none)"
    recent = ""
    if history:
        said = [f"{role.title()}: {' '.join(text.split())[:200]}" for role, text in history]
        recent = "Recent conversation:\n" + "\n".join(said) + "\n"
    return (f"{INSTRUCTION}{EXAMPLES}Memories:\n{memories}\n{recent}"
            f"Question: {question.strip()}\nAnswer:")
