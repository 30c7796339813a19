"""LoCoMo conversations: reading the files under the benchmark's fair-use rule.

Only the turns (speaker, text, blip_caption) and the session date_times are exposed as
conversation content; `qa` is exposed separately, for scoring and training only.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from assistant.memory import text as memory_text


@dataclass(frozen=True)
class Turn:
    dia_id: str
    speaker: str
    text: str
    caption: str
    when: datetime
    session: int

    def memory(self) -> memory_text.Written:
        """What is remembered of the turn, written as the chat writes a turn: when, who,
        what (relative dates made absolute), and the photo they shared (the date in the
        text measured +0.035 recall@10). Said between two people, none of it is a
        question put to the assistant."""
        return memory_text.turn(self.text, speaker=self.speaker, when=self.when,
                                photo=self.caption, dia_id=self.dia_id, session=self.session)


@dataclass
class Question:
    qid: int
    question: str
    category: int
    evidence: list[str]
    answer: str | None  # None for category 5 (adversarial): the right answer is "not said"


@dataclass
class Sample:
    name: str
    speakers: tuple[str, str]
    sessions: list[list[Turn]] = field(default_factory=list)
    questions: list[Question] = field(default_factory=list)

    @property
    def turns(self) -> list[Turn]:
        return [t for s in self.sessions for t in s]


_TIME = re.compile(r"(\d{1,2}):(\d{2})\s*(am|pm)\s+on\s+(\d{1,2})\s+(\w+),?\s+(\d{4})", re.I)


def parse_time(value: str) -> datetime:
    """'1:56 pm on 8 May, 2023' -> datetime(2023, 5, 8, 13, 56)."""
    m = _TIME.search(value)
    if not m:
        raise ValueError(f"unrecognised LoCoMo date_time {value!r}")
    hour, minute, ampm, day, month, year = m.groups()
    hour = int(hour) % 12 + (12 if ampm.lower() == "pm" else 0)
    month_no = datetime.strptime(month[:3].title(), "%b").month
    return datetime(int(year), month_no, int(day), hour, int(minute))


def load(path: Path) -> Sample:
    """Read one LoCoMo file (either the bare record or one with a 'conversation' key)."""
    path = Path(path)
    raw = json.loads(path.read_text(encoding="utf-8"))
    conv = raw.get("conversation", raw)
    sample = Sample(path.stem, (conv["speaker_a"], conv["speaker_b"]))
    numbers = sorted(int(m.group(1)) for k in conv if (m := re.fullmatch(r"session_(\d+)", k)))
    for n in numbers:
        turns = conv[f"session_{n}"]
        if not turns:
            continue
        when = parse_time(conv[f"session_{n}_date_time"])
        sample.sessions.append([
            Turn(t["dia_id"], t["speaker"], t.get("text", ""), t.get("blip_caption") or "",
                 when, n)
            for t in turns
        ])
    for qid, qa in enumerate(raw.get("qa", [])):
        answer = qa.get("answer")
        sample.questions.append(Question(qid, qa["question"], int(qa["category"]),
                                         [str(e) for e in qa.get("evidence", [])],
                                         None if answer is None else str(answer)))
    return sample


def recall_at(retrieved: list[str], evidence: list[str], k: int) -> float:
    """Share of the evidence dia_ids found in the top k retrieved."""
    if not evidence:
        return 0.0
    top = set(retrieved[:k])
    return sum(e in top for e in evidence) / len(evidence)
