"""A running assistant (the chat app, `assistant mcp`) answers `assistant search` and
`assistant ask` for its data folder over a Unix socket in that folder, so one question
from the shell costs no model loading (`assistant bench cli` measures both ways).

Who may ask: the socket lives in the owner-only data folder and is itself owner-only,
and each request carries the folder's token, the one MCP's HTTP clients send
($ASSISTANT_MCP_TOKEN, else the data folder's mcp-token file). A request whose options
differ from the server's (another store, model or adapter, --no-ltmt) is declined, and
the CLI answers it itself, as it does when nothing is listening.

This module is imported by every `search` and `ask`: the client side imports nothing
heavy."""

from __future__ import annotations

import hmac
import itertools
import json
import logging
import os
import socket
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

log = logging.getLogger(__name__)

SOCKET_FILE = "assistant.sock"
TOKEN_FILE = "mcp-token"  # as assistant/mcp/http.py
TOKEN_ENV = "ASSISTANT_MCP_TOKEN"
COMMANDS = ("search", "ask")
CONNECT_TIMEOUT_S = 0.5
DECLINED = "declined"


def socket_path(home: Path) -> Path:
    return Path(home) / SOCKET_FILE


def _token(home: Path) -> str | None:
    if token := os.environ.get(TOKEN_ENV, "").strip():
        return token
    try:
        return (Path(home) / TOKEN_FILE).read_text(encoding="utf-8").strip()
    except OSError:
        return None


def options(settings, no_ltmt: bool) -> dict:
    """What must match between a request and the server's agent for the answer to be
    the one the CLI would give itself."""
    return {"store": settings.store_url, "model": settings.model,
            "adapter": str(settings.adapter), "no_ltmt": bool(no_ltmt)}


# Client ------------------------------------------------------------------------------------

def ask_running(home: Path, argv: list[str], wanted: dict, out: TextIO,
                err: TextIO) -> int | None:
    """Run one command in the assistant serving `home`; its exit code, or None when none
    is running (or it declined): then the caller runs the command itself. Output is
    streamed as it comes."""
    path, token = socket_path(home), _token(home)
    if token is None or not path.exists() or len(str(path).encode()) > 100:
        return None
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(CONNECT_TIMEOUT_S)
    try:
        sock.connect(str(path))
        sock.settimeout(None)  # an answer takes what it takes; Ctrl+C still stops it
        sock.sendall(json.dumps({"token": token, "argv": argv, "options": wanted})
                     .encode() + b"\n")
        replies = sock.makefile("r", encoding="utf-8")
        first = replies.readline()
    except (OSError, ValueError):
        sock.close()
        return None  # a stale socket, a server gone: the CLI answers itself
    with sock, replies:
        # Answered from here on: a server gone now would give half an answer twice.
        for line in itertools.chain([first], replies):
            try:
                message = json.loads(line)
            except ValueError:
                break
            if DECLINED in message:
                return None
            if "out" in message:
                out.write(message["out"])  # a closed pipe (`| head`) ends it, as in print
                out.flush()
            elif "err" in message:
                err.write(message["err"])
            elif "exit" in message:
                return int(message["exit"])
        err.write("error: the running assistant stopped before it finished; ask again\n")
        return 1


# Server ------------------------------------------------------------------------------------

class _Stream:
    """A file-like object whose writes go to the client as {"out"|"err": text} lines."""

    def __init__(self, conn: socket.socket, key: str, lock: threading.Lock) -> None:
        self.conn, self.key, self.lock = conn, key, lock

    def write(self, text: str) -> int:
        if text:
            with self.lock:
                self.conn.sendall(json.dumps({self.key: text}).encode() + b"\n")
        return len(text)

    def flush(self) -> None:
        pass


Run = Callable[[list[str], TextIO, TextIO], int]


class CliServer:
    """Serves `run(argv, out, err)` on the data folder's socket until `close()`."""

    def __init__(self, home: Path, token: str, wanted: dict, run: Run) -> None:
        self.path = socket_path(home)
        self.token, self.wanted, self.run = token, wanted, run
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._claim()
        self.thread = threading.Thread(target=self._serve, name="cli-server", daemon=True)
        self.thread.start()

    def _claim(self) -> None:
        """Bind the socket, taking over one left by an assistant that died; never one that
        another running assistant still answers on (that one keeps serving)."""
        if self.path.exists():
            probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                probe.connect(str(self.path))
                raise OSError(f"another assistant already serves {self.path.parent}")
            except ConnectionRefusedError:
                self.path.unlink()  # nobody listens: a crashed assistant's
            finally:
                probe.close()
        old = os.umask(0o177)  # owner-only from the start, not after a chmod
        try:
            self.sock.bind(str(self.path))
        finally:
            os.umask(old)
        self.sock.listen(8)

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return  # closed
            threading.Thread(target=self._answer, args=(conn,), daemon=True,
                             name="cli-request").start()

    def _answer(self, conn: socket.socket) -> None:
        lock = threading.Lock()
        with conn:
            try:
                request = json.loads(conn.makefile("r", encoding="utf-8").readline())
                if not hmac.compare_digest(str(request.get("token", "")), self.token) \
                        or request.get("options") != self.wanted \
                        or not request.get("argv") or request["argv"][0] not in COMMANDS:
                    conn.sendall(json.dumps({DECLINED: True}).encode() + b"\n")
                    return
                code = self.run([str(a) for a in request["argv"]], _Stream(conn, "out", lock),
                                _Stream(conn, "err", lock))
                conn.sendall(json.dumps({"exit": code}).encode() + b"\n")
            except (OSError, ValueError) as exc:  # the client went away, or sent nonsense
                log.info("a CLI request ended early: %s", exc)

    def close(self) -> None:
        try:
            self.sock.close()
        finally:
            try:
                self.path.unlink()
            except FileNotFoundError:
                pass


def start(agent, run: Callable[[object, list[str], TextIO, TextIO], int]) -> CliServer | None:
    """Serve `agent`'s data folder to the CLI; None (logged) when it cannot: a path too
    long for a Unix socket, or another assistant already serving the folder."""
    from assistant.mcp.http import http_token

    home = agent.settings.home
    if len(str(socket_path(home)).encode()) > 100:  # sun_path holds 108 bytes
        log.info("not serving the CLI: %s is too long a path for a socket", home)
        return None
    try:
        return CliServer(home, http_token(home), options(agent.settings, not agent.use_ltmt),
                         lambda argv, out, err: run(agent, argv, out, err))
    except OSError as exc:
        log.info("not serving the CLI: %s", exc)
        return None
