"""What the rest of the assistant knows of a model that writes text: the `Generator`
protocol, its declared capabilities, and the errors a backend may raise."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

Message = dict[str, Any]  # {"role": "system" | "user" | "assistant" | "tool", "content": ...}


@dataclass
class ToolCall:
    """A tool call of the model: its id, the tool's name and the JSON arguments."""

    id: str
    name: str
    arguments: str


class GeneratorUnavailable(RuntimeError):
    """The configured model server cannot be reached or answered with an error."""


class ToolsUnsupported(GeneratorUnavailable):
    """The model refused a request offering tools (it or its server has no tool calling)."""


class Generator(Protocol):
    """A model that writes text: the agent and every benchmark depend on this only.

    Capabilities are declared, never probed: `tuned`, fine-tuned on the notes prompt
    (`assistant train-generator`), so it is prompted without worked examples; `chat`, a
    capable chat model, which gets the chat prompt (dated, sourced memories in the system
    message) and answers in full sentences (a small model gets the notes prompt and
    answers with a short phrase); `tools`, it can be offered tools through `turn`.
    """

    name: str
    tuned: bool
    chat: bool
    tools: bool

    def load(self) -> None:
        """Get ready to generate (read weights); a server has nothing to load."""
        ...

    def stream(
        self, prompt: str | Sequence[Message], *, max_new_tokens: int = 64,
        stop: Sequence[str] = ("\n",)
    ) -> Iterator[str]:
        """Yield the continuation of a completion prompt, or the reply to chat messages,
        piece by piece, ending before any stop string."""
        ...

    def turn(self, messages: Sequence[Message], *, tools: Sequence[dict] | None = None,
             max_new_tokens: int = 400) -> tuple[str, list[ToolCall]]:
        """One model turn offered `tools`: its text and the tool calls it made. Only for a
        generator that declares `tools`; ToolsUnsupported when the model refuses them."""
        ...


def complete(gen: Generator, prompt: str | Sequence[Message], **kw: Any) -> str:
    """The whole continuation as one string, for callers that do not stream."""
    return "".join(gen.stream(prompt, **kw))
