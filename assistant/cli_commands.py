"""What `assistant search`, `ask`, `import`, `memories` and `people` do with an agent
(the parser and the rest of the CLI are in cli.py). `search` and `ask` write to `out`, so
a running assistant can answer them for another process (local_server.py)."""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path

from assistant.terminal import printable
from assistant.wording import plural
from memory_store.records import Hit, iso

log = logging.getLogger("assistant")


def _print_hits(hits: list[Hit], as_json: bool, scores: bool = True, out=None) -> None:
    """`scores`: a search's; a list's hits have none, so none is shown."""
    out = out or sys.stdout
    if as_json:
        print(json.dumps([h.to_json() for h in hits], ensure_ascii=False, indent=2), file=out)
        return
    if not hits:
        print("No memories match.", file=out)
    for n, h in enumerate(hits, start=1):
        text = " ".join(h.text.split())
        score = f", score {h.score:.4f}" if scores else ""
        print(printable(f"{n:>2}. #{h.id} {h.source}  ({iso(h.created_at)[:10]}, {h.kind}"
                        f"{score})", one_line=True) + "\n    "
              + printable(f"{text[:200]}{'…' if len(text) > 200 else ''}"), file=out)


def cmd_import(agent, args) -> int:
    from assistant.ingest.pipeline import import_paths

    report = import_paths(agent.store, agent.encoder, [Path(p) for p in args.paths],
                          progress=False if args.no_progress else None)
    for path, n in report.imported:
        print(printable(f"imported {path}: {plural(n, 'memory', 'memories')}", one_line=True))
    for path, why in report.skipped:
        print(printable(f"skipped {path}: {why}", one_line=True))
    for err in report.failed:
        print(printable(f"error: {err.path}: {err.reason}", one_line=True), file=sys.stderr)
    return 0 if report.ok else 1


def cmd_search(agent, args, out=None) -> int:
    _print_hits(agent.recall(args.query, args.k), args.json, out=out)
    return 0


def cmd_ask(agent, args, out=None) -> int:
    out = out or sys.stdout
    answer = agent.ask(args.question, args.k)
    for piece in answer:
        if not args.json:
            print(printable(piece), end="", flush=True, file=out)
    support = answer.support
    if args.json:
        print(json.dumps({"answer": answer.text, "verdict": answer.reply.verdict,
                          "support": support.to_json() if support else None,
                          "sources": [h.to_json() for h in answer.sources],
                          # what the model asked to remember: kept unpinned, for the user
                          "proposals": [h.to_json() for h in answer.proposals]},
                         ensure_ascii=False, indent=2), file=out)
        return 0
    if support is not None:
        quote = "a quote from " if support.kind == "chunk" else ""
        print("\n" + printable(f"({quote}{support.source}, {iso(support.created_at)[:10]})",
                               one_line=True), end="", file=out)
    print("\n\nSources:", file=out)
    for n, h in enumerate(answer.sources, start=1):
        mark = "*" if support is not None and h.id == support.id else " "
        print(printable(f"{mark}[{n}] {h.source} ({iso(h.created_at)[:10]})", one_line=True),
              file=out)
    return 0


def cmd_memories(agent, args) -> int:
    store = agent.store
    if args.action == "stats":
        stats = store.stats()
        print(json.dumps(stats, indent=2) if args.json else
              "\n".join(f"{k}: {v}" for k, v in stats.items()))
        return 0
    if args.action == "list":
        _print_hits(store.list_memories(args.kind, args.limit), args.json, scores=False)
        return 0
    if args.action == "show":
        hit = store.get(args.id)
        if hit is None:
            print(f"error: no memory #{args.id}", file=sys.stderr)
            return 1
        print(json.dumps(hit.to_json(), ensure_ascii=False, indent=2) if args.json else
              printable(f"#{hit.id} {hit.kind} {hit.source} {iso(hit.created_at)}",
                        one_line=True) + "\n\n" + printable(hit.text))
        return 0
    if not agent.forget([args.id]):  # with its copies: transcript, summary, people
        print(f"error: no memory #{args.id}", file=sys.stderr)
        return 1
    print(f"forgot memory #{args.id}")
    return 0


def cmd_people(agent, args) -> int:
    """The people in the user's life as their memories say, with what is true of them."""
    people = agent.people
    rows = []
    for p in sorted(people.life.people.values(), key=lambda p: p.first or p.last):
        facts = {subject: [{"value": f.value, "said": iso(f.said), "memory": f.memory_id}
                           for f in line]
                 for (who, subject), line in people.timelines.items() if who == p.key}
        rows.append({"name": p.name, "relation": p.relation, "first_mentioned": iso(p.first),
                     "last_mentioned": iso(p.last), "introduced_by": p.introduced_by,
                     "facts": facts})
    mine = {subject: [{"value": f.value, "said": iso(f.said), "memory": f.memory_id}
                      for f in line]
            for (who, subject), line in people.timelines.items() if who == "User"}
    if args.json:
        print(json.dumps({"you": mine, "people": rows}, ensure_ascii=False, indent=2))
        return 0
    if not rows and not mine:
        print("Nobody yet: tell me about the people in your life (\"my sister Lucia ...\").")
    for title, facts in [("you", mine)] + [(f"{r['name'] or '(no name yet)'}: your "
                                             f"{r['relation']}", r["facts"]) for r in rows]:
        print(printable(title))
        for subject, line in facts.items():
            before = "; before: " + ", ".join(f["value"] for f in line[-2::-1]) \
                if len(line) > 1 else ""
            print(printable(f"  {subject}: {line[-1]['value']} (since "
                            f"{line[-1]['said'][:10]}){before}"))
    return 0
