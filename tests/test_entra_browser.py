"""Entra ID sign-in in a real browser: our page → the identity platform stand-in → back, signed in."""

from __future__ import annotations

import pytest

from .fixtures_microsoft import ENTRA_CLIENT_ID, DirectoryUser

pytestmark = pytest.mark.browser


def test_sign_in_with_microsoft_in_chromium(app, db, make_user, entra_settings, browser, live_server):
    saved = app.config["BASE_URL"]
    app.config["BASE_URL"] = live_server  # the redirect URI must point at this live server
    entra_settings.register_redirect_uri(ENTRA_CLIENT_ID, live_server + "/sign-in/entra/callback")
    make_user(email="aino.aaltonen@hyvinvointialue.example", name="Aino Aaltonen")
    entra_settings.sign_in_as(DirectoryUser(upn="aino.aaltonen@hyvinvointialue.example", name="Aino Aaltonen"))
    # the stand-in's certificate comes from the test CA, which Chromium does not know
    context = browser.new_context(locale="fi-FI", timezone_id="Europe/Helsinki", ignore_https_errors=True)
    try:
        page = context.new_page()
        page.set_default_timeout(15_000)
        page.goto(live_server + "/sign-in")
        page.click("a[href^='/sign-in/entra']")
        page.wait_for_url(live_server + "/")
        assert "Aino Aaltonen" in page.content()
        assert entra_settings.calls("GET", "/oauth2/v2.0/authorize")
        assert [r.status for r in entra_settings.calls("POST", "/oauth2/v2.0/token")] == [200]
    finally:
        context.close()
        app.config["BASE_URL"] = saved
