"""Nothing leaks: prompts for a server on this machine never go through a proxy, a
redirect is never followed with the key, every file of the store and every export is
private from its first byte, and file names cannot drive the terminal. Real HTTP servers
on loopback, real files."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import threading
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from assistant.answer.backends.factory import make_generator
from assistant.answer.backends.remote import destination
from assistant.answer.protocol import GeneratorUnavailable, complete
from assistant.cli import printable
from assistant.export import export_memories
from memory_store.records import NewMemory
from memory_store.sqlite_store import SqliteStore

REPLY = "data: " + json.dumps({"choices": [{"delta": {"content": "Lisbon"}}]}) + "\n\n"


class Recorder(ThreadingHTTPServer):
    """Answers POSTs with one chat-completion event, or with a redirect to `redirect`;
    records every request line and its Authorization header."""

    def __init__(self, redirect: str | None = None) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.redirect = redirect
        self.seen: list[tuple[str, str | None]] = []
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _Handler(BaseHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass

    def do_POST(self) -> None:  # a proxy sees the absolute URL in the request line
        self.server.seen.append((self.requestline, self.headers.get("Authorization")))
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        if self.server.redirect:
            self.send_response(302)
            self.send_header("Location", self.server.redirect)
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.end_headers()
        self.wfile.write((REPLY + "data: [DONE]\n\n").encode())

    do_GET = do_POST


@pytest.fixture
def servers():
    made = []

    def make(redirect=None):
        made.append(Recorder(redirect))
        return made[-1]

    yield make
    for srv in made:
        srv.shutdown()
        srv.server_close()


def test_a_server_on_this_machine_is_reached_directly_despite_a_proxy(servers, monkeypatch):
    model, proxy = servers(), servers()
    monkeypatch.setenv("HTTP_PROXY", proxy.url)
    monkeypatch.setenv("http_proxy", proxy.url)
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    monkeypatch.setenv("SECRET_KEY", "sk-private")
    gen = make_generator(f"{model.url}/v1", api_key_env="SECRET_KEY")
    assert complete(gen, "Where?") == "Lisbon"
    assert proxy.seen == [] and len(model.seen) == 1  # the proxy saw nothing
    assert destination(f"{model.url}/v1") == f"{model.url}/v1 (directly)"
    # Asked for, the proxy is used; a server elsewhere goes through it by default.
    asked = make_generator(f"{model.url}/v1", proxy_loopback=True)
    assert complete(asked, "Where?") == "Lisbon"
    assert proxy.seen and proxy.seen[0][0].startswith(f"POST {model.url}/v1/chat/completions")
    assert destination("http://models.example:8000/v1") == (
        f"http://models.example:8000/v1 (through the proxy {proxy.url})")


def test_a_redirect_is_not_followed_with_the_key(servers, monkeypatch):
    elsewhere = servers()
    model = servers(redirect=f"{elsewhere.url}/v1/chat/completions")
    monkeypatch.setenv("SECRET_KEY", "sk-private")
    gen = make_generator(f"{model.url}/v1", api_key_env="SECRET_KEY")
    with pytest.raises(GeneratorUnavailable, match=rf"redirected to {elsewhere.url}.*not followed"):
        complete(gen, "Where?")
    assert model.seen[0][1] == "Bearer sk-private"
    assert elsewhere.seen == []  # neither the prompt nor the key went on


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def usual_umask():
    old = os.umask(0o022)  # the usual default: files readable by everyone unless made private
    yield
    os.umask(old)


def test_every_file_of_the_store_is_private_from_the_start(tmp_path, encoder, usual_umask):
    home = tmp_path / "home"
    with SqliteStore(home, embedding_model=encoder.name, dim=encoder.dim) as store:
        text = "My bank PIN is 4321."
        store.add_memories([NewMemory("fact", text, encoder.encode_one(text),
                                      datetime(2024, 1, 1))])
        files = sorted(p.name for p in home.iterdir())
        assert {"memory.sqlite3", "memory.sqlite3-wal", "memory.sqlite3-shm"} <= set(files)
        assert {name: mode(home / name) for name in files
                if not name.endswith(".lock")} == dict.fromkeys(
            [n for n in files if not n.endswith(".lock")], 0o600)


def test_export_cannot_be_redirected_by_a_planted_symlink(tmp_path, encoder):
    with SqliteStore(tmp_path / "home", embedding_model=encoder.name,
                     dim=encoder.dim) as store:
        text = "My bank PIN is 4321."
        store.add_memories([NewMemory("fact", text, encoder.encode_one(text),
                                      datetime(2024, 1, 1))])
        victim = tmp_path / "victim.txt"
        victim.write_text("untouched")
        out = tmp_path / "out"
        out.mkdir()
        (out / "memories.json.tmp").symlink_to(victim)  # the old, predictable temp path
        assert export_memories(store, out / "memories.json") == 1
    assert victim.read_text() == "untouched"
    assert mode(out / "memories.json") == 0o600
    assert json.loads((out / "memories.json").read_text())[0]["text"] == text
    assert sorted(p.name for p in out.iterdir()) == ["memories.json", "memories.json.tmp"]


@pytest.mark.slow
def test_file_names_cannot_drive_the_terminal(tmp_path, model_cache):
    assert printable("a\x1b[2Jb\x07\n\tc") == "a\\x1b[2Jb\\x07\n\tc"
    evil = tmp_path / "docs" / "notes\x1b]0;owned\x07.pdf"
    evil.parent.mkdir()
    evil.write_bytes(b"not a pdf")
    proc = subprocess.run([sys.executable, "-m", "assistant.cli", "--home", str(tmp_path / "h"),
                           "import", str(evil.parent)], capture_output=True, text=True,
                          env={**os.environ, "ASSISTANT_CACHE": str(model_cache)})
    assert proc.returncode == 1
    assert "notes\\x1b]0;owned\\x07.pdf" in proc.stderr
    assert "\x1b" not in proc.stdout + proc.stderr
