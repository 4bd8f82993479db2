from datetime import timedelta

from sqlalchemy import select

from scheduler.core.db import utcnow
from scheduler.people.models import LoginThrottle, UserSession

from .conftest import TEST_PASSWORD, csrf_token, sign_in


def _post_sign_in(client, email, password, environ=None):
    token = csrf_token(client, "/sign-in")
    return client.post("/sign-in", data={"email": email, "password": password, "csrf_token": token},
                       environ_base=environ or {})


def test_sign_in_shows_own_name_and_sign_out_kills_copied_cookie(app, client, make_user, db):
    user = make_user(name="Sanna Sosiaalityöntekijä")
    sign_in(client, user)
    home = client.get("/")
    assert home.status_code == 200
    assert "Sanna Sosiaalityöntekijä" in home.get_data(as_text=True)

    # copy the cookie into a second browser
    cookie = client.get_cookie(app.config["SESSION_COOKIE_NAME"])
    other = app.test_client()
    other.set_cookie(app.config["SESSION_COOKIE_NAME"], cookie.value)
    assert other.get("/").status_code == 200

    token = csrf_token(client, "/")
    assert client.post("/sign-out", data={"csrf_token": token}).status_code == 302
    assert other.get("/").status_code == 302  # the copied cookie stopped working too
    assert client.get("/").status_code == 302


def test_wrong_password_is_refused_with_a_message(client, make_user):
    user = make_user()
    resp = _post_sign_in(client, user.email, "wrong password!!")
    assert resp.status_code == 401
    assert "salasana" in resp.get_data(as_text=True)  # Finnish by default


def test_throttle_per_account_is_kept_in_the_database(app, client, make_user, db):
    user = make_user()
    for _ in range(app.config["LOGIN_MAX_FAILURES"]):
        _post_sign_in(client, user.email, "nope nope nope")
    # even the right password is refused while locked, from another client (another worker)
    other = app.test_client()
    resp = _post_sign_in(other, user.email, TEST_PASSWORD)
    assert resp.status_code == 429
    row = db.session.get(LoginThrottle, f"account:{user.email}|127.0.0.1")
    assert row.failures >= app.config["LOGIN_MAX_FAILURES"] and row.locked_until_dt > utcnow()
    # the lock lapses
    row.locked_until_dt = utcnow() - timedelta(seconds=1)
    db.session.commit()
    assert _post_sign_in(other, user.email, TEST_PASSWORD).status_code == 302


def test_throttle_per_address(app, make_user):
    app.config["LOGIN_MAX_FAILURES_PER_ADDRESS"] = 3
    try:
        users = [make_user() for _ in range(4)]
        client = app.test_client()
        env = {"REMOTE_ADDR": "10.1.2.3"}
        for u in users[:3]:
            assert _post_sign_in(client, u.email, "bad bad bad bad", env).status_code == 401
        assert _post_sign_in(client, users[3].email, TEST_PASSWORD, env).status_code == 429
        assert _post_sign_in(app.test_client(), users[3].email, TEST_PASSWORD, {"REMOTE_ADDR": "10.9.9.9"}).status_code == 302
    finally:
        app.config["LOGIN_MAX_FAILURES_PER_ADDRESS"] = 30


def test_disabling_an_account_ends_its_sessions(app, client, make_user, db):
    from scheduler.people.services import disable_user

    user = make_user()
    sign_in(client, user)
    assert client.get("/").status_code == 200
    disable_user(user)
    db.session.commit()
    assert client.get("/").status_code == 302
    assert _post_sign_in(app.test_client(), user.email, TEST_PASSWORD).status_code == 401


def test_idle_and_absolute_timeouts(app, client, make_user, db):
    user = make_user()
    sign_in(client, user)
    row = db.session.execute(select(UserSession).where(UserSession.user_id == user.id)).scalar_one()
    row.last_seen_dt = utcnow() - timedelta(minutes=app.config["SESSION_IDLE_MINUTES"] + 1)
    db.session.commit()
    assert client.get("/").status_code == 302

    sign_in(client, user)
    row = db.session.execute(select(UserSession).where(UserSession.user_id == user.id, UserSession.ended_dt.is_(None))).scalar_one()
    row.created_dt = utcnow() - timedelta(hours=app.config["SESSION_MAX_HOURS"], minutes=1)
    db.session.commit()
    assert client.get("/").status_code == 302


def test_password_hash_is_argon2id_at_owasp_minimum(make_user):
    user = make_user()
    assert user.password_hash.startswith("$argon2id$")
    params = dict(p.split("=") for p in user.password_hash.split("$")[3].split(","))
    assert int(params["m"]) >= 19456 and int(params["t"]) >= 2 and int(params["p"]) >= 1


def test_csrf_is_required_on_forms(client, make_user):
    user = make_user()
    resp = client.post("/sign-in", data={"email": user.email, "password": TEST_PASSWORD})
    assert resp.status_code == 400


def test_open_redirect_is_refused(client, make_user):
    user = make_user()
    token = csrf_token(client, "/sign-in")
    resp = client.post("/sign-in?next=https://evil.example/", data={"email": user.email, "password": TEST_PASSWORD, "csrf_token": token})
    assert resp.headers["Location"] == "/"


def test_api_token_shown_once_and_revocable(client, make_user, db):
    user = make_user()
    sign_in(client, user)
    token = csrf_token(client, "/profile")
    resp = client.post("/profile/tokens", data={"csrf_token": token, "label": "integration"})
    assert resp.status_code == 201  # shown in the response to the POST that made it
    page = resp.get_data(as_text=True)
    import re

    raw = re.search(r'id="new-token">([^<]+)<', page).group(1)
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {raw}"}).status_code == 200
    assert raw not in client.get("/profile").get_data(as_text=True)  # shown once
    from scheduler.people.models import ApiToken

    row = db.session.execute(select(ApiToken).where(ApiToken.user_id == user.id)).scalar_one()
    assert row.token_hash != raw and raw not in row.token_hash
    client.post(f"/profile/tokens/{row.id}/revoke", data={"csrf_token": csrf_token(client, "/profile")})
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {raw}"}).status_code == 401


def test_too_long_token_name_says_why_and_creates_nothing(client, make_user, db):
    from scheduler.people.models import ApiToken

    user = make_user()
    sign_in(client, user)
    token = csrf_token(client, "/profile")
    resp = client.post("/profile/tokens", data={"csrf_token": token, "label": "x" * 101})
    assert resp.status_code == 422
    page = resp.get_data(as_text=True)
    assert "Käytä enintään 100 merkkiä." in page and 'id="new-token"' not in page
    assert db.session.execute(select(ApiToken).where(ApiToken.user_id == user.id)).first() is None


def test_change_password(client, make_user):
    user = make_user()
    sign_in(client, user)
    token = csrf_token(client, "/profile")
    bad = client.post("/profile/password", data={"csrf_token": token, "current": "wrong one!!!", "new": "a new long password"})
    assert bad.status_code == 422
    ok = client.post("/profile/password", data={"csrf_token": token, "current": TEST_PASSWORD, "new": "a new long password"})
    assert ok.status_code == 302


def _second_worker(app):
    """Another application instance on the same database: what a second gunicorn worker is."""
    from scheduler import create_app

    other = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": app.config["SQLALCHEMY_DATABASE_URI"],
                        "SQLALCHEMY_ENGINE_OPTIONS": app.config["SQLALCHEMY_ENGINE_OPTIONS"],
                        "LOGIN_MAX_FAILURES": app.config["LOGIN_MAX_FAILURES"],
                        "LOGIN_MAX_FAILURES_PER_ADDRESS": app.config["LOGIN_MAX_FAILURES_PER_ADDRESS"]})
    from .conftest import IsolatedClient

    other.test_client_class = IsolatedClient
    return other


def _dispose(other):
    from scheduler.extensions import db

    with other.app_context():
        db.session.remove()
        db.engine.dispose()


def test_throttle_holds_across_two_workers(app, make_user, db):
    """Failures split between two app instances (two workers) still add up to one limit,
    per account and per address."""
    other = _second_worker(app)
    try:
        user = make_user()
        workers = [app.test_client(), other.test_client()]
        limit = app.config["LOGIN_MAX_FAILURES"]
        for i in range(limit):
            assert _post_sign_in(workers[i % 2], user.email, "wrong wrong wrong").status_code == 401
        for w in workers:
            assert _post_sign_in(w, user.email, TEST_PASSWORD).status_code == 429
        db.session.expire_all()
        assert db.session.get(LoginThrottle, f"account:{user.email}|127.0.0.1").failures == limit

        app.config["LOGIN_MAX_FAILURES_PER_ADDRESS"] = other.config["LOGIN_MAX_FAILURES_PER_ADDRESS"] = 4
        people = [make_user() for _ in range(5)]
        env = {"REMOTE_ADDR": "10.20.30.40"}
        for i, person in enumerate(people[:4]):
            assert _post_sign_in(workers[i % 2], person.email, "wrong wrong wrong", env).status_code == 401
        for w in workers:
            assert _post_sign_in(w, people[4].email, TEST_PASSWORD, env).status_code == 429
    finally:
        app.config["LOGIN_MAX_FAILURES_PER_ADDRESS"] = 30
        _dispose(other)


def test_sign_out_in_one_worker_ends_the_session_in_the_other(app, client, make_user):
    other = _second_worker(app)
    try:
        user = make_user()
        sign_in(client, user)
        copied = other.test_client()
        copied.set_cookie(app.config["SESSION_COOKIE_NAME"], client.get_cookie(app.config["SESSION_COOKIE_NAME"]).value)
        assert copied.get("/").status_code == 200
        client.post("/sign-out", data={"csrf_token": csrf_token(client, "/")})
        assert copied.get("/").status_code == 302
    finally:
        _dispose(other)


def test_behind_a_trusted_proxy_the_client_address_is_throttled(app, make_user):
    """With TRUSTED_PROXY_COUNT=1 the per-address limit uses X-Forwarded-For, not the proxy's address
    (else one person's typos would lock everyone out)."""
    from scheduler import create_app

    proxied = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": app.config["SQLALCHEMY_DATABASE_URI"],
                          "SQLALCHEMY_ENGINE_OPTIONS": app.config["SQLALCHEMY_ENGINE_OPTIONS"],
                          "TRUSTED_PROXY_COUNT": 1, "LOGIN_MAX_FAILURES_PER_ADDRESS": 2})
    try:
        people = [make_user() for _ in range(3)]
        c = proxied.test_client()

        def attempt(person, password, forwarded):
            token = csrf_token(c, "/sign-in")
            return c.post("/sign-in", data={"email": person.email, "password": password, "csrf_token": token},
                          headers={"X-Forwarded-For": forwarded, "X-Forwarded-Proto": "https",
                                   "Referer": "https://localhost/sign-in"},
                          environ_base={"REMOTE_ADDR": "127.0.0.1"})

        assert attempt(people[0], "wrong wrong wrong", "192.0.2.10").status_code == 401
        assert attempt(people[1], "wrong wrong wrong", "192.0.2.10").status_code == 401
        assert attempt(people[2], TEST_PASSWORD, "192.0.2.10").status_code == 429
        assert attempt(people[2], TEST_PASSWORD, "192.0.2.99").status_code == 302  # another person, same proxy
    finally:
        _dispose(proxied)


def test_disabled_account_copied_cookie_and_token_stop_working(app, client, make_user, db, api):
    from scheduler.people.services import disable_user

    user = make_user()
    sign_in(client, user)
    copied = app.test_client()
    copied.set_cookie(app.config["SESSION_COOKIE_NAME"], client.get_cookie(app.config["SESSION_COOKIE_NAME"]).value)
    token_client = api(user)
    assert copied.get("/profile").status_code == 200 and token_client.get("/api/v1/me").status_code == 200
    disable_user(user)
    db.session.commit()
    assert copied.get("/profile").status_code == 302 and client.get("/profile").status_code == 302
    assert token_client.get("/api/v1/me").status_code == 401
    # enabling the account again does not bring the old sessions back
    user.is_active = True
    db.session.commit()
    assert copied.get("/profile").status_code == 302


def test_idle_and_absolute_timeouts_follow_the_settings(app, client, make_user, db):
    app.config.update(SESSION_IDLE_MINUTES=5, SESSION_MAX_HOURS=1)
    try:
        user = make_user()
        sign_in(client, user)
        row = db.session.execute(select(UserSession).where(UserSession.user_id == user.id)).scalar_one()
        row.last_seen_dt = utcnow() - timedelta(minutes=4)
        db.session.commit()
        assert client.get("/").status_code == 200  # within the idle limit, and the visit refreshes it
        db.session.expire_all()
        assert utcnow() - db.session.get(UserSession, row.id).last_seen_dt < timedelta(minutes=1)
        row = db.session.get(UserSession, row.id)
        row.last_seen_dt = utcnow() - timedelta(minutes=6)
        db.session.commit()
        assert client.get("/").status_code == 302
        db.session.expire_all()
        assert db.session.get(UserSession, row.id).ended_dt is not None

        sign_in(client, user)
        row = db.session.execute(select(UserSession).where(UserSession.user_id == user.id, UserSession.ended_dt.is_(None))).scalar_one()
        row.created_dt = utcnow() - timedelta(minutes=59)
        db.session.commit()
        assert client.get("/").status_code == 200
        row.created_dt = utcnow() - timedelta(minutes=61)
        db.session.commit()
        assert client.get("/").status_code == 302  # active all along, but past the absolute limit
    finally:
        app.config.update(SESSION_IDLE_MINUTES=30, SESSION_MAX_HOURS=12)


def test_sign_out_is_not_a_get(client, make_user):
    sign_in(client, make_user())
    assert client.get("/sign-out").status_code == 405
    assert client.get("/").status_code == 200


def test_a_new_session_id_at_every_sign_in(app, client, make_user):
    """No session fixation: a cookie set before signing in is not the one used after."""
    user = make_user()
    client.get("/sign-in")
    before = client.get_cookie(app.config["SESSION_COOKIE_NAME"])
    sign_in(client, user)
    after = client.get_cookie(app.config["SESSION_COOKIE_NAME"])
    assert before is None or before.value != after.value


def test_forms_work_over_https_behind_a_proxy(app, make_user):
    """Over https Flask-WTF wants a same-site Referer on every POST; the Referrer-Policy must let
    the browser send it (same-origin), and a foreign Referer is refused."""
    from scheduler import create_app

    proxied = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": app.config["SQLALCHEMY_DATABASE_URI"],
                          "SQLALCHEMY_ENGINE_OPTIONS": app.config["SQLALCHEMY_ENGINE_OPTIONS"], "TRUSTED_PROXY_COUNT": 1,
                          "HTTPS": True, "SESSION_COOKIE_SECURE": True})
    try:
        user = make_user()
        c = proxied.test_client()
        https = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "192.0.2.1"}
        page = c.get("/sign-in", headers=https)
        assert page.headers["Referrer-Policy"] == "same-origin"
        assert "max-age=" in page.headers["Strict-Transport-Security"]
        from .conftest import csrf_from

        token = csrf_from(page.get_data(as_text=True))
        data = {"email": user.email, "password": TEST_PASSWORD, "csrf_token": token}
        assert c.post("/sign-in", data=data, headers={**https, "Referer": "https://evil.example/x"}).status_code == 400
        resp = c.post("/sign-in", data=data, headers={**https, "Referer": "https://localhost/sign-in"})
        assert resp.status_code == 302
        assert "Secure" in resp.headers["Set-Cookie"] and "HttpOnly" in resp.headers["Set-Cookie"]
    finally:
        _dispose(proxied)
