"""Every page a demo user can reach renders, in every language, for every role: a crawl of the
demo through the test client that follows the links on each page (same site, GET only) and fails
on any server error. Case pages are visited too, so the access rules answer 403/404, never 500."""

from __future__ import annotations

import re
from collections import deque
from urllib.parse import urldefrag, urlsplit

import pytest

from .conftest import csrf_token

DEMO_USERS = ["admin@demo.fi", "sosiaalityontekija@demo.fi", "socialarbetare@demo.fi", "lanu@demo.fi",
              "paihde@demo.fi", "sihteeri@demo.fi", "juristi@demo.fi"]
HREF = re.compile(r'href="(/[^"]*)"')
# Downloads and feeds are checked by their own tests; sign-out is a POST anyway.
SKIP = re.compile(r"^/(static/|feeds/|admin/outbox/mail/.+/download|api/)")


def sign_in_demo(client, email: str) -> None:
    from scheduler.demo import DEMO_PASSWORD

    token = csrf_token(client, "/sign-in")
    resp = client.post("/sign-in", data={"email": email, "password": DEMO_PASSWORD, "csrf_token": token})
    assert resp.status_code == 302, email


def _crawl(client, limit: int = 120) -> dict[str, int]:
    seen: dict[str, int] = {}
    queue = deque(["/"])
    while queue and len(seen) < limit:
        path = queue.popleft()
        if path in seen:
            continue
        resp = client.get(path)
        seen[path] = resp.status_code
        if resp.status_code != 200 or not resp.mimetype == "text/html":
            continue
        for href in HREF.findall(resp.get_data(as_text=True)):
            href = urldefrag(href.replace("&amp;", "&"))[0]
            if href and not SKIP.match(href) and urlsplit(href).path not in {"/sign-out"} and href not in seen:
                queue.append(href)
    return seen


@pytest.fixture
def demo(app, db):
    from scheduler.demo import seed_demo

    seed_demo(production=False)
    db.session.commit()


@pytest.mark.parametrize("lang", ["fi", "sv", "en"])
def test_every_reachable_page_renders_for_every_demo_user(app, demo, lang):
    if app.config["BACKEND"] != "sqlite" and lang != "fi":
        pytest.skip("one language is enough on PostgreSQL; the queries are the same")
    failures = {}
    visited = 0
    for email in DEMO_USERS:
        client = app.test_client()
        sign_in_demo(client, email)
        client.post("/language", data={"csrf_token": csrf_token(client, "/"), "lang": lang, "next": "/"})
        seen = _crawl(client)
        visited += len(seen)
        failures.update({f"{email} {path}": code for path, code in seen.items() if code >= 500})
        assert seen["/"] == 200
    assert failures == {}
    assert visited > 60  # the crawl really walked the demo


def test_pages_of_other_peoples_cases_are_refused_not_errors(app, demo, db):
    """A case's page and a booking's page, opened by someone who may not read them: 403 or 404."""
    from sqlalchemy import select

    from scheduler.consultations.models import Booking
    from scheduler.panels.models import PanelCase

    case = db.session.scalars(select(PanelCase).where(PanelCase.case_ref == "ROI-LS-2133")).one()
    booking = db.session.scalars(select(Booking)).first()
    client = app.test_client()
    sign_in_demo(client, "opettaja@demo.fi")  # an expert with no case of these
    for path in [f"/panels/cases/{case.id}", f"/consultations/bookings/{booking.id}"]:
        resp = client.get(path)
        assert resp.status_code in (403, 404), path
        assert case.case_ref not in resp.get_data(as_text=True)
