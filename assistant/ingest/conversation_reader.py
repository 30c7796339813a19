"""The Markdown of `assistant conversations export`: written here and read back, so an
exported conversation imports as a conversation (not a document) with nothing lost.

The file opens with MARKER. Each conversation starts with a `<!-- conversation {json} -->`
line; each message with a `<!-- message {json} -->` line that gives its author, time, how
many lines its text has and, for an answer whose sources were kept, its sources (memory
id, label, date, kind, and whether the answer rests on it; never a memory's text), then
a heading for readers, a blank line and the text as written, then (with sources) a
`Sources: ...` line for readers. The counts let any text (headings, comment lines like
these) come back as it was; the headings, the summary and `Sources:` lines are for
people and are not read back. A file written before sources were kept reads as ever."""

from __future__ import annotations

import hashlib
import json
import re
from datetime import UTC, datetime
from pathlib import Path

from assistant.ingest.types import ImportedConversation, ImportedTurn, ReadError
from memory_store.records import ConversationRecord, MessageRecord, iso

MARKER = "<!-- assistant conversation export v1 -->"
_LINE = re.compile(r"<!-- (conversation|message) (\{.*\}) -->")
_AUTHORS = {"user": "You", "assistant": "Assistant"}
_SOURCE_KEYS = ("memory", "source", "date", "kind", "support")  # message_sources.entries
_SOURCES_LINE = "Sources: "


def is_conversation_export(raw: bytes) -> bool:
    """Whether a .md file was written by the conversation export (its first line)."""
    first = raw.split(b"\n", 1)[0].removeprefix(b"\xef\xbb\xbf").rstrip(b"\r")
    return first == MARKER.encode()


def to_markdown(conversations: list[tuple[ConversationRecord, list[MessageRecord]]]) -> str:
    """The export of these conversations, with their messages, as one Markdown text."""
    out = [MARKER]
    for conv, messages in conversations:
        out += ["", _comment("conversation", {"title": conv.title, "created": iso(conv.created_at),
                                              "updated": iso(conv.updated_at)}),
                f"# {' '.join(conv.title.split()) or 'Untitled conversation'}", "",
                f"Started {_shown(conv.created_at)}, last message {_shown(conv.updated_at)}, "
                f"{len(messages)} message{'s' * (len(messages) != 1)}."]
        for m in messages:
            lines = _lines(m.text)
            fields = {"role": m.role, "time": iso(m.created_at), "lines": len(lines)}
            out += ["", _comment("message", fields | ({} if m.sources is None else
                                                      {"sources": m.sources})),
                    f"### {_AUTHORS.get(m.role, m.role)}, {_shown(m.created_at)}", "", *lines]
            if m.sources:
                out += ["", _SOURCES_LINE + _readable(m.sources)]
    return "\n".join(out) + "\n"


def read_conversation_export(path: Path, raw: bytes) -> tuple[str, list[ImportedConversation]]:
    """The conversations of an exported Markdown file, checked whole (nothing is stored
    from a damaged one): (title, conversations)."""
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ReadError(path, f"conversation export is not UTF-8 text ({exc.reason} at byte "
                              f"{exc.start})") from exc
    lines = _lines(text)
    conversations: list[ImportedConversation] = []
    i, heading_ok, sources_line = 1, False, False  # line 0 is MARKER
    while i < len(lines):
        line = lines[i].rstrip("\r")
        found = _LINE.fullmatch(line)
        if found is None:
            # A conversation's title and summary lines, an answer's sources line, are for
            # readers; other text outside a message means the file was edited and its
            # line counts are off.
            if sources_line and line.startswith(_SOURCES_LINE):
                sources_line = False
            elif line.strip() and not heading_ok:
                raise _damaged(path, i, "text outside any message")
            i += 1
            continue
        fields = _fields(path, i, found[2])
        if found[1] == "conversation":
            conversations.append(ImportedConversation(
                _string(path, i, fields, "title"), _time(path, i, fields, "created"),
                "", []))
            heading_ok, sources_line = True, False
            i += 1
            continue
        if not conversations:
            raise _damaged(path, i, "a message before any <!-- conversation --> line")
        count = fields.get("lines")
        if isinstance(count, bool) or not isinstance(count, int) or count < 1:
            raise _damaged(path, i, "the message's \"lines\" is not a count of lines")
        if i + 3 + count > len(lines) or lines[i + 2].strip():
            raise _damaged(path, i, f"the message's {count} lines of text are not there")
        role = _string(path, i, fields, "role")
        if role not in _AUTHORS:
            raise _damaged(path, i, f"unknown author {role!r} (user or assistant)")
        sources = fields.get("sources")
        if sources is not None and not _well_formed(sources):
            raise _damaged(path, i, "the message's \"sources\" are not a list of "
                           f"{{{', '.join(_SOURCE_KEYS)}}}")
        conversations[-1].turns.append(ImportedTurn(
            role, "\n".join(lines[i + 3:i + 3 + count]), _time(path, i, fields, "time"),
            sources))
        heading_ok, sources_line = False, bool(sources)
        i += 3 + count
    if not conversations:
        raise ReadError(path, "empty: the conversation export holds no conversation")
    for conv in conversations:
        # Stable across imports of the same file; no store's ids are in the export.
        seed = f"{conv.title}|{iso(conv.created_at)}|{conv.turns[0].text if conv.turns else ''}"
        conv.external_id = "export:" + hashlib.sha256(seed.encode("utf-8", "replace")).hexdigest()
    return conversations[0].title or "Conversation export", conversations


def _comment(kind: str, fields: dict) -> str:
    # ">" escaped: a title holding "-->" must not end the HTML comment for viewers.
    text = json.dumps(fields, ensure_ascii=False).replace(">", "\\u003e")
    return f"<!-- {kind} {text} -->"


def _readable(sources: list[dict]) -> str:
    """`[1] notes.md (2026-03-02, the answer rests on it), [2] ...` on one line."""
    return ", ".join(
        f"[{n}] {' '.join((e['source'] or e['kind']).split())} ({e['date']}"
        f"{', the answer rests on it' if e['support'] else ''})"
        for n, e in enumerate(sources, start=1))


def _well_formed(sources: object) -> bool:
    """A list of entries as an answer's sources are kept, each with its keys in order."""
    return isinstance(sources, list) and all(
        isinstance(e, dict) and tuple(e) == _SOURCE_KEYS
        and isinstance(e["memory"], int) and not isinstance(e["memory"], bool)
        and all(isinstance(e[k], str) for k in ("source", "date", "kind"))
        and isinstance(e["support"], bool) for e in sources)


def _lines(message: str) -> list[str]:
    """A transcript message's lines as written (splitlines would also split at \\r and
    drop a last empty line: the counts would not give the text back)."""
    return message.split("\n")


def _shown(when: datetime) -> str:
    return f"{when:%Y-%m-%d %H:%M} UTC"


def _fields(path: Path, i: int, text: str) -> dict:
    try:
        fields = json.loads(text)
    except ValueError as exc:
        raise _damaged(path, i, f"its JSON is invalid ({exc.msg})") from exc
    if not isinstance(fields, dict):
        raise _damaged(path, i, "its JSON is not an object")
    return fields


def _string(path: Path, i: int, fields: dict, key: str) -> str:
    value = fields.get(key)
    if not isinstance(value, str):
        raise _damaged(path, i, f"{key!r} is missing or not text")
    return value


def _time(path: Path, i: int, fields: dict, key: str) -> datetime:
    """An ISO 8601 time as the store keeps times: naive UTC."""
    value = _string(path, i, fields, key)
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        raise _damaged(path, i, f"{key!r} is not an ISO 8601 time: {value!r}") from None
    return when.astimezone(UTC).replace(tzinfo=None) if when.tzinfo else when


def _damaged(path: Path, i: int, why: str) -> ReadError:
    return ReadError(path, f"damaged conversation export, line {i + 1}: {why}")
