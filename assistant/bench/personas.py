"""Made-up people for `assistant bench person`, generated from a seed: who is who in their
life, what changed, and questions about things they never said.

Seeds from HELD_OUT_FROM on are held out, only reported: every pool (names, places, jobs,
pets...) is split in two, even items for dev and odd for held-out, and the last phrasing of
every statement and question is held-out only; from HELD_OUT_2_FROM on (held-out values) the
wording is only personas_fresh.py's. A question: {"q", "ability", "answer" (None: never
said), "stale" (superseded values), "evidence" (session indexes), "topic" (never said)}.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from assistant.bench.personas_fresh import FRESH

DEV_SEEDS = (0, 1, 2)
HELD_OUT_SEEDS, HELD_OUT_2_SEEDS = (100, 101, 102), (200, 201, 202)
HELD_OUT_FROM, HELD_OUT_2_FROM = 100, 200  # from 200 on: fresh wording (personas_fresh.py)
ABILITIES = ("single-fact", "knowledge-update", "who-is-who", "other-person",
             "multi-session", "temporal", "never-said")
MONTHS = ("January February March April May June July August September October "
          "November December").split()


def _table(text: str) -> dict[str, list[str]]:
    """`key: item | item` lines (an indented line goes on with the one above); items are
    split on "|" where there is one, else on spaces."""
    out, key = {}, ""
    for line in text.strip("\n").splitlines():
        if line.startswith("  "):
            out[key] += " " + line.strip()
        else:
            key, _, value = line.partition(": ")
            out[key] = value
    return {k: [i.strip() for i in (v.split("|") if "|" in v else v.split())]
            for k, v in out.items()}


# What personas are made of; each split draws from its own half of every pool.
POOLS = _table("""
female: Lucia Marta Elena Sofia Ines Clara Nadia Greta Ingrid Amira Leila Yara Freya Hanna Maja
  Zofia Irene Paula Rosa Alba Noemi Chiara Giulia Vera Olga Daria Mila Lena Anouk Sanne Femke Elif
  Aylin Zeynep Priya Anika Meera Keiko Aiko Mei Hana Sara Laila Maryam Fatima Ada Iris Nora Ruth
  Edith Mabel Tessa Fiona Moira Niamh Carmen Pilar Lola Renata Beatriz Joana Flavia Camila Valentina
  Ximena Adriana Thea Ebba Astrid Signe Liv Kaja Petra Dana Zara Selin Esther Miriam
male: Tomas Pablo Mateo Diego Hugo Marco Luca Paolo Enzo Bruno Felix Jonas Lukas Anton Emil Oskar
  Viktor Nils Sven Lars Erik Finn Rory Cian Declan Owen Rhys Gareth Ivan Dmitri Pavel Karel Milan
  Tibor Andras Bence Omar Karim Samir Tariq Yusuf Emre Kaan Arjun Rohan Vikram Kenji Hiroshi Takumi
  Wei Minho Joon Tiago Rafael Bernardo Caio Duarte Javier Alvaro Ignacio Tobias Gianni Stefan Jakob
  Aron Levi Elias Noah Silas Jasper Otto Bram Ruben Joost Wim Magnus Anders Kasper Mikkel
pet: Biscuit Pepper Mochi Olive Ziggy Luna Nacho Pickle Waffles Bean Maple Tofu Juniper Clover
  Rocket Pixel Noodle Pumpkin Ginger Smudge Bramble Sprout Turnip Peanut Domino Fudge Mango Chester
  Rufus Oreo Toffee Basil Poppy Winston Bagel Cosmo Dumpling Pretzel Marble Sushi Crumble Nutmeg
city: Madrid|Porto|Lisbon|Seville|Valencia|Bilbao|Lyon|Marseille|Bordeaux|Nantes|Toulouse|Berlin|
  Hamburg|Munich|Leipzig|Cologne|Vienna|Graz|Zurich|Basel|Geneva|Milan|Turin|Bologna|Naples|
  Florence|Amsterdam|Rotterdam|Utrecht|Antwerp|Ghent|Copenhagen|Aarhus|Oslo|Bergen|Stockholm|
  Gothenburg|Helsinki|Tallinn|Riga|Vilnius|Warsaw|Krakow|Gdansk|Prague|Brno|Budapest|Ljubljana|
  Zagreb|Athens|Thessaloniki|Istanbul|Dublin|Galway|Edinburgh|Glasgow|Manchester|Leeds|Bristol|
  Cardiff|Toronto|Montreal|Vancouver|Boston|Chicago|Denver|Seattle|Melbourne|Sydney|Auckland|
  Wellington|Osaka|Kyoto|Seoul|Busan|Cape Town|Buenos Aires|Mexico City
employer: Northwind Bluebird Kestrel Alder Copperleaf Lumen Harbourline Greenway Orchard Redstone
  Silverfern Tidewater Brightwell Atlas Pinecrest Quarry Riverbend Summit Willow Foxglove Ironbark
  Juniper Lighthouse Meridian Nimbus Oakridge Pelican Quill Saffron Tandem Umber Vantage Wavecrest
  Zenith Beacon Cobalt Driftwood Everlight Granite Kingfisher Larkspur Mosaic Opal Prism Heron
trade: Logistics|Bakery|Analytics|Health|Design|Robotics|Shipping|Energy|Software|Bank|Insurance|
  Labs|Schools|Engineering|Hotels|Media|Foods|Architects|Publishing|Construction|Telecom|Games|
  Pharma|Cloud|Legal|Studios|Consulting|Motors|Press|Security|Furniture|Solar|Capital|Books
job: nurse|architect|software developer|accountant|physiotherapist|graphic designer|electrician|
  pharmacist|journalist|civil engineer|chef|dentist|veterinarian|data analyst|librarian|paramedic|
  lawyer|translator|photographer|carpenter|midwife|pilot|marine biologist|plumber|social worker|
  radiographer|landscape gardener|sound engineer|tax adviser|museum curator|personal trainer| speech
  therapist|optician|firefighter|bookseller|estate agent|project manager|barista|baker|
  tailor|surveyor|geologist|economist|nutritionist|police officer|bus driver|florist|archivist|
  statistician|zookeeper
instrument: cello violin piano guitar flute saxophone trumpet bassoon clarinet ukulele harp
  accordion banjo oboe trombone mandolin
species: dog|cat|rabbit|parrot|hamster|tortoise|guinea pig|ferret
sport: tennis|badminton|volleyball|squash|basketball|football|hockey|padel|cricket|rugby|table
  tennis|handball|baseball|golf|netball|water polo
car: Skoda Fabia|Toyota Yaris|Volvo V40|Fiat Panda|Honda Jazz|Renault Clio|Mazda MX5|Kia Picanto|
  Ford Focus|Seat Ibiza|Peugeot 208|Hyundai Kona|Dacia Sandero|Mini Cooper|Opel Corsa|Subaru Outback
allergy: peanuts|shellfish|penicillin|pollen|sesame|strawberries|eggs|latex|wheat|soy|mustard|
  celery|hazelnuts|dust mites|walnuts|avocado
language: Japanese Portuguese Korean Italian Dutch Greek Turkish Polish Swedish Arabic Mandarin
  Hungarian Finnish Czech Hindi Welsh
dish: lasagne|ramen|paella|pho|moussaka|risotto|tacos|dumplings|green curry|shakshuka|pierogi|
  gnocchi|biryani|falafel|goulash|bibimbap
study: history chemistry economics architecture philosophy biology mathematics linguistics law
  physics geography psychology music sociology astronomy anthropology
""")
# The user's optional facts: each persona states four; the others are asked as never said.
OPTIONAL = ("car", "allergy", "language", "dish", "study", "hometown", "birthday")
# Relations that imply where someone lives or works (partner, flatmate, neighbour,
# colleague) are left out: the never-said traps must not be answerable by inference.
RELATIONS = {"sister": "f", "brother": "m", "mother": "f", "father": "m", "aunt": "f",
             "uncle": "m", "grandmother": "f", "grandfather": "m", "cousin": None,
             "best friend": None, "niece": "f", "nephew": "m", "godmother": "f",
             "stepsister": "f", "stepbrother": "m", "childhood friend": None}
CASUAL = ["btw ", "oh and ", "ok so ", "Also, ", "FYI "]

# What the user types; the last phrasing of each is only used by held-out seeds.
SAY = _table("""
filler: Ugh, what a week. | Sorry, this is going to be a bit of a ramble. | The weather here has
  been grey and rainy for days. | I finally got a decent night's sleep. | Work has been pretty
  intense lately, lots of deadlines. | Today was one of those days where nothing went to plan. |
  It's been a while since I wrote anything here. | The trains were delayed again this morning. |
  Honestly, I'm exhausted. | Good news for once. | So much going on right now.
name: Hi! I'm {name}, by the way. | My name is {name}, nice to meet you. | You can call me {name}. |
  {name} here, using this to keep track of things. | Just so you know: I'm {name}.
job: I work as {a_job}. | I'm {a_job}, have been for about six years now. | By day I'm {a_job},
  which keeps me busy. | For context, I'm {a_job}. | I've been working as {a_job} since uni.
employer: I work at {emp}. | I'm at {emp} at the moment. | These days I'm employed by {emp}. | My
  employer is {emp}. | I've been with {emp} for a couple of years.
new_employer: Big news: I started a new job at {emp} this week! | Today was my first day at {emp}. |
  I've just joined {emp}, first week done. | New chapter: I'm now working for {emp}, started a few
  days ago. | I handed in my notice and this week I started at {emp}.
city: I live in {city}. | I'm based in {city}. | Home for me is {city}, in a small flat near the
  centre. | {city} is where I live. | I've lived in {city} for a few years now.
move: I just moved to {city}! | I finished moving into my new place in {city} today. | Greetings
  from {city}: the move is done and I'm all unpacked. | I'm living in {city} now, moved here this
  week. | As of this week my address is in {city}, the move finally happened.
pet: I adopted {a_species} today, {ppos} name is {pet}. | Meet {pet}: my new {species}, I brought
  {pobj} home today. | I've got {a_species} now! {pPron} is called {pet}. | New family member:
  {a_species} called {pet}, adopted this week. | Today I picked up {pet}, {a_species} from the
  shelter.
instrument: I started learning the {instr} this week. | I signed up for {instr} lessons, the first
  one was today. | I bought a used {instr} and started lessons this week. | I've taken up the
  {instr}, my first lesson was on Saturday. | New hobby: the {instr}. My first lesson was a few days
  ago.
sport: I play {sport} every Sunday morning. | I joined a {sport} club and I love it. | Playing
  {sport} twice a week keeps me sane. | My weekly {sport} game got cancelled because of the rain. |
  I've been playing {sport} with a group from the neighbourhood on Thursdays.
teacher: My {instr} teacher {name} says I'm making progress. | {name}, my {instr} teacher, gave me a
  hard piece to practise. | I really like {name}, my {instr} teacher. | Great lesson with {name}
  today, {pron} is the best {instr} teacher I've had. | The {instr} lessons with {name} are going
  well, {pron} is a patient teacher.
intro_city: My {rel} {name} lives in {city}. | {name}, my {rel}, is based in {city}. | My {rel}'s
  name is {name}. {Pron} lives in {city}. | I'm visiting my {rel} {name} in {city} next month,
  {pron} has lived there for years. | {name} (my {rel}) has a flat in {city}.
intro_job: My {rel} {name} works as {a_job}. | {name}, my {rel}, is {a_job}. | My {rel} is called
  {name} and {pron} is {a_job}. | My {rel}'s name is {name}. {Pron} works as {a_job}. | {name} is my
  {rel}; {pron}'s been {a_job} for ages.
intro: My {rel} {name} is coming over for dinner tonight. | I had lunch with my {rel} {name} today.
  | {name}, my {rel}, called me this evening to catch up. | My {rel}'s name is {name}, we talk
  almost every day. | Spent the afternoon with {name}, my {rel}.
name_job: {name} works as {a_job}. | {name} is {a_job}, which explains the odd hours. | {name} told
  me a funny story from {pos} work as {a_job}. | Turns out {name} trained as {a_job} and still loves
  it. | {name} has been {a_job} for about ten years.
name_city: {name} lives in {city}. | {name} is based in {city}. | {name} has a nice flat in {city}.
  | I stayed at {name}'s place in {city} last weekend. | {name}'s flat in {city} is tiny but cosy.
person_move: Actually my {rel} moved to {city} last month. | {name} moved to {city} last month, so
  I'll have to visit {obj} there. | Update on {name}: {pron} relocated to {city} last month. | My
  {rel} doesn't live there anymore, {pron} moved to {city} last month. | {name} packed up and left
  for {city} last month, {pron} is settled there.
new_job: {name} changed careers and is now {a_job}. | My {rel} {name} retrained and works as {a_job}
  now. | {name} started a new job as {a_job} this month. | Big change: {name} is now {a_job}.
person_pet: {name} adopted {a_species} called {pet}. | {name}'s {species} is named {pet}. | {name}
  got {a_species} and named it {pet}. | {name} keeps sending me photos of {pos} {species}, {pet}.
person_birthday: {name}'s birthday is {bday}. | I must buy {name} a gift, {pos} birthday is {bday}.
  | My {rel} {name} has {pos} birthday on {bday}. | {bday} is {name}'s birthday, I can't miss it.
car: I drive a {v}. | My car is a {v}, old but reliable. | I finally bought a car, a used {v}. | The
  {v} I drive needs new tyres.
allergy: I'm allergic to {v}. | Turns out I have an allergy to {v}. | I can't have {v}, I'm
  allergic. | The doctor confirmed I'm allergic to {v}.
language: I'm learning {v} on an app every evening. | I signed up for a {v} course. | I've started
  studying {v}. | Trying to get my {v} to a conversational level this year.
dish: My favourite dish is {v}. | Nothing beats {v}, it's my favourite food. | If I could eat one
  thing forever it would be {v}. | Honestly {v} is my all-time favourite meal.
study: I studied {v} at university. | My degree is in {v}. | Back at uni I did a degree in {v}. | I
  have a degree in {v}, though I rarely use it.
hometown: I grew up in {v}. | I'm originally from {v}. | My hometown is {v}. | I spent my whole
  childhood in {v}.
birthday: My birthday is on {v}. | It's my birthday on {v}, I'm planning a small party. | I was born
  on {v}. | Mark the date: {v} is my birthday.
""")

# What is asked; the last phrasing of each is only used by held-out seeds.
ASK = _table("""
car: What car do I drive? | What kind of car do I have? | Which car do I own?
allergy: What am I allergic to? | What allergy do I have? | Which allergy did I mention?
language: What language am I learning? | Which language am I studying? | What language do I study?
dish: What is my favourite food? | What's my favourite dish? | Which food do I love most?
study: What did I study at university? | What is my degree in? | What did I study at uni?
hometown: Where did I grow up? | Where am I originally from? | What is my hometown?
birthday: When is my birthday? | What date is my birthday? | On what day is my birthday?
name: What is my name? | What's my name? | Do you remember my name?
job: What do I do for a living? | What is my job? | What kind of work do I do? | What's my job?
species: What kind of pet do I have? | What animal did I adopt? | What sort of pet do I own?
pet: What is my {s}'s name? | What's my {s} called? | What did I name my {s}?
instrument: What instrument am I learning? | Which instrument did I take up? | What do I play?
sport: What sport do I play? | Which sport do I play? | What sport am I into?
city now: Where do I live now? | Which city do I live in now? | Where am I living these days?
city before: Where did I live before {c}? | Where was I living before I moved to {c}? | Which city
  did I live in before {c}?
employer now: Where do I work now? | Which company do I work for now? | Who is my employer now?
employer before: Where did I work before {e}? | Which company did I work for before {e}? | Who
  employed me before {e}?
their city now: Where does my {rel} live now? | Which city is {name} in now? | Where does {name}
  live these days?
their city before: Where did {name} live before {c}? | Where did my {rel} live before moving to {c}?
  | Which city was {name} in before {c}?
their job now: What does {name} do now? | What is my {rel}'s job now? | What is {name}'s job now?
who: Who is {name}? | Who's {name}? | Remind me, who is {name}?
name of: What is my {rel}'s name? | What's my {rel} called? | What is the name of my {rel}?
their job: What does {name} do for a living? | What is {name}'s job? | What does {name} work as?
their city: Where does {name} live? | Which city does {name} live in? | Where is {name} based?
species of: What pet does {name} have? | What animal does {name} have? | What pet does {name} own?
pet of: What is the name of {name}'s {s}? | What's {name}'s {s} called? | What did {name} call {pos}
  {s}?
same city: Who do I know that lives in the same city as me now? | Which of the people I know lives
  in my city now? | Who among the people I mentioned lives where I live now?
city when joined: Where was I living when I started at {e}? | Which city did I live in when I joined
  {e}? | Where did I live when I began working at {e}?
when moved: When did I move to {c}? | In which month did I move to {c}? | When did I go to {c}?
when joined: When did I start working at {e}? | When did I join {e}? | When did I start at {e}?
when they moved: When did my {rel} move to {c}? | When did {name} move to {c}? | When did {name} go
  to {c}?
when adopted: When did I adopt {p}? | When did I get my {s}? | When did I bring {p} home?
started: When did I start learning {i}? | When did I take up the {i}? | When did I start the {i}?
birthday of: When is {name}'s birthday? | When is my {rel}'s birthday? | When's {name}'s birthday?
employer of: Where does my {rel} work? | Which company does {name} work for? | Who employs {name}?
absent: Where does my {r} live? | What does my {r} do for a living? | Which city is my {r} in?
their instrument: What instrument does {name} play? | Which instrument does my {rel} play? | What
  does {name} play?
their car: What car does {name} drive? | What car does my {rel} have? | Which car does {name} own?
never lived: When did I move to {c}? | When did I live in {c}? | When was I in {c}?
""")


def _a(word: str) -> str:
    return ("an " if word[0].lower() in "aeiou" else "a ") + word


def _pronouns(female: bool) -> dict[str, str]:
    return dict(zip(("pron", "Pron", "pos", "obj"), ("she", "She", "her", "her") if female
                    else ("he", "He", "his", "him"), strict=True))


def _month(date: str, shift: int = 0) -> str:
    d = datetime.fromisoformat(date)
    m = d.month - 1 + shift
    return f"{MONTHS[m % 12]} {d.year + m // 12}"


class _Builder:
    """One persona under construction: statements with a stage (0, 1, 2: early, middle and
    late sessions) and questions whose evidence names statements by key."""

    def __init__(self, seed: int) -> None:
        self.rng, self.held_out = random.Random(seed), seed >= HELD_OUT_FROM
        self.fresh = seed >= HELD_OUT_2_FROM  # worded only (and all) by personas_fresh.py
        self.words = FRESH if self.fresh else (SAY, ASK, CASUAL)
        self.used: set[str] = set()
        self.events: list[tuple[int, str, str]] = []  # (stage, key, text)
        self.questions: list[dict] = []

    def pick(self, *pools: list[str], k: int = 1) -> list[str]:
        """k values not used yet, from this split's half of the pools."""
        half = [v for pool in pools for v in pool[int(self.held_out)::2] if v not in self.used]
        chosen = self.rng.sample(half, k)
        self.used.update(chosen)
        return chosen

    def phrase(self, options: list[str]) -> str:
        """One phrasing; the last is kept for held-out seeds (all fresh ones are used)."""
        return self.rng.choice(options if self.held_out else options[:-1])

    def say(self, stage: int, key: str, template: str, **values: str) -> None:
        say, _, casual = self.words
        text = self.phrase(say[template]).format(**values)
        text = text[0].upper() + text[1:]
        roll = self.rng.random() if key != "name" else 1.0
        if roll < 0.3:  # a long message, the fact in its last sentence
            text = " ".join(self.rng.sample(say["filler"], self.rng.randint(1, 2)) + [text])
        elif roll < 0.42:  # typed casually: "btw my sister ..."
            keep = text.startswith(("I ", "I'", *self.used)) or text[0].isdigit()
            text = self.rng.choice(casual) + (text if keep else text[0].lower() + text[1:])
        self.events.append((stage, key, text))

    def ask(self, ability: str, question: str, answer: str | None, evidence: list[str],
            stale: str | None = None, topic: tuple[str, str] | None = None,
            mine: bool = False, **values: str) -> None:
        """`mine`: a person asked about as "my sister", not by name."""
        q = self.phrase(self.words[1][question])
        item = {"q": (q.replace("{name}", "my {rel}") if mine else q).format(**values),
                "ability": ability, "answer": answer, "evidence": evidence}
        item.update({"stale": [stale]} if stale else {}, **{"topic": list(topic)} if topic else {})
        self.questions.append(item)

    def schedule(self) -> tuple[list[dict], dict[str, int], datetime]:
        """Nine sessions in nine distinct months, each stage's statements dealt over its
        three; the user says who they are first."""
        rng = self.rng
        year, month = rng.randint(2023, 2025), rng.randint(1, 12)
        dates = []
        for off in [0, *sorted(rng.sample(range(1, 13), 8))]:
            y, m = year + (month - 1 + off) // 12, (month - 1 + off) % 12 + 1
            dates.append(datetime(y, m, rng.randint(8, 26), rng.randint(8, 22),
                                  rng.choice((0, 15, 30, 45))))
        name = next(e for e in self.events if e[1] == "name")
        while True:  # the user's move and new job are never told in one session
            where, sessions = {"name": 0}, [[name[2]]] + [[] for _ in dates[1:]]
            for stage in range(3):
                events = [e for e in self.events if e[0] == stage and e is not name]
                rng.shuffle(events)
                for i, (_, key, text) in enumerate(events):
                    where[key] = stage * 3 + i % 3
                    sessions[where[key]].append(text)
            if where["move"] != where["new_employer"]:
                break
        out = [{"date": d.isoformat(timespec="minutes"), "title": f"Chat {i + 1}",
                "statements": s} for i, (d, s) in enumerate(zip(dates, sessions, strict=True))]
        return out, where, dates[-1] + timedelta(days=rng.randint(7, 30))


def persona(seed: int) -> dict:
    """The persona of `seed`: its sessions, its questions, and what it states (facts)."""
    b, P = _Builder(seed), POOLS
    rng = b.rng
    name, teacher, stranger = b.pick(P["female"], P["male"], k=3)
    job, pjob1, pjob2, pjob3, old_job, new_job = b.pick(P["job"], k=6)
    home, new_home, c1, c2, c2b, c4, hometown, never_city = b.pick(P["city"], k=8)
    emp1, emp2 = (f"{a} {t}" for a, t in zip(b.pick(P["employer"], k=2), b.pick(P["trade"], k=2),
                                            strict=True))
    species, species5, species_x = b.pick(P["species"], k=3)
    pet, pet5 = b.pick(P["pet"], k=2)
    instr, sport = b.pick(P["instrument"])[0], b.pick(P["sport"])[0]
    rels = rng.sample(sorted(RELATIONS), 5)
    # Never-said relations: none a part of a present one ("mother" beside "grandmother").
    absent1, absent2 = rng.sample([r for r in sorted(RELATIONS)
                                   if not any(r in p or p in r for p in rels)], 2)
    people = [{"rel": rel, **_pronouns((RELATIONS[rel] or rng.choice("fm")) == "f")}
              for rel in rels]
    for p in people:
        p["name"] = b.pick(P["female" if p["pron"] == "she" else "male"])[0]
    p1, p2, p3, p4, p5 = people
    pet_words = {"p" + k: v for k, v in _pronouns(rng.random() < 0.5).items()}
    bday5 = f"{rng.randint(1, 28)} {rng.choice(MONTHS)}"
    facts = {"user": {"name": name, "job": job, "employer": emp2, "previous employer": emp1,
                      "city": new_home, "previous city": home, f"pet:{species}": pet,
                      "instrument": instr, "sport": sport},
             p1["name"]: {"city": c2, "previous city": c1, "job": pjob1},
             p2["name"]: {"job": pjob2, "city": c2b}, p3["name"]: {"city": new_home, "job": pjob3},
             p4["name"]: {"job": new_job, "previous job": old_job, "city": c4},
             p5["name"]: {f"pet:{species5}": pet5, "birthday": bday5},
             teacher: {"relation": f"{instr} teacher"}}
    for p in people:
        facts[p["name"]]["relation"] = p["rel"]
    # Statements: stage 0 early sessions, 1 middle, 2 late.
    b.say(0, "name", "name", name=name)
    b.say(0, "job", "job", a_job=_a(job))
    b.say(0, "employer", "employer", emp=emp1)
    b.say(0, "city", "city", city=home)
    b.say(0, "pet", "pet", a_species=_a(species), species=species, pet=pet, **pet_words)
    b.say(0, "p1", "intro_city", city=c1, **p1)
    b.say(0, "p2", "intro", **p2)
    b.say(0, "p3", "intro_city", city=new_home, **p3)
    b.say(0, "p4", "intro_job", a_job=_a(old_job), **p4)
    b.say(0, "p5", "intro", **p5)
    b.say(1, "p1_job", "name_job", a_job=_a(pjob1), **p1)
    b.say(1, "p2_job", "name_job", a_job=_a(pjob2), **p2)
    b.say(1, "p3_job", "name_job", a_job=_a(pjob3), **p3)
    b.say(1, "p4_city", "name_city", city=c4, **p4)
    b.say(1, "p5_pet", "person_pet", a_species=_a(species5), species=species5, pet=pet5, **p5)
    b.say(1, "instrument", "instrument", instr=instr)
    b.say(1, "sport", "sport", sport=sport)
    b.say(2, "teacher", "teacher", instr=instr, name=teacher, pron=rng.choice(("she", "he")))
    b.say(2, "p2_city", "name_city", city=c2b, **p2)
    b.say(2, "p1_move", "person_move", city=c2, **p1)
    b.say(2, "p4_job", "new_job", a_job=_a(new_job), **p4)
    b.say(2, "p5_birthday", "person_birthday", bday=bday5, **p5)
    b.say(2, "move", "move", city=new_home)
    b.say(2, "new_employer", "new_employer", emp=emp2)
    stated = set(rng.sample(sorted(OPTIONAL), 4))
    for key in sorted(OPTIONAL):
        value = (hometown if key == "hometown" else b.pick(P[key])[0] if key in P else
                 f"{rng.randint(1, 28)} {rng.choice(MONTHS)}")
        if key in stated:
            facts["user"][key] = value
            b.say(rng.randint(0, 1), key, key, v=value)
            b.ask("temporal" if key == "birthday" else "single-fact", key, value, [key])
        else:
            b.ask("never-said", key, None, [], topic=("user", key))
    S, K, W, O_ = "single-fact", "knowledge-update", "who-is-who", "other-person"
    b.ask(S, "name", name, ["name"])
    b.ask(S, "job", job, ["job"])
    b.ask(S, "species", species, ["pet"])
    b.ask(S, "pet", pet, ["pet"], s=species)
    b.ask(S, "instrument", instr, ["instrument"])
    b.ask(S, "sport", sport, ["sport"])
    b.ask(K, "city now", new_home, ["move"], stale=home)
    b.ask(K, "city before", home, ["city", "move"], c=new_home)
    b.ask(K, "employer now", emp2, ["new_employer"], stale=emp1)
    b.ask(K, "employer before", emp1, ["employer", "new_employer"], e=emp2)
    b.ask(K, "their city now", c2, ["p1", "p1_move"], stale=c1, **p1)
    b.ask(K, "their city before", c1, ["p1", "p1_move"], c=c2, **p1)
    b.ask(K, "their job now", new_job, ["p4", "p4_job"], stale=old_job, **p4)
    for i, p in enumerate(people, 1):
        b.ask(W, "who", p["rel"], [f"p{i}"], **p)
        b.ask(W, "name of", p["name"], [f"p{i}"], **p)
    b.ask(W, "who", f"{instr} teacher", ["teacher"], name=teacher)
    b.ask(W, "who", species, ["pet"], name=pet)
    b.ask(O_, "their job", pjob1, ["p1_job"], **p1)
    b.ask(O_, "their job", pjob2, ["p2_job"], **p2)
    b.ask(O_, "their city", c2b, ["p2_city"], **p2)
    b.ask(O_, "their job", pjob3, ["p3_job"], **p3)
    b.ask(O_, "their city", new_home, ["p3"], **p3)
    b.ask(O_, "their city", c4, ["p4_city"], **p4)
    b.ask(O_, "species of", species5, ["p5_pet"], **p5)
    b.ask(O_, "pet of", pet5, ["p5_pet"], s=species5, **p5)
    M, Tm, N = "multi-session", "temporal", "never-said"
    b.ask(M, "their job", pjob2, ["p2", "p2_job"], mine=True, **p2)
    b.ask(M, "their city", c2b, ["p2", "p2_city"], mine=True, **p2)
    b.ask(M, "pet of", pet5, ["p5", "p5_pet"], mine=True, s=species5, **p5)
    b.ask(M, "same city", p3["name"], ["p3", "move"])
    b.ask(M, "city when joined", "@living", ["city", "move", "new_employer"], e=emp2)
    b.ask(Tm, "when moved", "@month:move", ["move"], c=new_home)
    b.ask(Tm, "when joined", "@month:new_employer", ["new_employer"], e=emp2)
    b.ask(Tm, "when they moved", "@month-1:p1_move", ["p1_move"], c=c2, **p1)
    b.ask(Tm, "when adopted", "@month:pet", ["pet"], p=pet, s=species)
    b.ask(Tm, "started", "@month:instrument", ["instrument"], i=instr)
    b.ask(Tm, "birthday of", bday5, ["p5_birthday"], **p5)
    # Never said, besides the optional facts not stated: traps with one person's fact
    # asked of another, relations and names that do not exist, attributes never given.
    b.ask(N, "employer of", None, [], topic=(p3["name"], "employer"), **p3)
    b.ask(N, "employer of", None, [], topic=(p1["name"], "employer"), **p1)
    b.ask(N, "name of", None, [], topic=(absent1, "exists"), rel=absent1)
    b.ask(N, "absent", None, [], topic=(absent2, "exists"), r=absent2)
    b.ask(N, "their city", None, [], topic=(p5["name"], "city"), **p5)
    b.ask(N, "pet", None, [], topic=("user", f"pet:{species_x}"), s=species_x)
    b.ask(N, "who", None, [], topic=(stranger, "exists"), name=stranger)
    b.ask(N, "never lived", None, [], topic=("user", f"residence:{never_city}"), c=never_city)
    b.ask(N, "their city before", None, [], topic=(p3["name"], "previous city"), c=new_home, **p3)
    b.ask(N, "their instrument", None, [], topic=(p4["name"], "instrument"), **p4)
    b.ask(N, "birthday of", None, [], topic=(p1["name"], "birthday"), **p1)
    b.ask(N, "their car", None, [], topic=(p2["name"], "car"), **p2)
    sessions, where, now = b.schedule()
    for q in b.questions:
        q["evidence"] = sorted({where[k] for k in q["evidence"]})
        if q["answer"] == "@living":  # where the user lived when the new job started
            q["answer"] = home if where["new_employer"] < where["move"] else new_home
        elif q["answer"] and q["answer"].startswith("@month"):
            kind, key = q["answer"][1:].split(":")
            q["answer"] = _month(sessions[where[key]]["date"], -(kind == "month-1"))
    rng.shuffle(b.questions)  # abilities interleaved, as a person asks
    return {"seed": seed, "split": ("dev", "held-out", "held-out-2")[b.held_out + b.fresh],
            "user": name, "now": now.isoformat(timespec="minutes"), "sessions": sessions,
            "questions": b.questions, "facts": facts}
