"""The expert panel's rules: sessions and their agenda, who may read a case, the read log.
Setting up panels is in panel_admin.py; cases (submission, inbox, experts, statement) in cases.py.

Services take plain values and an explicit actor, raise core.errors and flush(); the caller
commits once, through core.transactions.run_atomically. Signals are sent after flush, inside the
transaction (see core/signals.py), and only by the transaction that made the change.

Every change to a session or a case (and so to an agenda) is decided under the panel's row lock
(`lock_panel`: SELECT … FOR NO KEY UPDATE; BEGIN IMMEDIATE on SQLite), taken before anything is
read for the decision: two secretaries, or a secretary and a submitter, are serialised per panel,
so an agenda never overfills and a withdrawn case never lands on an agenda. The status itself is
written by a guarded UPDATE (core.transactions.transition) following the table in models.py.
A repeated action that finds its work done changes nothing and sends nothing (`already_done`).

- panel_session_changed(session, action="published"|"updated"|"cancelled"|"held"|"not_held")
  "updated" is sent for any change to a published agenda (a case added, removed, re-timed, its
  experts changed, or the session moved); the listener refreshes every invitation of the session.
- panel_case_changed(case, action=...) with the actions of core/signals.py. "moved" means the
  case went to another session (case.session), or back to waiting (case.session is None).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from dateutil.relativedelta import relativedelta
from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import lazyload

from ..core import recurrence
from ..core.errors import Conflict, DomainError, Forbidden, NotFound, ValidationFailed
from ..core.privacy import refuse_identity_codes
from ..core.signals import panel_case_changed, panel_session_changed
from ..core.timefmt import app_tz, local_to_utc
from ..core.transactions import changed_meanwhile_message, lock_for_update, transition
from ..extensions import db
from ..people.access_log import log_access, log_read, log_refused
from ..people.models import ExpertiseArea, User
from .models import (
    CASE_TRANSITIONS,
    ON_AGENDA,
    OPEN_SESSION_STATUSES,
    SESSION_TRANSITIONS,
    CaseStatus,
    Panel,
    PanelCase,
    PanelCaseEvent,
    PanelCaseExpert,
    PanelExpert,
    PanelSession,
    SessionStatus,
)

RECENT_CASES_DAYS = 180
MAX_TEXT = 4000


def resolve_now(now: datetime | None) -> datetime:
    return now or datetime.now(UTC)


def horizon_months() -> int:
    return current_app.config["PANEL_HORIZON_MONTHS"]  # config.py: 1–60, default 12


# --- lookups and access ------------------------------------------------------------------------

def get_panel(panel_id: int) -> Panel:
    panel = db.session.get(Panel, panel_id)
    if panel is None:
        raise NotFound(str(_l("No such panel.")))
    return panel


def get_session(session_id: int) -> PanelSession:
    session = db.session.get(PanelSession, session_id)
    if session is None:
        raise NotFound(str(_l("No such panel session.")))
    return session


def get_case(case_id: int) -> PanelCase:
    case = db.session.get(PanelCase, case_id)
    if case is None:
        raise NotFound(str(_l("No such case.")))
    return case


def require_admin(actor: User) -> None:
    if not actor.is_admin:
        raise Forbidden(str(_l("Only an administrator can change panels.")))


def _require_secretary(panel: Panel, actor: User) -> None:
    if not panel.is_secretary(actor):
        raise Forbidden(str(_l("Only the panel's secretaries can do this.")))


def require_case_secretary(case: PanelCase, actor: User) -> None:
    """Only the panel's secretaries; others get 403 if they may read the case, else 404."""
    if not case.panel.is_secretary(actor):
        raise not_found_unless_readable(case, actor, _l("Only the panel's secretaries can do this."))


def panels_for_secretary(actor: User) -> list[Panel]:
    return [p for p in all_panels() if p.is_secretary(actor)]


def all_panels(active_only: bool = False) -> list[Panel]:
    q = select(Panel).order_by(Panel.name)
    if active_only:
        q = q.where(Panel.is_active.is_(True))
    return list(db.session.execute(q).unique().scalars())


def in_pool(panel: Panel, user: User) -> bool:
    """An active member of the panel's expert pool (removed or deactivated experts are not)."""
    expert = panel.expert_for(user)
    return expert is not None and expert.is_active


def can_read_case(case: PanelCase, user: User) -> bool:
    """The submitter, the panel's secretaries, and the experts assigned to the case once the
    session's agenda is published, while they are in the panel's pool. Nobody else
    (administrators manage panels and read the log, not the cases)."""
    if case.submitter_id == user.id or case.panel.is_secretary(user):
        return True
    return bool(
        case.session is not None and case.session.is_published
        and case.status in ON_AGENDA
        and any(e.id == user.id for e in case.experts)
        and in_pool(case.panel, user)
    )


def can_see_agenda(session: PanelSession, user: User) -> bool:
    """Secretaries and admins always (admins without case references); once published, the
    invited experts still in the pool and the submitters of the cases on it (who see their own
    case only)."""
    if session.panel.is_secretary(user) or user.is_admin:
        return True
    if not session.is_published:
        return False
    expert = in_pool(session.panel, user)
    return any(c.submitter_id == user.id or (expert and any(e.id == user.id for e in c.experts))
               for c in session.agenda)


@dataclass(frozen=True)
class AgendaLine:
    case: PanelCase
    show_ref: bool  # the case reference may be shown to this person
    readable: bool  # this person may open the case (its contents)


def agenda_for(session: PanelSession, user: User) -> list[AgendaLine]:
    """The agenda as this person sees it, the same on the page and in the API: secretaries and
    the panel's experts see every case on it; an administrator sees the times and expertise but
    no case references; a submitter sees their own case only. Call can_see_agenda first."""
    secretary = session.panel.is_secretary(user)
    expert = in_pool(session.panel, user)
    lines = []
    for case in session.agenda:
        own = case.submitter_id == user.id
        if not (secretary or expert or own or user.is_admin):
            continue
        lines.append(AgendaLine(case=case, show_ref=secretary or expert or own, readable=can_read_case(case, user)))
    return lines


def not_found_unless_readable(case: PanelCase, user: User, message) -> DomainError:
    """The error for someone who may not do something to a case: 403 only for those who may read
    the case anyway; for everyone else the same 404 as a case that does not exist."""
    if can_read_case(case, user):
        return Forbidden(str(message))
    return NotFound(str(_l("No such case.")))


def read_case(case_id: int, *, actor: User, via: str = "page", now: datetime | None = None) -> PanelCase:
    """The case, for someone allowed to read its contents; the read is logged. Anyone else gets
    the same NotFound as for a case that does not exist (no existence oracle); the refusal is
    logged too (the caller commits either way)."""
    try:
        case = get_case(case_id)
    except NotFound:
        log_refused(actor, "panel_case", case_id, via=via, now=resolve_now(now))
        raise
    if not can_read_case(case, actor):
        log_refused(actor, "panel_case", case.id, via=via, now=resolve_now(now))
        raise NotFound(str(_l("No such case.")))
    log_case_read(case, actor, via=via, now=now)
    return case


def log_case_read(case: PanelCase, user: User, *, via: str, now: datetime | None = None) -> None:
    """Into the access log (people/access_log.py): one INSERT."""
    log_read(user, "panel_case", case.id, via=via, now=resolve_now(now))


def log_case_reads(cases: list[PanelCase], user: User, *, via: str, action: str = "read",
                   now: datetime | None = None) -> None:
    """A list that shows case content (an agenda), or was refused: one multi-row INSERT."""
    log_access(user, "panel_case", [c.id for c in cases], via=via, action=action, now=resolve_now(now))


def record_event(case: PanelCase, action: str, actor: User | None, now: datetime | None = None) -> None:
    db.session.add(PanelCaseEvent(case_id=case.id, action=action, actor_id=actor.id if actor else None,
                                  created_dt=resolve_now(now)))


def check_int(errors: dict, name: str, value, low: int, high: int, message) -> int:
    try:
        n = int(value)
    except (TypeError, ValueError):
        n = None
    if n is None or isinstance(value, bool) or not low <= n <= high:
        errors[name] = str(message)
        return 0
    return n


def resolve_areas(codes: list[str] | None, field: str, errors: dict) -> list[ExpertiseArea]:
    codes = list(dict.fromkeys(codes or []))
    if not codes:
        return []
    found = {a.code: a for a in db.session.execute(select(ExpertiseArea).where(ExpertiseArea.code.in_(codes))).scalars()}
    unknown = [c for c in codes if c not in found]
    if unknown:
        errors[field] = str(_l("Unknown expertise area: %(codes)s", codes=", ".join(unknown)))
    return [found[c] for c in codes if c in found]


# --- sessions ----------------------------------------------------------------------------------

def sessions_of(panel: Panel, *, after: datetime | None = None, statuses: tuple[str, ...] | None = None):
    q = select(PanelSession).where(PanelSession.panel_id == panel.id).order_by(PanelSession.start_dt)
    if after is not None:
        q = q.where(PanelSession.start_dt > after)
    if statuses:
        q = q.where(PanelSession.status.in_(statuses))
    return db.session.execute(q).unique().scalars()


def sessions_between(panel: Panel, start: datetime | None, end: datetime | None) -> list[PanelSession]:
    q = select(PanelSession).where(PanelSession.panel_id == panel.id).order_by(PanelSession.start_dt)
    if start is not None:
        q = q.where(PanelSession.start_dt >= start)
    if end is not None:
        q = q.where(PanelSession.start_dt < end)
    return list(db.session.execute(q).unique().scalars())


def ensure_sessions(panel: Panel, *, now: datetime | None = None, months: int | None = None) -> int:
    """Materialise the panel's sessions from now to the horizon (default PANEL_HORIZON_MONTHS).
    Idempotent: a recurrence date that has a row (even moved or cancelled) is never recreated."""
    now = resolve_now(now)
    tz = app_tz()
    after = now.astimezone(tz).replace(tzinfo=None)
    until = after + relativedelta(months=months or horizon_months())
    first_local = panel.first_start_dt.astimezone(tz).replace(tzinfo=None)
    starts = recurrence.starts(panel.rrule, first_local, after=after, before=until,
                               skip_july=panel.skip_july, skip_holidays=panel.skip_holidays)
    if not starts:
        return 0
    existing = set(db.session.execute(
        select(PanelSession.occurrence_date).where(PanelSession.panel_id == panel.id,
                                                   PanelSession.occurrence_date >= starts[0].date())
    ).scalars())
    created = 0
    for start in starts:
        if start.date() in existing:
            continue
        start_dt = local_to_utc(start)
        db.session.add(PanelSession(panel_id=panel.id, occurrence_date=start.date(), start_dt=start_dt,
                                    end_dt=local_to_utc(start + timedelta(minutes=panel.session_minutes))))
        created += 1
    db.session.flush()
    return created


def top_up_sessions(now: datetime | None = None) -> int:
    """For the job runner: keep every active panel's sessions materialised to the horizon."""
    return sum(ensure_sessions(p, now=now) for p in all_panels(active_only=True))


def lock_panel(panel_id: int) -> Panel:
    """The panel's row lock for the rest of the transaction: every change to its sessions, cases
    and agendas takes it first (one order, so no deadlocks between them)."""
    panel = lock_for_update(Panel, panel_id)
    if panel is None:
        raise NotFound(str(_l("No such panel.")))
    return panel


def locked_case(case: PanelCase) -> PanelCase:
    """The case as it is now, under its panel's lock (the caller may hold an older copy)."""
    lock_panel(case.panel_id)
    db.session.refresh(case)
    case.already_done = False
    return case


def locked_session(session: PanelSession) -> PanelSession:
    lock_panel(session.panel_id)
    db.session.refresh(session)
    db.session.expire(session, ["cases"])
    session.already_done = False
    return session


def lock_session(session_id: int) -> PanelSession:
    """The session row, fresh and locked, under its panel's lock (taken first when not yet held)."""
    session = db.session.get(PanelSession, session_id)
    if session is None:
        raise NotFound(str(_l("No such panel session.")))
    return locked_session(session)


def session_transition(session: PanelSession, target: SessionStatus, **values) -> None:
    """The guarded write of a session's status (and `values`); raises Conflict when it lost."""
    if not transition(session, SESSION_TRANSITIONS, target, sources=[session.status],
                      where=[PanelSession.sequence == session.sequence],
                      values={"sequence": session.sequence + 1, "updated_dt": datetime.now(UTC), **values}):
        raise Conflict(changed_meanwhile_message())


def case_transition(case: PanelCase, target: CaseStatus, *, bump: bool = True, **values) -> None:
    """The guarded write of a case's status (and `values`); raises Conflict when it lost."""
    extra = {"sequence": case.sequence + 1} if bump else {}
    if not transition(case, CASE_TRANSITIONS, target, sources=[case.status],
                      where=[PanelCase.sequence == case.sequence],
                      values={**extra, "updated_dt": datetime.now(UTC), **values}):
        raise Conflict(changed_meanwhile_message())


def agenda_cases(session: PanelSession, exclude_id: int | None = None) -> list[PanelCase]:
    # fresh rows (another secretary may have changed the agenda before our lock); the collections
    # are not needed for re-timing, so they are not reloaded here
    q = (select(PanelCase).where(PanelCase.session_id == session.id, PanelCase.status.in_(ON_AGENDA))
         .order_by(PanelCase.position, PanelCase.id)
         .options(lazyload(PanelCase.areas), lazyload(PanelCase.experts), lazyload(PanelCase.submitter),
                  lazyload(PanelCase.panel))
         .execution_options(populate_existing=True))
    return [c for c in db.session.execute(q).unique().scalars() if c.id != exclude_id]


def used_minutes(session: PanelSession, exclude_id: int | None = None) -> int:
    return sum(c.case_minutes for c in agenda_cases(session, exclude_id))


def retime_agenda(session: PanelSession) -> list[PanelCase]:
    """Times follow from the order and each case's minutes. Returns the cases whose time changed
    (their sequence is raised)."""
    changed = []
    t = session.start_dt
    for i, case in enumerate(agenda_cases(session), start=1):
        end = t + timedelta(minutes=case.case_minutes)
        case.position = i
        if case.start_dt != t or case.end_dt != end:
            case.start_dt, case.end_dt = t, end
            case.sequence += 1
            changed.append(case)
        t = end
    db.session.flush()
    db.session.expire(session, ["cases"])
    return changed


def session_updated(session: PanelSession) -> None:
    if session.status == SessionStatus.AGENDA_PUBLISHED:
        panel_session_changed.send(session, action="updated")


def move_session(session: PanelSession, *, actor: User, start: datetime, end: datetime | None = None,
                 now: datetime | None = None) -> PanelSession:
    """Move a single session (aware datetimes or naive local ones); its agenda moves with it."""
    _require_secretary_or_admin(session.panel, actor)
    session = locked_session(session)
    if session.status not in OPEN_SESSION_STATUSES:
        raise Conflict(str(_l("Only a coming session can be moved.")))
    start_dt = local_to_utc(start) if start.tzinfo is None else start.astimezone(UTC)
    if end is None:
        end_dt = start_dt + (session.end_dt - session.start_dt)
    else:
        end_dt = local_to_utc(end) if end.tzinfo is None else end.astimezone(UTC)
    errors = {}
    if start_dt <= resolve_now(now):
        errors["start"] = str(_l("Choose a time in the future."))
    if end_dt <= start_dt:
        errors["end"] = str(_l("The end must be after the start."))
    elif end_dt - start_dt < timedelta(minutes=used_minutes(session)):
        errors["end"] = str(_l("The cases on the agenda do not fit in the shorter session."))
    if errors:
        raise ValidationFailed(str(_l("Check the new time.")), fields=errors)
    if (start_dt, end_dt) == (session.start_dt, session.end_dt):
        session.already_done = True
        return session
    session_transition(session, session.status, start_dt=start_dt, end_dt=end_dt)
    retime_agenda(session)
    session_updated(session)
    return session


def _require_secretary_or_admin(panel: Panel, actor: User) -> None:
    if not (panel.is_secretary(actor) or actor.is_admin):
        raise Forbidden(str(_l("Only the panel's secretaries can do this.")))


def next_open_session(panel: Panel, after: PanelSession, *, now: datetime | None = None,
                      minutes: int = 0) -> PanelSession | None:
    for s in sessions_of(panel, after=max(after.start_dt, resolve_now(now)), statuses=OPEN_SESSION_STATUSES):
        if s.id != after.id and used_minutes(s) + minutes <= s.minutes:
            return s
    return None


def _move_cases_on(session: PanelSession, *, actor: User, now: datetime | None) -> list[PanelCase]:
    """Move the session's cases (without a statement) to the next session with room, in their
    order; a case with no room anywhere waits, accepted, for the secretary. Runs under the panel's
    lock, so a secretary scheduling into the next session at this moment waits for it."""
    moved: list[PanelCase] = []
    touched: dict[int, PanelSession] = {}
    for case in agenda_cases(session):
        if case.status != CaseStatus.SCHEDULED:
            continue
        target = next_open_session(session.panel, session, now=now, minutes=case.case_minutes)
        if target is not None:
            case_transition(case, CaseStatus.SCHEDULED, session_id=target.id, position=10_000 + (case.position or 0))
            touched[target.id] = target
        else:
            case_transition(case, CaseStatus.ACCEPTED, session_id=None, position=None, start_dt=None, end_dt=None)
        record_event(case, "moved", actor, now)
        moved.append(case)
        db.session.flush()
    for case in moved:
        db.session.expire(case, ["session"])
    db.session.expire(session, ["cases"])
    for target in touched.values():
        retime_agenda(target)
    for case in moved:
        panel_case_changed.send(case, action="moved")
    for target in touched.values():
        session_updated(target)
    return moved


def cancel_session(session: PanelSession, *, actor: User, reason: str = "", now: datetime | None = None) -> PanelSession:
    """Cancel a single session; its cases move to the next session, their submitters are told.
    Cancelling a cancelled session again changes nothing."""
    _require_secretary_or_admin(session.panel, actor)
    session = locked_session(session)
    if session.status == SessionStatus.CANCELLED:
        session.already_done = True
        return session
    if session.status not in OPEN_SESSION_STATUSES:
        raise Conflict(str(_l("Only a coming session can be cancelled.")))
    refuse_identity_codes(reason=reason)  # the reason goes to the submitters and the invited
    session_transition(session, SessionStatus.CANCELLED, cancel_reason=(reason or "").strip()[:500])
    panel_session_changed.send(session, action="cancelled")
    _move_cases_on(session, actor=actor, now=now)
    return session


def mark_held(session: PanelSession, *, actor: User, held: bool = True, now: datetime | None = None) -> PanelSession:
    """After the session: held, or not held (its cases without advice move to the next session)."""
    _require_secretary(session.panel, actor)
    session = locked_session(session)
    new_status = SessionStatus.HELD if held else SessionStatus.NOT_HELD
    if session.status == new_status:
        session.already_done = True
        return session
    if not SESSION_TRANSITIONS.allows(session.status, new_status):
        raise Conflict(str(_l("A cancelled session cannot be marked held.")))
    if session.start_dt > resolve_now(now):
        raise Conflict(str(_l("The session has not started yet.")))
    session_transition(session, new_status)
    panel_session_changed.send(session, action=str(new_status))
    if not held:
        _move_cases_on(session, actor=actor, now=now)
    return session


def publish_agenda(session: PanelSession, *, actor: User, now: datetime | None = None) -> PanelSession:
    """Publish the agenda: invitations go out (through the signal) and the order is locked."""
    _require_secretary(session.panel, actor)
    session = locked_session(session)
    if session.status == SessionStatus.AGENDA_PUBLISHED:
        session.already_done = True
        return session
    if session.status != SessionStatus.SCHEDULED:
        raise Conflict(str(_l("Only a coming session's agenda can be published.")))
    if session.start_dt <= resolve_now(now):
        raise Conflict(str(_l("The session has already started.")))
    retime_agenda(session)
    session_transition(session, SessionStatus.AGENDA_PUBLISHED, published_dt=resolve_now(now))
    panel_session_changed.send(session, action="published")
    return session


def open_sessions(panel: Panel, *, now: datetime | None = None, for_submission: bool = False) -> list[PanelSession]:
    """Coming sessions (for a submission: those whose deadline has not passed)."""
    now = resolve_now(now)
    out = []
    for s in sessions_of(panel, after=now, statuses=OPEN_SESSION_STATUSES):
        if for_submission and s.submission_deadline_dt < now:
            continue
        out.append(s)
    return out


# --- experts' view -----------------------------------------------------------------------------

def sessions_for_expert(user: User, *, include_past: bool = True, now: datetime | None = None) -> list[PanelSession]:
    """Sessions whose published agenda has a case this expert is assigned to."""
    q = (select(PanelSession).join(PanelCase, PanelCase.session_id == PanelSession.id)
         .join(PanelCaseExpert, PanelCaseExpert.case_id == PanelCase.id)
         .join(PanelExpert, (PanelExpert.panel_id == PanelCase.panel_id) & (PanelExpert.user_id == user.id))
         .where(PanelCaseExpert.user_id == user.id, PanelCase.status.in_(ON_AGENDA),
                PanelExpert.is_active.is_(True),
                PanelSession.status.in_((SessionStatus.AGENDA_PUBLISHED, SessionStatus.HELD, SessionStatus.NOT_HELD)))
         .order_by(PanelSession.start_dt).distinct())
    if not include_past:
        q = q.where(PanelSession.end_dt > resolve_now(now))
    return list(db.session.execute(q).unique().scalars())


def on_teams_meeting_ready(meeting_key: str, join_url: str | None = None, **_kw) -> None:
    """teams_meeting_ready receiver: keep the session's join link (shown on its page and agenda)."""
    if not meeting_key.startswith("panel-session:") or not join_url:
        return
    try:
        session = db.session.get(PanelSession, int(meeting_key.split(":", 1)[1]))
    except ValueError:
        return
    if session is not None and session.join_url != join_url:
        session.join_url = join_url
        db.session.flush()
