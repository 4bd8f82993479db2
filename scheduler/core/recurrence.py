"""Recurrence, once for the whole application: consultation series and panel sessions.

An RFC 5545 RRULE (no DTSTART in it) is read over a first start given as a naive local
wall-clock time (Europe/Helsinki), so a weekly 13.00 stays 13.00 when the clocks change; the
caller converts each start to UTC on its own (core.timefmt.local_to_utc). Finnish public
holidays (the `holidays` package, one cache here) and July (the panels' summer break) are
skipped when asked. Rules that could run away (one that never meets, numbers out of range) are
refused before they are stored. Pure functions: no database, no application context.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import MAXYEAR, date, datetime, timedelta
from functools import lru_cache

import holidays
from dateutil.rrule import rrule, rrulestr

WEEKDAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")  # index = date.weekday()
FREQUENCIES = ("WEEKLY", "MONTHLY", "DAILY")
SUMMER_BREAK_MONTH = 7  # July
# a rule is checked against some start; any will do, the rule's own parts are what can be wrong
_CHECK_START = datetime(2027, 1, 1, 12, 0)
_BYDAY = re.compile(r"^([+-]?\d{1,2})?(MO|TU|WE|TH|FR|SA|SU)$")
GREGORIAN_CYCLE_YEARS = 400  # the calendar (weekdays, leap years) repeats exactly every 400 years
_RANGES = {"INTERVAL": (1, 366), "COUNT": (1, 10_000), "BYMONTHDAY": (-31, 31), "BYMONTH": (1, 12),
           "BYSETPOS": (-366, 366), "BYYEARDAY": (-366, 366), "BYWEEKNO": (-53, 53)}


# --- reading a rule ----------------------------------------------------------------------------

def normalise_rule(rule: str | None) -> str:
    """Strip it, drop an "RRULE:" prefix, upper-case it: the form rules are stored in."""
    text = (rule or "").strip()
    if text.upper().startswith("RRULE:"):
        text = text[6:]
    return text.upper()


def rule_parts(rule: str) -> dict[str, str]:
    """{"FREQ": "WEEKLY", "BYDAY": "TU", ...} of a rule (normalised first)."""
    return dict(p.split("=", 1) for p in normalise_rule(rule).split(";") if "=" in p)


def parse_rule(rule: str, first_start: datetime) -> rrule:
    """The dateutil rule for a rule text over its first start (naive local); ValueError when it is
    not one usable RRULE: several lines, a DTSTART of its own, or a FREQ other than
    WEEKLY, MONTHLY or DAILY."""
    text = normalise_rule(rule)
    if not text or "DTSTART" in text or any(c.isspace() for c in text):
        raise ValueError("an RRULE on one line, without DTSTART")
    if rule_parts(text).get("FREQ") not in FREQUENCIES:
        raise ValueError("FREQ must be WEEKLY, MONTHLY or DAILY")
    return _parsed(text, first_start)


@lru_cache(maxsize=4096)
def _parsed(text: str, first_start: datetime) -> rrule:
    # cache=True: the expanded occurrences stay on the (cached) rule, so listing the same series
    # again does not expand it again from its first start
    return rrulestr(text, dtstart=first_start, cache=True)  # type: ignore[return-value]


def validate_rule(rule: str | None) -> str:
    """The normalised rule, or ValueError when it cannot be used (see parse_rule)."""
    text = normalise_rule(rule)
    parse_rule(text, _CHECK_START)
    return text


# --- rules that cannot run away ----------------------------------------------------------------
# dateutil searches a rule period by period until it finds an occurrence, up to the year 9999. A
# rule that never matches (`FREQ=MONTHLY;BYMONTH=2;BYMONTHDAY=31`, `BYDAY=MO;BYSETPOS=6`,
# `BYMONTHDAY=-40`) therefore costs seconds on every expansion (each listing of slots, each run of
# the session job), and a handful of them held a worker for good. So a rule is accepted only when
# its numbers are in range and it meets at least once within about a year of its first start; the
# check itself is bounded (see `occurs_within`).

def check_rule_numbers(rule: str) -> None:
    """ValueError when a number in the rule is out of its range (dateutil accepts BYMONTHDAY=-40)."""
    parts = rule_parts(rule)
    for key, (low, high) in _RANGES.items():
        raw = parts.get(key)
        if raw is None:
            continue
        for item in raw.split(","):
            n = int(item)  # ValueError for non-numbers
            if not low <= n <= high or n == 0:
                raise ValueError(f"{key} out of range")


def occurs_within(rule: str, dtstart: datetime, *, days: int = 400) -> bool:
    """Whether the rule meets within `days` of `dtstart` (naive wall time).

    Tested on a copy of `dtstart` moved by whole 400-year cycles to just below the year 9999, where
    the calendar is the same but dateutil's search ends within one cycle even for a rule that never
    matches (COUNT and UNTIL are left out: they only end a series)."""
    kept = ";".join(f"{k}={v}" for k, v in rule_parts(rule).items() if k not in ("COUNT", "UNTIL"))
    shift = ((MAXYEAR - 2 - dtstart.year) // GREGORIAN_CYCLE_YEARS) * GREGORIAN_CYCLE_YEARS
    start = dtstart.replace(year=dtstart.year + shift, tzinfo=None)
    first = next(iter(rrulestr(kept, dtstart=start)), None)
    return first is not None and first <= start + timedelta(days=days)


# --- the rules people choose in a form ----------------------------------------------------------

@dataclass(frozen=True)
class SimpleRule:
    """A rule on one weekday: every `interval` weeks, or the `ordinal`-th weekday of every
    `interval` months (ordinal -1 = the last)."""

    freq: str  # "WEEKLY" or "MONTHLY"
    weekday: str  # MO..SU
    ordinal: int | None  # MONTHLY only
    interval: int = 1


def weekly_rule(weekday: str, interval: int = 1) -> str:
    """TU → FREQ=WEEKLY;BYDAY=TU; TU, 2 → FREQ=WEEKLY;INTERVAL=2;BYDAY=TU."""
    if weekday not in WEEKDAYS or interval < 1:
        raise ValueError(weekday)
    return f"FREQ=WEEKLY;BYDAY={weekday}" if interval == 1 else f"FREQ=WEEKLY;INTERVAL={interval};BYDAY={weekday}"


def monthly_rule(weekday: str, ordinal: int, interval: int = 1, *, signed: bool = False) -> str:
    """TH, 2 → FREQ=MONTHLY;BYDAY=2TH (signed: +2TH, as consultation series have always been
    stored); FR, -1 → FREQ=MONTHLY;BYDAY=-1FR (the last Friday)."""
    if weekday not in WEEKDAYS or ordinal not in (1, 2, 3, 4, -1) or interval < 1:
        raise ValueError(f"{ordinal}{weekday}")
    day = f"{ordinal:+d}{weekday}" if signed else f"{ordinal}{weekday}"
    return f"FREQ=MONTHLY;BYDAY={day}" if interval == 1 else f"FREQ=MONTHLY;INTERVAL={interval};BYDAY={day}"


def nth_weekday(day: date) -> int:
    """Which of its month's weekdays `day` is: 1..4, or -1 for a fifth (the fifth is the last)."""
    n = (day.day - 1) // 7 + 1
    return -1 if n == 5 else n


def simple_rule(rule: str) -> SimpleRule | None:
    """A rule taken apart when it is one a form can show (FREQ, one BYDAY, INTERVAL and nothing
    else); None for anything else (a rule given through the API stays as it is)."""
    parts = rule_parts(rule)
    if set(parts) - {"FREQ", "BYDAY", "INTERVAL"}:
        return None
    m = _BYDAY.match(parts.get("BYDAY", ""))
    try:
        interval = int(parts.get("INTERVAL", "1"))
    except ValueError:
        return None
    if not m or interval < 1:
        return None
    ordinal = int(m.group(1)) if m.group(1) else None
    freq = parts.get("FREQ")
    if freq == "WEEKLY" and ordinal is None:
        return SimpleRule("WEEKLY", m.group(2), None, interval)
    if freq == "MONTHLY" and ordinal is not None:
        return SimpleRule("MONTHLY", m.group(2), ordinal, interval)
    return None


# --- days off ----------------------------------------------------------------------------------

@lru_cache(maxsize=64)
def finnish_holidays(year: int) -> frozenset[date]:
    """Finnish public holidays of a year (building them costs milliseconds: keep them)."""
    return frozenset(holidays.country_holidays("FI", years=year))


def is_holiday(day: date) -> bool:
    return day in finnish_holidays(day.year)


def is_skipped(day: date, *, skip_july: bool = False, skip_holidays: bool = False) -> bool:
    if skip_july and day.month == SUMMER_BREAK_MONTH:
        return True
    return skip_holidays and is_holiday(day)


# --- expanding ---------------------------------------------------------------------------------

def starts(rule: str, first_start: datetime, *, after: datetime, before: datetime,
           last_day: date | None = None, skip_july: bool = False, skip_holidays: bool = False) -> list[datetime]:
    """Naive local start times of the rule from first_start in [after, before), up to last_day
    (inclusive) when given, without the July and holiday dates when asked. ValueError for a rule
    parse_rule refuses."""
    out: list[datetime] = []
    if after > before:
        return out
    for start in parse_rule(rule, first_start).between(after, before, inc=True):
        if start >= before or (last_day is not None and start.date() > last_day):
            break
        if is_skipped(start.date(), skip_july=skip_july, skip_holidays=skip_holidays):
            continue
        out.append(start)
    return out
