"""Consultation hours: the services (series, slots, booking, cancelling, moving)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import event, func, select

from scheduler.consultations import services as svc
from scheduler.consultations.models import Booking, ConsultationSlot
from scheduler.consultations.slots import build_rrule, describe_rrule
from scheduler.core.errors import Conflict, Forbidden, NotFound, ValidationFailed
from scheduler.core.signals import booking_changed
from scheduler.core.timefmt import to_local

from .consultations_fixtures import NOW, flt, local, slot_id

HETU = "131052-308T"  # a valid identity code (check character T)


@pytest.fixture
def signals():
    seen = []

    def receiver(sender, **kw):
        seen.append((sender.id, kw["action"], kw.get("previous_start"), sender.sequence))

    with booking_changed.connected_to(receiver):
        yield seen


def book(db, actor, sid, **kw):
    def work():
        return svc.book_slot(actor=actor, slot_id=sid, case_ref=kw.get("case_ref", "LS-2027-001"),
                             question=kw.get("question", "Miten tukea nuoren koulunkäyntiä?"),
                             participants=kw.get("participants"), now=kw.get("now", NOW))
    return svc.run_atomically(work)


# --- recurrence ----------------------------------------------------------------------------------

def test_friendly_recurrence_builds_rrules():
    assert build_rrule("weekly", date(2027, 1, 5)) == "FREQ=WEEKLY;BYDAY=TU"
    assert build_rrule("biweekly", date(2027, 1, 5)) == "FREQ=WEEKLY;INTERVAL=2;BYDAY=TU"
    assert build_rrule("monthly", date(2027, 1, 12)) == "FREQ=MONTHLY;BYDAY=+2TU"
    assert build_rrule("monthly", date(2027, 1, 29)) == "FREQ=MONTHLY;BYDAY=-1FR"
    assert describe_rrule("FREQ=MONTHLY;BYDAY=+2TU") == ("monthly", 2, "TU")
    assert describe_rrule("FREQ=WEEKLY;INTERVAL=2;BYDAY=TU") == ("biweekly", None, "TU")


def test_weekly_13_stays_13_across_dst_changes(app, world, make_series):
    s = make_series(world.doctor, world.lanu, slots=1, first_start=datetime(2027, 3, 2, 13, 0))
    slots = svc.list_slots(actor=world.worker, flt=flt(date(2027, 3, 1), date(2027, 4, 10)), now=NOW)
    local_times = {(to_local(x.start_dt).hour, to_local(x.start_dt).minute) for x in slots}
    assert local_times == {(13, 0)}
    utc_hours = [x.start_dt.hour for x in slots]
    assert 11 in utc_hours and 10 in utc_hours  # EET (+2) before 28.3., EEST (+3) after
    oct_slots = svc.list_slots(actor=world.worker, flt=flt(date(2027, 10, 19), date(2027, 11, 10)), now=NOW)
    assert {to_local(x.start_dt).hour for x in oct_slots} == {13}
    assert {x.start_dt.hour for x in oct_slots} == {10, 11}
    assert all(x.series.id == s.id for x in oct_slots)


def test_holidays_are_skipped(app, world, make_series):
    # Thursdays around Ascension Day (6.5.2027) and Fridays around Good Friday (26.3.2027)
    make_series(world.doctor, world.lanu, slots=1, rrule="FREQ=WEEKLY;BYDAY=TH", first_start=datetime(2027, 4, 29, 9))
    make_series(world.doctor, world.lanu, slots=1, rrule="FREQ=WEEKLY;BYDAY=FR", first_start=datetime(2027, 3, 19, 9))
    days = {to_local(x.start_dt).date() for x in
            svc.list_slots(actor=world.worker, flt=flt(date(2027, 3, 15), date(2027, 5, 14)), now=NOW)}
    assert date(2027, 5, 6) not in days and date(2027, 3, 26) not in days
    assert {date(2027, 4, 29), date(2027, 5, 13), date(2027, 3, 19), date(2027, 4, 2)} <= days


def test_monthly_nth_weekday_and_every_other_week(app, world, make_series):
    make_series(world.doctor, world.lanu, slots=1, rrule=build_rrule("monthly", date(2027, 1, 12)),
                first_start=datetime(2027, 1, 12, 10))
    days = sorted(to_local(x.start_dt).date() for x in
                  svc.list_slots(actor=world.worker, flt=flt(date(2027, 1, 1), date(2027, 4, 30)), now=NOW))
    assert days == [date(2027, 1, 12), date(2027, 2, 9), date(2027, 3, 9), date(2027, 4, 13)]
    make_series(world.nurse, world.paihde, slots=1, rrule="FREQ=WEEKLY;INTERVAL=2;BYDAY=WE",
                first_start=datetime(2027, 1, 13, 9), until=date(2027, 2, 28))
    days = sorted(to_local(x.start_dt).date() for x in
                  svc.list_slots(actor=world.worker, flt=flt(date(2027, 1, 1), date(2027, 4, 30), unit="PAIHDE"), now=NOW))
    assert days == [date(2027, 1, 13), date(2027, 1, 27), date(2027, 2, 10), date(2027, 2, 24)]


def test_series_validation_and_permissions(app, db, world, make_series):
    with pytest.raises(Forbidden):
        make_series(world.worker, world.lanu)  # not a consultant of LANU
    with pytest.raises(Forbidden):
        make_series(world.doctor, world.ls)  # a consultant, but of another unit
    with pytest.raises(ValidationFailed) as exc:
        make_series(world.doctor, world.lanu, title="", rrule="FREQ=SECONDLY", capacity=0, open_to=["martians"],
                    modality="fax")
    assert set(exc.value.fields) >= {"title", "rrule", "capacity", "open_to", "modality"}
    db.session.rollback()
    assert make_series(world.admin, world.lanu).consultants == [world.admin]
    assert make_series(world.doctor, "LANU").unit.code == "LANU"


def test_series_texts_refuse_identity_codes(app, db, world, make_series):
    from scheduler.consultations.models import ConsultationSeries

    before = db.session.query(ConsultationSeries).count()
    with pytest.raises(ValidationFailed) as exc:
        make_series(world.doctor, world.lanu, title="Konsultaatio 131052-308T",
                    description="Asiakas 131052-308T", modality="in_person", location="Katu 1, 131052-308T")
    assert set(exc.value.fields) >= {"title", "description", "location"}
    assert "henkilötunnus" in exc.value.fields["title"]
    db.session.rollback()
    assert db.session.query(ConsultationSeries).count() == before


# --- booking -------------------------------------------------------------------------------------

def test_book_then_full_then_conflict(app, db, world, make_series, signals):
    s = make_series(world.doctor, world.lanu)
    sid = slot_id(s, 2027, 1, 12, 13, 30)
    b = book(db, world.worker, sid, participants=["Opettaja@Koulu.fi", "opettaja@koulu.fi"])
    assert b.status == "confirmed" and b.start_dt == local(2027, 1, 12, 13, 30)
    assert b.end_dt - b.start_dt == timedelta(minutes=30)
    assert b.participants == ["opettaja@koulu.fi"]
    assert b.unit.code == "LANU" and b.series.id == s.id and b.booker.id == world.worker.id
    assert b.ical_uid and "LS-2027" not in b.ical_uid and b.sequence == 0 and b.join_url is None
    assert signals == [(b.id, "created", None, 0)]
    with pytest.raises(Conflict):
        book(db, world.worker2, sid)
    assert db.session.scalar(select(ConsultationSlot.booked)) == 1
    listed = {x.id: x for x in svc.list_slots(actor=world.worker2, flt=flt(date(2027, 1, 12), date(2027, 1, 12)), now=NOW)}
    assert listed[sid].booked == 1 and listed[sid].is_full
    assert not listed[slot_id(s, 2027, 1, 12, 13)].is_full
    avail = svc.list_slots(actor=world.worker2, flt=flt(date(2027, 1, 12), date(2027, 1, 12), available_only=True), now=NOW)
    assert [x.id for x in avail] == [slot_id(s, 2027, 1, 12, 13)]


def test_capacity_of_a_joint_meeting(app, db, world, make_series):
    s = make_series(world.doctor, world.lanu, slots=1, capacity=3)
    sid = slot_id(s, 2027, 1, 19, 13)
    for _ in range(3):
        book(db, world.worker, sid)
    with pytest.raises(Conflict):
        book(db, world.worker2, sid)


def test_booking_rules(app, db, world, make_series):
    s = make_series(world.doctor, world.lanu, horizon_days=30)
    with pytest.raises(Forbidden):  # substance services are not in open_to
        book(db, world.nurse, slot_id(s, 2027, 1, 12, 13))
    with pytest.raises(ValidationFailed) as exc:  # less than 24 h notice
        book(db, world.worker, slot_id(s, 2027, 1, 5, 13), now=datetime(2027, 1, 5, 0, tzinfo=UTC))
    assert "24" in exc.value.fields["slot_id"]
    with pytest.raises(ValidationFailed):  # beyond the horizon
        book(db, world.worker, slot_id(s, 2027, 3, 2, 13))
    with pytest.raises(NotFound):  # no such slot (wrong minute)
        book(db, world.worker, slot_id(s, 2027, 1, 12, 13, 10))
    with pytest.raises(NotFound):
        book(db, world.worker, "garbage")
    with pytest.raises(ValidationFailed) as exc:
        book(db, world.worker, slot_id(s, 2027, 1, 12, 13), question=f"Koskee lasta {HETU}")
    assert set(exc.value.fields) == {"question"}
    with pytest.raises(ValidationFailed) as exc:
        book(db, world.worker, slot_id(s, 2027, 1, 12, 13), case_ref="", participants=["not-an-email"])
    assert db.session.scalar(select(func.count(Booking.id))) == 0
    assert db.session.scalar(select(func.count(ConsultationSlot.id))) == 0


def test_two_way_the_same_unit_hosts_and_books(app, db, world, make_series):
    # child welfare hosts times for LANU and substance services, and books LANU's times
    cw = make_series(world.host_ls, world.ls, title="Lastensuojelun konsultaatio", open_to=["lanu", "substance"])
    lanu = make_series(world.doctor, world.lanu)
    b1 = book(db, world.doctor, slot_id(cw, 2027, 1, 12, 13))
    b2 = book(db, world.host_ls, slot_id(lanu, 2027, 1, 12, 13))
    assert b1.unit.code == "LS" and b2.unit.code == "LANU"
    with pytest.raises(Forbidden):
        book(db, world.worker, slot_id(cw, 2027, 1, 19, 13))  # not open to child welfare


def test_nobody_sees_anothers_booking_hosts_see_their_series(app, db, world, make_series):
    s = make_series(world.doctor, world.lanu)
    b = book(db, world.worker, slot_id(s, 2027, 1, 12, 13))
    with pytest.raises(NotFound):
        svc.get_booking(actor=world.worker2, booking_id=b.id)
    with pytest.raises(NotFound):
        svc.cancel_booking(actor=world.worker2, booking_id=b.id, reason="x")
    with pytest.raises(NotFound):
        svc.get_booking(actor=world.nurse, booking_id=b.id)
    assert svc.get_booking(actor=world.doctor, booking_id=b.id).question.startswith("Miten")
    hosted = svc.hosted_bookings(world.doctor, now=NOW)
    assert [x.id for x in hosted] == [b.id]
    assert svc.hosted_bookings(world.nurse, now=NOW) == []
    upcoming, past = svc.my_bookings(world.worker, now=NOW)
    assert [x.id for x in upcoming] == [b.id] and past == []
    upcoming, past = svc.my_bookings(world.worker, now=datetime(2027, 2, 1, tzinfo=UTC))
    assert upcoming == [] and [x.id for x in past] == [b.id]


def test_cancel_by_booker_and_by_host(app, db, world, make_series, signals):
    s = make_series(world.doctor, world.lanu)
    sid = slot_id(s, 2027, 1, 12, 13)
    b = book(db, world.worker, sid)
    svc.run_atomically(lambda: svc.cancel_booking(actor=world.worker, booking_id=b.id, reason="", now=NOW))
    assert b.status == "cancelled" and b.sequence == 1
    assert signals[-1] == (b.id, "cancelled", None, 1)
    assert db.session.scalar(select(ConsultationSlot.booked)) == 0
    again = svc.run_atomically(lambda: svc.cancel_booking(actor=world.worker, booking_id=b.id))
    assert again.already_done and again.sequence == 1  # a second "cancel" by the same person is harmless
    assert len([x for x in signals if x[1] == "cancelled"]) == 1
    assert db.session.scalar(select(ConsultationSlot.booked)) == 0
    with pytest.raises(Conflict):  # someone else learns it is already cancelled
        svc.cancel_booking(actor=world.doctor, booking_id=b.id, reason="Sairastuminen")
    b2 = book(db, world.worker2, sid)  # the place is free again
    with pytest.raises(ValidationFailed):  # a host must give a reason
        svc.run_atomically(lambda: svc.cancel_booking(actor=world.doctor, booking_id=b2.id, reason=" "))
    svc.run_atomically(lambda: svc.cancel_booking(actor=world.doctor, booking_id=b2.id, reason="Sairastuminen"))
    assert b2.status == "cancelled" and b2.cancel_reason == "Sairastuminen" and b2.cancelled_by.id == world.doctor.id


def test_reschedule_moves_the_same_booking(app, db, world, make_series, signals):
    s = make_series(world.doctor, world.lanu)
    old, new = slot_id(s, 2027, 1, 12, 13), slot_id(s, 2027, 1, 19, 13, 30)
    b = book(db, world.worker, old)
    uid = b.ical_uid
    moved = svc.run_atomically(lambda: svc.reschedule_booking(actor=world.worker, booking_id=b.id, slot_id=new, now=NOW))
    assert moved.id == b.id and moved.ical_uid == uid and moved.sequence == 1
    assert moved.start_dt == local(2027, 1, 19, 13, 30)
    assert signals[-1] == (b.id, "rescheduled", local(2027, 1, 12, 13), 1)
    counts = dict(db.session.execute(select(ConsultationSlot.start_dt, ConsultationSlot.booked)).all())
    assert counts == {local(2027, 1, 12, 13): 0, local(2027, 1, 19, 13, 30): 1}
    other = book(db, world.worker2, old)
    with pytest.raises(Conflict):  # the target is full: nothing changes
        svc.run_atomically(lambda: svc.reschedule_booking(actor=world.worker, booking_id=b.id, slot_id=old, now=NOW))
    db.session.expire_all()
    assert db.session.get(Booking, b.id).start_dt == local(2027, 1, 19, 13, 30)
    with pytest.raises(Forbidden):  # only the booker moves a booking
        svc.reschedule_booking(actor=world.doctor, booking_id=other.id, slot_id=new, now=NOW)


def test_cancel_and_move_a_single_occurrence(app, db, world, make_series, signals):
    s = make_series(world.doctor, world.lanu)
    b1 = book(db, world.worker, slot_id(s, 2027, 1, 12, 13, 30))
    b2 = book(db, world.worker2, slot_id(s, 2027, 1, 19, 13))
    with pytest.raises(Forbidden):
        svc.cancel_occurrence(actor=world.worker, series_id=s.id, original_start_dt=local(2027, 1, 12, 13), reason="x")
    svc.run_atomically(lambda: svc.cancel_occurrence(actor=world.doctor, series_id=s.id,
                                                     original_start_dt=local(2027, 1, 12, 13), reason="Koulutuspäivä"))
    assert b1.status == "cancelled" and b1.cancel_reason == "Koulutuspäivä"
    assert (b1.id, "cancelled", None, 1) in signals
    days = {to_local(x.start_dt).date() for x in
            svc.list_slots(actor=world.worker, flt=flt(date(2027, 1, 1), date(2027, 1, 31)), now=NOW)}
    assert date(2027, 1, 12) not in days and date(2027, 1, 19) in days
    # move 19.1. 13.00 to Wednesday 20.1. 9.00: the booking in the first slot moves to 9.00
    svc.run_atomically(lambda: svc.move_occurrence(actor=world.doctor, series_id=s.id,
                                                   original_start_dt=local(2027, 1, 19, 13),
                                                   new_start=datetime(2027, 1, 20, 9), now=NOW))
    assert b2.start_dt == local(2027, 1, 20, 9) and b2.sequence == 1 and b2.status == "confirmed"
    assert (b2.id, "rescheduled", local(2027, 1, 19, 13), 1) in signals
    listed = {x.id: x for x in svc.list_slots(actor=world.worker, flt=flt(date(2027, 1, 18), date(2027, 1, 22)), now=NOW)}
    assert set(listed) == {slot_id(s, 2027, 1, 20, 9), slot_id(s, 2027, 1, 20, 9, 30)}
    assert listed[slot_id(s, 2027, 1, 20, 9)].booked == 1
    with pytest.raises(Conflict):
        book(db, world.worker, slot_id(s, 2027, 1, 20, 9))
    book(db, world.worker, slot_id(s, 2027, 1, 20, 9, 30))
    with pytest.raises(NotFound):  # the old time is no longer a slot
        book(db, world.worker, slot_id(s, 2027, 1, 19, 13, 30))


def test_listing_filters(app, db, world, make_series):
    make_series(world.doctor, world.lanu, languages=["fi"], modality="teams")
    make_series(world.nurse, world.paihde, title="Päihdekonsultaatio", languages=["fi", "sv"], modality="phone",
                rrule="FREQ=WEEKLY;BYDAY=WE", first_start=datetime(2027, 1, 6, 10))
    week = (date(2027, 1, 11), date(2027, 1, 17))
    assert {x.series.unit.code for x in svc.list_slots(actor=world.worker, flt=flt(*week), now=NOW)} == {"LANU", "PAIHDE"}
    assert {x.series.unit.code for x in svc.list_slots(actor=world.worker, flt=flt(*week, kind="lanu"), now=NOW)} == {"LANU"}
    assert {x.series.unit.code for x in svc.list_slots(actor=world.worker, flt=flt(*week, language="sv"), now=NOW)} == {"PAIHDE"}
    assert {x.series.unit.code for x in svc.list_slots(actor=world.worker, flt=flt(*week, modality="phone"), now=NOW)} == {"PAIHDE"}
    assert svc.list_slots(actor=world.nurse, flt=flt(*week, unit="LANU"), now=NOW) == []  # not open to substance
    hosted = svc.list_slots(actor=world.nurse, flt=flt(*week), now=NOW)
    assert {x.series.unit.code for x in hosted} == {"PAIHDE"} and all(x.hosted and not x.bookable for x in hosted)
    with pytest.raises(ValidationFailed):
        svc.list_slots(actor=world.worker, flt=flt(date(2027, 2, 1), date(2027, 1, 1)), now=NOW)


def test_listing_uses_a_constant_number_of_queries(app, db, world, make_series):
    def count_queries(d1, d2):
        db.session.expire_all()

        n = [0]

        def before(*a, **k):
            n[0] += 1

        engine = db.engine
        event.listen(engine, "before_cursor_execute", before)
        try:
            user = db.session.get(type(world.worker), world.worker.id)
            _ = user.units, user.role_rows
            n[0] = 0
            slots = svc.list_slots(actor=user, flt=flt(d1, d2), now=NOW)
        finally:
            event.remove(engine, "before_cursor_execute", before)
        return n[0], len(slots)

    s = make_series(world.doctor, world.lanu)
    book(db, world.worker, slot_id(s, 2027, 1, 12, 13))
    few_q, few = count_queries(date(2027, 1, 11), date(2027, 1, 17))
    for i in range(8):
        s2 = make_series(world.doctor, world.lanu, title=f"Sarja {i}", slots=4, commit=False,
                         rrule=build_rrule("weekly", date(2027, 1, 4 + i % 5)), first_start=datetime(2027, 1, 4 + i % 5, 9))
        db.session.commit()
        book(db, world.worker, slot_id(s2, 2027, 1, 4 + i % 5 + 7, 9))
    svc.cancel_occurrence(actor=world.doctor, series_id=s.id, original_start_dt=local(2027, 1, 19, 13), reason="x")
    db.session.commit()
    many_q, many = count_queries(date(2027, 1, 4), date(2027, 6, 30))
    assert many > 20 * few
    assert many_q == few_q, (few_q, many_q)


def test_admin_manages_series_but_does_not_read_questions(app, db, world, make_series):
    s = make_series(world.doctor, world.lanu)
    b = book(db, world.worker, slot_id(s, 2027, 1, 12, 13))
    with pytest.raises(NotFound):
        svc.get_booking(actor=world.admin, booking_id=b.id)
    assert svc.hosted_bookings(world.admin, now=NOW) == []
    assert [x.id for x in svc.hosted_series(world.admin)] == [s.id]
    svc.run_atomically(lambda: svc.cancel_occurrence(actor=world.admin, series_id=s.id,
                                                     original_start_dt=local(2027, 1, 12, 13), reason="Lakko"))
    assert b.status == "cancelled"


def test_database_conflicts_become_retries_or_409(app, db, world, make_series):
    """Real errors from the database: a deadlock / serialization failure raised by PostgreSQL is
    retried a bounded number of times, then answered as a Conflict; a unique violation is a Conflict."""
    from sqlalchemy import text

    s = make_series(world.doctor, world.lanu)
    b = book(db, world.worker, slot_id(s, 2027, 1, 12, 13))
    uid = b.ical_uid

    def duplicate_uid():
        other = svc.book_slot(actor=world.worker2, slot_id=slot_id(s, 2027, 1, 12, 13, 30), case_ref="X", question="Q",
                              now=NOW)
        other.ical_uid = uid
        db.session.flush()

    with pytest.raises(Conflict):
        svc.run_atomically(duplicate_uid)
    assert db.session.scalar(select(func.count(Booking.id))) == 1
    if db.engine.dialect.name != "postgresql":
        return
    calls = []

    def flaky(code):
        def work():
            calls.append(code)
            if len(calls) < 3:
                db.session.execute(text(f"DO $$ BEGIN RAISE EXCEPTION 'simulated' USING ERRCODE = '{code}'; END $$"))
            return "done"
        return work

    assert svc.run_atomically(flaky("40P01")) == "done" and len(calls) == 3
    calls.clear()
    assert svc.run_atomically(flaky("40001")) == "done" and len(calls) == 3
    calls.clear()
    with pytest.raises(Conflict):
        svc.run_atomically(flaky("40001"), attempts=2)
    assert len(calls) == 2
