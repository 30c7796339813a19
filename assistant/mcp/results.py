"""What the MCP tools return, as typed shapes: the SDK publishes each one as the tool's
output schema, so a client knows the fields (and checks them) before it calls."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field
from typing_extensions import TypedDict  # pydantic refuses typing's, nested, on Python 3.11

from memory_store.records import Hit, iso


class Memory(TypedDict):
    """One memory: what it says, where and when it comes from."""

    id: Annotated[int, Field(description="its id, for forget")]
    text: str
    kind: Annotated[str, Field(description="turn (a chat message), chunk (a document "
                                           "part), fact or summary")]
    source: Annotated[str, Field(description="where it comes from: a conversation, a "
                                             "file, or mcp:<client> for a remembered fact")]
    date: Annotated[str, Field(description="when it was said or written, YYYY-MM-DD")]
    pinned: bool
    ltmt_weight: Annotated[float | None, Field(description="LTM-T's attention on it for "
                                                           "this query (None: not ranked)")]


class Answered(TypedDict):
    """The assistant's answer to a question, with what it rests on."""

    answer: str
    verdict: Annotated[str, Field(description="answered, or abstained: it does not know "
                                              "and says what is closest")]
    support: Annotated[Memory | None, Field(description="the memory the answer rests on")]
    sources: Annotated[list[Memory], Field(description="the memories it was given")]


class Remembered(TypedDict):
    """The fact as stored, and the older ones it now supersedes (kept as history)."""

    remembered: Memory
    replaces: list[Memory]


class Forgotten(TypedDict):
    """The memory that was removed."""

    forgotten: Memory


class ConversationInfo(TypedDict):
    """A conversation in the memory."""

    id: int
    title: str
    origin: str
    created: Annotated[str, Field(description="ISO 8601 time, UTC")]
    updated: Annotated[str, Field(description="ISO 8601 time, UTC")]
    messages: Annotated[int, Field(description="how many messages it holds")]


class Said(TypedDict):
    """One message of a conversation."""

    role: Annotated[str, Field(description="user or assistant")]
    text: str
    date: Annotated[str, Field(description="ISO 8601 time, UTC")]


class Conversation(TypedDict):
    """One conversation's messages, oldest first."""

    id: int
    title: str
    messages: list[Said]


class Imported(TypedDict):
    path: str
    memories: Annotated[int, Field(description="how many memories it became")]


class NotImported(TypedDict):
    path: str
    why: str


class ImportResult(TypedDict):
    """What an import did, file by file."""

    imported: list[Imported]
    skipped: Annotated[list[NotImported], Field(description="files left as they were, "
                                                            "such as unchanged ones")]
    failed: Annotated[list[NotImported], Field(description="files that could not be read")]


class Stats(TypedDict):
    """How much the memory holds, and how it is kept."""

    memories: int
    by_kind: Annotated[dict[str, int], Field(description="memories per kind")]
    documents: int
    conversations: int
    messages: int
    vector_index: Annotated[int | str, Field(description="vectors in the FAISS index, or "
                                                         "the PostgreSQL index kind")]
    index: str
    embedding_model: str
    backend: Annotated[str, Field(description="sqlite or postgresql")]


def memory_json(hit: Hit) -> Memory:
    return {"id": hit.id, "text": hit.text, "kind": hit.kind, "source": hit.source,
            "date": iso(hit.created_at)[:10], "pinned": hit.pinned,
            "ltmt_weight": None if hit.weight is None else round(hit.weight, 4)}


def stats_json(stats: dict[str, Any]) -> Stats:
    """A store's stats less its folder (a client has no use for the path)."""
    return {key: stats[key] for key in Stats.__annotations__}  # type: ignore[return-value]
