"""Import files or folders as knowledge: pick or type paths, watch progress, see each error."""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from pathlib import Path

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import Button, DirectoryTree, Input, Label, ProgressBar, RichLog

from assistant.wording import plural


class ImportScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape", "close", "Close")]

    @dataclass
    class Finished(Message):
        imported: int
        failed: int

    def __init__(self, agent, root: Path, paths: str = "") -> None:
        super().__init__()
        self.agent = agent
        self.root = root
        self.initial = paths
        self.running = False

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog wide"):
            yield Label("Import documents (txt, md, html, pdf, docx, ChatGPT export)",
                        classes="dialog-title")
            yield Input(self.initial, placeholder="paths to files or folders (space "
                        "separated; quote paths with spaces)", id="paths")
            yield DirectoryTree(self.root, id="tree")
            yield ProgressBar(total=1, id="progress", show_eta=False)
            yield RichLog(id="results", markup=False, wrap=True)
            with Horizontal(classes="buttons"):
                yield Button("Import", variant="primary", id="import")
                yield Button("Close", id="close")

    def on_mount(self) -> None:
        if self.initial:
            self.start()

    @on(DirectoryTree.FileSelected)
    @on(DirectoryTree.DirectorySelected)
    def _picked(self, event: DirectoryTree.FileSelected | DirectoryTree.DirectorySelected) -> None:
        box = self.query_one("#paths", Input)
        box.value = f"{box.value} {shlex.quote(str(event.path))}".strip()

    @on(Button.Pressed, "#import")
    @on(Input.Submitted, "#paths")
    def start(self) -> None:
        if self.running:
            return
        try:
            typed = self.query_one("#paths", Input).value
            paths = [Path(p).expanduser() for p in shlex.split(typed)]
        except ValueError as exc:
            self.notify(f"cannot read the paths: {exc}", severity="error")
            return
        if not paths:
            self.notify("type or pick a file or folder first", severity="warning")
            return
        self.running = True
        self.query_one("#import", Button).disabled = True
        self._import(paths)

    @work(thread=True, exclusive=True, group="import")
    def _import(self, paths: list[Path]) -> None:
        log = self.query_one("#results", RichLog)
        bar = self.query_one("#progress", ProgressBar)

        def on_file(done: int, total: int, path: Path, result) -> None:
            if isinstance(result, int):
                line = f"imported {path.name}: {plural(result, 'memory', 'memories')}"
            elif isinstance(result, str):
                line = f"skipped {path.name}: {result}"
            else:
                line = f"error: {result.path}: {result.reason}"
            self.app.call_from_thread(bar.update, total=max(total, 1), progress=done)
            self.app.call_from_thread(log.write, line)

        try:
            report = self.agent.import_paths(paths, on_file=on_file)
        except Exception as exc:  # the screen must stay usable whatever the importer does
            self.app.call_from_thread(self.notify, f"import failed: {exc}", severity="error")
            report = None
        self.app.call_from_thread(self._finished, report)

    def _finished(self, report) -> None:
        self.running = False
        self.query_one("#import", Button).disabled = False
        if report is None:
            return
        added = sum(n for _, n in report.imported)
        summary = (f"done: {len(report.imported)} imported ({added} memories), "
                   f"{len(report.skipped)} skipped, {len(report.failed)} failed")
        self.query_one("#results", RichLog).write(summary)
        self.notify(summary, severity="error" if report.failed else "information")
        self.post_message(self.Finished(len(report.imported), len(report.failed)))

    @on(Button.Pressed, "#close")
    def action_close(self) -> None:
        if self.running:
            self.notify("the import is still running", severity="warning")
            return
        self.dismiss(None)
