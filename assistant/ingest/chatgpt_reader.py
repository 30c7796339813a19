"""ChatGPT export reader: the main thread of each conversation in conversations.json."""

from __future__ import annotations

import hashlib
import json
import logging
import math
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from assistant.ingest.types import ImportedConversation, ImportedTurn, ReadError

log = logging.getLogger(__name__)

_ROLES = frozenset({"user", "assistant"})


def read_chatgpt(path: Path, raw: bytes) -> tuple[str, list[ImportedConversation]]:
    """Read a ChatGPT conversations.json into conversations of user/assistant turns."""
    text, _, _ = scan_chatgpt(path, raw)
    return "ChatGPT export", list(stream_chatgpt(path, text))


def scan_chatgpt(path: Path, raw: bytes) -> tuple[str, int, int]:
    """Check a whole export before anything is stored, one conversation at a time so
    memory stays bounded: (decoded text, conversations, turns) with text to import."""
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ReadError(path, f"malformed ChatGPT export (invalid JSON: {exc})") from exc
    conversations = turns = 0
    for conversation in stream_chatgpt(path, text):
        conversations += 1
        turns += len(conversation.turns)
    if not conversations:
        raise ReadError(path, "empty: no text to import (no conversation has any messages)")
    return text, conversations, turns


def stream_chatgpt(path: Path, text: str) -> Iterator[ImportedConversation]:
    """The export's conversations that hold text, parsed one at a time, in file order."""
    fallback_time = datetime.fromtimestamp(path.stat().st_mtime, UTC).replace(tzinfo=None)
    for index, item in enumerate(_items(path, text)):
        if not isinstance(item, dict) or not isinstance(item.get("mapping"), dict):
            raise ReadError(
                path, f"malformed ChatGPT export (conversation {index} has no message mapping)"
            )
        conversation = _read_conversation(item, fallback_time)
        if conversation.turns:
            yield conversation
        else:
            log.info("%s: conversation %d has no user/assistant text; skipped", path.name, index)


def _items(path: Path, text: str) -> Iterator[object]:
    """The elements of the top-level JSON list, decoded one by one (a 30 MB export
    decoded whole takes gigabytes as Python objects)."""
    decoder = json.JSONDecoder()
    pos = _skip_space(text, 0)
    if not text.startswith("[", pos):
        try:  # valid JSON of another shape, or not JSON at all: say which
            json.loads(text)
        except (ValueError, RecursionError) as exc:
            raise _invalid(path, exc) from exc
        raise ReadError(path, "malformed ChatGPT export (expected a list of conversations)")
    pos = _skip_space(text, pos + 1)
    if text.startswith("]", pos):
        pos += 1
    else:
        while True:
            try:
                item, pos = decoder.raw_decode(text, pos)
            except (ValueError, RecursionError) as exc:
                raise _invalid(path, exc) from exc
            yield item
            pos = _skip_space(text, pos)
            if text.startswith("]", pos):
                pos += 1
                break
            if not text.startswith(",", pos):
                raise _invalid(path, json.JSONDecodeError("Expecting ',' delimiter", text, pos))
            pos = _skip_space(text, pos + 1)
    if _skip_space(text, pos) != len(text):
        raise _invalid(path, json.JSONDecodeError("Extra data", text, pos))


def _skip_space(text: str, pos: int) -> int:
    while pos < len(text) and text[pos] in " \t\r\n":
        pos += 1
    return pos


def _invalid(path: Path, exc: Exception) -> ReadError:
    reason = (str(exc) or type(exc).__name__)[:120]
    return ReadError(path, f"malformed ChatGPT export (invalid JSON: {reason})")


def _read_conversation(item: dict[str, Any], fallback_time: datetime) -> ImportedConversation:
    """One conversation: title, time, a stable id and the turns of its main thread."""
    mapping: dict[str, Any] = item["mapping"]
    messages = [_message(mapping.get(node_id)) for node_id in _main_thread(mapping, item)]
    found = [m for m in messages if m is not None]
    created = (
        _timestamp(item.get("create_time"))
        or min((t for _, _, t in found if t is not None), default=None)
        or fallback_time
    )
    turns = [ImportedTurn(role, text, when or created) for role, text, when in found]
    title = item.get("title")
    title = title.strip() if isinstance(title, str) and title.strip() else "Untitled conversation"
    external_id = item.get("id") or item.get("conversation_id")
    if not isinstance(external_id, str) or not external_id:
        # No id in the export: derive one that is stable across re-imports of the file.
        seed = f"{title}|{item.get('create_time')}|{turns[0].text if turns else ''}"
        external_id = "sha256:" + hashlib.sha256(seed.encode("utf-8", "replace")).hexdigest()
    return ImportedConversation(title, created, external_id, turns)


def _main_thread(mapping: dict[str, Any], item: dict[str, Any]) -> list[str]:
    """Node ids of the thread the user last saw, root first; branches are dropped."""
    current = item.get("current_node")
    seen: set[str] = set()  # guards against cycles in a hand-edited export
    if isinstance(current, str) and current in mapping:
        thread = []
        node_id: object = current
        while isinstance(node_id, str) and node_id in mapping and node_id not in seen:
            seen.add(node_id)
            thread.append(node_id)
            node_id = _field(mapping[node_id], "parent")
        return thread[::-1]
    roots = [k for k, node in mapping.items() if _field(node, "parent") not in mapping]
    thread = []
    node_id = roots[0] if roots else None
    while isinstance(node_id, str) and node_id in mapping and node_id not in seen:
        seen.add(node_id)
        thread.append(node_id)
        children = _field(mapping[node_id], "children")
        # Without current_node, the newest (last) branch is the one the user kept.
        node_id = children[-1] if isinstance(children, list) and children else None
    return thread


def _message(node: object) -> tuple[str, str, datetime | None] | None:
    """(role, text, time) of a user/assistant message node, or None for anything else."""
    message = _field(node, "message")
    role = _field(_field(message, "author"), "role")
    parts = _field(_field(message, "content"), "parts")
    if role not in _ROLES or not isinstance(parts, list):
        return None
    if _field(_field(message, "metadata"), "is_visually_hidden_from_conversation"):
        return None  # system scaffolding the user never saw
    # Parts may hold images or other objects; only the strings are text.
    text = "\n\n".join(p.strip() for p in parts if isinstance(p, str) and p.strip())
    if not text:
        return None
    return role, text, _timestamp(_field(message, "create_time"))


def _field(obj: object, key: str) -> Any:
    """obj[key] when obj is a dict, else None: exports vary, and some are hand-edited."""
    return obj.get(key) if isinstance(obj, dict) else None


def _timestamp(value: object) -> datetime | None:
    """A unix time as naive UTC, or None when missing or out of range."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    try:
        return datetime.fromtimestamp(value, UTC).replace(tzinfo=None)
    except (OverflowError, OSError, ValueError):
        return None
