"""The one answer pipeline, for `ask`, the chat, MCP and `bench locomo` alike.

Grounded or silent: a strategy drafts an answer (a document's own sentence, a date read
off the memories, the small model's phrase, a quote of what was said, a capable model's
reply, with or without its own memory searches); `check` finds the memory the draft rests
on, or none; the first supported draft is the answer, else the assistant says it does
not know and what is closest. Nothing is shown before it is checked, and the Reply says
what happened (its verdict and support), so nobody reads it back from the text.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Generator, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime

from assistant.answer.chat import acknowledgement, chat
from assistant.answer.dates import asks_when, dated
from assistant.answer.draft import Draft, Reply, Strategy
from assistant.answer.grounding import about_subject, cited, subject_of, supporting
from assistant.answer.notes import phrase
from assistant.answer.person import UNKNOWN, corrected, known, plausible
from assistant.answer.protocol import Generator as Model
from assistant.answer.quoting import Encode, document_quote, said_quote
from assistant.answer.tools import with_tools
from assistant.memory.annotator import Annotator
from assistant.memory.text import ASSISTANT, said_words, speaker
from assistant.memory.timeparse import format_day
from memory_store.records import Hit

log = logging.getLogger(__name__)
ABSTAINED = "I have nothing about"  # how an abstention starts, or:
UNSAID = "My memories"  # ... about your partner do not say that."
NOTED = "Noted. I will remember that."
GROUNDING_MEMORIES = 5  # of the recalled memories (all shown to the user), those that may
# support a phrase: the prompt's 3 and the next 2 (LoCoMo conversation 26, shipped
# adapter: 20% wrong abstentions against 21% with the prompt's 3 only, category 5 the same)
_DOES_NOT_KNOW = re.compile(
    r"\b(?:I (?:do not|don't|cannot|can't) (?:know|tell|find|see|recall|remember)|"
    r"(?:do|does|did) not (?:say|mention|contain|include|state)|"
    r"(?:don't|doesn't|didn't) (?:say|mention|contain|include|state)|"
    r"no (?:memory|memories|record|information|mention)\b|not (?:mentioned|recorded))", re.I)


@dataclass
class Context:
    """What an answer is written with besides the question and its memories."""

    generator: Model
    today: datetime
    history: Sequence[tuple[str, str]] = ()  # the conversation's recent (role, text)
    encode: Encode | None = None  # the encoder, for quotes
    prompt_memories: int = 3  # given to the small model
    max_new_tokens: int = 24  # a small model's phrase
    chat_max_new_tokens: int = 400  # a chat model's reply
    tool_steps: int = 0  # memory searches a tool-calling model may make (0: none)
    recall: Callable[[str, int], list[Hit]] | None = None  # its search_memory tool
    remember: Callable[[str], Hit] | None = None  # its remember tool
    on_tools_refused: Callable[[], None] = lambda: None
    people: Annotator | None = None  # who is who, and what is true of them now


def answer(question: str, sources: list[Hit], ctx: Context) -> Generator[str, None, Reply]:
    """Yield what is shown while the answer is written (empty pieces while it is drafted
    and checked; a tool step's line), then the checked answer; return the Reply.
    `sources` are the recalled memories, best first; superseded ones are never used."""
    memories = [h for h in sources if h.superseded_by is None]
    shown: list[str] = []
    support = None
    unknown = False  # about someone known, and no statement says it
    for strategy in _strategies(question, memories, sources, ctx):
        draft = yield from _relayed(strategy, shown)
        if draft is UNKNOWN:
            unknown = True
            continue
        support = None if draft is None else check(question, draft, memories)
        if support is not None and unknown and not plausible(question, draft, ctx.people):
            # What was said stays out of the log: a forgotten memory must leave no copy.
            log.info("the %s draft answers another question", draft.how)
            support = None
        if support is not None:
            text, verdict = draft.text, "answered"
            if ctx.people is not None and (fixed := corrected(question, text, ctx.people,
                                                               sources)):
                log.info("the %s draft named a replaced value; corrected", draft.how)
                text, support = fixed
            break
        if draft is not None:
            log.info("no memory supports the %s draft", draft.how)
    if support is None:
        text, verdict = abstention(question, memories), "abstained"
    text = ("\n" if "".join(shown) else "") + text  # after the step lines
    yield text
    return Reply(("".join(shown) + text).strip(), verdict, support, sources)


def acknowledge(message: str, sources: list[Hit], ctx: Context
                ) -> Generator[str, None, Reply]:
    """A statement is remembered, not answered: a chat model replies briefly (shown as it
    streams); a small model only says it is noted (answering a statement, it only echoes
    names from the memories)."""
    if not ctx.generator.chat:
        yield NOTED
        return Reply(NOTED, "noted", None, sources)
    memories = [h for h in sources if h.superseded_by is None]
    parts = []
    for piece in acknowledgement(message, memories, ctx.generator,
                                 max_new_tokens=ctx.chat_max_new_tokens, history=ctx.history,
                                 today=ctx.today):
        parts.append(piece)
        yield piece
    return Reply("".join(parts).strip(), "noted", None, sources)


def _strategies(question: str, memories: list[Hit], sources: list[Hit], ctx: Context
                ) -> Iterator[Strategy]:
    """The drafts to try, in order. What was said about a person answers first for a
    small model; a chat model writes its own answer (corrected if it names a replaced
    value), and what was said is the answer when the memories do not support its."""
    gen = ctx.generator
    said = [] if ctx.people is None else [known(question, ctx.people, sources)]
    if gen.chat and gen.tools and ctx.tool_steps > 0:
        yield with_tools(question, memories, sources, gen, recall=ctx.recall,
                         remember=ctx.remember, steps=ctx.tool_steps,
                         max_new_tokens=ctx.chat_max_new_tokens, history=ctx.history,
                         today=ctx.today, on_refused=ctx.on_tools_refused)
        yield from said
        return
    if gen.chat:
        yield chat(question, memories, gen, max_new_tokens=ctx.chat_max_new_tokens,
                   history=ctx.history, today=ctx.today)
        yield from said
        return
    yield from said
    top = memories[:ctx.prompt_memories]
    if top and top[0].kind == "chunk" and ctx.encode is not None:
        yield document_quote(question, top, ctx.encode)  # the document's words, or nothing
    elif asks_when(question):
        yield dated(question, top)
    elif top:
        yield phrase(question, top, gen, max_new_tokens=ctx.max_new_tokens,
                     history=ctx.history)
        if ctx.encode is not None:
            yield said_quote(question, memories[:GROUNDING_MEMORIES], ctx.encode)


def _relayed(strategy: Strategy, shown: list[str]) -> Generator[str, None, Draft | None]:
    """The strategy's pieces passed on (and kept), then its draft."""
    while True:
        try:
            piece = next(strategy)
        except StopIteration as done:
            return done.value
        shown.append(piece)
        yield piece


def check(question: str, draft: Draft, memories: Sequence[Hit]) -> Hit | None:
    """The memory `draft` rests on, or None: the one place that decides between an answer
    and "I don't know"."""
    if draft.how == "quote":  # the best document sentence, if about what was asked
        return draft.hit if about_subject(question, [draft.hit]) else None
    if draft.how in ("said", "date"):  # read off a memory about the question already
        return draft.hit
    if draft.how == "phrase":
        return supporting(question, draft.text, memories[:GROUNDING_MEMORIES])
    reply = draft.text  # a chat model's
    if not reply or (_DOES_NOT_KNOW.search(reply) and not cited(reply, memories)):
        return None  # it says it does not know: the assistant says so, with the closest
    if cites := cited(reply, memories):  # the first memory it cites about the subject
        about = about_subject(question, cites)
        return about[0] if about else None
    return supporting(question, reply, memories)


def abstention(question: str, memories: Sequence[Hit]) -> str:
    """"I don't know", said with what it is about and the closest memory there is."""
    about = subject_of(question).describe()
    theirs = about_subject(question, memories[:GROUNDING_MEMORIES])
    if theirs and about != "that":  # there are memories about it, just not this
        text = f"{UNSAID} about {about} do not say that."
    else:
        text = f"{ABSTAINED} {about} in my memories."
    nearby = theirs or list(memories)
    # What the user (or a person) said, before the assistant's own replies.
    closest = [h for h in nearby if speaker(h) != ASSISTANT][:1] or nearby[:1]
    if closest:
        said = " ".join(said_words(closest[0]).split())
        said = said if len(said) <= 120 else said[:119] + "\u2026"
        text += (f" The closest: \u201c{said}\u201d ({format_day(closest[0].created_at)}, "
                 f"{closest[0].source or closest[0].kind}).")
    return text
