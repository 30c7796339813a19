"""`assistant bench person`: the generated personas are deterministic, split dev from
held-out, ask every ability, and only ask what their own statements answer (or, for
never-said questions, what they never state); the run scores replies from the plain chat."""

from __future__ import annotations

import json
import re
from collections import Counter
from datetime import datetime
from pathlib import Path

import pytest

from assistant.bench.person import chatgpt_export, format_table, right, run
from assistant.bench.personas import (
    ABILITIES,
    ASK,
    DEV_SEEDS,
    HELD_OUT_2_FROM,
    HELD_OUT_2_SEEDS,
    HELD_OUT_FROM,
    HELD_OUT_SEEDS,
    MONTHS,
    SAY,
    persona,
)
from assistant.bench.personas_fresh import FRESH_ASK, FRESH_SAY
from assistant.commands import is_question, parse
from assistant.ingest.chatgpt_reader import read_chatgpt
from assistant.locomo.scoring import normalise

HELD_OUT = [*HELD_OUT_SEEDS, 103, 104, 150]
HELD_OUT_2 = [*HELD_OUT_2_SEEDS, 203, 250, 999]  # worded only with personas_fresh.py


@pytest.fixture(scope="module")
def dev() -> list[dict]:
    return [persona(s) for s in DEV_SEEDS]


def statements(p: dict, sessions: list[int] | None = None) -> list[str]:
    return [text for i, s in enumerate(p["sessions"]) if sessions is None or i in sessions
            for text in s["statements"]]


def proper_nouns(p: dict) -> set[str]:
    """The persona's people (the user too) and pets, and every place it names."""
    people = {name for name in p["facts"] if name != "user"} | {p["user"]}
    pets = {v for who in p["facts"].values() for k, v in who.items() if k.startswith("pet:")}
    places = {v for who in p["facts"].values() for k, v in who.items() if "city" in k}
    return people | pets | places


def test_the_generator_is_deterministic():
    assert json.dumps(persona(0)) == json.dumps(persona(0))
    assert json.dumps(persona(101)) == json.dumps(persona(101))
    assert json.dumps(persona(201)) == json.dumps(persona(201))


def test_different_seeds_make_different_people(dev):
    assert len({p["user"] for p in dev}) == 3
    assert len({p["facts"]["user"]["city"] for p in dev}) == 3
    for a, b in zip(dev, dev[1:], strict=False):
        assert statements(a) != statements(b)
        assert len(proper_nouns(a) & proper_nouns(b)) < len(proper_nouns(a)) / 2


def test_dev_and_held_out_personas_share_no_names_or_places(dev):
    held, held_2 = [persona(s) for s in HELD_OUT], [persona(s) for s in HELD_OUT_2]
    assert {p["split"] for p in dev} == {"dev"} and {p["split"] for p in held} == {"held-out"}
    assert {p["split"] for p in held_2} == {"held-out-2"}
    assert all(s < HELD_OUT_FROM for s in DEV_SEEDS)
    assert all(HELD_OUT_FROM <= s < HELD_OUT_2_FROM for s in HELD_OUT)
    assert all(s >= HELD_OUT_2_FROM for s in HELD_OUT_2)
    assert set().union(*map(proper_nouns, dev)).isdisjoint(set().union(*map(proper_nouns,
                                                                           held + held_2)))


def _template(text: str) -> re.Pattern:
    """A template as a pattern: each placeholder any text."""
    return re.compile(re.sub(r"\\\{\w+\\\}", ".+", re.escape(text)), re.IGNORECASE)


def test_the_second_held_out_split_is_worded_only_with_its_own_templates():
    """The same kinds as the dev wording, none of its phrasings, 3-4 a kind, the same
    placeholders; and a persona from HELD_OUT_2_FROM on says and asks nothing else."""
    assert set(FRESH_SAY) == set(SAY) and set(FRESH_ASK) == set(ASK)
    for fresh, old in ((FRESH_SAY, SAY), (FRESH_ASK, ASK)):
        for kind, templates in fresh.items():
            assert kind == "filler" or 3 <= len(templates) <= 4, kind
            assert len(set(templates)) == len(templates), kind
            assert not {t.lower() for t in templates} & {t.lower() for t in old[kind]}, kind
    fresh_say = {t: _template(t) for ts in FRESH_SAY.values() for t in ts}
    fresh_ask = {t: _template(t) for ts in FRESH_ASK.values() for t in ts}
    used = set()
    for seed in range(HELD_OUT_2_FROM, HELD_OUT_2_FROM + 60):  # every template comes up
        p = persona(seed)
        assert set(Counter(q["ability"] for q in p["questions"])) == set(ABILITIES)
        assert len({q["q"] for q in p["questions"]}) == len(p["questions"])  # none twice
        for text in statements(p):
            found = {t for t, pattern in fresh_say.items() if pattern.search(text)}
            assert found, text
            used |= found
        for q in p["questions"]:
            found = {t for t, pattern in fresh_ask.items() if pattern.fullmatch(q["q"])}
            assert found, q["q"]
            used |= found
    assert used == set(fresh_say) | set(fresh_ask)


def test_enough_questions_of_every_ability(dev):
    questions = [q for p in dev for q in p["questions"]]
    assert len(questions) >= 150
    for p in dev:
        assert set(Counter(q["ability"] for q in p["questions"])) == set(ABILITIES)
        assert len(p["questions"]) >= 50
        assert len({q["q"] for q in p["questions"]}) == len(p["questions"])  # none twice
    never = sum(q["answer"] is None for q in questions) / len(questions)
    assert 0.2 <= never <= 0.25


def _derivable_dates(p: dict, q: dict) -> set[str]:
    """A temporal answer read off its session's date, or the month before it ("last
    month")."""
    out = set()
    for i in q["evidence"]:
        d = datetime.fromisoformat(p["sessions"][i]["date"])
        out.add(f"{MONTHS[d.month - 1]} {d.year}")
        if any("last month" in s for s in p["sessions"][i]["statements"]):
            m = d.month - 2
            out.add(f"{MONTHS[m % 12]} {d.year + m // 12}")
    return out


@pytest.mark.parametrize("seed", [*DEV_SEEDS, *HELD_OUT, *HELD_OUT_2])
def test_every_answer_is_in_what_the_persona_said(seed):
    p = persona(seed)
    for q in p["questions"]:
        if q["answer"] is None:
            continue
        # "my sister's name is Lucia" says "sister" too
        said = set(normalise(re.sub(r"'s\b", "", " ".join(statements(p, q["evidence"])))))
        in_words = set(normalise(q["answer"])) <= said
        assert in_words or (q["ability"] == "temporal"
                            and q["answer"] in _derivable_dates(p, q)), q
        for old in q.get("stale", []):  # a right answer is possible, the old value said
            assert not set(normalise(old)) <= set(normalise(q["answer"])), q
            assert set(normalise(old)) <= set(normalise(" ".join(statements(p)))), q


@pytest.mark.parametrize("seed", [*DEV_SEEDS, *HELD_OUT, *HELD_OUT_2])
def test_no_never_said_question_is_answered_by_the_persona(seed):
    p = persona(seed)
    text = " ".join(statements(p))
    relations = {who["relation"] for name, who in p["facts"].items() if name != "user"}
    never = [q for q in p["questions"] if q["answer"] is None]
    assert never
    for q in never:
        who, attribute = q["topic"]
        if attribute == "exists":  # a name or a relation the persona never mentions
            assert who not in p["facts"] and who not in relations, q
            assert not re.search(rf"\b{who}\b" if who[0].isupper() else rf"\bmy {who}\b",
                                 text, re.IGNORECASE), q
        elif attribute.startswith("residence:"):
            assert attribute.split(":")[1] not in text, q
        else:
            assert attribute not in p["facts"][who], q


@pytest.mark.parametrize("seed", [*DEV_SEEDS, 100, *HELD_OUT_2_SEEDS])
def test_statements_are_told_and_questions_asked_in_the_chat(seed):
    """Typed in the chat, a statement is a message to remember (no command, no question)
    and every question is taken as one."""
    p = persona(seed)
    for text in statements(p):
        assert parse(text).name == "chat" and not is_question(text), text
    assert all(is_question(q["q"]) and parse(q["q"]).name == "chat" for q in p["questions"])
    assert p["sessions"][0]["statements"][0].count(p["user"]) == 1  # who they are, first
    dates = [s["date"] for s in p["sessions"]]
    assert dates == sorted(dates) and p["now"] > dates[-1]
    assert len({d[:7] for d in dates}) == len(dates)  # one session a month: dates are exact


def test_the_export_reads_back_as_the_sessions(tmp_path: Path):
    p = persona(1)
    export = tmp_path / "conversations.json"
    raw = json.dumps(chatgpt_export(p)).encode("utf-8")
    export.write_bytes(raw)
    _, conversations = read_chatgpt(export, raw)
    assert len(conversations) == len(p["sessions"])
    for conversation, session in zip(conversations, p["sessions"], strict=True):
        said = [t.text for t in conversation.turns if t.role == "user"]
        assert said == session["statements"]
        assert {t.role for t in conversation.turns} == {"user", "assistant"}
        # Stored times are UTC; the test session's local time is UTC (conftest).
        assert conversation.created_at == datetime.fromisoformat(session["date"])


def test_right_needs_the_words_the_verdict_and_no_superseded_value():
    item = {"answer": "Porto", "stale": ["Madrid"]}
    assert right({"verdict": "answered", "answer": "She lives in Porto."}, item)
    assert not right({"verdict": "answered", "answer": "Madrid, then Porto."}, item)
    assert not right({"verdict": "abstained", "answer": "Porto?"}, item)
    assert not right({"verdict": "answered", "answer": "Lisbon"}, item)
    assert right({"verdict": "answered", "answer": "A cello teacher"},
                 {"answer": "cello teacher"})
    assert right({"verdict": "answered", "answer": "\u201cI did a degree in mathematics.\u201d"},
                 {"answer": "mathematics"})  # a quoted sentence
    assert right({"verdict": "abstained", "answer": "I don't know."}, {"answer": None})
    assert not right({"verdict": "answered", "answer": "Lucia"}, {"answer": None})
    assert not right({"error": "line 3: failed"}, {"answer": None})


@pytest.mark.slow
def test_a_persona_typed_in_the_chat_is_remembered(settings, encoder, generator, tmp_path):
    pytest.importorskip("assistant.plain")
    out = tmp_path / "rows.jsonl"
    result = run(settings, [0], "typed", encoder=encoder, generator=generator, out=out,
                 abilities={"single-fact", "never-said"}, limit=6)
    rows = result["rows"]
    assert len(rows) == 6 and [json.loads(line) for line in out.read_text().splitlines()] \
        == rows
    assert {r["mode"] for r in rows} == {"typed"} and result["split"] == "dev"
    assert set(rows[0]) >= {"seed", "mode", "ability", "question", "expected", "answer",
                            "verdict", "ok"}
    summary = result["modes"]["typed"]
    assert summary["answerable"] + summary["never_said"] == 6
    assert not result["errors"]
    assert any(r["ok"] for r in rows if r["expected"] is not None), rows
    assert "single-fact" in format_table(result)
