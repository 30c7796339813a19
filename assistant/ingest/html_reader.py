"""HTML reader: visible text only, sections follow h1-h6, block elements make paragraphs."""

from __future__ import annotations

from pathlib import Path

from bs4 import BeautifulSoup, CData, NavigableString, Tag
from bs4.dammit import EncodingDetector

from assistant.ingest.sections import SectionBuilder, normalise_space
from assistant.ingest.text_reader import decode_text
from assistant.ingest.types import Section

# Never shown to a reader, so never remembered; <head> goes too (its <title> is kept).
_INVISIBLE = ("script", "style", "noscript", "template", "head", "title")
_HEADINGS = {f"h{n}": n for n in range(1, 7)}
_BLOCKS = frozenset(
    "address article aside blockquote body caption dd details dialog div dl dt fieldset "
    "figcaption figure footer form header hr html li main nav ol p pre section summary "
    "table tbody tfoot thead tr ul".split()
)
_CELLS = frozenset({"td", "th"})
_END_BLOCK = object()  # marks where a block element closes during the walk


def read_html(path: Path, raw: bytes) -> tuple[str, list[Section]]:
    """Read an HTML page into sections keyed by heading path; title from <title> or <h1>."""
    soup = BeautifulSoup(_decode_html(path, raw), "html.parser")
    title = normalise_space(soup.title.get_text(" ")) if soup.title else ""
    for tag in soup.find_all(_INVISIBLE):
        tag.decompose()
    builder = SectionBuilder()
    parts: list[str] = []

    def end_paragraph() -> None:
        builder.paragraph("".join(parts))
        parts.clear()

    # An explicit stack, not recursion: hostile pages can nest thousands of tags deep.
    stack: list[object] = [soup]
    while stack:
        node = stack.pop()
        if node is _END_BLOCK:
            end_paragraph()
        elif isinstance(node, NavigableString):
            # Comments, doctypes and other markup strings are subclasses; skip them.
            if type(node) is NavigableString or isinstance(node, CData):
                parts.append(str(node))
        elif isinstance(node, Tag):
            if node.name in _HEADINGS:
                end_paragraph()
                text = node.get_text(" ")
                if not title and node.name == "h1":
                    title = normalise_space(text)
                builder.heading(_HEADINGS[node.name], text)
                continue
            if node.name == "br":
                parts.append(" ")
            elif node.name in _CELLS and "".join(parts).strip():
                parts.append(" | ")
            elif node.name in _BLOCKS:
                end_paragraph()
                stack.append(_END_BLOCK)
            stack.extend(reversed(node.contents))
    end_paragraph()
    return title or path.stem, builder.finish()


def _decode_html(path: Path, raw: bytes) -> str:
    """Decode with the page's declared charset when it works, else like any text file."""
    declared = EncodingDetector.find_declared_encoding(raw, is_html=True)
    if declared and b"\x00" not in raw:
        try:
            return raw.decode(declared)
        except (LookupError, UnicodeDecodeError):
            pass  # a wrong or unknown declaration; detect instead
    return decode_text(path, raw)
