"""LTM-T: shapes, gradients, learning, persisted state, the LoCoMo bench and the ablation."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from assistant.locomo import bench as bench_locomo
from assistant.locomo.data import load
from assistant.locomo.replay import replay
from assistant.memory import ltmt_numpy
from assistant.memory.ltmt import FEATURES, LTMT, LTMTConfig, listwise_loss
from assistant.memory.recall import Recaller, state_from_bytes
from assistant.memory.weights import load_model, save_checkpoint
from memory_store.sqlite_store import SqliteStore

TINY = Path(__file__).parent / "fixtures" / "locomo_tiny.json"
B, K, S, D, NF = 3, 7, 4, 384, len(FEATURES)


def _inputs(seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.nn.functional.normalize(torch.randn(B, D, generator=g), dim=-1)
    mem = torch.nn.functional.normalize(torch.randn(B, K, D, generator=g), dim=-1)
    feats = torch.rand(B, K, NF, generator=g)
    mask = torch.ones(B, K, dtype=torch.bool)
    mask[0, -2:] = False
    return x, mem, feats, mask


def test_shapes_masking_and_gradients():
    model = LTMT(LTMTConfig())
    x, mem, feats, mask = _inputs()
    state = model.initial_state(B)
    assert state.shape == (B, S, D)
    assert model.query(x, state).shape == (B, D)
    targets = torch.zeros(B, K, dtype=torch.bool)
    targets[:, 1] = True
    (logits, new_state), loss = model(x, state, mem, feats, mask, targets)
    assert logits.shape == (B, K) and new_state.shape == (B, S, D)
    assert torch.isinf(logits[0, -2:]).all() and torch.isfinite(logits[1]).all()
    # The write step's gradient reaches it through the next turn's read.
    _, next_loss = model(x, new_state, mem, feats, mask, targets)
    (loss + next_loss).backward()
    for name in ("w_q.weight", "w_k.weight", "feat_score.0.weight", "query_mix.weight",
                 "write_gate.weight", "temperature"):
        grad = dict(model.named_parameters())[name].grad
        assert grad is not None and grad.abs().sum() > 0, name
    with pytest.raises(AssertionError, match="features"):
        model.read(x, state, mem, feats[..., :3], mask)


def test_untrained_model_ranks_by_cosine():
    model = LTMT(LTMTConfig()).eval()
    x, mem, feats, mask = _inputs(1)
    mem[:, 4] = x  # the exact match must come first before any training
    logits, _ = model.read(x, model.initial_state(B), mem, torch.zeros_like(feats), mask)
    assert (logits.argmax(-1) == 4).all()


def test_a_few_training_steps_lower_the_loss():
    torch.manual_seed(0)
    model = LTMT(LTMTConfig(dropout=0.0))
    x, mem, feats, mask = _inputs(2)
    targets = torch.zeros(B, K, dtype=torch.bool)
    targets[torch.arange(B), torch.tensor([2, 0, 4])] = True
    feats[targets] += 2.0  # the evidence carries a learnable signal in its features
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    state = model.initial_state(B)
    first = listwise_loss(model.read(x, state, mem, feats, mask)[0], targets).item()
    for _ in range(30):
        loss = listwise_loss(model.read(x, state, mem, feats, mask)[0], targets)
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert loss.item() < 0.5 * first


CONTINUE = """
import sys
from pathlib import Path
from assistant.memory.encoder import Encoder
from assistant.memory import ltmt_numpy
from assistant.memory.recall import Recaller, state_to_bytes
from memory_store.sqlite_store import SqliteStore
enc = Encoder()
model = ltmt_numpy.load(Path(sys.argv[2]), Path(sys.argv[4]))
with SqliteStore(sys.argv[1], embedding_model=enc.name, dim=enc.dim) as s:
    r = Recaller(s, model)
    st = r.load_state(int(sys.argv[3]))
    t = "How is Pickle doing?"
    out = r.recall(t, enc.encode_one(t), st, 3)
    sys.stdout.buffer.write(state_to_bytes(out.state))
"""


@pytest.mark.slow
def test_state_persists_and_a_restarted_process_continues(tmp_path, encoder):
    torch.manual_seed(0)
    weights = tmp_path / "w.pt"
    save_checkpoint(LTMT(LTMTConfig()).eval(), weights)
    model = ltmt_numpy.load(weights, tmp_path / "cache")
    with SqliteStore(tmp_path / "home", embedding_model=encoder.name, dim=encoder.dim) as s:
        recaller = Recaller(s, model)
        cid, state = bench_locomo.replay_with_state(load(TINY), s, encoder, recaller)
        assert not np.array_equal(state, recaller.initial_state())
        t = "How is Pickle doing?"
        expected = recaller.recall(t, encoder.encode_one(t), state, 3).state
    child = subprocess.run([sys.executable, "-c", CONTINUE, str(tmp_path / "home"), str(weights),
                            str(cid), str(tmp_path / "cache")], capture_output=True, check=True)
    assert np.allclose(state_from_bytes(child.stdout), expected, atol=1e-6)


def test_replay_stores_turns_and_dates_only(tmp_path, encoder):
    with SqliteStore(tmp_path / "home", embedding_model=encoder.name, dim=encoder.dim) as s:
        replay(load(TINY), s, encoder)
        texts = [h.text for h in s.list_memories(limit=100)]
    assert len(texts) == 12
    assert not any("SECRET" in t or "Pickle" == t for t in texts)
    first = "[8 May 2023] Ana: Hi Ben! I finally adopted a dog yesterday [7 May 2023]"
    assert any(t.startswith(first) for t in texts)
    assert any("[shares a photo: a photo of chewed red running shoes]" in t for t in texts)


@pytest.mark.parametrize("use_ltmt", [True, False])
def test_bench_locomo_writes_the_documented_lines(tmp_path, encoder, use_ltmt):
    weights = tmp_path / "w.pt"
    save_checkpoint(LTMT(LTMTConfig()).eval(), weights)
    out = tmp_path / "r.jsonl"
    summary = bench_locomo.run([TINY], out, use_ltmt=use_ltmt, weights=weights, encoder=encoder)
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["qid"] for r in rows] == [0, 1, 2, 3, 4]  # all categories without --limit
    for r in rows:
        assert set(r) == {"sample", "qid", "category", "question", "retrieved", "answer",
                          "verdict"}
        assert r["sample"] == "locomo_tiny" and r["answer"] is r["verdict"] is None
        assert len(r["retrieved"]) == 12 and len(set(r["retrieved"])) == 12
    assert rows[0]["retrieved"][0] == "D1:1"
    assert summary["recall"]["all"]["questions"] == 4
    limited = bench_locomo.run([TINY], out, use_ltmt=use_ltmt, weights=weights,
                               encoder=encoder, limit=2)
    assert limited["questions_written"] == 2


def test_no_ltmt_really_bypasses_the_model(tmp_path, encoder):
    missing = tmp_path / "none.pt"
    with pytest.raises(FileNotFoundError, match="no-ltmt"):
        bench_locomo.run([TINY], tmp_path / "a.jsonl", use_ltmt=True, weights=missing,
                         encoder=encoder)
    bench_locomo.run([TINY], tmp_path / "b.jsonl", use_ltmt=False, weights=missing,
                     encoder=encoder)
    with SqliteStore(tmp_path / "home", embedding_model=encoder.name, dim=encoder.dim) as s:
        replay(load(TINY), s, encoder)
        q = "Where is Clara moving?"
        vec = encoder.encode_one(q)
        plain = Recaller(s, None).recall(q, vec, None, 5)
        assert plain.state is None and all(h.weight is None for h in plain.hits)
        assert [h.id for h in plain.hits] == [h.id for h in s.search(vec, q, 5)]
        untrained = ltmt_numpy.from_torch(LTMT(LTMTConfig()).eval())
        ranked = Recaller(s, untrained).recall(q, vec, untrained.initial_state(), 5)
        weights = [h.weight for h in ranked.hits]
        assert all(w is not None for w in weights) and weights == sorted(weights, reverse=True)
        assert 0 < sum(weights) <= 1 + 1e-6  # softmax mass over the candidates


def test_bench_and_ask_share_the_one_answer_path(tmp_path, encoder, generator, settings):
    """The same conversation and question give the same hits and answer through `bench
    locomo` and through the agent's `ask` (what `assistant ask` and the chat call)."""
    from assistant.agent import Agent

    out = tmp_path / "r.jsonl"
    bench_locomo.run([TINY], out, answers=True, encoder=encoder, generator=generator,
                     settings=settings)
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    sample = load(TINY)
    now = sample.turns[-1].when
    with Agent(settings, encoder=encoder, generator=generator, clock=lambda: now) as agent:
        _, state = bench_locomo.replay_with_state(sample, agent.store, encoder, agent.recaller)
        for row in rows:
            answer = agent.ask(row["question"], state=state)
            assert "".join(answer) == row["answer"], row["question"]
            assert answer.reply.verdict == row["verdict"], row["question"]
            deep = agent.recall_for(row["question"], encoder.encode_one(row["question"]),
                                    state, now, k=bench_locomo.ANSWER_DEPTH).hits
            assert bench_locomo.dia_ids(deep) == row["retrieved"]
            assert [h.text for h in answer.sources] == \
                [h.text for h in deep[:len(answer.sources)]]  # the same ranking, cut at k
    assert {r["verdict"] for r in rows} == {"answered", "abstained"}


def _evidence_mass(vectors, qs) -> float:
    """Mean softmax mass the questions' vectors put on their evidence among the turns."""
    log_p = torch.log_softmax(20.0 * torch.from_numpy(vectors) @ qs.turns.T, -1)
    return float(torch.stack([torch.logsumexp(log_p[i, ev], 0).exp()
                              for i, ev in enumerate(qs.evidence)]).mean())


def test_the_query_adapter_learns_travels_with_its_weights_and_encodes_only_questions(
        tmp_path, encoder, generator, settings):
    from assistant.agent import Agent
    from assistant.locomo import query_tower
    from assistant.memory.weights import query_encoder

    qs = query_tower.question_set(load(TINY), encoder)
    assert len(qs.questions) == 4 and all(qs.evidence)
    adapter = query_tower.train_adapter([qs])
    model = LTMT(LTMTConfig()).eval()
    assert query_encoder(model, encoder) is encoder  # weights without one: the plain encoder
    model.query_adapter = adapter
    save_checkpoint(model, tmp_path / "w.pt")
    loaded = load_model(tmp_path / "w.pt")
    adapted = query_encoder(loaded, encoder)
    assert adapted is not encoder and adapted is query_encoder(loaded, encoder)  # one copy
    before = _evidence_mass(encoder.encode(qs.questions), qs)
    after = _evidence_mass(adapted.encode(qs.questions), qs)
    assert after > before + 0.05, (before, after)  # it pulled questions to their evidence

    with Agent(settings, encoder=encoder, generator=generator,
               ltmt_weights=tmp_path / "w.pt") as agent:
        # The agent's copy comes from the NumPy cache of the same weights: same vectors.
        assert agent.query_encoder is agent.query_encoder is not encoder
        assert np.allclose(agent.query_encoder.encode(qs.questions[:2]),
                           adapted.encode(qs.questions[:2]), atol=1e-5)
        cid = agent.new_conversation()
        # The chat stores what was said through the plain encoder.
        list(agent.chat_turn(cid, "My sister Clara is moving to Lisbon."))
        (memory,) = agent.store.list_memories(limit=5)
        stored = agent.store.embeddings([memory.id])[0]
        assert torch.allclose(torch.from_numpy(stored),
                              torch.from_numpy(encoder.encode_one(memory.text)), atol=1e-5)
        q = "Where is Clara moving?"
        assert not torch.allclose(torch.from_numpy(adapted.encode_one(q)),
                                  torch.from_numpy(encoder.encode_one(q)), atol=1e-3)
        assert "Lisbon" in agent.recall(q, k=1)[0].text


@pytest.mark.slow
def test_train_command_cross_fits_the_query_adapter_and_ships_it(tmp_path, encoder):
    from assistant.locomo.train import train_command

    files = []
    for name in ("a", "b"):  # two conversations, so each fold has one to learn from
        files.append(tmp_path / f"{name}.json")
        files[-1].write_text(TINY.read_text())
    out, folds = tmp_path / "ltmt.pt", tmp_path / "folds"
    plain = train_command(files, epochs=1, out=out, encoder=encoder, log=lambda *_: None)
    assert plain["query_adapter"] is None and load_model(out).query_adapter is None
    record = train_command(files, epochs=1, out=out, encoder=encoder, folds_dir=folds,
                           query_adapter=True, log=lambda *_: None)
    assert record["query_adapter"]["rank"] == 8
    assert set(record["held_out_fixed_candidates"]) == {"a", "b"}
    pooled = record["held_out_pooled"]["ltmt"]
    assert 0.0 <= pooled["all"] <= 1.0 and set(pooled) >= {"all", "1", "2"}
    assert json.loads(out.with_suffix(".json").read_text())["seed"] == 0
    shipped = load_model(out)
    fold = load_model(folds / "ltmt-without-a.pt")
    assert shipped.query_adapter is not None and fold.query_adapter is not None
    name = next(iter(shipped.query_adapter["weights"]))
    # the fold's adapter never saw "a": it was trained on "b" alone, the shipped one on both
    assert not torch.equal(shipped.query_adapter["weights"][name][1],
                           fold.query_adapter["weights"][name][1])
