# ruff: noqa: F811  (the shared fixtures are imported by name, then requested as arguments)
"""Every role's pages on a 360 × 740 phone (real Chromium): nothing is wider than the screen
(WCAG 1.4.10 Reflow), axe finds no serious or critical violation, the booking list's filters fold
away so that the first free time is on the first screen, and cancelling asks first. Also in Swedish."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from scheduler.core.db import utcnow
from scheduler.core.timefmt import to_local

from .conftest import TEST_PASSWORD

pytestmark = pytest.mark.browser

PHONE = {"width": 360, "height": 740}


@pytest.fixture
def region(db, make_unit, make_user):
    """A small region with every role: a social worker (and a Swedish-speaking one) in child welfare,
    a LANU consultant hosting consultation hours, the panel secretary, an expert and an administrator;
    a booking, and a case on a published agenda whose session is under way."""
    from scheduler.consultations import services as svc
    from scheduler.consultations.services import SeriesInput, create_series
    from scheduler.consultations.slots import build_rrule
    from scheduler.panels.cases import schedule_case, submit_case
    from scheduler.panels.panel_admin import create_panel
    from scheduler.panels.services import publish_agenda

    ls, lanu = make_unit("LS-ROI", kind="child_welfare"), make_unit("LANU-ROI", kind="lanu")
    p = {
        "worker": make_user("sosiaali@example.fi", roles=("social_worker",), units=[ls], name="Sanna Sosiaalityöntekijä-Pitkänimi"),
        "swede": make_user("stina@example.fi", roles=("social_worker",), units=[ls], name="Stina Svensson", language="sv"),
        "doctor": make_user("lanu@example.fi", roles=("consultant",), units=[lanu], name="Lauri Lanu"),
        "secretary": make_user("sihteeri@example.fi", roles=("secretary",), name="Seija Sihteeri"),
        "expert": make_user("psykologi@example.fi", roles=("expert",), name="Pia Psykologi"),
        "admin": make_user("admin@example.fi", roles=("admin",), name="Aino Admin"),
    }
    first = to_local(utcnow()).replace(tzinfo=None, hour=13, minute=0, second=0, microsecond=0) + timedelta(days=3)
    series = create_series(actor=p["doctor"], data=SeriesInput(
        unit="LANU-ROI", title="LANU-konsultaatio nuorten ahdistuksesta", rrule=build_rrule("weekly", first.date()),
        first_start=first, slot_minutes=45, slots=3, capacity=1, modality="teams", location="",
        languages=["fi", "sv"], open_to=["child_welfare"], min_notice_hours=24, horizon_days=120, until=None,
        description="Konsultaatio lasten ja nuorten psykiatrisen työryhmän kanssa."), now=utcnow())
    db.session.commit()
    d = to_local(utcnow()).date()
    slots = svc.list_slots(actor=p["worker"], flt=svc.SlotFilter(date_from=d, date_to=d + timedelta(days=30)))
    booking = svc.run_atomically(lambda: svc.book_slot(
        actor=p["worker"], slot_id=slots[0].id, case_ref="LS-2027-014",
        question="Nuoren ahdistus ja koulupoissaolot: tarvitaanko LANUn arvio? " * 3))
    swedish = svc.run_atomically(lambda: svc.book_slot(
        actor=p["swede"], slot_id=slots[1].id, case_ref="LS-SV-7",
        question="Hur stöder vi skolgången för en ung person med ångest?"))
    panel = create_panel(
        actor=p["admin"], name="Lapin lastensuojelun monialainen asiantuntijatyöryhmä", region="Lappi",
        rrule="FREQ=MONTHLY;BYDAY=2TH", first_start="2027-01-14T12:30", session_minutes=180, case_minutes=45,
        secretaries=["sihteeri@example.fi"],
        experts=[{"email": "psykologi@example.fi", "expertise": ["psychological", "therapeutic"],
                  "organisation": "Lasten ja nuorten psykiatrian poliklinikka", "languages": ["fi", "sv"]}])
    db.session.commit()
    case = submit_case(actor=p["worker"], panel_id=panel.id, case_ref="ROI-LS-2041", child_age=13,
                       municipality="Rovaniemi", language="fi",
                       background="Nuori on ollut avohuollon tukitoimien asiakkaana kaksi vuotta. " * 4,
                       questions="Millainen tuki auttaisi koulunkäynnin jatkumisessa?",
                       expertise=["psychological"], services_tried="Perhetyö, koulukuraattori")
    session = panel.sessions[0]
    schedule_case(case, actor=p["secretary"], session_id=session.id, experts=["psykologi@example.fi"])
    publish_agenda(session, actor=p["secretary"])
    # the session is under way: the secretary may record the advice
    length = session.end_dt - session.start_dt
    session.start_dt = utcnow() - timedelta(minutes=10)
    session.end_dt = session.start_dt + length
    db.session.commit()
    return type("Region", (), dict(people=p, series=series, booking=booking, swedish=swedish, panel=panel,
                                   case=case, session=session))


def _sign_in(page, base, user):
    page.goto(f"{base}/sign-in")
    page.fill("input[name=email]", user.email)
    page.fill("input[name=password]", TEST_PASSWORD)
    page.locator("main button[type=submit]").first.click()
    page.wait_for_url(re.compile(r".*/$"))


def _axe(page) -> list:
    from axe_playwright_python.sync_playwright import Axe

    result = Axe().run(page)
    return [(v["id"], [n["target"] for n in v["nodes"]][:3])
            for v in result.response["violations"] if v["impact"] in ("serious", "critical")]


def _check(page, url: str, problems: dict) -> None:
    resp = page.goto(url)
    assert resp is not None and resp.status < 400, (url, resp and resp.status)
    width = page.evaluate("document.documentElement.scrollWidth")
    found = []
    if width > PHONE["width"]:
        wide = page.evaluate("""() => [...document.querySelectorAll('body *')]
            .filter(e => e.getBoundingClientRect().right > document.documentElement.clientWidth + 1)
            .slice(0, 3).map(e => e.tagName + '.' + e.className)""")
        found.append(("wider than the screen", width, wide))
    found += _axe(page)
    if found:
        problems[url] = found


def test_every_role_fits_a_phone_and_passes_axe(browser, live_server, region):
    base, r = live_server, region
    b, c, s, panel = r.booking, r.case, r.session, r.panel
    journeys = {
        "worker": ["/", "/consultations/", "/consultations/mine", f"/consultations/bookings/{b.id}",
                   f"/consultations/bookings/{b.id}/cancel", f"/consultations/bookings/{b.id}/reschedule",
                   "/panels/", f"/panels/{panel.id}/cases/new", f"/panels/cases/{c.id}", "/profile"],
        "doctor": ["/", "/consultations/hosting", f"/consultations/series/{r.series.id}",
                   f"/consultations/bookings/{b.id}", "/profile"],
        "secretary": ["/", "/panels/secretary", f"/panels/sessions/{s.id}", f"/panels/cases/{c.id}",
                      f"/panels/cases/{c.id}/statement", "/panels/sessions", "/panels/figures", "/profile"],
        "expert": ["/", "/panels/my-sessions", f"/panels/sessions/{s.id}", f"/panels/cases/{c.id}", "/profile"],
        "admin": ["/", "/admin/", "/admin/users", "/admin/users/new", "/admin/users/import", "/admin/units",
                  "/admin/expertise", "/panels/admin", f"/panels/admin/{panel.id}", "/panels/admin/read-log",
                  "/admin/outbox/", "/admin/outbox/?status=sent", "/admin/outbox/mail", "/accessibility"],
    }
    problems: dict = {}
    for who, paths in journeys.items():
        context = browser.new_context(viewport=PHONE, locale="fi-FI", timezone_id="Europe/Helsinki")
        try:
            page = context.new_page()
            page.set_default_timeout(15_000)
            _sign_in(page, base, r.people[who])
            for path in paths:
                _check(page, base + path, problems)
            if who == "admin":
                # an error state: a checkbox group in error is tied to its message, and still fits
                page.goto(base + "/admin/users/new")
                page.get_by_role("button", name="Tallenna").click()
                group = page.locator("fieldset#roles")
                assert group.get_attribute("aria-invalid") == "true"
                assert "roles-error" in (group.get_attribute("aria-describedby") or "")
                assert page.title().startswith("Virhe: ")
                page.locator(".error-summary a[href='#roles-0']").click()
                assert page.evaluate("document.activeElement.id") == "roles-0"
                if page.evaluate("document.documentElement.scrollWidth") > PHONE["width"]:
                    problems["user form with errors"] = "wider than the screen"
                if _axe(page):
                    problems["user form with errors (axe)"] = _axe(page)
        finally:
            context.close()
    assert not problems, problems


def test_on_a_phone_the_first_free_time_is_on_the_first_screen(browser, live_server, region):
    context = browser.new_context(viewport=PHONE, locale="fi-FI", timezone_id="Europe/Helsinki")
    try:
        page = context.new_page()
        _sign_in(page, live_server, region.people["worker"])
        page.goto(live_server + "/consultations/")
        filters = page.locator("details.filters-fold")
        assert filters.evaluate("d => d.open") is False  # folded away on a phone
        first = page.locator(".slot-day .slot .button").first
        box = first.bounding_box()
        assert box and box["y"] + box["height"] <= PHONE["height"], box
        # the filters are one tap away and work without JavaScript
        filters.locator("summary").click()
        page.get_by_label("Palvelu").select_option("lanu")
        page.get_by_role("button", name="Näytä ajat").click()
        assert page.locator("details.filters-fold").evaluate("d => d.open") is True
        assert page.locator(".slot-day").count() >= 1
        # on a wide screen they are open from the start
        page.set_viewport_size({"width": 1280, "height": 900})
        page.goto(live_server + "/consultations/")
        assert page.locator("details.filters-fold").evaluate("d => d.open") is True
    finally:
        context.close()


def test_cancelling_on_a_phone_asks_first(browser, live_server, region, db):
    from scheduler.consultations.models import Booking

    context = browser.new_context(viewport=PHONE, locale="fi-FI", timezone_id="Europe/Helsinki",
                                  java_script_enabled=False)
    try:
        page = context.new_page()
        _sign_in(page, live_server, region.people["worker"])
        page.goto(f"{live_server}/consultations/bookings/{region.booking.id}")
        page.get_by_role("link", name="Peru konsultaatio").click()
        assert page.get_by_role("heading", name="Perutaanko konsultaatio?").is_visible()
        assert "LANU-konsultaatio" in page.title()
        page.get_by_role("link", name="Ei, pidä varaus").click()
        db.session.expire_all()
        assert db.session.get(Booking, region.booking.id).status == "confirmed"
        page.get_by_role("link", name="Peru konsultaatio").click()
        page.get_by_role("button", name="Kyllä, peru konsultaatio").click()
        assert page.get_by_text("Konsultaatio peruttiin").is_visible()
        db.session.expire_all()
        assert db.session.get(Booking, region.booking.id).status == "cancelled"
    finally:
        context.close()


def test_swedish_content_on_a_phone(browser, live_server, region):
    """A Swedish-speaking social worker: her pages in Swedish, with dates in Swedish notation."""
    context = browser.new_context(viewport=PHONE, locale="sv-FI", timezone_id="Europe/Helsinki")
    problems: dict = {}
    try:
        page = context.new_page()
        _sign_in(page, live_server, region.people["swede"])
        page.goto(live_server + "/")
        assert page.locator("html").get_attribute("lang") == "sv"
        assert page.get_by_role("link", name="Boka konsultation").first.is_visible()
        page.goto(f"{live_server}/consultations/bookings/{region.swedish.id}")
        assert re.search(r"\b(mån|tis|ons|tors|fre|lör|sön) \d{1,2}\.\d{1,2}\.\d{4} kl\. 1\d\.\d\d",
                         page.locator("main").inner_text())
        for path in ["/", "/consultations/", "/consultations/mine", f"/consultations/bookings/{region.swedish.id}",
                     f"/consultations/bookings/{region.swedish.id}/cancel", "/profile", "/accessibility"]:
            _check(page, live_server + path, problems)
    finally:
        context.close()
    assert not problems, problems
