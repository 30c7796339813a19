"""The transcript: one Markdown block per message; the assistant's grows as it streams."""

from __future__ import annotations

from markdown_it import MarkdownIt
from textual.containers import VerticalScroll
from textual.widgets import Markdown, Static


def lines_kept() -> MarkdownIt:
    """Textual's Markdown parser, but a line break is shown as one: a user types lines,
    not Markdown paragraphs (where a single newline joins two lines into one)."""
    parser = MarkdownIt("gfm-like")
    parser.core.ruler.push("lines_kept", _soft_breaks_hard)
    return parser


def _soft_breaks_hard(state) -> None:
    # markdown-it's own `breaks` option only changes its HTML; Textual reads the tokens.
    for token in state.tokens:
        for child in token.children or ():
            if child.type == "softbreak":
                child.type = "hardbreak"


class MessageView(Markdown):
    """One message; `role` (user, assistant, note) picks its style. The user's own lines
    stay lines; answers and notes are Markdown as written."""

    def __init__(self, role: str, text: str = "") -> None:
        super().__init__(text, classes=f"message {role}",
                         parser_factory=lines_kept if role == "user" else None)
        self.role = role
        self.border_title = {"user": "you", "assistant": "assistant"}.get(role, "")


class ChatLog(VerticalScroll):
    """Messages in order, scrolled to the newest.

    Anchored to the bottom while the messages overflow it: an answer growing as it
    streams, its source line and a resize keep the end in view, until the user scrolls up
    (scrolling back down follows again). Fewer messages start at the top, as ever (an
    anchor would push them down to the bottom).
    """

    def on_resize(self) -> None:
        self._follow()

    def watch_virtual_size(self) -> None:  # the messages grew or shrank
        self.call_after_refresh(self._follow)

    def _follow(self) -> None:
        overflows = self.max_scroll_y > 0
        if overflows != self.is_anchored:
            self.anchor(overflows)
            if not overflows:
                self.scroll_to(y=0, animate=False, immediate=True)

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
