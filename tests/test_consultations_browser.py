"""A real browser: a social worker books a LANU time, sees it under "My consultations" and cancels
it; axe finds no serious or critical accessibility violations on the consultation pages."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from scheduler.core.db import utcnow
from scheduler.core.timefmt import to_local

from .conftest import TEST_PASSWORD


@pytest.fixture
def lanu_hours(db, world, make_series):
    from scheduler.consultations.slots import build_rrule

    first = to_local(utcnow()).replace(tzinfo=None, hour=13, minute=0, second=0, microsecond=0) + timedelta(days=3)
    return make_series(world.doctor, world.lanu, title="LANU-konsultaatio", first_start=first,
                       rrule=build_rrule("weekly", first.date()), now=utcnow(), slots=2)


def sign_in(page, base, user):
    page.goto(f"{base}/sign-in")
    page.get_by_label("Sähköpostiosoite").fill(user.email)
    page.get_by_label("Salasana").fill(TEST_PASSWORD)
    page.get_by_role("button", name="Kirjaudu sisään").click()
    page.wait_for_url(f"{base}/")


def serious_violations(page) -> list:
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page)
    return [(v["id"], v["impact"], [n["target"] for n in v["nodes"]][:3])
            for v in results.response["violations"] if v["impact"] in ("serious", "critical")]


def test_social_worker_books_lanu_time_and_cancels(page, live_server, world, lanu_hours):
    sign_in(page, live_server, world.worker)
    page.get_by_role("link", name="Varaa konsultaatio").first.click()
    page.get_by_label("Palvelu").select_option("lanu")
    page.get_by_role("button", name="Näytä ajat").click()
    page.get_by_role("link", name=re.compile(r"^Varaa LANU-konsultaatio")).first.click()
    page.get_by_label("Asian tunniste").fill("LS-2027-014")
    page.get_by_label("Kysymyksesi").fill("Nuoren ahdistus ja koulupoissaolot: tarvitaanko LANUn arvio?")
    page.get_by_role("button", name="Vahvista varaus").click()
    assert page.get_by_text("Konsultaatio on varattu").is_visible()
    assert page.get_by_text("Järjestäjä lähettää Teams-linkin").is_visible()

    page.get_by_role("link", name="Omat konsultaatiot").first.click()
    row = page.get_by_role("row", name="LS-2027-014")
    assert row.get_by_text("Vahvistettu").is_visible()
    row.get_by_role("link").first.click()
    page.get_by_role("link", name="Peru konsultaatio").click()  # a confirmation step first
    page.get_by_role("button", name="Kyllä, peru konsultaatio").click()
    assert page.get_by_text("Konsultaatio peruttiin").is_visible()
    assert page.get_by_role("row", name="LS-2027-014").get_by_text("Peruttu").is_visible()


def test_booking_form_errors_focus_the_summary(page, live_server, world, lanu_hours):
    sign_in(page, live_server, world.worker)
    page.goto(f"{live_server}/consultations/")
    page.get_by_role("link", name=re.compile(r"^Varaa LANU-konsultaatio")).first.click()
    page.get_by_role("button", name="Vahvista varaus").click()
    summary = page.locator(".error-summary")
    assert summary.is_visible()
    assert page.evaluate("document.activeElement.classList.contains('error-summary')")
    assert page.get_by_text("Kirjoita asiatunniste (ei nimiä).").first.is_visible()


def test_consultation_pages_pass_axe(page, live_server, db, world, lanu_hours):
    from scheduler.consultations import services as svc

    d = to_local(utcnow()).date()
    sv, free = svc.list_slots(actor=world.worker, flt=svc.SlotFilter(date_from=d, date_to=d + timedelta(days=30)))[:2]
    b = svc.run_atomically(lambda: svc.book_slot(actor=world.worker, slot_id=sv.id, case_ref="X-1", question="Q"))
    sign_in(page, live_server, world.worker)
    problems = {}
    for path in ("/consultations/", f"/consultations/book/{free.id}", "/consultations/mine",
                 f"/consultations/bookings/{b.id}", f"/consultations/bookings/{b.id}/reschedule"):
        page.goto(live_server + path)
        problems[path] = serious_violations(page)
    page.goto(f"{live_server}/consultations/book/{free.id}")
    page.get_by_role("button", name="Vahvista varaus").click()  # the page with errors
    problems["book with errors"] = serious_violations(page)
    page.goto(f"{live_server}/")
    page.get_by_role("button", name="Kirjaudu ulos").click()
    sign_in(page, live_server, world.doctor)
    for path in ("/consultations/hosting", "/consultations/series/new", f"/consultations/series/{lanu_hours.id}",
                 f"/consultations/series/{lanu_hours.id}/occurrences/{sv.occurrence.key}"):
        page.goto(live_server + path)
        problems[path] = serious_violations(page)
    assert {k: v for k, v in problems.items() if v} == {}
