"""An OpenAI-compatible chat-completions server (Ollama, llama.cpp server, vLLM) as a
generator. Used only when the user configures one: nothing else here touches the network.
"""

from __future__ import annotations

import json
import logging
import os
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence

from assistant.generator import Message

log = logging.getLogger(__name__)


class GeneratorUnavailable(RuntimeError):
    """The configured model server cannot be reached or answered with an error."""


class OpenAICompatibleGenerator:
    """Streams `POST {base_url}/chat/completions` with `stream: true` (server-sent events).

    Chat messages are sent as they are; a completion prompt is sent as one user message.
    Stop strings are applied both by the server and here, so a server that ignores `stop`
    still stops.
    """

    tuned = False  # no adapter reaches a server

    def __init__(self, base_url: str, model: str = "", api_key: str | None = None,
                 timeout_s: float = 60.0, chat: bool = True) -> None:
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.api_key = api_key
        self.timeout_s = timeout_s
        self.chat = chat  # a server's model is taken to be a capable chat model
        self.name = f"{model or 'default model'} at {self.base_url}"

    def load(self) -> None:
        """Nothing to load; the server holds the model."""

    def stream(self, prompt: str | Sequence[Message], *, max_new_tokens: int = 64,
               stop: Sequence[str] = ("\n",)) -> Iterator[str]:
        messages = ([{"role": "user", "content": prompt}] if isinstance(prompt, str)
                    else [dict(m) for m in prompt])
        body = {"model": self.model, "stream": True, "max_tokens": max_new_tokens,
                "temperature": 0, "messages": messages}
        stop = [s for s in stop if s]
        if stop:
            body["stop"] = list(stop)[:4]  # the OpenAI API accepts at most four
        request = urllib.request.Request(
            f"{self.base_url}/chat/completions", data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json", "Accept": "text/event-stream",
                     **({"Authorization": f"Bearer {self.api_key}"} if self.api_key else {})},
            method="POST")
        try:
            response = urllib.request.urlopen(request, timeout=self.timeout_s)
        except urllib.error.HTTPError as exc:
            detail = exc.read(300).decode("utf-8", "replace")
            raise GeneratorUnavailable(f"model server {self.base_url} answered HTTP "
                                       f"{exc.code}: {detail}") from exc
        except (TimeoutError, urllib.error.URLError, ConnectionError) as exc:
            reason = getattr(exc, "reason", exc)
            raise GeneratorUnavailable(
                f"cannot reach the model server at {self.base_url} ({reason}); start it, or "
                "set `model` in config.toml (or --model) to another one") from exc
        text, emitted = "", 0
        with response:
            try:
                for piece in _sse_content(response):
                    text += piece
                    cut = min((i for i in (text.find(s) for s in stop) if i >= 0), default=None)
                    if cut is not None:
                        if cut > emitted:
                            yield text[emitted:cut]
                        return
                    yield text[emitted:]
                    emitted = len(text)
            except TimeoutError as exc:
                raise GeneratorUnavailable(f"model server {self.base_url} stopped answering "
                                           f"for {self.timeout_s:.0f} s") from exc


def _sse_content(response) -> Iterator[str]:
    """The `delta.content` pieces of a chat-completions event stream."""
    for raw in response:
        line = raw.decode("utf-8", "replace").strip()
        if not line.startswith("data:"):
            continue
        data = line[5:].strip()
        if data == "[DONE]":
            return
        try:
            event = json.loads(data)
        except json.JSONDecodeError:
            log.warning("ignored a malformed event from the model server: %.80s", data)
            continue
        if "error" in event:
            raise GeneratorUnavailable(f"model server error: {event['error']}")
        for choice in event.get("choices", []):
            content = (choice.get("delta") or {}).get("content")
            if content:
                yield content


def api_key_from_env(name: str) -> str | None:
    """The API key is read from an environment variable, never stored in config.toml."""
    return os.environ.get(name) if name else None
