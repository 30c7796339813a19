"""The `assistant` console script: chat, ask, import, search, memories, mcp, bench, doctor."""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import sys
from pathlib import Path

from assistant.config import ConfigError, Settings, load_settings
from memory_store.records import Hit, iso

log = logging.getLogger("assistant")


def _setup_logging(settings: Settings, verbose: bool) -> None:
    settings.home.mkdir(parents=True, exist_ok=True)
    os.chmod(settings.home, 0o700)
    handler = logging.FileHandler(settings.log_path, encoding="utf-8")
    settings.log_path.chmod(0o600)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
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


_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def printable(text: object) -> str:
    """Text safe for a terminal: control characters (an escape sequence in a file name or
    a memory) are shown as \\xNN instead of being obeyed."""
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", str(text))


def _print_hits(hits: list[Hit], as_json: bool) -> None:
    if as_json:
        print(json.dumps([h.to_json() for h in hits], ensure_ascii=False, indent=2))
        return
    if not hits:
        print("No memories match.")
    for n, h in enumerate(hits, start=1):
        text = " ".join(h.text.split())
        print(printable(f"{n:>2}. #{h.id} {h.source}  ({iso(h.created_at)[:10]}, {h.kind}, "
                        f"score {h.score:.4f})") + "\n    "
              + printable(f"{text[:200]}{'…' if len(text) > 200 else ''}"))


def cmd_import(agent, args) -> int:
    from assistant.ingest.pipeline import import_paths

    report = import_paths(agent.store, agent.encoder, [Path(p) for p in args.paths],
                          progress=False if args.no_progress else None)
    for path, n in report.imported:
        print(printable(f"imported {path}: {n} memories"))
    for path, why in report.skipped:
        print(printable(f"skipped {path}: {why}"))
    for err in report.failed:
        print(printable(f"error: {err.path}: {err.reason}"), file=sys.stderr)
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
        print(json.dumps({"answer": answer.text,
                          "support": support.to_json() if support else None,
                          "sources": [h.to_json() for h in answer.sources]},
                         ensure_ascii=False, indent=2))
        return 0
    if support is not None:
        quote = "a quote from " if support.kind == "chunk" else ""
        print(printable(f"\n({quote}{support.source}, {iso(support.created_at)[:10]})"), end="")
    print("\n\nSources:")
    for n, h in enumerate(answer.sources, start=1):
        mark = "*" if support is not None and h.id == support.id else " "
        print(printable(f"{mark}[{n}] {h.source} ({iso(h.created_at)[:10]})"))
    return 0


def cmd_memories(agent, args) -> int:
    store = agent.store
    if args.action == "stats":
        stats = store.stats()
        print(json.dumps(stats, indent=2) if args.json else
              "\n".join(f"{k}: {v}" for k, v in stats.items()))
        return 0
    if args.action == "list":
        _print_hits(store.list_memories(args.kind, args.limit), args.json)
        return 0
    if args.id is None:
        print(f"error: `memories {args.action}` needs a memory ID", file=sys.stderr)
        return 2
    if args.action == "show":
        hit = store.get(args.id)
        if hit is None:
            print(f"error: no memory #{args.id}", file=sys.stderr)
            return 1
        print(json.dumps(hit.to_json(), ensure_ascii=False, indent=2) if args.json else
              f"#{hit.id} {hit.kind} {hit.source} {iso(hit.created_at)}\n\n{hit.text}")
        return 0
    if not store.forget(args.id):
        print(f"error: no memory #{args.id}", file=sys.stderr)
        return 1
    print(f"forgot memory #{args.id}")
    return 0


def run_chat(settings, args) -> int:
    """The TUI; it opens its own agent in a worker, so the first screen shows at once."""
    from assistant.tui.app import create_app

    create_app(settings, use_ltmt=not args.no_ltmt, import_root=Path.cwd()).run()
    return 0


def cmd_bench(agent, args) -> int:
    from assistant import bench

    result = bench.scale(memories=args.memories, queries=args.queries,
                         store_url=args.store or "")
    print(json.dumps(result, indent=None if args.json else 2))
    return 0


def cmd_bench_startup(agent, args) -> int:
    from assistant.bench_startup import startup

    print(json.dumps(startup(args.runs)))
    return 0


def cmd_bench_first_token(agent, args) -> int:
    from assistant.bench_startup import first_token

    print(json.dumps(first_token(agent.settings, args.runs)))
    return 0


def cmd_bench_locomo(agent, args) -> int:
    from assistant.locomo import bench as bench_locomo

    summary = bench_locomo.run([Path(f) for f in args.files], Path(args.out),
                               use_ltmt=not args.no_ltmt, answers=args.answers,
                               limit=args.limit, weights=args.weights, encoder=agent.encoder,
                               generator=agent.generator if args.answers else None,
                               settings=agent.settings)
    print(json.dumps(summary) if args.json else bench_locomo.format_table(summary))
    return 0


def cmd_bench_personal(agent, args) -> int:
    from assistant import bench_personal

    result = bench_personal.run(agent.settings, args.file, encoder=agent.encoder,
                                generator=agent.generator, use_ltmt=not args.no_ltmt)
    return _print_check(result, args.json)


def cmd_bench_faults(agent, args) -> int:
    from assistant import bench_faults

    print(json.dumps(bench_faults.run(args.runs, args.seed)))
    return 0


def cmd_bench_ingest(agent, args) -> int:
    from assistant import bench_ingest

    print(json.dumps(bench_ingest.run(args.text_mb, args.export_mb, args.limit_s), indent=2))
    return 0


def cmd_bench_docs(agent, args) -> int:
    from assistant import bench_docs

    result = bench_docs.run(agent.settings, args.file, encoder=agent.encoder,
                            generator=agent.generator, use_ltmt=not args.no_ltmt)
    return _print_check(result, args.json)


def _print_check(result: dict, as_json: bool) -> int:
    """Every question with its answer (or, with --json, everything), then the figures."""
    if not as_json:
        for row in result["rows"]:
            mark = "ok " if row["ok"] else "BAD"
            where = f" [{row['support']}]" if row.get("support") else ""
            print(f"{mark} {row['question']}\n    -> {row['answer']}{where}")
        result = {k: v for k, v in result.items() if k != "rows"}
    print(json.dumps(result))
    return 0


def cmd_train(agent, args) -> int:
    from assistant.locomo import train

    files = [Path(f) for f in args.data] if args.data else train.default_files()
    record = train.train_command(files, epochs=args.epochs, out=Path(args.out), seed=args.seed,
                                 holdout=args.holdout, encoder=agent.encoder,
                                 folds_dir=args.folds_dir, query_adapter=args.query_adapter)
    print(json.dumps(record, indent=2))
    return 0


def cmd_train_generator(agent, args) -> int:
    from assistant.generator import EmbeddedGenerator
    from assistant.locomo import train, train_generator

    files = [Path(f) for f in args.data] if args.data else train.default_files()
    base = EmbeddedGenerator(agent.settings.cache_dir)  # never the adapted model
    record = train_generator.train_command(
        files, Path(args.out), encoder=agent.encoder, generator=base, folds_dir=args.folds_dir,
        weights=args.weights, epochs=args.epochs, seed=args.seed,
        progress=lambda line: print(line, file=sys.stderr, flush=True))
    print(json.dumps(record, indent=2))
    return 0


def cmd_doctor(agent, args) -> int:
    from assistant.encoder import model_dir
    from assistant.generator import adapter_path

    print(f"data folder: {agent.settings.home}")
    print(f"memories in: {agent.store.where} ({agent.store.stats()['backend']})")
    print(f"encoder: {agent.encoder.name} at {model_dir()}")
    print(f"cache: {agent.settings.cache_dir}")
    print(f"answers by: {agent.settings.model}, adapter: "
          f"{adapter_path(agent.settings.adapter, agent.settings.model) or 'none'}")
    model = agent.settings.model
    if model.startswith(("http://", "https://")):
        from assistant.remote import destination

        where = destination(model, agent.settings.proxy_loopback)
    else:
        where = "nowhere: answers are written on this machine"
    print(f"prompts with your memories go to: {where}")
    # SQLite's and FTS5's own checks, and the FAISS cache against SQLite vector for vector.
    print(f"store check: {json.dumps(agent.store.check())}")
    print(json.dumps(agent.store.stats(), indent=2))
    return 0


def cmd_store_copy(agent, args) -> int:
    from memory_store.copy import copy_store
    from memory_store.store import open_store, redacted

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


def mcp_config(settings: Settings, http_port: int | None = None) -> dict:
    """The client configuration that starts this install's MCP server on this data folder
    (Claude Desktop's `mcpServers`; Claude Code and most clients take the same fields), or
    with `http_port`, the URL and token of `assistant mcp --http` on that port."""
    if http_port is not None:
        from assistant import mcp_http

        return {"mcpServers": {"memory": {
            "type": "http", "url": mcp_http.url(http_port),
            "headers": {"Authorization": f"Bearer {mcp_http.http_token(settings.home)}"}}}}
    return {"mcpServers": {"memory": {
        "command": sys.executable,
        "args": ["-m", "assistant.cli", "--home", str(settings.home), "mcp"]}}}


def cmd_mcp(agent, args) -> int:
    port = args.port if args.http else None
    if args.print_config:
        print(json.dumps(mcp_config(agent.settings, port), indent=2))
        return 0
    from assistant.mcp_server import build_server

    agent.encoder.load()  # before the first call, so a client's first search is quick
    server = build_server(agent)
    if port is None:
        log.info("MCP server on %s (stdio)", agent.settings.home)
        server.run("stdio")
        return 0
    from assistant import mcp_http

    mcp_http.ensure_free(port)
    token = mcp_http.http_token(agent.settings.home)
    log.info("MCP server on %s at %s", agent.settings.home, mcp_http.url(port))
    print(f"serving {agent.settings.home} at {mcp_http.url(port)} (127.0.0.1 only); "
          f"clients send the token from `assistant mcp --http --port {port} "
          f"--print-config`. Ctrl+C stops.", file=sys.stderr, flush=True)
    mcp_http.serve(server, token, port)
    return 0


def _count(value: str) -> int:
    """A number of memories: a whole number of at least 1."""
    try:
        n = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a whole number") from None
    if n < 1:
        raise argparse.ArgumentTypeError(f"{n} is not at least 1")
    return n


def _text(words: list[str]) -> str:
    """Command-line words as text: bytes that are not UTF-8 (Python keeps them as
    surrogates) become U+FFFD instead of breaking the tokenizer."""
    joined = " ".join(words).encode("utf-8", "surrogateescape")
    return joined.decode("utf-8", "replace").strip()


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="assistant", description=__doc__)
    p.add_argument("--home", type=Path, help="data folder (default: $ASSISTANT_HOME or the "
                   "platform's user data folder)")
    p.add_argument("--store", help="where the memories are: sqlite (in the data folder) or "
                   "postgresql+psycopg://USER@HOST/DB (default: $ASSISTANT_STORE or "
                   "`store_url` in config.toml)")
    p.add_argument("-v", "--verbose", action="store_true", help="log to stderr too")
    p.add_argument("--model", help="who answers: embedded, a model folder or .gguf file, or "
                   "an OpenAI-compatible server URL such as http://localhost:11434/v1 "
                   "(default: `model` in config.toml)")
    p.add_argument("--adapter", help="LoRA for a local model: builtin, none, or a file made by "
                   "`assistant train-generator` (default: `adapter` in config.toml)")
    sub = p.add_subparsers(dest="command", required=True)
    c = sub.add_parser("chat", help="chat in the terminal")
    c.add_argument("--no-ltmt", action="store_true", help="plain hybrid retrieval (ablation)")
    c.set_defaults(fn=run_chat)
    a = sub.add_parser("ask", help="answer one question from memory")
    a.add_argument("question", nargs="*", help="the question (quote it, or put it after --)")
    a.add_argument("-k", type=_count, default=None, help="memories recalled (1 or more)")
    a.add_argument("--json", action="store_true")
    a.add_argument("--no-ltmt", action="store_true", help="plain hybrid retrieval (ablation)")
    a.set_defaults(fn=cmd_ask)
    i = sub.add_parser("import", help="import files or folders as knowledge")
    i.add_argument("paths", nargs="+")
    i.add_argument("--no-progress", action="store_true")
    i.set_defaults(fn=cmd_import)
    s = sub.add_parser("search", help="search memories")
    s.add_argument("query", nargs="*", help="what to search for (words starting with - too)")
    s.add_argument("-k", type=_count, default=10, help="how many (1 or more)")
    s.add_argument("--json", action="store_true")
    s.add_argument("--no-ltmt", action="store_true", help="plain hybrid retrieval (ablation)")
    s.set_defaults(fn=cmd_search)
    m = sub.add_parser("memories", help="list, show, forget, count memories")
    m.add_argument("action", choices=["list", "show", "forget", "stats"])
    m.add_argument("id", type=int, nargs="?")
    m.add_argument("--kind")
    m.add_argument("--limit", type=int, default=20)
    m.add_argument("--json", action="store_true")
    m.set_defaults(fn=cmd_memories)
    b = sub.add_parser("bench", help="benchmarks that print figures")
    bsub = b.add_subparsers(dest="bench", required=True)
    sc = bsub.add_parser("scale", help="search and ingest speed at N memories")
    sc.add_argument("--memories", type=int, default=100_000)
    sc.add_argument("--queries", type=int, default=200)
    sc.add_argument("--json", action="store_true")
    sc.set_defaults(fn=cmd_bench)
    st = bsub.add_parser("startup", help="seconds until the chat app's first screen")
    st.add_argument("--runs", type=int, default=5)
    st.set_defaults(fn=cmd_bench_startup)
    ft = bsub.add_parser("first-token", help="seconds from a question to its first piece")
    ft.add_argument("--runs", type=int, default=5)
    ft.set_defaults(fn=cmd_bench_first_token)
    lo = bsub.add_parser("locomo", help="evidence recall on LoCoMo conversations")
    lo.add_argument("files", nargs="+")
    lo.add_argument("--out", default="results.jsonl")
    lo.add_argument("--no-ltmt", action="store_true", help="plain hybrid retrieval (ablation)")
    lo.add_argument("--answers", action="store_true", help="also generate answers")
    lo.add_argument("--limit", type=int, help="first N questions of categories 1-4 per file")
    lo.add_argument("--weights", type=Path, help="LTM-T checkpoint (default data/ltmt.pt)")
    lo.add_argument("--json", action="store_true")
    lo.set_defaults(fn=cmd_bench_locomo)
    pe = bsub.add_parser("personal", help="answers and abstentions on one person's chats")
    pe.add_argument("--file", type=Path, help="the check (default data/personal-dev.json)")
    pe.add_argument("--no-ltmt", action="store_true")
    pe.add_argument("--json", action="store_true", help="every question's answer as JSON")
    pe.set_defaults(fn=cmd_bench_personal)
    fa = bsub.add_parser("faults", help="kill imports, chats and forgets at random moments "
                         "and check the store after each")
    fa.add_argument("--runs", type=_count, default=50)
    fa.add_argument("--seed", type=int, default=0)
    fa.set_defaults(fn=cmd_bench_faults)
    ig = bsub.add_parser("ingest", help="chunks/s and peak memory importing a big text "
                         "file and a big ChatGPT export")
    ig.add_argument("--text-mb", type=float, default=50)
    ig.add_argument("--export-mb", type=float, default=30)
    ig.add_argument("--limit-s", type=float, default=0,
                    help="stop each import after a part committed past this many seconds")
    ig.set_defaults(fn=cmd_bench_ingest)
    do = bsub.add_parser("docs", help="answers and cited sections on imported documentation")
    do.add_argument("--file", type=Path, help="the check (default data/docs-dev.json; "
                    "data/docs-heldout.json is the held-out one)")
    do.add_argument("--no-ltmt", action="store_true")
    do.add_argument("--json", action="store_true", help="every question's answer as JSON")
    do.set_defaults(fn=cmd_bench_docs)
    t = sub.add_parser("train", help="train LTM-T on LoCoMo-format conversations")
    t.add_argument("--data", nargs="+", help="LoCoMo files (default: the dev split)")
    t.add_argument("--epochs", type=int, default=4)  # held-out recall peaks early: 5 convs
    t.add_argument("--out", default="data/ltmt.pt")
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--holdout", nargs="*", default=None,
                   help="sample names to hold out and report on (e.g. 26 30)")
    t.add_argument("--folds-dir", type=Path,
                   help="also save each held-out fold's model here (ltmt-without-NAME.pt)")
    t.add_argument("--query-adapter", action="store_true",
                   help="also train a LoRA on the encoder's query side, saved with the "
                        "weights (better LoCoMo recall, worse on personal chats: README)")
    t.set_defaults(fn=cmd_train)
    g = sub.add_parser("train-generator", help="train the answer adapter (LoRA) of the "
                       "embedded model on LoCoMo-format conversations")
    g.add_argument("--data", nargs="+", help="LoCoMo files (default: the dev split)")
    g.add_argument("--epochs", type=int, default=3)
    g.add_argument("--out", default="data/generator-lora.pt")
    g.add_argument("--seed", type=int, default=0)
    g.add_argument("--folds-dir", type=Path, help="recall each conversation with the LTM-T "
                   "that never saw it (DIR/ltmt-without-NAME.pt, from `train --folds-dir`)")
    g.add_argument("--weights", type=Path, help="LTM-T checkpoint for recall otherwise "
                   "(default data/ltmt.pt)")
    g.set_defaults(fn=cmd_train_generator)
    so = sub.add_parser("store", help="move a whole memory between stores")
    ssub = so.add_subparsers(dest="store_command", required=True)
    cp = ssub.add_parser("copy", help="copy every memory, conversation and document, ids "
                         "kept, into an empty store, then check counts and checksums")
    cp.add_argument("--from", dest="source", required=True, help="sqlite (this data folder), "
                    "sqlite:///FOLDER or postgresql+psycopg://USER@HOST/DB")
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
    return p


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    # "search -foo": words that look like options but are not ones are part of the query.
    args, extra = parser.parse_known_args(argv)
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
    _setup_logging(settings, args.verbose)
    if args.fn is run_chat:
        return run_chat(settings, args)
    if getattr(args, "repair", False) and settings.store_url.startswith("postgresql"):
        print("error: --repair mends the SQLite store; PostgreSQL keeps its own schema "
              "consistent (its DDL is transactional)", file=sys.stderr)
        return 2
    if getattr(args, "repair", False):  # before the store is opened: it may not open
        from memory_store.store import MemoryStore

        try:
            for line in MemoryStore.repair(settings.home):
                print(f"repair: {line}")
        except Exception as exc:
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
        print(f"error: {exc} (details in {settings.log_path})", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
