"""Backups and upgrades proven: a pg_dump of a populated database restores into a fresh one with the
same bookings and cases and working feeds; a message queued by the previous release's schema (0006)
is delivered after `db upgrade`."""

from __future__ import annotations

import re
import secrets
import shutil
import subprocess
from datetime import timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy import create_engine, select, text

from scheduler.core.db import UTCDateTime, utcnow

from .conftest import PG_SERVER_URL

PREVIOUS_RELEASE_HEAD = "0006"


def _pg_url(name: str) -> str:
    url = PG_SERVER_URL
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.split("://", 1)[1]
    return url.rpartition("/")[0] + "/" + name


def _admin():
    return create_engine(_pg_url("postgres"), isolation_level="AUTOCOMMIT")


def _drop(name: str) -> None:
    admin = _admin()
    with admin.connect() as c:
        c.execute(text(f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}' "
                       "AND pid <> pg_backend_pid()"))
        c.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
    admin.dispose()


def _libpq_args(url: str) -> list[str]:
    u = sa.engine.make_url(url)
    return ["-h", u.host or "127.0.0.1", "-p", str(u.port or 5432), "-U", u.username or "postgres"]


def _app_for(uri: str, tmp_path, **extra):
    from scheduler import create_app

    options = {"pool_pre_ping": True} if uri.startswith("postgresql") else {"connect_args": {"timeout": 30}}
    return create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": uri, "SQLALCHEMY_ENGINE_OPTIONS": options,
                       "OUTBOX_DIR": str(tmp_path / "outbox"), "BASE_URL": "http://127.0.0.1:5000", **extra})


def _uids(ics: bytes) -> set[str]:
    return set(re.findall(r"^UID:(.+?)\r?$", ics.decode(), flags=re.MULTILINE))


def test_pg_dump_of_a_populated_database_restores_with_bookings_cases_and_feeds(app, db, tmp_path):
    if app.config["BACKEND"] != "postgresql":
        pytest.skip("pg_dump / pg_restore are PostgreSQL's")
    if not shutil.which("pg_dump") or not shutil.which("pg_restore"):
        pytest.fail("pg_dump and pg_restore are needed (apt-get install postgresql-client)")
    from scheduler.consultations.models import Booking
    from scheduler.demo import seed_demo
    from scheduler.feeds.tokens import ensure_feed_token
    from scheduler.panels.models import PanelCase
    from scheduler.people.services import get_user_by_email

    seed_demo(production=False)
    db.session.commit()
    worker = get_user_by_email("sosiaalityontekija@demo.fi")
    secretary = get_user_by_email("sihteeri@demo.fi")
    tokens = {u.email: ensure_feed_token(u) for u in (worker, secretary)}
    db.session.commit()
    bookings = [(b.id, b.status, b.case_ref) for b in db.session.execute(select(Booking).order_by(Booking.id)).scalars()]
    cases = [(c.id, c.status, c.case_ref) for c in db.session.execute(select(PanelCase).order_by(PanelCase.id)).scalars()]
    assert bookings and cases
    feeds_before = {}
    for email, token in tokens.items():
        r = app.test_client().get(f"/feeds/{token}.ics")
        assert r.status_code == 200
        feeds_before[email] = _uids(r.data)
    assert all(feeds_before.values())

    source_url = app.config["SQLALCHEMY_DATABASE_URI"]
    source = sa.engine.make_url(source_url).database
    dump = tmp_path / "scheduler.dump"
    out = subprocess.run(["pg_dump", *_libpq_args(source_url), "--format=custom", "--file", str(dump), source],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr

    name = "test_restore_" + secrets.token_hex(4)
    admin = _admin()
    with admin.connect() as c:
        c.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    restored = None
    try:
        out = subprocess.run(["pg_restore", *_libpq_args(source_url), "--no-owner", "--exit-on-error",
                              "--dbname", name, str(dump)], capture_output=True, text=True, timeout=300)
        assert out.returncode == 0, out.stderr
        restored = _app_for(_pg_url(name), tmp_path, SECRET_KEY=app.config["SECRET_KEY"])
        with restored.app_context():
            from scheduler.extensions import db as rdb

            assert [(b.id, b.status, b.case_ref) for b in
                    rdb.session.execute(select(Booking).order_by(Booking.id)).scalars()] == bookings
            assert [(c.id, c.status, c.case_ref) for c in
                    rdb.session.execute(select(PanelCase).order_by(PanelCase.id)).scalars()] == cases
            rdb.session.rollback()
        c = restored.test_client()
        assert c.get("/readyz").status_code == 200  # the schema came back at head
        for email, token in tokens.items():
            r = c.get(f"/feeds/{token}.ics")
            assert r.status_code == 200, email
            assert _uids(r.data) == feeds_before[email]
        # the sequences came along: a new row gets a new id, not a clash
        with restored.app_context():
            from scheduler.people.services import create_unit

            unit = create_unit(code="UUSI", name_fi="Uusi", name_sv="Ny", name_en="New", kind="lanu")
            rdb.session.commit()
            assert unit.id
    finally:
        if restored is not None:
            with restored.app_context():
                from scheduler.extensions import db as rdb

                rdb.session.remove()
                rdb.engine.dispose()
        _drop(name)


def test_a_message_queued_by_the_previous_release_is_delivered_after_db_upgrade(backend_app, tmp_path, smtp_server):
    name = None
    if backend_app.config["BACKEND"] == "sqlite":
        uri = f"sqlite:///{tmp_path / 'previous.sqlite3'}"
    else:
        name = "test_upgrade_" + secrets.token_hex(4)
        admin = _admin()
        with admin.connect() as c:
            c.execute(text(f'CREATE DATABASE "{name}"'))
        admin.dispose()
        uri = _pg_url(name)
    old = _app_for(uri, tmp_path, SMTP_HOST=smtp_server.host, SMTP_PORT=smtp_server.port, SMTP_USERNAME="",
                   SMTP_STARTTLS=False, MAIL_FROM="no-reply@palvelu.example.fi")
    try:
        runner = old.test_cli_runner()
        r = runner.invoke(args=["db", "upgrade", PREVIOUS_RELEASE_HEAD])
        assert r.exit_code == 0, r.output
        with old.app_context():
            from scheduler.extensions import db

            # what release 0006 wrote when a booking was made: one row in its outbox, as its types stored it
            outbox = sa.table("outbox_messages", sa.column("kind", sa.String), sa.column("payload", sa.JSON),
                              sa.column("dedupe_key", sa.String), sa.column("status", sa.String),
                              sa.column("attempts", sa.Integer), sa.column("next_attempt_dt", UTCDateTime()),
                              sa.column("created_dt", UTCDateTime()), sa.column("updated_dt", UTCDateTime()))
            then = utcnow() - timedelta(minutes=3)
            db.session.execute(sa.insert(outbox).values(
                kind="email", status="queued", attempts=0, next_attempt_dt=then, created_dt=then, updated_dt=then,
                dedupe_key="invite:previous-release@example.fi:0:REQUEST:maija@example.fi",
                payload={"to": ["maija@example.fi"], "subject": "Kutsu: LANU-konsultaatio", "text": "Tervetuloa.",
                         "html": None, "ics": None, "method": None, "language": "fi"}))
            db.session.commit()
            assert db.session.execute(text("SELECT version_num FROM alembic_version")).scalar_one() == "0006"
            db.session.remove()
        assert old.test_client().get("/readyz").status_code == 503  # the code is ahead of the schema

        r = runner.invoke(args=["db", "upgrade"])  # the upgrade step of the README
        assert r.exit_code == 0, r.output
        with old.app_context():
            from scheduler.delivery.outbox import deliver_due
            from scheduler.extensions import db

            counts = deliver_due()
            assert (counts["sent"], counts["retry"], counts["failed"]) == (1, 0, 0)
            db.session.remove()
        mail = smtp_server.messages()
        assert [m["To"] for m in mail] == ["maija@example.fi"]
        assert mail[0]["Subject"] == "Kutsu: LANU-konsultaatio"
        assert old.test_client().get("/readyz").status_code == 200
    finally:
        with old.app_context():
            from scheduler.extensions import db

            db.session.remove()
            db.engine.dispose()
        if name:
            _drop(name)
