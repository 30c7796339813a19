"""Shared fixtures: the real encoder (loaded once) and throwaway data folders."""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import pytest  # noqa: E402

from assistant.encoder import Encoder  # noqa: E402
from memory_store.store import MemoryStore  # noqa: E402


@pytest.fixture(scope="session")
def encoder() -> Encoder:
    enc = Encoder()
    enc.load()
    return enc


@pytest.fixture
def home(tmp_path):
    return tmp_path / "home"


@pytest.fixture
def store(home, encoder):
    s = MemoryStore(home, embedding_model=encoder.name, dim=encoder.dim)
    yield s
    s.close()
