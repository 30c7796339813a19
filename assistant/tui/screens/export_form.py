"""Ctrl+S and /export-chat in the chat: the open conversation written as Markdown, the
same file `assistant conversations export` writes (which `/import` reads back), mode 0600.
Ctrl+S (and /export-chat without a path) asks where first, offering a file in
~/assistant-exports named after the conversation and the day."""

from __future__ import annotations

from pathlib import Path

from textual import work

from assistant.conversations import default_path, export_conversation
from assistant.tui.screens.text_prompt import TextPrompt


class ChatExport:
    """Mixed into the chat screen (its `agent`, `app`, `conversation_id`, `titles`)."""

    def action_export_chat(self) -> None:
        self._export_chat("")

    def _export_chat(self, path: str) -> None:
        """/export-chat PATH writes at once; without a path the form asks where."""
        if self.agent is None or self.conversation_id is None:
            self.notify("nothing to export yet: this conversation has no messages",
                        severity="warning")
            return
        cid = self.conversation_id
        if path:
            self._write_export(cid, path)
            return
        offered = default_path(self.titles.get(cid, ""), self.agent.clock().date())
        self.app.push_screen(TextPrompt("Export this conversation as Markdown to:",
                                        str(offered)),
                             lambda chosen: chosen and self._write_export(cid, chosen))

    @work(thread=True, group="memory")
    def _write_export(self, cid: int, path: str) -> None:
        try:
            written = export_conversation(self.agent, cid, Path(path))
        except OSError as exc:  # a folder that cannot be made or written, a full disk
            # The path asked for (the error's own may be a temp file beside it).
            why = f"{exc.filename} is a file, not a folder" if isinstance(
                exc, FileExistsError) else exc.strerror or str(exc)
            self.app.call_from_thread(self.notify, f"cannot export to {Path(path).expanduser()}"
                                      f": {why}", severity="error", timeout=10)
            return
        except ValueError as exc:
            self.app.call_from_thread(self.notify, str(exc), severity="error", timeout=10)
            return
        self.app.call_from_thread(self.notify, f"exported this conversation to {written}")
