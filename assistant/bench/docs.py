"""`assistant bench docs`: questions about imported documentation, each through `ask`.

A check file (`data/docs-dev.json`, `data/docs-heldout.json`) names a folder of Markdown
documents (other projects' READMEs, copied from installed packages' METADATA), questions
with the expected answer phrase and the section that holds it, and questions the
documents do not answer. The documents are imported into a fresh data folder, then:
- right: the answer holds every word of the expected phrase (normalised as LoCoMo's F1
  does) and does not abstain; exact: the answer is the phrase; f1: LoCoMo's token F1;
- section right: the memory the answer rests on is from the expected file and section;
- unanswerable: the share of questions the documents do not answer that abstain.
"""

from __future__ import annotations

import json
import statistics
import tempfile
import time
from dataclasses import replace
from datetime import datetime
from pathlib import Path

from assistant.answer.protocol import Generator
from assistant.config import Settings
from assistant.locomo.scoring import normalise, token_f1
from assistant.memory.encoder import Encoder

DATA = Path(__file__).resolve().parents[2] / "data"  # a checkout's: the checks are not shipped
DEFAULT_FILE = DATA / "docs-dev.json"


def right(answer: str, verdict: str, expected: str) -> bool:
    """Answered, with every word of the expected phrase (a quote's marks are not words)."""
    said = set(normalise(answer.replace("\u201c", " ").replace("\u201d", " ")))
    return verdict == "answered" and set(normalise(expected)) <= said


def run(settings: Settings, path: Path | None = None, encoder: Encoder | None = None,
        generator: Generator | None = None, use_ltmt: bool = True) -> dict:
    """Import the check's documents into a fresh data folder and ask every question."""
    from assistant.agent import Agent

    path = Path(path or DEFAULT_FILE)
    check = json.loads(path.read_text(encoding="utf-8"))
    folder = path.parent / check["documents"]
    rows, seconds = [], []
    with tempfile.TemporaryDirectory() as tmp:
        with Agent(replace(settings, home=Path(tmp) / "home"), encoder=encoder,
                   generator=generator, use_ltmt=use_ltmt,
                   clock=lambda: datetime(2026, 1, 1, 12, 0)) as agent:
            report = agent.import_paths(sorted(folder.glob("*.md")))
            if report.failed:
                raise ValueError(f"{folder}: documents did not import: {report.failed}")
            for item in check["answerable"] + check["unanswerable"]:
                started = time.perf_counter()
                answer = agent.ask(item["q"])
                text = "".join(answer)
                seconds.append(time.perf_counter() - started)
                support = answer.support
                rows.append({"question": item["q"], "expected": item.get("answer"),
                             "section": item.get("section"), "answer": text,
                             "verdict": answer.reply.verdict,
                             "support": support.source if support else None,
                             "sources": [h.source for h in answer.sources[:3]]})
    for row, item in zip(rows, check["answerable"] + check["unanswerable"], strict=True):
        wanted = f"{item['doc']}#{row['section']}" if row["section"] else item["doc"]
        row["section_ok"] = row["support"] == wanted
        row["source_top3"] = wanted in row["sources"]
        if row["expected"] is None:
            row["ok"] = row["verdict"] == "abstained"
        else:
            row["ok"] = right(row["answer"], row["verdict"], row["expected"])
            row["exact"] = normalise(row["answer"].strip("\u201c\u201d")) == normalise(
                row["expected"])
            row["f1"] = token_f1(row["answer"], row["expected"])
    answerable = [r for r in rows if r["expected"] is not None]
    cited = [r for r in answerable if r["support"]]
    unanswerable = [r for r in rows if r["expected"] is None]
    share = lambda part, whole: round(len(part) / len(whole), 3) if whole else None  # noqa: E731
    return {
        "file": str(path), "answerable": len(answerable), "unanswerable": len(unanswerable),
        "right": share([r for r in answerable if r["ok"]], answerable),
        "exact": share([r for r in answerable if r["exact"]], answerable),
        "f1": round(statistics.mean(r["f1"] for r in answerable), 3),
        "abstained_answerable": share([r for r in answerable
                                       if r["verdict"] == "abstained"], answerable),
        "section_right_of_cited": share([r for r in cited if r["section_ok"]], cited),
        "right_source_in_top3": share([r for r in answerable if r["source_top3"]], answerable),
        "unanswerable_abstained": share([r for r in unanswerable if r["ok"]], unanswerable),
        "median_answer_s": round(statistics.median(seconds), 3),
        "rows": rows,
    }
