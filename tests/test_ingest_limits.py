"""Hostile files cost bounded work: refused by size, inflation or chunk count before the
work they would cost, each with a reason that names the file. And the folders an import
may read stay closed to links that point out of them."""

from __future__ import annotations

import io
import tracemalloc
import zipfile
from pathlib import Path

import docx
import pytest
from pypdf import PdfWriter
from pypdf.generic import DecodedStreamObject, NameObject

from assistant.ingest import docx_reader, pdf_reader
from assistant.ingest.pipeline import collect_files, import_file, import_paths
from assistant.ingest.readers import MAX_FILE_BYTES, read_document
from assistant.ingest.types import ReadError

MB = 1024 * 1024


def read_error(path: Path) -> ReadError:
    with pytest.raises(ReadError) as info:
        read_document(path)
    assert info.value.path == path and path.name in str(info.value)
    return info.value


def test_a_file_over_the_size_limit_is_refused_before_any_of_it_is_read(store, encoder,
                                                                       tmp_path):
    huge = tmp_path / "disk-image.txt"
    with huge.open("wb") as f:
        f.truncate(MAX_FILE_BYTES + 1)  # sparse: no disk used, but reading it costs 1 GB
    tracemalloc.start()
    try:
        report = import_paths(store, encoder, [huge], progress=False)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    (error,) = report.failed
    assert error.path == huge.resolve()
    assert error.reason == "too large to import (over 1 GB); split it into parts"
    assert peak < 16 * MB, f"read {peak} bytes of a file it refuses"


def _docx_inflating_to(path: Path, xml_bytes: int) -> Path:
    """A real .docx whose document.xml is `xml_bytes` of ordinary paragraphs, which
    compress ~1000 times: a few hundred KB on disk."""
    source = io.BytesIO()
    document = docx.Document()
    document.add_paragraph("A short note.")
    document.save(source)
    with zipfile.ZipFile(source) as original, \
            zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as bomb:
        for info in original.infolist():
            data = original.read(info.filename)
            if info.filename != "word/document.xml":
                bomb.writestr(info.filename, data)
                continue
            head, tail = data.split(b"<w:body>")
            paragraph = b"<w:p><w:r><w:t>The same words again.</w:t></w:r></w:p>"
            block = paragraph * (MB // len(paragraph))
            with bomb.open(info.filename, "w", force_zip64=True) as out:
                out.write(head + b"<w:body>")
                for _ in range(xml_bytes // len(block)):
                    out.write(block)
                out.write(tail)
    return path


def test_a_docx_that_inflates_past_the_cap_is_refused_unread(tmp_path):
    path = _docx_inflating_to(tmp_path / "report.docx", 100 * MB)
    assert path.stat().st_size < MB
    tracemalloc.start()
    try:
        error = read_error(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert "word/document.xml: 100 MB" in error.reason
    assert f"over the {docx_reader._MAX_INFLATED_GROWTH // MB} MB" in error.reason
    assert "zip bomb" in error.reason
    assert peak < 16 * MB, f"inflated {peak} bytes of a file it refuses"


def test_a_pdf_whose_pages_inflate_past_the_cap_is_refused(tmp_path):
    # One stream of blank content, compressed ~1000 times, drawn as every page.
    stream = DecodedStreamObject()
    stream.set_data(b" " * (pdf_reader._MAX_CONTENT_BYTES // 2 + MB))
    writer = PdfWriter()
    content = writer._add_object(stream.flate_encode())
    for _ in range(3):
        writer.add_blank_page(612, 792)[NameObject("/Contents")] = content
    path = tmp_path / "brochure.pdf"
    with path.open("wb") as f:
        writer.write(f)
    assert path.stat().st_size < MB
    reason = read_error(path).reason
    assert reason.startswith(f"page content inflates to over "
                             f"{pdf_reader._MAX_CONTENT_BYTES // MB} MB by page 2 of 3")


def test_a_document_of_more_chunks_than_the_cap_is_refused_and_nothing_stored(
        store, encoder, tmp_path):
    path = tmp_path / "log.txt"
    path.write_text("\n\n".join(f"Entry {i}: " + "the pump ran normally all day. " * 30
                                for i in range(40)))
    with pytest.raises(ReadError) as info:
        import_file(store, encoder, path, max_chunks=5)
    assert info.value.path == path
    assert info.value.reason == ("too long to import (over 5 chunks of about 180 words); "
                                 "split it into smaller files")
    assert store.document_by_path(str(path)) is None


def test_only_an_import_confined_to_folders_refuses_links_out_of_them(tmp_path):
    allowed, outside = tmp_path / "allowed", tmp_path / "outside"
    (allowed / "sub").mkdir(parents=True)
    outside.mkdir()
    (outside / "secret.txt").write_text("The safe code is 9921.")
    (allowed / "boat.md").write_text("# Boat\n\nKestrel is at pontoon 14.")
    (allowed / "sub" / "escape.txt").symlink_to(outside / "secret.txt")
    (allowed / "again.md").symlink_to(allowed / "boat.md")  # a link that stays inside

    files, errors = collect_files([allowed], within=[allowed])
    assert sorted(files.values()) == ["again.md", "boat.md"]
    (refused,) = errors
    assert refused.path == allowed / "sub" / "escape.txt"
    assert refused.reason == ("links to a file outside the folders allowed for import; "
                              "refused")
    assert "secret" not in str(refused)  # the caller does not learn what lies outside
    files, errors = collect_files([allowed / "sub" / "escape.txt"], within=[allowed])
    assert not files and errors[0].path == allowed / "sub" / "escape.txt"

    # The user's own import (the CLI, the app) follows links to their files.
    files, errors = collect_files([allowed])
    assert not errors and files[allowed / "sub" / "escape.txt"] == "sub/escape.txt"
