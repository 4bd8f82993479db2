import os
import re
import subprocess
import sys
from datetime import UTC, datetime, time
from pathlib import Path

import pytest

from scheduler.config import ConfigError, load_config
from scheduler.core.errors import ValidationFailed
from scheduler.core.privacy import find_identity_codes, refuse_identity_codes
from scheduler.core.timefmt import format_datetime, format_range, parse_date, parse_time

ROOT = Path(__file__).resolve().parent.parent
FLASK = Path(sys.executable).parent / "flask"


def test_identity_codes_are_found_with_their_check_character():
    assert find_identity_codes("Lapsi 131052-308T asiakkaana") == ["131052-308T"]
    assert find_identity_codes("010594Y9021") == ["010594Y9021"]  # new century signs (2023)
    assert find_identity_codes("131052-308A") == []  # wrong check character
    assert find_identity_codes("case LS-2027-014, tel 040 1234567") == []
    with pytest.raises(ValidationFailed) as err:
        refuse_identity_codes(case_ref="ok", question="hetu 131052-308T")
    assert set(err.value.fields) == {"question"}


def test_finnish_date_patterns(app):
    dt = datetime(2027, 1, 5, 11, 0, tzinfo=UTC)  # 13.00 in Helsinki (EET)
    assert format_datetime(dt, "fi") == "ti 5.1.2027 klo 13.00"
    assert format_datetime(dt, "sv") == "tis 5.1.2027 kl. 13.00"
    assert format_datetime(dt, "en") == "Tue 5.1.2027 at 13.00"
    end = datetime(2027, 1, 5, 11, 30, tzinfo=UTC)
    assert format_range(dt, end, "fi") == "ti 5.1.2027 klo 13.00–13.30"


def test_typed_times_and_dates():
    for typed in ["13", "1300", "13:00", "13.00"]:
        assert parse_time(typed) == time(13, 0)
    assert parse_time("9.30") == time(9, 30)
    with pytest.raises(ValueError):
        parse_time("25.00")
    assert parse_date("5.1.2027").isoformat() == "2027-01-05"
    assert parse_date("2027-01-05").isoformat() == "2027-01-05"


def test_production_config_refuses_missing_settings(tmp_path):
    with pytest.raises(ConfigError) as err:
        load_config(str(tmp_path), {"APP_ENV": "production"})
    msg = str(err.value)
    assert "SECRET_KEY" in msg and "BASE_URL" in msg and "DATABASE_URL" in msg and "ACCESSIBILITY_FEEDBACK_EMAIL" in msg
    with pytest.raises(ConfigError, match="SMTP_PORT"):
        load_config(str(tmp_path), {"SMTP_PORT": "twenty-five"})
    with pytest.raises(ConfigError, match="GRAPH"):
        load_config(str(tmp_path), {"GRAPH_TENANT_ID": "t"})
    ok = load_config(str(tmp_path), {"APP_ENV": "production", "SECRET_KEY": "x" * 40,
                                     "BASE_URL": "https://konsultaatio.example.fi",
                                     "DATABASE_URL": "postgresql://u@db/sched",
                                     "ACCESSIBILITY_FEEDBACK_EMAIL": "saavutettavuus@example.fi"})
    assert ok["SESSION_COOKIE_SECURE"] and ok["SQLALCHEMY_DATABASE_URI"].startswith("postgresql+psycopg://")


def test_dev_defaults(tmp_path):
    cfg = load_config(str(tmp_path), {})
    assert cfg["SQLALCHEMY_DATABASE_URI"].startswith("sqlite:///")
    assert cfg["APP_TIMEZONE"] == "Europe/Helsinki" and not cfg["GRAPH_ENABLED"] and not cfg["SMTP_HOST"]


# --- settings ------------------------------------------------------------------------------------

PROD = {"APP_ENV": "production", "SECRET_KEY": "s" * 40, "BASE_URL": "https://konsultaatio.example.fi",
        "DATABASE_URL": "postgresql+psycopg://sched@db.example.fi/sched",
        "ACCESSIBILITY_FEEDBACK_EMAIL": "saavutettavuus@example.fi"}


def test_production_names_each_missing_setting_once(tmp_path):
    for missing in ["SECRET_KEY", "BASE_URL", "DATABASE_URL", "ACCESSIBILITY_FEEDBACK_EMAIL"]:
        env = {k: v for k, v in PROD.items() if k != missing}
        with pytest.raises(ConfigError) as err:
            load_config(str(tmp_path), env)
        assert str(err.value).count(missing) == 1, str(err.value)
    # malformed values, each named
    for key, value, fragment in [
        ("SECRET_KEY", "short", "at least 32"),
        ("BASE_URL", "http://konsultaatio.example.fi", "https"),
        ("BASE_URL", "konsultaatio.example.fi", "http(s) address"),
        ("DATABASE_URL", "mysql://db/x", "postgresql+psycopg://"),
        ("APP_TIMEZONE", "Europe/Nowhere", "APP_TIMEZONE"),
        ("SESSION_IDLE_MINUTES", "0", "SESSION_IDLE_MINUTES"),
        ("SESSION_MAX_HOURS", "twelve", "SESSION_MAX_HOURS"),
        ("LOGIN_MAX_FAILURES", "-1", "LOGIN_MAX_FAILURES"),
        ("SMTP_PORT", "70000", "SMTP_PORT"),
        ("SMTP_STARTTLS", "perhaps", "SMTP_STARTTLS"),
        ("MAIL_FROM", "not an address", "MAIL_FROM"),
        ("ACCESSIBILITY_FEEDBACK_EMAIL", "nobody", "ACCESSIBILITY_FEEDBACK_EMAIL"),
        # the feedback address must be read by somebody: never the no-reply sender
        ("ACCESSIBILITY_FEEDBACK_EMAIL", "no-reply@konsultaatio.example.fi", "not the sender address"),
        ("GRAPH_AUTHORITY_URL", "http://login.example", "GRAPH_AUTHORITY_URL"),
        ("ENTRA_CLIENT_ID", "abc", "ENTRA_TENANT_ID"),
    ]:
        with pytest.raises(ConfigError, match=re.escape(fragment)):
            load_config(str(tmp_path), {**PROD, key: value})
    with pytest.raises(ConfigError, match="MAIL_FROM is required"):
        load_config(str(tmp_path), {**PROD, "SMTP_HOST": "smtp.example.fi"})


def test_settings_are_read(tmp_path):
    cfg = load_config(str(tmp_path), {
        **PROD, "APP_TIMEZONE": "Europe/Stockholm", "SMTP_HOST": "smtp.example.fi", "SMTP_PORT": "587",
        "SMTP_USERNAME": "u", "SMTP_PASSWORD": "p", "SMTP_STARTTLS": "yes", "MAIL_FROM": "Konsultaatiot <noreply@example.fi>",
        "SCHEDULER_ENABLED": "1", "SESSION_IDLE_MINUTES": "15", "SESSION_MAX_HOURS": "8", "LOGIN_MAX_FAILURES": "3",
        "LOGIN_MAX_FAILURES_PER_ADDRESS": "10", "LOGIN_LOCK_MINUTES": "20", "REMINDER_HOURS": "48",
        "TRUSTED_PROXY_COUNT": "1", "ACCESSIBILITY_FEEDBACK_EMAIL": "saavutettavuus@example.fi",
        "GRAPH_TENANT_ID": "t", "GRAPH_CLIENT_ID": "c", "GRAPH_CLIENT_SECRET": "s", "GRAPH_ORGANIZER": "teams@example.fi",
        "ENTRA_TENANT_ID": "t", "ENTRA_CLIENT_ID": "c", "ENTRA_CLIENT_SECRET": "s",
    })
    assert cfg["PRODUCTION"] and cfg["HTTPS"] and cfg["SESSION_COOKIE_SECURE"] and cfg["SESSION_COOKIE_NAME"] == "__Host-session"
    assert (cfg["SMTP_PORT"], cfg["SMTP_STARTTLS"], cfg["SCHEDULER_ENABLED"]) == (587, True, True)
    assert (cfg["SESSION_IDLE_MINUTES"], cfg["SESSION_MAX_HOURS"], cfg["LOGIN_MAX_FAILURES"]) == (15, 8, 3)
    assert (cfg["LOGIN_MAX_FAILURES_PER_ADDRESS"], cfg["LOGIN_LOCK_MINUTES"], cfg["REMINDER_HOURS"]) == (10, 20, 48)
    assert cfg["GRAPH_ENABLED"] and cfg["ENTRA_ENABLED"] and cfg["APP_TIMEZONE"] == "Europe/Stockholm"
    assert cfg["ACCESSIBILITY_FEEDBACK_EMAIL"] == "saavutettavuus@example.fi" and cfg["TRUSTED_PROXY_COUNT"] == 1
    # the setting's earlier name is still read
    assert load_config(str(tmp_path), {**{k: v for k, v in PROD.items() if k != "ACCESSIBILITY_FEEDBACK_EMAIL"},
                                       "ACCESSIBILITY_CONTACT": "palaute@example.fi"})["ACCESSIBILITY_FEEDBACK_EMAIL"] \
        == "palaute@example.fi"
    assert cfg["GRAPH_AUTHORITY_URL"] == "https://login.microsoftonline.com"
    assert cfg["GRAPH_API_URL"] == "https://graph.microsoft.com/v1.0"


def test_without_smtp_mail_goes_to_eml_files_in_the_instance_outbox(tmp_path):
    cfg = load_config(str(tmp_path), {})
    assert cfg["SMTP_HOST"] == "" and cfg["OUTBOX_DIR"] == str(tmp_path / "outbox")
    assert cfg["ACCESSIBILITY_FEEDBACK_EMAIL"] == ""  # no fallback to the no-reply sender
    assert not cfg["HTTPS"] and not cfg["SESSION_COOKIE_SECURE"] and cfg["SESSION_COOKIE_HTTPONLY"]
    assert cfg["SESSION_COOKIE_SAMESITE"] == "Lax" and (cfg["SESSION_IDLE_MINUTES"], cfg["SESSION_MAX_HOURS"]) == (30, 12)
    # the development key is random per installation and kept
    assert cfg["SECRET_KEY"] == load_config(str(tmp_path), {})["SECRET_KEY"] and len(cfg["SECRET_KEY"]) >= 32


def _flask(args, env_extra, tmp_path, stdin=None):
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "SECRET_KEY", "BASE_URL", "APP_ENV"}}
    env.update({"INSTANCE_PATH": str(tmp_path), **env_extra})
    return subprocess.run([str(FLASK), "--app", "app", *args], cwd=ROOT, env=env, input=stdin, capture_output=True,
                          text=True, timeout=120)


def test_production_start_stops_with_a_clear_message(tmp_path):
    result = _flask(["routes"], {"APP_ENV": "production"}, tmp_path)
    assert result.returncode != 0
    assert "SECRET_KEY is required" in result.stderr and "BASE_URL is required" in result.stderr
    assert "DATABASE_URL is required" in result.stderr
    assert "Traceback" not in result.stderr
    ok = _flask(["routes"], {**PROD, "DATABASE_URL": f"sqlite:///{tmp_path / 'p.sqlite3'}"}, tmp_path)
    assert ok.returncode == 0, ok.stderr
    assert "/healthz" in ok.stdout
