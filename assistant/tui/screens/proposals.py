"""What the model asked to remember while it answered, for the user to accept or reject:
a model's memory is never kept as theirs unasked. Returns the ids to keep (the rest are
rejected), or None to decide later (they stay unpinned proposals)."""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Label, SelectionList

from assistant.tui.format import snippet
from memory_store.records import Hit


class ReviewProposals(ModalScreen[list[int] | None]):
    BINDINGS = [Binding("escape", "later", "Decide later")]

    def __init__(self, hits: list[Hit]) -> None:
        super().__init__()
        self.hits = hits

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label("The model asked to remember this. Tick what to keep as your "
                        "memory; the rest is rejected.", classes="dialog-title")
            # As text, not markup: a model's words may hold brackets.
            yield SelectionList[int](*[(Text(f"#{h.id} {snippet(h, 90)} ({h.source})"), h.id,
                                        False) for h in self.hits])
            with Horizontal(classes="buttons"):
                yield Button("Keep selected", variant="primary", id="keep")
                yield Button("Reject all", variant="error", id="reject")

    @on(Button.Pressed, "#keep")
    def _keep(self) -> None:
        self.dismiss(list(self.query_one(SelectionList).selected))

    @on(Button.Pressed, "#reject")
    def _reject(self) -> None:
        self.dismiss([])

    def action_later(self) -> None:
        self.dismiss(None)
