"""The chat app: its lifecycle (open the data folder and load the models in a worker),
the command palette, and quitting. The chat itself is a screen of its own
(screens/chat.py); this module never imports torch or SQLAlchemy (the agent is imported
inside a worker, so the first screen appears before any of them load)."""

from __future__ import annotations

import asyncio
import signal
import sys
import threading
from collections.abc import Callable, Iterable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from textual import work
from textual.app import SystemCommand
from textual.binding import Binding
from textual.driver import Driver
from textual.screen import Screen
from textual.worker import get_current_worker

from assistant.config import Settings
from assistant.tui.screens.chat import ChatScreen
from assistant.tui.screens.text_prompt import TextPrompt
from assistant.tui.typeahead import KeepsTypeahead

if TYPE_CHECKING:
    from assistant.answer.protocol import Generator

AgentFactory = Callable[[], object]


class MemoryApp(KeepsTypeahead):  # keys typed before the first frame: typeahead.py
    CSS_PATH = "app.tcss"
    TITLE = "assistant"
    BINDINGS = [Binding("ctrl+q", "quit", "Quit", priority=True)]

    def __init__(self, settings: Settings, agent_factory: AgentFactory,
                 import_root: Path | None = None,
                 driver_class: type[Driver] | None = None) -> None:
        super().__init__(driver_class=driver_class)
        self.settings = settings
        self.agent_factory = agent_factory
        self.agent = None  # set once the data folder is open
        # Set when the models are loaded, or will not be (an error, or quitting): what
        # every worker that needs them waits on.
        self.loaded = threading.Event()
        self.load_error: str | None = None
        self.final_summary: threading.Thread | None = None  # started on quit
        self.chat = ChatScreen(import_root or Path.home())
        self.hung_up = False
        self.serve_cli: Callable | None = None  # see create_app
        self.cli_server = None  # local_server.CliServer, once the models are loaded

    @property
    def ready(self) -> bool:
        """The models are loaded and answers can be written."""
        return self.loaded.is_set() and self.load_error is None and self.agent is not None

    def wait_ready(self) -> bool:
        """In a worker: wait until the models are loaded (False: they will not be, or the
        worker was cancelled meanwhile)."""
        self.loaded.wait()
        return self.ready and not get_current_worker().is_cancelled

    def get_default_screen(self) -> Screen:
        return self.chat

    def on_mount(self) -> None:
        self.sub_title = "loading models\u2026"
        self._catch_termination()
        self._open()

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        chat = self.chat
        yield SystemCommand("New conversation", "Start a new chat (/new)",
                            chat.action_new_conversation)
        yield SystemCommand("Import documents", "Import files or folders (/import PATH)",
                            chat.action_import)
        yield SystemCommand("Memory browser", "Search, pin, forget, export memories",
                            chat.action_memories)
        yield SystemCommand("Search conversations", "Search all past conversations",
                            chat.action_search_conversations)
        yield SystemCommand("Rename conversation", "Rename the current conversation",
                            chat.action_rename)
        yield SystemCommand("Delete conversation", "Delete the current conversation",
                            chat.action_delete)
        yield SystemCommand("Export memories", "Write all memories to .json or .md",
                            self.action_export)
        yield SystemCommand("Stop answer", "Stop the answer being written (Esc)",
                            chat.action_stop)
        yield SystemCommand("Switch model", "Answer with another model (/model SPEC)",
                            self.action_switch_model)

    # Start-up ----------------------------------------------------------------------------

    @work(thread=True, exclusive=True, group="load")
    def _open(self) -> None:
        try:
            agent = self.agent_factory()
            conversations = agent.conversations()
        except Exception as exc:
            self._failed(f"cannot open the data folder: {exc}")
            return
        self.call_from_thread(self._opened, agent, conversations)
        try:
            agent.load(lambda what: self.call_from_thread(self.chat.status, what))
        except Exception as exc:
            self._failed(f"model loading failed: {exc}")
            return
        if self.serve_cli is not None:  # `assistant search` and `ask` answered from here
            from assistant.local_server import start

            self.cli_server = start(agent, self.serve_cli)
        self.call_from_thread(self._loaded)

    def _opened(self, agent, conversations) -> None:
        self.agent = agent
        self.chat.opened(conversations)

    def _loaded(self) -> None:
        self.show_model()
        self.chat.status("ready")
        self.loaded.set()

    def _failed(self, why: str) -> None:
        """In the loading worker: say why, and let waiting workers go."""
        self.load_error = why
        self.loaded.set()
        self.call_from_thread(self.chat.status, why, True)

    def show_model(self) -> None:
        self.sub_title = f"answers by {self.agent.generator_name}"

    # Models and memories, from the chat, the palette and the memory browser ------------

    def action_export(self) -> None:
        if self.agent is not None:
            self.push_screen(TextPrompt("Export all memories to (.json or .md):",
                                        str(Path.home() / "memories.md")),
                             lambda path: path and self.export(path))

    @work(thread=True, group="memory")
    def export(self, path: str) -> None:
        try:
            n = self.agent.export(Path(path))
        except (OSError, ValueError) as exc:
            self.call_from_thread(self.notify, str(exc), severity="error")
            return
        self.call_from_thread(self.notify, f"exported {n} memories to {path}")

    def action_switch_model(self) -> None:
        if self.agent is not None:
            self.push_screen(TextPrompt("Model: embedded, a model folder or .gguf file, or an "
                                        "OpenAI-compatible URL (http://localhost:11434/v1)",
                                        self.settings.model),
                             lambda spec: spec and self.switch_model(spec))

    @work(thread=True, exclusive=True, group="model")
    def switch_model(self, spec: str) -> None:
        if not self.wait_ready():
            return
        self.call_from_thread(self.chat.status, f"loading {spec}\u2026")
        try:
            name = self.agent.switch_model(spec)
        except Exception as exc:  # the current model keeps answering
            self.call_from_thread(self.chat.status, "ready")
            self.call_from_thread(self.notify, f"cannot use {spec}: {exc}", severity="error")
            return
        self.call_from_thread(self.show_model)
        self.call_from_thread(self.chat.status, "ready")
        self.call_from_thread(self.notify, f"answers now come from {name}")

    # Quitting ----------------------------------------------------------------------------

    async def action_quit(self) -> None:
        self.chat.action_stop(everything=True)
        if self.ready and self.chat.conversation_id is not None:
            if any(w.is_running for w in self.workers):
                self.chat.status("finishing what is being saved\u2026")
            # Answers and imports finish persisting; a stopped answer's worker ends
            # cancelled, which is no reason to quit without the summary.
            await asyncio.gather(*(w.wait() for w in self.workers), return_exceptions=True)
            # The summary takes seconds: written after the window closes (on_unmount
            # waits for it), not with a frozen window.
            self.final_summary = threading.Thread(
                target=self.agent.summarize, args=(self.chat.conversation_id,),
                name="final summary")
            self.final_summary.start()
        self._release_waiters()
        self.exit()

    # SIGTERM (kill, a session manager logging out) ends the app at once, without the
    # summary: Textual gives the terminal its screen back (alternate screen and mouse
    # reporting off) and the store is closed, instead of the process dying mid-frame.
    # SIGHUP (the terminal closed; ChatDriver sends it too when stdin hangs up) quits as
    # Ctrl+Q does: nobody waits for the window, so what is being saved is, summary included.
    TERMINATING = (signal.SIGTERM, signal.SIGHUP)

    def _catch_termination(self) -> None:
        if not self.is_headless:  # under run_test the signals are the test runner's
            loop = asyncio.get_running_loop()
            loop.add_signal_handler(signal.SIGTERM, self._terminated, signal.SIGTERM)
            loop.add_signal_handler(signal.SIGHUP, self._hung_up)

    def _hung_up(self) -> None:
        if not self.hung_up:  # the kernel's SIGHUP and ChatDriver's may both come
            self.hung_up = True
            self.call_later(self.action_quit)

    def _terminated(self, sig: signal.Signals) -> None:
        self.chat.action_stop(everything=True)  # answers stop at their next piece
        self._release_waiters()
        self.exit(return_code=128 + sig)  # the shell's convention for "ended by a signal"

    def _release_waiters(self) -> None:
        """Workers waiting for models that will not come now stop waiting."""
        if not self.loaded.is_set():
            self.load_error = "closing"
            self.loaded.set()

    def on_unmount(self) -> None:
        if not self.is_headless:
            loop = asyncio.get_running_loop()
            for sig in self.TERMINATING:
                loop.remove_signal_handler(sig)
        self._release_waiters()
        if self.cli_server is not None:
            self.cli_server.close()
        if self.final_summary is not None:
            if not self.is_headless:  # the window is gone: say why the shell waits
                try:
                    print("saving a summary of this conversation\u2026", file=sys.stderr)
                except OSError:  # and so is the terminal (SIGHUP)
                    pass
            self.final_summary.join()
        if self.agent is not None:
            self.agent.close()


def create_app(settings: Settings, use_ltmt: bool = True, encoder=None,
               generator: Generator | None = None,
               import_root: Path | None = None,
               clock: Callable[[], datetime] | None = None,
               driver_class: type[Driver] | None = None,
               serve_cli: Callable | None = None) -> MemoryApp:
    """The one app factory, used by `assistant chat` (with its terminal driver) and by the
    tests (which pass a fixed `clock`, so what the screen shows does not depend on the day
    they run). `serve_cli(agent, argv, out, err)`: how `assistant search` and `ask` from
    other processes are answered once the models are loaded (local_server.py)."""

    def open_agent():
        from assistant.agent import Agent  # here, not at import: torch stays off the UI path

        return Agent(settings, encoder=encoder, generator=generator, use_ltmt=use_ltmt,
                     clock=clock)

    app = MemoryApp(settings, open_agent, import_root=import_root, driver_class=driver_class)
    app.serve_cli = serve_cli
    return app
