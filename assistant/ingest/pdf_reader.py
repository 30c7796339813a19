"""PDF reader: pypdf text extraction, one section per page that has text."""

from __future__ import annotations

import io
import logging
from pathlib import Path

from pypdf import PageObject, PdfReader

from assistant.ingest.sections import normalise_space
from assistant.ingest.types import ReadError, Section

log = logging.getLogger(__name__)

_DAMAGED_HINT = "the file may be damaged or incomplete; download or export it again"
# Text extraction costs seconds per MB of page content, and a few KB of PDF can
# inflate to far more (or reuse one big stream on every page). A long book has tens of MB.
_MAX_CONTENT_BYTES = 128 * 1024 * 1024


def read_pdf(path: Path, raw: bytes) -> tuple[str, list[Section]]:
    """Read a PDF into one section per page (locator "page=N"); title from metadata."""
    # Anything without a PDF header is not worth handing to the parser.
    if raw.find(b"%PDF-", 0, 1024) < 0:
        raise ReadError(path, "not a readable PDF (no %PDF header: not a PDF file)")
    # pypdf raises many exception types (and worse) on damaged input: all mean the same.
    try:
        reader = PdfReader(io.BytesIO(raw))
        encrypted = reader.is_encrypted
    except Exception as exc:
        raise ReadError(path, f"not a readable PDF ({_why(exc)}); {_DAMAGED_HINT}") from exc
    if encrypted and not _decrypt_without_password(reader):
        raise ReadError(path, "encrypted PDF; decrypt it and import again")
    try:
        pages = list(reader.pages)
    except Exception as exc:
        raise ReadError(path, f"not a readable PDF ({_why(exc)}); {_DAMAGED_HINT}") from exc
    sections = []
    content = 0
    for number, page in enumerate(pages, start=1):
        try:
            content += _content_bytes(page)
        except Exception as exc:
            log.warning("%s: skipped page %d (%s)", path.name, number, _why(exc))
            continue
        if content > _MAX_CONTENT_BYTES:
            raise ReadError(path, f"page content inflates to over "
                                  f"{_MAX_CONTENT_BYTES >> 20} MB by page {number} of "
                                  f"{len(pages)}; too big to read (a compression bomb, or "
                                  "a PDF to split into parts)")
        try:
            text = page.extract_text() or ""
        except Exception as exc:
            # One broken page should not cost the user the rest of the document.
            log.warning("%s: skipped page %d (%s)", path.name, number, _why(exc))
            continue
        if normalise_space(text):
            sections.append(Section(text.strip(), f"page={number}", page=number))
    if not sections:
        raise ReadError(
            path,
            "empty: no text to import (it may be a scanned PDF without a text layer; "
            "run OCR on it and import again)",
        )
    return _title(reader) or path.stem, sections


def _content_bytes(page: PageObject) -> int:
    """The size of the page's decoded content stream (pypdf caches the decoding, so the
    text extraction that follows does not inflate it again)."""
    contents = page.get_contents()
    return len(contents.get_data()) if contents is not None else 0


def _decrypt_without_password(reader: PdfReader) -> bool:
    """Open PDFs encrypted only against editing (empty user password), as viewers do."""
    try:
        return bool(reader.decrypt(""))
    except Exception:  # e.g. AES without the optional crypto dependency
        return False


def _title(reader: PdfReader) -> str:
    """The document title from the PDF metadata, or "" when absent or unreadable."""
    try:
        title = reader.metadata.title if reader.metadata else None
    except Exception:
        return ""
    return normalise_space(title) if isinstance(title, str) else ""


def _why(exc: BaseException) -> str:
    """A short description of a parser exception for the user's error message."""
    return (str(exc) or type(exc).__name__)[:120]
