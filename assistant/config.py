"""Settings: where data lives and which models answer; defaults plus an optional TOML file."""

from __future__ import annotations

import logging
import os
import tomllib
from argparse import ArgumentTypeError
from dataclasses import dataclass, field, fields
from pathlib import Path

import platformdirs

APP_NAME = "assistant"
CONFIG_FILE = "config.toml"


RETIRED = {"search_k"}  # settings older versions had: ignored (with a warning), not refused
log = logging.getLogger(__name__)


class ConfigError(ValueError):
    """The config file cannot be used; the message names the file and the key."""


@dataclass
class Settings:
    """What a run needs to know; every field can be set in `<home>/config.toml`."""

    home: Path
    cache_dir: Path
    k: int = 6  # memories recalled and shown for an answer
    prompt_memories: int = 3  # of those, given to the generator: the 135M model does best
    # with few (held-out LoCoMo F1, docs/evaluation.md)
    max_new_tokens: int = 24  # a small model's answers are short phrases
    chat_max_new_tokens: int = 400  # a chat model's replies are sentences
    # Memory searches a tool-calling server's model may make before it answers (0: none).
    tool_steps: int = 4
    idle_summary_s: int = 600  # a chat idle this long gets its summary memory written
    # Who answers: "embedded" (SmolLM2 inside the package), a Hugging Face model folder or a
    # .gguf file, or an OpenAI-compatible server's base URL (http://localhost:11434/v1).
    model: str = "embedded"
    # LoRA merged into a local model: "builtin" (data/generator-lora.pt, embedded model
    # only), "none", or an adapter file made by `assistant train-generator`.
    adapter: str = "builtin"
    # "auto": a server or a model folder of your own gets the chat prompt (memories in
    # the system message, full replies); the embedded 135M model the notes prompt.
    # "chat" or "notes" forces one.
    prompt_style: str = "auto"
    model_name: str = ""  # the server's model id, for a URL `model`
    api_key_env: str = ""  # environment variable holding the server's API key, if any
    request_timeout_s: int = 60
    # A proxy from HTTP(S)_PROXY is used for a server on another machine (unless NO_PROXY
    # names it), never for one on this machine unless this is true.
    proxy_loopback: bool = False
    # Where the memories are: "" (SQLite and FAISS in the data folder), sqlite:///FOLDER
    # (or FOLDER/memory.sqlite3) for another one, or a PostgreSQL URL,
    # postgresql+psycopg://USER@HOST/DB (password from PGPASSWORD or ~/.pgpass rather than
    # here; in the URL, an @ in it is written %40). ASSISTANT_STORE and --store override it.
    store_url: str = ""
    # Folders whose files other AI tools may import through `assistant mcp`; none by
    # default, so a connected tool cannot read the disk at will.
    mcp_import_folders: list = field(default_factory=list)

    @property
    def log_path(self) -> Path:
        return self.home / "assistant.log"


def make_data_folder(home: Path) -> None:
    """Create the data folder owner-only (memories are private); one that exists keeps the
    mode its owner gave it (a shared or backed-up folder is theirs to set)."""
    try:
        home.mkdir(parents=True, mode=0o700)
    except FileExistsError:
        return
    os.chmod(home, 0o700)  # whatever the umask took away


def default_home() -> Path:
    return Path(os.environ.get("ASSISTANT_HOME") or platformdirs.user_data_path(APP_NAME))


def default_cache_dir() -> Path:
    """Where derived model files live: $ASSISTANT_CACHE, else the platform's user cache."""
    override = os.environ.get("ASSISTANT_CACHE")
    return Path(override).expanduser() if override else platformdirs.user_cache_path(APP_NAME)


def load_settings(home: Path | None = None) -> Settings:
    """Settings for the data folder `home` (or the default one), with its config.toml applied."""
    home = Path(home).expanduser() if home else default_home()
    settings = Settings(home=home, cache_dir=default_cache_dir())
    path = home / CONFIG_FILE
    if not path.exists():
        settings.store_url = os.environ.get("ASSISTANT_STORE", "")
        return settings
    try:
        values = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc}); fix or delete it.") from exc
    known = {f.name: f for f in fields(Settings)}
    for key, value in values.items():
        if key in RETIRED:
            log.warning("%s: %s is no longer used; it can be removed", path, key)
            continue
        if key not in known or key == "home":
            raise ConfigError(f"{path}: unknown setting {key!r}; known: "
                              f"{', '.join(k for k in known if k != 'home')}.")
        current = getattr(settings, key)
        if isinstance(current, Path):
            value = Path(value).expanduser()
        elif not isinstance(value, type(current)):
            raise ConfigError(f"{path}: {key} must be a {type(current).__name__}, got {value!r}.")
        setattr(settings, key, value)
    settings.store_url = os.environ.get("ASSISTANT_STORE") or settings.store_url
    return settings


def positive_int(value: str) -> int:
    """A command-line count (memories, runs, queries): a whole number of at least 1."""
    try:
        n = int(value)
    except ValueError:
        raise ArgumentTypeError(f"{value!r} is not a whole number") from None
    if n < 1:
        raise ArgumentTypeError(f"{n} is not at least 1")
    return n
