# ruff: noqa: F811  (the shared fixtures are imported by name, then requested as arguments)
"""Least visibility (issue 12): each person sees what their role needs, pages and API alike."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from .conftest import csrf_token, sign_in
from .panels_fixtures import CASE, NOW, submit


def _agenda(db, panel, people, *, publish=True):
    """Two workers' cases on one session: the worker's (psychologist) and another's (lawyer)."""
    from scheduler.panels.cases import schedule_case
    from scheduler.panels.services import publish_agenda

    mine = submit(db, panel, people["worker"], case_ref="MINE-1", background="Oma tausta")
    theirs = submit(db, panel, people["other_worker"], case_ref="THEIRS-2", background="Toisen tausta")
    session = panel.sessions[-1]
    schedule_case(mine, actor=people["secretary"], session_id=session.id, experts=["psykologi@example.fi"], now=NOW)
    schedule_case(theirs, actor=people["secretary"], session_id=session.id, experts=["juristi@example.fi"], now=NOW)
    if publish:
        publish_agenda(session, actor=people["secretary"], now=NOW)
    db.session.commit()
    return session, mine, theirs


def _emails_to(db, address):
    from scheduler.delivery.models import OutboxMessage

    return [m for m in db.session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "email"))
            if address in (m.payload or {}).get("to", [])]


def test_agenda_api_shows_a_submitter_what_the_page_shows(client, api, db, panel, people):
    session, mine, theirs = _agenda(db, panel, people)
    body = api(people["worker"]).get(f"/api/v1/panel-sessions/{session.id}/agenda").json
    assert [i["case_id"] for i in body["items"]] == [mine.id]
    assert body["items"][0]["case_ref"] == "MINE-1" and body["items"][0]["background"] == "Oma tausta"
    assert "THEIRS-2" not in repr(body) and "Toisen tausta" not in repr(body)
    sign_in(client, people["worker"])
    page = client.get(f"/panels/sessions/{session.id}").get_data(as_text=True)
    assert "MINE-1" in page and "THEIRS-2" not in page


def test_administrators_see_the_agenda_without_case_references(client, api, db, panel, people):
    session, mine, theirs = _agenda(db, panel, people)
    admin = api(people["admin"])
    items = admin.get(f"/api/v1/panel-sessions/{session.id}/agenda").json["items"]
    assert [i["case_id"] for i in items] == [mine.id, theirs.id]
    assert all(i["case_ref"] is None and "background" not in i and "questions" not in i for i in items)
    assert admin.get(f"/api/v1/panel-cases/{mine.id}").status_code == 404
    sign_in(client, people["admin"])
    page = client.get(f"/panels/sessions/{session.id}").get_data(as_text=True)
    assert "MINE-1" not in page and "THEIRS-2" not in page and "Oma tausta" not in page
    assert client.get(f"/panels/cases/{mine.id}").status_code == 404


def test_an_administrator_who_is_also_the_secretary_sees_the_references(api, db, panel, people):
    from scheduler.panels.panel_admin import update_panel

    update_panel(panel, actor=people["admin"], name=panel.name, rrule=panel.rrule, first_start="2027-01-14T12:30",
                 session_minutes=180, case_minutes=45, submission_deadline_days=10, agenda_days=5, region="Lappi",
                 secretaries=["sihteeri@example.fi", "admin@example.fi"], now=NOW)
    db.session.commit()
    session, mine, theirs = _agenda(db, panel, people)
    items = api(people["admin"]).get(f"/api/v1/panel-sessions/{session.id}/agenda").json["items"]
    assert [i["case_ref"] for i in items] == ["MINE-1", "THEIRS-2"]


def test_experts_contact_details_only_for_secretaries_and_administrators(api, db, panel, people):
    for who, full in (("worker", False), ("psych", False), ("secretary", True), ("admin", True)):
        experts = api(people[who]).get("/api/v1/panels").json["panels"][0]["experts"]
        assert len(experts) == 3 and all(e["name"] and e["expertise"] for e in experts)
        if full:
            assert {e["email"] for e in experts} == {"juristi@example.fi", "psykologi@example.fi", "opettaja@example.fi"}
            assert all("organisation" in e for e in experts)
        else:
            assert all("email" not in e and "organisation" not in e for e in experts), who


@pytest.mark.parametrize("how", ["remove", "deactivate"])
def test_an_expert_leaving_the_pool_loses_access_at_once(client, api, db, panel, people, how):
    from scheduler.core.errors import NotFound
    from scheduler.panels import panel_admin
    from scheduler.panels.cases import record_statement, schedule_case
    from scheduler.panels.models import PanelCaseExpert
    from scheduler.panels.services import publish_agenda, read_case, sessions_for_expert

    session, mine, theirs = _agenda(db, panel, people)
    waiting = submit(db, panel, people["worker"], case_ref="WAIT-3")
    schedule_case(waiting, actor=people["secretary"], session_id=panel.sessions[-2].id,
                  experts=["psykologi@example.fi", "opettaja@example.fi"], now=NOW)
    handled = submit(db, panel, people["worker"], case_ref="DONE-4")
    early = panel.sessions[1]
    schedule_case(handled, actor=people["secretary"], session_id=early.id, experts=["psykologi@example.fi"], now=NOW)
    publish_agenda(early, actor=people["secretary"], now=NOW)
    record_statement(handled, actor=people["secretary"], text="Neuvo", now=early.end_dt)  # once it has met
    db.session.commit()
    psych = people["psych"]
    assert read_case(mine.id, actor=psych).id == mine.id and read_case(handled.id, actor=psych).id == handled.id
    psych_api = api(psych)
    assert psych_api.get(f"/api/v1/panel-cases/{mine.id}").status_code == 200

    expert = panel.expert_for(psych)
    if how == "remove":
        panel_admin.remove_expert(panel, actor=people["admin"], expert_id=expert.id, now=NOW)
    else:
        panel_admin.set_expert(panel, actor=people["admin"], email=psych.email, expertise=["psychological"],
                               is_active=False, now=NOW)
    db.session.commit()

    for case in (mine, handled):
        with pytest.raises(NotFound):
            read_case(case.id, actor=psych)
        db.session.commit()  # the refusal is in the access log; the caller commits either way
        assert psych_api.get(f"/api/v1/panel-cases/{case.id}").status_code == 404
    assert psych_api.get(f"/api/v1/panel-sessions/{session.id}/agenda").status_code == 404
    assert sessions_for_expert(psych) == []
    sign_in(client, psych)
    assert client.get(f"/panels/cases/{mine.id}").status_code == 404
    assert "MINE-1" not in client.get("/panels/my-sessions").get_data(as_text=True)
    # places on cases not handled yet are freed; the handled case keeps its history
    assigned = set(db.session.scalars(select(PanelCaseExpert.case_id).where(PanelCaseExpert.user_id == psych.id)))
    assert assigned == {handled.id}
    # the secretary is told (by the worker) which cases lost an expert, without any case content
    from scheduler.delivery.outbox import deliver_due

    deliver_due()
    mails = [m for m in _emails_to(db, "sihteeri@example.fi") if f"/panels/cases/{mine.id}" in m.payload["text"]]
    assert len(mails) == 1
    body = mails[0].payload["text"] + (mails[0].payload["html"] or "") + mails[0].payload["subject"]
    assert f"/panels/cases/{waiting.id}" in body and f"/panels/cases/{handled.id}" not in body
    assert f"/panels/cases/{theirs.id}" not in body
    for secret in ("MINE-1", "WAIT-3", "Oma tausta", CASE["questions"], "Toisen tausta"):
        assert secret not in body
    assert "Pia Psykologi" in body


def test_missing_and_forbidden_get_the_same_answer(client, app, api, db, panel, people):
    session, mine, theirs = _agenda(db, panel, people, publish=False)
    missing = theirs.id + 1000
    # another worker: withdrawing, reading or declaring a conflict on someone else's case
    sign_in(client, people["other_worker"])
    for case_id in (mine.id, missing):
        assert client.get(f"/panels/cases/{case_id}").status_code == 404
        assert client.post(f"/panels/cases/{case_id}/withdraw",
                           data={"csrf_token": csrf_token(client, "/panels/")}).status_code == 404
    assert mine.status == "scheduled"
    # someone outside the pool declaring a conflict of interest
    c2 = app.test_client()
    outsider = people["teacher"]
    from scheduler.panels import panel_admin

    panel_admin.remove_expert(panel, actor=people["admin"], expert_id=panel.expert_for(outsider).id, now=NOW)
    db.session.commit()
    sign_in(c2, outsider)
    token = csrf_token(c2, "/")
    for case_id in (mine.id, missing):
        assert c2.post(f"/panels/cases/{case_id}/conflict", data={"csrf_token": token}).status_code == 404
    # through the API: a case someone may not touch looks like one that does not exist
    other = api(people["other_worker"])
    for case_id in (mine.id, missing):
        got = other.get(f"/api/v1/panel-cases/{case_id}")
        assert got.status_code == 404 and got.json["error"]["code"] == "not_found"
        sched = other.post(f"/api/v1/panel-cases/{case_id}/schedule", json={"session_id": session.id})
        assert sched.status_code == 404
        st = other.post(f"/api/v1/panel-cases/{case_id}/statement", json={"text": "x"})
        assert st.status_code == 404
    for sid in (session.id, session.id + 1000):
        assert other.get(f"/api/v1/panel-sessions/{sid}/agenda").status_code == 404
    # the submitter, who may read the case, is told plainly that only the secretary may do this
    assert api(people["worker"]).post(f"/api/v1/panel-cases/{mine.id}/schedule",
                                      json={"session_id": session.id}).status_code == 403


def test_administrators_see_no_booking_questions(app, db, api, make_unit, make_user):
    from datetime import UTC, datetime

    from scheduler.consultations import services as svc
    from scheduler.consultations.slots import slot_key
    from scheduler.core.timefmt import local_to_utc

    ls, lanu = make_unit("LS", kind="child_welfare"), make_unit("LANU", kind="lanu")
    worker = make_user("worker@example.fi", roles=("social_worker",), units=[ls])
    doctor = make_user("doctor@example.fi", roles=("consultant",), units=[lanu])
    admin = make_user("admin@example.fi", roles=("admin",))
    now = datetime(2027, 1, 1, 8, 0, tzinfo=UTC)
    series = svc.create_series(actor=doctor, now=now, data=svc.SeriesInput(
        unit=lanu, title="LANU-konsultaatio", rrule="FREQ=WEEKLY;BYDAY=TU", first_start=datetime(2027, 1, 5, 13, 0),
        slots=2, open_to=["child_welfare"], horizon_days=365))
    booking = svc.book_slot(actor=worker, slot_id=slot_key(series.id, local_to_utc(datetime(2027, 1, 12, 13, 0))),
                            case_ref="ROV-2027-014", question="Salainen kysymys", now=now)
    db.session.commit()
    admin_api = api(admin)
    assert admin_api.get(f"/api/v1/bookings/{booking.id}").status_code == 404
    assert admin_api.get(f"/api/v1/bookings/{booking.id + 100}").status_code == 404
    assert admin_api.get("/api/v1/bookings?hosted=1").json["bookings"] == []
    assert api(doctor).get(f"/api/v1/bookings/{booking.id}").json["question"] == "Salainen kysymys"
