"""Sign-in and tokens (issue 12): a new token is shown once in the POST's own response and never
kept in the session cookie; a password change signs out one's other browsers; tokens expire and
show when they were last used; failed sign-ins lock per account and address."""

from __future__ import annotations

import re
from datetime import date, timedelta

from sqlalchemy import select

from scheduler.core.db import utcnow
from scheduler.people.models import ApiToken, LoginThrottle

from .conftest import TEST_PASSWORD, csrf_token, sign_in


def _cookie_session(app, client) -> dict:
    cookie = client.get_cookie(app.config["SESSION_COOKIE_NAME"])
    if cookie is None:
        return {}
    return dict(app.session_interface.get_signing_serializer(app).loads(cookie.value))


def _post_sign_in(client, email, password, address):
    token = csrf_token(client, "/sign-in")
    return client.post("/sign-in", data={"email": email, "password": password, "csrf_token": token},
                       environ_base={"REMOTE_ADDR": address})


def test_new_token_is_in_the_post_response_and_never_in_the_cookie(app, client, make_user, db):
    user = make_user()
    sign_in(client, user)
    resp = client.post("/profile/tokens", data={"csrf_token": csrf_token(client, "/profile"), "label": "ci"})
    assert resp.status_code == 201 and resp.headers["Cache-Control"] == "no-store"
    raw = re.search(r'id="new-token">([^<]+)<', resp.get_data(as_text=True)).group(1)
    assert raw.startswith("lsk_")
    session = _cookie_session(app, client)
    assert raw not in repr(session) and "new_token" not in session
    for header in resp.headers.getlist("Set-Cookie"):
        assert raw not in header
    assert raw not in client.get("/profile").get_data(as_text=True)
    row = db.session.execute(select(ApiToken).where(ApiToken.user_id == user.id)).scalar_one()
    assert row.label == "ci" and raw not in row.token_hash


def test_token_expires_by_default_after_a_year_and_can_be_given_a_date_or_none(app, client, make_user, db):
    from scheduler.core.timefmt import to_local

    user = make_user()
    sign_in(client, user)
    client.post("/profile/tokens", data={"csrf_token": csrf_token(client, "/profile"), "label": "default"})
    day = date.today() + timedelta(days=30)
    resp = client.post("/profile/tokens", data={"csrf_token": csrf_token(client, "/profile"), "label": "dated",
                                                "expires": f"{day.day}.{day.month}.{day.year}"})
    assert resp.status_code == 201
    client.post("/profile/tokens", data={"csrf_token": csrf_token(client, "/profile"), "label": "forever",
                                         "never_expires": "y"})
    bad = client.post("/profile/tokens", data={"csrf_token": csrf_token(client, "/profile"), "label": "past",
                                               "expires": "1.1.2020"})
    assert bad.status_code == 422 and 'id="new-token"' not in bad.get_data(as_text=True)
    rows = {t.label: t for t in db.session.execute(select(ApiToken).where(ApiToken.user_id == user.id)).scalars()}
    assert set(rows) == {"default", "dated", "forever"}
    days = (rows["default"].expires_dt - utcnow()).days
    assert 364 <= days <= 366
    assert to_local(rows["dated"].last_valid_dt).date() == day
    assert rows["forever"].expires_dt is None
    page = client.get("/profile").get_data(as_text=True)
    assert f"{day.day}.{day.month}.{day.year}" in page


def test_an_expired_token_no_longer_works(client, make_user, db):
    from scheduler.people.auth import create_api_token

    user = make_user()
    raw = create_api_token(user, "old")
    db.session.commit()
    headers = {"Authorization": f"Bearer {raw}"}
    assert client.get("/api/v1/me", headers=headers).status_code == 200
    row = db.session.execute(select(ApiToken).where(ApiToken.user_id == user.id)).scalar_one()
    row.expires_dt = utcnow() - timedelta(seconds=1)
    db.session.commit()
    assert client.get("/api/v1/me", headers=headers).status_code == 401


def test_last_used_is_written_at_most_about_once_a_minute(client, make_user, db):
    from scheduler.people.auth import create_api_token

    user = make_user()
    raw = create_api_token(user, "busy")
    db.session.commit()
    headers = {"Authorization": f"Bearer {raw}"}
    row = db.session.execute(select(ApiToken).where(ApiToken.user_id == user.id)).scalar_one()
    assert row.last_used_dt is None
    client.get("/api/v1/me", headers=headers)
    db.session.expire_all()
    first = db.session.get(ApiToken, row.id).last_used_dt
    assert first is not None
    for _ in range(3):
        client.get("/api/v1/me", headers=headers)
    db.session.expire_all()
    assert db.session.get(ApiToken, row.id).last_used_dt == first  # no write per request
    db.session.get(ApiToken, row.id).last_used_dt = first - timedelta(minutes=2)
    db.session.commit()
    client.get("/api/v1/me", headers=headers)
    db.session.expire_all()
    assert db.session.get(ApiToken, row.id).last_used_dt > first - timedelta(minutes=2)


def test_changing_the_password_ends_the_other_sessions(app, client, make_user):
    user = make_user()
    sign_in(client, user)
    other = app.test_client()
    sign_in(other, user)
    assert other.get("/").status_code == 200
    resp = client.post("/profile/password", data={"csrf_token": csrf_token(client, "/profile"),
                                                  "current": TEST_PASSWORD, "new": "a brand new long password"})
    assert resp.status_code == 302
    assert client.get("/").status_code == 200  # this browser stays signed in
    assert other.get("/").status_code == 302  # the other one is out


def test_failures_from_elsewhere_do_not_lock_a_colleague_out(app, make_user, db):
    victim = make_user()
    stranger = app.test_client()
    for _ in range(app.config["LOGIN_MAX_FAILURES"]):
        assert _post_sign_in(stranger, victim.email, "guess guess guess", "10.66.6.6").status_code == 401
    # the stranger's address is locked out of this account …
    assert _post_sign_in(stranger, victim.email, TEST_PASSWORD, "10.66.6.6").status_code == 429
    # … but the colleague at their own desk signs in
    assert _post_sign_in(app.test_client(), victim.email, TEST_PASSWORD, "10.1.1.1").status_code == 302
    assert db.session.get(LoginThrottle, f"account:{victim.email}|10.66.6.6").locked_until_dt > utcnow()
    assert db.session.get(LoginThrottle, f"account:{victim.email}|10.1.1.1") is None


def test_token_names_are_checked_for_identity_codes(client, make_user, db):
    user = make_user()
    sign_in(client, user)
    resp = client.post("/profile/tokens", data={"csrf_token": csrf_token(client, "/profile"),
                                                "label": "asiakas 131052-308T"})
    assert resp.status_code == 422 and "131052-***T" in resp.get_data(as_text=True)
    assert db.session.execute(select(ApiToken).where(ApiToken.user_id == user.id)).first() is None
