"""Plain data types shared by the readers, the chunker and the import pipeline."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

# Document formats read_document accepts by suffix. A ChatGPT export is recognised by
# its file name instead (other .json files are not documents), so ".json" is not here.
SUPPORTED_SUFFIXES: frozenset[str] = frozenset(
    {".txt", ".md", ".markdown", ".html", ".htm", ".pdf", ".docx"}
)
CHATGPT_EXPORT_NAME = "conversations.json"


def is_supported(path: Path) -> bool:
    """Whether read_document would try to read this path (by suffix or export name)."""
    return path.name.lower() == CHATGPT_EXPORT_NAME or path.suffix.lower() in SUPPORTED_SUFFIXES


class ReadError(Exception):
    """A file that cannot be imported, with a reason the user can act on."""

    def __init__(self, path: Path, reason: str) -> None:
        super().__init__(f"{Path(path).name}: {reason}")
        self.path = Path(path)
        self.reason = reason


@dataclass(frozen=True)
class Section:
    """A run of text under one heading path or on one page; the unit chunks never cross."""

    text: str
    locator: str  # "page=2", "Guide > Zorblat fermentation", or "" when there is none
    page: int | None = None


@dataclass(frozen=True)
class Chunk:
    """A retrieval-sized piece of one section; ordinal is its position in the document."""

    text: str
    locator: str
    ordinal: int


@dataclass
class ImportedTurn:
    """One user or assistant message from an imported conversation."""

    role: str  # "user" or "assistant"
    text: str
    created_at: datetime  # naive UTC
    sources: list[dict] | None = None  # an exported answer's (memory_store.message_sources)


@dataclass
class ImportedConversation:
    """The main thread of one conversation from a chat export."""

    title: str
    created_at: datetime  # naive UTC
    external_id: str
    turns: list[ImportedTurn] = field(default_factory=list)


@dataclass
class ReadDocument:
    """Everything read from one file, before chunking and storing."""

    path: Path
    kind: str  # "text" | "markdown" | "html" | "pdf" | "docx" | "chatgpt" | "conversations"
    title: str
    content_hash: str  # sha256 hex of the raw bytes: re-importing the same file is a no-op
    sections: list[Section] = field(default_factory=list)
    conversations: list[ImportedConversation] = field(default_factory=list)  # chat exports only
