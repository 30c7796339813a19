"""The chat screen's side panels: hidden where the chat would be too narrow, shown and
hidden again by their keys, and never holding the focus while hidden."""

from __future__ import annotations

from textual.widget import Widget

# The chat keeps 64 columns (60 characters a line, with its padding and scroll bar): the
# recalled memories (42 wide in app.tcss) show from 64 + 42, the conversations (28) too
# from 64 + 42 + 28. Narrower, they are hidden until their key shows them.
CHAT_COLUMNS = 64


class SidePanels:
    """Mixed into the chat screen (a Screen: `query_one`, `set_class`, `focused`)."""

    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (CHAT_COLUMNS + 42, "-medium"),
                              (CHAT_COLUMNS + 42 + 28, "-wide")]
    # Tab goes round these (the search box only while in it): Tab from the message box
    # once went into "search past chats", and what was typed next with it. Ctrl+F goes there.
    TAB_ORDER = ("prompt", "conv-search", "conversations", "chat", "memories")

    @property
    def focus_chain(self) -> list[Widget]:
        search = self.query_one("#conv-search")

        def place(widget: Widget) -> int:
            for node in widget.ancestors_with_self:
                if node.id in self.TAB_ORDER:
                    return self.TAB_ORDER.index(node.id)
            return len(self.TAB_ORDER)

        chain = [w for w in super().focus_chain if w is not search or search.has_focus]
        return sorted(chain, key=place)

    def action_toggle_panel(self, panel: str) -> None:
        """Show or hide a side panel, whatever the width (the choice stays)."""
        self._show_panel(panel, not self.query_one(f"#{panel}").display)

    def _show_panel(self, panel: str, shown: bool) -> None:
        self.set_class(shown, f"-show-{panel}")
        self.set_class(not shown, f"-hide-{panel}")
        self.call_after_refresh(self._keep_focus_shown)

    def on_resize(self) -> None:
        self.call_after_refresh(self._keep_focus_shown)

    def _keep_focus_shown(self) -> None:
        """A panel hidden with the focus in it gives the focus to the message box (keys
        would go on to a panel nobody sees)."""
        focused = self.focused
        if focused is not None and not all(n.display for n in focused.ancestors_with_self):
            self.query_one("#prompt").focus()
