"""A capable model looks memories up itself: a server that calls tools is offered
`search_memory` and `remember` (a proposal the user accepts or rejects, refused when a
document is among the turn's memories), and may search at most `steps` times before its final
answer (a question needing two facts, "What did my brother study?", can find the brother
first, then what he studied). Each step is shown as it happens, as a line of the answer
(so the transcript keeps it), and whatever a search finds joins the answer's sources with
the next numbers, for the model to cite. The final answer goes through the same check as
a plain chat answer: grounded in a memory it cites, or an abstention.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from datetime import datetime

from assistant.answer.chat import chat
from assistant.answer.draft import Draft, Strategy
from assistant.answer.prompts import ANSWER_TASK, TOOLS, TOOLS_TASK, chat_messages, memory_line
from assistant.answer.protocol import Generator, ToolsUnsupported
from memory_store.records import Hit

log = logging.getLogger(__name__)
STEP_MARK = "\u00bb "  # "» searched memory for ...": a step line, not part of the answer


def with_tools(question: str, memories: list[Hit], sources: list[Hit],
               generator: Generator, *, recall: Callable[[str, int], list[Hit]],
               remember: Callable[[str], Hit], steps: int, max_new_tokens: int,
               history: Sequence[tuple[str, str]] = (), today: datetime,
               on_refused: Callable[[], None]) -> Strategy:
    """Strategy: the reply of a tool-calling model after at most `steps` searches.
    `memories` are numbered in the prompt; what a search finds is appended to them and to
    `sources` (the answer's). A model that refuses tools is asked plainly (`on_refused`
    tells the caller not to offer them again)."""
    messages = chat_messages(question, memories, history, today, TOOLS_TASK)
    reply = ""
    for step in range(steps + 1):
        offered = TOOLS if step < steps else None  # the last turn must answer
        try:
            reply, calls = generator.turn(messages, tools=offered,
                                          max_new_tokens=max_new_tokens)
        except ToolsUnsupported as refused:
            log.warning("%s; asking it without tools", refused)
            if memories:
                draft = yield from chat(question, memories, generator, history=history,
                                        max_new_tokens=max_new_tokens, today=today)
            else:  # chat() asks nothing without memories: ask, so a broken server fails
                plain = chat_messages(question, memories, history, today, ANSWER_TASK)
                draft = Draft(generator.turn(plain, max_new_tokens=max_new_tokens)[0], "chat")
            # Answered plainly, so it was the tools: ask plainly from now on (a server
            # that fails either way, e.g. 503 while loading, may take tools later).
            on_refused()
            return draft
        yield ""  # nothing unchecked is shown, but the caller may stop here (Esc)
        if not calls or offered is None:
            break
        # "" rather than null: llama-cpp-python refuses a null content with HTTP 500.
        messages.append({"role": "assistant", "content": reply, "tool_calls": [
            {"id": c.id, "type": "function",
             "function": {"name": c.name, "arguments": c.arguments}} for c in calls]})
        for call in calls:
            result, line = _run(call, sources, memories, recall, remember)
            yield STEP_MARK + line + "\n"
            messages.append({"role": "tool", "tool_call_id": call.id, "content": result})
    return Draft(reply.strip(), "chat")


def _run(call, sources: list[Hit], current: list[Hit], recall, remember) -> tuple[str, str]:
    """A tool call's result for the model, and its step line for the user."""
    try:
        args = json.loads(call.arguments or "{}")
    except json.JSONDecodeError:
        args = None
    if not isinstance(args, dict):
        return f"error: arguments are not a JSON object: {call.arguments!r}", \
            f"{call.name}: arguments not understood"
    if call.name == "search_memory" and isinstance(args.get("query"), str):
        query, k = args["query"], args.get("k", 5)
        k = k if isinstance(k, int) and 1 <= k <= 10 else 5
        lines, ids = [], []
        for hit in recall(query, k):
            if hit.superseded_by is not None:
                continue
            known = next((i for i, h in enumerate(current) if h.id == hit.id), None)
            if known is None:
                current.append(hit)
                sources.append(hit)
                known = len(current) - 1
            lines.append(memory_line(known + 1, hit))
            ids.append(f"#{hit.id}")
        found = f"{len(ids)} memories ({', '.join(ids)})" if ids else "nothing found"
        return "\n".join(lines) or "(nothing found)", \
            f"searched memory for \u201c{query}\u201d: {found}"
    if call.name == "remember" and isinstance(args.get("fact"), str) and args["fact"].strip():
        fact = args["fact"].strip()
        if any(h.kind == "chunk" for h in (*sources, *current)):
            # The request may be a document's words (an injection): nothing is kept.
            return "refused: this turn's memories include a document, and what a document " \
                "says is never kept as the user's memory; nothing was stored", \
                f"did not remember \u201c{fact}\u201d: a document was among this turn's memories"
        hit = remember(fact)  # a proposal: unpinned until the user accepts it
        return f"proposed as memory #{hit.id}; the user will accept or reject it", \
            f"proposed to remember \u201c{fact}\u201d (memory #{hit.id}, for you to accept)"
    return f"error: no tool {call.name!r} with these arguments", \
        f"{call.name}: not a tool it has"
