"""Word .docx reader: heading styles give the heading path; tables become rows of text."""

from __future__ import annotations

import io
import re
import zipfile
from pathlib import Path

import docx
from docx.table import Table
from docx.text.paragraph import Paragraph

from assistant.ingest.sections import SectionBuilder, normalise_space
from assistant.ingest.types import ReadError, Section

_HEADING_STYLE = re.compile(r"Heading ([1-9])")
# A .docx is a zip of XML; refuse archives that would inflate past this (zip bombs).
_MAX_UNPACKED_BYTES = 512 * 1024 * 1024


def read_docx(path: Path, raw: bytes) -> tuple[str, list[Section]]:
    """Read a .docx into sections keyed by heading path; title from properties or Title."""
    _check_archive(path, raw)
    try:
        document = docx.Document(io.BytesIO(raw))
        builder = SectionBuilder()
        styled_title = ""
        for block in document.iter_inner_content():
            if isinstance(block, Table):
                _read_table(block, builder)
                continue
            level = _heading_level(block)
            if level is None:
                builder.paragraph(block.text)
                continue
            if level == 0 and not styled_title:
                styled_title = normalise_space(block.text)
            builder.heading(level, block.text)
        sections = builder.finish()
        title = normalise_space(document.core_properties.title or "") or styled_title
    except Exception as exc:  # python-docx/lxml raise many types on damaged parts
        reason = (str(exc) or type(exc).__name__)[:120]
        raise ReadError(path, f"not a readable .docx ({reason}); save it again in Word") from exc
    return title or path.stem, sections


def _check_archive(path: Path, raw: bytes) -> None:
    """Fail early, with a useful reason, on files that are not a sane .docx zip."""
    try:
        with zipfile.ZipFile(io.BytesIO(raw)) as archive:
            names = set(archive.namelist())
            unpacked = sum(info.file_size for info in archive.infolist())
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, OSError) as exc:
        raise ReadError(
            path,
            f"not a valid .docx (bad zip archive: {exc}); "
            "if it is an old .doc or another format, save it as .docx and import again",
        ) from exc
    if "word/document.xml" not in names:
        raise ReadError(path, "not a valid .docx (no word/document.xml); save it as .docx")
    if unpacked > _MAX_UNPACKED_BYTES:
        raise ReadError(path, "not a valid .docx (unpacks to over 512 MB); refusing to read")


def _heading_level(paragraph: Paragraph) -> int | None:
    """0 for the Title style, 1-9 for "Heading N", None for body text."""
    name = paragraph.style.name if paragraph.style is not None else ""
    if name == "Title":
        return 0
    match = _HEADING_STYLE.fullmatch(name or "")
    return int(match.group(1)) if match else None


def _read_table(table: Table, builder: SectionBuilder) -> None:
    """Add each table row as one paragraph of its cells' text, joined with " | "."""
    for row in table.rows:
        seen: set[int] = set()
        cells = []
        for cell in row.cells:
            # A merged cell is returned once per grid column it spans; keep it once.
            if id(cell._tc) in seen:
                continue
            seen.add(id(cell._tc))
            text = normalise_space(cell.text)
            if text:
                cells.append(text)
        builder.paragraph(" | ".join(cells))
