"""Test fixtures. Every test that uses `app` runs on SQLite and on PostgreSQL.

PostgreSQL: TEST_DATABASE_URL (a server URL; a fresh database is created per run and dropped
afterwards) or, when unset, the local server at 127.0.0.1:5432 if it answers. With
REQUIRE_POSTGRES=1 (CI) a missing server fails the run instead of skipping.

The schema is built by running the migrations. Between tests every table is emptied, except the
reference data that migrations insert (expertise areas).
"""

from __future__ import annotations

import contextvars
import os
import re
import secrets
import socket
import threading
from contextlib import contextmanager
from pathlib import Path

import pytest
from flask.testing import FlaskClient
from sqlalchemy import create_engine, text

# Shared fixtures, each file a plugin: every test sees them without importing them.
pytest_plugins = [
    "tests.fixtures_mail",  # a real SMTP server (aiosmtpd), the .eml folder, iCalendar checks
    "tests.fixtures_microsoft",  # the identity platform and Graph stand-in (HTTPS)
    "tests.consultations_fixtures",  # world, make_series
    "tests.panels_fixtures",  # people, panel, signals
]

PG_SERVER_URL = os.environ.get("TEST_DATABASE_URL") or "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
REFERENCE_TABLES = {"alembic_version", "expertise_areas"}
TEST_PASSWORD = "correct horse battery staple"


def _pg_available() -> bool:
    try:
        eng = create_engine(_server_url(), isolation_level="AUTOCOMMIT")
        with eng.connect() as c:
            c.execute(text("SELECT 1"))
        eng.dispose()
        return True
    except Exception:
        return False


def _server_url() -> str:
    url = PG_SERVER_URL
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def _with_db(url: str, name: str) -> str:
    base, _, _ = url.rpartition("/")
    return f"{base}/{name}"


# TEST_BACKENDS=sqlite (or postgresql) narrows a local run to one database; CI runs both.
BACKENDS = [b for b in os.environ.get("TEST_BACKENDS", "sqlite,postgresql").split(",") if b] or ["sqlite", "postgresql"]


class IsolatedClient(FlaskClient):
    """Each request runs in an empty context, so it pushes its own app context: its own `g`,
    its own database session, as in a real server (the test's own app context stays apart)."""

    def open(self, *args, **kwargs):
        return contextvars.Context().run(super().open, *args, **kwargs)


@pytest.fixture(scope="session", params=BACKENDS)
def backend_app(request, tmp_path_factory):
    backend = request.param
    tmp = tmp_path_factory.mktemp(f"instance-{backend}")
    os.environ["INSTANCE_PATH"] = str(tmp)
    drop = None
    if backend == "sqlite":
        uri = f"sqlite:///{tmp / 'test.sqlite3'}"
        engine_options = {"connect_args": {"timeout": 30}}
    else:
        if not _pg_available():
            if os.environ.get("REQUIRE_POSTGRES") == "1":
                pytest.fail("PostgreSQL is required (REQUIRE_POSTGRES=1) but does not answer at " + _server_url())
            pytest.skip("PostgreSQL not available")
        name = "test_scheduler_" + secrets.token_hex(4)
        admin = create_engine(_server_url(), isolation_level="AUTOCOMMIT")
        with admin.connect() as c:
            c.execute(text(f'CREATE DATABASE "{name}"'))
        uri = _with_db(_server_url(), name)
        engine_options = {"pool_pre_ping": True, "pool_size": 30, "max_overflow": 10}

        def drop():
            with admin.connect() as c:
                c.execute(text(f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}' AND pid <> pg_backend_pid()"))
                c.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
            admin.dispose()

    from flask_migrate import upgrade

    from scheduler import create_app

    app = create_app({
        "TESTING": True,
        "SQLALCHEMY_DATABASE_URI": uri,
        "SQLALCHEMY_ENGINE_OPTIONS": engine_options,
        "OUTBOX_DIR": str(tmp / "outbox"),
        "BASE_URL": "http://127.0.0.1:5000",
        "SERVER_NAME": None,
    })
    app.config["BACKEND"] = backend
    app.test_client_class = IsolatedClient
    with app.app_context():
        upgrade()
    yield app
    with app.app_context():
        from scheduler.extensions import db

        db.session.remove()
        db.engine.dispose()
    if drop:
        drop()


def _empty_tables(app) -> None:
    from scheduler.extensions import db

    with app.app_context():
        db.session.remove()
        tables = [t for t in reversed(db.metadata.sorted_tables) if t.name not in REFERENCE_TABLES]
        with db.engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                conn.execute(text("TRUNCATE " + ", ".join(f'"{t.name}"' for t in tables) + " RESTART IDENTITY CASCADE"))
            else:
                for t in tables:
                    conn.execute(t.delete())


@pytest.fixture
def app(backend_app):
    _empty_tables(backend_app)
    ctx = backend_app.app_context()
    ctx.push()
    yield backend_app
    from scheduler.extensions import db

    db.session.rollback()
    db.session.remove()
    ctx.pop()


@pytest.fixture
def db(app):
    from scheduler.extensions import db as _db

    return _db


@pytest.fixture
def client(app):
    return app.test_client()


# --- factories ------------------------------------------------------------------------------

@pytest.fixture
def make_unit(db):
    counter = iter(range(1, 10_000))

    def make(code=None, kind="child_welfare", name=None):
        from scheduler.people.services import create_unit

        n = next(counter)
        unit = create_unit(code=code or f"U{n}", name_fi=name or f"Yksikkö {n}", name_sv=f"Enhet {n}",
                           name_en=f"Unit {n}", kind=kind)
        db.session.commit()
        return unit

    return make


@pytest.fixture
def make_user(db):
    counter = iter(range(1, 10_000))

    def make(email=None, roles=("social_worker",), units=(), name=None, language="fi", password=TEST_PASSWORD):
        from scheduler.people.services import create_user

        n = next(counter)
        user = create_user(email=email or f"user{n}@example.fi", name=name or f"Testi Käyttäjä {n}", roles=list(roles),
                           unit_codes=[u if isinstance(u, str) else u.code for u in units], language=language,
                           password=password)
        db.session.commit()
        return user

    return make


def sign_in(client, user, password=TEST_PASSWORD):
    page = client.get("/sign-in")
    token = csrf_from(page.get_data(as_text=True))
    resp = client.post("/sign-in", data={"email": user.email, "password": password, "csrf_token": token})
    assert resp.status_code == 302, resp.get_data(as_text=True)[:2000]
    return resp


def csrf_from(html: str) -> str:
    m = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html) or re.search(r'value="([^"]+)"[^>]*name="csrf_token"', html)
    assert m, "no CSRF token on the page"
    return m.group(1)


def csrf_token(client, path="/") -> str:
    return csrf_from(client.get(path).get_data(as_text=True))


@pytest.fixture
def login(client):
    def do(user, password=TEST_PASSWORD):
        sign_in(client, user, password)
        return client

    return do


class ApiClient:
    def __init__(self, client, token):
        self.client, self.token = client, token

    def _h(self):
        return {"Authorization": f"Bearer {self.token}"}

    def get(self, path, **kw):
        return self.client.get(path, headers=self._h(), **kw)

    def post(self, path, json=None, **kw):
        return self.client.post(path, json=json if json is not None else {}, headers=self._h(), **kw)


@pytest.fixture
def api(app, db):
    def make(user):
        from scheduler.people.auth import create_api_token

        raw = create_api_token(user, "test")
        db.session.commit()
        return ApiClient(app.test_client(), raw)

    return make


# --- a live server and a real browser ---------------------------------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def serve(app):
    from werkzeug.serving import make_server

    port = free_port()
    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.shutdown()


@pytest.fixture
def live_server(app):
    if app.config["BACKEND"] != "sqlite":
        pytest.skip("browser journeys run once, on SQLite")
    with serve(app) as url:
        yield url


CHROMIUM = "/usr/bin/chromium"


@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).exists():
        if os.environ.get("REQUIRE_BROWSER") == "1":
            pytest.fail("Chromium is required (REQUIRE_BROWSER=1) but /usr/bin/chromium is missing")
        pytest.skip("no Chromium at /usr/bin/chromium")
    try:  # here, not at the top: the `browser` extra is optional (pip install -e '.[test,browser]')
        from playwright.sync_api import sync_playwright
    except ImportError:
        if os.environ.get("REQUIRE_BROWSER") == "1":
            pytest.fail("Playwright is required (REQUIRE_BROWSER=1): install the browser extra, .[browser]")
        pytest.skip("Playwright is not installed (the browser extra: pip install -e '.[browser]')")

    with sync_playwright() as p:
        b = p.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                  "--disable-sync", "--disable-quic", "--no-first-run"],
        )
        yield b
        b.close()


@pytest.fixture
def page(browser, live_server):
    context = browser.new_context(locale="fi-FI", timezone_id="Europe/Helsinki")
    pg = context.new_page()
    pg.set_default_timeout(15_000)
    yield pg
    context.close()
