"""SqliteStore on real SQLite, FTS5 and FAISS with the real encoder."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from datetime import datetime

import numpy as np
import pytest
from sqlalchemy import text

from memory_store.base import EmbeddingMismatchError
from memory_store.db import SCHEMA_VERSION, make_engine
from memory_store.migrations import SchemaTooNewError
from memory_store.records import NewMemory
from memory_store.sqlite_store import SqliteStore

FACTS = [
    "My sister Ana was born in Porto in 1990.",
    "The zorblat fermentation takes three weeks in oak barrels.",
    "Our dentist moved her practice to Elm Street.",
    "I bought a red bicycle for commuting.",
    "The quarterly report is due on the fifth of March.",
    "Tomatoes grow best with six hours of sun.",
]


def _facts(encoder, texts=FACTS, day=1, kind="fact"):
    vecs = encoder.encode(list(texts))
    return [NewMemory(kind=kind, text=t, embedding=v, created_at=datetime(2024, 1, day + i),
                      source=f"test#{i}") for i, (t, v) in enumerate(zip(texts, vecs, strict=True))]


def _search(store, encoder, query, k=3, **kw):
    return store.search(encoder.encode_one(query), query, k, **kw)


def test_search_finds_the_fact_first_and_returns_exactly_k(store, encoder):
    store.add_memories(_facts(encoder))
    hits = _search(store, encoder, "Where was Ana born?", k=4)
    assert hits[0].text == FACTS[0]
    assert hits[0].dense_score is not None and hits[0].lexical_score is not None
    assert len(hits) == 4
    assert len(_search(store, encoder, "zzzz unrelated", k=6)) == 6


def test_filters_apply_inside_the_search_not_after_top_k(store, encoder):
    store.add_memories(_facts(encoder))
    store.add_memories(_facts(encoder, ["Ana likes green tea.", "Ana plays the cello."],
                              day=20, kind="note"))
    hits = _search(store, encoder, "Ana born Porto", k=2, kinds=["note"])
    assert {h.text for h in hits} == {"Ana likes green tea.", "Ana plays the cello."}
    late = _search(store, encoder, "sister Ana", k=3, since=datetime(2024, 1, 5))
    assert len(late) == 3 and all(h.created_at >= datetime(2024, 1, 5) for h in late)


def test_forget_removes_from_sqlite_fts_and_faiss(store, encoder):
    ids = store.add_memories(_facts(encoder))
    assert store.forget(ids[1]) is True
    assert store.forget(ids[1]) is False
    hits = _search(store, encoder, "zorblat fermentation oak barrels", k=10)
    assert ids[1] not in [h.id for h in hits]
    assert store.stats()["memories"] == len(FACTS) - 1
    assert store.stats()["vector_index"] == len(FACTS) - 1
    with store.Session() as s:
        fts = s.execute(text("SELECT rowid FROM memories_fts WHERE memories_fts MATCH 'zorblat'"))
        assert fts.all() == []


@pytest.mark.parametrize("damage", ["delete", "garbage", "truncate", "wrong_dim"])
def test_damaged_faiss_file_is_rebuilt_without_loss(home, encoder, damage):
    with SqliteStore(home, embedding_model=encoder.name, dim=encoder.dim) as s:
        s.add_memories(_facts(encoder))
        index_path = s.index_path
    if damage == "delete":
        index_path.unlink()
    elif damage == "garbage":
        index_path.write_bytes(os.urandom(5000))
    elif damage == "truncate":
        index_path.write_bytes(index_path.read_bytes()[:100])
    else:
        import faiss

        faiss.write_index(faiss.IndexIDMap2(faiss.IndexFlatIP(8)), str(index_path))
    with SqliteStore(home, embedding_model=encoder.name, dim=encoder.dim) as s:
        assert s.stats()["vector_index"] == len(FACTS)
        for fact in FACTS:
            hits = s.search(encoder.encode_one(fact), "", 1)
            assert hits[0].text == fact


def test_stale_index_file_is_reconciled_at_open(home, encoder):
    with SqliteStore(home, embedding_model=encoder.name, dim=encoder.dim) as s:
        s.add_memories(_facts(encoder)[:3])
        old = s.index_path.read_bytes(), s.index_path.with_name("memories.faiss.json").read_bytes()
        s.add_memories(_facts(encoder)[3:])
    s.index_path.write_bytes(old[0])  # as if the process crashed before saving the index
    s.index_path.with_name("memories.faiss.json").write_bytes(old[1])
    with SqliteStore(home, embedding_model=encoder.name, dim=encoder.dim) as s:
        assert s.stats()["vector_index"] == len(FACTS)
        assert s.search(encoder.encode_one(FACTS[5]), "", 1)[0].text == FACTS[5]


ADD_IN_CHILD = """
import sys
from datetime import datetime
from assistant.memory.encoder import Encoder
from memory_store.records import NewMemory
from memory_store.sqlite_store import SqliteStore
enc = Encoder()
with SqliteStore(sys.argv[1], embedding_model=enc.name, dim=enc.dim) as s:
    t = "The lighthouse keeper's name is Bartholomew."
    s.add_memories([NewMemory("fact", t, enc.encode_one(t), datetime(2024, 5, 1))])
"""


@pytest.mark.slow
def test_a_second_process_sees_the_first_ones_memories(store, encoder, home):
    store.add_memories(_facts(encoder))
    before = _search(store, encoder, "lighthouse keeper name", k=1)
    assert "Bartholomew" not in before[0].text
    # A live store notices another process's write on its next search (generation counter).
    subprocess.run([sys.executable, "-c", ADD_IN_CHILD, str(home)], check=True)
    after = _search(store, encoder, "lighthouse keeper name", k=1)
    assert "Bartholomew" in after[0].text
    assert store.stats()["vector_index"] == len(FACTS) + 1


def test_replace_document_is_atomic(store, encoder):
    chunks = _facts(encoder, FACTS[:2], kind="chunk")
    store.replace_document(path="/x/notes.md", content_hash="h1", kind="markdown", title="n",
                           modified_at=datetime(2024, 1, 1), chunks=chunks)
    bad = _facts(encoder, FACTS[2:4], kind="chunk")
    bad[1].embedding = np.zeros(7, np.float32)  # fails inside the transaction
    with pytest.raises(ValueError, match=r"embedding of shape \(7,\).*holds \(384,\)"):
        store.replace_document(path="/x/notes.md", content_hash="h2", kind="markdown",
                               title="n", modified_at=datetime(2024, 1, 2), chunks=bad)
    doc = store.document_by_path("/x/notes.md")
    assert doc.content_hash == "h1" and doc.chunks == 2
    assert store.stats()["vector_index"] == 2
    store.replace_document(path="/x/notes.md", content_hash="h3", kind="markdown", title="n",
                           modified_at=datetime(2024, 1, 3), chunks=_facts(encoder, FACTS[4:],
                                                                           kind="chunk"))
    assert {h.text for h in store.list_memories()} == set(FACTS[4:])
    assert store.stats()["vector_index"] == 2


def test_messages_turns_and_state_persist(home, encoder):
    with SqliteStore(home, embedding_model=encoder.name, dim=encoder.dim) as s:
        cid = s.create_conversation("trip")
        turn = "User: We fly to Oslo on Friday."
        _, (mid,) = s.add_message(cid, "user", "We fly to Oslo on Friday.", memory=NewMemory(
            "turn", turn, encoder.encode_one(turn), datetime(2024, 2, 1)))
        s.add_message(cid, "assistant", "Noted.")
        s.put_state(cid, "ltmt", b"\x01\x02")
    with SqliteStore(home, embedding_model=encoder.name, dim=encoder.dim) as s:
        assert [m.role for m in s.messages(cid)] == ["user", "assistant"]
        assert s.get(mid).source == f"conversation:{cid}#turn=1"
        assert s.get_state(cid, "ltmt") == b"\x01\x02"
        assert s.conversations()[0].messages == 2


def test_folder_is_private_and_schema_is_versioned(store, home):
    assert stat.S_IMODE(os.stat(home).st_mode) == 0o700
    with store.Session() as s:
        assert s.execute(text("PRAGMA user_version")).scalar_one() == SCHEMA_VERSION
        assert s.execute(text("PRAGMA journal_mode")).scalar_one() == "wal"
        assert s.execute(text("PRAGMA foreign_keys")).scalar_one() == 1


def test_newer_schema_and_other_encoder_are_refused(home, encoder):
    SqliteStore(home, embedding_model=encoder.name, dim=encoder.dim).close()
    with pytest.raises(EmbeddingMismatchError, match="all-MiniLM-L6-v2"):
        SqliteStore(home, embedding_model="other-model", dim=encoder.dim)
    engine = make_engine(home / "memory.sqlite3")
    with engine.begin() as conn:
        conn.exec_driver_sql(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    engine.dispose()
    with pytest.raises(SchemaTooNewError, match="upgrade"):
        SqliteStore(home, embedding_model=encoder.name, dim=encoder.dim)
