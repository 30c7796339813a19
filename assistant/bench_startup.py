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
    """Seconds from sending a question in a chat to the first piece of its answer (recall,
    prompt and the generator's first token), against the generator alone on the same
    prompt, median of `runs` questions."""
    from dataclasses import replace

    from assistant.agent import Agent
    from assistant.answering import answer_prompt

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
            next(iter(answer), None)
            chat_s.append(time.perf_counter() - started)
            answer.close()
            prompt = answer_prompt(question, answer.sources[:settings.prompt_memories],
                                   examples=not getattr(agent.generator, "tuned", False))
            started = time.perf_counter()
            next(iter(agent.generator.stream(prompt, max_new_tokens=1)), None)
            bare_s.append(time.perf_counter() - started)
        agent.close()
    chat_med, bare_med = statistics.median(chat_s), statistics.median(bare_s)
    return {"runs": runs, "first_piece_median_s": round(chat_med, 3),
            "generator_first_token_median_s": round(bare_med, 3),
            "vs_generator_alone": round(chat_med / bare_med, 2)}
