"""/api/v1 endpoints for panels: thin, calling scheduler.panels.services."""

from __future__ import annotations

from datetime import datetime, time

from flask import jsonify, request
from flask_babel import lazy_gettext as _l

from ..core.errors import NotFound, ValidationFailed
from ..core.timefmt import iso_local, local_to_utc, parse_date
from ..extensions import db
from ..panels import cases, panel_admin, services
from ..panels.models import Panel, PanelCase, PanelSession
from . import api_route, current_api_user, json_body

_CASE_FIELDS = {
    "panel_id": {"type": "integer"}, "case_ref": {"type": "string"}, "child_age": {"type": "integer"},
    "municipality": {"type": "string"}, "language": {"type": "string", "enum": ["fi", "sv"]},
    "background": {"type": "string"}, "questions": {"type": "string"},
    "expertise": {"type": "array", "items": {"type": "string"}}, "services_tried": {"type": "string"},
    "client_consent": {"type": "boolean"}, "preferred_session_id": {"type": "integer"},
}


def panel_json(panel: Panel, actor=None) -> dict:
    """A panel; the experts' e-mail addresses and organisations only for administrators and the
    panel's secretaries (the others see who brings which expertise, by name)."""
    full = actor is None or actor.is_admin or panel.is_secretary(actor)
    experts = [{"email": e.user.email, "name": e.user.name, "expertise": e.expertise_codes,
                "organisation": e.organisation, "languages": e.language_list} for e in panel.experts]
    if not full:
        experts = [{k: v for k, v in e.items() if k not in ("email", "organisation")} for e in experts]
    return {
        "id": panel.id, "name": panel.name, "region": panel.region, "rrule": panel.rrule,
        "first_start": iso_local(panel.first_start_dt), "session_minutes": panel.session_minutes,
        "case_minutes": panel.case_minutes, "submission_deadline_days": panel.submission_deadline_days,
        "agenda_days": panel.agenda_days, "skip_july": panel.skip_july, "skip_holidays": panel.skip_holidays,
        "is_active": panel.is_active, "secretaries": [u.email for u in panel.secretaries],
        "experts": experts,
    }


def session_json(session: PanelSession, actor=None) -> dict:
    """A session's times and status; the join link only for those invited (or its secretaries)."""
    show_link = actor is not None and services.can_see_agenda(session, actor)
    return {
        "id": session.id, "panel_id": session.panel_id, "start": iso_local(session.start_dt),
        "end": iso_local(session.end_dt), "status": session.status, "capacity": session.capacity,
        "cases": len(session.agenda), "submission_deadline": iso_local(session.submission_deadline_dt),
        "agenda_due": iso_local(session.agenda_due_dt), "join_url": session.join_url if show_link else None,
    }


def case_json(case: PanelCase) -> dict:
    """The whole case, for someone allowed to read it (the caller logs the read)."""
    st = case.statement
    return {
        "id": case.id, "panel_id": case.panel_id, "status": case.status, "case_ref": case.case_ref,
        "child_age": case.child_age, "municipality": case.municipality, "language": case.language,
        "background": case.background, "questions": case.questions, "services_tried": case.services_tried,
        "expertise": case.expertise_codes, "client_consent": case.client_consent,
        "preferred_session_id": case.preferred_session_id, "session_id": case.session_id,
        "start": iso_local(case.start_dt), "end": iso_local(case.end_dt), "minutes": case.case_minutes,
        "experts": [u.email for u in case.experts], "submitter": case.submitter.email,
        "submitted": iso_local(case.submitted_dt), "secretary_message": case.secretary_message,
        "statement": None if st is None else {
            "text": st.text, "recommendations": st.recommendations, "responsible_services": st.responsible_services,
            "follow_up": st.follow_up_date.isoformat() if st.follow_up_date else None,
            "recorded": iso_local(st.recorded_dt),
        },
    }


def _date_arg(name: str):
    raw = request.args.get(name)
    if not raw:
        return None
    try:
        return local_to_utc(datetime.combine(parse_date(raw), time()))
    except ValueError as exc:
        raise ValidationFailed(str(_l("Write the date as YYYY-MM-DD.")), fields={name: str(_l("Write the date as YYYY-MM-DD."))}) from exc


@api_route("/panels", ("GET",), summary="Expert panels")
def list_panels():
    actor = current_api_user()
    return jsonify(panels=[panel_json(p, actor) for p in services.all_panels()])


@api_route("/panels", ("POST",), summary="Create an expert panel (admin)", status=201, request_schema={
    "type": "object", "required": ["name", "rrule", "first_start"],
    "properties": {"name": {"type": "string"}, "region": {"type": "string"}, "rrule": {"type": "string"},
                   "first_start": {"type": "string"}, "session_minutes": {"type": "integer"},
                   "case_minutes": {"type": "integer"}, "submission_deadline_days": {"type": "integer"},
                   "agenda_days": {"type": "integer"}, "secretaries": {"type": "array", "items": {"type": "string"}},
                   "experts": {"type": "array", "items": {"type": "object"}}}})
def create_panel():
    data = json_body()
    panel = panel_admin.create_panel(
        actor=current_api_user(), name=data.get("name", ""), region=data.get("region", ""),
        rrule=data.get("rrule", ""), first_start=data.get("first_start", ""),
        session_minutes=data.get("session_minutes", 180), case_minutes=data.get("case_minutes", 45),
        submission_deadline_days=data.get("submission_deadline_days", 10), agenda_days=data.get("agenda_days", 5),
        secretaries=data.get("secretaries") or [], experts=data.get("experts") or [],
        skip_july=data.get("skip_july", True), skip_holidays=data.get("skip_holidays", True),
    )
    db.session.commit()
    return jsonify(panel_json(panel, current_api_user())), 201


@api_route("/panels/<int:panel_id>/sessions", ("GET",), summary="A panel's sessions", params=[
    {"name": "from", "in": "query", "schema": {"type": "string", "format": "date"}},
    {"name": "to", "in": "query", "schema": {"type": "string", "format": "date"}}])
def panel_sessions(panel_id: int):
    panel = services.get_panel(panel_id)
    sessions = services.sessions_between(panel, _date_arg("from"), _date_arg("to"))
    actor = current_api_user()
    return jsonify(sessions=[session_json(s, actor) for s in sessions])


@api_route("/panel-cases", ("POST",), summary="Submit a case to a panel (social worker)", status=201,
           request_schema={"type": "object", "properties": _CASE_FIELDS,
                           "required": ["panel_id", "case_ref", "child_age", "municipality", "language", "background",
                                        "questions", "expertise"]})
def submit_case():
    data = json_body()
    panel_id = data.get("panel_id")
    if not isinstance(panel_id, int):
        raise ValidationFailed(str(_l("Choose the panel.")), fields={"panel_id": str(_l("Choose the panel."))})
    expertise = data.get("expertise") or []
    if not isinstance(expertise, list):
        raise ValidationFailed(str(_l("Check the case's details.")), fields={"expertise": str(_l("Give a list of expertise codes."))})
    actor = current_api_user()
    case = cases.submit_case(
        actor=actor, panel_id=panel_id, case_ref=data.get("case_ref", ""), child_age=data.get("child_age"),
        municipality=data.get("municipality", ""), language=data.get("language", ""),
        background=data.get("background", ""), questions=data.get("questions", ""), expertise=expertise,
        services_tried=data.get("services_tried", ""), client_consent=data.get("client_consent") is True,
        preferred_session_id=data.get("preferred_session_id"),
    )
    services.log_case_read(case, actor, via="api")
    db.session.commit()
    return jsonify(case_json(case)), 201


@api_route("/panel-cases/<int:case_id>", ("GET",), summary="A case (submitter, secretaries, assigned experts)")
def get_case(case_id: int):
    case = services.read_case(case_id, actor=current_api_user(), via="api")
    db.session.commit()
    return jsonify(case_json(case))


@api_route("/panel-cases/<int:case_id>/schedule", ("POST",), summary="Put a case on a session's agenda (secretary)",
           request_schema={"type": "object", "required": ["session_id"],
                           "properties": {"session_id": {"type": "integer"},
                                          "experts": {"type": "array", "items": {"type": "string"}}}})
def schedule_case(case_id: int):
    data = json_body()
    actor = current_api_user()
    case = services.get_case(case_id)
    services.require_case_secretary(case, actor)
    session_id = data.get("session_id")
    if not isinstance(session_id, int):
        raise ValidationFailed(str(_l("Choose a session.")), fields={"session_id": str(_l("Choose a session."))})
    experts = data.get("experts")
    if experts is not None and not isinstance(experts, list):
        raise ValidationFailed(str(_l("Give the experts as a list of e-mail addresses.")),
                               fields={"experts": str(_l("Give the experts as a list of e-mail addresses."))})
    case = cases.schedule_case(case, actor=actor, session_id=session_id, experts=experts)
    services.log_case_read(case, actor, via="api")
    db.session.commit()
    return jsonify(case_json(case))


@api_route("/panel-sessions/<int:session_id>/publish", ("POST",), summary="Publish a session's agenda (secretary)")
def publish_session(session_id: int):
    actor = current_api_user()
    session = services.publish_agenda(services.get_session(session_id), actor=actor)
    db.session.commit()
    return jsonify(session_json(session, actor))


@api_route("/panel-sessions/<int:session_id>/agenda", ("GET",), summary="A session's agenda")
def session_agenda(session_id: int):
    actor = current_api_user()
    session = services.get_session(session_id)
    if not services.can_see_agenda(session, actor):
        raise NotFound(str(_l("No such panel session.")))  # the same answer as a missing one
    items = []
    for line in services.agenda_for(session, actor):  # exactly what the agenda page shows this person
        case = line.case
        item = {"case_id": case.id, "case_ref": case.case_ref if line.show_ref else None,
                "start": iso_local(case.start_dt), "end": iso_local(case.end_dt),
                "experts": [u.email for u in case.experts],
                "expertise": case.expertise_codes, "status": case.status}
        if line.readable:
            item["background"], item["questions"] = case.background, case.questions
            services.log_case_read(case, actor, via="api")
        items.append(item)
    db.session.commit()
    return jsonify(session=session_json(session, actor), items=items)


@api_route("/panel-cases/<int:case_id>/statement", ("POST",), summary="Record the panel's advice (secretary)",
           request_schema={"type": "object", "required": ["text"],
                           "properties": {"text": {"type": "string"},
                                          "recommendations": {"type": "array", "items": {"type": "string"}},
                                          "responsible_services": {"type": "array", "items": {"type": "string"}},
                                          "follow_up": {"type": "string", "format": "date"}}})
def record_statement(case_id: int):
    data = json_body()
    actor = current_api_user()
    case = services.get_case(case_id)
    cases.record_statement(case, actor=actor, text=data.get("text", ""),
                              recommendations=data.get("recommendations"),
                              responsible_services=data.get("responsible_services"), follow_up=data.get("follow_up"))
    services.log_case_read(case, actor, via="api")
    db.session.commit()
    return jsonify(case_json(case))
