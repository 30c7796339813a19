"""The chat app: conversations on the left, the chat in the middle, recalled memories right.

All model and database work happens in thread workers through the agent; this module
never imports torch or SQLAlchemy (the agent itself is imported inside a worker, so the
first screen appears before any of them load).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from textual import on, work
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import Footer, Header, Input, Label
from textual.worker import get_current_worker

from assistant.commands import SLASH_COMMANDS, CommandError, parse
from assistant.config import Settings
from assistant.tui.format import local_day, snippet, source_label
from assistant.tui.screens.confirm_forget import ConfirmForget
from assistant.tui.screens.import_screen import ImportScreen
from assistant.tui.screens.memory_browser import MemoryBrowser
from assistant.tui.screens.memory_detail import MemoryDetail
from assistant.tui.screens.text_prompt import TextPrompt
from assistant.tui.widgets.chat_log import ChatLog
from assistant.tui.widgets.conversation_list import ConversationList
from assistant.tui.widgets.memory_panel import MemoryPanel
from assistant.tui.widgets.prompt_input import PromptInput

if TYPE_CHECKING:
    from assistant.answer.protocol import Generator

AgentFactory = Callable[[], object]


class MemoryApp(App[None]):
    CSS_PATH = "app.tcss"
    TITLE = "assistant"
    BINDINGS = [
        Binding("ctrl+q", "quit", "Quit", priority=True),
        Binding("ctrl+n", "new_conversation", "New chat"),
        Binding("ctrl+o", "import", "Import"),
        Binding("ctrl+b", "memories", "Memories"),
        Binding("ctrl+f", "search_conversations", "Search chats"),
        Binding("escape", "stop", "Stop answer"),
    ]

    def __init__(self, settings: Settings, agent_factory: AgentFactory,
                 import_root: Path | None = None) -> None:
        super().__init__()
        self.settings = settings
        self.agent_factory = agent_factory
        self.import_root = import_root or Path.home()
        self.agent = None
        self.ready = False  # models loaded
        self.conversation_id: int | None = None
        self.titles: dict[int, str] = {}
        self.last_activity = time.monotonic()
        self.summarised_idle = True
        self.answering = False  # an answer is being written (until it is stored)

    # Layout ------------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield Header(icon="\u25c6")
        with Horizontal(id="main"):
            with Vertical(id="sidebar"):
                yield Input(placeholder="search past chats", id="conv-search")
                yield ConversationList(id="conversations")
            with Vertical(id="center"):
                yield ChatLog(id="chat")
                yield Label("starting\u2026", id="status")
                yield PromptInput(id="prompt")
            yield MemoryPanel(id="memories")
        yield Footer()

    def on_mount(self) -> None:
        self.sub_title = "loading models\u2026"
        self.query_one("#prompt", PromptInput).focus()
        self.set_interval(30, self._idle_check)
        self._open()

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        yield SystemCommand("New conversation", "Start a new chat (/new)",
                            self.action_new_conversation)
        yield SystemCommand("Import documents", "Import files or folders (/import PATH)",
                            self.action_import)
        yield SystemCommand("Memory browser", "Search, pin, forget, export memories",
                            self.action_memories)
        yield SystemCommand("Search conversations", "Search all past conversations",
                            self.action_search_conversations)
        yield SystemCommand("Rename conversation", "Rename the current conversation",
                            self.action_rename)
        yield SystemCommand("Delete conversation", "Delete the current conversation",
                            self.action_delete)
        yield SystemCommand("Export memories", "Write all memories to .json or .md",
                            self.action_export)
        yield SystemCommand("Stop answer", "Stop the answer being written (Esc)",
                            self.action_stop)
        yield SystemCommand("Switch model", "Answer with another model (/model SPEC)",
                            self.action_switch_model)

    # Start-up ----------------------------------------------------------------------------

    @work(thread=True, exclusive=True, group="load")
    def _open(self) -> None:
        try:
            agent = self.agent_factory()
        except Exception as exc:
            self.call_from_thread(self._status, f"cannot open the data folder: {exc}", True)
            return
        conversations = agent.conversations()
        self.call_from_thread(self._opened, agent, conversations)
        try:
            agent.load(lambda what: self.call_from_thread(self._status, what))
        except Exception as exc:
            self.call_from_thread(self._status, f"model loading failed: {exc}", True)
            return
        self.call_from_thread(self._loaded)

    def _opened(self, agent, conversations) -> None:
        self.agent = agent
        self.titles = {c.id: c.title for c in conversations}
        if conversations:
            self._switch(conversations[0].id, summarise=False)
        else:
            self.query_one(ChatLog).show_transcript([])
            self._refresh_conversations()

    def _loaded(self) -> None:
        self.ready = True
        self.sub_title = f"answers by {self.agent.generator_name}"
        self._status("ready")

    def _status(self, text: str, error: bool = False) -> None:
        if self.answering and not self.ready and not error:  # a message waits for the models
            text = f"{text}; your message will be answered then"
        self.query_one("#status", Label).update(text)
        if error:
            self.notify(text, severity="error", timeout=10)

    # Conversations -----------------------------------------------------------------------

    def _refresh_conversations(self, matches: dict[int, str] | None = None) -> None:
        conversations = self.agent.conversations()
        self.titles = {c.id: c.title for c in conversations}
        self.query_one(ConversationList).show(conversations, self.conversation_id, matches)

    def _switch(self, conversation_id: int | None, summarise: bool = True) -> None:
        if summarise and self.conversation_id not in (None, conversation_id):
            self._summarise(self.conversation_id)
        self.conversation_id = conversation_id
        messages = [] if conversation_id is None else self.agent.transcript(conversation_id)
        self.query_one(ChatLog).show_transcript([(m.role, m.text) for m in messages])
        self.query_one(MemoryPanel).show([], self.titles)
        self._refresh_conversations()
        title = self.titles.get(conversation_id, "new conversation")
        self.title = f"assistant \u2014 {title}"

    @on(ConversationList.Chosen)
    def _chosen(self, event: ConversationList.Chosen) -> None:
        if event.conversation_id != self.conversation_id:
            self._switch(event.conversation_id)
        self.query_one("#prompt", PromptInput).focus()

    @on(ConversationList.RenameRequested)
    def _rename_requested(self, event: ConversationList.RenameRequested) -> None:
        self._rename(event.conversation_id)

    @on(ConversationList.DeleteRequested)
    def _delete_requested(self, event: ConversationList.DeleteRequested) -> None:
        self._delete(event.conversation_id)

    def action_new_conversation(self) -> None:
        if self.agent is not None:
            self._switch(None)
            self.query_one("#prompt", PromptInput).focus()

    def action_rename(self) -> None:
        if self.conversation_id is not None:
            self._rename(self.conversation_id)

    def _rename(self, cid: int) -> None:
        def done(title: str | None) -> None:
            if title:
                self.agent.rename_conversation(cid, title)
                self._refresh_conversations()

        self.push_screen(TextPrompt("Rename conversation:", self.titles.get(cid, "")), done)

    def action_delete(self) -> None:
        if self.conversation_id is not None:
            self._delete(self.conversation_id)

    def _delete(self, cid: int) -> None:
        def done(title: str | None) -> None:
            if title is not None:
                self._delete_now(cid)

        self.push_screen(TextPrompt(
            f"Delete \u201c{self.titles.get(cid, cid)}\u201d and everything remembered from "
            "it? Enter to delete, Esc to keep.", "delete"), done)

    @work(thread=True, group="memory")
    def _delete_now(self, cid: int) -> None:
        self.agent.delete_conversation(cid)
        self.call_from_thread(self._deleted, cid)

    def _deleted(self, cid: int) -> None:
        self.notify(f"deleted \u201c{self.titles.get(cid, cid)}\u201d and its memories")
        if cid == self.conversation_id:
            self._switch(None, summarise=False)
        else:
            self._refresh_conversations()

    def action_search_conversations(self) -> None:
        self.query_one("#conv-search", Input).focus()

    @on(Input.Submitted, "#conv-search")
    def _search_conversations(self, event: Input.Submitted) -> None:
        if self.agent is None:
            return
        if not event.value.strip():
            self._refresh_conversations()
            return
        self._find_conversations(event.value)

    @work(thread=True, exclusive=True, group="search")
    def _find_conversations(self, query: str) -> None:
        if not self._wait_ready():
            return
        found = self.agent.search_conversations(query)
        matches = {cid: snippet(hit, 60) for cid, hit in found}
        self.call_from_thread(self._refresh_conversations, matches)
        if not found:
            self.call_from_thread(self.notify, f"no conversation mentions \u201c{query}\u201d")

    # Input -------------------------------------------------------------------------------

    @on(Input.Submitted, "#prompt")
    def _submitted(self, event: Input.Submitted) -> None:
        line = event.value.strip()
        prompt = self.query_one("#prompt", PromptInput)
        if not line:
            return
        if self.agent is None:
            self.notify("still opening the data folder", severity="warning")
            return
        try:
            command = parse(line)
        except CommandError as exc:
            self.notify(str(exc), severity="error")
            return
        prompt.remember(line)
        prompt.value = ""
        self.last_activity, self.summarised_idle = time.monotonic(), False
        handler = getattr(self, f"_do_{command.name}")
        handler(command.arg, line)

    def _ensure_conversation(self, first_line: str) -> int:
        if self.conversation_id is None:
            title = " ".join(first_line.split())[:40] or "New conversation"
            self.conversation_id = self.agent.new_conversation(title)
            self._refresh_conversations()
            self.title = f"assistant \u2014 {title}"
        return self.conversation_id

    def _do_chat(self, text: str, line: str) -> None:
        cid = self._ensure_conversation(text)
        chat = self.query_one(ChatLog)
        chat.add("user", text)
        view = chat.add("assistant", "")
        view.add_class("streaming")
        self.answering = True
        if self.ready:
            self._status("recalling\u2026")
        else:  # kept, and answered as soon as the models are loaded
            self._status("loading the models")
        self._answer(cid, text, view)

    @work(thread=True, exclusive=True, group="answer")
    def _answer(self, cid: int, text: str, view) -> None:
        worker = get_current_worker()
        if not self._wait_ready():
            return
        self.call_from_thread(self._status, "recalling\u2026")
        try:
            answer = self.agent.chat_turn(cid, text)
        except Exception as exc:
            self.call_from_thread(self._answer_failed, view, exc)
            return
        self.call_from_thread(self._show_recall, answer)
        self.call_from_thread(self._status, "answering\u2026 (Esc stops)")
        failed = None
        try:
            for piece in answer:
                if worker.is_cancelled:
                    break
                if piece:  # empty pieces: the answer is still being written and checked
                    self.call_from_thread(view.append, piece)
        except Exception as exc:
            failed = exc
        finally:
            answer.close()  # persists a stopped answer and the LTM-T state
        if failed is not None:
            self.call_from_thread(self._answer_failed, view, failed)
        else:
            self.call_from_thread(self._answer_done, view, answer)

    def _show_recall(self, answer) -> None:
        self.query_one(MemoryPanel).show(answer.sources, self.titles)
        for c in answer.conflicts:
            self._show_conflict(c)

    def _show_conflict(self, c) -> None:
        note = (f"Updated what I know ({c.subject}): \u201c{snippet(c.new, 80)}\u201d "
                f"({local_day(c.new.created_at)}) replaces \u201c{snippet(c.old, 80)}\u201d "
                f"({local_day(c.old.created_at)}). Both are kept; answers use the newer.")
        self.query_one(ChatLog).add("note", note)
        self.notify(note, title="Conflicting memories", timeout=8)

    def _answer_done(self, view, answer) -> None:
        self.answering = False
        view.remove_class("streaming")
        if answer.cancelled:
            view.append(" *[stopped]*")
        elif not answer.text:
            view.update("*(no answer)*")
        else:
            view.update(answer.text)  # the checked phrase, as stored
            support = answer.support
            if support is not None:  # where the answer comes from, a quote if a document
                quote = "quoting " if support.kind == "chunk" else "from "
                view.border_subtitle = (f"{quote}{source_label(support, self.titles)}, "
                                        f"{local_day(support.created_at)}")
        self._status("ready")
        self._refresh_conversations()

    def _answer_failed(self, view, exc: Exception) -> None:
        self.answering = False
        view.remove_class("streaming")
        view.update(f"*(failed: {exc})*")
        self._status("ready")
        self.notify(f"answering failed: {exc}", severity="error")

    def action_stop(self) -> None:
        running = [w for w in self.workers if w.group == "answer" and w.is_running]
        for w in running:
            w.cancel()
        if running:
            self._status("stopping\u2026")

    def _do_new(self, arg: str, line: str) -> None:
        self.action_new_conversation()

    def _do_help(self, arg: str, line: str) -> None:
        lines = [f"- `/{name}` \u2014 {what}" for name, what in SLASH_COMMANDS.items()]
        lines += ["", "Or in words: *remember that ...*, *forget ...*.",
                  "Keys: Ctrl+N new chat, Ctrl+O import, Ctrl+B memories, Ctrl+F search "
                  "chats, Esc stop the answer, Ctrl+P command palette, Ctrl+Q quit."]
        self.query_one(ChatLog).add("note", "\n".join(lines))

    def _do_remember(self, fact: str, line: str) -> None:
        cid = self._ensure_conversation(line)
        self.query_one(ChatLog).add("user", line)
        self._remember(cid, fact, line)

    @work(thread=True, group="memory")
    def _remember(self, cid: int, fact: str, line: str) -> None:
        if not self._wait_ready():
            return
        hit, conflicts = self.agent.remember(cid, fact, said=line)
        self.call_from_thread(self.query_one(ChatLog).add, "assistant",
                              f"I will remember that: {fact}")
        self.call_from_thread(self.query_one(MemoryPanel).show, [hit], self.titles)
        for c in conflicts:
            self.call_from_thread(self._show_conflict, c)

    def _do_forget(self, query: str, line: str) -> None:
        self._find_to_forget(query)

    @work(thread=True, group="memory")
    def _find_to_forget(self, query: str) -> None:
        if not self._wait_ready():
            return
        hits = self.agent.forget_candidates(query)
        self.call_from_thread(self._confirm_forget, query, hits)

    def _confirm_forget(self, query: str, hits) -> None:
        if not hits:
            self.notify(f"no memory matches \u201c{query}\u201d")
            return

        def done(ids: list[int] | None) -> None:
            if ids:
                self._forget(ids)
            else:
                self.notify("kept them all")

        self.push_screen(ConfirmForget(query, hits), done)

    @work(thread=True, group="memory")
    def _forget(self, ids: list[int]) -> None:
        # In a worker: forgetting rewrites the FAISS file, which takes a while when large.
        n = self.agent.forget(ids)
        self.call_from_thread(self.notify, f"forgot {n} memor{'y' if n == 1 else 'ies'}")

    def _do_search(self, query: str, line: str) -> None:
        self.push_screen(MemoryBrowser(self.agent, self.titles, query))

    def _do_memories(self, arg: str, line: str) -> None:
        self.action_memories()

    def _do_import(self, paths: str, line: str) -> None:
        self._open_import(paths)

    def _do_export(self, path: str, line: str) -> None:
        self._export(path)

    def _do_model(self, spec: str, line: str) -> None:
        self._switch_model(spec)

    def action_switch_model(self) -> None:
        if self.agent is not None:
            self.push_screen(TextPrompt("Model: embedded, a model folder or .gguf file, or an "
                                        "OpenAI-compatible URL (http://localhost:11434/v1)",
                                        self.settings.model),
                             lambda spec: spec and self._switch_model(spec))

    @work(thread=True, exclusive=True, group="model")
    def _switch_model(self, spec: str) -> None:
        if not self._wait_ready():
            return
        self.call_from_thread(self._status, f"loading {spec}\u2026")
        try:
            name = self.agent.switch_model(spec)
        except Exception as exc:  # the current model keeps answering
            self.call_from_thread(self._status, "ready")
            self.call_from_thread(self.notify, f"cannot use {spec}: {exc}", severity="error")
            return
        self.call_from_thread(self._loaded)
        self.call_from_thread(self.notify, f"answers now come from {name}")

    # Screens -----------------------------------------------------------------------------

    def action_import(self) -> None:
        self._open_import("")

    def _open_import(self, paths: str) -> None:
        if self.agent is None:
            return
        self.push_screen(ImportScreen(self.agent, self.import_root, paths))

    def action_memories(self) -> None:
        if self.agent is not None:
            self.push_screen(MemoryBrowser(self.agent, self.titles))

    def action_export(self) -> None:
        if self.agent is not None:
            self.push_screen(TextPrompt("Export all memories to (.json or .md):",
                                        str(Path.home() / "memories.md")),
                             lambda p: p and self._export(p))

    @work(thread=True, group="memory")
    def _export(self, path: str) -> None:
        try:
            n = self.agent.export(Path(path))
        except (OSError, ValueError) as exc:
            self.call_from_thread(self.notify, str(exc), severity="error")
            return
        self.call_from_thread(self.notify, f"exported {n} memories to {path}")

    @on(MemoryPanel.Opened)
    def _open_memory(self, event: MemoryPanel.Opened) -> None:
        hit = event.hit

        def done(action: str | None) -> None:
            if action in {"pin", "unpin"}:
                self.agent.set_pinned(hit.id, action == "pin")
                self.notify(f"memory #{hit.id} {action}ned")
            elif action == "forget":
                self._confirm_forget(f"#{hit.id}", [hit])

        self.push_screen(MemoryDetail(hit, self.titles), done)

    # Summaries and quitting --------------------------------------------------------------

    def _wait_ready(self) -> bool:
        """In a worker: wait for the models (the first message may come before them)."""
        worker = get_current_worker()
        while not self.ready:
            if worker.is_cancelled:
                return False
            time.sleep(0.1)
        return True

    @work(thread=True, group="summary")
    def _summarise(self, cid: int) -> None:
        if self.ready:
            self.agent.summarize(cid)

    def _idle_check(self) -> None:
        idle = time.monotonic() - self.last_activity
        if (not self.summarised_idle and self.conversation_id is not None
                and idle > self.settings.idle_summary_s):
            self.summarised_idle = True
            self._summarise(self.conversation_id)

    async def action_quit(self) -> None:
        self.action_stop()
        if self.agent is not None and self.ready and self.conversation_id is not None:
            self._status("saving a summary of this conversation\u2026")
            await self.workers.wait_for_complete()  # answers and imports finish persisting
            self._final_summary()
            return
        self.exit()

    @work(thread=True, group="summary")
    def _final_summary(self) -> None:
        try:
            self.agent.summarize(self.conversation_id)
        finally:
            self.call_from_thread(self.exit)

    def on_unmount(self) -> None:
        if self.agent is not None:
            self.agent.close()


def create_app(settings: Settings, use_ltmt: bool = True, encoder=None,
               generator: Generator | None = None,
               import_root: Path | None = None,
               clock: Callable[[], datetime] | None = None) -> MemoryApp:
    """The one app factory, used by `assistant chat` and by the tests (which pass a fixed
    `clock`, so what the screen shows does not depend on the day they run)."""

    def open_agent():
        from assistant.agent import Agent  # here, not at import: torch stays off the UI path

        return Agent(settings, encoder=encoder, generator=generator, use_ltmt=use_ltmt,
                     clock=clock)

    return MemoryApp(settings, open_agent, import_root=import_root)
