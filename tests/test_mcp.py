"""`assistant mcp`: the real server as a child process, driven by the MCP SDK's own stdio
client, on a real store; and in-process with the app, for what the user sees of it."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from datetime import datetime

import pytest
from mcp import Client
from mcp.client.stdio import StdioServerParameters
from mcp.client.streamable_http import create_mcp_http_client, streamable_http_client
from mcp_types import Implementation

from assistant.agent import Agent
from assistant.memory import text as memory_text
from memory_store.records import NewMemory

TOOLS = {"search_memory", "ask", "remember", "forget", "list_conversations",
         "get_conversation", "import_documents", "memory_stats"}


def payload(result):
    """A tool result's JSON value (a list comes wrapped as {"result": [...]})."""
    assert not result.is_error, result.content
    value = result.structured_content
    if value is None:
        value = json.loads(result.content[0].text)
    return value["result"] if isinstance(value, dict) and set(value) == {"result"} else value


def error_text(result) -> str:
    assert result.is_error
    return " ".join(c.text for c in result.content)


@pytest.fixture
def mcp_home(settings, encoder, generator, tmp_path):
    """A data folder with one chat, a folder the user allowed for import (with a note in
    it) and a file outside it."""
    allowed = tmp_path / "allowed"
    allowed.mkdir()
    (allowed / "boat.md").write_text("# The boat\n\nThe sailing boat Kestrel is moored at "
                                     "pontoon 14 in Lymington marina.\n")
    (tmp_path / "secret.txt").write_text("The safe code is 9921.\n")
    settings.home.mkdir(parents=True, exist_ok=True)
    allow = f"mcp_import_folders = [{json.dumps(str(allowed))}]\n"
    (settings.home / "config.toml").write_text(allow)
    with Agent(settings, encoder=encoder, generator=generator) as agent:
        cid = agent.new_conversation("Garden plans")
        said = "I want to plant three apple trees by the staging shed in October."
        when = datetime(2026, 3, 2, 10, 0)
        (written,) = memory_text.message(said, when=when)
        agent.store.add_message(cid, "user", said, when, memory=NewMemory(
            kind="turn", text=written.text, meta=written.meta,
            embedding=encoder.encode_one(written.text), created_at=when))
    return settings.home, allowed, tmp_path / "secret.txt", cid


def server_params(home) -> StdioServerParameters:
    env = {"ASSISTANT_CACHE": os.environ["ASSISTANT_CACHE"], "HF_HUB_OFFLINE": "1",
           "TRANSFORMERS_OFFLINE": "1"}
    return StdioServerParameters(command=sys.executable,
                                 args=["-m", "assistant.cli", "--home", str(home), "mcp"], env=env)


@pytest.mark.slow
async def test_every_tool_over_stdio(mcp_home, model_cache):
    home, allowed, outside, cid = mcp_home
    async with Client(server_params(home), client_info=Implementation(name="test-client",
                                                                      version="1"),
                      read_timeout_seconds=300) as client:
        tools = {t.name: t for t in (await client.list_tools()).tools}
        assert set(tools) == TOOLS
        assert tools["search_memory"].input_schema["properties"]["k"]["type"] == "integer"
        assert all(t.description for t in tools.values())

        fact = payload(await client.call_tool("remember", {
            "fact": "The staging server is called heron-7."}))["remembered"]
        assert fact["source"] == "mcp:test-client" and fact["pinned"]
        found = payload(await client.call_tool("search_memory", {
            "query": "what is the staging server called", "k": 3}))
        assert found[0]["id"] == fact["id"] and found[0]["ltmt_weight"] is not None
        assert payload(await client.call_tool("search_memory", {
            "query": "staging server", "kind": "turn"}))[0]["kind"] == "turn"
        assert payload(await client.call_tool("search_memory", {
            "query": "staging server", "since": "2099-01-01"})) == []

        refused = await client.call_tool("import_documents", {"paths": [str(outside)]})
        assert "outside the folders allowed" in error_text(refused)
        sneaky = await client.call_tool("import_documents",
                                        {"paths": [str(allowed / ".." / outside.name)]})
        assert "outside the folders allowed" in error_text(sneaky)
        imported = payload(await client.call_tool("import_documents", {"paths": [str(allowed)]}))
        assert [i["path"] for i in imported["imported"]] == [str(allowed / "boat.md")]

        answer = payload(await client.call_tool("ask", {"question": "Where is Kestrel moored?"}))
        assert "pontoon 14" in answer["answer"] and answer["verdict"] == "answered"
        assert "boat.md" in answer["support"]["source"], answer["support"]

        convs = payload(await client.call_tool("list_conversations"))
        assert [c["title"] for c in convs] == ["Garden plans"]
        chat = payload(await client.call_tool("get_conversation", {"conversation_id": cid}))
        assert chat["messages"][0]["text"].startswith("I want to plant three apple trees")
        assert "no conversation #999" in error_text(
            await client.call_tool("get_conversation", {"conversation_id": 999}))

        gone = payload(await client.call_tool("forget", {"memory_id": fact["id"]}))
        assert gone["forgotten"]["text"].endswith("heron-7.")
        assert all(h["id"] != fact["id"] for h in payload(await client.call_tool(
            "search_memory", {"query": "staging server heron-7"})))
        assert f"no memory #{fact['id']}" in error_text(
            await client.call_tool("forget", {"memory_id": fact["id"]}))

        # Bad arguments are tool errors; the server goes on serving.
        too_few = error_text(await client.call_tool("search_memory", {"query": "x", "k": 0}))
        assert "k" in too_few.split() and "greater than or equal to 1" in too_few
        assert "not a date" in error_text(await client.call_tool(
            "search_memory", {"query": "x", "until": "last Tuesday"}))
        not_an_id = error_text(await client.call_tool("forget", {"memory_id": "all"}))
        assert "memory_id" in not_an_id and "valid integer" in not_an_id
        stats = payload(await client.call_tool("memory_stats"))
        assert stats["documents"] == 1 and stats["conversations"] == 1


@pytest.mark.slow
async def test_printed_client_config_starts_the_server(settings):
    """The configuration `assistant mcp --print-config` prints, used as is, starts a server
    a client can call (what docs/mcp.md tells a user to paste)."""
    out = subprocess.run([sys.executable, "-m", "assistant.cli", "--home", str(settings.home),
                          "mcp", "--print-config"], capture_output=True, text=True, check=True)
    entry = json.loads(out.stdout)["mcpServers"]["memory"]
    params = StdioServerParameters(command=entry["command"], args=entry["args"])
    async with Client(params, read_timeout_seconds=120) as client:
        assert {t.name for t in (await client.list_tools()).tools} == TOOLS
        assert payload(await client.call_tool("memory_stats"))["memories"] == 0


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _status(url: str, headers: dict) -> int:
    request = urllib.request.Request(url, data=b"{}", headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code
    except urllib.error.URLError:
        return 0  # nothing listening yet


@pytest.mark.slow
async def test_http_transport_serves_only_callers_with_the_token(mcp_home, model_cache):
    """`assistant mcp --http`: the printed URL and token, used as is, reach the tools; no
    token, a wrong one, or a foreign Host header (DNS rebinding) get nothing."""
    home = mcp_home[0]
    port = _free_port()
    command = [sys.executable, "-m", "assistant.cli", "--home", str(home), "mcp", "--http",
               "--port", str(port)]
    printed = subprocess.run(command + ["--print-config"], capture_output=True, text=True,
                             check=True)
    entry = json.loads(printed.stdout)["mcpServers"]["memory"]
    assert entry["url"] == f"http://127.0.0.1:{port}/mcp" and entry["type"] == "http"
    assert (home / "mcp-token").stat().st_mode & 0o777 == 0o600
    server = subprocess.Popen(command, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while _status(entry["url"], {}) != 401:  # not listening yet: connection refused
            assert server.poll() is None, server.stderr.read()
            assert time.monotonic() < deadline
            time.sleep(0.5)
        assert _status(entry["url"], {"Authorization": "Bearer guess"}) == 401
        rebound = entry["headers"] | {"Host": f"attacker.example:{port}"}
        assert _status(entry["url"], rebound) in (400, 403, 421)
        http = create_mcp_http_client(headers=entry["headers"])
        async with Client(streamable_http_client(entry["url"], http_client=http),
                          client_info=Implementation(name="web-agent", version="1")) as client:
            assert {t.name for t in (await client.list_tools()).tools} == TOOLS
            kept = payload(await client.call_tool("remember", {"fact": "The kayak is red."}))
            assert kept["remembered"]["source"] == "mcp:web-agent"
            found = payload(await client.call_tool("search_memory", {"query": "kayak colour",
                                                                     "k": 1}))
            assert found[0]["id"] == kept["remembered"]["id"]
        second = subprocess.run(command, capture_output=True, text=True, timeout=120)
        assert second.returncode == 1 and f"127.0.0.1:{port} cannot be used" in second.stderr
    finally:
        server.terminate()
        server.wait(timeout=30)
