# ruff: noqa: F811  (the shared fixtures are imported by name, then requested as arguments)
"""The access log: every read of case content (bookings and panel cases, page or API) and every
refused read is logged, cheaply; administrators read it on a page (filters, CSV) and through the
API; the rows outlive their users."""

from __future__ import annotations

import re
from contextlib import contextmanager
from datetime import UTC, datetime

import pytest
from sqlalchemy import delete, event, select

from .conftest import sign_in
from .consultations_fixtures import NOW, slot_id
from .panels_fixtures import CASE, submit

ISO_WITH_OFFSET = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d$")


@pytest.fixture
def hours(db, make_unit, make_user):
    """A LANU consultation series with three bookings by one worker."""
    from scheduler.consultations.services import SeriesInput, book_slot, create_series

    ls, lanu = make_unit("LS", kind="child_welfare"), make_unit("LANU", kind="lanu")
    worker = make_user("worker@example.fi", roles=("social_worker",), units=[ls], name="Sanna Sosiaali")
    other = make_user("worker2@example.fi", roles=("social_worker",), units=[ls], name="Stina Social")
    host = make_user("doctor@example.fi", roles=("consultant",), units=[lanu], name="Lauri Lanu")
    series = create_series(actor=host, data=SeriesInput(
        unit=lanu, title="LANU-konsultaatio", rrule="FREQ=WEEKLY;BYDAY=TU", first_start=datetime(2027, 1, 5, 13, 0),
        slot_minutes=30, slots=2, capacity=1, modality="teams", location="", languages=["fi"],
        open_to=["child_welfare"], min_notice_hours=24, horizon_days=365, until=None), now=NOW)
    db.session.commit()
    bookings = [book_slot(actor=worker, slot_id=slot_id(series, 2027, 1, d, 13), case_ref=f"LS-{d}",
                          question="Miten tukea perhettä?", now=NOW) for d in (12, 19, 26)]
    db.session.commit()
    return type("Hours", (), dict(worker=worker, other=other, host=host, series=series, bookings=bookings))


def entries(db, **where):
    from scheduler.people.access_log import AccessLogEntry

    db.session.expire_all()
    q = select(AccessLogEntry).order_by(AccessLogEntry.id)
    for k, v in where.items():
        q = q.where(getattr(AccessLogEntry, k) == v)
    return [(e.user_email, e.action, e.object_type, e.object_id, e.via) for e in db.session.scalars(q)]


@contextmanager
def count_log_inserts(db):
    seen: list[str] = []

    def before(conn, cursor, statement, params, context, executemany):
        if statement.lstrip().upper().startswith("INSERT INTO ACCESS_LOG"):
            seen.append(statement)

    event.listen(db.engine, "before_cursor_execute", before)
    try:
        yield seen
    finally:
        event.remove(db.engine, "before_cursor_execute", before)


def test_booking_reads_on_pages_are_logged_and_a_list_is_one_insert(app, db, hours):
    b1 = hours.bookings[0]
    worker, host = app.test_client(), app.test_client()
    sign_in(worker, hours.worker)
    sign_in(host, hours.host)
    assert worker.get(f"/consultations/bookings/{b1.id}").status_code == 200
    with count_log_inserts(db) as inserts:
        assert host.get("/consultations/hosting").status_code == 200
    assert len(inserts) == 1  # one multi-row INSERT for the list
    assert entries(db, via="page") == [("worker@example.fi", "read", "booking", b1.id, "page")] + [
        ("doctor@example.fi", "read", "booking", b.id, "page") for b in hours.bookings]
    stranger = app.test_client()
    sign_in(stranger, hours.other)
    assert stranger.get(f"/consultations/bookings/{b1.id}").status_code == 404
    assert stranger.get("/consultations/bookings/999999").status_code == 404
    assert entries(db, action="refused") == [("worker2@example.fi", "refused", "booking", b1.id, "page"),
                                             ("worker2@example.fi", "refused", "booking", 999999, "page")]


def test_booking_reads_through_the_api_are_logged(app, db, hours, api):
    b1 = hours.bookings[0]
    mine = api(hours.worker)
    assert mine.get(f"/api/v1/bookings/{b1.id}").status_code == 200
    assert len(mine.get("/api/v1/bookings?mine=1").get_json()["bookings"]) == 3
    assert api(hours.other).get(f"/api/v1/bookings/{b1.id}").status_code == 404
    assert entries(db) == [("worker@example.fi", "read", "booking", b1.id, "api")] + [
        ("worker@example.fi", "read", "booking", b.id, "api") for b in hours.bookings] + [
        ("worker2@example.fi", "refused", "booking", b1.id, "api")]


def test_panel_case_reads_and_refusals_on_pages_and_api(app, db, panel, people, api):
    from scheduler.panels.cases import schedule_case
    from scheduler.panels.services import publish_agenda

    case = submit(db, panel, people["worker"])
    s1 = panel.sessions[1]
    schedule_case(case, actor=people["secretary"], session_id=s1.id, experts=["psykologi@example.fi"])
    db.session.commit()
    secretary, lawyer = app.test_client(), app.test_client()
    sign_in(secretary, people["secretary"])
    sign_in(lawyer, people["lawyer"])
    assert secretary.get(f"/panels/cases/{case.id}").status_code == 200
    assert secretary.get(f"/panels/sessions/{s1.id}").status_code == 200  # the agenda shows the case
    assert lawyer.get(f"/panels/cases/{case.id}").status_code == 404
    assert lawyer.get(f"/panels/sessions/{s1.id}").status_code == 404
    publish_agenda(s1, actor=people["secretary"])
    db.session.commit()
    assert secretary.get(f"/panels/cases/{case.id}/statement").status_code == 200
    psych = api(people["psych"])
    assert psych.get(f"/api/v1/panel-cases/{case.id}").status_code == 200
    assert psych.get(f"/api/v1/panel-sessions/{s1.id}/agenda").status_code == 200
    assert api(people["other_worker"]).get(f"/api/v1/panel-cases/{case.id}").status_code == 404
    assert api(people["other_worker"]).get(f"/api/v1/panel-sessions/{s1.id}/agenda").status_code == 404
    got = entries(db, object_type="panel_case")
    assert got == [
        ("sihteeri@example.fi", "read", "panel_case", case.id, "page"),
        ("sihteeri@example.fi", "read", "panel_case", case.id, "page"),
        ("juristi@example.fi", "refused", "panel_case", case.id, "page"),
        ("juristi@example.fi", "refused", "panel_case", case.id, "page"),
        ("sihteeri@example.fi", "read", "panel_case", case.id, "page"),
        ("psykologi@example.fi", "read", "panel_case", case.id, "api"),
        ("psykologi@example.fi", "read", "panel_case", case.id, "api"),
        ("toinen@example.fi", "refused", "panel_case", case.id, "api"),
        ("toinen@example.fi", "refused", "panel_case", case.id, "api"),
    ]


def test_access_log_api_contract(app, db, hours, api, make_user):
    b1 = hours.bookings[0]
    api(hours.worker).get(f"/api/v1/bookings/{b1.id}")
    api(hours.other).get(f"/api/v1/bookings/{b1.id}")
    api(hours.worker).get(f"/api/v1/bookings/{hours.bookings[1].id}")
    admin = api(make_user("admin@example.fi", roles=("admin",)))
    resp = admin.get(f"/api/v1/access-log?object_type=booking&object_id={b1.id}")
    assert resp.status_code == 200
    body = resp.get_json()
    assert list(body) == ["entries"] and len(body["entries"]) == 2
    for e in body["entries"]:
        assert set(e) == {"at", "user", "action", "object_type", "object_id", "via"}
        assert ISO_WITH_OFFSET.match(e["at"]), e["at"]
    assert [(e["user"], e["action"], e["object_type"], e["object_id"], e["via"]) for e in body["entries"]] == [
        ("worker@example.fi", "read", "booking", b1.id, "api"), ("worker2@example.fi", "refused", "booking", b1.id, "api")]
    assert admin.get(f"/api/v1/access-log?object_type=panel_case&object_id={b1.id}").get_json() == {"entries": []}
    assert len(admin.get("/api/v1/access-log").get_json()["entries"]) == 3
    for bad in ("object_type=case", "object_id=x", "object_id=-1", "object_id=99999999999"):
        r = admin.get(f"/api/v1/access-log?{bad}")
        assert r.status_code == 422 and r.get_json()["error"]["code"] == "validation_failed"
    for who in (hours.worker, hours.host):
        r = api(who).get(f"/api/v1/access-log?object_type=booking&object_id={b1.id}")
        assert r.status_code == 403 and r.get_json()["error"]["code"] == "forbidden"
    assert "/api/v1/access-log" in admin.get("/api/v1/openapi.json").get_json()["paths"]


def test_log_rows_outlive_their_user(app, db, hours):
    from scheduler.people.access_log import AccessLogEntry
    from scheduler.people.models import User

    host = app.test_client()
    sign_in(host, hours.host)
    assert host.get(f"/consultations/bookings/{hours.bookings[0].id}").status_code == 200
    uid = hours.host.id
    db.session.execute(delete(User).where(User.id == uid))
    db.session.commit()
    db.session.expire_all()
    assert db.session.get(User, uid) is None
    (row,) = db.session.scalars(select(AccessLogEntry)).all()
    assert row.user_email == "doctor@example.fi" and row.object_id == hours.bookings[0].id
    if app.config["BACKEND"] == "postgresql":  # SQLite does not enforce foreign keys here
        assert row.user_id is None


def test_admin_page_filters_and_csv(app, db, hours, make_user):
    from scheduler.people.access_log import log_read, log_refused

    b1, b2 = hours.bookings[0], hours.bookings[1]
    log_read(hours.worker, "booking", b1.id, via="page", now=datetime(2027, 1, 10, 10, tzinfo=UTC))
    log_refused(hours.other, "booking", b1.id, via="api", now=datetime(2027, 1, 11, 10, tzinfo=UTC))
    log_read(hours.host, "booking", b2.id, via="page", now=datetime(2027, 1, 12, 10, tzinfo=UTC))
    db.session.commit()
    admin = app.test_client()
    sign_in(admin, make_user("admin@example.fi", roles=("admin",)))
    html = admin.get("/admin/access-log/").get_data(as_text=True)
    assert "Käyttöloki" in html and html.count("<tr") == 4
    html = admin.get(f"/admin/access-log/?object_type=booking&object_id={b1.id}").get_data(as_text=True)
    assert html.count("<tr") == 3 and "worker2@example.fi" in html and "Estetty" in html
    html = admin.get("/admin/access-log/?person=DOCTOR@example.fi").get_data(as_text=True)
    assert html.count("<tr") == 2 and "doctor@example.fi" in html
    html = admin.get("/admin/access-log/?from=11.1.2027&to=11.1.2027").get_data(as_text=True)
    assert html.count("<tr") == 2 and "worker2@example.fi" in html
    bad = admin.get("/admin/access-log/?from=31.2.2027&object_id=x")
    assert bad.status_code == 422 and "error-summary" in bad.get_data(as_text=True)
    csv_resp = admin.get(f"/admin/access-log/?format=csv&object_id={b1.id}")
    assert csv_resp.status_code == 200 and csv_resp.mimetype == "text/csv"
    lines = csv_resp.get_data(as_text=True).strip().splitlines()
    assert lines[0] == "at,user,action,object_type,object_id,via"
    assert lines[1:] == [f"2027-01-10T12:00:00+02:00,worker@example.fi,read,booking,{b1.id},page",
                         f"2027-01-11T12:00:00+02:00,worker2@example.fi,refused,booking,{b1.id},api"]
    user = app.test_client()
    sign_in(user, hours.host)
    assert user.get("/admin/access-log/").status_code == 403
    assert user.get("/admin/access-log/?format=csv").status_code == 403
    for text in (CASE["background"], "Miten tukea perhettä?", "LS-12"):
        assert text not in admin.get("/admin/access-log/").get_data(as_text=True)
