"""/api/v1 endpoints for consultations: thin, calling scheduler.consultations.services."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from flask import jsonify, request
from flask_babel import lazy_gettext as _l

from ..consultations import services as svc
from ..consultations.models import Booking, ConsultationSeries
from ..consultations.slots import SlotView
from ..core.db import utcnow
from ..core.errors import ValidationFailed
from ..core.timefmt import app_tz, iso_local, to_local
from ..people.models import LANGUAGES
from . import api_route, current_api_user, json_body

SLOT_SCHEMA = {
    "type": "object",
    "properties": {
        "id": {"type": "string"}, "series_id": {"type": "integer"}, "unit": {"type": "string"},
        "title": {"type": "string"}, "start": {"type": "string", "format": "date-time"},
        "end": {"type": "string", "format": "date-time"}, "capacity": {"type": "integer"},
        "booked": {"type": "integer"}, "modality": {"type": "string", "enum": ["teams", "in_person", "phone"]},
        "location": {"type": "string"}, "languages": {"type": "array", "items": {"type": "string"}},
        "bookable": {"type": "boolean"},
    },
    "required": ["id", "series_id", "unit", "title", "start", "end", "capacity", "booked", "modality", "location"],
}
BOOKING_SCHEMA = {
    "type": "object",
    "properties": {
        "id": {"type": "integer"}, "status": {"type": "string", "enum": ["confirmed", "cancelled"]},
        "slot_id": {"type": "string"}, "start": {"type": "string"}, "end": {"type": "string"},
        "join_url": {"type": ["string", "null"]}, "series_id": {"type": "integer"}, "unit": {"type": "string"},
        "title": {"type": "string"}, "modality": {"type": "string"}, "location": {"type": "string"},
        "case_ref": {"type": "string"}, "question": {"type": "string"},
        "participants": {"type": "array", "items": {"type": "string"}}, "sequence": {"type": "integer"},
        "cancel_reason": {"type": "string"},
    },
    "required": ["id", "status", "slot_id", "start", "end", "join_url"],
}
SERIES_REQUEST = {
    "type": "object",
    "properties": {
        "unit": {"type": "string"}, "title": {"type": "string"}, "rrule": {"type": "string"},
        "first_start": {"type": "string", "description": "local wall time, e.g. 2027-01-05T13:00"},
        "slot_minutes": {"type": "integer"}, "slots": {"type": "integer"}, "capacity": {"type": "integer"},
        "modality": {"type": "string", "enum": ["teams", "in_person", "phone"]}, "location": {"type": "string"},
        "languages": {"type": "array", "items": {"type": "string", "enum": ["fi", "sv", "en"]}},
        "open_to": {"type": "array", "items": {"type": "string"}}, "min_notice_hours": {"type": "integer"},
        "horizon_days": {"type": "integer"}, "until": {"type": "string", "format": "date"},
        "titles": {"type": "object", "description": "the title in fi/sv/en; sv and en fall back to Finnish; "
                   "fi is used only when title is not given",
                   "properties": {lang: {"type": "string", "maxLength": 200} for lang in ("fi", "sv", "en")},
                   "additionalProperties": False},
    },
    "required": ["unit", "rrule", "first_start", "open_to"],
}


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
    s = b.series
    return {
        "id": b.id, "status": b.status, "slot_id": b.slot_key, "start": iso_local(b.start_dt), "end": iso_local(b.end_dt),
        "join_url": b.join_url, "series_id": s.id, "unit": s.unit.code, "title": s.title, "modality": s.modality,
        "location": s.location, "case_ref": b.case_ref, "question": b.question, "participants": list(b.participants or []),
        "sequence": b.sequence, "cancel_reason": b.cancel_reason,
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


def _bad(field: str, message) -> ValidationFailed:
    return ValidationFailed(str(_l("Check the request.")), fields={field: str(message)})


def _titles(body: dict) -> dict[str, str]:
    """The optional {"fi": …, "sv": …, "en": …}; every problem is a field error titles.<lang>."""
    raw = body.get("titles")
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise _bad("titles", _l("Give the titles as an object with the keys fi, sv and en."))
    errors: dict[str, str] = {}
    titles: dict[str, str] = {}
    for key, value in raw.items():
        name = f"titles.{key}"
        if key not in ("fi", "sv", "en"):
            errors[name[:60]] = str(_l("Give the titles as an object with the keys fi, sv and en."))
        elif value is not None and not isinstance(value, str):
            errors[name] = str(_l("Enter text."))
        elif len((value or "").strip()) > 200:
            errors[name] = str(_l("Enter a title of at most 200 characters."))
        else:
            titles[key] = (value or "").strip()
    if errors:
        raise ValidationFailed(str(_l("Check the request.")), fields=errors)
    return titles


def _date_arg(name: str, default: date) -> date:
    raw = request.args.get(name)
    if not raw:
        return default
    try:
        return date.fromisoformat(raw)
    except ValueError as exc:
        raise _bad(name, _l("Use the format YYYY-MM-DD.")) from exc


@api_route("/consultation-series", ("POST",), summary="Publish consultation hours (a recurring series)",
           request_schema=SERIES_REQUEST, status=201)
def create_series():
    body = json_body()
    actor = current_api_user()
    try:
        first = datetime.fromisoformat(str(body.get("first_start") or ""))
    except ValueError as exc:
        raise _bad("first_start", _l("Use local time, e.g. 2027-01-05T13:00.")) from exc
    until = None
    if body.get("until"):
        try:
            until = date.fromisoformat(str(body["until"]))
        except ValueError as exc:
            raise _bad("until", _l("Use the format YYYY-MM-DD.")) from exc
    for name in ("languages", "open_to"):
        if name in body and not isinstance(body[name], list):
            raise _bad(name, _l("Give a list."))
    titles = _titles(body)
    data = svc.SeriesInput(
        unit=str(body.get("unit") or ""), title=str(body.get("title") or titles.get("fi") or ""),
        title_sv=titles.get("sv", ""), title_en=titles.get("en", ""), rrule=str(body.get("rrule") or ""),
        first_start=first, slot_minutes=body.get("slot_minutes", 30), slots=body.get("slots", 1),
        capacity=body.get("capacity", 1), modality=str(body.get("modality") or "teams"),
        location=str(body.get("location") or ""), languages=body.get("languages") or ["fi"],
        open_to=body.get("open_to") or [], min_notice_hours=body.get("min_notice_hours", 24),
        horizon_days=body.get("horizon_days", 90), until=until, description=str(body.get("description") or ""),
    )
    try:
        series = svc.run_atomically(lambda: svc.create_series(actor=actor, data=data))
    except ValidationFailed as exc:  # the service names the sv/en titles title_sv/title_en
        exc.fields = {_API_FIELD.get(k, k): v for k, v in (exc.fields or {}).items()}
        raise
    return jsonify(series_json(series)), 201


_API_FIELD = {"title_sv": "titles.sv", "title_en": "titles.en"}


@api_route("/consultation-series", summary="Consultation hours the caller hosts")
def list_series():
    return jsonify({"series": [series_json(s) for s in svc.hosted_series(current_api_user())]})


@api_route("/slots", summary="Consultation slots the caller may book or hosts", params=[
    {"name": n, "in": "query", "required": False, "schema": {"type": "string"}}
    for n in ("from", "to", "unit", "kind", "modality", "language", "available")
], response_schema={"type": "object", "properties": {"slots": {"type": "array", "items": SLOT_SCHEMA}}})
def slots():
    today = to_local(utcnow()).date()
    d1 = _date_arg("from", today)
    d2 = _date_arg("to", d1 + timedelta(days=28))
    flt = svc.SlotFilter(
        date_from=d1, date_to=d2, unit=request.args.get("unit") or None, kind=request.args.get("kind") or None,
        modality=request.args.get("modality") or None, language=request.args.get("language") or None,
        available_only=request.args.get("available") in ("1", "true", "yes"),
    )
    tz = app_tz()
    actor = current_api_user()
    lang = caller_language(actor)
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


@api_route("/bookings", ("POST",), summary="Book a consultation slot", status=201, request_schema={
    "type": "object",
    "properties": {"slot_id": {"type": "string"}, "case_ref": {"type": "string"}, "question": {"type": "string"},
                   "participants": {"type": "array", "items": {"type": "string", "format": "email"}}},
    "required": ["slot_id", "case_ref", "question"],
}, response_schema=BOOKING_SCHEMA)
def create_booking():
    body = json_body()
    actor = current_api_user()
    booking = svc.run_atomically(lambda: svc.book_slot(
        actor=actor, slot_id=str(body.get("slot_id") or ""), case_ref=str(body.get("case_ref") or ""),
        question=str(body.get("question") or ""), participants=body.get("participants")))
    return jsonify(booking_json(booking)), 201


@api_route("/bookings", summary="The caller's bookings (mine=1) or those in series the caller hosts (hosted=1)",
           params=[{"name": "mine", "in": "query", "required": False, "schema": {"type": "string"}},
                   {"name": "hosted", "in": "query", "required": False, "schema": {"type": "string"}}],
           response_schema={"type": "object", "properties": {"bookings": {"type": "array", "items": BOOKING_SCHEMA}}})
def list_bookings():
    actor = current_api_user()
    if request.args.get("hosted") in ("1", "true", "yes"):
        rows = svc.hosted_bookings(actor, include_cancelled=True)
    else:
        upcoming, past = svc.my_bookings(actor)
        rows = upcoming + past
    return jsonify({"bookings": [booking_json(b) for b in rows]})


@api_route("/bookings/<int:booking_id>", summary="One booking (the booker's or in a hosted series)",
           response_schema=BOOKING_SCHEMA)
def get_booking(booking_id: int):
    return jsonify(booking_json(svc.get_booking(actor=current_api_user(), booking_id=booking_id)))


@api_route("/bookings/<int:booking_id>/cancel", ("POST",), summary="Cancel a booking", request_schema={
    "type": "object", "properties": {"reason": {"type": "string"}}}, response_schema=BOOKING_SCHEMA)
def cancel_booking(booking_id: int):
    body = json_body()
    actor = current_api_user()
    booking = svc.run_atomically(lambda: svc.cancel_booking(actor=actor, booking_id=booking_id,
                                                            reason=str(body.get("reason") or "")))
    return jsonify(booking_json(booking))


@api_route("/bookings/<int:booking_id>/reschedule", ("POST",), summary="Move a booking to another slot",
           request_schema={"type": "object", "properties": {"slot_id": {"type": "string"}}, "required": ["slot_id"]},
           response_schema=BOOKING_SCHEMA)
def reschedule_booking(booking_id: int):
    body = json_body()
    actor = current_api_user()
    booking = svc.run_atomically(lambda: svc.reschedule_booking(actor=actor, booking_id=booking_id,
                                                                slot_id=str(body.get("slot_id") or "")))
    return jsonify(booking_json(booking))
