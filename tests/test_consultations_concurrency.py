"""No overbooking under concurrency, enforced by the database.

Each attempt runs in its own thread through the real API (its own request context, its own
database session and connection), all released at once by a barrier. Exactly `capacity` win; the
others get 409 with a clear message; nothing answers 500. Runs on PostgreSQL and on SQLite.
"""

from __future__ import annotations

import threading
from collections import Counter

import pytest
from sqlalchemy import func, select

from scheduler.consultations.models import Booking, ConsultationSlot

ATTEMPTS = 24


def api_series(api_client, capacity, slots=1):
    r = api_client.post("/api/v1/consultation-series", json={
        "unit": "LANU", "title": "LANU-konsultaatio", "rrule": "FREQ=DAILY", "first_start": "2027-01-04T09:00",
        "slot_minutes": 15, "slots": slots, "capacity": capacity, "modality": "teams", "location": "",
        "open_to": ["child_welfare"], "min_notice_hours": 0, "horizon_days": 730})
    assert r.status_code == 201, r.json
    return r.json["id"]


@pytest.fixture
def workers(db, world, make_user, api):
    """ATTEMPTS social workers of the child welfare unit, each with an API client already used once
    (so the token's last-used stamp is written before the race)."""
    clients = []
    for i in range(ATTEMPTS):
        user = make_user(f"sw{i}@example.fi", roles=("social_worker",), units=[world.ls], password=None)
        c = api(user)
        assert c.get("/api/v1/me").status_code == 200
        clients.append(c)
    return clients


def race(calls):
    """Run the calls in threads released together; return their responses."""
    barrier = threading.Barrier(len(calls))
    results: list = [None] * len(calls)

    def run(i, call):
        barrier.wait()
        try:
            results[i] = call()
        except Exception as exc:  # a crash in the app would surface here
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    return results


@pytest.mark.parametrize("capacity", [1, 3])
def test_concurrent_bookings_of_one_slot(app, db, world, api, workers, capacity):
    api_series(api(world.doctor), capacity)
    slot = workers[0].get("/api/v1/slots?from=2027-01-05&to=2027-01-05").json["slots"][0]
    body = {"slot_id": slot["id"], "case_ref": "LS-1", "question": "Kysymys"}
    results = race([lambda c=c: c.post("/api/v1/bookings", json=body) for c in workers])
    assert not [r for r in results if isinstance(r, Exception)], results
    statuses = Counter(r.status_code for r in results)
    assert statuses == {201: capacity, 409: ATTEMPTS - capacity}, statuses
    for r in results:
        if r.status_code == 409:
            assert r.json["error"]["code"] == "conflict" and r.json["error"]["message"]
    db.session.expire_all()
    assert db.session.scalar(select(func.count(Booking.id))) == capacity
    assert db.session.scalar(select(ConsultationSlot.booked)) == capacity
    listed = workers[0].get("/api/v1/slots?from=2027-01-05&to=2027-01-05").json["slots"][0]
    assert listed["booked"] == capacity


def test_concurrent_reschedules_into_one_slot(app, db, world, api, workers):
    api_series(api(world.doctor), 1, slots=ATTEMPTS + 1)
    slots = workers[0].get("/api/v1/slots?from=2027-01-05&to=2027-01-05").json["slots"]
    assert len(slots) == ATTEMPTS + 1
    target = slots[-1]["id"]
    bookings = []
    for c, s in zip(workers, slots, strict=False):
        r = c.post("/api/v1/bookings", json={"slot_id": s["id"], "case_ref": "LS-1", "question": "Kysymys"})
        assert r.status_code == 201
        bookings.append(r.json["id"])
    results = race([lambda c=c, b=b: c.post(f"/api/v1/bookings/{b}/reschedule", json={"slot_id": target})
                    for c, b in zip(workers, bookings, strict=True)])
    assert not [r for r in results if isinstance(r, Exception)], results
    statuses = Counter(r.status_code for r in results)
    assert statuses == {200: 1, 409: ATTEMPTS - 1}, statuses
    db.session.expire_all()
    counts = dict(db.session.execute(select(ConsultationSlot.start_dt, ConsultationSlot.booked)).all())
    assert sum(counts.values()) == ATTEMPTS  # every booking holds exactly one place
    assert max(counts.values()) == 1
    rows = db.session.execute(select(Booking.slot_id, func.count()).group_by(Booking.slot_id)).all()
    assert all(n == 1 for _, n in rows) and len(rows) == ATTEMPTS


def test_concurrent_cross_moves_do_not_deadlock(app, db, world, api, workers):
    """Pairs of bookings swap towards each other's slot at once; rows are locked in id order."""
    api_series(api(world.doctor), 2, slots=2)
    slots = workers[0].get("/api/v1/slots?from=2027-01-05&to=2027-01-05").json["slots"]
    a, b = slots[0]["id"], slots[1]["id"]
    mine = []
    for i, c in enumerate(workers[:4]):
        r = c.post("/api/v1/bookings", json={"slot_id": a if i % 2 == 0 else b, "case_ref": "X", "question": "Q"})
        assert r.status_code == 201
        mine.append(r.json["id"])
    results = race([lambda c=c, bid=bid, i=i: c.post(f"/api/v1/bookings/{bid}/reschedule", json={"slot_id": b if i % 2 == 0 else a})
                    for i, (c, bid) in enumerate(zip(workers[:4], mine, strict=True))])
    assert all(not isinstance(r, Exception) and r.status_code in (200, 409) for r in results), results
    db.session.expire_all()
    assert sorted(db.session.execute(select(ConsultationSlot.booked)).scalars()) == [2, 2]
