"""Request ids and the JSON log format."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap


def test_every_response_carries_a_generated_request_id(client):
    r1, r2 = client.get("/healthz"), client.get("/no-such-page")
    assert re.fullmatch(r"[0-9a-f]{32}", r1.headers["X-Request-ID"])
    assert r2.status_code == 404 and r2.headers["X-Request-ID"] != r1.headers["X-Request-ID"]
    # without a trusted proxy, a client cannot choose its id
    r = client.get("/healthz", headers={"X-Request-ID": "chosen-by-client"})
    assert r.headers["X-Request-ID"] != "chosen-by-client"


def test_a_trusted_proxy_sets_the_request_id(backend_app, tmp_path):
    from scheduler import create_app

    app2 = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": backend_app.config["SQLALCHEMY_DATABASE_URI"],
                       "SQLALCHEMY_ENGINE_OPTIONS": backend_app.config["SQLALCHEMY_ENGINE_OPTIONS"],
                       "TRUSTED_PROXY_COUNT": 1, "OUTBOX_DIR": str(tmp_path)})
    try:
        c = app2.test_client()
        assert c.get("/healthz", headers={"X-Request-ID": "f3a9c2e1-proxy.7"}).headers["X-Request-ID"] == "f3a9c2e1-proxy.7"
        for bad in ("two words", "x" * 129, "evil\u00e4", "a;b"):
            got = c.get("/healthz", headers={"X-Request-ID": bad}).headers["X-Request-ID"]
            assert got != bad and re.fullmatch(r"[0-9a-f]{32}", got)
    finally:
        with app2.app_context():
            from scheduler.extensions import db

            db.engine.dispose()


def test_json_logs_one_object_per_line_with_request_fields_and_no_tokens(tmp_path):
    """LOG_FORMAT=json in a process of its own (as gunicorn would run it): every line is a JSON object;
    the access line has the route pattern, status, duration, request id and user id; feed and bearer
    tokens are redacted."""
    env = {**os.environ, "INSTANCE_PATH": str(tmp_path / "instance"), "LOG_FORMAT": "json",
           "DATABASE_URL": f"sqlite:///{tmp_path / 'logs.sqlite3'}", "APP_ENV": "development"}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    feed_token = "Zx8" + "q" * 40
    script = textwrap.dedent(f"""
        import logging
        from flask import current_app
        from scheduler import create_app
        from scheduler.extensions import db
        app = create_app({{"TESTING": True}})
        with app.app_context():
            from scheduler.people.services import create_user
            from scheduler.people.auth import create_api_token
            user = create_user(email="it@example.fi", name="IT", roles=["admin"], unit_codes=[], language="fi",
                               password=None)
            db.session.commit()
            token = create_api_token(user, "logs")
            db.session.commit()
            uid = user.id
        @app.get("/log-test")
        def log_test():
            current_app.logger.warning("calling with Authorization: Bearer %s", "abcdefghijklmnop123")
            return "ok"
        c = app.test_client()
        print("USER", uid, flush=True)
        c.get("/feeds/{feed_token}.ics")
        c.get("/api/v1/me", headers={{"Authorization": "Bearer " + token}})
        c.get("/log-test")
    """)
    # the schema first, in a process of its own (Alembic's env.py sets up its own logging)
    migrate = subprocess.run([sys.executable, "-m", "flask", "--app", "app", "db", "upgrade"], cwd=root,
                             env={**env, "LOG_FORMAT": "text"}, capture_output=True, text=True, timeout=180)
    assert migrate.returncode == 0, migrate.stderr[-3000:]
    out = subprocess.run([sys.executable, "-c", script], cwd=root, env=env, capture_output=True, text=True, timeout=180)
    assert out.returncode == 0, out.stderr[-3000:]
    uid = int(out.stdout.split("USER", 1)[1].split()[0])
    lines = [ln for ln in out.stderr.splitlines() if ln.strip()]
    records = [json.loads(ln) for ln in lines]  # every line is one JSON object
    for rec in records:
        assert {"time", "level", "logger", "message"} <= rec.keys()
        assert rec["time"].endswith("Z")
    access = [r for r in records if r["logger"] == "scheduler.access"]
    feed = next(r for r in access if r.get("route") == "/feeds/<token>.ics")
    assert feed["status"] == 404 and feed["method"] == "GET" and feed["duration_ms"] >= 0
    assert re.fullmatch(r"[0-9a-f]{32}", feed["request_id"])
    me = next(r for r in access if r.get("route", "").endswith("/me"))
    assert me["status"] == 200 and me["user_id"] == uid
    warning = next(r for r in records if "calling with" in r["message"])
    assert warning["level"] == "WARNING" and warning["route"] == "/log-test" and warning["request_id"]
    assert "Bearer [redacted]" in warning["message"]
    assert feed_token not in out.stderr and "abcdefghijklmnop123" not in out.stderr
