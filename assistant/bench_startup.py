"""`assistant bench startup`: how long until the chat app's first screen is up.

Each run is a fresh interpreter (imports included), measured from process start to the
first screen being mounted, against a bare Textual app measured the same way.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time

_PROBE = """
import asyncio, os, sys
from pathlib import Path
{setup}
async def main():
    async with app.run_test(size=(140, 40)):
        print("up", flush=True)
        os._exit(0)  # model loading has begun in a worker thread; do not wait for it
asyncio.run(main())
"""
_APP = """
from assistant.config import Settings
from assistant.tui.app import create_app
app = create_app(Settings(home=Path(sys.argv[1]) / "home", cache_dir=Path(sys.argv[1]) / "c"))
"""
_BARE = """
from textual.app import App
app = App()
"""


def _first_screen_s(setup: str, folder: str) -> float:
    started = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-c", _PROBE.format(setup=setup), folder],
                            stdout=subprocess.PIPE, text=True)
    line = proc.stdout.readline()
    elapsed = time.perf_counter() - started
    proc.wait(timeout=60)
    if line.strip() != "up":
        raise RuntimeError("the app did not start; run `assistant chat` to see why")
    return elapsed


def startup(runs: int = 5) -> dict:
    """Median seconds to the first screen, for this app and for a bare Textual app."""
    app_s, bare_s = [], []
    with tempfile.TemporaryDirectory() as folder:
        for _ in range(runs):  # interleaved, so both see the same machine load
            bare_s.append(_first_screen_s(_BARE, folder))
            app_s.append(_first_screen_s(_APP, folder))
    app_med, bare_med = statistics.median(app_s), statistics.median(bare_s)
    return {"runs": runs, "first_screen_median_s": round(app_med, 3),
            "bare_textual_median_s": round(bare_med, 3),
            "vs_bare_textual": round(app_med / bare_med, 2)}
