"""Chunking: sections into retrieval-sized chunks that follow the document's structure.

A chunk never mixes two sections, so its locator (page or heading path) is exact.
Within a section whole paragraphs are packed together; a paragraph too long for one
chunk is split on sentences (on words only as a last resort). Consecutive chunks of a
section share a little overlap so a fact cut at a boundary is still found whole.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator

from assistant.ingest.sections import split_paragraphs
from assistant.ingest.types import Chunk, Section

# ~180 words is ~240 MiniLM tokens: a whole chunk fits the encoder's 256-token window.
CHUNK_WORDS = 180
CHUNK_OVERLAP = 25

# A sentence ends at . ! ? or … , possibly followed by a closing quote or bracket.
_SENTENCE_BREAK = re.compile(r"(?<=[.!?…])\s+|(?<=[.!?…][\"'”’)\]])\s+")

_Unit = tuple[int, str]  # (paragraph index within the section, text)


class TooManyChunks(ValueError):
    """The sections make more chunks than the caller allows."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"more than {limit} chunks")
        self.limit = limit


def chunk_sections(
    sections: list[Section], max_words: int = 220, overlap_words: int = 30,
    max_chunks: int | None = None,
) -> list[Chunk]:
    """Split sections into chunks of at most max_words words, numbered 0..n-1; raise
    TooManyChunks as soon as there would be more than max_chunks."""
    # 220 English words are ~290 MiniLM word pieces: within the model's 512 positions,
    # but past the 256 that sentence-transformers truncates at, so the encoder must
    # not cut at 256 or chunk tails go unembedded.
    if max_words < 1 or not 0 <= overlap_words < max_words:
        raise ValueError(
            f"need max_words >= 1 and 0 <= overlap_words < max_words, got "
            f"{max_words=} {overlap_words=}"
        )
    chunks: list[Chunk] = []
    # Adjacent sections with the same locator are one run of text (e.g. a text file).
    for locator, group in itertools.groupby(sections, key=lambda s: s.locator):
        paragraphs = [p for section in group for p in split_paragraphs(section.text)]
        units: list[_Unit] = []
        for index, paragraph in enumerate(paragraphs):
            # Pieces leave room for the overlap the next chunk will start with.
            pieces = _split_long(paragraph, max_words, max_words - overlap_words)
            units.extend((index, piece) for piece in pieces)
        for text in _pack(units, max_words, overlap_words):
            if max_chunks is not None and len(chunks) >= max_chunks:
                raise TooManyChunks(max_chunks)
            chunks.append(Chunk(text, locator, len(chunks)))
    return chunks


def turn_parts(text: str, max_words: int = CHUNK_WORDS,
               overlap_words: int = CHUNK_OVERLAP) -> list[str]:
    """A chat turn as the texts to embed: the turn itself, or, when it is too long for
    the encoder's window, its chunks as a document's (so its end is found by meaning)."""
    if _count(text) <= max_words:
        return [text]
    return [c.text for c in chunk_sections([Section(text, "")], max_words, overlap_words)]


def split_sentences(text: str) -> list[str]:
    """Split text into sentences on end punctuation followed by whitespace."""
    return [s for s in _SENTENCE_BREAK.split(text) if s.strip()]


def _split_long(paragraph: str, max_words: int, piece_words: int) -> list[str]:
    """The paragraph itself if it fits, else sentences, else windows of words."""
    if _count(paragraph) <= max_words:
        return [paragraph]
    pieces = []
    for sentence in split_sentences(paragraph):
        words = sentence.split()
        if len(words) <= piece_words:
            pieces.append(sentence)
        else:  # a run-on "sentence" (a table, a list without stops): cut on words
            pieces.extend(
                " ".join(words[i : i + piece_words]) for i in range(0, len(words), piece_words)
            )
    return pieces


def _pack(units: list[_Unit], max_words: int, overlap_words: int) -> Iterator[str]:
    """Greedily pack units into chunks; each new chunk starts with the last one's tail.
    Yielded one by one, so a caller's limit stops the work early."""
    current: list[_Unit] = []
    count = 0
    for unit in units:
        size = _count(unit[1])
        if current and count + size > max_words:
            yield _join(current)
            continues = unit[0] == current[-1][0]
            current = _tail(current, min(overlap_words, max_words - size), continues)
            count = sum(_count(text) for _, text in current)
        current.append(unit)
        count += size
    if current:
        yield _join(current)


def _tail(units: list[_Unit], budget: int, mid_paragraph: bool) -> list[_Unit]:
    """The last sentence(s) of the chunk's last paragraph, at most budget words."""
    if budget <= 0:
        return []
    last = units[-1][0]
    text = " ".join(t for index, t in units if index == last)
    kept: list[str] = []
    used = 0
    for sentence in reversed(split_sentences(text)):
        size = _count(sentence)
        if used + size > budget:
            break
        kept.insert(0, sentence)
        used += size
    if not kept and mid_paragraph:
        # The cut falls inside a long sentence or paragraph: overlap by words instead,
        # which a fragment at a paragraph boundary would not be worth.
        kept = text.split()[-budget:]
    return [(last, " ".join(kept))] if kept else []


def _join(units: list[_Unit]) -> str:
    """Units of one paragraph join with a space, paragraphs with a blank line."""
    out = units[0][1]
    for (previous, _), (index, text) in itertools.pairwise(units):
        out += (" " if index == previous else "\n\n") + text
    return out


def _count(text: str) -> int:
    return len(text.split())
