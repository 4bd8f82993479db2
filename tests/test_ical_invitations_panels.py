"""Panel sessions: publishing invites the secretaries and the session's experts (the session's UID)
and each submitting worker to their own case's time only (the case's UID); changes send updates,
a cancelled session cancels them; the agenda e-mail and the notices to submitters carry no case
content."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select

from scheduler.core.timefmt import local_to_utc
from scheduler.delivery.models import CalendarInvitation, OutboxMessage
from scheduler.delivery.outbox import deliver_due
from scheduler.panels import cases as pc
from scheduler.panels import services as ps

from .fixtures_mail import calendar_parts, check_invitations
from .panels_fixtures import NOW, submit


def _mails(smtp_server, start=0):
    out: dict[str, list] = {}
    for r in smtp_server.received[start:]:
        out.setdefault(r.rcpt_tos[0], []).append(r.message)
    return out


def _invites(mails):
    """{recipient: [(method, VEVENT)]} from the delivered e-mails."""
    found = [(rcpt, part) for rcpt, msgs in mails.items() for m in msgs for part in calendar_parts(m)]
    cals = check_invitations([(part.get_content(), part.get_param("method")) for _r, part in found])
    out = {}
    for (rcpt, part), cal in zip(found, cals, strict=True):
        out.setdefault(rcpt, []).append((part.get_param("method"), cal.walk("VEVENT")[0]))
    return out


def _published(db, panel, people):  # noqa: F811
    session = panel.sessions[1]  # 11.2.2027 12.30–15.30
    a = submit(db, panel, people["worker"])
    b = submit(db, panel, people["other_worker"], case_ref="ROI-2027-018", expertise=["legal"])
    pc.schedule_case(a, actor=people["secretary"], session_id=session.id,
                     experts=["psykologi@example.fi", "opettaja@example.fi"], now=NOW)
    pc.schedule_case(b, actor=people["secretary"], session_id=session.id, experts=["juristi@example.fi"], now=NOW)
    db.session.commit()
    deliver_due()
    assert db.session.query(OutboxMessage).filter_by(kind="email").count() == 0  # nothing goes out before publication
    ps.publish_agenda(session, actor=people["secretary"], now=NOW)
    db.session.commit()
    return session, a, b


def test_publishing_invites_secretaries_experts_and_each_worker_to_their_case(  # noqa: F811
        smtp_app, smtp_server, db, panel, people):  # noqa: F811
    session, a, b = _published(db, panel, people)
    deliver_due()
    invites = _invites(_mails(smtp_server))
    session_people = {"sihteeri@example.fi", "psykologi@example.fi", "opettaja@example.fi", "juristi@example.fi"}
    assert set(invites) == session_people | {"sosiaali@example.fi", "toinen@example.fi"}
    for email in session_people:
        ((method, ev),) = invites[email]
        assert method == "REQUEST" and str(ev["UID"]) == session.ical_uid
        assert ev.decoded("DTSTART") == session.start_dt and ev.decoded("DTEND") == session.end_dt
        assert int(ev["SEQUENCE"]) == session.sequence
    # everyone's first entry is a new invitation, although the session's SEQUENCE was raised on publishing
    for r in smtp_server.received:
        if calendar_parts(r.message):
            assert r.message["Subject"].startswith("Kutsu: "), r.message["Subject"]
            text = r.message.get_body(("plain",)).get_content()
            assert "Sinut on kutsuttu" in text and "muuttunut" not in text
    ((method, ev),) = invites["sosiaali@example.fi"]
    assert str(ev["UID"]) == a.ical_uid and ev.decoded("DTSTART") == a.start_dt and ev.decoded("DTEND") == a.end_dt
    assert str(ev["ATTENDEE"]) == "mailto:sosiaali@example.fi"  # their case's time only
    ((method, ev),) = invites["toinen@example.fi"]
    assert str(ev["UID"]) == b.ical_uid and ev.decoded("DTSTART") == b.start_dt
    # the agenda e-mail: secretaries and experts, times and expertise, no case references
    agendas = [m for r in smtp_server.received for m in [r.message] if m["Subject"].startswith("Esityslista: ")]
    assert sorted(m["To"] for m in agendas) == sorted(session_people)
    body = agendas[0].get_body(("plain",)).get_content()
    assert "Asia 1: to 11.2.2027 klo 12.30–13.15" in body and "Psykologia" in body
    assert "Asia 2: to 11.2.2027 klo 13.15–14.00 – pyydetty asiantuntemus: Juridiikka" in body
    assert f"/panels/sessions/{session.id}" in body
    for m in agendas:
        assert "ROI-2027" not in m.as_string()


def test_changes_update_remove_and_cancel(smtp_app, smtp_server, db, panel, people):  # noqa: F811
    session, a, b = _published(db, panel, people)
    deliver_due()
    n = len(smtp_server.received)
    # the session moves an hour later: everyone's entry is updated, the cases' times too
    ps.move_session(session, actor=people["secretary"], start=session.start_dt + timedelta(hours=1), now=NOW)
    db.session.commit()
    deliver_due()
    invites = _invites(_mails(smtp_server, n))
    assert set(invites) == {"sihteeri@example.fi", "psykologi@example.fi", "opettaja@example.fi",
                            "juristi@example.fi", "sosiaali@example.fi", "toinen@example.fi"}
    ((method, ev),) = invites["sosiaali@example.fi"]
    assert method == "REQUEST" and str(ev["UID"]) == a.ical_uid and int(ev["SEQUENCE"]) == a.sequence >= 1
    assert ev.decoded("DTSTART") == local_to_utc(datetime(2027, 2, 11, 13, 30))
    ((method, ev),) = invites["juristi@example.fi"]
    assert int(ev["SEQUENCE"]) == session.sequence

    # an expert taken off the agenda's cases gets a cancellation of the session; nobody else hears
    n = len(smtp_server.received)
    pc.set_case_experts(a, actor=people["secretary"], experts=["opettaja@example.fi"], now=NOW)
    db.session.commit()
    deliver_due()
    invites = _invites(_mails(smtp_server, n))
    assert list(invites) == ["psykologi@example.fi"]
    ((method, ev),) = invites["psykologi@example.fi"]
    assert method == "CANCEL" and str(ev["UID"]) == session.ical_uid

    # the worker withdraws: their entry is cancelled; the other case moves up and is updated
    n = len(smtp_server.received)
    pc.withdraw_case(a, actor=people["worker"], now=NOW)
    db.session.commit()
    deliver_due()
    invites = _invites(_mails(smtp_server, n))
    ((method, ev),) = invites["sosiaali@example.fi"]
    assert method == "CANCEL" and str(ev["UID"]) == a.ical_uid
    ((method, ev),) = invites["toinen@example.fi"]
    assert method == "REQUEST" and ev.decoded("DTSTART") == local_to_utc(datetime(2027, 2, 11, 13, 30))
    assert "opettaja@example.fi" in invites  # no longer on any case of the session: cancelled
    assert invites["opettaja@example.fi"][0][0] == "CANCEL"

    # the session is cancelled: everyone still holding an entry gets CANCEL
    n = len(smtp_server.received)
    ps.cancel_session(session, actor=people["secretary"], reason="Sairastumisia", now=NOW)
    db.session.commit()
    deliver_due()
    invites = _invites(_mails(smtp_server, n))
    assert set(invites) == {"sihteeri@example.fi", "juristi@example.fi", "toinen@example.fi"}
    assert all(m == "CANCEL" for v in invites.values() for m, _ev in v)
    rows = db.session.execute(select(CalendarInvitation)).scalars().all()
    assert {r.method for r in rows} == {"CANCEL"}
    # the moved case's worker is told in an e-mail, with a link only
    notices = [m for m in _mails(smtp_server, n).get("toinen@example.fi", []) if not calendar_parts(m)]
    assert notices and f"/panels/cases/{b.id}" in notices[0].get_body(("plain",)).get_content()


def test_notices_to_the_submitter(mail_folder, db, panel, people):  # noqa: F811
    from email import message_from_bytes, policy

    case = submit(db, panel, people["worker"])
    pc.return_case(case, actor=people["secretary"], message="Lisää tieto aiemmista palveluista.", now=NOW)
    db.session.commit()
    case2 = submit(db, panel, people["worker"], case_ref="ROI-2027-099")
    pc.decline_case(case2, actor=people["secretary"], message="Ei kuulu työryhmälle.", now=NOW)
    db.session.commit()
    deliver_due()
    mails = [message_from_bytes(p.read_bytes(), policy=policy.default) for p in sorted(mail_folder.glob("*.eml"))]
    assert [m["To"] for m in mails] == ["sosiaali@example.fi"] * 2
    assert mails[0]["Subject"].startswith("Asiasi palautettiin täydennettäväksi")
    text = mails[0].get_body(("plain",)).get_content()
    assert f"/panels/cases/{case.id}" in text and "Lisää tieto" not in text and "ROI-2027" not in text
    assert "Ei kuulu" not in mails[1].as_string()
