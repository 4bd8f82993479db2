# ruff: noqa: F811  (the shared fixtures are imported by name, then requested as arguments)
"""The transition tables, and repeated or lost actions through the services (both databases)."""

from __future__ import annotations

import pytest

from scheduler.consultations.models import (
    BOOKING_TRANSITIONS,
    OCCURRENCE_TRANSITIONS,
    BookingStatus,
    OccurrenceStatus,
)
from scheduler.core.errors import Conflict
from scheduler.panels.models import CASE_TRANSITIONS, SESSION_TRANSITIONS, CaseStatus, SessionStatus

from .consultations_fixtures import NOW as C_NOW
from .consultations_fixtures import local, make_series, world  # noqa: F401
from .panels_fixtures import NOW, submit


def test_tables_say_which_status_may_go_to_which():
    assert BOOKING_TRANSITIONS.allows("confirmed", "cancelled")
    assert not BOOKING_TRANSITIONS.allows("cancelled", "confirmed")
    assert BOOKING_TRANSITIONS.is_final(BookingStatus.CANCELLED)
    assert OCCURRENCE_TRANSITIONS.sources(OccurrenceStatus.CANCELLED) == (OccurrenceStatus.SCHEDULED,
                                                                          OccurrenceStatus.MOVED)
    assert CASE_TRANSITIONS.sources(CaseStatus.WITHDRAWN) == (CaseStatus.SUBMITTED, CaseStatus.RETURNED,
                                                              CaseStatus.ACCEPTED, CaseStatus.SCHEDULED)
    assert not CASE_TRANSITIONS.allows("withdrawn", "scheduled") and not CASE_TRANSITIONS.allows("nonsense", "x")
    assert CASE_TRANSITIONS.is_final("declined") and CASE_TRANSITIONS.is_final("withdrawn")
    assert SESSION_TRANSITIONS.is_final("cancelled")
    assert SESSION_TRANSITIONS.allows("held", "not_held") and not SESSION_TRANSITIONS.allows("cancelled", "held")
    # every status has a label in each language's catalogue (the msgids are English)
    assert [s.label for s in SessionStatus] == ["Scheduled", "Agenda published", "Held", "Not held", "Cancelled"]
    assert CaseStatus("handled").label == "Advice given" and BookingStatus.CANCELLED.label == "Cancelled"


def test_statuses_come_back_as_enums_and_compare_as_text(app, db, panel):
    db.session.expire_all()
    session = panel.sessions[0]
    assert session.status is SessionStatus.SCHEDULED and session.status == "scheduled"
    assert session.status_label == "Suunniteltu" == session.status.label  # Finnish by default


def test_repeated_occurrence_cancel_is_harmless(app, db, world, make_series):
    from scheduler.consultations import services as svc

    s = make_series(world.doctor, world.lanu)
    start = local(2027, 1, 12, 13)

    def cancel(actor):
        return svc.run_atomically(lambda: svc.cancel_occurrence(actor=actor, series_id=s.id, original_start_dt=start,
                                                                reason="Koulutus"))

    assert cancel(world.doctor) == []
    assert cancel(world.doctor) == []  # again: nothing to do, no error
    with pytest.raises(Conflict):  # another host learns it is already cancelled
        cancel(world.admin)
    with pytest.raises(Conflict):
        svc.run_atomically(lambda: svc.move_occurrence(actor=world.doctor, series_id=s.id, original_start_dt=start,
                                                       new_start=local(2027, 1, 13, 9), now=C_NOW))


def test_repeated_and_lost_case_actions(app, db, panel, people, signals):
    from scheduler.core.transactions import run_atomically
    from scheduler.panels.cases import accept_case, decline_case, schedule_case, withdraw_case
    from scheduler.panels.services import cancel_session, publish_agenda

    worker, secretary = people["worker"], people["secretary"]
    case = submit(db, panel, worker)
    run_atomically(lambda: accept_case(case, actor=secretary, now=NOW))
    again = run_atomically(lambda: accept_case(case, actor=secretary, now=NOW))
    assert again.already_done
    first = panel.sessions[0]
    run_atomically(lambda: schedule_case(case, actor=secretary, session_id=first.id, now=NOW))
    assert run_atomically(lambda: schedule_case(case, actor=secretary, session_id=first.id, now=NOW)).already_done
    run_atomically(lambda: publish_agenda(first, actor=secretary, now=NOW))
    assert run_atomically(lambda: publish_agenda(first, actor=secretary, now=NOW)).already_done
    run_atomically(lambda: withdraw_case(case, actor=worker, now=NOW))
    assert run_atomically(lambda: withdraw_case(case, actor=worker, now=NOW)).already_done
    with pytest.raises(Conflict) as lost:  # the secretary acts on a case the submitter has withdrawn
        run_atomically(lambda: decline_case(case, actor=secretary, message="Ei kuulu työryhmälle", now=NOW))
    assert lost.value.message == "Lähettäjä on perunut asian."
    with pytest.raises(Conflict):
        run_atomically(lambda: schedule_case(case, actor=secretary, session_id=first.id, now=NOW))
    case_signals = [a for kind, cid, a in signals if kind == "case" and cid == case.id]
    assert case_signals == ["submitted", "accepted", "scheduled", "withdrawn"]  # each once
    run_atomically(lambda: cancel_session(first, actor=secretary, reason="Sairastumisia", now=NOW))
    assert run_atomically(lambda: cancel_session(first, actor=secretary, now=NOW)).already_done
    assert [a for kind, sid, a in signals if kind == "session" and sid == first.id].count("cancelled") == 1
