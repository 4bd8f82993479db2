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
    row = db.session.get(LoginThrottle, f"account:{user.email}")
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
    client.post("/profile/tokens", data={"csrf_token": token, "label": "integration"})
    page = client.get("/profile").get_data(as_text=True)
    import re

    raw = re.search(r'id="new-token">([^<]+)<', page).group(1)
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {raw}"}).status_code == 200
    assert raw not in client.get("/profile").get_data(as_text=True)  # shown once
    from scheduler.people.models import ApiToken

    row = db.session.execute(select(ApiToken).where(ApiToken.user_id == user.id)).scalar_one()
    assert row.token_hash != raw and raw not in row.token_hash
    client.post(f"/profile/tokens/{row.id}/revoke", data={"csrf_token": csrf_token(client, "/profile")})
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {raw}"}).status_code == 401


def test_change_password(client, make_user):
    user = make_user()
    sign_in(client, user)
    token = csrf_token(client, "/profile")
    bad = client.post("/profile/password", data={"csrf_token": token, "current": "wrong one!!!", "new": "a new long password"})
    assert bad.status_code == 422
    ok = client.post("/profile/password", data={"csrf_token": token, "current": TEST_PASSWORD, "new": "a new long password"})
    assert ok.status_code == 302
