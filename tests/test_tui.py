"""The real Textual app, headless, with the real store, encoder, LTM-T and SmolLM2."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from dataclasses import replace
from datetime import datetime
from pathlib import Path

import pytest
from textual.widgets import (
    Button,
    DataTable,
    DirectoryTree,
    Input,
    ProgressBar,
    RichLog,
    SelectionList,
)

from assistant.agent import Agent
from assistant.tui.app import MemoryApp, create_app
from assistant.tui.screens.confirm_forget import ConfirmForget
from assistant.tui.screens.memory_browser import MemoryBrowser
from assistant.tui.widgets.chat_log import MessageView
from assistant.tui.widgets.conversation_list import ConversationItem
from assistant.tui.widgets.memory_panel import MemoryItem

SIZE = (140, 40)


class SlowGenerator:
    """The real SmolLM2, paced and without stop strings, so an answer is still being
    written when the test presses Esc."""

    def __init__(self, real) -> None:
        self.real = real
        self.name = real.name
        self.pieces = 0  # written so far
        self.tuned, self.chat, self.tools = real.tuned, real.chat, real.tools

    def load(self) -> None:
        self.real.load()

    def turn(self, messages, **kw):
        return self.real.turn(messages, **kw)

    def stream(self, prompt, *, max_new_tokens=64, stop=("\n",)):
        for piece in self.real.stream(prompt, max_new_tokens=max_new_tokens, stop=()):
            time.sleep(0.05)
            self.pieces += 1
            yield piece


class GatedGenerator(SlowGenerator):
    """The real SmolLM2, whose loading ends only when the test opens the gate: the app is
    still loading the models for as long as the test wants."""

    def __init__(self, real) -> None:
        super().__init__(real)
        self.gate = threading.Event()

    def load(self) -> None:
        self.gate.wait(timeout=120)
        self.real.load()

    def stream(self, prompt, *, max_new_tokens=64, stop=("\n",)):
        return self.real.stream(prompt, max_new_tokens=max_new_tokens, stop=stop)


class FixedClock:
    """The app's local time, set by the test: what the app shows must not depend on the
    day the tests run."""

    def __init__(self, now: datetime = datetime(2026, 3, 10, 9, 0)) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def app_for(settings, encoder, generator, **kw) -> MemoryApp:
    kw.setdefault("clock", FixedClock())
    return create_app(settings, encoder=encoder, generator=generator,
                      import_root=Path("."), **kw)


async def until(pilot, condition, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting for the app"
        await pilot.pause(0.05)


def answering(app: MemoryApp) -> bool:
    return app.chat.answering or any(w.group == "answer" and w.is_running for w in app.workers)


async def send(pilot, app: MemoryApp, text: str) -> None:
    app.query_one("#prompt").value = text
    await pilot.press("enter")
    await pilot.pause(0.1)
    await until(pilot, lambda: not answering(app) and not [
        w for w in app.workers if w.group == "memory" and w.is_running])


def messages(app: MemoryApp) -> list[tuple[str, str]]:
    return [(v.role, v.source) for v in app.query(MessageView)]


async def test_first_screen_then_models_load_in_a_worker(settings, encoder, generator):
    app = app_for(settings, encoder, generator)
    async with app.run_test(size=SIZE) as pilot:
        # Mounted with the input usable while the models are still loading.
        assert app.query_one("#prompt").has_focus
        await until(pilot, lambda: app.ready)
        assert str(app.query_one("#status").render()) == "ready"
        assert "smollm2" in app.sub_title


async def test_a_message_sent_while_the_models_load_is_answered_when_they_are(
        settings, encoder, generator):
    gated = GatedGenerator(generator)
    app = app_for(settings, encoder, gated)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.agent is not None)
        assert not app.ready
        app.query_one("#prompt").value = "Where was my sister Ana born?"
        await pilot.press("enter")
        await pilot.pause(0.1)
        assert [r for r, _ in messages(app)] == ["user", "assistant"]  # kept, not dropped
        assert "will be answered" in str(app.query_one("#status").render())
        gated.gate.set()
        await until(pilot, lambda: app.ready and not answering(app))
        # Answered: nothing was said yet (its own words are not a memory to recall).
        assert messages(app)[-1][1] == "I have nothing about your sister in my memories."
        cid = app.chat.conversation_id
        assert [m.role for m in app.agent.transcript(cid)] == ["user", "assistant"]


async def test_messages_sent_while_the_models_load_are_all_answered_in_order(
        settings, encoder, generator):
    # Each new message used to cancel the answer before it: "(not answered)".
    gated = GatedGenerator(generator)
    app = app_for(settings, encoder, gated)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.agent is not None)
        for line in ("My cat is called Miso.", "Where was my sister Ana born?",
                     "What is my cat called?"):
            app.query_one("#prompt").value = line
            await pilot.press("enter")
        await pilot.pause(0.1)
        gated.gate.set()
        await until(pilot, lambda: app.ready and not answering(app)
                    and len(app.agent.transcript(app.chat.conversation_id)) == 6)
        stored = app.agent.transcript(app.chat.conversation_id)
        assert [m.role for m in stored] == ["user", "assistant"] * 3
        assert [m.text for m in stored[::2]] == ["My cat is called Miso.",
                                                 "Where was my sister Ana born?",
                                                 "What is my cat called?"]
        shown = [text for role, text in messages(app) if role == "assistant"]
        assert len(shown) == 3 and not any("not answered" in t for t in shown), shown


async def test_message_streams_an_answer_and_fills_the_memory_panel(settings, encoder,
                                                                    generator):
    app = app_for(settings, encoder, generator)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.ready)
        await send(pilot, app, "My sister Ana was born on the 3rd of May 1990 in Porto.")
        await send(pilot, app, "I adopted a grey cat called Miso.")
        await send(pilot, app, "When was my sister Ana born?")
        shown = messages(app)
        assert [r for r, _ in shown] == ["user", "assistant"] * 3
        assert shown[-1][1] == "3 May 1990"  # read off the memory's own words
        # Under the answer: the memory it rests on.
        support = str(list(app.query(MessageView))[-1].border_subtitle)
        assert support.startswith("from \u201c") and ", turn 1, 10 Mar 2026" in support
        items = list(app.query(MemoryItem))
        assert items and "Ana was born" in items[0].hit.text
        head = str(items[0].query_one(".memory-head").render())
        assert "%" in head and "turn 1" in head  # LTM-T weight and the source
        # Enter on a recalled memory opens it.
        app.query_one("#memories").focus()
        await pilot.press("enter")
        await pilot.pause(0.1)
        assert type(app.screen).__name__ == "MemoryDetail"
        await pilot.press("escape")


@pytest.mark.slow
async def test_restart_restores_conversations_and_recalls_across_them(settings, encoder,
                                                                      generator, tmp_path):
    app = app_for(settings, encoder, generator)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.ready)
        await send(pilot, app, "My sister Ana was born on the 3rd of May 1990 in Porto.")
        await pilot.press("ctrl+q")  # writes the summary memory, then exits
        await until(pilot, lambda: not app.is_running, timeout=60)

    again = app_for(settings, encoder, generator)
    async with again.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: again.ready)
        assert len(again.query(ConversationItem)) == 1
        assert messages(again)[0] == ("user",
                                      "My sister Ana was born on the 3rd of May 1990 in Porto.")
        await send(pilot, again, "/new")
        assert messages(again) == []
        await send(pilot, again, "When was my sister Ana born?")
        items = list(again.query(MemoryItem))
        ana = [i for i in items if "User: My sister Ana was born" in i.hit.text]
        assert ana, [i.hit.text for i in items]
        head = str(ana[0].query_one(".memory-head").render())
        assert "turn 1" in head and "10 Mar 2026" in head  # the app's clock
        assert len(again.query(ConversationItem)) == 2

    # The same memory answers the command line, from the same data folder.
    env = {**os.environ, "ASSISTANT_HOME": str(settings.home),
           "ASSISTANT_CACHE": str(generator.cache_dir)}
    out = subprocess.run([sys.executable, "-m", "assistant.cli", "ask", "Where was Ana born?",
                          "--json"], capture_output=True, text=True, env=env, timeout=300)
    assert out.returncode == 0, out.stderr
    sources = json.loads(out.stdout)["sources"]
    assert any(s["source"].endswith("#turn=1") and "Ana was born" in s["text"] for s in sources)


async def test_idle_time_and_quitting_each_write_the_summary(settings, encoder, generator):
    app = app_for(replace(settings, idle_summary_s=0), encoder, generator)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.ready)
        await send(pilot, app, "We are planning a trip to Kyoto in April.")
        cid = app.chat.conversation_id

        def summaries():
            return app.agent.store.conversation_memories(cid, "summary")

        app.chat._idle_check()  # what the app's 30 s interval runs
        await until(pilot, lambda: bool(summaries()))
        (idle,) = summaries()
        assert idle.meta["messages"] == 2 and "Kyoto" in idle.text
        await send(pilot, app, "My friend Tomas will join us.")
        await pilot.press("ctrl+q")
        await until(pilot, lambda: not app.is_running, timeout=60)
    reopened = Agent(settings, encoder=encoder, generator=generator)
    try:
        (final,) = reopened.store.conversation_memories(cid, "summary")
        assert final.id != idle.id and final.meta["messages"] == 4
    finally:
        reopened.close()


async def test_escape_stops_the_answer_and_keeps_the_input_usable(settings, encoder,
                                                                  generator):
    slow = SlowGenerator(generator)
    app = app_for(replace(settings, max_new_tokens=400), encoder, slow)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.ready)
        await send(pilot, app, "My grandfather was a lighthouse keeper on the Berlengas.")
        app.query_one("#prompt").value = "Tell me a long story about a lighthouse keeper."
        await pilot.press("enter")
        # The answer is being written (and is not shown before it is checked).
        await until(pilot, lambda: len(messages(app)) == 4 and slow.pieces >= 3)
        assert messages(app)[3] == ("assistant", "")
        await pilot.press("escape")
        await until(pilot, lambda: not answering(app), timeout=30)
        assert messages(app)[3][1].endswith("*[stopped]*")
        assert app.query_one("#prompt").has_focus
        assert slow.pieces < 300  # it stopped well before 400 tokens
        with Agent(settings, encoder=encoder, generator=generator) as agent:
            (conv,) = agent.conversations()
            stored = agent.transcript(conv.id)
        assert (stored[-1].role, stored[-1].text) == ("assistant", "[stopped]")


async def test_import_shows_progress_and_each_error(settings, encoder, generator, tmp_path):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "notes.md").write_text("# Boat\n\nThe sailing boat Gaivota is moored in Cascais.\n")
    (docs / "broken.pdf").write_bytes(os.urandom(300))
    app = app_for(settings, encoder, generator)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.ready)
        app.query_one("#prompt").value = f"/import {docs}"
        await pilot.press("enter")
        await until(pilot, lambda: type(app.screen).__name__ == "ImportScreen")
        screen = app.screen
        await until(pilot, lambda: not screen.running and screen.query_one(RichLog).lines)
        bar = screen.query_one(ProgressBar)
        assert bar.total == 2 and bar.progress == 2
        log = "\n".join(line.text for line in screen.query_one(RichLog).lines)
        assert "imported notes.md: 1 memory" in log
        assert "broken.pdf" in log and "error" in log
        assert "1 imported" in log and "1 failed" in log
        await pilot.press("escape")
        # The browser finds the imported knowledge.
        await pilot.press("ctrl+b")
        await until(pilot, lambda: isinstance(app.screen, MemoryBrowser))
        browser = app.screen
        await until(pilot, lambda: browser.hits)
        assert any("Gaivota" in h.text and h.source.startswith("notes.md")
                   for h in browser.hits)
        assert browser.query_one(DataTable).row_count == len(browser.hits)


async def test_remember_forget_with_confirmation_and_contradiction(settings, encoder,
                                                                   generator):
    clock = FixedClock()
    app = app_for(settings, encoder, generator, clock=clock)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.ready)
        await send(pilot, app, "remember that my locker code is 4512")
        assert messages(app)[-1] == ("assistant", "I will remember that: my locker code is 4512")
        fact = app.agent.search("locker code", 1)[0]
        assert fact.pinned and fact.kind == "fact"

        await send(pilot, app, "forget my locker code")
        await until(pilot, lambda: isinstance(app.screen, ConfirmForget))
        assert fact.id in app.screen.query_one(SelectionList).selected
        assert app.agent.memory(fact.id) is not None  # nothing deleted before confirming
        app.screen.query_one("#forget", Button).press()
        await until(pilot, lambda: app.agent.memory(fact.id) is None)
        assert not isinstance(app.screen, ConfirmForget)

        clock.now = datetime(2025, 12, 31, 23, 0)  # across New Year's Eve
        await send(pilot, app, "I live in Lisbon.")
        clock.now = datetime(2026, 1, 1, 1, 0)
        await send(pilot, app, "I moved to Berlin.")
        note = [text for role, text in messages(app) if role == "note"]
        assert note and "Berlin" in note[-1] and "Lisbon" in note[-1]
        assert "(1 Jan 2026) replaces" in note[-1] and "(31 Dec 2025). Both" in note[-1]


async def test_conversation_search_rename_and_delete(settings, encoder, generator):
    app = app_for(settings, encoder, generator)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.ready)
        await send(pilot, app, "The sailing boat is moored in Cascais.")
        await send(pilot, app, "/new")
        await send(pilot, app, "Dinner is at eight on Friday.")
        assert len(app.query(ConversationItem)) == 2
        app.query_one("#conv-search").value = "where is the boat moored"
        app.query_one("#conv-search").focus()
        await pilot.press("enter")
        await until(pilot, lambda: len(app.query(ConversationItem)) == 1)
        assert "sailing boat" in str(app.query_one(".conv-match").render())
        app.query_one("#conversations").focus()
        await pilot.press("r")
        await until(pilot, lambda: type(app.screen).__name__ == "TextPrompt")
        app.screen.query_one("Input").value = "Boat"
        await pilot.press("enter")
        await until(pilot, lambda: "Boat" in app.chat.titles.values())
        app.query_one("#conversations").focus()
        await pilot.press("d")
        await until(pilot, lambda: type(app.screen).__name__ == "TextPrompt")
        await pilot.press("enter")
        await until(pilot, lambda: len(app.agent.conversations()) == 1)
        # The cursor was on the open conversation ("Dinner ..."): it is gone, and the chat
        # is a fresh one.
        assert list(app.chat.titles.values()) == ["Boat"]
        assert messages(app) == []


async def test_memory_browser_pins_forgets_and_exports(settings, encoder, generator,
                                                      tmp_path):
    with Agent(settings, encoder=encoder, generator=generator) as agent:
        agent.remember(None, "the spare key is under the blue pot")
    app = app_for(settings, encoder, generator)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.ready)
        await send(pilot, app, "/search spare key")
        await until(pilot, lambda: isinstance(app.screen, MemoryBrowser) and app.screen.hits)
        browser = app.screen
        (hit,) = [h for h in browser.hits if "spare key" in h.text]
        assert hit.pinned
        browser.query_one(DataTable).focus()
        await pilot.press("p")
        await until(pilot, lambda: not app.agent.memory(hit.id).pinned)
        await pilot.press("e")
        await until(pilot, lambda: type(app.screen).__name__ == "TextPrompt")
        out = tmp_path / "export.json"
        app.screen.query_one("Input").value = str(out)
        await pilot.press("enter")
        await until(pilot, lambda: out.exists())
        assert "spare key" in out.read_text()
        await pilot.press("d")
        await until(pilot, lambda: isinstance(app.screen, ConfirmForget))
        app.screen.query_one("#forget", Button).press()
        await until(pilot, lambda: app.agent.memory(hit.id) is None)
        await until(pilot, lambda: all(h.id != hit.id for h in browser.hits))


async def test_mcp_memories_show_in_the_app_and_can_be_forgotten(settings, encoder, generator):
    """A fact another AI tool stored through MCP is a memory like any other: the browser
    shows who wrote it, and the user can forget it."""
    from mcp import Client
    from mcp_types import Implementation

    from assistant.mcp.server import build_server

    with Agent(settings, encoder=encoder, generator=generator) as agent:
        async with Client(build_server(agent),
                          client_info=Implementation(name="claude-code", version="1")) as c:
            result = await c.call_tool("remember", {"fact": "The dentist is Dr Osei on Tuesdays."})
            assert not result.is_error
    app = app_for(settings, encoder, generator)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.ready)
        await send(pilot, app, "/search dentist")
        await until(pilot, lambda: isinstance(app.screen, MemoryBrowser) and app.screen.hits)
        browser = app.screen
        (hit,) = [h for h in browser.hits if "Dr Osei" in h.text]
        assert hit.source == "mcp:claude-code"
        row = browser.query_one(DataTable).get_row(str(hit.id))
        assert "claude-code via MCP" in row[3]
        browser.query_one(DataTable).focus()
        await pilot.press("d")
        await until(pilot, lambda: isinstance(app.screen, ConfirmForget))
        app.screen.query_one("#forget", Button).press()
        await until(pilot, lambda: app.agent.memory(hit.id) is None)


async def steady(pilot) -> None:
    """Hold every input's cursor on: it blinks on a 0.5 s timer, and a snapshot taken on
    a busy machine would otherwise catch either phase."""
    for screen in pilot.app.screen_stack:
        for box in screen.query(Input):
            box.cursor_blink = False
    await pilot.pause()


@pytest.fixture
def snapshot_home(settings, encoder, generator):
    """A data folder with two fixed conversations and memories (fixed dates)."""
    from datetime import datetime

    with Agent(settings, encoder=encoder, generator=generator) as agent:
        trip = agent.new_conversation("Trip to Kyoto")
        agent.store.add_message(trip, "user", "We are planning a trip to Kyoto in April.",
                                datetime(2026, 3, 2, 10, 0))
        agent.store.add_message(trip, "assistant", "Noted. I will remember that.",
                                datetime(2026, 3, 2, 10, 0, 1))
        agent.remember(None, "my passport expires in June 2027", now=datetime(2026, 3, 3, 9))
        agent.remember(None, "Tomas is allergic to peanuts", now=datetime(2026, 3, 4, 9))
    return settings


def test_snapshot_main_screen(snap_compare, snapshot_home, encoder, generator):
    app = app_for(snapshot_home, encoder, generator)

    async def ready(pilot):
        await until(pilot, lambda: app.ready)
        await steady(pilot)

    assert snap_compare(app, terminal_size=SIZE, run_before=ready)


def test_snapshot_memory_browser(snap_compare, snapshot_home, encoder, generator):
    app = app_for(snapshot_home, encoder, generator)

    async def browse(pilot):
        await until(pilot, lambda: app.ready)
        await pilot.press("ctrl+b")
        await until(pilot, lambda: isinstance(app.screen, MemoryBrowser) and app.screen.hits)
        await steady(pilot)

    assert snap_compare(app, terminal_size=SIZE, run_before=browse)


def test_snapshot_import_screen(snap_compare, snapshot_home, encoder, generator, tmp_path,
                                monkeypatch):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "notes.md").write_text("# Notes\n\nnothing yet\n")
    monkeypatch.chdir(docs)  # the file tree starts at "." so the picture is the same anywhere
    app = app_for(snapshot_home, encoder, generator)

    async def open_import(pilot):
        await until(pilot, lambda: app.ready)
        await pilot.press("ctrl+o")
        await until(pilot, lambda: type(app.screen).__name__ == "ImportScreen")
        # The file tree lists its folder in a worker: wait for it, then for the paint.
        await until(pilot, lambda: app.screen.query_one(DirectoryTree).root.children)
        await steady(pilot)

    assert snap_compare(app, terminal_size=SIZE, run_before=open_import)


def snapshot_at(snap_compare, app, size) -> bool:
    async def ready(pilot):
        await until(pilot, lambda: app.ready)
        await steady(pilot)

    return snap_compare(app, terminal_size=size, run_before=ready)


# The default terminal and smaller: the chat has the width (both side panels give way).
def test_snapshot_main_screen_80x24(snap_compare, snapshot_home, encoder, generator):
    assert snapshot_at(snap_compare, app_for(snapshot_home, encoder, generator), (80, 24))


def test_snapshot_main_screen_60x20(snap_compare, snapshot_home, encoder, generator):
    assert snapshot_at(snap_compare, app_for(snapshot_home, encoder, generator), (60, 20))


def test_snapshot_main_screen_120x32(snap_compare, snapshot_home, encoder, generator):
    """The recalled memories show beside the chat; the conversations give way."""
    assert snapshot_at(snap_compare, app_for(snapshot_home, encoder, generator), (120, 32))


def shown(widget) -> bool:
    return all(node.display for node in widget.ancestors_with_self)


async def test_a_narrow_terminal_gives_the_chat_its_width(settings, encoder, generator):
    app = app_for(settings, encoder, generator)
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: app.agent is not None)
        sidebar, panel = app.query_one("#sidebar"), app.query_one("#memories")
        chat, prompt = app.query_one("#chat"), app.query_one("#prompt")
        assert not shown(sidebar) and not shown(panel)
        assert chat.content_region.width >= 60
        await pilot.press("ctrl+l")  # each panel comes back by its key, and goes again
        await pilot.pause()
        assert shown(sidebar) and not shown(panel)
        await pilot.press("ctrl+l", "ctrl+r")
        await pilot.pause()
        assert not shown(sidebar) and shown(panel)
        await pilot.press("ctrl+r")
        await pilot.resize_terminal(60, 20)
        await pilot.pause()
        assert chat.content_region.width >= 50 and chat.content_region.height >= 10
        assert app.screen.region.contains_region(prompt.region) and prompt.has_focus
        await until(pilot, lambda: app.ready)
        await send(pilot, app, "We are planning a trip to Kyoto in April.")
        assert messages(app)[0] == ("user", "We are planning a trip to Kyoto in April.")


async def test_ctrl_f_shows_the_hidden_conversations_to_search_them(settings, encoder,
                                                                    generator):
    app = app_for(settings, encoder, generator)
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: app.agent is not None)
        await pilot.press("ctrl+f")
        await pilot.pause()
        search = app.query_one("#conv-search")
        assert shown(search) and search.has_focus
        await pilot.press("ctrl+l")  # hidden again: the focus goes back to the message box
        await pilot.pause()
        assert not shown(search) and app.query_one("#prompt").has_focus


async def test_tab_never_takes_typing_into_the_search_box(settings, encoder, generator):
    app = app_for(settings, encoder, generator)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.agent is not None)
        order = []
        for _ in range(5):
            await pilot.press("tab")
            order.append(app.focused.id)
        assert order == ["conversations", "chat", "memories", "prompt", "conversations"]
        await pilot.press("shift+tab", "shift+tab")
        assert app.focused.id == "memories"
        # The search box is reached by its key, and Tab leaves it for its results.
        await pilot.press("ctrl+f")
        await pilot.press("b", "o", "a", "t", "tab")
        assert app.query_one("#conv-search").value == "boat"
        assert app.focused.id == "conversations"


LIGHTHOUSE = """# The Berlengas lighthouse

The keeper of the Berlengas lighthouse climbed the hundred and twenty steps every night at
dusk to light the great lamp, polish the brass and the lenses, wind the clockwork that
turned the beam, and write the weather, the passing ships and the state of the sea in the
logbook on the table by the stairs. In the winter storms he stayed awake until dawn beside
the lamp, listening to the waves break on the rocks below, trimming the wick every hour and
sending word by radio to the fishermen of Peniche whenever the fog came down.
"""


async def test_the_chat_follows_a_long_answer_to_its_end(settings, encoder, generator,
                                                         tmp_path):
    doc = tmp_path / "lighthouse.md"
    doc.write_text(LIGHTHOUSE)
    with Agent(settings, encoder=encoder, generator=generator) as agent:
        agent.import_paths([doc])
    app = app_for(settings, encoder, generator)
    async with app.run_test(size=(60, 20)) as pilot:
        await until(pilot, lambda: app.ready)
        chat = app.query_one("#chat")
        await send(pilot, app, "What did the keeper of the Berlengas lighthouse do every night?")
        await pilot.pause(0.2)
        answer = list(app.query(MessageView))[-1]
        # The document's two sentences, quoted: nearly the chat's height.
        assert answer.source.startswith("\u201cThe keeper") and answer.size.height >= 10
        assert str(answer.border_subtitle).startswith("quoting lighthouse.md")
        assert chat.max_scroll_y > 0 and chat.scroll_y == chat.max_scroll_y
        assert answer.region.bottom <= chat.region.bottom  # the source line, in view
        await pilot.resize_terminal(50, 16)  # narrower: the answer grows taller
        await pilot.pause(0.2)
        assert chat.max_scroll_y > 0 and chat.scroll_y == chat.max_scroll_y


def _modules_after(import_line: str) -> set[str]:
    code = f"import sys; {import_line}; print(' '.join({{m.split('.')[0] for m in sys.modules}}))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    return set(out.stdout.split())


@pytest.mark.slow
def test_layout_rules_hold_at_import_time():
    """The app imports neither torch nor SQLAlchemy (it calls the agent, opened in a
    worker); the agent imports no Textual. Each checked in a fresh interpreter."""
    assert not _modules_after("import assistant.tui.app") & {"torch", "sqlalchemy", "faiss",
                                                             "transformers"}
    assert "textual" not in _modules_after("import assistant.agent")
