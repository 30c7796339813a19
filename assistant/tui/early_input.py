"""Keep what is typed while the chat app starts.

`assistant chat` takes a second or more to import Textual. Until Textual's driver switches
the terminal to raw mode, the terminal is in cooked mode: what is typed is echoed over the
shell's screen and Enter arrives as a newline (ICRNL turns CR into LF, which Textual reads
as Ctrl+J). `typeahead_kept` switches the terminal at once, before Textual is imported, to
a mode where keystrokes wait in the input queue as the app will read them; Textual's own
switch (TCSANOW, like this one) keeps them. This module imports no Textual.
"""

from __future__ import annotations

import sys
import termios
from collections.abc import Iterator
from contextlib import contextmanager

TerminalModes = list  # termios.tcgetattr's [iflag, oflag, cflag, lflag, ispeed, ospeed, cc]


def typeahead_mode(modes: TerminalModes) -> TerminalModes:
    """`modes` with no echo, no line editing and Enter kept as CR; signals (Ctrl+C) still
    work while the app is not yet drawn."""
    iflag, oflag, cflag, lflag, ispeed, ospeed, cc = modes
    cc = list(cc)
    cc[termios.VMIN], cc[termios.VTIME] = 1, 0
    return [iflag & ~termios.ICRNL, oflag, cflag, lflag & ~(termios.ECHO | termios.ICANON),
            ispeed, ospeed, cc]


@contextmanager
def typeahead_kept(stdin=None) -> Iterator[TerminalModes | None]:
    """While the app starts and runs: the terminal in `typeahead_mode`. Yields the modes it
    had (None: stdin is no terminal), and gives them back on the way out, errors and
    Ctrl+C included."""
    stdin = stdin or sys.__stdin__
    try:
        fd = stdin.fileno()
        original = termios.tcgetattr(fd)
        # TCSANOW, not tty.setraw's TCSAFLUSH: what was typed already stays to be read.
        termios.tcsetattr(fd, termios.TCSANOW, typeahead_mode(original))
    except (AttributeError, ValueError, OSError, termios.error):  # no terminal (a pipe)
        yield None
        return
    try:
        yield original
    finally:
        try:  # TCSADRAIN: after the app's last output (leaving the alternate screen)
            termios.tcsetattr(fd, termios.TCSADRAIN, original)
        except termios.error:  # the terminal has gone: nothing to give back
            pass
