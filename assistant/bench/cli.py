"""`assistant bench ...`, `assistant train` and `assistant train-generator`: the evaluation
and training commands. The product's CLI hands them their own arguments (everything after
the command's name), so none of this is imported when the assistant itself runs."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from assistant.config import Settings, positive_int

COMMANDS = {
    "bench": "benchmarks that print figures",
    "train": "train LTM-T on LoCoMo-format conversations",
    "train-generator": "train the answer adapter (LoRA) of the embedded model on "
                       "LoCoMo-format conversations",
}


def _encoder():
    from assistant.memory.encoder import Encoder

    return Encoder()


def _generator(settings: Settings):
    from assistant.answer.backends.factory import generator_for

    return generator_for(settings)


def bench_scale(settings: Settings, args) -> int:
    from assistant.bench.scale import scale

    result = scale(memories=args.memories, queries=args.queries, store_url=args.store or "")
    print(json.dumps(result, indent=None if args.json else 2))
    return 0


def bench_startup(settings: Settings, args) -> int:
    from assistant.bench.startup import startup

    print(json.dumps(startup(args.runs)))
    return 0


def bench_cli(settings: Settings, args) -> int:
    from assistant.bench.cli_speed import cli

    print(json.dumps(cli(args.runs, args.memories, args.code)))
    return 0


def bench_first_token(settings: Settings, args) -> int:
    from assistant.bench.startup import first_token

    print(json.dumps(first_token(settings, args.runs)))
    return 0


def bench_locomo(settings: Settings, args) -> int:
    from assistant.locomo import bench

    summary = bench.run([Path(f) for f in args.files], Path(args.out),
                        use_ltmt=not args.no_ltmt, answers=args.answers, limit=args.limit,
                        weights=args.weights, encoder=_encoder(),
                        generator=_generator(settings) if args.answers else None,
                        settings=settings)
    print(json.dumps(summary) if args.json else bench.format_table(summary))
    return 0


def bench_personal(settings: Settings, args) -> int:
    from assistant.bench import personal

    result = personal.run(settings, args.file, encoder=_encoder(),
                          generator=_generator(settings), use_ltmt=not args.no_ltmt)
    return _print_check(result, args.json)


def bench_person(settings: Settings, args) -> int:
    from assistant.bench import person
    from assistant.bench.personas import HELD_OUT_2_SEEDS, HELD_OUT_SEEDS

    seeds = (HELD_OUT_SEEDS if args.held_out else HELD_OUT_2_SEEDS if args.held_out_2
             else args.seeds)
    result = person.run(settings, seeds, args.mode,
                        encoder=_encoder(), generator=_generator(settings),
                        use_ltmt=not args.no_ltmt, out=args.out, limit=args.limit,
                        progress=lambda line: print(line, file=sys.stderr, flush=True))
    result.pop("rows")
    print(json.dumps(result) if args.json else person.format_table(result))
    return 0


def _seeds(text: str) -> list[int]:
    try:
        seeds = [int(s) for s in text.split(",") if s.strip()]
    except ValueError:
        seeds = []
    if not seeds:
        raise argparse.ArgumentTypeError(f"{text!r}: give seeds as integers separated by "
                                         "commas, e.g. 0,1,2")
    return seeds


def bench_docs(settings: Settings, args) -> int:
    from assistant.bench import docs

    result = docs.run(settings, args.file, encoder=_encoder(), generator=_generator(settings),
                      use_ltmt=not args.no_ltmt)
    return _print_check(result, args.json)


def bench_faults(settings: Settings, args) -> int:
    from assistant.bench import faults

    print(json.dumps(faults.run(args.runs, args.seed)))
    return 0


def bench_ingest(settings: Settings, args) -> int:
    from assistant.bench import ingest

    print(json.dumps(ingest.run(args.text_mb, args.export_mb, args.limit_s), indent=2))
    return 0


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


def train(settings: Settings, args) -> int:
    from assistant.locomo import train

    files = [Path(f) for f in args.data] if args.data else train.default_files()
    record = train.train_command(files, epochs=args.epochs, out=Path(args.out), seed=args.seed,
                                 holdout=args.holdout, encoder=_encoder(),
                                 folds_dir=args.folds_dir, query_adapter=args.query_adapter)
    print(json.dumps(record, indent=2))
    return 0


def train_generator(settings: Settings, args) -> int:
    from assistant.answer.backends.embedded import EmbeddedGenerator
    from assistant.locomo import train, train_generator

    files = [Path(f) for f in args.data] if args.data else train.default_files()
    base = EmbeddedGenerator(settings.cache_dir)  # never the adapted model
    record = train_generator.train_command(
        files, Path(args.out), encoder=_encoder(), generator=base, folds_dir=args.folds_dir,
        weights=args.weights, epochs=args.epochs, seed=args.seed,
        progress=lambda line: print(line, file=sys.stderr, flush=True))
    print(json.dumps(record, indent=2))
    return 0


RUNS_HELP = "fresh processes timed; the figures are their medians"
NO_LTMT_HELP = "plain hybrid retrieval, without LTM-T (ablation)"


def _bench_parser(store: str | None) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="assistant bench", description=COMMANDS["bench"])
    sub = p.add_subparsers(dest="bench", required=True, metavar="BENCH",
                           help="what to measure (each has --help)")
    sc = sub.add_parser("scale", help="search and ingest speed at N memories")
    sc.add_argument("--memories", type=positive_int, default=100_000,
                    help="memories to store (default 100,000)")
    sc.add_argument("--queries", type=positive_int, default=200,
                    help="searches timed (default 200)")
    sc.add_argument("--store", default=store, help="an empty PostgreSQL database to fill "
                    "instead of a temporary SQLite store")
    sc.add_argument("--json", action="store_true", help="one line of JSON")
    sc.set_defaults(fn=bench_scale)
    st = sub.add_parser("startup", help="seconds until the chat app's first screen")
    st.add_argument("--runs", type=positive_int, default=5, help=RUNS_HELP)
    st.set_defaults(fn=bench_startup)
    bc = sub.add_parser("cli", help="seconds and memory of one `search` and one `ask`, "
                        "each in a fresh process, cold and with an assistant running")
    bc.add_argument("--runs", type=positive_int, default=5, help=RUNS_HELP)
    bc.add_argument("--memories", type=positive_int, default=2000,
                    help="memories in the store searched (generated personas' chats)")
    bc.add_argument("--code", type=Path, help="time another checkout's CLI on the same "
                    "store (e.g. a `git worktree` of an older commit), for before and after")
    bc.set_defaults(fn=bench_cli)
    ft = sub.add_parser("first-token", help="seconds from a question to its first text on "
                        "screen")
    ft.add_argument("--runs", type=positive_int, default=5, help=RUNS_HELP)
    ft.set_defaults(fn=bench_first_token)
    lo = sub.add_parser("locomo", help="evidence recall on LoCoMo conversations")
    lo.add_argument("files", nargs="+", help="LoCoMo JSON files")
    lo.add_argument("--out", default="results.jsonl",
                    help="every question's row as JSON lines (default results.jsonl)")
    lo.add_argument("--no-ltmt", action="store_true", help="plain hybrid retrieval (ablation)")
    lo.add_argument("--answers", action="store_true", help="also generate answers")
    lo.add_argument("--limit", type=int, help="first N questions of categories 1-4 per file")
    lo.add_argument("--weights", type=Path, help="LTM-T checkpoint (default: the shipped one)")
    lo.add_argument("--json", action="store_true", help="the summary as JSON")
    lo.set_defaults(fn=bench_locomo)
    pe = sub.add_parser("personal", help="answers and abstentions on one person's chats")
    pe.add_argument("--file", type=Path, help="the check (default data/personal-dev.json)")
    pe.add_argument("--no-ltmt", action="store_true", help=NO_LTMT_HELP)
    pe.add_argument("--json", action="store_true", help="every question's answer as JSON")
    pe.set_defaults(fn=bench_personal)
    ps = sub.add_parser("person", help="who is who, what changed and what was never said, "
                        "over generated personas (LongMemEval's abilities)")
    which = ps.add_mutually_exclusive_group()
    which.add_argument("--seeds", type=_seeds, default=[0, 1, 2],
                       help="personas to run, comma-separated (default 0,1,2: the dev ones; "
                            "seeds from 100 on are held out, from 200 on freshly worded)")
    which.add_argument("--held-out", action="store_true",
                       help="the held-out personas (100,101,102): report only, never tune on")
    which.add_argument("--held-out-2", action="store_true",
                       help="the second held-out split (200,201,202): every statement and "
                            "question in wording of its own, unseen when written; report "
                            "only, never tune on or read")
    ps.add_argument("--mode", choices=["import", "typed", "both"], default="both",
                    help="tell the sessions as a ChatGPT export, typed in the chat, or both")
    ps.add_argument("--out", type=Path, help="every question's row as JSON lines")
    ps.add_argument("--limit", type=positive_int, help="the first N questions of each persona")
    ps.add_argument("--no-ltmt", action="store_true", help=NO_LTMT_HELP)
    ps.add_argument("--json", action="store_true", help="the figures as JSON")
    ps.set_defaults(fn=bench_person)
    fa = sub.add_parser("faults", help="kill imports, chats and forgets at random moments "
                        "and check the store after each")
    fa.add_argument("--runs", type=positive_int, default=50,
                    help="processes killed and checked (default 50)")
    fa.add_argument("--seed", type=int, default=0, help="the random moments' seed")
    fa.set_defaults(fn=bench_faults)
    ig = sub.add_parser("ingest", help="chunks/s and peak memory importing a big text "
                        "file and a big ChatGPT export")
    ig.add_argument("--text-mb", type=float, default=50,
                    help="size of the generated text file (default 50)")
    ig.add_argument("--export-mb", type=float, default=30,
                    help="size of the generated ChatGPT export (default 30)")
    ig.add_argument("--limit-s", type=float, default=0,
                    help="stop each import after a part committed past this many seconds")
    ig.set_defaults(fn=bench_ingest)
    do = sub.add_parser("docs", help="answers and cited sections on imported documentation")
    do.add_argument("--file", type=Path, help="the check (default data/docs-dev.json; "
                    "data/docs-heldout.json is the held-out one)")
    do.add_argument("--no-ltmt", action="store_true", help=NO_LTMT_HELP)
    do.add_argument("--json", action="store_true", help="every question's answer as JSON")
    do.set_defaults(fn=bench_docs)
    return p


def _train_parser() -> argparse.ArgumentParser:
    t = argparse.ArgumentParser(prog="assistant train", description=COMMANDS["train"])
    t.add_argument("--data", nargs="+", help="LoCoMo files (default: the dev split)")
    # Held-out recall peaks early: 5 conversations.
    t.add_argument("--epochs", type=int, default=4, help="passes over the data (default 4)")
    t.add_argument("--out", default="data/ltmt.pt", help="where the checkpoint goes")
    t.add_argument("--seed", type=int, default=0, help="training's random seed")
    t.add_argument("--holdout", nargs="*", default=None,
                   help="sample names to hold out and report on (e.g. 26 30)")
    t.add_argument("--folds-dir", type=Path,
                   help="also save each held-out fold's model here (ltmt-without-NAME.pt)")
    t.add_argument("--query-adapter", action="store_true",
                   help="also train a LoRA on the encoder's query side, saved with the "
                        "weights (better LoCoMo recall, worse on personal chats: docs/ltmt.md)")
    t.set_defaults(fn=train)
    return t


def _train_generator_parser() -> argparse.ArgumentParser:
    g = argparse.ArgumentParser(prog="assistant train-generator",
                                description=COMMANDS["train-generator"])
    g.add_argument("--data", nargs="+", help="LoCoMo files (default: the dev split)")
    g.add_argument("--epochs", type=int, default=3, help="passes over the data (default 3)")
    g.add_argument("--out", default="data/generator-lora.pt", help="where the adapter goes")
    g.add_argument("--seed", type=int, default=0, help="training's random seed")
    g.add_argument("--folds-dir", type=Path, help="recall each conversation with the LTM-T "
                   "that never saw it (DIR/ltmt-without-NAME.pt, from `train --folds-dir`)")
    g.add_argument("--weights", type=Path, help="LTM-T checkpoint for recall otherwise "
                   "(default: the shipped one)")
    g.set_defaults(fn=train_generator)
    return g


def main(command: str, argv: list[str], settings: Settings, store: str | None = None) -> int:
    """Run one evaluation or training command on its own arguments."""
    parser = {"bench": lambda: _bench_parser(store), "train": _train_parser,
              "train-generator": _train_generator_parser}[command]()
    args = parser.parse_args(argv)
    return args.fn(settings, args)
