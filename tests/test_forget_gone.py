"""Forget means gone: after a user forgets what they said, no entry point tells it back
and no file of the data folder (or of the PostgreSQL server's data directory) holds it,
as a table row, a full-text term, a log line, a title or an export."""

from __future__ import annotations

import io
import json
import os
import sqlite3
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
from mcp import Client

from assistant.agent import Agent
from assistant.mcp.server import build_server
from assistant.plain import run as plain_chat

SECRET = "Zq7-Velvetmoth-19"  # in no model, fixture or other test
SAID = f"My locker combination is {SECRET}."
KEPT = f"remember that my locker combination is {SECRET}"  # a pinned fact, said in chat
QUESTION = "What is my locker combination?"
# As typed, and as the full-text indexes keep it (a lowercased term of its own).
NEEDLES = [s.encode() for s in (SECRET, SECRET.lower(), "velvetmoth", "Velvetmoth")]


def holding_it(*folders: Path) -> list[str]:
    """Every file under `folders` (logs, WAL, FAISS, sidecars, exports) that holds the secret."""
    return [str(f) for folder in folders for f in sorted(folder.rglob("*"))
            if f.is_file() and not f.is_symlink()
            and any(n in f.read_bytes() for n in NEEDLES)]


def fts_terms(home: Path) -> set[str]:
    """The terms FTS5's index holds (its pages prefix-compress terms, so bytes alone miss
    some); read through a temporary vocabulary table that writes nothing to the file."""
    with sqlite3.connect(home / "memory.sqlite3") as db:
        db.execute("CREATE VIRTUAL TABLE temp.vocab USING fts5vocab(main, memories_fts, row)")
        terms = {t for (t,) in db.execute("SELECT term FROM temp.vocab")}
    db.close()
    return terms


def assert_gone(text: str) -> None:
    assert "velvetmoth" not in text.lower(), text


def cli(home: Path, *args: str, stdin: str | None = None) -> str:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    proc = subprocess.run([sys.executable, "-m", "assistant.cli", "--home", str(home), *args],
                          input=stdin, capture_output=True, text=True, env=env, timeout=600)
    assert proc.returncode == 0, f"exit {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout


@pytest.mark.slow
def test_memories_forget_on_the_command_line_leaves_no_copy_in_any_file(tmp_path,
                                                                       model_cache):
    home = tmp_path / "home"
    said = cli(home, "chat", "--plain", "--json",
               stdin=f"{SAID}\n{KEPT}\n{QUESTION}\n/new\n{QUESTION}\n").splitlines()
    for answer in (json.loads(said[2]), json.loads(said[4])):  # in both conversations
        assert SECRET in answer["answer"], answer  # remembered, and told back when asked
    # An older version logged a draft answer it could not check with its words.
    with (home / "assistant.log").open("a", encoding="utf-8") as log:
        for draft in (SECRET, "1234"):
            log.write(f"2026-11-30 10:09:11,431 INFO assistant.answer.pipeline: no memory "
                      f"supports '{draft}' (phrase) as the answer to '{QUESTION}'\n")
    listed = json.loads(cli(home, "memories", "list", "--json", "--limit", "100"))
    doomed = [m["id"] for m in listed if SECRET in m["text"] and m["kind"] != "summary"]
    assert {m["kind"] for m in listed if m["id"] in doomed} == {"turn", "fact"}
    for memory_id in doomed:
        assert cli(home, "memories", "forget", str(memory_id)) == f"forgot memory #{memory_id}\n"

    assert_gone(cli(home, "ask", "--json", QUESTION))
    assert_gone(cli(home, "search", "--json", SECRET))
    exported = home / "exports" / "everything.json"
    exported.parent.mkdir()
    assert_gone(cli(home, "chat", "--plain", "--json",
                    stdin=f"/export {exported}\n{QUESTION}\n"))
    assert exported.stat().st_size > 0
    assert holding_it(home) == []
    assert not {"velvetmoth", "zq7"} & fts_terms(home)
    assert "no memory supports '1234'" in (home / "assistant.log").read_text()  # the rest stays


def test_an_answer_that_told_it_back_goes_with_the_last_memory_that_says_it(
        settings, encoder, generator):
    with Agent(settings, encoder=encoder, generator=generator) as agent:
        plain_chat(agent, [SAID, KEPT, "/new", QUESTION], io.StringIO())
        asked = agent.conversations()[0].id
        assert SECRET in agent.transcript(asked)[-1].text
        fact, turn = sorted((h for h in agent.store.list_memories(limit=50)
                             if SECRET in h.text and h.kind != "summary"), key=lambda h: h.kind)
        assert (fact.kind, turn.kind) == ("fact", "turn")
        agent.forget([fact.id])  # the turn still says it: the answer rests on that
        assert SECRET in agent.transcript(asked)[-1].text
        agent.forget([turn.id])
        assert [m.text for m in agent.transcript(asked)] == [QUESTION, "[forgotten]"]


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request, settings):
    """The data folder's settings, and the folders whose files must not keep a secret."""
    if request.param == "sqlite":
        return settings, [settings.home]
    server = request.getfixturevalue("pg_server")
    # The server's own setting: a recycled WAL segment keeps its old records until they
    # are overwritten; with recycling off, a segment the checkpoint no longer needs is
    # deleted (what an operator sets for forgetting to reach the server's files).
    server.psql("ALTER SYSTEM SET wal_recycle = off; SELECT pg_reload_conf();")
    return replace(settings, store_url=request.getfixturevalue("pg_url")), \
        [settings.home, Path(server.pgdata)]


async def test_forget_over_mcp_leaves_no_copy_in_the_transcript_answers_or_files(
        backend, encoder, generator):
    settings, folders = backend
    with Agent(settings, encoder=encoder, generator=generator) as agent:
        # Told in one conversation, told back in another (each ends with its summary).
        assert plain_chat(agent, [SAID, KEPT, "/new", QUESTION], io.StringIO()) == 0
        told = agent.transcript(agent.conversations()[0].id)[-1].text
        assert SECRET in told
        async with Client(build_server(agent)) as client:
            async def call(tool: str, **args) -> str:
                result = await client.call_tool(tool, args)
                assert not result.is_error, result.content
                return json.dumps(result.structured_content or result.content[0].text)

            found = json.loads(await call("search_memory", query=SECRET, k=20))["result"]
            doomed = [h["id"] for h in found if SECRET in h["text"] and h["kind"] != "summary"]
            assert len(doomed) == 2
            for memory_id in doomed:
                await call("forget", memory_id=memory_id)
            shown = [await call("list_conversations"), await call("ask", question=QUESTION),
                     await call("search_memory", query=f"locker combination {SECRET}")]
            for c in agent.conversations():
                shown.append(await call("get_conversation", conversation_id=c.id))
            assert "[forgotten]" in shown[-1] and "[forgotten]" in shown[-2]
            for text in shown:
                assert_gone(text)
    assert holding_it(*folders) == []
    if not settings.store_url:
        assert not {"velvetmoth", "zq7"} & fts_terms(settings.home)
