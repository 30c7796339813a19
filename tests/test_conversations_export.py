"""`assistant conversations list|export` and importing the exported Markdown back: a
conversation made by the real agent goes out and comes back, into another data folder,
as a conversation with its authors and times, with nothing lost."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import pytest

from assistant.agent import Agent
from assistant.cli import main
from assistant.config import Settings
from assistant.conversations import export_conversations
from assistant.ingest.conversation_reader import MARKER
from assistant.ingest.readers import read_document
from assistant.ingest.types import ReadError

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
    agent.close()
    assert [r for r, _, _ in said] == ["user", "assistant"] * 3
    assert first.read_text(encoding="utf-8").startswith(MARKER + "\n")

    fresh = _agent(tmp_path / "two", model_cache, encoder, generator)
    report = fresh.import_paths([first])
    assert report.ok and report.imported, report
    (conv,) = fresh.store.conversations()
    assert (conv.title, conv.created_at, conv.origin) == ("Trip --> Lisbon", START, "import")
    assert _said(fresh.store, conv.id) == said  # authors, texts and times, to the microsecond
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
