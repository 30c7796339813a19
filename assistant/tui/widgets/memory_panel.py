"""The memories the current answer recalled: LTM-T weight, date, source. Enter opens one."""

from __future__ import annotations

from dataclasses import dataclass

from textual import on
from textual.message import Message
from textual.widgets import Label, ListItem, ListView

from assistant.tui.format import flags, local_day, snippet, source_label
from assistant.wording import plural
from memory_store.records import Hit


class MemoryItem(ListItem):
    def __init__(self, n: int, hit: Hit, titles: dict[int, str]) -> None:
        weight = "" if hit.weight is None else f"{hit.weight:.0%} \u00b7 "
        head = f"{n}. {weight}{local_day(hit.created_at)} \u00b7 {source_label(hit, titles)}"
        super().__init__(Label(head + flags(hit), classes="memory-head"),
                         Label(snippet(hit), classes="memory-text"))
        self.hit = hit


class MemoryPanel(ListView):
    """Recalled memories of the latest answer, best first."""

    @dataclass
    class Opened(Message):
        hit: Hit

    def on_mount(self) -> None:
        self.border_title = "Recalled memories"

    def show(self, hits: list[Hit], titles: dict[int, str]) -> None:
        self.clear()
        self.extend(MemoryItem(n, h, titles) for n, h in enumerate(hits, start=1))
        self.index = 0 if hits else None
        self.border_subtitle = plural(len(hits), "memory", "memories") if hits else "none"

    @on(ListView.Selected)
    def _open(self, event: ListView.Selected) -> None:
        event.stop()
        if isinstance(event.item, MemoryItem):
            self.post_message(self.Opened(event.item.hit))
