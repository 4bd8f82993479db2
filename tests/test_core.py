from datetime import UTC, datetime, time

import pytest

from scheduler.config import ConfigError, load_config
from scheduler.core.errors import ValidationFailed
from scheduler.core.privacy import find_identity_codes, refuse_identity_codes
from scheduler.core.timefmt import format_datetime, format_range, parse_date, parse_time


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
    assert "SECRET_KEY" in msg and "BASE_URL" in msg and "DATABASE_URL" in msg
    with pytest.raises(ConfigError, match="SMTP_PORT"):
        load_config(str(tmp_path), {"SMTP_PORT": "twenty-five"})
    with pytest.raises(ConfigError, match="GRAPH"):
        load_config(str(tmp_path), {"GRAPH_TENANT_ID": "t"})
    ok = load_config(str(tmp_path), {"APP_ENV": "production", "SECRET_KEY": "x" * 40,
                                     "BASE_URL": "https://konsultaatio.example.fi",
                                     "DATABASE_URL": "postgresql://u@db/sched"})
    assert ok["SESSION_COOKIE_SECURE"] and ok["SQLALCHEMY_DATABASE_URI"].startswith("postgresql+psycopg://")


def test_dev_defaults(tmp_path):
    cfg = load_config(str(tmp_path), {})
    assert cfg["SQLALCHEMY_DATABASE_URI"].startswith("sqlite:///")
    assert cfg["APP_TIMEZONE"] == "Europe/Helsinki" and not cfg["GRAPH_ENABLED"] and not cfg["SMTP_HOST"]
