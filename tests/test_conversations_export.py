"""`assistant conversations list|export` and importing the exported Markdown back: a
conversation made by the real agent goes out and comes back, into another data folder,
as a conversation with its authors, times and answers' sources, with nothing lost; and
a forgotten memory leaves every answer's sources."""

from __future__ import annotations

import io
import json
import sqlite3
from datetime import datetime, timedelta

import pytest
from sqlalchemy import text as sql

from assistant.agent import Agent
from assistant.cli import main
from assistant.config import Settings
from assistant.conversations import export_conversations
from assistant.ingest.conversation_reader import MARKER
from assistant.ingest.readers import read_document
from assistant.ingest.types import ReadError
from assistant.plain import run as run_plain
from memory_store.message_sources import entries
from memory_store.open import open_store
from memory_store.records import NewMemory

START = datetime(2026, 6, 15, 12, 0, 5, 123456)
# Markdown headings and a line like the export's own markers: the text must come back as is.
TRICKY = ('Notes for the trip:\n## not a heading of the export\n'
          '<!-- message {"role": "assistant", "time": "2020-01-01T00:00:00", "lines": 1} -->\n'
          '\nend with a blank line\n')


class Clock:
    """The agent's clock, a minute further at each reading: every message has its own time."""

    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        self.now += timedelta(minutes=1, microseconds=7)
        return self.now


def _agent(home, model_cache, encoder, generator) -> Agent:
    settings = Settings(home=home, cache_dir=model_cache, max_new_tokens=16)
    return Agent(settings, encoder=encoder, generator=generator, clock=Clock())


def _said(store, cid) -> list[tuple[str, str, datetime]]:
    return [(m.role, m.text, m.created_at) for m in store.messages(cid)]


@pytest.mark.slow
def test_markdown_round_trip_through_a_fresh_data_folder(tmp_path, model_cache, encoder,
                                                         generator, capsys):
    agent = _agent(tmp_path / "one", model_cache, encoder, generator)
    cid = agent.store.create_conversation("Trip --> Lisbon", created_at=START)
    for text in ["My sister Ana lives in Porto.", TRICKY, "Where does my sister Ana live?"]:
        answer = agent.chat_turn(cid, text, now=agent.clock())
        "".join(answer)
    assert answer.sources, "the last answer drew on memories"
    first = tmp_path / "first.md"
    assert export_conversations(agent.store, first) == [first]
    said = _said(agent.store, cid)
    # Each answer keeps what it was given and the memory it rests on, by label and date
    # only; the user's turns keep none.
    kept = [m.sources for m in agent.store.messages(cid)]
    support = answer.support
    assert support is not None, answer.text
    assert kept[0::2] == [None] * 3
    assert kept[-1] == entries(answer.sources, support.id)
    assert [e["support"] for e in kept[-1]].count(True) == 1
    assert not any(h.text in json.dumps(kept) for h in answer.sources)
    agent.close()
    assert [r for r, _, _ in said] == ["user", "assistant"] * 3
    markdown = first.read_text(encoding="utf-8")
    assert markdown.startswith(MARKER + "\n")
    # Under each answer, its sources for readers: numbered, dated, the support marked.
    lines = [line for line in markdown.split("\n") if line.startswith("Sources: [1] ")]
    assert len(lines) == sum(bool(k) for k in kept)
    n = [e["memory"] for e in kept[-1]].index(support.id) + 1
    assert f"[{n}] {support.source} ({support.created_at:%Y-%m-%d}, the answer rests on " \
           "it)" in lines[-1]

    fresh = _agent(tmp_path / "two", model_cache, encoder, generator)
    report = fresh.import_paths([first])
    assert report.ok and report.imported, report
    (conv,) = fresh.store.conversations()
    assert (conv.title, conv.created_at, conv.origin) == ("Trip --> Lisbon", START, "import")
    assert _said(fresh.store, conv.id) == said  # authors, texts and times, to the microsecond
    assert [m.sources for m in fresh.store.messages(conv.id)] == kept
    # Turns became memories as an imported chat's do (both sides), and no document chunk.
    turns = fresh.store.conversation_memories(conv.id, kind="turn")
    assert sorted(h.meta["role"] for h in turns) == ["assistant"] * 3 + ["user"] * 3
    assert {h.meta["origin"] for h in turns} == {"export"}
    assert not fresh.store.list_memories(kind="chunk")
    second = tmp_path / "second.md"
    export_conversations(fresh.store, second)
    fresh.close()
    assert second.read_bytes() == first.read_bytes()

    # The command: list as JSON, then every conversation as one JSON file.
    home = str(tmp_path / "two")
    assert main(["--home", home, "conversations", "list", "--json"]) == 0
    (listed,) = json.loads(capsys.readouterr().out)
    assert listed["title"] == "Trip --> Lisbon" and listed["messages"] == 6
    out = tmp_path / "all.json"
    assert main(["--home", home, "conversations", "export", "--out", str(out)]) == 0
    (exported,) = json.loads(out.read_text(encoding="utf-8"))["conversations"]
    assert exported["created"] == "2026-06-15T12:00:05.123456+00:00"
    assert [(m["role"], m["text"], datetime.fromisoformat(m["time"]).replace(tzinfo=None))
            for m in exported["messages"]] == said
    assert [m["sources"] for m in exported["messages"]] == kept
    assert main(["--home", home, "conversations", "export", "9", "--out", str(out)]) == 2
    assert "no conversation #9" in capsys.readouterr().err


def test_a_folder_gets_one_file_per_conversation(tmp_path, store):
    for title in ["First", "Second"]:
        cid = store.create_conversation(title, created_at=START)
        store.add_message(cid, "user", f"hello from {title}", START)
    files = export_conversations(store, tmp_path / "out")
    assert [f.name for f in files] == ["1-first.md", "2-second.md"]
    doc = read_document(files[1])
    assert doc.kind == "conversations" and doc.sections == []
    (conv,) = doc.conversations
    assert [(t.role, t.text, t.created_at) for t in conv.turns] == [
        ("user", "hello from Second", START)]
    with pytest.raises(ValueError, match="cannot export to .*notes.txt"):
        export_conversations(store, tmp_path / "notes.txt")


def test_a_damaged_export_is_refused_with_its_line(tmp_path, store):
    cid = store.create_conversation("Edited", created_at=START)
    store.add_message(cid, "user", "one line", START)
    path = tmp_path / "edited.md"
    export_conversations(store, path)
    path.write_text(path.read_text(encoding="utf-8").replace('"lines": 1', '"lines": 9'),
                    encoding="utf-8")
    with pytest.raises(ReadError, match=r"edited.md: damaged conversation export, line \d+: "
                                        r"the message's 9 lines of text are not there"):
        read_document(path)
    # A plain Markdown note without the marker is still a document.
    note = tmp_path / "note.md"
    note.write_text("# Note\n\nsome text\n", encoding="utf-8")
    assert read_document(note).kind == "markdown"


@pytest.mark.slow
def test_forgetting_a_memory_takes_it_out_of_every_answers_sources(tmp_path, model_cache,
                                                                    encoder, generator):
    agent = _agent(tmp_path / "home", model_cache, encoder, generator)
    first = agent.store.create_conversation("Ana", created_at=START)
    for said in ["My sister Ana lives in Porto.", "I adopted a grey cat called Miso.",
                 "Where does my sister Ana live?"]:
        "".join(agent.chat_turn(first, said, now=agent.clock()))
    second = agent.store.create_conversation("Again", created_at=START)
    "".join(agent.chat_turn(second, "Where does my sister Ana live?", now=agent.clock()))
    (porto,) = [h for h in agent.store.conversation_memories(first, kind="turn")
                if "Porto" in h.text]

    def cited() -> dict[int, list[int]]:
        return {m.id: [e["memory"] for e in m.sources] for c in (first, second)
                for m in agent.store.messages(c) if m.sources is not None}

    before = cited()
    assert sum(porto.id in ids for ids in before.values()) >= 2  # answers in both chats
    assert agent.forget([porto.id]) == 1
    after = cited()
    assert after == {mid: [i for i in ids if i != porto.id] for mid, ids in before.items()}
    out = tmp_path / "after.md"
    export_conversations(agent.store, out)
    agent.close()
    assert f'"memory": {porto.id},' not in out.read_text(encoding="utf-8")


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request, tmp_path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'home'}"
    return request.getfixturevalue("pg_url")


def test_sources_are_kept_and_a_forget_takes_only_its_own_entry(url, encoder):
    """Both backends; memory 1 goes, 11 and 12 (its digits inside theirs) stay."""
    with open_store(None, url, embedding_model=encoder.name, dim=encoder.dim) as store:
        ids = store.add_memories([NewMemory("fact", f"fact {i}", encoder.encode_one(f"fact {i}"),
                                            START, source=f"notes.md#{i}") for i in range(12)])
        assert ids[0] == 1 and ids[-1] == 12
        hits = [store.get(i) for i in (1, 11, 12)]
        cid = store.create_conversation("c", created_at=START)
        store.add_message(cid, "user", "question", START)
        store.add_message(cid, "assistant", "answer", START, sources=entries(hits, 1))
        store.add_message(cid, "assistant", "only one", START, sources=entries(hits[:1]))
        assert store.messages(cid)[1].sources[0] == {
            "memory": 1, "source": "notes.md#0", "date": "2026-06-15", "kind": "fact",
            "support": True}
        assert store.forget(1)
        assert [m.sources for m in store.messages(cid)] == [None, entries(hits[1:]), []]


def test_an_older_store_gets_the_sources_column(url, encoder):
    """A store from before sources were kept: its messages table lacks the column and its
    schema version is one lower; opening it adds the column and keeps its messages."""
    sqlite = url.startswith("sqlite")
    with open_store(None, url, embedding_model=encoder.name, dim=encoder.dim) as store:
        cid = store.create_conversation("old", created_at=START)
        store.add_message(cid, "user", "said before", START)
        with store.Write.begin() as s:
            s.execute(sql("ALTER TABLE messages DROP COLUMN sources"))
            if not sqlite:
                s.execute(sql("UPDATE meta SET value = '1' WHERE key = 'schema_version'"))
    if sqlite:
        db = sqlite3.connect(url.removeprefix("sqlite:///") + "/memory.sqlite3")
        db.execute("PRAGMA user_version = 2")
        db.commit()
        db.close()
    with open_store(None, url, embedding_model=encoder.name, dim=encoder.dim) as store:
        assert [(m.text, m.sources) for m in store.messages(cid)] == [("said before", None)]
        store.add_message(cid, "assistant", "now", START, sources=[])
        assert store.messages(cid)[-1].sources == []
        with store.Session() as s:
            version = s.execute(sql("PRAGMA user_version" if sqlite else
                                     "SELECT value FROM meta WHERE key = 'schema_version'"))
            assert int(version.scalar_one()) == (3 if sqlite else 2)


def test_an_export_from_before_sources_imports_as_it_did(tmp_path, store):
    """A file written before sources were kept (no "sources", no Sources line) reads back
    with none, and writes out the same; a damaged sources list is refused with its line."""
    cid = store.create_conversation("Older", created_at=START)
    store.add_message(cid, "user", "hello", START)
    store.add_message(cid, "assistant", "hi", START)
    path = tmp_path / "older.md"
    export_conversations(store, path)
    older = path.read_text(encoding="utf-8")
    assert "sources" not in older.lower()
    (conv,) = read_document(path).conversations
    assert [t.sources for t in conv.turns] == [None, None]
    store.add_message(cid, "assistant", "with sources", START, sources=[
        {"memory": 4, "source": "notes.md", "date": "2026-03-02", "kind": "chunk",
         "support": True}])
    export_conversations(store, path)
    (conv,) = read_document(path).conversations
    assert conv.turns[-1].sources[0]["source"] == "notes.md"
    assert "\nSources: [1] notes.md (2026-03-02, the answer rests on it)\n" in \
        path.read_text(encoding="utf-8")
    path.write_text(path.read_text(encoding="utf-8").replace('"support": true',
                                                             '"support": "yes"'),
                    encoding="utf-8")
    with pytest.raises(ReadError, match=r"older.md: damaged conversation export, line \d+: "
                                        r"the message's \"sources\" are not a list"):
        read_document(path)


@pytest.mark.slow
def test_plain_chat_export_chat_writes_the_open_conversation(tmp_path, model_cache, encoder,
                                                             generator):
    agent = _agent(tmp_path / "home", model_cache, encoder, generator)
    out = io.StringIO()
    path = tmp_path / "chat.md"
    assert run_plain(agent, ["/export-chat x.md", "My sister Ana lives in Porto.",
                             "Where does my sister Ana live?", f"/export-chat {path}"],
                     out, as_json=True) == 1  # the first line: no conversation yet
    replies = [json.loads(line) for line in out.getvalue().splitlines()]
    assert "needs an open conversation" in replies[0]["error"]
    assert replies[-1]["exported"] == replies[-2]["conversation"]
    (conv,) = read_document(path).conversations
    stored = agent.transcript(replies[-1]["exported"])
    agent.close()
    assert [(t.text, t.sources) for t in conv.turns] == [(m.text, m.sources) for m in stored]
    assert conv.turns[-1].sources
