# ruff: noqa: F811  (the shared fixtures are imported by name, then requested as arguments)
"""Logs never hold a case (issue 11, section 3).

A canary goes into every case field (booking case_ref/question, the panel case's texts, the
panel's advice), made unstorable (a NUL byte, which PostgreSQL refuses, or a value longer than its
column), through the API and through the pages. Every log record of the app, SQLAlchemy and
Werkzeug is captured at DEBUG: the canary is in none of them, and nothing answers 5xx.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import pytest

from .conftest import csrf_token, sign_in
from .consultations_fixtures import make_series, slot_id  # noqa: F401
from .panels_fixtures import CASE, submit

CANARY = "KANARIA-7f3e9b"
LOGGERS = ("", "scheduler", "flask.app", "werkzeug", "sqlalchemy", "sqlalchemy.engine", "sqlalchemy.pool",
           "sqlalchemy.orm", "alembic")
CASE_TEXTS = ("case_ref", "municipality", "background", "questions", "services_tried")


def _unstorable(field: str) -> list[str]:
    """The canary with a NUL byte, and the canary repeated past any column's length."""
    return [f"{CANARY}-{field}\x00", f"{CANARY}-{field}-" * 1000]


@pytest.fixture
def logs(caplog):
    # Alembic's fileConfig (the migrations ran in this process) disables the loggers that existed then.
    disabled = [lg for lg in logging.Logger.manager.loggerDict.values()
                if isinstance(lg, logging.Logger) and lg.disabled]
    for lg in disabled:
        lg.disabled = False
    for name in LOGGERS:
        caplog.set_level(logging.DEBUG, logger=name or None)
    yield caplog
    for lg in disabled:
        lg.disabled = True


def _assert_clean(caplog) -> None:
    formatter = logging.Formatter("%(name)s %(levelname)s %(message)s")
    assert caplog.records, "nothing was logged at all: the capture is not working"
    for record in caplog.records:
        text = formatter.format(record) + repr(record.args) + repr(getattr(record, "exc_text", ""))
        assert CANARY not in text, f"the canary reached the log: {record.name}: {text[:300]}"


@pytest.fixture
def booking_world(db, make_unit, make_user, make_series):
    ls, lanu = make_unit("LSX", kind="child_welfare"), make_unit("LANUX", kind="lanu")
    worker = make_user("booker@example.fi", roles=("social_worker",), units=[ls])
    doctor = make_user("host@example.fi", roles=("consultant",), units=[lanu])
    series = make_series(doctor, lanu)
    return worker, slot_id(series, 2027, 1, 12, 13)


@pytest.fixture
def published_case(db, panel, people):
    from scheduler.panels import cases, services

    case = submit(db, panel, people["worker"])
    session = [s for s in panel.sessions if s.start_dt > datetime.now(UTC) + timedelta(days=1)][0]
    cases.schedule_case(case, actor=people["secretary"], session_id=session.id)
    services.publish_agenda(session, actor=people["secretary"])
    db.session.commit()
    return case


def test_no_case_text_reaches_a_log_through_the_api(app, api, logs, booking_world, panel, people, published_case):
    worker, slot = booking_world
    booker, social, secretary = api(worker), api(people["worker"]), api(people["secretary"])
    answers = []
    for field in ("case_ref", "question"):
        for bad in _unstorable(field):
            body = {"slot_id": slot, "case_ref": f"{CANARY}-ref", "question": f"{CANARY}-q", field: bad}
            answers.append(booker.post("/api/v1/bookings", json=body))
    for field in CASE_TEXTS:
        for bad in _unstorable(field):
            answers.append(social.post("/api/v1/panel-cases", json=dict(CASE, panel_id=panel.id, **{field: bad})))
    for field in ("text", "recommendations", "responsible_services"):
        for bad in _unstorable(field):
            value = [bad] if field != "text" else bad
            body = {"text": f"{CANARY}-advice", field: value}
            answers.append(secretary.post(f"/api/v1/panel-cases/{published_case.id}/statement", json=body))
    assert [r.status_code for r in answers] == [422] * len(answers)
    _assert_clean(logs)


def test_no_case_text_reaches_a_log_through_the_pages(app, client, logs, booking_world, panel, people,
                                                      published_case):
    worker, slot = booking_world
    statuses = []
    sign_in(client, worker)
    token = csrf_token(client, f"/consultations/book/{slot}")
    for field in ("case_ref", "question"):
        for bad in _unstorable(field):
            data = {"csrf_token": token, "case_ref": f"{CANARY}-ref", "question": f"{CANARY}-q", field: bad}
            statuses.append(client.post(f"/consultations/book/{slot}", data=data).status_code)
    client = app.test_client()
    sign_in(client, people["worker"])
    path = f"/panels/{panel.id}/cases/new"
    token = csrf_token(client, path)
    for field in CASE_TEXTS:
        for bad in _unstorable(field):
            data = {"csrf_token": token, **{k: str(v) for k, v in CASE.items() if k != "expertise"},
                    "expertise": CASE["expertise"], field: bad}
            statuses.append(client.post(path, data=data).status_code)

    client = app.test_client()
    sign_in(client, people["secretary"])
    path = f"/panels/cases/{published_case.id}/statement"
    token = csrf_token(client, path)
    for field in ("text", "recommendations", "responsible_services"):
        for bad in _unstorable(field):
            data = {"csrf_token": token, "text": f"{CANARY}-advice", field: bad}
            statuses.append(client.post(path, data=data).status_code)
    assert all(s < 500 for s in statuses), statuses
    _assert_clean(logs)


def test_engine_hides_parameters_and_errors_are_logged_without_their_message(backend_app, logs):
    """The safety net itself, on a second app built the same way: a database error whose own
    message quotes the input is a 422, and an unhandled error is logged without its message."""
    from flask import request
    from sqlalchemy import text

    from scheduler import create_app
    from scheduler.extensions import csrf, db

    probe = create_app({key: backend_app.config[key] for key in (
        "TESTING", "SQLALCHEMY_DATABASE_URI", "SQLALCHEMY_ENGINE_OPTIONS", "OUTBOX_DIR", "BASE_URL")})
    probe.config["TESTING"] = False  # errors go through the handlers and the logger, as in production
    probe.config["PROPAGATE_EXCEPTIONS"] = False

    @probe.post("/_probe/cast")
    def cast():
        # PostgreSQL quotes a value it cannot read: 'invalid input syntax for type integer: "…"'.
        # SQLite casts anything, so there a lone surrogate (which no driver can encode) plays the part.
        value = request.get_data(as_text=True)
        if db.engine.dialect.name == "sqlite":
            value += "\ud800"
        db.session.execute(text("SELECT CAST(:v AS INTEGER)"), {"v": value})
        return "no error"

    csrf.exempt(cast)

    @probe.post("/_probe/crash")
    def crash():
        from datetime import date

        return str(date.fromisoformat(request.get_data(as_text=True)))  # "Invalid isoformat string: '…'"

    csrf.exempt(crash)

    try:
        with probe.app_context():
            assert db.engine.hide_parameters is True
        c = probe.test_client()
        assert c.post("/_probe/cast", data=f"{CANARY} 42").status_code == 422
        resp = c.post("/_probe/crash", data=f"{CANARY} yesterday")
        assert resp.status_code == 500
        errors = [r for r in logs.records if r.levelno >= logging.ERROR]
        assert any("ValueError" in r.getMessage() and "/_probe/crash" in r.getMessage() for r in errors)
        assert any("DataError" in r.getMessage() or "StatementError" in r.getMessage() or "Unicode" in r.getMessage()
                   for r in logs.records)
        _assert_clean(logs)
    finally:
        with probe.app_context():
            db.session.remove()
            db.engine.dispose()
