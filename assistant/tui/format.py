"""How memories and sources read on screen (plain functions, no widgets)."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from assistant.memory.text import body
from memory_store.records import Hit

_TURN = re.compile(r"^conversation:(?P<cid>\d+)#turn=(?P<turn>\d+)$")
_SUMMARY = re.compile(r"^conversation:(?P<cid>\d+)#summary$")


def local_day(when: datetime) -> str:
    """A stored (naive UTC) time as the user's local date: 3 May 2026."""
    local = when.replace(tzinfo=UTC).astimezone()
    return f"{local.day} {local:%b %Y}"


def source_label(hit: Hit, titles: dict[int, str] | None = None) -> str:
    """`report.pdf#page=2` -> `report.pdf, page 2`; a chat turn -> `"Title", turn 3`."""
    titles = titles or {}
    if m := _TURN.match(hit.source):
        title = titles.get(int(m["cid"]), f"conversation {m['cid']}")
        return f"\u201c{title}\u201d, turn {m['turn']}"
    if m := _SUMMARY.match(hit.source):
        return f"summary of \u201c{titles.get(int(m['cid']), 'conversation ' + m['cid'])}\u201d"
    if hit.source.startswith("mcp:"):  # written by another AI tool through `assistant mcp`
        return f"{hit.source[4:]} via MCP"
    path, _, where = hit.source.partition("#")
    if where.startswith("page="):
        return f"{path}, page {where[5:]}"
    return f"{path}, {where}" if where else path or hit.kind


def snippet(hit: Hit, limit: int = 160) -> str:
    """The memory's text on one line, without its date (shown separately)."""
    flat = " ".join(body(hit).split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "\u2026"


def flags(hit: Hit) -> str:
    out = []
    if hit.pinned:
        out.append("pinned")
    if hit.superseded_by is not None:
        out.append(f"superseded by #{hit.superseded_by}")
    return f" [{', '.join(out)}]" if out else ""


HELP_KEYS = ("Keys: Enter sends, Ctrl+J (or Alt+Enter) a new line, Ctrl+N new chat, "
             "Ctrl+O import, Ctrl+B memories, Ctrl+F search chats, Ctrl+S export this chat, "
             "Ctrl+L show or hide the chats, Ctrl+R the recalled memories, "
             "Esc stop the answer, Ctrl+P command palette, Ctrl+Q quit.")


def conflict_note(c) -> str:
    """What the chat says when a new statement replaces an older one (agent's Conflict)."""
    return (f"Updated what I know ({c.subject}): \u201c{snippet(c.new, 80)}\u201d "
            f"({local_day(c.new.created_at)}) replaces \u201c{snippet(c.old, 80)}\u201d "
            f"({local_day(c.old.created_at)}). Both are kept; answers use the newer.")
