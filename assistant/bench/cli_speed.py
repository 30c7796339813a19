"""`assistant bench cli`: how long one `assistant search` and one `assistant ask` take, each
in a fresh process as a user's shell starts it, against a store of about 2,000 memories;
with no assistant running (cold) and with one serving this data folder (warm)."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from assistant.local_server import SOCKET_FILE

# Questions a user asks of their own memories (the personas' facts: the store's content).
_QUERIES = ["where does my sister live", "what instrument do I play", "my pet's name",
            "who is my teacher", "where did I work before"]
_QUESTIONS = ["What instrument do I play?", "Where does my sister live?",
              "What is my pet called?", "Where did I work before?", "What sport do I do?"]


_FILL = """
import json, sys
from pathlib import Path
from assistant.agent import Agent
from assistant.bench.person import chatgpt_export
from assistant.bench.personas import persona
from assistant.config import load_settings

settings, memories = load_settings(Path(sys.argv[1])), int(sys.argv[2])
with Agent(settings) as agent:
    seed = 1000  # far from the dev (0-2) and held-out (100+, 200+) personas
    while (held := agent.store.counts()["memories"]) < memories:
        # One folder each: a file imported again at the same path replaces the first.
        export = settings.home / "exports" / str(seed) / "conversations.json"
        export.parent.mkdir(parents=True)
        export.write_text(json.dumps(chatgpt_export(persona(seed))), encoding="utf-8")
        report = agent.import_paths([export])
        if report.failed or not report.imported:
            raise SystemExit(f"persona {seed} did not import: {report.failed}")
        seed += 1
print(held)
"""


def fill(home: Path, memories: int, env: dict) -> int:
    """Import generated personas' chats (ChatGPT exports, the user's path) until the store
    in `home` holds at least `memories` memories; how many it holds. Run by the code
    being timed, so an older checkout gets a store of its own schema."""
    out = subprocess.run([sys.executable, "-c", _FILL, str(home), str(memories)], env=env,
                         cwd=env.get("PYTHONPATH"), capture_output=True, text=True)
    if out.returncode != 0:
        raise RuntimeError(f"filling the store failed: {out.stderr.strip()[-2000:]}")
    return int(out.stdout.split()[-1])


def _timed(argv: list[str], env: dict) -> tuple[float, float, str]:
    """Seconds and peak MB of one fresh process, and its output."""
    started = time.perf_counter()
    # `python -m` reads the package from its working folder first: the checkout timed.
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
                            cwd=env.get("PYTHONPATH"))
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - started
    out, err = proc.stdout.read().decode(), proc.stderr.read().decode()
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(argv[2:])} failed ({proc.returncode}): {err.strip()}")
    return elapsed, usage.ru_maxrss / 1024, out


def _cli(home: Path, *words: str) -> list[str]:
    return [sys.executable, "-m", "assistant.cli", "--home", str(home), *words]


def _help(home: Path) -> list[str]:
    return [sys.executable, "-m", "assistant.cli", "--help"]


def _medians(rows: list[tuple[float, float, str]]) -> dict:
    return {"median_s": round(statistics.median(r[0] for r in rows), 3),
            "peak_mb": round(max(r[1] for r in rows))}


def _running(home: Path, env: dict) -> subprocess.Popen:
    """`assistant mcp` on `home` (stdio; it serves the CLI too), once its socket is up and
    its models have answered one question."""
    server = subprocess.Popen(_cli(home, "mcp"), stdin=subprocess.PIPE, cwd=env.get("PYTHONPATH"),
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    deadline = time.monotonic() + 300
    while not (home / SOCKET_FILE).exists():
        if server.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError("`assistant mcp` did not start serving the CLI")
        time.sleep(0.2)
    _timed(_cli(home, "ask", _QUESTIONS[0]), env)  # the generator loads on a first ask
    return server


def cli(runs: int = 5, memories: int = 2000, code: Path | None = None
        ) -> dict:
    """Median seconds (and peak memory) of `search` and `ask` in fresh processes: cold,
    then with an assistant serving the folder. The baseline is `assistant --help` (the
    interpreter and the CLI's own imports). `code`: run another checkout's CLI (the same
    store), for before-and-after figures."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    if code is not None:
        env["PYTHONPATH"] = str(Path(code).resolve())
    with tempfile.TemporaryDirectory(prefix="assistant-bench-cli-") as tmp:
        home = Path(tmp) / "home"
        held = fill(home, memories, env)
        rows: dict[str, list] = {"help": [], "search_cold": [], "ask_cold": []}
        for n in range(runs):  # interleaved, so all see the same machine load
            rows["help"].append(_timed(_help(home), env))
            rows["search_cold"].append(_timed(_cli(home, "search", _QUERIES[n % 5]), env))
            rows["ask_cold"].append(_timed(_cli(home, "ask", _QUESTIONS[n % 5]), env))
        if code is None or (Path(code) / "assistant" / "local_server.py").is_file():
            server = _running(home, env)
            try:
                rows["search_running"], rows["ask_running"] = [], []
                for n in range(runs):
                    rows["search_running"].append(_timed(_cli(home, "search", _QUERIES[n % 5]),
                                                         env))
                    rows["ask_running"].append(_timed(_cli(home, "ask", _QUESTIONS[n % 5]),
                                                      env))
            finally:
                server.stdin.close()
                server.wait(timeout=60)
        result = {"runs": runs, "memories": held, "code": str(code or "this checkout")}
        for name, measured in rows.items():
            result[name] = _medians(measured)
        for name in rows:
            result[name]["vs_help"] = round(result[name]["median_s"]
                                            / result["help"]["median_s"], 2)
        return result
