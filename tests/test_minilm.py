"""The NumPy inference of the encoder and of LTM-T (what a search and a chat turn run, with
no torch) against the torch models they were made from: same weights, same numbers."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import torch

from assistant.memory import ltmt_numpy
from assistant.memory.encoder import FEW, Encoder
from assistant.memory.weights import load_checkpoint
from assistant.shipped import shipped

TEXTS = ["Where does my sister live?", "x", "I adopted a grey cat called Miso last weekend. " * 40,
         "Ünïcode and emoji 🎻 and numbers 3.14, tabs\tand\nnew lines"]


def test_few_texts_give_the_torch_encoders_vectors(encoder):
    few = encoder.encode(TEXTS)  # NumPy: at most FEW texts
    batch = encoder.encode(TEXTS * (FEW // len(TEXTS) + 1))  # torch: more than FEW
    assert np.abs(few - batch[:len(TEXTS)]).max() < 1e-5
    assert np.allclose(np.linalg.norm(few, axis=1), 1.0, atol=1e-5)
    # The 40-times sentence is cut at the model's 256 tokens by both, not by characters.
    assert few.dtype == np.float32 and few.shape == (len(TEXTS), 384)


def test_ltmt_inference_gives_the_torch_models_numbers(tmp_path):
    torch_model, _ = load_checkpoint(shipped("ltmt.pt"))
    model = ltmt_numpy.load(shipped("ltmt.pt"), tmp_path)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(1, 384)).astype(np.float32)
    x /= np.linalg.norm(x)
    state = model.initial_state(1) + rng.normal(size=(1, 4, 384)).astype(np.float32) * 0.1
    memories = rng.normal(size=(1, 30, 384)).astype(np.float32)
    features = rng.random((1, 30, 16)).astype(np.float32)
    mask = np.ones((1, 30), bool)
    mask[0, 5] = False
    logits, read = model.read(x, state, memories, features, mask)
    with torch.inference_mode():
        t = [torch.from_numpy(a) for a in (x, state, memories, features, mask)]
        t_logits, t_read = torch_model.read(*t)
        t_state = torch_model.write(t[1], t[0], t_read).numpy()
        t_query = torch_model.query(t[0], t[1]).numpy()
    assert np.isneginf(logits[0, 5]) and np.isfinite(np.delete(logits[0], 5)).all()
    assert np.allclose(np.delete(logits[0], 5), np.delete(t_logits.numpy()[0], 5), atol=1e-4)
    assert np.allclose(read, t_read.numpy(), atol=1e-5)
    assert np.allclose(model.write(state, x, read), t_state, atol=1e-5)
    assert np.allclose(model.query(x, state), t_query, atol=1e-5)
    assert np.allclose(model.initial_state(1), torch_model.initial_state(1).detach().numpy())


def test_a_search_process_never_imports_torch_once_the_weights_are_cached(tmp_path, encoder):
    from assistant.agent import Agent
    from assistant.config import Settings

    settings = Settings(home=tmp_path / "home", cache_dir=tmp_path / "cache")
    with Agent(settings, encoder=encoder) as agent:
        agent.remember(None, "My sister Lucia lives in Madrid.")
        agent.recall("Where does Lucia live?")  # writes LTM-T's cache, with torch
    probe = ("import sys; from pathlib import Path\n"
             "from assistant.config import Settings\nfrom assistant.agent import Agent\n"
             f"s = Settings(home=Path({str(settings.home)!r}), "
             f"cache_dir=Path({str(settings.cache_dir)!r}))\n"
             "with Agent(s) as a:\n    hits = a.recall('Where does Lucia live?')\n"
             "print(hits[0].text.count('Madrid'), 'torch' in sys.modules, "
             "'transformers' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         check=True).stdout.split()
    assert out == ["1", "False", "False"], out


def test_token_count_is_the_models_own_untruncated():
    from transformers import AutoTokenizer

    from assistant.memory.encoder import model_dir

    reference = AutoTokenizer.from_pretrained(model_dir(), local_files_only=True)
    counter = Encoder()
    for text in TEXTS:
        assert counter.token_count(text) == len(reference(text)["input_ids"])
    assert counter.token_count(TEXTS[2]) > 256
