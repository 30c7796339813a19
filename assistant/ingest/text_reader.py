"""Plain-text reader, and the byte-to-text decoding the other text formats share."""

from __future__ import annotations

import codecs
import unicodedata
from pathlib import Path

import charset_normalizer

from assistant.ingest.sections import split_paragraphs
from assistant.ingest.types import ReadError, Section

_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
_BINARY_HINT = "convert it to plain text (UTF-8) and import again"


def decode_text(path: Path, raw: bytes) -> str:
    """Decode a text file's bytes: BOM, then UTF-8, then Western (cp1252), then detection."""
    for bom, encoding in _BOMS:
        if raw.startswith(bom):
            try:
                return _check_text(path, raw.decode(encoding))
            except UnicodeDecodeError:
                raise ReadError(path, f"invalid {encoding} text; {_BINARY_HINT}") from None
    if b"\x00" in raw:
        raise ReadError(path, f"binary data, not text (contains NUL bytes); {_BINARY_HINT}")
    try:
        return _check_text(path, raw.decode("utf-8"))
    except UnicodeDecodeError:
        pass
    text = _decode_western(raw)
    if text is None:
        # charset-normalizer misreads short Latin-1 text (as cp1250, cp1006...), which is
        # why the Western guess above goes first; it still handles cp1251, Shift-JIS etc.
        best = charset_normalizer.from_bytes(raw).best()
        if best is None:
            raise ReadError(path, f"cannot tell the text encoding; {_BINARY_HINT}")
        text = str(best)
    return _check_text(path, text)


def _decode_western(raw: bytes) -> str | None:
    """cp1252 text if the bytes look like mostly-ASCII Western European text, else None."""
    try:
        text = raw.decode("cp1252")
    except UnicodeDecodeError:
        return None
    letters = sum(1 for c in text if c.isalpha())
    foreign = sum(1 for c in text if c.isalpha() and not c.isascii())
    # Western text has a few accented letters among ASCII ones; Cyrillic or Greek bytes
    # read as cp1252 give words made entirely of accented letters.
    if not letters or foreign > 0.25 * letters:
        return None
    return text


def _check_text(path: Path, text: str) -> str:
    """Reject text that decoded but is mostly control characters (binary in disguise)."""
    controls = sum(1 for c in text if c not in "\t\n\r\f\v" and unicodedata.category(c) == "Cc")
    if controls > max(2, len(text) // 100):
        raise ReadError(path, f"binary data, not text (control characters); {_BINARY_HINT}")
    return text.lstrip("\ufeff")


def read_text(path: Path, raw: bytes) -> tuple[str, list[Section]]:
    """Read a .txt file: one section of blank-line separated paragraphs, titled by stem."""
    paragraphs = split_paragraphs(decode_text(path, raw))
    sections = [Section("\n\n".join(paragraphs), "")] if paragraphs else []
    return path.stem, sections
