"""The message box as people use it: pastes of many lines, messages sent from the first
frame on, and quitting at once (the real app, store, encoder and SmolLM2)."""

from __future__ import annotations

import threading

from test_tui import SIZE, answering, app_for, messages, until
from textual import events
from textual.widgets._footer import FooterKey
from textual.widgets._markdown import MarkdownParagraph

from assistant.agent import Agent
from assistant.tui.screens.memory_browser import MemoryBrowser
from assistant.tui.widgets.chat_log import ChatLog, MessageView

SHOPPING = "My shopping list for Saturday:\n- eggs\n- milk\n- bread"


def shown_notes(app) -> list[str]:
    return [n.message for n in app._notifications]


async def test_a_pasted_list_keeps_every_line_and_enter_sends_it(settings, encoder,
                                                                 generator):
    app = app_for(settings, encoder, generator)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.ready)
        prompt = app.query_one("#prompt")
        app.post_message(events.Paste(SHOPPING))  # what a terminal's bracketed paste sends
        await pilot.pause(0.1)
        assert prompt.text == SHOPPING
        await pilot.press("enter")
        await pilot.pause(0.1)
        await until(pilot, lambda: not answering(app))
        assert messages(app)[0] == ("user", SHOPPING)
        stored = app.agent.transcript(app.chat.conversation_id)
        assert (stored[0].role, stored[0].text) == ("user", SHOPPING)
        assert prompt.value == ""
        await pilot.press("up")  # the history gives the whole message back
        assert prompt.text == SHOPPING


async def test_ctrl_j_starts_a_new_line_and_the_footer_and_help_say_so(settings, encoder,
                                                                       generator):
    app = app_for(settings, encoder, generator)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("a", "ctrl+j", "b")
        assert app.query_one("#prompt").text == "a\nb"
        assert "New line" in [k.description for k in app.query(FooterKey)]
        app.query_one("#prompt").value = "/help"
        await pilot.press("enter")
        await pilot.pause(0.1)
        assert "Ctrl+J" in [v for r, v in messages(app) if r == "note"][-1]


async def test_a_100kb_paste_is_refused_whole_with_a_notification(settings, encoder,
                                                                  generator):
    app = app_for(settings, encoder, generator)
    async with app.run_test(size=SIZE) as pilot:
        prompt = app.query_one("#prompt")
        await pilot.press(*"keep")
        app.post_message(events.Paste("a long line of a document\n" * 4000))  # 104 KB
        await pilot.pause(0.1)
        assert prompt.value == "keep"  # nothing of it, not a cut piece
        (note,) = shown_notes(app)
        assert "104,000 characters" in note and "/import" in note
        page = "a shorter text\n" * 1000  # 15 KB: a message still
        app.post_message(events.Paste(page))
        await pilot.pause(0.1)
        assert prompt.text == "keep" + page


async def test_what_is_sent_before_the_data_folder_opens_is_kept_and_done(settings, encoder,
                                                                         generator):
    app = app_for(settings, encoder, generator)
    opening, gate = app.agent_factory, threading.Event()
    app.agent_factory = lambda: gate.wait(60) and opening()  # a slow disk, say
    async with app.run_test(size=SIZE) as pilot:
        prompt = app.query_one("#prompt")
        assert app.agent is None
        prompt.value = "Where was my sister Ana born?"
        await pilot.press("enter")
        prompt.value = "/search sister"
        await pilot.press("enter")
        await pilot.pause(0.1)
        assert [r for r, _ in messages(app)] == ["user", "assistant"]  # shown at once
        assert prompt.value == ""  # taken, not left in the box with a refusal
        assert app.agent is None
        gate.set()
        await until(pilot, lambda: app.ready and not answering(app))
        assert messages(app)[-1][1]  # answered
        stored = app.agent.transcript(app.chat.conversation_id)
        assert [(m.role, m.text) for m in stored][0] == ("user", "Where was my sister Ana born?")
        assert [m.role for m in stored] == ["user", "assistant"]
        await until(pilot, lambda: isinstance(app.screen, MemoryBrowser))  # /search ran


class GatedEncoder:
    """The real encoder; once `armed`, encoding one text (what the summary does) waits
    for the test to open the gate."""

    def __init__(self, real) -> None:
        self.real = real
        self.armed = False
        self.gate = threading.Event()

    def __getattr__(self, name):
        return getattr(self.real, name)

    def encode_one(self, text):
        if self.armed:
            self.gate.wait(60)
        return self.real.encode_one(text)


async def test_quitting_closes_the_window_before_the_summary_is_written(settings, encoder,
                                                                         generator):
    gated = GatedEncoder(encoder)
    app = app_for(settings, gated, generator)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.ready)
        app.query_one("#prompt").value = "We are planning a trip to Kyoto in April."
        await pilot.press("enter")
        await pilot.pause(0.1)
        await until(pilot, lambda: not answering(app))
        cid = app.chat.conversation_id
        gated.armed = True
        await pilot.press("ctrl+q")
        # The app has exited while the summary is still being written.
        await until(pilot, lambda: not app.is_running, timeout=20)
        assert not app.agent.store.conversation_memories(cid, "summary")
        assert app.final_summary.is_alive()
        gated.gate.set()
    # ... and the summary was written after, before the store was closed.
    assert not app.final_summary.is_alive()
    with Agent(settings, encoder=encoder, generator=generator) as agent:
        (summary,) = agent.store.conversation_memories(cid, "summary")
    assert "Kyoto" in summary.text


async def test_the_lines_of_a_message_show_as_lines_and_answers_stay_markdown(
        settings, encoder, generator):
    app = app_for(settings, encoder, generator)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.ready)
        app.query_one("#prompt").text = "line one\nline two"
        await pilot.press("enter")
        await until(pilot, lambda: not answering(app))
        note = app.query_one(ChatLog).add("assistant", "an answer's\nlines join")
        await pilot.pause(0.1)
        you = app.query(MessageView).first()
        assert you.source == "line one\nline two"  # what was sent, as sent
        lines = you.query_one(MarkdownParagraph)
        assert lines.size.height == 2
        assert [lines.render_line(y).text.strip() for y in (0, 1)] == ["line one", "line two"]
        # Answers are Markdown: one newline is no line break there.
        assert note.query_one(MarkdownParagraph).size.height == 1
