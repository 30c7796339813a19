"""Keys typed before the first frame go to the message box, and Enter among them sends.

The terminal delivers what was typed while the app started (early_input keeps it) before
the chat screen has focused its message box: Textual gives those keys to the screen,
which drops them, or to whatever it focused first (the search box). The app holds them
until the message box has the focus, then gives them to it in order, one line at a time:
Textual checks Enter's binding only when the key has bubbled back up to the app, so
the keys after an Enter wait until the message it sent has been handled (the screen has
read and cleared the box), or they would join the line before.
"""

from __future__ import annotations

from functools import partial

from textual import events
from textual.app import App
from textual.widgets import Input

from assistant.tui.widgets.prompt_input import PromptInput


class KeepsTypeahead(App[None]):
    """The app's part: its first screen's PromptInput gets the keys typed before it."""

    # An Enter whose message never came back (something stopped it) holds the keys after
    # it no longer than this.
    SENDING_AT_MOST_S = 2.0

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        # Keys and pastes waiting for the message box (None: nothing waits any more).
        self.typeahead: list[events.Key | events.Paste] | None = []
        self._before_first_frame = True  # until the message box first has the focus
        # The Enter given to the box whose Submitted has not come back yet.
        self._sending: events.Key | None = None

    def _on_mount(self, event: events.Mount) -> None:
        self.watch(self.screen, "focused", self._focused, init=False)

    async def on_event(self, event: events.Event) -> None:
        if (self.typeahead is not None and isinstance(event, (events.Key, events.Paste))
                and not event.is_forwarded):
            if self._before_first_frame and isinstance(event, events.Key) \
                    and event.key == "ctrl+j":
                # Typed while the terminal was still in cooked mode, where Enter arrives
                # as LF (Ctrl+J); nobody presses Ctrl+J at a screen not yet drawn.
                event = events.Key("enter", "\r")
            self.typeahead.append(event)
            await self._release()
            return
        await super().on_event(event)

    def _focused(self, focused) -> None:
        if isinstance(focused, PromptInput) and self.typeahead is not None:
            self._before_first_frame = False
            self.call_later(self._release)

    async def on_input_submitted(self, event: Input.Submitted) -> None:
        if isinstance(event.input, PromptInput):
            await self._sent(self._sending)

    async def _sent(self, enter: events.Key | None) -> None:
        if enter is not None and self._sending is enter:
            self._sending = None
            await self._release()

    async def _release(self) -> None:
        """Give the held keys to the message box, up to the next Enter."""
        while self.typeahead and not self._sending:
            to_box = isinstance(self.focused, PromptInput)
            if self._before_first_frame and not to_box:
                return
            # After the first frame, a line that opened a dialog: the rest goes there.
            event = self.typeahead.pop(0)
            if to_box and isinstance(event, events.Key) and event.key == "enter":
                self._sending = event
                self.set_timer(self.SENDING_AT_MOST_S, partial(self._sent, event))
            await super().on_event(event)
        if self.typeahead == [] and not self._sending and not self._before_first_frame:
            self.typeahead = None  # from now on keys go their usual way
