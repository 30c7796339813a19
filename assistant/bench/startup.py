"""Chat latency: `assistant bench startup` (how long until the app's first screen is up,
in a fresh interpreter, against a bare Textual app) and `assistant bench first-token`
(from sending a question to the first piece of its answer)."""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

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


_READY = """
import sys, time
started = time.perf_counter()
from pathlib import Path
from assistant.config import load_settings
from assistant.agent import Agent
settings = load_settings(Path(sys.argv[1]) / "home")
with Agent(settings) as agent:
    agent.load()
print(time.perf_counter() - started, flush=True)
"""
_BARE_GENERATOR = """
import sys, time
started = time.perf_counter()
from pathlib import Path
from assistant.config import load_settings
from assistant.answer.backends.factory import make_generator
s = load_settings(Path(sys.argv[1]) / "home")
make_generator(s.model, s.cache_dir, adapter=s.adapter).load()
print(time.perf_counter() - started, flush=True)
"""


def _seconds_in_child(code: str, folder: str) -> float:
    """What a fresh interpreter running `code` prints: its own seconds, imports included."""
    out = subprocess.run([sys.executable, "-c", code, folder], capture_output=True,
                         text=True, timeout=300, check=True).stdout
    return float(out.strip().splitlines()[-1])


def startup(runs: int = 5) -> dict:
    """Median seconds to the first screen, for this app and for a bare Textual app; and to
    every model loaded (what the chat waits for before its first answer), for the agent
    and for the bare generator alone (the default model, warm cache)."""
    app_s, bare_s, ready_s, gen_s = [], [], [], []
    with tempfile.TemporaryDirectory() as folder:
        for _ in range(runs):  # interleaved, so all see the same machine load
            bare_s.append(_first_screen_s(_BARE, folder))
            app_s.append(_first_screen_s(_APP, folder))
            gen_s.append(_seconds_in_child(_BARE_GENERATOR, folder))
            ready_s.append(_seconds_in_child(_READY, folder))
    app_med, bare_med = statistics.median(app_s), statistics.median(bare_s)
    ready_med, gen_med = statistics.median(ready_s), statistics.median(gen_s)
    return {"runs": runs, "first_screen_median_s": round(app_med, 3),
            "bare_textual_median_s": round(bare_med, 3),
            "vs_bare_textual": round(app_med / bare_med, 2),
            "models_ready_median_s": round(ready_med, 3),
            "bare_generator_load_median_s": round(gen_med, 3),
            "ready_vs_bare_generator": round(ready_med / gen_med, 2)}


_FACTS = [
    "My sister Ana was born on the 3rd of May 1990 in Porto.",
    "I adopted a grey cat called Miso last weekend.",
    "Yesterday I ran my first half marathon in Lyon.",
    "My dentist appointment moved to Friday at 10am.",
    "We are planning a trip to Kyoto in April with Tomas.",
    "I started learning the cello in September.",
]
_QUESTIONS = ["Where was my sister Ana born?", "What is my cat called?",
              "Who is coming to Kyoto with us?", "What instrument am I learning?",
              "Where did I run a half marathon?"]


def first_token(settings, runs: int = 5) -> dict:
    """Seconds from sending a question in a chat to the first text of its answer on screen
    (recall, prompt, the phrase written and checked), against the generator's first
    token alone on the same prompt, median of `runs` questions."""
    from dataclasses import replace

    from assistant.agent import Agent
    from assistant.answer.prompts import answer_prompt

    chat_s, bare_s = [], []
    with tempfile.TemporaryDirectory() as folder:
        agent = Agent(replace(settings, home=Path(folder)))
        agent.load()
        cid = agent.new_conversation("bench")
        for fact in _FACTS:
            "".join(agent.chat_turn(cid, fact))
        for question in (_QUESTIONS * runs)[:runs]:
            started = time.perf_counter()
            answer = agent.chat_turn(cid, question)
            # The first piece with text: the answer yields empty ones while it is written
            # and checked, and those show the user nothing.
            next((piece for piece in answer if piece), None)
            chat_s.append(time.perf_counter() - started)
            answer.close()
            prompt = answer_prompt(question, answer.sources[:settings.prompt_memories],
                                   examples=not agent.generator.tuned)
            started = time.perf_counter()
            next(iter(agent.generator.stream(prompt, max_new_tokens=1)), None)
            bare_s.append(time.perf_counter() - started)
        agent.close()
    chat_med, bare_med = statistics.median(chat_s), statistics.median(bare_s)
    return {"runs": runs, "first_piece_median_s": round(chat_med, 3),
            "generator_first_token_median_s": round(bare_med, 3),
            "vs_generator_alone": round(chat_med / bare_med, 2)}
