"""/accept and /reject in the chat, and the dialog after an answer: what a model proposed
to remember is kept or dropped only as the user says."""

from __future__ import annotations

from textual import work

from assistant.tui.screens.proposals import ReviewProposals


class ProposalReview:
    """Mixed into the chat screen (its `agent`, `app`, `notify`, `_show_conflict`)."""

    def _review(self, ids: str, keep: bool) -> None:
        """/accept, /reject: the proposals named (#12 #13), or a dialog of all pending."""
        pending = self.agent.proposals.pending()  # one small query
        named = {int(i) for i in ids.replace("#", " ").split() if i.isdigit()}
        hits = [h for h in pending if h.id in named] if named else pending
        if not hits or len(hits) < len(named):
            self.notify("no such proposed memory awaiting an answer", severity="warning")
        elif named:
            self._decide(hits, [h.id for h in hits] if keep else [])
        else:
            self.app.push_screen(ReviewProposals(hits), lambda chosen: self._decide(hits, chosen))

    @work(thread=True, group="memory")
    def _decide(self, hits, keep: list[int] | None) -> None:
        if keep is not None:  # None: decided later; they stay unpinned proposals
            for c in self.agent.proposals.decide([h.id for h in hits], keep):
                self.app.call_from_thread(self._show_conflict, c)
            self.app.call_from_thread(self.notify, f"kept {len(keep)} of {len(hits)} proposed")
