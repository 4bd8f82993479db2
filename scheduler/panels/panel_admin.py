"""Setting up a panel (administrators): name, region, rhythm of sessions, secretaries and the
expert pool. Same conventions as services.py: plain values, an explicit actor, flush only."""

from __future__ import annotations

from datetime import datetime, timedelta

from dateutil.relativedelta import relativedelta
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from ..core import recurrence
from ..core.errors import NotFound, ValidationFailed
from ..core.hygiene import text_problem
from ..core.privacy import identity_code_errors
from ..core.signals import panel_session_changed
from ..core.timefmt import app_tz, local_to_utc
from ..extensions import db
from ..people.models import User
from ..people.services import get_user_by_email, normalize_email
from .models import Panel, PanelCase, PanelCaseExpert, PanelExpert, SessionStatus
from .notifications import record_expert_left
from .services import (
    agenda_cases,
    check_int,
    ensure_sessions,
    horizon_months,
    lock_panel,
    require_admin,
    resolve_areas,
    resolve_now,
    retime_agenda,
    session_transition,
    session_updated,
    sessions_of,
    used_minutes,
)


def _as_local_naive(value: datetime | str) -> datetime:
    if isinstance(value, str):
        value = datetime.fromisoformat(value.strip())
    if value.tzinfo is not None:
        value = value.astimezone(app_tz()).replace(tzinfo=None)
    return value.replace(second=0, microsecond=0)


def _panel_values(*, name, region, rrule, first_start, session_minutes, case_minutes, submission_deadline_days,
                  agenda_days) -> tuple[dict, dict]:
    errors: dict[str, str] = {}
    values: dict = {}
    values["name"] = (name or "").strip()
    if not values["name"] or len(values["name"]) > 200:
        errors["name"] = str(_l("Enter the panel's name (at most 200 characters)."))
    values["region"] = (region or "").strip()[:200]
    identity_code_errors(errors, name=name, region=region)  # the name goes into every e-mail subject
    try:
        values["rrule"] = recurrence.validate_rule(rrule)
    except (ValueError, TypeError):
        errors["rrule"] = str(_l("Choose how often the panel meets."))
    try:
        values["first_start"] = _as_local_naive(first_start)
    except (ValueError, TypeError, AttributeError):
        errors["first_start"] = str(_l("Enter the first session's date and time."))
    if "rrule" not in errors and "first_start" not in errors:
        try:  # a rule that never meets would make every expansion search to the year 9999
            recurrence.check_rule_numbers(values["rrule"])
            meets = recurrence.occurs_within(values["rrule"], values["first_start"])
        except (ValueError, TypeError, OverflowError):
            meets = False
        if not meets:
            errors["rrule"] = str(_l("Choose how often the panel meets."))
    values["session_minutes"] = check_int(errors, "session_minutes", session_minutes, 15, 600,
                                           _l("A session lasts 15–600 minutes."))
    values["case_minutes"] = check_int(errors, "case_minutes", case_minutes, 5, 600,
                                        _l("A case takes 5–600 minutes."))
    values["submission_deadline_days"] = check_int(errors, "submission_deadline_days", submission_deadline_days, 0, 90,
                                                    _l("Use 0–90 days."))
    values["agenda_days"] = check_int(errors, "agenda_days", agenda_days, 0, 90, _l("Use 0–90 days."))
    if not errors and values["case_minutes"] > values["session_minutes"]:
        errors["case_minutes"] = str(_l("A case cannot take longer than the whole session."))
    return values, errors


def _name_translations(errors: dict, name_sv: str | None, name_en: str | None) -> dict[str, str | None]:
    """The optional Swedish and English names (None: not given), checked like any typed text."""
    out: dict[str, str | None] = {}
    for field, raw in (("name_sv", name_sv), ("name_en", name_en)):
        if raw is None:
            continue
        value = raw.strip() if isinstance(raw, str) else ""
        if not isinstance(raw, str) or len(value) > 200:
            errors[field] = str(_l("Enter the panel's name (at most 200 characters)."))
        elif (problem := text_problem(value)) is not None:
            errors[field] = problem
        identity_code_errors(errors, **{field: value})
        out[field] = value or None
    return out


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


def create_panel(*, actor: User, name: str, rrule: str, first_start: datetime | str, session_minutes: int = 180,
                 case_minutes: int = 45, submission_deadline_days: int = 10, agenda_days: int = 5, region: str = "",
                 secretaries: list[str] | None = None, experts: list[dict] | None = None, skip_july: bool = True,
                 skip_holidays: bool = True, now: datetime | None = None, name_sv: str | None = None,
                 name_en: str | None = None) -> Panel:
    require_admin(actor)
    values, errors = _panel_values(name=name, region=region, rrule=rrule, first_start=first_start,
                                   session_minutes=session_minutes, case_minutes=case_minutes,
                                   submission_deadline_days=submission_deadline_days, agenda_days=agenda_days)
    names = _name_translations(errors, name_sv, name_en)
    secretary_users = _users_by_email(secretaries or [], "secretaries", errors)
    expert_specs = []
    for spec in experts or []:
        if not isinstance(spec, dict):
            errors["experts"] = str(_l("Each expert needs an e-mail address and expertise areas."))
            continue
        users = _users_by_email([spec.get("email", "")], "experts", errors)
        identity_code_errors(errors, experts=str(spec.get("organisation") or ""))
        areas = resolve_areas(spec.get("expertise") or [], "experts", errors)
        if users:
            expert_specs.append((users[0], areas, spec))
    if errors:
        raise ValidationFailed(str(_l("Check the panel's details.")), fields=errors)
    panel = Panel(
        name=values["name"], region=values["region"], rrule=values["rrule"],
        first_start_dt=local_to_utc(values["first_start"]), session_minutes=values["session_minutes"],
        case_minutes=values["case_minutes"], submission_deadline_days=values["submission_deadline_days"],
        agenda_days=values["agenda_days"], skip_july=bool(skip_july), skip_holidays=bool(skip_holidays),
        **names,
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
                 skip_holidays: bool = True, is_active: bool = True, now: datetime | None = None,
                 name_sv: str | None = None, name_en: str | None = None) -> Panel:
    """Change a panel. When the rhythm changes, the coming unpublished sessions follow it: a
    session whose date is still in the rhythm takes the new time (if its agenda fits), one whose
    date is not is cancelled when it has no cases; sessions with cases or a published agenda stay
    as they are for the secretary to move or cancel."""
    require_admin(actor)
    values, errors = _panel_values(name=name, region=region, rrule=rrule, first_start=first_start,
                                   session_minutes=session_minutes, case_minutes=case_minutes,
                                   submission_deadline_days=submission_deadline_days, agenda_days=agenda_days)
    secretary_users = _users_by_email(secretaries or [], "secretaries", errors)
    names = _name_translations(errors, name_sv, name_en)  # a name not given stays as it is
    if errors:
        raise ValidationFailed(str(_l("Check the panel's details.")), fields=errors)
    panel = lock_panel(panel.id)  # its sessions follow the new rhythm while no secretary changes them
    first_start_dt = local_to_utc(values["first_start"])
    schedule_changed = (
        values["rrule"] != panel.rrule or first_start_dt != panel.first_start_dt
        or values["session_minutes"] != panel.session_minutes
        or bool(skip_july) != panel.skip_july or bool(skip_holidays) != panel.skip_holidays
    )
    panel.name, panel.region, panel.rrule = values["name"], values["region"], values["rrule"]
    for field, value in names.items():
        setattr(panel, field, value)
    panel.first_start_dt = first_start_dt
    panel.session_minutes, panel.case_minutes = values["session_minutes"], values["case_minutes"]
    panel.submission_deadline_days, panel.agenda_days = values["submission_deadline_days"], values["agenda_days"]
    panel.skip_july, panel.skip_holidays, panel.is_active = bool(skip_july), bool(skip_holidays), bool(is_active)
    panel.secretaries = secretary_users
    db.session.flush()
    if schedule_changed:
        _follow_new_rhythm(panel, actor=actor, now=resolve_now(now))
    if panel.is_active:
        ensure_sessions(panel, now=now)
    return panel


def _follow_new_rhythm(panel: Panel, *, actor: User, now: datetime) -> None:
    tz = app_tz()
    after = now.astimezone(tz).replace(tzinfo=None)
    first_local = panel.first_start_dt.astimezone(tz).replace(tzinfo=None)
    wanted = {start.date(): start for start in recurrence.starts(
        panel.rrule, first_local, after=after, before=after + relativedelta(months=horizon_months()),
        skip_july=panel.skip_july, skip_holidays=panel.skip_holidays)}
    for session in list(sessions_of(panel, after=now, statuses=(SessionStatus.SCHEDULED,))):
        start = wanted.get(session.occurrence_date)
        has_cases = bool(agenda_cases(session))
        if start is None:
            if not has_cases:
                session_transition(session, SessionStatus.CANCELLED)
                panel_session_changed.send(session, action="cancelled")
            continue
        start_dt = local_to_utc(start)
        end_dt = local_to_utc(start + timedelta(minutes=panel.session_minutes))
        if (start_dt, end_dt) != (session.start_dt, session.end_dt) and used_minutes(session) <= panel.session_minutes:
            session.start_dt, session.end_dt = start_dt, end_dt
            session.sequence += 1
            db.session.flush()
            retime_agenda(session)
    db.session.flush()


def set_expert(panel: Panel, *, actor: User, email: str, expertise: list[str], organisation: str = "",
               languages: list[str] | str | None = None, is_active: bool = True,
               now: datetime | None = None) -> PanelExpert:
    """Add a person to the expert pool, or change their expertise, organisation and languages."""
    require_admin(actor)
    errors: dict[str, str] = {}
    users = _users_by_email([email], "email", errors)
    if not (email or "").strip():
        errors["email"] = str(_l("Enter the expert's e-mail address."))
    areas = resolve_areas(expertise, "expertise", errors)
    if not areas and "expertise" not in errors:
        errors["expertise"] = str(_l("Choose at least one expertise area."))
    identity_code_errors(errors, organisation=organisation)
    if errors:
        raise ValidationFailed(str(_l("Check the expert's details.")), fields=errors)
    user = users[0]
    expert = panel.expert_for(user)
    if expert is None:
        expert = PanelExpert(user=user)
        panel.experts.append(expert)
    leaving = expert.is_active and not is_active and expert.id is not None
    expert.organisation = (organisation or user.organisation or "").strip()[:200]
    expert.languages = _languages(languages)
    expert.areas = areas
    expert.is_active = bool(is_active)
    db.session.flush()
    if leaving:
        _left_pool(panel, user, now=now)
    return expert


def remove_expert(panel: Panel, *, actor: User, expert_id: int, now: datetime | None = None) -> None:
    """Take a person out of the pool. They lose access at once (can_read_case asks the pool); their
    places on cases not yet handled are freed and the secretaries are told which cases lost an
    expert."""
    require_admin(actor)
    expert = next((e for e in panel.experts if e.id == expert_id), None)
    if expert is None:
        raise NotFound(str(_l("No such expert in this panel.")))
    user = expert.user
    panel.experts.remove(expert)
    db.session.flush()
    _left_pool(panel, user, now=now)


def _left_pool(panel: Panel, user: User, *, now: datetime | None) -> list[PanelCase]:
    """Free a departed expert's places on the panel's cases that are not handled yet; published
    agendas are refreshed (their invitation is cancelled) and the secretaries get an e-mail."""
    affected = list(db.session.execute(
        select(PanelCase).join(PanelCaseExpert, PanelCaseExpert.case_id == PanelCase.id)
        .where(PanelCase.panel_id == panel.id, PanelCaseExpert.user_id == user.id,
               PanelCase.status.in_(("submitted", "accepted", "scheduled")))
        .order_by(PanelCase.start_dt, PanelCase.id)
    ).unique().scalars())
    if not affected:
        return []
    db.session.execute(PanelCaseExpert.__table__.delete().where(
        PanelCaseExpert.user_id == user.id, PanelCaseExpert.case_id.in_([c.id for c in affected])))
    db.session.flush()
    sessions = {}
    for case in affected:
        db.session.expire(case, ["experts"])
        if case.status == "scheduled" and case.session is not None:
            sessions[case.session.id] = case.session
    for session in sessions.values():
        session_updated(session)
    record_expert_left(panel, user, affected)
    return affected
