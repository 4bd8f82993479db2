"""Recurrence rules that cannot run away.

dateutil searches a rule period by period until it finds an occurrence, up to the year 9999. A rule
that never matches (`FREQ=MONTHLY;BYMONTH=2;BYMONTHDAY=31`, `BYDAY=MO;BYSETPOS=6`, `BYMONTHDAY=-40`)
therefore costs seconds on every expansion (each listing of slots, each run of the session job),
and a handful of them held a worker for good. So a rule is accepted only when its numbers are in
range and it meets at least once within about a year of its first start; the check itself is
bounded (see `occurs_within`).
"""

from __future__ import annotations

from datetime import MAXYEAR, datetime, timedelta

from dateutil.rrule import rrulestr

GREGORIAN_CYCLE_YEARS = 400  # the calendar (weekdays, leap years) repeats exactly every 400 years
_RANGES = {"INTERVAL": (1, 366), "COUNT": (1, 10_000), "BYMONTHDAY": (-31, 31), "BYMONTH": (1, 12),
           "BYSETPOS": (-366, 366), "BYYEARDAY": (-366, 366), "BYWEEKNO": (-53, 53)}


def _parts(rule: str) -> dict[str, str]:
    text = (rule or "").strip()
    if text.upper().startswith("RRULE:"):
        text = text[6:]
    return {k.strip().upper(): v.strip().upper() for k, _, v in (p.partition("=") for p in text.split(";")) if k}


def check_rule_numbers(rule: str) -> None:
    """ValueError when a number in the rule is out of its range (dateutil accepts BYMONTHDAY=-40)."""
    for key, (low, high) in _RANGES.items():
        raw = _parts(rule).get(key)
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
    kept = ";".join(f"{k}={v}" for k, v in _parts(rule).items() if k not in ("COUNT", "UNTIL"))
    shift = ((MAXYEAR - 2 - dtstart.year) // GREGORIAN_CYCLE_YEARS) * GREGORIAN_CYCLE_YEARS
    start = dtstart.replace(year=dtstart.year + shift, tzinfo=None)
    first = next(iter(rrulestr(kept, dtstart=start)), None)
    return first is not None and first <= start + timedelta(days=days)
