"""chunk_sections: structure-following chunks with bounded size and overlap."""

from __future__ import annotations

import pytest

from assistant.ingest.chunking import chunk_sections
from assistant.ingest.types import Chunk, Section


def sentences(prefix: str, count: int, words: int = 10) -> str:
    """count distinct sentences of exactly `words` words each."""
    return " ".join(
        " ".join(f"{prefix}{n}w{i}" for i in range(words - 1)) + f" {prefix}{n}end."
        for n in range(count)
    )


def words_of(chunk: Chunk) -> list[str]:
    return chunk.text.split()


def test_tiny_section_is_one_chunk() -> None:
    chunks = chunk_sections([Section("  The   zorblat\n ferments. ", "Guide")])
    assert chunks == [Chunk("The zorblat ferments.", "Guide", 0)]


def test_empty_input_and_blank_sections_give_no_chunks() -> None:
    assert chunk_sections([]) == []
    assert chunk_sections([Section(" \n\n ", "A"), Section("", "")]) == []


def test_sections_never_mix_and_ordinals_run_across_the_document() -> None:
    sections = [
        Section("Page one text.", "page=1", page=1),
        Section("Page two text.", "page=2", page=2),
        Section("More.", "Guide > Zorblat fermentation"),
    ]
    chunks = chunk_sections(sections)
    assert [(c.locator, c.text, c.ordinal) for c in chunks] == [
        ("page=1", "Page one text.", 0),
        ("page=2", "Page two text.", 1),
        ("Guide > Zorblat fermentation", "More.", 2),
    ]


def test_whole_paragraphs_are_packed_up_to_the_limit() -> None:
    paragraphs = [sentences(f"p{i}x", 4) for i in range(10)]  # 40 words each
    chunks = chunk_sections([Section("\n\n".join(paragraphs), "")], max_words=100)
    assert len(chunks) > 3
    for chunk in chunks:
        assert len(words_of(chunk)) <= 100
    # Two paragraphs fit in a chunk, three do not; paragraph breaks are kept.
    assert chunks[0].text == f"{paragraphs[0]}\n\n{paragraphs[1]}"
    every_word = {w for c in chunks for w in words_of(c)}
    assert every_word == {w for p in paragraphs for w in p.split()}


def test_consecutive_chunks_overlap_by_whole_sentences() -> None:
    paragraphs = [sentences(f"p{i}x", 4) for i in range(6)]
    chunks = chunk_sections([Section("\n\n".join(paragraphs), "S")], max_words=100)
    assert len(chunks) > 2
    for before, after in zip(chunks, chunks[1:], strict=False):
        # The next chunk starts with the last whole sentences (up to 30 words) of this one.
        overlap = max(k for k in range(31) if words_of(before)[-k:] == words_of(after)[:k])
        assert overlap in (10, 20, 30)
        assert words_of(after)[overlap - 1].endswith(".")
        assert len(words_of(after)) <= 100


def test_long_paragraph_is_split_on_sentences_with_overlap() -> None:
    paragraph = sentences("s", 60)  # 600 words, one paragraph
    chunks = chunk_sections([Section(paragraph, "Long")], max_words=220, overlap_words=30)
    assert len(chunks) >= 3
    for chunk in chunks:
        assert 0 < len(words_of(chunk)) <= 220
        assert chunk.locator == "Long"
        assert chunk.text.endswith(".")  # cut at sentence ends, not mid-sentence
    for before, after in zip(chunks, chunks[1:], strict=False):
        shared = set(words_of(before)) & set(words_of(after))
        assert 10 <= len(shared) <= 30
    assert {w for c in chunks for w in words_of(c)} == set(paragraph.split())


def test_sentence_longer_than_a_chunk_is_split_on_words() -> None:
    run_on = " ".join(f"w{i}" for i in range(500))  # no sentence punctuation at all
    chunks = chunk_sections([Section(run_on, "")], max_words=100, overlap_words=20)
    for chunk in chunks:
        assert len(words_of(chunk)) <= 100
    for before, after in zip(chunks, chunks[1:], strict=False):
        assert words_of(before)[-20:] == words_of(after)[:20]
    assert {w for c in chunks for w in words_of(c)} == set(run_on.split())


def test_same_locator_sections_are_packed_together() -> None:
    chunks = chunk_sections([Section("First.", ""), Section("Second.", "")])
    assert [c.text for c in chunks] == ["First.\n\nSecond."]


@pytest.mark.parametrize(("max_words", "overlap"), [(0, 0), (10, 10), (10, -1)])
def test_bad_limits_are_refused(max_words: int, overlap: int) -> None:
    with pytest.raises(ValueError):
        chunk_sections([Section("x", "")], max_words=max_words, overlap_words=overlap)
