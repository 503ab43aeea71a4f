"""Settings from the environment and the ``tiepdan`` command as a newcomer would run it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot.settings import Settings, SettingsError, TelegramMode, load_settings

ROOT = Path(__file__).resolve().parents[1]


def test_defaults_need_no_configuration(monkeypatch):
    for name in list(os.environ):
        if name.startswith("TIEPDAN_"):
            monkeypatch.delenv(name)
    settings = Settings(_env_file=None)
    assert settings.database_url == "sqlite+aiosqlite:///./tiepdan.db"
    assert (settings.web_host, settings.web_port) == ("127.0.0.1", 8080)
    assert settings.timezone == "Asia/Ho_Chi_Minh" and settings.default_language.value == "vi"
    assert settings.telegram_token is None and settings.telegram_mode is TelegramMode.polling


def test_environment_overrides_and_plain_postgres_urls_get_the_async_driver(monkeypatch):
    monkeypatch.setenv("TIEPDAN_DATABASE_URL", "postgresql://tiepdan@db:5432/tiepdan")
    monkeypatch.setenv("TIEPDAN_WEB_PORT", "9090")
    settings = load_settings(_env_file=None)
    assert settings.database_url == "postgresql+asyncpg://tiepdan@db:5432/tiepdan"
    assert settings.web_port == 9090


@pytest.mark.parametrize("variable, value, named", [
    ("TIEPDAN_WEB_PORT", "eighty", "TIEPDAN_WEB_PORT"),
    ("TIEPDAN_WEB_PORT", "70000", "TIEPDAN_WEB_PORT"),
    ("TIEPDAN_TIMEZONE", "Mars/Olympus", "TIEPDAN_TIMEZONE"),
    ("TIEPDAN_DATABASE_URL", "mysql://x", "TIEPDAN_DATABASE_URL"),
    ("TIEPDAN_TELEGRAM_MODE", "carrier-pigeon", "TIEPDAN_TELEGRAM_MODE"),
    ("TIEPDAN_DEFAULT_LANGUAGE", "fr", "TIEPDAN_DEFAULT_LANGUAGE"),
])
def test_a_wrong_value_names_the_variable(monkeypatch, variable, value, named):
    monkeypatch.setenv(variable, value)
    with pytest.raises(SettingsError) as caught:
        load_settings(_env_file=None)
    assert str(caught.value).startswith(named + ":")
    assert "\n" not in str(caught.value)


def test_webhook_mode_requires_url_and_secret(monkeypatch):
    monkeypatch.setenv("TIEPDAN_TELEGRAM_TOKEN", "123:ABC")
    monkeypatch.setenv("TIEPDAN_TELEGRAM_MODE", "webhook")
    with pytest.raises(SettingsError, match="TIEPDAN_TELEGRAM_WEBHOOK_URL"):
        load_settings(_env_file=None)
    monkeypatch.setenv("TIEPDAN_TELEGRAM_WEBHOOK_URL", "https://example.org/telegram/webhook")
    monkeypatch.setenv("TIEPDAN_TELEGRAM_WEBHOOK_SECRET", "has spaces")
    with pytest.raises(SettingsError, match="TIEPDAN_TELEGRAM_WEBHOOK_SECRET"):
        load_settings(_env_file=None)


def _tiepdan(*args, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("TIEPDAN_")}
    clean["PYTHONPATH"] = str(ROOT)
    return subprocess.run([sys.executable, "-m", "bot.cli", *args], env={**clean, **env}, cwd=cwd,
                          capture_output=True, text=True, timeout=120)


def test_cli_refuses_a_bad_setting_with_one_line(tmp_path):
    result = _tiepdan("db", "upgrade", env={"TIEPDAN_WEB_PORT": "x"}, cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [result.stderr.strip()]
    assert "TIEPDAN_WEB_PORT" in result.stderr and "Traceback" not in result.stderr


def test_cli_db_upgrade_and_demo_data_are_idempotent(tmp_path):
    env = {"TIEPDAN_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}"}
    upgraded = _tiepdan("db", "upgrade", env=env, cwd=tmp_path)
    assert upgraded.returncode == 0, upgraded.stderr
    assert "database at revision" in upgraded.stdout
    first = _tiepdan("demo-data", env=env, cwd=tmp_path)
    second = _tiepdan("demo-data", env=env, cwd=tmp_path)
    assert "seeded" in first.stdout and "already present" in second.stdout


def test_serve_stops_with_one_line_when_the_database_cannot_be_migrated(tmp_path):
    """serve migrates in a child process (storage.migrate.upgrade_in_child); its failure still stops
    the start-up, with one line naming the error and no traceback."""
    import socket
    import sqlite3

    with socket.socket() as probe:  # should it start after all, on a port of its own
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    database = tmp_path / "clashing.db"
    with sqlite3.connect(database) as connection:  # a table the first migration creates
        connection.execute("CREATE TABLE users (x INTEGER)")
    result = _tiepdan("serve", env={"TIEPDAN_DATABASE_URL": f"sqlite+aiosqlite:///{database}",
                                    "TIEPDAN_WEB_PORT": str(port)}, cwd=tmp_path)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr and "web chat at" not in result.stdout
    errors = [line for line in result.stderr.splitlines() if line.startswith("tiepdan:")]
    assert errors == [errors[0]] and "could not be migrated" in errors[0] and "users already exists" in errors[0]


def test_the_server_does_not_import_what_it_does_not_run():
    """Alembic (serve migrates in a child process), every country of holidays but Vietnam and the
    vietnam-provinces package's objects (the commune index reads its data file), and with Telegram
    off, python-telegram-bot: together 26 MB of a web-only server at start, 18 MB with Telegram."""
    code = ("import sys; import bot.cli, bot.app; from bot.domain.communes import search_communes; "
            "from bot.domain.calendar import DEFAULT_CALENDAR; from datetime import date; "
            "assert search_communes('hoan kiem') and DEFAULT_CALENDAR.is_working_day(date(2026, 2, 13)); "
            "print(sorted({m.split('.')[0] for m in sys.modules if m.split('.')[0] in "
            "('alembic', 'mako', 'vietnam_provinces', 'telegram')} | "
            "{m for m in sys.modules if m.startswith('holidays.countries')}))")
    clean = {k: v for k, v in os.environ.items() if not k.startswith("TIEPDAN_")}
    result = subprocess.run([sys.executable, "-c", code], env={**clean, "PYTHONPATH": str(ROOT)}, cwd=ROOT,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_settle_heap_takes_what_start_up_allocated_out_of_the_collectors_sight():
    """serve calls it once started (bot.app.settle_heap): a full collection then no longer walks the
    modules, settings and caches start-up left, which held every message 110-220 ms at a time."""
    import gc

    from bot.app import settle_heap

    gc.unfreeze()
    try:
        settle_heap()
        assert gc.get_freeze_count() > 10_000
    finally:
        gc.unfreeze()
