# ruff: noqa: F811  (the shared fixtures are imported by name, then requested as arguments)
"""The expert panel's pages through the test client: who sees what, forms, errors, figures, log."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from .conftest import csrf_token, sign_in
from .panels_fixtures import CASE, NOW, submit


def _form_page(client, path):
    return csrf_token(client, path)


def test_worker_submits_through_the_form_and_identity_codes_are_refused(client, panel, people, db):
    from scheduler.panels.models import PanelCase

    sign_in(client, people["worker"])
    page = client.get("/panels/").get_data(as_text=True)
    assert "Lapin asiantuntijatyöryhmä" in page
    path = f"/panels/{panel.id}/cases/new"
    form_html = client.get(path).get_data(as_text=True)
    assert "Älä kirjoita nimiä tai henkilötunnuksia" in form_html or "henkilötunnu" in form_html
    token = _form_page(client, path)
    data = {"csrf_token": token, "case_ref": "ROI-1", "child_age": "12", "municipality": "Kemi", "language": "fi",
            "background": "Taustaa 131052-308T", "questions": "Kysymys?", "expertise": ["legal"]}
    resp = client.post(path, data=data)
    assert resp.status_code == 422
    html = resp.get_data(as_text=True)
    assert "error-summary" in html and "henkilötunnus" in html
    assert db.session.scalar(select(func.count(PanelCase.id))) == 0
    data["background"] = "Taustaa ilman tunnisteita."
    resp = client.post(path, data=data)
    assert resp.status_code == 302
    case = db.session.scalars(select(PanelCase)).one()
    assert case.case_ref == "ROI-1" and case.client_consent is False
    detail = client.get(resp.headers["Location"]).get_data(as_text=True)
    assert "Taustaa ilman tunnisteita." in detail and "Lähetetty" in detail


def test_missing_fields_get_messages_in_swedish(client, panel, make_user):
    user = make_user(roles=("social_worker",), language="sv")
    sign_in(client, user)
    path = f"/panels/{panel.id}/cases/new"
    resp = client.post(path, data={"csrf_token": _form_page(client, path)})
    assert resp.status_code == 422
    html = resp.get_data(as_text=True)
    assert 'lang="sv"' in html and "Kontrollera" in html


def test_secretary_inbox_schedule_publish_and_statement(client, panel, people, db):
    case = submit(db, panel, people["worker"])
    sign_in(client, people["secretary"])
    inbox = client.get("/panels/secretary").get_data(as_text=True)
    assert case.case_ref in inbox
    detail = client.get(f"/panels/cases/{case.id}").get_data(as_text=True)
    assert "Jussi Juristi" in detail and "Oskari Opettaja" in detail
    session = [s for s in panel.sessions if s.start_dt > datetime.now(UTC) + timedelta(days=1)][0]
    token = csrf_token(client, f"/panels/cases/{case.id}")
    resp = client.post(f"/panels/cases/{case.id}/schedule", data={
        "csrf_token": token, "session_id": str(session.id),
        "experts": [str(people["psych"].id), str(people["teacher"].id)]})
    assert resp.status_code == 302 and f"/panels/sessions/{session.id}" in resp.headers["Location"]
    page = client.get(f"/panels/sessions/{session.id}").get_data(as_text=True)
    assert case.case_ref in page and "Teams" in page
    resp = client.post(f"/panels/sessions/{session.id}/publish", data={"csrf_token": token})
    assert resp.status_code == 302
    db.session.expire_all()
    assert session.status == "agenda_published"
    # before the session has started the advice cannot be recorded: the page says when it can
    page = client.get(f"/panels/cases/{case.id}/statement").get_data(as_text=True)
    assert "Lausunnon voi kirjata, kun kokous on alkanut" in page and 'name="text"' not in page
    resp = client.post(f"/panels/cases/{case.id}/statement", data={
        "csrf_token": token, "text": "Neuvo", "recommendations": "Yksi\nKaksi", "follow_up": "1.6.2030"})
    assert resp.status_code == 422 and "kun kokous on alkanut" in resp.get_data(as_text=True)
    assert "<title>Virhe: " in resp.get_data(as_text=True)
    db.session.expire_all()
    assert case.status == "scheduled" and case.statement is None
    # the session begins
    length = session.end_dt - session.start_dt
    session.start_dt = datetime.now(UTC) - timedelta(minutes=5)
    session.end_dt = session.start_dt + length
    db.session.commit()
    resp = client.post(f"/panels/cases/{case.id}/statement", data={
        "csrf_token": token, "text": "Neuvo", "recommendations": "Yksi\nKaksi", "follow_up": "1.6.2030"})
    assert resp.status_code == 302
    db.session.expire_all()
    assert case.status == "handled" and case.statement.recommendations == ["Yksi", "Kaksi"]
    assert (case.handled_dt - session.start_dt) >= timedelta(0)


def test_experts_see_only_assigned_cases_after_publication(client, app, panel, people, db):
    from scheduler.panels.cases import schedule_case
    from scheduler.panels.services import publish_agenda

    case = submit(db, panel, people["worker"])
    other = submit(db, panel, people["other_worker"], case_ref="OTHER-9", background="Toinen tausta")
    session = panel.sessions[-1]
    schedule_case(case, actor=people["secretary"], session_id=session.id, experts=["psykologi@example.fi"])
    schedule_case(other, actor=people["secretary"], session_id=session.id, experts=["juristi@example.fi"])
    db.session.commit()
    sign_in(client, people["psych"])
    assert client.get(f"/panels/cases/{case.id}").status_code == 404  # not yet published
    assert "OTHER-9" not in client.get("/panels/my-sessions").get_data(as_text=True)
    publish_agenda(session, actor=people["secretary"])
    db.session.commit()
    page = client.get("/panels/my-sessions").get_data(as_text=True)
    assert case.case_ref in page
    assert CASE["background"] in client.get(f"/panels/cases/{case.id}").get_data(as_text=True)
    assert client.get(f"/panels/cases/{other.id}").status_code == 404
    agenda = client.get(f"/panels/sessions/{session.id}").get_data(as_text=True)
    assert "Toinen tausta" not in agenda
    # another social worker sees neither the case nor the session
    c2 = app.test_client()
    sign_in(c2, people["other_worker"])
    assert c2.get(f"/panels/cases/{case.id}").status_code == 404
    assert c2.get("/panels/secretary").status_code == 403


def test_figures_page_and_csv(client, panel, people, db):
    from scheduler.panels.cases import record_statement, return_case, schedule_case
    from scheduler.panels.services import mark_held, publish_agenda

    a = submit(db, panel, people["worker"])
    b = submit(db, panel, people["worker"], municipality="Kemi")
    s = panel.sessions[1]
    schedule_case(a, actor=people["secretary"], session_id=s.id, now=NOW)
    publish_agenda(s, actor=people["secretary"], now=NOW)
    mark_held(s, actor=people["secretary"], now=s.end_dt)
    record_statement(a, actor=people["secretary"], text="Neuvo", now=s.end_dt)
    return_case(b, actor=people["secretary"], message="Täydennä", now=NOW)
    db.session.commit()
    sign_in(client, people["secretary"])
    html = client.get("/panels/figures?year=2027").get_data(as_text=True)
    assert "<svg" in html and "style=" not in html
    assert "Rovaniemi" in html and "Kemi" in html
    csv_text = client.get("/panels/figures?year=2027&format=csv").get_data(as_text=True)
    lines = csv_text.splitlines()
    assert lines[0].startswith("dimension,key,sessions_scheduled,sessions_held")
    year = next(line for line in lines if line.startswith("year,"))
    # 11 sessions scheduled, 1 held, 0 not held, 0 cancelled, 2 submitted, 1 handled, 1 returned, 41 days
    assert year == "year,2027,11,1,0,0,2,1,1,41"
    assert "municipality,Kemi,0,0,0,0,1,0,1," in csv_text
    assert "expertise,psychological" in csv_text
    assert client.get("/panels/figures").status_code == 200


def test_case_read_log_for_admins(client, app, panel, people, db):
    case = submit(db, panel, people["worker"])
    sign_in(client, people["worker"])
    client.get(f"/panels/cases/{case.id}")
    admin = app.test_client()
    sign_in(admin, people["admin"])
    old = admin.get(f"/panels/admin/read-log?case={case.id}")  # the old address leads to the access log
    assert old.status_code == 301 and "/admin/access-log/" in old.headers["Location"]
    html = admin.get("/admin/access-log/").get_data(as_text=True)
    assert people["worker"].email in html and re.search(rf">{case.id}<", html)
    assert CASE["background"] not in html and case.case_ref not in html
    assert client.get("/admin/access-log/").status_code == 403


def test_admin_creates_a_panel_with_the_friendly_form(client, people, db):
    from scheduler.panels.models import Panel

    sign_in(client, people["admin"])
    token = csrf_token(client, "/panels/admin/new")
    resp = client.post("/panels/admin/new", data={
        "csrf_token": token, "name": "Pohjois-Lapin ryhmä", "region": "Lappi", "frequency": "monthly",
        "ordinal": "2", "weekday": "TH", "interval": "1", "first_date": "14.1.2027", "start_time": "12.30",
        "end_time": "15.30", "skip_july": "y", "skip_holidays": "y", "case_minutes": "45",
        "submission_deadline_days": "10", "agenda_days": "5", "secretaries": "sihteeri@example.fi"})
    assert resp.status_code == 302, resp.get_data(as_text=True)[:3000]
    panel = db.session.scalars(select(Panel)).one()
    assert panel.rrule == "FREQ=MONTHLY;BYDAY=2TH" and panel.session_minutes == 180
    assert [u.email for u in panel.secretaries] == ["sihteeri@example.fi"]
    assert len(panel.sessions) >= 10
    resp = client.post(f"/panels/admin/{panel.id}/experts", data={
        "csrf_token": token, "email": "juristi@example.fi", "expertise": ["legal"], "organisation": "Lapin HVA",
        "languages": ["fi", "sv"]})
    assert resp.status_code == 302
    db.session.expire_all()
    assert panel.experts[0].expertise_codes == ["legal"] and panel.experts[0].language_list == ["fi", "sv"]
    bad = client.post("/panels/admin/new", data={"csrf_token": token, "name": "X", "frequency": "monthly",
                                                 "ordinal": "2", "weekday": "TH", "interval": "1",
                                                 "first_date": "32.1.2027", "start_time": "15", "end_time": "12",
                                                 "case_minutes": "45", "submission_deadline_days": "10",
                                                 "agenda_days": "5"})
    assert bad.status_code == 422 and "error-summary" in bad.get_data(as_text=True)
