"""`assistant chat` in a real pseudo-terminal, as a person's terminal runs it: what is
typed before the first frame is sent, and a terminal that vanishes ends the app."""

from __future__ import annotations

import fcntl
import os
import select
import signal
import sqlite3
import struct
import subprocess
import sys
import termios
import threading
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # child processes that load the real models


class Terminal:
    """A pty with `assistant chat` on its other side; everything it shows is kept."""

    def __init__(self, home: Path, *, controlling: bool = False) -> None:
        self.master, slave = os.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 100, 0, 0))
        self.modes_at_start = termios.tcgetattr(slave)
        env = {**os.environ, "HF_HUB_OFFLINE": "1", "TERM": "xterm-256color",
               "ASSISTANT_CACHE": os.environ["ASSISTANT_CACHE"]}
        # controlling: the pty is the process's terminal, so closing it sends SIGHUP;
        # otherwise (like a process started by a service) only its stdin hangs up.
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "assistant.cli", "--home", str(home), "chat"],
            stdin=slave, stdout=slave, stderr=slave, env=env, start_new_session=True,
            preexec_fn=(lambda: fcntl.ioctl(0, termios.TIOCSCTTY, 0)) if controlling
            else None)
        os.close(slave)
        self.shown = bytearray()
        self._reading = True
        # Read all along: a full pty would block the app's output.
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        while self._reading:
            if not select.select([self.master], [], [], 0.1)[0]:
                continue
            try:
                data = os.read(self.master, 65536)
            except OSError:  # EIO: the app has ended
                return
            if not data:
                return
            self.shown += data

    def hang_up(self) -> None:
        """Close the terminal (a read in progress would keep it open: stop reading)."""
        self._reading = False
        self._reader.join()
        os.close(self.master)

    def type(self, text: str) -> None:
        os.write(self.master, text.encode())

    def wait_for(self, condition, timeout: float = 120.0) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            assert self.proc.poll() is None, f"the app ended: {self.proc.returncode}"
            assert time.monotonic() < deadline, f"timed out; screen:\n{self.tail()}"
            time.sleep(0.2)

    def tail(self) -> str:
        return bytes(self.shown[-3000:]).decode(errors="replace")

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        if self._reading:
            self.hang_up()


def stored_messages(home: Path) -> list[tuple[str, str]]:
    db = home / "memory.sqlite3"
    if not db.exists():
        return []
    with sqlite3.connect(db) as con:
        try:
            return con.execute("SELECT role, text FROM messages ORDER BY id").fetchall()
        except sqlite3.OperationalError:  # not created yet
            return []


@pytest.fixture
def terminal(home, model_cache):
    opened: list[Terminal] = []

    def open_terminal(**kw) -> Terminal:
        opened.append(Terminal(home, **kw))
        return opened[-1]

    yield open_terminal
    for t in opened:
        t.close()


def test_a_message_typed_before_the_first_frame_is_sent(home, terminal):
    term = terminal()
    # At once: Python is still starting and the terminal still in cooked mode, where
    # Enter arrives as a newline (Ctrl+J). Two lines: each is sent on its own.
    term.type("/help\rhello there\r")
    term.wait_for(lambda: len(stored_messages(home)) >= 2)  # asked and answered
    assert stored_messages(home)[0] == ("user", "hello there")
    term.type("\x11")  # Ctrl+Q
    assert term.proc.wait(timeout=120) == 0
    # The terminal is given back as it was: line editing, echo, Enter as a newline.
    modes = termios.tcgetattr(term.master)
    assert modes[3] & (termios.ICANON | termios.ECHO) == termios.ICANON | termios.ECHO
    assert modes[0] & termios.ICRNL
    assert modes == term.modes_at_start


@pytest.mark.parametrize("controlling", [False, True], ids=["stdin-hangs-up", "sighup"])
def test_the_app_ends_when_its_terminal_vanishes(home, terminal, controlling):
    term = terminal(controlling=controlling)
    term.wait_for(lambda: b"Message, or /help" in term.shown)  # the first frame
    term.type("remember that the spare key is under the blue pot\r")
    term.wait_for(lambda: len(stored_messages(home)) >= 2)
    term.hang_up()  # the window closed, ssh dropped: no terminal any more
    try:
        term.proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        # The old app spun here at half a CPU with its event loop blocked: even
        # SIGTERM did nothing.
        term.proc.send_signal(signal.SIGTERM)
        ended = "after SIGTERM" if _ended(term.proc, 5) else "not even after SIGTERM"
        pytest.fail(f"the app was still running 20 s after its terminal closed ({ended})")
    # It quit as Ctrl+Q does: the conversation's summary was written on the way out.
    with sqlite3.connect(home / "memory.sqlite3") as con:
        kinds = [k for (k,) in con.execute("SELECT kind FROM memories")]
    assert "summary" in kinds


def _ended(proc: subprocess.Popen, seconds: float) -> bool:
    try:
        proc.wait(timeout=seconds)
    except subprocess.TimeoutExpired:
        return False
    return True
