"""`assistant chat --plain [--json]`: the chat as lines, through the real agent, store and
models; bad lines get a clear error and the lines after them are still carried out."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pytest

from assistant.agent import Agent
from assistant.plain import MAX_LINE_CHARS, run
from assistant.wording import title_of

NOW = datetime(2026, 6, 15, 12, 0)  # the agent's clock: no test depends on the real day
ANA = "My sister Ana was born on the 3rd of May 1990 in Porto."
ASK_ANA = "When was my sister Ana born?"


@pytest.fixture
def agent(settings, encoder, generator):
    a = Agent(settings, encoder=encoder, generator=generator, clock=lambda: NOW)
    yield a
    a.close()


def chat_json(agent, lines, **kwargs) -> tuple[int, list[dict], str]:
    """The exit status, the JSON objects (one per output line) and the raw output."""
    out = io.StringIO()
    status = run(agent, lines, out, as_json=True, **kwargs)
    raw = out.getvalue()
    return status, [json.loads(line) for line in raw.splitlines()], raw


def chat_text(agent, lines, **kwargs) -> tuple[int, str]:
    out = io.StringIO()
    return run(agent, lines, out, **kwargs), out.getvalue()


def test_bad_lines_are_refused_clearly_and_nothing_said_is_lost(agent):
    stdin = io.BytesIO(b"\n".join([
        ANA.encode(),
        b"",                                    # empty
        b"   ",                                 # only blanks
        b"\xff\xfe caf\xe9",                    # not UTF-8 (Latin-1 bytes)
        b"x" * 1024 * 1024,                     # 1 MB on one line
        b"\x1b[31m\x1b[2J\x1b]0;owned\x07",     # terminal escape codes only
        b"remember that my locker code is 4512\r",  # a CRLF line ending
        ASK_ANA.encode(),
        b"What is my locker code?",
    ]) + b"\n")
    status, objects, raw = chat_json(agent, stdin)
    assert status == 1  # some lines failed; every line after them was still carried out
    assert [o["line"] for o in objects] == list(range(1, 10))  # one object per input line
    said, empty, blank, latin1, huge, escapes, remembered, ana, locker = objects

    first = said["conversation"]
    assert said["verdict"] == "noted" and said["message"] == ANA and first is not None
    assert empty == {"line": 2, "message": "", "error": "line 2: empty message: nothing to send",
                     "conversation": first}
    assert blank["error"] == "line 3: empty message: nothing to send"
    assert latin1["error"].startswith("line 4 is not valid UTF-8 (byte 0xff at byte 1); "
                                      "nothing was stored")
    assert huge["error"] == (f"line 5 is 1,048,576 characters long; a message may be at most "
                             f"{MAX_LINE_CHARS:,}: nothing was stored; /import a longer text "
                             "as a file")
    assert len(huge["message"]) <= 201  # the reply does not echo the megabyte back
    assert escapes["error"].startswith(r"line 6 holds terminal control characters (\x1b[31m")
    assert escapes["message"] == "\x1b[31m\x1b[2J\x1b]0;owned\x07"  # JSON-escaped...
    assert "\x1b" not in raw and "\x07" not in raw  # ...never raw on the terminal
    for bad in (empty, blank, latin1, huge, escapes):
        assert "answer" not in bad and "command" not in bad

    assert remembered["command"] == "remember"
    assert remembered["message"] == "remember that my locker code is 4512"
    assert remembered["memory"]["kind"] == "fact" and remembered["memory"]["pinned"]
    # Said before the bad lines, answered after them, with the memory as its support.
    assert ana["verdict"] == "answered" and "1990" in ana["answer"]
    assert ana["support"]["source"] == f"conversation:{first}#turn=1"
    assert ana["support"]["id"] in [s["id"] for s in ana["sources"]]
    assert locker["verdict"] == "answered" and "4512" in locker["answer"]
    assert locker["support"]["id"] == remembered["memory"]["id"]
    assert {o["conversation"] for o in objects} == {first}

    # Stored exactly what was sent, in order; nothing of the refused lines.
    users = [m.text for m in agent.transcript(first) if m.role == "user"]
    assert users == [ANA, "remember that my locker code is 4512", ASK_ANA,
                     "What is my locker code?"]
    titles = {c.id: c.title for c in agent.conversations()}
    assert titles[first] == title_of(ANA)  # titled by its first message, as in the TUI
    assert agent.store.conversation_memories(first, kind="summary")  # written at the end


def test_new_starts_another_conversation_that_recalls_the_first(agent):
    status, objects, _ = chat_json(agent, [ANA, "/new", ASK_ANA, "/new", "/new"])
    assert status == 0
    said, new, ask, again, idle = objects
    first = said["conversation"]
    assert new["command"] == "new" and new["conversation"] is None
    assert new["previous"] == first and new["summary"]["kind"] == "summary"  # as the TUI
    second = ask["conversation"]
    assert second not in (None, first)
    assert ask["verdict"] == "answered" and "1990" in ask["answer"]
    assert ask["support"]["source"] == f"conversation:{first}#turn=1"
    # Only a question in it: no summary; an empty conversation is never made.
    assert again["previous"] == second and again["summary"] is None
    assert idle["previous"] is None
    assert sorted(c.id for c in agent.conversations()) == sorted([first, second])


def test_an_open_conversation_is_continued_and_conflicts_are_shown(agent):
    cid = agent.new_conversation("Moving")
    status, out = chat_text(agent, ["I live in Lisbon.", "I moved to Berlin last month.",
                                    "/remember my locker code is 4512"],
                            conversation_id=cid)
    assert status == 0
    assert out.count("Noted. I will remember that.\n") == 2
    assert ("Updated what I know (residence): \u201cUser: I moved to Berlin last month "
            "[May 2026].\u201d (15 Jun 2026) replaces \u201cUser: I live in Lisbon.\u201d "
            "(15 Jun 2026). Both are kept; answers use the newer.\n") in out
    assert "I will remember that: my locker code is 4512\n" in out
    assert [c.id for c in agent.conversations()] == [cid]  # no other conversation
    assert len(agent.transcript(cid)) == 6


def test_plain_text_answers_with_its_source_and_never_echoes_escapes(agent):
    status, out = chat_text(agent, [ANA, ASK_ANA, "\x1b[2J", "caf\udce9", ""])
    assert status == 1
    lines = out.splitlines()
    at = lines.index(next(line for line in lines if "1990" in line))
    title = f"\u201c{title_of(ANA)}\u201d"
    assert lines[at + 1] == f"(from {title}, turn 1, 15 Jun 2026)"
    assert lines[at + 2].startswith(f"sources: *[1] {title}, turn 1 (15 Jun 2026)")
    assert lines[-3:] == [
        r"error: line 3 holds terminal control characters (\x1b[2J); nothing was stored: "
        "send plain text",
        "error: line 4 is not valid UTF-8 (character 4); nothing was stored: send the line "
        "as UTF-8 text",
        "error: line 5: empty message: nothing to send"]
    assert "\x1b" not in out


def test_forget_lists_first_and_deletes_only_the_ids_given(agent, tmp_path):
    status, objects, _ = chat_json(agent, [
        "remember that my bike lock code is 1234",
        "remember that my locker code is 4512",
        "/forget locker code",
        "forget my locker code",  # in words: lists too
        "/help",
    ])
    assert status == 0
    bike, locker, listed, in_words, helped = objects
    ids = [h["id"] for h in listed["candidates"]]
    assert listed["command"] == "forget" and locker["memory"]["id"] in ids
    assert in_words["command"] == "forget" and locker["memory"]["id"] in [
        h["id"] for h in in_words["candidates"]]
    assert agent.memory(locker["memory"]["id"]) is not None  # listing deleted nothing
    assert "/forget #12 #13" in helped["commands"]["forget"]

    drop, keep = locker["memory"]["id"], bike["memory"]["id"]
    status, objects, _ = chat_json(agent, [f"/forget #{drop}", f"/forget #{drop}, #999999",
                                           "What is my bike lock code?"])
    assert status == 1  # #999999 (and #drop, by then) did not exist
    gone, missing, asked = objects
    assert gone["forgotten"] == [drop] and gone["missing"] == [] and "error" not in gone
    assert missing["forgotten"] == [] and missing["missing"] == [drop, 999999]
    assert missing["error"] == f"line 2: no memory #{drop} #999999: nothing to forget there"
    assert agent.memory(drop) is None and agent.memory(keep) is not None
    assert asked["verdict"] == "answered" and asked["support"]["id"] == keep


def test_other_commands_and_their_errors(agent, tmp_path):
    notes = tmp_path / "notes.md"
    notes.write_text("# Brewing\n\nZorblat must ferment for nineteen days.\n")
    export = tmp_path / "out" / "memories.json"
    export.parent.mkdir()
    status, objects, _ = chat_json(agent, [
        "/frobnicate", "/remember", f"/import {notes} {tmp_path / 'missing.md'}",
        "/import 'unclosed", "/search zorblat", "/memories",
        f"/export {export}", f"/export {tmp_path / 'memories.txt'}",
        "/model /no/such/model.gguf", "I prefer tea to coffee.",
    ])
    assert status == 1
    (unknown, bare, imported, unclosed, searched, memories, exported, bad_export, model,
     after) = objects
    assert unknown["error"].startswith("line 1: unknown command /frobnicate; try one of /new")
    assert bare["error"] == "line 2: /remember needs an argument: store a pinned fact: " \
                            "/remember TEXT"
    assert imported["imported"] == [{"path": str(notes), "memories": 1}]
    assert imported["failed"] == [{"path": str(tmp_path / "missing.md"),
                                   "reason": "no such file or folder"}]
    assert imported["error"] == "line 3: 1 file could not be imported"
    assert unclosed["error"].startswith("line 4: /import: No closing quotation")
    assert searched["hits"][0]["source"] == "notes.md#Brewing"
    assert memories["command"] == "memories" and len(memories["hits"]) == 1
    assert exported["exported"] == 1 and json.loads(export.read_text())
    assert bad_export["command"] == "export" and bad_export["error"].startswith("line 8: ")
    assert model["error"].startswith("line 9: cannot use /no/such/model.gguf: ")
    assert model["error"].endswith(f"answers still come from {agent.generator_name}")
    assert after["verdict"] == "noted"  # the model that answered before still answers


def test_json_stays_one_line_per_input_line(agent):
    """Characters that split lines for str.splitlines (U+2028, NEL) or that a terminal
    obeys (C1) are escaped inside the JSON."""
    status, objects, raw = chat_json(agent, ["I like the line\u2028separator.",
                                             "and the \x85 next line"])
    assert len(raw.splitlines()) == len(objects) == 2
    assert objects[0]["message"] == "I like the line\u2028separator."
    assert "\u2028" not in raw and "\x85" not in raw
    assert objects[1]["error"].startswith("line 2 holds terminal control characters")


def test_json_without_plain_is_refused(capsys, home):
    from assistant.cli import main

    with pytest.raises(SystemExit) as exited:
        main(["--home", str(home), "chat", "--json"])
    assert exited.value.code == 2
    assert "--json goes with --plain" in capsys.readouterr().err


@pytest.mark.slow
def test_the_real_command_on_stdin(home, model_cache):
    """`assistant chat --plain --json` as a script runs it; a second run remembers."""
    command = [str(Path(sys.executable).parent / "assistant"), "--home", str(home), "chat",
               "--plain", "--json"]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "ASSISTANT_CACHE": str(model_cache)}
    stdin = ANA.encode() + b"\n\xff\n" + ASK_ANA.encode() + b"\n"
    first = subprocess.run(command, input=stdin, capture_output=True, env=env, timeout=300)
    assert first.returncode == 1, first.stderr.decode()  # the line that is not UTF-8
    said, bad, asked = [json.loads(line) for line in first.stdout.decode().splitlines()]
    assert said["verdict"] == "noted"
    assert bad["error"].startswith("line 2 is not valid UTF-8 (byte 0xff at byte 1)")
    assert asked["verdict"] == "answered" and "1990" in asked["answer"]

    second = subprocess.run(command, input=f"{ASK_ANA}\n".encode(), capture_output=True,
                            env=env, timeout=300)
    assert second.returncode == 0, second.stderr.decode()
    (again,) = [json.loads(line) for line in second.stdout.decode().splitlines()]
    assert again["verdict"] == "answered" and "1990" in again["answer"]
    assert again["conversation"] != said["conversation"]
    assert again["support"]["source"] == f"conversation:{said['conversation']}#turn=1"
