"""`assistant mcp --http`: the same MCP server over streamable HTTP, for clients that
connect to a URL rather than start a process. It listens on 127.0.0.1 only, and every
request must carry the data folder's bearer token: any local program can reach a local
port, and the memory is private.
"""

from __future__ import annotations

import hmac
import json
import os
import secrets
import socket
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the SDK loads only to serve: `ensure_free` must answer at once
    from mcp.server.mcpserver import MCPServer

HOST = "127.0.0.1"
PATH = "/mcp"
TOKEN_FILE = "mcp-token"
TOKEN_ENV = "ASSISTANT_MCP_TOKEN"


def http_token(home: Path) -> str:
    """The token clients must send: $ASSISTANT_MCP_TOKEN, else one made on first use and
    kept in the data folder, readable by its owner only."""
    if token := os.environ.get(TOKEN_ENV, "").strip():
        return token
    path = Path(home) / TOKEN_FILE
    if path.exists():
        return path.read_text(encoding="utf-8").strip()
    token = secrets.token_urlsafe(32)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(token + "\n")
    return token


def ensure_free(port: int) -> None:
    """Fail with a clear message, before anything is announced, if the port is taken."""
    with socket.socket() as probe:
        try:
            probe.bind((HOST, port))
        except OSError as exc:
            raise OSError(f"{HOST}:{port} cannot be used ({exc.strerror}); is another "
                          f"`assistant mcp --http` running? Choose another with --port") from None


def url(port: int) -> str:
    return f"http://{HOST}:{port}{PATH}"


class BearerToken:
    """ASGI middleware: an HTTP request without `Authorization: Bearer <token>` gets 401
    before it reaches the MCP app (lifespan events pass through)."""

    def __init__(self, app, token: str, print_config: str) -> None:
        self.app = app
        self.expected = f"Bearer {token}".encode()
        # Names the data folder: the token of another folder would be refused as well.
        self.refusal = json.dumps({"error": "missing or wrong bearer token: use the one "
                                            f"`{print_config}` prints"}).encode()

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "http":
            given = dict(scope.get("headers") or []).get(b"authorization", b"")
            if not hmac.compare_digest(given, self.expected):
                await send({"type": "http.response.start", "status": 401, "headers": [
                    (b"content-type", b"application/json"),
                    (b"www-authenticate", b'Bearer realm="assistant-memory"')]})
                await send({"type": "http.response.body", "body": self.refusal})
                return
        await self.app(scope, receive, send)


def serve(server: MCPServer, token: str, port: int, print_config: str) -> None:
    """Serve `server` on 127.0.0.1:`port` until interrupted; a request without `token`
    is told to run the command `print_config`."""
    import uvicorn
    from mcp.server.transport_security import TransportSecuritySettings

    hosts = [f"{HOST}:{port}", f"localhost:{port}"]
    app = server.streamable_http_app(
        streamable_http_path=PATH, host=HOST,
        # A web page the user visits must not reach the server through a rebound name.
        transport_security=TransportSecuritySettings(
            enable_dns_rebinding_protection=True, allowed_hosts=hosts,
            allowed_origins=[f"http://{h}" for h in hosts]))
    uvicorn.Server(uvicorn.Config(BearerToken(app, token, print_config), host=HOST, port=port,
                                  log_level="warning")).run()
