# ruff: noqa: F811  (the shared fixtures are imported by name, then requested as arguments)
"""The pages' one error handler: a missing object is its 404 page, a forbidden one its 403 page, and
any other refusal of a form post a message back on the page the person came from (same site only).
And the shared form layer: text hygiene on every text field, the e-mail's length on sign-in."""

from __future__ import annotations

from sqlalchemy import func, select

from .conftest import csrf_token, sign_in
from .panels_fixtures import CASE, submit


def test_a_post_to_a_missing_object_is_its_404_page(client, panel, people, db):
    sign_in(client, people["worker"])
    token = csrf_token(client, "/panels/")
    for path, says in [("/panels/cases/2147483647/withdraw", "Asiaa ei löydy."),
                       (f"/panels/{2**31 - 1}/cases/new", "Työryhmää ei löydy."),
                       (f"/panels/cases/{2**31}/withdraw", "Sivua ei löytynyt.")]:
        resp = client.post(path, data={"csrf_token": token})
        assert resp.status_code == 404, path
        assert f"<h1>{says}</h1>" in resp.get_data(as_text=True)


def test_a_refused_post_is_a_message_back_on_the_page_it_came_from(client, panel, people, db):
    case = submit(db, panel, people["worker"])
    sign_in(client, people["secretary"])
    token = csrf_token(client, f"/panels/cases/{case.id}")
    # a second accept is "already accepted" (a guarded transition), so the refusal here is of a declined case
    assert client.post(f"/panels/cases/{case.id}/decline",
                       data={"csrf_token": token, "message": "Ei paneelin asia."}).status_code == 302

    # accepting a declined case is refused (Conflict): back to the page it came from, with the reason
    came_from = "http://localhost/panels/secretary?x=1"
    resp = client.post(f"/panels/cases/{case.id}/accept", data={"csrf_token": token}, headers={"Referer": came_from})
    assert resp.status_code == 302 and resp.headers["Location"] == "/panels/secretary?x=1"
    assert "Asia on hylätty." in client.get("/panels/secretary").get_data(as_text=True)

    # without a Referer (or with another site's): the nearest page above the post's own address
    for headers in ({}, {"Referer": "https://evil.example/panels/secretary"}, {"Referer": "//evil.example/x"}):
        resp = client.post(f"/panels/cases/{case.id}/accept", data={"csrf_token": token}, headers=headers)
        assert resp.status_code == 302 and resp.headers["Location"] == f"/panels/cases/{case.id}", headers
    page = client.get(f"/panels/cases/{case.id}").get_data(as_text=True)
    assert "Asia on hylätty." in page


def test_a_form_posted_from_a_button_that_does_not_validate_goes_back_with_its_errors(client, panel, people, db):
    from scheduler.panels.models import PanelCase

    case = submit(db, panel, people["worker"])
    sign_in(client, people["secretary"])
    token = csrf_token(client, f"/panels/cases/{case.id}")
    resp = client.post(f"/panels/cases/{case.id}/return", data={"csrf_token": token, "message": "Täydennä\x00"})
    assert resp.status_code == 302 and resp.headers["Location"] == f"/panels/cases/{case.id}"
    assert "Tekstissä on näkymätön ohjausmerkki" in client.get(resp.headers["Location"]).get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(PanelCase, case.id).status == "submitted"


def test_forbidden_is_its_403_page_and_another_workers_case_is_not_found(client, panel, people, db, make_user):
    from scheduler.panels.models import PanelCase

    case = submit(db, panel, people["worker"])
    sign_in(client, make_user(email="toinen.sihteeri@example.fi", roles=("secretary",)))
    token = csrf_token(client, "/")
    resp = client.post(f"/panels/sessions/{panel.sessions[0].id}/publish", data={"csrf_token": token})
    assert resp.status_code == 403  # a secretary, but not this panel's (the service's Forbidden)
    assert "Vain työryhmän sihteerit voivat tehdä tämän." in resp.get_data(as_text=True)

    client.post("/sign-out", data={"csrf_token": token})
    sign_in(client, people["other_worker"])
    resp = client.post(f"/panels/cases/{case.id}/withdraw", data={"csrf_token": csrf_token(client, "/panels/")})
    assert resp.status_code == 404  # not theirs: the same answer as for a case that does not exist
    db.session.expire_all()
    assert db.session.get(PanelCase, case.id).status == "submitted"


def test_text_hygiene_is_a_field_error_and_nothing_is_saved(client, panel, people, db):
    from scheduler.panels.models import PanelCase

    sign_in(client, people["worker"])
    path = f"/panels/{panel.id}/cases/new"
    for bad in ("ROI\x00-1", "ROI\x1b-1", "ROI\x85-1"):
        data = {**CASE, "csrf_token": csrf_token(client, path), "case_ref": bad, "child_age": "12",
                "expertise": ["legal"]}
        resp = client.post(path, data=data)
        assert resp.status_code == 422
        html = resp.get_data(as_text=True)
        assert "error-summary" in html and "Tekstissä on näkymätön ohjausmerkki" in html
    assert db.session.scalar(select(func.count(PanelCase.id))) == 0


def test_shared_form_helpers_are_the_only_copies():
    """One MultiCheckboxField, one apply_errors, one choice-list helper: in scheduler/core/forms.py."""
    import scheduler.consultations.forms as c
    import scheduler.panels.forms as p
    import scheduler.people.forms as u
    from scheduler.core import forms

    for module in (c, p, u):
        assert getattr(module, "MultiCheckboxField", forms.MultiCheckboxField) is forms.MultiCheckboxField
        assert not hasattr(module, "apply_errors") and not hasattr(module, "choice_list")
        for name in dir(module):
            obj = getattr(module, name)
            if isinstance(obj, type) and issubclass(obj, forms.FlaskForm) and obj.__module__ == module.__name__:
                assert issubclass(obj, forms.Form), f"{module.__name__}.{name} skips the text-hygiene check"


def test_sign_in_limits_the_e_mail(client, db):
    from scheduler.people.models import LoginThrottle

    token = csrf_token(client, "/sign-in")
    resp = client.post("/sign-in", data={"csrf_token": token, "email": "a" * 300 + "@example.fi", "password": "x"})
    assert resp.status_code == 422
    assert "enintään 254 merkkiä" in resp.get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(LoginThrottle)) == 0
