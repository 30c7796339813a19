"""Ctrl+S and /export-chat in the real app (store, encoder, SmolLM2): the open
conversation goes to a Markdown file of the user's, answers' sources included, that
imports back as the same conversation; a path that cannot be written says which and why."""

from __future__ import annotations

import stat

from test_tui import SIZE, app_for, messages, send, until
from test_tui_input import shown_notes
from textual.widgets import Input
from textual.widgets._footer import FooterKey

from assistant.agent import Agent
from assistant.config import Settings
from assistant.conversations import export_conversations
from assistant.ingest.readers import read_document


async def test_ctrl_s_writes_the_chat_with_its_sources_and_it_imports_back(
        settings, encoder, generator, tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path / "user"))  # where `~` is
    app = app_for(settings, encoder, generator)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.ready)
        assert "Export" in [k.description for k in app.query(FooterKey)]
        await send(pilot, app, "My sister Ana lives in Porto.")
        await send(pilot, app, "Where does my sister Ana live?")
        cid = app.chat.conversation_id
        stored = app.agent.transcript(cid)
        assert stored[-1].role == "assistant" and stored[-1].sources  # the answer's, kept
        await pilot.press("ctrl+s")
        await until(pilot, lambda: type(app.screen).__name__ == "TextPrompt")
        offered = app.screen.query_one(Input).value
        # Named after the conversation and the app's day (FixedClock: 10 Mar 2026).
        assert offered == "~/assistant-exports/my-sister-ana-lives-in-porto-2026-03-10.md"
        await pilot.press("enter")
        written = tmp_path / "user" / "assistant-exports" / offered.split("/")[-1]
        note = f"exported this conversation to {written}"
        await until(pilot, lambda: note in shown_notes(app))
        assert stat.S_IMODE(written.stat().st_mode) == 0o600
        # /help names the key.
        await send(pilot, app, "/help")
        assert "Ctrl+S export this chat" in [v for r, v in messages(app) if r == "note"][-1]

    doc = read_document(written)
    (conv,) = doc.conversations
    assert [(t.role, t.text, t.sources) for t in conv.turns] == [
        (m.role, m.text, m.sources) for m in stored]
    fresh = Agent(Settings(home=tmp_path / "fresh", cache_dir=settings.cache_dir),
                  encoder=encoder, generator=generator)
    assert fresh.import_paths([written]).imported
    again = tmp_path / "again.md"
    export_conversations(fresh.store, again)
    fresh.close()
    assert again.read_bytes() == written.read_bytes()


async def test_export_chat_to_a_path_that_cannot_be_written_says_which_and_why(
        settings, encoder, generator, tmp_path):
    blocker = tmp_path / "notes.txt"  # a file where the folder would be
    blocker.write_text("not a folder", encoding="utf-8")
    app = app_for(settings, encoder, generator)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.ready)
        await send(pilot, app, "/export-chat")
        assert any("nothing to export yet" in n for n in shown_notes(app))
        await send(pilot, app, "I adopted a grey cat called Miso.")
        target = blocker / "chat.md"
        await send(pilot, app, f"/export-chat {target}")
        await until(pilot, lambda: any(n.startswith("cannot export") for n in shown_notes(app)))
        (error,) = [n for n in shown_notes(app) if n.startswith("cannot export")]
        assert error == f"cannot export to {target}: {blocker} is a file, not a folder"
        await send(pilot, app, f"/export-chat {tmp_path / 'chat.txt'}")
        await until(pilot, lambda: any(".md file name" in n for n in shown_notes(app)))
        good = tmp_path / "out" / "chat.md"
        await send(pilot, app, f"/export-chat {good}")
        await until(pilot, lambda: f"exported this conversation to {good}" in shown_notes(app))
    assert "I adopted a grey cat called Miso." in good.read_text(encoding="utf-8")
