"""Textual's Linux driver, for a terminal that may vanish and whose modes early_input set.

Two things Textual's own driver gets wrong here:

- It restores, on quit and on Ctrl+Z, the modes it found when it started, which are
  early_input's typeahead mode, not the shell's: `ChatDriver.restoring(original)` gives it
  the modes from before `assistant chat` started.
- When the terminal has gone (the window closed, ssh dropped, tmux kill-session), its
  writer thread dies on the first EIO; its queue fills, and the next write blocks the app's
  event loop for good, signal handlers included, while its input thread spins on EOF. Here
  output to a terminal that has gone is dropped, and a hang-up is seen on stdin even when
  no SIGHUP comes (a process whose terminal is not its controlling one): the process gets
  SIGHUP, which the app handles as "the terminal closed".
"""

from __future__ import annotations

import os
import select
import signal
import threading
from typing import IO

from textual.drivers.linux_driver import LinuxDriver

from assistant.tui.early_input import TerminalModes


class _OutputToAGoneTerminal:
    """The driver's output file; once a write or flush fails, the rest is dropped."""

    def __init__(self, file: IO[str]) -> None:
        self._file = file
        self.gone = False

    def write(self, text: str) -> None:
        if not self.gone:
            try:
                self._file.write(text)
            except OSError:  # EIO: the terminal has gone; ValueError stays a bug
                self.gone = True

    def flush(self) -> None:
        if not self.gone:
            try:
                self._file.flush()
            except OSError:
                self.gone = True

    def fileno(self) -> int:
        return self._file.fileno()

    def isatty(self) -> bool:
        return self._file.isatty()


class ChatDriver(LinuxDriver):
    original_modes: TerminalModes | None = None  # the shell's, before early_input's

    @classmethod
    def restoring(cls, modes: TerminalModes | None) -> type[ChatDriver]:
        """The driver that gives the terminal `modes` back (None: the ones it found)."""
        return type(cls.__name__, (cls,), {"original_modes": modes})

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._file = _OutputToAGoneTerminal(self._file)
        self._watching = threading.Event()  # set while in application mode
        self._hang_up_watch: threading.Thread | None = None

    def start_application_mode(self) -> None:
        super().start_application_mode()
        if self.original_modes is not None and self.attrs_before is not None:
            self.attrs_before = self.original_modes
        self._watching.set()
        # After Ctrl+Z and fg the watch of the first start may still be running.
        if self.input_tty and not (self._hang_up_watch and self._hang_up_watch.is_alive()):
            self._hang_up_watch = threading.Thread(target=self._watch_for_hang_up,
                                                   name="hang-up watch", daemon=True)
            self._hang_up_watch.start()

    def stop_application_mode(self) -> None:
        self._watching.clear()
        super().stop_application_mode()

    def _watch_for_hang_up(self) -> None:
        """Wait for stdin to hang up; reads nothing (no events asked: poll reports
        POLLHUP, POLLERR and POLLNVAL only)."""
        poller = select.poll()
        poller.register(self.fileno, 0)
        while self._watching.is_set():
            if poller.poll(500):
                if self._watching.is_set():
                    os.kill(os.getpid(), signal.SIGHUP)
                return
