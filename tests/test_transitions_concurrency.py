"""Guarded transitions under real concurrency (PostgreSQL).

Each request runs in its own thread through the real API (its own request and app context, its
own database session and connection), released together by a barrier (`race`). After every race
the invariant is read back from the database: a slot's `booked` equals its confirmed bookings and
never exceeds its capacity; a repeated action sends no second signal (so no second e-mail).
"""

from __future__ import annotations

import threading
from collections import Counter

import pytest
from sqlalchemy import select, text

from scheduler.consultations.models import Booking, BookingStatus
from scheduler.core.signals import booking_changed

from .consultations_fixtures import *  # noqa: F403  (fixtures: world)
from .test_consultations_concurrency import api_series, race

pytestmark = pytest.mark.postgres_only


@pytest.fixture
def pg(app):
    if app.config["BACKEND"] != "postgresql":
        pytest.skip("real row-lock concurrency is tested on PostgreSQL")


@pytest.fixture
def booking_signals():
    seen: list[tuple[int, str]] = []
    lock = threading.Lock()

    def receiver(sender, **kw):
        with lock:
            seen.append((sender.id, kw["action"]))

    with booking_changed.connected_to(receiver):
        yield seen


def assert_slot_invariant(db):
    db.session.rollback()
    db.session.expire_all()
    rows = db.session.execute(text(
        "SELECT s.id, s.booked, s.capacity, (SELECT count(*) FROM consultation_bookings b "
        "WHERE b.slot_id = s.id AND b.status = 'confirmed') FROM consultation_slots s")).all()
    assert rows
    for slot_id, booked, capacity, confirmed in rows:
        assert booked == confirmed <= capacity, (slot_id, booked, confirmed, capacity)


def _workers(make_user, api, world, n):
    clients = []
    for i in range(n):
        user = make_user(f"racer{i}@example.fi", roles=("social_worker",), units=[world.ls], password=None)
        c = api(user)
        assert c.get("/api/v1/me").status_code == 200
        clients.append(c)
    return clients


def _book(client, slot_id):
    r = client.post("/api/v1/bookings", json={"slot_id": slot_id, "case_ref": "LS-1", "question": "Kysymys"})
    assert r.status_code == 201, r.json
    return r.json["id"]


def _no_crash(results):
    assert not [r for r in results if isinstance(r, Exception)], results
    assert all(r.status_code in (200, 409) for r in results), [(r.status_code, r.json) for r in results]
    for r in results:
        if r.status_code == 409:
            assert r.json["error"]["code"] == "conflict" and r.json["error"]["message"]


def test_twelve_cancels_of_one_booking_by_booker_and_host(pg, app, db, world, api, make_user, booking_signals):
    host = api(world.doctor)
    api_series(host, 3)
    workers = _workers(make_user, api, world, 6)
    slot = workers[0].get("/api/v1/slots?from=2027-01-05&to=2027-01-05").json["slots"][0]["id"]
    target = _book(workers[0], slot)
    _book(workers[1], slot)
    _book(workers[2], slot)
    booker = workers[0]
    calls = []
    for _ in range(6):
        calls.append(lambda: booker.post(f"/api/v1/bookings/{target}/cancel", json={}))
        calls.append(lambda: host.post(f"/api/v1/bookings/{target}/cancel", json={"reason": "Sairastuminen"}))
    results = race(calls)
    _no_crash(results)
    booking = db.session.get(Booking, target)
    assert booking.status == BookingStatus.CANCELLED and booking.sequence == 1
    booker_won = booking.cancelled_by_id != world.doctor.id
    by_booker, by_host = results[0::2], results[1::2]
    # the winner's side: its own repeats are harmless (200); the other side learns it lost (409)
    assert [r.status_code for r in by_booker] == [200 if booker_won else 409] * 6
    assert [r.status_code for r in by_host] == [409 if booker_won else 200] * 6
    assert [a for b, a in booking_signals if b == target] == ["created", "cancelled"]
    assert_slot_invariant(db)
    # exactly one place is free again: three more attempts at once, one wins
    more = race([lambda c=c: c.post("/api/v1/bookings", json={"slot_id": slot, "case_ref": "X", "question": "Q"})
                 for c in workers[3:6]])
    assert Counter(r.status_code for r in more) == {201: 1, 409: 2}
    assert_slot_invariant(db)


def test_double_clicked_reschedule(pg, app, db, world, api, make_user, booking_signals):
    api_series(api(world.doctor), 1, slots=3)
    booker = _workers(make_user, api, world, 1)[0]
    slots = [s["id"] for s in booker.get("/api/v1/slots?from=2027-01-05&to=2027-01-05").json["slots"]]
    bid = _book(booker, slots[0])
    results = race([lambda: booker.post(f"/api/v1/bookings/{bid}/reschedule", json={"slot_id": slots[1]})] * 6)
    assert not [r for r in results if isinstance(r, Exception)]
    assert [r.status_code for r in results] == [200] * 6  # one moved it, the others found it there
    assert [a for b, a in booking_signals if b == bid] == ["created", "rescheduled"]
    assert db.session.get(Booking, bid).sequence == 1
    assert_slot_invariant(db)


def test_reschedule_racing_the_hosts_cancel(pg, app, db, world, api, make_user, booking_signals):
    host = api(world.doctor)
    api_series(host, 1, slots=12)
    booker = _workers(make_user, api, world, 1)[0]
    slots = [s["id"] for s in booker.get("/api/v1/slots?from=2027-01-05&to=2027-01-05").json["slots"]]
    for i in range(0, 12, 2):  # six rounds, each on fresh slots
        bid = _book(booker, slots[i])
        move, cancel = race([
            lambda bid=bid, i=i: booker.post(f"/api/v1/bookings/{bid}/reschedule", json={"slot_id": slots[i + 1]}),
            lambda bid=bid: host.post(f"/api/v1/bookings/{bid}/cancel", json={"reason": "Sairastuminen"}),
        ])
        _no_crash([move, cancel])
        assert sorted([move.status_code, cancel.status_code]) == [200, 409], (move.json, cancel.json)
        booking = db.session.get(Booking, bid)
        db.session.refresh(booking)
        assert booking.status == (BookingStatus.CANCELLED if cancel.status_code == 200 else BookingStatus.CONFIRMED)
        assert booking.sequence == 1
        assert_slot_invariant(db)


def test_eight_reschedules_of_one_booking_to_two_slots(pg, app, db, world, api, make_user, booking_signals):
    api_series(api(world.doctor), 1, slots=3)
    booker = _workers(make_user, api, world, 1)[0]
    slots = [s["id"] for s in booker.get("/api/v1/slots?from=2027-01-05&to=2027-01-05").json["slots"]]
    bid = _book(booker, slots[0])
    results = race([lambda t=slots[1 + i % 2]: booker.post(f"/api/v1/bookings/{bid}/reschedule", json={"slot_id": t})
                    for i in range(8)])
    _no_crash(results)
    booking = db.session.get(Booking, bid)
    moves = [a for b, a in booking_signals if b == bid and a == "rescheduled"]
    assert booking.sequence == len(moves) >= 1
    assert_slot_invariant(db)
    placed = db.session.execute(text("SELECT id FROM consultation_slots WHERE booked > 0")).scalars().all()
    assert placed == [booking.slot_id]


def test_occurrence_cancelled_while_others_book(pg, app, db, world, api, make_user, booking_signals):
    """The host cancels a time while six workers book into it: no booking survives in it."""
    host = api(world.doctor)
    series_id = api_series(host, 6)
    workers = _workers(make_user, api, world, 6)
    slot = workers[0].get("/api/v1/slots?from=2027-01-05&to=2027-01-05").json["slots"][0]["id"]
    from scheduler.consultations import services as svc
    from scheduler.consultations.slots import parse_slot_key

    start = parse_slot_key(slot)[1]
    doctor_id = world.doctor.id

    def cancel_time():
        with app.app_context():
            from scheduler.people.models import User

            actor = db.session.get(User, doctor_id)
            try:
                return len(svc.run_atomically(lambda: svc.cancel_occurrence(
                    actor=actor, series_id=series_id, original_start_dt=start, reason="Koulutus")))
            finally:
                db.session.remove()

    results = race([cancel_time] + [lambda c=c: c.post("/api/v1/bookings", json={
        "slot_id": slot, "case_ref": "X", "question": "Q"}) for c in workers])
    assert not [r for r in results if isinstance(r, Exception)], results
    cancelled = results[0]
    booked = [r for r in results[1:] if r.status_code == 201]
    assert all(r.status_code in (201, 404) for r in results[1:]), [r.status_code for r in results[1:]]
    assert cancelled == len(booked)  # every booking that got in before the cancel was cancelled with it
    db.session.expire_all()
    assert db.session.scalars(select(Booking).where(Booking.status == BookingStatus.CONFIRMED)).all() == []
    assert_slot_invariant(db)
