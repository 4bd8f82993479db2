# ruff: noqa: F811  (the shared fixtures are imported by name, then requested as arguments)
"""Retention: case content is erased on time (never a day early), the figures stay the same,
no canary string is left anywhere in the database, outbox bodies and .eml files go, the submitter
is told 14 days before, and erased objects say so on their page and in the API."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import JSON, String, Text, func, select

from .conftest import sign_in
from .consultations_fixtures import slot_id
from .panels_fixtures import CASE, NOW, submit

CANARY = "KANARIA"  # every erasable text below carries it
HANDLED = datetime(2027, 2, 11, 16, 0, tzinfo=UTC)  # local 11.2.2027 18.00: advice recorded
DECLINED = datetime(2027, 1, 20, 9, 0, tzinfo=UTC)


def _series(db, actor, unit):
    from scheduler.consultations.services import SeriesInput, create_series

    series = create_series(actor=actor, data=SeriesInput(
        unit=unit, title="LANU-konsultaatio", rrule="FREQ=WEEKLY;BYDAY=TU", first_start=datetime(2027, 1, 5, 13, 0),
        slot_minutes=30, slots=2, capacity=1, modality="teams", location="", languages=["fi"],
        open_to=["child_welfare"], min_notice_hours=24, horizon_days=365, until=None), now=NOW)
    db.session.commit()
    return series


@pytest.fixture
def world(db, panel, people, make_unit, make_user):
    """A handled case (with its advice), a declined one and a withdrawn one on the panel; a
    booking that was held and one the host cancelled; all the e-mails delivered as .eml files."""
    from scheduler.consultations.services import book_slot, cancel_booking
    from scheduler.delivery.outbox import deliver_due
    from scheduler.panels.cases import (
        decline_case,
        record_statement,
        return_case,
        schedule_case,
        update_case,
        withdraw_case,
    )
    from scheduler.panels.services import publish_agenda

    ls, lanu = make_unit("LS", kind="child_welfare"), make_unit("LANU", kind="lanu")
    booker = make_user("varaaja@example.fi", roles=("social_worker",), units=[ls], name="Veera Varaaja")
    host = make_user("lanu@example.fi", roles=("consultant",), units=[lanu], name="Lauri Lanu")
    series = _series(db, host, lanu)
    held = book_slot(actor=booker, slot_id=slot_id(series, 2027, 1, 12, 13), case_ref=f"{CANARY}-V1",
                     question=f"Kysymys {CANARY} koulusta", participants=[f"{CANARY.lower()}@example.fi"], now=NOW)
    cancelled = book_slot(actor=booker, slot_id=slot_id(series, 2027, 1, 19, 13), case_ref=f"{CANARY}-V2",
                          question=f"Toinen {CANARY}", now=NOW)
    db.session.commit()
    cancel_booking(actor=host, booking_id=cancelled.id, reason=f"Sairastuminen {CANARY}", now=NOW)
    db.session.commit()

    content = {k: (f"{v} {CANARY}" if isinstance(v, str) and k not in ("language", "municipality") else v)
               for k, v in CASE.items()}
    content["case_ref"] = f"{CANARY}-1"
    a = submit(db, panel, people["worker"], **content)
    return_case(a, actor=people["secretary"], message=f"Täydennä taustaa {CANARY}", now=NOW)
    db.session.commit()
    update_case(a, actor=people["worker"], now=NOW, **content)
    s1 = panel.sessions[1]
    schedule_case(a, actor=people["secretary"], session_id=s1.id, experts=["psykologi@example.fi"], now=NOW)
    publish_agenda(s1, actor=people["secretary"], now=NOW)
    record_statement(a, actor=people["secretary"], text=f"Neuvo {CANARY}", recommendations=[f"Suositus {CANARY}"],
                     responsible_services=[f"Oppilashuolto {CANARY}"], follow_up="1.6.2027", now=HANDLED)
    db.session.commit()
    b = submit(db, panel, people["worker"], **dict(content, case_ref=f"{CANARY}-2", municipality="Kemi"))
    decline_case(b, actor=people["secretary"], message=f"Ei kuulu työryhmälle {CANARY}", now=DECLINED)
    db.session.commit()
    c = submit(db, panel, people["other_worker"], **dict(content, case_ref=f"{CANARY}-3"))
    withdraw_case(c, actor=people["other_worker"], now=DECLINED)
    db.session.commit()
    deliver_due()
    return type("World", (), dict(booker=booker, host=host, held=held, cancelled=cancelled, handled=a,
                                  declined=b, withdrawn=c))


def run(as_of: date) -> dict:
    from scheduler.extensions import db
    from scheduler.jobs.retention import run_retention

    counts = run_retention(as_of)
    db.session.commit()
    db.session.expire_all()
    return counts


def scan_for(db, needle: str) -> list[str]:
    """Every text (and JSON) column of every table: where does `needle` still occur?"""
    found = []
    for table in db.metadata.sorted_tables:
        cols = [c for c in table.columns if isinstance(c.type, String | Text | JSON)]
        if not cols:
            continue
        for row in db.session.execute(select(*cols)).all():
            for col, value in zip(cols, row, strict=True):
                if value is not None and needle.lower() in str(value).lower():
                    found.append(f"{table.name}.{col.name}")
    return sorted(set(found))


def figures_csv(app, people) -> str:
    client = app.test_client()
    sign_in(client, people["secretary"])
    resp = client.get("/panels/figures?year=2027&format=csv")
    assert resp.status_code == 200
    return resp.get_data(as_text=True)


def test_nothing_is_erased_a_day_early_and_everything_on_its_day(app, db, world, people):
    from scheduler.consultations.models import Booking
    from scheduler.panels.models import PanelCase

    # declined/withdrawn on 20.1.2027 → 19.7.2027; advice on 11.2.2027 → 10.8.2027;
    # bookings ended 12.1. and 19.1.2027 → 11.7. and 18.7.2027 (CASE_RETENTION_DAYS = 180)
    assert app.config["CASE_RETENTION_DAYS"] == 180
    assert run(date(2027, 7, 10))["bookings"] == 0
    counts = run(date(2027, 7, 11))
    assert counts["bookings"] == 1 and counts["panel_cases"] == 0
    assert db.session.get(Booking, world.held.id).erased_dt is not None
    assert db.session.get(Booking, world.cancelled.id).erased_dt is None
    counts = run(date(2027, 7, 18))
    assert counts["bookings"] == 1 and counts["panel_cases"] == 0
    counts = run(date(2027, 7, 19))
    assert counts["bookings"] == 0 and counts["panel_cases"] == 2
    assert db.session.get(PanelCase, world.handled.id).erased_dt is None
    assert run(date(2027, 8, 9))["panel_cases"] == 0
    assert db.session.get(PanelCase, world.handled.id).case_ref == f"{CANARY}-1"
    assert run(date(2027, 8, 10))["panel_cases"] == 1
    case = db.session.get(PanelCase, world.handled.id)
    assert case.erased_dt is not None and case.case_ref == "" and case.child_age is None
    assert case.age_band == "13-17" and case.statement.text == "" and case.statement.recommendations == []
    assert case.municipality == "Rovaniemi" and sorted(case.expertise_codes) == ["education", "psychological"]
    assert run(date(2027, 8, 10)) == dict.fromkeys(run(date(2027, 8, 10)), 0)  # safe to rerun


def test_after_erasure_no_canary_is_left_and_the_figures_are_the_same(app, db, world, people):
    from scheduler.delivery.models import OutboxMessage

    outbox = Path(app.config["OUTBOX_DIR"])
    assert list(outbox.glob("*.eml"))
    before = figures_csv(app, people)
    assert "year,2027," in before
    assert scan_for(db, CANARY)  # the canaries are there to be found
    run(date(2028, 3, 1))
    assert scan_for(db, CANARY) == []
    assert figures_csv(app, people) == before
    assert not list(outbox.glob("*.eml"))
    msgs = db.session.scalars(select(OutboxMessage)).all()
    assert msgs and all(m.payload == {} and m.erased_dt is not None for m in msgs)


def test_outbox_bodies_and_eml_files_go_after_their_retention(app, db, world):
    from scheduler.core.timefmt import to_local
    from scheduler.delivery.models import OutboxMessage

    outbox = Path(app.config["OUTBOX_DIR"])
    files = len(list(outbox.glob("*.eml")))
    sent_day = to_local(datetime.now(UTC)).date()
    assert app.config["OUTBOX_RETENTION_DAYS"] == 30
    assert run(sent_day + timedelta(days=29))["outbox_messages"] == 0
    assert len(list(outbox.glob("*.eml"))) == files
    counts = run(sent_day + timedelta(days=30))
    assert counts["outbox_messages"] == db.session.scalar(select(func.count(OutboxMessage.id))) > 0
    assert counts["eml_files"] == files and not list(outbox.glob("*.eml"))


def test_the_submitter_is_told_14_days_before_the_advice_goes(app, db, world, people):
    from scheduler.delivery.models import OutboxMessage

    def notices():
        return db.session.scalars(select(OutboxMessage).where(OutboxMessage.dedupe_key.like("erasure-notice:%"))).all()

    assert run(date(2027, 7, 26))["erasure_notices"] == 0  # erased on 10.8.2027: told on 27.7.
    assert notices() == []
    assert run(date(2027, 7, 27))["erasure_notices"] == 1
    assert run(date(2027, 7, 28))["erasure_notices"] == 0  # once
    (msg,) = notices()
    p = msg.payload
    assert p["to"] == [people["worker"].email]
    assert "10.8.2027" in p["subject"] and f"/panels/cases/{world.handled.id}" in p["text"]
    for text in (p["subject"], p["text"], p["html"]):
        assert CANARY not in text and "Rovaniemi" not in text
    # declined and withdrawn cases have no advice to file: no notice
    assert {m.payload["to"][0] for m in notices()} == {people["worker"].email}


def test_erased_objects_say_so_on_their_pages_and_in_the_api(app, db, world, people, api):
    worker_api, booker_api = api(people["worker"]), api(world.booker)
    case = worker_api.get(f"/api/v1/panel-cases/{world.handled.id}").get_json()
    assert case["erased"] is False and case["case_ref"] == f"{CANARY}-1" and case["child_age"] == 14
    booking = booker_api.get(f"/api/v1/bookings/{world.held.id}").get_json()
    assert booking["erased"] is False and booking["participants"] == [f"{CANARY.lower()}@example.fi"]
    client = app.test_client()
    sign_in(client, people["worker"])
    html = client.get(f"/panels/cases/{world.handled.id}").get_data(as_text=True)
    assert f"/panels/cases/{world.handled.id}/advice" in html
    printable = client.get(f"/panels/cases/{world.handled.id}/advice")
    assert printable.status_code == 200 and f"Neuvo {CANARY}" in printable.get_data(as_text=True)

    run(date(2028, 3, 1))
    case = worker_api.get(f"/api/v1/panel-cases/{world.handled.id}").get_json()
    assert case["erased"] is True and case["erased_at"]
    for key in ("case_ref", "background", "questions", "services_tried", "secretary_message", "child_age"):
        assert case[key] is None, key
    assert case["age_band"] == "13-17" and case["municipality"] == "Rovaniemi"
    assert case["statement"]["text"] is None and case["statement"]["recorded"]
    booking = booker_api.get(f"/api/v1/bookings/{world.held.id}").get_json()
    assert booking["erased"] is True and booking["case_ref"] is None and booking["question"] is None
    assert booking["participants"] == [] and booking["start"].startswith("2027-01-12T13:00")
    listed = booker_api.get("/api/v1/bookings?mine=1").get_json()["bookings"]
    assert {b["erased"] for b in listed} == {True}

    from scheduler.core.timefmt import to_local

    today = to_local(datetime.now(UTC)).date()  # the day the retention run erased it
    erased_day = f"{today.day}.{today.month}.{today.year}"
    html = client.get(f"/panels/cases/{world.handled.id}").get_data(as_text=True)
    assert "poistettu" in html and erased_day in html and CANARY not in html
    assert client.get(f"/panels/cases/{world.handled.id}/advice").status_code == 404
    assert f"Asia numero {world.handled.id}" in client.get("/panels/").get_data(as_text=True)
    secretary = app.test_client()
    sign_in(secretary, people["secretary"])
    agenda = secretary.get(f"/panels/sessions/{world.handled.session_id}").get_data(as_text=True)
    assert f"Asia numero {world.handled.id}" in agenda and CANARY not in agenda
    admin = app.test_client()
    sign_in(admin, people["admin"])
    outbox = admin.get("/admin/outbox/?status=sent").get_data(as_text=True)
    assert "sisältö poistettu" in outbox and "sosiaali@example.fi" not in outbox
    booker = app.test_client()
    sign_in(booker, world.booker)
    html = booker.get(f"/consultations/bookings/{world.held.id}").get_data(as_text=True)
    assert "poistettu" in html and erased_day in html and CANARY not in html
    assert CANARY not in booker.get("/consultations/mine").get_data(as_text=True)


def test_flask_retention_run_prints_what_it_erased(app, db, world):
    runner = app.test_cli_runner()
    r = runner.invoke(args=["retention", "run", "--as-of", "2027-07-10"])
    assert r.exit_code == 0, r.output
    assert "Retention as of 2027-07-10" in r.output and "bookings erased: 0" in r.output
    r = runner.invoke(args=["retention", "run", "--as-of", "2027-07-19"])
    assert r.exit_code == 0, r.output
    assert "bookings erased: 2" in r.output and "panel cases erased: 2" in r.output
    assert "erasure notices queued: 0" in r.output and "access log entries deleted: 0" in r.output
    r = runner.invoke(args=["retention", "run", "--as-of", "19.7.2027"])
    assert r.exit_code != 0 and "YYYY-MM-DD" in r.output
    from scheduler.core.timefmt import to_local

    r = runner.invoke(args=["retention", "run"])  # default: today
    assert r.exit_code == 0 and f"Retention as of {to_local(datetime.now(UTC)).date().isoformat()}:" in r.output


def test_the_daily_job_is_registered(app):
    from scheduler.jobs import job_by_id

    job = job_by_id("retention", app)
    assert job is not None and job.trigger == {"trigger": "cron", "hour": 2, "minute": 30}


def test_old_access_log_rows_go_after_their_retention(app, db, people):
    from scheduler.people.access_log import AccessLogEntry, log_read

    log_read(people["admin"], "booking", 1, via="page", now=datetime(2027, 1, 1, 12, tzinfo=UTC))
    log_read(people["admin"], "booking", 2, via="page", now=datetime(2027, 1, 2, 12, tzinfo=UTC))
    db.session.commit()
    days = app.config["ACCESS_LOG_RETENTION_DAYS"]
    assert days == 1826
    assert run(date(2027, 1, 1) + timedelta(days=days - 1))["access_log_entries"] == 0
    assert run(date(2027, 1, 1) + timedelta(days=days))["access_log_entries"] == 1
    assert db.session.scalars(select(AccessLogEntry.object_id)).all() == [2]


def test_retention_settings_are_read_from_the_environment(tmp_path):
    from scheduler.config import ConfigError, load_config

    cfg = load_config(str(tmp_path), {"CASE_RETENTION_DAYS": "90", "OUTBOX_RETENTION_DAYS": "7"})
    assert (cfg["CASE_RETENTION_DAYS"], cfg["OUTBOX_RETENTION_DAYS"], cfg["ACCESS_LOG_RETENTION_DAYS"]) == (90, 7, 1826)
    with pytest.raises(ConfigError, match="CASE_RETENTION_DAYS"):
        load_config(str(tmp_path), {"CASE_RETENTION_DAYS": "0"})
