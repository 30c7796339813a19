"""`assistant search` and `ask` answered by an assistant already running on the data folder
(local_server.py): the same output as answering cold, only to the folder's owner with its
token, declined (and answered cold) when the options differ. Real agent, real socket,
real CLI processes."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys

import pytest

from assistant.agent import Agent
from assistant.cli import serve_command
from assistant.local_server import SOCKET_FILE, CliServer, start

# The CLI in a fresh process; the last line says whether it opened the store itself.
PROBE = ("import sys\nfrom assistant.cli import main\nrc = main(sys.argv[1:])\n"
         "print('\\nopened the store itself:', 'sqlalchemy' in sys.modules, 'rc', rc)")


def cli(home, *words, env=None) -> tuple[str, bool, int]:
    done = subprocess.run([sys.executable, "-c", PROBE, "--home", str(home), *words],
                          capture_output=True, text=True, timeout=300,
                          env={**os.environ, **(env or {})})
    *out, last = done.stdout.rstrip("\n").split("\n")
    words_ = last.split()
    return "\n".join(out), words_[-3] == "True", int(words_[-1])


@pytest.fixture
def served(settings, encoder, generator):
    agent = Agent(settings, encoder=encoder, generator=generator)
    agent.remember(None, "My sister Lucia lives in Madrid.")
    agent.remember(None, "I play the cello on Sundays.")
    server = start(agent, serve_command)
    assert server is not None
    yield agent
    server.close()
    agent.close()


def test_a_running_assistant_answers_search_as_the_cli_would(served, settings):
    home = settings.home
    out, itself, rc = cli(home, "search", "--json", "-k", "2", "where does Lucia live")
    assert rc == 0 and not itself  # answered by the running agent: no store opened here
    hits = json.loads(out)
    assert len(hits) == 2 and "Madrid" in hits[0]["text"]
    mode = stat.S_IMODE(os.stat(home / SOCKET_FILE).st_mode)
    assert mode == 0o600, oct(mode)
    # Without the folder's token (another one set), the assistant declines: answered cold.
    cold, itself, rc = cli(home, "search", "--json", "-k", "2", "where does Lucia live",
                           env={"ASSISTANT_MCP_TOKEN": "not-the-token"})
    assert rc == 0 and itself
    assert [h["id"] for h in json.loads(cold)] == [h["id"] for h in hits]
    # Options the running agent was not started with: declined, answered cold.
    _, itself, rc = cli(home, "search", "--no-ltmt", "cello")
    assert rc == 0 and itself


def test_a_running_assistant_answers_ask_with_its_sources(served, settings):
    out, itself, rc = cli(settings.home, "ask", "--json", "Where does my sister live?")
    assert rc == 0 and not itself
    answer = json.loads(out)
    assert answer["verdict"] in ("answered", "abstained")
    assert any("Madrid" in s["text"] for s in answer["sources"])


def test_help_and_usage_errors_go_to_the_client_not_the_assistants_terminal(
        served, settings, capsys):
    import io

    from assistant.local_server import ask_running, options

    wanted = options(settings, False)
    for argv, code, stream in ((["search", "--help"], 0, "out"),
                               (["ask", "--no-such-flag", "hi"], 2, "err")):
        out, err = io.StringIO(), io.StringIO()
        assert ask_running(settings.home, argv, wanted, out, err) == code
        assert "usage: assistant" in (out if stream == "out" else err).getvalue()
        assert capsys.readouterr() == ("", "")  # nothing printed where the assistant runs


def test_a_socket_left_by_a_dead_assistant_is_taken_over_and_a_live_one_is_not(
        settings, encoder):
    settings.home.mkdir(parents=True)
    (settings.home / SOCKET_FILE).touch()  # what a killed assistant leaves
    with Agent(settings, encoder=encoder) as agent:
        first = start(agent, serve_command)
        assert first is not None
        with pytest.raises(OSError, match="already serves"):
            CliServer(settings.home, "t", {}, lambda argv, out, err: 0)
        first.close()
    assert not (settings.home / SOCKET_FILE).exists()
    # Nothing listening now: the CLI answers itself.
    _, itself, rc = cli(settings.home, "search", "Lucia")
    assert rc == 0 and itself


async def test_the_chat_app_answers_the_cli_while_it_runs_and_stops_when_it_quits(
        settings, encoder, generator):
    import asyncio

    from assistant.cli import serve_command
    from assistant.tui.app import create_app

    app = create_app(settings, encoder=encoder, generator=generator,
                     serve_cli=serve_command)
    async with app.run_test(size=(100, 30)) as pilot:
        await asyncio.to_thread(app.loaded.wait, 300)
        assert app.ready
        await asyncio.to_thread(app.agent.remember, None, "My sister Lucia lives in Madrid.")
        out, itself, rc = await asyncio.to_thread(cli, settings.home, "search", "--json",
                                                  "Lucia")
        assert rc == 0 and not itself and "Madrid" in json.loads(out)[0]["text"]
        await pilot.press("ctrl+q")
    assert not (settings.home / SOCKET_FILE).exists()
