"""The `assistant` command as a user runs it: real files, separate processes, real models."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # every test here runs the CLI in child processes


def run(home: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    # The session's shared model cache (conftest's model_cache, which `imported` needs).
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "ASSISTANT_CACHE": os.environ["ASSISTANT_CACHE"]}
    proc = subprocess.run([sys.executable, "-m", "assistant.cli", "--home", str(home), *args],
                          capture_output=True, text=True, env=env, timeout=300)
    if check and proc.returncode != 0:
        raise AssertionError(f"exit {proc.returncode}\n{proc.stdout}\n{proc.stderr}")
    return proc


def make_documents(folder: Path) -> None:
    from docx import Document
    from fpdf import FPDF

    folder.mkdir()
    pdf = FPDF()
    pdf.set_font("Helvetica", size=12)
    pdf.add_page()
    pdf.multi_cell(0, 8, "Annual report. Page one talks about general matters and weather.")
    pdf.add_page()
    pdf.multi_cell(0, 8, "The quokka census counted 4172 quokkas on Rottnest Island.")
    pdf.output(str(folder / "report.pdf"))

    doc = Document()
    doc.add_heading("Kitchen manual", level=1)
    doc.add_paragraph("The induction hob needs pans with a magnetic base.")
    doc.add_heading("Dishwasher", level=2)
    doc.add_paragraph("The dishwasher filter must be rinsed every Sunday evening.")
    doc.save(str(folder / "manual.docx"))

    (folder / "page.html").write_text(
        "<html><head><title>Garden</title><script>var tracking='xylophone';</script>"
        "<style>body{color:red}</style></head><body><h1>Garden</h1>"
        "<p>The persimmon tree was planted by grandfather Vasco.</p></body></html>")
    (folder / "notes.md").write_text(
        "# Brewing notes\n\nGeneral notes about the brewery.\n\n"
        "## Zorblat fermentation\n\nZorblat must ferment for nineteen days at 14 degrees.\n\n"
        "## Bottling\n\nBottles are sterilised with steam.\n")
    (folder / "latin1.txt").write_bytes(
        "Le café crème de Zoé coûte trois euros à Besançon.".encode("latin-1"))
    (folder / "random.pdf").write_bytes(os.urandom(4096))


@pytest.fixture(scope="module")
def imported(tmp_path_factory, model_cache):
    root = tmp_path_factory.mktemp("cli")
    home = root / "home"
    make_documents(root / "docs")
    proc = run(home, "import", str(root / "docs"), check=False)
    return home, root / "docs", proc


@pytest.fixture
def own_home(imported, tmp_path) -> Path:
    """A copy of the imported data folder, for a test that changes it: the others share
    `imported` as it was, whatever the order."""
    home, _, _ = imported
    shutil.copytree(home, tmp_path / "home")
    return tmp_path / "home"


def search(home: Path, query: str, k: int = 5) -> list[dict]:
    return json.loads(run(home, "search", query, "-k", str(k), "--json").stdout)


def test_import_reports_only_the_broken_file_and_exits_1(imported):
    _, _, proc = imported
    assert proc.returncode == 1
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "random.pdf" in errors[0] and "PDF" in errors[0]
    assert proc.stdout.count("imported ") == 5


@pytest.mark.parametrize("query, file, locator", [
    ("How many quokkas were counted?", "report.pdf", "page=2"),
    ("How often must the dishwasher filter be rinsed?", "manual.docx", "Dishwasher"),
    ("Who planted the persimmon tree?", "page.html", "Garden"),
    ("How long does zorblat ferment?", "notes.md", "Zorblat fermentation"),
    ("How much is Zoé's café crème?", "latin1.txt", ""),
])
def test_each_fact_is_the_top_hit_with_its_locator(imported, query, file, locator):
    home, _, _ = imported
    top = search(home, query)[0]
    assert top["source"].startswith(file), top
    assert locator in top["source"]
    assert {"id", "kind", "text", "score", "source", "created_at"} <= top.keys()
    assert top["created_at"].endswith("+00:00")


def test_html_script_and_latin1_text(imported):
    home, _, _ = imported
    assert all("xylophone" not in h["text"] for h in search(home, "tracking xylophone", 10))
    assert "café crème" in search(home, "café crème Besançon")[0]["text"]


def test_reimport_adds_nothing_and_a_changed_file_replaces_its_chunks(imported, tmp_path):
    _, docs, _ = imported
    home = tmp_path / "home"
    shutil.copytree(docs, tmp_path / "docs")  # its own file to change
    docs = tmp_path / "docs"
    run(home, "import", str(docs / "notes.md"))
    before = json.loads(run(home, "memories", "stats", "--json").stdout)["memories"]
    proc = run(home, "import", str(docs / "notes.md"))
    assert "unchanged" in proc.stdout
    assert json.loads(run(home, "memories", "stats", "--json").stdout)["memories"] == before
    (docs / "notes.md").write_text("# Brewing notes\n\n## Zorblat fermentation\n\n"
                                   "Zorblat now ferments for twelve days only.\n")
    run(home, "import", str(docs / "notes.md"))
    texts = [h["text"] for h in search(home, "zorblat ferment days", 10)]
    assert any("twelve" in t for t in texts) and not any("nineteen" in t for t in texts)


def test_forget_and_a_damaged_index(own_home):
    home = own_home
    top = search(home, "How many quokkas were counted?")[0]
    assert "quokka" in top["text"]
    assert "forgot" in run(home, "memories", "forget", str(top["id"])).stdout
    assert all(h["id"] != top["id"] for h in search(home, "quokka census Rottnest", 10))
    assert run(home, "memories", "show", str(top["id"]), check=False).returncode == 1

    index = home / "memories.faiss"
    index.write_bytes(b"\x00garbage" * 100)
    assert search(home, "Who planted the persimmon tree?")[0]["source"].startswith("page.html")
    index.unlink()
    assert search(home, "How often must the dishwasher filter be rinsed?")[0]["source"] \
        .startswith("manual.docx")
    assert index.exists()


def test_stats_and_missing_path(imported, tmp_path):
    home, _, _ = imported
    stats = json.loads(run(home, "memories", "stats", "--json").stdout)
    assert stats["memories"] >= 5 and stats["vector_index"] == stats["memories"]
    proc = run(home, "import", str(tmp_path / "nope.txt"), check=False)
    assert proc.returncode == 1 and "nope.txt" in proc.stderr and "no such file" in proc.stderr


def test_ask_streams_an_answer_and_lists_its_sources(imported):
    home, _, _ = imported
    data = json.loads(run(home, "ask", "Who planted the persimmon tree?", "--json").stdout)
    # A document's question is answered with the document's own sentence, quoted.
    assert data["answer"] == "\u201cThe persimmon tree was planted by grandfather Vasco.\u201d"
    assert data["verdict"] == "answered"
    assert data["support"]["source"] == "page.html#Garden"  # the memory it rests on
    assert data["sources"][0]["source"].startswith("page.html")
    assert all(s["weight"] is not None for s in data["sources"])  # ranked by LTM-T
    plain = run(home, "ask", "Who planted the persimmon tree?", "--no-ltmt")
    head, sources = plain.stdout.split("\n\nSources:\n")
    answer, support = head.split("\n")
    assert answer == data["answer"]
    assert support.startswith("(a quote from page.html#Garden, ")  # a document's words
    assert sources.splitlines()[0].startswith("*[1] page.html#Garden (")  # * it rests on


@pytest.mark.slow
def test_a_damaged_store_says_run_doctor_repair_and_it_does(own_home):
    db = sqlite3.connect(own_home / "memory.sqlite3")
    db.execute("DROP TRIGGER memories_ai")
    db.commit()
    db.close()
    broken = run(own_home, "memories", "stats", check=False)
    assert broken.returncode == 1
    assert "trigger memories_ai missing" in broken.stderr
    assert "assistant doctor --repair" in broken.stderr and "Traceback" not in broken.stderr
    repaired = run(own_home, "doctor", "--repair")
    assert "repair: recreated trigger memories_ai" in repaired.stdout
    assert ('store check: {"database_ok": true, "fulltext_ok": true, "broken_links": 0, '
            '"index_mismatches": 0}') in repaired.stdout
    assert "repair: copied the database to" in repaired.stdout
    assert run(own_home, "memories", "stats").returncode == 0


def test_rough_edges_work_or_say_what_is_wrong(tmp_path, model_cache, capsys, monkeypatch):
    from assistant.cli import main

    monkeypatch.setenv("ASSISTANT_CACHE", str(model_cache))
    home, docs = str(tmp_path / "home"), tmp_path / "docs"
    for folder, text in (("api", "# App &lt;scalar&gt;\n\nThe App class runs the event loop.\n"),
                         ("guide", "# Apps\n\nAn app is started by calling run().\n")):
        (docs / folder).mkdir(parents=True)
        (docs / folder / "app.md").write_text(text, encoding="utf-8")
    assert main(["--home", home, "import", str(docs), "--no-progress"]) == 0
    capsys.readouterr()
    # Two app.md in one folder stay apart; an entity in a heading is the character.
    assert main(["--home", home, "search", "event loop", "--json"]) == 0
    sources = [h["source"] for h in json.loads(capsys.readouterr().out)]
    assert sources[0] == "api/app.md#App <scalar>" and "guide/app.md#Apps" in sources
    # A query may start with "-"; a byte that is not UTF-8 is not an error.
    assert main(["--home", home, "search", "-loop", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)[0]["source"] == "api/app.md#App <scalar>"
    assert main(["--home", home, "search", "caf\udce9 loop"]) == 0
    for argv, message in ((["ask", "  "], "the question is empty"),
                          (["search", "x", "-k", "-3"], "-3 is not at least 1"),
                          (["search", "x", "-k", "many"], "'many' is not a whole number")):
        with pytest.raises(SystemExit) as exited:
            main(["--home", home, *argv])
        assert exited.value.code == 2 and message in capsys.readouterr().err


@pytest.mark.slow
def test_bench_startup_reports_the_first_screen_and_models_ready(model_cache, monkeypatch):
    from assistant.bench.startup import startup

    monkeypatch.setenv("ASSISTANT_CACHE", str(model_cache))
    result = startup(runs=1)  # figures only: timings are never asserted against each other
    assert result["runs"] == 1
    seconds = {k: v for k, v in result.items() if k.endswith("_s")}
    assert len(seconds) == 4 and all(0 < v < 300 for v in seconds.values()), result
    # The ratios are of the figures printed beside them (rounded as printed).
    assert result["vs_bare_textual"] == pytest.approx(
        result["first_screen_median_s"] / result["bare_textual_median_s"], abs=0.02)
    assert result["ready_vs_bare_generator"] == pytest.approx(
        result["models_ready_median_s"] / result["bare_generator_load_median_s"], abs=0.02)


@pytest.mark.slow
def test_bench_ingest_imports_both_big_files_and_reports_memory(tmp_path, model_cache,
                                                                capsys, monkeypatch):
    from assistant.cli import main

    monkeypatch.setenv("ASSISTANT_CACHE", str(model_cache))
    assert main(["--home", str(tmp_path / "home"), "bench", "ingest", "--text-mb", "0.05",
                 "--export-mb", "0.05"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["encoder"]["chunks"] > 16 and result["encoder"]["ratio"] > 0
    for name in ("text", "chatgpt_export"):
        figures = result[name]
        assert figures["finished"] and figures["parts_done"] == figures["parts_in_file"] > 0
        assert figures["memories_stored"] >= figures["parts_done"]
        assert figures["peak_rss_mb"] > 100 and figures["memories_per_s"] > 0
