"""/api/v1 endpoints for consultations: thin, calling scheduler.consultations.services."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Annotated, Literal

from flask import jsonify
from flask_babel import lazy_gettext as _l
from pydantic import ConfigDict, Field, ValidationInfo, field_validator, model_validator
from pydantic_core import PydanticCustomError

from ..consultations import services as svc
from ..consultations.models import MODALITIES, Booking, ConsultationSeries
from ..consultations.slots import SlotView
from ..core import recurrence
from ..core.db import utcnow
from ..core.errors import ValidationFailed
from ..core.timefmt import app_tz, iso_local, to_local
from ..extensions import db
from ..people.models import LANGUAGES, UNIT_KINDS
from . import api_route, current_api_user
from .schema import (
    MAX_LIST,
    ApiModel,
    Email,
    Flag,
    Int,
    IsoDate,
    LocalDateTime,
    ResponseModel,
    Text,
    checked_by,
)

Modality = Literal[MODALITIES]  # type: ignore[valid-type]
Language = Literal[LANGUAGES]  # type: ignore[valid-type]
UnitKind = Literal[UNIT_KINDS]  # type: ignore[valid-type]
SlotId = Text(80, description="A slot's id from GET /slots.")


def _series_rule(rule: str) -> None:
    text = rule.strip()
    if text.upper().startswith("RRULE:"):
        text = text[6:]
    if "UNTIL=" in text.upper() or not text:
        raise ValueError(rule)
    recurrence.parse_rule(text, datetime(2027, 1, 1, 12, 0))
    recurrence.check_rule_numbers(text)


# --- requests -------------------------------------------------------------------------------------

class TitlesIn(ApiModel):
    """A series' title in Finnish, Swedish and English; sv and en fall back to the Finnish one."""

    model_config = ConfigDict(strict=True, extra="forbid")

    fi: Text(200) | None = None
    sv: Text(200) | None = None
    en: Text(200) | None = None

    @model_validator(mode="before")
    @classmethod
    def _known_keys(cls, data):
        if isinstance(data, dict) and set(data) - {"fi", "sv", "en"}:
            message = str(_l("Give the titles as an object with the keys fi, sv and en."))
            raise PydanticCustomError("scheduler", "{message}", {"message": message})
        return data


class SeriesIn(ApiModel):
    unit: Text(40)
    titles: TitlesIn | None = None  # before title: title may be left out when titles.fi is given
    title: Text(200) | None = Field(None, validate_default=True,
                                    description="The Finnish (default) title; required unless titles.fi is given.")

    @field_validator("title")
    @classmethod
    def _title_or_titles_fi(cls, value, info: ValidationInfo):
        titles = info.data.get("titles")
        if value is None and not (titles is not None and titles.fi):
            raise PydanticCustomError("missing", "Field required")
        return value
    rrule: Annotated[Text(200), checked_by(_series_rule, _l("The recurrence is not valid."))]
    first_start: LocalDateTime
    slot_minutes: Int(5, 480) = 30
    slots: Int(1, 48) = 1
    capacity: Int(1, 50) = 1
    modality: Modality = "teams"
    location: Text(300) = ""
    languages: Annotated[list[Language], Field(min_length=1, max_length=len(LANGUAGES))] = ["fi"]
    open_to: Annotated[list[UnitKind], Field(max_length=len(UNIT_KINDS))]
    min_notice_hours: Int(0, 24 * 60) = 24
    horizon_days: Int(1, 730) = 90
    until: IsoDate | None = None
    description: Text(4000) = ""


class SlotsQuery(ApiModel):
    date_from: IsoDate | None = Field(None, alias="from")
    date_to: IsoDate | None = Field(None, alias="to")
    unit: Text(40) | None = None
    kind: UnitKind | None = None
    modality: Modality | None = None
    language: Language | None = None
    available: Flag = False


class BookingIn(ApiModel):
    slot_id: SlotId
    case_ref: Text(60)
    question: Text(4000)
    participants: Annotated[list[Email], Field(max_length=MAX_LIST)] | None = None


class BookingsQuery(ApiModel):
    mine: Flag = False
    hosted: Flag = False


class CancelIn(ApiModel):
    reason: Text(1000) = ""


class RescheduleIn(ApiModel):
    slot_id: SlotId


# --- answers --------------------------------------------------------------------------------------

class SlotOut(ResponseModel):
    id: str
    series_id: int
    unit: str
    title: str
    start: datetime
    end: datetime
    capacity: int
    booked: int
    modality: Modality
    location: str
    languages: list[str]
    bookable: bool


class SlotList(ResponseModel):
    slots: list[SlotOut]


class BookingOut(ResponseModel):
    id: int
    status: Literal["confirmed", "cancelled"]
    slot_id: str
    start: datetime
    end: datetime
    join_url: str | None
    series_id: int
    unit: str
    title: str
    modality: Modality
    location: str
    erased: bool = Field(description="True once retention erased the case content (then null here).")
    erased_at: datetime | None
    case_ref: str | None
    question: str | None
    participants: list[str]
    sequence: int
    cancel_reason: str | None


class BookingList(ResponseModel):
    bookings: list[BookingOut]


class TitlesOut(ResponseModel):
    fi: str
    sv: str
    en: str


class SeriesOut(ResponseModel):
    id: int
    unit: str
    title: str
    titles: TitlesOut
    rrule: str
    first_start: str = Field(description="Local wall time, e.g. 2027-01-05T13:00.")
    slot_minutes: int
    slots: int
    capacity: int
    modality: Modality
    location: str
    languages: list[str]
    open_to: list[str]
    min_notice_hours: int
    horizon_days: int
    until: date | None
    is_active: bool
    consultants: list[str]


class SeriesList(ResponseModel):
    series: list[SeriesOut]


def caller_language(user) -> str:
    """The caller's profile language (fi when unset or unknown): the API has no page language."""
    return user.language if getattr(user, "language", None) in LANGUAGES else "fi"


def slot_json(sv: SlotView, tz=None, lang: str = "fi") -> dict:
    s = sv.series
    tz = tz or app_tz()
    return {
        "id": sv.id, "series_id": s.id, "unit": s.unit.code, "title": s.localized("title", lang),
        "start": sv.start_dt.astimezone(tz).isoformat(timespec="seconds"),
        "end": sv.end_dt.astimezone(tz).isoformat(timespec="seconds"), "capacity": sv.capacity, "booked": sv.booked,
        "modality": s.modality, "location": s.location, "languages": list(s.languages or []),
        "bookable": sv.bookable and not sv.is_full,
    }


def booking_json(b: Booking) -> dict:
    """After retention erased the booking: "erased": true, its content null (participants [])."""
    s = b.series
    erased = b.is_erased
    return {
        "id": b.id, "status": b.status, "slot_id": b.slot_key, "start": iso_local(b.start_dt), "end": iso_local(b.end_dt),
        "join_url": b.join_url, "series_id": s.id, "unit": s.unit.code, "title": s.title, "modality": s.modality,
        "location": s.location, "erased": erased, "erased_at": iso_local(b.erased_dt),
        "case_ref": None if erased else b.case_ref, "question": None if erased else b.question,
        "participants": [] if erased else list(b.participants or []),
        "sequence": b.sequence, "cancel_reason": None if erased else b.cancel_reason,
    }


def series_json(s: ConsultationSeries) -> dict:
    return {
        "id": s.id, "unit": s.unit.code, "title": s.title,
        "titles": {"fi": s.title, "sv": s.title_sv or "", "en": s.title_en or ""}, "rrule": s.rrule,
        "first_start": to_local(s.first_start_dt).replace(tzinfo=None).isoformat(timespec="minutes"),
        "slot_minutes": s.slot_minutes, "slots": s.slots_per_occurrence, "capacity": s.capacity,
        "modality": s.modality, "location": s.location, "languages": list(s.languages or []),
        "open_to": list(s.open_to or []), "min_notice_hours": s.min_notice_hours, "horizon_days": s.horizon_days,
        "until": s.until.isoformat() if s.until else None, "is_active": s.is_active,
        "consultants": [c.email for c in s.consultants],
    }


@api_route("/consultation-series", ("POST",), summary="Publish consultation hours (a recurring series)",
           body=SeriesIn, response=SeriesOut, status=201)
def create_series(body: SeriesIn):
    actor = current_api_user()
    titles = body.titles or TitlesIn()
    data = svc.SeriesInput(
        unit=body.unit, title=body.title or titles.fi or "", title_sv=titles.sv or "", title_en=titles.en or "",
        rrule=body.rrule, first_start=body.first_start,
        slot_minutes=body.slot_minutes, slots=body.slots, capacity=body.capacity, modality=body.modality,
        location=body.location, languages=body.languages, open_to=body.open_to,
        min_notice_hours=body.min_notice_hours, horizon_days=body.horizon_days, until=body.until,
        description=body.description,
    )
    try:
        series = svc.run_atomically(lambda: svc.create_series(actor=actor, data=data))
    except ValidationFailed as exc:  # the service names the sv/en titles title_sv/title_en
        exc.fields = {_API_FIELD.get(k, k): v for k, v in (exc.fields or {}).items()}
        raise
    return jsonify(series_json(series)), 201


_API_FIELD = {"title_sv": "titles.sv", "title_en": "titles.en"}


@api_route("/consultation-series", summary="Consultation hours the caller hosts", response=SeriesList)
def list_series():
    return jsonify({"series": [series_json(s) for s in svc.hosted_series(current_api_user())]})


@api_route("/slots", summary="Consultation slots the caller may book or hosts", query=SlotsQuery, response=SlotList)
def slots(query: SlotsQuery):
    d1 = query.date_from or to_local(utcnow()).date()
    d2 = query.date_to or d1 + timedelta(days=28)
    flt = svc.SlotFilter(date_from=d1, date_to=d2, unit=query.unit or None, kind=query.kind,
                         modality=query.modality, language=query.language, available_only=query.available)
    tz = app_tz()
    actor = current_api_user()
    lang = caller_language(actor)  # the title in the caller's profile language
    listed = svc.list_slots(actor=actor, flt=flt)
    per_series: dict[int, dict] = {}  # the series' part of each slot, built once per series
    out = []
    for sv in listed:
        base = per_series.get(id(sv.series))
        if base is None:
            full = slot_json(sv, tz, lang)
            base = per_series[id(sv.series)] = {k: full[k] for k in _SERIES_KEYS}
        out.append({**base, "id": sv.id, "start": sv.start_dt.astimezone(tz).isoformat(timespec="seconds"),
                    "end": sv.end_dt.astimezone(tz).isoformat(timespec="seconds"), "capacity": sv.capacity,
                    "booked": sv.booked, "bookable": sv.bookable and sv.booked < sv.capacity})
    return jsonify({"slots": out})


_SERIES_KEYS = ("series_id", "unit", "title", "modality", "location", "languages")


@api_route("/bookings", ("POST",), summary="Book a consultation slot", body=BookingIn, response=BookingOut,
           status=201)
def create_booking(body: BookingIn):
    actor = current_api_user()
    # the answer is made inside the transaction, from the objects it just wrote: after the commit
    # they would all be read again (seven statements for nothing)
    answer = svc.run_atomically(lambda: booking_json(svc.book_slot(
        actor=actor, slot_id=body.slot_id, case_ref=body.case_ref, question=body.question,
        participants=body.participants)))
    return jsonify(answer), 201


@api_route("/bookings", summary="The caller's bookings (mine=1) or those in series the caller hosts (hosted=1)",
           query=BookingsQuery, response=BookingList)
def list_bookings(query: BookingsQuery):
    actor = current_api_user()
    if query.hosted:
        rows = svc.hosted_bookings(actor, include_cancelled=True)
    else:
        upcoming, past = svc.my_bookings(actor)
        rows = upcoming + past
    svc.log_booking_reads(actor, rows, via="api")  # one entry per booking returned
    db.session.commit()
    return jsonify({"bookings": [booking_json(b) for b in rows]})


@api_route("/bookings/<int:booking_id>", summary="One booking (the booker's or in a hosted series)",
           response=BookingOut)
def get_booking(booking_id: int):
    try:
        booking = svc.read_booking(actor=current_api_user(), booking_id=booking_id, via="api")
    finally:
        db.session.commit()  # the read, or the refusal, stays in the access log
    return jsonify(booking_json(booking))


@api_route("/bookings/<int:booking_id>/cancel", ("POST",), summary="Cancel a booking", body=CancelIn,
           response=BookingOut)
def cancel_booking(booking_id: int, body: CancelIn):
    actor = current_api_user()
    booking = svc.run_atomically(lambda: svc.cancel_booking(actor=actor, booking_id=booking_id, reason=body.reason))
    svc.log_booking_reads(actor, [booking], via="api")  # the answer shows the booking's content
    db.session.commit()
    return jsonify(booking_json(booking))


@api_route("/bookings/<int:booking_id>/reschedule", ("POST",), summary="Move a booking to another slot",
           body=RescheduleIn, response=BookingOut)
def reschedule_booking(booking_id: int, body: RescheduleIn):
    actor = current_api_user()
    booking = svc.run_atomically(lambda: svc.reschedule_booking(actor=actor, booking_id=booking_id,
                                                                slot_id=body.slot_id))
    svc.log_booking_reads(actor, [booking], via="api")  # the answer shows the booking's content
    db.session.commit()
    return jsonify(booking_json(booking))
