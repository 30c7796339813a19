"""The person: who is who, what is true now and before, forgetting that forgets, and what
the user said before any document. Real SQLite/PostgreSQL, encoder and generator."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import datetime, timedelta

import pytest
from sqlalchemy import text

from assistant.agent import Agent
from assistant.memory import text as memory_text

FIRST = datetime(2026, 10, 1, 9, 0)
LATER = FIRST + timedelta(days=30)
NOW = LATER + timedelta(days=2)
TOLD = ["My name is Sam and my sister Lucia lives in Madrid.", "I have a dog called Biscuit.",
        "Lucia is a nurse at a children's hospital.", "I'm a software engineer at Tidewater.",
        "I live in Lisbon.", "Marta, my cello teacher, gave me a new piece to learn.",
        "My cousin Pavel lives in Brno and works as a baker."]
UPDATES = ["Actually my sister moved to Porto last month.", "I moved to Berlin in September."]


@pytest.fixture
def agent(settings, encoder, generator):
    a = Agent(settings, encoder=encoder, generator=generator, clock=lambda: NOW)
    yield a
    a.close()


def tell(agent: Agent, lines: list[str], when: datetime) -> tuple[int, list]:
    cid = agent.new_conversation("told")
    conflicts = []
    for n, line in enumerate(lines):
        answer = agent.chat_turn(cid, line, now=when + timedelta(minutes=n))
        "".join(answer)
        assert answer.reply.verdict == "noted"
        conflicts += answer.conflicts
    return cid, conflicts


def asked(agent: Agent, cid: int, question: str):
    answer = agent.chat_turn(cid, question, now=NOW)
    "".join(answer)
    return answer.reply


def test_the_people_in_a_life_and_what_changed(agent):
    tell(agent, TOLD, FIRST)
    _, conflicts = tell(agent, UPDATES, LATER)
    life = agent.people.life
    assert life.resolve("my sister").name == "Lucia"
    assert life.resolve("Lucia").relation == "sister"
    assert life.resolve("Marta").relation == "cello teacher"
    assert life.resolve("my dog").name == "Biscuit"
    lucia = life.resolve("Lucia")
    assert lucia.first.date() == FIRST.date() and lucia.last.date() == LATER.date()
    # The conflict card, for the sister as for the user; the older is kept as history.
    assert {c.subject for c in conflicts} == {"Lucia's residence", "residence"}
    assert [f.value for f in agent.people.timeline("Lucia", "residence")] == ["Madrid", "Porto"]
    # Each statement records whom it is about, in its meta.
    (moved,) = [h for h in agent.store.list_memories(limit=50) if "moved to Porto" in h.text]
    assert memory_text.about(moved) == [{"name": "Lucia", "relation": "sister"}]
    assert memory_text.facts(moved) == [{"who": "Lucia", "subject": "residence",
                                         "value": "Porto"}]


def test_answers_about_people_use_what_is_true_now(agent):
    tell(agent, TOLD, FIRST)
    tell(agent, UPDATES, LATER)
    cid = agent.new_conversation("questions")
    where = asked(agent, cid, "Where does my sister live now?")
    assert where.answered and "Porto" in where.text and "Madrid" not in where.text
    assert "moved to Porto" in where.support.text
    mine = asked(agent, cid, "Where do I live?")
    assert mine.answered and "Berlin" in mine.text and "Porto" not in mine.text
    assert "Madrid" in asked(agent, cid, "Where did my sister live before?").text
    job = asked(agent, cid, "What does my sister do for a living?")
    assert "nurse" in job.text and "Tidewater" not in job.text
    assert "cello teacher" in asked(agent, cid, "Who is Marta?").text
    # Two facts in one sentence, the second without its subject.
    assert [f.value for f in agent.people.timeline("Pavel", "job")] == ["baker"]
    assert "baker" in asked(agent, cid, "What does Pavel do for a living?").text
    assert "Brno" in asked(agent, cid, "Where does my cousin live?").text
    assert "Biscuit" in asked(agent, cid, "What is my dog's name?").text
    for never in ("What is my brother's name?", "Where does Marta live?"):
        assert asked(agent, cid, never).verdict == "abstained", never
    # What was asked is not recalled as knowledge, nor shown as "the closest".
    closest = asked(agent, cid, "What does my brother do?")
    assert closest.verdict == "abstained" and "brother's name" not in closest.text


def test_a_replaced_value_in_an_answer_is_corrected(agent):
    tell(agent, TOLD, FIRST)
    tell(agent, UPDATES, LATER)
    from assistant.answer.person import corrected

    sources = agent.recall("Where does Lucia live?")
    fixed = corrected("Where does Lucia live?", "She lives in Madrid.", agent.people, sources)
    assert fixed is not None and "Porto" in fixed[0] and "Madrid" not in fixed[0]
    assert corrected("Where does Lucia live?", "In Porto.", agent.people, sources) is None


def test_what_the_user_said_comes_before_a_document(agent, tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text("# Garden tools\n\nKeep the shed key in the key box by the door. Hide a "
                      "spare key under a flowerpot only if the box is full.\n", encoding="utf-8")
    assert agent.import_paths([readme]).ok
    cid = agent.new_conversation("weekend")
    long = ("We went to the market today and it was busy. The weather was lovely, and we "
            "bought fruit and bread for the week. My neighbour waved from her balcony while "
            "we unloaded the car. I hid the shed key inside the old green watering can.")
    "".join(agent.chat_turn(cid, long, now=LATER))
    reply = asked(agent, agent.new_conversation("q"), "Where did I hide my shed key?")
    assert reply.sources[0].kind == "turn"
    assert reply.answered and "watering can" in reply.text, reply.text


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_forgetting_leaves_no_copy_anywhere(backend, request, settings, encoder, generator,
                                           tmp_path):
    if backend == "postgresql":
        settings = replace(settings, store_url=request.getfixturevalue("pg_url"))
    agent = Agent(settings, encoder=encoder, generator=generator, clock=lambda: NOW)
    with agent:
        cid, _ = tell(agent, TOLD[:3], FIRST)
        "".join(agent.chat_turn(cid, "Where does Lucia live?", now=FIRST))  # a quoting answer
        agent.remember(cid, "my locker combination is 7-19-33", said="remember that my "
                       "locker combination is 7-19-33")
        assert agent.summarize(cid) is not None
        secrets = ["Madrid", "7-19-33"]
        doomed = [h.id for h in agent.store.list_memories(limit=50)
                  if any(s in h.text for s in secrets) and h.kind != "summary"]
        assert len(doomed) == 2
        assert agent.forget(doomed) == 2
        out = tmp_path / "export.json"
        agent.export(out)
        found = json.dumps([m.text for c in agent.conversations()
                            for m in agent.transcript(c.id)])
        found += json.dumps([h.to_json() for h in agent.store.list_memories(limit=500)])
        found += out.read_text(encoding="utf-8")
        for s in secrets:
            found += json.dumps([h.text for h in agent.search(s)])
            found += json.dumps([h.text for h in agent.recall(f"Where is {s}?")])
        for s in secrets:
            assert s not in found
        # What else was said stays, and the summary was written again without it.
        summary = agent.store.conversation_memories(cid, kind="summary")
        assert summary and "nurse" in summary[0].text and "Madrid" not in summary[0].text
        assert agent.people.timeline("Lucia", "residence") == []
        assert agent.people.life.resolve("Lucia") is not None  # still spoken of elsewhere
        if backend == "postgresql":
            with agent.store.Session() as s:
                for table in ("memories", "messages", "conversations", "meta"):
                    rows = s.execute(text(f"SELECT t::text FROM {table} t")).scalars().all()
                    assert not any(sec in r for r in rows for sec in secrets), table
    if backend == "sqlite":  # the files themselves: tables, FTS segments, log, free pages
        for f in settings.home.rglob("*"):
            if f.is_file():
                data = f.read_bytes()
                for s in secrets:
                    assert s.encode() not in data, f"{s} in {f}"


def test_people_command_lists_who_and_what_is_true(agent, capsys):
    from argparse import Namespace

    from assistant.cli import cmd_people

    tell(agent, TOLD, FIRST)
    tell(agent, UPDATES, LATER)
    assert cmd_people(agent, Namespace(json=True)) == 0
    shown = json.loads(capsys.readouterr().out)
    lucia = next(p for p in shown["people"] if p["name"] == "Lucia")
    assert lucia["relation"] == "sister"
    assert [f["value"] for f in lucia["facts"]["residence"]] == ["Madrid", "Porto"]
    assert shown["you"]["residence"][-1]["value"] == "Berlin"
    assert {p["name"]: p["relation"] for p in shown["people"]}.items() >= {
        "Biscuit": "dog", "Marta": "cello teacher"}.items()
    assert cmd_people(agent, Namespace(json=False)) == 0
    assert "residence: Porto (since 2026-10-31); before: Madrid" in capsys.readouterr().out


def test_pets_belong_to_whoever_has_them():
    from assistant.memory.people import Life, mentions

    life = Life()
    for sentence in ("My friend Tomas is great.", "Tomas adopted a hamster called Toffee.",
                     "New family member: a dog called Bramble, adopted this week."):
        for m in mentions(sentence, life, None):
            if m.name != "User":
                life.add(m, FIRST)
    assert life.resolve("Toffee").relation == "Tomas's hamster"
    assert life.related("hamster") is None  # not the user's hamster
    assert life.related("Tomas's hamster").name == "Toffee"
    assert life.related("dog").name == "Bramble"


def _export(statements: list[str], conversation: str) -> list[dict]:
    """A ChatGPT conversations.json of one conversation whose user says `statements`."""
    from assistant.bench.person import chatgpt_export

    return chatgpt_export({"seed": conversation, "sessions": [
        {"date": FIRST.isoformat(), "title": conversation, "statements": statements}]})


def test_an_export_imported_again_replaces_what_was_read_from_it(agent, tmp_path):
    # The updated export a user downloads has the same name; the app imports it in the
    # same process, where the people read from the old one were still held (a crash:
    # FOREIGN KEY constraint failed, superseding a memory the new import had deleted).
    export = tmp_path / "conversations.json"
    export.write_text(json.dumps(_export(["I live in Lisbon.", "I moved to Porto."], "a")))
    assert agent.import_paths([export]).ok
    export.write_text(json.dumps(_export(["I live in Lisbon.", "I moved to Porto.",
                                          "I moved to Berlin."], "a")))
    assert agent.import_paths([export]).ok
    line = agent.people.timeline("User", "residence")
    assert [f.value for f in line][-1] == "Berlin"
    assert all(agent.store.get(f.memory_id) is not None for f in line)
