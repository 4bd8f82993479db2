"""E-mail through the outbox against a real SMTP server (aiosmtpd) and into the .eml folder."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from scheduler.delivery.mail import queue_email
from scheduler.delivery.models import OutboxMessage
from scheduler.delivery.outbox import deliver_due

from .conftest import csrf_token


def _all(db):
    db.session.expire_all()
    return db.session.execute(select(OutboxMessage).order_by(OutboxMessage.id)).scalars().all()


def _later(minutes):
    return datetime.now(UTC) + timedelta(minutes=minutes)


def test_email_is_sent_through_smtp_once_with_a_stable_message_id(smtp_app, smtp_server, db):
    queue_email("maija@example.fi", "Kutsu: konsultaatio", "Hei!\nTervetuloa.", "<p>Hei!</p>")
    db.session.commit()
    assert deliver_due() == {"sent": 1, "retry": 0, "failed": 0, "events": 0}
    assert deliver_due()["sent"] == 0
    assert len(smtp_server.received) == 1
    got = smtp_server.received[0]
    assert got.rcpt_tos == ["maija@example.fi"] and got.mail_from == "no-reply@palvelu.example.fi"
    mail = got.message
    assert mail["Subject"] == "Kutsu: konsultaatio"
    assert mail["Message-ID"].startswith(f"<outbox.{_all(db)[0].id}.") and mail["Message-ID"].endswith("@palvelu.example.fi>")
    assert mail.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in mail.iter_parts()] == ["text/plain", "text/html"]
    assert mail.get_body(("plain",)).get_content().replace("\r\n", "\n").startswith("Hei!\nTervetuloa.")


def test_smtp_down_then_up_delivers_once(smtp_app, smtp_server, db):
    smtp_server.stop()
    queue_email("maija@example.fi", "Muistutus", "Huomenna klo 13.00.")
    db.session.commit()
    assert deliver_due() == {"sent": 0, "retry": 1, "failed": 0, "events": 0}
    msg = _all(db)[0]
    assert msg.status == "queued" and "SMTP server unavailable" in msg.last_error
    assert deliver_due()["retry"] == 0  # waits for its back-off
    smtp_server.start()
    assert deliver_due(now=_later(2)) == {"sent": 1, "retry": 0, "failed": 0, "events": 0}
    assert deliver_due(now=_later(60))["sent"] == 0
    assert len(smtp_server.received) == 1
    assert _all(db)[0].status == "sent"


def test_4xx_refusal_is_retried_5xx_fails(smtp_app, smtp_server, db):
    smtp_server.refuse_next("451 4.7.1 Greylisted, try again", times=2)
    queue_email("maija@example.fi", "Kutsu", "Teksti")
    db.session.commit()
    assert deliver_due()["retry"] == 1
    assert "451" in _all(db)[0].last_error
    assert deliver_due(now=_later(2))["retry"] == 1
    assert deliver_due(now=_later(10))["sent"] == 1
    assert len(smtp_server.received) == 1 and _all(db)[0].attempts == 3

    smtp_server.refuse_recipient("nobody@example.fi")
    queue_email("nobody@example.fi", "Kutsu", "Teksti")
    db.session.commit()
    assert deliver_due(now=_later(10)) == {"sent": 0, "retry": 0, "failed": 1, "events": 0}
    failed = _all(db)[1]
    assert failed.status == "failed" and "550" in failed.last_error
    smtp_server.refuse_next("554 5.6.0 Message rejected")
    queue_email("other@example.fi", "Kutsu", "Teksti")
    db.session.commit()
    assert deliver_due(now=_later(10))["failed"] == 1


def test_without_smtp_host_mail_goes_to_the_folder(mail_folder, db):
    queue_email(["a@example.fi", "b@example.fi"], "Kutsu", "Tervetuloa", "<p>Tervetuloa</p>")
    db.session.commit()
    assert deliver_due()["sent"] == 1
    files = list(mail_folder.glob("*.eml"))
    assert len(files) == 1
    from email import message_from_bytes, policy

    mail = message_from_bytes(files[0].read_bytes(), policy=policy.default)
    assert mail["To"] == "a@example.fi, b@example.fi" and mail["Subject"] == "Kutsu"


def test_mail_folder_pages(client, make_user, login, mail_folder, db):
    queue_email("a@example.fi", "Kutsu: LANU-konsultaatio", "Tervetuloa konsultaatioon", "<p>Tervetuloa</p>")
    db.session.commit()
    deliver_due()
    name = next(mail_folder.glob("*.eml")).name
    login(make_user(roles=("social_worker",)))
    assert client.get("/admin/outbox/mail").status_code == 403
    assert client.get(f"/admin/outbox/mail/{name}").status_code == 403
    client.post("/sign-out", data={"csrf_token": csrf_token(client)})
    login(make_user(roles=("admin",), language="en"))
    listing = client.get("/admin/outbox/mail").get_data(as_text=True)
    assert "Kutsu: LANU-konsultaatio" in listing and f"/admin/outbox/mail/{name}" in listing
    page = client.get(f"/admin/outbox/mail/{name}").get_data(as_text=True)
    assert "Tervetuloa konsultaatioon" in page and "a@example.fi" in page
    raw = client.get(f"/admin/outbox/mail/{name}/download")
    assert raw.status_code == 200 and raw.mimetype == "message/rfc822" and b"Subject:" in raw.data
    assert client.get("/admin/outbox/mail/..%2Fdev-secret-key").status_code == 404
    assert client.get("/admin/outbox/mail/nothing.eml").status_code == 404
    assert "Read the saved e-mails" in client.get("/admin/outbox/").get_data(as_text=True)


def test_bad_addresses_are_refused_before_queueing(db):
    import pytest

    for bad in ("", "no-at-sign", "a@example.fi\nBcc: x@example.fi"):
        with pytest.raises(ValueError):
            queue_email(bad, "Kutsu", "Teksti")
    with pytest.raises(ValueError):
        queue_email("a@example.fi", "Two\nlines", "Teksti")
    assert _all(db) == []


CRASH_WORKER = textwrap.dedent("""
    import os, sys
    from scheduler import create_app
    from scheduler.delivery.outbox import deliver_due
    app = create_app({"SMTP_HOST": "127.0.0.1",
                      "SMTP_PORT": int(os.environ["SMTP_PORT"]), "MAIL_FROM": "no-reply@palvelu.example.fi"})
    with app.app_context():
        print(deliver_due())
""")


def test_crash_between_commit_and_delivery_loses_nothing_and_sends_once(smtp_app, smtp_server, db, tmp_path):
    """The web process commits the change with its e-mail and dies; another process (a fresh app,
    its own connections) delivers it; running again sends nothing more."""
    queue_email("maija@example.fi", "Kutsu", "Teksti")
    db.session.commit()
    db.session.remove()
    env = {**os.environ, "DATABASE_URL": smtp_app.config["SQLALCHEMY_DATABASE_URI"], "SMTP_PORT": str(smtp_server.port),
           "INSTANCE_PATH": str(tmp_path)}
    for expected in ("'sent': 1", "'sent': 0"):
        out = subprocess.run([sys.executable, "-c", CRASH_WORKER], env=env, capture_output=True, text=True, timeout=120)
        assert out.returncode == 0, out.stderr[-2000:]
        assert expected in out.stdout
    assert len(smtp_server.received) == 1
    assert _all(db)[0].status == "sent"


KILLED_WORKER = textwrap.dedent("""
    import os
    from scheduler import create_app
    from scheduler.delivery.outbox import deliver_due, register_handler
    app = create_app()
    def dies(msg):
        os._exit(9)  # the worker process is killed in the middle of delivering
    register_handler(app, "email", dies)
    with app.app_context():
        deliver_due()
""")


def test_a_worker_killed_while_delivering_leaves_the_message_queued(smtp_app, smtp_server, db, tmp_path):
    queue_email("maija@example.fi", "Kutsu", "Teksti")
    db.session.commit()
    db.session.remove()
    env = {**os.environ, "DATABASE_URL": smtp_app.config["SQLALCHEMY_DATABASE_URI"], "INSTANCE_PATH": str(tmp_path)}
    out = subprocess.run([sys.executable, "-c", KILLED_WORKER], env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 9, out.stderr[-2000:]
    msg = _all(db)[0]
    assert msg.status == "queued" and msg.attempts == 0  # the claim died with the process
    assert deliver_due()["sent"] == 1
    assert len(smtp_server.received) == 1
