"""One turn of the assistant: encode, recall, answer, persist. No UI code here.

`ask`, the chat, MCP and `bench locomo` all go through `Agent`, so a memory request, a
contradiction or a time expression is handled the same way wherever it is typed.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from assistant.answer import pipeline
from assistant.answer.draft import Reply
from assistant.answer.person import needed, personal
from assistant.answer.protocol import Generator as Model
from assistant.answer.streamed import Answer, Conflict
from assistant.answer.summary import extractive, summarize_messages
from assistant.commands import is_question
from assistant.config import Settings
from assistant.forgetting import take_out, ticked
from assistant.memory import text as memory_text
from assistant.memory.annotator import Annotator, Replaced
from assistant.memory.encoder import Encoder
from assistant.memory.proposals import Proposals
from assistant.memory.timeparse import time_window
from memory_store.open import open_store
from memory_store.records import ConversationRecord, Hit, MessageRecord, NewMemory

if TYPE_CHECKING:
    from assistant.memory.recall import Recall, Recaller  # loaded on first use

log = logging.getLogger(__name__)
HISTORY_TURNS = 4  # recent messages of this conversation shown to the generator
MATCH_SIMILARITY = 0.35  # MiniLM cosine below which a memory is not about the query


def local_now() -> datetime:
    """Naive local time: what "yesterday" means to the user."""
    return datetime.now()


def to_utc(local: datetime) -> datetime:
    """Stored times are naive UTC; `local` is naive local time."""
    return local.astimezone(UTC).replace(tzinfo=None)


class Agent:
    """Owns the store, the encoder and the generator for one data folder."""

    def __init__(self, settings: Settings, encoder: Encoder | None = None,
                 generator: Model | None = None, use_ltmt: bool = True,
                 clock: Callable[[], datetime] | None = None,
                 ltmt_weights: Path | None = None) -> None:
        self.settings = settings
        self.ltmt_weights = ltmt_weights  # None: the shipped ones
        self.clock = clock or local_now  # naive local time; tests pass a fixed one
        self.encoder = encoder or Encoder()
        self._generator = generator
        self.use_ltmt = use_ltmt
        self._recaller: Recaller | None = None
        self._people: Annotator | None = None
        self._tools_refused = False  # the model's server refused tools: ask it plainly
        self._lock = threading.RLock()  # one model call at a time (UI workers, idle timer)
        self.store = open_store(settings.home, settings.store_url,
                                embedding_model=self.encoder.name, dim=self.encoder.dim)
        # Memories written before the one memory-text schema get its meta, once per store.
        if changed := self.store.backfill(memory_text.SCHEMA, memory_text.backfill):
            log.info("wrote the memory-text schema's meta of %d memories", changed)

    @property
    def people(self) -> Annotator:
        """Who is who in the user's life and what is true of them, from their memories;
        memories not read yet (an import, an older store) are read on first use."""
        with self._lock:
            if self._people is None:
                self._people = Annotator(self.store)
                self._people.pending()
            return self._people

    # Models ------------------------------------------------------------------------------

    @property
    def recaller(self) -> Recaller:
        """LTM-T retrieval (or plain hybrid with use_ltmt=False), loaded on first use;
        missing or unreadable weights are an error, never a silent fallback."""
        with self._lock:
            if self._recaller is None:
                from assistant.memory import ltmt_numpy
                from assistant.memory.recall import Recaller

                model = ltmt_numpy.load_weights(self.ltmt_weights, self.settings.cache_dir) \
                    if self.use_ltmt else None
                self._recaller = Recaller(self.store, model)
            return self._recaller

    @property
    def query_encoder(self) -> Encoder:
        """What recall's questions are encoded with: the encoder plus the query adapter
        trained with the LTM-T weights (memories always go through the plain encoder)."""
        from assistant.memory.encoder import query_encoder

        return query_encoder(self.recaller.model, self.encoder)

    @property
    def generator(self) -> Model:
        with self._lock:
            if self._generator is None:
                self._generator = self._make_generator(self.settings.model)
            return self._generator

    def _make_generator(self, spec: str) -> Model:
        from assistant.answer.backends.factory import generator_for

        return generator_for(self.settings, spec)

    @property
    def generator_name(self) -> str:
        return self._generator.name if self._generator is not None else self.settings.model

    def switch_model(self, spec: str) -> str:
        """Answer with another model from now on (loaded here); returns its name. On
        failure the current model stays and the error says why."""
        gen = self._make_generator(spec)
        gen.load()
        with self._lock:
            self._generator, self._tools_refused = gen, False
            self.settings.model = spec
        return gen.name

    def load(self, report: Callable[[str], None] = lambda _: None) -> None:
        """Load every model now, one after another (their lazy imports race in threads);
        anything else that needs the agent's lock waits until they are loaded."""
        with self._lock:
            report("loading the encoder")
            self.encoder.load()
            report("loading LTM-T")
            self.query_encoder.load()
            report("loading the language model")
            self.generator.load()
        report("ready")

    def close(self) -> None:
        self.store.close()

    def __enter__(self) -> Agent:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # Conversations -----------------------------------------------------------------------

    def conversations(self) -> list[ConversationRecord]:
        return self.store.conversations()

    def new_conversation(self, title: str = "") -> int:
        return self.store.create_conversation(title=title or "New conversation")

    def rename_conversation(self, conversation_id: int, title: str) -> None:
        self.store.rename_conversation(conversation_id, title.strip() or "Untitled")

    def delete_conversation(self, conversation_id: int) -> None:
        """Delete a conversation and everything remembered from it."""
        self.store.delete_conversation(conversation_id)
        self._forgot()

    def transcript(self, conversation_id: int) -> list[MessageRecord]:
        return self.store.messages(conversation_id)

    def search_conversations(self, query: str, k: int = 20) -> list[tuple[int, Hit]]:
        """Past conversations mentioning `query`: (conversation id, best matching memory)."""
        hits = self.store.search(self.encoder.encode_one(query), query, 4 * k,
                                 kinds=("turn", "summary"))
        best: dict[int, Hit] = {}
        for h in hits:
            # Every memory is somebody's nearest neighbour: keep only real matches.
            relevant = h.lexical_rank is not None or (h.dense_score or 0.0) >= MATCH_SIMILARITY
            if relevant and h.conversation_id is not None and h.conversation_id not in best:
                best[h.conversation_id] = h
        return list(best.items())[:k]

    # Memory ------------------------------------------------------------------------------

    def recall(self, query: str, k: int | None = None, **filters) -> list[Hit]:
        """The k memories most relevant to `query`, ranked by LTM-T from a fresh state;
        `filters` (kinds, since, until) hold inside the search."""
        return self.recall_for(query, self.query_encoder.encode_one(query), None,
                               self.clock(), k=k, **filters).hits

    def recall_for(self, question: str, vector, state, now: datetime,
                   exclude: Sequence[int] = (), k: int | None = None, **filters) -> Recall:
        """The recall step of the one answer path (`ask`, the chat, `bench locomo`): LTM-T
        from `state` (None: a fresh one) with the question's own time window, and each
        superseded memory followed by the newer one that replaced it."""
        r = self.recaller
        with self._lock:
            state = r.initial_state() if state is None else state
            recalled = r.recall(question, vector, state, k or self.settings.k, now,
                                exclude=exclude, window=time_window(question, now), **filters)
        recalled.hits = self._first_needed(question, self._prefer_newer(recalled.hits))
        return recalled

    def context(self, history: Sequence[tuple[str, str]] = (),
                today: datetime | None = None, proposed: list[Hit] | None = None
                ) -> pipeline.Context:
        """What the answer pipeline writes with: this agent's models and settings; what
        the model asks to remember is a proposal, added to `proposed`."""
        s = self.settings
        return pipeline.Context(
            generator=self.generator, today=today or self.clock(), history=history,
            encode=self.encoder.encode, prompt_memories=s.prompt_memories,
            max_new_tokens=s.max_new_tokens, chat_max_new_tokens=s.chat_max_new_tokens,
            tool_steps=0 if self._tools_refused else s.tool_steps,
            recall=lambda q, k: self.recall(q, k),
            remember=lambda fact: self.proposals.propose(  # never kept unasked
                fact, when=(now := self.clock()), at=to_utc(now), into=proposed,
                source=f"model:{self.generator_name}"),
            on_tools_refused=self._refused_tools, people=self.people)

    def _refused_tools(self) -> None:
        self._tools_refused = True

    def search(self, query: str, k: int = 50) -> list[Hit]:
        """Plain hybrid search over every memory (the memory browser and /search)."""
        if not query.strip():
            return self.store.list_memories(limit=k)
        return self.store.search(self.encoder.encode_one(query), query, k)

    def remember(self, conversation_id: int | None, fact: str, said: str | None = None,
                 now: datetime | None = None, source: str = "",
                 speaker: str = memory_text.USER) -> tuple[Hit, list[Conflict]]:
        """Store `fact` as a pinned memory (and `said` as the user's message, if in a chat).
        `source` says where a fact from outside a chat came from ("mcp:claude-code");
        `speaker` is who said it, "" when nobody did in so many words."""
        now = now or self.clock()
        written = memory_text.fact(fact, when=now, speaker=speaker)
        memory = NewMemory(kind="fact", text=written.text, created_at=to_utc(now),
                           embedding=self.encoder.encode_one(written.text), source=source,
                           pinned=True, meta=written.meta)
        if conversation_id is None:
            (mid,) = self.store.add_memories([memory])
        else:
            _, (mid,) = self.store.add_message(conversation_id, "user", said or fact,
                                               to_utc(now), memory=memory)
        found = self._read([mid])
        hit = self.store.get(mid)
        if conversation_id is not None:
            self.store.add_message(conversation_id, "assistant",
                                   f"I will remember that: {fact}", to_utc(self.clock()))
        return hit, found

    @property
    def proposals(self) -> Proposals:
        """What models asked to remember, for the user to accept or reject."""
        return Proposals(self.store, self.encoder, self._read, self.forget)

    def forget_candidates(self, query: str, k: int = 5) -> list[Hit]:
        """Memories a "forget QUERY" request would delete, for the user to confirm."""
        return self.search(query, k)

    forget_ticked = staticmethod(ticked)  # of the candidates, those ticked at first

    def forget(self, memory_ids: list[int]) -> int:
        """Delete memories and every copy of what they said: the words in transcripts
        (the message, an echo or a quote of it), the conversation's summary (written again
        without them), what was read from them about people and facts, and the indexes'
        leftovers; an answer anywhere that told it back, and the log's lines that quote it."""
        hits = [h for i in memory_ids if (h := self.store.get(i)) is not None]
        redo: set[int] = set()
        for h in hits:
            if h.kind != "summary":
                redo |= self._take_out(h)
            self.store.forget(h.id)
        for cid in redo:
            self.summarize(cid, model=False, only_if_summarized=True)
        if hits:
            self.store.scrub()
            self._forgot()
        return len(hits)

    def _take_out(self, forgotten: Hit) -> set[int]:
        """Its words wherever else they are kept (forgetting.py); the conversations changed."""
        return take_out(self.store, forgotten, self.settings.log_path)

    def set_pinned(self, memory_id: int, pinned: bool) -> None:
        self.store.set_pinned(memory_id, pinned)

    def memory(self, memory_id: int) -> Hit | None:
        return self.store.get(memory_id)

    def import_paths(self, paths: list[Path], on_file=None):
        """Import files and folders as knowledge; `on_file` reports each file (see pipeline)."""
        from assistant.ingest.pipeline import import_paths

        with self._lock:  # waits for a model load in progress (its imports race)
            self.encoder.load()
        report = import_paths(self.store, self.encoder, paths, progress=False, on_file=on_file)
        with self._lock:
            if self._people is not None and report.imported:
                self._people.reload()  # a file imported again replaced its old memories
            self.people.pending()  # an imported chat's statements, read for people
        return report

    def export(self, path: Path) -> int:
        """Write every memory to `path` (.json or .md); returns how many."""
        from assistant.export import export_memories

        return export_memories(self.store, Path(path))

    # Turns -------------------------------------------------------------------------------

    def ask(self, question: str, k: int | None = None, state=None) -> Answer:
        """Answer `question` from memory without remembering it (`ask`, MCP, and
        `bench locomo` with the replayed conversation's LTM-T `state`)."""
        recalled = self.recall_for(question, self.query_encoder.encode_one(question), state,
                                   self.clock(), k=k)
        ctx = self.context(proposed=(proposed := []))
        return Answer(recalled.hits, pipeline.answer(question, recalled.hits, ctx),
                      proposals=proposed)

    def chat_turn(self, conversation_id: int, text: str, now: datetime | None = None
                  ) -> Answer:
        """Remember the user's message (before generating: a crash loses nothing), answer
        it from memory, and store the answer and LTM-T state when the stream ends."""
        now = now or self.clock()
        history = [(m.role, m.text)
                   for m in self.store.messages(conversation_id, last=HISTORY_TURNS)]
        # A message too long for the encoder's window is remembered in parts.
        parts = memory_text.message(text, when=now)
        with self._lock:
            # The dated memory texts are stored; the message's own words search (in one
            # encoder pass, unless LTM-T's weights came with a query adapter).
            if (query_encoder := self.query_encoder) is self.encoder:
                *vectors, query_vector = self.encoder.encode([*(p.text for p in parts), text])
            else:
                vectors = self.encoder.encode([p.text for p in parts])
                query_vector = query_encoder.encode_one(text)
            _, memory_ids = self.store.add_message(
                conversation_id, "user", text, to_utc(now),
                memory=[NewMemory(kind="turn", text=p.text, embedding=v, created_at=to_utc(now),
                                  meta=p.meta) for p, v in zip(parts, vectors, strict=True)])
            found = self._read(memory_ids)
            recaller = self.recaller
            state = recaller.load_state(conversation_id)
        # The question is searched by its own words (not the dated memory text).
        recalled = self.recall_for(text, query_vector, state, now, exclude=memory_ids)

        def done(reply: Reply) -> None:
            # The model's own answers are kept as messages, not memories: a 135M model's
            # guesses must not come back later as facts. The transcript says what happened.
            said = {"stopped": f"{reply.text} [stopped]",
                    "failed": f"{reply.text} [failed: {reply.error}]"}.get(reply.verdict,
                                                                          reply.text)
            if said.strip():
                from memory_store.message_sources import cited  # labels, never memory text
                self.store.add_message(conversation_id, "assistant", said.strip(),
                                       to_utc(self.clock()), sources=cited(reply))
            recaller.save_state(conversation_id, recalled.state)

        ctx = self.context(history, today=now, proposed=(proposed := []))
        respond = pipeline.answer if is_question(text) else pipeline.acknowledge
        return Answer(recalled.hits, respond(text, recalled.hits, ctx), conflicts=found,
                      proposals=proposed, on_done=done)

    def summarize(self, conversation_id: int, model: bool = True,
                  only_if_summarized: bool = False) -> Hit | None:
        """Write (or refresh) the summary memory of a conversation that has new messages;
        `model=False` takes the user's own sentences (after a forget: nothing else can
        come back), as it does unless a chat model answers."""
        messages = self.store.messages(conversation_id)
        old = self.store.conversation_memories(conversation_id, kind="summary")
        if only_if_summarized and not old:
            return None
        if not any(m.role == "user" and not is_question(m.text) and m.text != memory_text.FORGOTTEN
                   for m in messages):
            for h in old:  # nothing said is left to summarise
                self.store.forget(h.id)
            return None  # only questions were asked: nothing new to remember
        if old and (old[-1].meta or {}).get("messages") == len(messages) \
                and not only_if_summarized:
            return old[-1]  # nothing new since the last summary
        # The 135M model mixes people up ("the user moved to Porto" for the sister): only
        # a chat model writes the summary; else it is the user's own sentences.
        writer = self._generator if model and self._generator is not None \
            and self._generator.chat else None
        summary, method = (summarize_messages(messages, writer) if writer is not None
                           else (extractive(messages), "extractive"))
        when = messages[-1].created_at
        title = next((c.title for c in self.conversations() if c.id == conversation_id), "")
        written = memory_text.summary(summary, title=title, when=when,
                                      messages=len(messages), method=method)
        memory = NewMemory(kind="summary", text=written.text, meta=written.meta,
                           embedding=self.encoder.encode_one(written.text), created_at=when,
                           source=f"conversation:{conversation_id}#summary")
        (mid,) = self.store.add_memories([memory], conversation_id=conversation_id)
        for h in old:
            self.store.forget(h.id)
        return self.store.get(mid)

    # Internals ---------------------------------------------------------------------------

    def _read(self, memory_ids: Sequence[int]) -> list[Conflict]:
        """Read new memories for people and facts; the statements they replaced."""
        with self._lock:
            people = self.people  # first: reads what was not read yet
            hits = [h for i in memory_ids if (h := self.store.get(i)) is not None]
            return [c for r in people.annotate(hits) if (c := self._conflict(r))]

    def _conflict(self, r: Replaced) -> Conflict | None:
        old, new = self.store.get(r.old.memory_id), self.store.get(r.new.memory_id)
        return Conflict(r.title, old, new) if old is not None and new is not None else None

    def _forgot(self) -> None:
        """What was derived from forgotten memories goes with them."""
        with self._lock:
            if self._people is not None:
                self._people.reload()

    def _first_needed(self, question: str, hits: list[Hit]) -> list[Hit]:
        """What the user said about the person asked after comes first: the statements an
        answer about them rests on, then everything but documents (a question about "my"
        life or someone in it is not answered from a README)."""
        people = self.people
        wanted = [i for i in needed(question, people) if i is not None]
        if personal(question, people):
            hits = sorted(hits, key=lambda h: h.kind == "chunk")  # stable
        if named := {p.name for p in people.life.mentioned_in(question) if p.name}:
            # What the user said about the people the question names, before the rest.
            hits = sorted(hits, key=lambda h: not any(
                a.get("name") in named for a in memory_text.about(h) or []))
        have = {h.id: h for h in hits}
        first = [have.pop(i, None) or self.store.get(i) for i in wanted]
        return [h for h in first if h is not None] + [h for h in hits if h.id in have]

    def _prefer_newer(self, hits: list[Hit]) -> list[Hit]:
        """Each superseded memory is followed by the one that replaced it (fetched if it was
        not recalled), and the newer is what the prompt gets."""
        out, seen = [], {h.id for h in hits}
        for h in hits:
            out.append(h)
            if h.superseded_by is not None and h.superseded_by not in seen:
                newer = self.store.get(h.superseded_by)
                if newer is not None:
                    seen.add(newer.id)
                    out.append(newer)
        return out
