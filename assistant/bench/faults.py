"""`assistant bench faults --runs N`: kill imports, chats and forgets at random moments
and check the store after each kill.

Each run starts a child process (`python -m assistant.bench.faults HOME ACTION SEED`) that
imports a folder whose files change from run to run, or chats (statements, pinned facts),
or forgets memories, printing each memory id as soon as its transaction has committed.
The parent kills it with SIGKILL after a random delay, then opens the store and counts:
committed memories that are gone (lost), SQLite and full-text integrity failures, FAISS
vectors that are not SQLite's (index mismatches), stores that do not open, and documents
whose memories do not match what was imported.
"""

from __future__ import annotations

import hashlib
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ACTIONS = ("import", "chat", "forget")
WORDS = ("harbour lantern orchard quarry meadow violin glacier saddle ember thistle canal "
         "falcon pewter juniper marble comet").split()


def _text(rng: random.Random, sentences: int) -> str:
    return " ".join(" ".join(rng.choice(WORDS) for _ in range(12)).capitalize() + "."
                    for _ in range(sentences))


def child(home: Path, action: str, seed: int) -> None:
    """One action on the store, reporting each committed memory id on stdout."""
    from datetime import datetime

    from assistant.ingest.pipeline import import_paths
    from assistant.memory.encoder import Encoder
    from memory_store.records import NewMemory
    from memory_store.sqlite_store import SqliteStore

    rng = random.Random(seed)
    encoder = Encoder()
    encoder.load()
    print("ready", flush=True)
    with SqliteStore(home, embedding_model=encoder.name, dim=encoder.dim) as store:
        if action == "import":
            folder = home.parent / "docs"
            folder.mkdir(exist_ok=True)
            for n in range(6):  # some files change from run to run: re-imports replace
                if rng.random() < 0.5 or not (folder / f"doc{n}.md").exists():
                    (folder / f"doc{n}.md").write_text(
                        f"# Doc {n}\n\n" + "\n\n".join(_text(rng, 4) for _ in range(8)))
            for path in sorted(folder.glob("*.md")):
                import_paths(store, encoder, [path], progress=False)
                doc = store.document_by_path(str(path.resolve()))
                print(f"doc {path.resolve()} {doc.content_hash}", flush=True)
        elif action == "chat":
            cid = store.create_conversation("faults")
            for _ in range(20):
                said = _text(rng, 1)
                _, (mid,) = store.add_message(cid, "user", said, memory=NewMemory(
                    "turn", said, encoder.encode_one(said), datetime.now()))
                print(f"memory {mid}", flush=True)
                fact = _text(rng, 1)
                (fid,) = store.add_memories([NewMemory("fact", fact, encoder.encode_one(fact),
                                                       datetime.now(), pinned=True)])
                print(f"memory {fid}", flush=True)
        else:
            ids = [h.id for h in store.list_memories(kind="fact", limit=1000)]
            for mid in rng.sample(ids, min(10, len(ids))):
                print(f"forgetting {mid}", flush=True)  # gone from now on, or soon
                store.forget(mid)


def run(runs: int = 50, seed: int = 0, max_delay_s: float = 2.5) -> dict:
    """`runs` killed actions on one store; the counts after each kill, summed."""
    from assistant.memory.encoder import Encoder
    from memory_store.sqlite_store import SqliteStore

    rng = random.Random(seed)
    encoder = Encoder()
    expected: set[int] = set()
    documents: dict[str, str] = {}  # path -> content hash last reported committed
    totals = {"runs": runs, "lost_memories": 0, "index_mismatches": 0, "unopenable": 0,
              "integrity_failures": 0, "document_mismatches": 0, "killed_mid_action": 0}
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "home"
        for n in range(runs):
            action = rng.choice(ACTIONS)
            proc = subprocess.Popen([sys.executable, "-m", "assistant.bench.faults", str(home),
                                     action, str(rng.randrange(1 << 30))],
                                    stdout=subprocess.PIPE, text=True)
            assert proc.stdout.readline().strip() == "ready", "the child did not start"
            time.sleep(rng.uniform(0, max_delay_s))  # models loaded: the kill lands mid-work
            proc.send_signal(signal.SIGKILL)
            out, _ = proc.communicate()
            totals["killed_mid_action"] += proc.returncode == -signal.SIGKILL
            for line in out.splitlines():
                kind, _, value = line.partition(" ")
                if kind == "memory":
                    expected.add(int(value))
                elif kind == "forgetting":
                    expected.discard(int(value))
                elif kind == "doc":
                    path, digest = value.rsplit(" ", 1)
                    documents[path] = digest
            try:
                with SqliteStore(home, embedding_model=encoder.name, dim=encoder.dim) as store:
                    check = store.check()
                    present = {h.id for h in store.list_memories(limit=1_000_000)}
                    for path, digest in documents.items():
                        # The version last reported, or the file as it is now (imported
                        # just before the kill); never gone, never a mix.
                        doc = store.document_by_path(path)
                        now = hashlib.sha256(Path(path).read_bytes()).hexdigest()
                        totals["document_mismatches"] += (
                            doc is None or doc.content_hash not in (digest, now))
            except Exception as exc:  # noqa: BLE001 (counted: a store that does not open)
                print(f"run {n}: the store does not open: {exc}", file=sys.stderr)
                totals["unopenable"] += 1
                continue
            totals["lost_memories"] += len(expected - present)
            totals["index_mismatches"] += check.index_mismatches
            totals["integrity_failures"] += (not check.database_ok) + (not check.fulltext_ok) \
                + check.broken_links
    totals["seconds"] = round(time.perf_counter() - started, 1)
    return totals


if __name__ == "__main__":
    child(Path(sys.argv[1]), sys.argv[2], int(sys.argv[3]))
