"""The assistant on a machine that is not as it should be: a data folder it cannot write, a
disk that takes no more bytes, a SIGTERM mid-answer, a schema version set by hand, names
holding escape codes, an index file that is not the one its sidecar describes. Each either
works or says in one line what is wrong; none prints a traceback or leaves a mess."""

from __future__ import annotations

import ctypes
import hashlib
import json
import os
import pty
import resource
import select
import shutil
import signal
import sqlite3
import stat
import struct
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import pytest

from assistant.agent import Agent
from assistant.cli import main
from assistant.config import Settings
from memory_store.db import StoreDamagedError
from memory_store.migrations import SchemaTooNewError
from memory_store.records import NewMemory
from memory_store.sqlite_store import SqliteStore

RELEASE_STORE = Path(__file__).parent / "fixtures" / "release-store"


@pytest.fixture
def used_home(tmp_path, encoder, model_cache) -> Path:
    """A data folder this version has opened and read (its memories' meta written), as a
    user's is after a first chat."""
    home = tmp_path / "home"
    shutil.copytree(RELEASE_STORE, home)
    with Agent(Settings(home=home, cache_dir=model_cache), encoder=encoder) as agent:
        agent.people  # noqa: B018 (reads every memory once, as the first recall does)
    return home


def cli(home: Path, *args: str, preexec=None, timeout: int = 300) -> subprocess.CompletedProcess:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TERM": "dumb"}
    return subprocess.run([sys.executable, "-m", "assistant.cli", "--home", str(home), *args],
                          capture_output=True, text=True, env=env, timeout=timeout,
                          preexec_fn=preexec)


def _without_root_overrides() -> None:
    """In the child, before exec: root's power to write where modes say no (capabilities
    DAC_OVERRIDE, DAC_READ_SEARCH, FOWNER) is dropped from its bounding set, so after exec
    the kernel enforces the folder's 0500 on root as on anyone else."""
    libc = ctypes.CDLL(None, use_errno=True)
    for capability in (1, 2, 3):
        if libc.prctl(24, capability, 0, 0, 0) != 0:  # PR_CAPBSET_DROP
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP) failed")


def _files(home: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(home.iterdir()) if p.is_file()}


@pytest.mark.slow
def test_a_read_only_data_folder_is_searched_listed_and_asked_without_a_write(used_home):
    """The folder is made 0500. As root (tests may run so) chmod alone stops nothing, so the
    child drops root's override capabilities first: the kernel itself refuses the writes."""
    before = _files(used_home)
    used_home.chmod(0o500)
    preexec = _without_root_overrides if os.geteuid() == 0 else None
    try:
        found = cli(used_home, "search", "sister Ana", "--json", preexec=preexec)
        listed = cli(used_home, "memories", "list", "--limit", "3", preexec=preexec)
        asked = cli(used_home, "ask", "Where was my sister Ana born?", "--json",
                    preexec=preexec)
        forget = cli(used_home, "memories", "forget", "1", preexec=preexec)
    finally:
        used_home.chmod(0o700)
    for proc in (found, listed, asked):
        assert proc.returncode == 0 and proc.stderr == "", proc.stderr
    assert "Ana was born" in json.loads(found.stdout)[0]["text"]
    assert listed.stdout.count("\n    ") == 3
    assert any("Ana was born" in s["text"] for s in json.loads(asked.stdout)["sources"])
    # A command that must write says so in one line, naming the folder.
    assert forget.returncode == 1 and forget.stderr.count("\n") == 1, forget.stderr
    assert forget.stderr.startswith(f"error: {used_home} cannot be written")
    assert "make it writable" in forget.stderr
    assert _files(used_home) == before  # nothing was written, not even a log
    assert stat.S_IMODE(used_home.stat().st_mode) == 0o700  # as the test left it


def _file_size_limit_zero() -> None:
    """In the child: no file may grow past 0 bytes (RLIMIT_FSIZE; with SIGXFSZ ignored,
    each write fails with EFBIG). Every write is refused as on a full disk, but the errno
    is EFBIG, not ENOSPC."""
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (0, 0))


@pytest.mark.slow
def test_a_disk_that_takes_no_more_bytes_gives_one_line_not_a_traceback_flood(used_home):
    (used_home / "memories.faiss.json").unlink()  # so the store has things to log
    for args in (("search", "sister"), ("memories", "list")):
        proc = cli(used_home, *args, preexec=_file_size_limit_zero)
        assert proc.returncode == 1, proc.stdout
        assert proc.stderr.count("\n") == 1, proc.stderr  # one line, no "Logging error"
        assert proc.stderr.startswith("error: ") and str(used_home) in proc.stderr
        assert "free some space" in proc.stderr and "details in" not in proc.stderr


@pytest.mark.slow
def test_log_records_a_full_device_refuses_are_dropped_and_the_command_works(used_home):
    """/dev/full refuses every write with ENOSPC, a real full disk's own error."""
    (used_home / "memories.faiss.json").unlink()  # logged: the index is rebuilt
    (used_home / "assistant.log").unlink(missing_ok=True)
    (used_home / "assistant.log").symlink_to("/dev/full")
    mode = stat.S_IMODE(os.stat("/dev/full").st_mode)
    try:
        proc = cli(used_home, "search", "sister Ana", "--json")
        assert stat.S_IMODE(os.stat("/dev/full").st_mode) == mode  # an existing log keeps it
    finally:
        if stat.S_IMODE(os.stat("/dev/full").st_mode) != mode:  # a chmod through the link
            os.chmod("/dev/full", mode)
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr
    assert "Ana was born" in json.loads(proc.stdout)[0]["text"]


def test_an_existing_data_folder_keeps_its_mode_and_a_new_one_is_private(tmp_path, capsys):
    shared = tmp_path / "shared"
    shared.mkdir(mode=0o755)
    shared.chmod(0o755)
    new = tmp_path / "new" / "home"
    for home in (shared, new):
        assert main(["--home", str(home), "memories", "stats"]) == 0
    assert stat.S_IMODE(shared.stat().st_mode) == 0o755
    assert stat.S_IMODE(new.stat().st_mode) == 0o700
    assert stat.S_IMODE((new / "assistant.log").stat().st_mode) == 0o600
    store_only = tmp_path / "store-only"  # memory_store makes its folders the same way
    store_only.mkdir(mode=0o750)
    store_only.chmod(0o750)
    SqliteStore(store_only, embedding_model="m", dim=4).close()
    SqliteStore(tmp_path / "new-store", embedding_model="m", dim=4).close()
    assert stat.S_IMODE(store_only.stat().st_mode) == 0o750
    assert stat.S_IMODE((tmp_path / "new-store").stat().st_mode) == 0o700


def _set_version(home: Path, version: int) -> None:
    db = sqlite3.connect(home / "memory.sqlite3")
    db.execute(f"PRAGMA user_version = {version}")
    db.commit()
    db.close()


@pytest.mark.parametrize("lowered", [1, -1])
def test_a_schema_version_set_by_hand_says_the_file_and_what_to_do(home, encoder, capsys,
                                                                  lowered):
    SqliteStore(home, embedding_model=encoder.name, dim=encoder.dim).close()
    _set_version(home, lowered)
    with pytest.raises(StoreDamagedError, match=rf"memory\.sqlite3: .*schema version says "
                                                rf"{lowered}, but its tables are version 2's"):
        SqliteStore(home, embedding_model=encoder.name, dim=encoder.dim)
    assert main(["--home", str(home), "memories", "stats"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "sqlite3." not in err and "doctor --repair" in err
    assert str(home / "memory.sqlite3") in err
    assert main(["--home", str(home), "doctor", "--repair"]) == 0
    assert main(["--home", str(home), "memories", "stats"]) == 0
    # Raised past what this program knows: the file, and to upgrade.
    _set_version(home, 7)
    with pytest.raises(SchemaTooNewError):
        SqliteStore(home, embedding_model=encoder.name, dim=encoder.dim)
    capsys.readouterr()
    assert main(["--home", str(home), "memories", "stats"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and str(home / "memory.sqlite3") in err
    assert "schema version 7 is newer" in err and "upgrade the assistant" in err


def test_names_and_memory_text_are_shown_not_obeyed(home, encoder, capsys):
    source = "evil\x1b]0;pwned\x07\nname\u202efdp.exe"
    text = "line one\x1b[2J\nline two"
    with SqliteStore(home, embedding_model=encoder.name, dim=encoder.dim) as store:
        (mid,) = store.add_memories([NewMemory(kind="chunk", text=text, source=source,
                                               embedding=encoder.encode_one(text),
                                               created_at=datetime(2024, 1, 1))])
    shown = {}
    for action, args in (("show", [str(mid)]), ("list", [])):
        assert main(["--home", str(home), "memories", action, *args]) == 0
        shown[action] = out = capsys.readouterr().out
        assert "\x1b" not in out and "\x07" not in out and "\u202e" not in out
        # The name stays on its one line, its newline and bidi override shown as codes.
        assert "evil\\x1b]0;pwned\\x07\\x0aname\\u202efdp.exe" in out
    assert "line one\\x1b[2J\nline two" in shown["show"]  # the text keeps its lines
    assert "line one\\x1b[2J line two" in shown["list"]  # a list shows one line each


def test_an_index_file_without_its_own_sidecar_is_rebuilt(tmp_path, encoder):
    """Another store's memories.faiss put beside this store's sidecar: same model, same
    ids, so only the sidecar naming the exact file it describes can tell."""
    texts = ["My sister Ana was born in Porto.", "The zorblat ferments three weeks."]
    for name, order in (("other", texts[::-1]), ("mine", texts)):
        with SqliteStore(tmp_path / name, embedding_model=encoder.name,
                         dim=encoder.dim) as s:
            s.add_memories([NewMemory(kind="fact", text=t, embedding=encoder.encode_one(t),
                                      created_at=datetime(2024, 1, 1)) for t in order])
    shutil.copy(tmp_path / "other" / "memories.faiss", tmp_path / "mine" / "memories.faiss")
    with SqliteStore(tmp_path / "mine", embedding_model=encoder.name, dim=encoder.dim) as s:
        assert s.verify_index() == []
        top = s.search(encoder.encode_one(texts[0]), "", 1)[0]
        assert top.text == texts[0] and top.dense_score > 0.99


def _read(fd: int, seconds: float, until: bytes | None = None) -> bytes:
    """What the app writes to its terminal for `seconds` (or until `until` shows)."""
    out, end = b"", time.monotonic() + seconds
    while time.monotonic() < end:
        if not select.select([fd], [], [], 0.2)[0]:
            continue
        try:
            chunk = os.read(fd, 65536)
        except OSError:  # EIO: the app closed the terminal
            break
        if not chunk:
            break
        out += chunk
        if until is not None and until in out:
            break
    return out


@pytest.mark.slow
def test_sigterm_mid_answer_gives_the_terminal_back(used_home, model_cache):
    """The real app in a real pseudo-terminal: SIGTERM while an answer is being written."""
    import fcntl
    import termios

    pid, fd = pty.fork()
    if pid == 0:  # the child: the app, as a user starts it
        os.environ.update(TERM="xterm-256color", HF_HUB_OFFLINE="1",
                          ASSISTANT_CACHE=str(model_cache))
        os.execv(sys.executable, [sys.executable, "-m", "assistant.cli", "--home",
                                  str(used_home), "chat"])
    try:
        fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 100, 0, 0))
        out = _read(fd, 180, until=b"ready")
        assert b"\x1b[?1049h" in out and b"ready" in out, out[-2000:]
        os.write(fd, b"Tell me everything about my sister Ana and where she was born\r")
        out += _read(fd, 120, until=b"answering")
        assert b"answering" in out, out[-2000:]
        os.kill(pid, signal.SIGTERM)
        out += _read(fd, 120)
        _, status = os.waitpid(pid, 0)
    finally:
        os.close(fd)
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 128 + signal.SIGTERM
    entered = out.rindex(b"\x1b[?1049h")
    left = out.rfind(b"\x1b[?1049l")
    assert left > entered, out[-2000:]  # back from the alternate screen
    tail = out[left:]
    for mouse_off in (b"\x1b[?1000l", b"\x1b[?1003l", b"\x1b[?1006l"):
        assert mouse_off in tail
    assert tail.rstrip().endswith(b"\x1b[?1006l") and b"Traceback" not in tail
