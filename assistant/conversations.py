"""`assistant conversations list|export`: whole conversations out of the store, as
Markdown that `assistant import` reads back as conversations, or as JSON; and one
conversation as Markdown from the chat app (`export_conversation`).

An answer's sources go with it (each memory's id, label, date and kind, and whether the
answer rests on it; never a memory's text), as the store keeps them with the message:
read back on import. Messages from before sources were kept have none (JSON: null)."""

from __future__ import annotations

import argparse
import json
import re
import sys
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

from assistant.export import write_private
from assistant.ingest.conversation_reader import MARKER, to_markdown
from assistant.terminal import printable
from memory_store.records import ConversationRecord, MessageRecord, iso

if TYPE_CHECKING:  # the store's module loads SQLAlchemy; `assistant --help` need not
    from memory_store.base import StoreBase

Exported = list[tuple[ConversationRecord, list[MessageRecord]]]
EXPORT_FOLDER = "assistant-exports"  # in the home folder: where the chat app offers to write


def add_parser(sub) -> argparse.ArgumentParser:
    """The `conversations` command, added to the CLI's subparsers; returns its parser."""
    cv = sub.add_parser("conversations", help="list conversations, or export them as "
                        "Markdown (which `assistant import` reads back) or JSON")
    cv.add_argument("action", choices=["list", "export"], help="what to do")
    cv.add_argument("ids", type=int, nargs="*", metavar="ID",
                    help="with export: the conversations to export (default: all)")
    cv.add_argument("--out", type=Path, metavar="PATH", help="with export: FILE.md (all in "
                    "one file), FILE.json, or a folder (one Markdown file per conversation)")
    cv.add_argument("--json", action="store_true", help="with list: as JSON")
    cv.set_defaults(fn=cmd_conversations)
    return cv


def cmd_conversations(agent, args) -> int:
    store = agent.store
    if args.action == "list":
        rows = store.conversations()
        if args.json:
            print(json.dumps([_record(c) for c in rows], ensure_ascii=False, indent=2))
        for c in [] if args.json else rows:
            print(printable(f"#{c.id} {iso(c.updated_at)[:16].replace('T', ' ')}  "
                            f"{c.messages} messages  {c.title or '(untitled)'} ({c.origin})",
                            one_line=True))
        if not rows and not args.json:
            print("No conversations yet.")
        return 0
    if args.out is None:
        print("error: `conversations export` needs --out FILE.md, FILE.json or FOLDER",
              file=sys.stderr)
        return 2
    try:
        written = export_conversations(store, args.out, args.ids)
    except ValueError as exc:
        print(printable(f"error: {exc}", one_line=True), file=sys.stderr)
        return 2
    print(printable(f"exported {len(written)} conversation{'s' * (len(written) != 1)} to "
                    f"{args.out}", one_line=True))
    return 0


def export_conversations(store: StoreBase, out: Path, ids: list[int] | None = None
                         ) -> list[Path]:
    """Write the conversations (all, oldest first, or those of `ids` in that order) to
    `out` by its suffix: .md, .json, or else a folder of one .md each. Returns the files
    written; an unknown id or suffix is a ValueError, before anything is written."""
    known = {c.id: c for c in store.conversations()}
    missing = [i for i in ids or [] if i not in known]
    if missing:
        raise ValueError(f"no conversation #{', #'.join(map(str, missing))} "
                         "(see `assistant conversations list`)")
    chosen = [known[i] for i in ids] if ids else sorted(known.values(),
                                                        key=lambda c: (c.created_at, c.id))
    suffix = out.suffix.lower()
    if suffix not in {".md", ".json", ""} and not out.is_dir():
        raise ValueError(f"cannot export to {out}: use a .md or .json file name, or a folder")
    exported = [(c, store.messages(c.id)) for c in chosen]
    if out.is_dir() or suffix == "":
        files = [out / f"{c.id}-{_slug(c.title)}.md" for c, _ in exported]
        for f, one in zip(files, exported, strict=True):
            write_private(f, to_markdown([one]))
        return files
    write_private(out, to_markdown(exported) if suffix == ".md" else to_json(exported))
    return [out]


def default_path(title: str, today: date) -> Path:
    """Where the chat app offers to write a conversation: a folder of its own in the
    user's home, found where people look for files (the data folder is the program's,
    and a store URL may have none), one file per conversation and day."""
    return Path("~", EXPORT_FOLDER, f"{_slug(title)}-{today:%Y-%m-%d}.md")


def export_conversation(agent, conversation_id: int, out: Path) -> Path:
    """Write one conversation, as `conversations export` does, to `out` (a .md file;
    `~` is the home folder); returns the file. OSError if it cannot be written."""
    out = out.expanduser()
    if out.suffix.lower() != ".md":
        raise ValueError(f"cannot export to {out}: use a .md file name")
    found = [c for c in agent.conversations() if c.id == conversation_id]
    if not found:
        raise ValueError(f"no conversation #{conversation_id} (deleted?)")
    conv = found[0]
    write_private(out, to_markdown([(conv, agent.transcript(conversation_id))]))
    return out


def to_json(exported: Exported) -> str:
    return json.dumps({"format": MARKER[5:-4], "conversations": [
        _record(c) | {"messages": [{"turn": m.turn, "role": m.role, "time": iso(m.created_at),
                                    "text": m.text, "sources": m.sources} for m in messages]}
        for c, messages in exported]}, ensure_ascii=False, indent=2) + "\n"


def _record(c: ConversationRecord) -> dict:
    return {"id": c.id, "title": c.title, "origin": c.origin, "created": iso(c.created_at),
            "updated": iso(c.updated_at), "messages": c.messages}


def _slug(title: str) -> str:
    """A file-name-safe short form of a title."""
    return re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")[:40].rstrip("-") or "untitled"
