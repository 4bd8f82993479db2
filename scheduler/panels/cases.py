"""Cases: the social worker's submission, the secretary's inbox and agenda work, experts and
conflicts of interest, and the panel's statement. Same conventions as services.py: every change
starts with `locked_case` (the panel's lock, then the case as it is now), decides from what it
reads then, and writes the status with `case_transition` (CASE_TRANSITIONS in models.py)."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select

from ..core.errors import Conflict, Forbidden, ValidationFailed
from ..core.privacy import identity_code_errors, refuse_identity_codes
from ..core.signals import panel_case_changed
from ..core.timefmt import format_datetime, parse_date, to_local
from ..extensions import db
from ..people.models import User
from ..people.services import get_user_by_email
from .models import (
    CASE_LANGUAGES,
    CASE_TRANSITIONS,
    OPEN_SESSION_STATUSES,
    CaseStatus,
    Panel,
    PanelCase,
    PanelCaseExpert,
    PanelConflict,
    PanelStatement,
    SessionStatus,
)
from .services import (
    MAX_TEXT,
    RECENT_CASES_DAYS,
    agenda_cases,
    case_transition,
    check_int,
    get_panel,
    in_pool,
    lock_session,
    locked_case,
    not_found_unless_readable,
    open_sessions,
    panels_for_secretary,
    record_event,
    require_case_secretary,
    resolve_areas,
    resolve_now,
    retime_agenda,
    session_updated,
    used_minutes,
)


def _case_values(*, panel: Panel, case_ref, child_age, municipality, language, background, questions, expertise,
                 services_tried, preferred_session_id, now: datetime) -> tuple[dict, dict]:
    errors: dict[str, str] = {}
    v: dict = {}
    v["case_ref"] = (case_ref or "").strip()
    if not v["case_ref"] or len(v["case_ref"]) > 60:
        errors["case_ref"] = str(_l("Enter a pseudonymous case reference (at most 60 characters)."))
    v["child_age"] = check_int(errors, "child_age", child_age, 0, 25, _l("Enter the child's age in years (0–25)."))
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
    v["areas"] = resolve_areas(expertise, "expertise", errors)
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
    identity_code_errors(errors, **{name: v.get(name) for name in
                                    ("case_ref", "municipality", "background", "questions", "services_tried")})
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
    now = resolve_now(now)
    v, errors = _case_values(panel=panel, case_ref=case_ref, child_age=child_age, municipality=municipality,
                             language=language, background=background, questions=questions, expertise=expertise,
                             services_tried=services_tried, preferred_session_id=preferred_session_id, now=now)
    if errors:
        raise ValidationFailed(str(_l("Check the case's details.")), fields=errors)
    case = PanelCase(panel_id=panel.id, submitter_id=actor.id, case_ref=v["case_ref"], child_age=v["child_age"],
                     municipality=v["municipality"], language=v["language"], background=v["background"],
                     questions=v["questions"], services_tried=v["services_tried"], client_consent=bool(client_consent),
                     preferred_session_id=v["preferred_session_id"], status=CaseStatus.SUBMITTED, submitted_dt=now)
    case.areas = v["areas"]
    db.session.add(case)
    db.session.flush()
    record_event(case, "submitted", actor, now)
    db.session.flush()
    panel_case_changed.send(case, action="submitted")
    return case


def update_case(case: PanelCase, *, actor: User, case_ref: str, child_age, municipality: str, language: str,
                background: str, questions: str, expertise: list[str], services_tried: str = "",
                client_consent: bool = False, preferred_session_id: int | None = None,
                now: datetime | None = None) -> PanelCase:
    """The submitter edits the case until it is accepted; a returned case is submitted again."""
    if case.submitter_id != actor.id:
        raise not_found_unless_readable(case, actor, _l("Only the submitter can change the case."))
    case = locked_case(case)
    if not case.is_editable:
        raise Conflict(str(_l("The case has been accepted and can no longer be changed. Contact the panel's secretary.")))
    now = resolve_now(now)
    v, errors = _case_values(panel=case.panel, case_ref=case_ref, child_age=child_age, municipality=municipality,
                             language=language, background=background, questions=questions, expertise=expertise,
                             services_tried=services_tried, preferred_session_id=preferred_session_id, now=now)
    if errors:
        raise ValidationFailed(str(_l("Check the case's details.")), fields=errors)
    action = "resubmitted" if case.status == CaseStatus.RETURNED else "edited"
    case_transition(case, CaseStatus.SUBMITTED, bump=False,
                    **{k: v[k] for k in ("case_ref", "child_age", "municipality", "language", "background",
                                         "questions", "services_tried", "preferred_session_id")},
                    client_consent=bool(client_consent))
    case.areas = v["areas"]
    record_event(case, action, actor, now)
    db.session.flush()
    if action == "resubmitted":
        panel_case_changed.send(case, action="submitted")
    return case


def withdraw_case(case: PanelCase, *, actor: User, now: datetime | None = None) -> PanelCase:
    if case.submitter_id != actor.id:
        raise not_found_unless_readable(case, actor, _l("Only the submitter can withdraw the case."))
    case = locked_case(case)
    if case.status == CaseStatus.WITHDRAWN:
        case.already_done = True
        return case
    if not CASE_TRANSITIONS.allows(case.status, CaseStatus.WITHDRAWN):
        raise Conflict(str(_l("The case can no longer be withdrawn.")))
    _take_off_agenda(case, new_status=CaseStatus.WITHDRAWN)
    record_event(case, "withdrawn", actor, now)
    db.session.flush()
    panel_case_changed.send(case, action="withdrawn")
    return case


def _take_off_agenda(case: PanelCase, *, new_status: CaseStatus, **values) -> None:
    old = case.session
    was_on_agenda = case.status == CaseStatus.SCHEDULED and old is not None
    case_transition(case, new_status, session_id=None, position=None, start_dt=None, end_dt=None, **values)
    db.session.expire(case, ["session"])
    if was_on_agenda:
        db.session.expire(old, ["cases"])
        retime_agenda(old)
        session_updated(old)


def cases_of(user: User) -> list[PanelCase]:
    return list(db.session.execute(
        select(PanelCase).where(PanelCase.submitter_id == user.id).order_by(PanelCase.submitted_dt.desc())
    ).unique().scalars())


# --- cases: the secretary ----------------------------------------------------------------------

def inbox(actor: User, *, statuses: tuple[str, ...] = (CaseStatus.SUBMITTED, CaseStatus.ACCEPTED)) -> list[PanelCase]:
    panel_ids = [p.id for p in panels_for_secretary(actor)]
    if not panel_ids:
        return []
    return list(db.session.execute(
        select(PanelCase).where(PanelCase.panel_id.in_(panel_ids), PanelCase.status.in_(statuses))
        .order_by(PanelCase.submitted_dt)
    ).unique().scalars())


def _lost(case: PanelCase, message) -> Conflict:
    """Why the case cannot take this step now: its submitter withdrew it, someone declined it, or
    the step does not fit where the case is."""
    if case.status == CaseStatus.WITHDRAWN:
        return Conflict(str(_l("The submitter has withdrawn the case.")))
    if case.status == CaseStatus.DECLINED:
        return Conflict(str(_l("The case has been declined.")))
    return Conflict(str(message))


def accept_case(case: PanelCase, *, actor: User, now: datetime | None = None) -> PanelCase:
    require_case_secretary(case, actor)
    case = locked_case(case)
    if case.status == CaseStatus.ACCEPTED:
        case.already_done = True
        return case
    if case.status != CaseStatus.SUBMITTED:
        raise _lost(case, _l("Only a submitted case can be accepted."))
    case_transition(case, CaseStatus.ACCEPTED, bump=False, accepted_dt=resolve_now(now))
    record_event(case, "accepted", actor, now)
    db.session.flush()
    panel_case_changed.send(case, action="accepted")
    return case


def return_case(case: PanelCase, *, actor: User, message: str, now: datetime | None = None) -> PanelCase:
    """Return for completion: the submitter can edit and resubmit."""
    require_case_secretary(case, actor)
    message = (message or "").strip()
    if not message:
        raise ValidationFailed(str(_l("Tell the submitter what to complete.")),
                               fields={"message": str(_l("Write what the submitter should complete."))})
    refuse_identity_codes(message=message)
    case = locked_case(case)
    if case.status == CaseStatus.RETURNED and case.secretary_message == message[:MAX_TEXT]:
        case.already_done = True
        return case
    if case.status not in (CaseStatus.SUBMITTED, CaseStatus.ACCEPTED):
        raise _lost(case, _l("Only a submitted or accepted case can be returned."))
    case_transition(case, CaseStatus.RETURNED, bump=False, secretary_message=message[:MAX_TEXT], accepted_dt=None)
    record_event(case, "returned", actor, now)
    db.session.flush()
    panel_case_changed.send(case, action="returned")
    return case


def decline_case(case: PanelCase, *, actor: User, message: str = "", now: datetime | None = None) -> PanelCase:
    require_case_secretary(case, actor)
    refuse_identity_codes(message=message)
    case = locked_case(case)
    if case.status == CaseStatus.DECLINED:
        case.already_done = True
        return case
    if not CASE_TRANSITIONS.allows(case.status, CaseStatus.DECLINED):
        raise _lost(case, _l("The case can no longer be declined."))
    _take_off_agenda(case, new_status=CaseStatus.DECLINED, secretary_message=(message or "").strip()[:MAX_TEXT])
    record_event(case, "declined", actor, now)
    db.session.flush()
    panel_case_changed.send(case, action="declined")
    return case


def schedule_case(case: PanelCase, *, actor: User, session_id: int, experts: list[str] | None = None,
                  now: datetime | None = None) -> PanelCase:
    """Put the case at the end of a session's agenda (scheduling a submitted case accepts it).
    Decided under the panel's lock, so two secretaries cannot overfill a session (409 when full),
    nor put a case on an agenda that its submitter has just withdrawn."""
    require_case_secretary(case, actor)
    now = resolve_now(now)
    case = locked_case(case)
    if not CASE_TRANSITIONS.allows(case.status, CaseStatus.SCHEDULED):
        raise _lost(case, _l("Only a submitted or accepted case can be put on an agenda."))
    expert_users = _expert_users(case, experts) if experts is not None else None
    session = lock_session(int(session_id))
    if session.panel_id != case.panel_id:
        raise ValidationFailed(str(_l("Choose a session of the case's panel.")),
                               fields={"session_id": str(_l("Choose a session of this panel."))})
    if session.status not in OPEN_SESSION_STATUSES or session.start_dt <= now:
        message = (_l("The session has been cancelled. Choose another session.")
                   if session.status == SessionStatus.CANCELLED else _l("Choose a coming session."))
        raise Conflict(str(message), fields={"session_id": str(message)})
    same = case.session_id == session.id and case.status == CaseStatus.SCHEDULED
    if not same and used_minutes(session, exclude_id=case.id) + case.case_minutes > session.minutes:
        raise Conflict(str(_l("The session is full. Choose another session.")),
                       fields={"session_id": str(_l("The session is full."))})
    old = case.session if case.status == CaseStatus.SCHEDULED and not same else None
    first_time = case.status != CaseStatus.SCHEDULED
    if case.status == CaseStatus.SUBMITTED:
        case_transition(case, CaseStatus.ACCEPTED, bump=False, accepted_dt=now)
        record_event(case, "accepted", actor, now)
    if not same:
        case_transition(case, CaseStatus.SCHEDULED, bump=False, session_id=session.id, position=10_000 + case.id)
        db.session.expire(case, ["session"])
        record_event(case, "scheduled" if first_time else "moved", actor, now)
    experts_changed = expert_users is not None and _set_experts(case, expert_users, now)
    if same and not experts_changed:
        case.already_done = True  # on this agenda already, with these experts: nothing to do
        return case
    db.session.flush()
    retime_agenda(session)
    if old is not None:
        retime_agenda(old)
        session_updated(old)
    if not same:
        panel_case_changed.send(case, action="scheduled" if first_time else "moved")
    session_updated(session)
    return case


def unschedule_case(case: PanelCase, *, actor: User, now: datetime | None = None) -> PanelCase:
    """Take a case off its agenda; it waits (accepted) for another session."""
    require_case_secretary(case, actor)
    case = locked_case(case)
    if case.status != CaseStatus.SCHEDULED:
        raise _lost(case, _l("The case is not on an agenda."))
    _take_off_agenda(case, new_status=CaseStatus.ACCEPTED)
    record_event(case, "moved", actor, now)
    db.session.flush()
    panel_case_changed.send(case, action="moved")
    return case


def move_on_agenda(case: PanelCase, *, actor: User, direction: str) -> PanelCase:
    """Move a case up or down the agenda (before publication: publishing locks the order)."""
    require_case_secretary(case, actor)
    case = locked_case(case)
    session = case.session
    if case.status != CaseStatus.SCHEDULED or session is None:
        raise _lost(case, _l("The case is not on an agenda."))
    if session.status != SessionStatus.SCHEDULED:
        raise Conflict(str(_l("The agenda is published and its order is locked.")))
    items = agenda_cases(session)
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
    require_case_secretary(case, actor)
    errors: dict[str, str] = {}
    n = check_int(errors, "minutes", minutes, 5, 600, _l("A case takes 5–600 minutes."))
    if errors:
        raise ValidationFailed(str(_l("Check the length.")), fields=errors)
    case = locked_case(case)
    if case.status == CaseStatus.SCHEDULED and case.session is not None:
        session = lock_session(case.session_id)
        if used_minutes(session, exclude_id=case.id) + n > session.minutes:
            raise Conflict(str(_l("The agenda would run past the end of the session.")),
                           fields={"minutes": str(_l("The agenda would run past the end of the session."))})
        case.minutes = n
        db.session.flush()
        if retime_agenda(session):
            session_updated(session)
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
        db.session.add(PanelCaseExpert(case_id=case.id, user_id=uid, assigned_dt=resolve_now(now)))
    db.session.flush()
    db.session.expire(case, ["experts"])
    return True


def set_case_experts(case: PanelCase, *, actor: User, experts: list, now: datetime | None = None) -> PanelCase:
    require_case_secretary(case, actor)
    case = locked_case(case)
    if case.status not in (CaseStatus.SUBMITTED, CaseStatus.ACCEPTED, CaseStatus.SCHEDULED):
        raise _lost(case, _l("Experts can be chosen only for a case waiting for the panel."))
    if _set_experts(case, _expert_users(case, experts), now) and case.session is not None and case.status == CaseStatus.SCHEDULED:
        session_updated(case.session)
    return case


def conflicted_user_ids(case: PanelCase) -> set[int]:
    return set(db.session.execute(select(PanelConflict.user_id).where(PanelConflict.case_id == case.id)).scalars())


def suggest_experts(case: PanelCase, *, now: datetime | None = None) -> list[dict]:
    """The pool ranked for the case: most of the needed expertise first, then the fewest cases in
    the last RECENT_CASES_DAYS days, then by name. Experts with a declared conflict are left out."""
    since = resolve_now(now) - timedelta(days=RECENT_CASES_DAYS)
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
    if not in_pool(case.panel, actor):
        # the same answer as for a case that does not exist (no existence oracle)
        raise not_found_unless_readable(case, actor, _l("Only the panel's experts can declare a conflict of interest."))
    case = locked_case(case)
    if db.session.get(PanelConflict, (case.id, actor.id)) is None:
        db.session.add(PanelConflict(case_id=case.id, user_id=actor.id, declared_dt=resolve_now(now)))
    was_assigned = any(e.id == actor.id for e in case.experts)
    if was_assigned:
        _set_experts(case, [e for e in case.experts if e.id != actor.id], now)
    record_event(case, "conflict_declared", actor, now)
    db.session.flush()
    if was_assigned and case.session is not None and case.status == CaseStatus.SCHEDULED:
        session_updated(case.session)
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
    require_case_secretary(case, actor)
    case = locked_case(case)
    if case.is_erased:
        raise Conflict(str(_l("The case's content has been erased.")))
    if case.status not in (CaseStatus.SCHEDULED, CaseStatus.HANDLED) or case.session is None \
            or not case.session.is_published:
        raise _lost(case, _l("Advice can be recorded for a case on a published agenda."))
    # Only once the session has started (or is marked held): advice recorded beforehand would be a
    # mistake, and it would make the figures' "days from submission to advice" wrong.
    if case.session.status != SessionStatus.HELD and case.session.start_dt > resolve_now(now):
        raise Conflict(str(_l("The advice can be recorded once the session has started (%(when)s).",
                              when=format_datetime(case.session.start_dt))))
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
    kept = case.statement is not None and case.statement.follow_up_date == follow_up_date
    if follow_up_date and not kept and follow_up_date < to_local(resolve_now(now)).date():
        errors["follow_up"] = str(_l("The follow-up date cannot be in the past."))
    identity_code_errors(errors, text=text, recommendations="\n".join(recs),
                         responsible_services="\n".join(services))
    if errors:
        raise ValidationFailed(str(_l("Check the advice.")), fields=errors)
    now = resolve_now(now)
    statement = case.statement
    first = statement is None
    if not first and (statement.text, list(statement.recommendations or []), list(statement.responsible_services or []),
                      statement.follow_up_date) == (text, recs, services, follow_up_date):
        case.already_done = True  # the same advice again (a repeated request): nothing to tell anyone
        return statement
    if first:
        statement = PanelStatement(case_id=case.id, text=text, recorded_by_id=actor.id, recorded_dt=now)
        db.session.add(statement)
    statement.text, statement.recommendations, statement.responsible_services = text, recs, services
    statement.follow_up_date = follow_up_date
    if case.status != CaseStatus.HANDLED:
        case_transition(case, CaseStatus.HANDLED, handled_dt=now)
    else:
        case_transition(case, CaseStatus.HANDLED, bump=False)  # the guard: still handled, nobody else changed it
    record_event(case, "statement" if first else "statement_updated", actor, now)
    db.session.flush()
    db.session.expire(case, ["statement"])
    panel_case_changed.send(case, action="statement")
    return statement
