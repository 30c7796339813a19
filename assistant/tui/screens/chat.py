"""The chat: conversations on the left, the messages in the middle, the memories the
latest answer recalled on the right.

Everything that touches the store or a model runs in a thread worker through the app's
agent; a worker that needs the models waits for the app's `loaded` event. A message sent
before then is shown at once and answered when they are ready.
"""

from __future__ import annotations

import time
from pathlib import Path

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import Footer, Header, Input, Label
from textual.worker import get_current_worker

from assistant.commands import SLASH_COMMANDS, Command, CommandError, parse
from assistant.tui.answer_queue import AnswerQueue
from assistant.tui.format import HELP_KEYS, conflict_note, local_day, snippet, source_label
from assistant.tui.screens.confirm_forget import ConfirmForget
from assistant.tui.screens.export_form import ChatExport
from assistant.tui.screens.import_screen import ImportScreen
from assistant.tui.screens.memory_browser import MemoryBrowser
from assistant.tui.screens.memory_detail import MemoryDetail
from assistant.tui.screens.panels import SidePanels
from assistant.tui.screens.proposal_review import ProposalReview
from assistant.tui.screens.proposals import ReviewProposals
from assistant.tui.screens.text_prompt import TextPrompt
from assistant.tui.widgets.chat_log import ChatLog, MessageView
from assistant.tui.widgets.conversation_list import ConversationList
from assistant.tui.widgets.memory_panel import MemoryPanel
from assistant.tui.widgets.prompt_input import PromptInput
from assistant.wording import title_of


class ChatScreen(SidePanels, ProposalReview, ChatExport, Screen[None]):
    BINDINGS = [
        Binding("ctrl+q", "app.quit", "Quit", priority=True),  # first in the footer, as ever
        # Next: a narrow footer still shows how to bring back the panels it hides.
        Binding("ctrl+l", "toggle_panel('sidebar')", "Chats"),
        Binding("ctrl+r", "toggle_panel('memories')", "Recalled"),
        Binding("ctrl+n", "new_conversation", "New chat"),
        Binding("ctrl+o", "import", "Import"),
        Binding("ctrl+b", "memories", "Memories"),
        Binding("ctrl+f", "search_conversations", "Search chats"),
        Binding("escape", "stop", "Stop answer"),
        Binding("ctrl+s", "export_chat", "Export"),
    ]

    def __init__(self, import_root: Path) -> None:
        super().__init__()
        self.import_root = import_root
        self.conversation_id: int | None = None
        self.titles: dict[int, str] = {}
        self.last_activity = time.monotonic()
        self.summarised_idle = True
        self.answering = False  # an answer is being written (until it is stored)
        self.waiting: list[tuple[Command, str]] = []  # sent before the data folder opened
        self.queue = AnswerQueue()
        # What each parsed command does (commands.parse names them): (argument, line).
        self.commands = {
            "chat": self._chat, "new": lambda arg, line: self.action_new_conversation(),
            "help": self._help, "remember": self._remember_line,
            "forget": lambda query, line: self._find_to_forget(query),
            "search": lambda query, line: self._open_browser(query),
            "memories": lambda arg, line: self.action_memories(),
            "import": lambda paths, line: self._open_import(paths),
            "export": lambda path, line: self.app.export(path),
            "export-chat": lambda path, line: self._export_chat(path),
            "model": lambda spec, line: self.app.switch_model(spec),
            "accept": lambda ids, line: self._review(ids, keep=True),
            "reject": lambda ids, line: self._review(ids, keep=False),
        }

    @property
    def agent(self):
        return self.app.agent

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
        self.query_one("#prompt", PromptInput).focus()
        self.set_interval(30, self._idle_check)

    # What the app tells the chat ---------------------------------------------------------

    def opened(self, conversations) -> None:
        """The data folder is open: show the newest conversation."""
        self.titles = {c.id: c.title for c in conversations}
        if conversations and self.conversation_id is None and not self.answering:
            self._switch(conversations[0].id, summarise=False)
        else:
            self._show_conversations(conversations)
            if not self.answering:
                self.query_one(ChatLog).show_transcript([])
        waiting, self.waiting = self.waiting, []
        for command, line in waiting:
            self.commands[command.name](command.arg, line)

    def status(self, text: str, error: bool = False) -> None:
        if self.answering and not self.app.ready and not error:  # a message waits for them
            text = f"{text}; your message will be answered then"
        self.query_one("#status", Label).update(text)
        if error:
            self.notify(text, severity="error", timeout=10)

    # Conversations -----------------------------------------------------------------------

    @work(thread=True, exclusive=True, group="conversations")
    def _refresh_conversations(self, matches: dict[int, str] | None = None) -> None:
        if self.agent is not None:
            self.app.call_from_thread(self._show_conversations, self.agent.conversations(),
                                      matches)

    def _show_conversations(self, conversations, matches: dict[int, str] | None = None
                            ) -> None:
        self.titles = {c.id: c.title for c in conversations}
        self.query_one(ConversationList).show(conversations, self.conversation_id, matches)
        if self.conversation_id is not None:
            self._title(self.titles.get(self.conversation_id, ""))

    def _title(self, title: str) -> None:
        self.title = f"assistant \u2014 {title or 'new conversation'}"

    def _switch(self, conversation_id: int | None, summarise: bool = True) -> None:
        if summarise and self.conversation_id not in (None, conversation_id):
            self._summarise(self.conversation_id)
        self.conversation_id = conversation_id
        self.query_one(MemoryPanel).show([], self.titles)
        self._title(self.titles.get(conversation_id, ""))
        self._show_transcript(conversation_id)

    @work(thread=True, exclusive=True, group="transcript")
    def _show_transcript(self, conversation_id: int | None) -> None:
        messages = [] if conversation_id is None else self.agent.transcript(conversation_id)
        self.app.call_from_thread(self.query_one(ChatLog).show_transcript,
                                  [(m.role, m.text) for m in messages])
        self.app.call_from_thread(self._show_conversations, self.agent.conversations())

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
        self.app.push_screen(TextPrompt("Rename conversation:", self.titles.get(cid, "")),
                             lambda title: title and self._renamed(cid, title))

    @work(thread=True, group="memory")
    def _renamed(self, cid: int, title: str) -> None:
        self.agent.rename_conversation(cid, title)
        self.app.call_from_thread(self._show_conversations, self.agent.conversations())

    def action_delete(self) -> None:
        if self.conversation_id is not None:
            self._delete(self.conversation_id)

    def _delete(self, cid: int) -> None:
        self.app.push_screen(TextPrompt(
            f"Delete \u201c{self.titles.get(cid, cid)}\u201d and everything remembered from "
            "it? Enter to delete, Esc to keep.", "delete"),
            lambda title: title is not None and self._delete_now(cid))

    @work(thread=True, group="memory")
    def _delete_now(self, cid: int) -> None:
        self.agent.delete_conversation(cid)
        self.app.call_from_thread(self._deleted, cid)

    def _deleted(self, cid: int) -> None:
        self.notify(f"deleted \u201c{self.titles.get(cid, cid)}\u201d and its memories")
        if cid == self.conversation_id:
            self._switch(None, summarise=False)
        else:
            self._refresh_conversations()

    def action_search_conversations(self) -> None:
        self._show_panel("sidebar", True)
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
        if not self.app.wait_ready():
            return
        found = self.agent.search_conversations(query)
        matches = {cid: snippet(hit, 60) for cid, hit in found}
        self.app.call_from_thread(self._show_conversations, self.agent.conversations(),
                                  matches)
        if not found:
            self.app.call_from_thread(self.notify,
                                      f"no conversation mentions \u201c{query}\u201d")

    # Input -------------------------------------------------------------------------------

    @on(Input.Submitted, "#prompt")
    def _submitted(self, event: Input.Submitted) -> None:
        prompt = self.query_one("#prompt", PromptInput)
        line = prompt.text.strip()  # every line of it
        if not line:
            return
        try:
            command = parse(line)
        except CommandError as exc:
            self.notify(str(exc), severity="error")
            return
        prompt.remember(line)
        prompt.value = ""
        self.last_activity, self.summarised_idle = time.monotonic(), False
        # These wait for the models in their workers; the others wait for opened().
        if self.agent is None and command.name not in ("chat", "help", "remember", "forget"):
            self.waiting.append((command, line))
            self.notify(f"{line} will run once the data folder is open")
            return
        self.commands[command.name](command.arg, line)

    def _chat(self, text: str, line: str) -> None:
        chat = self.query_one(ChatLog)
        chat.add("user", text)
        view = chat.add("assistant", "")
        view.add_class("streaming")
        self.answering = True
        self.status("recalling\u2026" if self.app.ready else "loading the models")
        self._answer(text, view, self.queue.take())

    def _conversation_for(self, first_line: str) -> int:
        """In a worker: the open conversation, started with `first_line` as its title."""
        if self.conversation_id is None:
            title = title_of(first_line) or "New conversation"
            cid = self.agent.new_conversation(title)
            self.app.call_from_thread(self._started, cid, self.agent.conversations())
        return self.conversation_id

    def _started(self, cid: int, conversations) -> None:
        self.conversation_id = cid
        self._show_conversations(conversations)

    @work(thread=True, group="answer")
    def _answer(self, text: str, view: MessageView, ticket: int) -> None:
        worker = get_current_worker()
        with self.queue.turn(ticket, worker) as mine:  # sent before: answered before
            if mine and self.app.wait_ready():
                self._write(worker, text, view)
            else:
                self.app.call_from_thread(self._answer_failed, view, None)

    def _write(self, worker, text: str, view: MessageView) -> None:
        self.app.call_from_thread(self.status, "recalling\u2026")
        try:
            answer = self.agent.chat_turn(self._conversation_for(text), text)
        except Exception as exc:
            self.app.call_from_thread(self._answer_failed, view, exc)
            return
        self.app.call_from_thread(self._show_recall, answer)
        self.app.call_from_thread(self.status, "answering\u2026 (Esc stops)")
        failed = None
        try:
            for piece in answer:
                if worker.is_cancelled:
                    break
                if piece:  # empty pieces: the answer is still being written and checked
                    self.app.call_from_thread(view.append, piece)
        except Exception as exc:
            failed = exc
        finally:
            answer.close()  # persists a stopped answer and the LTM-T state
        if failed is not None:
            self.app.call_from_thread(self._answer_failed, view, failed)
        else:
            self.app.call_from_thread(self._answer_done, view, answer)
        self.app.call_from_thread(self._show_conversations, self.agent.conversations())

    def _show_recall(self, answer) -> None:
        self.query_one(MemoryPanel).show(answer.sources, self.titles)
        for c in answer.conflicts:
            self._show_conflict(c)

    def _show_conflict(self, c) -> None:
        note = conflict_note(c)
        self.query_one(ChatLog).add("note", note)
        self.notify(note, title="Conflicting memories", timeout=8)

    def _answer_done(self, view: MessageView, answer) -> None:
        self.answering = False
        view.remove_class("streaming")
        if answer.cancelled:
            view.append(" *[stopped]*")
        elif not answer.text:
            view.update("*(no answer)*")
        else:
            view.update(answer.text)  # the checked answer, as stored
            support = answer.support
            if support is not None:  # where the answer comes from, a quote if a document
                quote = "quoting " if support.kind == "chunk" else "from "
                view.border_subtitle = (f"{quote}{source_label(support, self.titles)}, "
                                        f"{local_day(support.created_at)}")
        self.status("ready")
        if answer.proposals:  # the model asked to remember: the user decides
            hits = list(answer.proposals)
            self.app.push_screen(ReviewProposals(hits), lambda keep: self._decide(hits, keep))

    def _answer_failed(self, view: MessageView, exc: Exception | None) -> None:
        """The answer could not be written: `exc` says why (None: no models to write it)."""
        self.answering = False
        view.remove_class("streaming")
        view.update(f"*(failed: {exc})*" if exc else "*(not answered)*")
        if exc is not None:
            self.status("ready")
            self.notify(f"answering failed: {exc}", severity="error")

    def action_stop(self, everything: bool = False) -> None:  # everything: those waiting too
        running = [w for w in self.workers if w.group == "answer" and w.is_running
                   and (everything or w is self.queue.current)]
        for w in running:
            w.cancel()
        if running:
            self.status("stopping\u2026")

    def _help(self, arg: str, line: str) -> None:
        lines = [f"- `/{name}` \u2014 {what}" for name, what in SLASH_COMMANDS.items()]
        lines += ["", "Or in words: *remember that ...*, *forget ...*.", HELP_KEYS]
        self.query_one(ChatLog).add("note", "\n".join(lines))

    def _remember_line(self, fact: str, line: str) -> None:
        self.query_one(ChatLog).add("user", line)
        self._remember(fact, line)

    @work(thread=True, group="memory")
    def _remember(self, fact: str, line: str) -> None:
        if not self.app.wait_ready():
            return
        hit, conflicts = self.agent.remember(self._conversation_for(line), fact, said=line)
        self.app.call_from_thread(self.query_one(ChatLog).add, "assistant",
                                  f"I will remember that: {fact}")
        self.app.call_from_thread(self.query_one(MemoryPanel).show, [hit], self.titles)
        for c in conflicts:
            self.app.call_from_thread(self._show_conflict, c)

    @work(thread=True, group="memory")
    def _find_to_forget(self, query: str) -> None:
        if not self.app.wait_ready():
            return
        hits = self.agent.forget_candidates(query)
        self.app.call_from_thread(self.confirm_forget, query, hits,
                                  self.agent.forget_ticked(query, hits))

    def confirm_forget(self, query: str, hits, ticked: set[int] | None = None) -> None:
        if not hits:
            self.notify(f"no memory matches \u201c{query}\u201d")
            return
        self.app.push_screen(ConfirmForget(query, hits, ticked),
                             lambda ids: self._forget(ids) if ids else
                             self.notify("kept them all"))

    @work(thread=True, group="memory")
    def _forget(self, ids: list[int]) -> None:
        # In a worker: forgetting rewrites the FAISS file, which takes a while when large.
        n = self.agent.forget(ids)
        self.app.call_from_thread(self.notify, f"forgot {n} memor{'y' if n == 1 else 'ies'}")

    @on(MemoryPanel.Opened)
    def _open_memory(self, event: MemoryPanel.Opened) -> None:
        hit = event.hit

        def done(action: str | None) -> None:
            if action in {"pin", "unpin"}:
                self._pin(hit.id, action == "pin")
            elif action == "forget":
                self.confirm_forget(f"#{hit.id}", [hit])

        self.app.push_screen(MemoryDetail(hit, self.titles), done)

    @work(thread=True, group="memory")
    def _pin(self, memory_id: int, pinned: bool) -> None:
        self.agent.set_pinned(memory_id, pinned)
        self.app.call_from_thread(self.notify,
                                  f"memory #{memory_id} {'pinned' if pinned else 'unpinned'}")

    # Other screens -----------------------------------------------------------------------

    def action_import(self) -> None:
        self._open_import("")

    def _open_import(self, paths: str) -> None:
        if self.agent is not None:
            self.app.push_screen(ImportScreen(self.agent, self.import_root, paths))

    def action_memories(self) -> None:
        self._open_browser("")

    def _open_browser(self, query: str) -> None:
        if self.agent is not None:
            self.app.push_screen(MemoryBrowser(self.agent, self.titles, query))

    # Summaries ---------------------------------------------------------------------------

    @work(thread=True, group="summary")
    def _summarise(self, cid: int) -> None:
        if self.app.ready:
            self.agent.summarize(cid)

    def _idle_check(self) -> None:
        idle = time.monotonic() - self.last_activity
        if (not self.summarised_idle and self.conversation_id is not None
                and idle > self.app.settings.idle_summary_s):
            self.summarised_idle = True
            self._summarise(self.conversation_id)
