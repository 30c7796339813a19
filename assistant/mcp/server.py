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
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, Literal

from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from pydantic import Field

from assistant.config import ConfigError
from memory_store.records import Hit, iso

log = logging.getLogger(__name__)
Kind = Literal["turn", "chunk", "fact", "summary"]
_CLIENT = re.compile(r"[^A-Za-z0-9._-]+")


def memory_json(hit: Hit) -> dict[str, Any]:
    """A memory as a client sees it: what it says, where and when it comes from."""
    return {"id": hit.id, "text": hit.text, "kind": hit.kind, "source": hit.source,
            "date": iso(hit.created_at)[:10], "pinned": hit.pinned,
            "ltmt_weight": None if hit.weight is None else round(hit.weight, 4)}


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
                             "id, text, kind, source, date and LTM-T weight.")
    def search_memory(
        query: Annotated[str, Field(min_length=1, description="what to look for")],
        k: Annotated[int, Field(ge=1, le=100, description="how many memories")] = 10,
        kind: Annotated[Kind | None, Field(description="only this kind: turn (a chat "
                        "message), chunk (a document part), fact, summary")] = None,
        since: Annotated[str | None, Field(description="only from this date on, "
                         "YYYY-MM-DD")] = None,
        until: Annotated[str | None, Field(description="only before this date, "
                         "YYYY-MM-DD")] = None,
    ) -> list[dict[str, Any]]:
        filters = {"kinds": (kind,) if kind else None, "since": _day(since, "since"),
                   "until": _day(until, "until")}
        with lock:
            return [memory_json(h) for h in agent.recall(query, k, **filters)]

    @server.tool(description="Answer a question from the memory, the way the assistant's "
                             "own chat does: the answer, its verdict (answered or "
                             "abstained: it does not know, and says what is closest), the "
                             "memory that supports it, and the sources.")
    def ask(question: Annotated[str, Field(min_length=1)]) -> dict[str, Any]:
        with lock:
            answer = agent.ask(question)
            text = "".join(answer)
            support = answer.support
            return {"answer": text, "verdict": answer.reply.verdict,
                    "support": memory_json(support) if support else None,
                    "sources": [memory_json(h) for h in answer.sources]}

    @server.tool(description="Remember a fact for good (pinned). Its source records the "
                             "calling client; the user can see and forget it.")
    def remember(fact: Annotated[str, Field(min_length=1, max_length=4000)],
                 ctx: Context) -> dict[str, Any]:
        with lock:
            hit, conflicts = agent.remember(None, fact.strip(),
                                            source=f"mcp:{client_name(ctx)}", speaker="")
            return {"remembered": memory_json(hit),
                    "replaces": [memory_json(c.old) for c in conflicts]}

    @server.tool(description="Forget one memory by its id (from search_memory); returns "
                             "what was removed. There is no forgetting by query.")
    def forget(memory_id: Annotated[int, Field(ge=1)]) -> dict[str, Any]:
        with lock:
            hit = agent.memory(memory_id)
            if hit is None or not agent.forget([memory_id]):
                raise ToolError(f"no memory #{memory_id}")
            return {"forgotten": memory_json(hit)}

    @server.tool(description="The conversations in the memory, newest first.")
    def list_conversations() -> list[dict[str, Any]]:
        with lock:
            return [{"id": c.id, "title": c.title, "origin": c.origin,
                     "created": iso(c.created_at), "updated": iso(c.updated_at),
                     "messages": c.messages} for c in agent.conversations()]

    @server.tool(description="One conversation's messages in order (the last N if given).")
    def get_conversation(
        conversation_id: Annotated[int, Field(ge=1)],
        last: Annotated[int | None, Field(ge=1, description="only the last N messages")] = None,
    ) -> dict[str, Any]:
        with lock:
            found = [c for c in agent.conversations() if c.id == conversation_id]
            if not found:
                raise ToolError(f"no conversation #{conversation_id}")
            messages = agent.store.messages(conversation_id, last=last)
            return {"id": conversation_id, "title": found[0].title,
                    "messages": [{"role": m.role, "text": m.text, "date": iso(m.created_at)}
                                 for m in messages]}

    @server.tool(description="Import files or folders as knowledge (text, Markdown, PDF, "
                             "Word, HTML, chat exports). Only paths inside the folders the "
                             "user allowed (mcp_import_folders in config.toml).")
    def import_documents(paths: Annotated[list[str], Field(min_length=1)]) -> dict[str, Any]:
        resolved = [allowed_path(p, folders) for p in paths]  # all checked before any import
        with lock:
            report = agent.import_paths(resolved)
        return {"imported": [{"path": str(p), "memories": n} for p, n in report.imported],
                "skipped": [{"path": str(p), "why": why} for p, why in report.skipped],
                "failed": [{"path": str(e.path), "why": e.reason} for e in report.failed]}

    @server.tool(description="How much the memory holds: memories by kind, documents, "
                             "conversations, messages.")
    def memory_stats() -> dict[str, Any]:
        with lock:
            stats = agent.store.stats()
        return {k: v for k, v in stats.items() if k != "home"}

    return server


def serve(agent, http_port: int | None = None) -> None:
    """Serve `agent`'s memory over stdio, or over HTTP on 127.0.0.1:`http_port`, until
    the client hangs up or Ctrl+C."""
    agent.encoder.load()  # before the first call, so a client's first search is quick
    server = build_server(agent)
    home = agent.settings.home
    if http_port is None:
        log.info("MCP server on %s (stdio)", home)
        server.run("stdio")
        return
    from assistant.mcp import http

    http.ensure_free(http_port)
    token = http.http_token(home)
    log.info("MCP server on %s at %s", home, http.url(http_port))
    print(f"serving {home} at {http.url(http_port)} (127.0.0.1 only); clients send the "
          f"token from `assistant mcp --http --port {http_port} --print-config`. Ctrl+C "
          "stops.", file=sys.stderr, flush=True)
    http.serve(server, token, http_port)
