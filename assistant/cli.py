"""The `assistant` console script: chat, ask, import, search, memories, mcp, bench, doctor."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path

from assistant.cli_commands import (
    cmd_ask,
    cmd_import,
    cmd_memories,
    cmd_people,
    cmd_search,
)
from assistant.cli_options import Parser, global_options, printing_to
from assistant.config import ConfigError, Settings, load_settings, make_data_folder, positive_int
from assistant.conversations import add_parser as conversations_parser
from assistant.degraded import LogFile, explain, open_log
from assistant.terminal import printable

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
    # transformers' own switches are set where it is imported (encoder.quiet_transformers):
    # importing it here cost every command seconds, used or not.
    return handler


def served_argv(args) -> list[str]:
    """`search` or `ask` as the running assistant re-reads it (local_server.py)."""
    words = args.query if args.command == "search" else args.question
    return [args.command, *(["-k", str(args.k)] if args.k else []),
            *(["--json"] if args.json else []), "--", words]


def serve_command(agent, argv: list[str], out, err) -> int:
    """Run `search` or `ask` for a CLI in another process, against this agent."""
    try:
        # Help and usage errors belong to the client, not to the app's terminal or
        # `assistant mcp`'s protocol stream.
        with printing_to(out, err):
            args = build_parser().parse_args(argv)
        field = "query" if args.command == "search" else "question"
        setattr(args, field, _text(getattr(args, field)))
        return args.fn(agent, args, out=out)
    except SystemExit as exc:  # argparse's: a request this version cannot read
        return int(exc.code or 0)
    except Exception as exc:
        log.exception("a served %s failed", argv[:1])
        print(printable(f"error: {explain(exc, agent.settings.home) or exc}", one_line=True),
              file=err)
        return 1


def run_chat(settings, args) -> int:
    """The TUI; it opens its own agent in a worker, so the first screen shows at once."""
    from assistant.tui.early_input import typeahead_kept

    # First, before Textual is imported: what is typed from now on is kept for the app
    # (assistant/tui/early_input.py), and the terminal is given back as it was.
    with typeahead_kept() as shell_modes:
        from assistant.tui.app import create_app
        from assistant.tui.terminal_driver import ChatDriver

        app = create_app(settings, use_ltmt=not args.no_ltmt, import_root=Path.cwd(),
                         driver_class=ChatDriver.restoring(shell_modes),
                         serve_cli=serve_command)
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
    from assistant.local_server import start
    from assistant.mcp.server import serve

    cli_server = start(agent, serve_command)  # `search` and `ask` answered from here too
    try:
        serve(agent, port)
    finally:
        if cli_server is not None:
            cli_server.close()
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
    try:
        return _main(sys.argv[1:] if argv is None else list(argv))
    except BrokenPipeError:  # `assistant search ... | head`: the reader has what it wanted
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141  # as a shell reports a process ended by SIGPIPE


def _main(argv: list[str]) -> int:
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
    if args.command in ("search", "ask") and not args.verbose:
        from assistant.local_server import ask_running, options

        served = ask_running(settings.home, served_argv(args),
                             options(settings, args.no_ltmt), sys.stdout, sys.stderr)
        if served is not None:  # an assistant running on this folder answered
            return served
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
    except BrokenPipeError:
        raise  # main's: not a failure
    except Exception as exc:
        log.exception("command failed")
        why = explain(exc, settings.home) or str(exc)
        logged = log_file is not None and not log_file.failed
        print(printable(f"error: {why}" + (f" (details in {settings.log_path})" if logged
                                           else ""), one_line=True), file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
