"""The command line's own parser and the options every command takes."""

from __future__ import annotations

import argparse
import contextlib
import re
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO

_SERVED = threading.local()  # (out, err) of the served request this thread parses


@contextlib.contextmanager
def printing_to(out: TextIO, err: TextIO) -> Iterator[None]:
    """Help and usage errors of parsers used in this thread go to `out` and `err` (a
    served request's), not to the process's stdout and stderr; other threads unaffected."""
    _SERVED.streams = (out, err)
    try:
        yield
    finally:
        _SERVED.streams = None


class Parser(argparse.ArgumentParser):
    """Usage errors quote command-line words: a URL among them shows without its password."""

    def _print_message(self, message: str, file=None) -> None:
        streams = getattr(_SERVED, "streams", None)
        if streams is None:
            return super()._print_message(message, file)
        if message:  # argparse passes sys.stdout for help, sys.stderr for errors
            (streams[0] if file is sys.stdout else streams[1]).write(message)

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
