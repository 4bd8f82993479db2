"""`flask check-setup` against the real SMTP server (aiosmtpd, STARTTLS + AUTH) and the HTTPS
identity platform / Graph stand-in: right settings, wrong credentials, missing access, closed ports."""

from __future__ import annotations

import re

import pytest

from .conftest import free_port
from .fixtures_microsoft import ENTRA_CLIENT_ID, ORGANIZER_OID


@pytest.fixture
def settings(app):
    saved = {}

    def set_(**kw):
        for k, v in kw.items():
            saved.setdefault(k, app.config.get(k))
        app.config.update(kw)

    yield set_
    app.config.update(saved)


@pytest.fixture
def secure_smtp(app, secure_smtp_server, settings, monkeypatch):
    """The app pointed at the STARTTLS + AUTH server, trusting its test CA (as a county trusts its relay's)."""
    monkeypatch.setenv("SSL_CERT_FILE", secure_smtp_server.ca_file)
    settings(SMTP_HOST=secure_smtp_server.host, SMTP_PORT=secure_smtp_server.port, SMTP_STARTTLS=True,
             SMTP_USERNAME="mailer", SMTP_PASSWORD="right password", MAIL_FROM="no-reply@palvelu.example.fi")
    return secure_smtp_server


def run(app) -> tuple[int, dict[str, tuple[str, str]]]:
    """Exit code and {check name: (OK/FAIL/SKIP, the rest of the line)}."""
    result = app.test_cli_runner().invoke(args=["check-setup"], color=False)
    lines = {}
    for line in result.output.splitlines():
        m = re.match(r"^\s*(OK|FAIL|SKIP)\s+([^:]+): (.*)$", line)
        if m:
            lines[m.group(2)] = (m.group(1), m.group(3))
    assert lines, (result.output, repr(result.exception))
    return result.exit_code, lines


def test_everything_configured_and_right_is_all_green(app, secure_smtp, graph_settings, entra_settings):
    code, lines = run(app)
    assert code == 0, lines
    for name in ("database", "schema", "SECRET_KEY", "BASE_URL", "timezone", "smtp", "graph", "entra discovery",
                 "entra redirect URI", "entra client secret"):
        assert lines[name][0] == "OK", (name, lines[name])
    assert "STARTTLS" in lines["smtp"][1] and "signed in" in lines["smtp"][1] and "nothing sent" in lines["smtp"][1]
    assert "/sign-in/entra/callback" in lines["entra redirect URI"][1]
    assert secure_smtp.received == []  # nothing was sent
    # the Graph check read one meeting and changed nothing
    assert not graph_settings.calls("POST", "/onlineMeetings") and graph_settings.calls("GET", "/onlineMeetings/")


def test_nothing_configured_in_development_is_skipped_not_red(app, settings):
    settings(SMTP_HOST="", GRAPH_ENABLED=False, ENTRA_ENABLED=False)
    code, lines = run(app)
    assert code == 0
    assert lines["smtp"][0] == "SKIP" and lines["graph"][0] == "SKIP" and lines["entra"][0] == "SKIP"


def test_wrong_smtp_password_is_red_with_the_servers_answer(app, secure_smtp, settings):
    settings(SMTP_PASSWORD="expired password")
    code, lines = run(app)
    assert code == 1
    status, detail = lines["smtp"]
    assert status == "FAIL" and "refused the credentials" in detail and "535" in detail
    assert "(README: Settings)" in detail


def test_untrusted_tls_certificate_is_red(app, secure_smtp, monkeypatch):
    monkeypatch.delenv("SSL_CERT_FILE")
    monkeypatch.setenv("SSL_CERT_FILE", "/nonexistent-ca.pem")
    code, lines = run(app)
    assert code == 1
    assert lines["smtp"][0] == "FAIL" and "TLS" in lines["smtp"][1]


def test_starttls_wanted_but_not_offered_is_red(app, smtp_server, settings):
    settings(SMTP_HOST=smtp_server.host, SMTP_PORT=smtp_server.port, SMTP_STARTTLS=True, SMTP_USERNAME="")
    code, lines = run(app)
    assert code == 1 and "does not offer STARTTLS" in lines["smtp"][1]


def test_plain_smtp_without_auth_is_green(app, smtp_server, settings):
    settings(SMTP_HOST=smtp_server.host, SMTP_PORT=smtp_server.port, SMTP_STARTTLS=False, SMTP_USERNAME="")
    code, lines = run(app)
    assert lines["smtp"][0] == "OK" and smtp_server.received == []


def test_unreachable_hosts_are_red(app, settings, graph_settings, entra_settings):
    closed = free_port()
    settings(SMTP_HOST="127.0.0.1", SMTP_PORT=closed, SMTP_STARTTLS=False, SMTP_USERNAME="",
             GRAPH_AUTHORITY_URL=f"https://127.0.0.1:{closed}", ENTRA_AUTHORITY_URL=f"https://127.0.0.1:{closed}")
    code, lines = run(app)
    assert code == 1
    assert lines["smtp"][0] == "FAIL" and "could not reach" in lines["smtp"][1] and str(closed) in lines["smtp"][1]
    assert lines["graph"][0] == "FAIL" and "could not connect" in lines["graph"][1]
    assert lines["entra discovery"][0] == "FAIL" and "could not connect" in lines["entra discovery"][1]
    assert "(README: Teams (Microsoft Graph))" in lines["graph"][1]
    assert "(README: Microsoft Entra ID sign-in)" in lines["entra discovery"][1]


def test_wrong_graph_secret_and_missing_access_policy_are_red(app, settings, graph_settings):
    settings(GRAPH_CLIENT_SECRET="an old secret")
    code, lines = run(app)
    assert code == 1
    assert lines["graph"][0] == "FAIL" and "refused the app" in lines["graph"][1]
    assert "invalid_client" in lines["graph"][1]

    settings(GRAPH_CLIENT_SECRET=app.config["GRAPH_CLIENT_SECRET"])
    from .fixtures_microsoft import GRAPH_CLIENT_SECRET

    settings(GRAPH_CLIENT_SECRET=GRAPH_CLIENT_SECRET)
    graph_settings.policy_organizers.pop(ORGANIZER_OID)  # no application access policy for the organizer
    code, lines = run(app)
    assert code == 1
    assert lines["graph"][0] == "FAIL" and "access policy" in lines["graph"][1]


def test_wrong_entra_secret_and_unknown_tenant_are_red(app, settings, entra_settings):
    settings(ENTRA_CLIENT_SECRET="not the secret")
    code, lines = run(app)
    assert code == 1
    assert lines["entra discovery"][0] == "OK"
    assert lines["entra client secret"][0] == "FAIL" and "invalid_client" in lines["entra client secret"][1]

    settings(ENTRA_TENANT_ID="00000000-0000-4000-8000-000000000000")
    code, lines = run(app)
    assert lines["entra discovery"][0] == "FAIL" and "400" in lines["entra discovery"][1]
    assert ENTRA_CLIENT_ID not in "".join(d for _s, d in lines.values())  # no need to repeat ids


def test_production_wants_https_a_real_key_and_a_mail_server(app, settings):
    settings(PRODUCTION=True, SMTP_HOST="", SECRET_KEY="short", BASE_URL="http://konsultaatio.example.fi",
             ENTRA_ENABLED=True, ENTRA_TENANT_ID="t", ENTRA_CLIENT_ID="c", ENTRA_CLIENT_SECRET="s",
             ENTRA_AUTHORITY_URL=f"https://127.0.0.1:{free_port()}")
    code, lines = run(app)
    assert code == 1
    assert lines["SECRET_KEY"][0] == "FAIL" and "at least 32" in lines["SECRET_KEY"][1]
    assert lines["BASE_URL"][0] == "FAIL" and "https" in lines["BASE_URL"][1]
    assert lines["smtp"][0] == "FAIL" and "SMTP_HOST" in lines["smtp"][1]
    assert lines["entra redirect URI"][0] == "FAIL"
    settings(SECRET_KEY="a" * 40)
    code, lines = run(app)
    assert lines["SECRET_KEY"][0] == "FAIL" and "random" in lines["SECRET_KEY"][1]


def test_database_down_is_red(backend_app, tmp_path):
    if backend_app.config["BACKEND"] != "sqlite":
        pytest.skip("one run is enough: the app is pointed at a closed PostgreSQL port")
    from scheduler import create_app

    app2 = create_app({"TESTING": True, "OUTBOX_DIR": str(tmp_path),
                       "SQLALCHEMY_DATABASE_URI": f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/nothing",
                       "SQLALCHEMY_ENGINE_OPTIONS": {"connect_args": {"connect_timeout": 3}},
                       "SMTP_HOST": "", "GRAPH_ENABLED": False, "ENTRA_ENABLED": False})
    code, lines = run(app2)
    assert code == 1
    assert lines["database"][0] == "FAIL" and "OperationalError" in lines["database"][1]
    assert lines["schema"][0] == "FAIL"
    assert app2.test_client().get("/readyz").status_code == 503
