"""Store URLs: a password in one never shows (doctor, --json, errors, the log) nor reaches
the model; options after a question are options; an SQLite URL may name the store's
database file, and a store is never made inside a path that names a file."""

from __future__ import annotations

import json
import logging
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from test_store import _facts as facts

from assistant.cli import main
from memory_store.sqlite_store import SqliteStore
from memory_store.urls import redacted, sqlite_folder

SECRET = "hunter2secret"
NOWHERE = "127.0.0.1:9/memories"  # nothing listens on port 9: the store cannot open


@pytest.fixture
def cli(capsys):
    """main() in this process; what it printed and logged, for a search for secrets."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level

    def run(home, *argv):
        code = main(["--home", str(home), *argv])
        out, err = capsys.readouterr()
        log = home / "assistant.log"
        return code, out, err, log.read_text(encoding="utf-8") if log.exists() else ""

    yield run
    for handler in set(root.handlers) - set(handlers):  # main() adds a log per data folder
        root.removeHandler(handler)
        handler.close()
    root.setLevel(level)


@pytest.mark.parametrize("url, shown", [
    (f"postgresql+psycopg://me:{SECRET}@db.lan:5433/mem",
     "postgresql+psycopg://me:***@db.lan:5433/mem"),
    (f"postgresql+psycopg://me@db.lan/mem?password={SECRET}&sslkey=/home/me/key.pem"
     f"&sslpassword={SECRET}&sslmode=require",
     "postgresql+psycopg://me@db.lan/mem?password=***&sslkey=/home/me/key.pem"
     "&sslpassword=***&sslmode=require"),
    # An "@" not percent-encoded: where the password ends is a guess, so all before the last.
    ("postgresql+psycopg://me:hunter2@secret@db.lan/mem", "postgresql+psycopg://***@db.lan/mem"),
    ("postgresql+psycopg://me:hunter2@se:cret@db.lan:5432/mem",
     "postgresql+psycopg://***@db.lan:5432/mem"),
    ("postgresql+psycopg://me:hunter2@se/cret@db.lan/mem", "postgresql+psycopg://***@db.lan/mem"),
    ("postgresql+psycopg://me@db.lan/mem?password=hunter2@secret", "postgresql+psycopg://***@..."),
])
def test_redacted_hides_every_password_and_keeps_the_rest(url, shown):
    assert redacted(url) == shown


@pytest.mark.parametrize("password", ["hunter2@secret", "hunter2@se:cret"])
def test_an_unencoded_at_is_refused_and_no_part_of_the_password_shows(tmp_path, cli, password):
    code, out, err, log = cli(tmp_path, "--store",
                              f"postgresql+psycopg://memory:{password}@{NOWHERE}", "doctor")
    assert code == 1
    assert f"postgresql+psycopg://***@{NOWHERE}" in err and "%40" in err
    assert "hunter2" not in out + err + log and "cret" not in out + err + log


class _Model(BaseHTTPRequestHandler):
    """A model server that writes down every request it gets and answers none."""

    def do_GET(self):
        self.server.seen.append(self.path)
        self.send_error(500)

    def do_POST(self):
        self.server.seen.append(self.rfile.read(int(self.headers["Content-Length"] or 0)))
        self.send_error(500)

    def log_message(self, *args):
        pass


def test_options_after_the_question_are_options_and_never_reach_the_model(tmp_path, cli):
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Model)
    server.seen = []
    threading.Thread(target=server.serve_forever, daemon=True).start()
    model = f"http://127.0.0.1:{server.server_address[1]}/v1"
    try:
        code, out, err, log = cli(tmp_path / "home", "--model", model, "ask", "what", "is",
                                  "the", "code", "--store",
                                  f"postgresql+psycopg://memory:{SECRET}@{NOWHERE}")
    finally:
        server.shutdown()
    assert code == 1 and "127.0.0.1" in err  # the store it was given, which is not there
    assert server.seen == []
    assert SECRET not in out + err + log
    other = tmp_path / "other"
    code, out, _, _ = cli(tmp_path / "home", "search", "code", "--json", "--store",
                          f"sqlite:///{other}")
    assert code == 0 and json.loads(out) == [] and (other / "memory.sqlite3").is_file()


def test_doctor_and_stats_json_hide_a_password_given_as_an_option(tmp_path, cli, pg_url):
    # The test server trusts local connections, so the password is carried along unused.
    url = f"{pg_url}&password={SECRET}&sslpassword={SECRET}&sslkey=/nowhere/key.pem"
    code, out, err, log = cli(tmp_path, "--store", url, "doctor")
    assert code == 0, err
    assert "password=***" in out and "sslpassword=***" in out and "sslkey=/nowhere/key.pem" in out
    assert SECRET not in out + err + log
    code, out, err, log = cli(tmp_path, "memories", "stats", "--json", "--store", url)
    assert code == 0, err
    assert "password=***" in json.loads(out)["home"] and SECRET not in out + err + log


def test_a_url_naming_the_database_file_opens_the_store_in_its_folder(tmp_path, cli, encoder):
    laptop, copy = tmp_path / "laptop", tmp_path / "copy"
    with SqliteStore(laptop, embedding_model=encoder.name, dim=encoder.dim) as store:
        store.add_memories(facts(encoder))
    code, out, err, _ = cli(laptop, "store", "copy", "--from", "sqlite",
                            "--to", f"sqlite:///{copy}/memory.sqlite3")
    assert code == 0, err
    assert (copy / "memory.sqlite3").is_file()
    for home, store in ((copy, "sqlite"), (laptop, f"sqlite:///{copy}/memory.sqlite3"),
                        (laptop, f"sqlite:///{copy}")):
        code, out, err, _ = cli(home, "--store", store, "memories", "stats", "--json")
        assert code == 0, err
        assert json.loads(out)["memories"] == len(facts(encoder)), store


def test_a_url_naming_another_file_is_refused_and_nothing_is_made(tmp_path, cli):
    notes = tmp_path / "notes.db"
    notes.write_bytes(b"not a store")
    for path in (notes, tmp_path / "new" / "memories.sqlite"):
        with pytest.raises(ValueError, match="names a file.*use sqlite:///FOLDER or "
                                             "sqlite:///FOLDER/memory.sqlite3"):
            sqlite_folder(f"sqlite:///{path}", tmp_path)
    code, _, err, _ = cli(tmp_path / "home", "store", "copy", "--from", "sqlite",
                          "--to", f"sqlite:///{tmp_path / 'new' / 'memories.sqlite'}")
    assert code == 1 and "names a file" in err
    assert notes.read_bytes() == b"not a store" and not (tmp_path / "new").exists()


def test_a_database_made_a_folder_by_an_older_copy_says_how_to_mend_it(home, encoder):
    (home / "memory.sqlite3").mkdir(parents=True)
    with pytest.raises(ValueError, match=r"memory.sqlite3 is a folder, not the database.*"
                                         r"Rename it"):
        SqliteStore(home, embedding_model=encoder.name, dim=encoder.dim)
