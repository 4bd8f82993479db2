"""Operations: readiness (/readyz), job run records and the Prometheus metrics (/metrics)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from datetime import timedelta

import pytest
from sqlalchemy import func, select, text

from scheduler.core.db import utcnow
from scheduler.jobs.runner import run_job


@pytest.fixture
def settings(app):
    """Change app settings for one test; restored afterwards."""
    saved = {}

    def set_(**kw):
        for k, v in kw.items():
            saved.setdefault(k, app.config.get(k))
        app.config.update(kw)

    yield set_
    app.config.update(saved)


def _job_run(job_id="outbox-deliver"):
    from scheduler.extensions import db
    from scheduler.ops.models import JobRun

    db.session.rollback()
    return db.session.execute(select(JobRun).where(JobRun.job_id == job_id)).scalar_one_or_none()


# --- readiness ------------------------------------------------------------------------------

def test_healthz_stays_cheap_and_readyz_checks_database_and_schema(client):
    assert client.get("/healthz").json["status"] == "ok"
    r = client.get("/readyz")
    assert r.status_code == 200, r.json
    assert r.json["status"] == "ready"
    assert r.json["checks"]["database"]["ok"] and r.json["checks"]["schema"]["ok"]
    assert "0010" in r.json["checks"]["schema"]["detail"] or "at head" in r.json["checks"]["schema"]["detail"]
    assert r.json["checks"]["jobs"]["detail"].startswith("not expected")


def test_readyz_is_503_when_the_schema_is_behind_the_code(app, db, client):
    current = db.session.execute(text("SELECT version_num FROM alembic_version")).scalar_one()
    db.session.execute(text("UPDATE alembic_version SET version_num = '0006'"))
    db.session.commit()
    try:
        r = client.get("/readyz")
        assert r.status_code == 503
        assert r.json["status"] == "not_ready"
        assert not r.json["checks"]["schema"]["ok"]
        assert "0006" in r.json["checks"]["schema"]["detail"] and "flask db upgrade" in r.json["checks"]["schema"]["detail"]
    finally:
        db.session.execute(text("UPDATE alembic_version SET version_num = :v"), {"v": current})
        db.session.commit()
    assert client.get("/readyz").status_code == 200


def test_job_runs_are_recorded_and_readyz_wants_a_recent_delivery_run_when_jobs_are_expected(app, db, client, settings):
    settings(JOBS_EXPECTED=True, JOBS_STALE_MINUTES=5)
    r = client.get("/readyz")
    assert r.status_code == 503 and "never run" in r.json["checks"]["jobs"]["detail"]

    run_job(app, "outbox-deliver", lambda: None)  # what the leader's scheduler does every 30 s
    row = _job_run()
    assert row.last_success_dt is not None and row.last_duration_seconds >= 0 and row.consecutive_failures == 0
    r = client.get("/readyz")
    assert r.status_code == 200 and r.json["checks"]["jobs"]["ok"], r.json

    def boom():
        raise RuntimeError("the database went away")

    run_job(app, "outbox-deliver", boom)
    row = _job_run()
    assert row.consecutive_failures == 1 and row.last_error == "RuntimeError"
    assert row.last_success_dt is not None  # the last success is kept

    # ten minutes later, nothing has succeeded: not ready
    row.last_success_dt = utcnow() - timedelta(minutes=10)
    db.session.commit()
    r = client.get("/readyz")
    assert r.status_code == 503 and "more than 5 min" in r.json["checks"]["jobs"]["detail"]


def test_operations_page_for_admins_only(app, db, make_user):
    from .conftest import sign_in

    run_job(app, "reminders", lambda: None)
    worker = make_user(roles=("social_worker",))
    admin = make_user(roles=("admin",), language="en")
    c = app.test_client()
    sign_in(c, worker)
    assert c.get("/admin/operations/").status_code == 403
    c = app.test_client()
    sign_in(c, admin)
    page = c.get("/admin/operations/", headers={"Accept-Language": "en"})
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "reminders" in html and "/admin/outbox/" in html


# --- metrics -----------------------------------------------------------------------------------

def _sample(body: str, name: str, **labels) -> float | None:
    from prometheus_client.parser import text_string_to_metric_families

    for family in text_string_to_metric_families(body):
        for s in family.samples:
            if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()):
                return s.value
    return None


def test_metrics_only_from_allowed_networks(app, client, settings):
    assert client.get("/metrics").status_code == 200  # the test client comes from 127.0.0.1
    r = client.get("/metrics", environ_base={"REMOTE_ADDR": "10.1.2.3"})
    assert r.status_code == 403
    assert client.get("/metrics", environ_base={"REMOTE_ADDR": "::1"}).status_code == 200
    import ipaddress

    settings(METRICS_ALLOWED_NETWORKS=[ipaddress.ip_network("10.0.0.0/8")])
    assert client.get("/metrics", environ_base={"REMOTE_ADDR": "10.1.2.3"}).status_code == 200
    assert client.get("/metrics").status_code == 403


def test_metrics_take_the_client_address_after_the_trusted_proxy(backend_app, tmp_path):
    """Behind one proxy (TRUSTED_PROXY_COUNT=1), X-Forwarded-For's last hop is the client: a scraper on
    the monitoring network is let in, an outside client that reaches the proxy is not."""
    import ipaddress

    from scheduler import create_app

    app2 = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": backend_app.config["SQLALCHEMY_DATABASE_URI"],
                       "SQLALCHEMY_ENGINE_OPTIONS": backend_app.config["SQLALCHEMY_ENGINE_OPTIONS"],
                       "TRUSTED_PROXY_COUNT": 1, "OUTBOX_DIR": str(tmp_path),
                       "METRICS_ALLOWED_NETWORKS": [ipaddress.ip_network("192.0.2.0/24")]})
    try:
        c = app2.test_client()
        proxy = {"REMOTE_ADDR": "127.0.0.1"}
        assert c.get("/metrics", environ_base=proxy, headers={"X-Forwarded-For": "192.0.2.10"}).status_code == 200
        assert c.get("/metrics", environ_base=proxy, headers={"X-Forwarded-For": "203.0.113.5"}).status_code == 403
        # the proxy's own address alone is not on the list
        assert c.get("/metrics", environ_base=proxy).status_code == 403
    finally:
        with app2.app_context():
            from scheduler.extensions import db

            db.engine.dispose()


def test_metrics_describe_outbox_jobs_and_http_without_personal_data(app, db, client, make_user):
    from scheduler.delivery.mail import queue_email

    user = make_user(email="maija.meikalainen@example.fi", name="Maija Meikäläinen")
    msg = queue_email(user.email, "Kutsu: LS-2027-014", "text")
    msg.created_dt = utcnow() - timedelta(minutes=7)
    db.session.commit()
    run_job(app, "outbox-deliver", lambda: None)
    client.get("/accessibility")
    client.get("/no/such/page/maija.meikalainen@example.fi")

    body = client.get("/metrics").get_data(as_text=True)
    assert _sample(body, "scheduler_outbox_messages", status="queued") == 1
    assert _sample(body, "scheduler_outbox_messages", status="failed") == 0
    assert 7 * 60 - 5 <= _sample(body, "scheduler_outbox_oldest_queued_age_seconds") < 60 * 60
    assert _sample(body, "scheduler_job_last_success_timestamp_seconds", job="outbox-deliver") > 0
    assert _sample(body, "scheduler_job_last_duration_seconds", job="outbox-deliver") >= 0
    assert _sample(body, "scheduler_schema_at_head") == 1
    assert _sample(body, "scheduler_http_requests_total", group="core", method="GET", status="200") >= 1
    assert _sample(body, "scheduler_http_requests_total", group="unmatched", method="GET", status="404") >= 1
    assert _sample(body, "scheduler_http_request_duration_seconds_count", group="core") >= 1
    # endpoint groups, not addresses; no names, addresses or case references anywhere
    for secret in ("maija", "Meik", "LS-2027-014", "/no/such/page", "example.fi"):
        assert secret not in body


def test_delivery_counters_by_transport_and_reason(app, db, client, smtp_app, smtp_server):
    from scheduler.delivery.mail import queue_email
    from scheduler.delivery.outbox import deliver_due

    def value(name, **labels):
        return _sample(client.get("/metrics").get_data(as_text=True), name, **labels) or 0.0

    sent0 = value("scheduler_outbox_deliveries_total", transport="smtp", outcome="sent")
    temp0 = value("scheduler_outbox_delivery_failures_total", transport="smtp", reason="temporary")
    refused0 = value("scheduler_outbox_delivery_failures_total", transport="smtp", reason="refused")
    unreachable0 = value("scheduler_outbox_delivery_failures_total", transport="smtp", reason="unreachable")

    queue_email("a@example.fi", "One", "text")
    db.session.commit()
    smtp_server.refuse_next("451 4.3.0 Try again later")
    deliver_due()
    assert value("scheduler_outbox_delivery_failures_total", transport="smtp", reason="temporary") == temp0 + 1
    queue_email("b@example.fi", "Two", "text")
    db.session.commit()
    smtp_server.refuse_next("554 5.7.1 Rejected")
    deliver_due()
    assert value("scheduler_outbox_delivery_failures_total", transport="smtp", reason="refused") == refused0 + 1
    assert value("scheduler_outbox_deliveries_total", transport="smtp", outcome="failed") >= 1

    smtp_server.stop()
    queue_email("c@example.fi", "Three", "text")
    db.session.commit()
    deliver_due()
    assert value("scheduler_outbox_delivery_failures_total", transport="smtp", reason="unreachable") == unreachable0 + 1
    smtp_server.start()
    from sqlalchemy import update

    from scheduler.delivery.models import OutboxMessage

    db.session.execute(update(OutboxMessage).where(OutboxMessage.status == "queued").values(next_attempt_dt=utcnow()))
    db.session.commit()
    deliver_due()
    assert value("scheduler_outbox_deliveries_total", transport="smtp", outcome="sent") >= sent0 + 2


def test_graph_throttling_and_token_refusals_are_counted(app, db, client, graph_settings):
    from scheduler.delivery.microsoft import request_meeting
    from scheduler.delivery.outbox import deliver_due

    def value(name, **labels):
        return _sample(client.get("/metrics").get_data(as_text=True), name, **labels) or 0.0

    throttled0 = value("scheduler_graph_throttled_total", status="429")
    graph_settings.fail_next(429, retry_after=1)
    start = utcnow().replace(microsecond=0) + timedelta(days=3)
    request_meeting("booking:1", "LANU-konsultaatio", start, start + timedelta(minutes=30))
    db.session.commit()
    deliver_due()
    assert value("scheduler_graph_throttled_total", status="429") == throttled0 + 1
    assert value("scheduler_outbox_delivery_failures_total", transport="graph", reason="throttled") >= 1


def test_bookings_and_panel_cases_are_counted(app, db, client):
    from scheduler.consultations.models import Booking
    from scheduler.demo import seed_demo
    from scheduler.panels.models import PanelCase

    body = client.get("/metrics").get_data(as_text=True)
    b0 = _sample(body, "scheduler_bookings_created_total") or 0
    c0 = _sample(body, "scheduler_panel_cases_submitted_total") or 0
    seed_demo(production=False)
    db.session.commit()
    body = client.get("/metrics").get_data(as_text=True)
    bookings = db.session.scalar(select(func.count(Booking.id)))
    cases = db.session.scalar(select(func.count(PanelCase.id)))
    assert bookings and cases
    assert _sample(body, "scheduler_bookings_created_total") == b0 + bookings
    assert 1 <= _sample(body, "scheduler_panel_cases_submitted_total") - c0 <= cases


def test_multiprocess_mode_adds_up_every_worker(tmp_path):
    """Two processes (as two gunicorn workers) with PROMETHEUS_MULTIPROC_DIR: a scrape answered by
    either one counts the requests of both."""
    metrics_dir = tmp_path / "prom"
    metrics_dir.mkdir()
    instance = tmp_path / "instance"
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir), "INSTANCE_PATH": str(instance),
           "DATABASE_URL": f"sqlite:///{tmp_path / 'mp.sqlite3'}", "APP_ENV": "development"}
    env.pop("FLASK_APP", None)
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    script = textwrap.dedent("""
        import sys
        from scheduler import create_app
        app = create_app({"TESTING": True})
        if sys.argv[1] == "migrate":
            from flask_migrate import upgrade
            with app.app_context():
                upgrade()
        c = app.test_client()
        for _ in range(int(sys.argv[2])):
            assert c.get("/accessibility").status_code == 200
        if sys.argv[1] == "scrape":
            print(c.get("/metrics").get_data(as_text=True))
    """)
    for args in (["migrate", "3"], ["scrape", "2"]):
        out = subprocess.run([sys.executable, "-c", script, *args], cwd=root, env=env, capture_output=True, text=True,
                             timeout=180)
        assert out.returncode == 0, out.stderr[-3000:]
    assert _sample(out.stdout, "scheduler_http_requests_total", group="core", method="GET", status="200") == 5
    assert _sample(out.stdout, "scheduler_outbox_messages", status="queued") == 0
    assert list(metrics_dir.glob("*.db"))
