"""Calendar feeds: secret addresses, the HTTP behaviour, the calendar envelope, the render cache."""

from __future__ import annotations

import gzip
import hashlib
import logging
import re
from datetime import UTC, datetime, timedelta

import icalendar
import pytest
import recurring_ical_events
import requests
from sqlalchemy import event, select

from scheduler.feeds.items import CANCELLED, CONFIRMED, FeedItem
from scheduler.feeds.models import FeedRenderCache, FeedToken
from scheduler.feeds.services import forget_rendered_in_memory

from .conftest import csrf_token, serve


def parse_feed(data: bytes) -> icalendar.Calendar:
    """Parse strictly: no component may carry parse errors."""
    cal = icalendar.Calendar.from_ical(data)
    for comp in cal.walk():
        assert not comp.errors, (comp.name, comp.errors)
    return cal


def feed_url(api_client) -> str:
    resp = api_client.get("/api/v1/me/feeds")
    assert resp.status_code == 200, resp.get_json()
    return resp.get_json()["personal"]


def path_of(url: str) -> str:
    return "/" + url.split("://", 1)[1].split("/", 1)[1]


# --- addresses and tokens ------------------------------------------------------------------------

def test_api_gives_stable_private_addresses_under_200_characters(app, db, make_user, make_unit, api):
    from scheduler.consultations.services import SeriesInput, create_series

    unit = make_unit(code="LANU-ROVANIEMI-LASTEN-JA-NUORTEN-PSYKIAT", kind="lanu")  # 40 characters, the most a code may have
    user = make_user(roles=("consultant",), units=[unit])
    create_series(actor=user, data=SeriesInput(unit=unit.code, title="LANU", rrule="FREQ=WEEKLY;BYDAY=TU",
                                               first_start=datetime(2030, 1, 8, 13, 0), open_to=["child_welfare"]),
                  now=datetime(2029, 12, 1, tzinfo=UTC))
    db.session.commit()
    client = api(user)
    data = client.get("/api/v1/me/feeds").get_json()
    again = client.get("/api/v1/me/feeds").get_json()
    assert data == again
    assert data["personal"].startswith("http://127.0.0.1:5000/feeds/") and data["personal"].endswith(".ics")
    assert data["personal_webcal"] == "webcal://" + data["personal"].split("://", 1)[1]
    urls = [data["personal"]] + [u["url"] for u in data["units"]] + [p["url"] for p in data["panels"]]
    assert any("/units/LANU-ROVANIEMI-LASTEN-JA-NUORTEN-PSYKIAT.ics" in u for u in urls)
    for url in urls:
        assert len(url) < 200


def test_token_has_192_random_bits_and_only_its_hash_is_stored(app, db, make_user, api):
    user = make_user()
    url = feed_url(api(user))
    token = re.search(r"/feeds/([^/]+)\.ics$", url).group(1)
    assert re.fullmatch(r"[A-Za-z0-9_-]{32}", token)  # 32 × 6 bits = 192 bits
    row = db.session.execute(select(FeedToken).where(FeedToken.user_id == user.id)).scalar_one()
    assert row.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert token not in (row.nonce, row.token_hash)
    other = make_user()
    assert feed_url(api(other)) != url


def test_unknown_malformed_and_replaced_tokens_are_404(app, db, make_user, api):
    user = make_user()
    client = api(user)
    old = feed_url(client)
    assert client.client.get(path_of(old)).status_code == 200
    assert client.client.get("/feeds/" + "A" * 32 + ".ics").status_code == 404
    assert client.client.get("/feeds/short.ics").status_code == 404
    resp = client.post("/api/v1/me/feeds/reset")
    assert resp.status_code == 200
    new = resp.get_json()["personal"]
    assert new != old
    assert client.client.get(path_of(old)).status_code == 404  # at once
    assert client.client.get(path_of(new)).status_code == 200
    assert feed_url(client) == new


def test_deactivated_user_feed_is_404(app, db, make_user, api):
    user = make_user()
    url = feed_url(api(user))
    user.is_active = False
    db.session.commit()
    assert app.test_client().get(path_of(url)).status_code == 404


def test_feed_api_needs_a_token(client):
    assert client.get("/api/v1/me/feeds").status_code == 401
    assert client.post("/api/v1/me/feeds/reset").status_code == 401


# --- HTTP ------------------------------------------------------------------------------------

def test_http_headers_etag_304_and_gzip(app, db, make_user, api):
    user = make_user()
    client = api(user)
    path = path_of(feed_url(client))
    c = app.test_client()
    first = c.get(path)
    assert first.status_code == 200
    assert first.headers["Content-Type"] == "text/calendar; charset=utf-8"
    assert "private" in first.headers["Cache-Control"]
    assert "Set-Cookie" not in first.headers
    etag = first.headers["ETag"]
    assert etag.startswith('"') and etag == c.get(path).headers["ETag"]  # unchanged feed, same ETag
    not_modified = c.get(path, headers={"If-None-Match": etag})
    assert not_modified.status_code == 304 and not_modified.data == b""
    assert c.get(path, headers={"If-None-Match": '"something-else"'}).status_code == 200

    zipped = c.get(path, headers={"Accept-Encoding": "gzip"})
    assert zipped.headers["Content-Encoding"] == "gzip"
    assert "Accept-Encoding" in zipped.headers["Vary"]
    assert gzip.decompress(zipped.data) == first.data
    assert zipped.headers["ETag"] != etag  # another representation, another strong tag
    assert c.get(path, headers={"Accept-Encoding": "gzip", "If-None-Match": zipped.headers["ETag"]}).status_code == 304
    assert c.get(path, headers={"Accept-Encoding": "identity"}).headers.get("Content-Encoding") is None


def test_envelope_publish_refresh_timezone_and_name_in_users_language(app, db, make_user, api):
    fi_user = make_user(language="fi")
    sv_user = make_user(language="sv")
    fi = app.test_client().get(path_of(feed_url(api(fi_user))))
    sv = app.test_client().get(path_of(feed_url(api(sv_user))))
    text = fi.get_data(as_text=True)
    cal = parse_feed(fi.data)
    assert cal["METHOD"] == "PUBLISH"
    assert "\r\nREFRESH-INTERVAL;VALUE=DURATION:PT1H\r\n" in text
    assert "\r\nX-PUBLISHED-TTL:PT1H\r\n" in text
    assert "ORGANIZER" not in text and "ATTENDEE" not in text
    tz = cal.walk("VTIMEZONE")[0]
    assert tz["TZID"] == "Europe/Helsinki"
    assert "RRULE" in tz.walk("DAYLIGHT")[0] and "RDATE" not in text
    assert str(cal["X-WR-CALNAME"]) == "Konsultaatiot ja asiantuntijatyöryhmä"
    assert str(parse_feed(sv.data)["X-WR-CALNAME"]) == "Konsultationer och expertgrupp"


def test_request_log_never_shows_the_token(app, db, make_user, api, caplog):
    user = make_user()
    url = feed_url(api(user))
    token = re.search(r"/feeds/([^/]+)\.ics$", url).group(1)
    caplog.set_level(logging.INFO)
    werkzeug_log = logging.getLogger("werkzeug")
    was_disabled, werkzeug_log.disabled = werkzeug_log.disabled, False  # Alembic's fileConfig disables it
    try:
        with serve(app) as base:
            assert requests.get(base + path_of(url), timeout=10).status_code == 200
            wrong = token[:-1] + ("A" if token[-1] != "A" else "B")
            assert requests.get(base + path_of(url).replace(token, wrong), timeout=10).status_code == 404
    finally:
        werkzeug_log.disabled = was_disabled
    lines = [r.getMessage() for r in caplog.records]
    assert any("/feeds/[redacted]" in line for line in lines)
    assert not any(token in line or token[:-1] in line for line in lines)


# --- the profile page ------------------------------------------------------------------------

def test_profile_section_shows_addresses_qr_instructions_and_resets(app, db, make_user, login):
    user = make_user(language="en")
    client = login(user)
    html = client.get("/profile").get_data(as_text=True)
    m = re.search(r'id="feed-https" value="([^"]+)"', html)
    https = m.group(1)
    assert https.startswith("http://127.0.0.1:5000/feeds/")
    assert 'href="webcal://' + https.split("://", 1)[1] + '"' in html
    assert 'data-copy="#feed-https"' in html
    assert re.search(r'<img src="data:image/svg\+xml[^"]+" alt="QR code', html)
    for word in ("Outlook", "Google Calendar", "Apple"):
        assert word in html
    assert "<script>" not in html and " style=" not in html
    # the same address on every visit
    assert https in client.get("/profile").get_data(as_text=True)

    token = csrf_token(client, "/profile")
    assert client.post("/feeds/reset", data={}).status_code == 400  # no CSRF token: refused
    assert client.get(path_of(https)).status_code == 200
    resp = client.post("/feeds/reset", data={"csrf_token": token})
    assert resp.status_code == 302
    html = client.get("/profile").get_data(as_text=True)
    new = re.search(r'id="feed-https" value="([^"]+)"', html).group(1)
    assert new != https
    assert client.get(path_of(https)).status_code == 404
    assert client.get(path_of(new)).status_code == 200


def test_profile_section_in_finnish_and_swedish(app, db, make_user, login):
    html = login(make_user(language="fi")).get("/profile").get_data(as_text=True)
    assert "Kalenteritilaus" in html and "Korvaa kalenterini osoite" in html
    client = app.test_client()
    login_client = client
    from .conftest import sign_in

    sign_in(login_client, make_user(language="sv"))
    html = login_client.get("/profile").get_data(as_text=True)
    assert "Kalenderprenumeration" in html


# --- building feeds from items: the render cache -----------------------------------------------

T0 = datetime(2027, 1, 5, 11, 0, tzinfo=UTC)
NOW = datetime(2027, 1, 1, 8, 0, tzinfo=UTC)


def item(n: int, **kw) -> FeedItem:
    base = dict(key=f"test:{n}", uid=f"uid-{n}@test", start=T0 + timedelta(days=n), end=T0 + timedelta(days=n, minutes=30),
                summary=f"Konsultaatio: Palvelu {n}", status=CONFIRMED, updated_dt=datetime(2026, 12, 1, tzinfo=UTC),
                url=f"http://127.0.0.1:5000/consultations/bookings/{n}", sequence=0, join_url=None)
    base.update(kw)
    return FeedItem(**base)


def build(items, now=NOW):
    from scheduler.feeds.services import FeedContext, build_feed

    ctx = FeedContext(lang="fi", now=now, base_url="http://127.0.0.1:5000")
    return build_feed("Testi", items, ctx)


def test_items_render_once_and_an_unchanged_feed_keeps_its_etag(app, db):
    forget_rendered_in_memory()
    items = [item(n) for n in range(5)]
    first = build(items)
    db.session.commit()
    assert first.rendered == 5 and first.count == 5
    second = build(items)
    assert second.rendered == 0
    assert second.body == first.body and second.etag == first.etag
    forget_rendered_in_memory()  # another worker process: the texts come from the table
    from_table = build(items)
    assert from_table.rendered == 0 and from_table.etag == first.etag
    changed = [*items[:4], item(4, start=T0 + timedelta(days=9), sequence=1, updated_dt=datetime(2026, 12, 2, tzinfo=UTC))]
    third = build(changed)
    db.session.commit()
    assert third.rendered == 1 and third.etag != first.etag
    assert db.session.scalar(select(FeedRenderCache.version).where(FeedRenderCache.cache_key == "fi:test:4"))


def test_rendered_events_parse_expand_and_carry_dtstamp_from_the_change(app, db):
    items = [item(1, join_url="https://teams.example/meet/1"), item(2, status=CANCELLED, sequence=2,
                                                                   updated_dt=NOW - timedelta(days=2))]
    feed = build(items)
    cal = parse_feed(feed.body)
    events = cal.walk("VEVENT")
    assert [str(e["UID"]) for e in events] == ["uid-1@test", "uid-2@test"]
    e1, e2 = events
    assert e1["DTSTAMP"].dt == datetime(2026, 12, 1, tzinfo=UTC)
    assert e1["DTSTART"].dt == T0 + timedelta(days=1) and e1["DTSTART"].params["TZID"] == "Europe/Helsinki"
    assert "https://teams.example/meet/1" in str(e1["DESCRIPTION"])
    assert str(e1["URL"]) == "http://127.0.0.1:5000/consultations/bookings/1"
    assert e2["STATUS"] == "CANCELLED" and e2["SEQUENCE"] == 2
    expanded = recurring_ical_events.of(cal).between(datetime(2027, 1, 1), datetime(2027, 2, 1))
    assert sorted(str(e["UID"]) for e in expanded) == ["uid-1@test", "uid-2@test"]


def test_window_past_90_days_and_cancelled_kept_30_days(app, db):
    now = datetime(2027, 6, 1, 9, 0, tzinfo=UTC)
    items = [
        item(1, start=now - timedelta(days=89), end=now - timedelta(days=89) + timedelta(minutes=30)),
        item(2, start=now - timedelta(days=91), end=now - timedelta(days=91) + timedelta(minutes=30)),
        item(3, start=now + timedelta(days=400), end=now + timedelta(days=400, minutes=30)),
        item(4, start=now + timedelta(days=3), end=now + timedelta(days=3, minutes=30), status=CANCELLED,
             updated_dt=now - timedelta(days=29)),
        item(5, start=now + timedelta(days=3), end=now + timedelta(days=3, minutes=30), status=CANCELLED,
             updated_dt=now - timedelta(days=31)),
    ]
    uids = [str(e["UID"]) for e in parse_feed(build(items, now=now).body).walk("VEVENT")]
    assert sorted(uids) == ["uid-1@test", "uid-3@test", "uid-4@test"]


def test_same_item_in_two_languages_is_cached_apart(app, db):
    from scheduler.feeds.services import FeedContext, build_feed

    forget_rendered_in_memory()
    items = [item(1)]
    fi = build_feed("A", items, FeedContext(lang="fi", now=NOW, base_url="x"))
    sv = build_feed("A", items, FeedContext(lang="sv", now=NOW, base_url="x"))
    db.session.commit()
    assert fi.rendered == sv.rendered == 1
    keys = set(db.session.scalars(select(FeedRenderCache.cache_key)))
    assert keys == {"fi:test:1", "sv:test:1"}


@pytest.mark.parametrize("n", [3, 40])
def test_feed_build_query_count_does_not_grow_with_items(app, db, n):
    forget_rendered_in_memory()
    counts = []
    for round_ in range(3):  # cold; warm from the table alone; warm in this process
        if round_ == 1:
            forget_rendered_in_memory()
        statements = []

        def count(conn, cursor, statement, params, context, executemany):
            statements.append(statement)

        event.listen(db.engine, "before_cursor_execute", count)
        try:
            build([item(i) for i in range(n)])
            db.session.commit()
        finally:
            event.remove(db.engine, "before_cursor_execute", count)
        counts.append(len(statements))
    # cold: select + savepoint + upsert + release; from the table: the select; in memory: nothing
    assert counts[0] <= 4
    assert counts[1] == 1
    assert counts[2] == 0


def test_changing_secret_key_changes_the_address(app, db, make_user, api):
    user = make_user()
    client = api(user)
    old = feed_url(client)
    saved = app.config["SECRET_KEY"]
    app.config["SECRET_KEY"] = saved + "-rotated"
    try:
        assert client.client.get(path_of(old)).status_code == 404
        new = feed_url(client)
        assert new != old
        assert client.client.get(path_of(new)).status_code == 200
    finally:
        app.config["SECRET_KEY"] = saved
