"""`assistant chat --plain [--json]`: the chat as lines on stdin and stdout, for scripts,
pipes and screen readers.

One input line is one message or command, and gets its whole reply (with --json exactly
one JSON object) before the next line is read. Every line goes through the same Agent
calls the TUI makes (assistant/tui/screens/chat.py): `chat_turn`, `remember`,
`forget_candidates` and `forget`, `search`, `import_paths`, `export`, `switch_model`, and
`summarize` when a conversation is left (/new, end of input); so a message sent here is
stored, recalled and answered exactly as one typed there. A bad line gets an error reply
and the next line is read: nothing said before it is lost. No Textual here.
"""

from __future__ import annotations

import json
import logging
import re
import shlex
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from assistant.commands import SLASH_COMMANDS, CommandError, parse
from assistant.conversations import export_conversation
from assistant.terminal import CONTROL, printable
from assistant.tui.format import local_day, snippet, source_label  # no Textual in it
from assistant.wording import plural as _plural
from assistant.wording import title_of
from memory_store.records import Hit

if TYPE_CHECKING:
    from assistant.agent import Agent, Conflict

log = logging.getLogger(__name__)

# The TUI takes any length, but one line of stdin is read whole into memory and stored as
# one message in encoder-sized parts: ~40 pages of pasted text still go through; a longer
# text is a document, and /import chunks it and cites its pages and headings.
MAX_LINE_CHARS = 100_000
SEARCH_K = 10  # /search and /forget QUERY list as many as `assistant search` does
LIST_K = 20  # /memories lists as many as `assistant memories list` does
SOURCES_SHOWN = 3  # the sources line stays one short line; --json has them all

# json.dumps escapes C0 itself; DEL and C1 would reach a terminal raw, and U+2028/9 (and
# NEL, in C1) split a line for str.splitlines, which would break one object per line.
_JSON_UNSAFE = re.compile(r"[\x7f-\x9f\u2028\u2029]")
_IDS = re.compile(r"#\d+(?:[\s,]+#\d+)*")

# /help in plain mode: there is no dialog to confirm in, so /forget lists, ids delete.
HELP = {
    **SLASH_COMMANDS,
    "forget": "list the memories matching QUERY with their ids, deleting nothing: "
              "/forget QUERY; then delete the ones you choose: /forget #12 #13",
    "import": "import files or folders as knowledge: /import PATH... (quote a path with "
              "spaces)",
    "search": "search all memories: /search QUERY",
    "memories": f"list the {LIST_K} newest memories",
    "export-chat": "export this conversation as Markdown (/import reads it back): "
                   "/export-chat FILE.md",
}
HELP_NOTES = (
    "Or in words: remember that ..., forget ... (lists, like /forget QUERY).",
    "One message per line; end of input ends the chat (and writes its summary).",
    f"Refused with an error, nothing stored: an empty line, a line over {MAX_LINE_CHARS:,} "
    "characters, a line that is not UTF-8, a line with terminal control characters.",
)


def json_line(obj: dict[str, Any]) -> str:
    """One JSON object on one line that no terminal obeys and no line splitter splits."""
    text = json.dumps(obj, ensure_ascii=False)
    return _JSON_UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


class LineError(ValueError):
    """A line that could not be carried out; the reason says why and what to do."""


@dataclass
class Reply:
    """What one line got: `data` for --json, `lines` for plain text; `error` when it
    failed (in part: an import with a file that could not be read)."""

    data: dict[str, Any] = field(default_factory=dict)
    lines: list[str] = field(default_factory=list)
    error: str | None = None


def _strip_ending(raw: bytes | str) -> bytes | str:
    ending = b"\n" if isinstance(raw, bytes) else "\n"
    cr = b"\r" if isinstance(raw, bytes) else "\r"
    raw = raw[:-1] if raw.endswith(ending) else raw
    return raw[:-1] if raw.endswith(cr) else raw


def read_line(number: int, raw: bytes | str) -> tuple[str, str | None]:
    """(the line as text, None), or (as much of it as can be shown, why it is refused).

    Refused lines are not repaired: a memory is kept for good, so guessing at what bytes
    that are not UTF-8 meant, or dropping control characters from it, would store words the
    user did not send. The reply says what to send instead."""
    raw = _strip_ending(raw)
    if isinstance(raw, bytes):
        text = raw.decode("utf-8", "replace")
        try:
            raw.decode("utf-8")
            bad = None
        except UnicodeDecodeError as exc:
            bad = (f"line {number} is not valid UTF-8 (byte 0x{raw[exc.start]:02x} at byte "
                   f"{exc.start + 1}); nothing was stored: send the line as UTF-8 text")
    else:
        text, bad = raw, None
        try:
            raw.encode("utf-8")
        except UnicodeEncodeError as exc:  # lone surrogates, e.g. from surrogateescape
            text = raw.encode("utf-8", "replace").decode("utf-8")
            bad = (f"line {number} is not valid UTF-8 (character {exc.start + 1}); nothing "
                   "was stored: send the line as UTF-8 text")
    if number == 1:
        text = text.removeprefix("\ufeff")  # a byte-order mark some editors write first
    if len(text) > MAX_LINE_CHARS:
        return (text[:200] + "\u2026", f"line {number} is {len(text):,} characters long; a "
                f"message may be at most {MAX_LINE_CHARS:,}: nothing was stored; /import a "
                "longer text as a file")
    if bad:
        return text, bad
    if CONTROL.search(text):
        shown = printable(text)
        shown = shown if len(shown) <= 60 else shown[:59] + "\u2026"
        return text, (f"line {number} holds terminal control characters ({shown}); nothing "
                      "was stored: send plain text")
    if not text.strip():
        return text, f"line {number}: empty message: nothing to send"
    return text, None


class PlainChat:
    """One plain-mode session: the open conversation and what each line gets."""

    def __init__(self, agent: Agent, out: TextIO, as_json: bool,
                 conversation_id: int | None = None) -> None:
        self.agent = agent
        self.out = out
        self.as_json = as_json
        self.conversation_id = conversation_id
        self.failed = False
        self.commands = {
            "chat": self._chat, "new": self._new, "help": self._help,
            "remember": self._remember, "forget": self._forget, "search": self._search,
            "memories": self._memories, "import": self._import, "export": self._export,
            "model": self._model, "accept": self._accept, "reject": self._reject,
            "export-chat": self._export_chat,
        }

    # One line ----------------------------------------------------------------------------

    def handle(self, number: int, raw: bytes | str) -> None:
        """Carry out one input line and write its reply; never raises for a bad line."""
        text, refused = read_line(number, raw)
        if refused:
            self._write(number, text, None, Reply(error=refused))
            return
        try:
            command = parse(text)
        except CommandError as exc:
            self._write(number, text, None, Reply(error=f"line {number}: {exc}"))
            return
        try:
            reply = self.commands[command.name](command.arg, text.strip())
        except LineError as exc:
            reply = Reply(error=str(exc))
        except Exception as exc:  # the store, a model, the disk: say so, read on
            log.exception("plain chat: line %d failed", number)
            what = "the message" if command.name == "chat" else f"/{command.name}"
            reply = Reply(error=f"{what} failed: {exc}")
        if reply.error is not None:
            reply.error = f"line {number}: {reply.error}"
        self._write(number, text, None if command.name == "chat" else command.name, reply)

    def _write(self, number: int, text: str, command: str | None, reply: Reply) -> None:
        self.failed = self.failed or reply.error is not None
        if self.as_json:
            obj: dict[str, Any] = {"line": number, "message": text}
            if command:
                obj["command"] = command
            obj.update(reply.data)
            if reply.error is not None:
                obj["error"] = reply.error
            obj["conversation"] = self.conversation_id
            self.out.write(json_line(obj) + "\n")
        else:
            lines = list(reply.lines)
            if reply.error is not None:
                lines.append(f"error: {reply.error}")
            self.out.write("".join(printable(line) + "\n" for line in lines))
        self.out.flush()

    def finish(self) -> int:
        """End of input: the open conversation's summary (as the TUI writes on quit); the
        exit status, 1 when any line (or the summary) failed."""
        if self.conversation_id is not None:
            try:
                self.agent.summarize(self.conversation_id)
            except Exception as exc:  # every line was answered: only the summary is lost
                log.exception("plain chat: the summary failed")
                print(printable(f"error: could not write the summary of conversation "
                                f"{self.conversation_id}: {exc}"), file=sys.stderr)
                self.failed = True
        return 1 if self.failed else 0

    # Conversations -----------------------------------------------------------------------

    def _conversation_for(self, first_line: str) -> int:
        """The open conversation, started (titled as in the TUI) by its first message."""
        if self.conversation_id is None:
            title = title_of(first_line) or "New conversation"
            self.conversation_id = self.agent.new_conversation(title)
        return self.conversation_id

    def _titles(self) -> dict[int, str]:
        return {c.id: c.title for c in self.agent.conversations()}

    def _new(self, arg: str, line: str) -> Reply:
        # The TUI summarises a conversation when the user switches away from it.
        left, self.conversation_id = self.conversation_id, None
        summary = self.agent.summarize(left) if left is not None else None
        return Reply({"previous": left, "summary": summary.to_json() if summary else None},
                     ["new conversation: the next message starts it"
                      + (" (the last one's summary is written)" if summary else "")])

    # Messages ----------------------------------------------------------------------------

    def _chat(self, text: str, line: str) -> Reply:
        answer = self.agent.chat_turn(self._conversation_for(text), text)
        try:
            for _ in answer:  # written whole, once checked: one reply, as it was stored
                pass
        except Exception as exc:
            raise LineError(f"answering failed: {exc} (your message was stored)") from exc
        finally:
            answer.close()  # persists the answer and the LTM-T state (idempotent)
        support, titles = answer.support, self._titles()
        lines = [self._conflict_note(c) for c in answer.conflicts]
        lines.append(answer.text or "(no answer)")
        if support is not None:  # as the TUI's subtitle: where it comes from
            quote = "quoting " if support.kind == "chunk" else "from "
            lines.append(f"({quote}{source_label(support, titles)}, "
                         f"{local_day(support.created_at)})")
        lines.append(self._sources_line(answer.sources, support, titles))
        lines += [f"proposed memory #{h.id} (not pinned; accept or reject it in the app): "
                  f"{h.text}" for h in answer.proposals]
        return Reply({"answer": answer.text, "verdict": answer.reply.verdict,
                      "support": support.to_json() if support else None,
                      "sources": [h.to_json() for h in answer.sources],
                      "conflicts": [self._conflict_json(c) for c in answer.conflicts],
                      "proposals": [h.to_json() for h in answer.proposals]},
                     lines)

    @staticmethod
    def _sources_line(hits: list[Hit], support: Hit | None, titles: dict[int, str]) -> str:
        if not hits:
            return "sources: none"
        shown = [f"{'*' if support is not None and h.id == support.id else ''}[{n}] "
                 f"{source_label(h, titles)} ({local_day(h.created_at)})"
                 for n, h in enumerate(hits[:SOURCES_SHOWN], start=1)]
        more = f"; {len(hits) - SOURCES_SHOWN} more" if len(hits) > SOURCES_SHOWN else ""
        return "sources: " + "; ".join(shown) + more

    @staticmethod
    def _conflict_note(c: Conflict) -> str:
        return (f"Updated what I know ({c.subject}): \u201c{snippet(c.new, 80)}\u201d "
                f"({local_day(c.new.created_at)}) replaces \u201c{snippet(c.old, 80)}\u201d "
                f"({local_day(c.old.created_at)}). Both are kept; answers use the newer.")

    @staticmethod
    def _conflict_json(c: Conflict) -> dict[str, Any]:
        return {"subject": c.subject, "old": c.old.to_json(), "new": c.new.to_json()}

    # Memory ------------------------------------------------------------------------------

    def _remember(self, fact: str, line: str) -> Reply:
        hit, conflicts = self.agent.remember(self._conversation_for(line), fact, said=line)
        return Reply({"memory": hit.to_json(),
                      "conflicts": [self._conflict_json(c) for c in conflicts]},
                     [f"I will remember that: {fact}",
                      *(self._conflict_note(c) for c in conflicts)])

    def _forget(self, arg: str, line: str) -> Reply:
        """/forget QUERY lists (the TUI's confirmation dialog, as text); /forget #12 #13
        deletes exactly those: a script never deletes what it has not seen."""
        if _IDS.fullmatch(arg):
            ids = [int(i) for i in re.findall(r"\d+", arg)]
            forgotten = [i for i in dict.fromkeys(ids) if self.agent.forget([i])]
            missing = [i for i in dict.fromkeys(ids) if i not in forgotten]
            lines = [f"forgot {_plural(len(forgotten), 'memory', 'memories')}"
                     + (f": {' '.join(f'#{i}' for i in forgotten)}" if forgotten else "")]
            return Reply({"forgotten": forgotten, "missing": missing}, lines,
                         error=(f"no memory {' '.join(f'#{i}' for i in missing)}: nothing "
                                "to forget there") if missing else None)
        hits = self.agent.forget_candidates(arg)
        if not hits:
            return Reply({"candidates": []}, [f"no memory matches \u201c{arg}\u201d"])
        lines = [f"nothing deleted yet; memories matching \u201c{arg}\u201d:"]
        lines += [f"#{h.id} {local_day(h.created_at)}: {snippet(h, 90)}" for h in hits]
        lines.append(f"to delete, send: /forget {' '.join(f'#{h.id}' for h in hits)} "
                     "(leave out any to keep)")
        return Reply({"candidates": [h.to_json() for h in hits]}, lines)

    def _hits(self, hits: list[Hit], empty: str) -> Reply:
        titles = self._titles() if hits else {}
        lines = [f"#{h.id} {local_day(h.created_at)}, {source_label(h, titles)}: "
                 f"{snippet(h, 120)}" for h in hits]
        return Reply({"hits": [h.to_json() for h in hits]}, lines or [empty])

    def _accept(self, arg: str, line: str) -> Reply:
        """/accept lists what models proposed to remember; /accept #12 keeps it (pinned,
        read as the user's fact from then on)."""
        if not arg:
            return self._hits(self.agent.proposals.pending(), "no proposed memories")
        kept = [self.agent.proposals.accept(i)[0] for i in self._proposal_ids(arg)]
        return Reply({"accepted": [h.to_json() for h in kept]},
                     [f"kept #{h.id}: {snippet(h, 120)}" for h in kept])

    def _reject(self, arg: str, line: str) -> Reply:
        ids = self._proposal_ids(arg)
        for i in ids:
            self.agent.proposals.reject(i)
        return Reply({"rejected": ids}, [f"dropped {' '.join(f'#{i}' for i in ids)}"])

    def _proposal_ids(self, arg: str) -> list[int]:
        if not _IDS.fullmatch(arg):
            raise LineError(f"give the ids of proposed memories, like #12 #13, not {arg!r}")
        ids = list(dict.fromkeys(int(i) for i in re.findall(r"\d+", arg)))
        pending = {h.id for h in self.agent.proposals.pending()}
        if missing := [i for i in ids if i not in pending]:
            raise LineError(f"{' '.join(f'#{i}' for i in missing)}: not a proposed memory "
                            "awaiting an answer (see /accept); nothing changed")
        return ids

    def _search(self, query: str, line: str) -> Reply:
        return self._hits(self.agent.search(query, SEARCH_K),
                          f"no memory matches \u201c{query}\u201d")

    def _memories(self, arg: str, line: str) -> Reply:
        return self._hits(self.agent.search("", LIST_K), "no memories yet")

    def _import(self, arg: str, line: str) -> Reply:
        try:
            paths = [Path(p).expanduser() for p in shlex.split(arg)]
        except ValueError as exc:  # an unclosed quote
            raise LineError(f"/import: {exc}; quote each path with spaces whole") from None
        report = self.agent.import_paths(paths)
        lines = [f"imported {p}: {_plural(n, 'memory', 'memories')}"
                 for p, n in report.imported]
        lines += [f"skipped {p}: {why}" for p, why in report.skipped]
        lines += [f"could not import {e.path}: {e.reason}" for e in report.failed]
        data = {"imported": [{"path": str(p), "memories": n} for p, n in report.imported],
                "skipped": [{"path": str(p), "reason": why} for p, why in report.skipped],
                "failed": [{"path": str(e.path), "reason": e.reason} for e in report.failed]}
        error = (f"{_plural(len(report.failed), 'file', 'files')} could not be imported"
                 if report.failed else None)
        return Reply(data, lines or ["nothing to import there"], error)

    def _export(self, path: str, line: str) -> Reply:
        target = Path(path).expanduser()
        try:
            n = self.agent.export(target)
        except (OSError, ValueError) as exc:
            raise LineError(f"/export: {exc}") from None
        return Reply({"exported": n, "path": str(target)},
                     [f"exported {_plural(n, 'memory', 'memories')} to {target}"])

    def _export_chat(self, path: str, line: str) -> Reply:
        if self.conversation_id is None or not path:
            raise LineError("/export-chat: needs an open conversation and a FILE.md")
        try:
            target = export_conversation(self.agent, self.conversation_id, Path(path))
        except (OSError, ValueError) as exc:
            raise LineError(f"/export-chat: {exc}") from None
        return Reply({"exported": self.conversation_id, "path": str(target)},
                     [f"exported this conversation to {target}"])

    def _model(self, spec: str, line: str) -> Reply:
        try:
            name = self.agent.switch_model(spec)
        except Exception as exc:  # the current model keeps answering
            raise LineError(f"cannot use {spec}: {exc}; answers still come from "
                            f"{self.agent.generator_name}") from None
        return Reply({"model": name}, [f"answers now come from {name}"])

    def _help(self, arg: str, line: str) -> Reply:
        return Reply({"commands": HELP, "notes": list(HELP_NOTES)},
                     [f"/{name} \u2014 {what}" for name, what in HELP.items()]
                     + list(HELP_NOTES))


def run(agent: Agent, lines: Iterable[bytes | str], out: TextIO, as_json: bool = False,
        conversation_id: int | None = None) -> int:
    """Chat line by line: each of `lines` (bytes as read from stdin, or text) gets its reply
    on `out` before the next is read. The conversation is `conversation_id`, or a new one
    started by the first message (titled by it, as in the TUI); /new starts another. At
    the end of `lines` the open conversation's summary is written. Returns the exit status:
    0, or 1 when any line got an error (the lines after it were still carried out)."""
    chat = PlainChat(agent, out, as_json, conversation_id)
    for number, raw in enumerate(lines, start=1):
        chat.handle(number, raw)
    return chat.finish()
