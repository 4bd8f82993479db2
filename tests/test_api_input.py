# ruff: noqa: F811  (the shared fixtures are imported by name, then requested as arguments)
"""The API's input layer (issue 11): one schema per body and query string, checked before any service
runs; a failure is a 422 `validation_failed` with one message per field, in the caller's language."""

from __future__ import annotations

import json

import pytest

from .panels_fixtures import CASE
from .test_consultations_api import SERIES
from .test_panels_api import PANEL

BIG_ID = 2**31  # one past the largest database INTEGER


def _fields(resp) -> dict:
    assert resp.status_code == 422, (resp.status_code, resp.get_data(as_text=True)[:500])
    err = resp.json["error"]
    assert set(err) == {"code", "message", "fields"} and err["message"]
    return err["fields"]


def test_types_lengths_ranges_and_dates_are_field_errors(app, world, api):
    doctor = api(world.doctor)
    fields = _fields(doctor.post("/api/v1/consultation-series", json={
        **SERIES, "title": ["a list"], "capacity": "1", "slots": True, "slot_minutes": 10**30,
        "location": "x" * 301, "first_start": "0001-01-05T13:00", "until": "9999-12-31",
        "languages": "fi", "open_to": ["nobody"], "horizon_days": 1.5}))
    assert set(fields) == {"title", "capacity", "slots", "slot_minutes", "location", "first_start", "until",
                           "languages", "open_to", "horizon_days"}
    fields = _fields(doctor.post("/api/v1/consultation-series", json={k: v for k, v in SERIES.items()
                                                                        if k not in ("title", "open_to")}))
    assert set(fields) == {"title", "open_to"}


def test_text_hygiene_on_every_text_field(app, world, api, make_series):
    series = make_series(world.doctor, world.lanu)
    from .consultations_fixtures import slot_id

    worker = api(world.worker)
    slot = slot_id(series, 2027, 1, 12, 13)
    for bad in ("a\x00b", "a\x07b", "a\ud800b"):
        body = json.dumps({"slot_id": slot, "case_ref": bad, "question": bad, "participants": [bad]},
                          ensure_ascii=True)  # \ud800 travels as a JSON escape, as a client would send it
        resp = worker.client.post("/api/v1/bookings", data=body, content_type="application/json",
                                  headers=worker._h())
        assert set(_fields(resp)) == {"case_ref", "question", "participants"}
    resp = worker.post("/api/v1/bookings", json={"slot_id": slot, "case_ref": "LS-1", "question": "Rivi 1\nRivi 2\tok"})
    assert resp.status_code == 201, resp.json


def test_ids_beyond_a_database_integer(app, api, people):
    worker, secretary = api(people["worker"]), api(people["secretary"])
    assert set(_fields(worker.post("/api/v1/panel-cases", json=dict(CASE, panel_id=BIG_ID)))) == {"panel_id"}
    assert set(_fields(worker.post("/api/v1/panel-cases", json=dict(CASE, panel_id=0)))) == {"panel_id"}
    fields = _fields(worker.post("/api/v1/panel-cases", json=dict(CASE, panel_id=1, preferred_session_id=-1)))
    assert set(fields) == {"preferred_session_id"}
    assert set(_fields(secretary.post("/api/v1/panel-cases/1/schedule", json={"session_id": BIG_ID}))) == {"session_id"}
    for path in (f"/api/v1/panel-cases/{BIG_ID}", f"/api/v1/bookings/{BIG_ID}", f"/api/v1/panels/{BIG_ID}/sessions"):
        assert worker.get(path).status_code == 404


def test_query_parameters(app, world, api):
    worker = api(world.worker)
    for query in ("from=0001-01-01", "to=9999-12-31", "from=2027-02-30", "from=20270105", "available=maybe",
                  "kind=martians", "language=de"):
        resp = worker.get("/api/v1/slots?" + query)
        assert list(_fields(resp)) == [query.split("=")[0]], query
    assert worker.get("/api/v1/bookings?hosted=perhaps").status_code == 422
    assert worker.get("/api/v1/slots?from=2027-01-05&to=2027-01-12&unknown=1").status_code == 200


def test_body_shape_size_and_depth(app, world, api):
    worker = api(world.worker)
    h = worker._h()
    post = worker.client.post
    for data in (b"[1]", b'"text"', b"{nope", b"\xff\xfe", b"1" * 5000, b'{"a":' * 5000 + b"1" + b"}" * 5000):
        resp = post("/api/v1/bookings", data=data, content_type="application/json", headers=h)
        assert resp.status_code == 422 and resp.json["error"]["code"] == "bad_request", data[:20]
    nested = {"slot_id": "x", "case_ref": "x", "question": "x", "participants": [[[[[[[[["deep"]]]]]]]]]}
    assert post("/api/v1/bookings", json=nested, headers=h).status_code == 422
    huge = {"slot_id": "x", "case_ref": "x", "question": "x" * 300_000}
    resp = post("/api/v1/bookings", json=huge, headers=h)
    assert resp.status_code == 413 and resp.json["error"]["code"] == "too_large"


def test_huge_lists_are_refused_before_any_work(app, api, people):
    import time

    admin = api(people["admin"])
    started = time.monotonic()
    resp = admin.post("/api/v1/panels", json=dict(PANEL, secretaries=["a@example.fi"] * 10_000))
    assert set(_fields(resp)) == {"secretaries"}
    resp = admin.post("/api/v1/panels", json=dict(PANEL, secretaries=["x" * 200_000]))
    assert set(_fields(resp)) == {"secretaries"}
    assert time.monotonic() - started < 5


@pytest.mark.parametrize(("language", "expected"), [("fi", "Tämä tieto on pakollinen."),
                                                    ("sv", "Uppgiften är obligatorisk."),
                                                    ("en", "This field is required.")])
def test_messages_in_the_callers_language(app, api, make_user, language, expected):
    worker = api(make_user(language=language))
    fields = _fields(worker.post("/api/v1/panel-cases", json={k: v for k, v in CASE.items() if k != "case_ref"}))
    assert fields["case_ref"] == expected and fields["panel_id"] == expected


def test_the_document_is_the_schema(client):
    doc = client.get("/api/v1/openapi.json").json
    schemas = doc["components"]["schemas"]
    booking = schemas["BookingIn"]
    assert booking["properties"]["case_ref"]["maxLength"] == 60 and set(booking["required"]) == {
        "slot_id", "case_ref", "question"}
    assert schemas["CaseIn"]["properties"]["panel_id"]["maximum"] == 2**31 - 1
    op = doc["paths"]["/api/v1/bookings/{booking_id}"]["get"]
    assert op["parameters"][0]["schema"] == {"type": "integer", "minimum": 1, "maximum": 2**31 - 1}
    assert op["responses"]["200"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/BookingOut"}
    slots = {p["name"]: p for p in doc["paths"]["/api/v1/slots"]["get"]["parameters"]}
    assert set(slots) == {"from", "to", "unit", "kind", "modality", "language", "available"}


def test_rules_that_never_meet_are_refused_quickly(app, world, api):
    """dateutil searches a never-matching rule to the year 9999 on every expansion: refused up front."""
    import time

    doctor, admin = api(world.doctor), api(world.admin)
    for rule in ("FREQ=MONTHLY;BYMONTH=2;BYMONTHDAY=31", "FREQ=MONTHLY;BYDAY=MO;BYSETPOS=6",
                 "FREQ=DAILY;BYMONTHDAY=-40", "FREQ=WEEKLY;INTERVAL=99999"):
        started = time.monotonic()
        assert list(_fields(doctor.post("/api/v1/consultation-series", json={**SERIES, "rrule": rule}))) == ["rrule"]
        assert "rrule" in _fields(admin.post("/api/v1/panels", json={**PANEL, "rrule": rule, "secretaries": [],
                                                                    "experts": []}))
        assert time.monotonic() - started < 5, rule
    assert doctor.post("/api/v1/consultation-series", json={**SERIES, "rrule": "FREQ=MONTHLY;BYDAY=2TU"}).status_code == 201
