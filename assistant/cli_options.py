"""The command line's own parser and the options every command takes."""

from __future__ import annotations

import argparse
import re
from pathlib import Path


class Parser(argparse.ArgumentParser):
    """Usage errors quote command-line words: a URL among them shows without its password."""

    def error(self, message: str):
        from memory_store.urls import redacted

        url = r"[A-Za-z][\w+.-]*://\S+?(?=['\"]?(\s|$))"  # up to a closing quote
        super().error(re.sub(url, lambda m: redacted(m[0]), message))


def global_options(p: argparse.ArgumentParser, default=None) -> None:
    p.add_argument("--home", type=Path, default=default, help="data folder (default: "
                   "$ASSISTANT_HOME or the platform's user data folder)")
    p.add_argument("--store", default=default, help="where the memories are: sqlite (in the "
                   "data folder), sqlite:///FOLDER or postgresql+psycopg://USER@HOST/DB "
                   "(default: $ASSISTANT_STORE or `store_url` in config.toml)")
    p.add_argument("-v", "--verbose", action="store_true", default=default or False,
                   help="log to stderr too")
    p.add_argument("--model", default=default, help="who answers: embedded, a model folder "
                   "or .gguf file, or an OpenAI-compatible server URL such as "
                   "http://localhost:11434/v1 (default: `model` in config.toml)")
    p.add_argument("--adapter", default=default, help="LoRA for a local model: builtin, none, "
                   "or a file made by `assistant train-generator` (default: `adapter` in "
                   "config.toml)")
