"""Consultation hours: the rules. Pages, the API and the demo call these.

Services take plain values and an explicit actor, raise core.errors and flush(); the caller commits
once, normally through `run_atomically`, which also turns database conflicts (a CHECK on the slot
counter, unique violations, serialization failures, deadlocks, a locked SQLite file) into a
bounded retry and then a 409.

No overbooking: a slot row (created lazily, get-or-create under UNIQUE (series_id, start_dt)) holds
`booked`, changed only by one conditional statement, `UPDATE … SET booked = booked + 1 WHERE id = …
AND booked < capacity`, with CHECK (booked <= capacity) underneath. The statement is atomic on both
databases: PostgreSQL re-checks the WHERE on the row version it waited for; on SQLite the write
takes the database's RESERVED lock, and we never read the counter before writing it (Python's
sqlite3 begins a transaction only at the first write, so a read-then-write check would not be
atomic there).
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from operator import attrgetter
from typing import TypeVar

from email_validator import EmailNotValidError, validate_email
from flask_babel import lazy_gettext as _l
from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DBAPIError, IntegrityError

from ..core.db import utcnow
from ..core.errors import Conflict, DomainError, Forbidden, NotFound, ValidationFailed
from ..core.privacy import identity_code_errors, refuse_identity_codes
from ..core.rrule_bounds import check_rule_numbers, occurs_within
from ..core.signals import booking_changed
from ..core.timefmt import local_to_utc, to_local
from ..extensions import db
from ..people.models import LANGUAGES, UNIT_KINDS, Unit, User
from .models import MODALITIES, Booking, ConsultationSeries, ConsultationSlot, OccurrenceChange
from .slots import (
    Occurrence,
    SlotView,
    find_occurrence,
    find_slot,
    occurrences,
    parse_rule,
    parse_slot_key,
    slots_of,
)

log = logging.getLogger(__name__)
T = TypeVar("T")

MAX_PARTICIPANTS = 10
MAX_LIST_DAYS = 400


def _full_message() -> str:
    return str(_l("This time is already fully booked. Please choose another time."))


# --- permissions --------------------------------------------------------------------------------

def can_host_unit(user: User, unit: Unit) -> bool:
    """Consultants of the unit and admins publish the unit's consultation hours."""
    return user.is_admin or (user.has_role("consultant") and any(u.id == unit.id for u in user.units))


def hostable_units(user: User) -> list[Unit]:
    if user.is_admin:
        return list(db.session.execute(select(Unit).where(Unit.is_active.is_(True)).order_by(Unit.code)).scalars())
    return [u for u in user.units if user.has_role("consultant")]


def is_host(user: User, series: ConsultationSeries, *, admin: bool = True) -> bool:
    """Hosts (the series' consultants and the unit's consultants) manage the series and see the
    bookings in it. An administrator manages every series (admin=True) but sees the questions
    only where they are a host themselves (admin=False): case content stays with those who need it."""
    return ((admin and user.is_admin) or any(c.id == user.id for c in series.consultants)
            or (user.has_role("consultant") and any(u.id == series.unit_id for u in user.units)))


def can_book(user: User, series: ConsultationSeries) -> bool:
    """Any member of a unit whose kind the series is open to."""
    return series.is_active and bool(user.unit_kinds.intersection(series.open_to or []))


def can_see_booking(user: User, booking: Booking) -> bool:
    return booking.booker_id == user.id or is_host(user, booking.series, admin=False)


# --- database conflicts → retry or 409 ----------------------------------------------------------

_RETRY_SQLSTATES = {"40001", "40P01", "55P03"}


def _is_retryable(exc: DBAPIError) -> bool:
    orig = getattr(exc, "orig", None)
    code = getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)
    if code in _RETRY_SQLSTATES:
        return True
    return "database is locked" in str(orig) or "database table is locked" in str(orig)


def run_atomically(work: Callable[[], T], *, attempts: int = 4) -> T:
    """Run work() and commit; retry a few times on serialization failures, deadlocks and a busy
    SQLite file; integrity conflicts and exhausted retries become a 409 Conflict, never a 500."""
    for attempt in range(attempts):
        try:
            result = work()
            db.session.commit()
            return result
        except DomainError:
            db.session.rollback()
            raise
        except IntegrityError as exc:
            db.session.rollback()
            log.info("consultations: integrity conflict (%s)", type(exc.orig).__name__)
            raise Conflict(_full_message()) from exc
        except DBAPIError as exc:
            db.session.rollback()
            if not _is_retryable(exc):
                raise
            log.info("consultations: retrying after a database conflict (attempt %d)", attempt + 1)
            time.sleep(random.uniform(0.01, 0.05) * (attempt + 1))  # noqa: S311  (jitter, not crypto)
    raise Conflict(str(_l("The service is busy right now. Please try again.")))


# --- series ------------------------------------------------------------------------------------

@dataclass
class SeriesInput:
    unit: str | Unit
    title: str
    rrule: str
    first_start: datetime  # local wall-clock time (naive) or aware
    slot_minutes: int = 30
    slots: int = 1
    capacity: int = 1
    modality: str = "teams"
    location: str = ""
    languages: tuple[str, ...] | list[str] = ("fi",)
    open_to: tuple[str, ...] | list[str] = ()
    min_notice_hours: int = 24
    horizon_days: int = 90
    until: date | None = None
    consultants: list[User] | None = None
    description: str = ""


def _int_in(errors: dict, name: str, value, lo: int, hi: int) -> int:
    try:
        n = int(value)
    except (TypeError, ValueError):
        errors[name] = str(_l("Enter a whole number between %(lo)d and %(hi)d.", lo=lo, hi=hi))
        return lo
    if not lo <= n <= hi:
        errors[name] = str(_l("Enter a whole number between %(lo)d and %(hi)d.", lo=lo, hi=hi))
    return n


def create_series(*, actor: User, data: SeriesInput, now: datetime | None = None) -> ConsultationSeries:
    now = now or utcnow()
    errors: dict[str, str] = {}
    unit = data.unit
    if not isinstance(unit, Unit):
        unit = db.session.execute(select(Unit).where(Unit.code == (unit or "").strip())).scalar_one_or_none()
        if unit is None:
            raise ValidationFailed(str(_l("Check the consultation hours.")),
                                   fields={"unit": str(_l("Unknown unit code."))})
    if not can_host_unit(actor, unit):
        raise Forbidden(str(_l("Only the unit's consultants or an administrator can publish its consultation hours.")))
    title = (data.title or "").strip()
    if not title or len(title) > 200:
        errors["title"] = str(_l("Enter a title of at most 200 characters."))
    slot_minutes = _int_in(errors, "slot_minutes", data.slot_minutes, 5, 480)
    n_slots = _int_in(errors, "slots", data.slots, 1, 48)
    capacity = _int_in(errors, "capacity", data.capacity, 1, 50)
    notice = _int_in(errors, "min_notice_hours", data.min_notice_hours, 0, 24 * 60)
    horizon = _int_in(errors, "horizon_days", data.horizon_days, 1, 730)
    if data.modality not in MODALITIES:
        errors["modality"] = str(_l("Choose how the consultation is held."))
    languages = list(dict.fromkeys(data.languages or []))
    if not languages or any(x not in LANGUAGES for x in languages):
        errors["languages"] = str(_l("Choose at least one language."))
    open_to = list(dict.fromkeys(data.open_to or []))
    if not open_to or any(k not in UNIT_KINDS for k in open_to):
        errors["open_to"] = str(_l("Choose at least one kind of unit that may book."))
    first = data.first_start
    if not isinstance(first, datetime):
        errors["first_start"] = str(_l("Enter the first date and start time."))
        first_utc = now
    else:
        first_utc = first.astimezone(UTC) if first.tzinfo else local_to_utc(first)
        if first_utc < now - timedelta(days=1):
            errors["first_start"] = str(_l("The first time cannot be in the past."))
    rule = (data.rrule or "").strip()
    if rule.upper().startswith("RRULE:"):
        rule = rule[6:]
    rule = rule.upper()
    if "UNTIL=" in rule:
        errors["rrule"] = str(_l("Give the end date separately, not in the rule."))
    else:
        try:
            parse_rule(rule, first_utc.replace(tzinfo=None))
            check_rule_numbers(rule)
            if not occurs_within(rule, to_local(first_utc).replace(tzinfo=None)):
                raise ValueError(rule)  # never (or hardly ever) meets: every listing would search to 9999
        except (ValueError, TypeError, OverflowError):
            errors["rrule"] = str(_l("The recurrence is not valid."))
    if data.until and isinstance(first, datetime) and data.until < first_utc.date():
        errors["until"] = str(_l("The end date must be after the first time."))
    if data.modality in ("in_person",) and not (data.location or "").strip():
        errors["location"] = str(_l("Enter where the consultation is held."))
    if len(data.location or "") > 300:
        errors["location"] = str(_l("Use at most 300 characters."))
    # the title and place go into invitations and calendar feeds
    identity_code_errors(errors, title=data.title, description=data.description, location=data.location)
    if errors:
        raise ValidationFailed(str(_l("Check the consultation hours.")), fields=errors)
    consultants = data.consultants or [actor]
    series = ConsultationSeries(
        unit=unit, title=title, description=(data.description or "").strip(), rrule=rule, first_start_dt=first_utc,
        until=data.until, slot_minutes=slot_minutes, slots_per_occurrence=n_slots, capacity=capacity,
        modality=data.modality, location=(data.location or "").strip(), languages=languages, open_to=open_to,
        min_notice_hours=notice, horizon_days=horizon, created_by=actor, consultants=list(consultants),
    )
    db.session.add(series)
    db.session.flush()
    return series


def get_series(series_id: int) -> ConsultationSeries:
    series = db.session.get(ConsultationSeries, series_id)
    if series is None:
        raise NotFound(str(_l("No such consultation hours.")))
    return series


def hosted_series(actor: User) -> list[ConsultationSeries]:
    rows = db.session.execute(select(ConsultationSeries).order_by(ConsultationSeries.title)).unique().scalars()
    return [s for s in rows if is_host(actor, s)]


def set_series_active(*, actor: User, series_id: int, active: bool) -> ConsultationSeries:
    series = get_series(series_id)
    if not is_host(actor, series):
        raise Forbidden(str(_l("Only the hosts can change these consultation hours.")))
    series.is_active = active
    db.session.flush()
    return series


# --- listing slots ------------------------------------------------------------------------------

@dataclass
class SlotFilter:
    date_from: date
    date_to: date  # inclusive
    unit: str | None = None
    kind: str | None = None
    modality: str | None = None
    language: str | None = None
    series_id: int | None = None
    available_only: bool = False
    hosted_only: bool = False
    bookable_only: bool = False


def list_slots(*, actor: User, flt: SlotFilter, now: datetime | None = None) -> list[SlotView]:
    """Slots in the date range (local dates) that the actor may book or hosts, with their booked
    counts. A constant number of queries whatever the number of series and slots."""
    now = now or utcnow()
    if flt.date_to < flt.date_from:
        raise ValidationFailed(str(_l("The end date is before the start date.")),
                               fields={"to": str(_l("The end date is before the start date."))})
    if (flt.date_to - flt.date_from).days > MAX_LIST_DAYS:
        raise ValidationFailed(str(_l("Choose at most %(n)d days.", n=MAX_LIST_DAYS)),
                               fields={"to": str(_l("Choose at most %(n)d days.", n=MAX_LIST_DAYS))})
    start = local_to_utc(datetime.combine(flt.date_from, datetime.min.time()))
    end = local_to_utc(datetime.combine(flt.date_to + timedelta(days=1), datetime.min.time()))
    q = select(ConsultationSeries).join(Unit, ConsultationSeries.unit_id == Unit.id)
    if flt.unit:
        q = q.where(Unit.code == flt.unit)
    if flt.kind:
        q = q.where(Unit.kind == flt.kind)
    if flt.modality:
        q = q.where(ConsultationSeries.modality == flt.modality)
    if flt.series_id:
        q = q.where(ConsultationSeries.id == flt.series_id)
    series_list = []
    for s in db.session.execute(q).unique().scalars():
        hosted = is_host(actor, s)
        if flt.hosted_only and not hosted:
            continue
        if not hosted and not can_book(actor, s):
            continue
        if flt.language and flt.language not in (s.languages or []):
            continue
        if not hosted and not s.is_active:
            continue
        series_list.append((s, hosted))
    if not series_list:
        return []
    series_list.sort(key=lambda pair: (pair[0].title, pair[0].id))
    ids = [s.id for s, _ in series_list]
    booked = {
        (row.series_id, row.start_dt): row.booked
        for row in db.session.execute(
            select(ConsultationSlot.series_id, ConsultationSlot.start_dt, ConsultationSlot.booked).where(
                ConsultationSlot.series_id.in_(ids), ConsultationSlot.start_dt >= start - timedelta(days=1),
                ConsultationSlot.start_dt < end)
        )
    }
    result: list[SlotView] = []
    for s, hosted in series_list:
        may_book = can_book(actor, s)
        earliest = now + timedelta(hours=s.min_notice_hours)
        latest = now + timedelta(days=s.horizon_days)
        for occ in occurrences(s, start, end):
            for sv in slots_of(occ):
                if sv.start_dt < start or sv.start_dt >= end:
                    continue
                sv.booked = booked.get((s.id, sv.start_dt), 0)
                sv.hosted = hosted
                sv.bookable = may_book and earliest <= sv.start_dt <= latest
                if flt.available_only and (sv.booked >= sv.capacity or not sv.bookable):
                    continue
                if flt.bookable_only and not sv.bookable:
                    continue
                result.append(sv)
    result.sort(key=attrgetter("start_dt"))  # stable: same-time slots keep the series' title order
    return result


def _check_window(series: ConsultationSeries, start_dt: datetime, now: datetime) -> None:
    if start_dt < now + timedelta(hours=series.min_notice_hours):
        msg = str(_l("This time must be booked at least %(n)d hours in advance.", n=series.min_notice_hours))
        raise ValidationFailed(msg, fields={"slot_id": msg})
    if start_dt > now + timedelta(days=series.horizon_days):
        msg = str(_l("This time cannot be booked yet: bookings open %(n)d days ahead.", n=series.horizon_days))
        raise ValidationFailed(msg, fields={"slot_id": msg})


def resolve_slot(slot_id: str) -> SlotView:
    parsed = parse_slot_key(slot_id)
    series = db.session.get(ConsultationSeries, parsed[0]) if parsed else None
    sv = find_slot(series, parsed[1]) if (series and parsed) else None
    if sv is None:
        raise NotFound(str(_l("No such consultation time.")), fields={"slot_id": str(_l("No such consultation time."))})
    return sv


# --- slot counters: the only writes to `booked` ----------------------------------------------------

def _slot_row_id(series: ConsultationSeries, start_dt: datetime, end_dt: datetime) -> int:
    """Get-or-create the slot row under its unique constraint (a write first: see the module doc)."""
    dialect = db.session.get_bind().dialect.name
    ins_mod = postgresql if dialect == "postgresql" else sqlite
    stmt = ins_mod.insert(ConsultationSlot).values(
        series_id=series.id, start_dt=start_dt, end_dt=end_dt, capacity=series.capacity, booked=0,
    ).on_conflict_do_nothing(index_elements=["series_id", "start_dt"])
    db.session.execute(stmt)
    return db.session.execute(
        select(ConsultationSlot.id).where(ConsultationSlot.series_id == series.id, ConsultationSlot.start_dt == start_dt)
    ).scalar_one()


def _take_place(slot_row_id: int) -> None:
    res = db.session.execute(
        update(ConsultationSlot)
        .where(ConsultationSlot.id == slot_row_id, ConsultationSlot.booked < ConsultationSlot.capacity)
        .values(booked=ConsultationSlot.booked + 1)
        .execution_options(synchronize_session=False)
    )
    if res.rowcount != 1:
        raise Conflict(_full_message(), fields={"slot_id": _full_message()})


def _release_place(slot_row_id: int) -> None:
    db.session.execute(
        update(ConsultationSlot)
        .where(ConsultationSlot.id == slot_row_id, ConsultationSlot.booked > 0)
        .values(booked=ConsultationSlot.booked - 1)
        .execution_options(synchronize_session=False)
    )


# --- bookings -------------------------------------------------------------------------------------

def _clean_participants(raw) -> list[str]:
    if raw is None:
        return []
    if isinstance(raw, str):
        raw = [p for p in raw.replace(";", ",").replace("\n", ",").split(",")]
    if not isinstance(raw, list | tuple):
        raise ValidationFailed(str(_l("Check the booking.")),
                               fields={"participants": str(_l("Give the participants as a list of e-mail addresses."))})
    out: list[str] = []
    for item in raw:
        text = str(item or "").strip()
        if not text:
            continue
        try:
            email = validate_email(text, check_deliverability=False).normalized.lower()
        except EmailNotValidError as exc:
            raise ValidationFailed(str(_l("Check the booking.")), fields={
                "participants": str(_l("Check the e-mail address %(email)s.", email=text[:100]))}) from exc
        if email not in out:
            out.append(email)
    if len(out) > MAX_PARTICIPANTS:
        raise ValidationFailed(str(_l("Check the booking.")), fields={
            "participants": str(_l("At most %(n)d extra participants.", n=MAX_PARTICIPANTS))})
    return out


def _check_case_text(case_ref: str, question: str) -> tuple[str, str]:
    case_ref, question = (case_ref or "").strip(), (question or "").strip()
    errors = {}
    if not case_ref:
        errors["case_ref"] = str(_l("Enter a case reference (no names)."))
    elif len(case_ref) > 60:
        errors["case_ref"] = str(_l("Use at most 60 characters."))
    if not question:
        errors["question"] = str(_l("Write what you would like to ask."))
    elif len(question) > 4000:
        errors["question"] = str(_l("Use at most 4000 characters."))
    if errors:
        raise ValidationFailed(str(_l("Check the booking.")), fields=errors)
    refuse_identity_codes(case_ref=case_ref, question=question)
    return case_ref, question


def book_slot(*, actor: User, slot_id: str, case_ref: str, question: str, participants=None,
              now: datetime | None = None) -> Booking:
    now = now or utcnow()
    case_ref, question = _check_case_text(case_ref, question)
    people = _clean_participants(participants)
    refuse_identity_codes(participants=" ".join(people))
    sv = resolve_slot(slot_id)
    series = sv.series
    if not can_book(actor, series):
        raise Forbidden(str(_l("Your unit cannot book these consultation hours.")))
    _check_window(series, sv.start_dt, now)
    row_id = _slot_row_id(series, sv.start_dt, sv.end_dt)
    _take_place(row_id)
    booking = Booking(slot_id=row_id, series=series, booker=actor, start_dt=sv.start_dt, end_dt=sv.end_dt,
                      case_ref=case_ref, question=question, participants=people, status="confirmed")
    db.session.add(booking)
    db.session.flush()
    booking_changed.send(booking, action="created", previous_start=None)
    return booking


def get_booking(*, actor: User, booking_id: int) -> Booking:
    booking = db.session.get(Booking, booking_id)
    if booking is None or not can_see_booking(actor, booking):
        # the same answer whether it exists or not: nobody learns of others' bookings
        raise NotFound(str(_l("No such booking.")))
    return booking


def cancel_booking(*, actor: User, booking_id: int, reason: str = "", now: datetime | None = None) -> Booking:
    booking = get_booking(actor=actor, booking_id=booking_id)
    reason = (reason or "").strip()
    if booking.status == "cancelled":
        raise Conflict(str(_l("This booking has already been cancelled.")))
    hosting = booking.booker_id != actor.id
    if hosting and not reason:
        raise ValidationFailed(str(_l("Tell the booker why the consultation is cancelled.")),
                               fields={"reason": str(_l("Tell the booker why the consultation is cancelled."))})
    if len(reason) > 1000:
        raise ValidationFailed(str(_l("Use at most 1000 characters.")), fields={"reason": str(_l("Use at most 1000 characters."))})
    refuse_identity_codes(reason=reason)
    _release_place(booking.slot_id)
    _mark_cancelled(booking, actor, reason)
    db.session.flush()
    booking_changed.send(booking, action="cancelled", previous_start=None)
    return booking


def _mark_cancelled(booking: Booking, actor: User | None, reason: str) -> None:
    booking.status = "cancelled"
    booking.cancel_reason = reason
    booking.cancelled_by_id = actor.id if actor else None
    booking.sequence += 1
    booking.updated_dt = utcnow()


def reschedule_booking(*, actor: User, booking_id: int, slot_id: str, now: datetime | None = None) -> Booking:
    """Move the booking (the same row, the same UID) to another slot of a series the booker may book."""
    now = now or utcnow()
    booking = get_booking(actor=actor, booking_id=booking_id)
    if booking.booker_id != actor.id:
        raise Forbidden(str(_l("Only the person who booked can move the booking.")))
    if booking.status != "confirmed":
        raise Conflict(str(_l("A cancelled booking cannot be moved.")))
    sv = resolve_slot(slot_id)
    if sv.series.id == booking.series_id and sv.start_dt == booking.start_dt:
        raise ValidationFailed(str(_l("Choose a different time.")), fields={"slot_id": str(_l("Choose a different time."))})
    if not can_book(actor, sv.series):
        raise Forbidden(str(_l("Your unit cannot book these consultation hours.")))
    _check_window(sv.series, sv.start_dt, now)
    new_row = _slot_row_id(sv.series, sv.start_dt, sv.end_dt)
    old_row = booking.slot_id
    # both rows in id order: two opposite moves never wait for each other (no deadlock)
    for row in sorted({old_row, new_row}):
        if row == new_row:
            _take_place(row)
        else:
            _release_place(row)
    previous = booking.start_dt
    booking.slot_id, booking.series_id = new_row, sv.series.id
    booking.start_dt, booking.end_dt = sv.start_dt, sv.end_dt
    booking.sequence += 1
    booking.updated_dt = utcnow()
    db.session.flush()
    db.session.refresh(booking, ["series", "slot"])
    booking_changed.send(booking, action="rescheduled", previous_start=previous)
    return booking


def my_bookings(actor: User, *, now: datetime | None = None) -> tuple[list[Booking], list[Booking]]:
    """(upcoming, past) bookings the actor made; cancelled ones among upcoming so they can be seen."""
    now = now or utcnow()
    rows = db.session.execute(
        select(Booking).where(Booking.booker_id == actor.id).order_by(Booking.start_dt)
    ).unique().scalars().all()
    upcoming = [b for b in rows if b.end_dt >= now]
    past = [b for b in rows if b.end_dt < now]
    past.reverse()
    return upcoming, past


def hosted_bookings(actor: User, *, now: datetime | None = None, include_cancelled: bool = False) -> list[Booking]:
    """Upcoming bookings in series the actor hosts (with their questions, for preparing)."""
    now = now or utcnow()
    series_ids = [s.id for s in hosted_series(actor) if is_host(actor, s, admin=False)]
    if not series_ids:
        return []
    q = select(Booking).where(Booking.series_id.in_(series_ids), Booking.end_dt >= now).order_by(Booking.start_dt)
    if not include_cancelled:
        q = q.where(Booking.status == "confirmed")
    return list(db.session.execute(q).unique().scalars())


def occurrence_bookings(series: ConsultationSeries, occ: Occurrence) -> list[Booking]:
    return list(db.session.execute(
        select(Booking).where(Booking.series_id == series.id, Booking.status == "confirmed",
                              Booking.start_dt >= occ.start_dt, Booking.start_dt < occ.end_dt)
        .order_by(Booking.start_dt)
    ).unique().scalars())


# --- single occurrences: cancel or move -----------------------------------------------------------

def _host_occurrence(actor: User, series_id: int, original_start_dt: datetime) -> tuple[ConsultationSeries, Occurrence]:
    series = get_series(series_id)
    if not is_host(actor, series):
        raise Forbidden(str(_l("Only the hosts can change these consultation hours.")))
    occ = find_occurrence(series, original_start_dt)
    if occ is None:
        raise NotFound(str(_l("No such consultation time.")))
    return series, occ


def _change_row(series: ConsultationSeries, occ: Occurrence, actor: User) -> OccurrenceChange:
    for c in series.changes:
        if c.original_start_dt == occ.original_start_dt:
            return c
    change = OccurrenceChange(original_start_dt=occ.original_start_dt, changed_by_id=actor.id)
    series.changes.append(change)
    return change


def cancel_occurrence(*, actor: User, series_id: int, original_start_dt: datetime, reason: str) -> list[Booking]:
    """Cancel one occurrence: its bookings are cancelled with the reason and their bookers told."""
    series, occ = _host_occurrence(actor, series_id, original_start_dt)
    reason = (reason or "").strip()
    if not reason:
        raise ValidationFailed(str(_l("Tell the bookers why the time is cancelled.")),
                               fields={"reason": str(_l("Tell the bookers why the time is cancelled."))})
    refuse_identity_codes(reason=reason)
    affected = occurrence_bookings(series, occ)
    change = _change_row(series, occ, actor)
    change.new_start_dt, change.reason, change.changed_by_id = None, reason, actor.id
    for b in affected:
        _release_place(b.slot_id)
        _mark_cancelled(b, actor, reason)
    db.session.flush()
    for b in affected:
        booking_changed.send(b, action="cancelled", previous_start=None)
    return affected


def move_occurrence(*, actor: User, series_id: int, original_start_dt: datetime, new_start: datetime,
                    reason: str = "", now: datetime | None = None) -> list[Booking]:
    """Move one occurrence to another time (local wall-clock or aware); its bookings move with it,
    each to the slot in the same position, and their bookers are told."""
    now = now or utcnow()
    series, occ = _host_occurrence(actor, series_id, original_start_dt)
    new_utc = new_start.astimezone(UTC) if new_start.tzinfo else local_to_utc(new_start)
    if new_utc < now:
        raise ValidationFailed(str(_l("The new time cannot be in the past.")),
                               fields={"new_start": str(_l("The new time cannot be in the past."))})
    if new_utc == occ.start_dt:
        raise ValidationFailed(str(_l("Choose a different time.")), fields={"new_start": str(_l("Choose a different time."))})
    refuse_identity_codes(reason=reason)
    affected = occurrence_bookings(series, occ)
    change = _change_row(series, occ, actor)
    change.new_start_dt, change.reason, change.changed_by_id = new_utc, (reason or "").strip(), actor.id
    step = timedelta(minutes=series.slot_minutes)
    moved: list[tuple[Booking, datetime]] = []
    for b in affected:
        index = int((b.start_dt - occ.start_dt) / step)
        start = new_utc + index * step
        _release_place(b.slot_id)
        row = _slot_row_id(series, start, start + step)
        _take_place(row)
        moved.append((b, b.start_dt))
        b.slot_id, b.start_dt, b.end_dt = row, start, start + step
        b.sequence += 1
        b.updated_dt = utcnow()
    db.session.flush()
    for b, previous in moved:
        booking_changed.send(b, action="rescheduled", previous_start=previous)
    return affected


def upcoming_occurrences(series: ConsultationSeries, *, now: datetime | None = None, days: int = 120
                         ) -> list[tuple[Occurrence, int]]:
    """(occurrence, number of confirmed bookings) for the host's series page."""
    now = now or utcnow()
    occs = occurrences(series, now, now + timedelta(days=days))
    if not occs:
        return []
    counts: dict[datetime, int] = {}
    rows = db.session.execute(
        select(Booking.start_dt).where(Booking.series_id == series.id, Booking.status == "confirmed",
                                       Booking.start_dt >= occs[0].start_dt, Booking.start_dt < occs[-1].end_dt)
    ).scalars()
    starts = list(rows)
    for occ in occs:
        counts[occ.original_start_dt] = sum(1 for s in starts if occ.start_dt <= s < occ.end_dt)
    return [(o, counts[o.original_start_dt]) for o in occs]


def set_join_url(meeting_key: str, join_url: str | None) -> None:
    """teams_meeting_ready receiver: keep the Teams link on the booking ("booking:<id>")."""
    kind, _, ident = (meeting_key or "").partition(":")
    if kind != "booking" or not ident.isdigit():
        return
    booking = db.session.get(Booking, int(ident))
    if booking is not None and booking.join_url != join_url:
        booking.join_url = join_url
        db.session.flush()


__all__ = [
    "SeriesInput", "SlotFilter", "book_slot", "cancel_booking", "cancel_occurrence", "create_series", "get_booking",
    "hosted_bookings", "list_slots", "move_occurrence", "my_bookings", "reschedule_booking", "run_atomically",
]


def booked_count(sv: SlotView) -> int:
    return db.session.execute(
        select(ConsultationSlot.booked).where(ConsultationSlot.series_id == sv.series.id,
                                              ConsultationSlot.start_dt == sv.start_dt)
    ).scalar_one_or_none() or 0
