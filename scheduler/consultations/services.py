"""Consultation hours: the rules. Pages, the API and the demo call these.

Services take plain values and an explicit actor, raise core.errors and flush(); the caller commits
once through `run_atomically` (core.transactions), which also turns database conflicts (a CHECK on
the slot counter, unique violations, serialization failures, deadlocks, a locked SQLite file) into
a bounded retry and then a 409.

Every status change is a guarded write (core.transactions.transition): `UPDATE … WHERE id = :id
AND status = 'confirmed' AND sequence = :seen`, whose row count decides who won. Only the winner
changes the slot counters and sends booking_changed; a loser finds out what happened: the same
person's repeated action is harmless (`booking.already_done`), anything else is a 409.
The occurrences of a series are decided under the series row's lock: FOR UPDATE by a host who
cancels or moves one, FOR SHARE by everyone who books into or out of the series.

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
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import cache
from operator import attrgetter

from email_validator import EmailNotValidError, validate_email
from flask_babel import lazy_gettext as _l
from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import joinedload, lazyload

from ..core import recurrence
from ..core.db import utcnow
from ..core.errors import Conflict, Forbidden, NotFound, ValidationFailed
from ..core.hygiene import text_problem
from ..core.privacy import identity_code_errors, refuse_identity_codes
from ..core.signals import booking_changed
from ..core.timefmt import local_to_utc, to_local
from ..core.transactions import lock_for_update, lock_row, locking_select, reread, run_atomically, transition
from ..extensions import db
from ..people.access_log import log_access, log_read, log_refused
from ..people.models import LANGUAGES, UNIT_KINDS, Unit, User
from .models import (
    BOOKING_TRANSITIONS,
    MODALITIES,
    OCCURRENCE_TRANSITIONS,
    Booking,
    BookingStatus,
    ConsultationSeries,
    ConsultationSlot,
    OccurrenceChange,
    OccurrenceStatus,
)
from .slots import (
    Occurrence,
    SlotView,
    find_occurrence,
    find_slot,
    occurrences,
    parse_slot_key,
    slots_of,
)

log = logging.getLogger(__name__)

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
    # Optional Swedish and English texts; the fields above are the Finnish (default) ones.
    title_sv: str = ""
    title_en: str = ""
    description_sv: str = ""
    description_en: str = ""
    location_sv: str = ""
    location_en: str = ""


TRANSLATED_SERIES_FIELDS = {"title": 200, "description": None, "location": 300}  # field → max length


def _translations(errors: dict, data: SeriesInput) -> dict[str, str | None]:
    """The optional sv/en texts, checked like the Finnish ones (length, hygiene, identity codes)."""
    out: dict[str, str | None] = {}
    for field, limit in TRANSLATED_SERIES_FIELDS.items():
        for lang in ("sv", "en"):
            name = f"{field}_{lang}"
            raw = getattr(data, name, "")
            value = (raw if isinstance(raw, str) else "").strip()
            if raw is not None and not isinstance(raw, str):
                errors[name] = str(_l("Enter text."))
            elif limit and len(value) > limit:
                errors[name] = str(_l("Use at most %(n)d characters.", n=limit))
            elif (problem := text_problem(value)) is not None:
                errors[name] = problem
            identity_code_errors(errors, **{name: value})  # sv/en titles and places leave in invitations too
            out[name] = value or None
    return out


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
    rule = recurrence.normalise_rule(data.rrule)
    if "UNTIL=" in rule:
        errors["rrule"] = str(_l("Give the end date separately, not in the rule."))
    else:
        try:
            recurrence.parse_rule(rule, first_utc.replace(tzinfo=None))
            recurrence.check_rule_numbers(rule)
            if not recurrence.occurs_within(rule, to_local(first_utc).replace(tzinfo=None)):
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
    translations = _translations(errors, data)
    if errors:
        raise ValidationFailed(str(_l("Check the consultation hours.")), fields=errors)
    consultants = data.consultants or [actor]
    series = ConsultationSeries(
        unit=unit, title=title, description=(data.description or "").strip(), rrule=rule, first_start_dt=first_utc,
        until=data.until, slot_minutes=slot_minutes, slots_per_occurrence=n_slots, capacity=capacity,
        modality=data.modality, location=(data.location or "").strip(), languages=languages, open_to=open_to,
        min_notice_hours=notice, horizon_days=horizon, created_by=actor, consultants=list(consultants),
        **translations,
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


def resolve_slot(slot_id: str, *, lock: bool = False) -> SlotView:
    """The slot a key names. lock=True first takes the series row FOR SHARE, so no host cancels or
    moves the occurrence between this decision and the booking's write."""
    parsed = parse_slot_key(slot_id)
    series = None
    if parsed:
        series = lock_series(parsed[0], share=True) if lock else db.session.get(ConsultationSeries, parsed[0])
    sv = find_slot(series, parsed[1]) if (series and parsed) else None
    if sv is None:
        raise NotFound(str(_l("No such consultation time.")), fields={"slot_id": str(_l("No such consultation time."))})
    return sv


@cache
def _series_lock_for_booking():
    # populate_existing (in locking_select) reloads the series and its changes after the lock is
    # held. A booking reads the changes in the locking statement itself (joined: FOR SHARE OF the
    # series row only) and needs not the consultants (and their roles and units: three
    # statements): they load on first use instead.
    return locking_select(ConsultationSeries, read=True, options=(
        joinedload(ConsultationSeries.changes), lazyload(ConsultationSeries.consultants)))


def lock_series(series_id: int, *, share: bool = False) -> ConsultationSeries | None:
    """The series row locked (FOR SHARE: bookings; FOR UPDATE: a host changing an occurrence),
    with its occurrence changes read after the lock."""
    if share:
        return lock_row(_series_lock_for_booking(), series_id)
    return lock_for_update(ConsultationSeries, series_id)


# --- slot counters: the only writes to `booked` ----------------------------------------------------

@cache
def _claim_statement(dialect: str):
    """INSERT … ON CONFLICT DO UPDATE … WHERE booked < capacity RETURNING id, built once per
    dialect (on the table: no ORM objects are involved) and run with each booking's values."""
    slots = ConsultationSlot.__table__
    ins = (postgresql if dialect == "postgresql" else sqlite).insert(slots)
    return ins.on_conflict_do_update(
        index_elements=["series_id", "start_dt"],
        set_={"booked": slots.c.booked + 1},
        where=slots.c.booked < slots.c.capacity,
    ).returning(slots.c.id)


def _claim_place(series: ConsultationSeries, start_dt: datetime, end_dt: datetime) -> int:
    """Take one place in the slot, creating its row on the first booking: one conditional upsert
    (INSERT … ON CONFLICT DO UPDATE … WHERE booked < capacity RETURNING id). No row back means the
    slot is full: the guard is the statement itself, as in _take_place."""
    row_id = db.session.execute(_claim_statement(db.session.get_bind().dialect.name), {
        "series_id": series.id, "start_dt": start_dt, "end_dt": end_dt, "capacity": series.capacity, "booked": 1,
    }).scalar()
    if row_id is None:
        raise Conflict(_full_message(), fields={"slot_id": _full_message()})
    return row_id


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


def _release_place(slot_row_id: int, n: int = 1) -> None:
    """Only the transaction that won a booking's transition calls this (the CHECK keeps booked ≥ 0:
    a wrong release fails loudly instead of hiding a lost place)."""
    db.session.execute(
        update(ConsultationSlot)
        .where(ConsultationSlot.id == slot_row_id)
        .values(booked=ConsultationSlot.booked - n)
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
    sv = resolve_slot(slot_id, lock=True)
    series = sv.series
    if not can_book(actor, series):
        raise Forbidden(str(_l("Your unit cannot book these consultation hours.")))
    _check_window(series, sv.start_dt, now)
    row_id = _claim_place(series, sv.start_dt, sv.end_dt)
    booking = Booking(slot_id=row_id, series=series, booker=actor, start_dt=sv.start_dt, end_dt=sv.end_dt,
                      case_ref=case_ref, question=question, participants=people, status=BookingStatus.CONFIRMED)
    db.session.add(booking)
    db.session.flush()
    booking_changed.send(booking, action="created", previous_start=None)
    return booking


def get_booking(*, actor: User, booking_id: int) -> Booking:
    booking = db.session.get(Booking, booking_id)
    if booking is None or not can_see_booking(actor, booking):
        # the same answer whether it exists or not: nobody learns of others' bookings
        raise NotFound(str(_l("No such booking.")))
    booking.already_done = False
    return booking


def _already_cancelled(booking: Booking, actor: User) -> Booking:
    """A second "cancel" by the one who cancelled changes nothing and is no error; anyone else
    learns that it is already cancelled (409)."""
    if booking.cancelled_by_id == actor.id:
        booking.already_done = True
        return booking
    raise Conflict(str(_l("This booking has already been cancelled.")))


def _moved_meanwhile() -> Conflict:
    return Conflict(str(_l("The booking was moved to another time at the same moment. Check the new time "
                           "and try again if needed.")))


def read_booking(*, actor: User, booking_id: int, via: str) -> Booking:
    """get_booking for showing the booking's content: the read, or the refusal, goes into the
    access log (the caller commits either way)."""
    try:
        booking = get_booking(actor=actor, booking_id=booking_id)
    except NotFound:
        log_refused(actor, "booking", booking_id, via=via)
        raise
    log_read(actor, "booking", booking.id, via=via)
    return booking


def log_booking_reads(actor: User, bookings: list[Booking], *, via: str) -> None:
    """A list that shows the bookings' case references or questions: one multi-row INSERT."""
    log_access(actor, "booking", [b.id for b in bookings], via=via)


def cancel_booking(*, actor: User, booking_id: int, reason: str = "", now: datetime | None = None) -> Booking:
    booking = get_booking(actor=actor, booking_id=booking_id)
    if booking.status == BookingStatus.CANCELLED:
        return _already_cancelled(booking, actor)
    reason = (reason or "").strip()
    hosting = booking.booker_id != actor.id
    if hosting and not reason:
        raise ValidationFailed(str(_l("Tell the booker why the consultation is cancelled.")),
                               fields={"reason": str(_l("Tell the booker why the consultation is cancelled."))})
    if len(reason) > 1000:
        raise ValidationFailed(str(_l("Use at most 1000 characters.")), fields={"reason": str(_l("Use at most 1000 characters."))})
    refuse_identity_codes(reason=reason)
    seen, slot_row = booking.sequence, booking.slot_id
    if not _cancel_guarded(booking, actor, reason, seen):
        reread(booking)
        if booking.status == BookingStatus.CANCELLED:
            return _already_cancelled(booking, actor)
        raise _moved_meanwhile()
    _release_place(slot_row)
    booking_changed.send(booking, action="cancelled", previous_start=None)
    return booking


def _cancel_guarded(booking: Booking, actor: User | None, reason: str, seen_sequence: int) -> bool:
    """confirmed → cancelled, only if nobody changed the booking since we read it (its sequence)."""
    return transition(booking, BOOKING_TRANSITIONS, BookingStatus.CANCELLED, sources=[BookingStatus.CONFIRMED],
                      where=[Booking.sequence == seen_sequence],
                      values={"cancel_reason": reason, "cancelled_by_id": actor.id if actor else None,
                              "sequence": seen_sequence + 1, "updated_dt": utcnow()})


def reschedule_booking(*, actor: User, booking_id: int, slot_id: str, now: datetime | None = None) -> Booking:
    """Move the booking (the same row, the same UID) to another slot of a series the booker may book."""
    now = now or utcnow()
    booking = get_booking(actor=actor, booking_id=booking_id)
    if booking.booker_id != actor.id:
        raise Forbidden(str(_l("Only the person who booked can move the booking.")))
    if booking.status != BookingStatus.CONFIRMED:
        raise Conflict(str(_l("A cancelled booking cannot be moved.")))
    old_series_id = booking.series_id
    sv = resolve_slot(slot_id, lock=True)
    if sv.series.id != old_series_id:  # the occurrence it leaves must not change meanwhile either
        lock_series(old_series_id, share=True)
    if sv.series.id == booking.series_id and sv.start_dt == booking.start_dt:
        booking.already_done = True  # already there (a repeated request): nothing to do
        return booking
    if not can_book(actor, sv.series):
        raise Forbidden(str(_l("Your unit cannot book these consultation hours.")))
    _check_window(sv.series, sv.start_dt, now)
    new_row = _slot_row_id(sv.series, sv.start_dt, sv.end_dt)
    seen, old_row, previous = booking.sequence, booking.slot_id, booking.start_dt
    won = transition(booking, BOOKING_TRANSITIONS, BookingStatus.CONFIRMED, sources=[BookingStatus.CONFIRMED],
                     where=[Booking.sequence == seen],
                     values={"slot_id": new_row, "series_id": sv.series.id, "start_dt": sv.start_dt,
                             "end_dt": sv.end_dt, "sequence": seen + 1, "updated_dt": utcnow()})
    if not won:
        return _lost_reschedule(reread(booking), new_row)
    # the booking's row is ours; the counters in slot-id order, so two opposite moves never
    # wait for each other (no deadlock)
    for row in sorted({old_row, new_row}):
        if row == new_row:
            _take_place(row)
        else:
            _release_place(row)
    db.session.refresh(booking, ["series", "slot"])
    booking_changed.send(booking, action="rescheduled", previous_start=previous)
    return booking


def _lost_reschedule(booking: Booking, new_row: int | None) -> Booking:
    if booking.status == BookingStatus.CANCELLED:
        raise Conflict(str(_l("The booking was cancelled at the same moment and cannot be moved.")))
    if new_row is not None and booking.slot_id == new_row:
        booking.already_done = True  # the same move, already made by the same person's other request
        return booking
    raise _moved_meanwhile()


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
        q = q.where(Booking.status == BookingStatus.CONFIRMED)
    return list(db.session.execute(q).unique().scalars())


def occurrence_bookings(series: ConsultationSeries, occ: Occurrence) -> list[Booking]:
    return list(db.session.execute(
        select(Booking).where(Booking.series_id == series.id, Booking.status == BookingStatus.CONFIRMED,
                              Booking.start_dt >= occ.start_dt, Booking.start_dt < occ.end_dt)
        .order_by(Booking.id)
        .execution_options(populate_existing=True)
    ).unique().scalars())


# --- single occurrences: cancel or move -----------------------------------------------------------

def _host_series_locked(actor: User, series_id: int) -> ConsultationSeries:
    """The series, locked FOR UPDATE before anything about its occurrences is read."""
    series = get_series(series_id)
    if not is_host(actor, series):
        raise Forbidden(str(_l("Only the hosts can change these consultation hours.")))
    locked = lock_series(series_id)
    if locked is None:
        raise NotFound(str(_l("No such consultation hours.")))
    return locked


def occurrence_status(series: ConsultationSeries, original_start_dt: datetime) -> OccurrenceStatus:
    for c in series.changes:
        if c.original_start_dt == original_start_dt:
            return c.status
    return OccurrenceStatus.SCHEDULED


def _change_row(series: ConsultationSeries, occ: Occurrence, actor: User) -> OccurrenceChange:
    for c in series.changes:
        if c.original_start_dt == occ.original_start_dt:
            return c
    change = OccurrenceChange(original_start_dt=occ.original_start_dt, changed_by_id=actor.id)
    series.changes.append(change)
    return change


def cancel_occurrence(*, actor: User, series_id: int, original_start_dt: datetime, reason: str) -> list[Booking]:
    """Cancel one occurrence: its bookings are cancelled with the reason and their bookers told.
    Cancelling it again changes nothing (an empty list) for the host who cancelled it."""
    reason = (reason or "").strip()
    if not reason:
        raise ValidationFailed(str(_l("Tell the bookers why the time is cancelled.")),
                               fields={"reason": str(_l("Tell the bookers why the time is cancelled."))})
    refuse_identity_codes(reason=reason)
    series = _host_series_locked(actor, series_id)
    status = occurrence_status(series, original_start_dt)
    if not OCCURRENCE_TRANSITIONS.allows(status, OccurrenceStatus.CANCELLED):
        change = next(c for c in series.changes if c.original_start_dt == original_start_dt)
        if change.changed_by_id == actor.id:
            return []
        raise Conflict(str(_l("This time has already been cancelled.")))
    occ = find_occurrence(series, original_start_dt)
    if occ is None:
        raise NotFound(str(_l("No such consultation time.")))
    affected = occurrence_bookings(series, occ)
    change = _change_row(series, occ, actor)
    change.new_start_dt, change.reason, change.changed_by_id = None, reason, actor.id
    db.session.flush()
    cancelled = [b for b in affected if _cancel_guarded(b, actor, reason, b.sequence)]  # the booker may win one
    for row, n in sorted(Counter(b.slot_id for b in cancelled).items()):
        _release_place(row, n)
    for b in cancelled:
        booking_changed.send(b, action="cancelled", previous_start=None)
    return cancelled


def move_occurrence(*, actor: User, series_id: int, original_start_dt: datetime, new_start: datetime,
                    reason: str = "", now: datetime | None = None) -> list[Booking]:
    """Move one occurrence to another time (local wall-clock or aware); its bookings move with it,
    each to the slot in the same position, and their bookers are told."""
    now = now or utcnow()
    new_utc = new_start.astimezone(UTC) if new_start.tzinfo else local_to_utc(new_start)
    if new_utc < now:
        raise ValidationFailed(str(_l("The new time cannot be in the past.")),
                               fields={"new_start": str(_l("The new time cannot be in the past."))})
    refuse_identity_codes(reason=reason)
    series = _host_series_locked(actor, series_id)
    status = occurrence_status(series, original_start_dt)
    if not OCCURRENCE_TRANSITIONS.allows(status, OccurrenceStatus.MOVED):
        raise Conflict(str(_l("A cancelled time cannot be moved.")))
    occ = find_occurrence(series, original_start_dt)
    if occ is None:
        raise NotFound(str(_l("No such consultation time.")))
    if new_utc == occ.start_dt:
        if status == OccurrenceStatus.MOVED:
            return []  # already there: a repeated request
        raise ValidationFailed(str(_l("Choose a different time.")), fields={"new_start": str(_l("Choose a different time."))})
    affected = occurrence_bookings(series, occ)
    change = _change_row(series, occ, actor)
    change.new_start_dt, change.reason, change.changed_by_id = new_utc, (reason or "").strip(), actor.id
    step = timedelta(minutes=series.slot_minutes)
    moved: list[tuple[Booking, datetime, int]] = []
    for b in affected:
        index = int((b.start_dt - occ.start_dt) / step)
        start = new_utc + index * step
        row = _slot_row_id(series, start, start + step)
        previous, old_row, seen = b.start_dt, b.slot_id, b.sequence
        if transition(b, BOOKING_TRANSITIONS, BookingStatus.CONFIRMED, sources=[BookingStatus.CONFIRMED],
                      where=[Booking.sequence == seen],
                      values={"slot_id": row, "start_dt": start, "end_dt": start + step, "sequence": seen + 1,
                              "updated_dt": utcnow()}):
            moved.append((b, previous, old_row))
        # else: its booker cancelled it at this moment; it stays cancelled where it was
    changes: Counter[int] = Counter()
    for b, _previous, old_row in moved:
        changes[old_row] -= 1
        changes[b.slot_id] += 1
    for row, delta in sorted(changes.items()):  # releases before takes within a row; rows in id order
        if delta < 0:
            _release_place(row, -delta)
        for _ in range(max(delta, 0)):
            _take_place(row)
    db.session.flush()
    for b, previous, _old_row in moved:
        booking_changed.send(b, action="rescheduled", previous_start=previous)
    return [b for b, _previous, _old_row in moved]


def upcoming_occurrences(series: ConsultationSeries, *, now: datetime | None = None, days: int = 120
                         ) -> list[tuple[Occurrence, int]]:
    """(occurrence, number of confirmed bookings) for the host's series page."""
    now = now or utcnow()
    occs = occurrences(series, now, now + timedelta(days=days))
    if not occs:
        return []
    counts: dict[datetime, int] = {}
    rows = db.session.execute(
        select(Booking.start_dt).where(Booking.series_id == series.id, Booking.status == BookingStatus.CONFIRMED,
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
