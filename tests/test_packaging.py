"""What an installed assistant has: the wheel carries the trained weights (LTM-T and the
answer adapter, with their records), an installed copy outside any checkout finds them,
and a missing or unreadable weights file is a clear error, never a silent fallback."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from assistant.agent import Agent

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = ("ltmt.pt", "ltmt.json", "generator-lora.pt", "generator-lora.json")


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """The wheel built from this checkout (no network), unpacked as pip installs it."""
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                    "-q", "-w", str(out), str(ROOT)], check=True, capture_output=True,
                   timeout=300)
    (wheel,) = out.glob("assistant-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    for name in SHIPPED:
        assert f"assistant/data/{name}" in names, name
        data = zipfile.ZipFile(wheel).read(f"assistant/data/{name}")
        assert data == (ROOT / "data" / name).read_bytes(), name
    site = out / "site"
    zipfile.ZipFile(wheel).extractall(site)
    return site


def run_installed(site: Path, code: str, cwd: Path) -> subprocess.CompletedProcess:
    """`code` in a fresh interpreter that imports the installed copy, not the checkout."""
    env = {**os.environ, "PYTHONPATH": str(site), "HF_HUB_OFFLINE": "1"}
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=cwd, env=env, timeout=300)


@pytest.mark.slow
def test_an_installed_copy_finds_its_weights(installed, tmp_path):
    code = ("import assistant, sys; from assistant.memory.weights import load_model; "
            "from assistant.answer.backends.factory import make_generator; "
            "print(assistant.__file__); model = load_model(); "
            "print(make_generator('embedded').adapter); print(model.cfg.slots)")
    out = run_installed(installed, code, tmp_path)
    assert out.returncode == 0, out.stderr
    package, adapter, slots = out.stdout.split()
    assert Path(package).is_relative_to(installed)
    assert Path(adapter) == installed / "assistant" / "data" / "generator-lora.pt"
    assert slots == "4"


@pytest.mark.slow
def test_an_install_without_its_weights_says_so(installed, tmp_path):
    broken = tmp_path / "site"
    shutil.copytree(installed, broken)
    (broken / "assistant" / "data" / "generator-lora.pt").unlink()
    (broken / "assistant" / "data" / "ltmt.pt").unlink()
    code = ("from assistant.answer.backends.factory import make_generator\n"
            "from assistant.memory.weights import load_model\n"
            "for load in (lambda: make_generator('embedded'), load_model):\n"
            "    try:\n        load()\n    except FileNotFoundError as exc:\n"
            "        print(exc)\n")
    out = run_installed(broken, code, tmp_path)
    assert out.returncode == 0, out.stderr
    adapter, weights = out.stdout.strip().splitlines()
    assert "the shipped file generator-lora.pt is missing" in adapter
    assert "make setup" in adapter
    assert "the shipped file ltmt.pt is missing" in weights


def test_unreadable_or_missing_ltmt_weights_stop_the_agent(settings, encoder, tmp_path):
    garbage = tmp_path / "ltmt.pt"
    garbage.write_bytes(b"not a checkpoint" * 64)
    with Agent(settings, encoder=encoder, ltmt_weights=garbage) as agent:
        with pytest.raises(ValueError, match=r"ltmt.pt cannot be read: not an LTM-T "
                                             r"checkpoint.*`assistant train`"):
            agent.load()
    with Agent(settings, encoder=encoder, ltmt_weights=tmp_path / "none.pt") as agent:
        with pytest.raises(FileNotFoundError, match=r"none.pt do not exist.*--no-ltmt"):
            agent.recall("anything")
    with Agent(settings, encoder=encoder, ltmt_weights=tmp_path / "none.pt",
               use_ltmt=False) as agent:
        assert agent.recall("anything") == []  # plain retrieval asks for no weights
