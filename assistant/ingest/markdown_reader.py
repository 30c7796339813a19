"""Markdown reader: sections follow ATX headings, fenced code is never a heading."""

from __future__ import annotations

import html
import re
from pathlib import Path

from assistant.ingest.sections import SectionBuilder, normalise_space
from assistant.ingest.text_reader import decode_text
from assistant.ingest.types import Section

_ATX = re.compile(r" {0,3}(#{1,6})(?:[ \t]|$)")
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_FRONT_MATTER = re.compile(r"\A---[ \t]*\n.*?\n(?:---|\.\.\.)[ \t]*(?:\n|\Z)", re.DOTALL)
# Bounded classes without brackets keep these linear on hostile "[[[[" input.
_IMAGE = re.compile(r"!\[([^\[\]\n]{0,500})\]\([^()\[\]\s]{0,2000}\)")
_LINK = re.compile(r"\[([^\[\]\n]{1,500})\]\([^()\[\]\s]{0,2000}\)")


def read_markdown(path: Path, raw: bytes) -> tuple[str, list[Section]]:
    """Read a Markdown file into sections keyed by heading path; title is the first H1."""
    text = decode_text(path, raw).replace("\r\n", "\n").replace("\r", "\n")
    # YAML front matter (Obsidian, static sites) is metadata, not prose.
    text = _FRONT_MATTER.sub("", text, count=1)
    builder = SectionBuilder()
    title = ""
    block: list[str] = []
    fence = ""  # the opening fence while inside a fenced code block

    def end_block() -> None:
        joined = " ".join(block)
        # Entities mean characters in prose ("&lt;scalar&gt;"), but are literal in code.
        builder.paragraph(joined if fence else html.unescape(_strip_inline(joined)))
        block.clear()

    for line in text.split("\n"):
        if fence:
            stripped = line.strip()
            if stripped and set(stripped) == {fence[0]} and len(stripped) >= len(fence):
                end_block()
                fence = ""
            else:
                block.append(line)
            continue
        opening = _FENCE.match(line)
        if opening:
            end_block()
            fence = opening.group(1)
            continue
        heading = _ATX.match(line)
        if heading:
            end_block()
            heading_text = html.unescape(_strip_inline(_heading_text(line[heading.end() :])))
            level = len(heading.group(1))
            if level == 1 and not title:
                title = normalise_space(heading_text)
            builder.heading(level, heading_text)
        elif line.strip():
            block.append(line)
        else:
            end_block()
    end_block()
    return title or path.stem, builder.finish()


def _heading_text(rest: str) -> str:
    """A heading's text without the optional closing run of #s ("## Title ##")."""
    # String methods, not a regex: a backtracking pattern is quadratic on long lines.
    text = rest.strip()
    without = text.rstrip("#")
    if without != text and (not without or without[-1] in " \t"):
        text = without.strip()
    return text


def _strip_inline(text: str) -> str:
    """Keep the words of links and images, drop their URLs (noise for retrieval)."""
    return _LINK.sub(r"\1", _IMAGE.sub(r"\1", text))
