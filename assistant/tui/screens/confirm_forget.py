"""Ask before deleting: the matching memories, those that match well ticked; returns the
ids to delete."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Label, SelectionList

from assistant.tui.format import local_day, snippet
from memory_store.records import Hit


class ConfirmForget(ModalScreen[list[int]]):
    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, query: str, hits: list[Hit], ticked: set[int] | None = None) -> None:
        """`ticked`: the ids ticked at first (Agent.forget_ticked for a search; None: all,
        for memories the user picked by hand)."""
        super().__init__()
        self.query_text = query
        self.hits = hits
        self.ticked = {h.id for h in hits} if ticked is None else ticked

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(f"Forget memories matching \u201c{self.query_text}\u201d? "
                        "Only the ticked ones are forgotten; this cannot be undone.",
                        classes="dialog-title")
            yield SelectionList[int](*[
                (f"#{h.id} {local_day(h.created_at)}: {snippet(h, 90)}", h.id, h.id in self.ticked)
                for h in self.hits])
            with Horizontal(classes="buttons"):
                yield Button("Forget selected", variant="error", id="forget")
                yield Button("Keep all", id="cancel")

    @on(Button.Pressed, "#forget")
    def _forget(self) -> None:
        self.dismiss(list(self.query_one(SelectionList).selected))

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        self.dismiss([])
