# ruff: noqa: F811  (the shared fixtures are imported by name, then requested as arguments)
"""Identity codes (henkilötunnus) however they are written: one detector, every free text.

The table gives each writing with the expected answer: the masked code that must be refused, or
None for text that must pass. Valid codes are checked with their real check character
(DDMMYYNNN mod 31)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from scheduler.core.errors import ValidationFailed
from scheduler.core.privacy import identity_code_problem, identity_codes, normalise, refuse_identity_codes

from .consultations_fixtures import local, make_series, slot_id, world  # noqa: F401
from .panels_fixtures import CASE, NOW, submit

TABLE = [
    # --- refused: a real date, a matching check character, however written ---
    ("131052-308T", "131052-***T"),
    ("Lapsi 131052-308T asiakkaana", "131052-***T"),
    ("hetu131052-308T", "131052-***T"),  # glued to a word in front
    ("hetu:131052-308T.", "131052-***T"),
    ("x131052-308Tx", "131052-***T"),  # and behind
    ("131052-308t", "131052-***T"),  # lowercase check character
    ("131052 308T", "131052 ***T"),  # a space for the separator
    ("131052308T", "131052***T"),  # no separator
    ("131052 - 308T", "131052 - ***T"),  # spaces around it
    ("131052\u2013308T", "131052-***T"),  # en dash
    ("131052\u2014308T", "131052-***T"),  # em dash
    ("131052\u2212308T", "131052-***T"),  # minus sign
    ("131052\u2011308T", "131052-***T"),  # non-breaking hyphen
    ("131052\u2010308T", "131052-***T"),  # hyphen
    ("131052\ufe63308T", "131052-***T"),  # small hyphen-minus
    ("131052\uff0d308T", "131052-***T"),  # full-width hyphen-minus
    ("1310\u00ad52-308T", "131052-***T"),  # soft hyphen inside
    ("131052-3\u200b08T", "131052-***T"),  # zero-width space inside
    ("13\u200d1052\u2060-308T", "131052-***T"),  # zero-width joiner and word joiner
    ("\uff11\uff13\uff11\uff10\uff15\uff12-\uff13\uff10\uff18\uff34", "131052-***T"),  # full-width digits
    ("131052\u00a0308T", "131052 ***T"),  # no-break space
    ("010594Y9021", "010594Y***1"),  # 2023 century sign Y (1900s)
    ("010594y9021", "010594Y***1"),  # lowercase century sign
    ("290200A1239", "290200A***9"),  # 29 February 2000 exists
    ("290200a1239", "290200A***9"),
    ("311299-456X", "311299-***X"),
    ("010101+002S", "010101+***S"),  # 1800s
    ("150387U289V", "150387U***V"),
    ("240613F904U", "240613F***U"),  # 2000s, a temporary number (900–999)
    ("300412B345T", "300412B***T"),
    ("Asiakas (150387-289V) ja sisarus", "150387-***V"),
    # --- passed: wrong check character, impossible dates, other numbers ---
    ("131052-308A", None),  # wrong check character
    ("131052-308U", None),
    ("131052 308A", None),
    ("310252-308T", None),  # 31 February
    ("290200-1239", None),  # 29 February 1900 (not a leap year)
    ("290201A123J", None),  # 29 February 2001
    ("001052-308T", None),  # day 0
    ("131352-308T", None),  # month 13
    ("131052Q308T", None),  # Q is no century sign
    ("040 123 4567", None),  # phone numbers
    ("040-123 4567", None),
    ("+358 40 123 4567", None),
    ("0401234567", None),
    ("ROV-2027-014", None),  # case references
    ("ROI-2027-017", None),
    ("LS-2027/0042", None),
    ("13.10.2027", None),  # dates
    ("13.10.2027 klo 13.00–13.30", None),
    ("2027-10-13", None),
    ("1310523089T", None),  # digits run on: no code in there
    ("Y-tunnus 1234567-8", None),  # a business ID
    ("IBAN FI21 1234 5600 0007 85", None),
    ("", None),
]


@pytest.mark.parametrize(("text", "expected"), TABLE, ids=[repr(t)[:40] for t, _ in TABLE])
def test_identity_code_table(text, expected):
    found = [c.masked for c in identity_codes(text)]
    assert found == ([expected] if expected else []), (text, found)


def test_the_table_is_big_enough_and_covers_both_answers():
    assert len(TABLE) >= 40
    assert sum(1 for _, e in TABLE if e) >= 20 and sum(1 for _, e in TABLE if not e) >= 20


def test_normalise_folds_dashes_and_drops_invisibles():
    assert normalise("a\u2013b\u2212c\u2011d\u00ade\u200bf") == "A-B-C-DEF"


FINNISH = """\
Nuori (15 v.) on ollut avohuollon tukitoimena perhetyön asiakkaana 1.3.2026 alkaen. Koulunkäynti on
katkennut syyslukukaudella 2026, ja nuori on ollut poissa koulusta noin 40 päivää. Äiti kertoo, että
nuori valvoo öisin ja pelaa. Koulupsykologi on tavannut nuorta kolme kertaa (viimeksi 13.10.2027 klo
9.00–9.45). Nuorisopsykiatrian poliklinikan lähete tehtiin 2.11.2026, jonotusaika on arviolta 3–4 kk.
Asia ROV-2027-014, yhteyshenkilö sosiaalityöntekijä p. 040 123 4567 tai 016 322 1234. Kysymykset
työryhmälle: 1) Miten koulunkäynnin tukea voisi tiivistää? 2) Mikä on päihdepalvelujen rooli, kun
nuori on kokeillut kannabista 2–3 kertaa? 3) Tarvitaanko sijoitus (lastensuojelulaki 417/2007, 40 §)?
"""

SWEDISH = """\
Den unga (14 år) har varit klient inom öppenvården sedan 1.3.2026. Skolgången har avbrutits under
hösten och frånvaron är cirka 35 dagar. Vårdnadshavaren berättar att den unga sover dåligt. Ärendet
ROV-2027-014 behandlades senast 13.10.2027 kl. 13.00–13.30 med skolkuratorn; telefon 040 123 4567.
Remiss till ungdomspsykiatrin gjordes 2.11.2026 och väntetiden är 3–4 månader. Frågor till
expertgruppen: hur kan stödet i skolan förstärkas, och behövs en placering enligt barnskyddslagen
(417/2007) 40 §? Familjearbete 2026–2027, 2 gånger i veckan, totalt 24 besök.
"""


@pytest.mark.parametrize("text", [FINNISH, SWEDISH], ids=["fi", "sv"])
def test_no_false_alarm_on_ordinary_case_text(text):
    assert identity_codes(text) == []


def test_the_field_error_says_what_was_found_and_why(app):
    problem = identity_code_problem("Lapsen hetu on 131052\u2013308T.")
    assert "131052-***T" in problem and "308" not in problem.replace("131052", "")
    with pytest.raises(ValidationFailed) as exc:
        refuse_identity_codes(case_ref="ROV-2027-014", question="131052 308T")
    assert set(exc.value.fields) == {"question"} and "131052 ***T" in exc.value.fields["question"]


# --- every free text, in the services (so pages and API both refuse it) ---------------------------

EN_DASH_CODE = "Lapsi 131052\u2013308T, sijoitettu."


def test_service_refuses_an_en_dash_code_in_the_background(panel, db, people):
    from scheduler.panels.cases import submit_case
    from scheduler.panels.models import PanelCase

    with pytest.raises(ValidationFailed) as exc:
        submit_case(actor=people["worker"], panel_id=panel.id, now=NOW, **dict(CASE, background=EN_DASH_CODE))
    assert "background" in exc.value.fields and "131052-***T" in exc.value.fields["background"]
    db.session.rollback()
    assert db.session.query(PanelCase).count() == 0


def test_api_refuses_an_en_dash_code_in_the_background(api, panel, people):
    worker = api(people["worker"])
    resp = worker.post("/api/v1/panel-cases", json=dict(CASE, panel_id=panel.id, background=EN_DASH_CODE))
    assert resp.status_code == 422, resp.json
    assert "131052-***T" in resp.json["error"]["fields"]["background"]
    for field in ("case_ref", "questions", "services_tried"):
        resp = worker.post("/api/v1/panel-cases", json=dict(CASE, panel_id=panel.id, **{field: "hetu131052 308t"}))
        assert resp.status_code == 422 and field in resp.json["error"]["fields"], field


def test_panel_texts_after_submission_are_checked(panel, db, people):
    from scheduler.panels import cases, services

    case = submit(db, panel, people["worker"])
    sec = people["secretary"]
    for call, field in ((lambda: cases.return_case(case, actor=sec, message="Tarkista 131052\u2212308T"), "message"),
                        (lambda: cases.decline_case(case, actor=sec, message="ks. 131052\u2011308T"), "message")):
        with pytest.raises(ValidationFailed) as exc:
            call()
        assert field in exc.value.fields
        db.session.rollback()
    assert case.status == "submitted" and case.secretary_message == ""
    session = services.open_sessions(panel, now=NOW)[0]
    with pytest.raises(ValidationFailed) as exc:
        services.cancel_session(session, actor=sec, reason="Sairastuminen, 131052 - 308T", now=NOW)
    assert "reason" in exc.value.fields
    db.session.rollback()
    assert session.status == "scheduled"


def test_statement_and_follow_ups_are_checked(panel, db, people):
    from scheduler.panels import cases, services

    case = submit(db, panel, people["worker"])
    sec = people["secretary"]
    session = services.open_sessions(panel, now=NOW)[0]
    cases.schedule_case(case, actor=sec, session_id=session.id, now=NOW)
    services.publish_agenda(session, actor=sec, now=NOW)
    db.session.commit()
    for kw, field in (({"text": "Lausunto 131052308T"}, "text"),
                      ({"text": "ok", "recommendations": ["Seuranta (131052-308T)"]}, "recommendations"),
                      ({"text": "ok", "responsible_services": ["LANU 131052\u2013308T"]}, "responsible_services")):
        with pytest.raises(ValidationFailed) as exc:
            # advice is recorded once the session has started
            cases.record_statement(case, actor=sec, now=session.start_dt + timedelta(minutes=5), **kw)
        assert field in exc.value.fields, kw
        db.session.rollback()
    assert case.statement is None


def test_panel_names_and_expert_organisations_are_checked(db, people, panel):
    from scheduler.panels import panel_admin

    with pytest.raises(ValidationFailed) as exc:
        panel_admin.create_panel(actor=people["admin"], name="Työryhmä 131052-308T", rrule="FREQ=MONTHLY;BYDAY=2TH",
                                 first_start="2027-01-14T12:30", region="Lappi 010594Y9021", now=NOW)
    assert {"name", "region"} <= set(exc.value.fields)
    db.session.rollback()
    with pytest.raises(ValidationFailed) as exc:
        panel_admin.set_expert(panel, actor=people["admin"], email="juristi@example.fi", expertise=["legal"],
                               organisation="Lakitoimisto 131052-308T")
    assert "organisation" in exc.value.fields


def test_booking_texts_are_checked_pages_and_api(app, db, world, make_series, api):
    from scheduler.consultations import services as svc
    from scheduler.consultations.models import Booking

    series = make_series(world.doctor, world.lanu)
    now = datetime(2027, 1, 1, 8, 0, tzinfo=UTC)
    sid = slot_id(series, 2027, 1, 12, 13)
    for kw, field in (({"case_ref": "hetu131052-308T", "question": "Kysymys"}, "case_ref"),
                      ({"case_ref": "ROV-2027-014", "question": "Lapsi 131052\u2013308T"}, "question")):
        with pytest.raises(ValidationFailed) as exc:
            svc.book_slot(actor=world.worker, slot_id=sid, now=now, **kw)
        assert field in exc.value.fields
        db.session.rollback()
    resp = api(world.worker).post("/api/v1/bookings", json={"slot_id": sid, "case_ref": "ROV-2027-014",
                                                            "question": "Lapsi 131052\u2013308T"})
    assert resp.status_code == 422 and "131052-***T" in resp.json["error"]["fields"]["question"]
    assert db.session.query(Booking).count() == 0
    booking = svc.book_slot(actor=world.worker, slot_id=sid, now=now, case_ref="ROV-2027-014", question="Kysymys")
    db.session.commit()
    with pytest.raises(ValidationFailed) as exc:
        svc.cancel_booking(actor=world.worker, booking_id=booking.id, reason="Peruttu 131052\u2011308T", now=now)
    assert "reason" in exc.value.fields
    db.session.rollback()
    with pytest.raises(ValidationFailed) as exc:
        svc.cancel_occurrence(actor=world.doctor, series_id=series.id,
                              original_start_dt=local(2027, 1, 12, 13), reason="Peruttu: 131052 308T")
    assert "reason" in exc.value.fields
    db.session.rollback()
    assert db.session.get(Booking, booking.id).status == "confirmed"


def test_series_texts_are_checked(app, db, world, make_series):
    with pytest.raises(ValidationFailed) as exc:
        make_series(world.doctor, world.lanu, title="Konsultaatio 131052\u2212308T",
                    description="Tiedot: 010594y9021", modality="in_person", location="Huone 131052 308T")
    assert {"title", "description", "location"} <= set(exc.value.fields)


def test_people_texts_are_checked(db, make_user, make_unit):
    from scheduler.people import services as people_svc

    with pytest.raises(ValidationFailed) as exc:
        people_svc.create_user(email="uusi@example.fi", name="Matti 131052-308T", roles=["social_worker"],
                               title="Sosiaalityöntekijä", organisation="Rovaniemi")
    assert "name" in exc.value.fields
    db.session.rollback()
    with pytest.raises(ValidationFailed) as exc:
        people_svc.create_unit(code="ROI-LS", name_fi="Lastensuojelu 131052308T", kind="child_welfare")
    assert "name_fi" in exc.value.fields
