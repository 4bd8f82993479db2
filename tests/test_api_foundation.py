def test_me(api, make_user, make_unit):
    unit = make_unit(code="LANU-X", kind="lanu")
    user = make_user(roles=("consultant", "expert"), units=[unit], language="sv", name="Lauri")
    resp = api(user).get("/api/v1/me")
    assert resp.status_code == 200
    body = resp.json
    assert body["email"] == user.email and body["name"] == "Lauri" and body["language"] == "sv"
    assert body["roles"] == ["consultant", "expert"]
    assert body["units"][0]["code"] == "LANU-X"


def test_missing_or_bad_token_is_json_401(client):
    for headers in [{}, {"Authorization": "Bearer nope"}, {"Authorization": "Basic abc"}]:
        resp = client.get("/api/v1/me", headers=headers)
        assert resp.status_code == 401
        assert set(resp.json["error"]) == {"code", "message", "fields"}
        assert resp.json["error"]["code"] == "unauthorized"


def test_disabled_user_token_stops_working(api, make_user, db):
    from scheduler.people.services import disable_user

    user = make_user()
    c = api(user)
    assert c.get("/api/v1/me").status_code == 200
    disable_user(user)
    db.session.commit()
    assert c.get("/api/v1/me").status_code == 401


def test_unknown_api_path_is_json_404(api, make_user):
    resp = api(make_user()).get("/api/v1/nothing-here")
    assert resp.status_code == 404 and resp.json["error"]["code"] == "not_found"


def test_openapi_document(client):
    resp = client.get("/api/v1/openapi.json")
    assert resp.status_code == 200
    doc = resp.json
    assert doc["openapi"].startswith("3.")
    assert "/api/v1/me" in doc["paths"] and "get" in doc["paths"]["/api/v1/me"]
    assert doc["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"


def test_api_responses_are_not_cached(api, make_user):
    assert api(make_user()).get("/api/v1/me").headers["Cache-Control"] == "no-store"
