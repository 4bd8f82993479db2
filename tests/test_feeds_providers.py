"""Feeds from real consultations and panel sessions: who sees what, privacy, UIDs, queries."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import recurring_ical_events
from sqlalchemy import event, select, update

from scheduler.feeds.services import forget_rendered_in_memory

from .test_feeds import feed_url, parse_feed, path_of

# Far enough ahead that the feed window (past 90 days and the future) holds them for years.
NOW = datetime(2029, 12, 1, 8, 0, tzinfo=UTC)
CASE_TEXTS = ("ASIA-4711", "Secret consultation question", "LS-2030-77", "Secret background", "Secret questions",
              "Sodankylä", "Secret services tried", "Secret advice")


def local(y, m, d, hh, mm=0) -> datetime:
    from scheduler.core.timefmt import local_to_utc

    return local_to_utc(datetime(y, m, d, hh, mm))


@pytest.fixture
def world(db, make_unit, make_user):
    ls = make_unit("LS", kind="child_welfare", name="Rovaniemen lastensuojelu")
    lanu = make_unit("LANU", kind="lanu", name="Lasten ja nuorten psykiatrian poliklinikka")
    w = type("World", (), {})()
    w.ls, w.lanu = ls, lanu
    w.worker = make_user("worker@example.fi", roles=("social_worker",), units=[ls])
    w.other = make_user("other@example.fi", roles=("social_worker",), units=[ls])
    w.doctor = make_user("doctor@example.fi", roles=("consultant",), units=[lanu])
    w.admin = make_user("admin@example.fi", roles=("admin",))
    w.secretary = make_user("secretary@example.fi", roles=("secretary",), units=[ls])
    w.expert = make_user("expert@example.fi", roles=("expert",), language="sv")
    w.expert2 = make_user("expert2@example.fi", roles=("expert",))
    return w


@pytest.fixture
def consultation(db, world):
    """A weekly LANU consultation hour (Tuesdays 13.00, two 30-minute slots) with one booking."""
    from scheduler.consultations.services import SeriesInput, book_slot, create_series
    from scheduler.consultations.slots import slot_key

    series = create_series(actor=world.doctor, data=SeriesInput(
        unit="LANU", title="LANU-konsultaatio", rrule="FREQ=WEEKLY;BYDAY=TU", first_start=datetime(2030, 1, 8, 13, 0),
        slot_minutes=30, slots=2, capacity=1, modality="teams", open_to=["child_welfare"], min_notice_hours=24,
        horizon_days=60), now=NOW)
    booking = book_slot(actor=world.worker, slot_id=slot_key(series.id, local(2030, 1, 8, 13)), case_ref="ASIA-4711",
                        question="Secret consultation question", now=NOW)
    db.session.commit()
    return series, booking


@pytest.fixture
def panel_world(db, world):
    """A monthly panel; the worker's case on the first session with an expert, agenda published."""
    from scheduler.panels.cases import schedule_case, submit_case
    from scheduler.panels.models import PanelSession
    from scheduler.panels.panel_admin import create_panel
    from scheduler.panels.services import publish_agenda

    panel = create_panel(actor=world.admin, name="Lapin asiantuntijaryhmä", rrule="FREQ=MONTHLY;BYDAY=2TH",
                         first_start="2030-01-10T12:30", session_minutes=180, case_minutes=45,
                         secretaries=[world.secretary.email],
                         experts=[{"email": world.expert.email, "expertise": ["legal"]},
                                  {"email": world.expert2.email, "expertise": ["psychological"]}], now=NOW)
    case = submit_case(actor=world.worker, panel_id=panel.id, case_ref="LS-2030-77", child_age=12,
                       municipality="Sodankylä", language="fi", background="Secret background",
                       questions="Secret questions", expertise=["legal"], services_tried="Secret services tried", now=NOW)
    sessions = db.session.execute(select(PanelSession).where(PanelSession.panel_id == panel.id)
                                  .order_by(PanelSession.start_dt)).scalars().all()
    first, second = sessions[0], sessions[1]
    schedule_case(case, actor=world.secretary, session_id=first.id, experts=[world.expert.email], now=NOW)
    publish_agenda(first, actor=world.secretary, now=NOW)
    db.session.commit()
    return panel, case, first, second


def events(feed) -> dict[str, object]:
    cal = parse_feed(feed.body)
    return {str(e["UID"]): e for e in cal.walk("VEVENT")}


def personal(user, now=NOW):
    from scheduler.feeds.services import personal_feed

    return personal_feed(user, now=now)


def assert_no_case_text(body: bytes):
    text = body.decode()
    for secret in CASE_TEXTS:
        assert secret not in text, secret


# --- consultations ---------------------------------------------------------------------------------

def test_booker_and_host_see_the_booking_others_do_not(app, db, world, consultation):
    _series, booking = consultation
    for user in (world.worker, world.doctor):
        evs = events(personal(user))
        assert list(evs) == [booking.ical_uid]
        ev = evs[booking.ical_uid]
        assert ev["DTSTART"].dt == local(2030, 1, 8, 13) and ev["DTEND"].dt == local(2030, 1, 8, 13, 30)
        assert str(ev["SUMMARY"]) == "Teams-konsultaatio: LANU-konsultaatio – Lasten ja nuorten psykiatrian poliklinikka"
        assert str(ev["URL"]) == f"http://127.0.0.1:5000/consultations/bookings/{booking.id}"
        assert ev["STATUS"] == "CONFIRMED"
        assert ev["DTSTAMP"].dt == booking.updated_dt.replace(microsecond=0)
    assert events(personal(world.other)) == {}
    assert_no_case_text(personal(world.worker).body)


def test_cancelled_booking_stays_cancelled_for_30_days(app, db, world, consultation):
    from scheduler.consultations.services import cancel_booking

    _series, booking = consultation
    cancel_booking(actor=world.worker, booking_id=booking.id, reason="Secret advice", now=NOW)
    db.session.commit()
    cancelled_at = booking.updated_dt
    ev = events(personal(world.doctor, now=cancelled_at + timedelta(days=29)))[booking.ical_uid]
    assert ev["STATUS"] == "CANCELLED" and ev["SEQUENCE"] == booking.sequence >= 1
    assert booking.ical_uid not in events(personal(world.doctor, now=cancelled_at + timedelta(days=31)))
    assert_no_case_text(personal(world.doctor, now=cancelled_at + timedelta(days=1)).body)


def test_reschedule_keeps_the_uid_and_moves_the_event(app, db, world, consultation):
    from scheduler.consultations.services import reschedule_booking
    from scheduler.consultations.slots import slot_key

    series, booking = consultation
    before = personal(world.worker)
    reschedule_booking(actor=world.worker, booking_id=booking.id, slot_id=slot_key(series.id, local(2030, 1, 15, 13, 30)),
                       now=NOW)
    db.session.commit()
    after = personal(world.worker)
    assert after.etag != before.etag
    ev = events(after)[booking.ical_uid]
    assert ev["DTSTART"].dt == local(2030, 1, 15, 13, 30)


def test_unit_feed_shows_slots_free_or_booked_and_nothing_else(app, db, world, consultation):
    from scheduler.consultations.services import cancel_occurrence
    from scheduler.feeds.services import unit_feed

    series, _booking = consultation
    feed = unit_feed(world.other, "LANU", now=NOW)
    cal = parse_feed(feed.body)
    evs = sorted(cal.walk("VEVENT"), key=lambda e: e["DTSTART"].dt)
    first_day = [e for e in evs if e["DTSTART"].dt.date() == datetime(2030, 1, 8).date()]
    assert [str(e["SUMMARY"]) for e in first_day] == ["Konsultaatioaika: varattu", "Konsultaatioaika: vapaa"]
    assert all(e["TRANSP"] == "TRANSPARENT" for e in evs)
    assert str(cal["X-WR-CALNAME"]) == "Konsultaatioajat: Lasten ja nuorten psykiatrian poliklinikka"
    horizon = NOW + timedelta(days=60)
    assert max(e["DTSTART"].dt for e in evs) <= horizon
    assert_no_case_text(feed.body)
    assert "worker@example.fi" not in feed.body.decode()

    # a cancelled occurrence stays, cancelled, under the same UIDs
    uids = {str(e["UID"]) for e in first_day}
    cancel_occurrence(actor=world.doctor, series_id=series.id, original_start_dt=local(2030, 1, 8, 13), reason="ill")
    db.session.commit()
    # (cancel_occurrence takes no `now`: the cancellation is stamped with the real clock)
    after = {str(e["UID"]): e for e in parse_feed(unit_feed(world.other, "LANU").body).walk("VEVENT")}
    assert all(after[uid]["STATUS"] == "CANCELLED" for uid in uids)


def test_unit_feed_of_unknown_unit_is_404(app, db, world, api):
    url = feed_url(api(world.worker))
    client = app.test_client()
    assert client.get(path_of(url).replace(".ics", "/units/NOPE.ics")).status_code == 404


# --- the expert panel --------------------------------------------------------------------------

def test_panel_invitees_and_submitter(app, db, world, panel_world):
    panel, case, first, second = panel_world
    sec = events(personal(world.secretary))
    assert list(sec) == [first.ical_uid]  # published sessions only; the second is not published yet
    ev = sec[first.ical_uid]
    assert str(ev["SUMMARY"]) == "Asiantuntijatyöryhmä: Lapin asiantuntijaryhmä"
    assert ev["DTSTART"].dt == first.start_dt and ev["DTEND"].dt == first.end_dt
    assert str(ev["URL"]).endswith(f"/panels/sessions/{first.id}")

    exp = events(personal(world.expert))  # Swedish-speaking expert
    assert list(exp) == [first.ical_uid]
    assert str(exp[first.ical_uid]["SUMMARY"]) == "Expertgrupp: Lapin asiantuntijaryhmä"
    assert events(personal(world.expert2)) == {}  # in the pool, not on this case

    own = events(personal(world.worker))
    assert list(own) == [case.ical_uid]  # only the case's own time, not the whole session
    db.session.refresh(case)
    assert own[case.ical_uid]["DTSTART"].dt == case.start_dt and own[case.ical_uid]["DTEND"].dt == case.end_dt
    assert str(own[case.ical_uid]["URL"]).endswith(f"/panels/cases/{case.id}")
    assert events(personal(world.other)) == {}
    for user in (world.secretary, world.expert, world.worker):
        assert_no_case_text(personal(user).body)


def test_cancelled_session_is_cancelled_for_the_secretary(app, db, world, panel_world):
    from scheduler.panels.services import cancel_session

    _panel, _case, first, _second = panel_world
    cancel_session(first, actor=world.secretary, reason="Secret advice", now=NOW)
    db.session.commit()
    # the session's updated_dt comes from the real clock: build with it
    ev = events(personal(world.secretary, now=None))[first.ical_uid]
    assert ev["STATUS"] == "CANCELLED"
    assert_no_case_text(personal(world.secretary, now=None).body)


def test_times_taken_off_a_published_agenda_stay_cancelled(app, db, world, panel_world):
    """The case moves on to the next (unpublished) session: the submitter's old time and the
    expert's session stay in their feeds as cancelled; the case's new time replaces it (same UID)
    once the next agenda is published."""
    from scheduler.panels.services import cancel_session, publish_agenda

    _panel, case, first, second = panel_world
    db.session.refresh(case)
    old_start = case.start_dt
    cancel_session(first, actor=world.secretary, reason="Secret advice", now=NOW)
    db.session.commit()
    own = events(personal(world.worker, now=None))
    assert own[case.ical_uid]["STATUS"] == "CANCELLED" and own[case.ical_uid]["DTSTART"].dt == old_start
    exp = events(personal(world.expert, now=None))
    assert exp[first.ical_uid]["STATUS"] == "CANCELLED"
    for user in (world.worker, world.expert):
        assert_no_case_text(personal(user, now=None).body)

    publish_agenda(second, actor=world.secretary, now=NOW)
    db.session.commit()
    db.session.refresh(case)
    own = events(personal(world.worker, now=None))
    assert own[case.ical_uid]["STATUS"] == "CONFIRMED" and own[case.ical_uid]["DTSTART"].dt == case.start_dt
    assert case.start_dt != old_start
    exp = events(personal(world.expert, now=None))
    assert exp[first.ical_uid]["STATUS"] == "CANCELLED" and exp[second.ical_uid]["STATUS"] == "CONFIRMED"


def test_withdrawn_case_stays_cancelled_for_submitter_and_expert(app, db, world, panel_world):
    from scheduler.panels.cases import withdraw_case

    _panel, case, first, _second = panel_world
    withdraw_case(case, actor=world.worker, now=NOW)
    db.session.commit()
    assert events(personal(world.worker, now=None))[case.ical_uid]["STATUS"] == "CANCELLED"
    assert events(personal(world.expert, now=None))[first.ical_uid]["STATUS"] == "CANCELLED"
    assert events(personal(world.secretary, now=None))[first.ical_uid]["STATUS"] == "CONFIRMED"
    # gone after 30 days
    later = datetime.now(UTC) + timedelta(days=31)
    assert case.ical_uid not in events(personal(world.worker, now=later))


def test_panel_feed_lists_session_dates(app, db, world, panel_world):
    from scheduler.feeds.services import panel_feed

    panel, _case, first, second = panel_world
    feed = panel_feed(world.other, panel.id, now=NOW)
    cal = parse_feed(feed.body)
    starts = [e["DTSTART"].dt for e in cal.walk("VEVENT")]
    assert first.start_dt in starts and second.start_dt in starts
    assert str(cal["X-WR-CALNAME"]) == "Asiantuntijatyöryhmän kokoukset: Lapin asiantuntijaryhmä"
    assert all(str(e["SUMMARY"]) == "Asiantuntijatyöryhmän kokous" for e in cal.walk("VEVENT"))
    assert_no_case_text(feed.body)


# --- over HTTP: stable UIDs, expansion, another user's token --------------------------------------

def test_feeds_over_http_parse_expand_and_keep_uids(app, db, world, consultation, panel_world, api):
    _series, booking = consultation
    _panel, case, _first, _second = panel_world
    client = app.test_client()
    path = path_of(feed_url(api(world.worker)))
    first = client.get(path)
    second = client.get(path)
    assert first.status_code == 200
    cal = parse_feed(first.data)
    uids = sorted(str(e["UID"]) for e in cal.walk("VEVENT"))
    assert uids == sorted([booking.ical_uid, case.ical_uid])
    assert uids == sorted(str(e["UID"]) for e in parse_feed(second.data).walk("VEVENT"))
    assert first.headers["ETag"] == second.headers["ETag"]
    expanded = recurring_ical_events.of(cal).between(datetime(2030, 1, 1), datetime(2030, 3, 1))
    assert {str(e["UID"]) for e in expanded} == set(uids)
    assert_no_case_text(first.data)

    other_path = path_of(feed_url(api(world.other)))
    other = client.get(other_path)
    assert other.status_code == 200 and parse_feed(other.data).walk("VEVENT") == []

    data = api(world.worker).get("/api/v1/me/feeds").get_json()
    assert [u["code"] for u in data["units"]] == ["LANU"]  # units with published consultation hours
    assert [p["name"] for p in data["panels"]] == ["Lapin asiantuntijaryhmä"]
    for url in [u["url"] for u in data["units"]] + [p["url"] for p in data["panels"]]:
        resp = client.get(path_of(url))
        assert resp.status_code == 200
        parse_feed(resp.data)
        assert_no_case_text(resp.data)


def test_personal_feed_query_count_is_constant(app, db, world, panel_world):
    from scheduler.consultations.services import SeriesInput, book_slot, create_series
    from scheduler.consultations.slots import slot_key

    series = create_series(actor=world.doctor, data=SeriesInput(
        unit="LANU", title="Päivittäin", rrule="FREQ=DAILY", first_start=datetime(2030, 1, 7, 9, 0), slot_minutes=30,
        slots=1, capacity=1, modality="phone", open_to=["child_welfare"], min_notice_hours=0, horizon_days=400),
        now=NOW)
    db.session.commit()

    def count_queries(n_bookings: int) -> list[int]:
        existing = db.session.scalar(select(__import__("sqlalchemy").func.count()).select_from(
            __import__("scheduler.consultations.models", fromlist=["Booking"]).Booking))
        for i in range(existing, n_bookings):
            book_slot(actor=world.worker, slot_id=slot_key(series.id, local(2030, 1, 7, 9) + timedelta(days=i)),
                      case_ref=f"ASIA-{i}", question="Secret consultation question", now=NOW)
        db.session.commit()
        counts = []
        for warm in (False, True, True):
            if not warm:
                forget_rendered_in_memory()
            statements = []
            listener = lambda *a: statements.append(a[2])  # noqa: E731
            event.listen(db.engine, "before_cursor_execute", listener)
            try:
                feed = personal(world.worker)
                db.session.commit()
            finally:
                event.remove(db.engine, "before_cursor_execute", listener)
            counts.append(len(statements))
        assert len(events(feed)) == n_bookings + 1  # and the panel case
        return counts

    few, many = count_queries(2), count_queries(25)
    assert few == many, (few, many)


def test_unchanged_feed_is_served_from_its_state_and_never_reads_case_columns(app, db, world, consultation,
                                                                                panel_world):
    from scheduler.consultations.services import cancel_booking

    _series, booking = consultation
    forget_rendered_in_memory()
    statements: list[str] = []
    listener = lambda *a: statements.append(a[2])  # noqa: E731
    event.listen(db.engine, "before_cursor_execute", listener)
    try:
        first = personal(world.worker)
        built = len(statements)
        statements.clear()
        again = personal(world.worker)
        state_only = list(statements)
        cancel_booking(actor=world.worker, booking_id=booking.id, reason="", now=NOW)
        db.session.commit()
        statements.clear()
        changed = personal(world.worker, now=None)
    finally:
        event.remove(db.engine, "before_cursor_execute", listener)
    assert again is first and len(state_only) == 1 < built  # one statement, the state: no items read
    assert changed.etag != first.etag
    assert events(changed)[booking.ical_uid]["STATUS"] == "CANCELLED"
    everything = " ".join(statements + state_only).lower()
    for column in ("case_ref", "question", "background", "services_tried", "municipality", "statement"):
        assert column not in everything


# --- the validator: every change that alters the feed changes the ETag ---------------------------

def _etag_after(change, user, api, app, db, *others) -> None:
    """Each feed's ETag over HTTP before and after `change` (committed), asked conditionally: the
    second answer must be a 200 with another ETag, not a 304 of the first."""
    client = app.test_client()
    paths = [path_of(feed_url(api(u))) for u in (user, *others)]
    before = []
    for path in paths:
        resp = client.get(path)
        assert resp.status_code == 200
        assert client.get(path, headers={"If-None-Match": resp.headers["ETag"]}).status_code == 304
        before.append(resp.headers["ETag"])
    change()
    db.session.commit()
    for path, etag in zip(paths, before, strict=True):
        after = client.get(path, headers={"If-None-Match": etag})
        assert after.status_code == 200, "a 304 for a changed feed"
        assert after.headers["ETag"] != etag


def test_etag_changes_when_a_booking_is_cancelled_moved_or_made(app, db, world, consultation, api):
    from scheduler.consultations.services import book_slot, cancel_booking, reschedule_booking
    from scheduler.consultations.slots import slot_key

    series, booking = consultation
    _etag_after(lambda: reschedule_booking(actor=world.worker, booking_id=booking.id,
                                           slot_id=slot_key(series.id, local(2030, 1, 15, 13, 30)), now=NOW),
                world.doctor, api, app, db)
    _etag_after(lambda: cancel_booking(actor=world.worker, booking_id=booking.id, reason="", now=NOW),
                world.doctor, api, app, db)
    _etag_after(lambda: book_slot(actor=world.other, slot_id=slot_key(series.id, local(2030, 1, 22, 13)),
                                  case_ref="ASIA-1", question="Secret consultation question", now=NOW),
                world.doctor, api, app, db)


def test_etag_changes_when_a_series_or_unit_is_renamed(app, db, world, consultation, api):
    series, _booking = consultation

    def rename_series():
        series.title = "LANU-konsultaatio (uusi nimi)"

    def rename_unit():  # units carry no stamp: their names are in the feed's state
        world.lanu.name_fi = "Nuorisopsykiatria"

    for change in (rename_series, rename_unit):
        _etag_after(change, world.worker, api, app, db)


def test_etag_changes_when_the_user_stops_hosting_a_series(app, db, world, consultation, api):
    series, _booking = consultation

    def leave():
        series.consultants.remove(world.doctor)

    _etag_after(leave, world.doctor, api, app, db)


def test_etag_changes_for_panel_changes_and_tombstones(app, db, world, panel_world, api):
    from scheduler.panels.cases import withdraw_case
    from scheduler.panels.services import cancel_session

    panel, case, first, _second = panel_world

    def rename_panel():
        panel.name = "Lapin asiantuntijaryhmä (uusi)"

    _etag_after(rename_panel, world.secretary, api, app, db, world.expert, world.worker)
    # the submitter's case and the expert's session leave their sources: tombstones appear
    _etag_after(lambda: withdraw_case(case, actor=world.worker, now=NOW), world.expert, api, app, db, world.worker)
    _etag_after(lambda: cancel_session(first, actor=world.secretary, reason="", now=NOW), world.secretary, api, app,
                db)


def test_etag_changes_when_a_late_commit_carries_an_earlier_stamp(app, db, world, consultation, api):
    """Two changes of one feed in flight: the one stamped later commits first and is seen; then
    the other commits, with an earlier stamp than the latest. The latest stamp (max) is the same
    before and after; the feed is not."""
    from scheduler.consultations.models import Booking
    from scheduler.consultations.services import book_slot
    from scheduler.consultations.slots import slot_key

    series, booking = consultation
    later = book_slot(actor=world.worker, slot_id=slot_key(series.id, local(2030, 1, 22, 13)), case_ref="ASIA-2",
                      question="Secret consultation question", now=NOW)
    db.session.commit()
    assert later.updated_dt > booking.updated_dt

    def late_commit():
        db.session.execute(update(Booking).where(Booking.id == booking.id).values(
            sequence=Booking.sequence + 1, updated_dt=later.updated_dt - timedelta(microseconds=1500)))

    _etag_after(late_commit, world.worker, api, app, db)


def test_feed_follows_the_clock_and_the_language(app, db, world, consultation, panel_world):
    """What no row change shows: items leaving the window, cancelled items expiring (a cancelled
    session stays in the sources, only the window drops it) and the user's language."""
    from scheduler.panels.services import cancel_session

    _series, booking = consultation
    _panel, _case, first, _second = panel_world
    cancel_session(first, actor=world.secretary, reason="", now=NOW)
    db.session.commit()
    cancelled = events(personal(world.secretary, now=None))
    assert cancelled[first.ical_uid]["STATUS"] == "CANCELLED"
    later = datetime.now(UTC) + timedelta(days=31)
    assert first.ical_uid not in events(personal(world.secretary, now=later))

    end = booking.end_dt
    assert booking.ical_uid in events(personal(world.worker, now=end + timedelta(days=89)))
    assert booking.ical_uid not in events(personal(world.worker, now=end + timedelta(days=91)))

    fi = personal(world.worker)
    world.worker.language = "sv"
    db.session.commit()
    sv = personal(world.worker)
    assert sv.etag != fi.etag


def test_a_304_is_one_statement_whatever_the_number_of_items(app, db, world, panel_world, api):
    from scheduler.consultations.services import SeriesInput, book_slot, create_series
    from scheduler.consultations.slots import slot_key

    series = create_series(actor=world.doctor, data=SeriesInput(
        unit="LANU", title="Päivittäin", rrule="FREQ=DAILY", first_start=datetime(2030, 1, 7, 9, 0), slot_minutes=30,
        slots=1, capacity=1, modality="phone", open_to=["child_welfare"], min_notice_hours=0, horizon_days=400),
        now=NOW)
    db.session.commit()
    client = app.test_client()
    path = path_of(feed_url(api(world.worker)))
    counts, done = [], 0
    for n in (2, 30):
        for i in range(done, n):
            book_slot(actor=world.worker, slot_id=slot_key(series.id, local(2030, 1, 7, 9) + timedelta(days=i)),
                      case_ref=f"ASIA-{i}", question="Secret consultation question", now=NOW)
        db.session.commit()
        done = n
        etag = client.get(path).headers["ETag"]
        statements: list[str] = []
        listener = lambda *a: statements.append(a[2])  # noqa: E731
        event.listen(db.engine, "before_cursor_execute", listener)
        try:
            assert client.get(path, headers={"If-None-Match": etag}).status_code == 304
        finally:
            event.remove(db.engine, "before_cursor_execute", listener)
        counts.append(len(statements))
    assert counts == [1, 1], counts
