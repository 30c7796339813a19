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

import platformdirs
import pytest
from mcp import Client
from mcp.client.stdio import StdioServerParameters
from mcp.client.streamable_http import create_mcp_http_client, streamable_http_client
from mcp_types import Implementation

from assistant.agent import Agent
from assistant.config import APP_NAME
from assistant.mcp import config as mcp_config
from assistant.mcp.server import build_server, serve
from assistant.memory import text as memory_text
from assistant.memory.encoder import Encoder
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


def _refusal(url: str) -> str:
    """What the server says to a request without the token."""
    request = urllib.request.Request(url, data=b"{}", method="POST")
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=30)
    assert refused.value.code == 401
    return json.loads(refused.value.read())["error"]


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
        # The command it names prints this data folder's token, not the default one's.
        assert (f"`assistant --home {home} mcp --http --port {port} --print-config`"
                in _refusal(entry["url"]))
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


READ_ONLY = {"search_memory", "list_conversations", "get_conversation", "memory_stats"}


async def test_tools_describe_arguments_effects_and_results(settings, encoder):
    """What a client shows before calling: every argument explained, which tools only
    read and which destroy, and the fields of every result."""
    with Agent(settings, encoder=encoder) as agent:
        async with Client(build_server(agent)) as client:
            tools = {t.name: t for t in (await client.list_tools()).tools}
    for name, tool in tools.items():
        for arg, schema in tool.input_schema["properties"].items():
            assert schema.get("description"), f"{name}({arg}) has no description"
        hints = tool.annotations
        assert hints is not None, name
        assert hints.read_only_hint is (name in READ_ONLY), name
        defs = tool.output_schema.get("$defs", {})
        shape = tool.output_schema["properties"]
        if set(shape) == {"result"}:  # a list, wrapped
            shape = defs[shape["result"]["items"]["$ref"].split("/")[-1]]["properties"]
        assert shape, f"{name} returns an object of unknown fields"
    assert tools["forget"].annotations.destructive_hint is True
    assert tools["forget"].annotations.idempotent_hint is True
    assert tools["remember"].annotations.destructive_hint is False
    assert {"answer", "verdict", "support", "sources"} <= set(
        tools["ask"].output_schema["properties"])
    assert "ltmt_weight" in tools["search_memory"].output_schema["$defs"]["Memory"][
        "properties"]
    assert {"memories", "by_kind", "documents"} <= set(
        tools["memory_stats"].output_schema["properties"])


async def test_blank_text_is_refused_not_stored(settings, encoder):
    """Text arguments are stripped before they are checked: only spaces is no fact."""
    with Agent(settings, encoder=encoder) as agent:
        async with Client(build_server(agent)) as client:
            blank = error_text(await client.call_tool("remember", {"fact": "   "}))
            assert "fact" in blank.split() and "blank" in blank
            assert "blank" in error_text(await client.call_tool("search_memory",
                                                                {"query": " \t "}))
            assert "blank" in error_text(await client.call_tool("ask", {"question": "\n"}))
            assert payload(await client.call_tool("memory_stats"))["memories"] == 0
            kept = payload(await client.call_tool("remember", {"fact": "  The van is blue. "}))
            assert kept["remembered"]["text"].endswith("] The van is blue.")


async def test_ask_says_why_the_model_server_failed(settings, encoder):
    """With the configured model server down, `ask` names the server and the reason,
    not only that the tool failed."""
    down = _free_port()  # nothing listens there
    settings.model = f"http://127.0.0.1:{down}/v1"
    with Agent(settings, encoder=encoder) as agent:
        async with Client(build_server(agent)) as client:
            payload(await client.call_tool("remember", {"fact": "The van is blue."}))
            failed = error_text(await client.call_tool("ask", {"question": "What colour is "
                                                                           "the van?"}))
    assert f"model server at http://127.0.0.1:{down}/v1" in failed
    assert "Connection refused" in failed


def test_a_taken_port_fails_before_the_models_load(settings):
    """`assistant mcp --http` on a port in use says so at once, not after loading the
    encoder (seconds on a laptop)."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with Agent(settings, encoder=Encoder()) as agent:
            with pytest.raises(OSError, match=f"127.0.0.1:{port} cannot be used"):
                serve(agent, port)
            assert agent.encoder._model is None


def test_the_command_says_a_port_is_taken_before_it_opens_the_store(tmp_path, capsys):
    """`assistant mcp --http --port P` with P in use fails at once: no store opened, no
    model loaded (the data folder stays empty)."""
    from assistant.cli import main

    home = tmp_path / "home"
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert main(["--home", str(home), "mcp", "--http", "--port", str(port)]) == 1
    assert f"127.0.0.1:{port} cannot be used" in capsys.readouterr().err
    assert not (home / "memory.sqlite3").exists()


def test_the_token_hint_names_a_data_folder_other_than_the_default(settings, monkeypatch):
    """The 401 answer tells the client how to get the token; for another data folder than
    the default, that command must name it, or it prints the default folder's token."""
    monkeypatch.delenv("ASSISTANT_HOME", raising=False)
    hint = mcp_config.print_config_command(settings.home, 8800)
    assert hint == f"assistant --home {settings.home} mcp --http --port 8800 --print-config"
    default = platformdirs.user_data_path(APP_NAME)
    assert mcp_config.print_config_command(default, 8800) == ("assistant mcp --http --port 8800 "
                                                   "--print-config")
    monkeypatch.setenv("ASSISTANT_HOME", str(default))  # a shell without it would differ
    assert "--home" in mcp_config.print_config_command(default, 8800)


async def test_a_link_in_an_allowed_folder_cannot_import_a_file_outside_it(settings, encoder,
                                                                           tmp_path):
    """A file link inside an allowed folder that points out of it is refused by name, and
    what it points to never becomes searchable; the rest of the folder is imported."""
    allowed = tmp_path / "allowed"
    allowed.mkdir()
    (allowed / "boat.md").write_text("# The boat\n\nThe sailing boat Kestrel is moored at "
                                     "pontoon 14 in Lymington marina.\n")
    (tmp_path / "secret.txt").write_text("The safe code is 9921.\n")
    (allowed / "notes.txt").symlink_to(tmp_path / "secret.txt")
    settings.mcp_import_folders = [str(allowed)]
    with Agent(settings, encoder=encoder) as agent:
        async with Client(build_server(agent)) as client:
            report = payload(await client.call_tool("import_documents",
                                                    {"paths": [str(allowed)]}))
            found = payload(await client.call_tool("search_memory",
                                                   {"query": "the safe code 9921"}))
    assert [i["path"] for i in report["imported"]] == [str(allowed / "boat.md")]
    assert report["failed"] == [{"path": str(allowed / "notes.txt"), "why": "links to a file "
                                 "outside the folders allowed for import; refused"}]
    assert found and all("9921" not in m["text"] for m in found)
