"""What a user pastes into an MCP client: the configuration that starts this install's
server on this data folder (`assistant mcp --print-config`)."""

from __future__ import annotations

import os
import shlex
import sys
from pathlib import Path

import platformdirs

from assistant.config import APP_NAME, Settings


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


def print_config_command(home: Path, port: int) -> str:
    """The command that prints the HTTP server's URL and token for data folder `home`.
    It names `home` unless that is the folder a bare `assistant` uses wherever it runs:
    another folder has another token."""
    default = Path(platformdirs.user_data_path(APP_NAME))
    where = "" if Path(home) == default and not os.environ.get("ASSISTANT_HOME") else \
        f" --home {shlex.quote(str(home))}"
    return f"assistant{where} mcp --http --port {port} --print-config"
