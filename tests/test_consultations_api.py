"""The consultation API contract (issue 3): series, slots, bookings, cancel, reschedule."""

from __future__ import annotations

from sqlalchemy import event, func, select

from scheduler.consultations.models import Booking
from scheduler.people.models import Unit

HETU = "131052-308T"

SERIES = {"unit": "LANU", "title": "LANU-konsultaatio", "rrule": "FREQ=WEEKLY;BYDAY=TU",
          "first_start": "2027-01-05T13:00", "slot_minutes": 30, "slots": 2, "capacity": 1, "modality": "teams",
          "location": "", "open_to": ["child_welfare"], "min_notice_hours": 24, "horizon_days": 365}


def test_publish_list_book_cancel_reschedule(app, world, api):
    doctor, worker, other, nurse = api(world.doctor), api(world.worker), api(world.worker2), api(world.nurse)
    r = doctor.post("/api/v1/consultation-series", json=SERIES)
    assert r.status_code == 201, r.json
    sid = r.json["id"]
    assert r.json["rrule"] == "FREQ=WEEKLY;BYDAY=TU" and r.json["first_start"] == "2027-01-05T13:00"

    r = worker.get("/api/v1/slots?from=2027-01-05&to=2027-01-12")
    assert r.status_code == 200
    slots = r.json["slots"]
    assert [s["start"] for s in slots] == ["2027-01-05T13:00:00+02:00", "2027-01-05T13:30:00+02:00",
                                           "2027-01-12T13:00:00+02:00", "2027-01-12T13:30:00+02:00"]
    first = slots[2]
    assert first["series_id"] == sid and first["unit"] == "LANU" and first["capacity"] == 1 and first["booked"] == 0
    assert first["modality"] == "teams" and first["end"] == "2027-01-12T13:30:00+02:00" and isinstance(first["id"], str)
    # the nurse neither hosts LANU's series nor may book it
    assert nurse.get("/api/v1/slots?from=2027-01-05&to=2027-01-12&kind=lanu").json["slots"] == []

    r = worker.post("/api/v1/bookings", json={"slot_id": first["id"], "case_ref": "LS-1", "question": "Miten?",
                                              "participants": ["opettaja@koulu.fi"]})
    assert r.status_code == 201, r.json
    b = r.json
    assert b["status"] == "confirmed" and b["slot_id"] == first["id"] and b["start"] == first["start"]
    assert b["end"] == first["end"] and b["join_url"] is None

    full = other.post("/api/v1/bookings", json={"slot_id": first["id"], "case_ref": "LS-2", "question": "?"})
    assert full.status_code == 409 and full.json["error"]["code"] == "conflict" and full.json["error"]["message"]
    avail = other.get("/api/v1/slots?from=2027-01-12&to=2027-01-12&available=1").json["slots"]
    assert [s["start"] for s in avail] == ["2027-01-12T13:30:00+02:00"]

    assert worker.get(f"/api/v1/bookings/{b['id']}").json["question"] == "Miten?"
    assert other.get(f"/api/v1/bookings/{b['id']}").status_code == 404
    assert doctor.get(f"/api/v1/bookings/{b['id']}").status_code == 200  # the host
    assert [x["id"] for x in worker.get("/api/v1/bookings?mine=1").json["bookings"]] == [b["id"]]
    assert other.get("/api/v1/bookings?mine=1").json["bookings"] == []

    r = worker.post(f"/api/v1/bookings/{b['id']}/reschedule", json={"slot_id": slots[3]["id"]})
    assert r.status_code == 200 and r.json["id"] == b["id"] and r.json["start"] == "2027-01-12T13:30:00+02:00"
    assert r.json["sequence"] == 1
    assert other.post(f"/api/v1/bookings/{b['id']}/reschedule", json={"slot_id": slots[2]["id"]}).status_code == 404

    r = worker.post(f"/api/v1/bookings/{b['id']}/cancel", json={"reason": "Asia ratkesi"})
    assert r.status_code == 200 and r.json["status"] == "cancelled" and r.json["cancel_reason"] == "Asia ratkesi"
    again = worker.post(f"/api/v1/bookings/{b['id']}/cancel", json={})  # repeated: harmless, already cancelled
    assert again.status_code == 200 and again.json["status"] == "cancelled" and again.json["sequence"] == r.json["sequence"]
    assert doctor.post(f"/api/v1/bookings/{b['id']}/cancel", json={"reason": "x"}).status_code == 409


def test_api_errors(app, db, world, api):
    doctor, worker, nurse = api(world.doctor), api(world.worker), api(world.nurse)
    bad = doctor.post("/api/v1/consultation-series", json={**SERIES, "rrule": "FREQ=HOURLY", "capacity": 0})
    assert bad.status_code == 422 and set(bad.json["error"]["fields"]) >= {"rrule", "capacity"}
    assert worker.post("/api/v1/consultation-series", json=SERIES).status_code == 403
    assert doctor.post("/api/v1/consultation-series", json={**SERIES, "first_start": "huomenna"}).status_code == 422
    sid = doctor.post("/api/v1/consultation-series", json=SERIES).json["id"]
    slot = worker.get("/api/v1/slots?from=2027-01-12&to=2027-01-12").json["slots"][0]
    assert slot["series_id"] == sid
    r = nurse.post("/api/v1/bookings", json={"slot_id": slot["id"], "case_ref": "P-1", "question": "?"})
    assert r.status_code == 403
    r = worker.post("/api/v1/bookings", json={"slot_id": slot["id"], "case_ref": "LS-1", "question": f"Lapsi {HETU}"})
    assert r.status_code == 422 and list(r.json["error"]["fields"]) == ["question"]
    r = worker.post("/api/v1/bookings", json={"slot_id": slot["id"], "case_ref": HETU, "question": "?"})
    assert r.status_code == 422 and "case_ref" in r.json["error"]["fields"]
    r = worker.post("/api/v1/bookings", json={"slot_id": slot["id"], "case_ref": "LS-1", "question": "?",
                                              "participants": ["ei-osoite"]})
    assert r.status_code == 422 and "participants" in r.json["error"]["fields"]
    assert worker.post("/api/v1/bookings", json={"slot_id": "nope", "case_ref": "x", "question": "y"}).status_code == 404
    assert worker.post("/api/v1/bookings", json=[1]).status_code == 422
    assert worker.get("/api/v1/slots?from=5.1.2027").status_code == 422
    assert db.session.scalar(select(func.count(Booking.id))) == 0


def test_openapi_describes_the_endpoints(app, world, api):
    paths = api(world.worker).get("/api/v1/openapi.json").json["paths"]
    for p in ("/api/v1/consultation-series", "/api/v1/slots", "/api/v1/bookings", "/api/v1/bookings/{booking_id}",
              "/api/v1/bookings/{booking_id}/cancel", "/api/v1/bookings/{booking_id}/reschedule"):
        assert p in paths


def test_a_booking_runs_five_statements_whoever_books(app, db, world, api, make_unit):
    """The request social workers make most: the token with its user, roles and units (one
    statement); the series locked FOR SHARE with its occurrence changes; the slot's place (one
    upsert); the booking; its outbox event. PostgreSQL's NOTIFY to the worker comes from a trigger
    on that INSERT, not from a statement of its own. More roles and units do not add statements."""
    doctor = api(world.doctor)
    sid = doctor.post("/api/v1/consultation-series", json={**SERIES, "slots": 4}).json["id"]
    for code in ("LS2", "LS3"):
        make_unit(code, kind="child_welfare")
    world.host_ls.units.extend(db.session.execute(select(Unit).where(Unit.code.in_(["LS2", "LS3"]))).scalars())
    db.session.commit()

    def statements(client, slot):
        client.get("/api/v1/me")  # the token's first use records it (once a minute): not part of a booking
        n = [0]

        def count(*_a, **_k):
            n[0] += 1

        event.listen(db.engine, "before_cursor_execute", count)
        try:
            r = client.post("/api/v1/bookings", json={"slot_id": slot, "case_ref": "LS-1", "question": "Miten?"})
        finally:
            event.remove(db.engine, "before_cursor_execute", count)
        assert r.status_code == 201, r.json
        return n[0]

    slots = [s["id"] for s in api(world.worker).get("/api/v1/slots?from=2027-01-12&to=2027-01-12").json["slots"]
             if s["series_id"] == sid]
    one_unit = statements(api(world.worker), slots[0])
    three_units_two_roles = statements(api(world.host_ls), slots[1])
    assert one_unit == three_units_two_roles == 5
    assert db.session.scalar(select(func.count()).select_from(Booking)) == 2
