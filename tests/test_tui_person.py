"""The issue's scenario typed into the real app: two conversations, a restart, then the
questions; every answer right, or an abstention where nothing was said."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from test_tui import SIZE, FixedClock, app_for, messages, send, until

TOLD = ["My name is Sam and my sister Lucia lives in Madrid.", "I have a dog called Biscuit.",
        "Lucia is a nurse at a children's hospital.",
        "I'm a software engineer at Tidewater.", "I live in Lisbon.",
        "Marta is my cello teacher and she is very patient.",
        "I have an appointment with Dr. Patel on Friday about my sore knee."]
THEN = ["Actually my sister moved to Porto last month.", "I moved to Berlin in September.",
        "We cleaned the garage and sorted the bikes this morning, then had lunch with the "
        "neighbours and talked about the summer holidays for a long while. Before leaving I "
        "hid the shed key under the blue flowerpot by the back door."]
# (question, words the answer must hold, words it must not); None: it must abstain.
ASKED = [("Where does my sister live now?", ["Porto"], ["Madrid"]),
         ("Where do I live?", ["Berlin"], ["Porto", "Lisbon"]),
         ("What does my sister do for a living?", ["nurse"], ["Tidewater", "engineer"]),
         ("Where do I work?", ["Tidewater"], []),
         ("What is my appointment with Dr. Patel about?", ["knee"], []),
         ("Who is Marta?", ["cello teacher"], ["neighbour"]),
         ("What is my dog's name?", ["Biscuit"], []),
         ("What is my name?", ["Sam"], []),
         ("Where did I hide my shed key?", ["flowerpot"], []),
         ("Where did my sister live before?", ["Madrid"], []),
         ("What's my brother's name?", None, []),
         ("Where does Marta live?", None, [])]


@pytest.mark.slow
async def test_the_person_scenario_in_the_app(settings, encoder, generator):
    clock = FixedClock(datetime(2026, 10, 1, 18, 0))
    app = app_for(settings, encoder, generator, clock=clock)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.ready)
        for line in TOLD:
            await send(pilot, app, line)
        clock.now += timedelta(days=40)
        await send(pilot, app, "/new")
        for line in THEN:
            await send(pilot, app, line)
        await pilot.press("ctrl+q")
        await until(pilot, lambda: not app.is_running, timeout=60)

    clock.now += timedelta(days=1)
    again = app_for(settings, encoder, generator, clock=clock)
    async with again.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: again.ready)
        await send(pilot, again, "/new")
        wrong = []
        for question, want, avoid in ASKED:
            await send(pilot, again, question)
            said = messages(again)[-1][1]
            verdict = again.agent.transcript(again.chat.conversation_id)[-1].text
            if want is None:
                ok = said.startswith(("I have nothing", "My memories"))
            else:
                ok = all(w.lower() in said.lower() for w in want) and \
                    not any(a.lower() in said.lower() for a in avoid)
            if not ok:
                wrong.append((question, said, verdict))
        assert not wrong, wrong
