"""Past conversations, newest first; a search result shows the matching line under each."""

from __future__ import annotations

from dataclasses import dataclass

from textual import on
from textual.binding import Binding
from textual.message import Message
from textual.widgets import Label, ListItem, ListView

from memory_store.records import ConversationRecord


class ConversationItem(ListItem):
    def __init__(self, conv: ConversationRecord, match: str = "") -> None:
        labels = [Label(conv.title or "Untitled", classes="conv-title")]
        if match:
            labels.append(Label(match, classes="conv-match"))
        super().__init__(*labels)
        self.conversation_id = conv.id


class ConversationList(ListView):
    BINDINGS = [
        Binding("r", "rename", "Rename"),
        Binding("delete,d", "delete", "Delete"),
    ]

    @dataclass
    class Chosen(Message):
        conversation_id: int

    @dataclass
    class RenameRequested(Message):
        conversation_id: int

    @dataclass
    class DeleteRequested(Message):
        conversation_id: int

    def on_mount(self) -> None:
        self.border_title = "Conversations"

    def show(self, conversations: list[ConversationRecord], active: int | None,
             matches: dict[int, str] | None = None) -> None:
        self.clear()
        shown = [c for c in conversations if matches is None or c.id in matches]
        self.extend(ConversationItem(c, (matches or {}).get(c.id, "")) for c in shown)
        ids = [c.id for c in shown]
        self.index = ids.index(active) if active in ids else (0 if ids else None)
        self.border_subtitle = "search results" if matches is not None else ""

    def _current(self) -> int | None:
        item = self.highlighted_child
        return item.conversation_id if isinstance(item, ConversationItem) else None

    @on(ListView.Selected)
    def _chosen(self, event: ListView.Selected) -> None:
        event.stop()
        if isinstance(event.item, ConversationItem):
            self.post_message(self.Chosen(event.item.conversation_id))

    def action_rename(self) -> None:
        if (cid := self._current()) is not None:
            self.post_message(self.RenameRequested(cid))

    def action_delete(self) -> None:
        if (cid := self._current()) is not None:
            self.post_message(self.DeleteRequested(cid))
