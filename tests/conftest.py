"""Shared fixtures: the real encoder (loaded once) and throwaway data folders."""

from __future__ import annotations

import os
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ["TZ"] = "UTC"  # dates on screen (and in snapshots) must not depend on the machine
time.tzset()

import pytest  # noqa: E402

from assistant.config import Settings  # noqa: E402
from assistant.encoder import Encoder  # noqa: E402
from assistant.generator import EmbeddedGenerator  # noqa: E402
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


@pytest.fixture(scope="session")
def generator(tmp_path_factory) -> EmbeddedGenerator:
    """The real embedded SmolLM2, loaded once per run (its cache in a throwaway folder)."""
    gen = EmbeddedGenerator(tmp_path_factory.mktemp("model-cache"))
    gen.load()
    return gen


@pytest.fixture
def settings(home, tmp_path) -> Settings:
    return Settings(home=home, cache_dir=tmp_path / "cache", max_new_tokens=16)
