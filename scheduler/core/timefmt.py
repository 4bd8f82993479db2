"""Time: stored in UTC, shown in the application time zone (Europe/Helsinki) with the patterns
Finnish professionals expect. One formatter for all three languages:

    fi  ti 5.1.2027 klo 13.00      sv  tis 5.1.2027 kl. 13.00      en  Tue 5.1.2027 at 13.00
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time
from email.utils import parsedate_to_datetime
from zoneinfo import ZoneInfo

from babel.dates import format_date as _babel_date
from flask import current_app, has_app_context
from flask_babel import get_locale

_CLOCK_WORD = {"fi": "klo", "sv": "kl.", "en": "at"}
_WEEK_WORD = {"fi": "vk", "sv": "v.", "en": "wk"}


def app_tz() -> ZoneInfo:
    name = current_app.config["APP_TIMEZONE"] if has_app_context() else "Europe/Helsinki"
    return ZoneInfo(name)


def _lang(locale: str | None) -> str:
    if locale:
        return locale[:2]
    try:
        loc = get_locale()
    except (RuntimeError, AttributeError):  # outside a request
        loc = None
    return loc.language if loc else "fi"


def to_local(dt: datetime) -> datetime:
    return dt.astimezone(app_tz())


def local_to_utc(naive_local: datetime) -> datetime:
    """A wall-clock time in the app zone → aware UTC (the fold=0 reading on the autumn repeat)."""
    return naive_local.replace(tzinfo=app_tz()).astimezone(UTC)


def iso_local(dt: datetime | None) -> str | None:
    """2027-01-05T13:00:00+02:00: the API's time format."""
    return to_local(dt).isoformat(timespec="seconds") if dt else None


def format_time(dt: datetime | time) -> str:
    if isinstance(dt, datetime):
        dt = to_local(dt)
    return f"{dt.hour}.{dt.minute:02d}"


def format_day(d: date | datetime, locale: str | None = None) -> str:
    lang = _lang(locale)
    if isinstance(d, datetime):
        d = to_local(d).date()
    return f"{_babel_date(d, 'EEE', locale=lang)} {d.day}.{d.month}.{d.year}"


def clock_word(locale: str | None = None) -> str:
    """klo / kl. / at: between a day and a time."""
    return _CLOCK_WORD.get(_lang(locale), "klo")


def format_datetime(dt: datetime, locale: str | None = None) -> str:
    lang = _lang(locale)
    local = to_local(dt)
    return f"{format_day(local.date(), lang)} {_CLOCK_WORD.get(lang, 'klo')} {format_time(local)}"


def format_range(start: datetime, end: datetime, locale: str | None = None) -> str:
    """ti 5.1.2027 klo 13.00–13.30 (an en dash; the day repeated only when it changes)."""
    lang = _lang(locale)
    ls, le = to_local(start), to_local(end)
    if ls.date() == le.date():
        return f"{format_datetime(start, lang)}–{format_time(le)}"
    return f"{format_datetime(start, lang)} – {format_datetime(end, lang)}"


def week_label(d: date | datetime, locale: str | None = None) -> str:
    lang = _lang(locale)
    if isinstance(d, datetime):
        d = to_local(d).date()
    return f"{_WEEK_WORD.get(lang, 'vk')} {d.isocalendar().week}"


_TIME_RE = re.compile(r"^\s*(\d{1,2})(?:[.:]?(\d{2}))?\s*$")


def parse_time(text: str) -> time:
    """Accept what people type: 13, 1300, 13:00, 13.00, 9.30."""
    m = _TIME_RE.match(text or "")
    if not m:
        raise ValueError(text)
    hour, minute = int(m.group(1)), int(m.group(2) or 0)
    if hour > 23 or minute > 59:
        raise ValueError(text)
    return time(hour, minute)


_DATE_FI = re.compile(r"^\s*(\d{1,2})\.(\d{1,2})\.(\d{4})\s*$")


def parse_date(text: str) -> date:
    """Accept p.k.vvvv (5.1.2027) and ISO (2027-01-05)."""
    text = (text or "").strip()
    m = _DATE_FI.match(text)
    if m:
        return date(int(m.group(3)), int(m.group(2)), int(m.group(1)))
    return date.fromisoformat(text)


def format_mail_date(value) -> str:
    """An e-mail's Date header (RFC 5322, "Wed, 02 Dec 2026 00:52:46 +0000") in Finnish notation;
    a value that is no date is shown as it is."""
    if isinstance(value, datetime):
        return format_datetime(value if value.tzinfo else value.replace(tzinfo=UTC))
    try:
        dt = parsedate_to_datetime(str(value))
    except (TypeError, ValueError, IndexError):
        return str(value or "")
    if dt is None:
        return str(value or "")
    return format_datetime(dt if dt.tzinfo else dt.replace(tzinfo=UTC))


def register_filters(app) -> None:
    app.jinja_env.filters.update(
        datetime=format_datetime,
        daterange=format_range,
        day=format_day,
        clock=format_time,
        week=week_label,
        isolocal=iso_local,
        maildate=format_mail_date,
    )
