# ruff: noqa: F811  (the shared fixtures are imported by name, then requested as arguments)
"""The panel's guarded transitions under real concurrency (PostgreSQL).

Each call runs in its own thread with its own app context, database session and connection,
released together by a barrier, through the same `run_atomically` the pages and the API use.
After each race the agenda invariants are read back from the database: no case sits on a
cancelled session, a withdrawn or waiting case is on no agenda, no agenda runs past its session,
and every change was announced once.
"""

from __future__ import annotations

from collections import Counter

import pytest
from sqlalchemy import text

from .panels_fixtures import NOW, submit
from .test_consultations_concurrency import race

pytestmark = pytest.mark.postgres_only


@pytest.fixture
def pg(app):
    if app.config["BACKEND"] != "postgresql":
        pytest.skip("real row-lock concurrency is tested on PostgreSQL")


def in_thread(app, user_id, work):
    """A call as a separate request would make it: its own context, session and transaction."""
    from scheduler.core.errors import DomainError
    from scheduler.core.transactions import run_atomically
    from scheduler.extensions import db
    from scheduler.people.models import User

    def call():
        with app.app_context():
            try:
                actor = db.session.get(User, user_id)
                db.session.commit()
                return run_atomically(lambda: work(actor)) and "ok"
            except DomainError as exc:
                return exc
            finally:
                db.session.remove()

    return call


def assert_agenda_invariants(db):
    db.session.rollback()
    db.session.expire_all()
    on_closed = db.session.execute(text(
        "SELECT c.id FROM panel_cases c JOIN panel_sessions s ON s.id = c.session_id "
        "WHERE c.status IN ('scheduled', 'handled') AND s.status NOT IN ('scheduled', 'agenda_published', "
        "'held', 'not_held')")).scalars().all()
    assert on_closed == [], "cases on a cancelled session"
    stray = db.session.execute(text(
        "SELECT id FROM panel_cases WHERE status NOT IN ('scheduled', 'handled') AND "
        "(session_id IS NOT NULL OR position IS NOT NULL OR start_dt IS NOT NULL)")).scalars().all()
    assert stray == [], "cases off the agenda still holding a place on one"
    rows = db.session.execute(text(
        "SELECT s.id, s.start_dt, s.end_dt, c.start_dt, c.end_dt, c.position FROM panel_sessions s "
        "JOIN panel_cases c ON c.session_id = s.id AND c.status = 'scheduled' ORDER BY s.id, c.position")).all()
    for sid, s_start, s_end, c_start, c_end, _position in rows:
        assert s_start <= c_start < c_end <= s_end, f"session {sid}: a case runs outside the session"
    by_session: dict[int, list] = {}
    for sid, *_rest, position in rows:
        by_session.setdefault(sid, []).append(position)
    for sid, positions in by_session.items():
        assert positions == list(range(1, len(positions) + 1)), (sid, positions)


def test_withdraw_races_schedule(pg, app, db, panel, people, signals):
    from scheduler.panels.cases import accept_case, schedule_case, withdraw_case
    from scheduler.panels.services import get_case

    worker, secretary = people["worker"], people["secretary"]
    ids = []
    for i in range(4):
        case = submit(db, panel, worker, case_ref=f"ROI-{i}")
        accept_case(case, actor=secretary, now=NOW)
        db.session.commit()
        ids.append(case.id)
    session_id = panel.sessions[0].id
    calls = []
    for cid in ids:  # for each case: the submitter withdraws it while the secretary schedules it
        calls.append(in_thread(app, worker.id, lambda actor, cid=cid: withdraw_case(get_case(cid), actor=actor, now=NOW)))
        calls.append(in_thread(app, secretary.id, lambda actor, cid=cid: schedule_case(
            get_case(cid), actor=actor, session_id=session_id, now=NOW)))
    results = race(calls)
    withdrawals, schedulings = results[0::2], results[1::2]
    assert withdrawals == ["ok"] * 4  # the submitter can always withdraw, from the agenda too
    for r in schedulings:  # scheduling either came first or learnt that the case was withdrawn
        assert r == "ok" or (r.status == 409 and r.code == "conflict" and r.message), r
    db.session.expire_all()
    statuses = db.session.execute(text("SELECT status, session_id FROM panel_cases")).all()
    assert statuses == [("withdrawn", None)] * 4
    assert Counter(a for kind, _id, a in signals if kind == "case" and a == "withdrawn") == {"withdrawn": 4}
    assert_agenda_invariants(db)


def test_session_cancelled_while_another_secretary_schedules(pg, app, db, panel, people, signals):
    from scheduler.panels.cases import accept_case, schedule_case
    from scheduler.panels.services import cancel_session, get_case, get_session

    worker, secretary = people["worker"], people["secretary"]
    first, second = panel.sessions[0].id, panel.sessions[1].id
    on_first, waiting = [], []
    for i in range(6):
        case = submit(db, panel, worker, case_ref=f"ROI-{i}")
        accept_case(case, actor=secretary, now=NOW)
        if i < 2:
            schedule_case(case, actor=secretary, session_id=first, now=NOW)
            on_first.append(case.id)
        else:
            waiting.append(case.id)
        db.session.commit()
    calls = [in_thread(app, secretary.id, lambda actor: cancel_session(get_session(first), actor=actor,
                                                                        reason="Sairastumisia", now=NOW))]
    for n, cid in enumerate(waiting):  # two go to the session being cancelled, two to the next one
        target = first if n % 2 == 0 else second
        calls.append(in_thread(app, secretary.id, lambda actor, cid=cid, target=target: schedule_case(
            get_case(cid), actor=actor, session_id=target, now=NOW)))
    results = race(calls)
    assert results[0] == "ok", results[0]
    for r in results[1:]:
        assert r == "ok" or r.status == 409, r
    db.session.expire_all()
    statuses = dict(db.session.execute(text("SELECT id, status FROM panel_sessions WHERE id IN (:a, :b)"),
                                       {"a": first, "b": second}).all())
    assert statuses == {first: "cancelled", second: "scheduled"}
    placed = dict(db.session.execute(text("SELECT id, session_id FROM panel_cases WHERE status = 'scheduled'")).all())
    assert first not in placed.values()
    # the second session (180 min, 45 per case) holds at most four; the rest wait, accepted
    assert len([c for c, s in placed.items() if s == second]) <= 4
    waiting_now = db.session.execute(text("SELECT count(*) FROM panel_cases WHERE status = 'accepted'")).scalar()
    assert len(placed) + waiting_now == 6
    assert [a for kind, sid, a in signals if kind == "session" and sid == first] == ["cancelled"]
    assert_agenda_invariants(db)


def test_twelve_schedules_of_one_case_to_two_sessions(pg, app, db, panel, people, signals):
    """Double clicks and two tabs: the case ends on one agenda, announced once per move."""
    from scheduler.panels.cases import schedule_case
    from scheduler.panels.services import get_case

    worker, secretary = people["worker"], people["secretary"]
    case = submit(db, panel, worker)
    targets = [panel.sessions[0].id, panel.sessions[1].id]
    results = race([in_thread(app, secretary.id, lambda actor, t=targets[i % 2]: schedule_case(
        get_case(case.id), actor=actor, session_id=t, now=NOW)) for i in range(12)])
    assert all(r == "ok" for r in results), results
    db.session.expire_all()
    row = db.session.execute(text("SELECT status, session_id FROM panel_cases")).one()
    assert row.status == "scheduled" and row.session_id in targets
    moves = [a for kind, _id, a in signals if kind == "case" and a in ("scheduled", "moved")]
    assert moves[0] == "scheduled" and set(moves[1:]) <= {"moved"}
    assert_agenda_invariants(db)
