"""/api/v1 endpoints for panels: thin, calling scheduler.panels.services."""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Annotated, Literal

from flask import jsonify
from flask_babel import lazy_gettext as _l
from pydantic import Field

from ..core import recurrence
from ..core.errors import NotFound
from ..core.timefmt import iso_local, local_to_utc
from ..core.transactions import run_atomically
from ..extensions import db
from ..panels import attendance, cases, panel_admin, services
from ..panels.models import CASE_LANGUAGES, Panel, PanelCase, PanelSession
from . import api_route, current_api_user
from .schema import (
    MAX_LIST,
    ApiModel,
    Email,
    Id,
    Int,
    IsoDate,
    LocalDateTime,
    ResponseModel,
    Text,
    checked_by,
)

MAX_TEXT = services.MAX_TEXT
ExpertiseCode = Text(40)
ExpertiseList = Annotated[list[ExpertiseCode], Field(max_length=MAX_LIST)]
TextList = Annotated[list[Text(1000)], Field(max_length=MAX_LIST)]


def _panel_rule(rule: str) -> None:
    recurrence.check_rule_numbers(recurrence.validate_rule(rule))


# --- requests -------------------------------------------------------------------------------------

class ExpertIn(ApiModel):
    email: Email
    expertise: ExpertiseList = []
    organisation: Text(200) = ""
    languages: Annotated[list[Literal["fi", "sv", "en"]], Field(max_length=3)] | None = None


class PanelIn(ApiModel):
    name: Text(200)
    region: Text(200) = ""
    rrule: Annotated[Text(300), checked_by(_panel_rule, _l("Choose how often the panel meets."))]
    first_start: LocalDateTime
    session_minutes: Int(15, 600) = 180
    case_minutes: Int(5, 600) = 45
    submission_deadline_days: Int(0, 90) = 10
    agenda_days: Int(0, 90) = 5
    secretaries: Annotated[list[Email], Field(max_length=MAX_LIST)] = []
    experts: Annotated[list[ExpertIn], Field(max_length=200)] = []
    skip_july: bool = True
    skip_holidays: bool = True


class SessionsQuery(ApiModel):
    date_from: IsoDate | None = Field(None, alias="from")
    date_to: IsoDate | None = Field(None, alias="to")


class CaseIn(ApiModel):
    panel_id: Id
    case_ref: Text(60)
    child_age: Int(0, 25)
    municipality: Text(100)
    language: Literal[CASE_LANGUAGES]  # type: ignore[valid-type]
    background: Text(MAX_TEXT)
    questions: Text(MAX_TEXT)
    expertise: ExpertiseList
    services_tried: Text(MAX_TEXT) = ""
    client_consent: bool = False
    preferred_session_id: Id | None = None


class ScheduleIn(ApiModel):
    session_id: Id
    experts: Annotated[list[Email], Field(max_length=MAX_LIST)] | None = None


class AttendanceIn(ApiModel):
    attending: bool
    note: Text(attendance.NOTE_MAX) = ""


class StatementIn(ApiModel):
    text: Text(3 * MAX_TEXT)
    recommendations: TextList | None = None
    responsible_services: TextList | None = None
    follow_up: IsoDate | None = None


# --- answers --------------------------------------------------------------------------------------

class ExpertOut(ResponseModel):
    email: str = Field("", description="Only for administrators and the panel's secretaries.")
    name: str
    expertise: list[str]
    organisation: str = Field("", description="Only for administrators and the panel's secretaries.")
    languages: list[str]


class PanelOut(ResponseModel):
    id: int
    name: str
    region: str
    rrule: str
    first_start: datetime
    session_minutes: int
    case_minutes: int
    submission_deadline_days: int
    agenda_days: int
    skip_july: bool
    skip_holidays: bool
    is_active: bool
    secretaries: list[str]
    experts: list[ExpertOut]


class PanelList(ResponseModel):
    panels: list[PanelOut]


class SessionOut(ResponseModel):
    id: int
    panel_id: int
    start: datetime
    end: datetime
    status: str
    capacity: int
    cases: int
    submission_deadline: datetime
    agenda_due: datetime
    join_url: str | None = Field(description="Only for those invited and the panel's secretaries.")


class SessionList(ResponseModel):
    sessions: list[SessionOut]


class StatementOut(ResponseModel):
    text: str | None  # null once erased
    recommendations: list[str] | None
    responsible_services: list[str] | None
    follow_up: date | None
    recorded: datetime


class CaseOut(ResponseModel):
    id: int
    panel_id: int
    status: str
    erased: bool = Field(description="True once retention erased the case content (then null here).")
    erased_at: datetime | None
    case_ref: str | None
    child_age: int | None
    age_band: str | None
    municipality: str
    language: str
    background: str | None
    questions: str | None
    services_tried: str | None
    expertise: list[str]
    client_consent: bool
    preferred_session_id: int | None
    session_id: int | None
    start: datetime | None
    end: datetime | None
    minutes: int
    experts: list[str]
    submitter: str
    submitted: datetime
    secretary_message: str | None
    statement: StatementOut | None


class AgendaItemOut(ResponseModel):
    case_id: int
    case_ref: str | None = Field(description="Only for the secretaries, the panel's experts and the submitter.")
    start: datetime | None
    end: datetime | None
    experts: list[str]
    expertise: list[str]
    status: str
    background: str | None = Field(None, description="Only for those who may read the case.")
    questions: str | None = Field(None, description="Only for those who may read the case.")


class AttendanceAnswerOut(ResponseModel):
    email: str
    name: str
    status: Literal["confirmed", "declined", "unanswered"]


class AgendaOut(ResponseModel):
    session: SessionOut
    items: list[AgendaItemOut]
    attendance: list[AttendanceAnswerOut] = Field([], description="The invited experts' answers (secretaries).")


class AttendanceOut(ResponseModel):
    session_id: int
    status: Literal["confirmed", "declined"]
    note: str


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
    """The whole case, for someone allowed to read it (the caller logs the read). After retention
    erased it: "erased": true, the content fields null (what the figures need stays)."""
    st = case.statement
    erased = case.is_erased
    statement = None
    if st is not None:
        statement = {
            "text": None if erased else st.text,
            "recommendations": None if erased else st.recommendations,
            "responsible_services": None if erased else st.responsible_services,
            "follow_up": st.follow_up_date.isoformat() if st.follow_up_date and not erased else None,
            "recorded": iso_local(st.recorded_dt),
        }

    def content(value):
        return None if erased else value

    return {
        "id": case.id, "panel_id": case.panel_id, "status": case.status, "erased": erased,
        "erased_at": iso_local(case.erased_dt), "case_ref": content(case.case_ref),
        "child_age": content(case.child_age), "age_band": case.age_band, "municipality": case.municipality,
        "language": case.language, "background": content(case.background), "questions": content(case.questions),
        "services_tried": content(case.services_tried), "expertise": case.expertise_codes,
        "client_consent": case.client_consent, "preferred_session_id": case.preferred_session_id,
        "session_id": case.session_id, "start": iso_local(case.start_dt), "end": iso_local(case.end_dt),
        "minutes": case.case_minutes, "experts": [u.email for u in case.experts], "submitter": case.submitter.email,
        "submitted": iso_local(case.submitted_dt), "secretary_message": content(case.secretary_message),
        "statement": statement,
    }


def _day_start(day: date | None):
    return None if day is None else local_to_utc(datetime.combine(day, time()))


@api_route("/panels", ("GET",), summary="Expert panels", response=PanelList)
def list_panels():
    actor = current_api_user()
    return jsonify(panels=[panel_json(p, actor) for p in services.all_panels()])


@api_route("/panels", ("POST",), summary="Create an expert panel (admin)", status=201, body=PanelIn,
           response=PanelOut)
def create_panel(body: PanelIn):
    panel = run_atomically(lambda: panel_admin.create_panel(
        actor=current_api_user(), name=body.name, region=body.region, rrule=body.rrule,
        first_start=body.first_start, session_minutes=body.session_minutes, case_minutes=body.case_minutes,
        submission_deadline_days=body.submission_deadline_days, agenda_days=body.agenda_days,
        secretaries=body.secretaries, experts=[e.model_dump(exclude_none=True) for e in body.experts],
        skip_july=body.skip_july, skip_holidays=body.skip_holidays,
    ))
    return jsonify(panel_json(panel, current_api_user())), 201


@api_route("/panels/<int:panel_id>/sessions", ("GET",), summary="A panel's sessions", query=SessionsQuery,
           response=SessionList)
def panel_sessions(panel_id: int, query: SessionsQuery):
    panel = services.get_panel(panel_id)
    sessions = services.sessions_between(panel, _day_start(query.date_from), _day_start(query.date_to))
    actor = current_api_user()
    return jsonify(sessions=[session_json(s, actor) for s in sessions])


@api_route("/panel-cases", ("POST",), summary="Submit a case to a panel (social worker)", status=201, body=CaseIn,
           response=CaseOut)
def submit_case(body: CaseIn):
    actor = current_api_user()

    def work():
        case = cases.submit_case(
            actor=actor, panel_id=body.panel_id, case_ref=body.case_ref, child_age=body.child_age,
            municipality=body.municipality, language=body.language, background=body.background,
            questions=body.questions, expertise=body.expertise, services_tried=body.services_tried,
            client_consent=body.client_consent, preferred_session_id=body.preferred_session_id,
        )
        services.log_case_read(case, actor, via="api")
        return case

    case = run_atomically(work)
    return jsonify(case_json(case)), 201


@api_route("/panel-cases/<int:case_id>", ("GET",), summary="A case (submitter, secretaries, assigned experts)",
           response=CaseOut)
def get_case(case_id: int):
    try:
        case = services.read_case(case_id, actor=current_api_user(), via="api")
    finally:
        db.session.commit()  # the read, or the refusal, stays in the access log
    return jsonify(case_json(case))


@api_route("/panel-cases/<int:case_id>/schedule", ("POST",), summary="Put a case on a session's agenda (secretary)",
           body=ScheduleIn, response=CaseOut)
def schedule_case(case_id: int, body: ScheduleIn):
    actor = current_api_user()
    case = services.get_case(case_id)
    services.require_case_secretary(case, actor)

    def work():
        cases.schedule_case(case, actor=actor, session_id=body.session_id, experts=body.experts)
        services.log_case_read(case, actor, via="api")
        return case

    case = run_atomically(work)
    return jsonify(case_json(case))


@api_route("/panel-sessions/<int:session_id>/publish", ("POST",), summary="Publish a session's agenda (secretary)",
           response=SessionOut)
def publish_session(session_id: int):
    actor = current_api_user()
    session = run_atomically(lambda: services.publish_agenda(services.get_session(session_id), actor=actor))
    return jsonify(session_json(session, actor))


@api_route("/panel-sessions/<int:session_id>/agenda", ("GET",), summary="A session's agenda", response=AgendaOut)
def session_agenda(session_id: int):
    actor = current_api_user()
    session = services.get_session(session_id)
    if not services.can_see_agenda(session, actor):
        services.log_case_reads(session.agenda, actor, via="api", action="refused")
        db.session.commit()
        raise NotFound(str(_l("No such panel session.")))  # the same answer as a missing one
    items, shown = [], []
    for line in services.agenda_for(session, actor):  # exactly what the agenda page shows this person
        case = line.case
        if line.show_ref or line.readable:
            shown.append(case)
        item = {"case_id": case.id, "case_ref": case.case_ref if line.show_ref and not case.is_erased else None,
                "start": iso_local(case.start_dt), "end": iso_local(case.end_dt),
                "experts": [u.email for u in case.experts],
                "expertise": case.expertise_codes, "status": case.status}
        if line.readable:
            item["background"], item["questions"] = (None, None) if case.is_erased else (case.background, case.questions)
        items.append(item)
    # every item that shows its case reference or content is a read: one multi-row INSERT
    services.log_case_reads(shown, actor, via="api")
    body = {"session": session_json(session, actor), "items": items}
    if session.panel.is_secretary(actor):
        body["attendance"] = [{"email": a.user.email, "name": a.user.name, "status": a.status}
                              for a in attendance.answers(session)]
    db.session.commit()
    return jsonify(body)


@api_route("/panel-sessions/<int:session_id>/attendance", ("POST",),
           summary="An invited expert answers whether they will attend the session", body=AttendanceIn,
           response=AttendanceOut)
def session_attendance(session_id: int, body: AttendanceIn):
    actor = current_api_user()
    session = services.get_session(session_id)
    row = run_atomically(lambda: attendance.answer_attendance(session, actor=actor, attending=body.attending,
                                                              note=body.note))
    return jsonify(session_id=session.id, status=row.status, note=row.note)


@api_route("/panel-cases/<int:case_id>/statement", ("POST",), summary="Record the panel's advice (secretary)",
           body=StatementIn, response=CaseOut)
def record_statement(case_id: int, body: StatementIn):
    actor = current_api_user()
    case = services.get_case(case_id)

    def work():
        cases.record_statement(case, actor=actor, text=body.text, recommendations=body.recommendations,
                               responsible_services=body.responsible_services, follow_up=body.follow_up)
        services.log_case_read(case, actor, via="api")

    run_atomically(work)
    return jsonify(case_json(case))
