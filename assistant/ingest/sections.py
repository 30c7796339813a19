"""Helpers the structured readers share: whitespace, paragraphs and heading paths."""

from __future__ import annotations

import re

from assistant.ingest.types import Section

_BLANK_LINE = re.compile(r"\n[ \t\f\v]*\n")


def normalise_space(text: str) -> str:
    """Collapse every run of whitespace to one space and trim the ends."""
    return " ".join(text.split())


def split_paragraphs(text: str) -> list[str]:
    """Split text on blank lines into whitespace-normalised, non-empty paragraphs."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    paragraphs = (normalise_space(block) for block in _BLANK_LINE.split(text))
    return [p for p in paragraphs if p]


class SectionBuilder:
    """Collects paragraphs under the current heading path; one Section per heading."""

    def __init__(self) -> None:
        self._headings: list[tuple[int, str]] = []
        self._paragraphs: list[str] = []
        self._sections: list[Section] = []

    @property
    def locator(self) -> str:
        """The current heading path, outermost first, joined with " > "."""
        return " > ".join(text for _, text in self._headings)

    def heading(self, level: int, text: str) -> None:
        """Start a new section under a heading of this level (smaller is outer)."""
        self._flush()
        text = normalise_space(text)
        if not text:
            return
        # A heading closes every open heading at its own level or deeper.
        while self._headings and self._headings[-1][0] >= level:
            self._headings.pop()
        self._headings.append((level, text))

    def paragraph(self, text: str) -> None:
        """Add one paragraph to the current section; blank text is ignored."""
        text = normalise_space(text)
        if text:
            self._paragraphs.append(text)

    def finish(self) -> list[Section]:
        """Close the last section and return all sections in document order."""
        self._flush()
        return self._sections

    def _flush(self) -> None:
        if self._paragraphs:
            self._sections.append(Section("\n\n".join(self._paragraphs), self.locator))
            self._paragraphs = []
