"""Consultation pages through the test client: find, book, my consultations, cancel, move, host views."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select

from scheduler.consultations.models import Booking, ConsultationSeries
from scheduler.core.db import utcnow
from scheduler.core.timefmt import to_local

from .conftest import csrf_token

HETU = "131052-308T"


def next_week_series(make_series, actor, unit, **kw):
    """A weekly series starting next week on today's weekday +7, at 13.00 local."""
    first = to_local(utcnow()).replace(tzinfo=None, hour=13, minute=0, second=0, microsecond=0) + timedelta(days=7)
    from scheduler.consultations.slots import build_rrule

    return make_series(actor, unit, first_start=first, rrule=build_rrule("weekly", first.date()), now=utcnow(), **kw)


def first_slot_link(html: str) -> str:
    m = re.search(r'href="(/consultations/book/[^"]+)"', html)
    assert m, html[:3000]
    return m.group(1)


def test_nav_and_pages_need_sign_in(client, world, login):
    assert client.get("/consultations/").status_code == 302
    login(world.worker)
    home = client.get("/").get_data(as_text=True)
    assert "Varaa konsultaatio" in home and "Omat konsultaatiot" in home
    assert "Konsultaatioajat" not in home  # a social worker does not host
    assert client.get("/consultations/hosting").status_code == 403
    assert client.get("/consultations/series/new").status_code == 403


def test_social_worker_books_sees_and_cancels(app, db, client, world, login, make_series):
    s = next_week_series(make_series, world.doctor, world.lanu, slots=2)
    login(world.worker)
    page = client.get("/consultations/")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "LANU-konsultaatio" in html and "klo 13.00–13.30" in html
    link = first_slot_link(html)
    form = client.get(link).get_data(as_text=True)
    assert "Älä kirjoita nimiä" in form
    token = csrf_token(client, link)
    # an identity code is refused with a field error, nothing stored
    bad = client.post(link, data={"csrf_token": token, "case_ref": "LS-1", "question": f"Lapsi {HETU}", "participants": ""})
    assert bad.status_code == 422 and "henkilötunnus" in bad.get_data(as_text=True)
    assert db.session.scalar(select(func.count(Booking.id))) == 0
    ok = client.post(link, data={"csrf_token": token, "case_ref": "LS-2027-1", "question": "Miten edetään?",
                                 "participants": "opettaja@koulu.fi\nkollega@kunta.fi"})
    assert ok.status_code == 302
    booking = db.session.execute(select(Booking)).scalar_one()
    assert booking.participants == ["opettaja@koulu.fi", "kollega@kunta.fi"] and booking.series_id == s.id
    detail = client.get(ok.headers["Location"]).get_data(as_text=True)
    assert "LS-2027-1" in detail and "Järjestäjä lähettää Teams-linkin" in detail
    mine = client.get("/consultations/mine").get_data(as_text=True)
    assert "LS-2027-1" in mine and "Vahvistettu" in mine
    # the same time cannot be booked twice
    again = client.post(link, data={"csrf_token": token, "case_ref": "LS-2", "question": "Toinen"})
    assert again.status_code in (200, 409) and "varattu" in again.get_data(as_text=True)
    cancel = client.post(f"/consultations/bookings/{booking.id}/cancel",
                         data={"csrf_token": csrf_token(client, f"/consultations/bookings/{booking.id}"), "reason": ""})
    assert cancel.status_code == 302
    db.session.expire_all()
    assert db.session.get(Booking, booking.id).status == "cancelled"
    assert "Peruttu" in client.get("/consultations/mine").get_data(as_text=True)


def test_join_url_shown_and_teams_note(app, db, client, world, login, make_series):
    from scheduler.consultations import services as svc

    s = next_week_series(make_series, world.doctor, world.lanu, slots=1)
    sv = svc.list_slots(actor=world.worker, flt=svc.SlotFilter(date_from=to_local(utcnow()).date(),
                        date_to=to_local(utcnow()).date() + timedelta(days=30)))[0]
    b = svc.run_atomically(lambda: svc.book_slot(actor=world.worker, slot_id=sv.id, case_ref="X-1", question="Q"))
    login(world.worker)
    assert "Järjestäjä lähettää Teams-linkin" in client.get(f"/consultations/bookings/{b.id}").get_data(as_text=True)
    app.config["GRAPH_ENABLED"] = True
    try:
        assert "Teams-linkki tulee tähän" in client.get(f"/consultations/bookings/{b.id}").get_data(as_text=True)
    finally:
        app.config["GRAPH_ENABLED"] = False
    from scheduler.core.signals import teams_meeting_ready

    teams_meeting_ready.send(f"booking:{b.id}", join_url="https://teams.microsoft.com/l/meetup-join/abc")
    db.session.commit()
    html = client.get(f"/consultations/bookings/{b.id}").get_data(as_text=True)
    assert "https://teams.microsoft.com/l/meetup-join/abc" in html
    assert s.id


def test_others_cannot_see_a_booking_host_can(app, db, client, world, login, make_series, api):
    from scheduler.consultations import services as svc

    next_week_series(make_series, world.doctor, world.lanu, slots=1)
    d = to_local(utcnow()).date()
    sv = svc.list_slots(actor=world.worker, flt=svc.SlotFilter(date_from=d, date_to=d + timedelta(days=30)))[0]
    b = svc.run_atomically(lambda: svc.book_slot(actor=world.worker, slot_id=sv.id, case_ref="X-9", question="Kysymys 9"))
    login(world.worker2)
    assert client.get(f"/consultations/bookings/{b.id}").status_code == 404
    client.post("/sign-out", data={"csrf_token": csrf_token(client, "/")})
    login(world.doctor)
    hosting = client.get("/consultations/hosting").get_data(as_text=True)
    assert "Kysymys 9" in hosting and "X-9" in hosting
    # the host cancels with a reason; without one the form says what is missing
    url = f"/consultations/bookings/{b.id}/cancel"
    token = csrf_token(client, f"/consultations/bookings/{b.id}")
    missing = client.post(url, data={"csrf_token": token, "reason": ""})
    assert missing.status_code == 422 and "Kerro" in missing.get_data(as_text=True)
    assert client.post(url, data={"csrf_token": token, "reason": "Sairastuminen"}).status_code == 302


def test_reschedule_page_moves_the_booking(app, db, client, world, login, make_series):
    from scheduler.consultations import services as svc

    next_week_series(make_series, world.doctor, world.lanu, slots=2)
    d = to_local(utcnow()).date()
    sv = svc.list_slots(actor=world.worker, flt=svc.SlotFilter(date_from=d, date_to=d + timedelta(days=30)))[0]
    b = svc.run_atomically(lambda: svc.book_slot(actor=world.worker, slot_id=sv.id, case_ref="X-1", question="Q"))
    login(world.worker)
    page = client.get(f"/consultations/bookings/{b.id}/reschedule")
    html = page.get_data(as_text=True)
    target = re.findall(r'name="slot_id" value="([^"]+)"', html)[0]
    resp = client.post(f"/consultations/bookings/{b.id}/reschedule",
                       data={"csrf_token": csrf_token(client, f"/consultations/bookings/{b.id}/reschedule"), "slot_id": target})
    assert resp.status_code == 302
    db.session.expire_all()
    moved = db.session.get(Booking, b.id)
    assert moved.slot_key == target and moved.sequence == 1


def test_host_publishes_with_the_friendly_form(app, db, client, world, login):
    login(world.doctor)
    token = csrf_token(client, "/consultations/series/new")
    data = {"csrf_token": token, "unit": "LANU", "title": "LANU-konsultaatio", "recurrence": "monthly",
            "first_date": "12.1.2027", "start_time": "13", "until": "", "slot_minutes": "45", "slots": "2",
            "capacity": "1", "modality": "teams", "location": "", "languages": ["fi", "sv"],
            "open_to": ["child_welfare"], "consultants": [str(world.doctor.id)], "min_notice_hours": "24",
            "horizon_days": "90", "description": ""}
    bad = client.post("/consultations/series/new", data={**data, "first_date": "32.1.2027", "open_to": []})
    assert bad.status_code == 422
    text = bad.get_data(as_text=True)
    assert "error-summary" in text and "p.k.vvvv" in text
    assert db.session.scalar(select(func.count(ConsultationSeries.id))) == 0
    ok = client.post("/consultations/series/new", data=data)
    assert ok.status_code == 302, ok.get_data(as_text=True)[:3000]
    s = db.session.execute(select(ConsultationSeries)).scalar_one()
    assert s.rrule == "FREQ=MONTHLY;BYDAY=+2TU" and s.slot_minutes == 45
    assert to_local(s.first_start_dt).hour == 13
    page = client.get(ok.headers["Location"]).get_data(as_text=True)
    assert "Kuukausittain, toinen tiistai" in page


def test_host_cancels_and_moves_one_time(app, db, client, world, login, make_series):
    from scheduler.consultations import services as svc
    from scheduler.consultations.slots import occurrences

    s = next_week_series(make_series, world.doctor, world.lanu, slots=1)
    now = utcnow()
    occs = occurrences(s, now, now + timedelta(days=30))
    b = svc.run_atomically(lambda: svc.book_slot(actor=world.worker, slot_id=occs[0].key, case_ref="X-1", question="Q"))
    login(world.doctor)
    url = f"/consultations/series/{s.id}/occurrences/{occs[0].key}"
    assert "X-1" in client.get(url).get_data(as_text=True)
    new_day = to_local(occs[0].start_dt).date() + timedelta(days=1)
    resp = client.post(url, data={"move-csrf_token": csrf_token(client, url), "action": "move",
                                  "move-new_date": f"{new_day.day}.{new_day.month}.{new_day.year}",
                                  "move-new_time": "9.30", "move-reason": ""})
    assert resp.status_code == 302
    db.session.expire_all()
    b = db.session.get(Booking, b.id)
    assert to_local(b.start_dt).date() == new_day and to_local(b.start_dt).hour == 9 and b.sequence == 1
    url2 = f"/consultations/series/{s.id}/occurrences/{occs[1].key}"
    no_reason = client.post(url2, data={"cancel-csrf_token": csrf_token(client, url2), "action": "cancel",
                                        "cancel-reason": ""})
    assert no_reason.status_code == 422
    resp = client.post(url2, data={"cancel-csrf_token": csrf_token(client, url2), "action": "cancel",
                                   "cancel-reason": "Koulutus"})
    assert resp.status_code == 302
    page = client.get(f"/consultations/series/{s.id}").get_data(as_text=True)
    assert "Koulutus" in page and "Siirretty" in page


@pytest.mark.parametrize("lang,phrase", [("sv", "Boka konsultation"), ("en", "Book a consultation")])
def test_pages_in_swedish_and_english(app, client, world, login, make_series, lang, phrase):
    next_week_series(make_series, world.doctor, world.lanu)
    login(world.worker)
    client.post("/language", data={"lang": lang, "next": "/consultations/", "csrf_token": csrf_token(client, "/")})
    html = client.get("/consultations/").get_data(as_text=True)
    assert phrase in html
    assert datetime  # imported for the helpers


def test_demo_shows_consultations_in_both_directions(app, db, client):
    from scheduler.demo import DEMO_PASSWORD, seed_demo
    from scheduler.people.services import get_user_by_email

    seed_demo(production=False)
    db.session.commit()
    titles = set(db.session.execute(select(ConsultationSeries.title)).scalars())
    assert {"LANU-konsultaatio lastensuojelulle", "Päihdekonsultaatio",
            "Lastensuojelun yhteinen konsultaatiokokous"} <= titles
    sanna = get_user_by_email("sosiaalityontekija@demo.fi")
    from .conftest import sign_in

    sign_in(client, sanna, DEMO_PASSWORD)
    mine = client.get("/consultations/mine").get_data(as_text=True)
    upcoming, past = mine.split("Menneet", 1)
    assert "LS-2026-041" in upcoming and "LS-2026-031" in past
    assert "LANU-konsultaatio lastensuojelulle" in client.get("/consultations/").get_data(as_text=True)
    # she also hosts: the joint meeting's bookings from LANU and substance services
    hosting = client.get("/consultations/hosting").get_data(as_text=True)
    assert "LANU-2026-112" in hosting and "PAIHDE-2026-08" in hosting
