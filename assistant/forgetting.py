"""The copies of a forgotten memory's words outside the memory itself: in transcripts (the
message that said it, an echo or a quote of it, an answer that told it back), in a
conversation's title, in the log. Agent.forget calls `take_out` before the memory is
deleted."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from pathlib import Path

from assistant.memory import text as memory_text
from assistant.memory.facts import sentences
from assistant.wording import title_of
from memory_store import echoes
from memory_store.base import StoreBase
from memory_store.fulltext import STOPWORDS
from memory_store.records import Hit

log = logging.getLogger(__name__)
FORGOTTEN = memory_text.FORGOTTEN


def ticked(query: str, hits: list[Hit]) -> set[int]:
    """Of the memories a "forget QUERY" found, those ticked at first: the user's own words
    (turns, facts) sharing a word that says something with the query. A document's chunk
    or a summary that only came up in the search is listed, unticked."""
    asked = {w for w in echoes.words(query) if w not in STOPWORDS}
    return {h.id for h in hits if h.kind in ("turn", "fact")
            and asked & set(echoes.words(memory_text.spoken(h)))}


def take_out(store: StoreBase, forgotten: Hit, log_path: Path | None = None) -> set[int]:
    """Each sentence of the forgotten memory is taken out of its conversation's messages
    and title, wherever it was said or repeated ("I will remember that: ..."); an answer,
    in any conversation, that told back a value it stated or words only it said goes too,
    and so does a line of the log at `log_path` that quotes such words. Returns the
    conversations whose summaries are written again: its own, those whose answers changed."""
    spoken = memory_text.spoken(forgotten)
    said = [s.strip() for s in sentences(spoken) if len(s.split()) >= 3] or [spoken]
    values = [f["value"] for f in memory_text.facts(forgotten)]
    cid = forgotten.conversation_id
    title = next((c.title for c in store.conversations() if c.id == cid), "")
    retitled, changed = title, {cid} - {None}
    for n, m in enumerate(store.messages(cid) if cid is not None else []):
        text = m.text
        for sentence in said:
            text = text.replace(sentence, FORGOTTEN)
        if m.role == "assistant" and any(v in text for v in values):
            text = FORGOTTEN  # an answer that told it back
        if text != m.text:
            rest = text.replace(FORGOTTEN, "").strip(" .,;:!?\n")
            text = text if rest else FORGOTTEN
            store.set_message_text(m.id, text)
            # A title cut from the first message can end mid-sentence: made again.
            if n == 0 and title and title_of(m.text) == title:
                retitled = title_of(text)
    for sentence in said:  # a title the user gave that quotes it
        retitled = retitled.replace(sentence, FORGOTTEN)
    if retitled != title:
        store.rename_conversation(cid, retitled)
    only_here = functools.cache(lambda run: not echoes.said_elsewhere(store, run, forgotten.id))
    for m in echoes.messages_with(store, spoken, "assistant"):
        runs = echoes.echoed_runs(m.text, spoken)
        if m.text != FORGOTTEN and any(only_here(run) for run in runs):
            store.set_message_text(m.id, FORGOTTEN)  # it rested on this memory
            changed.add(m.conversation_id)
    if log_path is not None and log_path.is_file():
        try:
            _blank_lines(log_path, spoken, only_here)
        except OSError as exc:  # the memory is forgotten all the same; the log says why
            log.warning("could not take the forgotten words out of %s: %s", log_path, exc)
    return changed


def _blank_lines(path: Path, spoken: str, only_here: Callable[[tuple], bool]) -> None:
    """Each line quoting words only the memory said (a draft answer the pipeline could not
    check, an error's values) is overwritten where it lies, with as many bytes: a process
    appending to the log at the same time loses nothing."""
    said = {w for w in echoes.words(spoken) if w not in STOPWORDS}  # a run has one
    with path.open("rb") as reading, path.open("r+b") as writing:
        at = 0
        for line in reading:
            # After the time, level and logger ("... INFO assistant.x: "): what was logged.
            logged = line.decode(errors="replace").rstrip("\n").split(": ", 1)[-1]
            if any(w in logged.lower() for w in said) and any(
                    only_here(run) for run in echoes.echoed_runs(logged, spoken)):
                n = len(line.rstrip(b"\n"))
                writing.seek(at)
                writing.write(FORGOTTEN.encode().ljust(n)[:n])
            at += len(line)
