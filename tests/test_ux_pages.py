# ruff: noqa: F811  (the shared fixtures are imported by name, then requested as arguments)
"""Issue 13, what people see: menus that fit the role, a cancellation that asks first, the reschedule
page by day, "past" for past bookings, advice only after the session has started, one-time links to
set a password, the profile's language, forms that say what is required and tie errors to groups,
titles that are unique and say when a submit failed, and Finnish dates on the admins' mail pages."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from scheduler.core.db import utcnow
from scheduler.core.timefmt import to_local

from .conftest import csrf_token, sign_in
from .consultations_fixtures import *  # noqa: F403  (world, make_series)
from .panels_fixtures import NOW as PANEL_NOW
from .panels_fixtures import submit

NO_UNIT = "Et kuulu mihinkään yksikköön, joten et voi varata konsultaatioita."


def _title(html: str) -> str:
    m = re.search(r"<title>(.*?)</title>", html, re.S)
    assert m
    return " ".join(m.group(1).split())


# --- menus and home per role ------------------------------------------------------------------

def test_menu_and_home_show_what_each_role_can_do(client, world, make_user, make_unit):
    expert = make_user("expert@example.fi", roles=("expert",), name="Eeva Ekspertti")
    unitless = make_user("nounit@example.fi", roles=("social_worker",), name="Ulla Yksikötön")
    secretary = make_user("sihteeri@example.fi", roles=("secretary",), name="Siiri Sihteeri")

    sign_in(client, world.worker)
    html = client.get("/").get_data(as_text=True)
    assert 'href="/consultations/"' in html and "Varaa konsultaatio toiselta palvelulta" in html
    assert 'href="/consultations/hosting"' not in html  # not a host

    for who, must_not, intro in [
        (expert, ['href="/consultations/"', 'href="/consultations/mine"'], "Näe työryhmän kokoukset"),
        (unitless, ['href="/consultations/"'], "Varaa konsultaatio toiselta palvelulta"),
        (secretary, ['href="/consultations/"'], "Tarkista asiantuntijatyöryhmälle lähetetyt asiat"),
    ]:
        client.post("/sign-out", data={"csrf_token": csrf_token(client, "/")})
        sign_in(client, who)
        html = client.get("/").get_data(as_text=True)
        for fragment in must_not:
            assert fragment not in html, (who.email, fragment)
        assert intro in html, who.email
        # the social worker's intro is not everyone's
        if who is not unitless:
            assert "Varaa konsultaatio toiselta palvelulta" not in html, who.email
    # someone without a unit is told why booking is not offered
    client.post("/sign-out", data={"csrf_token": csrf_token(client, "/")})
    sign_in(client, unitless)
    assert NO_UNIT in client.get("/").get_data(as_text=True)

    client.post("/sign-out", data={"csrf_token": csrf_token(client, "/")})
    sign_in(client, world.doctor)
    html = client.get("/").get_data(as_text=True)
    assert 'href="/consultations/hosting"' in html and "Julkaise yksikkösi konsultaatioajat" in html


# --- bookings: cancel asks first, reschedule by day, past says past -------------------------------

@pytest.fixture
def lanu_hours(db, world, make_series):
    from scheduler.consultations.slots import build_rrule

    first = to_local(utcnow()).replace(tzinfo=None, hour=13, minute=0, second=0, microsecond=0) + timedelta(days=3)
    return make_series(world.doctor, world.lanu, title="LANU-konsultaatio", first_start=first,
                       rrule=build_rrule("weekly", first.date()), now=utcnow(), slots=2)


def _book(db, world, n=0):
    from scheduler.consultations import services as svc

    d = to_local(utcnow()).date()
    slots = svc.list_slots(actor=world.worker, flt=svc.SlotFilter(date_from=d, date_to=d + timedelta(days=30)))
    b = svc.run_atomically(lambda: svc.book_slot(actor=world.worker, slot_id=slots[n].id, case_ref="LS-1",
                                                 question="Kysymys"))
    db.session.commit()
    return b


def test_cancelling_asks_for_confirmation_without_javascript(client, db, world, lanu_hours):
    from scheduler.consultations.models import Booking

    b = _book(db, world)
    sign_in(client, world.worker)
    page = client.get(f"/consultations/bookings/{b.id}").get_data(as_text=True)
    # the booking page links to the confirmation step; it has no one-click cancel form
    assert f'href="/consultations/bookings/{b.id}/cancel"' in page
    assert f'action="/consultations/bookings/{b.id}/cancel"' not in page
    confirm = client.get(f"/consultations/bookings/{b.id}/cancel")
    html = confirm.get_data(as_text=True)
    assert confirm.status_code == 200 and "Perutaanko konsultaatio?" in html
    assert "Kyllä, peru konsultaatio" in html and "Ei, pidä varaus" in html
    title = _title(html)
    assert "LANU-konsultaatio" in title and "klo 13.00" in title
    db.session.expire_all()
    assert db.session.get(Booking, b.id).status == "confirmed"  # looking is not cancelling
    resp = client.post(f"/consultations/bookings/{b.id}/cancel",
                       data={"csrf_token": csrf_token(client, f"/consultations/bookings/{b.id}/cancel")})
    assert resp.status_code == 302
    db.session.expire_all()
    assert db.session.get(Booking, b.id).status == "cancelled"
    # a cancelled booking has no confirmation step any more
    assert client.get(f"/consultations/bookings/{b.id}/cancel").status_code == 302


def test_reschedule_groups_times_by_day_with_the_booking_filters(client, db, world, lanu_hours):
    b = _book(db, world)
    sign_in(client, world.worker)
    resp = client.get(f"/consultations/bookings/{b.id}/reschedule")
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200
    assert '<details class="filters-fold"' in html and 'name="kind"' in html and 'name="date_from"' in html
    assert html.count('class="slot-day"') >= 2  # one section per day
    assert re.search(r'<h3 id="day-1">\w+ \d+\.\d+\.\d{4} <span class="week">vk \d+</span></h3>', html)
    # the booking's own time is not offered
    own = to_local(b.start_dt)
    assert f"Siirrä tähän<span class=\"visually-hidden\"> LANU-konsultaatio {own:%a}" not in html
    title = _title(html)
    assert title.startswith("Siirrä toiseen aikaan: LANU-konsultaatio") and "klo" in title
    # a bad date in the filters: 422 and the title says so
    bad = client.get(f"/consultations/bookings/{b.id}/reschedule?date_from=31.2.2027")
    assert bad.status_code == 422 and _title(bad.get_data(as_text=True)).startswith("Virhe: ")


def test_booking_pages_have_unique_titles_and_past_is_past(client, db, world, lanu_hours):
    from scheduler.consultations.models import Booking

    a, c = _book(db, world, 0), _book(db, world, 1)
    sign_in(client, world.worker)
    titles = {_title(client.get(f"/consultations/bookings/{x.id}").get_data(as_text=True)) for x in (a, c)}
    assert len(titles) == 2
    # the booking form's title has the time and the service
    from scheduler.consultations import services as svc

    d = to_local(utcnow()).date()
    sv = svc.list_slots(actor=world.worker, flt=svc.SlotFilter(date_from=d, date_to=d + timedelta(days=30)))[2]
    html = client.get(f"/consultations/book/{sv.id}").get_data(as_text=True)
    assert _title(html).startswith("Varaa konsultaatio: LANU-konsultaatio") and "klo 13" in _title(html)
    failed = client.post(f"/consultations/book/{sv.id}", data={"csrf_token": csrf_token(client, f"/consultations/book/{sv.id}")})
    assert failed.status_code == 422 and _title(failed.get_data(as_text=True)).startswith("Virhe: Varaa konsultaatio")
    # a booking whose time has gone by says so, not "confirmed"
    row = db.session.get(Booking, a.id)
    length = row.end_dt - row.start_dt
    row.start_dt = utcnow() - timedelta(days=2)
    row.end_dt = row.start_dt + length
    db.session.commit()
    mine = client.get("/consultations/mine").get_data(as_text=True)
    past_part = mine.split("<h2>Menneet</h2>")[1]
    assert "Mennyt" in past_part and "Vahvistettu" not in past_part
    assert "Mennyt" in client.get(f"/consultations/bookings/{a.id}").get_data(as_text=True)
    # every table scroll box is a named, focusable region
    for box in re.findall(r'<div class="table-scroll"[^>]*>', mine):
        assert 'tabindex="0"' in box and 'role="region"' in box and "aria-label=" in box


def test_booking_filters_fold_and_open_when_chosen(client, world, lanu_hours):
    sign_in(client, world.worker)
    html = client.get("/consultations/").get_data(as_text=True)
    assert re.search(r'<details class="filters-fold" data-open-wide\s*>', html)  # folded on a phone
    html = client.get("/consultations/?kind=lanu").get_data(as_text=True)
    assert re.search(r'<details class="filters-fold" data-open-wide\s*open>', html)


# --- advice only once the session has started ------------------------------------------------------

def test_advice_only_once_the_session_has_started(db, panel, people):
    from scheduler.core.errors import Conflict
    from scheduler.panels.cases import record_statement, schedule_case
    from scheduler.panels.figures import compute
    from scheduler.panels.services import publish_agenda

    s = panel.sessions[1]
    case = submit(db, panel, people["worker"])
    schedule_case(case, actor=people["secretary"], session_id=s.id, now=PANEL_NOW)
    publish_agenda(s, actor=people["secretary"], now=PANEL_NOW)
    db.session.commit()
    with pytest.raises(Conflict) as exc:
        record_statement(case, actor=people["secretary"], text="Neuvo", now=s.start_dt - timedelta(minutes=1))
    assert "alkanut" in exc.value.message or "started" in exc.value.message
    assert case.statement is None and case.status == "scheduled"
    st = record_statement(case, actor=people["secretary"], text="Neuvo", now=s.start_dt + timedelta(minutes=30))
    db.session.commit()
    assert st.text == "Neuvo" and case.handled_dt >= s.start_dt
    # the figures' days from submission to advice: never zero by mistake
    figs = compute([panel], year=to_local(s.start_dt).year)
    assert figs.total.days and all(d > 0 for d in figs.total.days)


def test_a_held_session_takes_advice(db, panel, people):
    from scheduler.panels.cases import record_statement, schedule_case
    from scheduler.panels.services import mark_held, publish_agenda

    s = panel.sessions[1]
    case = submit(db, panel, people["worker"])
    schedule_case(case, actor=people["secretary"], session_id=s.id, now=PANEL_NOW)
    publish_agenda(s, actor=people["secretary"], now=PANEL_NOW)
    mark_held(s, actor=people["secretary"], now=s.end_dt)
    st = record_statement(case, actor=people["secretary"], text="Neuvo", now=s.end_dt + timedelta(days=1))
    assert st.text == "Neuvo"


# --- one-time links to set a password --------------------------------------------------------------

def _mails(db, to: str) -> list:
    from scheduler.delivery.models import OutboxMessage

    db.session.expire_all()
    return [m for m in db.session.execute(select(OutboxMessage).order_by(OutboxMessage.id)).scalars()
            if m.kind == "email" and to in m.payload["to"]]


def _link(mail) -> str:
    m = re.search(r"(/set-password/[A-Za-z0-9_-]+)", mail.payload["text"])
    assert m, mail.payload["text"]
    return m.group(1)


def test_admin_creates_a_local_account_and_the_welcome_link_sets_the_password(client, db, make_user, app):
    from scheduler.people.models import PasswordToken, User

    admin = make_user("admin@example.fi", roles=("admin",))
    sign_in(client, admin)
    form = client.get("/admin/users/new").get_data(as_text=True)
    box = re.search(r'<input[^>]*name="send_link"[^>]*>', form).group(0)
    assert " checked" in box  # on by default without the organisation's Microsoft sign-in
    resp = client.post("/admin/users/new", data={
        "csrf_token": csrf_token(client, "/admin/users/new"), "email": "uusi@example.fi", "name": "Uusi Ihminen",
        "roles": ["social_worker"], "language": "sv", "is_active": "y", "send_link": "y"}, follow_redirects=True)
    assert resp.status_code == 200 and "uusi@example.fi" in resp.get_data(as_text=True)
    mails = _mails(db, "uusi@example.fi")
    assert len(mails) == 1
    mail = mails[0]
    assert mail.payload["language"] == "sv" and "Välj ditt lösenord" in mail.payload["text"]
    assert "7 dagar" in mail.payload["text"]
    path = _link(mail)
    raw = path.rsplit("/", 1)[1]
    # only the hash is stored
    row = db.session.execute(select(PasswordToken)).scalar_one()
    assert row.token_hash != raw and raw not in row.token_hash and row.purpose == "welcome"
    assert timedelta(days=6, hours=23) < row.expires_dt - row.created_dt <= timedelta(days=7)

    client.post("/sign-out", data={"csrf_token": csrf_token(client, "/")})
    page = client.get(path)
    assert page.status_code == 200 and "uusi@example.fi" in page.get_data(as_text=True)
    short = client.post(path, data={"csrf_token": csrf_token(client, path), "new": "lyhyt"})
    assert short.status_code == 422
    resp = client.post(path, data={"csrf_token": csrf_token(client, path), "new": "ett långt nytt lösenord"})
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/sign-in")
    user = db.session.execute(select(User).where(User.email == "uusi@example.fi")).scalar_one()
    sign_in(client, user, "ett långt nytt lösenord")
    client.post("/sign-out", data={"csrf_token": csrf_token(client, "/")})
    # single use
    again = client.get(path)
    assert again.status_code == 410 and "Virhe:" in _title(again.get_data(as_text=True))


def test_admin_is_warned_about_an_account_without_password_or_link(client, db, make_user):
    admin = make_user("admin@example.fi", roles=("admin",))
    sign_in(client, admin)
    resp = client.post("/admin/users/new", data={
        "csrf_token": csrf_token(client, "/admin/users/new"), "email": "eiavainta@example.fi", "name": "Ei Avainta",
        "roles": ["expert"], "language": "fi", "is_active": "y"}, follow_redirects=True)
    html = resp.get_data(as_text=True)
    assert "flash-warning" in html and "ei vielä voi kirjautua" in html
    assert _mails(db, "eiavainta@example.fi") == []
    # the user's page sends a link on request
    user_path = re.search(r'action="(/admin/users/\d+/password-link)"', html).group(1)
    resp = client.post(user_path, data={"csrf_token": csrf_token(client, "/admin/users")})
    assert resp.status_code == 302 and len(_mails(db, "eiavainta@example.fi")) == 1


def test_forgot_password_same_answer_expiry_and_throttle(client, db, make_user, app):
    from scheduler.people.models import PasswordToken
    from scheduler.people.password_links import find_link, request_reset

    user = make_user("muisto@example.fi")
    answers = []
    for email in ("muisto@example.fi", "eiole@example.fi"):
        resp = client.post("/forgot-password", data={"csrf_token": csrf_token(client, "/forgot-password"),
                                                     "email": email}, follow_redirects=True)
        answers.append((resp.status_code, re.sub(r"\s+", " ", resp.get_data(as_text=True)
                                                 .split('<div class="flashes"')[1].split("</div>")[0])))
    assert answers[0] == answers[1]
    # odd input gets the same answer, never a 500 (a NUL byte would upset PostgreSQL)
    for odd in ("muisto\x00@example.fi", "x" * 400, "ei-osoite"):
        resp = client.post("/forgot-password", data={"csrf_token": csrf_token(client, "/forgot-password"),
                                                     "email": odd})
        assert resp.status_code in (302, 422), odd
    assert client.get("/set-password/" + "x" * 300).status_code == 410
    assert len(_mails(db, "muisto@example.fi")) == 1 and _mails(db, "eiole@example.fi") == []
    mail = _mails(db, "muisto@example.fi")[0]
    assert "24 tunnissa" in mail.payload["text"]
    path = _link(mail)
    raw = path.rsplit("/", 1)[1]
    row = db.session.execute(select(PasswordToken)).scalar_one()
    assert row.purpose == "reset" and timedelta(hours=23) < row.expires_dt - row.created_dt <= timedelta(hours=24)
    # expired: refused
    from scheduler.core.errors import Conflict

    with pytest.raises(Conflict):
        find_link(raw, now=row.expires_dt + timedelta(seconds=1))
    # a new request replaces the earlier link
    request_reset("muisto@example.fi", None)
    db.session.commit()
    assert client.get(path).status_code == 410
    # throttled per account: a few e-mails, then silence (and the same answer)
    for _ in range(5):
        request_reset("muisto@example.fi", None)
        db.session.commit()
    assert len(_mails(db, "muisto@example.fi")) == 3
    # throttled per network address: "try later", whatever the address asked for
    from scheduler.people.auth import TooManyAttempts

    with pytest.raises(TooManyAttempts):
        for i in range(20):
            request_reset(f"x{i}@example.fi", "192.0.2.7")
    db.session.rollback()
    assert db.session.scalar(select(func.count(PasswordToken.id))) == 3
    assert user.password_hash  # the old password still works until a link is used


# --- the profile's language -------------------------------------------------------------------------

def test_profile_lets_people_choose_their_language(client, db, make_user):
    from scheduler.people.models import User

    user = make_user("kieli@example.fi", language="fi")
    sign_in(client, user)
    page = client.get("/profile").get_data(as_text=True)
    assert 'name="language"' in page and 'lang="sv">Svenska</label>' in page
    resp = client.post("/profile/language", data={"csrf_token": csrf_token(client, "/profile"), "language": "sv"})
    assert resp.status_code == 302
    db.session.expire_all()
    assert db.session.get(User, user.id).language == "sv"
    assert '<html lang="sv">' in client.get("/profile").get_data(as_text=True)
    bad = client.post("/profile/language", data={"csrf_token": csrf_token(client, "/profile"), "language": "de"})
    assert bad.status_code == 422 and 'aria-invalid="true"' in bad.get_data(as_text=True)


# --- forms: required note, checkbox groups, titles ---------------------------------------------------

def test_checkbox_group_in_error_is_tied_to_its_message(client, db, make_user):
    admin = make_user("admin@example.fi", roles=("admin",))
    sign_in(client, admin)
    resp = client.post("/admin/users/new", data={
        "csrf_token": csrf_token(client, "/admin/users/new"), "email": "x@example.fi", "name": "X",
        "language": "fi"})
    html = resp.get_data(as_text=True)
    assert resp.status_code == 422
    group = re.search(r'<fieldset id="roles"[^>]*>', html).group(0)
    assert 'aria-invalid="true"' in group and "roles-error" in group and "roles-hint" in group
    assert 'id="roles-error"' in html
    # no `required` on each box, and the summary's link lands on the first box
    boxes = re.findall(r'<input[^>]*name="roles"[^>]*>', html)
    assert boxes and not any("required" in b for b in boxes)
    assert 'href="#roles-0"' in html and 'id="roles-0"' in html
    assert _title(html).startswith("Virhe: ")
    # every form says how required fields are marked
    assert "Kaikki kentät ovat pakollisia, ellei niitä ole merkitty valinnaisiksi." in html
    assert "(valinnainen)" in html


def test_csv_sample_is_a_focusable_region(client, db, make_user):
    admin = make_user("admin@example.fi", roles=("admin",))
    sign_in(client, admin)
    html = client.get("/admin/users/import").get_data(as_text=True)
    pre = re.search(r"<pre[^>]*>", html).group(0)
    assert 'tabindex="0"' in pre and 'role="region"' in pre and "aria-label=" in pre


def test_mail_dates_in_finnish_notation():
    from scheduler.core.timefmt import format_mail_date

    assert format_mail_date("Tue, 05 Jan 2027 11:00:00 +0000") == "ti 5.1.2027 klo 13.00"
    assert format_mail_date("not a date") == "not a date"
    assert format_mail_date(datetime(2027, 1, 5, 11, 0, tzinfo=UTC)) == "ti 5.1.2027 klo 13.00"


def test_outbox_and_mail_pages_show_finnish_dates(client, db, make_user, app):
    from scheduler.delivery.mail import queue_email
    from scheduler.delivery.outbox import deliver_due

    admin = make_user("admin@example.fi", roles=("admin",))
    queue_email("vastaanottaja@example.fi", "Testi", "Teksti")
    db.session.commit()
    deliver_due()
    db.session.commit()
    sign_in(client, admin)
    outbox = client.get("/admin/outbox/?status=sent").get_data(as_text=True)
    assert re.search(r"\b\w\w \d{1,2}\.\d{1,2}\.\d{4} klo \d{1,2}\.\d\d\b", outbox)
    folder = client.get("/admin/outbox/mail").get_data(as_text=True)
    assert re.search(r"<td>\w\w \d{1,2}\.\d{1,2}\.\d{4} klo \d{1,2}\.\d\d</td>", folder), folder[-3000:]
    assert "+0000" not in folder
