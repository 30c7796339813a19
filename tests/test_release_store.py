"""A data folder written by the release before the memory-text schema (made by
tests/fixtures/make_release_store.py with that release's code) opens with this one: its
memories get the schema's meta (on SQLite, and on PostgreSQL after `store copy`), their
text is untouched, and every question is answered as that release answered it."""

from __future__ import annotations

import json
import shutil
import sqlite3
from dataclasses import replace
from datetime import datetime
from pathlib import Path

import pytest

from assistant.agent import Agent
from assistant.config import Settings
from assistant.memory import text as memory_text
from memory_store.copy import copy_store
from memory_store.open import open_store
from memory_store.sqlite_store import SqliteStore

RELEASE = Path(__file__).parent / "fixtures" / "release-store"
EXPECTED = json.loads((RELEASE / "expected.json").read_text(encoding="utf-8"))
NOW = datetime.fromisoformat(EXPECTED["now"])
ASKED = 2  # "Where was my sister Ana born?", asked in the chat
# What the schema's readers must find in each kind of memory the old release wrote.
SCHEMA = {
    1: {"form": "statement", "speaker": "User", "said_on": "2026-03-02"},  # a chat statement
    2: {"form": "question", "speaker": "User", "said_on": "2026-03-02"},  # asked in the chat
    4: {"form": "statement", "speaker": "User", "subject": "residence", "value": "berlin"},
    6: {"form": "statement", "speaker": "User", "part": 2},  # a long message's second part
    8: {"form": "statement", "speaker": "User", "said_on": "2026-04-12"},  # /remember
    9: {"form": "summary", "speaker": "", "messages": 12, "method": "generator"},
    12: {"form": "statement", "speaker": "", "said_on": "2026-04-16"},  # an MCP fact
    14: {"form": "chunk", "speaker": "", "title": "Brewing notes"},  # a document's
    15: {"form": "statement", "speaker": "User", "origin": "chatgpt"},  # an imported chat
    16: {"form": "statement", "speaker": "Assistant", "role": "assistant"},
    17: {"form": "statement", "speaker": "User", "role": "user"},  # put to ChatGPT
}


def legacy_rows(path: Path) -> dict[int, tuple[str, dict]]:
    db = sqlite3.connect(path)
    try:
        return {i: (text, json.loads(meta or "{}"))
                for i, text, meta in db.execute("SELECT id, text, meta FROM memories")}
    finally:
        db.close()


@pytest.fixture
def release_home(tmp_path) -> Path:
    home = tmp_path / "home"
    shutil.copytree(RELEASE, home)
    (home / "expected.json").unlink()
    return home


@pytest.mark.slow  # loads the generator with the shipped adapter, as the release answered
def test_the_release_store_is_migrated_and_answers_as_it_did(release_home, model_cache,
                                                              encoder):
    before = legacy_rows(release_home / "memory.sqlite3")
    assert all("form" not in meta for _, meta in before.values())  # written before it
    shipped_settings = Settings(home=release_home, cache_dir=model_cache)
    with Agent(shipped_settings, encoder=encoder, clock=lambda: NOW) as agent:
        migrated = {h.id: h for h in agent.store.list_memories(limit=100)}
        assert set(migrated) == set(before)
        for mid, (text, _) in before.items():
            hit = migrated[mid]
            assert hit.text == text  # the text (and so its vector and words) is untouched
            assert memory_text.form(hit) and "question" not in hit.meta, mid
        for mid, wanted in SCHEMA.items():
            assert wanted.items() <= migrated[mid].meta.items(), (mid, migrated[mid].meta)
        assert memory_text.body(migrated[1]).startswith("User: My sister Ana")
        assert memory_text.said_on(migrated[4]).isoformat() == "2026-04-11"
        for expected in EXPECTED["answers"]:
            answer = agent.ask(expected["question"])
            said = "".join(answer)
            # The same words, or (read off what the user said, since issue 23) a sentence
            # holding them: "Berlin" -> "You live in Berlin (you told me on 11 April 2026)."
            # An abstention says the same; its closest memory is now one about the user
            # when the question is about the user (not the sister's birthplace).
            assert said == expected["answer"] or (
                expected["answer"].lower() in said.lower() if expected["support"] is not None
                else said.split(" The closest")[0] == expected["answer"].split(" The closest")[0]
            ), (expected["question"], said)
            assert (answer.support.id if answer.support else None) == expected["support"]
            # As then, but for the question asked earlier (memory 2): since issue 23 a
            # question is kept in its transcript and never recalled.
            then = [i for i in expected["sources"] if i != ASKED]
            now = [h.id for h in answer.sources]
            # The statement an answer rests on now comes first (issue 23): the same
            # memories, maybe in another order.
            assert ASKED not in now and set(then) <= set(now), (expected["question"], now)
        assert agent.store.backfill(memory_text.SCHEMA, memory_text.backfill) is None  # once


def test_a_release_store_copied_to_postgresql_is_migrated_there(release_home, pg_url, encoder,
                                                                 settings):
    source = SqliteStore(release_home, embedding_model=encoder.name, dim=encoder.dim)
    target = open_store(release_home, pg_url, embedding_model=encoder.name, dim=encoder.dim)
    try:
        copy_store(source, target)  # the old release's rows, meta as that release wrote it
    finally:
        source.close()
        target.close()
    with Agent(replace(settings, home=release_home, store_url=pg_url), encoder=encoder,
               clock=lambda: NOW) as agent:
        migrated = {h.id: h.meta for h in agent.store.list_memories(limit=100)}
    for mid, wanted in SCHEMA.items():
        assert wanted.items() <= migrated[mid].items(), (mid, migrated[mid])
