"""A booking's invitations: REQUEST to the booker, the series' consultants and the extra
participants (one each), updates with the same UID and a raised SEQUENCE, CANCEL on cancellation;
delivered through a real SMTP server and checked by icalendar, libical and recurring-ical-events."""

from __future__ import annotations

from datetime import date, timedelta

import recurring_ical_events
from sqlalchemy import select

from scheduler.consultations import services as svc
from scheduler.delivery.models import CalendarInvitation, OutboxMessage
from scheduler.delivery.outbox import deliver_due

from .consultations_fixtures import NOW, local, slot_id
from .fixtures_mail import calendar_parts, check_invitation

CASE_REF = "LS-2027-0042"
QUESTION = "Nuoren päihteiden käyttö ja koulupoissaolot: miten edetään?"


def _book(db, world, series, when=(2027, 1, 12, 13, 0), participants=("koulukuraattori@example.org",)):
    booking = svc.book_slot(actor=world.worker, slot_id=slot_id(series, *when), case_ref=CASE_REF, question=QUESTION,
                            participants=list(participants), now=NOW)
    db.session.commit()
    return booking


def _by_rcpt(smtp_server, start=0):
    out = {}
    for r in smtp_server.received[start:]:
        out.setdefault(r.rcpt_tos[0], []).append(r.message)
    return out


def test_booking_invites_each_person_once_then_updates_and_cancels(smtp_app, smtp_server, db, world, make_series):
    series = make_series(world.doctor, world.lanu, consultants=[world.doctor, world.nurse], modality="in_person",
                         location="LANU, Sairaalantie 1, neuvotteluhuone 2")
    booking = _book(db, world, series)
    uid = booking.ical_uid
    assert deliver_due()["sent"] == 4
    mails = _by_rcpt(smtp_server)
    assert sorted(mails) == ["doctor@example.fi", "koulukuraattori@example.org", "nurse@example.fi",
                             "worker@example.fi"]
    assert all(len(v) == 1 for v in mails.values())
    for rcpt, (mail,) in mails.items():
        assert mail["Subject"].startswith("Kutsu: ")
        (part,) = calendar_parts(mail)
        cal = check_invitation(part.get_content(), "REQUEST")
        (ev,) = cal.walk("VEVENT")
        assert str(ev["UID"]) == uid and int(ev["SEQUENCE"]) == 0
        assert f"mailto:{rcpt}" in [str(a) for a in ev["ATTENDEE"]]
        assert str(ev["LOCATION"]) == "LANU, Sairaalantie 1, neuvotteluhuone 2"
        assert f"/consultations/bookings/{booking.id}" in str(ev["DESCRIPTION"])
        (occ,) = recurring_ical_events.of(cal).between(date(2027, 1, 12), date(2027, 1, 13))
        assert occ.decoded("DTSTART") == local(2027, 1, 12, 13, 0)

    # rescheduling: the same UID, SEQUENCE raised, one update each
    svc.reschedule_booking(actor=world.worker, booking_id=booking.id, slot_id=slot_id(series, 2027, 1, 19, 13, 30),
                           now=NOW)
    db.session.commit()
    n = len(smtp_server.received)
    deliver_due()
    updates = _by_rcpt(smtp_server, n)
    assert sorted(updates) == sorted(mails)
    for (mail,) in updates.values():
        assert mail["Subject"].startswith("Päivitetty kutsu: ")
        ev = check_invitation(calendar_parts(mail)[0].get_content(), "REQUEST").walk("VEVENT")[0]
        assert str(ev["UID"]) == uid and int(ev["SEQUENCE"]) == booking.sequence >= 1
        assert ev.decoded("DTSTART") == local(2027, 1, 19, 13, 30)

    # cancelling: METHOD:CANCEL to everyone who had the entry
    svc.cancel_booking(actor=world.worker, booking_id=booking.id, reason="Asia ratkesi", now=NOW)
    db.session.commit()
    n = len(smtp_server.received)
    deliver_due()
    cancels = _by_rcpt(smtp_server, n)
    assert sorted(cancels) == sorted(mails)
    for (mail,) in cancels.values():
        (part,) = calendar_parts(mail)
        assert part.get_param("method") == "CANCEL"
        ev = check_invitation(part.get_content(), "CANCEL").walk("VEVENT")[0]
        assert str(ev["UID"]) == uid and int(ev["SEQUENCE"]) == booking.sequence
        assert ev["STATUS"] == "CANCELLED"
    rows = db.session.execute(select(CalendarInvitation).where(CalendarInvitation.uid == uid)).scalars().all()
    assert {r.method for r in rows} == {"CANCEL"}


def test_the_same_signal_twice_sends_nothing_more(db, world, make_series, mail_folder):
    from scheduler.core.signals import booking_changed

    series = make_series(world.doctor, world.lanu, modality="phone")
    booking = _book(db, world, series, participants=())
    deliver_due()
    emails = db.session.query(OutboxMessage).filter_by(kind="email")
    before = emails.count()
    booking_changed.send(booking, action="created", previous_start=None)
    db.session.commit()
    deliver_due()
    assert emails.count() == before == 2  # the booker and the consultant


def test_invitations_are_in_each_persons_language(db, world, make_series, make_user, mail_folder):
    from email import message_from_bytes, policy

    world.worker.language = "sv"
    db.session.commit()
    series = make_series(world.doctor, world.lanu, modality="phone")
    _book(db, world, series, participants=())
    deliver_due()
    mails = [message_from_bytes(p.read_bytes(), policy=policy.default) for p in sorted(mail_folder.glob("*.eml"))]
    subjects = {m["To"]: m["Subject"] for m in mails}
    assert subjects["worker@example.fi"].startswith("Inbjudan: ") and "tis 12.1.2027 kl. 13.00" in subjects["worker@example.fi"]
    assert subjects["doctor@example.fi"].startswith("Kutsu: ") and "ti 12.1.2027 klo 13.00" in subjects["doctor@example.fi"]


def _mail_to(mail_folder, rcpt):
    from email import message_from_bytes, policy

    mails = [message_from_bytes(p.read_bytes(), policy=policy.default) for p in sorted(mail_folder.glob("*.eml"))]
    return [m for m in mails if m["To"] == rcpt]


def test_each_modality_says_how_the_meeting_is_held(db, world, make_series, mail_folder):
    """In person: the place; phone: who calls whom; Teams without Graph: who sends the link. In the
    e-mail's text and HTML and in the calendar's DESCRIPTION, with the booking's page to act on."""
    cases = [
        (dict(modality="in_person", location="LANU, Sairaalantie 1"), "Paikan päällä", "LANU, Sairaalantie 1"),
        (dict(modality="phone", location=""), "konsultti soittaa sinulle", None),
        (dict(modality="phone", location="040 123 4567"), "soita numeroon 040 123 4567", None),
        (dict(modality="teams", location=""), "konsultti lähettää kokouslinkin", None),
    ]
    for n, (kw, how, place) in enumerate(cases):
        series = make_series(world.doctor, world.lanu, title=f"LANU {n}", **kw)
        day = date(2027, 1, 12) + timedelta(weeks=n)
        booking = _book(db, world, series, when=(day.year, day.month, day.day, 13, 0), participants=())
        deliver_due()
        (mail,) = [m for m in _mail_to(mail_folder, "worker@example.fi") if f"/consultations/bookings/{booking.id}" in
                   m.get_body(("plain",)).get_content()]
        text = mail.get_body(("plain",)).get_content()
        html = mail.get_body(("html",)).get_content()
        assert how in text and how in html
        assert "Tiedot, siirto ja peruminen palvelussa" in text
        assert "  " not in str(mail["Subject"])
        (part,) = calendar_parts(mail)
        (ev,) = check_invitation(part.get_content(), "REQUEST").walk("VEVENT")
        assert how in str(ev["DESCRIPTION"]) and f"/consultations/bookings/{booking.id}" in str(ev["DESCRIPTION"])
        assert (str(ev.get("LOCATION")) if ev.get("LOCATION") else None) == place
        assert all(a.params["RSVP"] == "FALSE" for a in ev["ATTENDEE"])
        assert CASE_REF not in part.get_content() and QUESTION not in text


def test_add_to_my_calendar_downloads_the_same_event_without_case_content(db, world, make_series, client, login):
    from icalendar import Calendar

    series = make_series(world.doctor, world.lanu, modality="phone")
    booking = _book(db, world, series, participants=())
    login(world.worker)
    page = client.get(f"/consultations/bookings/{booking.id}").get_data(as_text=True)
    assert f"/consultations/bookings/{booking.id}/calendar.ics" in page
    r = client.get(f"/consultations/bookings/{booking.id}/calendar.ics")
    assert r.status_code == 200 and r.mimetype == "text/calendar"
    assert "attachment" in r.headers["Content-Disposition"]
    body = r.get_data(as_text=True)
    cal = Calendar.from_ical(body)
    assert str(cal["METHOD"]) == "PUBLISH"
    (ev,) = cal.walk("VEVENT")
    assert str(ev["UID"]) == booking.ical_uid and "ATTENDEE" not in ev
    assert CASE_REF not in body and QUESTION not in body
    # someone else's booking: not found
    other = make_series(world.doctor, world.lanu, title="Toinen", modality="phone")
    theirs = svc.book_slot(actor=world.worker2, slot_id=slot_id(other, 2027, 1, 12, 13, 0), case_ref="LS-9",
                           question="Q", now=NOW)
    db.session.commit()
    assert client.get(f"/consultations/bookings/{theirs.id}/calendar.ics").status_code == 404
