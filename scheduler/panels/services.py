"""The expert panel's rules: panels and their sessions, the agenda, experts and statements.

Services take plain values and an explicit actor, raise core.errors and flush(); the caller
commits once. Signals are sent after flush, inside the transaction (see core/signals.py):

- panel_session_changed(session, action="published"|"updated"|"cancelled"|"held"|"not_held")
  "updated" is sent for any change to a published agenda (a case added, removed, re-timed, its
  experts changed, or the session moved); the listener refreshes every invitation of the session.
- panel_case_changed(case, action=...) with the actions of core/signals.py. "moved" means the
  case went to another session (case.session), or back to waiting (case.session is None).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from dateutil.relativedelta import relativedelta
from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select

from ..core.errors import Conflict, Forbidden, NotFound, ValidationFailed
from ..core.signals import panel_case_changed, panel_session_changed
from ..core.timefmt import app_tz, local_to_utc
from ..extensions import db
from ..people.models import ExpertiseArea, User
from ..people.services import get_user_by_email, normalize_email
from . import recurrence
from .models import (
    CASE_LANGUAGES,
    Panel,
    PanelCase,
    PanelCaseEvent,
    PanelCaseExpert,
    PanelCaseRead,
    PanelConflict,
    PanelExpert,
    PanelSession,
    PanelStatement,
)

OPEN_SESSION_STATUSES = ("scheduled", "agenda_published")
RECENT_CASES_DAYS = 180
MAX_TEXT = 4000


def _now(now: datetime | None) -> datetime:
    return now or datetime.now(UTC)


def horizon_months() -> int:
    return int(current_app.config.get("PANEL_HORIZON_MONTHS", 12))


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


def _require_admin(actor: User) -> None:
    if not actor.is_admin:
        raise Forbidden(str(_l("Only an administrator can change panels.")))


def _require_secretary(panel: Panel, actor: User) -> None:
    if not panel.is_secretary(actor):
        raise Forbidden(str(_l("Only the panel's secretaries can do this.")))


def panels_for_secretary(actor: User) -> list[Panel]:
    return [p for p in all_panels() if p.is_secretary(actor)]


def all_panels(active_only: bool = False) -> list[Panel]:
    q = select(Panel).order_by(Panel.name)
    if active_only:
        q = q.where(Panel.is_active.is_(True))
    return list(db.session.execute(q).unique().scalars())


def can_read_case(case: PanelCase, user: User) -> bool:
    """The submitter, the panel's secretaries, and the experts assigned to the case once the
    session's agenda is published. Nobody else (administrators read the log, not the cases)."""
    if case.submitter_id == user.id or case.panel.is_secretary(user):
        return True
    return bool(
        case.session is not None and case.session.is_published
        and case.status in ("scheduled", "handled")
        and any(e.id == user.id for e in case.experts)
    )


def can_see_agenda(session: PanelSession, user: User) -> bool:
    """Secretaries and admins always; once published, the invited experts and the submitters of
    the cases on it (who see their own case only)."""
    if session.panel.is_secretary(user) or user.is_admin:
        return True
    if not session.is_published:
        return False
    return any(c.submitter_id == user.id or any(e.id == user.id for e in c.experts) for c in session.agenda)


def can_see_case_exists(case: PanelCase, user: User) -> bool:
    return can_read_case(case, user) or any(e.id == user.id for e in case.experts)


def read_case(case_id: int, *, actor: User, via: str = "page", now: datetime | None = None) -> PanelCase:
    """The case, for someone allowed to read its contents; the read is logged."""
    case = get_case(case_id)
    if not can_read_case(case, actor):
        if can_see_case_exists(case, actor):
            raise Forbidden(str(_l("The case can be read once the agenda is published.")))
        raise NotFound(str(_l("No such case.")))
    log_case_read(case, actor, via=via, now=now)
    return case


def log_case_read(case: PanelCase, user: User, *, via: str, now: datetime | None = None) -> None:
    db.session.add(PanelCaseRead(case_id=case.id, user_id=user.id, via=via, read_dt=_now(now)))
    db.session.flush()


def _event(case: PanelCase, action: str, actor: User | None, now: datetime | None = None) -> None:
    db.session.add(PanelCaseEvent(case_id=case.id, action=action, actor_id=actor.id if actor else None,
                                  created_dt=_now(now)))


# --- panels ------------------------------------------------------------------------------------

def _as_local_naive(value: datetime | str) -> datetime:
    if isinstance(value, str):
        value = datetime.fromisoformat(value.strip())
    if value.tzinfo is not None:
        value = value.astimezone(app_tz()).replace(tzinfo=None)
    return value.replace(second=0, microsecond=0)


def _check_int(errors: dict, name: str, value, low: int, high: int, message) -> int:
    try:
        n = int(value)
    except (TypeError, ValueError):
        n = None
    if n is None or isinstance(value, bool) or not low <= n <= high:
        errors[name] = str(message)
        return 0
    return n


def _panel_values(*, name, region, rrule, first_start, session_minutes, case_minutes, submission_deadline_days,
                  agenda_days) -> tuple[dict, dict]:
    errors: dict[str, str] = {}
    values: dict = {}
    values["name"] = (name or "").strip()
    if not values["name"] or len(values["name"]) > 200:
        errors["name"] = str(_l("Enter the panel's name (at most 200 characters)."))
    values["region"] = (region or "").strip()[:200]
    try:
        values["rrule"] = recurrence.validate_rrule(rrule)
    except (ValueError, TypeError):
        errors["rrule"] = str(_l("Choose how often the panel meets."))
    try:
        values["first_start"] = _as_local_naive(first_start)
    except (ValueError, TypeError, AttributeError):
        errors["first_start"] = str(_l("Enter the first session's date and time."))
    values["session_minutes"] = _check_int(errors, "session_minutes", session_minutes, 15, 600,
                                           _l("A session lasts 15–600 minutes."))
    values["case_minutes"] = _check_int(errors, "case_minutes", case_minutes, 5, 600,
                                        _l("A case takes 5–600 minutes."))
    values["submission_deadline_days"] = _check_int(errors, "submission_deadline_days", submission_deadline_days, 0, 90,
                                                    _l("Use 0–90 days."))
    values["agenda_days"] = _check_int(errors, "agenda_days", agenda_days, 0, 90, _l("Use 0–90 days."))
    if not errors and values["case_minutes"] > values["session_minutes"]:
        errors["case_minutes"] = str(_l("A case cannot take longer than the whole session."))
    return values, errors


def _users_by_email(emails: list[str], field: str, errors: dict, role: str | None = None) -> list[User]:
    users = []
    for raw in emails or []:
        try:
            email = normalize_email(raw)
        except ValidationFailed:
            errors[field] = str(_l("Check the e-mail address %(email)s.", email=raw))
            continue
        user = get_user_by_email(email)
        if user is None or not user.is_active:
            errors[field] = str(_l("No active user with the e-mail address %(email)s.", email=raw))
            continue
        if role and not user.has_role(role):
            errors[field] = str(_l("%(email)s does not have the role needed here.", email=raw))
            continue
        if user not in users:
            users.append(user)
    return users


def _areas(codes: list[str] | None, field: str, errors: dict) -> list[ExpertiseArea]:
    codes = list(dict.fromkeys(codes or []))
    if not codes:
        return []
    found = {a.code: a for a in db.session.execute(select(ExpertiseArea).where(ExpertiseArea.code.in_(codes))).scalars()}
    unknown = [c for c in codes if c not in found]
    if unknown:
        errors[field] = str(_l("Unknown expertise area: %(codes)s", codes=", ".join(unknown)))
    return [found[c] for c in codes if c in found]


def create_panel(*, actor: User, name: str, rrule: str, first_start: datetime | str, session_minutes: int = 180,
                 case_minutes: int = 45, submission_deadline_days: int = 10, agenda_days: int = 5, region: str = "",
                 secretaries: list[str] | None = None, experts: list[dict] | None = None, skip_july: bool = True,
                 skip_holidays: bool = True, now: datetime | None = None) -> Panel:
    _require_admin(actor)
    values, errors = _panel_values(name=name, region=region, rrule=rrule, first_start=first_start,
                                   session_minutes=session_minutes, case_minutes=case_minutes,
                                   submission_deadline_days=submission_deadline_days, agenda_days=agenda_days)
    secretary_users = _users_by_email(secretaries or [], "secretaries", errors)
    expert_specs = []
    for spec in experts or []:
        if not isinstance(spec, dict):
            errors["experts"] = str(_l("Each expert needs an e-mail address and expertise areas."))
            continue
        users = _users_by_email([spec.get("email", "")], "experts", errors)
        areas = _areas(spec.get("expertise") or [], "experts", errors)
        if users:
            expert_specs.append((users[0], areas, spec))
    if errors:
        raise ValidationFailed(str(_l("Check the panel's details.")), fields=errors)
    panel = Panel(
        name=values["name"], region=values["region"], rrule=values["rrule"],
        first_start_dt=local_to_utc(values["first_start"]), session_minutes=values["session_minutes"],
        case_minutes=values["case_minutes"], submission_deadline_days=values["submission_deadline_days"],
        agenda_days=values["agenda_days"], skip_july=bool(skip_july), skip_holidays=bool(skip_holidays),
    )
    panel.secretaries = secretary_users
    db.session.add(panel)
    for user, areas, spec in expert_specs:
        panel.experts.append(PanelExpert(
            user=user, organisation=(spec.get("organisation") or user.organisation or "")[:200],
            languages=_languages(spec.get("languages")), areas=areas,
        ))
    db.session.flush()
    ensure_sessions(panel, now=now)
    return panel


def _languages(value) -> str:
    if isinstance(value, str):
        value = [v.strip() for v in value.split(",")]
    langs = [v for v in (value or ["fi"]) if v in ("fi", "sv", "en")]
    return ",".join(dict.fromkeys(langs)) or "fi"


def update_panel(panel: Panel, *, actor: User, name: str, rrule: str, first_start: datetime | str,
                 session_minutes: int, case_minutes: int, submission_deadline_days: int, agenda_days: int,
                 region: str = "", secretaries: list[str] | None = None, skip_july: bool = True,
                 skip_holidays: bool = True, is_active: bool = True, now: datetime | None = None) -> Panel:
    """Change a panel. A changed recurrence replaces the future sessions that have no cases and
    are not published; sessions with cases stay (the secretary moves or cancels them)."""
    _require_admin(actor)
    values, errors = _panel_values(name=name, region=region, rrule=rrule, first_start=first_start,
                                   session_minutes=session_minutes, case_minutes=case_minutes,
                                   submission_deadline_days=submission_deadline_days, agenda_days=agenda_days)
    secretary_users = _users_by_email(secretaries or [], "secretaries", errors)
    if errors:
        raise ValidationFailed(str(_l("Check the panel's details.")), fields=errors)
    first_start_dt = local_to_utc(values["first_start"])
    schedule_changed = (
        values["rrule"] != panel.rrule or first_start_dt != panel.first_start_dt
        or values["session_minutes"] != panel.session_minutes
        or bool(skip_july) != panel.skip_july or bool(skip_holidays) != panel.skip_holidays
    )
    panel.name, panel.region, panel.rrule = values["name"], values["region"], values["rrule"]
    panel.first_start_dt = first_start_dt
    panel.session_minutes, panel.case_minutes = values["session_minutes"], values["case_minutes"]
    panel.submission_deadline_days, panel.agenda_days = values["submission_deadline_days"], values["agenda_days"]
    panel.skip_july, panel.skip_holidays, panel.is_active = bool(skip_july), bool(skip_holidays), bool(is_active)
    panel.secretaries = secretary_users
    db.session.flush()
    if schedule_changed:
        now = _now(now)
        for s in list(_sessions(panel, after=now)):
            if s.status == "scheduled" and not s.agenda:
                db.session.delete(s)
        db.session.flush()
    if panel.is_active:
        ensure_sessions(panel, now=now)
    return panel


def set_expert(panel: Panel, *, actor: User, email: str, expertise: list[str], organisation: str = "",
               languages: list[str] | str | None = None, is_active: bool = True) -> PanelExpert:
    """Add a person to the expert pool, or change their expertise, organisation and languages."""
    _require_admin(actor)
    errors: dict[str, str] = {}
    users = _users_by_email([email], "email", errors)
    if not (email or "").strip():
        errors["email"] = str(_l("Enter the expert's e-mail address."))
    areas = _areas(expertise, "expertise", errors)
    if not areas and "expertise" not in errors:
        errors["expertise"] = str(_l("Choose at least one expertise area."))
    if errors:
        raise ValidationFailed(str(_l("Check the expert's details.")), fields=errors)
    user = users[0]
    expert = panel.expert_for(user)
    if expert is None:
        expert = PanelExpert(user=user)
        panel.experts.append(expert)
    expert.organisation = (organisation or user.organisation or "").strip()[:200]
    expert.languages = _languages(languages)
    expert.areas = areas
    expert.is_active = bool(is_active)
    db.session.flush()
    return expert


def remove_expert(panel: Panel, *, actor: User, expert_id: int) -> None:
    _require_admin(actor)
    expert = next((e for e in panel.experts if e.id == expert_id), None)
    if expert is None:
        raise NotFound(str(_l("No such expert in this panel.")))
    panel.experts.remove(expert)
    db.session.flush()


# --- sessions ----------------------------------------------------------------------------------

def _sessions(panel: Panel, *, after: datetime | None = None, statuses: tuple[str, ...] | None = None):
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
    now = _now(now)
    tz = app_tz()
    after = now.astimezone(tz).replace(tzinfo=None)
    until = after + relativedelta(months=months or horizon_months())
    first_local = panel.first_start_dt.astimezone(tz).replace(tzinfo=None)
    starts = recurrence.occurrences(panel.rrule, first_local, after=after, until=until,
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


def lock_session(session_id: int) -> PanelSession:
    """Take the session's row lock for the rest of the transaction, so that two secretaries
    filling the same session are serialised: SELECT … FOR UPDATE on PostgreSQL; on SQLite
    BEGIN IMMEDIATE (the database's write lock) unless this transaction already writes."""
    conn = db.session.connection()
    if conn.dialect.name == "sqlite":
        raw = conn.connection.driver_connection
        if not raw.in_transaction:
            raw.execute("BEGIN IMMEDIATE")
    session = db.session.execute(
        select(PanelSession).where(PanelSession.id == session_id).with_for_update(of=PanelSession)
        .execution_options(populate_existing=True)
    ).unique().scalar_one_or_none()
    if session is None:
        raise NotFound(str(_l("No such panel session.")))
    return session


def _agenda_cases(session: PanelSession, exclude_id: int | None = None) -> list[PanelCase]:
    q = (select(PanelCase).where(PanelCase.session_id == session.id, PanelCase.status.in_(("scheduled", "handled")))
         .order_by(PanelCase.position, PanelCase.id).execution_options(populate_existing=True))
    return [c for c in db.session.execute(q).unique().scalars() if c.id != exclude_id]


def used_minutes(session: PanelSession, exclude_id: int | None = None) -> int:
    return sum(c.case_minutes for c in _agenda_cases(session, exclude_id))


def retime_agenda(session: PanelSession) -> list[PanelCase]:
    """Times follow from the order and each case's minutes. Returns the cases whose time changed
    (their sequence is raised)."""
    changed = []
    t = session.start_dt
    for i, case in enumerate(_agenda_cases(session), start=1):
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


def _session_updated(session: PanelSession) -> None:
    if session.status == "agenda_published":
        panel_session_changed.send(session, action="updated")


def move_session(session: PanelSession, *, actor: User, start: datetime, end: datetime | None = None,
                 now: datetime | None = None) -> PanelSession:
    """Move a single session (aware datetimes or naive local ones); its agenda moves with it."""
    _require_secretary_or_admin(session.panel, actor)
    if session.status not in OPEN_SESSION_STATUSES:
        raise Conflict(str(_l("Only a coming session can be moved.")))
    start_dt = local_to_utc(start) if start.tzinfo is None else start.astimezone(UTC)
    if end is None:
        end_dt = start_dt + (session.end_dt - session.start_dt)
    else:
        end_dt = local_to_utc(end) if end.tzinfo is None else end.astimezone(UTC)
    errors = {}
    if start_dt <= _now(now):
        errors["start"] = str(_l("Choose a time in the future."))
    if end_dt <= start_dt:
        errors["end"] = str(_l("The end must be after the start."))
    elif end_dt - start_dt < timedelta(minutes=used_minutes(session)):
        errors["end"] = str(_l("The cases on the agenda do not fit in the shorter session."))
    if errors:
        raise ValidationFailed(str(_l("Check the new time.")), fields=errors)
    if (start_dt, end_dt) == (session.start_dt, session.end_dt):
        return session
    session.start_dt, session.end_dt = start_dt, end_dt
    session.sequence += 1
    db.session.flush()
    retime_agenda(session)
    _session_updated(session)
    return session


def _require_secretary_or_admin(panel: Panel, actor: User) -> None:
    if not (panel.is_secretary(actor) or actor.is_admin):
        raise Forbidden(str(_l("Only the panel's secretaries can do this.")))


def next_open_session(panel: Panel, after: PanelSession, *, now: datetime | None = None,
                      minutes: int = 0) -> PanelSession | None:
    for s in _sessions(panel, after=max(after.start_dt, _now(now)), statuses=OPEN_SESSION_STATUSES):
        if s.id != after.id and used_minutes(s) + minutes <= s.minutes:
            return s
    return None


def _move_cases_on(session: PanelSession, *, actor: User, now: datetime | None) -> list[PanelCase]:
    """Move the session's cases (without a statement) to the next session with room, in their
    order; a case with no room anywhere waits, accepted, for the secretary."""
    moved: list[PanelCase] = []
    touched: dict[int, PanelSession] = {}
    for case in _agenda_cases(session):
        if case.status != "scheduled":
            continue
        target = next_open_session(session.panel, session, now=now, minutes=case.case_minutes)
        if target is not None:
            lock_session(target.id)
            case.session_id, case.position = target.id, 10_000 + (case.position or 0)
            touched[target.id] = target
        else:
            case.session_id, case.position, case.start_dt, case.end_dt = None, None, None, None
            case.status = "accepted"
        case.sequence += 1
        _event(case, "moved", actor, now)
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
        _session_updated(target)
    return moved


def cancel_session(session: PanelSession, *, actor: User, reason: str = "", now: datetime | None = None) -> PanelSession:
    """Cancel a single session; its cases move to the next session, their submitters are told."""
    _require_secretary_or_admin(session.panel, actor)
    if session.status not in OPEN_SESSION_STATUSES:
        raise Conflict(str(_l("Only a coming session can be cancelled.")))
    session.status = "cancelled"
    session.cancel_reason = (reason or "").strip()[:500]
    session.sequence += 1
    db.session.flush()
    panel_session_changed.send(session, action="cancelled")
    _move_cases_on(session, actor=actor, now=now)
    return session


def mark_held(session: PanelSession, *, actor: User, held: bool = True, now: datetime | None = None) -> PanelSession:
    """After the session: held, or not held (its cases without advice move to the next session)."""
    _require_secretary(session.panel, actor)
    if session.status not in OPEN_SESSION_STATUSES and session.status not in ("held", "not_held"):
        raise Conflict(str(_l("A cancelled session cannot be marked held.")))
    if session.start_dt > _now(now):
        raise Conflict(str(_l("The session has not started yet.")))
    new_status = "held" if held else "not_held"
    if session.status == new_status:
        return session
    session.status = new_status
    session.sequence += 1
    db.session.flush()
    panel_session_changed.send(session, action=new_status)
    if not held:
        _move_cases_on(session, actor=actor, now=now)
    return session


def publish_agenda(session: PanelSession, *, actor: User, now: datetime | None = None) -> PanelSession:
    """Publish the agenda: invitations go out (through the signal) and the order is locked."""
    _require_secretary(session.panel, actor)
    if session.status == "agenda_published":
        return session
    if session.status != "scheduled":
        raise Conflict(str(_l("Only a coming session's agenda can be published.")))
    if session.start_dt <= _now(now):
        raise Conflict(str(_l("The session has already started.")))
    retime_agenda(session)
    session.status = "agenda_published"
    session.published_dt = _now(now)
    session.sequence += 1
    db.session.flush()
    panel_session_changed.send(session, action="published")
    return session


def open_sessions(panel: Panel, *, now: datetime | None = None, for_submission: bool = False) -> list[PanelSession]:
    """Coming sessions (for a submission: those whose deadline has not passed)."""
    now = _now(now)
    out = []
    for s in _sessions(panel, after=now, statuses=OPEN_SESSION_STATUSES):
        if for_submission and s.submission_deadline_dt < now:
            continue
        out.append(s)
    return out


# --- cases: the social worker ------------------------------------------------------------------

def _case_values(*, panel: Panel, case_ref, child_age, municipality, language, background, questions, expertise,
                 services_tried, preferred_session_id, now: datetime) -> tuple[dict, dict]:
    from ..core.privacy import find_identity_codes

    errors: dict[str, str] = {}
    v: dict = {}
    v["case_ref"] = (case_ref or "").strip()
    if not v["case_ref"] or len(v["case_ref"]) > 60:
        errors["case_ref"] = str(_l("Enter a pseudonymous case reference (at most 60 characters)."))
    v["child_age"] = _check_int(errors, "child_age", child_age, 0, 25, _l("Enter the child's age in years (0–25)."))
    v["municipality"] = (municipality or "").strip()
    if not v["municipality"] or len(v["municipality"]) > 100:
        errors["municipality"] = str(_l("Enter the municipality."))
    v["language"] = language if language in CASE_LANGUAGES else None
    if v["language"] is None:
        errors["language"] = str(_l("Choose the language of the case."))
    for name, msg in (("background", _l("Describe the background briefly.")),
                      ("questions", _l("Write the questions to the panel."))):
        v[name] = (locals()[name] or "").strip()
        if not v[name]:
            errors[name] = str(msg)
        elif len(v[name]) > MAX_TEXT:
            errors[name] = str(_l("Use at most %(n)d characters.", n=MAX_TEXT))
    v["services_tried"] = (services_tried or "").strip()
    if len(v["services_tried"]) > MAX_TEXT:
        errors["services_tried"] = str(_l("Use at most %(n)d characters.", n=MAX_TEXT))
    v["areas"] = _areas(expertise, "expertise", errors)
    if not v["areas"] and "expertise" not in errors:
        errors["expertise"] = str(_l("Choose at least one expertise area the case needs."))
    v["preferred_session_id"] = None
    if preferred_session_id not in (None, "", 0):
        try:
            sid = int(preferred_session_id)
        except (TypeError, ValueError):
            sid = 0
        if sid not in {s.id for s in open_sessions(panel, now=now, for_submission=True)}:
            errors["preferred_session_id"] = str(_l("Choose a coming session whose submission deadline has not passed."))
        else:
            v["preferred_session_id"] = sid
    for name in ("case_ref", "municipality", "background", "questions", "services_tried"):
        if find_identity_codes(v.get(name)):
            errors[name] = str(_l("Remove the personal identity code. Cases are pseudonymous: do not write names or identity codes."))
    return v, errors


def submit_case(*, actor: User, panel_id: int, case_ref: str, child_age, municipality: str, language: str,
                background: str, questions: str, expertise: list[str], services_tried: str = "",
                client_consent: bool = False, preferred_session_id: int | None = None,
                now: datetime | None = None) -> PanelCase:
    if not actor.has_role("social_worker"):
        raise Forbidden(str(_l("Only social workers can submit cases to the panel.")))
    panel = get_panel(panel_id)
    if not panel.is_active:
        raise ValidationFailed(str(_l("This panel does not take cases now.")), fields={"panel_id": str(_l("Choose another panel."))})
    now = _now(now)
    v, errors = _case_values(panel=panel, case_ref=case_ref, child_age=child_age, municipality=municipality,
                             language=language, background=background, questions=questions, expertise=expertise,
                             services_tried=services_tried, preferred_session_id=preferred_session_id, now=now)
    if errors:
        raise ValidationFailed(str(_l("Check the case's details.")), fields=errors)
    case = PanelCase(panel_id=panel.id, submitter_id=actor.id, case_ref=v["case_ref"], child_age=v["child_age"],
                     municipality=v["municipality"], language=v["language"], background=v["background"],
                     questions=v["questions"], services_tried=v["services_tried"], client_consent=bool(client_consent),
                     preferred_session_id=v["preferred_session_id"], status="submitted", submitted_dt=now)
    case.areas = v["areas"]
    db.session.add(case)
    db.session.flush()
    _event(case, "submitted", actor, now)
    db.session.flush()
    panel_case_changed.send(case, action="submitted")
    return case


def update_case(case: PanelCase, *, actor: User, case_ref: str, child_age, municipality: str, language: str,
                background: str, questions: str, expertise: list[str], services_tried: str = "",
                client_consent: bool = False, preferred_session_id: int | None = None,
                now: datetime | None = None) -> PanelCase:
    """The submitter edits the case until it is accepted; a returned case is submitted again."""
    if case.submitter_id != actor.id:
        raise Forbidden(str(_l("Only the submitter can change the case.")))
    if not case.is_editable:
        raise Conflict(str(_l("The case has been accepted and can no longer be changed. Contact the panel's secretary.")))
    now = _now(now)
    v, errors = _case_values(panel=case.panel, case_ref=case_ref, child_age=child_age, municipality=municipality,
                             language=language, background=background, questions=questions, expertise=expertise,
                             services_tried=services_tried, preferred_session_id=preferred_session_id, now=now)
    if errors:
        raise ValidationFailed(str(_l("Check the case's details.")), fields=errors)
    for k in ("case_ref", "child_age", "municipality", "language", "background", "questions", "services_tried",
              "preferred_session_id"):
        setattr(case, k, v[k])
    case.areas = v["areas"]
    case.client_consent = bool(client_consent)
    action = "edited"
    if case.status == "returned":
        case.status, action = "submitted", "resubmitted"
    _event(case, action, actor, now)
    db.session.flush()
    if action == "resubmitted":
        panel_case_changed.send(case, action="submitted")
    return case


def withdraw_case(case: PanelCase, *, actor: User, now: datetime | None = None) -> PanelCase:
    if case.submitter_id != actor.id:
        raise Forbidden(str(_l("Only the submitter can withdraw the case.")))
    if case.status not in ("submitted", "returned", "accepted", "scheduled"):
        raise Conflict(str(_l("The case can no longer be withdrawn.")))
    _take_off_agenda(case, new_status="withdrawn")
    _event(case, "withdrawn", actor, now)
    db.session.flush()
    panel_case_changed.send(case, action="withdrawn")
    return case


def _take_off_agenda(case: PanelCase, *, new_status: str) -> None:
    old = case.session
    was_on_agenda = case.status == "scheduled" and old is not None
    case.status = new_status
    case.session_id, case.position, case.start_dt, case.end_dt = None, None, None, None
    case.sequence += 1
    db.session.flush()
    db.session.expire(case, ["session"])
    if was_on_agenda:
        db.session.expire(old, ["cases"])
        retime_agenda(old)
        _session_updated(old)


def cases_of(user: User) -> list[PanelCase]:
    return list(db.session.execute(
        select(PanelCase).where(PanelCase.submitter_id == user.id).order_by(PanelCase.submitted_dt.desc())
    ).unique().scalars())


# --- cases: the secretary ----------------------------------------------------------------------

def inbox(actor: User, *, statuses: tuple[str, ...] = ("submitted", "accepted")) -> list[PanelCase]:
    panel_ids = [p.id for p in panels_for_secretary(actor)]
    if not panel_ids:
        return []
    return list(db.session.execute(
        select(PanelCase).where(PanelCase.panel_id.in_(panel_ids), PanelCase.status.in_(statuses))
        .order_by(PanelCase.submitted_dt)
    ).unique().scalars())


def accept_case(case: PanelCase, *, actor: User, now: datetime | None = None) -> PanelCase:
    _require_secretary(case.panel, actor)
    if case.status != "submitted":
        raise Conflict(str(_l("Only a submitted case can be accepted.")))
    case.status, case.accepted_dt = "accepted", _now(now)
    _event(case, "accepted", actor, now)
    db.session.flush()
    panel_case_changed.send(case, action="accepted")
    return case


def return_case(case: PanelCase, *, actor: User, message: str, now: datetime | None = None) -> PanelCase:
    """Return for completion: the submitter can edit and resubmit."""
    _require_secretary(case.panel, actor)
    message = (message or "").strip()
    if not message:
        raise ValidationFailed(str(_l("Tell the submitter what to complete.")),
                               fields={"message": str(_l("Write what the submitter should complete."))})
    if case.status not in ("submitted", "accepted"):
        raise Conflict(str(_l("Only a submitted or accepted case can be returned.")))
    case.status, case.secretary_message, case.accepted_dt = "returned", message[:MAX_TEXT], None
    _event(case, "returned", actor, now)
    db.session.flush()
    panel_case_changed.send(case, action="returned")
    return case


def decline_case(case: PanelCase, *, actor: User, message: str = "", now: datetime | None = None) -> PanelCase:
    _require_secretary(case.panel, actor)
    if case.status not in ("submitted", "returned", "accepted", "scheduled"):
        raise Conflict(str(_l("The case can no longer be declined.")))
    case.secretary_message = (message or "").strip()[:MAX_TEXT]
    _take_off_agenda(case, new_status="declined")
    _event(case, "declined", actor, now)
    db.session.flush()
    panel_case_changed.send(case, action="declined")
    return case


def schedule_case(case: PanelCase, *, actor: User, session_id: int, experts: list[str] | None = None,
                  now: datetime | None = None) -> PanelCase:
    """Put the case at the end of a session's agenda (scheduling a submitted case accepts it).
    Holds the session's row lock, so two secretaries cannot overfill it (409 when full)."""
    _require_secretary(case.panel, actor)
    now = _now(now)
    if case.status not in ("submitted", "accepted", "scheduled"):
        raise Conflict(str(_l("Only a submitted or accepted case can be put on an agenda.")))
    expert_users = _expert_users(case, experts) if experts is not None else None
    session = lock_session(int(session_id))
    db.session.refresh(case)
    if session.panel_id != case.panel_id:
        raise ValidationFailed(str(_l("Choose a session of the case's panel.")),
                               fields={"session_id": str(_l("Choose a session of this panel."))})
    if session.status not in OPEN_SESSION_STATUSES or session.start_dt <= now:
        raise Conflict(str(_l("Choose a coming session.")), fields={"session_id": str(_l("Choose a coming session."))})
    if case.status not in ("submitted", "accepted", "scheduled"):
        raise Conflict(str(_l("Only a submitted or accepted case can be put on an agenda.")))
    same = case.session_id == session.id and case.status == "scheduled"
    if not same and used_minutes(session, exclude_id=case.id) + case.case_minutes > session.minutes:
        raise Conflict(str(_l("The session is full. Choose another session.")),
                       fields={"session_id": str(_l("The session is full."))})
    old = case.session if case.status == "scheduled" and not same else None
    first_time = case.status != "scheduled"
    if case.status == "submitted":
        case.accepted_dt = now
        _event(case, "accepted", actor, now)
    if not same:
        case.session_id = session.id
        case.status = "scheduled"
        case.position = 10_000 + case.id
        db.session.flush()
        db.session.expire(case, ["session"])
        _event(case, "scheduled" if first_time else "moved", actor, now)
    if expert_users is not None:
        _set_experts(case, expert_users, now)
    db.session.flush()
    retime_agenda(session)
    if old is not None:
        retime_agenda(old)
        _session_updated(old)
    if not same:
        panel_case_changed.send(case, action="scheduled" if first_time else "moved")
    if not same or expert_users is not None:
        _session_updated(session)
    return case


def unschedule_case(case: PanelCase, *, actor: User, now: datetime | None = None) -> PanelCase:
    """Take a case off its agenda; it waits (accepted) for another session."""
    _require_secretary(case.panel, actor)
    if case.status != "scheduled":
        raise Conflict(str(_l("The case is not on an agenda.")))
    _take_off_agenda(case, new_status="accepted")
    _event(case, "moved", actor, now)
    db.session.flush()
    panel_case_changed.send(case, action="moved")
    return case


def move_on_agenda(case: PanelCase, *, actor: User, direction: str) -> PanelCase:
    """Move a case up or down the agenda (before publication: publishing locks the order)."""
    _require_secretary(case.panel, actor)
    session = case.session
    if case.status != "scheduled" or session is None:
        raise Conflict(str(_l("The case is not on an agenda.")))
    if session.status != "scheduled":
        raise Conflict(str(_l("The agenda is published and its order is locked.")))
    items = _agenda_cases(session)
    i = next(n for n, c in enumerate(items) if c.id == case.id)
    j = i - 1 if direction == "up" else i + 1
    if 0 <= j < len(items):
        items[i], items[j] = items[j], items[i]
        for n, c in enumerate(items, start=1):
            c.position = n
        db.session.flush()
        retime_agenda(session)
    return case


def set_case_minutes(case: PanelCase, *, actor: User, minutes) -> PanelCase:
    """A case can take longer (or shorter) than the panel's default; later cases shift."""
    _require_secretary(case.panel, actor)
    errors: dict[str, str] = {}
    n = _check_int(errors, "minutes", minutes, 5, 600, _l("A case takes 5–600 minutes."))
    if errors:
        raise ValidationFailed(str(_l("Check the length.")), fields=errors)
    if case.status == "scheduled" and case.session is not None:
        session = lock_session(case.session_id)
        if used_minutes(session, exclude_id=case.id) + n > session.minutes:
            raise Conflict(str(_l("The agenda would run past the end of the session.")),
                           fields={"minutes": str(_l("The agenda would run past the end of the session."))})
        case.minutes = n
        db.session.flush()
        if retime_agenda(session):
            _session_updated(session)
    else:
        case.minutes = n
        db.session.flush()
    return case


def _expert_users(case: PanelCase, emails_or_ids: list) -> list[User]:
    pool = {e.user_id: e for e in case.panel.experts if e.is_active}
    users = []
    for item in emails_or_ids:
        user = db.session.get(User, int(item)) if isinstance(item, int) or str(item).isdigit() else \
            get_user_by_email(str(item).strip().lower())
        if user is None or user.id not in pool:
            raise ValidationFailed(str(_l("Choose experts from the panel's pool.")),
                                   fields={"experts": str(_l("%(who)s is not in the panel's expert pool.", who=item))})
        if user.id in conflicted_user_ids(case):
            raise ValidationFailed(str(_l("The expert has declared a conflict of interest.")),
                                   fields={"experts": str(_l("%(who)s has declared a conflict of interest in this case.",
                                                             who=user.name))})
        if user not in users:
            users.append(user)
    return users


def _set_experts(case: PanelCase, users: list[User], now: datetime | None) -> bool:
    current = {e.id for e in case.experts}
    wanted = {u.id for u in users}
    if current == wanted:
        return False
    db.session.execute(PanelCaseExpert.__table__.delete().where(
        PanelCaseExpert.case_id == case.id, PanelCaseExpert.user_id.in_(current - wanted)))
    for uid in wanted - current:
        db.session.add(PanelCaseExpert(case_id=case.id, user_id=uid, assigned_dt=_now(now)))
    db.session.flush()
    db.session.expire(case, ["experts"])
    return True


def set_case_experts(case: PanelCase, *, actor: User, experts: list, now: datetime | None = None) -> PanelCase:
    _require_secretary(case.panel, actor)
    if case.status not in ("submitted", "accepted", "scheduled"):
        raise Conflict(str(_l("Experts can be chosen only for a case waiting for the panel.")))
    if _set_experts(case, _expert_users(case, experts), now) and case.session is not None and case.status == "scheduled":
        _session_updated(case.session)
    return case


def conflicted_user_ids(case: PanelCase) -> set[int]:
    return set(db.session.execute(select(PanelConflict.user_id).where(PanelConflict.case_id == case.id)).scalars())


def suggest_experts(case: PanelCase, *, now: datetime | None = None) -> list[dict]:
    """The pool ranked for the case: most of the needed expertise first, then the fewest cases in
    the last RECENT_CASES_DAYS days, then by name. Experts with a declared conflict are left out."""
    since = _now(now) - timedelta(days=RECENT_CASES_DAYS)
    recent = dict(db.session.execute(
        select(PanelCaseExpert.user_id, func.count()).where(PanelCaseExpert.assigned_dt >= since)
        .group_by(PanelCaseExpert.user_id)
    ).all())
    needed = set(case.expertise_codes)
    conflicted = conflicted_user_ids(case)
    rows = []
    for expert in case.panel.experts:
        if not expert.is_active or expert.user_id in conflicted or not expert.user.is_active:
            continue
        matched = [c for c in expert.expertise_codes if c in needed]
        rows.append({"expert": expert, "user": expert.user, "matched": matched, "recent_cases": recent.get(expert.user_id, 0)})
    rows.sort(key=lambda r: (-len(r["matched"]), r["recent_cases"], r["user"].name))
    return rows


def declare_conflict(case: PanelCase, *, actor: User, now: datetime | None = None) -> PanelCase:
    """An expert declares a conflict of interest (jääviys): they leave the case and are not suggested."""
    if case.panel.expert_for(actor) is None:
        raise Forbidden(str(_l("Only the panel's experts can declare a conflict of interest.")))
    if db.session.get(PanelConflict, (case.id, actor.id)) is None:
        db.session.add(PanelConflict(case_id=case.id, user_id=actor.id, declared_dt=_now(now)))
    was_assigned = any(e.id == actor.id for e in case.experts)
    if was_assigned:
        _set_experts(case, [e for e in case.experts if e.id != actor.id], now)
    _event(case, "conflict_declared", actor, now)
    db.session.flush()
    if was_assigned and case.session is not None and case.status == "scheduled":
        _session_updated(case.session)
    return case


# --- after the session -------------------------------------------------------------------------

def _clean_list(items) -> list[str]:
    if items is None:
        return []
    if isinstance(items, str):
        items = items.splitlines()
    if not isinstance(items, list):
        raise ValidationFailed(str(_l("Give the recommendations as a list.")),
                               fields={"recommendations": str(_l("Give the recommendations as a list."))})
    return [str(i).strip()[:1000] for i in items if str(i).strip()]


def record_statement(case: PanelCase, *, actor: User, text: str, recommendations=None, responsible_services=None,
                     follow_up: date | str | None = None, now: datetime | None = None) -> PanelStatement:
    """Record (or correct) the panel's advice on a case; the submitter is notified."""
    from ..core.privacy import find_identity_codes
    from ..core.timefmt import parse_date

    _require_secretary(case.panel, actor)
    if case.status not in ("scheduled", "handled") or case.session is None or not case.session.is_published:
        raise Conflict(str(_l("Advice can be recorded for a case on a published agenda.")))
    errors: dict[str, str] = {}
    text = (text or "").strip()
    if not text:
        errors["text"] = str(_l("Write the panel's advice."))
    elif len(text) > 3 * MAX_TEXT:
        errors["text"] = str(_l("Use at most %(n)d characters.", n=3 * MAX_TEXT))
    recs = _clean_list(recommendations)
    services = _clean_list(responsible_services)
    follow_up_date = None
    if isinstance(follow_up, date):
        follow_up_date = follow_up
    elif follow_up:
        try:
            follow_up_date = parse_date(str(follow_up))
        except ValueError:
            errors["follow_up"] = str(_l("Write the date as d.m.yyyy, e.g. 5.1.2027."))
    for name, value in (("text", text), ("recommendations", "\n".join(recs)), ("responsible_services", "\n".join(services))):
        if find_identity_codes(value):
            errors[name] = str(_l("Remove the personal identity code. Cases are pseudonymous: do not write names or identity codes."))
    if errors:
        raise ValidationFailed(str(_l("Check the statement.")), fields=errors)
    now = _now(now)
    statement = case.statement
    first = statement is None
    if first:
        statement = PanelStatement(case_id=case.id, text=text, recorded_by_id=actor.id, recorded_dt=now)
        db.session.add(statement)
    statement.text, statement.recommendations, statement.responsible_services = text, recs, services
    statement.follow_up_date = follow_up_date
    if case.status != "handled":
        case.status, case.handled_dt = "handled", now
        case.sequence += 1
    _event(case, "statement" if first else "statement_updated", actor, now)
    db.session.flush()
    db.session.expire(case, ["statement"])
    panel_case_changed.send(case, action="statement")
    return statement


# --- experts' view -----------------------------------------------------------------------------

def sessions_for_expert(user: User, *, include_past: bool = True, now: datetime | None = None) -> list[PanelSession]:
    """Sessions whose published agenda has a case this expert is assigned to."""
    q = (select(PanelSession).join(PanelCase, PanelCase.session_id == PanelSession.id)
         .join(PanelCaseExpert, PanelCaseExpert.case_id == PanelCase.id)
         .where(PanelCaseExpert.user_id == user.id, PanelCase.status.in_(("scheduled", "handled")),
                PanelSession.status.in_(("agenda_published", "held", "not_held")))
         .order_by(PanelSession.start_dt).distinct())
    if not include_past:
        q = q.where(PanelSession.end_dt > _now(now))
    return list(db.session.execute(q).unique().scalars())


def case_reads(*, limit: int = 200, offset: int = 0, case_id: int | None = None) -> list[PanelCaseRead]:
    q = select(PanelCaseRead).order_by(PanelCaseRead.read_dt.desc(), PanelCaseRead.id.desc())
    if case_id:
        q = q.where(PanelCaseRead.case_id == case_id)
    return list(db.session.execute(q.limit(limit).offset(offset)).unique().scalars())
