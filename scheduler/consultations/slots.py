"""Occurrences and slots of a series, computed from its RRULE (pure functions, no queries).

The rule is expanded over the first start's local wall-clock time in the application time zone
and each occurrence converted to UTC on its own, so a weekly 13.00 stays 13.00 when the clocks
change. Finnish public holidays are skipped (the `holidays` package); single occurrences can be
cancelled or moved (OccurrenceChange). A slot's id is an opaque string: series and UTC start.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache

import holidays
from dateutil.rrule import rrule, rrulestr

from ..core.timefmt import app_tz, to_local
from .models import ConsultationSeries, OccurrenceChange, slot_key

_KEY = re.compile(r"^(\d{1,12})-(\d{12})$")
ALLOWED_FREQS = ("WEEKLY", "MONTHLY", "DAILY")


def parse_slot_key(key: str) -> tuple[int, datetime] | None:
    m = _KEY.match((key or "").strip())
    if not m:
        return None
    try:
        start = datetime.strptime(m.group(2), "%Y%m%d%H%M").replace(tzinfo=UTC)
    except ValueError:
        return None
    return int(m.group(1)), start


@lru_cache(maxsize=64)
def finnish_holidays(year: int) -> frozenset[date]:
    return frozenset(holidays.country_holidays("FI", years=year).keys())


def is_holiday(d: date) -> bool:
    return d in finnish_holidays(d.year)


@lru_cache(maxsize=4096)
def _parsed_rule(rule: str, dtstart: datetime) -> rrule:
    # cache=True: the expanded occurrences are kept on the (cached) rule, so listing the same
    # series again does not re-expand it from its first start
    return rrulestr(rule, dtstart=dtstart, cache=True)  # type: ignore[return-value]


def parse_rule(rule: str, dtstart_local: datetime) -> rrule:
    """Parse an RRULE (with or without the "RRULE:" prefix); ValueError when it is not usable."""
    text = (rule or "").strip()
    if text.upper().startswith("RRULE:"):
        text = text[6:]
    parts = dict(p.split("=", 1) for p in text.upper().split(";") if "=" in p)
    if parts.get("FREQ") not in ALLOWED_FREQS:
        raise ValueError("FREQ must be WEEKLY, MONTHLY or DAILY")
    return _parsed_rule(text.upper(), dtstart_local)


def first_start_local(series: ConsultationSeries) -> datetime:
    return to_local(series.first_start_dt).replace(tzinfo=None)


@dataclass
class Occurrence:
    series: ConsultationSeries
    original_start_dt: datetime  # identifies the occurrence, even when moved
    start_dt: datetime
    is_moved: bool = False

    @property
    def end_dt(self) -> datetime:
        return self.start_dt + timedelta(minutes=self.series.occurrence_minutes)

    @property
    def key(self) -> str:
        return slot_key(self.series.id, self.original_start_dt)


@dataclass
class SlotView:
    series: ConsultationSeries
    occurrence: Occurrence
    index: int
    start_dt: datetime
    end_dt: datetime
    capacity: int
    booked: int = 0
    bookable: bool = False  # by the caller, now (notice, horizon, open_to)
    hosted: bool = False  # the caller hosts its series

    @property
    def id(self) -> str:
        return slot_key(self.series.id, self.start_dt)

    @property
    def free(self) -> int:
        return max(self.capacity - self.booked, 0)

    @property
    def is_full(self) -> bool:
        return self.booked >= self.capacity


def occurrences(series: ConsultationSeries, start: datetime, end: datetime,
                changes: Iterable[OccurrenceChange] | None = None) -> list[Occurrence]:
    """Occurrences overlapping [start, end) (aware datetimes), cancellations and moves applied."""
    changes = list(series.changes if changes is None else changes)
    by_original = {c.original_start_dt: c for c in changes}
    length = timedelta(minutes=series.occurrence_minutes)
    local_first = first_start_local(series)
    rule = parse_rule(series.rrule, local_first)
    # a day of margin on both sides: local/UTC offsets are at most a few hours
    lo = max(to_local(start - length).replace(tzinfo=None) - timedelta(days=1), local_first)
    hi = to_local(end).replace(tzinfo=None) + timedelta(days=1)
    result: list[Occurrence] = []
    tz = app_tz()
    until, skip_holidays = series.until, series.skip_holidays
    if lo <= hi:
        for local in rule.between(lo, hi, inc=True):
            if until and local.date() > until:
                break
            if skip_holidays and is_holiday(local.date()):
                continue
            utc = local.replace(tzinfo=tz).astimezone(UTC)
            if utc + length <= start or utc >= end or utc in by_original:
                continue
            result.append(Occurrence(series, utc, utc))
    for c in changes:
        if c.new_start_dt is not None and c.new_start_dt < end and c.new_start_dt + length > start:
            result.append(Occurrence(series, c.original_start_dt, c.new_start_dt, is_moved=True))
    result.sort(key=lambda o: o.start_dt)
    return result


def slots_of(occ: Occurrence) -> list[SlotView]:
    s = occ.series
    step = timedelta(minutes=s.slot_minutes)
    start, capacity = occ.start_dt, s.capacity
    return [SlotView(s, occ, i, start + i * step, start + (i + 1) * step, capacity)
            for i in range(s.slots_per_occurrence)]


def find_slot(series: ConsultationSeries, start_dt: datetime) -> SlotView | None:
    """The slot of the series starting at start_dt, if the series really has one then."""
    length = timedelta(minutes=series.occurrence_minutes)
    for occ in occurrences(series, start_dt - length, start_dt + timedelta(minutes=1)):
        for sv in slots_of(occ):
            if sv.start_dt == start_dt:
                return sv
    return None


def find_occurrence(series: ConsultationSeries, original_start_dt: datetime) -> Occurrence | None:
    """An occurrence by its original start (whether or not it has been moved), not cancelled."""
    for c in series.changes:
        if c.original_start_dt == original_start_dt:
            return None if c.new_start_dt is None else Occurrence(series, c.original_start_dt, c.new_start_dt, True)
    length = timedelta(minutes=series.occurrence_minutes)
    for occ in occurrences(series, original_start_dt, original_start_dt + length):
        if occ.original_start_dt == original_start_dt and not occ.is_moved:
            return occ
    return None


# --- the friendly recurrence form ↔ RRULE ----------------------------------------------------

WEEKDAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
RECURRENCES = ("weekly", "biweekly", "monthly")


def build_rrule(recurrence: str, first_day: date) -> str:
    """weekly / every other week on the first day's weekday; monthly on its n-th weekday
    (the fifth becomes "the last")."""
    wd = WEEKDAYS[first_day.weekday()]
    if recurrence == "weekly":
        return f"FREQ=WEEKLY;BYDAY={wd}"
    if recurrence == "biweekly":
        return f"FREQ=WEEKLY;INTERVAL=2;BYDAY={wd}"
    if recurrence == "monthly":
        n = (first_day.day - 1) // 7 + 1
        return f"FREQ=MONTHLY;BYDAY={'-1' if n == 5 else f'+{n}'}{wd}"
    raise ValueError(recurrence)


def describe_rrule(rule: str) -> tuple[str, int | None, str | None]:
    """(recurrence, n, weekday) for the rules build_rrule makes; ("custom", None, None) otherwise."""
    parts = dict(p.split("=", 1) for p in rule.upper().split(";") if "=" in p)
    byday = parts.get("BYDAY", "")
    if parts.get("FREQ") == "WEEKLY" and byday in WEEKDAYS:
        interval = parts.get("INTERVAL", "1")
        if interval == "1":
            return "weekly", None, byday
        if interval == "2":
            return "biweekly", None, byday
    m = re.match(r"^([+-]?\d)(MO|TU|WE|TH|FR|SA|SU)$", byday)
    if parts.get("FREQ") == "MONTHLY" and m and parts.get("INTERVAL", "1") == "1":
        return "monthly", int(m.group(1)), m.group(2)
    return "custom", None, None
