"""Faults of the outside world that reach a page are a message (503), never a 500, and nothing of the
request is kept: Microsoft Graph answering 503, its token endpoint answering 500 (msal's
MsalServiceError), the mail server refusing or not listening.

Today no page calls Graph or SMTP itself (the outbox does, after the commit), so these requests
come through a few addresses added to a second app built for this test; what they call is the real
Graph client against the HTTPS stand-in and the real SMTP code against the aiosmtpd server."""

from __future__ import annotations

import smtplib
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage

import pytest

from scheduler.delivery.mail import smtp_send

from .conftest import free_port
from .fixtures_microsoft import ORGANIZER_OID

UNAVAILABLE = "ei vastaa juuri nyt"  # fi: "… is not answering right now"


@pytest.fixture
def outside_app(app, graph_settings, smtp_server):
    """The app as configured for the tests, with addresses that touch the outside world."""
    from flask import request

    from scheduler import create_app
    from scheduler.delivery.microsoft import graph_client
    from scheduler.extensions import db
    from scheduler.people.models import Unit

    keys = ["SQLALCHEMY_DATABASE_URI", "SQLALCHEMY_ENGINE_OPTIONS", "OUTBOX_DIR", "BASE_URL", *[
        k for k in app.config if k.startswith(("GRAPH_", "ENTRA_"))]]
    second = create_app({"TESTING": True, "WTF_CSRF_ENABLED": False, "SERVER_NAME": None,
                         **{k: app.config[k] for k in keys},
                         "SMTP_HOST": smtp_server.host, "SMTP_PORT": smtp_server.port, "SMTP_USERNAME": "",
                         "SMTP_PASSWORD": "", "SMTP_STARTTLS": False, "MAIL_FROM": "no-reply@palvelu.example.fi"})

    def half_done():
        """A change that must not survive the fault."""
        db.session.add(Unit(code="HALF-DONE", name_fi="Kesken", name_sv="", name_en="", kind="lanu"))
        db.session.flush()

    @second.route("/_outside/graph", methods=["POST"])
    def graph():
        half_done()
        start = datetime.now(UTC) + timedelta(days=1)
        graph_client().create_or_get_meeting(ORGANIZER_OID, "booking:1", "Konsultaatio", start,
                                             start + timedelta(minutes=30))
        db.session.commit()
        return "created"

    @second.route("/_outside/smtp", methods=["POST"])
    def smtp():
        half_done()
        mail = EmailMessage()
        mail["From"], mail["To"], mail["Subject"] = "no-reply@palvelu.example.fi", "anna@example.fi", "Kutsu"
        mail.set_content("Linkki palveluun")
        if request.args.get("direct"):
            with smtplib.SMTP(second.config["SMTP_HOST"], second.config["SMTP_PORT"], timeout=5) as s:
                s.send_message(mail)
        else:
            smtp_send(mail, ["anna@example.fi"])
        db.session.commit()
        return "sent"

    with second.app_context():
        yield second
        db.session.remove()


def _count_half_done(db) -> int:
    from sqlalchemy import func, select

    from scheduler.people.models import Unit

    db.session.rollback()
    return db.session.scalar(select(func.count()).select_from(Unit).where(Unit.code == "HALF-DONE"))


@pytest.mark.parametrize("fault", ["graph 503", "graph 500", "token 500", "token 503 html"])
def test_a_failing_graph_is_a_message(app, db, outside_app, graph_settings, fault):
    from scheduler.delivery.microsoft import forget_graph_clients

    forget_graph_clients()
    where, status = fault.split()[0], int(fault.split()[1])
    path = "/v1.0/" if where == "graph" else "/oauth2/v2.0/token"
    graph_settings.fail_next(status, path_contains=path, text="<html>busy</html>" if "html" in fault else None)
    resp = outside_app.test_client().post("/_outside/graph")
    assert resp.status_code == 503, resp.get_data(as_text=True)[:300]
    assert UNAVAILABLE in resp.get_data(as_text=True)
    assert graph_settings.calls("POST", path, status=status)
    with outside_app.app_context():
        assert _count_half_done(db) == 0
    # and when Graph answers again, the same address works
    forget_graph_clients()
    assert outside_app.test_client().post("/_outside/graph").status_code == 200


def test_an_unreachable_graph_is_a_message(app, db, outside_app):
    from scheduler.delivery.microsoft import forget_graph_clients

    forget_graph_clients()
    outside_app.config["GRAPH_API_URL"] = f"https://127.0.0.1:{free_port()}/v1.0"  # nobody listens
    resp = outside_app.test_client().post("/_outside/graph")
    assert resp.status_code == 503 and UNAVAILABLE in resp.get_data(as_text=True)


@pytest.mark.parametrize("how", ["refused", "down", "refused directly", "down directly"])
def test_a_failing_mail_server_is_a_message(app, db, outside_app, smtp_server, how):
    if how.startswith("refused"):
        smtp_server.refuse_next("451 4.3.0 Temporary failure, try again later")
    else:
        smtp_server.stop()
    resp = outside_app.test_client().post("/_outside/smtp" + ("?direct=1" if "directly" in how else ""))
    assert resp.status_code == 503, resp.get_data(as_text=True)[:300]
    assert UNAVAILABLE in resp.get_data(as_text=True)
    with outside_app.app_context():
        assert _count_half_done(db) == 0
