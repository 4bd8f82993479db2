# ruff: noqa: F811  (the shared fixtures are imported by name, then requested as arguments)
"""The expert panel's services: recurrence, submission, the secretary's work, agenda, advice."""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select

from .panels_fixtures import CASE, NOW, submit


def _local(dt):
    from scheduler.core.timefmt import to_local

    return to_local(dt).replace(tzinfo=None)


# --- recurrence --------------------------------------------------------------------------------

def test_rrule_from_friendly_choice_and_back():
    from scheduler.panels.recurrence import build_rrule, parse_rrule

    assert build_rrule(frequency="monthly", weekday="TH", ordinal=2) == "FREQ=MONTHLY;BYDAY=2TH"
    assert build_rrule(frequency="monthly", weekday="FR", ordinal=-1) == "FREQ=MONTHLY;BYDAY=-1FR"
    assert build_rrule(frequency="weekly", weekday="MO", interval=2) == "FREQ=WEEKLY;INTERVAL=2;BYDAY=MO"
    assert parse_rrule("FREQ=MONTHLY;BYDAY=2TH") == {"frequency": "monthly", "weekday": "TH", "ordinal": 2, "interval": 1}
    assert parse_rrule("FREQ=MONTHLY;BYDAY=2TH;BYMONTH=1,2") == {}
    with pytest.raises(ValueError):
        build_rrule(frequency="monthly", weekday="SU", ordinal=2)


def test_panel_sessions_for_twelve_months_without_july(panel, db):
    starts = [_local(s.start_dt) for s in panel.sessions]
    assert starts[0] == datetime(2027, 1, 14, 12, 30)
    assert all(s.weekday() == 3 and 8 <= s.day <= 14 for s in starts)
    assert [s.month for s in starts] == [1, 2, 3, 4, 5, 6, 8, 9, 10, 11, 12]  # July is the summer break
    first = panel.sessions[0]
    assert _local(first.end_dt) == datetime(2027, 1, 14, 15, 30)
    assert first.capacity == 4 and first.status == "scheduled" and first.sequence == 0
    assert first.ical_uid and "ROI" not in first.ical_uid
    # summer time: still 12.30 local in June
    june = next(s for s in panel.sessions if s.start_dt.month == 6)
    assert _local(june.start_dt).hour == 12 and june.start_dt.hour == 9


def test_public_holidays_are_skipped(db, people):
    from scheduler.panels.panel_admin import create_panel

    p = create_panel(actor=people["admin"], name="Maanantairyhmä", rrule="FREQ=MONTHLY;BYDAY=1MO",
                     first_start="2027-09-06T09:00", session_minutes=120, case_minutes=30, now=NOW)
    days = [_local(s.start_dt).date() for s in p.sessions]
    assert date(2027, 11, 1) in days and date(2027, 12, 6) not in days  # Independence Day
    p2 = create_panel(actor=people["admin"], name="Torstairyhmä", rrule="FREQ=WEEKLY;BYDAY=TH",
                      first_start="2027-04-01T12:00", now=NOW, skip_july=False)
    days2 = {_local(s.start_dt).date() for s in p2.sessions}
    assert date(2027, 5, 6) not in days2 and date(2027, 5, 13) in days2  # Ascension Day
    assert date(2027, 7, 1) in days2  # July kept when the panel says so


def test_top_up_is_idempotent_and_keeps_moved_sessions(panel, db, people):
    from scheduler.panels.services import ensure_sessions, move_session, top_up_sessions

    count = len(panel.sessions)
    assert ensure_sessions(panel, now=NOW) == 0
    first = panel.sessions[0]
    move_session(first, actor=people["secretary"], start=datetime(2027, 1, 21, 12, 30), now=NOW)
    db.session.commit()
    assert ensure_sessions(panel, now=NOW) == 0
    later = NOW + timedelta(days=65)  # two more months come within the horizon (no July: one more)
    assert top_up_sessions(now=later) == 2
    db.session.commit()
    db.session.expire_all()
    assert len(panel.sessions) == count + 2
    assert top_up_sessions(now=later) == 0


def test_panel_validation_changes_nothing(db, people):
    from scheduler.core.errors import Forbidden, ValidationFailed
    from scheduler.panels.models import Panel
    from scheduler.panels.panel_admin import create_panel

    with pytest.raises(ValidationFailed) as exc:
        create_panel(actor=people["admin"], name="", rrule="NONSENSE", first_start="x", session_minutes=5,
                     case_minutes=0, secretaries=["nobody@example.fi"], now=NOW)
    assert {"name", "rrule", "first_start", "session_minutes", "case_minutes", "secretaries"} <= set(exc.value.fields)
    with pytest.raises(Forbidden):
        create_panel(actor=people["secretary"], name="X", rrule="FREQ=MONTHLY;BYDAY=2TH", first_start="2027-01-14T12:30")
    db.session.rollback()
    assert db.session.scalar(select(Panel.id)) is None


# --- submission --------------------------------------------------------------------------------

def test_submit_case(panel, db, people, signals):
    case = submit(db, panel, people["worker"], preferred_session_id=panel.sessions[1].id)
    assert case.status == "submitted" and case.expertise_codes == ["psychological", "education"]
    assert case.client_consent is False and case.preferred_session_id == panel.sessions[1].id
    assert ("case", case.id, "submitted") in signals


def test_submission_refuses_identity_codes_and_saves_nothing(panel, db, people):
    from scheduler.core.errors import ValidationFailed
    from scheduler.panels.cases import submit_case
    from scheduler.panels.models import PanelCase

    with pytest.raises(ValidationFailed) as exc:
        submit_case(actor=people["worker"], panel_id=panel.id, now=NOW,
                    **dict(CASE, background="Lapsi 131052-308T on sijoitettu."))
    assert "background" in exc.value.fields and "henkilötunnus" in exc.value.fields["background"]
    with pytest.raises(ValidationFailed) as exc:
        submit_case(actor=people["worker"], panel_id=panel.id, now=NOW,
                    **dict(CASE, case_ref="", child_age="x", language="de", questions="", expertise=["magic"]))
    assert {"case_ref", "child_age", "language", "questions", "expertise"} <= set(exc.value.fields)
    db.session.rollback()
    assert db.session.scalar(select(PanelCase.id)) is None


def test_only_social_workers_submit_and_deadline_passed_session_refused(panel, db, people):
    from scheduler.core.errors import Forbidden, ValidationFailed
    from scheduler.panels.cases import submit_case

    with pytest.raises(Forbidden):
        submit_case(actor=people["lawyer"], panel_id=panel.id, now=NOW, **CASE)
    # 14.1. session: deadline 4.1.; on 10.1. it is closed for submissions
    with pytest.raises(ValidationFailed) as exc:
        submit_case(actor=people["worker"], panel_id=panel.id, now=datetime(2027, 1, 10, tzinfo=UTC),
                    preferred_session_id=panel.sessions[0].id, **CASE)
    assert "preferred_session_id" in exc.value.fields


def test_edit_until_accepted_return_and_withdraw(panel, db, people, signals):
    from scheduler.core.errors import Conflict, NotFound
    from scheduler.panels.cases import accept_case, return_case, update_case, withdraw_case

    case = submit(db, panel, people["worker"])
    update_case(case, actor=people["worker"], now=NOW, **dict(CASE, questions="Uusi kysymys?"))
    with pytest.raises(NotFound):  # not theirs: the same answer as a case that does not exist
        update_case(case, actor=people["other_worker"], now=NOW, **CASE)
    return_case(case, actor=people["secretary"], message="Lisää tieto aiemmista palveluista.")
    assert case.status == "returned" and case.secretary_message.startswith("Lisää")
    update_case(case, actor=people["worker"], now=NOW, **CASE)
    assert case.status == "submitted"
    accept_case(case, actor=people["secretary"])
    db.session.commit()
    with pytest.raises(Conflict):
        update_case(case, actor=people["worker"], now=NOW, **CASE)
    withdraw_case(case, actor=people["worker"])
    assert case.status == "withdrawn"
    actions = [a for kind, cid, a in signals if kind == "case"]
    assert actions == ["submitted", "returned", "submitted", "accepted", "withdrawn"]
    assert [e.action for e in case.events] == ["submitted", "edited", "returned", "resubmitted", "accepted", "withdrawn"]


# --- the secretary -----------------------------------------------------------------------------

def test_schedule_accepts_and_appends_with_times(panel, db, people, signals):
    from scheduler.panels.cases import move_on_agenda, schedule_case

    session = panel.sessions[1]  # to 11.2.2027 12.30–15.30
    a = submit(db, panel, people["worker"])
    b = submit(db, panel, people["other_worker"], case_ref="ROI-2027-018")
    schedule_case(a, actor=people["secretary"], session_id=session.id,
                  experts=["psykologi@example.fi", "opettaja@example.fi"], now=NOW)
    schedule_case(b, actor=people["secretary"], session_id=session.id, now=NOW)
    db.session.commit()
    assert a.status == "scheduled" and a.accepted_dt is not None
    assert (_local(a.start_dt), _local(a.end_dt)) == (datetime(2027, 2, 11, 12, 30), datetime(2027, 2, 11, 13, 15))
    assert _local(b.start_dt) == datetime(2027, 2, 11, 13, 15)
    assert [u.email for u in a.experts] == ["opettaja@example.fi", "psykologi@example.fi"]
    seq_a = a.sequence
    move_on_agenda(b, actor=people["secretary"], direction="up")
    db.session.commit()
    assert [c.id for c in session.agenda] == [b.id, a.id]
    assert _local(a.start_dt) == datetime(2027, 2, 11, 13, 15) and a.sequence == seq_a + 1
    assert ("case", a.id, "scheduled") in signals
    assert not [s for s in signals if s[0] == "session"]  # nothing published yet


def test_session_capacity_is_enforced(panel, db, people):
    from scheduler.core.errors import Conflict, NotFound
    from scheduler.panels.cases import schedule_case, set_case_minutes

    session = panel.sessions[1]
    cases = [submit(db, panel, people["worker"], case_ref=f"ROI-{i}") for i in range(5)]
    for c in cases[:4]:
        schedule_case(c, actor=people["secretary"], session_id=session.id, now=NOW)
    db.session.commit()
    with pytest.raises(Conflict):
        schedule_case(cases[4], actor=people["secretary"], session_id=session.id, now=NOW)
    db.session.rollback()
    assert cases[4].status == "submitted"
    with pytest.raises(Conflict):
        set_case_minutes(cases[0], actor=people["secretary"], minutes=60)  # 60+45*3 > 180
    db.session.rollback()
    with pytest.raises(NotFound):  # administrators manage panels, not cases
        schedule_case(cases[4], actor=people["admin"], session_id=panel.sessions[2].id, now=NOW)


def test_a_case_can_take_longer(panel, db, people):
    from scheduler.panels.cases import schedule_case, set_case_minutes

    session = panel.sessions[1]
    a, b = submit(db, panel, people["worker"]), submit(db, panel, people["worker"], case_ref="B")
    for c in (a, b):
        schedule_case(c, actor=people["secretary"], session_id=session.id, now=NOW)
    set_case_minutes(a, actor=people["secretary"], minutes=90)
    db.session.commit()
    assert _local(b.start_dt) == datetime(2027, 2, 11, 14, 0)


def test_two_secretaries_cannot_overfill_a_session(panel, db, people, app, make_user):
    """Secretary A holds the session's lock; B's scheduling waits for it and then finds it full."""
    from scheduler.core.errors import Conflict
    from scheduler.extensions import db as _db
    from scheduler.panels.cases import schedule_case
    from scheduler.panels.models import PanelCase, PanelSecretary
    from scheduler.panels.services import get_case, lock_session

    second = make_user(email="sihteeri2@example.fi", roles=("secretary",))
    db.session.add(PanelSecretary(panel_id=panel.id, user_id=second.id))
    session_id = panel.sessions[1].id
    cases = [submit(db, panel, people["worker"], case_ref=f"R{i}") for i in range(5)]
    for c in cases[:3]:
        schedule_case(c, actor=people["secretary"], session_id=session_id, now=NOW)
    db.session.commit()
    ids = [c.id for c in cases]
    sec_ids = (people["secretary"].id, second.id)
    a_locked, a_go, b_done = threading.Event(), threading.Event(), threading.Event()
    results = {}

    def secretary_a():
        with app.app_context():
            from scheduler.people.models import User

            actor = _db.session.get(User, sec_ids[0])
            lock_session(session_id)
            a_locked.set()
            a_go.wait(10)
            schedule_case(get_case(ids[3]), actor=actor, session_id=session_id, now=NOW)
            _db.session.commit()
            results["a"] = "ok"
            _db.session.remove()

    def secretary_b():
        with app.app_context():
            from scheduler.people.models import User

            actor = _db.session.get(User, sec_ids[1])
            _db.session.commit()
            try:
                schedule_case(get_case(ids[4]), actor=actor, session_id=session_id, now=NOW)
                _db.session.commit()
                results["b"] = "ok"
            except Conflict:
                _db.session.rollback()
                results["b"] = "full"
            finally:
                b_done.set()
                _db.session.remove()

    ta = threading.Thread(target=secretary_a)
    ta.start()
    assert a_locked.wait(10)
    tb = threading.Thread(target=secretary_b)
    tb.start()
    assert not b_done.wait(1.0), "B must wait for A's lock"
    a_go.set()
    ta.join(20)
    tb.join(20)
    assert results == {"a": "ok", "b": "full"}
    db.session.expire_all()
    scheduled = db.session.scalars(select(PanelCase).where(PanelCase.session_id == session_id)).all()
    assert len(scheduled) == 4


def test_expert_suggestions_and_conflict_of_interest(panel, db, people):
    from scheduler.core.errors import ValidationFailed
    from scheduler.panels.cases import declare_conflict, schedule_case, suggest_experts

    earlier = submit(db, panel, people["worker"], case_ref="EARLIER")
    schedule_case(earlier, actor=people["secretary"], session_id=panel.sessions[1].id,
                  experts=["psykologi@example.fi"], now=NOW)
    case = submit(db, panel, people["worker"], expertise=["psychological", "education", "legal"])
    order = [r["user"].email for r in suggest_experts(case, now=NOW)]
    # all three match one area; the psychologist has a recent case, so comes last
    assert order == ["juristi@example.fi", "opettaja@example.fi", "psykologi@example.fi"]
    case2 = submit(db, panel, people["worker"], expertise=["legal", "criminal"])
    assert suggest_experts(case2, now=NOW)[0]["user"].email == "juristi@example.fi"
    declare_conflict(case2, actor=people["lawyer"])
    db.session.commit()
    assert "juristi@example.fi" not in [r["user"].email for r in suggest_experts(case2, now=NOW)]
    with pytest.raises(ValidationFailed):
        schedule_case(case2, actor=people["secretary"], session_id=panel.sessions[1].id,
                      experts=["juristi@example.fi"], now=NOW)
    db.session.rollback()
    with pytest.raises(ValidationFailed):  # not in the pool
        schedule_case(case2, actor=people["secretary"], session_id=panel.sessions[1].id,
                      experts=["sosiaali@example.fi"], now=NOW)


def test_publish_locks_order_and_later_changes_are_updates(panel, db, people, signals):
    from scheduler.core.errors import Conflict
    from scheduler.panels.cases import move_on_agenda, schedule_case, set_case_experts
    from scheduler.panels.services import publish_agenda

    session = panel.sessions[1]
    a = submit(db, panel, people["worker"])
    schedule_case(a, actor=people["secretary"], session_id=session.id, experts=["psykologi@example.fi"], now=NOW)
    seq = session.sequence
    publish_agenda(session, actor=people["secretary"], now=NOW)
    db.session.commit()
    assert session.status == "agenda_published" and session.sequence == seq + 1
    assert ("session", session.id, "published") in signals
    b = submit(db, panel, people["worker"], case_ref="B")
    schedule_case(b, actor=people["secretary"], session_id=session.id, now=NOW)
    assert ("session", session.id, "updated") in signals
    with pytest.raises(Conflict):
        move_on_agenda(b, actor=people["secretary"], direction="up")
    signals.clear()
    set_case_experts(a, actor=people["secretary"], experts=["psykologi@example.fi", "juristi@example.fi"])
    assert signals == [("session", session.id, "updated")]


def test_moving_a_session_moves_its_agenda(panel, db, people, signals):
    from scheduler.panels.cases import schedule_case
    from scheduler.panels.services import move_session, publish_agenda

    session = panel.sessions[1]
    a = submit(db, panel, people["worker"])
    schedule_case(a, actor=people["secretary"], session_id=session.id, now=NOW)
    publish_agenda(session, actor=people["secretary"], now=NOW)
    seq_s, seq_a = session.sequence, a.sequence
    move_session(session, actor=people["secretary"], start=datetime(2027, 2, 18, 9, 0), now=NOW)
    db.session.commit()
    assert _local(session.start_dt) == datetime(2027, 2, 18, 9, 0) and _local(session.end_dt).hour == 12
    assert _local(a.start_dt) == datetime(2027, 2, 18, 9, 0)
    assert session.sequence == seq_s + 1 and a.sequence == seq_a + 1
    assert signals[-1] == ("session", session.id, "updated")


def test_cancelling_a_session_moves_cases_to_the_next(panel, db, people, signals):
    from scheduler.panels.cases import schedule_case
    from scheduler.panels.services import cancel_session

    s1, s2 = panel.sessions[1], panel.sessions[2]
    a, b = submit(db, panel, people["worker"]), submit(db, panel, people["worker"], case_ref="B")
    schedule_case(a, actor=people["secretary"], session_id=s1.id, now=NOW)
    schedule_case(b, actor=people["secretary"], session_id=s1.id, now=NOW)
    seq = a.sequence
    cancel_session(s1, actor=people["secretary"], reason="Sairastumisia", now=NOW)
    db.session.commit()
    assert s1.status == "cancelled"
    assert a.session_id == s2.id and b.session_id == s2.id and a.sequence > seq
    assert _local(a.start_dt) == datetime(2027, 3, 11, 12, 30) and _local(b.start_dt) == datetime(2027, 3, 11, 13, 15)
    assert ("session", s1.id, "cancelled") in signals
    assert ("case", a.id, "moved") in signals and ("case", b.id, "moved") in signals


def test_held_statement_and_not_held(panel, db, people, signals):
    from scheduler.core.errors import Conflict, ValidationFailed
    from scheduler.panels.cases import record_statement, schedule_case
    from scheduler.panels.services import mark_held, publish_agenda

    s1 = panel.sessions[1]
    a, b = submit(db, panel, people["worker"]), submit(db, panel, people["worker"], case_ref="B")
    for c in (a, b):
        schedule_case(c, actor=people["secretary"], session_id=s1.id, now=NOW)
    publish_agenda(s1, actor=people["secretary"], now=NOW)
    with pytest.raises(Conflict):
        mark_held(s1, actor=people["secretary"], now=NOW)
    after = s1.end_dt + timedelta(hours=1)
    mark_held(s1, actor=people["secretary"], now=after)
    assert s1.status == "held" and ("session", s1.id, "held") in signals
    with pytest.raises(ValidationFailed) as exc:
        record_statement(a, actor=people["secretary"], text="", follow_up="31.2.2027")
    assert {"text", "follow_up"} <= set(exc.value.fields)
    st = record_statement(a, actor=people["secretary"], text="Työryhmä suosittaa koulun tukitoimia.",
                          recommendations=["Oppilashuollon palaveri", "Psykologin arvio"],
                          responsible_services=["Oppilashuolto"], follow_up="1.6.2027", now=after)
    db.session.commit()
    assert a.status == "handled" and a.handled_dt == after and st.follow_up_date == date(2027, 6, 1)
    assert st.recommendations == ["Oppilashuollon palaveri", "Psykologin arvio"]
    assert ("case", a.id, "statement") in signals
    assert b.status == "scheduled"
    # A follow-up date in the past is refused and nothing changes ...
    with pytest.raises(ValidationFailed) as exc:
        record_statement(b, actor=people["secretary"], text="Neuvo.", follow_up=after.date() - timedelta(days=1),
                         now=after)
    assert set(exc.value.fields) == {"follow_up"}
    assert b.status == "scheduled" and b.statement is None
    # ... but correcting the advice later keeps a follow-up date that has since passed.
    later = datetime(2027, 7, 1, 9, 0, tzinfo=UTC)
    st = record_statement(a, actor=people["secretary"], text="Korjattu.", follow_up=date(2027, 6, 1), now=later)
    assert st.text == "Korjattu." and st.follow_up_date == date(2027, 6, 1)


def test_not_held_session_moves_waiting_cases(panel, db, people, signals):
    from scheduler.panels.cases import schedule_case
    from scheduler.panels.services import mark_held, publish_agenda

    s1, s2 = panel.sessions[1], panel.sessions[2]
    a = submit(db, panel, people["worker"])
    schedule_case(a, actor=people["secretary"], session_id=s1.id, now=NOW)
    publish_agenda(s1, actor=people["secretary"], now=NOW)
    mark_held(s1, actor=people["secretary"], held=False, now=s1.end_dt)
    db.session.commit()
    assert s1.status == "not_held" and a.session_id == s2.id
    assert ("session", s1.id, "not_held") in signals and ("case", a.id, "moved") in signals


# --- who reads what ----------------------------------------------------------------------------

def test_who_reads_a_case_and_the_log(panel, db, people):
    from scheduler.core.errors import NotFound
    from scheduler.panels.cases import schedule_case
    from scheduler.panels.services import publish_agenda, read_case, sessions_for_expert
    from scheduler.people.access_log import AccessLogEntry

    a = submit(db, panel, people["worker"])
    s1 = panel.sessions[1]
    schedule_case(a, actor=people["secretary"], session_id=s1.id, experts=["psykologi@example.fi"], now=NOW)
    db.session.commit()
    assert read_case(a.id, actor=people["worker"]).id == a.id
    assert read_case(a.id, actor=people["secretary"], via="api").id == a.id
    with pytest.raises(NotFound):  # assigned, but not yet published: no hint that it exists
        read_case(a.id, actor=people["psych"])
    assert sessions_for_expert(people["psych"]) == []
    for who in ("lawyer", "other_worker", "admin"):
        with pytest.raises(NotFound):
            read_case(a.id, actor=people[who])
    publish_agenda(s1, actor=people["secretary"], now=NOW)
    db.session.commit()
    assert read_case(a.id, actor=people["psych"]).id == a.id
    assert sessions_for_expert(people["psych"]) == [s1]
    with pytest.raises(NotFound):
        read_case(a.id, actor=people["lawyer"])
    db.session.commit()
    reads = db.session.scalars(select(AccessLogEntry).order_by(AccessLogEntry.id)).all()
    assert [(r.user_id, r.object_id, r.via, r.action) for r in reads] == [
        (people["worker"].id, a.id, "page", "read"), (people["secretary"].id, a.id, "api", "read"),
        (people["psych"].id, a.id, "page", "refused"),
        (people["lawyer"].id, a.id, "page", "refused"), (people["other_worker"].id, a.id, "page", "refused"),
        (people["admin"].id, a.id, "page", "refused"),
        (people["psych"].id, a.id, "page", "read"), (people["lawyer"].id, a.id, "page", "refused")]
    assert {r.object_type for r in reads} == {"panel_case"}


def test_teams_join_link_is_kept_on_the_session(panel, db):
    from scheduler.core.signals import teams_meeting_ready

    session = panel.sessions[1]
    teams_meeting_ready.send(f"panel-session:{session.id}", join_url="https://teams.microsoft.com/l/meetup-join/x")
    teams_meeting_ready.send("booking:1", join_url="https://teams.microsoft.com/l/other")
    db.session.commit()
    assert session.join_url == "https://teams.microsoft.com/l/meetup-join/x"


def test_top_up_job_runs_through_the_job_runner(panel, app, db):
    from scheduler.jobs import job_by_id
    from scheduler.jobs.runner import run_job
    from scheduler.panels.models import PanelSession

    job = job_by_id("panel-sessions-top-up", app)
    db.session.execute(PanelSession.__table__.delete().where(PanelSession.id == panel.sessions[-1].id))
    db.session.commit()
    run_job(app, job.id, job.func)  # real time: tops up to twelve months from today
    db.session.expire_all()
    assert panel.sessions[-1].start_dt > datetime.now(UTC) + timedelta(days=300)


def test_changing_the_rhythm_moves_and_cancels_coming_sessions(panel, db, people, signals):
    from scheduler.panels.cases import schedule_case
    from scheduler.panels.panel_admin import update_panel

    kept = panel.sessions[1]
    case = submit(db, panel, people["worker"])
    schedule_case(case, actor=people["secretary"], session_id=panel.sessions[2].id, now=NOW)
    db.session.commit()
    # same days, an hour later
    update_panel(panel, actor=people["admin"], name=panel.name, rrule="FREQ=MONTHLY;BYDAY=2TH",
                 first_start="2027-01-14T13:30", session_minutes=180, case_minutes=45, submission_deadline_days=10,
                 agenda_days=5, secretaries=["sihteeri@example.fi"], now=NOW)
    db.session.commit()
    assert _local(kept.start_dt) == datetime(2027, 2, 11, 13, 30) and kept.sequence == 1
    assert _local(case.start_dt) == datetime(2027, 3, 11, 13, 30)
    # the third Thursday instead: empty sessions are cancelled, the one with a case stays
    update_panel(panel, actor=people["admin"], name=panel.name, rrule="FREQ=MONTHLY;BYDAY=3TH",
                 first_start="2027-01-21T13:30", session_minutes=180, case_minutes=45, submission_deadline_days=10,
                 agenda_days=5, secretaries=["sihteeri@example.fi"], now=NOW)
    db.session.commit()
    db.session.expire_all()
    assert kept.status == "cancelled" and ("session", kept.id, "cancelled") in signals
    assert case.session.status == "scheduled" and _local(case.session.start_dt).day == 11
    new = [s for s in panel.sessions if s.status == "scheduled" and _local(s.start_dt).month == 2]
    assert [_local(s.start_dt).day for s in new] == [18]
