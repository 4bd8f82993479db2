def test_security_headers_on_every_response(client):
    for path in ["/sign-in", "/healthz", "/static/app.css", "/nope"]:
        resp = client.get(path)
        csp = resp.headers["Content-Security-Policy"]
        assert "object-src 'none'" in csp and "base-uri 'none'" in csp and "frame-ancestors 'none'" in csp
        assert resp.headers["X-Content-Type-Options"] == "nosniff"
        assert resp.headers["Referrer-Policy"] in {"no-referrer", "strict-origin-when-cross-origin", "same-origin"}
        assert "Strict-Transport-Security" not in resp.headers  # http in tests


def test_hsts_and_secure_cookie_when_https(app, make_user):

    old = dict(app.config)
    app.config.update(HTTPS=True, SESSION_COOKIE_SECURE=True)
    try:
        client = app.test_client()
        resp = client.get("/sign-in", base_url="https://localhost")
        assert "max-age=" in resp.headers["Strict-Transport-Security"]
    finally:
        app.config.update(HTTPS=old["HTTPS"], SESSION_COOKIE_SECURE=old["SESSION_COOKIE_SECURE"])


def test_session_cookie_flags(app, client, make_user):
    from .conftest import sign_in

    resp = sign_in(client, make_user())
    cookie = resp.headers.get("Set-Cookie")
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_signed_in_pages_are_not_stored(client, make_user):
    from .conftest import sign_in

    sign_in(client, make_user())
    assert client.get("/").headers["Cache-Control"] == "no-store"


def test_healthz_ok(client):
    resp = client.get("/healthz")
    assert resp.status_code == 200 and resp.json["status"] == "ok"


def test_healthz_503_when_database_does_not_answer(tmp_path, monkeypatch):
    monkeypatch.setenv("INSTANCE_PATH", str(tmp_path))
    from scheduler import create_app

    app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": "postgresql+psycopg://nobody@127.0.0.1:1/none",
                      "SQLALCHEMY_ENGINE_OPTIONS": {"connect_args": {"connect_timeout": 2}}})
    resp = app.test_client().get("/healthz")
    assert resp.status_code == 503 and resp.json["status"] != "ok"


def test_language_switch_stays_on_page_and_is_remembered(client, make_user, db):
    from .conftest import csrf_token, sign_in

    user = make_user(language="fi")
    sign_in(client, user)
    assert "Kirjaudu ulos" in client.get("/profile").get_data(as_text=True)
    token = csrf_token(client, "/profile")
    resp = client.post("/language", data={"csrf_token": token, "lang": "sv", "next": "/profile"})
    assert resp.headers["Location"] == "/profile"
    page = client.get("/profile").get_data(as_text=True)
    assert 'lang="sv"' in page and "Logga ut" in page
    db.session.refresh(user)
    assert user.language == "sv"


def test_language_switch_is_not_a_get(client):
    assert client.get("/language?lang=sv").status_code == 405


def test_anonymous_language_from_accept_language(client):
    page = client.get("/sign-in", headers={"Accept-Language": "en-GB,en;q=0.9"}).get_data(as_text=True)
    assert 'lang="en"' in page and "Sign in" in page
    page = client.get("/sign-in").get_data(as_text=True)
    assert 'lang="fi"' in page and "Kirjaudu" in page


def _explicitly_exempt(app, rule) -> bool:
    """A view or blueprint marked with csrf.exempt (a deliberate decision, e.g. the API with its
    bearer tokens, or an identity provider's form_post callback) is left out of the sweep."""
    from scheduler.extensions import csrf

    view = app.view_functions[rule.endpoint]
    blueprint = app.blueprints.get(rule.endpoint.rpartition(".")[0])
    return f"{view.__module__}.{view.__name__}" in csrf._exempt_views or blueprint in csrf._exempt_blueprints


def _sample_url(app, rule):
    from werkzeug.routing import IntegerConverter

    values = {}
    for arg in rule.arguments:
        conv = rule._converters.get(arg)
        values[arg] = 1 if isinstance(conv, IntegerConverter) else "x"
    with app.test_request_context():
        from flask import url_for

        return url_for(rule.endpoint, **values)


def test_every_state_changing_form_needs_a_csrf_token(app, client, make_user):
    """Every non-API route that accepts POST (from any domain) refuses a POST without the token,
    signed in or not, before anything happens."""
    user = make_user(roles=("admin", "social_worker", "consultant", "secretary", "expert"))
    rules = [r for r in app.url_map.iter_rules()
             if {"POST", "PUT", "PATCH", "DELETE"} & (r.methods or set())
             and not _explicitly_exempt(app, r)]
    assert len(rules) >= 8  # sign-in, sign-out, language, profile, admin forms, …
    anonymous = app.test_client()
    from .conftest import sign_in

    sign_in(client, user)
    for rule in rules:
        url = _sample_url(app, rule)
        for c in (anonymous, client):
            assert c.post(url, data={"x": "1"}).status_code == 400, url
    assert client.get("/").status_code == 200  # still signed in: the sign-out POST did nothing


def test_api_method_not_allowed_is_json(api, make_user):
    resp = api(make_user()).post("/api/v1/me")
    assert resp.status_code == 405 and resp.json["error"]["code"] == "method_not_allowed"


def test_pages_are_not_cached_once_signed_in_but_static_files_are(client, make_user):
    from .conftest import sign_in

    assert "no-store" not in client.get("/sign-in").headers.get("Cache-Control", "")
    sign_in(client, make_user())
    for path in ["/", "/profile", "/accessibility"]:
        assert client.get(path).headers["Cache-Control"] == "no-store", path
    assert client.get("/static/app.css").headers.get("Cache-Control", "") != "no-store"


def test_accessibility_statement_in_three_languages(app, client):
    """Law 306/2019: compliance status, content that is not accessible, a feedback channel answered
    within 14 days (ACCESSIBILITY_FEEDBACK_EMAIL, a mailbox that is read: never the no-reply sender),
    the supervisory authority with its contact details in full. Public."""
    app.config["ACCESSIBILITY_FEEDBACK_EMAIL"] = "saavutettavuus@hyvinvointialue.example.fi"
    expected = {
        "fi": ["Saavutettavuusseloste", "täyttää saavutettavuusvaatimukset osittain", "Ei-saavutettava sisältö",
               "14 päivän", "Liikenne- ja viestintävirasto Traficom", "Saavutettavuusvalvonta", "306/2019"],
        "sv": ["Tillgänglighetsutlåtande", "uppfyller tillgänglighetskraven delvis", "inte är tillgängligt",
               "14 dagar", "Transport- och kommunikationsverket Traficom", "Tillgänglighetstillsynen"],
        "en": ["Accessibility statement", "partially meets", "Content that is not accessible", "14 days",
               "Finnish Transport and Communications Agency Traficom", "Accessibility supervision"],
    }
    for lang, phrases in expected.items():
        resp = client.get("/accessibility", headers={"Accept-Language": lang})
        html = resp.get_data(as_text=True)
        assert resp.status_code == 200 and f'lang="{lang}"' in html
        for phrase in phrases:
            assert phrase in html, (lang, phrase)
        assert "www.saavutettavuusvaatimukset.fi" in html
        assert "mailto:saavutettavuus@traficom.fi" in html and "029 534 5000" in html and "00059 TRAFICOM" in html
        assert 'href="mailto:saavutettavuus@hyvinvointialue.example.fi"' in html
        assert f'mailto:{app.config["MAIL_FROM"]}' not in html
    # every page links to it
    assert 'href="/accessibility"' in client.get("/sign-in").get_data(as_text=True)
    # not set (development): no fallback to the no-reply sender, the page says so
    app.config["ACCESSIBILITY_FEEDBACK_EMAIL"] = ""
    html = client.get("/accessibility").get_data(as_text=True)
    assert "ACCESSIBILITY_FEEDBACK_EMAIL" in html and f'mailto:{app.config["MAIL_FROM"]}' not in html
