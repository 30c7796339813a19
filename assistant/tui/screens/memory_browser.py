"""Every memory: search, pin, forget (asks first), export to JSON or Markdown."""

from __future__ import annotations

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Input, Label

from assistant.tui.format import flags, local_day, snippet, source_label
from assistant.tui.screens.confirm_forget import ConfirmForget
from assistant.tui.screens.memory_detail import MemoryDetail
from assistant.wording import plural


class MemoryBrowser(Screen[None]):
    BINDINGS = [
        Binding("escape", "app.pop_screen", "Back"),
        Binding("p", "pin", "Pin/unpin"),
        Binding("d", "forget", "Forget"),
        Binding("e", "app.export", "Export"),  # the app's own export, one flow for both
        Binding("slash", "focus_search", "Search"),
    ]

    def __init__(self, agent, titles: dict[int, str], query: str = "") -> None:
        super().__init__()
        self.agent = agent
        self.titles = titles
        self.initial = query
        self.hits = []

    def compose(self) -> ComposeResult:
        yield Label("Memory browser", classes="screen-title")
        yield Input(self.initial, placeholder="search memories (empty: newest first)",
                    id="memory-search")
        yield DataTable(id="memory-table", cursor_type="row", zebra_stripes=True)
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_columns("#", "kind", "date", "source", "memory")
        self.refresh_hits()
        table.focus()

    @on(Input.Submitted, "#memory-search")
    def _search(self) -> None:
        self.refresh_hits()
        self.query_one(DataTable).focus()

    @work(thread=True, exclusive=True, group="browse")
    def refresh_hits(self) -> None:
        query = self.query_one("#memory-search", Input).value
        hits = self.agent.search(query, 200)
        self.app.call_from_thread(self._show, hits)

    def _show(self, hits) -> None:
        self.hits = hits
        table = self.query_one(DataTable)
        table.clear()
        for h in hits:
            table.add_row(str(h.id), h.kind, local_day(h.created_at),
                          source_label(h, self.titles)[:30],
                          snippet(h, 70) + flags(h), key=str(h.id))
        self.sub_title = plural(len(hits), "memory", "memories")

    def _selected(self):
        table = self.query_one(DataTable)
        if not self.hits or table.cursor_row is None or table.cursor_row >= len(self.hits):
            return None
        return self.hits[table.cursor_row]

    def action_focus_search(self) -> None:
        self.query_one("#memory-search", Input).focus()

    def action_pin(self) -> None:
        if hit := self._selected():
            self._pin(hit.id, not hit.pinned)

    @work(thread=True, group="browse-write")
    def _pin(self, memory_id: int, pinned: bool) -> None:
        self.agent.set_pinned(memory_id, pinned)
        self.app.call_from_thread(self.notify, f"memory #{memory_id} "
                                               f"{'pinned' if pinned else 'unpinned'}")
        self.app.call_from_thread(self.refresh_hits)

    def action_forget(self) -> None:
        if hit := self._selected():
            self.app.push_screen(ConfirmForget(f"#{hit.id}", [hit]), self._forget)

    def _forget(self, ids: list[int] | None) -> None:
        if ids:
            self._forget_now(ids)

    @work(thread=True, group="browse-write")
    def _forget_now(self, ids: list[int]) -> None:
        n = self.agent.forget(ids)  # rewrites the FAISS file: not on the UI thread
        self.app.call_from_thread(self.notify, f"forgot {n} memor{'y' if n == 1 else 'ies'}")
        self.app.call_from_thread(self.refresh_hits)

    @on(DataTable.RowSelected)
    def _open(self) -> None:
        if hit := self._selected():
            self.app.push_screen(MemoryDetail(hit, self.titles), self._detail_done)

    def _detail_done(self, action: str | None) -> None:
        if action in {"pin", "unpin"}:
            self.action_pin()
        elif action == "forget":
            self.action_forget()
