"""Occurrences and slots of a series, computed from its RRULE (pure functions, no queries).

The rule is expanded by core.recurrence over the first start's local wall-clock time in the
application time zone and each occurrence converted to UTC on its own, so a weekly 13.00 stays
13.00 when the clocks change; Finnish public holidays are skipped when the series asks. Single
occurrences can be cancelled or moved (OccurrenceChange). A slot's id is an opaque string:
series and UTC start.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from ..core import recurrence
from ..core.timefmt import app_tz, to_local
from .models import ConsultationSeries, OccurrenceChange, slot_key

_KEY = re.compile(r"^(\d{1,12})-(\d{12})$")


def parse_slot_key(key: str) -> tuple[int, datetime] | None:
    m = _KEY.match((key or "").strip())
    if not m:
        return None
    try:
        start = datetime.strptime(m.group(2), "%Y%m%d%H%M").replace(tzinfo=UTC)
    except ValueError:
        return None
    return int(m.group(1)), start


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
    # a day of margin on both sides: local/UTC offsets are at most a few hours
    lo = max(to_local(start - length).replace(tzinfo=None) - timedelta(days=1), local_first)
    hi = to_local(end).replace(tzinfo=None) + timedelta(days=1)
    result: list[Occurrence] = []
    tz = app_tz()
    for local in recurrence.starts(series.rrule, local_first, after=lo, before=hi, last_day=series.until,
                                   skip_holidays=series.skip_holidays):
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

def build_rrule(recurrence_kind: str, first_day: date) -> str:
    """weekly / every other week on the first day's weekday; monthly on its n-th weekday
    (the fifth becomes "the last")."""
    wd = recurrence.WEEKDAYS[first_day.weekday()]
    if recurrence_kind == "weekly":
        return recurrence.weekly_rule(wd)
    if recurrence_kind == "biweekly":
        return recurrence.weekly_rule(wd, 2)
    if recurrence_kind == "monthly":
        return recurrence.monthly_rule(wd, recurrence.nth_weekday(first_day), signed=True)
    raise ValueError(recurrence_kind)


def describe_rrule(rule: str) -> tuple[str, int | None, str | None]:
    """(recurrence, n, weekday) for the rules build_rrule makes; ("custom", None, None) otherwise."""
    simple = recurrence.simple_rule(rule)
    if simple is None:
        return "custom", None, None
    if simple.freq == "WEEKLY" and simple.interval in (1, 2):
        return ("weekly" if simple.interval == 1 else "biweekly"), None, simple.weekday
    if simple.freq == "MONTHLY" and simple.interval == 1:
        return "monthly", simple.ordinal, simple.weekday
    return "custom", None, None
