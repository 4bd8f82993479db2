"""The foundation in a real headless Chromium (SQLite only): the sign-in journey with the language
switch, and axe-core on the main pages and the admin pages (no serious or critical violations)."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

pytestmark = pytest.mark.browser

SERIOUS = {"serious", "critical"}


def _axe(page) -> list[str]:
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page, options={"resultTypes": ["violations"],
                                       "runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"]}})
    return [
        f"{v['id']} ({v['impact']}): {v['help']} — " + "; ".join(n["target"][0] if n["target"] else "?" for n in v["nodes"][:3])
        for v in results.response["violations"]
        if v.get("impact") in SERIOUS
    ]


def _sign_in(page, base, email, password):
    page.goto(base + "/sign-in")
    page.get_by_label("Sähköpostiosoite").fill(email)
    page.get_by_label("Salasana").fill(password)
    page.get_by_role("button", name="Kirjaudu sisään").click()
    page.wait_for_url(base + "/")


def test_sign_in_switch_to_swedish_and_back_see_own_name_sign_out(page, live_server, make_user, db):
    from .conftest import TEST_PASSWORD

    user = make_user(email="sanna@example.fi", name="Sanna Sosiaalityöntekijä", language="fi")
    _sign_in(page, live_server, "sanna@example.fi", TEST_PASSWORD)
    assert page.locator("html").get_attribute("lang") == "fi"
    page.get_by_role("heading", level=1).filter(has_text="Sanna Sosiaalityöntekijä").wait_for()
    assert page.locator(".user-name").inner_text() == "Sanna Sosiaalityöntekijä"

    # to Swedish on the profile page: the page stays, the language is remembered
    page.get_by_role("navigation", name="Päävalikko").get_by_role("link", name="Omat tiedot").click()
    page.wait_for_url(live_server + "/profile")
    page.get_by_role("button", name="På svenska (SV)").click()
    page.wait_for_url(live_server + "/profile")
    assert page.locator("html").get_attribute("lang") == "sv"
    page.get_by_role("heading", level=1, name="Min profil").wait_for()
    assert page.get_by_role("button", name="På svenska (SV)").get_attribute("aria-current") == "true"
    db.session.expire_all()
    assert db.session.get(type(user), user.id).language == "sv"
    page.get_by_role("navigation", name="Huvudmeny").get_by_role("link", name="Startsida").click()
    page.get_by_role("heading", level=1).filter(has_text="Sanna Sosiaalityöntekijä").wait_for()
    assert "Välkommen" in page.get_by_role("heading", level=1).inner_text()

    # and back to Finnish
    page.get_by_role("button", name="Suomeksi (FI)").click()
    page.wait_for_url(live_server + "/")
    assert page.locator("html").get_attribute("lang") == "fi"
    assert "Tervetuloa" in page.get_by_role("heading", level=1).inner_text()

    # sign out: back on the sign-in page, and the home page asks to sign in again
    page.get_by_role("button", name="Kirjaudu ulos").click()
    page.wait_for_url(re.compile(r".*/sign-in$"))
    page.get_by_text("Olet kirjautunut ulos.").wait_for()
    page.goto(live_server + "/")
    assert "/sign-in" in page.url
    assert page.locator(".user-name").count() == 0


def test_the_error_summary_gets_the_focus(page, live_server, make_user):
    page.goto(live_server + "/sign-in")
    page.get_by_role("button", name="Kirjaudu sisään").click()
    summary = page.locator(".error-summary")
    summary.wait_for()
    page.wait_for_load_state()
    assert page.evaluate("document.activeElement.classList.contains('error-summary')")
    # the link in the summary leads to the field
    summary.get_by_role("link", name="Kirjoita sähköpostiosoitteesi.").click()
    assert page.evaluate("location.hash") == "#email"


def test_axe_main_pages(page, live_server, make_user):
    from .conftest import TEST_PASSWORD

    make_user(email="worker@example.fi", name="Wilma Worker")
    problems = {}
    for path in ["/sign-in", "/accessibility"]:
        page.goto(live_server + path)
        problems[path] = _axe(page)
    page.get_by_role("link", name="Saavutettavuusseloste").wait_for()
    # a failed sign-in: the error state
    page.goto(live_server + "/sign-in")
    page.get_by_label("Sähköpostiosoite").fill("worker@example.fi")
    page.get_by_label("Salasana").fill("wrong wrong wrong")
    page.get_by_role("button", name="Kirjaudu sisään").click()
    page.locator(".error-summary").wait_for()
    problems["/sign-in (error)"] = _axe(page)

    _sign_in(page, live_server, "worker@example.fi", TEST_PASSWORD)
    for path in ["/", "/profile", "/accessibility"]:
        page.goto(live_server + path)
        problems[path + " (signed in)"] = _axe(page)
    for lang in ["SV", "EN"]:
        page.goto(live_server + "/profile")
        page.get_by_role("button", name=re.compile(rf"\({lang}\)")).click()
        page.wait_for_url(live_server + "/profile")
        problems[f"/profile ({lang})"] = _axe(page)
    bad = {k: v for k, v in problems.items() if v}
    assert not bad, bad


def test_axe_admin_pages(page, live_server, make_user, make_unit, db):
    from .conftest import TEST_PASSWORD

    unit = make_unit(code="LS-ROI", name="Rovaniemen lastensuojelu")
    person = make_user(email="person@example.fi", name="Pekka Person", units=[unit])
    make_user(email="boss@example.fi", roles=("admin",), name="Aino Ylläpitäjä")
    _sign_in(page, live_server, "boss@example.fi", TEST_PASSWORD)
    pages = ["/admin/", "/admin/units", "/admin/units/new", f"/admin/units/{unit.id}", "/admin/users",
             "/admin/users?q=pekka&role=social_worker", "/admin/users/new", f"/admin/users/{person.id}",
             "/admin/users/import", "/admin/expertise", "/admin/expertise/legal"]
    problems = {}
    for path in pages:
        page.goto(live_server + path)
        problems[path] = _axe(page)

    # error states: an empty new user, a bad CSV file
    page.goto(live_server + "/admin/users/new")
    page.get_by_role("button", name="Tallenna").click()
    page.locator(".error-summary").wait_for()
    page.wait_for_load_state()
    assert page.evaluate("document.activeElement.classList.contains('error-summary')")
    problems["/admin/users/new (errors)"] = _axe(page)

    csv_path = Path(os.environ.get("TMPDIR", "/tmp")) / f"foundation-axe-{os.getpid()}.csv"
    csv_path.write_text("email,name,roles\nbroken,Bad,social_worker\nok@example.fi,Ok,nobody\n", encoding="utf-8")
    try:
        page.goto(live_server + "/admin/users/import")
        page.get_by_label("CSV-tiedosto", exact=True).set_input_files(str(csv_path))
        page.get_by_role("button", name="Tuo").click()
        page.locator(".error-summary").wait_for()
        assert page.locator(".error-summary tbody tr").count() == 2
        problems["/admin/users/import (errors)"] = _axe(page)
    finally:
        csv_path.unlink(missing_ok=True)
    bad = {k: v for k, v in problems.items() if v}
    assert not bad, bad


def test_phone_width_has_no_sideways_scrolling(browser, live_server, make_user):
    from .conftest import TEST_PASSWORD

    make_user(email="phone@example.fi", name="Puhelin Käyttäjä", roles=("admin", "social_worker"))
    context = browser.new_context(viewport={"width": 360, "height": 740}, locale="fi-FI")
    try:
        page = context.new_page()
        _sign_in(page, live_server, "phone@example.fi", TEST_PASSWORD)
        for path in ["/", "/profile", "/accessibility", "/admin/", "/admin/users", "/admin/users/import"]:
            page.goto(live_server + path)
            overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
            assert overflow <= 0, (path, overflow)
    finally:
        context.close()


def test_the_font_is_self_hosted(page, live_server):
    page.goto(live_server + "/sign-in")
    page.evaluate("document.fonts.ready")
    assert page.evaluate("document.fonts.check('16px \"Source Sans 3\"')")
    loaded = page.evaluate("[...document.fonts].filter(f => f.status === 'loaded').map(f => f.family)")
    assert any("Source Sans 3" in f for f in loaded)
