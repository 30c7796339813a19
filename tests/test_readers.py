"""Readers on real files written with the real libraries (fpdf2, pypdf, python-docx)."""

from __future__ import annotations

import hashlib
import io
import json
import os
import zipfile
from datetime import datetime
from pathlib import Path

import docx
import pytest
from fpdf import FPDF
from pypdf import PdfReader, PdfWriter

from assistant.ingest.chunking import chunk_sections
from assistant.ingest.readers import read_document
from assistant.ingest.types import ReadError, is_supported


def write_pdf(path: Path, pages: list[str]) -> Path:
    """A real PDF with one page per string (an empty string gives a blank page)."""
    pdf = FPDF()
    pdf.set_font("Helvetica", size=12)
    for text in pages:
        pdf.add_page()
        if text:
            pdf.multi_cell(0, 8, text)
    path.write_bytes(bytes(pdf.output()))
    return path


def encrypt_pdf(source: Path, target: Path, user_password: str) -> Path:
    writer = PdfWriter(clone_from=PdfReader(source))
    writer.encrypt(user_password, "owner-secret")
    buffer = io.BytesIO()
    writer.write(buffer)
    target.write_bytes(buffer.getvalue())
    return target


def read_error(path: Path) -> ReadError:
    with pytest.raises(ReadError) as info:
        read_document(path)
    assert path.name in str(info.value)
    assert info.value.path == path
    return info.value


# --- PDF ---------------------------------------------------------------------------


def test_pdf_one_section_per_page_with_fact_on_page_two(tmp_path: Path) -> None:
    path = write_pdf(
        tmp_path / "manual.pdf",
        ["Gardening notes about tomatoes and basil. " * 5, "The zorblat ferments at 42 degrees."],
    )
    doc = read_document(path)
    assert doc.kind == "pdf"
    assert doc.content_hash == hashlib.sha256(path.read_bytes()).hexdigest()
    assert [(s.locator, s.page) for s in doc.sections] == [("page=1", 1), ("page=2", 2)]
    assert "zorblat" not in doc.sections[0].text
    assert "zorblat ferments at 42 degrees" in doc.sections[1].text
    chunks = chunk_sections(doc.sections)
    assert [c.locator for c in chunks if "zorblat" in c.text] == ["page=2"]


def test_pdf_blank_pages_are_skipped_and_all_blank_is_a_scan(tmp_path: Path) -> None:
    doc = read_document(write_pdf(tmp_path / "gaps.pdf", ["", "Only the second page has text."]))
    assert [s.page for s in doc.sections] == [2]
    error = read_error(write_pdf(tmp_path / "scan.pdf", ["", ""]))
    assert "scanned" in error.reason


def test_encrypted_pdf_is_refused_with_a_fix(tmp_path: Path) -> None:
    plain = write_pdf(tmp_path / "plain.pdf", ["Secret budget numbers."])
    error = read_error(encrypt_pdf(plain, tmp_path / "report.pdf", "hunter2"))
    assert str(error) == "report.pdf: encrypted PDF; decrypt it and import again"


def test_pdf_locked_only_against_editing_still_reads(tmp_path: Path) -> None:
    plain = write_pdf(tmp_path / "plain.pdf", ["Open to read, locked to edit."])
    doc = read_document(encrypt_pdf(plain, tmp_path / "locked.pdf", ""))
    assert "locked to edit" in doc.sections[0].text


def test_truncated_pdf(tmp_path: Path) -> None:
    raw = write_pdf(tmp_path / "full.pdf", ["Some text.", "More text."]).read_bytes()
    path = tmp_path / "cut.pdf"
    path.write_bytes(raw[: len(raw) // 2])
    assert "not a readable PDF" in read_error(path).reason


def test_random_bytes_named_pdf(tmp_path: Path) -> None:
    path = tmp_path / "noise.pdf"
    path.write_bytes(os.urandom(4096))
    assert "not a readable PDF" in read_error(path).reason
    path.write_bytes(b"%PDF-1.7\n" + os.urandom(4096) + b"\n%%EOF\n")
    assert "not a readable PDF" in read_error(path).reason


# --- DOCX --------------------------------------------------------------------------


def test_docx_headings_and_table(tmp_path: Path) -> None:
    document = docx.Document()
    document.add_heading("Handbook", level=0)  # the "Title" style
    document.add_heading("Guide", level=1)
    document.add_paragraph("An introduction to the guide.")
    document.add_heading("Zorblat fermentation", level=2)
    document.add_paragraph("Zorblats ferment best at 42 degrees.")
    table = document.add_table(rows=2, cols=2)
    table.cell(0, 0).text, table.cell(0, 1).text = "Stage", "Days"
    table.cell(1, 0).text, table.cell(1, 1).text = "Primary", "fourteen"
    document.add_heading("Storage", level=1)
    document.add_paragraph("Keep it cool.")
    path = tmp_path / "guide.docx"
    document.save(path)

    doc = read_document(path)
    assert (doc.kind, doc.title) == ("docx", "Handbook")
    by_locator = {s.locator: s.text for s in doc.sections}
    assert by_locator["Handbook > Guide"] == "An introduction to the guide."
    fermentation = by_locator["Handbook > Guide > Zorblat fermentation"]
    assert "42 degrees" in fermentation and "Primary | fourteen" in fermentation
    assert by_locator["Handbook > Storage"] == "Keep it cool."


def test_invalid_docx(tmp_path: Path) -> None:
    path = tmp_path / "old.docx"
    path.write_bytes(b"\xd0\xcf\x11\xe0 an old binary Word file" + os.urandom(512))
    assert "not a valid .docx" in read_error(path).reason
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("hello.txt", "not word")
    assert "not a valid .docx" in read_error(path).reason


# --- HTML and Markdown -------------------------------------------------------------

HTML = """<!doctype html><html><head><title>Zorblat page</title>
<style>body { color: hotpink }</style><script>var secret="zzz"</script></head>
<body><noscript>enable js</noscript><h1>Guide</h1><p>Intro <b>text</b> here.</p>
<h2>Zorblat fermentation</h2><p>It ferments at<br>42 degrees.</p><ul><li>one</li><li>two</li></ul>
<script>var secret="zzz"</script><!-- a comment --><table><tr><td>A</td><td>B</td></tr></table>
<h1>Other</h1><div>Elsewhere.</div></body></html>"""


def test_html_sections_without_scripts_or_styles(tmp_path: Path) -> None:
    path = tmp_path / "page.html"
    path.write_text(HTML, encoding="utf-8")
    doc = read_document(path)
    assert (doc.kind, doc.title) == ("html", "Zorblat page")
    everything = " ".join(s.text for s in doc.sections)
    for hidden in ("zzz", "hotpink", "enable js", "a comment", "Zorblat page"):
        assert hidden not in everything
    by_locator = {s.locator: s.text for s in doc.sections}
    assert by_locator["Guide"] == "Intro text here."
    assert by_locator["Guide > Zorblat fermentation"] == (
        "It ferments at 42 degrees.\n\none\n\ntwo\n\nA | B"
    )
    assert by_locator["Other"] == "Elsewhere."


def test_html_declared_charset(tmp_path: Path) -> None:
    path = tmp_path / "old.htm"
    page = '<html><head><meta charset="iso-8859-1"></head><body><p>café crème</p></body></html>'
    path.write_bytes(page.encode("latin-1"))
    doc = read_document(path)
    assert (doc.title, doc.sections[0].text) == ("old", "café crème")


def test_deeply_nested_html_does_not_crash(tmp_path: Path) -> None:
    path = tmp_path / "deep.htm"
    path.write_text("<div>" * 20000 + "deep text" + "</div>" * 20000, encoding="utf-8")
    assert read_document(path).sections[0].text == "deep text"


MARKDOWN = """# Guide

Intro paragraph
spanning two lines.

## Zorblat fermentation

Ferments at [42 degrees](https://example.com).

```python
# not a heading
print("hi")
```

### Timing #

Two weeks.

# Appendix

Extra.
"""


def test_markdown_heading_paths_ignore_code_fences(tmp_path: Path) -> None:
    path = tmp_path / "notes.md"
    path.write_text(MARKDOWN, encoding="utf-8")
    doc = read_document(path)
    assert (doc.kind, doc.title) == ("markdown", "Guide")
    assert [s.locator for s in doc.sections] == [
        "Guide",
        "Guide > Zorblat fermentation",
        "Guide > Zorblat fermentation > Timing",
        "Appendix",
    ]
    assert doc.sections[0].text == "Intro paragraph spanning two lines."
    assert doc.sections[1].text == 'Ferments at 42 degrees.\n\n# not a heading print("hi")'


def test_markdown_without_h1_is_titled_by_file_name(tmp_path: Path) -> None:
    path = tmp_path / "loose-notes.markdown"
    path.write_text("Just text, #hashtag, no headings.\n", encoding="utf-8")
    doc = read_document(path)
    assert (doc.title, doc.sections[0].locator) == ("loose-notes", "")


# --- plain text ----------------------------------------------------------------------


@pytest.mark.parametrize("encoding", ["latin-1", "cp1252", "utf-8", "utf-16"])
def test_text_encodings(tmp_path: Path, encoding: str) -> None:
    path = tmp_path / "menu.txt"
    path.write_bytes("café crème\n\nSecond   paragraph.\n".encode(encoding))
    doc = read_document(path)
    assert (doc.kind, doc.title) == ("text", "menu")
    assert doc.sections[0].text == "café crème\n\nSecond paragraph."


def test_cyrillic_legacy_encoding_is_detected(tmp_path: Path) -> None:
    text = "Привет, как дела? Это тестовый текст на русском языке, достаточно длинный."
    path = tmp_path / "ru.txt"
    path.write_bytes(text.encode("cp1251"))
    assert read_document(path).sections[0].text == text


@pytest.mark.parametrize("content", [b"", b"  \n\n\t "])
def test_empty_file(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "blank.txt"
    path.write_bytes(content)
    assert str(read_error(path)) == "blank.txt: empty: no text to import"


def test_binary_junk_in_a_text_file(tmp_path: Path) -> None:
    path = tmp_path / "junk.txt"
    path.write_bytes(b"text\x00\x01\x02" + bytes(range(256)) * 4)
    assert "binary" in read_error(path).reason
    path.write_bytes(bytes(range(1, 32)) * 20)
    assert "binary" in read_error(path).reason


def test_unsupported_or_missing_files(tmp_path: Path) -> None:
    for name in ("photo.xyz", "data.json", "README"):
        path = tmp_path / name
        path.write_text("hello", encoding="utf-8")
        assert not is_supported(path)
        assert "unsupported file type" in read_error(path).reason
    assert "cannot read" in read_error(tmp_path / "gone.txt").reason


# --- ChatGPT export ------------------------------------------------------------------


def _node(parent: str | None, children: list[str], role: str | None, parts: list, t=None) -> dict:
    message = None
    if role:
        message = {
            "author": {"role": role},
            "content": {"content_type": "text", "parts": parts},
            "create_time": t,
        }
    return {"message": message, "parent": parent, "children": children}


EXPORT = [
    {
        "title": "Trip planning",
        "create_time": 1700000000.0,
        "id": "conv-1",
        "current_node": "a2",
        "mapping": {
            "root": _node(None, ["sys"], None, []),
            "sys": _node("root", ["u1"], "system", ["You are helpful."]),
            "u1": _node("sys", ["a1", "a2"], "user", ["Book Lisbon", {"img": 1}], 1700000100.0),
            "a1": _node("u1", [], "assistant", ["Old branch answer"], 1700000200.0),
            "a2": _node("u1", [], "assistant", ["Lisbon booked", "for May."], None),
        },
    },
    {
        "title": "",
        "create_time": 1600000000,
        "conversation_id": "conv-2",
        "mapping": {
            "r": _node(None, ["q"], None, []),
            "q": _node("r", ["x", "y"], "user", ["hi"], 1600000001),
            "x": _node("q", [], "assistant", ["first try"], 1600000002),
            "y": _node("q", [], "assistant", ["second try"], 1600000003),
        },
    },
]


def test_chatgpt_export_keeps_the_current_thread(tmp_path: Path) -> None:
    path = tmp_path / "conversations.json"
    path.write_text(json.dumps(EXPORT), encoding="utf-8")
    doc = read_document(path)
    assert (doc.kind, doc.sections) == ("chatgpt", [])
    trip, greeting = doc.conversations
    assert (trip.title, trip.external_id) == ("Trip planning", "conv-1")
    assert trip.created_at == datetime(2023, 11, 14, 22, 13, 20)
    assert [(t.role, t.text) for t in trip.turns] == [
        ("user", "Book Lisbon"),
        ("assistant", "Lisbon booked\n\nfor May."),
    ]
    assert trip.turns[0].created_at == datetime(2023, 11, 14, 22, 15, 0)
    assert trip.turns[1].created_at == trip.created_at  # missing time: the conversation's
    # Without current_node, the last child is followed.
    assert (greeting.title, greeting.external_id) == ("Untitled conversation", "conv-2")
    assert [t.text for t in greeting.turns] == ["hi", "second try"]
    assert greeting.turns[1].created_at == datetime(2020, 9, 13, 12, 26, 43)


@pytest.mark.parametrize(
    "content",
    [
        b"{not json",
        b'{"title": "a dict, not a list"}',
        b'[{"title": "no mapping"}]',
        b"[" * 100000,
        b"\xff\xfe garbage",
        b"[]",
    ],
)
def test_malformed_chatgpt_export(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "conversations.json"
    path.write_bytes(content)
    read_error(path)


def test_hostile_markdown_lines_stay_fast(tmp_path: Path) -> None:
    # Patterns that make backtracking regexes quadratic (seconds, or hours, per line).
    path = tmp_path / "hostile.md"
    lines = ["# x" + " \t" * 25000 + "y", "[" * 50000, "[a](" * 20000, "## ok ##"]
    path.write_text("\n\n".join(lines), encoding="utf-8")
    doc = read_document(path)
    assert [s.locator for s in doc.sections] == ["x y"]  # "## ok" has no body: no section
    assert doc.sections[0].text.startswith("[" * 50000)
