"""A journey through the admin's outbox pages in a real browser, with an accessibility check."""

from __future__ import annotations

import pytest
from flask import current_app

from scheduler.delivery.mail import queue_email
from scheduler.delivery.outbox import PermanentFailure, deliver_due, enqueue, register_handler

from .conftest import TEST_PASSWORD

pytestmark = pytest.mark.browser


def _axe(page):
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page)
    return [(v["id"], v["impact"]) for v in results.response["violations"]]


def test_admin_reads_the_outbox_retries_and_opens_a_saved_email(page, live_server, db, make_user, mail_folder):
    admin = make_user(email="paakayttaja@example.fi", roles=("admin",), language="fi")
    register_handler(current_app, "test-refused", lambda msg: (_ for _ in ()).throw(PermanentFailure("550 5.1.1 No such user")))
    enqueue("test-refused", {"to": ["ei-ole@example.fi"], "subject": "Kutsu"})
    queue_email("sanna@example.fi", "Kutsu: LANU – konsultaatio", "Tervetuloa konsultaatioon.", "<p>Tervetuloa</p>")
    db.session.commit()
    deliver_due()

    page.goto(live_server + "/sign-in")
    page.get_by_label("Sähköpostiosoite").fill(admin.email)
    page.get_by_label("Salasana").fill(TEST_PASSWORD)
    page.get_by_role("button", name="Kirjaudu sisään").click()
    page.get_by_role("navigation", name="Päävalikko").get_by_role("link", name="Lähtevät viestit").click()
    assert page.get_by_role("heading", level=1).inner_text() == "Lähtevät viestit"
    row = page.locator("tr", has_text="ei-ole@example.fi")
    assert "550 5.1.1 No such user" in row.inner_text()
    assert _axe(page) == []
    row.get_by_role("button", name="Yritä uudelleen").click()
    assert "lähetetään uudelleen" in page.locator(".flashes").inner_text()

    page.get_by_role("link", name="Lue tallennetut sähköpostit").click()
    page.get_by_role("link", name="Kutsu: LANU – konsultaatio").click()
    assert "Tervetuloa konsultaatioon." in page.locator("pre.mail-text").inner_text()
    assert _axe(page) == []
