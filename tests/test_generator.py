"""The embedded generator with the real SmolLM2 weights: streaming, stops, the cache."""

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from assistant.answer.backends.embedded import CACHE_NAME, STAMP_FILE, EmbeddedGenerator
from assistant.answer.protocol import complete
from assistant.config import default_cache_dir

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # before transformers is first imported

PROMPT = "Once upon a time, in a small village,"
STORY_TOKENS = 16


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("model-cache")


@pytest.fixture(scope="module")
def built(cache_dir: Path) -> EmbeddedGenerator:
    """Loaded from the GGUF into a fresh cache: pays the ~15 s dequantisation."""
    gen = EmbeddedGenerator(cache_dir)
    gen.load()
    return gen


@pytest.fixture(scope="module")
def story(generator: EmbeddedGenerator) -> str:
    """What transformers' own model, tokenizer and greedy `generate` write for PROMPT from
    the same cache: the reference every stream of ours (torch alone, smollm.py) must
    reproduce, piece by piece."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    reference = AutoModelForCausalLM.from_pretrained(generator.cache_path,
                                                     dtype=torch.float32).eval()
    tokenizer = AutoTokenizer.from_pretrained(generator.cache_path)
    ids = tokenizer(PROMPT, return_tensors="pt").input_ids
    assert torch.equal(ids, generator.tokenizer(PROMPT, return_tensors="pt").input_ids)
    out = reference.generate(ids, max_new_tokens=STORY_TOKENS, do_sample=False)
    return tokenizer.decode(out[0, ids.shape[1]:], skip_special_tokens=True)


@contextmanager
def counting_forwards(gen: EmbeddedGenerator) -> Iterator[list[int]]:
    """Count the runtime's forward passes, to see that a stop really halts generation."""
    calls: list[int] = []
    runtime = gen.runtime
    forward = runtime.forward

    def counted(*args):
        calls.append(1)
        return forward(*args)

    runtime.forward = counted  # this instance only, for the `with` block
    try:
        yield calls
    finally:
        del runtime.forward


def test_nothing_loads_until_asked(tmp_path: Path) -> None:
    gen = EmbeddedGenerator(tmp_path)
    assert gen.loaded_from is None
    assert not (tmp_path / CACHE_NAME).exists()


def test_default_cache_dir_honours_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("ASSISTANT_CACHE", str(tmp_path))
    assert default_cache_dir() == tmp_path
    monkeypatch.delenv("ASSISTANT_CACHE")
    assert default_cache_dir().name == "assistant"


@pytest.mark.slow
def test_cache_is_written_and_reproduces_the_gguf_model(
    built: EmbeddedGenerator, cache_dir: Path, story: str
) -> None:
    folder = cache_dir / CACHE_NAME
    for name in ("model.safetensors", "config.json", "tokenizer.json", STAMP_FILE):
        assert (folder / name).is_file(), name
    assert "quantization_config" not in (folder / "config.json").read_text()
    assert [p.name for p in cache_dir.iterdir()] == [CACHE_NAME]  # no temp folders left
    cached = EmbeddedGenerator(cache_dir)
    cached.load()
    assert (built.loaded_from, cached.loaded_from) == ("gguf", "cache")
    # `story` is transformers' own generate on the session's model (another cache of it).
    for gen in (built, cached):
        assert complete(gen, PROMPT, max_new_tokens=STORY_TOKENS, stop=()) == story


def test_the_stream_is_greedy_generation_in_pieces(generator: EmbeddedGenerator,
                                                   story: str) -> None:
    """Our own decoding loop (one KV cache, logits for the last position only) writes
    what transformers' generate writes, as it goes: many pieces, none empty."""
    assert len(story.split()) > 5
    pieces = list(generator.stream(PROMPT, max_new_tokens=STORY_TOKENS, stop=()))
    assert len(pieces) > 1 and all(pieces)
    assert "".join(pieces) == story
    assert complete(generator, PROMPT, max_new_tokens=STORY_TOKENS, stop=()) == story


def test_stop_string_halts_and_is_not_included(generator: EmbeddedGenerator, story: str) -> None:
    words = story.split()
    stop = " ".join(words[3:5])  # two words: a stop string spanning several tokens
    with counting_forwards(generator) as calls:
        pieces = list(generator.stream(PROMPT, max_new_tokens=STORY_TOKENS, stop=("@@", stop)))
    text = "".join(pieces)
    assert text == story[: story.index(stop)]
    assert stop not in text
    assert 3 < len(calls) < STORY_TOKENS  # halted, not generated to the end and trimmed


def test_default_stop_is_newline(generator: EmbeddedGenerator) -> None:
    with counting_forwards(generator) as calls:
        text = complete(generator, "The capital of France is", max_new_tokens=32)
    assert text.strip() and "\n" not in text
    assert 0 < len(calls) < 32


def test_chat_prompt_uses_the_template(generator: EmbeddedGenerator) -> None:
    prompt = generator.chat_prompt([{"role": "user", "content": "Hi"}])
    assert "Hi" in prompt and prompt.rstrip().endswith("assistant")


@pytest.mark.slow
def test_corrupt_cache_is_rebuilt(generator: EmbeddedGenerator, tmp_path: Path) -> None:
    """A broken copy of the session's cache: the next load repairs it (the shared cache
    stays whole, whatever the order of the tests)."""
    own = tmp_path / "cache"
    shutil.copytree(generator.cache_dir / CACHE_NAME, own / CACHE_NAME)
    weights = own / CACHE_NAME / "model.safetensors"
    weights.write_bytes(b"not a safetensors file" * 100)
    repaired = EmbeddedGenerator(own)
    repaired.load()
    assert repaired.loaded_from == "gguf"
    assert weights.stat().st_size > 100_000_000
    again = EmbeddedGenerator(own)
    again.load()
    assert again.loaded_from == "cache"
    assert [p.name for p in own.iterdir()] == [CACHE_NAME]


def test_the_cached_model_answers_without_importing_torch(generator) -> None:
    # transformers' import and model building were most of a cold `ask` (5.1-5.5 s to a
    # loaded model); then torch's own import was (2 s of 4); NumPy loads it in 0.2 s.
    probe = ("import sys\nfrom assistant.answer.backends.embedded import EmbeddedGenerator\n"
             "g = EmbeddedGenerator()\nout = ''.join(g.stream('The capital of France is',"
             " max_new_tokens=3))\nprint(g.loaded_from, 'transformers' in sys.modules, "
             "'torch' in sys.modules, repr(out))")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          check=True, env={**os.environ, "ASSISTANT_CACHE":
                                           str(generator.cache_dir)})
    assert done.stdout.strip().split(maxsplit=3) == ["cache", "False", "False", repr(
        "".join(generator.stream("The capital of France is", max_new_tokens=3)))]


def test_the_numpy_runtime_computes_what_the_torch_twin_computes(generator) -> None:
    """Answers run on NumPy, training on torch (smollm.py): the same logits to float
    rounding, the same greedy tokens, from prompts short and long (several of the
    prompt's attention blocks) and through the KV cache."""
    import numpy as np
    import torch

    from assistant.answer.backends import smollm, smollm_numpy

    assert isinstance(generator.runtime, smollm_numpy.NumpyLlama)
    long = generator.chat_prompt([{"role": "user", "content": " ".join(
        f"Note {i}: Mara planted {i} tulips by the fence." for i in range(40)) +
        " How many tulips did Mara plant in note 7?"}])
    for prompt in (PROMPT, long):
        ids = generator.tokenizer(prompt).input_ids
        ours, theirs = generator.runtime.new_cache(), smollm.Cache()
        step, torch_step = ids, torch.tensor([ids])
        for _ in range(6):
            logits = generator.runtime.forward(step, ours)
            with torch.inference_mode():
                expected = generator.model(torch_step, cache=theirs,
                                           logits_to_keep=1).logits[0, -1].numpy()
            assert np.abs(logits - expected).max() < 1e-3
            assert int(logits.argmax()) == int(expected.argmax())
            step, torch_step = [int(logits.argmax())], torch.tensor([[int(logits.argmax())]])
    assert len(generator.tokenizer(long).input_ids) > 2 * smollm_numpy.QUERY_BLOCK
