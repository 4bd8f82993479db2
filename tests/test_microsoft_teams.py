"""Teams meetings: converging Graph to the wanted state of a TeamsMeeting (through the stand-in)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from .fixtures_microsoft import ORGANIZER_OID

START = datetime(2027, 1, 5, 11, 0, tzinfo=UTC)
END = START + timedelta(minutes=45)


def wanted(db, key="booking:1", subject="Lastensuojelu – konsultaatio", start=START, end=END):
    from scheduler.delivery.microsoft_models import TeamsMeeting

    row = TeamsMeeting(meeting_key=key, subject=subject, start_dt=start, end_dt=end)
    db.session.add(row)
    db.session.commit()
    return row


def test_sync_creates_the_meeting_once_and_stores_the_join_url(app, db, graph_settings):
    from scheduler.delivery.microsoft import join_url_for, sync_meeting

    row = wanted(db)
    url = sync_meeting("booking:1")
    db.session.commit()
    assert url and url.startswith("https://teams.microsoft.com/l/meetup-join/")
    assert join_url_for("booking:1") == url
    [meeting] = graph_settings.meetings_for(row.external_id)
    assert meeting["subject"] == "Lastensuojelu – konsultaatio"
    assert meeting["participants"]["organizer"]["identity"]["user"]["id"] == ORGANIZER_OID
    assert graph_settings.calls("POST", f"/v1.0/users/{ORGANIZER_OID}/onlineMeetings/createOrGet")

    before = len(graph_settings.requests)
    assert sync_meeting("booking:1") is None  # in sync: Graph is not asked again
    assert len(graph_settings.requests) == before


def test_a_time_change_is_a_patch_with_the_same_join_url(app, db, graph_settings):
    from scheduler.delivery.microsoft import sync_meeting

    row = wanted(db)
    url = sync_meeting("booking:1")
    db.session.commit()
    row.start_dt, row.end_dt = START + timedelta(days=2), END + timedelta(days=2)
    db.session.commit()
    assert sync_meeting("booking:1") is None  # the join URL did not change
    db.session.commit()
    [patch] = graph_settings.calls("PATCH", "/onlineMeetings/")
    assert patch.body["startDateTime"] == "2027-01-07T11:00:00Z"
    assert patch.body["endDateTime"] == "2027-01-07T11:45:00Z"
    [meeting] = graph_settings.meetings_for(row.external_id)
    assert meeting["startDateTime"].startswith("2027-01-07T11:00:00") and meeting["joinWebUrl"] == url
    assert row.is_in_sync


def test_a_rolled_back_run_after_graph_answered_still_makes_one_meeting(app, db, graph_settings):
    from scheduler.delivery.microsoft import join_url_for, sync_meeting

    row = wanted(db)
    external_id = row.external_id
    first = sync_meeting("booking:1")
    db.session.rollback()  # the worker died before its commit
    assert join_url_for("booking:1") is None
    again = sync_meeting("booking:1")
    db.session.commit()
    assert again == first
    assert [r.status for r in graph_settings.calls("POST", "/createOrGet")] == [201, 200]
    assert len(graph_settings.meetings_for(external_id)) == 1


def test_a_meeting_found_with_older_times_is_moved(app, db, graph_settings):
    """Crash after createOrGet, then the booking moved before the retry: createOrGet returns the
    old meeting, so the worker patches it to the new time."""
    from scheduler.delivery.microsoft import sync_meeting

    row = wanted(db)
    sync_meeting("booking:1")
    db.session.rollback()
    row.start_dt, row.end_dt = START + timedelta(hours=3), END + timedelta(hours=3)
    db.session.commit()
    sync_meeting("booking:1")
    db.session.commit()
    [meeting] = graph_settings.meetings_for(row.external_id)
    assert meeting["startDateTime"].startswith("2027-01-05T14:00:00")
    assert len(graph_settings.calls("PATCH", "/onlineMeetings/")) == 1


def test_a_cancelled_meeting_is_deleted(app, db, graph_settings):
    from scheduler.delivery.microsoft import join_url_for, sync_meeting

    row = wanted(db, key="panel-session:7")
    sync_meeting("panel-session:7")
    db.session.commit()
    row.is_cancelled = True
    db.session.commit()
    sync_meeting("panel-session:7")
    db.session.commit()
    assert graph_settings.meetings_for(row.external_id) == []
    assert join_url_for("panel-session:7") is None
    assert row.is_deleted_in_graph and row.is_in_sync
    before = len(graph_settings.requests)
    sync_meeting("panel-session:7")
    assert len(graph_settings.requests) == before


def test_teams_is_off_without_graph_settings(app, db):
    from scheduler.delivery.microsoft import cancel_meeting, join_url_for, request_meeting, teams_enabled
    from scheduler.delivery.microsoft_models import TeamsMeeting

    assert not teams_enabled()
    request_meeting("booking:1", "Konsultaatio", START, END)
    cancel_meeting("booking:1")
    assert join_url_for("booking:1") is None
    assert db.session.query(TeamsMeeting).count() == 0
