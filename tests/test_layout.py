"""The layout rules that keep the code easy to change, read from the code itself: product
modules never import evaluation code (assistant/bench, assistant/locomo), memory_store
never imports assistant, no import cycles, no module over 450 lines, and only
memory/text.py reads a memory's speaker or date out of its text."""

import ast
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EVALUATION = ("assistant.bench", "assistant.locomo")
MAX_LINES = 450


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for package in ("assistant", "memory_store")
            for p in sorted((ROOT / package).rglob("*.py"))}


def imports(path: Path, top_level_only: bool = False) -> set[str]:
    """Every module `path` imports (relative imports resolved), at any depth of the code
    unless `top_level_only`."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    nodes = tree.body if top_level_only else ast.walk(tree)
    package = module_name(path) if path.name == "__init__.py" else \
        module_name(path).rpartition(".")[0]
    found = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                up = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join(up + ([base] if base else []))
            found |= {base} | {f"{base}.{a.name}" for a in node.names}
    return found


def graph() -> dict[str, set[str]]:
    """Module -> the project modules it imports (the longest known name each import names)."""
    known = modules()
    out = {}
    for name, path in known.items():
        targets = set()
        for target in imports(path):
            while target and target not in known:
                target = target.rpartition(".")[0]
            if target and target != name:
                targets.add(target)
        out[name] = targets
    return out


def is_evaluation(name: str) -> bool:
    return any(name == e or name.startswith(e + ".") for e in EVALUATION)


def test_no_product_module_imports_evaluation_code():
    product = {n: p for n, p in modules().items() if not is_evaluation(n)}
    assert len(product) > 40
    for name, path in product.items():
        # The CLI hands `bench` and `train` to assistant/bench/cli.py, inside the command.
        allowed = {"assistant.bench.cli"} if name == "assistant.cli" else set()
        names = imports(path)
        assert not {n for n in names if is_evaluation(n) and n not in allowed
                    and not n.startswith(tuple(f"{a}." for a in allowed))}, name
        assert not {n for n in imports(path, top_level_only=True) if is_evaluation(n)}, name


def test_memory_store_never_imports_the_app():
    for name, path in modules().items():
        if name.startswith("memory_store"):
            assert not {n for n in imports(path) if n.split(".")[0] == "assistant"}, name


def test_no_import_cycles():
    edges = graph()
    done: set[str] = set()

    def visit(node: str, path: list[str]) -> None:
        if node in path:
            raise AssertionError("import cycle: " + " -> ".join(path[path.index(node):]
                                                                + [node]))
        if node in done:
            return
        for target in sorted(edges[node]):
            visit(target, path + [node])
        done.add(node)

    for node in sorted(edges):
        visit(node, [])


def test_no_module_is_over_the_limit():
    long = {n: len(p.read_text(encoding="utf-8").splitlines()) for n, p in modules().items()}
    assert {n: lines for n, lines in long.items() if lines > MAX_LINES} == {}


def test_only_the_memory_text_schema_reads_speakers_and_dates_out_of_text():
    """The date prefix ("[3 May 2024] ") and a speaker's "Name: " are written and read in
    assistant/memory/text.py alone: no other module holds a pattern for the date prefix,
    splits a memory's text, or reads a speaker or question flag out of meta by hand."""
    readers = re.compile(r"\\\[\\d\{1,2\} |\.text\.split\([\"']|split\(\"\] \"|"
                         r"meta[^\n]{0,20}\b(speaker|question)\b")
    for name, path in modules().items():
        if name != "assistant.memory.text":
            found = readers.search(path.read_text(encoding="utf-8"))
            assert found is None, (name, found and found.group(0))


def test_starting_the_product_loads_no_evaluation_code():
    code = ("import sys, assistant.cli, assistant.agent, assistant.tui.app; "
            "print(sorted(m for m in sys.modules if m.startswith(('assistant.locomo', "
            "'assistant.bench'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
