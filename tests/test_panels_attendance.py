# ruff: noqa: F811  (the shared fixtures are imported by name, then requested as arguments)
"""Experts confirm attendance (issue 13): the answer through the API and the page, the secretary's
view of it, the decline e-mail to the secretaries, replacement suggestions and the warning of cases
that lack a confirmed expert."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from scheduler.delivery.models import OutboxMessage
from scheduler.delivery.outbox import deliver_due
from scheduler.panels import cases as pc
from scheduler.panels import services as ps
from scheduler.panels.attendance import SessionAttendance, answers, cases_lacking_experts
from scheduler.panels.notifications import attendance_warnings

from .conftest import csrf_token, sign_in
from .panels_fixtures import NOW, submit


def _published(db, panel, people):
    session = panel.sessions[1]
    a = submit(db, panel, people["worker"])  # asks for education and psychological expertise
    pc.schedule_case(a, actor=people["secretary"], session_id=session.id,
                     experts=["psykologi@example.fi", "opettaja@example.fi"], now=NOW)
    ps.publish_agenda(session, actor=people["secretary"], now=NOW)
    db.session.commit()
    return session, a


def _emails(db, prefix):
    db.session.expire_all()
    return db.session.execute(select(OutboxMessage).where(OutboxMessage.kind == "email",
                                                          OutboxMessage.dedupe_key.like(f"{prefix}%"))).scalars().all()


def test_api_attendance_contract_and_the_secretarys_agenda(app, db, api, panel, people):
    session, _case = _published(db, panel, people)
    psych, teacher, lawyer = api(people["psych"]), api(people["teacher"]), api(people["lawyer"])
    secretary = api(people["secretary"])

    r = secretary.get(f"/api/v1/panel-sessions/{session.id}/agenda")
    assert r.status_code == 200
    assert sorted((a["email"], a["status"]) for a in r.json["attendance"]) == [
        ("opettaja@example.fi", "unanswered"), ("psykologi@example.fi", "unanswered")]

    r = psych.post(f"/api/v1/panel-sessions/{session.id}/attendance", json={"attending": True, "note": ""})
    assert r.status_code == 200 and r.json["status"] == "confirmed"
    r = teacher.post(f"/api/v1/panel-sessions/{session.id}/attendance",
                     json={"attending": False, "note": "Koulutuspäivä, pääsen klo 14 jälkeen"})
    assert r.status_code == 200 and r.json["status"] == "declined"
    # answering again changes the answer, it adds no second row
    r = psych.post(f"/api/v1/panel-sessions/{session.id}/attendance", json={"attending": True})
    assert r.status_code == 200
    assert db.session.query(SessionAttendance).count() == 2

    r = secretary.get(f"/api/v1/panel-sessions/{session.id}/agenda")
    assert sorted((a["email"], a["name"], a["status"]) for a in r.json["attendance"]) == [
        ("opettaja@example.fi", "Oskari Opettaja", "declined"), ("psykologi@example.fi", "Pia Psykologi", "confirmed")]

    # not invited to this session: 403; no such session: 404; a submitter sees no attendance list
    assert lawyer.post(f"/api/v1/panel-sessions/{session.id}/attendance", json={"attending": True}).status_code == 403
    assert psych.post("/api/v1/panel-sessions/999999/attendance", json={"attending": True}).status_code == 404
    assert api(people["worker"]).get(f"/api/v1/panel-sessions/{session.id}/agenda").json.get("attendance") is None
    # bad input: a clear 422 that changes nothing
    r = psych.post(f"/api/v1/panel-sessions/{session.id}/attendance", json={"attending": "kyllä"})
    assert r.status_code == 422 and "attending" in r.json["error"]["fields"]
    r = psych.post(f"/api/v1/panel-sessions/{session.id}/attendance", json={"attending": False, "note": "x\x00y"})
    assert r.status_code == 422 and "note" in r.json["error"]["fields"]
    r = psych.post(f"/api/v1/panel-sessions/{session.id}/attendance",
                   json={"attending": False, "note": "Asiakas 131052-308T"})
    assert r.status_code == 422
    assert {a.user.email: a.status for a in answers(session)}["psykologi@example.fi"] == "confirmed"


def test_a_decline_tells_the_secretaries_without_case_content(app, db, api, panel, people, mail_folder):
    session, case = _published(db, panel, people)
    deliver_due()
    r = api(people["teacher"]).post(f"/api/v1/panel-sessions/{session.id}/attendance",
                                    json={"attending": False, "note": "Sairasloma"})
    assert r.status_code == 200
    deliver_due()
    (mail,) = _emails(db, "attendance-declined:")
    assert mail.payload["to"] == ["sihteeri@example.fi"] and mail.status == "sent"
    assert "Oskari Opettaja" in mail.payload["text"] and f"/panels/sessions/{session.id}" in mail.payload["text"]
    for secret in (case.case_ref, case.background, "Sairasloma"):
        assert secret not in repr(mail.payload)
    # declining again sends nothing more
    api(people["teacher"]).post(f"/api/v1/panel-sessions/{session.id}/attendance", json={"attending": False})
    deliver_due()
    assert len(_emails(db, "attendance-declined:")) == 1


def test_the_warning_names_cases_without_a_confirmed_expert_once(app, db, api, panel, people):
    session, _case = _published(db, panel, people)
    api(people["psych"]).post(f"/api/v1/panel-sessions/{session.id}/attendance", json={"attending": True})
    (gap,) = cases_lacking_experts(session)
    assert gap[0] == 1 and gap[2] == ["education"]  # the teacher has not confirmed
    before = session.start_dt - timedelta(days=4)
    assert attendance_warnings(before, 3) == 0  # not yet within the three days
    assert attendance_warnings(session.start_dt - timedelta(days=2), 3) == 1
    assert attendance_warnings(session.start_dt - timedelta(days=1), 3) == 1  # the same key: one message
    db.session.commit()
    (warning,) = _emails(db, "attendance-warning:")
    assert "Asia 1" in warning.payload["text"] or "Case 1" in warning.payload["text"]
    assert _case.case_ref not in repr(warning.payload)
    api(people["teacher"]).post(f"/api/v1/panel-sessions/{session.id}/attendance", json={"attending": True})
    db.session.expire_all()
    assert cases_lacking_experts(session) == []


def test_expert_answers_on_the_session_page_and_the_secretary_sees_it(app, db, client, login, panel, people):
    session, case = _published(db, panel, people)
    login(people["teacher"])
    page = client.get(f"/panels/sessions/{session.id}")
    assert page.status_code == 200 and "En pääse paikalle" in page.get_data(as_text=True)
    r = client.post(f"/panels/sessions/{session.id}/attendance",
                    data={"csrf_token": csrf_token(client, f"/panels/sessions/{session.id}"), "attending": "no",
                          "note": "Päällekkäinen koulutus"})
    assert r.status_code in (302, 303)
    assert {a.user.email: a.status for a in answers(session)}["opettaja@example.fi"] == "declined"

    secretary = app.test_client()
    sign_in(secretary, people["secretary"])
    html = secretary.get(f"/panels/sessions/{session.id}").get_data(as_text=True)
    assert "Oskari Opettaja" in html and "ei pääse" in html and "Päällekkäinen koulutus" in html
    case_html = secretary.get(f"/panels/cases/{case.id}").get_data(as_text=True)
    assert "Ei pääse istuntoon: Oskari Opettaja" in case_html
    # someone not invited cannot answer
    lawyer = app.test_client()
    sign_in(lawyer, people["lawyer"])
    assert lawyer.post(f"/panels/sessions/{session.id}/attendance", data={"attending": "yes"}).status_code in (400, 403, 404)
