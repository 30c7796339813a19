"""The layout rules that keep the code easy to change: product modules never import the
benchmark package (assistant/locomo), and memory_store never imports assistant."""

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Benchmark commands, which read the benchmark package by design.
BENCH = {"bench_personal.py", "bench_docs.py"}  # bench_faults reads none of it


def imports(path: Path, top_level_only: bool = False) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    nodes = tree.body if top_level_only else ast.walk(tree)
    found = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            found |= {node.module} | {f"{node.module}.{a.name}" for a in node.names}
    return found


def product_modules() -> list[Path]:
    return [p for p in (ROOT / "assistant").rglob("*.py")
            if "locomo" not in p.relative_to(ROOT / "assistant").parts[:1]
            and p.name not in BENCH]


def test_no_product_module_imports_the_benchmark_package():
    assert len(product_modules()) > 20
    for path in product_modules():
        # The CLI may load it inside its bench and train commands, never at import.
        names = imports(path, top_level_only=path.name == "cli.py")
        assert not {n for n in names if n.startswith("assistant.locomo")}, path


def test_memory_store_never_imports_the_app():
    for path in (ROOT / "memory_store").rglob("*.py"):
        assert not {n for n in imports(path) if n.split(".")[0] == "assistant"}, path


def test_starting_the_product_loads_no_benchmark_code():
    code = ("import sys, assistant.cli, assistant.agent, assistant.tui.app; "
            "print(sorted(m for m in sys.modules if m.startswith('assistant.locomo')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
