"""config.py's settings table: every setting declared once, read and checked from the environment,
and the README's Settings table made from it. (The production checks are in test_core.py.)"""

from __future__ import annotations

import ipaddress
import re
from pathlib import Path

import pytest

from scheduler import create_app
from scheduler.config import DERIVED, SETTINGS, ConfigError, load_config, markdown_table

ROOT = Path(__file__).resolve().parent.parent

BAD_VALUES = {
    "int": ["many", "1.5"],
    "bool": ["perhaps"],
    "choice": ["staging"],
    "timezone": ["Europe/Nowhere"],
    "url": ["konsultaatio.example.fi", "ftp://example.fi"],
    "https_url": ["http://login.example.fi"],
    "email": ["not an address", "nobody"],
    "database_url": ["mysql://db/x"],
    "networks": ["10.0.0.0/33", "10.0.0.0/8,intranet"],
}


def _readme_table() -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("\n## Settings\n", 1)[1].split("\n## ", 1)[0]
    return "".join(line + "\n" for line in section.splitlines() if line.startswith("|"))


def test_the_readme_table_is_the_declared_table():
    assert _readme_table() == markdown_table(), "run: python scripts/settings_table.py"
    names = re.findall(r"^\| `([A-Z_]+)`", _readme_table(), flags=re.M)
    assert names == [s.name for s in SETTINGS] and len(set(names)) == len(names)


def test_each_setting_is_declared_once_with_a_description():
    for s in SETTINGS:
        assert s.description and "\n" not in s.description, s.name
        if s.kind == "int":
            assert s.low is not None and s.high is not None and s.low <= s.default <= s.high, s.name
        if s.kind == "choice":
            assert s.default in s.choices, s.name
        if s.default is DERIVED:
            assert s.shown, s.name  # the README says what the default is


@pytest.mark.parametrize("setting", [s for s in SETTINGS if s.kind in BAD_VALUES], ids=lambda s: s.name)
def test_a_bad_value_stops_start_up_and_names_the_setting(tmp_path, setting):
    values = list(BAD_VALUES[setting.kind])
    if setting.kind == "int":
        values += [str(setting.low - 1), str(setting.high + 1)]
    for value in values:
        with pytest.raises(ConfigError) as err:
            load_config(str(tmp_path), {setting.name: value})
        assert setting.name in str(err.value), (value, str(err.value))


def test_defaults_come_from_the_table(tmp_path):
    cfg = load_config(str(tmp_path), {})
    for s in SETTINGS:
        if s.kind == "networks":
            assert cfg[s.name] == [ipaddress.ip_network(n) for n in s.default.split(",")], s.name
        elif s.default is not DERIVED:
            assert cfg[s.name] == s.default, s.name
    assert cfg["ENTRA_AUTHORITY_URL"] == cfg["GRAPH_AUTHORITY_URL"]
    assert cfg["MAIL_FROM"] == "no-reply@127.0.0.1" and cfg["ACCESSIBILITY_FEEDBACK_EMAIL"] == ""
    assert "DATABASE_URL" not in cfg and "INSTANCE_PATH" not in cfg  # SQLALCHEMY_DATABASE_URI; the factory's


def test_the_settings_that_could_not_be_set_before(tmp_path):
    cfg = load_config(str(tmp_path), {
        "PANEL_HORIZON_MONTHS": "6", "SUBMISSION_REMINDER_DAYS": "0", "OUTBOX_MAX_ATTEMPTS": "3",
        "OUTBOX_BACKOFF_SECONDS": "30", "OUTBOX_BACKOFF_CAP_SECONDS": "600", "MAIL_FROM_NAME": " Konsultaatiot ",
        "APP_ENV": "Production ", "SECRET_KEY": "k" * 40, "BASE_URL": "https://konsultaatio.example.fi/",
        "DATABASE_URL": "postgres://sched@db/sched", "ACCESSIBILITY_FEEDBACK_EMAIL": "saavutettavuus@example.fi",
    })
    assert (cfg["PANEL_HORIZON_MONTHS"], cfg["SUBMISSION_REMINDER_DAYS"], cfg["OUTBOX_MAX_ATTEMPTS"]) == (6, 0, 3)
    assert (cfg["OUTBOX_BACKOFF_SECONDS"], cfg["OUTBOX_BACKOFF_CAP_SECONDS"]) == (30, 600)
    assert cfg["MAIL_FROM_NAME"] == "Konsultaatiot" and cfg["PRODUCTION"] and cfg["APP_ENV"] == "production"
    assert cfg["BASE_URL"] == "https://konsultaatio.example.fi"
    assert cfg["SQLALCHEMY_DATABASE_URI"] == "postgresql+psycopg://sched@db/sched"


def test_rules_between_settings(tmp_path):
    with pytest.raises(ConfigError, match="OUTBOX_BACKOFF_CAP_SECONDS must be at least OUTBOX_BACKOFF_SECONDS"):
        load_config(str(tmp_path), {"OUTBOX_BACKOFF_SECONDS": "600", "OUTBOX_BACKOFF_CAP_SECONDS": "60"})
    with pytest.raises(ConfigError, match="MAIL_FROM_NAME needs a plain MAIL_FROM"):
        load_config(str(tmp_path), {"MAIL_FROM": "Konsultaatiot <noreply@example.fi>", "MAIL_FROM_NAME": "K"})
    # every bad setting is named, each once
    with pytest.raises(ConfigError) as err:
        load_config(str(tmp_path), {"SMTP_PORT": "x", "PANEL_HORIZON_MONTHS": "0", "SCHEDULER_ENABLED": "maybe"})
    msg = str(err.value)
    assert all(msg.count(name) == 1 for name in ("SMTP_PORT", "PANEL_HORIZON_MONTHS", "SCHEDULER_ENABLED")), msg


def test_the_app_takes_its_settings_from_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("INSTANCE_PATH", str(tmp_path))
    monkeypatch.setenv("PANEL_HORIZON_MONTHS", "18")
    monkeypatch.setenv("OUTBOX_MAX_ATTEMPTS", "4")
    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'c.sqlite3'}"})
    assert app.instance_path == str(tmp_path)
    assert (app.config["PANEL_HORIZON_MONTHS"], app.config["OUTBOX_MAX_ATTEMPTS"]) == (18, 4)
    monkeypatch.setenv("PANEL_HORIZON_MONTHS", "61")
    with pytest.raises(ConfigError, match="PANEL_HORIZON_MONTHS must be between 1 and 60, got 61"):
        create_app()


ENV_READ = re.compile(r"""(?:environ\.get|environ\[|getenv)\(?\s*["']([A-Z0-9_]+)["']""")
# not settings: markers the Flask/Werkzeug reloader sets for its own processes
RUNTIME_MARKERS = {"FLASK_RUN_FROM_CLI", "WERKZEUG_RUN_MAIN"}
# declared in the table, but a library reads it from the environment itself (prometheus_client)
LIBRARY_SETTINGS = {"PROMETHEUS_MULTIPROC_DIR"}


def test_only_config_py_reads_settings_from_the_environment():
    read = {}
    for path in (ROOT / "scheduler").rglob("*.py"):
        if path.name == "config.py" and path.parent.name == "scheduler":
            continue
        for name in ENV_READ.findall(path.read_text(encoding="utf-8")):
            read.setdefault(name, []).append(str(path.relative_to(ROOT)))
    assert set(read) <= RUNTIME_MARKERS | LIBRARY_SETTINGS, read
    assert LIBRARY_SETTINGS <= {s.name for s in SETTINGS}
