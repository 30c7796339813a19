"""Every generator backend streams through the same protocol: the embedded model, a model
folder, a GGUF file, and an OpenAI-compatible server (a real HTTP server in this test
that speaks the chat-completions streaming protocol)."""

from __future__ import annotations

import json
import re
import socket
import threading
import time
from dataclasses import replace
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from assistant.agent import Agent
from assistant.answer.backends.embedded import EmbeddedGenerator, gguf_path
from assistant.answer.backends.factory import make_generator
from assistant.answer.backends.remote import OpenAICompatibleGenerator
from assistant.answer.protocol import GeneratorUnavailable, complete
from assistant.tui.app import create_app

PROMPT = "Question: What is the capital of Portugal?\nAnswer:"
NOW = datetime(2026, 3, 4, 10, 0)


class ChatServer(ThreadingHTTPServer):
    """Answers every chat completion with `reply`, one event per word, after `delay_s`."""

    reply = "Lisbon is the capital\nQuestion: and more"
    delay_s = 0.0
    status = 200
    refuse_tools = False  # as a server whose model has no tool calling (HTTP 400)

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.requests: list[dict] = []
        # Turns a tool-calling model takes, first to last: each maps the request body to
        # {"content": text} or {"tool_calls": [(name, arguments)]}; then `reply`.
        self.script: list = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/v1"

    def handle_error(self, request, client_address) -> None:
        pass  # a client that hangs up (a stopped answer, a time-out) is what some tests do


class _Handler(BaseHTTPRequestHandler):
    def log_message(self, *args) -> None:  # keep the test output clean
        pass

    def do_POST(self) -> None:
        server: ChatServer = self.server  # type: ignore[assignment]
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        server.requests.append({"path": self.path, "body": body,
                                "auth": self.headers.get("Authorization")})
        time.sleep(server.delay_s)
        if server.status != 200 or (server.refuse_tools and "tools" in body):
            self.send_response(400 if server.status == 200 else server.status)
            self.end_headers()
            self.wfile.write(b'{"error": "model not found"}')
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.end_headers()
        turn = server.script.pop(0)(body) if server.script else {"content": server.reply}
        for n, (name, arguments) in enumerate(turn.get("tool_calls", [])):
            # As OpenAI streams a call: id and name first, the arguments in pieces.
            half = len(arguments) // 2
            for delta in ({"id": f"call_{n}", "type": "function",
                           "function": {"name": name, "arguments": arguments[:half]}},
                          {"function": {"arguments": arguments[half:]}}):
                event = {"choices": [{"index": 0, "delta": {"tool_calls": [
                    {"index": n, **delta}]}}]}
                self.wfile.write(f"data: {json.dumps(event)}\n\n".encode())
        words = turn.get("content", "").split(" ") if "tool_calls" not in turn else []
        for i, word in enumerate(words):  # this server ignores `stop`, as some do
            piece = word if i == 0 else " " + word
            event = {"choices": [{"index": 0, "delta": {"content": piece}}]}
            self.wfile.write(f"data: {json.dumps(event)}\n\n".encode())
            self.wfile.flush()
        self.wfile.write(b"data: [DONE]\n\n")


@pytest.fixture
def server():
    srv = ChatServer()
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()


def test_http_backend_streams_and_stops(server, monkeypatch):
    monkeypatch.setenv("TEST_KEY", "sk-local")
    gen = make_generator(server.url, model_name="qwen2.5:1.5b", api_key_env="TEST_KEY")
    assert isinstance(gen, OpenAICompatibleGenerator)
    pieces = list(gen.stream(PROMPT, max_new_tokens=12, stop=("\n",)))
    assert len(pieces) > 1  # streamed, not one block
    assert "".join(pieces) == "Lisbon is the capital"  # cut at the stop string
    (request,) = server.requests
    assert request["path"] == "/v1/chat/completions"
    assert request["body"]["stream"] is True and request["body"]["max_tokens"] == 12
    assert request["body"]["model"] == "qwen2.5:1.5b" and request["body"]["stop"] == ["\n"]
    assert request["body"]["messages"] == [{"role": "user", "content": PROMPT}]
    assert request["auth"] == "Bearer sk-local"


def test_http_backend_errors_say_what_to_do(server):
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    gen = OpenAICompatibleGenerator(f"http://127.0.0.1:{closed}/v1", timeout_s=2)
    with pytest.raises(GeneratorUnavailable, match=rf"cannot reach .*127.0.0.1:{closed}.*config"):
        complete(gen, PROMPT)
    server.status = 404
    with pytest.raises(GeneratorUnavailable, match="HTTP 404.*model not found"):
        complete(OpenAICompatibleGenerator(server.url), PROMPT)
    server.status, server.delay_s = 200, 1.5
    started = time.monotonic()
    with pytest.raises(GeneratorUnavailable):
        complete(OpenAICompatibleGenerator(server.url, timeout_s=0.5), PROMPT)
    assert time.monotonic() - started < 1.4  # the timeout, not the server, ended it


def test_agent_answers_through_the_server_with_the_chat_prompt(server, settings, encoder):
    """A server's model is a capable chat model: the memories go numbered, dated and
    sourced in the system message, statements get a reply, answers are not cut short, and
    an answer is shown only when a memory it cites is about what was asked."""
    settings = replace(settings, model=server.url)
    with Agent(settings, encoder=encoder, clock=lambda: NOW) as agent:
        assert agent.generator.chat and not agent.generator.tuned
        cid = agent.new_conversation("t")
        server.reply = "Good to know, I will keep that in mind."
        told = "".join(agent.chat_turn(cid, "My aunt lives in Lisbon, the capital of Portugal."))
        assert told == "Good to know, I will keep that in mind."  # not "Noted."
        system = server.requests[-1]["body"]["messages"][0]
        assert system["role"] == "system" and "is now saved" in system["content"]

        long = ("Your aunt lives in Lisbon, which is the capital of Portugal, as you told me "
                "on the fourth of March when we talked about family [1].")
        assert len(long.split()) > 15
        server.reply = long
        answer = agent.chat_turn(cid, "Where does my aunt live?")
        assert "".join(answer) == long  # whole, not cut to 15 words
        assert answer.support is not None and "My aunt lives in Lisbon" in answer.support.text
        body = server.requests[-1]["body"]
        assert body["max_tokens"] == settings.chat_max_new_tokens and "stop" not in body
        system, *turns, question = body["messages"]
        assert system["role"] == "system"
        assert ("[1] (4 March 2026, conversation:1#turn=1) User: My aunt lives in Lisbon"
                in system["content"])
        assert "say that you do not know" in system["content"]
        assert [t["role"] for t in turns] == ["user", "assistant"]  # the earlier exchange
        assert question == {"role": "user", "content": "Where does my aunt live?"}
        assert agent.transcript(cid)[-1].text == long

        # What the memories do not hold is not shown, whoever wrote it and whatever it cites.
        server.reply = "Your uncle is called Rui [1]."
        asked = "".join(agent.chat_turn(cid, "What is my uncle's name?"))
        assert asked.startswith("I have nothing about your uncle in my memories.")
        assert "Rui" not in asked
        # The model's own "I don't know" becomes the assistant's, with the closest memory.
        server.reply = "Sorry, I don't know what your aunt does for a living."
        asked = "".join(agent.chat_turn(cid, "What does my aunt do for work?"))
        assert asked.startswith("My memories about your aunt do not say that.")
        assert "The closest: \u201cUser: My aunt lives in Lisbon" in asked


def test_a_failed_answer_says_so_in_the_reply_and_the_transcript(server, settings, encoder):
    server.status = 503
    with Agent(replace(settings, model=server.url), encoder=encoder, clock=lambda: NOW) as agent:
        cid = agent.new_conversation("t")
        answer = agent.chat_turn(cid, "Where does my aunt live?")
        with pytest.raises(GeneratorUnavailable, match="HTTP 503"):
            "".join(answer)
        assert answer.reply.verdict == "failed" and "HTTP 503" in answer.reply.error
        assert answer.support is None
        said = agent.transcript(cid)[-1]
        assert said.role == "assistant" and said.text.startswith("[failed: model server ")


def test_a_tool_calling_model_searches_memory_before_it_answers(server, settings, encoder):
    """With a server that calls tools, the model searches the real store for what the
    first recall missed, sees each step in the chat and the transcript, and its answer
    cites what the search found."""
    settings = replace(settings, model=server.url, k=1)
    with Agent(settings, encoder=encoder, clock=lambda: NOW) as agent:
        agent.remember(None, "my brother is called Tiago")
        # In words no fact pattern reads, so only the model's own search finds it.
        agent.remember(None, "Tiago wrote his thesis on marine biology in Porto", speaker="")
        for n in range(6):
            agent.remember(None, f"note {n}: the recycling goes out on Thursdays")

        def search(body):
            assert [t["function"]["name"] for t in body["tools"]] == ["search_memory",
                                                                    "remember"]
            assert "Tiago wrote" not in body["messages"][0]["content"]  # not recalled
            return {"tool_calls": [("search_memory", '{"query": "what Tiago studied"}')]}

        def answer(body):
            call, result = body["messages"][-2:]
            assert call["role"] == "assistant" and call["tool_calls"][0]["function"] == {
                "name": "search_memory", "arguments": '{"query": "what Tiago studied"}'}
            assert result["role"] == "tool" and result["tool_call_id"] == "call_0"
            found = re.search(r"\[(\d+)\][^\n]*Tiago wrote his thesis on marine biology",
                              result["content"])
            return {"content": f"Your brother Tiago [1] studied marine biology [{found[1]}]."}

        server.script = [search, answer]
        cid = agent.new_conversation("family")
        reply = agent.chat_turn(cid, "What did my brother study?")
        text = "".join(reply)
        step, _, final = text.partition("\n\n")
        assert step.startswith("\u00bb searched memory for \u201cwhat Tiago studied\u201d: ")
        assert final == "Your brother Tiago [1] studied marine biology [2]."
        assert "Tiago wrote his thesis" in " ".join(h.text for h in reply.sources)
        assert reply.support is not None and "my brother is called Tiago" in reply.support.text
        assert agent.transcript(cid)[-1].text == text  # the step is kept with the answer

        # A model that asks to remember something proposes it, under its own name: unpinned
        # until the user accepts it.
        server.script = [lambda body: {"tool_calls": [("remember", '{"fact": "The boiler '
                                                                 'is serviced in May."}')]},
                         lambda body: {"content": "I will keep that in mind [1]."}]
        "".join(agent.ask("Can you keep in mind that the boiler is serviced in May?"))
        (kept,) = [h for h in agent.search("boiler serviced", 3) if "boiler" in h.text]
        assert kept.source == f"model:{agent.generator_name}" and not kept.pinned
        assert kept.meta["proposal"] == "pending"

        # A model that never stops searching is asked for its answer after tool_steps.
        server.requests.clear()
        server.script = [lambda body: {"tool_calls": [("search_memory", '{"query": "x"}')]}
                         ] * settings.tool_steps
        server.reply = "I do not know."
        asked = "".join(agent.ask("What did my brother study?"))
        assert asked.count("\u00bb searched memory") == settings.tool_steps
        assert len(server.requests) == settings.tool_steps + 1
        assert "tools" not in server.requests[-1]["body"]


def test_a_server_without_tool_calling_gets_the_plain_chat_prompt(server, settings, encoder):
    server.refuse_tools = True
    server.reply = "Your aunt lives in Lisbon [1]."
    settings = replace(settings, model=server.url)
    with Agent(settings, encoder=encoder, clock=lambda: NOW) as agent:
        agent.remember(None, "my aunt lives in Lisbon")
        assert "".join(agent.ask("Where does my aunt live?")) == server.reply
        "".join(agent.ask("Where does my aunt live?"))
        assert ["tools" in r["body"] for r in server.requests] == [True, False, False]


def test_prompt_style_picks_the_prompt(server, tmp_path):
    assert not make_generator("embedded").chat  # the 135M model answers with a phrase
    assert make_generator("embedded", prompt_style="chat").chat
    assert make_generator(server.url).chat
    assert not make_generator(server.url, prompt_style="notes").chat
    with pytest.raises(ValueError, match="prompt_style 'fancy' is not one of auto, chat, notes"):
        make_generator("embedded", prompt_style="fancy")


def test_the_embedded_model_takes_chat_messages(generator):
    """Chat messages are rendered with the model's own chat template: the reply is what
    transformers' generate writes after that template."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    messages = [{"role": "user", "content": "Say hello."}]
    # The reference: transformers' own tokenizer, template and model on the same cache.
    tokenizer = AutoTokenizer.from_pretrained(generator.cache_path)
    reference = AutoModelForCausalLM.from_pretrained(generator.cache_path,
                                                     dtype=torch.float32).eval()
    ids = tokenizer.apply_chat_template(messages, add_generation_prompt=True,
                                        return_tensors="pt", return_dict=True)["input_ids"]
    out = reference.generate(ids, max_new_tokens=6, do_sample=False)
    expected = tokenizer.decode(out[0, ids.shape[1]:], skip_special_tokens=True)
    assert expected.strip()
    assert complete(generator, messages, max_new_tokens=6, stop=()) == expected


@pytest.mark.slow
def test_model_folder_and_gguf_file_stream_like_the_embedded_model(generator, tmp_path):
    text = "The capital of France is Paris. The capital of Portugal is"
    expected = complete(generator, text, max_new_tokens=8, stop=())
    assert expected.strip()
    folder = make_generator(str(generator.cache_path))  # a Hugging Face model folder
    assert len(list(folder.stream(text, max_new_tokens=8, stop=()))) > 1
    assert folder.loaded_from == "folder"
    assert complete(folder, text, max_new_tokens=8, stop=()) == expected
    gguf = make_generator(str(gguf_path()), tmp_path / "cache")  # a GGUF file path
    assert complete(gguf, text, max_new_tokens=8, stop=()) == expected
    assert (tmp_path / "cache" / f"gguf-{gguf_path().stem}").is_dir()  # dequantised once


def test_bad_model_settings_are_refused_clearly(tmp_path):
    with pytest.raises(FileNotFoundError, match="nowhere.gguf does not exist"):
        make_generator(str(tmp_path / "nowhere.gguf"))
    (tmp_path / "notes.txt").write_text("hi")
    with pytest.raises(ValueError, match="notes.txt is a file but not a .gguf"):
        make_generator(str(tmp_path / "notes.txt"))
    assert isinstance(make_generator("embedded"), EmbeddedGenerator)


async def test_app_shows_the_model_and_switches_it(server, settings, encoder, generator):
    app = create_app(replace(settings, model=server.url), encoder=encoder,
                     import_root=Path("."))
    async with app.run_test(size=(140, 40)) as pilot:
        deadline = time.monotonic() + 120
        while not app.ready:
            assert time.monotonic() < deadline
            await pilot.pause(0.05)
        assert server.url in app.sub_title
        app.query_one("#prompt").value = "/model /nonexistent/model.gguf"
        await pilot.press("enter")
        while not any(n.severity == "error" for n in app._notifications):
            assert time.monotonic() < deadline
            await pilot.pause(0.05)
        assert server.url in app.sub_title  # a bad choice keeps the current model
        app.query_one("#prompt").value = f"/model {generator.cache_path}"
        await pilot.press("enter")
        while "smollm2" not in app.sub_title:
            assert time.monotonic() < deadline
            await pilot.pause(0.05)
