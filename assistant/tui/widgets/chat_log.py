"""The transcript: one Markdown block per message; the assistant's grows as it streams."""

from __future__ import annotations

from textual.containers import VerticalScroll
from textual.widgets import Markdown, Static


class MessageView(Markdown):
    """One message; `role` (user, assistant, note) picks its style."""

    def __init__(self, role: str, text: str = "") -> None:
        super().__init__(text, classes=f"message {role}")
        self.role = role
        self.border_title = {"user": "you", "assistant": "assistant"}.get(role, "")


class ChatLog(VerticalScroll):
    """Messages in order, scrolled to the newest."""

    def show_transcript(self, messages: list[tuple[str, str]]) -> None:
        self.remove_children()
        if not messages:
            self.mount(Static("Say something: every message is remembered, and answers "
                              "come from memory. /help lists the commands.", classes="hint"))
        for role, text in messages:
            self.mount(MessageView(role, text))
        self.scroll_end(animate=False)

    def add(self, role: str, text: str = "") -> MessageView:
        for hint in self.query(".hint"):
            hint.remove()
        view = MessageView(role, text)
        self.mount(view)
        self.scroll_end(animate=False)
        return view
