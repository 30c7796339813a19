"""`assistant mcp`: this memory as a Model Context Protocol server over stdio, so other AI
tools (Claude Desktop, Claude Code, editors, agents) can search it, ask it, add to it and
forget from it, on the same store and settings as the chat.

Every tool runs through the agent the chat uses: search is LTM-T recall, `ask` is the one
answer path (grounded, with its supporting memory), `remember` stores a pinned fact whose
source names the calling client (`mcp:<client>`), so the user sees in the app who wrote
it and can forget it there. A bad argument or a failed call comes back as a tool error
(`is_error`) and the server keeps serving.
"""

from __future__ import annotations

import logging
import re
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Annotated, Literal

from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp_types import ToolAnnotations
from pydantic import AfterValidator, Field, StringConstraints

from assistant.answer.protocol import GeneratorUnavailable
from assistant.config import ConfigError
from assistant.mcp.config import print_config_command
from assistant.mcp.results import (
    Answered,
    Conversation,
    ConversationInfo,
    Forgotten,
    ImportResult,
    Memory,
    Remembered,
    Stats,
    memory_json,
    stats_json,
)
from assistant.shipped import MissingArtefactError
from memory_store.records import iso

log = logging.getLogger(__name__)
Kind = Literal["turn", "chunk", "fact", "summary"]
_CLIENT = re.compile(r"[^A-Za-z0-9._-]+")
# Failures whose message is written for the user (which server, which file, what to do):
# the client is told it; anything else stays in the log, as the SDK does.
EXPLAINED = (GeneratorUnavailable, MissingArtefactError, ConfigError)
READS = ToolAnnotations(read_only_hint=True, idempotent_hint=True, open_world_hint=False)


def _not_blank(value: str) -> str:
    if not value:
        raise ValueError("is blank (only white space): write the words themselves")
    return value


def words(description: str, max_length: int | None = None):
    """A text argument, stripped before it is checked, so that a blank one is refused."""
    return Annotated[str, StringConstraints(strip_whitespace=True, max_length=max_length),
                     AfterValidator(_not_blank),
                     Field(description=description,
                           json_schema_extra={"minLength": 1, "pattern": r"\S"})]


@contextmanager
def explained() -> Iterator[None]:
    """Turn a failure the user can act on into a tool error that says what it was."""
    try:
        yield
    except EXPLAINED as exc:
        log.warning("tool call failed: %s", exc)
        raise ToolError(str(exc)) from exc


def client_name(ctx: Context) -> str:
    """The calling client's name from its handshake, safe to keep in a source."""
    params = getattr(ctx.session, "client_params", None)
    info = getattr(params, "client_info", None)
    name = _CLIENT.sub("-", getattr(info, "name", "") or "").strip("-")[:40]
    return name or "unknown"


def _day(value: str | None, field: str) -> datetime | None:
    if value is None:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        raise ToolError(f"{field}: {value!r} is not a date such as 2026-05-01") from None


def allowed_path(path: str, folders: list[Path]) -> Path:
    """`path` resolved (links followed), or a ToolError unless it lies in an allowed
    folder: a connected tool must not make the memory read the disk at will."""
    if not folders:
        raise ToolError("importing through MCP is off: no folder is allowed. Add "
                        "mcp_import_folders = [\"/path/to/folder\"] to config.toml in the "
                        "assistant's data folder.")
    resolved = Path(path).expanduser().resolve()
    if not any(resolved.is_relative_to(f) for f in folders):
        raise ToolError(f"{path}: outside the folders allowed for import "
                        f"({', '.join(str(f) for f in folders)}); refused.")
    return resolved


def build_server(agent) -> MCPServer:
    """The MCP server over `agent`'s store; tool calls run one at a time."""
    listed = agent.settings.mcp_import_folders
    if not all(isinstance(f, str) for f in listed):
        raise ConfigError(f"{agent.settings.home / 'config.toml'}: mcp_import_folders must "
                          f"be a list of folder paths, got {listed!r}.")
    folders = [Path(f).expanduser().resolve() for f in listed]
    lock = threading.Lock()
    server = MCPServer(
        name="assistant-memory", version="0.1.0",
        instructions="A person's long-term memory: their past conversations and imported "
                     "documents. Search it before answering questions about them; every "
                     "memory has its source and date. Use remember for facts worth keeping.")

    @server.tool(description="Search the memory (conversations, documents, remembered facts)"
                             " by meaning and words, ranked by LTM-T. Returns each memory's "
                             "id, text, kind, source, date and LTM-T weight.",
                 annotations=READS)
    def search_memory(
        query: words("what to look for, in plain words"),
        k: Annotated[int, Field(ge=1, le=100, description="how many memories")] = 10,
        kind: Annotated[Kind | None, Field(description="only this kind: turn (a chat "
                        "message), chunk (a document part), fact, summary")] = None,
        since: Annotated[str | None, Field(description="only from this date on, "
                         "YYYY-MM-DD")] = None,
        until: Annotated[str | None, Field(description="only before this date, "
                         "YYYY-MM-DD")] = None,
    ) -> list[Memory]:
        filters = {"kinds": (kind,) if kind else None, "since": _day(since, "since"),
                   "until": _day(until, "until")}
        with lock, explained():
            return [memory_json(h) for h in agent.recall(query, k, **filters)]

    @server.tool(description="Answer a question from the memory, the way the assistant's "
                             "own chat does: the answer, its verdict (answered or "
                             "abstained: it does not know, and says what is closest), the "
                             "memory that supports it, and the sources.",
                 # Not read-only: a tool-calling model may remember what it is told.
                 annotations=ToolAnnotations(read_only_hint=False, destructive_hint=False,
                                             idempotent_hint=False, open_world_hint=True))
    def ask(question: words("the question, as the user would ask it")) -> Answered:
        with lock, explained():
            answer = agent.ask(question)
            text = "".join(answer)
            support = answer.support
            return {"answer": text, "verdict": answer.reply.verdict,
                    "support": memory_json(support) if support else None,
                    "sources": [memory_json(h) for h in answer.sources]}

    @server.tool(description="Remember a fact for good (pinned). Its source records the "
                             "calling client; the user can see and forget it.",
                 # Additive: a fact it supersedes is kept as history.
                 annotations=ToolAnnotations(read_only_hint=False, destructive_hint=False,
                                             idempotent_hint=False, open_world_hint=False))
    def remember(fact: words("the fact, as one self-contained sentence", max_length=4000),
                 ctx: Context) -> Remembered:
        with lock, explained():
            hit, conflicts = agent.remember(None, fact, source=f"mcp:{client_name(ctx)}",
                                            speaker="")
            return {"remembered": memory_json(hit),
                    "replaces": [memory_json(c.old) for c in conflicts]}

    @server.tool(description="Forget one memory by its id (from search_memory); returns "
                             "what was removed. There is no forgetting by query.",
                 annotations=ToolAnnotations(read_only_hint=False, destructive_hint=True,
                                             idempotent_hint=True, open_world_hint=False))
    def forget(memory_id: Annotated[int, Field(ge=1, description="the memory's id, from "
                                               "search_memory")]) -> Forgotten:
        with lock, explained():
            hit = agent.memory(memory_id)
            if hit is None or not agent.forget([memory_id]):
                raise ToolError(f"no memory #{memory_id}")
            return {"forgotten": memory_json(hit)}

    @server.tool(description="The conversations in the memory, newest first.",
                 annotations=READS)
    def list_conversations() -> list[ConversationInfo]:
        with lock, explained():
            return [{"id": c.id, "title": c.title, "origin": c.origin,
                     "created": iso(c.created_at), "updated": iso(c.updated_at),
                     "messages": c.messages} for c in agent.conversations()]

    @server.tool(description="One conversation's messages in order (the last N if given).",
                 annotations=READS)
    def get_conversation(
        conversation_id: Annotated[int, Field(ge=1, description="the conversation's id, "
                                              "from list_conversations")],
        last: Annotated[int | None, Field(ge=1, description="only the last N messages")] = None,
    ) -> Conversation:
        with lock, explained():
            found = [c for c in agent.conversations() if c.id == conversation_id]
            if not found:
                raise ToolError(f"no conversation #{conversation_id}")
            messages = agent.store.messages(conversation_id, last=last)
            return {"id": conversation_id, "title": found[0].title,
                    "messages": [{"role": m.role, "text": m.text, "date": iso(m.created_at)}
                                 for m in messages]}

    @server.tool(description="Import files or folders as knowledge (text, Markdown, PDF, "
                             "Word, HTML, chat exports). Only paths inside the folders the "
                             "user allowed (mcp_import_folders in config.toml). A changed "
                             "file replaces its earlier import; an unchanged one is skipped.",
                 annotations=ToolAnnotations(read_only_hint=False, destructive_hint=True,
                                             idempotent_hint=True, open_world_hint=False))
    def import_documents(paths: Annotated[list[str], Field(
            min_length=1, description="files or folders (a folder: every file in it), "
            "absolute paths inside an allowed folder")]) -> ImportResult:
        from assistant.ingest.pipeline import collect_files

        resolved = [allowed_path(p, folders) for p in paths]  # all checked before any import
        # And every file found in them, links followed: one may point out of the folder.
        files, refused = collect_files(resolved, within=folders)
        with lock:
            report = agent.import_paths(files)
        return {"imported": [{"path": str(p), "memories": n} for p, n in report.imported],
                "skipped": [{"path": str(p), "why": why} for p, why in report.skipped],
                "failed": [{"path": str(e.path), "why": e.reason}
                           for e in refused + report.failed]}

    @server.tool(description="How much the memory holds: memories by kind, documents, "
                             "conversations, messages.",
                 annotations=READS)
    def memory_stats() -> Stats:
        with lock, explained():
            return stats_json(agent.store.stats())

    return server


def serve(agent, http_port: int | None = None) -> None:
    """Serve `agent`'s memory over stdio, or over HTTP on 127.0.0.1:`http_port`, until
    the client hangs up or Ctrl+C."""
    home = agent.settings.home
    if http_port is not None:
        from assistant.mcp import http

        http.ensure_free(http_port)  # before the models load: a taken port fails at once
    agent.encoder.load()  # before the first call, so a client's first search is quick
    server = build_server(agent)
    if http_port is None:
        log.info("MCP server on %s (stdio)", home)
        server.run("stdio")
        return
    token = http.http_token(home)
    print_config = print_config_command(home, http_port)
    log.info("MCP server on %s at %s", home, http.url(http_port))
    print(f"serving {home} at {http.url(http_port)} (127.0.0.1 only); clients send the "
          f"token from `{print_config}`. Ctrl+C stops.", file=sys.stderr, flush=True)
    http.serve(server, token, http_port, print_config)
