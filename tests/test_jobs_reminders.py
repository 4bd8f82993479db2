"""Reminder jobs: before consultations and sessions (REMINDER_HOURS), before a panel's submission
deadline, and the secretary's warning of an unpublished agenda; each once, however often the job runs."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from scheduler.consultations import services as svc
from scheduler.consultations.notifications import booking_reminders
from scheduler.core.timefmt import local_to_utc
from scheduler.delivery.models import OutboxMessage
from scheduler.panels import cases as pc
from scheduler.panels import services as ps
from scheduler.panels.notifications import panel_reminders

from .consultations_fixtures import NOW, slot_id
from .panels_fixtures import NOW as PANEL_NOW
from .panels_fixtures import submit


def _reminders(db, prefix):
    db.session.expire_all()
    return db.session.execute(
        select(OutboxMessage).where(OutboxMessage.dedupe_key.like(f"{prefix}%")).order_by(OutboxMessage.id)
    ).scalars().all()


def send_reminders(now):
    """Both domains' reminder jobs, as the scheduler runs them."""
    return {"bookings": booking_reminders(now), **panel_reminders(now)}


def at(*args):
    return local_to_utc(datetime(*args))


def test_booking_reminder_once_within_the_lead_time(db, world, make_series):
    series = make_series(world.doctor, world.lanu, modality="phone")
    booking = svc.book_slot(actor=world.worker, slot_id=slot_id(series, 2027, 1, 12, 13, 0), case_ref="LS-1",
                            question="Kysymys", participants=["ulkoinen@example.org"], now=NOW)
    other = svc.book_slot(actor=world.worker2, slot_id=slot_id(series, 2027, 1, 12, 13, 30), case_ref="LS-2",
                          question="Kysymys", now=NOW)
    db.session.commit()
    svc.cancel_booking(actor=world.worker2, booking_id=other.id, reason="", now=NOW)
    db.session.commit()
    assert send_reminders(now=at(2027, 1, 11, 12, 0))["bookings"] == 0  # 25 h before: not yet
    counts = send_reminders(now=at(2027, 1, 11, 14, 0))
    db.session.commit()
    rows = _reminders(db, "reminder:booking:")
    assert counts["bookings"] == 3 and len(rows) == 3
    assert sorted(r.payload["to"][0] for r in rows) == ["doctor@example.fi", "ulkoinen@example.org", "worker@example.fi"]
    assert all(str(booking.id) in r.dedupe_key for r in rows)  # none for the cancelled booking
    mine = next(r for r in rows if r.payload["to"] == ["worker@example.fi"])
    assert mine.payload["subject"].startswith("Muistutus: ") and "ti 12.1.2027 klo 13.00–13.30" in mine.payload["subject"]
    assert f"/consultations/bookings/{booking.id}" in mine.payload["text"]
    # the job runs again (and again): nothing more
    send_reminders(now=at(2027, 1, 11, 14, 5))
    send_reminders(now=at(2027, 1, 12, 9, 0))
    db.session.commit()
    assert len(_reminders(db, "reminder:booking:")) == 3


def test_a_booking_made_inside_the_window_gets_no_reminder(db, world, make_series):
    series = make_series(world.doctor, world.lanu, modality="phone", min_notice_hours=1)
    booking = svc.book_slot(actor=world.worker, slot_id=slot_id(series, 2027, 1, 12, 13, 0), case_ref="LS-1",
                            question="K", now=at(2027, 1, 12, 8, 0))
    booking.created_dt = at(2027, 1, 12, 8, 0)  # the service stamps the wall clock; this test lives in 2027
    db.session.commit()
    send_reminders(now=at(2027, 1, 12, 9, 0))
    assert _reminders(db, "reminder:booking:") == []


def test_panel_reminders_deadline_and_agenda_warning(app, db, panel, people):  # noqa: F811
    session = panel.sessions[1]  # 11.2.2027 12.30–15.30; deadline 1.2. 12.30; agenda due 6.2. 12.30
    # three days before the submission deadline: every social worker is reminded, once
    send_reminders(now=at(2027, 1, 28, 12, 0))
    assert _reminders(db, "deadline:") == []
    send_reminders(now=at(2027, 1, 29, 13, 0))
    send_reminders(now=at(2027, 1, 30, 13, 0))
    db.session.commit()
    rows = _reminders(db, "deadline:")
    assert sorted(r.payload["to"][0] for r in rows) == ["sosiaali@example.fi", "toinen@example.fi"]
    assert "ma 1.2.2027 klo 12.30" in rows[0].payload["text"]

    case = submit(db, panel, people["worker"])
    pc.schedule_case(case, actor=people["secretary"], session_id=session.id, experts=["juristi@example.fi"],
                     now=PANEL_NOW)
    db.session.commit()
    # the agenda is due on 6.2. and not published: the secretary is warned once
    send_reminders(now=at(2027, 2, 6, 12, 0))
    assert _reminders(db, "agenda-warning:") == []
    send_reminders(now=at(2027, 2, 6, 13, 0))
    send_reminders(now=at(2027, 2, 7, 9, 0))
    db.session.commit()
    (warning,) = _reminders(db, "agenda-warning:")
    assert warning.payload["to"] == ["sihteeri@example.fi"] and "Esityslistaa ei ole julkaistu" in warning.payload["subject"]

    ps.publish_agenda(session, actor=people["secretary"], now=at(2027, 2, 7, 10, 0))
    db.session.commit()
    send_reminders(now=at(2027, 2, 10, 13, 0))
    send_reminders(now=at(2027, 2, 10, 13, 5))
    db.session.commit()
    rows = _reminders(db, "reminder:panel-")
    assert sorted(r.payload["to"][0] for r in rows) == ["juristi@example.fi", "sihteeri@example.fi",
                                                         "sosiaali@example.fi"]
    worker_row = next(r for r in rows if r.payload["to"] == ["sosiaali@example.fi"])
    assert "to 11.2.2027 klo 12.30–13.15" in worker_row.payload["subject"]  # their case's time
    assert f"/panels/cases/{case.id}" in worker_row.payload["text"]


def test_the_reminders_job_is_registered(app):
    from scheduler.jobs import jobs_of

    assert [j.id for j in jobs_of(app)][:3] == ["outbox-deliver", "booking-reminders", "panel-reminders"]
