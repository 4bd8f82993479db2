"""The whole Teams path: request_meeting → outbox → deliver_due() → HTTPS stand-in → TeamsMeeting."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

START = datetime(2027, 1, 5, 11, 0, tzinfo=UTC)
END = START + timedelta(minutes=45)
SUBJECT = "Lastensuojelu – konsultaatioaika"


@pytest.fixture
def ready_signals():
    from scheduler.core.signals import teams_meeting_ready

    got = []

    def receiver(meeting_key, join_url=None, **_kw):
        got.append((meeting_key, join_url))

    teams_meeting_ready.connect(receiver)
    yield got
    teams_meeting_ready.disconnect(receiver)


def graph_messages(db):
    from scheduler.delivery.models import OutboxMessage

    db.session.expire_all()
    return db.session.query(OutboxMessage).filter_by(kind="graph").order_by(OutboxMessage.id).all()


def meeting_row(db, key="booking:1"):
    from scheduler.delivery.microsoft_models import TeamsMeeting

    db.session.expire_all()
    return db.session.query(TeamsMeeting).filter_by(meeting_key=key).one()


def later(seconds):
    return datetime.now(UTC) + timedelta(seconds=seconds)


def test_request_deliver_and_join_url(app, db, graph_settings, ready_signals):
    from scheduler.delivery.microsoft import join_url_for, request_meeting
    from scheduler.delivery.outbox import deliver_due

    request_meeting("booking:1", SUBJECT, START, END)
    db.session.commit()
    [msg] = graph_messages(db)
    assert msg.status == "queued"
    assert set(msg.payload) == {"op", "meeting_key", "version"}  # no subject, no case data
    assert graph_settings.meetings == {}  # nothing leaves before the commit and the worker

    assert deliver_due() == {"sent": 1, "retry": 0, "failed": 0, "events": 0}
    url = join_url_for("booking:1")
    assert url and url.startswith("https://teams.microsoft.com/l/meetup-join/")
    row = meeting_row(db)
    [meeting] = graph_settings.meetings_for(row.external_id)
    assert meeting["joinWebUrl"] == url and meeting["subject"] == SUBJECT
    assert ready_signals == [("booking:1", url)]
    assert graph_messages(db)[0].status == "sent"

    # the same request again changes nothing and queues nothing
    request_meeting("booking:1", SUBJECT, START, END)
    db.session.commit()
    assert len(graph_messages(db)) == 1


def test_throttled_then_success_makes_exactly_one_meeting(app, db, graph_settings, ready_signals):
    from scheduler.delivery.microsoft import request_meeting
    from scheduler.delivery.outbox import deliver_due

    request_meeting("booking:1", SUBJECT, START, END)
    db.session.commit()
    graph_settings.fail_next(429, retry_after=120)
    assert deliver_due() == {"sent": 0, "retry": 1, "failed": 0, "events": 0}
    [msg] = graph_messages(db)
    assert msg.status == "queued" and "429" in msg.last_error
    wait = (msg.next_attempt_dt - datetime.now(UTC)).total_seconds()
    assert 100 < wait <= 120  # Retry-After honoured, not the exponential back-off
    assert deliver_due() == {"sent": 0, "retry": 0, "failed": 0, "events": 0}  # not due yet
    assert deliver_due(now=later(121)) == {"sent": 1, "retry": 0, "failed": 0, "events": 0}
    row = meeting_row(db)
    assert len(graph_settings.meetings_for(row.external_id)) == 1
    assert [r.status for r in graph_settings.calls("POST", "/createOrGet")] == [429, 201]
    assert row.join_url and len(ready_signals) == 1


def test_unavailable_backs_off_and_then_delivers(app, db, graph_settings):
    from scheduler.delivery.microsoft import join_url_for, request_meeting
    from scheduler.delivery.outbox import deliver_due

    request_meeting("booking:2", SUBJECT, START, END)
    db.session.commit()
    graph_settings.fail_next(503, retry_after=30)
    assert deliver_due()["retry"] == 1
    assert "503" in graph_messages(db)[0].last_error
    assert deliver_due(now=later(31))["sent"] == 1
    assert join_url_for("booking:2")


def test_crash_after_graph_answered_before_commit_still_one_meeting(app, db, graph_settings, ready_signals):
    """The worker ran the handler, Graph made the meeting, and the process died before the commit:
    the transaction is rolled back. The next run's createOrGet returns the same meeting."""
    from scheduler.delivery.microsoft import handle_graph_message, join_url_for, request_meeting
    from scheduler.delivery.outbox import deliver_due

    request_meeting("panel-session:3", "Moniammatillinen asiantuntijaryhmä", START, END + timedelta(hours=2))
    db.session.commit()
    [msg] = graph_messages(db)
    handle_graph_message(msg)  # Graph answers 201 …
    assert len(graph_settings.meetings) == 1
    db.session.rollback()  # … and the crash loses our side of it
    assert join_url_for("panel-session:3") is None
    assert graph_messages(db)[0].status == "queued"

    assert deliver_due() == {"sent": 1, "retry": 0, "failed": 0, "events": 0}
    row = meeting_row(db, "panel-session:3")
    assert len(graph_settings.meetings) == 1
    assert [r.status for r in graph_settings.calls("POST", "/createOrGet")] == [201, 200]
    assert row.join_url == next(iter(graph_settings.meetings.values()))["joinWebUrl"]
    assert ready_signals[-1] == ("panel-session:3", row.join_url)


def test_a_refused_token_is_dropped_and_the_next_run_gets_a_new_one(app, db, graph_settings):
    from scheduler.delivery.microsoft import join_url_for, request_meeting
    from scheduler.delivery.outbox import deliver_due

    request_meeting("booking:1", SUBJECT, START, END)
    db.session.commit()
    assert deliver_due()["sent"] == 1
    graph_settings.revoke_tokens()  # e.g. the tenant rotated its keys
    request_meeting("booking:2", SUBJECT, START, END)
    db.session.commit()
    assert deliver_due() == {"sent": 0, "retry": 1, "failed": 0, "events": 0}
    assert "401" in graph_messages(db)[1].last_error
    assert len(graph_settings.calls("POST", "/oauth2/v2.0/token")) == 1
    assert deliver_due(now=later(3600))["sent"] == 1
    assert len(graph_settings.calls("POST", "/oauth2/v2.0/token")) == 2
    assert join_url_for("booking:2")


def test_an_injected_401_is_retried(app, db, graph_settings):
    from scheduler.delivery.microsoft import join_url_for, request_meeting
    from scheduler.delivery.outbox import deliver_due

    request_meeting("booking:1", SUBJECT, START, END)
    db.session.commit()
    graph_settings.fail_next(401)
    assert deliver_due()["retry"] == 1
    assert "InvalidAuthenticationToken" in graph_messages(db)[0].last_error
    assert deliver_due(now=later(3600))["sent"] == 1
    assert join_url_for("booking:1")


def test_other_client_errors_are_permanent_and_shown_without_case_data(app, db, graph_settings):
    from scheduler.delivery.microsoft import join_url_for, request_meeting
    from scheduler.delivery.outbox import deliver_due

    app.config["GRAPH_ORGANIZER"] = "no-policy@hyvinvointialue.example"  # no application access policy
    request_meeting("booking:1", SUBJECT, START, END)
    db.session.commit()
    assert deliver_due() == {"sent": 0, "retry": 0, "failed": 1, "events": 0}
    [msg] = graph_messages(db)
    assert msg.status == "failed" and "403" in msg.last_error
    assert SUBJECT not in msg.last_error
    assert join_url_for("booking:1") is None


def test_reschedule_patches_and_cancel_deletes(app, db, graph_settings, ready_signals):
    from scheduler.delivery.microsoft import cancel_meeting, join_url_for, request_meeting
    from scheduler.delivery.outbox import deliver_due

    request_meeting("booking:1", SUBJECT, START, END)
    db.session.commit()
    deliver_due()
    url = join_url_for("booking:1")

    request_meeting("booking:1", SUBJECT, START + timedelta(days=7), END + timedelta(days=7))
    db.session.commit()
    assert deliver_due()["sent"] == 1
    [patch] = graph_settings.calls("PATCH", "/onlineMeetings/")
    assert patch.status == 200 and patch.body["startDateTime"] == "2027-01-12T11:00:00Z"
    assert join_url_for("booking:1") == url
    assert len(ready_signals) == 1  # the link did not change: no second signal

    cancel_meeting("booking:1")
    db.session.commit()
    assert deliver_due()["sent"] == 1
    assert [r.status for r in graph_settings.calls("DELETE", "/onlineMeetings/")] == [204]
    assert graph_settings.meetings == {}
    assert join_url_for("booking:1") is None
    cancel_meeting("booking:1")  # twice: nothing more
    db.session.commit()
    assert len(graph_messages(db)) == 3


def test_changes_queued_before_delivery_converge_with_one_create(app, db, graph_settings):
    from scheduler.delivery.microsoft import request_meeting
    from scheduler.delivery.outbox import deliver_due

    request_meeting("booking:1", SUBJECT, START, END)
    db.session.commit()
    request_meeting("booking:1", SUBJECT, START + timedelta(hours=1), END + timedelta(hours=1))
    db.session.commit()
    assert deliver_due() == {"sent": 2, "retry": 0, "failed": 0, "events": 0}
    [create] = graph_settings.calls("POST", "/createOrGet")
    assert create.body["startDateTime"] == "2027-01-05T12:00:00Z"
    assert graph_settings.calls("PATCH", "/onlineMeetings/") == []


def test_a_meeting_cancelled_before_delivery_never_reaches_graph(app, db, graph_settings):
    from scheduler.delivery.microsoft import cancel_meeting, request_meeting
    from scheduler.delivery.outbox import deliver_due

    request_meeting("booking:1", SUBJECT, START, END)
    db.session.commit()
    cancel_meeting("booking:1")
    db.session.commit()
    assert deliver_due()["sent"] == 2
    assert graph_settings.calls("POST", "/createOrGet") == []


def test_a_revived_meeting_is_a_new_teams_meeting(app, db, graph_settings):
    from scheduler.delivery.microsoft import cancel_meeting, join_url_for, request_meeting
    from scheduler.delivery.outbox import deliver_due

    request_meeting("panel-session:1", "Asiantuntijaryhmä", START, END)
    db.session.commit()
    deliver_due()
    first = join_url_for("panel-session:1")
    cancel_meeting("panel-session:1")
    db.session.commit()
    deliver_due()
    request_meeting("panel-session:1", "Asiantuntijaryhmä", START, END)
    db.session.commit()
    deliver_due()
    second = join_url_for("panel-session:1")
    assert second and second != first
    assert len(graph_settings.meetings) == 1


def test_bad_requests_are_refused_before_anything_is_queued(app, db, graph_settings):
    from scheduler.delivery.microsoft import request_meeting

    with pytest.raises(ValueError):
        request_meeting("case:1", SUBJECT, START, END)
    with pytest.raises(ValueError):
        request_meeting("booking:1", SUBJECT, END, START)
    with pytest.raises(ValueError):
        request_meeting("booking:1", SUBJECT, START.replace(tzinfo=None), END.replace(tzinfo=None))
    with pytest.raises(ValueError):
        request_meeting("booking:1", "Konsultaatio 131052-308T", START, END)  # an identity code
    db.session.rollback()
    assert graph_messages(db) == []


def test_teams_check_cli(app, graph_settings):
    from scheduler.delivery.cli import teams_cli

    result = app.test_cli_runner().invoke(teams_cli, ["check"])
    assert result.exit_code == 0, result.output
    assert "OK" in result.output
    app.config["GRAPH_CLIENT_SECRET"] = "wrong"
    result = app.test_cli_runner().invoke(teams_cli, ["check"])
    assert result.exit_code == 1 and "invalid_client" in result.output


def test_a_cancellation_undone_before_delivery_keeps_the_meeting(app, db, graph_settings, ready_signals):
    from scheduler.delivery.microsoft import cancel_meeting, join_url_for, request_meeting
    from scheduler.delivery.outbox import deliver_due

    request_meeting("booking:1", SUBJECT, START, END)
    db.session.commit()
    deliver_due()
    url = join_url_for("booking:1")
    cancel_meeting("booking:1")
    db.session.commit()
    request_meeting("booking:1", SUBJECT, START, END)
    db.session.commit()
    assert deliver_due()["sent"] == 2
    assert join_url_for("booking:1") == url
    assert len(graph_settings.meetings) == 1
    assert graph_settings.calls("DELETE", "/onlineMeetings/") == []
    assert len(graph_settings.calls("POST", "/createOrGet")) == 1


def test_sub_second_times_do_not_cause_endless_updates(app, db, graph_settings):
    from scheduler.delivery.microsoft import request_meeting
    from scheduler.delivery.outbox import deliver_due

    request_meeting("booking:1", SUBJECT, START.replace(microsecond=500), END.replace(microsecond=7))
    db.session.commit()
    deliver_due()
    assert meeting_row(db).is_in_sync
    request_meeting("booking:1", SUBJECT, START.replace(microsecond=900), END)
    db.session.commit()
    assert len(graph_messages(db)) == 1


def test_a_real_booking_gets_its_join_url_through_the_signal(app, db, graph_settings, make_unit, make_user):
    """The contract with consultations: teams_meeting_ready("booking:<id>") puts the link on the booking."""
    from scheduler.consultations.models import Booking
    from scheduler.consultations.services import SeriesInput, book_slot, create_series
    from scheduler.consultations.slots import slot_key
    from scheduler.core.timefmt import local_to_utc
    from scheduler.delivery.microsoft import join_url_for, request_meeting
    from scheduler.delivery.outbox import deliver_due

    now = datetime(2027, 1, 1, 8, 0, tzinfo=UTC)
    ls, lanu = make_unit("LS", kind="child_welfare"), make_unit("LANU", kind="lanu")
    worker = make_user("worker@example.fi", roles=("social_worker",), units=[ls])
    doctor = make_user("doctor@example.fi", roles=("consultant",), units=[lanu])
    series = create_series(actor=doctor, now=now, data=SeriesInput(
        unit=lanu, title="LANU-konsultaatio", rrule="FREQ=WEEKLY;BYDAY=TU", first_start=datetime(2027, 1, 5, 13, 0),
        slot_minutes=30, slots=2, capacity=1, modality="teams", location="", languages=["fi"],
        open_to=["child_welfare"], min_notice_hours=24, horizon_days=365, until=None))
    db.session.commit()
    booking = book_slot(actor=worker, slot_id=slot_key(series.id, local_to_utc(datetime(2027, 1, 5, 13, 0))),
                        case_ref="LS-2027-001", question="Kysymys", now=now)
    request_meeting(f"booking:{booking.id}", "LANU – konsultaatio", booking.start_dt, booking.end_dt)
    db.session.commit()
    deliver_due()
    db.session.expire_all()
    url = join_url_for(f"booking:{booking.id}")
    assert url and db.session.get(Booking, booking.id).join_url == url
    [meeting] = graph_settings.meetings.values()
    assert "LS-2027-001" not in str(meeting) and "Kysymys" not in str(meeting)
