"""Session recurrence: a friendly choice ↔ an RFC 5545 RRULE, and the dates it yields.

Pure functions (no database). Times are local wall-clock times (Europe/Helsinki); July and Finnish
public holidays are skipped when the panel asks for it.
"""

from __future__ import annotations

from datetime import date, datetime
from functools import lru_cache

import holidays
from dateutil.rrule import rrulestr

WEEKDAYS = ("MO", "TU", "WE", "TH", "FR")
FREQUENCIES = ("monthly", "weekly")
# 1..4 = first..fourth weekday of the month, -1 = the last one
ORDINALS = (1, 2, 3, 4, -1)


def build_rrule(*, frequency: str, weekday: str, ordinal: int = 1, interval: int = 1) -> str:
    """monthly + TH + 2 → FREQ=MONTHLY;BYDAY=2TH; weekly + MO + 2 → FREQ=WEEKLY;INTERVAL=2;BYDAY=MO."""
    if weekday not in WEEKDAYS:
        raise ValueError(weekday)
    if frequency == "monthly":
        if ordinal not in ORDINALS:
            raise ValueError(ordinal)
        rule = f"FREQ=MONTHLY;BYDAY={ordinal}{weekday}"
        return rule if interval == 1 else f"FREQ=MONTHLY;INTERVAL={interval};BYDAY={ordinal}{weekday}"
    if frequency == "weekly":
        return f"FREQ=WEEKLY;BYDAY={weekday}" if interval == 1 else f"FREQ=WEEKLY;INTERVAL={interval};BYDAY={weekday}"
    raise ValueError(frequency)


def parse_rrule(rule: str) -> dict:
    """The friendly parts of a rule written by build_rrule (for the edit form); {} when it is
    something else (a rule given through the API stays as it is)."""
    parts = dict(p.split("=", 1) for p in rule.upper().split(";") if "=" in p)
    freq = parts.get("FREQ", "")
    byday = parts.get("BYDAY", "")
    interval = int(parts.get("INTERVAL", "1") or 1)
    if set(parts) - {"FREQ", "BYDAY", "INTERVAL"} or "," in byday:
        return {}
    weekday = byday[-2:]
    if weekday not in WEEKDAYS:
        return {}
    if freq == "MONTHLY":
        try:
            ordinal = int(byday[:-2] or "1")
        except ValueError:
            return {}
        if ordinal not in ORDINALS:
            return {}
        return {"frequency": "monthly", "weekday": weekday, "ordinal": ordinal, "interval": interval}
    if freq == "WEEKLY" and byday[:-2] == "":
        return {"frequency": "weekly", "weekday": weekday, "ordinal": 1, "interval": interval}
    return {}


def validate_rrule(rule: str) -> str:
    """Normalise and check a rule; raise ValueError when dateutil cannot read it."""
    rule = (rule or "").strip()
    if rule.upper().startswith("RRULE:"):
        rule = rule[6:]
    if not rule or "DTSTART" in rule.upper():
        raise ValueError(rule)
    rrulestr(rule, dtstart=datetime(2027, 1, 1, 12, 0))  # raises ValueError on nonsense
    parts = dict(p.split("=", 1) for p in rule.upper().split(";") if "=" in p)
    if parts.get("FREQ") not in {"MONTHLY", "WEEKLY", "DAILY"}:
        raise ValueError(rule)
    return rule.upper()


@lru_cache(maxsize=64)
def finnish_holidays(year: int) -> frozenset[date]:
    """Finnish public holidays of a year (building them costs milliseconds: keep them)."""
    return frozenset(holidays.country_holidays("FI", years=year))


def is_skipped(day: date, *, skip_july: bool, skip_holidays: bool) -> bool:
    if skip_july and day.month == 7:
        return True
    return skip_holidays and day in finnish_holidays(day.year)


def occurrences(rule: str, first_start: datetime, *, after: datetime, until: datetime,
                skip_july: bool = True, skip_holidays: bool = True) -> list[datetime]:
    """Local naive start times of the rule from first_start, in [after, until), skipping July and
    Finnish public holidays as asked. All arguments are naive local datetimes."""
    rr = rrulestr(rule, dtstart=first_start)
    out = []
    for start in rr.between(after, until, inc=True):
        if start >= until:
            continue
        if is_skipped(start.date(), skip_july=skip_july, skip_holidays=skip_holidays):
            continue
        out.append(start)
    return out
