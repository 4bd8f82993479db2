"""Entra ID sign-in: the whole authorization-code flow through the HTTPS stand-in."""

from __future__ import annotations

from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import requests

from .fixtures_microsoft import ENTRA_CLIENT_ID, OTHER_TENANT_ID, TENANT_ID, DirectoryUser


def start(client, next_url=None):
    resp = client.get("/sign-in/entra" + (f"?next={next_url}" if next_url else ""))
    assert resp.status_code == 302, resp.get_data(as_text=True)[:500]
    return resp.headers["Location"]


def at_microsoft(auth_url):
    """The browser at the identity platform: it answers with a redirect back to our callback."""
    resp = requests.get(auth_url, allow_redirects=False, timeout=10)
    assert resp.status_code == 302, resp.text[:500]
    return resp.headers["Location"]


def back_to_us(client, callback_url):
    parts = urlsplit(callback_url)
    assert f"{parts.scheme}://{parts.netloc}" == "http://127.0.0.1:5000"
    assert parts.path == "/sign-in/entra/callback"
    return client.get(parts.path + "?" + parts.query)


def full_flow(client, next_url=None):
    return back_to_us(client, at_microsoft(start(client, next_url)))


def refused(client, resp):
    """A refusal sends the browser back to the sign-in page, which tells why. Returns that page."""
    assert resp.status_code == 302, resp.status_code
    assert resp.headers["Location"].endswith("/sign-in")
    page = client.get("/sign-in")
    assert page.status_code == 200
    return page.get_data(as_text=True)


def test_first_sign_in_links_the_account_and_starts_a_session(app, db, client, make_user, entra_settings):
    from scheduler.people.models import User, UserSession

    user = make_user(email="anna.aalto@hyvinvointialue.example", name="Anna Aalto")
    person = DirectoryUser(upn="Anna.Aalto@hyvinvointialue.example", name="Anna Aalto")
    entra_settings.sign_in_as(person)

    auth_url = start(client, next_url="/profile")
    q = {k: v[0] for k, v in parse_qs(urlsplit(auth_url).query).items()}
    assert urlsplit(auth_url).path == f"/{TENANT_ID}/oauth2/v2.0/authorize"
    assert q["client_id"] == ENTRA_CLIENT_ID
    assert q["redirect_uri"] == "http://127.0.0.1:5000/sign-in/entra/callback"
    assert q["response_type"] == "code"
    assert q["code_challenge_method"] == "S256" and q["code_challenge"]
    assert q["state"] and q["nonce"]
    assert "openid" in q["scope"].split()

    resp = back_to_us(client, at_microsoft(auth_url))
    assert resp.status_code == 302
    assert resp.headers["Location"].endswith("/profile")
    token_call = entra_settings.calls("POST", "/oauth2/v2.0/token")[-1]
    assert token_call.status == 200 and token_call.body["grant_type"] == "authorization_code"
    assert token_call.body["code_verifier"]

    page = client.get("/profile")
    assert page.status_code == 200
    assert "Anna Aalto" in page.get_data(as_text=True)
    db.session.expire_all()
    user = db.session.get(User, user.id)
    assert (user.entra_tenant_id, user.entra_object_id) == (TENANT_ID, person.oid)
    sessions = db.session.query(UserSession).filter_by(user_id=user.id).all()
    assert [s.method for s in sessions] == ["entra"]


def test_after_linking_only_tenant_and_object_id_count(app, db, client, make_user, entra_settings):
    make_user(email="ben@hyvinvointialue.example", name="Ben Berg")
    person = DirectoryUser(upn="ben@hyvinvointialue.example", name="Ben Berg")
    entra_settings.sign_in_as(person)
    assert full_flow(client).status_code == 302
    client.post("/sign-out", data={"csrf_token": _csrf(client)})

    # renamed in Entra: same tid + oid, new user name: still Ben
    renamed = DirectoryUser(upn="ben.berg@uusi.example", name="Ben Berg", oid=person.oid)
    entra_settings.sign_in_as(renamed)
    assert full_flow(client).status_code == 302
    assert "Ben Berg" in client.get("/profile").get_data(as_text=True)


def _csrf(client):
    from .conftest import csrf_token

    return csrf_token(client, "/profile")


def test_an_account_linked_to_another_object_id_is_refused(app, db, client, make_user, entra_settings):
    from scheduler.people.models import User

    user = make_user(email="cecilia@hyvinvointialue.example", name="Cecilia")
    user.entra_tenant_id, user.entra_object_id = TENANT_ID, "11111111-0000-4000-8000-000000000000"
    db.session.commit()
    entra_settings.sign_in_as(DirectoryUser(upn="cecilia@hyvinvointialue.example", name="Cecilia"))
    resp = full_flow(client)
    assert "linkitetty toiseen Microsoft-tiliin" in refused(client, resp)
    assert client.get("/profile").status_code == 302  # not signed in
    db.session.expire_all()
    assert db.session.get(User, user.id).entra_object_id == "11111111-0000-4000-8000-000000000000"


def test_another_tenant_is_refused(app, db, client, make_user, entra_settings):
    from scheduler.people.models import User

    user = make_user(email="dan@muu.example", name="Dan")
    entra_settings.sign_in_as(DirectoryUser(upn="dan@muu.example", name="Dan", tid=OTHER_TENANT_ID))
    resp = full_flow(client)
    assert "toiseen organisaatioon" in refused(client, resp)
    db.session.expire_all()
    assert db.session.get(User, user.id).entra_object_id is None
    assert client.get("/profile").status_code == 302


def test_a_disabled_account_is_refused(app, db, client, make_user, entra_settings):
    user = make_user(email="eeva@hyvinvointialue.example", name="Eeva")
    person = DirectoryUser(upn="eeva@hyvinvointialue.example", name="Eeva")
    entra_settings.sign_in_as(person)
    assert full_flow(client).status_code == 302
    client.post("/sign-out", data={"csrf_token": _csrf(client)})
    user.is_active = False
    db.session.commit()
    resp = full_flow(client)
    assert "poistettu käytöstä" in refused(client, resp)
    assert client.get("/profile").status_code == 302


def test_a_disabled_unlinked_account_is_not_linked(app, db, client, make_user, entra_settings):
    from scheduler.people.models import User

    user = make_user(email="frans@hyvinvointialue.example", name="Frans")
    user.is_active = False
    db.session.commit()
    entra_settings.sign_in_as(DirectoryUser(upn="frans@hyvinvointialue.example", name="Frans"))
    refused(client, full_flow(client))
    db.session.expire_all()
    assert db.session.get(User, user.id).entra_object_id is None


def test_no_account_gives_a_clear_message_in_the_users_language(app, client, entra_settings):
    from .conftest import csrf_token

    entra_settings.sign_in_as(DirectoryUser(upn="nobody@hyvinvointialue.example", name="Nobody"))
    resp = full_flow(client)
    assert "Pyydä ylläpitäjää luomaan se sinulle" in refused(client, resp)

    client.post("/language", data={"lang": "sv", "csrf_token": csrf_token(client, "/sign-in")})
    resp = full_flow(client)
    assert "Be administratören skapa ett åt dig" in refused(client, resp)


def test_a_wrong_state_is_refused(app, db, client, make_user, entra_settings):
    make_user(email="gun@hyvinvointialue.example", name="Gun")
    entra_settings.sign_in_as(DirectoryUser(upn="gun@hyvinvointialue.example", name="Gun"))
    callback = at_microsoft(start(client))
    parts = urlsplit(callback)
    q = {k: v[0] for k, v in parse_qs(parts.query).items()}
    q["state"] = "forged-" + q["state"]
    resp = client.get(parts.path + "?" + urlencode(q))
    assert "Kirjautumista ei voitu varmistaa" in refused(client, resp)
    assert client.get("/profile").status_code == 302
    # the code was never redeemed
    assert entra_settings.calls("POST", "/oauth2/v2.0/token") == []


def test_a_callback_without_a_started_flow_is_refused(app, client, entra_settings):
    resp = client.get("/sign-in/entra/callback?code=abc&state=xyz")
    refused(client, resp)
    assert client.get("/profile").status_code == 302


def test_a_cancelled_sign_in_says_so(app, client, entra_settings):
    entra_settings.authorize_error = ("access_denied", "AADSTS65004: User declined to consent.")
    resp = full_flow(client)
    assert "peruttiin" in refused(client, resp)


def test_entra_off_means_no_button_and_no_routes(app, client):
    assert client.get("/sign-in/entra").status_code == 404
    assert client.get("/sign-in/entra/callback").status_code == 404
    assert "/sign-in/entra" not in client.get("/sign-in").get_data(as_text=True)


def test_sign_in_page_links_to_entra_when_on(app, client, entra_settings):
    html = client.get("/sign-in").get_data(as_text=True)
    assert 'href="/sign-in/entra' in html


def test_id_token_claim_checks(app):
    import time

    import pytest

    from scheduler.core.errors import DomainError
    from scheduler.people.entra import check_id_token_claims

    base = "https://login.example"
    good = {"iss": f"{base}/{TENANT_ID}/v2.0", "aud": ENTRA_CLIENT_ID, "tid": TENANT_ID,
            "exp": time.time() + 600, "iat": time.time()}
    check_id_token_claims(good, authority_url=base, client_id=ENTRA_CLIENT_ID)
    for bad in ({"aud": "someone-else"}, {"iss": f"{base}/{OTHER_TENANT_ID}/v2.0"},
                {"exp": time.time() - 3600}, {"tid": ""}):
        with pytest.raises(DomainError):
            check_id_token_claims({**good, **bad}, authority_url=base, client_id=ENTRA_CLIENT_ID)


def test_cli_shows_and_removes_a_link(app, db, make_user):
    from scheduler.people.entra import entra_cli
    from scheduler.people.models import User

    user = make_user(email="hanna@hyvinvointialue.example")
    user.entra_tenant_id, user.entra_object_id = TENANT_ID, "22222222-0000-4000-8000-000000000000"
    db.session.commit()
    runner = app.test_cli_runner()
    out = runner.invoke(entra_cli, ["show", "Hanna@hyvinvointialue.example"])
    assert out.exit_code == 0 and "22222222-0000-4000-8000-000000000000" in out.output
    out = runner.invoke(entra_cli, ["unlink", "hanna@hyvinvointialue.example"])
    assert out.exit_code == 0, out.output
    db.session.expire_all()
    assert db.session.get(User, user.id).entra_object_id is None
    assert runner.invoke(entra_cli, ["unlink", "nobody@example.fi"]).exit_code != 0


def test_after_unlinking_the_next_sign_in_links_the_new_microsoft_account(app, db, client, make_user, entra_settings):
    from scheduler.people.entra import entra_cli
    from scheduler.people.models import User

    user = make_user(email="ilkka@hyvinvointialue.example", name="Ilkka")
    user.entra_tenant_id, user.entra_object_id = TENANT_ID, "33333333-0000-4000-8000-000000000000"
    db.session.commit()
    person = DirectoryUser(upn="ilkka@hyvinvointialue.example", name="Ilkka")
    entra_settings.sign_in_as(person)
    refused(client, full_flow(client))
    assert app.test_cli_runner().invoke(entra_cli, ["unlink", "ilkka@hyvinvointialue.example"]).exit_code == 0
    assert full_flow(client).status_code == 302
    db.session.expire_all()
    assert db.session.get(User, user.id).entra_object_id == person.oid


def test_an_unreachable_identity_platform_gives_a_clear_message(app, client, entra_settings):
    from .conftest import free_port

    app.config["ENTRA_AUTHORITY_URL"] = f"https://127.0.0.1:{free_port()}"  # nobody listens there
    resp = client.get("/sign-in/entra")
    assert "ei ole juuri nyt käytettävissä" in refused(client, resp)


def test_a_failing_discovery_document_gives_the_unavailable_message(app, client, entra_settings):
    """Microsoft's OpenID configuration answers 500/503 (msal raises MsalServiceError): the person sees
    the same 'not available right now' message as for a timeout, never a server error."""
    for status in (500, 503):
        from scheduler.people import entra

        entra.forget_entra_clients()
        entra_settings.fail_next(status, path_contains="/.well-known/openid-configuration")
        resp = client.get("/sign-in/entra")
        assert "ei ole juuri nyt käytettävissä" in refused(client, resp)
        assert entra_settings.calls("GET", "/.well-known/openid-configuration", status=status)


@pytest.mark.parametrize("status,text", [(500, None), (503, "<html><body>Service Unavailable</body></html>")])
def test_a_failing_token_endpoint_gives_the_unavailable_message(app, db, client, make_user, entra_settings,
                                                                status, text):
    """The token endpoint answers 5xx (JSON or an HTML error page) when the code is redeemed."""
    from scheduler.people import entra

    make_user(email="hilda@hyvinvointialue.example", name="Hilda")
    entra_settings.sign_in_as(DirectoryUser(upn="hilda@hyvinvointialue.example", name="Hilda"))
    callback = at_microsoft(start(client))
    entra_settings.fail_next(status, path_contains="/oauth2/v2.0/token", text=text)
    resp = back_to_us(client, callback)
    assert "ei ole juuri nyt käytettävissä" in refused(client, resp)
    assert entra_settings.calls("POST", "/oauth2/v2.0/token", status=status)
    assert client.get("/profile").status_code == 302  # not signed in
    # once Microsoft answers again, the sign-in works (msal holds a 5xx answer back for a few
    # seconds per client; a fresh client stands for "a little later")
    entra.forget_entra_clients()
    assert full_flow(client).status_code == 302
    assert client.get("/profile").status_code == 200
