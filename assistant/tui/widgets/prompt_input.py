"""The message box, with Up/Down through what was sent before (like a shell).

One line on screen, any number in a message: a line break shows as NEWLINE (so Enter
still sends and Up/Down still walk the history); `text` is the message as written.
"""

from __future__ import annotations

from textual import events
from textual.binding import Binding
from textual.widgets import Input

NEWLINE = "\u23ce"  # ⏎: one cell wide, and nobody types it
# Longer than this is a document, not a message: refused whole, never cut.
MAX_CHARS = 20_000


def folded(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n").replace("\n", NEWLINE)


class PromptInput(Input):
    BINDINGS = [
        Binding("up", "history(-1)", "Previous", show=False),
        Binding("down", "history(1)", "Next", show=False),
        # Shift+Enter reaches the app as a plain Enter in most terminals; these do not.
        Binding("ctrl+j,alt+enter", "newline", "New line"),
    ]

    def __init__(self, **kwargs) -> None:
        super().__init__(placeholder="Message, or /help", **kwargs)
        self.history: list[str] = []
        self._at = 0

    @property
    def text(self) -> str:
        """The message as written, line breaks included."""
        return self.value.replace(NEWLINE, "\n")

    @text.setter
    def text(self, text: str) -> None:
        self.value = folded(text)
        self.cursor_position = len(self.value)

    def remember(self, line: str) -> None:
        if line and (not self.history or self.history[-1] != line):
            self.history.append(line)
        self._at = len(self.history)

    def action_history(self, step: int) -> None:
        if not self.history:
            return
        self._at = max(0, min(len(self.history), self._at + step))
        self.text = self.history[self._at] if self._at < len(self.history) else ""

    def action_newline(self) -> None:
        self.insert_text_at_cursor(NEWLINE)

    def _on_paste(self, event: events.Paste) -> None:
        # Input's own paste keeps only the first line.
        event.prevent_default()
        event.stop()
        if not event.text:
            return
        pasted = folded(event.text)
        start, end = sorted(self.selection)
        if len(self.value) - (end - start) + len(pasted) > MAX_CHARS:
            self.notify(f"Not pasted: {len(event.text):,} characters, and a message holds "
                        f"at most {MAX_CHARS:,}. Save it as a file and /import it instead.",
                        severity="error", timeout=10)
            return
        self.replace(pasted, start, end)
