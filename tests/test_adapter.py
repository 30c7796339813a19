"""The answer adapter: training changes the real SmolLM2, saving and merging keep that
change, the shipped adapter loads through the settings, and bad adapters are refused."""

import os
from datetime import datetime
from pathlib import Path

import pytest
import torch

from assistant import lora
from assistant.answer.backends.embedded import EmbeddedGenerator
from assistant.answer.backends.factory import ADAPTER_FILE, adapter_path, make_generator
from assistant.answer.prompts import TUNED_PROMPT, answer_prompt
from assistant.answer.protocol import complete
from assistant.locomo.train_generator import Example, fit
from assistant.memory import text as memory_text
from assistant.shipped import shipped
from memory_store.records import Hit

os.environ.setdefault("HF_HUB_OFFLINE", "1")

WORD = "pumpernickel"


def hit(i: int, said: str) -> Hit:
    """"Name: words" as the chat writes a turn of that speaker's."""
    speaker, _, words = said.partition(": ")
    written = memory_text.turn(words, speaker=speaker, when=datetime(2024, 5, 3, 10, 0))
    return Hit(id=i, kind="turn", text=written.text, source=f"conversation:1#turn={i}",
               created_at=datetime(2024, 5, 3, 10, 0), meta=written.meta)


def examples() -> list[Example]:
    """A made-up task the base model cannot guess: every question's answer is WORD."""
    notes = [hit(1, "Mara: I baked bread with my grandmother on Sunday."),
             hit(2, "Jon: The library closes early on Fridays."),
             hit(3, "Mara: We painted the fence blue last week.")]
    questions = ["What did Mara bake?", "When does the library close?",
                 "What colour is the fence?", "Who baked with Mara?"]
    return [Example("t", 1, q, tuple(notes), WORD) for q in questions]


def logits(gen: EmbeddedGenerator, text: str) -> torch.Tensor:
    ids = gen.tokenizer(text, return_tensors="pt").input_ids
    with torch.inference_mode():
        return gen.model(input_ids=ids).logits[0, -1]


@pytest.fixture(scope="module")
def trained(generator, tmp_path_factory) -> Path:
    """An adapter trained here, on the session's real model, saved as the CLI saves it."""
    weights, losses = fit(generator, examples(), epochs=6, lr=3e-3, batch=4,
                          progress=lambda _: None)
    assert losses[-1] < losses[0] / 4, losses  # it learned the made-up answer
    path = tmp_path_factory.mktemp("adapter") / "word.pt"
    lora.save(path, weights, rank=8, alpha=16.0, first_layer=15, base=generator.name,
              prompt=TUNED_PROMPT)
    return path


@pytest.mark.slow
def test_training_leaves_the_base_model_as_it_was(generator, trained):
    prompt = examples()[0].prompt
    base = EmbeddedGenerator(generator.cache_dir)
    assert torch.equal(logits(generator, prompt), logits(base, prompt))
    assert WORD not in complete(generator, prompt, max_new_tokens=8)


@pytest.mark.slow
def test_a_trained_adapter_loads_and_changes_the_output(generator, trained):
    tuned = EmbeddedGenerator(generator.cache_dir, adapter=trained)
    assert tuned.tuned and tuned.name == f"{generator.name}+word"
    # A question it was not trained on, with other notes: the adapter's answer carries over.
    prompt = answer_prompt("What did Jon borrow?", [hit(9, "Jon: I borrowed a ladder.")],
                           examples=False)
    before = complete(generator, prompt, max_new_tokens=8)
    after = complete(tuned, prompt, max_new_tokens=8)
    assert WORD not in before and WORD in after
    # Answers run on NumPy with the adapter added there; the torch twin merges its own.
    ids = tuned.tokenizer(prompt).input_ids
    merged_here = tuned.runtime.forward(ids, tuned.runtime.new_cache())
    assert (merged_here - logits(tuned, prompt).numpy()).__abs__().max() < 1e-3


@pytest.mark.slow
def test_merged_weights_answer_as_the_unmerged_adapter(generator, trained):
    """Merging W += scale * B @ A gives what the adapter computed beside the base layer."""
    prompt = examples()[1].prompt
    adapter = lora.load(trained)
    lora.attach(generator.model, rank=adapter["rank"], alpha=adapter["alpha"],
                first_layer=adapter["first_layer"])
    try:
        for name, parent, attr in lora._targets(generator.model, adapter["first_layer"]):
            a, b = adapter["weights"][name]
            getattr(parent, attr).a.data.copy_(a)
            getattr(parent, attr).b.data.copy_(b)
        side_by_side = logits(generator, prompt)
    finally:
        lora.detach(generator.model)
    merged = logits(EmbeddedGenerator(generator.cache_dir, adapter=trained), prompt)
    assert torch.allclose(side_by_side, merged, atol=1e-3)


def test_the_shipped_adapter_is_the_default_for_the_embedded_model(generator):
    gen = make_generator("embedded", generator.cache_dir)
    assert gen.adapter == shipped(ADAPTER_FILE) and gen.tuned
    plain = make_generator("embedded", generator.cache_dir, adapter="none")
    assert plain.adapter is None and not plain.tuned
    prompt = answer_prompt("What did Jon borrow?", [hit(9, "Jon: I borrowed a ladder.")],
                           examples=False)
    assert not torch.equal(logits(gen, prompt), logits(plain, prompt))


def test_adapter_settings_resolve_per_model(tmp_path):
    assert adapter_path("none") is None
    assert adapter_path("builtin", str(tmp_path)) is None  # trained for SmolLM2, not others
    assert adapter_path(str(tmp_path / "a.pt"), str(tmp_path)) == tmp_path / "a.pt"
    with pytest.raises(ValueError, match="adapters are for local models"):
        adapter_path(str(tmp_path / "a.pt"), "http://localhost:11434/v1")
    with pytest.raises(FileNotFoundError, match="missing.pt does not exist"):
        EmbeddedGenerator(tmp_path, adapter=tmp_path / "missing.pt")


@pytest.mark.slow
def test_bad_adapters_are_refused_and_change_nothing(generator, trained, tmp_path):
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a torch file")
    with pytest.raises(ValueError, match="junk.pt is not readable"):
        EmbeddedGenerator(generator.cache_dir, adapter=junk).load()

    adapter = lora.load(trained)
    name = list(adapter["weights"])[-1]  # the last layer: a merge must check all first
    a, b = adapter["weights"][name]
    adapter["weights"][name] = (torch.zeros(a.shape[0], a.shape[1] + 1), b)
    wrong = tmp_path / "wrong-shape.pt"
    torch.save(adapter, wrong)
    gen = EmbeddedGenerator(generator.cache_dir)
    before = logits(gen, "Hello")
    with pytest.raises(ValueError, match=f"{name} is"):
        lora.merge(gen.model, lora.load(wrong), source=str(wrong))
    assert torch.equal(before, logits(gen, "Hello"))  # checked before any weight moved
    with pytest.raises(ValueError, match=f"wrong-shape.pt: {name} is"):
        EmbeddedGenerator(generator.cache_dir, adapter=wrong).load()  # NumPy's merge

    adapter = lora.load(trained) | {"prompt": "something-else"}
    other = tmp_path / "other-prompt.pt"
    torch.save(adapter, other)
    with pytest.raises(ValueError, match="trained for prompt 'something-else'"):
        EmbeddedGenerator(generator.cache_dir, adapter=other).load()


def test_the_agent_answers_with_the_shipped_adapter_by_default(home, encoder, generator):
    from assistant.agent import Agent
    from assistant.config import Settings

    settings = Settings(home=home, cache_dir=generator.cache_dir)  # shipped defaults
    with Agent(settings, encoder=encoder) as agent:
        cid = agent.new_conversation("family")
        "".join(agent.chat_turn(cid, "My sister Ana lives in Porto and works as a nurse."))
        answer = agent.chat_turn(cid, "What does my sister Ana do for work?")
        "".join(answer)
        assert agent.generator.tuned and "generator-lora" in agent.generator_name
        assert "nurse" in answer.text.lower()


@pytest.mark.slow
def test_train_generator_command_writes_an_adapter_and_its_record(generator, encoder,
                                                                  tmp_path):
    import hashlib
    import json

    from assistant.locomo.train_generator import train_command

    tiny = Path(__file__).parent / "fixtures" / "locomo_tiny.json"
    out = tmp_path / "tiny-lora.pt"
    record = train_command([tiny], out, encoder=encoder, generator=generator, epochs=2,
                           progress=lambda _: None)
    assert record["examples"] == 4  # categories 1-4 only; the category-5 question is not
    assert len(record["loss_per_epoch"]) == 2 and record["prompt"] == TUNED_PROMPT
    assert record["data"] == [{"file": tiny.name,
                               "sha256": hashlib.sha256(tiny.read_bytes()).hexdigest()}]
    assert json.loads(out.with_suffix(".json").read_text()) == record
    tuned = EmbeddedGenerator(generator.cache_dir, adapter=out)
    tuned.load()
    assert tuned.name.endswith("+tiny-lora")


@pytest.mark.slow
def test_the_adapters_numpy_copy_is_kept_and_made_again_when_damaged(trained, tmp_path):
    import numpy as np

    from assistant.answer.backends.smollm_numpy import load_adapter

    first = load_adapter(trained, tmp_path)  # read by torch, kept as arrays
    (copy,) = tmp_path.iterdir()  # no temp file left beside it
    for name, (a, b) in lora.load(trained)["weights"].items():
        assert np.array_equal(first["weights"][name][0], a.numpy())
        assert np.array_equal(first["weights"][name][1], b.numpy())
    copy.write_bytes(copy.read_bytes()[:100])  # a copy cut short
    again = load_adapter(trained, tmp_path)
    assert list(tmp_path.iterdir()) == [copy] and copy.stat().st_size > 100
    assert {k: v for k, v in again.items() if k != "weights"} == {
        k: v for k, v in first.items() if k != "weights"}
    assert all(np.array_equal(again["weights"][n][1], first["weights"][n][1])
               for n in first["weights"])


def test_numpys_merge_adapts_only_what_lora_adapts(generator):
    import numpy as np

    from assistant.answer.backends.smollm_numpy import merge

    weights = generator.runtime.weights
    hidden = weights["model.embed_tokens.weight"].shape[1]
    for name, rows in (("embed_tokens", weights["model.embed_tokens.weight"].shape[0]),
                       ("layers.0.input_layernorm", 1)):
        adapter = {"alpha": 1.0, "rank": 1, "base": "other",
                   "weights": {name: (np.zeros((1, hidden), np.float32),
                                      np.zeros((rows, 1), np.float32))}}
        with pytest.raises(ValueError, match=f"adapts {name}, which this model"):
            merge(weights, adapter, "adapter x.pt")
