"""Real OpenAI-compatible servers, as they behave on the wire: llama.cpp's `llama-server`
(killed mid-answer, started without --jinja, still loading its model) and
llama-cpp-python's server (a prompt over its context, tools without `tool_choice`, a
tool-call message with null content). The fake servers here write the bytes those
servers write (chunked event streams, their error bodies), on a raw socket, so an
answer cut short looks exactly as it does from a real server that dies."""

from __future__ import annotations

import json
import re
import socket
import threading
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from pathlib import Path

import pytest

from assistant.agent import Agent
from assistant.answer.backends.factory import make_generator
from assistant.answer.backends.remote import destination, is_loopback
from assistant.answer.prompts import TOOLS
from assistant.answer.protocol import GeneratorUnavailable, ToolsUnsupported, complete

NOW = datetime(2026, 3, 4, 10, 0)
ASKED = [{"role": "user", "content": "Where does my aunt live?"}]
# llama-server's headers and chunks (tools/server: format_oai_sse, to_json_oaicompat_chat_
# stream), and llama-cpp-python's (uvicorn, sse-starlette: "\r\n" line ends).
LLAMA_SERVER = ("HTTP/1.1 200 OK\r\nAccess-Control-Allow-Origin: \r\nContent-Type: "
                "text/event-stream\r\nKeep-Alive: timeout=5, max=100\r\nServer: llama.cpp\r\n"
                "Transfer-Encoding: chunked\r\n\r\n")
LLAMA_CPP_PYTHON = ("HTTP/1.1 200 OK\r\ndate: Wed, 04 Mar 2026 10:00:00 GMT\r\nserver: uvicorn"
                    "\r\ncache-control: no-store\r\nconnection: keep-alive\r\nx-accel-buffering:"
                    " no\r\ncontent-type: text/event-stream; charset=utf-8\r\n"
                    "Transfer-Encoding: chunked\r\n\r\n")


def chunk(delta: dict, finish: str | None = None) -> dict:
    return {"choices": [{"finish_reason": finish, "index": 0, "delta": delta}],
            "created": 1772618400, "id": "chatcmpl-u8Q2", "model": "SmolLM2-135M-Instruct",
            "system_fingerprint": "b1-0000000", "object": "chat.completion.chunk"}


def words(text: str, finish: str | None = "stop") -> list[dict]:
    """A reply as llama-server streams it: the role, a chunk per word, the finish."""
    pieces = [w if i == 0 else " " + w for i, w in enumerate(text.split(" "))]
    return ([chunk({"role": "assistant", "content": None})]
            + [chunk({"content": p}) for p in pieces]
            + ([chunk({}, finish)] if finish else []))


def calls(name: str, arguments: str) -> list[dict]:
    return [chunk({"role": "assistant", "content": None}),
            chunk({"tool_calls": [{"index": 0, "id": "call_Xq1", "type": "function",
                                   "function": {"name": name, "arguments": arguments}}]}),
            chunk({}, "tool_calls")]


RECORDED = Path(__file__).parent / "fixtures" / "llama_server"  # see its README


class Response:
    """What a server writes back: a head, then events (chunked), then the last chunk and
    `[DONE]`, unless `done` is False (the process died, or the app raised mid-stream)."""

    def __init__(self, head: str = "", events: list[dict] = (), done: bool = True,
                 sep: str = "\n\n", raw: bytes | None = None) -> None:
        if raw is not None:  # recorded from a real server
            self.raw = raw
            return
        self.raw = head.encode()
        for event in events:
            self.raw += _chunked(f"data: {json.dumps(event)}{sep}")
        if done:
            self.raw += _chunked(f"data: [DONE]{sep}") + b"0\r\n\r\n"


def error(status: int, reason: str, body: dict) -> Response:
    data = json.dumps(body)
    return Response(f"HTTP/1.1 {status} {reason}\r\nContent-Type: application/json; "
                    f"charset=utf-8\r\nContent-Length: {len(data)}\r\n\r\n{data}", done=False)


def _chunked(text: str) -> bytes:
    data = text.encode()
    return b"%x\r\n%s\r\n" % (len(data), data)


class RawServer:
    """A model server on a plain socket: `respond` maps each request body to the exact
    bytes sent back; the socket is closed after them, as a dead process's is."""

    def __init__(self, respond: Callable[[dict], Response]) -> None:
        self.respond = respond
        self.requests: list[dict] = []
        self.sock = socket.create_server(("127.0.0.1", 0))
        threading.Thread(target=self._serve, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.sock.getsockname()[1]}/v1"

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return  # closed
            with conn:
                data = b""
                while b"\r\n\r\n" not in data:
                    data += conn.recv(65536)
                head, _, body = data.partition(b"\r\n\r\n")
                length = int(re.search(rb"(?i)content-length: *(\d+)", head)[1])
                while len(body) < length:
                    body += conn.recv(65536)
                request = json.loads(body)
                self.requests.append(request)
                conn.sendall(self.respond(request).raw)


@pytest.fixture
def serve():
    made: list[RawServer] = []

    def make(respond):
        made.append(RawServer(respond))
        return made[-1]

    yield make
    for srv in made:
        srv.sock.close()


def agent_for(url, settings, encoder, **changes) -> Agent:
    agent = Agent(replace(settings, model=url, **changes), encoder=encoder,
                  clock=lambda: NOW)
    agent.remember(None, "my aunt lives in Lisbon")
    return agent


def test_a_server_killed_mid_answer_fails_the_answer(serve, settings, encoder):
    """llama-server killed after two chunks: the socket closes with no [DONE] and no
    finish_reason. Neither a chat reply nor a completion counts as written."""
    server = serve(lambda body: Response(LLAMA_SERVER, words("Your aunt lives in Lisbon",
                                                              None)[:3], done=False))
    gen = make_generator(server.url)
    with pytest.raises(GeneratorUnavailable, match="ended the stream mid-answer .*no \\[DONE"):
        list(gen.stream(ASKED, max_new_tokens=400, stop=()))
    with pytest.raises(GeneratorUnavailable, match="mid-answer"):
        complete(gen, "Question: Where?\nAnswer:")
    with agent_for(server.url, settings, encoder, tool_steps=0) as agent:
        cid = agent.new_conversation("t")
        answer = agent.chat_turn(cid, "Where does my aunt live?")
        with pytest.raises(GeneratorUnavailable, match="mid-answer"):
            "".join(answer)
        assert answer.reply.verdict == "failed" and "mid-answer" in answer.reply.error
        said = agent.transcript(cid)[-1].text
        assert said.startswith("[failed: model server ") and "mid-answer" in said
        # A reply to a statement is shown while it streams; what came is kept, marked.
        told = agent.chat_turn(cid, "My aunt has a cat.")
        with pytest.raises(GeneratorUnavailable):
            "".join(told)
        said = agent.transcript(cid)[-1].text
        assert said.startswith("Your aunt [failed: model server ") and "[stopped]" not in said


def test_a_reply_cut_at_max_tokens_is_reported_cut_off(serve, settings, encoder):
    server = serve(lambda body: Response(LLAMA_SERVER, words("Your aunt lives in", "length")))
    gen = make_generator(server.url)
    with pytest.raises(GeneratorUnavailable, match="cut off.*400-token limit.*"
                                                   "chat_max_new_tokens"):
        list(gen.stream(ASKED, max_new_tokens=400, stop=()))
    # A completion prompt is capped on purpose (a phrase, a summary sentence).
    assert complete(gen, "Question: Where?\nAnswer:", max_new_tokens=4, stop=()) == \
        "Your aunt lives in"
    with agent_for(server.url, settings, encoder, tool_steps=0) as agent:
        cid = agent.new_conversation("t")
        answer = agent.chat_turn(cid, "Where does my aunt live?")
        with pytest.raises(GeneratorUnavailable, match="cut off"):
            "".join(answer)
        assert answer.reply.verdict == "failed"
        assert agent.transcript(cid)[-1].text.startswith("[failed: the answer was cut off")


def test_an_empty_stream_is_a_failure_not_an_abstention(serve, settings, encoder):
    """llama-cpp-python sends its 200 and headers, then raises on a prompt longer than
    its context: the stream is empty. Offered tools, the assistant asks once more
    plainly; failing again, the answer fails (it is not "nothing in my memories")."""
    overflow = Response(LLAMA_CPP_PYTHON, done=False)
    server = serve(lambda body: overflow)
    with agent_for(server.url, settings, encoder) as agent:
        cid = agent.new_conversation("t")
        answer = agent.chat_turn(cid, "Where does my aunt live?")
        with pytest.raises(GeneratorUnavailable, match="without an answer.*context window"):
            "".join(answer)
        assert answer.reply.verdict == "failed"
        assert agent.transcript(cid)[-1].text.startswith("[failed: model server ")
        assert ["tools" in r for r in server.requests] == [True, False]
        # A server whose tool calling answers with an empty stream is asked plainly, and
        # not offered tools again.
        server.respond = lambda body: overflow if "tools" in body else Response(
            LLAMA_CPP_PYTHON, words("Your aunt lives in Lisbon [1]."), sep="\r\n\r\n")
        assert "".join(agent.chat_turn(cid, "Where does my aunt live?")) == \
            "Your aunt lives in Lisbon [1]."
        "".join(agent.chat_turn(cid, "Where does my aunt live?"))
        assert ["tools" in r for r in server.requests] == [True, False, True, False, False]


def test_recorded_llama_server_responses_replayed(serve):
    """What a real llama-server sent (tests/fixtures/llama_server): a reply cut at
    max_tokens, a reply to a request with tools, a server killed mid-answer, --no-jinja
    refusing tools, and a prompt longer than the context."""
    def replay(name):
        return lambda body: Response(raw=(RECORDED / name).read_bytes())

    server = serve(replay("plain.http"))
    gen = make_generator(server.url)
    with pytest.raises(GeneratorUnavailable, match="cut off.*12-token limit"):
        list(gen.stream(ASKED, max_new_tokens=12, stop=()))
    assert complete(gen, "What is the capital of Portugal?", max_new_tokens=12, stop=()) == \
        "Portugal is a country in Europe located in the south"
    server.respond = replay("tools.http")
    text, tool_calls = gen.turn(ASKED, tools=TOOLS)
    assert text.startswith("I'm sorry for any misunderstanding") and tool_calls == []
    assert server.requests[-1]["tool_choice"] == "auto"
    server.respond = replay("killed.http")
    with pytest.raises(GeneratorUnavailable, match="mid-answer"):
        list(gen.stream(ASKED, max_new_tokens=400, stop=()))
    server.respond = replay("no_jinja_tools.http")
    with pytest.raises(ToolsUnsupported, match="HTTP 500.*tools param requires --jinja"):
        gen.turn(ASKED, tools=TOOLS)
    server.respond = replay("overflow.http")  # llama-server refuses it before its 200
    with pytest.raises(GeneratorUnavailable, match="HTTP 400.*exceeds the available context"):
        list(gen.stream(ASKED, max_new_tokens=8, stop=()))


NO_JINJA = {"error": {"code": 500, "message": "tools param requires --jinja flag",
                      "type": "server_error"}}
LOADING = {"error": {"code": 503, "message": "Loading model", "type": "unavailable_error"}}


def test_llama_server_without_jinja_is_asked_plainly(serve, settings, encoder):
    """`llama-server --no-jinja` answers a request with tools with HTTP 500; the question
    is asked again without them, and tools are not offered again. A 503 while the model
    loads fails the answer, and does not stop tools being offered later."""
    server = serve(lambda body: error(503, "Service Unavailable", LOADING))
    with agent_for(server.url, settings, encoder) as agent:
        cid = agent.new_conversation("t")
        answer = agent.chat_turn(cid, "Where does my aunt live?")
        with pytest.raises(GeneratorUnavailable, match="HTTP 503.*Loading model"):
            "".join(answer)
        server.respond = lambda body: error(500, "Internal Server Error", NO_JINJA) \
            if "tools" in body else Response(LLAMA_SERVER, words("Your aunt lives in Lisbon [1]."))
        assert "".join(agent.chat_turn(cid, "Where does my aunt live?")) == \
            "Your aunt lives in Lisbon [1]."
        assert "".join(agent.chat_turn(cid, "Where does my aunt live?")) == \
            "Your aunt lives in Lisbon [1]."
        assert ["tools" in r for r in server.requests] == [True, False, True, False, False]


def llama_cpp_python(body: dict) -> Response:
    """llama-cpp-python's server: `tools` without `tool_choice` are ignored; a message
    whose content is null fails its request validation (HTTP 500)."""
    for n, m in enumerate(body["messages"]):
        if m.get("content") is None:
            return error(500, "Internal Server Error", {"error": {
                "message": f"[{{'type': 'string_type', 'loc': ('body', 'messages', {n}, "
                           "'typed-dict', 'content'), 'msg': 'Input should be a valid "
                           "string', 'input': None}]",
                "type": "internal_server_error", "param": None, "code": None}})
    if "tools" not in body or body.get("tool_choice") != "auto":
        return Response(LLAMA_CPP_PYTHON, words("I do not know."), sep="\r\n\r\n")
    if body["messages"][-1]["role"] == "user":
        events = calls("search_memory", '{"query": "what Tiago studied"}')
    else:
        found = re.search(r"\[(\d+)\][^\n]*Tiago wrote his thesis on marine biology",
                          body["messages"][-1]["content"])
        events = words(f"Your brother Tiago [1] studied marine biology [{found[1]}].")
    return Response(LLAMA_CPP_PYTHON, events, sep="\r\n\r\n")


def test_llama_cpp_python_calls_tools_and_takes_their_results(serve, settings, encoder):
    server = serve(llama_cpp_python)
    with Agent(replace(settings, model=server.url, k=1), encoder=encoder,
               clock=lambda: NOW) as agent:
        agent.remember(None, "my brother is called Tiago")
        agent.remember(None, "Tiago wrote his thesis on marine biology in Porto", speaker="")
        for n in range(6):
            agent.remember(None, f"note {n}: the recycling goes out on Thursdays")
        text = "".join(agent.ask("What did my brother study?"))
    step, _, final = text.partition("\n\n")
    assert step.startswith("\u00bb searched memory for \u201cwhat Tiago studied\u201d: ")
    assert final == "Your brother Tiago [1] studied marine biology [2]."
    call = server.requests[1]["messages"][-2]
    assert call["role"] == "assistant" and call["content"] == "" and call["tool_calls"]


SPELLINGS = ["http://127.1:{port}/v1", "http://localhost.:{port}/v1",
             "http://LOCALHOST:{port}/v1", "http://app.localhost.:{port}/v1",
             "http://0x7f.0.0.1:{port}/v1", "http://2130706433:{port}/v1",
             "http://127.0.0.2:{port}/v1", "http://[::1]:{port}/v1",
             "http://[::ffff:127.0.0.1]:{port}/v1", "http://0.0.0.0:{port}/v1"]


def test_loopback_in_any_spelling_bypasses_the_proxy(serve, monkeypatch):
    model = serve(lambda body: Response(LLAMA_SERVER, words("Lisbon")))
    proxy = serve(lambda body: Response(LLAMA_SERVER, words("proxied")))
    for name in ("HTTP_PROXY", "http_proxy"):
        monkeypatch.setenv(name, proxy.url.removesuffix("/v1"))
    for name in ("NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    port = model.sock.getsockname()[1]
    for spelling in SPELLINGS:
        url = spelling.format(port=port)
        assert is_loopback(url), url
        assert destination(url) == f"{url} (directly)"
    assert complete(make_generator(f"http://127.1:{port}/v1"), "Where?") == "Lisbon"
    assert proxy.requests == [] and len(model.requests) == 1
    for elsewhere in ("http://127.example.com/v1", "http://localhost.example.com/v1",
                      "http://10.0.0.1/v1", "http://[::2]/v1"):
        assert not is_loopback(elsewhere)
        assert destination(elsewhere).endswith("(through the proxy "
                                               f"{proxy.url.removesuffix('/v1')})")
