"""A memory is never resurrected or corrupted by the FAISS cache: memory ids are never
reused, an index file from another store is not trusted, and the schema is created and
upgraded in one transaction that a kill cannot leave half done. Real SQLite, FAISS, the
real encoder, and real processes where the failure needed two."""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest

from memory_store.db import SCHEMA_VERSION, StoreDamagedError
from memory_store.records import NewMemory
from memory_store.sqlite_store import SqliteStore

OLD = "The spare key is under the blue flowerpot by the back door."
NEW = "The quarterly budget meeting moved to Thursday afternoon."
FACTS = ["My sister Ana was born in Porto in 1990.",
         "The zorblat fermentation takes three weeks in oak barrels.",
         "Our dentist moved her practice to Elm Street.",
         OLD]


def memories(encoder, texts, kind="fact"):
    return [NewMemory(kind=kind, text=t, embedding=v, created_at=datetime(2024, 1, 1))
            for t, v in zip(texts, encoder.encode(list(texts)), strict=True)]


def open_store(home, encoder) -> SqliteStore:
    return SqliteStore(home, embedding_model=encoder.name, dim=encoder.dim)


def test_a_reimported_document_never_keeps_its_old_vectors(store, encoder):
    store.replace_document(path="/x/notes.md", content_hash="h1", kind="markdown", title="n",
                           modified_at=datetime(2024, 1, 1),
                           chunks=memories(encoder, [OLD], "chunk"))
    old_id = store.list_memories()[0].id
    store.replace_document(path="/x/notes.md", content_hash="h2", kind="markdown", title="n",
                           modified_at=datetime(2024, 1, 2),
                           chunks=memories(encoder, [NEW], "chunk"))
    (new,) = store.list_memories()
    assert new.id != old_id  # an id is never given to another memory
    assert store.verify_index() == []
    top = store.search(encoder.encode_one(NEW), "", 1)[0]
    assert top.text == NEW and top.dense_score > 0.99


FORGET_AND_ADD_IN_CHILD = """
import sys
from datetime import datetime
from assistant.memory.encoder import Encoder
from memory_store.records import NewMemory
from memory_store.db import StoreDamagedError
from memory_store.sqlite_store import SqliteStore
enc = Encoder()
with SqliteStore(sys.argv[1], embedding_model=enc.name, dim=enc.dim) as s:
    assert s.forget(int(sys.argv[2]))
    t = "The lighthouse keeper's name is Bartholomew."
    print(*s.add_memories([NewMemory("fact", t, enc.encode_one(t), datetime(2024, 5, 1))]))
"""


@pytest.mark.slow
def test_a_memory_forgotten_by_another_process_never_returns(store, encoder, home):
    ids = store.add_memories(memories(encoder, FACTS))
    assert store.search(encoder.encode_one(OLD), "", 1)[0].id == ids[-1]
    out = subprocess.run([sys.executable, "-c", FORGET_AND_ADD_IN_CHILD, str(home),
                          str(ids[-1])], check=True, capture_output=True, text=True).stdout
    assert int(out) not in ids
    # This process still had the forgotten vector; its next search must not find it.
    hits = store.search(encoder.encode_one(OLD), "", 5)
    assert OLD not in [h.text for h in hits] and all(h.dense_score < 0.9 for h in hits)
    assert store.verify_index() == []
    assert store.stats()["vector_index"] == store.stats()["memories"] == len(FACTS)


def test_an_index_file_from_another_store_is_not_used(tmp_path, encoder):
    with open_store(tmp_path / "other", encoder) as other:
        other.add_memories(memories(encoder, FACTS[:2]))
    with open_store(tmp_path / "mine", encoder) as mine:
        mine.add_memories(memories(encoder, [OLD, NEW]))
    for name in ("memories.faiss", "memories.faiss.json"):  # same model, same dimension
        shutil.copy(tmp_path / "other" / name, tmp_path / "mine" / name)
    with open_store(tmp_path / "mine", encoder) as mine:
        assert mine.verify_index() == []
        top = mine.search(encoder.encode_one(NEW), "", 1)[0]
        assert top.text == NEW and top.dense_score > 0.99


def test_an_embedding_cannot_change_under_its_id(store, encoder):
    (mid,) = store.add_memories(memories(encoder, [OLD]))
    with pytest.raises(Exception, match="immutable"), store.Write.begin() as s:
        s.connection().exec_driver_sql("UPDATE memories SET embedding = x'00' WHERE id = ?",
                                       (mid,))


# Schema setup ------------------------------------------------------------------------

KILL_AT_STATEMENT_IN_CHILD = """
import os, signal, sys
from sqlalchemy import event
from sqlalchemy.engine import Engine
from memory_store.db import StoreDamagedError
from memory_store.sqlite_store import SqliteStore
writes = 0
@event.listens_for(Engine, "after_cursor_execute")
def count(conn, cursor, statement, *args):
    global writes
    if statement.lstrip().split()[0].upper() in ("CREATE", "INSERT", "DROP", "ALTER", "UPDATE"):
        writes += 1
        if writes == int(sys.argv[2]):
            os.kill(os.getpid(), signal.SIGKILL)  # a real kill, mid-setup
SqliteStore(sys.argv[1], embedding_model="m", dim=4).close()
print(writes)
"""


@pytest.mark.slow
def test_a_kill_during_the_first_open_leaves_a_store_that_opens(tmp_path):
    run = [sys.executable, "-c", KILL_AT_STATEMENT_IN_CHILD]
    total = int(subprocess.run(run + [str(tmp_path / "whole"), "0"], check=True,
                               capture_output=True, text=True).stdout)
    assert total > 15
    for n in range(1, total + 1, 2):
        home = tmp_path / f"killed-at-{n}"
        assert subprocess.run(run + [str(home), str(n)]).returncode == -9
        SqliteStore(home, embedding_model="m", dim=4).close()  # no "already exists"
        db = sqlite3.connect(home / "memory.sqlite3")
        assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        db.close()


OPEN_AT_IN_CHILD = """
import sys, time
from memory_store.db import StoreDamagedError
from memory_store.sqlite_store import SqliteStore
time.sleep(max(0.0, float(sys.argv[2]) - time.time()))
SqliteStore(sys.argv[1], embedding_model="m", dim=4).close()
"""


@pytest.mark.slow
@pytest.mark.parametrize("attempt", range(3))
def test_three_processes_opening_a_new_store_at_once(tmp_path, attempt):
    at = str(time.time() + 3.0)  # after all three have imported their modules
    children = [subprocess.Popen([sys.executable, "-c", OPEN_AT_IN_CHILD, str(tmp_path), at],
                                 stderr=subprocess.PIPE, text=True) for _ in range(3)]
    for child in children:
        _, err = child.communicate(timeout=120)
        assert child.returncode == 0, err


def test_a_tampered_schema_says_what_to_do_and_repair_mends_it(home, encoder):
    with open_store(home, encoder) as s:
        s.add_memories(memories(encoder, FACTS))
    db = sqlite3.connect(home / "memory.sqlite3")
    db.execute("PRAGMA user_version = 0")
    db.commit()
    with pytest.raises(StoreDamagedError, match=r"memory.sqlite3.*doctor --repair"):
        open_store(home, encoder)
    SqliteStore.repair(home)
    db.execute("DROP TABLE memories_fts")
    db.commit()
    with pytest.raises(StoreDamagedError, match=r"memories_fts.*doctor --repair"):
        open_store(home, encoder)
    db.close()
    report = SqliteStore.repair(home)
    assert "recreated table memories_fts" in report
    with open_store(home, encoder) as s:
        assert s.stats()["memories"] == len(FACTS)
        assert s.search(None, "zorblat", 1)[0].text == FACTS[1]  # full text works again
        assert s.verify_index() == []


V1_SCHEMA = Path(__file__).parent / "fixtures" / "schema_v1.sql"


def test_a_version_1_store_is_upgraded_without_loss(home, encoder):
    home.mkdir()
    db = sqlite3.connect(home / "memory.sqlite3")
    db.executescript(V1_SCHEMA.read_text())
    db.executemany("INSERT INTO meta VALUES (?, ?)", [
        ("generation", "0"), ("embedding_model", encoder.name), ("dim", str(encoder.dim))])
    for i, (fact, vector) in enumerate(zip(FACTS, encoder.encode(FACTS), strict=True), 1):
        db.execute("INSERT INTO memories (id, kind, text, source, created_at, ingested_at, "
                   "embedding, pinned, superseded_by) VALUES (?, 'fact', ?, '', "
                   "'2024-01-01 00:00:00.000000', '2024-01-01 00:00:00.000000', ?, 0, ?)",
                   (i, fact, vector.tobytes(), 2 if i == 1 else None))
    db.execute("PRAGMA user_version = 1")
    db.commit()
    db.close()
    with open_store(home, encoder) as s:
        assert [h.text for h in s.list_memories(limit=10)] == FACTS[::-1]
        assert s.get(1).superseded_by == 2  # links survive the rebuild
        assert s.search(None, "zorblat", 1)[0].id == 2  # the full-text index still matches
        assert s.verify_index() == []
        assert s.forget(len(FACTS))
        (new,) = s.add_memories(memories(encoder, [NEW]))
        assert new == len(FACTS) + 1  # the forgotten id is not given out again
    db = sqlite3.connect(home / "memory.sqlite3")
    ddl = db.execute("SELECT sql FROM sqlite_master WHERE name = 'memories'").fetchone()[0]
    assert "AUTOINCREMENT" in ddl
    assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert db.execute("PRAGMA foreign_key_check").fetchall() == []


@pytest.mark.slow
def test_killed_imports_chats_and_forgets_lose_nothing(model_cache, monkeypatch):
    from assistant.bench import faults as bench_faults

    monkeypatch.setenv("ASSISTANT_CACHE", str(model_cache))
    result = bench_faults.run(runs=4, seed=3)
    assert result["killed_mid_action"] >= 1  # the kills landed while work was going on
    assert {k: result[k] for k in ("lost_memories", "index_mismatches", "unopenable",
                                   "integrity_failures", "document_mismatches")} == dict.fromkeys(
        ("lost_memories", "index_mismatches", "unopenable", "integrity_failures",
         "document_mismatches"), 0)


# Big files: committed in parts, resumed after a kill --------------------------------

def big_text(path: Path, paragraphs: int = 24, marker: str = "") -> None:
    path.write_text("\n\n".join(
        f"Paragraph {n} {marker}: " + " ".join(f"word{n}x{i}" for i in range(170))
        for n in range(paragraphs)), encoding="utf-8")


def test_a_big_file_is_committed_in_parts_and_replaced_at_once(store, encoder, tmp_path):
    from assistant.ingest.pipeline import import_paths

    big_text(tmp_path / "big.txt")
    seen = []
    report = import_paths(store, encoder, [tmp_path / "big.txt"], progress=False,
                          batch_chunks=4)
    assert report.ok and report.imported[0][1] == store.stats()["memories"] > 8
    total = store.stats()["memories"]
    ordinals = sorted(h.meta["ordinal"] for h in store.list_memories(limit=1000))
    assert ordinals == list(range(total))  # each chunk once
    (doc,) = [store.document_by_path(str((tmp_path / "big.txt").resolve()))]
    assert doc is not None and doc.chunks == total  # published under its own path
    big_text(tmp_path / "big.txt", marker="edited")  # a new version replaces the old
    from assistant.ingest.pipeline import import_file

    import_file(store, encoder, tmp_path / "big.txt", batch_chunks=4,
                on_chunks=lambda p, done, all_: seen.append(done))
    assert seen[0] == 4 and seen[-1] == total
    texts = [h.text for h in store.list_memories(limit=1000)]
    assert len(texts) == total and all("edited" in t for t in texts)
    assert store.verify_index() == []


IMPORT_IN_CHILD = """
import sys
from pathlib import Path
from assistant.memory.encoder import Encoder
from assistant.ingest.pipeline import import_file
from memory_store.sqlite_store import SqliteStore
enc = Encoder()
with SqliteStore(sys.argv[1], embedding_model=enc.name, dim=enc.dim) as s:
    import_file(s, enc, Path(sys.argv[2]), batch_chunks=2,
                on_chunks=lambda p, done, total: print("chunks", done, total, flush=True))
"""


def kill_after_a_batch(home: Path, path: Path) -> list[str]:
    """Import `path` in a child process killed once it reports a committed batch:
    ["chunks", done, total]."""
    child = subprocess.Popen([sys.executable, "-c", IMPORT_IN_CHILD, str(home), str(path)],
                             stdout=subprocess.PIPE, text=True)
    first = child.stdout.readline().split()
    child.kill()
    child.wait()
    assert first[0] == "chunks" and int(first[1]) < int(first[2])
    return first


@pytest.mark.slow
def test_a_killed_big_import_continues_where_it_stopped(home, encoder, tmp_path):
    from assistant.ingest.pipeline import import_file

    big_text(tmp_path / "big.txt", paragraphs=40)
    first = kill_after_a_batch(home, tmp_path / "big.txt")
    seen = []
    with open_store(home, encoder) as s:
        assert s.document_by_path(str((tmp_path / "big.txt").resolve())) is None  # not yet
        import_file(s, encoder, tmp_path / "big.txt", batch_chunks=2,
                    on_chunks=lambda p, done, total: seen.append(done))
        assert seen[0] > 2  # went on after what the killed import had committed
        total = int(first[2])
        ordinals = sorted(h.meta["ordinal"] for h in s.list_memories(limit=1000))
        assert ordinals == list(range(total))  # nothing twice, nothing missing
        assert s.document_by_path(str((tmp_path / "big.txt").resolve())).chunks == total
        assert s.stats()["documents"] == 1 and s.verify_index() == []


def chat_export(path: Path, megabytes: float = 0.05) -> list[dict]:
    from assistant.bench.ingest import make_chatgpt_export

    make_chatgpt_export(path, megabytes)
    return json.loads(path.read_text(encoding="utf-8"))


def expected_memories(export: list[dict]) -> int:
    from assistant.ingest.chunking import turn_parts

    return sum(len(turn_parts(n["message"]["content"]["parts"][0]))
               for c in export for n in c["mapping"].values() if n["message"])


def check_export_stored(store: SqliteStore, export: list[dict]) -> None:
    """Every conversation once, every turn a message, every part of a turn a memory."""
    imported = store.conversations()
    assert sorted(c.title for c in imported) == sorted(c["title"] for c in export)
    turns = sum(1 for c in export for n in c["mapping"].values() if n["message"])
    assert sum(c.messages for c in imported) == turns
    assert store.stats()["memories"] == expected_memories(export) > turns  # long replies split
    assert store.stats()["documents"] == 1 and store.verify_index() == []


def test_a_chat_export_is_committed_in_parts_with_long_turns_in_pieces(store, encoder,
                                                                     tmp_path):
    from assistant.ingest.pipeline import import_file

    export = chat_export(tmp_path / "conversations.json")
    seen = []
    import_file(store, encoder, tmp_path / "conversations.json", batch_chunks=4,
                on_chunks=lambda p, done, total: seen.append((done, total)))
    assert len(seen) >= 2 and seen[-1][0] == seen[-1][1]  # several commits, all turns
    check_export_stored(store, export)
    long_turn = [h for h in store.list_memories(limit=1000) if h.meta.get("part") == 2][0]
    assert long_turn.text.startswith(("User: ", "Assistant: "))


def test_a_bad_conversation_late_in_an_export_stores_nothing(store, encoder, tmp_path):
    from assistant.ingest.pipeline import import_paths

    export = chat_export(tmp_path / "conversations.json") + [{"title": "no mapping"}]
    (tmp_path / "conversations.json").write_text(json.dumps(export), encoding="utf-8")
    report = import_paths(store, encoder, [tmp_path / "conversations.json"], progress=False)
    assert f"conversation {len(export) - 1} has no message mapping" in str(report.failed[0])
    assert store.stats()["memories"] == store.stats()["documents"] == 0
    assert store.conversations() == []


@pytest.mark.slow
def test_a_killed_export_import_continues_where_it_stopped(home, encoder, tmp_path):
    from assistant.ingest.pipeline import import_file

    path = tmp_path / "conversations.json"
    export = chat_export(path, 0.1)
    first = kill_after_a_batch(home, path)
    seen = []
    with open_store(home, encoder) as s:
        assert s.document_by_path(str(path.resolve())) is None  # not yet
        import_file(s, encoder, path, batch_chunks=2,
                    on_chunks=lambda p, done, total: seen.append(done))
        assert seen[0] > int(first[1])  # went on after what the killed import committed
        check_export_stored(s, export)


def test_a_big_store_switches_to_an_approximate_index_that_still_forgets(home, encoder,
                                                                        monkeypatch):
    """Past APPROXIMATE_AT memories the FAISS side becomes IVF-fp16 (here the threshold is
    lowered to 600): searches still find a memory by its own vector, filters hold,
    forgetting removes its vector, and the index file is reopened as it was."""
    import memory_store.sqlite_store as store_module

    monkeypatch.setattr(store_module, "APPROXIMATE_AT", 600)
    monkeypatch.setattr(store_module, "TRAIN_SAMPLE", 600)
    rng = np.random.default_rng(0)
    topics = rng.standard_normal((20, encoder.dim)).astype(np.float32)
    vectors = topics[rng.integers(0, 20, 800)] + rng.standard_normal((800, encoder.dim),
                                                                    dtype=np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    rows = [NewMemory("chunk" if i % 2 else "fact", f"memory {i}", v, datetime(2024, 1, 1))
            for i, v in enumerate(vectors)]
    with SqliteStore(home, embedding_model=encoder.name, dim=encoder.dim) as store:
        ids = store.add_memories(rows[:500])
        assert store.stats()["index"] == "flat"
        ids += store.add_memories(rows[500:])
        assert store.stats()["index"] == "approximate (IVF-fp16)"
        assert store.stats()["vector_index"] == 800
        assert store.search(vectors[7], "", 1)[0].id == ids[7]
        assert store.search(vectors[7], "", 5, kinds=["chunk"])[0].kind == "chunk"
        assert store.forget(ids[7])
        assert ids[7] not in [h.id for h in store.search(vectors[7], "", 10)]
    with SqliteStore(home, embedding_model=encoder.name, dim=encoder.dim) as store:
        assert store.stats()["index"] == "approximate (IVF-fp16)"
        assert store.stats()["vector_index"] == 799
        assert store.verify_index() == []
        assert store.search(vectors[8], "", 1)[0].id == ids[8]
        assert store.forget(ids[8]) and store.verify_index() == []
