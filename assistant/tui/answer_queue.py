"""Messages are answered one at a time, in the order they were sent: one sent while the
models load, or while another answer is written, waits its turn instead of cancelling
the one before it (a first message would otherwise end "(not answered)")."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager


class AnswerQueue:
    def __init__(self) -> None:
        self._turns = threading.Condition()
        self._next = 0  # the ticket the next message gets
        self._serving = 0  # the ticket whose answer may be written now
        self._finished: set[int] = set()  # tickets done out of order (cancelled while waiting)
        self.current = None  # the worker writing an answer now, for Esc

    def take(self) -> int:
        """On the UI thread, when a message is sent: its place in the queue."""
        with self._turns:
            self._next += 1
            return self._next - 1

    @contextmanager
    def turn(self, ticket: int, worker) -> Iterator[bool]:
        """In the answer's worker: waits for its turn; yields False if the worker was
        cancelled meanwhile (Esc, quitting). The turn passes on when the block ends."""
        try:
            with self._turns:
                while self._serving != ticket and not worker.is_cancelled:
                    self._turns.wait(0.1)
                mine = self._serving == ticket and not worker.is_cancelled
                if mine:
                    self.current = worker
            yield mine
        finally:
            with self._turns:
                if self.current is worker:
                    self.current = None
                self._finished.add(ticket)
                while self._serving in self._finished:
                    self._finished.discard(self._serving)
                    self._serving += 1
                self._turns.notify_all()
