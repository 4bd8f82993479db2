"""Alerts by e-mail to administrators, through the outbox: one failure → one alert, a daily digest,
a stalled jobs process, refused credentials; never about an alert, never any case content."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update

from scheduler.core.db import utcnow
from scheduler.delivery.mail import queue_email
from scheduler.delivery.models import OutboxMessage
from scheduler.delivery.outbox import deliver_due, retry_message
from scheduler.jobs import jobs_of
from scheduler.jobs.runner import run_job


@pytest.fixture
def admins(make_user):
    fi = make_user("yllapito@example.fi", roles=("admin",), name="Aino Ylläpitäjä", language="fi")
    sv = make_user("admin.sv@example.fi", roles=("admin", "secretary"), name="Anna Administratör", language="sv")
    gone = make_user("old.admin@example.fi", roles=("admin",), language="en")
    gone.is_active = False
    make_user("worker@example.fi", roles=("social_worker",))
    from scheduler.extensions import db

    db.session.commit()
    return fi, sv


def alerts(db) -> list[OutboxMessage]:
    db.session.rollback()
    return list(db.session.execute(select(OutboxMessage).where(OutboxMessage.dedupe_key.like("ops-alert:%"))
                                   .order_by(OutboxMessage.id)).scalars())


def due_now(db) -> None:
    db.session.execute(update(OutboxMessage).where(OutboxMessage.status == "queued").values(next_attempt_dt=utcnow()))
    db.session.commit()


def test_a_message_that_fails_for_good_alerts_each_admin_once_in_their_language(app, db, admins, smtp_app,
                                                                                  smtp_server):
    msg = queue_email("sanna.sosiaali@example.fi", "Kutsu: LS-2027-014 Virtanen", "Asia: LS-2027-014")
    db.session.commit()
    smtp_server.refuse_next("550 5.1.1 Mailbox unavailable")
    counts = deliver_due()
    assert counts["failed"] == 1 and counts["sent"] == 2  # the alerts went out in the same run

    got = {m["To"]: m for m in smtp_server.messages()}
    assert set(got) == {"yllapito@example.fi", "admin.sv@example.fi"}  # active admins only
    fi, sv = got["yllapito@example.fi"], got["admin.sv@example.fi"]
    assert fi["Subject"] == "Toimitus epäonnistui: viestiä ei saatu lähetettyä"
    assert sv["Subject"] == "Leveransen misslyckades: ett meddelande kunde inte skickas"
    for mail in (fi, sv):
        body = mail.get_body(("plain",)).get_content()
        assert "http://127.0.0.1:5000/admin/outbox/?status=failed" in body
        assert str(msg.id) in body and "refused" in body  # the message number and the reason class
        for secret in ("sanna", "LS-2027-014", "Virtanen", "550", "Mailbox"):
            assert secret not in body and secret not in mail["Subject"]

    # the admin retries, it fails again: still the one alert per message
    retry_message(msg.id)
    db.session.commit()
    smtp_server.refuse_next("550 5.1.1 Mailbox unavailable")
    deliver_due()
    assert len(alerts(db)) == 2 and len(smtp_server.received) == 2


def test_an_alert_that_fails_never_raises_another(app, db, admins, smtp_app, smtp_server):
    queue_email("someone@example.fi", "Hello", "text")
    db.session.commit()
    smtp_server.refuse_next("550 5.7.1 Nothing goes through", times=50)
    deliver_due()
    first = alerts(db)
    assert len(first) == 2 and all(a.status == "failed" for a in first)
    due_now(db)
    counts = deliver_due()
    assert (counts["sent"], counts["retry"], counts["failed"]) == (0, 0, 0)
    assert len(alerts(db)) == 2
    from scheduler.ops.alerts import failed_count

    assert failed_count() == 1  # the digest counts the real message, not the failed alerts


def test_refused_smtp_credentials_alert_once_a_day_and_do_not_loop(app, db, admins, secure_smtp_server, monkeypatch):
    monkeypatch.setenv("SSL_CERT_FILE", secure_smtp_server.ca_file)
    keys = ("SMTP_HOST", "SMTP_PORT", "SMTP_USERNAME", "SMTP_PASSWORD", "SMTP_STARTTLS")
    saved = {k: app.config[k] for k in keys}
    app.config.update(SMTP_HOST=secure_smtp_server.host, SMTP_PORT=secure_smtp_server.port, SMTP_USERNAME="mailer",
                      SMTP_PASSWORD="expired password", SMTP_STARTTLS=True)
    try:
        queue_email("someone@example.fi", "Hello", "text")
        db.session.commit()
        for _ in range(3):  # the jobs keep trying: the message waits, one alert per admin
            deliver_due()
            due_now(db)
        found = alerts(db)
        assert len(found) == 2
        assert {a.payload["language"] for a in found} == {"fi", "sv"}
        fi = next(a for a in found if a.payload["language"] == "fi")
        assert fi.payload["subject"] == "Sähköpostipalvelin hylkäsi palvelun tunnukset"
        assert "SMTP_PASSWORD" in fi.payload["text"] and "/admin/outbox/" in fi.payload["text"]
        assert "expired password" not in fi.payload["text"]
        assert all(a.status == "queued" for a in found)  # waiting for the same fix as everything else

        # the password is corrected: the message and the alerts go out
        app.config["SMTP_PASSWORD"] = "right password"
        due_now(db)
        deliver_due()
        assert {m["To"] for m in secure_smtp_server.messages()} == {"someone@example.fi", "yllapito@example.fi",
                                                                     "admin.sv@example.fi"}
    finally:
        app.config.update(saved)


def test_refused_graph_secret_alerts_with_a_link_to_the_outbox(app, db, admins, graph_settings, mail_folder):
    from scheduler.delivery.microsoft import request_meeting

    # a 401 on one call is a token to renew, not refused credentials: no alert, and it passes
    graph_settings.fail_next(401)
    start = utcnow().replace(microsecond=0) + timedelta(days=2)
    request_meeting("booking:6", "LANU-konsultaatio", start, start + timedelta(minutes=30))
    db.session.commit()
    deliver_due()
    due_now(db)
    assert deliver_due()["sent"] == 1 and alerts(db) == []

    # Graph refusing the fresh token too is refused credentials (e.g. consent withdrawn)
    graph_settings.fail_next(401, times=2)
    request_meeting("booking:5", "LANU-konsultaatio", start, start + timedelta(minutes=30))
    db.session.commit()
    deliver_due()
    assert alerts(db) == []
    due_now(db)
    deliver_due()
    refused = alerts(db)
    assert len(refused) == 2 and "Graph" in refused[0].payload["subject"]
    for a in refused:  # make room for the next case's alerts (one a day)
        db.session.delete(a)
    db.session.commit()

    app.config["GRAPH_CLIENT_SECRET"] = "rotated away"
    from scheduler.delivery.microsoft import forget_graph_clients

    forget_graph_clients()
    request_meeting("booking:7", "LANU-konsultaatio", start, start + timedelta(minutes=30))
    db.session.commit()
    deliver_due()
    found = alerts(db)
    assert len(found) == 2 and all(a.status == "sent" for a in found)  # written to the mail folder
    sv = next(a for a in found if a.payload["language"] == "sv")
    assert sv.payload["subject"] == "Microsoft Graph avvisade tjänstens inloggningsuppgifter"
    assert "GRAPH_CLIENT_SECRET" in sv.payload["text"]
    due_now(db)
    deliver_due()
    assert len(alerts(db)) == 2


def test_daily_digest_while_failed_messages_remain(app, db, admins, mail_folder):
    from scheduler.ops.alerts import failed_digest

    assert any(j.id == "ops-failed-digest" for j in jobs_of(app))
    msg = queue_email("someone@example.fi", "Hello", "text")
    db.session.commit()
    morning = datetime(2027, 3, 2, 6, 0, tzinfo=UTC)  # 08.00 in Helsinki
    assert failed_digest(morning) == 0  # nothing failed
    msg.status = "failed"
    db.session.commit()
    assert failed_digest(datetime(2027, 3, 2, 3, 0, tzinfo=UTC)) == 0  # 05.00: not yet
    assert failed_digest(morning) == 2
    db.session.commit()
    assert failed_digest(morning + timedelta(hours=5)) == 0  # one a day
    db.session.commit()
    digest = [a for a in alerts(db) if a.payload["language"] == "fi"][0]
    assert digest.payload["subject"] == "Päivittäinen muistutus: 1 viesti(ä) jäi toimittamatta"
    assert failed_digest(morning + timedelta(days=1)) == 2  # the next morning, still failed
    db.session.commit()
    msg.status = "sent"
    db.session.commit()
    assert failed_digest(morning + timedelta(days=2)) == 0  # nothing failed any more


def test_watchdog_alerts_once_per_stall_and_delivers_the_alert(app, db, admins, mail_folder):
    from scheduler.ops.models import JobRun

    runner = app.test_cli_runner()
    r = runner.invoke(args=["ops", "watchdog"])  # the jobs process never ran
    assert r.exit_code == 2 and "STALLED" in r.output
    found = alerts(db)
    assert len(found) == 2 and all(a.status == "sent" for a in found)  # delivered by the watchdog itself
    en_or_fi = next(a for a in found if a.payload["language"] == "fi")
    assert en_or_fi.payload["subject"] == "Taustatyöt ovat pysähtyneet"
    assert "/admin/operations/" in en_or_fi.payload["text"]
    assert len(list(mail_folder.glob("*.eml"))) == 2
    r = runner.invoke(args=["ops", "watchdog"])
    assert r.exit_code == 2 and len(alerts(db)) == 2  # the same stall: no second alert

    run_job(app, "outbox-deliver", lambda: None)
    r = runner.invoke(args=["ops", "watchdog"])
    assert r.exit_code == 0 and r.output.startswith("OK")

    db.session.execute(update(JobRun).values(last_success_dt=utcnow() - timedelta(minutes=20)))
    db.session.commit()
    r = runner.invoke(args=["ops", "watchdog"])
    assert r.exit_code == 2 and len(alerts(db)) == 4  # a new stall: a new alert
