"""Admin pages through the test client, on SQLite and PostgreSQL: units, users, expertise areas,
CSV import. Administrators only; CSRF on every form; bad input is refused with 422 and changes nothing."""

import io
import re

import pytest
from sqlalchemy import func, select

from scheduler.people.models import ExpertiseArea, Unit, User, UserSession

from .conftest import TEST_PASSWORD, csrf_token, sign_in


@pytest.fixture
def admin(make_user):
    return make_user(email="admin@example.fi", roles=("admin",), name="Aino Ylläpitäjä")


@pytest.fixture
def as_admin(client, admin):
    sign_in(client, admin)
    return client


def _count(db, model):
    return db.session.scalar(select(func.count()).select_from(model))


def _error_summary(html):
    assert 'class="error-summary"' in html and "data-focus-on-load" in html
    return html


# --- access ----------------------------------------------------------------------------------

ADMIN_PAGES = ["/admin/", "/admin/units", "/admin/units/new", "/admin/users", "/admin/users/new", "/admin/users/import",
               "/admin/expertise", "/admin/expertise/legal"]


def test_non_admins_get_403_and_anonymous_are_sent_to_sign_in(app, client, make_user, make_unit):
    unit = make_unit()
    target = make_user()
    pages = [*ADMIN_PAGES, f"/admin/units/{unit.id}", f"/admin/users/{target.id}"]
    for path in pages:
        resp = app.test_client().get(path)
        assert resp.status_code == 302 and "/sign-in" in resp.headers["Location"], path
    worker = make_user(roles=("social_worker", "consultant", "secretary", "expert"))
    sign_in(client, worker)
    for path in pages:
        assert client.get(path).status_code == 403, path
    token = csrf_token(client, "/profile")
    assert client.post("/admin/units/new", data={"csrf_token": token, "code": "X1", "name_fi": "X", "kind": "other"}).status_code == 403
    assert client.post(f"/admin/users/{target.id}", data={"csrf_token": token, "name": "Hacked", "roles": ["admin"],
                                                          "language": "fi"}).status_code == 403
    assert 'href="/admin/"' not in client.get("/").get_data(as_text=True)


def test_admin_index_links_every_admin_page(as_admin):
    html = as_admin.get("/admin/").get_data(as_text=True)
    for path in ["/admin/users", "/admin/users/import", "/admin/units", "/admin/expertise"]:
        assert f'href="{path}"' in html
    assert ".eml" in html  # no SMTP_HOST in tests: mail goes to files, and the page says so
    home = as_admin.get("/").get_data(as_text=True)
    assert 'href="/admin/"' in home


def test_forms_need_csrf(as_admin, db):
    resp = as_admin.post("/admin/units/new", data={"code": "NOCSRF", "name_fi": "Ei", "kind": "other", "is_active": "y"})
    assert resp.status_code == 400
    assert _count(db, Unit) == 0


def test_no_state_change_on_get(as_admin, db, make_user):
    target = make_user()
    as_admin.get(f"/admin/users/{target.id}?name=Changed&is_active=")
    as_admin.get("/admin/units/new?code=GET1&name_fi=Get&kind=other")
    db.session.expire_all()
    assert db.session.get(User, target.id).name != "Changed" and db.session.get(User, target.id).is_active
    assert _count(db, Unit) == 0


# --- units -----------------------------------------------------------------------------------

def test_create_and_edit_a_unit(as_admin, db):
    token = csrf_token(as_admin, "/admin/units/new")
    resp = as_admin.post("/admin/units/new", data={"csrf_token": token, "code": "LANU-ROI", "name_fi": "LANU Rovaniemi",
                                                   "name_sv": "BUP Rovaniemi", "name_en": "LANU Rovaniemi EN",
                                                   "kind": "lanu", "is_active": "y"})
    assert resp.status_code == 302
    unit = db.session.execute(select(Unit).where(Unit.code == "LANU-ROI")).scalar_one()
    assert (unit.name_sv, unit.kind, unit.is_active) == ("BUP Rovaniemi", "lanu", True)
    assert "LANU-ROI" in as_admin.get("/admin/units").get_data(as_text=True)

    resp = as_admin.post(f"/admin/units/{unit.id}", data={"csrf_token": token, "code": "CHANGED", "name_fi": "Uusi nimi",
                                                          "name_sv": "Nytt namn", "name_en": "New name", "kind": "substance"})
    assert resp.status_code == 302
    db.session.expire_all()
    unit = db.session.get(Unit, unit.id)
    assert (unit.code, unit.name_fi, unit.name_en, unit.kind, unit.is_active) == ("LANU-ROI", "Uusi nimi", "New name", "substance", False)


def test_bad_unit_input_is_refused_in_the_users_language_and_changes_nothing(as_admin, db, make_unit):
    existing = make_unit(code="LS-1", name="Lastensuojelu")
    token = csrf_token(as_admin, "/admin/units/new")
    # a duplicate code (the service's rule), in Finnish
    resp = as_admin.post("/admin/units/new", data={"csrf_token": token, "code": "ls-1", "name_fi": "Toinen", "kind": "lanu"})
    html = _error_summary(resp.get_data(as_text=True))
    assert resp.status_code == 422 and "Yksikkö tällä tunnuksella on jo olemassa." in html
    assert 'id="code-error"' in html and 'aria-invalid="true"' in html
    # missing name and kind, in Swedish
    resp = as_admin.post("/admin/units/new", data={"csrf_token": token, "code": "NEW"}, headers={"Accept-Language": "sv"})
    assert resp.status_code == 422
    # language is the user's own (Finnish): switch it to Swedish
    as_admin.post("/language", data={"csrf_token": token, "lang": "sv", "next": "/"})
    resp = as_admin.post("/admin/units/new", data={"csrf_token": token, "code": "bad code!", "name_fi": "", "kind": "nope"})
    html = resp.get_data(as_text=True)
    assert resp.status_code == 422 and "Skriv namnet på finska." in html
    # an over-long name on edit
    resp = as_admin.post(f"/admin/units/{existing.id}", data={"csrf_token": token, "name_fi": "x" * 201, "kind": "lanu", "is_active": "y"})
    assert resp.status_code == 422
    db.session.expire_all()
    assert _count(db, Unit) == 1
    unit = db.session.get(Unit, existing.id)
    assert (unit.name_fi, unit.kind) == ("Lastensuojelu", "child_welfare")


# --- users -----------------------------------------------------------------------------------

def _user_data(token, **over):
    data = {"csrf_token": token, "name": "Maija Meikäläinen", "roles": ["social_worker"], "units": [], "language": "fi",
            "is_active": "y", "title": "", "organisation": ""}
    data.update(over)
    return data


def test_create_a_user_who_can_then_sign_in(app, as_admin, db, make_unit):
    make_unit(code="LS-ROI")
    token = csrf_token(as_admin, "/admin/users/new")
    resp = as_admin.post("/admin/users/new", data=_user_data(token, email="Maija@Example.fi", units=["LS-ROI"], language="sv",
                                                           roles=["social_worker", "consultant"], password="a long new password"))
    assert resp.status_code == 302
    user = db.session.execute(select(User).where(User.email == "maija@example.fi")).scalar_one()
    assert user.roles == ["consultant", "social_worker"] and [u.code for u in user.units] == ["LS-ROI"] and user.language == "sv"
    other = app.test_client()
    sign_in(other, user, "a long new password")
    assert "Maija Meikäläinen" in other.get("/").get_data(as_text=True)


def test_bad_user_input_changes_nothing(as_admin, db, make_user):
    existing = make_user(email="taken@example.fi")
    before = _count(db, User)
    token = csrf_token(as_admin, "/admin/users/new")
    cases = [
        (_user_data(token, email="not-an-address"), "email"),
        (_user_data(token, email="taken@example.fi"), "email"),
        (_user_data(token, email="new@example.fi", roles=[]), "roles"),
        (_user_data(token, email="new@example.fi", roles=["superuser"]), "roles"),
        (_user_data(token, email="new@example.fi", units=["NO-SUCH"]), "units"),
        (_user_data(token, email="new@example.fi", password="short"), "password"),
        (_user_data(token, email="new@example.fi", name=""), "name"),
        (_user_data(token, email="new@example.fi", language="de"), "language"),
    ]
    for data, field_name in cases:
        resp = as_admin.post("/admin/users/new", data=data)
        html = _error_summary(resp.get_data(as_text=True))
        assert resp.status_code == 422, field_name
        # a group of boxes: the summary's link lands on its first box
        target = f"{field_name}-0" if field_name in ("roles", "language") else field_name
        assert f'href="#{target}"' in html, field_name
    assert _count(db, User) == before
    assert existing.name == db.session.get(User, existing.id).name


def test_edit_roles_units_language_and_disable_ends_sessions_at_once(app, as_admin, db, make_user, make_unit):
    make_unit(code="A")
    make_unit(code="B")
    person = make_user(units=["A"], name="Pekka")
    browser = app.test_client()
    sign_in(browser, person)
    copied = app.test_client()
    cookie = browser.get_cookie(app.config["SESSION_COOKIE_NAME"])
    copied.set_cookie(app.config["SESSION_COOKIE_NAME"], cookie.value)
    assert browser.get("/").status_code == 200 and copied.get("/").status_code == 200

    token = csrf_token(as_admin, f"/admin/users/{person.id}")
    resp = as_admin.post(f"/admin/users/{person.id}", data=_user_data(token, name="Pekka Uusi", roles=["consultant", "expert"],
                                                                     units=["B"], language="en", is_active="y"))
    assert resp.status_code == 302
    db.session.expire_all()
    person = db.session.get(User, person.id)
    assert (person.name, person.roles, [u.code for u in person.units], person.language) == (
        "Pekka Uusi", ["consultant", "expert"], ["B"], "en")
    assert browser.get("/").status_code == 200  # still signed in

    resp = as_admin.post(f"/admin/users/{person.id}", data=_user_data(token, name="Pekka Uusi", roles=["consultant"],
                                                                     units=["B"], language="en", is_active=""))
    assert resp.status_code == 302
    assert browser.get("/").status_code == 302 and copied.get("/").status_code == 302
    assert db.session.scalar(select(func.count()).select_from(UserSession).where(
        UserSession.user_id == person.id, UserSession.ended_dt.is_(None))) == 0
    listed = as_admin.get("/admin/users?state=disabled").get_data(as_text=True)
    assert "Pekka Uusi" in listed and "Poistettu käytöstä" in listed


def test_admin_cannot_lock_themselves_out(as_admin, admin, db):
    token = csrf_token(as_admin, f"/admin/users/{admin.id}")
    resp = as_admin.post(f"/admin/users/{admin.id}", data=_user_data(token, name="Aino", roles=["social_worker"]))
    assert resp.status_code == 422
    resp = as_admin.post(f"/admin/users/{admin.id}", data=_user_data(token, name="Aino", roles=["admin"], is_active=""))
    assert resp.status_code == 422
    db.session.expire_all()
    me = db.session.get(User, admin.id)
    assert me.is_admin and me.is_active and me.name == "Aino Ylläpitäjä"


def test_set_a_password_signs_the_person_out(app, as_admin, db, make_user):
    person = make_user()
    browser = app.test_client()
    sign_in(browser, person)
    token = csrf_token(as_admin, f"/admin/users/{person.id}")
    resp = as_admin.post(f"/admin/users/{person.id}/password", data={"csrf_token": token, "new_password": "short"})
    assert resp.status_code == 422 and 'href="#new_password"' in resp.get_data(as_text=True)
    assert browser.get("/").status_code == 200  # a refused change does nothing
    resp = as_admin.post(f"/admin/users/{person.id}/password", data={"csrf_token": token, "new_password": "another long password"})
    assert resp.status_code == 302
    assert browser.get("/").status_code == 302
    sign_in(app.test_client(), person, "another long password")
    assert as_admin.get("/admin/users/999999").status_code == 404


def test_user_list_search_filters_and_paging(as_admin, db, make_unit, admin):
    from scheduler.people.services import create_user

    make_unit(code="LANU")
    for i in range(120):
        create_user(email=f"person{i:03d}@example.fi", name=f"Henkilö {i:03d}", roles=["social_worker"],
                    unit_codes=["LANU"] if i % 2 else [])
    create_user(email="ari@example.fi", name="Äijälä Ari", roles=["expert"])
    create_user(email="under_score@example.fi", name="Percent 100%", roles=["expert"])
    db.session.commit()

    page1 = as_admin.get("/admin/users").get_data(as_text=True)
    assert page1.count('href="/admin/users/') - page1.count('href="/admin/users/new') - page1.count('href="/admin/users/import') == 50
    assert "123" in page1 and 'rel="next"' in page1
    page3 = as_admin.get("/admin/users?page=3").get_data(as_text=True)
    assert "Henkilö 119" in page3 or "Äijälä" in page3
    assert as_admin.get("/admin/users?page=999").status_code == 200
    assert as_admin.get("/admin/users?page=abc").status_code == 200

    found = as_admin.get("/admin/users?q=äijälä").get_data(as_text=True)
    assert "Äijälä Ari" in found and "Henkilö" not in found
    assert "ari@example.fi" in as_admin.get("/admin/users?q=ARI@EXAMPLE").get_data(as_text=True)
    # LIKE wildcards are taken literally
    found = as_admin.get("/admin/users?q=%25").get_data(as_text=True)
    assert "Percent 100%" in found and "Henkilö" not in found
    found = as_admin.get("/admin/users?q=_").get_data(as_text=True)
    assert "under_score@example.fi" in found and "person001" not in found
    # filters keep each other on the page links
    lanu = as_admin.get("/admin/users?unit=LANU&role=social_worker&q=Henkil").get_data(as_text=True)
    assert "Henkilö 001" in lanu and "Henkilö 000" not in lanu and "unit=LANU" in lanu
    experts = as_admin.get("/admin/users?role=expert").get_data(as_text=True)
    assert "Äijälä Ari" in experts and "Henkilö" not in experts


# --- expertise areas -----------------------------------------------------------------------------

@pytest.fixture
def restore_expertise(db):
    """Expertise areas are reference data that the per-test cleanup keeps: put them back."""
    saved = [(a.code, a.name_fi, a.name_sv, a.name_en, a.position) for a in db.session.query(ExpertiseArea)]
    yield
    db.session.rollback()
    for code, fi, sv, en, pos in saved:
        a = db.session.get(ExpertiseArea, code)
        a.name_fi, a.name_sv, a.name_en, a.position = fi, sv, en, pos
    db.session.commit()


def test_edit_an_expertise_area(as_admin, db, restore_expertise):
    assert 'href="/admin/expertise/legal"' in as_admin.get("/admin/expertise").get_data(as_text=True)
    token = csrf_token(as_admin, "/admin/expertise/legal")
    resp = as_admin.post("/admin/expertise/legal", data={"csrf_token": token, "name_fi": "Oikeudellinen asiantuntemus",
                                                         "name_sv": "Juridisk sakkunskap", "name_en": "Legal expertise",
                                                         "position": "42"})
    assert resp.status_code == 302
    db.session.expire_all()
    area = db.session.get(ExpertiseArea, "legal")
    assert (area.name_fi, area.name_sv, area.name_en, area.position) == (
        "Oikeudellinen asiantuntemus", "Juridisk sakkunskap", "Legal expertise", 42)
    assert as_admin.get("/admin/expertise/nonexistent").status_code == 404


def test_bad_expertise_input_changes_nothing(as_admin, db, restore_expertise):
    before = db.session.get(ExpertiseArea, "legal")
    before = (before.name_fi, before.name_sv, before.name_en, before.position)
    token = csrf_token(as_admin, "/admin/expertise/legal")
    for data in [{"name_fi": "", "name_sv": "x", "name_en": "x", "position": "1"},
                 {"name_fi": "x", "name_sv": "x", "name_en": "x", "position": "many"},
                 {"name_fi": "x", "name_sv": "x", "name_en": "x", "position": "-1"},
                 {"name_fi": "x", "name_sv": "", "name_en": "x", "position": "1"}]:
        resp = as_admin.post("/admin/expertise/legal", data={"csrf_token": token, **data})
        assert resp.status_code == 422
        _error_summary(resp.get_data(as_text=True))
    db.session.expire_all()
    area = db.session.get(ExpertiseArea, "legal")
    assert (area.name_fi, area.name_sv, area.name_en, area.position) == before


# --- CSV import ----------------------------------------------------------------------------------

def _upload(client, text, encoding="utf-8", filename="users.csv"):
    token = csrf_token(client, "/admin/users/import")
    return client.post("/admin/users/import", data={"csrf_token": token, "file": (io.BytesIO(text.encode(encoding)), filename)},
                       content_type="multipart/form-data")


def test_csv_import_creates_and_updates(as_admin, db, make_unit, make_user):
    make_unit(code="LS-ROI")
    make_unit(code="LANU-ROI", kind="lanu")
    make_user(email="old@example.fi", name="Old Name")
    csv_text = ("email,name,roles,units,language,title,organisation\n"
                "maija@example.fi,Maija Meikäläinen,social_worker,LS-ROI,fi,Sosiaalityöntekijä,Lapin hyvinvointialue\n"
                "lars@example.fi,Lars Larsson,consultant;expert,LANU-ROI,sv,,\n"
                "old@example.fi,New Name,social_worker,,,,\n")
    resp = _upload(as_admin, csv_text)
    assert resp.status_code == 302
    db.session.expire_all()
    assert db.session.execute(select(User).where(User.email == "lars@example.fi")).scalar_one().roles == ["consultant", "expert"]
    assert db.session.execute(select(User).where(User.email == "old@example.fi")).scalar_one().name == "New Name"
    assert "Tuonti valmis: 2 luotu, 1 päivitetty." in as_admin.get("/admin/users").get_data(as_text=True)


def test_csv_import_from_excel_in_windows_encoding_with_semicolons(as_admin, db, make_unit):
    make_unit(code="LS-ROI")
    resp = _upload(as_admin, "email;name;roles;units\nÖ@example.fi;Östen Åkerblom;social_worker;LS-ROI\n", encoding="cp1252")
    assert resp.status_code == 302
    assert db.session.execute(select(User).where(User.email == "ö@example.fi")).scalar_one().name == "Östen Åkerblom"


def test_csv_import_is_all_or_nothing_with_errors_by_line(as_admin, db, make_unit, make_user):
    make_unit(code="LS-ROI")
    make_user(email="old@example.fi", name="Old Name")
    before = _count(db, User)
    csv_text = ("email,name,roles,units\n"
                "good@example.fi,Good Person,social_worker,LS-ROI\n"
                "broken-address,Bad Address,social_worker,LS-ROI\n"
                "old@example.fi,Renamed,social_worker,\n"
                "norole@example.fi,No Role,,LS-ROI\n"
                "nounit@example.fi,No Unit,expert,NOPE\n"
                "good@example.fi,Twice,social_worker,\n")
    resp = _upload(as_admin, csv_text)
    html = resp.get_data(as_text=True)
    assert resp.status_code == 422
    lines = [int(n) for n in re.findall(r"<tr><td>(\d+)</td>", html)]
    assert lines == [3, 5, 6, 7]
    # the bad value is shown next to its line number
    values = dict((int(n), v) for n, v in re.findall(r"<tr><td>(\d+)</td><td><code>([^<]*)</code>", html))
    assert values[3] == "broken-address" and values[6] == "NOPE" and values[7] == "good@example.fi"
    assert values[5] == "(tyhjä)"
    assert "Mitään ei tuotu" in html  # Finnish, the admin's language
    assert _count(db, User) == before
    db.session.expire_all()
    assert db.session.execute(select(User).where(User.email == "old@example.fi")).scalar_one().name == "Old Name"


def test_csv_import_refuses_missing_columns_empty_and_missing_files(as_admin, db):
    before = _count(db, User)
    resp = _upload(as_admin, "mail,nimi\nx@example.fi,X\n")
    assert resp.status_code == 422 and 'href="#file"' in resp.get_data(as_text=True)
    assert _upload(as_admin, "").status_code == 422
    assert _upload(as_admin, "email,name,roles\n").status_code == 422
    token = csrf_token(as_admin, "/admin/users/import")
    resp = as_admin.post("/admin/users/import", data={"csrf_token": token}, content_type="multipart/form-data")
    assert resp.status_code == 422
    assert _count(db, User) == before


def test_imported_user_can_be_given_a_password(as_admin, db, app):
    _upload(as_admin, "email,name,roles\nnew@example.fi,New Person,social_worker\n")
    user = db.session.execute(select(User).where(User.email == "new@example.fi")).scalar_one()
    assert user.password_hash is None
    token = csrf_token(as_admin, f"/admin/users/{user.id}")
    as_admin.post(f"/admin/users/{user.id}/password", data={"csrf_token": token, "new_password": TEST_PASSWORD})
    db.session.expire_all()
    sign_in(app.test_client(), db.session.get(User, user.id))


def test_csv_import_refuses_a_file_over_2_mb(as_admin, db):
    before = _count(db, User)
    big = "email,name,roles\n" + "".join(f"p{i}@example.fi,Person {i} {'x' * 40},social_worker\n" for i in range(40_000))
    assert len(big.encode()) > 2 * 1024 * 1024
    resp = _upload(as_admin, big)
    assert resp.status_code == 422 and 'href="#file"' in resp.get_data(as_text=True)
    assert _count(db, User) == before


def test_csv_import_matches_existing_users_and_units_whatever_the_case(db, make_unit, make_user):
    from scheduler.people.services import import_users_csv

    make_unit(code="LS-ROI")
    make_user(email="old@example.fi", name="Old Name")
    lines = ["email,name,roles,units"] + [f"new{i}@example.fi,New {i},social_worker,ls-roi" for i in range(30)]
    lines.append("OLD@Example.FI,Renamed,consultant,LS-ROI")
    result = import_users_csv("\n".join(lines) + "\n")
    db.session.commit()
    assert (result.created, result.updated, result.errors) == (30, 1, [])
    old = db.session.execute(select(User).where(User.email == "old@example.fi")).scalar_one()
    assert old.name == "Renamed" and old.roles == ["consultant"] and [u.code for u in old.units] == ["LS-ROI"]
    assert _count(db, User) == 31
