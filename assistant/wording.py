"""How the app words things, the same everywhere: counts, and a conversation's title made
from its first message (the TUI, the plain chat and forgetting, which makes it again from
the message's new text, all call `title_of`)."""

from __future__ import annotations

from assistant.commands import CommandError, parse

TITLE_CHARS = 40


def plural(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


def title_of(first_message: str) -> str:
    """The message on one line, without a leading "/remember" or "remember that", cut at a
    word boundary with an ellipsis so that it has at most TITLE_CHARS characters."""
    text = " ".join(first_message.split())
    try:  # what a message asks of the assistant is not what the conversation is about
        command = parse(text)
    except CommandError:
        command = None
    if command is not None and command.name == "remember":
        text = command.arg
    if len(text) <= TITLE_CHARS:
        return text
    cut = text[:TITLE_CHARS - 1]
    if " " in cut and text[TITLE_CHARS - 1] != " ":
        cut = cut.rsplit(" ", 1)[0]  # (one word longer than a title is cut inside)
    return cut.rstrip(" ,;:.-") + "\u2026"
