"""Content in the reader's language (issue 13): series titles, descriptions and places and panel names
written in Finnish, Swedish and English; each reader sees their own language, falling back to Finnish:
pages, the API, invitations (rendered by the worker), reminders and calendar feeds."""

from __future__ import annotations

from email import message_from_bytes, policy

import pytest

from scheduler.consultations import services as svc
from scheduler.consultations.notifications import booking_reminders
from scheduler.core.errors import ValidationFailed
from scheduler.delivery.outbox import deliver_due

from .consultations_fixtures import NOW, local, slot_id
from .fixtures_mail import calendar_parts
from .panels_fixtures import NOW as PANEL_NOW
from .panels_fixtures import submit
from .test_feeds import parse_feed

HETU = "131052-308T"
SV = dict(title_sv="LANU-konsultation", description_sv="För barnskyddet: frågor om ungas psykiska hälsa.",
          location_sv="Sjukhusvägen 1, mötesrum 2")
SERIES = {"unit": "LANU", "rrule": "FREQ=WEEKLY;BYDAY=TU", "first_start": "2027-01-05T13:00", "slot_minutes": 30,
          "slots": 2, "capacity": 1, "modality": "teams", "open_to": ["child_welfare"], "min_notice_hours": 0,
          "horizon_days": 730}


def _mails(folder):
    return [message_from_bytes(p.read_bytes(), policy=policy.default) for p in sorted(folder.glob("*.eml"))]


def _swedish_series(make_series, world, **kw):
    return make_series(world.doctor, world.lanu, modality="in_person", location="Sairaalantie 1, neuvotteluhuone 2",
                       description="Lastensuojelulle: nuorten mielenterveys.", **SV, **kw)


def _book(db, world, series, booker=None):
    booking = svc.book_slot(actor=booker or world.worker, slot_id=slot_id(series, 2027, 1, 12, 13), case_ref="LS-1",
                            question="Kysymys", participants=[], now=NOW)
    db.session.commit()
    return booking


def test_swedish_title_reaches_the_swedish_bookers_invitation(db, world, make_series, mail_folder):
    world.worker.language = "sv"
    db.session.commit()
    series = _swedish_series(make_series, world)
    _book(db, world, series)
    deliver_due()  # the worker renders each person's invitation
    by_rcpt = {m["To"]: m for m in _mails(mail_folder)}
    sv, fi = by_rcpt["worker@example.fi"], by_rcpt["doctor@example.fi"]
    assert sv["Subject"].startswith("Inbjudan: LANU-konsultation – ") and "tis 12.1.2027" in sv["Subject"]
    assert fi["Subject"].startswith("Kutsu: LANU-konsultaatio – ") and "LANU-konsultation" not in fi["Subject"]
    sv_text = sv.get_body(("plain",)).get_content()
    assert "LANU-konsultation" in sv_text and "Sjukhusvägen 1, mötesrum 2" in sv_text and "Sairaalantie" not in sv_text
    (sv_ics,) = calendar_parts(sv)
    (fi_ics,) = calendar_parts(fi)
    assert "Sjukhusv" in sv_ics.get_content() and "Sairaalantie 1" in fi_ics.get_content()


def test_reminder_in_the_recipients_language_with_the_place(db, world, make_series, mail_folder):
    world.worker.language = "sv"
    db.session.commit()
    series = _swedish_series(make_series, world)
    _book(db, world, series)
    deliver_due()
    before = {p.name for p in mail_folder.glob("*.eml")}
    assert booking_reminders(now=local(2027, 1, 11, 14), hours=24) == 2  # the booker and the consultant
    db.session.commit()
    deliver_due()
    new = [m for p, m in zip(sorted(mail_folder.glob("*.eml")), _mails(mail_folder), strict=True)
           if p.name not in before]
    by_rcpt = {m["To"]: m for m in new}
    sv_text = by_rcpt["worker@example.fi"].get_body(("plain",)).get_content()
    fi_text = by_rcpt["doctor@example.fi"].get_body(("plain",)).get_content()
    assert "LANU-konsultation" in by_rcpt["worker@example.fi"]["Subject"] and "Sjukhusvägen 1" in sv_text
    assert "LANU-konsultaatio" in by_rcpt["doctor@example.fi"]["Subject"] and "Sairaalantie 1" in fi_text


def test_api_titles_and_slots_in_the_callers_language(app, db, world, api):
    world.worker.language, world.worker2.language, world.host_ls.language = "sv", "en", "fi"
    db.session.commit()
    doctor = api(world.doctor)
    r = doctor.post("/api/v1/consultation-series",
                    json={**SERIES, "title": "LANU-konsultaatio", "titles": {"fi": "ei käytetä", "sv": "LANU-konsultation"}})
    assert r.status_code == 201, r.json
    assert r.json["title"] == "LANU-konsultaatio"  # title wins over titles.fi
    assert r.json["titles"] == {"fi": "LANU-konsultaatio", "sv": "LANU-konsultation", "en": ""}

    def titles(user):
        r = api(user).get("/api/v1/slots?from=2027-01-05&to=2027-01-05")
        assert r.status_code == 200, r.json
        return {s["title"] for s in r.json["slots"]}

    assert titles(world.worker) == {"LANU-konsultation"}
    assert titles(world.host_ls) == {"LANU-konsultaatio"}
    assert titles(world.worker2) == {"LANU-konsultaatio"}  # no English title: Finnish

    # titles.fi stands in for a missing title
    r = doctor.post("/api/v1/consultation-series", json={**SERIES, "titles": {"fi": "Päihdekonsultaatio", "en": "Substance"}})
    assert r.status_code == 201, r.json
    assert r.json["title"] == "Päihdekonsultaatio" and r.json["titles"]["en"] == "Substance"


@pytest.mark.parametrize("titles, field", [
    ({"de": "Konsultation"}, "titles"),
    ({"sv": "x" * 201}, "titles.sv"),
    ({"en": 5}, "titles.en"),
    ({"sv": f"Barn {HETU}"}, "titles.sv"),
    ({"en": "Consultation\x00"}, "titles.en"),
    ("LANU", "titles"),
])
def test_api_refuses_bad_titles_per_field(app, db, world, api, titles, field):
    r = api(world.doctor).post("/api/v1/consultation-series", json={**SERIES, "title": "LANU", "titles": titles})
    assert r.status_code == 422, r.json
    assert field in r.json["error"]["fields"], r.json


def test_translations_go_through_the_same_checks(db, world, make_series):
    for field, value in (("location_en", f"Room of {HETU}"), ("description_sv", "Text\x07"),
                         ("title_en", "\ud800"), ("location_sv", "x" * 301)):
        with pytest.raises(ValidationFailed) as exc:
            make_series(world.doctor, world.lanu, **{field: value})
        assert field in exc.value.fields
    db.session.rollback()


def test_booking_and_listing_pages_in_swedish(app, client, db, world, make_series, login):
    from .conftest import sign_in

    world.worker.language = "sv"
    db.session.commit()
    series = _swedish_series(make_series, world)
    booking = _book(db, world, series)
    login(world.worker)
    page = client.get(f"/consultations/bookings/{booking.id}").get_data(as_text=True)
    assert "<h1>LANU-konsultation</h1>" in page and "Sjukhusvägen 1, mötesrum 2" in page
    assert "LANU-konsultaatio" not in page and "Sairaalantie" not in page
    listing = client.get("/consultations/?date_from=5.1.2027&date_to=30.6.2027").get_data(as_text=True)
    assert "LANU-konsultation" in listing and "LANU-konsultaatio" not in listing
    mine = client.get("/consultations/mine").get_data(as_text=True)
    assert "LANU-konsultation" in mine
    # the Finnish-speaking host sees the Finnish texts
    host = app.test_client()
    sign_in(host, world.doctor)
    page = host.get(f"/consultations/bookings/{booking.id}").get_data(as_text=True)
    assert "LANU-konsultaatio" in page and "Sairaalantie 1" in page


def test_series_form_takes_swedish_and_english_marked_optional(client, db, world, login):
    from .conftest import csrf_token

    login(world.doctor)
    form = client.get("/consultations/series/new").get_data(as_text=True)
    assert 'name="title_sv"' in form and 'lang="sv"' in form and 'name="location_en"' in form
    r = client.post("/consultations/series/new", data={
        "csrf_token": csrf_token(client, "/consultations/series/new"), "unit": "LANU", "title": "LANU-konsultaatio", "title_sv": "LANU-konsultation",
        "title_en": f"LANU {HETU}", "recurrence": "weekly", "first_date": "5.1.2027", "start_time": "13.00",
        "slot_minutes": "30", "slots": "2", "capacity": "1", "modality": "teams", "languages": ["fi", "sv"],
        "open_to": ["child_welfare"], "consultants": [str(world.doctor.id)], "min_notice_hours": "24",
        "horizon_days": "90"})
    assert r.status_code == 422  # the English title holds an identity code: a field error, nothing stored
    assert 'id="title_en-error"' in r.get_data(as_text=True)


def test_personal_feed_in_the_subscribers_language(db, world, make_series):
    from scheduler.feeds.services import personal_feed

    world.worker.language = "sv"
    db.session.commit()
    series = _swedish_series(make_series, world)
    booking = _book(db, world, series)
    (ev,) = [e for e in parse_feed(personal_feed(world.worker, now=NOW).body).walk("VEVENT")]
    assert "LANU-konsultation" in str(ev["SUMMARY"]) and str(ev["UID"]) == booking.ical_uid
    (ev,) = [e for e in parse_feed(personal_feed(world.doctor, now=NOW).body).walk("VEVENT")]
    assert "LANU-konsultaatio" in str(ev["SUMMARY"])


def test_panel_name_in_the_swedish_experts_invitation(db, panel, people, mail_folder):  # noqa: F811
    from scheduler.panels import cases as pc
    from scheduler.panels import services as ps
    from scheduler.panels.panel_admin import update_panel

    people["teacher"].language = "sv"
    db.session.commit()
    update_panel(panel, actor=people["admin"], name=panel.name, name_sv="Lapplands expertgrupp",
                 rrule=panel.rrule, first_start="2027-01-14T12:30", session_minutes=180, case_minutes=45,
                 submission_deadline_days=10, agenda_days=5, region=panel.region,
                 secretaries=["sihteeri@example.fi"], now=PANEL_NOW)
    db.session.commit()
    assert panel.localized_name("sv") == "Lapplands expertgrupp" and panel.localized_name("en") == panel.name
    session = panel.sessions[1]
    case = submit(db, panel, people["worker"])
    pc.schedule_case(case, actor=people["secretary"], session_id=session.id, experts=["opettaja@example.fi"],
                     now=PANEL_NOW)
    ps.publish_agenda(session, actor=people["secretary"], now=PANEL_NOW)
    db.session.commit()
    deliver_due()
    mails = _mails(mail_folder)
    sv = [m["Subject"] for m in mails if m["To"] == "opettaja@example.fi"]
    fi = [m["Subject"] for m in mails if m["To"] == "sihteeri@example.fi"]
    assert any(s.startswith("Inbjudan: ") and "Lapplands expertgrupp" in s for s in sv), sv
    assert all("Lapin asiantuntijatyöryhmä" not in s for s in sv)
    assert any(s.startswith("Kutsu: ") and "Lapin asiantuntijatyöryhmä" in s for s in fi), fi


def test_panel_names_are_checked_and_shown_in_the_page_language(client, db, panel, people, login):  # noqa: F811
    from scheduler.panels.panel_admin import update_panel

    with pytest.raises(ValidationFailed) as exc:
        update_panel(panel, actor=people["admin"], name=panel.name, name_en=f"Panel {HETU}", rrule=panel.rrule,
                     first_start="2027-01-14T12:30", session_minutes=180, case_minutes=45,
                     submission_deadline_days=10, agenda_days=5, now=PANEL_NOW)
    assert "name_en" in exc.value.fields
    db.session.rollback()
    panel.name_sv = "Lapplands expertgrupp"
    people["worker"].language = "sv"
    db.session.commit()
    login(people["worker"])
    page = client.get("/panels/").get_data(as_text=True)
    assert "Lapplands expertgrupp" in page and "Lapin asiantuntijatyöryhmä" not in page
