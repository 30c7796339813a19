"""`assistant bench person`: what the assistant remembers of the person it talks to, in
the spirit of LongMemEval's abilities: their own facts, what changed (and what was true
before), who is who in their life, facts of the people around them, facts spread over
sessions, when things happened, and never answering what was never said.

Each persona (assistant/bench/personas.py) is told in a fresh data folder, in one of two
modes: "import" (its sessions as a ChatGPT export, through the product's import) or
"typed" (every statement typed in the plain chat, one conversation per session, the
clock at the session's date). Then its questions are asked through the plain chat in a
new conversation, the clock after the last session, and scored from the JSON replies:
an answerable question is right when the verdict is "answered", every word of the
expected phrase (normalised as LoCoMo's F1 does) is in the answer, and no superseded
value is; a never-said question is right when the verdict is "abstained".
"""

from __future__ import annotations

import io
import json
import tempfile
import time
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import replace
from datetime import datetime
from pathlib import Path

from assistant.answer.protocol import Generator
from assistant.bench.personas import ABILITIES, HELD_OUT_2_FROM, HELD_OUT_FROM, persona
from assistant.config import Settings
from assistant.locomo.scoring import normalise

MODES = ("import", "typed")
# What the assistant "said" in the export: short and neutral, so nothing it says is a fact.
REPLIES = ("Noted.", "Thanks for telling me.", "Got it.", "Good to know.",
           "Thanks, I'll keep that in mind.")
MESSAGE_GAP_S = 20  # seconds between the messages of one exported session


def chatgpt_export(p: dict) -> list[dict]:
    """The persona's sessions as ChatGPT's conversations.json: one conversation per
    session, each statement followed by a short neutral reply, dated at the session."""
    out = []
    for n, session in enumerate(p["sessions"]):
        start = datetime.fromisoformat(session["date"]).timestamp()
        mapping: dict[str, dict] = {"root": {"id": "root", "message": None, "parent": None,
                                             "children": []}}
        parent, t = "root", start
        for i, text in enumerate(session["statements"]):
            reply = REPLIES[(n + i) % len(REPLIES)]
            for node, role, said in ((f"u{i}", "user", text), (f"a{i}", "assistant", reply)):
                mapping[parent]["children"].append(node)
                mapping[node] = {"id": node, "parent": parent, "children": [],
                                 "message": {"author": {"role": role}, "create_time": t,
                                             "content": {"content_type": "text",
                                                         "parts": [said]}}}
                parent, t = node, t + MESSAGE_GAP_S
        out.append({"id": f"person-{p['seed']}-{n}", "title": session["title"],
                    "create_time": start, "current_node": parent, "mapping": mapping})
    return out


def typed(agent, lines: list[str], when: datetime) -> list[dict]:
    """`lines` typed in the plain chat as one new conversation, the clock at `when`: the
    JSON reply of each line."""
    from assistant.plain import run as plain_run

    agent.clock = lambda: when
    out = io.StringIO()
    plain_run(agent, lines, out, as_json=True)
    replies = [json.loads(line) for line in out.getvalue().splitlines() if line.strip()]
    if len(replies) != len(lines):
        raise RuntimeError(f"the plain chat wrote {len(replies)} replies to {len(lines)} "
                           "lines; see the data folder's log")
    return replies


def _words(text: str) -> set[str]:
    """normalise's words, quotes and dashes beyond ASCII ("“...”", a quoted answer) first
    made spaces: normalise only drops ASCII punctuation."""
    return set(normalise("".join(" " if not c.isascii() and unicodedata.category(c)[0] == "P"
                                 else c for c in text)))


def right(reply: dict, item: dict) -> bool:
    """Whether a plain-chat JSON reply answers `item` as expected (see the module's doc)."""
    if item["answer"] is None:
        return reply.get("verdict") == "abstained"
    said = _words(reply.get("answer") or "")
    return (reply.get("verdict") == "answered" and _words(item["answer"]) <= said
            and not any(_words(old) <= said for old in item.get("stale", [])))


def _tell(agent, p: dict, mode: str, folder: Path) -> list[str]:
    """Give the agent the persona's sessions; the errors of any statement typed."""
    if mode == "import":
        export = folder / "conversations.json"
        export.write_text(json.dumps(chatgpt_export(p)), encoding="utf-8")
        report = agent.import_paths([export])
        if report.failed or not report.imported:
            raise RuntimeError(f"persona {p['seed']}: the export did not import: "
                               f"{report.failed or report.skipped}")
        return []
    errors = []
    for session in p["sessions"]:
        replies = typed(agent, session["statements"],
                        datetime.fromisoformat(session["date"]))
        errors += [r["error"] for r in replies if "error" in r]
    return errors


def _percent(part: int, whole: int) -> float | None:
    return round(100 * part / whole, 1) if whole else None


def summarise(rows: list[dict]) -> dict:
    """Per ability: n, right %, and for answerable questions the % wrongly abstained;
    overall: answerable right % and abstained %, never-said abstained %."""
    abilities = {}
    for ability in ABILITIES:
        these = [r for r in rows if r["ability"] == ability]
        if these:
            abilities[ability] = {"n": len(these),
                                  "right": _percent(sum(r["ok"] for r in these), len(these))}
            if ability != "never-said":
                abilities[ability]["abstained"] = _percent(
                    sum(r["verdict"] == "abstained" for r in these), len(these))
    answerable = [r for r in rows if r["expected"] is not None]
    never = [r for r in rows if r["expected"] is None]
    return {"abilities": abilities, "answerable": len(answerable), "never_said": len(never),
            "answerable_right": _percent(sum(r["ok"] for r in answerable), len(answerable)),
            "answerable_abstained": _percent(sum(r["verdict"] == "abstained"
                                                 for r in answerable), len(answerable)),
            "never_said_abstained": _percent(sum(r["ok"] for r in never), len(never))}


def run(settings: Settings, seeds: Iterable[int], mode: str, encoder=None,
        generator: Generator | None = None, use_ltmt: bool = True, *,
        out: Path | None = None, abilities: set[str] | None = None, limit: int | None = None,
        progress: Callable[[str], None] = lambda _: None) -> dict:
    """Tell each persona of `seeds` to a fresh assistant in `mode` ("import", "typed" or
    "both") and ask it the persona's questions (only `abilities`, the first `limit`);
    every row is also written to `out` (JSON lines) as it is scored."""
    from assistant.agent import Agent

    modes = MODES if mode == "both" else (mode,)
    if not set(modes) <= set(MODES):
        raise ValueError(f"mode {mode!r}: choose import, typed or both")
    seeds = list(seeds)
    rows: list[dict] = []
    errors: dict[str, list[str]] = {m: [] for m in modes}
    started = time.perf_counter()
    sink = out.open("w", encoding="utf-8") if out else None
    try:
        for seed in seeds:
            p = persona(seed)
            questions = [q for q in p["questions"]
                         if not abilities or q["ability"] in abilities][:limit]
            for m in modes:
                t0 = time.perf_counter()
                with (tempfile.TemporaryDirectory() as tmp,
                      Agent(replace(settings, home=Path(tmp) / "home"), encoder=encoder,
                            generator=generator, use_ltmt=use_ltmt) as agent):
                    errors[m] += _tell(agent, p, m, Path(tmp))
                    replies = typed(agent, [q["q"] for q in questions],
                                    datetime.fromisoformat(p["now"]))
                for q, reply in zip(questions, replies, strict=True):
                    errors[m] += [reply["error"]] if "error" in reply else []
                    row = {"seed": seed, "mode": m, "ability": q["ability"], "question": q["q"],
                           "expected": q["answer"], "stale": q.get("stale", []),
                           "answer": reply.get("answer"),
                           "verdict": reply.get("verdict", "error"), "ok": right(reply, q),
                           "support": (reply.get("support") or {}).get("text")}
                    rows.append(row)
                    if sink:
                        sink.write(json.dumps(row, ensure_ascii=False) + "\n")
                        sink.flush()
                done = [r for r in rows if r["seed"] == seed and r["mode"] == m]
                progress(f"persona {seed} ({m}): {sum(r['ok'] for r in done)} of "
                         f"{len(done)} right, {time.perf_counter() - t0:.0f} s")
    finally:
        if sink:
            sink.close()
    split = {"held-out-2" if s >= HELD_OUT_2_FROM else "held-out" if s >= HELD_OUT_FROM
             else "dev" for s in seeds}
    return {"seeds": seeds, "split": "+".join(sorted(split)), "use_ltmt": use_ltmt,
            "modes": {m: summarise([r for r in rows if r["mode"] == m]) for m in modes},
            "errors": {m: e for m, e in errors.items() if e},
            "seconds": round(time.perf_counter() - started, 1), "rows": rows}


def format_table(result: dict) -> str:
    """A compact table: per ability and mode, n, right % and (answerable) abstained %."""
    modes = list(result["modes"])

    def cell(entry: dict | None, right: str = "right", abstained: str = "abstained") -> str:
        if not entry:
            return f"{'':>24}"
        pct = [entry.get(k) for k in (right, abstained)]
        shown = ["" if v is None else f"{v:.1f}%" for v in pct]
        return f"{entry['n']:>5} {shown[0]:>8} {shown[1]:>9}"

    head = (f"persons {','.join(map(str, result['seeds']))} ({result['split']}), "
            f"LTM-T {'on' if result['use_ltmt'] else 'off'}, {result['seconds']:.0f} s")
    lines = [head, f"{'':18}" + "".join(f"{m:>24}" for m in modes),
             f"{'ability':18}" + f"{'n':>5} {'right':>8} {'abstained':>9}" * len(modes)]
    for ability in ABILITIES:
        lines.append(f"{ability:18}" + "".join(
            cell(result["modes"][m]["abilities"].get(ability)) for m in modes))
    lines.append(f"{'answerable':18}" + "".join(
        cell({"n": s["answerable"], "right": s["answerable_right"],
              "abstained": s["answerable_abstained"]}) for s in result["modes"].values()))
    lines.append(f"{'never-said':18}" + "".join(
        cell({"n": s["never_said"], "right": None, "abstained": s["never_said_abstained"]})
        for s in result["modes"].values()))
    for m, errors in result.get("errors", {}).items():
        lines.append(f"{m}: {len(errors)} lines failed, the first: {errors[0]}")
    lines.append("right: answered with the expected words and no superseded value; abstained "
                 "(answerable): wrongly; never-said: abstained is right")
    return "\n".join(lines)
