"""The agent without any UI: real store, encoder, LTM-T weights and SmolLM2."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import datetime, timedelta

import pytest

from assistant.agent import Agent
from assistant.answer.summary import extractive, grounded
from assistant.commands import Command, CommandError, is_question, parse
from assistant.memory import text as memory_text
from assistant.memory.facts import Asked, Statement, asked, conflicts, statements
from assistant.memory.recall import STATE_NAME
from assistant.memory.timeparse import time_window
from memory_store.records import MessageRecord, NewMemory
from memory_store.sqlite_store import SqliteStore

NOW = datetime(2026, 6, 15, 12, 0)  # the agent's clock: no test depends on the real day


@pytest.fixture
def agent(settings, encoder, generator):
    a = Agent(settings, encoder=encoder, generator=generator, clock=lambda: NOW)
    yield a
    a.close()


# Parsing: cheap, no models ----------------------------------------------------------------

@pytest.mark.parametrize("line, expected", [
    ("remember that my locker code is 4512", Command("remember", "my locker code is 4512")),
    ("Please remember my dentist is Dr Alves.", Command("remember", "my dentist is Dr Alves")),
    ("/remember the wifi password is tulip", Command("remember", "the wifi password is tulip")),
    ("forget my locker code", Command("forget", "my locker code")),
    ("Forget what I said about Rome", Command("forget", "Rome")),
    ("/forget locker", Command("forget", "locker")),
    ("/new", Command("new", "")),
    ("/search Porto", Command("search", "Porto")),
    ("Remember when we went to Rome?", Command("chat", "Remember when we went to Rome?")),
    ("Do you remember my cat?", Command("chat", "Do you remember my cat?")),
    ("I always forget my keys", Command("chat", "I always forget my keys")),
])
def test_parse_commands(line, expected):
    assert parse(line) == expected


@pytest.mark.parametrize("line, message", [
    ("/frobnicate", r"unknown command /frobnicate; try one of /new, /import, /remember"),
    ("/remember", r"/remember needs an argument: store a pinned fact: /remember TEXT"),
    ("/import   ", r"/import needs an argument: import files or folders as knowledge"),
])
def test_bad_commands_say_what_to_do(line, message):
    with pytest.raises(CommandError, match=message):
        parse(line)


@pytest.mark.parametrize("text, subject, value, who", [
    ("I live in Lisbon.", "residence", "Lisbon", "I"),
    ("I moved to Berlin last month.", "residence", "Berlin", "I"),
    ("Guess what, I've just moved to Berlin, Germany!", "residence", "Berlin", "I"),
    ("I work at Acme Corp and I love it", "employer", "Acme Corp", "I"),
    ("My favourite colour is green.", "favourite colour", "green", "I"),
    ("I'm 34 years old", "age", "34", "I"),
    ("Actually my sister moved to Porto last month.", "residence", "Porto", "my sister"),
    ("Marta, my cello teacher, lives in Braga.", "residence", "Braga", "Marta"),
    ("My brother Tom works as a plumber in Leeds.", "job", "plumber", "Tom"),
    ("She is based in Oslo these days.", "residence", "Oslo", "She"),
    ("My sister's phone number is 555 0134.", "phone number", "555 0134", "My sister"),
    ("These days I'm employed by Granite Software.", "employer", "Granite Software", "I"),
    ("Omar told me a funny story from his work as a personal trainer.", "job",
     "personal trainer", "he"),
    ("Mikkel started a new job as a police officer this month.", "job", "police officer",
     "Mikkel"),
    ("I stayed at Omar's place in Vienna last weekend.", "residence", "Vienna", "Omar"),
    ("Hi! I'm Erik, by the way.", "name", "Erik", "I"),
    ("Nothing beats paella, it's my favourite food.", "favourite food", "paella", "I"),
    ("My birthday is on 26 March.", "birthday", "26 March", "I"),
    ("I've taken up the piano, my first lesson was on Saturday.", "instrument", "piano", "I"),
    ("I grew up in Budapest.", "origin", "Budapest", "I"),
])
def test_statements_of_a_fact(text, subject, value, who):
    assert statements(text) == [Statement(subject, value, who)]


@pytest.mark.parametrize("text, said", [
    ("My brother Jonas lives in Ghent and works as a nurse.",
     [("residence", "Ghent", "Jonas"), ("job", "nurse", "Jonas")]),
    ("I live in Leeds and work as a plumber.",
     [("residence", "Leeds", "I"), ("job", "plumber", "I")]),
    ("Mara moved to Lisbon, now works for Siemens and drives a Volvo.",
     [("residence", "Lisbon", "Mara"), ("employer", "Siemens", "Mara"), ("car", "Volvo", "Mara")]),
    ("Jonas, my brother, lives in Ghent and is a nurse.",
     [("residence", "Ghent", "Jonas"), ("job", "nurse", "Jonas")]),
    # What the whole sentence says stands; the clause adds only what it did not say.
    ("Lucia is a nurse at a hospital and works for Siemens.",
     [("job", "nurse", "Lucia"), ("employer", "a hospital", "Lucia")]),
    # No fact in the first clause: nobody to give the second one to.
    ("I met Jonas, living in Ghent.", []),
    ("My friend Tom and his wife live in Bath.", []),
])
def test_a_second_predicate_belongs_to_the_same_person(text, said):
    assert statements(text) == [Statement(*s) for s in said]


def test_a_job_at_a_place_is_two_facts():
    assert statements("Lucia is a nurse at a children's hospital.") == [
        Statement("job", "nurse", "Lucia"), Statement("employer", "a children's hospital", "Lucia")]


def test_unrelated_sentences_state_nothing():
    assert statements("My sister Ana was born on the 3rd of May 1990 in Porto.") == []
    assert statements("I visited Lisbon in 2019 and loved it.") == []
    assert statements("I'm a big fan of jazz. I'm a vegetarian.") == []
    assert statements("What does my sister do? Where does she live?") == []
    assert conflicts(Statement("residence", "berlin"), "lisbon")
    assert not conflicts(Statement("residence", "berlin"), "berlin, germany")


@pytest.mark.parametrize("question, who, subject, before", [
    ("Where does my sister live now?", "my sister", "residence", False),
    ("Where do I live?", "I", "residence", False),
    ("What does Lucia do for a living?", "Lucia", "job", False),
    ("Where did I live before Berlin?", "I", "residence", True),
    ("Where does my brother work?", "my brother", "employer", False),
    ("How old am I?", "I", "age", False),
    ("What's my mum's phone number?", "my mum", "phone number", False),
    ("What is my favourite colour?", "I", "favourite colour", False),
])
def test_questions_for_a_fact(question, who, subject, before):
    assert asked(question) == Asked(who, subject, before)
    assert asked("What did we cook for dinner on Friday?") is None


def test_questions_and_statements():
    assert is_question("When was my sister Ana born?")
    assert is_question("tell me what I said about Rome")
    assert not is_question("My sister Ana was born on the 3rd of May 1990 in Porto.")


# Turns ------------------------------------------------------------------------------------

def test_user_message_is_stored_before_generation(agent):
    cid = agent.new_conversation("t")
    answer = agent.chat_turn(cid, "Where does my brother live?")
    # Nothing has been generated yet: the message and its memory must already be there.
    assert [(m.role, m.text) for m in agent.transcript(cid)] == [
        ("user", "Where does my brother live?")]
    assert agent.store.stats()["by_kind"] == {"turn": 1}
    assert agent.store.get_state(cid, STATE_NAME) is None
    text = "".join(answer)
    assert text.strip() == answer.text and not answer.cancelled
    roles = [m.role for m in agent.transcript(cid)]
    assert roles == ["user", "assistant"]
    assert agent.store.get_state(cid, STATE_NAME) is not None  # LTM-T state after the answer


def test_stopped_answer_keeps_what_was_written(agent):
    cid = agent.new_conversation("t")
    "".join(agent.chat_turn(cid, "I cooked a mushroom risotto for my parents."))
    answer = agent.chat_turn(cid, "What did I cook for my parents?")
    first = next(iter(answer))
    assert first == ""  # the answer is being written: nothing unchecked is shown
    answer.close()
    assert answer.cancelled
    transcript = agent.transcript(cid)
    assert transcript[-1].role == "assistant"
    assert transcript[-1].text == "[stopped]"
    assert agent.store.get_state(cid, STATE_NAME) is not None
    answer.close()  # idempotent
    assert len(agent.transcript(cid)) == 4


def test_statement_is_acknowledged_and_remembered_with_its_date(agent):
    cid = agent.new_conversation("t")
    now = datetime(2026, 5, 14, 9, 30)
    answer = agent.chat_turn(cid, "Yesterday I met Rui at the climbing gym.", now=now)
    assert "".join(answer) == "Noted. I will remember that."
    (memory,) = agent.store.list_memories()
    assert memory.text == ("[14 May 2026] User: Yesterday [13 May 2026] I met Rui at the "
                           "climbing gym.")


def test_something_said_in_one_conversation_is_recalled_in_another(agent):
    first = agent.new_conversation("first")
    said = NOW - timedelta(days=3)
    "".join(agent.chat_turn(first, "My sister Ana was born on the 3rd of May 1990 in Porto.",
                            now=said))
    "".join(agent.chat_turn(first, "I prefer tea to coffee.", now=said))
    later = agent.new_conversation("later")
    answer = agent.chat_turn(later, "When was my sister Ana born?")
    "".join(answer)
    assert "Ana was born" in answer.sources[0].text
    assert answer.sources[0].source == f"conversation:{first}#turn=1"
    assert answer.sources[0].weight is not None  # ranked by LTM-T


def test_questions_asked_are_never_recalled(agent):
    first = agent.new_conversation("first")
    "".join(agent.chat_turn(first, "Where was my sister Ana born?"))
    "".join(agent.chat_turn(first, "My sister Ana was born in Porto."))
    assert agent.summarize(first) is not None
    asked_only = agent.new_conversation("asked only")
    "".join(agent.chat_turn(asked_only, "Where was Ana born?"))
    assert agent.summarize(asked_only) is None  # nothing was said, only asked
    hits = agent.recall("Where was Ana born?", k=6)
    # What was asked stays in the transcripts; only what was said is recalled.
    assert hits and not any(memory_text.asks(h) for h in hits)
    assert "born in Porto" in hits[0].text
    assert [m.text for m in agent.transcript(asked_only)][0] == "Where was Ana born?"


def test_time_words_in_a_question_bring_that_time_first(agent):
    cid = agent.new_conversation("t")
    today = datetime(2026, 6, 20, 12, 0)
    for days, text in [(40, "I went to a concert in Lisbon."), (30, "I went to a concert."),
                       (6, "I cooked a mushroom risotto."), (1, "I went to the cinema.")]:
        agent.remember(cid, text, now=today - timedelta(days=days))
    r = agent.recaller
    question = "Where did I go last week?"
    x = agent.encoder.encode_one(question)
    plain = r.recall(question, x, r.initial_state(), 3, today).hits
    assert "risotto" not in plain[0].text  # without the window another memory leads
    window = time_window(question, today)  # Monday 8 to Sunday 14 June
    hits = r.recall(question, x, r.initial_state(), 3, today, window=window).hits
    assert "risotto" in hits[0].text


def test_when_questions_are_answered_from_the_memories_dates(agent):
    cid = agent.new_conversation("t")
    said = datetime(2023, 7, 15, 18, 0)  # a Saturday
    "".join(agent.chat_turn(cid, "Yesterday I took the kids to the science museum.", now=said))
    "".join(agent.chat_turn(cid, "Last Friday I went to a pottery workshop.",
                            now=said + timedelta(days=7)))
    "".join(agent.chat_turn(cid, "I went hiking last week, it was beautiful.",
                            now=said + timedelta(days=14)))
    assert "".join(agent.chat_turn(cid, "When did I go to the science museum?")) == \
        "14 July 2023"
    assert "".join(agent.chat_turn(cid, "When did I go to the pottery workshop?")) == \
        "the Friday before 22 July 2023"
    assert "".join(agent.chat_turn(cid, "When did I go hiking?")) == \
        "the week before 29 July 2023"


def test_abstains_when_memory_does_not_support_an_answer(agent, store):
    cid = agent.new_conversation("t")
    # A fresh store knows nothing.
    assert "".join(agent.chat_turn(cid, "What is my sister's name?")) == \
        "I have nothing about your sister in my memories."
    # Who did what: the question names one person, the memory is what the other said.
    said_on = datetime(2023, 5, 25)
    for speaker, text in [("Melanie", "I ran a charity race for mental health last Saturday."),
                          ("Caroline", "My new puppy Rex chewed my shoes.")]:
        written = memory_text.turn(text, speaker=speaker, when=said_on)
        agent.store.add_memories([NewMemory(kind="turn", text=written.text, meta=written.meta,
                                            embedding=agent.encoder.encode_one(written.text),
                                            created_at=said_on)])
    question = "What did Caroline raise awareness for with her charity race?"
    assert memory_text.speaker(agent.ask(question).sources[0]) == "Melanie"
    answer = agent.ask(question)
    assert "".join(answer) == (
        "My memories about Caroline do not say that. The closest: \u201cCaroline: My new "
        "puppy Rex chewed my shoes.\u201d (25 May 2023, turn).")
    assert answer.reply.verdict == "abstained" and answer.support is None
    answer = agent.ask("What did Melanie raise awareness for with her charity race?")
    streamed = "".join(answer)
    assert answer.reply.verdict == "answered" and "mental health" in streamed
    assert memory_text.speaker(answer.support) == "Melanie"
    assert streamed == streamed.lstrip()  # no space before the answer


def test_never_said_questions_abstain_and_said_ones_are_answered(agent):
    cid = agent.new_conversation("me")
    day = datetime(2026, 1, 5, 9, 0)
    for i, said in enumerate(["My sister Ana is a nurse in Porto.",
                              "I work as a carpenter.",
                              "My favourite food is sushi.",
                              "I adopted a grey cat called Miso."]):
        "".join(agent.chat_turn(cid, said, now=day + timedelta(days=7 * i)))
    for question in ["What is my brother's name?", "What is my wife's job?",
                     "What is my blood type?", "What is my mother's phone number?",
                     "When did I visit Paris?"]:
        answer = agent.ask(question)
        assert "".join(answer).startswith(("I have nothing about", "My memories about")), \
            question
        assert answer.reply.verdict == "abstained" and answer.support is None, question
    assert "Miso" in "".join(agent.ask("What is my cat called?"))
    assert "nurse" in "".join(agent.ask("What does my sister Ana do?"))


# Memory requests --------------------------------------------------------------------------

def test_remember_stores_a_pinned_fact_that_answers_later(agent):
    cid = agent.new_conversation("t")
    hit, found = agent.remember(cid, "my locker code is 4512",
                                said="remember that my locker code is 4512")
    assert hit.kind == "fact" and hit.pinned and found == []
    assert [m.role for m in agent.transcript(cid)] == ["user", "assistant"]
    assert agent.recall("What is my locker code?")[0].id == hit.id


def test_forget_deletes_only_what_was_confirmed(agent):
    cid = agent.new_conversation("t")
    keep, _ = agent.remember(cid, "my bike lock code is 1234")
    drop, _ = agent.remember(cid, "my locker code is 4512")
    candidates = agent.forget_candidates("locker code")
    assert drop.id in [h.id for h in candidates]
    assert agent.store.get(drop.id) is not None  # finding candidates deletes nothing
    assert agent.forget([drop.id]) == 1
    assert agent.store.get(drop.id) is None and agent.store.get(keep.id) is not None
    assert drop.id not in [h.id for h in agent.recall("locker code", k=10)]


def test_a_newer_statement_supersedes_the_older_and_answers_prefer_it(agent):
    cid = agent.new_conversation("t")
    then = datetime(2026, 3, 1, 10, 0)
    "".join(agent.chat_turn(cid, "I live in Lisbon.", now=then))
    answer = agent.chat_turn(cid, "I moved to Berlin last month.", now=then + timedelta(days=60))
    "".join(answer)
    (conflict,) = answer.conflicts
    assert conflict.subject == "residence"
    assert "Lisbon" in conflict.old.text and "Berlin" in conflict.new.text
    assert conflict.old.created_at < conflict.new.created_at
    old = agent.store.get(conflict.old.id)
    assert old.superseded_by == conflict.new.id  # kept, marked
    hits = agent.recall("Where do I live?", k=6)
    ids = [h.id for h in hits]
    assert conflict.new.id in ids and old.id in ids  # both kept and recalled...
    current = [h.id for h in hits if h.superseded_by is None]  # ...the prompt gets these
    assert conflict.new.id in current and old.id not in current
    # A repeat of the same fact is no conflict.
    again = agent.chat_turn(cid, "I live in Berlin now.")
    "".join(again)
    assert again.conflicts == []


# Summaries, conversations, export ---------------------------------------------------------

def test_summary_memory_is_written_once_per_change(agent):
    cid = agent.new_conversation("Trip planning")
    "".join(agent.chat_turn(cid, "We are planning a trip to Kyoto in April."))
    "".join(agent.chat_turn(cid, "My friend Tomas will join us."))
    summary = agent.summarize(cid)
    assert summary.kind == "summary" and summary.source == f"conversation:{cid}#summary"
    # The untuned 135M model's sentence is not grounded in what was said here, so the
    # user's own sentences are kept (greedy decoding: the same every run).
    assert summary.meta == {"messages": 4, "method": "extractive", "form": "summary",
                            "speaker": "", "said_on": "2026-06-15"}
    assert summary.text == ('[15 June 2026] Summary of the conversation "Trip planning": '
                            "We are planning a trip to Kyoto in April. "
                            "My friend Tomas will join us.")
    assert agent.summarize(cid).id == summary.id  # nothing new: unchanged
    "".join(agent.chat_turn(cid, "We will stay near Gion."))
    newer = agent.summarize(cid)
    assert newer.id != summary.id
    assert [h.id for h in agent.store.conversation_memories(cid, "summary")] == [newer.id]


def test_a_summary_is_generated_only_when_grounded_in_what_was_said():
    said = ("User: We are planning a trip to Kyoto in April.\n"
            "User: My friend Tomas will join us.")
    assert grounded("The user is planning a trip to Kyoto in April with Tomas.", said)
    assert not grounded("The user loves Paris and will fly there with Maria.", said)
    assert not grounded("The user Kyoto.", said)  # too little to judge
    messages = [MessageRecord(id=i, conversation_id=1, turn=i, role=role, text=text,
                              created_at=NOW)
                for i, (role, text) in enumerate([
                    ("user", "We are planning a trip to Kyoto in April. It will be fun."),
                    ("assistant", "Noted."),
                    ("user", "Where should we stay?"),  # questions are not summarised
                    ("user", "/search Kyoto"),
                    ("user", "My friend Tomas will join us.")], 1)]
    assert extractive(messages) == ("We are planning a trip to Kyoto in April. "
                                    "My friend Tomas will join us.")
    doctor = [replace(messages[0], text="I see Dr. Patel on Friday about my knee. It hurts.")]
    assert extractive(doctor) == "I see Dr. Patel on Friday about my knee."  # not "Dr."


def test_delete_conversation_removes_its_memories_everywhere(agent, settings, encoder):
    gone = agent.new_conversation("gone")
    kept = agent.new_conversation("kept")
    "".join(agent.chat_turn(gone, "The zorblat password is heliotrope."))
    "".join(agent.chat_turn(kept, "The garden gate code is 9090."))
    agent.delete_conversation(gone)
    assert [c.id for c in agent.conversations()] == [kept]
    assert all("zorblat" not in h.text for h in agent.search("zorblat password", 10))
    agent.close()
    with SqliteStore(settings.home, embedding_model=encoder.name, dim=encoder.dim) as again:
        assert again.stats()["vector_index"] == again.stats()["memories"] == 1


def test_search_conversations_finds_the_chat(agent):
    a = agent.new_conversation("about the boat")
    b = agent.new_conversation("about dinner")
    "".join(agent.chat_turn(a, "The sailing boat is moored in Cascais."))
    "".join(agent.chat_turn(b, "Dinner is at eight on Friday."))
    found = agent.search_conversations("where is the sailing boat moored")
    assert found[0][0] == a


def test_export_json_and_markdown(agent, tmp_path):
    cid = agent.new_conversation("t")
    agent.remember(cid, "my locker code is 4512")
    n = agent.export(tmp_path / "out" / "memories.json")
    rows = json.loads((tmp_path / "out" / "memories.json").read_text())
    assert n == len(rows) == 1 and rows[0]["pinned"] and "4512" in rows[0]["text"]
    assert (tmp_path / "out" / "memories.json").stat().st_mode & 0o777 == 0o600
    agent.export(tmp_path / "memories.md")
    assert "(pinned)" in (tmp_path / "memories.md").read_text()
    with pytest.raises(ValueError, match=r"memories\.csv.*\.json or \.md"):
        agent.export(tmp_path / "memories.csv")


FILLER = " ".join(
    f"On day {n} of the trip we walked along the river, ate grilled fish at a small "
    f"place near the old bridge, and talked for hours about books and music." for n in range(14))
KEY = "The spare key to the cabin is taped under the third step of the porch."


def test_a_long_message_is_remembered_in_parts_so_its_end_is_found(agent):
    cid = agent.new_conversation()
    "".join(agent.chat_turn(cid, "The garden shed key hangs on a hook in the kitchen."))
    "".join(agent.chat_turn(cid, f"{FILLER} {KEY}"))
    (message,) = [m for m in agent.store.messages(cid) if m.text.endswith(KEY)]
    parts = [h for h in agent.store.conversation_memories(cid)
             if h.source == f"conversation:{cid}#turn={message.turn}"]
    assert len(parts) >= 2 and [h.meta["part"] for h in parts] == list(range(1, len(parts) + 1))
    assert all(h.text.startswith("[15 June 2026] User: ") for h in parts)
    assert all(agent.encoder.token_count(h.text) <= 256 for h in parts)
    # By meaning alone (no full-text side), the part that holds the key comes first.
    top = agent.store.search(agent.encoder.encode_one("Where is the spare key to the cabin?"),
                             "", k=1)[0]
    assert KEY in top.text
    # The answer places the key where it was said to be, never by words from the lunches
    # in the same message ("The woods near the old bridge" was shown before).
    answer = agent.ask("Where is the spare key to the cabin?")
    text = "".join(answer)
    assert not {"bridge", "woods", "kitchen"} & set(text.lower().split())
    assert answer.reply.verdict == "answered" and "third step of the porch" in text, text
    assert KEY in answer.support.text  # the part that holds it, not another
