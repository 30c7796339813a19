"""Document import: readers that turn files into sections, and the chunker.

Pure functions over files: no database and no models, so they are cheap to test.
"""

from assistant.ingest.chunking import chunk_sections
from assistant.ingest.readers import read_document
from assistant.ingest.types import (
    CHATGPT_EXPORT_NAME,
    SUPPORTED_SUFFIXES,
    Chunk,
    ImportedConversation,
    ImportedTurn,
    ReadDocument,
    ReadError,
    Section,
    is_supported,
)

__all__ = [
    "CHATGPT_EXPORT_NAME",
    "SUPPORTED_SUFFIXES",
    "Chunk",
    "ImportedConversation",
    "ImportedTurn",
    "ReadDocument",
    "ReadError",
    "Section",
    "chunk_sections",
    "is_supported",
    "read_document",
]
