"""Benchmarks that print figures: store search and ingest speed against their raw baselines."""

from __future__ import annotations

import logging
import random
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np

from memory_store.records import NewMemory
from memory_store.sqlite_store import SqliteStore

log = logging.getLogger(__name__)

_SYLLABLES = "ka lo mi ra ten su vo pel dan ri shu gar mon tes bi lu nor fa zen qui".split()


def _vocabulary(rng: random.Random, n: int = 4000) -> list[str]:
    return ["".join(rng.choices(_SYLLABLES, k=rng.randint(2, 4))) for _ in range(n)]


def _sentence(rng: random.Random, words: list[str]) -> str:
    # Zipf-like choice so some words are common and some rare, as in real text.
    picks = [words[min(int(rng.paretovariate(1.1)) - 1, len(words) - 1)] for _ in range(12)]
    return f"The {picks[0]} {picks[1]} met {picks[2]} near {picks[3]} " \
           f"while {' '.join(picks[4:12])}."


def _percentiles(samples_s: list[float]) -> tuple[float, float]:
    ms = np.asarray(samples_s) * 1000
    return float(np.percentile(ms, 50)), float(np.percentile(ms, 95))


def scale(memories: int = 100_000, queries: int = 200, k: int = 10, seed: int = 0,
          ingest_files: int = 30, store_url: str = "") -> dict:
    """Fill a store with `memories` synthetic memories; time hybrid searches against the
    backend's own raw vector query (flat FAISS; a bare pgvector query on PostgreSQL), and
    ingest. SQLite: a temporary data folder; PostgreSQL: the empty database `store_url`."""
    import faiss

    from assistant.memory.encoder import DIM, Encoder
    from memory_store.open import open_store

    rng = random.Random(seed)
    nprng = np.random.default_rng(seed)
    words = _vocabulary(rng)
    vectors = _clustered(nprng, memories, DIM)
    start_day = datetime(2020, 1, 1)
    encoder = Encoder()
    with tempfile.TemporaryDirectory(prefix="assistant-bench-") as tmp:
        store = open_store(Path(tmp) / "scale", store_url, embedding_model=encoder.name,
                           dim=DIM)
        if store.counts()["memories"]:
            store.close()
            raise ValueError(f"{store.where} already holds memories; bench scale fills an "
                             "empty store")
        backend = store.stats()["backend"]
        t0 = time.perf_counter()
        for lo in range(0, memories, 5000):
            store.add_memories([
                NewMemory(kind="chunk", text=_sentence(rng, words), embedding=vectors[i],
                          created_at=start_day + timedelta(minutes=i), source=f"bench#{i}")
                for i in range(lo, min(lo + 5000, memories))
            ])
        store.flush()
        fill_s = time.perf_counter() - t0

        flat = faiss.IndexFlatIP(DIM)
        flat.add(vectors)
        if backend == "sqlite":
            def raw(q):
                flat.search(q.reshape(1, -1), k)
        else:
            raw = _raw_pgvector(store, k)
        picks = nprng.integers(0, memories, queries)
        qvecs = vectors[picks] + 0.05 * nprng.standard_normal((queries, DIM), dtype=np.float32)
        faiss.normalize_L2(qvecs)
        qtexts = [" ".join(rng.sample(words[:500], 3)) for _ in range(queries)]
        store.search(qvecs[0], qtexts[0], k)  # warm caches before timing either side
        raw(qvecs[0])
        store_times, raw_times = [], []
        for q, text in zip(qvecs, qtexts, strict=True):
            # Interleaved so machine noise hits both measurements alike.
            t = time.perf_counter()
            store.search(q, text, k)
            store_times.append(time.perf_counter() - t)
            t = time.perf_counter()
            raw(q)
            raw_times.append(time.perf_counter() - t)
        getattr(raw, "close", lambda: None)()
        recall = _dense_recall(store, flat, qvecs, k)
        index = store.stats()["index"]
        store.close()
        flat.reset()  # its memory back before the store is measured on its own
        opened = _open_in_child(Path(tmp) / "scale", qvecs[:50]) if backend == "sqlite" else {}
        ingest = _ingest_rate(Path(tmp), encoder, rng, words, ingest_files)

    s50, s95 = _percentiles(store_times)
    f50, f95 = _percentiles(raw_times)
    return {
        "backend": backend,
        "memories": memories,
        "queries": queries,
        "k": k,
        "fill_s": round(fill_s, 2),
        "search_p50_ms": round(s50, 3),
        "search_p95_ms": round(s95, 3),
        "index": index,
        "dense_recall_at_k_vs_exact": recall,
        **opened,
        "baseline": "flat FAISS" if backend == "sqlite" else "bare pgvector query",
        "baseline_p50_ms": round(f50, 3),
        "baseline_p95_ms": round(f95, 3),
        "search_p95_vs_baseline": round(s95 / f95, 2),
        **ingest,
    }


def _clustered(rng: np.random.Generator, n: int, dim: int, topics: int = 2000) -> np.ndarray:
    """Unit vectors in topics (cosine about 0.26 within one), as text embeddings come:
    uniform random vectors have no neighbourhoods for an approximate index to find."""
    centres = rng.standard_normal((topics, dim), dtype=np.float32)
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    out = np.empty((n, dim), np.float32)
    for lo in range(0, n, 100_000):
        hi = min(lo + 100_000, n)
        noise = 1.7 * rng.standard_normal((hi - lo, dim), dtype=np.float32) / np.sqrt(dim)
        block = centres[rng.integers(0, topics, hi - lo)] + noise
        out[lo:hi] = block / np.linalg.norm(block, axis=1, keepdims=True)
    return out


def _dense_recall(store, flat, qvecs: np.ndarray, k: int) -> float:
    """Share of the exact top k (flat search over the same vectors; ids are 1-based rows)
    that the store's own vector search returns."""
    _, exact = flat.search(qvecs, k)
    found = []
    for q, truth in zip(qvecs, exact, strict=True):
        ids = store.nearest_ids(q, k)
        found.append(len(set(np.asarray(ids) - 1) & set(truth.tolist())) / k)
    return round(float(np.mean(found)), 4)


_OPEN_IN_CHILD = """
import json, sys, time
import numpy as np
t = time.perf_counter()
from memory_store.sqlite_store import SqliteStore
store = SqliteStore(sys.argv[1], embedding_model=sys.argv[2], dim=int(sys.argv[3]))
opened = time.perf_counter() - t
for q in np.load(sys.argv[4]):
    store.search(q, "", 10)
status = dict(line.split(":", 1) for line in open("/proc/self/status"))
print(json.dumps({"store_open_s": round(opened, 2),
                  "store_rss_mb": round(int(status["VmRSS"].split()[0]) / 1024),
                  "store_peak_rss_mb": round(int(status["VmHWM"].split()[0]) / 1024)}))
"""


def _open_in_child(home: Path, queries: np.ndarray) -> dict:
    """Open time and resident memory of the filled store, in a fresh process (this one
    holds the bench's own vectors)."""
    import json
    import subprocess
    import sys

    from assistant.memory.encoder import DIM, MODEL_NAME

    path = home / "bench-queries.npy"
    np.save(path, queries)
    out = subprocess.run([sys.executable, "-c", _OPEN_IN_CHILD, str(home), MODEL_NAME,
                          str(DIM), str(path)], capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def _raw_pgvector(store, k: int):
    """The bare nearest-neighbour query on the HNSW index, as a client would send it."""
    from sqlalchemy import text

    session = store.Session()
    # The candidates the store's own search asks for (depth: at least 2k, at least 50).
    session.execute(text(f"SET hnsw.ef_search = {max(2 * k, 50)}"))

    def raw(q):
        literal = "[" + ",".join(map(repr, q.tolist())) + "]"
        session.execute(text(f"SELECT id FROM memories ORDER BY embedding::vector({store.dim})"
                             f" <#> CAST(:q AS vector({store.dim})) LIMIT :k"),
                        {"q": literal, "k": k}).all()

    raw.close = session.close
    return raw


def _ingest_rate(tmp: Path, encoder, rng: random.Random, words: list[str], n_files: int) -> dict:
    """Chunks/s through the whole import path versus the raw encoder on the same chunks."""
    from assistant.ingest.chunking import chunk_sections
    from assistant.ingest.pipeline import CHUNK_OVERLAP, CHUNK_WORDS, _embedding_text, import_paths
    from assistant.ingest.readers import read_document

    docs = tmp / "docs"
    docs.mkdir()
    for f in range(n_files):
        sections = []
        for h in range(6):
            paras = ["\n".join(_sentence(rng, words) for _ in range(rng.randint(3, 8)))
                     for _ in range(rng.randint(1, 3))]
            sections.append(f"## {' '.join(rng.sample(words, 2))} {h}\n\n" + "\n\n".join(paras))
        (docs / f"doc{f:03d}.md").write_text(f"# Document {f}\n\n" + "\n\n".join(sections))
    texts = [_embedding_text(c) for p in sorted(docs.iterdir()) for c in
             chunk_sections(read_document(p).sections, CHUNK_WORDS, CHUNK_OVERLAP)]
    encoder.encode(texts[:16])  # load and warm up
    t = time.perf_counter()
    encoder.encode(texts)
    encode_s = time.perf_counter() - t
    store = SqliteStore(tmp / "ingest", embedding_model=encoder.name, dim=encoder.dim)
    t = time.perf_counter()
    report = import_paths(store, encoder, [docs], progress=False)
    ingest_s = time.perf_counter() - t
    store.close()
    chunks = sum(n for _, n in report.imported)
    assert chunks == len(texts), f"imported {chunks} chunks, expected {len(texts)}"
    return {
        "ingest_chunks": chunks,
        "ingest_chunks_per_s": round(chunks / ingest_s, 1),
        "encoder_texts_per_s": round(len(texts) / encode_s, 1),
        "ingest_vs_encoder": round((chunks / ingest_s) / (len(texts) / encode_s), 2),
    }
