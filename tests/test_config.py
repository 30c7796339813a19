"""config.toml in a data folder: its settings apply, and a file that cannot be used says
which file, which key and why; a setting an older version had is ignored, not refused."""

from __future__ import annotations

import logging

import pytest

from assistant.config import ConfigError, load_settings


def write(home, text: str) -> None:
    home.mkdir(parents=True, exist_ok=True)
    (home / "config.toml").write_text(text, encoding="utf-8")


def test_settings_apply_and_the_environment_picks_the_store(home, monkeypatch):
    monkeypatch.delenv("ASSISTANT_STORE", raising=False)
    assert load_settings(home).k == 6  # no file: the defaults
    write(home, 'k = 9\nmodel = "http://localhost:8080/v1"\nstore_url = "sqlite"\n')
    settings = load_settings(home)
    assert (settings.k, settings.model, settings.store_url) == (9, "http://localhost:8080/v1",
                                                                "sqlite")
    monkeypatch.setenv("ASSISTANT_STORE", "postgresql+psycopg://me@db/memory")
    assert load_settings(home).store_url == "postgresql+psycopg://me@db/memory"


@pytest.mark.parametrize("text, message", [
    ("kk = 3\n", r"config.toml: unknown setting 'kk'; known: cache_dir, k, prompt_memories"),
    ('k = "six"\n', r"config.toml: k must be a int, got 'six'"),
    ("k = \n", r"config.toml: not valid TOML .*fix or delete it"),
    ("home = '/elsewhere'\n", r"unknown setting 'home'"),
])
def test_a_config_that_cannot_be_used_says_where_and_why(home, text, message):
    write(home, text)
    with pytest.raises(ConfigError, match=message):
        load_settings(home)


def test_a_retired_setting_is_ignored_with_a_warning(home, caplog):
    write(home, "search_k = 10\nk = 4\n")
    with caplog.at_level(logging.WARNING, logger="assistant.config"):
        assert load_settings(home).k == 4
    assert "search_k is no longer used" in caplog.text
