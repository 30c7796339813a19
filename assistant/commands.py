"""What the user asked for: a chat message, a slash command, or a memory request in words.

Shared by the TUI and the plain terminal chat, so "remember that ..." means the same
everywhere. Parsing only; the caller carries the action out.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

SLASH_COMMANDS = {
    "new": "start a new conversation",
    "import": "import files or folders as knowledge: /import PATH",
    "remember": "store a pinned fact: /remember TEXT",
    "forget": "find memories to delete (asks first): /forget QUERY",
    "search": "search all memories and past conversations: /search QUERY",
    "export": "export all memories to .json or .md: /export PATH",
    "export-chat": "export this conversation as Markdown (/import reads it back): "
                   "/export-chat [FILE.md] (without one, asks where)",
    "memories": "open the memory browser",
    "accept": "keep what a model proposed to remember: /accept (lists them) or /accept #12",
    "reject": "drop what a model proposed to remember: /reject #12",
    "model": "switch who answers: /model embedded | FOLDER | FILE.gguf | http://HOST/v1",
    "help": "list the commands",
}

_REMEMBER = re.compile(r"^\s*(?:please\s+)?remember\s+(?:that\s+)?(?P<arg>.+)$",
                       re.IGNORECASE | re.DOTALL)
_FORGET = re.compile(r"^\s*(?:please\s+)?forget\s+(?:about\s+|that\s+|what\s+i\s+said\s+"
                     r"about\s+)?(?P<arg>.+)$", re.IGNORECASE | re.DOTALL)
# "Remember when we ...?" and "do you remember ..." are questions, not requests.
_QUESTION = re.compile(r"^\s*remember\s+(?:when|what|how|where|who|if|the time)\b|\?\s*$",
                       re.IGNORECASE)


@dataclass(frozen=True)
class Command:
    name: str  # "chat" or a SLASH_COMMANDS key
    arg: str = ""


class CommandError(ValueError):
    """An unknown slash command, or one missing its argument."""


def parse(text: str) -> Command:
    """The command a line of input asks for; plain messages are Command("chat", text)."""
    line = text.strip()
    if line.startswith("/"):
        name, _, arg = line[1:].partition(" ")
        name, arg = name.lower(), arg.strip()
        if name not in SLASH_COMMANDS:
            known = ", ".join(f"/{n}" for n in SLASH_COMMANDS)
            raise CommandError(f"unknown command /{name}; try one of {known}")
        if name in {"import", "remember", "forget", "search", "export", "model",
                                  "reject"} and not arg:
            raise CommandError(f"/{name} needs an argument: {SLASH_COMMANDS[name]}")
        return Command(name, arg)
    if not _QUESTION.search(line):
        for name, pattern in (("remember", _REMEMBER), ("forget", _FORGET)):
            m = pattern.match(line)
            if m:
                return Command(name, m["arg"].strip().rstrip("."))
    return Command("chat", line)


_QUESTION_START = re.compile(
    r"^\s*(?:who|whom|whose|what|when|where|which|why|how|is|are|was|were|do|does|did|can|"
    r"could|would|will|should|shall|have|has|had|tell me|remind me|list|name|describe|"
    r"explain|summari[sz]e|give me)\b", re.IGNORECASE)


def is_question(text: str) -> bool:
    """A question or request to answer, rather than a statement to remember."""
    return text.rstrip().endswith("?") or bool(_QUESTION_START.match(text))
