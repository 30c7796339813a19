"""Every memory to a JSON or Markdown file the user owns (memory browser, /export);
write_private also writes the conversation export (assistant/conversations.py)."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from memory_store.records import iso

if TYPE_CHECKING:  # the store's module loads SQLAlchemy; the CLI imports this one
    from memory_store.base import StoreBase

PAGE = 1000


def export_memories(store: StoreBase, path: Path) -> int:
    """Write all memories, newest first, to `path` by its suffix; returns how many."""
    suffix = path.suffix.lower()
    if suffix not in {".json", ".md"}:
        raise ValueError(f"cannot export to {path}: use a .json or .md file name")
    hits, offset = [], 0
    while page := store.list_memories(limit=PAGE, offset=offset):
        hits += page
        offset += PAGE
    if suffix == ".json":
        body = json.dumps([h.to_json() for h in hits], ensure_ascii=False, indent=2) + "\n"
    else:
        lines = ["# Memories", ""]
        for h in hits:
            flags = " (pinned)" if h.pinned else ""
            flags += f" (superseded by #{h.superseded_by})" if h.superseded_by else ""
            lines += [f"## #{h.id} {h.kind}, {iso(h.created_at)[:10]}{flags}",
                      f"Source: {h.source}", "", h.text, ""]
        body = "\n".join(lines)
    write_private(path, body)
    return len(hits)


def write_private(path: Path, body: str) -> None:
    """Write `body` to `path` whole or not at all, creating its folder."""
    path = path.expanduser()
    path.parent.mkdir(parents=True, exist_ok=True)
    # A private temp file of our own (O_EXCL, 0600, unpredictable name), renamed over the
    # target: a symlink planted at a guessable temp path cannot redirect the memories.
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(body)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
