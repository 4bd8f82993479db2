"""The outbox: enqueue in the caller's transaction, dedupe keys, delivery with retries and back-off,
several workers at once, crash safety, the admin page and `flask outbox flush`."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from flask import current_app
from sqlalchemy import func, select

from scheduler.delivery.models import OutboxMessage
from scheduler.delivery.outbox import (
    NOTIFY_CHANNEL,
    PermanentFailure,
    RetryLater,
    backoff_seconds,
    deliver_due,
    enqueue,
    record_event,
    register_handler,
)

from .conftest import csrf_token


def _all(db):
    db.session.expire_all()
    return db.session.execute(select(OutboxMessage).order_by(OutboxMessage.id)).scalars().all()


def _later(seconds):
    return datetime.now(UTC) + timedelta(seconds=seconds)


def test_enqueue_is_part_of_the_callers_transaction(db):
    enqueue("test-noop", {"to": "a@example.fi"})
    db.session.rollback()
    assert _all(db) == []
    enqueue("test-noop", {"to": "a@example.fi"})
    db.session.commit()
    assert [m.status for m in _all(db)] == ["queued"]


def test_dedupe_key_makes_enqueueing_again_a_no_op(db):
    register_handler(current_app, "test-noop", lambda msg: None)
    first = enqueue("test-noop", {"to": "a@example.fi", "n": 1}, dedupe_key="reminder:booking:1")
    again = enqueue("test-noop", {"to": "a@example.fi", "n": 2}, dedupe_key="reminder:booking:1")
    assert again.id == first.id
    db.session.commit()
    assert deliver_due()["sent"] == 1
    # still a no-op once it has been sent: a rerun job does not send the reminder twice
    enqueue("test-noop", {"to": "a@example.fi"}, dedupe_key="reminder:booking:1")
    db.session.commit()
    rows = _all(db)
    assert len(rows) == 1 and rows[0].payload["n"] == 1 and rows[0].status == "sent"
    assert deliver_due() == {"sent": 0, "retry": 0, "failed": 0, "events": 0}


def test_not_before_holds_a_message_back(db):
    register_handler(current_app, "test-noop", lambda msg: None)
    enqueue("test-noop", {}, not_before=_later(3600))
    db.session.commit()
    assert deliver_due()["sent"] == 0
    assert deliver_due(now=_later(3601))["sent"] == 1


def test_handler_changes_commit_with_the_sent_mark_and_roll_back_on_failure(db):
    from scheduler.people.models import Unit

    def handler(msg):
        db.session.add(Unit(code=msg.payload["code"], name_fi="Yksikkö", kind="other"))
        db.session.flush()
        if msg.payload.get("fail"):
            raise RuntimeError("the remote end broke")

    register_handler(current_app, "test-unit", handler)
    enqueue("test-unit", {"code": "OK1"})
    enqueue("test-unit", {"code": "BAD1", "fail": True})
    db.session.commit()
    counts = deliver_due()
    assert counts == {"sent": 1, "retry": 1, "failed": 0, "events": 0}
    codes = set(db.session.execute(select(Unit.code)).scalars())
    assert "OK1" in codes and "BAD1" not in codes
    ok, bad = _all(db)
    assert ok.status == "sent" and ok.sent_dt is not None and ok.attempts == 1
    assert bad.status == "queued" and bad.attempts == 1 and "the remote end broke" in bad.last_error


def test_exponential_back_off_then_failed_after_max_attempts(app, db):
    register_handler(current_app, "test-broken", lambda msg: 1 / 0)
    configured = app.config["OUTBOX_MAX_ATTEMPTS"]
    app.config["OUTBOX_MAX_ATTEMPTS"] = 4
    try:
        enqueue("test-broken", {"to": "a@example.fi"})
        db.session.commit()
        delays = []
        now = datetime.now(UTC)
        for _ in range(3):
            before = datetime.now(UTC)
            assert deliver_due(now=now)["retry"] == 1
            msg = _all(db)[0]
            delays.append((msg.next_attempt_dt - before).total_seconds())
            assert deliver_due(now=now)["retry"] == 0  # not due again yet
            now = msg.next_attempt_dt + timedelta(seconds=1)
        assert [round(d / 60) for d in delays] == [1, 2, 4]
        assert deliver_due(now=now) == {"sent": 0, "retry": 0, "failed": 1, "events": 0}
        msg = _all(db)[0]
        assert msg.status == "failed" and msg.attempts == 4 and "ZeroDivisionError" in msg.last_error
        assert deliver_due(now=now + timedelta(days=30))["failed"] == 0  # stays failed
    finally:
        app.config["OUTBOX_MAX_ATTEMPTS"] = configured
    assert backoff_seconds(30, 60, 3600) == 3600  # capped at an hour


def test_retry_later_honours_retry_after_and_permanent_failure_stops(db):
    register_handler(current_app, "test-throttled", lambda msg: (_ for _ in ()).throw(RetryLater("429 throttled", retry_after=7)))
    register_handler(current_app, "test-refused", lambda msg: (_ for _ in ()).throw(PermanentFailure("550 no such user")))
    enqueue("test-throttled", {})
    enqueue("test-refused", {})
    db.session.commit()
    before = datetime.now(UTC)
    assert deliver_due() == {"sent": 0, "retry": 1, "failed": 1, "events": 0}
    throttled, refused = _all(db)
    assert 6 <= (throttled.next_attempt_dt - before).total_seconds() <= 9
    assert throttled.last_error == "429 throttled"
    assert refused.status == "failed" and refused.last_error == "550 no such user" and refused.attempts == 1


def test_unknown_kind_waits_for_its_handler(db):
    enqueue("test-nobody-handles-this", {})
    db.session.commit()
    assert deliver_due()["retry"] == 1
    msg = _all(db)[0]
    assert msg.status == "queued" and "no handler" in msg.last_error


def test_a_handler_may_enqueue_follow_ups(db):
    seen = []
    register_handler(current_app, "test-second", lambda msg: seen.append(msg.payload["step"]))
    register_handler(current_app, "test-first", lambda msg: enqueue("test-second", {"step": 2}))
    enqueue("test-first", {"step": 1})
    db.session.commit()
    counts = deliver_due()
    assert counts["sent"] == 2 and seen == [2]


def test_several_workers_at_once_deliver_each_message_once(app, db):
    """Four threads (own app contexts and database sessions) run deliver_due together."""
    delivered: list[int] = []
    lock = threading.Lock()

    def slow(msg):
        time.sleep(0.02)
        with lock:
            delivered.append(msg.payload["n"])

    register_handler(current_app, "test-slow", slow)
    for n in range(24):
        enqueue("test-slow", {"n": n})
    db.session.commit()
    errors = []

    def worker():
        with app.app_context():
            try:
                deliver_due()
            except Exception as exc:  # a worker must not crash
                errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    assert sorted(delivered) == list(range(24))
    assert {m.status for m in _all(db)} == {"sent"}


def test_flush_cli_delivers_due_and_leaves_failures_queued(app, db):
    register_handler(current_app, "test-noop", lambda msg: None)
    register_handler(current_app, "test-throttled", lambda msg: (_ for _ in ()).throw(RetryLater("busy", retry_after=600)))
    enqueue("test-noop", {})
    enqueue("test-throttled", {})
    db.session.commit()
    r = app.test_cli_runner().invoke(args=["outbox", "flush"])
    assert r.exit_code == 0, r.output
    assert "Sent 1" in r.output and "retry later 1" in r.output
    statuses = [m.status for m in _all(db)]
    assert statuses == ["sent", "queued"]
    r = app.test_cli_runner().invoke(args=["outbox", "status"])
    assert r.exit_code == 0 and "queued=1 sent=1 failed=0" in r.output


# --- the admin page ---------------------------------------------------------------------------

@pytest.fixture
def failed_message(db):
    register_handler(current_app, "test-refused", lambda msg: (_ for _ in ()).throw(PermanentFailure("550 5.1.1 No such user")))
    enqueue("test-refused", {"to": ["nobody@example.fi"], "subject": "Kutsu: konsultaatio"})
    db.session.commit()
    deliver_due()
    return _all(db)[0]


def test_outbox_page_is_for_admins_only(client, make_user, login, failed_message):
    assert client.get("/admin/outbox/").status_code == 302  # to sign-in
    login(make_user(roles=("social_worker",)))
    assert client.get("/admin/outbox/").status_code == 403
    assert client.post(f"/admin/outbox/{failed_message.id}/retry").status_code in (400, 403)


def test_outbox_page_shows_failed_and_retry_button_queues_again(client, make_user, login, db, failed_message):
    admin = make_user(roles=("admin",), language="en")
    login(admin)
    home = client.get("/").get_data(as_text=True)
    assert 'href="/admin/outbox/"' in home  # in the navigation
    page = client.get("/admin/outbox/")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "nobody@example.fi" in html and "550 5.1.1 No such user" in html and "Retry" in html
    # without the CSRF token nothing happens
    assert client.post(f"/admin/outbox/{failed_message.id}/retry").status_code == 400
    assert _all(db)[0].status == "failed"
    token = csrf_token(client, "/admin/outbox/")
    resp = client.post(f"/admin/outbox/{failed_message.id}/retry", data={"csrf_token": token})
    assert resp.status_code == 302
    msg = _all(db)[0]
    assert msg.status == "queued" and msg.attempts == 0
    register_handler(current_app, "test-refused", lambda m: None)  # the address was fixed meanwhile
    assert deliver_due()["sent"] == 1
    sent = client.get("/admin/outbox/?status=sent").get_data(as_text=True)
    assert "nobody@example.fi" in sent
    assert client.post("/admin/outbox/999999/retry", data={"csrf_token": token}).status_code == 404


def test_outbox_page_in_finnish_and_retry_all(client, make_user, login, db, failed_message):
    login(make_user(roles=("admin",), language="fi"))
    html = client.get("/admin/outbox/").get_data(as_text=True)
    assert "Lähtevät" in html and "Yritä uudelleen" in html
    token = csrf_token(client, "/admin/outbox/")
    assert client.post("/admin/outbox/retry-failed", data={"csrf_token": token}).status_code == 302
    assert db.session.scalar(select(func.count()).select_from(OutboxMessage).where(OutboxMessage.status == "failed")) == 0


def test_postgresql_wakes_the_worker_when_a_message_or_event_commits_and_not_otherwise(app, db):
    """The NOTIFY comes from a trigger on the outbox table (migration 0014): every INSERT wakes the
    LISTENing worker, but only once its transaction commits; a rolled-back change wakes nobody."""
    if app.config["BACKEND"] != "postgresql":
        pytest.skip("LISTEN/NOTIFY is PostgreSQL's; SQLite's worker polls")
    url = db.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(url, autocommit=True) as listener:
        listener.execute(f'LISTEN "{NOTIFY_CHANNEL}"')

        def woken() -> int:
            return sum(1 for _n in listener.notifies(timeout=0.5, stop_after=5))

        record_event("booking.changed", {"booking_id": 1})
        assert woken() == 0  # not before the commit
        db.session.rollback()
        assert woken() == 0  # nor after a rollback
        record_event("booking.changed", {"booking_id": 1})
        enqueue("email", {"to": "a@example.fi"}, dedupe_key="wake-test")
        db.session.commit()
        assert woken() == 1  # two inserts in one transaction: one notification
        assert [m.kind for m in _all(db)] == ["booking.changed", "email"]
