"""Nothing of a case leaves the system: no case reference, question, background, questions,
services tried, statement, secretary's message or cancellation reason in any outgoing e-mail or
calendar (subjects, bodies, iCalendar), in the saved .eml files, or in the log."""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import select

from scheduler.consultations import services as svc
from scheduler.consultations.notifications import booking_reminders
from scheduler.core.timefmt import local_to_utc
from scheduler.delivery.models import OutboxMessage
from scheduler.delivery.outbox import deliver_due
from scheduler.panels import cases as pc
from scheduler.panels import services as ps
from scheduler.panels.notifications import panel_reminders

from .consultations_fixtures import NOW, slot_id
from .panels_fixtures import NOW as PANEL_NOW
from .panels_fixtures import submit

SECRETS = {
    "booking case_ref": "SALAINEN-LS-7781",
    "booking question": "Isän alkoholinkäyttö ja väkivallan uhka kotona",
    "cancel reason": "Perhe muutti toiselle paikkakunnalle",
    "panel case_ref": "SALAINEN-ROI-5512",
    "background": "Nuori karkaili sijaishuoltopaikasta kolme kertaa",
    "questions": "Tarvitaanko erityisen huolenpidon jakso",
    "services tried": "Perheterapia ja nuorisopsykiatrinen avohoito",
    "return message": "Lisää tieto huostaanoton ajankohdasta",
    "decline message": "Asia kuuluu vammaispalveluille",
    "statement": "Suositus: moniammatillinen verkostokokous ja terapiajakso",
    "recommendation": "Koulupsykologin tapaamiset viikoittain",
}


def test_no_case_content_in_anything_sent(app, db, make_unit, make_user, make_series, panel, people,  # noqa: F811
                                          mail_folder, caplog):
    caplog.set_level(logging.DEBUG)
    # consultations: book, move, cancel
    lanu = make_unit("LANU", kind="lanu")
    ls = make_unit("LS", kind="child_welfare")
    doctor = make_user("lanu-laakari@example.fi", roles=("consultant",), units=[lanu])
    booker = make_user("lastensuojelu@example.fi", roles=("social_worker",), units=[ls])
    series = make_series(doctor, lanu, modality="phone", location="Puhelin")
    booking = svc.book_slot(actor=booker, slot_id=slot_id(series, 2027, 1, 12, 13, 0),
                            case_ref=SECRETS["booking case_ref"], question=SECRETS["booking question"],
                            participants=["ulkoinen@example.org"], now=NOW)
    db.session.commit()
    deliver_due()  # the worker, between one person's action and the next
    (booking_reminders(local_to_utc(datetime(2027, 1, 11, 14, 0))), panel_reminders(local_to_utc(datetime(2027, 1, 11, 14, 0))))
    svc.reschedule_booking(actor=booker, booking_id=booking.id, slot_id=slot_id(series, 2027, 1, 19, 13, 0),
                           now=NOW)
    db.session.commit()
    deliver_due()  # the worker, between one person's action and the next
    svc.cancel_booking(actor=booker, booking_id=booking.id, reason=SECRETS["cancel reason"], now=NOW)
    db.session.commit()
    deliver_due()  # the worker, between one person's action and the next

    # the panel: submit, return, decline, schedule, publish, advice, cancel
    session = panel.sessions[1]
    returned = submit(db, panel, people["worker"], case_ref=SECRETS["panel case_ref"] + "-R")
    pc.return_case(returned, actor=people["secretary"], message=SECRETS["return message"], now=PANEL_NOW)
    declined = submit(db, panel, people["worker"], case_ref=SECRETS["panel case_ref"] + "-D")
    pc.decline_case(declined, actor=people["secretary"], message=SECRETS["decline message"], now=PANEL_NOW)
    case = submit(db, panel, people["worker"], case_ref=SECRETS["panel case_ref"], background=SECRETS["background"],
                  questions=SECRETS["questions"], services_tried=SECRETS["services tried"])
    pc.schedule_case(case, actor=people["secretary"], session_id=session.id,
                     experts=["juristi@example.fi", "psykologi@example.fi"], now=PANEL_NOW)
    db.session.commit()
    deliver_due()  # the worker, between one person's action and the next
    (booking_reminders(local_to_utc(datetime(2027, 1, 30, 13, 0))), panel_reminders(local_to_utc(datetime(2027, 1, 30, 13, 0))))  # the submission deadline
    (booking_reminders(local_to_utc(datetime(2027, 2, 7, 9, 0))), panel_reminders(local_to_utc(datetime(2027, 2, 7, 9, 0))))  # the agenda warning
    ps.publish_agenda(session, actor=people["secretary"], now=PANEL_NOW)
    db.session.commit()
    deliver_due()  # the worker, between one person's action and the next
    (booking_reminders(local_to_utc(datetime(2027, 2, 10, 13, 0))), panel_reminders(local_to_utc(datetime(2027, 2, 10, 13, 0))))
    pc.record_statement(case, actor=people["secretary"], text=SECRETS["statement"],
                        recommendations=[SECRETS["recommendation"]], now=local_to_utc(datetime(2027, 2, 11, 16, 0)))
    db.session.commit()
    deliver_due()  # the worker, between one person's action and the next
    later = panel.sessions[2]
    other = submit(db, panel, people["other_worker"], case_ref=SECRETS["panel case_ref"] + "-M")
    pc.schedule_case(other, actor=people["secretary"], session_id=later.id, experts=["opettaja@example.fi"],
                     now=PANEL_NOW)
    ps.publish_agenda(later, actor=people["secretary"], now=PANEL_NOW)
    ps.cancel_session(later, actor=people["secretary"], reason=SECRETS["cancel reason"], now=PANEL_NOW)
    db.session.commit()
    deliver_due()  # the worker, between one person's action and the next

    deliver_due()
    messages = db.session.execute(select(OutboxMessage).where(OutboxMessage.kind == "email")).scalars().all()
    assert sum(m.status == "sent" for m in messages) >= 25
    kinds = {m.dedupe_key.split(":")[0] if m.dedupe_key else "notice" for m in messages}
    assert {"invite", "agenda", "reminder", "deadline", "agenda-warning", "notice"} <= kinds
    sent = [repr(m.payload) for m in messages]
    files = [p.read_bytes().decode("utf-8", "replace") for p in mail_folder.glob("*.eml")]
    assert len(files) == len(messages)
    # the .eml files carry quoted-printable parts: decode them for the search
    from email import message_from_string, policy

    decoded = []
    for raw in files:
        mail = message_from_string(raw, policy=policy.default)
        decoded.append(str(mail["Subject"]))
        decoded += [part.get_content() for part in mail.walk() if not part.is_multipart()]
    haystacks = sent + files + decoded + [r.getMessage() for r in caplog.records]
    for what, secret in SECRETS.items():
        for text in haystacks:
            assert secret not in text, f"{what} leaked"
