"""One memory in full, with pin and forget; returns "pin", "unpin", "forget" or None."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Label, Static

from assistant.tui.format import flags, local_day, source_label
from memory_store.records import Hit


class MemoryDetail(ModalScreen[str | None]):
    BINDINGS = [Binding("escape", "close", "Close")]

    def __init__(self, hit: Hit, titles: dict[int, str]) -> None:
        super().__init__()
        self.hit = hit
        self.titles = titles

    def compose(self) -> ComposeResult:
        h = self.hit
        weight = "" if h.weight is None else f" \u00b7 LTM-T weight {h.weight:.1%}"
        with Vertical(classes="dialog"):
            yield Label(f"Memory #{h.id} \u00b7 {h.kind} \u00b7 {local_day(h.created_at)}"
                        f"{weight}{flags(h)}", classes="dialog-title")
            yield Label(f"Source: {source_label(h, self.titles)}  ({h.source})")
            with VerticalScroll(classes="memory-body"):
                yield Static(h.text, markup=False)
            with Horizontal(classes="buttons"):
                yield Button("Unpin" if h.pinned else "Pin", id="pin")
                yield Button("Forget", variant="error", id="forget")
                yield Button("Close", id="close")

    @on(Button.Pressed, "#pin")
    def _pin(self) -> None:
        self.dismiss("unpin" if self.hit.pinned else "pin")

    @on(Button.Pressed, "#forget")
    def _forget(self) -> None:
        self.dismiss("forget")

    @on(Button.Pressed, "#close")
    def action_close(self) -> None:
        self.dismiss(None)
