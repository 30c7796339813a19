"""`assistant bench ingest`: a big text file and a big ChatGPT export imported through the
product's import path, each in its own process, with chunks/s and the peak resident memory.

The files are made from the English of the packaged documentation READMEs (data/docs-dev),
so chunk and token lengths are those of real prose. A run may be cut at `limit_s` seconds
per file: the import is then stopped after a committed part, and the figures say how far
it got (the peak of a bounded import is reached in its first parts).
"""

from __future__ import annotations

import json
import os
import random
import re
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

DOCS = Path(__file__).resolve().parents[2] / "data" / "docs-dev"


def _sentences() -> list[str]:
    text = " ".join(p.read_text(encoding="utf-8") for p in sorted(DOCS.glob("*.md")))
    text = re.sub(r"[`#*|<>\[\]()]", " ", text)
    found = [" ".join(s.split()) for s in re.split(r"(?<=[.!?])\s+", text)]
    return [s for s in found if 6 <= len(s.split()) <= 40]


def _paragraph(rng: random.Random, sentences: list[str], words: int) -> str:
    out: list[str] = []
    while sum(len(s.split()) for s in out) < words:
        out.append(rng.choice(sentences))
    return " ".join(out)


def make_text(path: Path, megabytes: float, seed: int = 0) -> None:
    """A plain text file of about `megabytes` MB in paragraphs of real English sentences."""
    rng, sentences = random.Random(seed), _sentences()
    target = int(megabytes * 1_000_000)
    with path.open("w", encoding="utf-8") as f:
        while f.tell() < target:
            f.write(_paragraph(rng, sentences, rng.randint(40, 160)) + "\n\n")


def make_chatgpt_export(path: Path, megabytes: float, seed: int = 0) -> None:
    """A conversations.json of about `megabytes` MB: short user turns, replies of 60-600
    words (long ones exceed the encoder's window), each conversation a node mapping."""
    rng, sentences = random.Random(seed), _sentences()
    target = int(megabytes * 1_000_000)
    t = 1_650_000_000.0
    with path.open("w", encoding="utf-8") as f:
        f.write("[")
        n = 0
        while f.tell() < target:
            nodes: dict = {"root": {"id": "root", "message": None, "parent": None,
                                    "children": []}}
            parent = "root"
            for turn in range(2 * rng.randint(2, 10)):
                role = "user" if turn % 2 == 0 else "assistant"
                words = rng.randint(8, 60) if role == "user" else int(rng.triangular(60, 600, 150))
                node_id = f"c{n}t{turn}"
                t += rng.uniform(5, 120)
                nodes[node_id] = {"id": node_id, "parent": parent, "children": [],
                                  "message": {"author": {"role": role}, "create_time": t,
                                              "content": {"content_type": "text", "parts": [
                                                  _paragraph(rng, sentences, words)]},
                                              "metadata": {}}}
                nodes[parent]["children"].append(node_id)
                parent = node_id
            conversation = {"id": f"conv-{n}", "title": f"Conversation {n}", "create_time": t,
                            "current_node": parent, "mapping": nodes}
            f.write(("," if n else "") + json.dumps(conversation))
            n += 1
            t += rng.uniform(3600, 86400 * 3)
        f.write("]")


def _import_child(home: str, file: str, limit_s: float) -> None:
    """In the child process: import `file` into a store in `home`; print figures as JSON."""
    from assistant.ingest.pipeline import import_file
    from assistant.memory.encoder import Encoder
    from memory_store.sqlite_store import SqliteStore

    class Stop(Exception):
        pass

    encoder = Encoder()
    encoder.load()
    progress = {"done": 0, "total": 0}
    started = time.perf_counter()

    def on_chunks(_path: Path, done: int, total: int) -> None:
        progress.update(done=done, total=total)
        if time.perf_counter() - started > limit_s:
            raise Stop

    with SqliteStore(Path(home), embedding_model=encoder.name, dim=encoder.dim) as store:
        try:
            result = import_file(store, encoder, Path(file), on_chunks=on_chunks)
            finished = True
            if isinstance(result, int) and not progress["total"]:
                progress.update(done=result, total=result)
        except Stop:
            finished = False
        seconds = time.perf_counter() - started
        memories = store.stats()["memories"]
    print(json.dumps({
        # Parts are chunks of a text, turns of an export (a long turn is several memories).
        "finished": finished, "seconds": round(seconds, 1), "parts_done": progress["done"],
        "parts_in_file": progress["total"], "memories_stored": memories,
        "memories_per_s": round(memories / seconds, 1),
        "peak_rss_mb": _peak_rss_mb(),
    }))


def _peak_rss_mb() -> int:
    """This process's peak resident memory. VmHWM, where there is one: ru_maxrss keeps
    the parent's peak across fork and exec, so a child would report the bench's own."""
    try:
        status = Path("/proc/self/status").read_text()
        return int(re.search(r"VmHWM:\s+(\d+) kB", status).group(1)) // 1024
    except (OSError, AttributeError):
        return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)


def _measure(home: Path, file: Path, limit_s: float) -> dict:
    env = dict(os.environ, HF_HUB_OFFLINE="1")
    out = subprocess.run(
        [sys.executable, "-c", "import sys; from assistant.bench.ingest import _import_child;"
         " _import_child(*sys.argv[1:3], float(sys.argv[3]))", str(home), str(file),
         str(limit_s)], capture_output=True, text=True, env=env, check=False)
    if out.returncode != 0:
        raise RuntimeError(f"the import of {file.name} failed: {out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def encoder_rates(text: Path, chunks: int = 384, runs: int = 3) -> dict:
    """Chunks/s of the encoder on the text file's first chunks: fixed batches of 64 (as
    before) against token-budget batches (shipped), alternating, in this process."""
    import statistics

    from assistant.ingest.chunking import chunk_sections
    from assistant.ingest.pipeline import CHUNK_OVERLAP, CHUNK_WORDS
    from assistant.ingest.types import Section
    from assistant.memory.encoder import Encoder

    with text.open(encoding="utf-8") as f:
        head = f.read(chunks * 1500)
    texts = [c.text for c in chunk_sections([Section(head, "")], CHUNK_WORDS,
                                             CHUNK_OVERLAP)][:chunks]
    fixed, shipped = Encoder(batch_tokens=None), Encoder()
    fixed.load()
    shipped._model, shipped._tokenizer = fixed._model, fixed._tokenizer  # one set of weights
    fixed.encode(texts[:16])
    rates: dict[str, list[float]] = {"fixed_64": [], "token_budget": []}
    for _ in range(runs):
        for name, encoder in (("fixed_64", fixed), ("token_budget", shipped)):
            t = time.perf_counter()
            encoder.encode(texts)
            rates[name].append(len(texts) / (time.perf_counter() - t))
    before, after = (statistics.median(rates[k]) for k in ("fixed_64", "token_budget"))
    return {"chunks": len(texts), "before_fixed_64_per_s": round(before, 1),
            "after_token_budget_per_s": round(after, 1), "ratio": round(after / before, 2)}


def run(text_mb: float = 50, export_mb: float = 30, limit_s: float = 0) -> dict:
    """Make both files, import each in a fresh process and store; 0 means no time limit."""
    limit = limit_s or float("inf")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        text, export = root / "big.txt", root / "conversations.json"
        make_text(text, text_mb)
        make_chatgpt_export(export, export_mb)
        return {
            "encoder": encoder_rates(text),
            "text": {"megabytes": round(text.stat().st_size / 1e6, 1)}
            | _measure(root / "home-text", text, limit),
            "chatgpt_export": {"megabytes": round(export.stat().st_size / 1e6, 1)}
            | _measure(root / "home-export", export, limit),
        }
