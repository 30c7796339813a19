"""An OpenAI-compatible chat-completions server (Ollama, llama.cpp server, vLLM) as a
generator. Used only when the user configures one: nothing else here touches the network.
"""

from __future__ import annotations

import http.client
import ipaddress
import json
import logging
import os
import re
import socket
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Generator, Iterator, Sequence

from assistant.answer.protocol import GeneratorUnavailable, Message, ToolCall, ToolsUnsupported

log = logging.getLogger(__name__)


class OpenAICompatibleGenerator:
    """Streams `POST {base_url}/chat/completions` with `stream: true` (server-sent events).

    Chat messages are sent as they are; a completion prompt is sent as one user message.
    Stop strings are applied both by the server and here, so a server that ignores `stop`
    still stops. A reply is whole only when the stream says it ended (`[DONE]` or a
    `finish_reason`): a server killed mid-answer, or one that fails after its 200 (as
    llama-cpp-python does on a prompt longer than its context), is an error, never a short
    answer; so is a chat reply cut at `max_tokens`.
    """

    tuned = False  # no adapter reaches a server
    tools = True  # offered tools (a server that refuses them answers a plain request)

    def __init__(self, base_url: str, model: str = "", api_key: str | None = None,
                 timeout_s: float = 60.0, chat: bool = True,
                 proxy_loopback: bool = False) -> None:
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.api_key = api_key
        self.timeout_s = timeout_s
        self.chat = chat  # a server's model is taken to be a capable chat model
        self.proxy = None if is_loopback(self.base_url) and not proxy_loopback else (
            urllib.request.getproxies().get(urllib.parse.urlsplit(self.base_url).scheme))
        if self.proxy and urllib.request.proxy_bypass(urllib.parse.urlsplit(base_url).hostname):
            self.proxy = None
        # No proxy for a server on this machine (an HTTP_PROXY meant for the internet would
        # otherwise receive every prompt, memories included), and no redirects at all.
        handlers = [NoRedirects()]
        if self.proxy is None:
            handlers.append(urllib.request.ProxyHandler({}))
        self._opener = urllib.request.build_opener(*handlers)
        self.name = f"{model or 'default model'} at {self.base_url}"

    def load(self) -> None:
        """Nothing to load; the server holds the model."""

    def stream(self, prompt: str | Sequence[Message], *, max_new_tokens: int = 64,
               stop: Sequence[str] = ("\n",)) -> Iterator[str]:
        messages = ([{"role": "user", "content": prompt}] if isinstance(prompt, str)
                    else [dict(m) for m in prompt])
        body = self._body(messages, max_new_tokens)
        stop = [s for s in stop if s]
        if stop:
            body["stop"] = list(stop)[:4]  # the OpenAI API accepts at most four
        text, emitted = "", 0
        # A completion prompt is capped on purpose (a phrase, a summary sentence), as the
        # embedded model caps it; a chat reply cut at max_tokens is not the whole reply.
        with self._open(body) as response:
            for delta in self._deltas(response, None if isinstance(prompt, str)
                                      else max_new_tokens):
                text += delta.get("content") or ""
                cut = min((i for i in (text.find(s) for s in stop) if i >= 0), default=None)
                if cut is not None:
                    if cut > emitted:
                        yield text[emitted:cut]
                    return
                if len(text) > emitted:
                    yield text[emitted:]
                    emitted = len(text)

    def turn(self, messages: Sequence[dict], *, tools: Sequence[dict] | None = None,
             max_new_tokens: int = 400) -> tuple[str, list[ToolCall]]:
        """One model turn offered `tools`: its text and the tool calls it made (streamed
        deltas put together)."""
        body = self._body([dict(m) for m in messages], max_new_tokens)
        if tools:
            # llama-cpp-python ignores `tools` without `tool_choice`.
            body["tools"], body["tool_choice"] = list(tools), "auto"
        text, calls = "", {}
        with self._open(body, tools=bool(tools)) as response:
            for delta in self._deltas(response, max_new_tokens, tools=bool(tools)):
                text += delta.get("content") or ""
                for part in delta.get("tool_calls") or ():
                    call = calls.setdefault(part.get("index", len(calls)), ToolCall("", "", ""))
                    fn = part.get("function") or {}
                    call.id = part.get("id") or call.id
                    call.name = fn.get("name") or call.name
                    call.arguments += fn.get("arguments") or ""
        return text, [calls[i] for i in sorted(calls)]

    def _body(self, messages: list[dict], max_new_tokens: int) -> dict:
        return {"model": self.model, "stream": True, "max_tokens": max_new_tokens,
                "temperature": 0, "messages": messages}

    def _open(self, body: dict, tools: bool = False):
        request = urllib.request.Request(
            f"{self.base_url}/chat/completions", data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json", "Accept": "text/event-stream",
                     **({"Authorization": f"Bearer {self.api_key}"} if self.api_key else {})},
            method="POST")
        try:
            return self._opener.open(request, timeout=self.timeout_s)
        except Redirected as exc:
            raise GeneratorUnavailable(
                f"model server {self.base_url} redirected to {exc.reason}; not followed (the "
                "prompt holds your memories, and the key). Set `model` to the server's own URL."
            ) from None
        except urllib.error.HTTPError as exc:
            detail = exc.read(300).decode("utf-8", "replace")
            # Servers refuse tools in many ways: llama-server --no-jinja with 500, llama-cpp-
            # python with 500 on a message it cannot parse; the caller asks plainly once.
            kind = ToolsUnsupported if tools and 400 <= exc.code < 600 else GeneratorUnavailable
            raise kind(f"model server {self.base_url} answered HTTP {exc.code}: "
                       f"{detail}") from exc
        except (TimeoutError, urllib.error.URLError, ConnectionError) as exc:
            reason = getattr(exc, "reason", exc)
            raise GeneratorUnavailable(
                f"cannot reach the model server at {self.base_url} ({reason}); start it, or "
                "set `model` in config.toml (or --model) to another one") from exc

    def _deltas(self, response, whole: int | None, tools: bool = False) -> Iterator[dict]:
        """The stream's deltas; an error unless it says it ended, or when it was cut at
        `whole` tokens (None: a cut is expected). A request offering tools answered with
        an empty stream is a refusal of the tools."""
        received = False
        try:
            for delta in (stream := _Events(response)):
                received = True
                yield delta
            ended = stream.ended
        except TimeoutError as exc:
            raise GeneratorUnavailable(f"model server {self.base_url} stopped answering "
                                       f"for {self.timeout_s:.0f} s") from exc
        except (http.client.HTTPException, OSError) as exc:
            raise GeneratorUnavailable(f"model server {self.base_url} dropped the connection "
                                       f"mid-answer ({exc!r})") from exc
        if ended == "length" and whole is not None:
            raise GeneratorUnavailable(
                f"the answer was cut off: model server {self.base_url} stopped it at the "
                f"{whole}-token limit (finish_reason \"length\"); raise chat_max_new_tokens "
                "in config.toml")
        if ended is None and tools and not received:
            raise ToolsUnsupported(f"model server {self.base_url} answered a request "
                                   "offering tools with an empty stream")
        if ended is None:
            raise GeneratorUnavailable(
                f"model server {self.base_url} ended the stream " +
                ("mid-answer" if received else "without an answer") +
                " (no [DONE] and no finish_reason): it stopped or failed; see its log (a "
                "prompt longer than its context window ends this way on llama-cpp-python)")


class Redirected(urllib.error.URLError):
    """The server answered with a redirect, which is never followed."""


class NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):
        raise Redirected(newurl)


def is_loopback(url: str) -> bool:
    """The URL names this machine in any spelling the resolver accepts: localhost (and
    "localhost."), 127.0.0.0/8 (and "127.1", "0x7f.1", "2130706433"), ::1 (and
    ::ffff:127.0.0.1), and 0.0.0.0 or ::, which connect here too."""
    host = (urllib.parse.urlsplit(url).hostname or "").rstrip(".")
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        address = ipaddress.ip_address(host.split("%")[0])  # an IPv6 zone is no matter
    except ValueError:
        if not re.fullmatch(r"[0-9a-fx.]+", host):
            return False
        try:  # the short and numeric IPv4 forms the resolver connects to
            address = ipaddress.IPv4Address(socket.inet_aton(host))
        except OSError:
            return False
    address = getattr(address, "ipv4_mapped", None) or address
    return address.is_loopback or address.is_unspecified


def destination(url: str, proxy_loopback: bool = False) -> str:
    """Where a prompt for `url` goes, in words (`assistant doctor`)."""
    gen = OpenAICompatibleGenerator(url, proxy_loopback=proxy_loopback)
    return f"{url} (through the proxy {gen.proxy})" if gen.proxy else f"{url} (directly)"


class _Events:
    """The `delta` objects (content, tool calls) of a chat-completions event stream; then
    `ended` says how it ended: the last finish_reason, "[DONE]", or None when the response
    just stopped (the end of the body is not the end of the answer)."""

    def __init__(self, response) -> None:
        self.response = response
        self.ended: str | None = None

    def __iter__(self) -> Generator[dict, None, None]:
        for raw in self.response:
            line = raw.decode("utf-8", "replace").strip()
            if not line.startswith("data:"):
                continue
            data = line[5:].strip()
            if data == "[DONE]":
                self.ended = self.ended or data
                return
            try:
                event = json.loads(data)
            except json.JSONDecodeError:
                log.warning("ignored a malformed event from the model server: %.80s", data)
                continue
            if "error" in event:
                raise GeneratorUnavailable(f"model server error: {event['error']}")
            for choice in event.get("choices", []):
                self.ended = choice.get("finish_reason") or self.ended
                if choice.get("delta"):
                    yield choice["delta"]


def api_key_from_env(name: str) -> str | None:
    """The API key is read from an environment variable, never stored in config.toml."""
    return os.environ.get(name) if name else None
