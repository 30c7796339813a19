"""The `assistant` console script: chat, ask, import, search, memories, mcp, bench, doctor."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path

from assistant.cli_options import Parser, global_options
from assistant.config import ConfigError, Settings, load_settings, make_data_folder, positive_int
from assistant.conversations import add_parser as conversations_parser
from assistant.degraded import LogFile, explain, open_log
from assistant.terminal import printable
from assistant.wording import plural
from memory_store.records import Hit, iso

log = logging.getLogger("assistant")


def _setup_logging(settings: Settings, verbose: bool) -> LogFile | None:
    """Log to the data folder's file (None: it cannot be written, nothing is logged)."""
    make_data_folder(settings.home)
    root = logging.getLogger()
    handler = open_log(settings.log_path)
    if handler is not None:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: "
                                               "%(message)s"))
    # Without a file, a NullHandler keeps Python's last resort from printing warnings.
    root.addHandler(handler or logging.NullHandler())
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    if verbose:
        root.addHandler(logging.StreamHandler(sys.stderr))
    # Libraries' own progress bars and warnings are noise on a user's terminal.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_NO_ADVISORY_WARNINGS", "1")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    return handler


def _print_hits(hits: list[Hit], as_json: bool, scores: bool = True) -> None:
    """`scores`: a search's; a list's hits have none, so none is shown."""
    if as_json:
        print(json.dumps([h.to_json() for h in hits], ensure_ascii=False, indent=2))
        return
    if not hits:
        print("No memories match.")
    for n, h in enumerate(hits, start=1):
        text = " ".join(h.text.split())
        score = f", score {h.score:.4f}" if scores else ""
        print(printable(f"{n:>2}. #{h.id} {h.source}  ({iso(h.created_at)[:10]}, {h.kind}"
                        f"{score})", one_line=True) + "\n    "
              + printable(f"{text[:200]}{'…' if len(text) > 200 else ''}"))


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


def cmd_search(agent, args) -> int:
    _print_hits(agent.recall(args.query, args.k), args.json)
    return 0


def cmd_ask(agent, args) -> int:
    answer = agent.ask(args.question, args.k)
    for piece in answer:
        if not args.json:
            print(printable(piece), end="", flush=True)
    support = answer.support
    if args.json:
        print(json.dumps({"answer": answer.text, "verdict": answer.reply.verdict,
                          "support": support.to_json() if support else None,
                          "sources": [h.to_json() for h in answer.sources],
                          # what the model asked to remember: kept unpinned, for the user
                          "proposals": [h.to_json() for h in answer.proposals]},
                         ensure_ascii=False, indent=2))
        return 0
    if support is not None:
        quote = "a quote from " if support.kind == "chunk" else ""
        print("\n" + printable(f"({quote}{support.source}, {iso(support.created_at)[:10]})",
                               one_line=True), end="")
    print("\n\nSources:")
    for n, h in enumerate(answer.sources, start=1):
        mark = "*" if support is not None and h.id == support.id else " "
        print(printable(f"{mark}[{n}] {h.source} ({iso(h.created_at)[:10]})", one_line=True))
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


def run_chat(settings, args) -> int:
    """The TUI; it opens its own agent in a worker, so the first screen shows at once."""
    from assistant.tui.app import create_app

    app = create_app(settings, use_ltmt=not args.no_ltmt, import_root=Path.cwd())
    app.run()
    return app.return_code or 0  # 143 after SIGTERM, as if it had ended the process


def cmd_plain_chat(agent, args) -> int:
    """`chat --plain`: the chat as lines on stdin and stdout (assistant/plain.py), with the
    agent every other command gets; no Textual."""
    from assistant.plain import run

    # Bytes: each line is decoded (and refused if not UTF-8) on its own, so one bad line
    # does not end the chat. An answer a terminal's encoding cannot show is escaped.
    if hasattr(sys.stdout, "reconfigure"):
        sys.stdout.reconfigure(errors="backslashreplace")
    return run(agent, sys.stdin.buffer, sys.stdout, as_json=args.json)


def cmd_doctor(agent, args) -> int:
    from assistant.answer.backends.factory import adapter_path
    from assistant.memory.encoder import model_dir

    print(f"data folder: {agent.settings.home}")
    print(f"memories in: {agent.store.where} ({agent.store.stats()['backend']})")
    print(f"encoder: {agent.encoder.name} at {model_dir()}")
    print(f"cache: {agent.settings.cache_dir}")
    print(f"answers by: {agent.settings.model}, adapter: "
          f"{adapter_path(agent.settings.adapter, agent.settings.model) or 'none'}")
    model = agent.settings.model
    if model.startswith(("http://", "https://")):
        from assistant.answer.backends.remote import destination

        where = destination(model, agent.settings.proxy_loopback)
    else:
        where = "nowhere: answers are written on this machine"
    print(f"prompts with your memories go to: {where}")
    # SQLite's and FTS5's own checks, and the FAISS cache against SQLite vector for vector.
    print(f"store check: {json.dumps(agent.store.check().to_json())}")
    print(json.dumps(agent.store.stats(), indent=2))
    return 0


def cmd_store_copy(agent, args) -> int:
    from memory_store.copy import copy_store
    from memory_store.open import open_store
    from memory_store.urls import redacted

    opened = []
    try:
        for url in (args.source, args.target):
            opened.append(open_store(agent.settings.home, url,
                                     embedding_model=agent.encoder.name, dim=agent.encoder.dim))
        result = copy_store(*opened)
    finally:
        for store in opened:
            store.close()
    print(f"copied {redacted(args.source)} to {redacted(args.target)}: "
          f"{json.dumps(result['rows'])}; checksums match ({result['sha256'][:16]})")
    return 0


def _port(value: str) -> int:
    if not value.isdigit() or not 1 <= int(value) <= 65535:
        raise argparse.ArgumentTypeError(f"{value!r} is not a port number (1-65535)")
    return int(value)


def cmd_mcp(agent, args) -> int:
    from assistant.mcp.config import client_config

    port = args.port if args.http else None
    if args.print_config:
        print(json.dumps(client_config(agent.settings, port), indent=2))
        return 0
    from assistant.mcp.server import serve

    serve(agent, port)
    return 0


def _text(words: list[str]) -> str:
    """Command-line words as text: bytes that are not UTF-8 (Python keeps them as
    surrogates) become U+FFFD instead of breaking the tokenizer."""
    joined = " ".join(words).encode("utf-8", "surrogateescape")
    return joined.decode("utf-8", "replace").strip()


# Evaluation and training: assistant/bench/cli.py parses everything after their name.
EVALUATION = {
    "bench": "benchmarks that print figures (assistant bench --help)",
    "train": "train LTM-T on LoCoMo-format conversations (assistant train --help)",
    "train-generator": "train the answer adapter of the embedded model "
                       "(assistant train-generator --help)",
}


JSON_HELP = "print JSON instead of text"


def build_parser() -> argparse.ArgumentParser:
    p = Parser(prog="assistant", description=__doc__)
    global_options(p)
    sub = p.add_subparsers(dest="command", required=True, help="what to do")
    c = sub.add_parser("chat", help="chat in the terminal")
    c.add_argument("--no-ltmt", action="store_true", help="plain hybrid retrieval (ablation)")
    c.add_argument("--plain", action="store_true", help="no app: one message or /command "
                   "per line on stdin, each reply on stdout (for scripts, pipes and screen "
                   "readers); ends at end of input")
    c.add_argument("--json", action="store_true", help="with --plain: one JSON object per "
                   "input line (message, answer, verdict, support, sources, conversation; "
                   "or command and its result; or error)")
    c.set_defaults(fn=run_chat)
    a = sub.add_parser("ask", help="answer one question from memory")
    a.add_argument("question", nargs="*", help="the question (quote it, or put it after --)")
    a.add_argument("-k", type=positive_int, default=None, help="memories recalled (1 or more)")
    a.add_argument("--json", action="store_true", help=JSON_HELP)
    a.add_argument("--no-ltmt", action="store_true", help="plain hybrid retrieval (ablation)")
    a.set_defaults(fn=cmd_ask)
    i = sub.add_parser("import", help="import files or folders as knowledge")
    i.add_argument("paths", nargs="+", help="files and folders (txt, md, html, pdf, docx, "
                   "a ChatGPT export)")
    i.add_argument("--no-progress", action="store_true", help="no progress bar")
    i.set_defaults(fn=cmd_import)
    s = sub.add_parser("search", help="search memories")
    s.add_argument("query", nargs="*", help="what to search for (words starting with - too)")
    s.add_argument("-k", type=positive_int, default=10, help="how many (1 or more)")
    s.add_argument("--json", action="store_true", help=JSON_HELP)
    s.add_argument("--no-ltmt", action="store_true", help="plain hybrid retrieval (ablation)")
    s.set_defaults(fn=cmd_search)
    m = sub.add_parser("memories", help="list, show, forget, count memories")
    m.add_argument("action", choices=["list", "show", "forget", "stats"], help="what to do")
    m.add_argument("id", type=int, nargs="?", help="the memory's ID (show and forget)")
    m.add_argument("--kind", choices=["turn", "fact", "summary", "chunk"], help="list only "
                   "this kind: turn, fact, summary or chunk (from a document)")
    m.add_argument("--limit", type=int, default=20, help="list at most this many (20)")
    m.add_argument("--json", action="store_true", help=JSON_HELP)
    m.set_defaults(fn=cmd_memories)
    pe = sub.add_parser("people", help="the people in your life and what is true of them, "
                        "as your memories say")
    pe.add_argument("--json", action="store_true", help="one object: you (your facts) and "
                    "people (name, relation, first and last mentioned, facts with history)")
    pe.set_defaults(fn=cmd_people)
    cv = conversations_parser(sub)  # list and export: assistant/conversations.py
    for name, what in EVALUATION.items():
        # Its own parser (assistant/bench/cli.py) reads everything after the name.
        sub.add_parser(name, help=what, add_help=False).set_defaults(fn=None)
    so = sub.add_parser("store", help="move a whole memory between stores")
    ssub = so.add_subparsers(dest="store_command", required=True, help="what to do")
    cp = ssub.add_parser("copy", help="copy every memory, conversation and document, ids "
                         "kept, into an empty store, then check counts and checksums")
    cp.add_argument("--from", dest="source", required=True, help="sqlite (this data folder), "
                    "sqlite:///FOLDER (or FOLDER/memory.sqlite3, its database) or "
                    "postgresql+psycopg://USER@HOST/DB")
    cp.add_argument("--to", dest="target", required=True, help="the same kinds of URL")
    cp.set_defaults(fn=cmd_store_copy)
    mc = sub.add_parser("mcp", help="serve this memory to other AI tools over MCP (stdio, "
                        "or --http)")
    mc.add_argument("--print-config", action="store_true", help="print the client "
                    "configuration that starts this server (with --http: its URL and "
                    "token), to paste into the client")
    mc.add_argument("--http", action="store_true", help="serve streamable HTTP on "
                    "127.0.0.1 instead of stdio; clients need the bearer token kept in the "
                    "data folder (mcp-token) or set in ASSISTANT_MCP_TOKEN")
    mc.add_argument("--port", type=_port, default=8765, help="the HTTP port (default 8765)")
    mc.set_defaults(fn=cmd_mcp)
    d = sub.add_parser("doctor", help="show where data and models are")
    d.add_argument("--repair", action="store_true", help="mend a damaged store's schema (a "
                   "copy of the database is kept first)")
    d.set_defaults(fn=cmd_doctor)
    # After the command too: else `ask`'s and `search`'s words would take them in, a
    # --store URL's password included, and send them to the model.
    for command in (c, a, i, s, m, pe, cv, cp, mc, d):
        global_options(command, default=argparse.SUPPRESS)
    return p


def _after_command(argv: list[str]) -> list[str]:
    """The words after the command's name (global options, some with a value, come first)."""
    i = 0
    while i < len(argv) and argv[i].startswith("-"):
        i += 2 if argv[i] in _VALUED and i + 1 < len(argv) else 1
    return argv[i + 1:]


_VALUED = {"--home", "--store", "--model", "--adapter"}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser()
    # "search -foo": words that look like options but are not ones are part of the query.
    args, extra = parser.parse_known_args(argv)
    if args.command in EVALUATION:
        extra = []  # theirs: assistant/bench/cli.py parses them
    if extra and args.command in ("search", "ask"):
        field = "query" if args.command == "search" else "question"
        setattr(args, field, getattr(args, field) + extra)
    elif extra:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    if args.command in ("search", "ask"):
        field = "query" if args.command == "search" else "question"
        setattr(args, field, _text(getattr(args, field)))
        if not getattr(args, field):
            parser.error(f"{args.command}: the {field} is empty; say what to "
                         f"{'search for' if field == 'query' else 'ask'}")
    if args.command == "memories" and args.action in ("show", "forget") and args.id is None:
        parser.error(f"memories {args.action}: which memory? give its ID")
    if args.command == "chat" and args.json and not args.plain:
        parser.error("chat: --json goes with --plain (the chat app has no JSON output)")
    try:
        settings = load_settings(args.home)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.model:
        settings.model = args.model
    if args.adapter:
        settings.adapter = args.adapter
    if args.store:
        settings.store_url = args.store
    try:
        log_file = _setup_logging(settings, args.verbose)
    except OSError as exc:
        print(printable(f"error: {explain(exc, settings.home) or exc}", one_line=True),
              file=sys.stderr)
        return 1
    if args.command in EVALUATION:
        from assistant.bench.cli import main as evaluation

        return evaluation(args.command, _after_command(argv), settings, store=args.store)
    if args.fn is run_chat and args.plain:
        args.fn = cmd_plain_chat  # the same Agent as `ask` gets, made below
    elif args.fn is run_chat:
        return run_chat(settings, args)
    if getattr(args, "repair", False) and settings.store_url.startswith("postgresql"):
        print("error: --repair mends the SQLite store; PostgreSQL keeps its own schema "
              "consistent (its DDL is transactional)", file=sys.stderr)
        return 2
    if getattr(args, "repair", False):  # before the store is opened: it may not open
        from memory_store.sqlite_store import SqliteStore

        try:
            for line in SqliteStore.repair(settings.home):
                print(f"repair: {line}")
        except Exception as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
    if args.fn is cmd_mcp and args.http and not args.print_config:
        from assistant.mcp.http import ensure_free

        try:  # a taken port is said at once, not after the models have loaded
            ensure_free(args.port)
        except OSError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
    from assistant.agent import Agent

    try:
        with Agent(settings, use_ltmt=not getattr(args, "no_ltmt", False)) as agent:
            return args.fn(agent, args)
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        log.exception("command failed")
        why = explain(exc, settings.home) or str(exc)
        logged = log_file is not None and not log_file.failed
        print(printable(f"error: {why}" + (f" (details in {settings.log_path})" if logged
                                           else ""), one_line=True), file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
