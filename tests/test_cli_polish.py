"""The small things a user meets first (issue 25): help on every option, usage errors that
exit non-zero, counts in words, scores only where they mean something, conversation
titles, and what "forget ..." ticks at first."""

from __future__ import annotations

import argparse
import io

import pytest
from textual.app import App
from textual.widgets import SelectionList

from assistant.agent import Agent
from assistant.cli import build_parser, main
from assistant.forgetting import take_out
from assistant.plain import run as plain_chat
from assistant.tui.screens.confirm_forget import ConfirmForget
from assistant.tui.widgets.memory_panel import MemoryPanel
from assistant.wording import TITLE_CHARS, title_of


def _parsers(parser: argparse.ArgumentParser, name: str = "assistant"):
    yield name, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub_name, sub in action.choices.items():
                yield from _parsers(sub, f"{name} {sub_name}")


def test_every_option_and_argument_has_help():
    from assistant.bench import cli as bench_cli

    # `bench`, `train` and `train-generator` parse their own arguments.
    roots = [("assistant", build_parser()), ("bench", bench_cli._bench_parser(None)),
             ("train", bench_cli._train_parser()),
             ("train-generator", bench_cli._train_generator_parser())]
    missing = [f"{name}: {'/'.join(a.option_strings) or a.dest}"
               for root, top in roots for name, parser in _parsers(top, root)
               for a in parser._actions
               if not isinstance(a, argparse._HelpAction) and not (a.help or "").strip()]
    assert missing == []


def test_kind_names_its_values_and_refuses_others(capsys, tmp_path):
    kind = next(a for a in next(p for n, p in _parsers(build_parser())
                                if n == "assistant memories")._actions if a.dest == "kind")
    assert set(kind.choices) == {"turn", "fact", "summary", "chunk"}
    with pytest.raises(SystemExit) as exit_:
        main(["--home", str(tmp_path / "home"), "memories", "list", "--kind", "facts"])
    assert exit_.value.code == 2
    assert "'facts'" in capsys.readouterr().err


@pytest.mark.parametrize("action", ["forget", "show"])
def test_forget_or_show_without_an_id_is_a_usage_error(capsys, tmp_path, action):
    # Said before anything is opened (the models take seconds to load), and not 0.
    with pytest.raises(SystemExit) as exit_:
        main(["--home", str(tmp_path / "home"), "memories", action])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("usage:") and f"memories {action}: which memory? give its ID" in err
    assert not (tmp_path / "home").exists()


def test_import_counts_in_words_and_list_has_no_scores(capsys, tmp_path, model_cache):
    home = tmp_path / "home"
    note = tmp_path / "note.txt"
    note.write_text("The quokka census counted 4172 quokkas on Rottnest Island.")
    assert main(["--home", str(home), "import", "--no-progress", str(note)]) == 0
    assert f"imported {note}: 1 memory\n" in capsys.readouterr().out
    assert main(["--home", str(home), "memories", "list"]) == 0
    listed = capsys.readouterr().out
    assert "note.txt" in listed and "chunk" in listed and "score" not in listed
    assert main(["--home", str(home), "search", "quokka census"]) == 0
    assert "score " in capsys.readouterr().out  # a search's score says how well it matched


TITLES = [  # the first message, its title
    ("Dinner is at eight on Friday.", "Dinner is at eight on Friday."),
    ("We should plan the sailing trip to the Azores next summer together",
     "We should plan the sailing trip to the\u2026"),
    ("/remember my locker code is 4512", "my locker code is 4512"),
    ("remember that the spare key is under the blue pot",
     "the spare key is under the blue pot"),
    ("Please remember that Ana's birthday is the 3rd of May.",
     "Ana's birthday is the 3rd of May"),
    ("Remember when we went to Porto?", "Remember when we went to Porto?"),
    ("x" * 60, "x" * (TITLE_CHARS - 1) + "\u2026"),  # one word longer than a title
]


def test_a_title_is_what_the_first_message_is_about_cut_between_words():
    assert [title_of(message) for message, _ in TITLES] == [title for _, title in TITLES]
    assert all(len(title_of(message)) <= TITLE_CHARS for message, _ in TITLES)


def test_the_plain_chat_titles_by_the_fact_and_forgetting_makes_it_again(
        settings, encoder):
    with Agent(settings, encoder=encoder) as agent:
        first = "/remember my locker code is 4512 and the gym locker is number seventeen"
        assert plain_chat(agent, [first], io.StringIO()) == 0
        (conversation,) = agent.conversations()
        assert conversation.title == "my locker code is 4512 and the gym\u2026"
        fact = next(h for h in agent.store.list_memories("fact", 5) if "4512" in h.text)
        take_out(agent.store, fact)
        (conversation,) = agent.conversations()
        assert "4512" not in conversation.title and "gym" not in conversation.title


async def test_forget_ticks_only_the_users_own_memories_that_match(
        settings, encoder, tmp_path):
    notes = tmp_path / "groceries.md"
    notes.write_text("# Shop opening hours\n\nThe shopping centre list of shops opens at "
                     "nine; the list of shops is at the entrance.\n")
    with Agent(settings, encoder=encoder) as agent:
        assert agent.import_paths([notes]).ok
        cid = agent.new_conversation()
        mine, _ = agent.remember(cid, "my shopping list is eggs, flour and lemons")
        other, _ = agent.remember(cid, "my bike is blue")
        query = "my shopping list"
        hits = agent.forget_candidates(query, k=10)
        chunks = [h.id for h in hits if h.kind == "chunk"]
        assert chunks and mine.id in [h.id for h in hits]  # the document came up too
        ticked = agent.forget_ticked(query, hits)
    assert ticked == {mine.id} and other.id not in ticked

    class Host(App):
        def on_mount(self) -> None:
            self.push_screen(ConfirmForget(query, hits, ticked))

    async with Host().run_test() as pilot:
        await pilot.pause()
        assert set(pilot.app.screen.query_one(SelectionList).selected) == {mine.id}


async def test_recalled_memories_are_counted_in_words(settings, encoder):
    with Agent(settings, encoder=encoder) as agent:
        hit, _ = agent.remember(None, "the spare key is under the blue pot")

    class Host(App):
        def compose(self):
            yield MemoryPanel()

    async with Host().run_test() as pilot:
        panel = pilot.app.query_one(MemoryPanel)
        panel.show([hit], {})
        await pilot.pause()
        assert panel.border_subtitle == "1 memory"
