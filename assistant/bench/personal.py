"""`assistant bench personal`: one person's chats imported as a ChatGPT export, then
questions the chats answer and questions about things never said, each through `ask`.

A right answer contains every word of the expected phrase (normalised as LoCoMo's F1
does); a never-said question must abstain. The check file is `data/personal-dev.json`.
"""

from __future__ import annotations

import json
import tempfile
import time
from dataclasses import replace
from datetime import datetime
from pathlib import Path

from assistant.answer.draft import Reply
from assistant.answer.protocol import Generator
from assistant.config import Settings
from assistant.locomo.scoring import normalise

DEFAULT_FILE = Path(__file__).resolve().parents[2] / "data" / "personal-dev.json"


def chatgpt_export(chats: list[dict]) -> list[dict]:
    """The chats as ChatGPT's conversations.json: one conversation per chat, the user's
    message then the assistant's reply."""
    out = []
    for n, chat in enumerate(chats):
        t = datetime.fromisoformat(chat["date"]).timestamp()
        nodes = {"root": {"id": "root", "message": None, "parent": None, "children": ["u"]}}
        for node_id, parent, role, text, dt in (("u", "root", "user", chat["user"], 0),
                                                ("a", "u", "assistant", chat["assistant"], 5)):
            nodes[node_id] = {"id": node_id, "parent": parent, "children": [],
                              "message": {"author": {"role": role}, "create_time": t + dt,
                                          "content": {"content_type": "text",
                                                      "parts": [text]}}}
        nodes["u"]["children"] = ["a"]
        out.append({"id": f"personal-{n}", "title": chat["title"], "create_time": t,
                    "current_node": "a", "mapping": nodes})
    return out


def asked(agent, question: str) -> Reply:
    """The Reply of `ask`, through the chat's own answer path."""
    answer = agent.ask(question)
    "".join(answer)
    return answer.reply


def right(reply: Reply, expected: str) -> bool:
    return reply.answered and set(normalise(expected)) <= set(normalise(reply.text))


def run(settings: Settings, path: Path | None = None, encoder=None,
        generator: Generator | None = None,
        use_ltmt: bool = True) -> dict:
    """Import the check's chats into a fresh data folder and ask every question."""
    from assistant.agent import Agent

    path = path or DEFAULT_FILE
    check = json.loads(path.read_text(encoding="utf-8"))
    now = datetime.fromisoformat(check["now"])
    rows, started = [], time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        export = Path(tmp) / "conversations.json"
        export.write_text(json.dumps(chatgpt_export(check["chats"])), encoding="utf-8")
        with Agent(replace(settings, home=Path(tmp) / "home"), encoder=encoder,
                   generator=generator, use_ltmt=use_ltmt, clock=lambda: now) as agent:
            report = agent.import_paths([export])
            if report.failed:
                raise ValueError(f"{path}: the export did not import: {report.failed}")
            for item in check["answerable"]:
                reply = asked(agent, item["q"])
                rows.append({"question": item["q"], "expected": item["answer"],
                             "answer": reply.text, "verdict": reply.verdict,
                             "ok": right(reply, item["answer"])})
            for question in check["never_said"]:
                reply = asked(agent, question)
                rows.append({"question": question, "expected": None, "answer": reply.text,
                             "verdict": reply.verdict, "ok": reply.verdict == "abstained"})
    answerable = [r for r in rows if r["expected"] is not None]
    never = [r for r in rows if r["expected"] is None]
    return {"answerable_right": round(sum(r["ok"] for r in answerable) / len(answerable), 3),
            "never_said_abstained": round(sum(r["ok"] for r in never) / len(never), 3),
            "answerable": len(answerable), "never_said": len(never),
            "seconds": round(time.perf_counter() - started, 1), "rows": rows}
