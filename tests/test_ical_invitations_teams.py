"""Teams meetings (Graph stand-in) and our iMIP invitations together: the invitations wait for the
join link and then go out once per person, carrying it; a move updates the same Teams meeting and
the same calendar entries; a cancellation deletes the meeting and cancels the entries."""

from __future__ import annotations

from sqlalchemy import select

from scheduler.consultations import services as svc
from scheduler.delivery.models import OutboxMessage
from scheduler.delivery.outbox import deliver_due
from scheduler.panels import cases as pc
from scheduler.panels import services as ps

from .consultations_fixtures import NOW, local, slot_id
from .fixtures_mail import calendar_parts, check_invitations
from .panels_fixtures import NOW as PANEL_NOW
from .panels_fixtures import submit


def _emails(db):
    db.session.expire_all()
    return db.session.execute(select(OutboxMessage).where(OutboxMessage.kind == "email")
                              .order_by(OutboxMessage.id)).scalars().all()


def _invites(smtp_server, start=0):
    found = [(r.rcpt_tos[0], part) for r in smtp_server.received[start:] for part in calendar_parts(r.message)]
    cals = check_invitations([(p.get_content(), p.get_param("method")) for _r, p in found])
    return [(rcpt, part.get_param("method"), cal.walk("VEVENT")[0]) for (rcpt, part), cal in zip(found, cals, strict=True)]


def test_booking_on_teams(smtp_app, smtp_server, db, graph_settings, make_unit, make_user, make_series):  # noqa: F811
    lanu = make_unit("LANU", kind="lanu")
    ls = make_unit("LS", kind="child_welfare")
    doctor = make_user("laakari@example.fi", roles=("consultant",), units=[lanu])
    worker = make_user("sosiaalityo@example.fi", roles=("social_worker",), units=[ls], language="sv")
    series = make_series(doctor, lanu, modality="teams")
    booking = svc.book_slot(actor=worker, slot_id=slot_id(series, 2027, 1, 12, 13, 0), case_ref="LS-9",
                            question="Kysymys", now=NOW)
    db.session.commit()
    assert _emails(db) == []  # the invitations wait for the join link
    assert deliver_due()["sent"] >= 3  # the Graph call, then the two invitations it made due
    (meeting,) = graph_settings.meetings.values()
    join = meeting["joinWebUrl"]
    db.session.expire_all()
    assert booking.join_url == join
    invites = _invites(smtp_server)
    assert sorted(r for r, _m, _e in invites) == ["laakari@example.fi", "sosiaalityo@example.fi"]
    for _rcpt, method, ev in invites:
        assert method == "REQUEST" and join in str(ev["DESCRIPTION"]) and str(ev["LOCATION"]) == "Microsoft Teams"
    assert "konsultation" in meeting["subject"] or "konsultaatio" in meeting["subject"]
    assert "LS-9" not in meeting["subject"]

    n = len(smtp_server.received)
    svc.reschedule_booking(actor=worker, booking_id=booking.id, slot_id=slot_id(series, 2027, 1, 19, 13, 30), now=NOW)
    db.session.commit()
    deliver_due()
    assert len(graph_settings.meetings) == 1  # the same Teams meeting, moved
    invites = _invites(smtp_server, n)
    assert len(invites) == 2 and all(m == "REQUEST" and join in str(ev["DESCRIPTION"]) for _r, m, ev in invites)
    assert all(ev.decoded("DTSTART") == local(2027, 1, 19, 13, 30) for _r, _m, ev in invites)

    n = len(smtp_server.received)
    svc.cancel_booking(actor=worker, booking_id=booking.id, reason="", now=NOW)
    db.session.commit()
    deliver_due()
    assert graph_settings.meetings == {}  # deleted in Graph
    invites = _invites(smtp_server, n)
    assert sorted((r, m) for r, m, _e in invites) == [("laakari@example.fi", "CANCEL"),
                                                      ("sosiaalityo@example.fi", "CANCEL")]


def test_panel_session_on_teams(smtp_app, smtp_server, db, graph_settings, panel, people):  # noqa: F811
    session = panel.sessions[1]
    case = submit(db, panel, people["worker"])
    pc.schedule_case(case, actor=people["secretary"], session_id=session.id, experts=["juristi@example.fi"],
                     now=PANEL_NOW)
    ps.publish_agenda(session, actor=people["secretary"], now=PANEL_NOW)
    db.session.commit()
    assert _emails(db) == []
    deliver_due()
    (meeting,) = graph_settings.meetings.values()
    join = meeting["joinWebUrl"]
    invites = _invites(smtp_server)
    assert sorted(r for r, _m, _e in invites) == ["juristi@example.fi", "sihteeri@example.fi", "sosiaali@example.fi"]
    assert all(join in str(ev["DESCRIPTION"]) for _r, _m, ev in invites)  # the worker's case time too
    agendas = [r.message for r in smtp_server.received if r.message["Subject"].startswith("Esityslista")]
    assert len(agendas) == 2 and all(join in m.get_body(("plain",)).get_content() for m in agendas)
    # publishing again or a repeated ready signal sends nothing more
    from scheduler.core.signals import teams_meeting_ready

    teams_meeting_ready.send(f"panel-session:{session.id}", join_url=join)
    db.session.commit()
    assert deliver_due()["sent"] == 0
