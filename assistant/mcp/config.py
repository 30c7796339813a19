"""What a user pastes into an MCP client: the configuration that starts this install's
server on this data folder (`assistant mcp --print-config`)."""

from __future__ import annotations

import sys

from assistant.config import Settings


def client_config(settings: Settings, http_port: int | None = None) -> dict:
    """Claude Desktop's `mcpServers` entry (Claude Code and most clients take the same
    fields) for the stdio server, or with `http_port`, the URL and token of
    `assistant mcp --http` on that port."""
    if http_port is not None:
        from assistant.mcp import http

        return {"mcpServers": {"memory": {
            "type": "http", "url": http.url(http_port),
            "headers": {"Authorization": f"Bearer {http.http_token(settings.home)}"}}}}
    return {"mcpServers": {"memory": {
        "command": sys.executable,
        "args": ["-m", "assistant.cli", "--home", str(settings.home), "mcp"]}}}
