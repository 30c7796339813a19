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
# What its parts may grow by when inflated: images barely grow, XML grows ~10x and costs
# ~2 s per MB to read, so this is ~4,000 pages of text and a minute of reading at most.
_MAX_INFLATED_GROWTH = 32 * 1024 * 1024


def read_docx(path: Path, raw: bytes) -> tuple[str, list[Section]]:
    """Read a .docx into sections keyed by heading path; title from properties or Title."""
    _check_archive(path, raw)
    try:
        document = docx.Document(io.BytesIO(raw))
        builder = SectionBuilder()
        styled_title = ""
        style_names: dict[str | None, str] = {}
        for block in document.iter_inner_content():
            if isinstance(block, Table):
                _read_table(block, builder)
                continue
            level = _heading_level(block, style_names)
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
            members = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, OSError) as exc:
        raise ReadError(
            path,
            f"not a valid .docx (bad zip archive: {exc}); "
            "if it is an old .doc or another format, save it as .docx and import again",
        ) from exc
    # The sizes a zip declares bound what zipfile will inflate (it stops there), so they
    # can be trusted without inflating anything.
    names = {info.filename for info in members}
    unpacked = sum(info.file_size for info in members)
    growth = sum(max(0, info.file_size - info.compress_size) for info in members)
    if "word/document.xml" not in names:
        raise ReadError(path, "not a valid .docx (no word/document.xml); save it as .docx")
    if unpacked > _MAX_UNPACKED_BYTES:
        raise ReadError(path, "not a valid .docx (unpacks to over 512 MB); refusing to read")
    if growth > _MAX_INFLATED_GROWTH:
        biggest = max(members, key=lambda info: info.file_size)
        raise ReadError(path, f"inflates from {len(raw) >> 10} KB to {unpacked >> 20} MB when "
                              f"unpacked ({biggest.filename}: {biggest.file_size >> 20} MB), "
                              f"over the {_MAX_INFLATED_GROWTH >> 20} MB of growth a .docx "
                              "may have; refusing to read (a zip bomb, or a document to "
                              "split into parts)")


def _heading_level(paragraph: Paragraph, names: dict[str | None, str]) -> int | None:
    """0 for the Title style, 1-9 for "Heading N", None for body text."""
    # python-docx scans every style of the document to find a paragraph's (a minute for
    # 10,000 paragraphs), so each style id's name is looked up once.
    style_id = paragraph._p.style
    if style_id not in names:
        style = paragraph.style
        names[style_id] = (style.name if style is not None else "") or ""
    name = names[style_id]
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
