"""Pages of the expert panel: social workers' cases, the secretary's inbox and sessions, the
experts' sessions, figures, and the admin pages for panels and the case read log."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from flask import Blueprint, Response, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required

from ..core.db import utcnow
from ..core.errors import NotFound, ValidationFailed
from ..core.forms import FORM_REFUSALS, apply_errors, choices, ids, refused
from ..core.nav import NavItem, add_nav
from ..core.permissions import roles_required
from ..core.timefmt import format_datetime, format_range, parse_date, parse_time, to_local
from ..core.transactions import run_atomically
from ..extensions import db
from . import attendance, cases, panel_admin, recurrence, services
from . import figures as figures_mod
from .forms import (
    AttendanceForm,
    CancelSessionForm,
    CaseForm,
    ExpertForm,
    MessageForm,
    MinutesForm,
    MoveSessionForm,
    PanelForm,
    ScheduleForm,
    StatementForm,
    expertise_choices,
    expertise_names,
)
from .models import EVENT_LABELS, PanelCase, PanelSession

bp = Blueprint("panels", __name__, url_prefix="/panels")

MIN_YEAR, MAX_YEAR = 2000, 2999


def register_nav(app) -> None:
    add_nav(app, NavItem("panels.index", _l("Expert panel"), roles=("social_worker",),
                         description=_l("Bring a demanding case to the multidisciplinary expert panel and read its advice."),
                         order=30))
    add_nav(app, NavItem("panels.secretary", _l("Panel secretary"), roles=("secretary",),
                         description=_l("Submitted cases, agendas, sessions and figures."), order=31))
    add_nav(app, NavItem("panels.expert_sessions", _l("My panel sessions"), roles=("expert",),
                         description=_l("The panel sessions you are invited to and their cases."), order=32))
    add_nav(app, NavItem("panels.admin_panels", _l("Expert panels"), roles=("admin",),
                         description=_l("Panels, session rhythm, secretaries and the expert pool."), order=80))


@bp.context_processor
def panel_globals():
    return {"event_labels": EVENT_LABELS}


def _session_label(s: PanelSession) -> str:
    return f"{format_range(s.start_dt, s.end_dt)} ({s.status_label})"


# --- social workers ----------------------------------------------------------------------------

@bp.route("/")
@roles_required("social_worker")
def index():
    mine = cases.cases_of(current_user)
    html = render_template("panels/index.html", cases=mine, panels=services.all_panels(active_only=True))
    # logged after rendering: a commit before it would reload every row shown
    services.log_case_reads(mine, current_user, via="page")
    db.session.commit()
    return html


def _case_form(panel, case: PanelCase | None = None) -> CaseForm:
    form = CaseForm(obj=case) if case is not None and request.method == "GET" else CaseForm()
    form.expertise.choices = expertise_choices()
    form.preferred_session_id.choices = choices([("", _l("No preference"))] + [
        (str(s.id), _session_label(s)) for s in services.open_sessions(panel, for_submission=True)])
    if case is not None and request.method == "GET":
        form.expertise.data = case.expertise_codes
        form.preferred_session_id.data = str(case.preferred_session_id or "")
    return form


def _case_values(form: CaseForm) -> dict:
    return {
        "case_ref": form.case_ref.data, "child_age": form.child_age.data, "municipality": form.municipality.data,
        "language": form.language.data, "background": form.background.data, "questions": form.questions.data,
        "expertise": form.expertise.data or [], "services_tried": form.services_tried.data or "",
        "client_consent": bool(form.client_consent.data),
        "preferred_session_id": int(form.preferred_session_id.data) if form.preferred_session_id.data else None,
    }


@bp.route("/<int:panel_id>/cases/new", methods=["GET", "POST"])
@roles_required("social_worker")
def new_case(panel_id: int):
    panel = services.get_panel(panel_id)
    form = _case_form(panel)
    message = None
    if form.validate_on_submit():
        try:
            values = _case_values(form)

            def work():
                case = cases.submit_case(actor=current_user, panel_id=panel.id, **values)
                services.log_case_read(case, current_user, via="page")
                return case

            case = run_atomically(work)
        except FORM_REFUSALS as exc:
            db.session.rollback()
            message = exc.message
            apply_errors(form, exc)
        else:
            flash(_l("The case was submitted to the panel. The secretary will check it."), "success")
            return redirect(url_for("panels.case_detail", case_id=case.id))
    status = 422 if (form.errors or message) else 200
    return render_template("panels/case_form.html", form=form, panel=panel, case=None, message=message), status


@bp.route("/cases/<int:case_id>/edit", methods=["GET", "POST"])
@login_required
def edit_case(case_id: int):
    case = _read(case_id)
    if case.submitter_id != current_user.id or not case.is_editable:
        flash(_l("The case has been accepted and can no longer be changed. Contact the panel's secretary."), "error")
        return redirect(url_for("panels.case_detail", case_id=case.id))
    form = _case_form(case.panel, case)
    message = None
    if form.validate_on_submit():
        try:
            run_atomically(lambda: cases.update_case(case, actor=current_user, **_case_values(form)))
        except FORM_REFUSALS as exc:
            db.session.rollback()
            message = exc.message
            apply_errors(form, exc)
        else:
            flash(_l("The case was saved."), "success")
            return redirect(url_for("panels.case_detail", case_id=case.id))
    status = 422 if (form.errors or message) else 200
    return render_template("panels/case_form.html", form=form, panel=case.panel, case=case, message=message), status


@bp.route("/cases/<int:case_id>/withdraw", methods=["POST"])
@login_required
def withdraw_case(case_id: int):
    case = services.get_case(case_id)
    case = run_atomically(lambda: cases.withdraw_case(case, actor=current_user))  # not theirs: NotFound, a 404
    flash(_l("The case has already been withdrawn.") if case.already_done else _l("The case was withdrawn."), "success")
    return redirect(url_for("panels.index"))


def _read(case_id: int) -> PanelCase:
    """The case for the current user, logging the read; 404 otherwise (missing or not theirs)."""
    try:
        case = services.read_case(case_id, actor=current_user, via="page")
    except NotFound:
        db.session.commit()  # the refusal stays in the access log; the handler answers 404
        raise
    db.session.commit()
    return case


@bp.route("/cases/<int:case_id>")
@login_required
def case_detail(case_id: int):
    case = _read(case_id)
    ctx = {"case": case, "is_secretary": case.panel.is_secretary(current_user), "now": utcnow()}
    if ctx["is_secretary"]:
        ctx["suggestions"] = cases.suggest_experts(case)
        declined = attendance.declined_expert_ids(case.session) if case.session is not None else set()
        ctx["declined"] = [u for u in case.experts if u.id in declined]
        ctx["declined_ids"] = declined
        pool = {code for r in ctx["suggestions"] for code in r["expert"].expertise_codes}
        ctx["uncovered"] = [a for a in case.areas if a.code not in pool]
        form = ScheduleForm()
        form.session_id.choices = choices((str(s.id), _session_label(s)) for s in services.open_sessions(case.panel))
        form.experts.choices = choices((str(r["user"].id), r["user"].name) for r in ctx["suggestions"])
        if case.session_id:
            form.session_id.data = str(case.session_id)
        elif case.preferred_session_id:
            form.session_id.data = str(case.preferred_session_id)
        form.experts.data = [str(u.id) for u in case.experts]
        ctx.update(schedule_form=form, message_form=MessageForm(),
                   minutes_form=MinutesForm(minutes=case.case_minutes),
                   conflicted=cases.conflicted_user_ids(case))
    ctx["is_expert"] = services.in_pool(case.panel, current_user)
    return render_template("panels/case_detail.html", **ctx)


@bp.route("/cases/<int:case_id>/advice")
@login_required
def advice_print(case_id: int):
    """The advice on one page with print styles, to file it in the client record before erasure."""
    case = _read(case_id)
    if case.statement is None or case.is_erased:
        abort(404)
    return render_template("panels/advice_print.html", case=case)


# --- the secretary -----------------------------------------------------------------------------

@bp.route("/secretary")
@roles_required("secretary")
def secretary():
    panels = services.panels_for_secretary(current_user)
    upcoming = {p.id: services.open_sessions(p)[:6] for p in panels}
    lists = {"submitted": cases.inbox(current_user, statuses=("submitted",)),
             "waiting": cases.inbox(current_user, statuses=("accepted",)),
             "returned": cases.inbox(current_user, statuses=("returned",))}
    html = render_template("panels/secretary.html", panels=panels, upcoming=upcoming, **lists)
    services.log_case_reads([c for cs in lists.values() for c in cs], current_user, via="page")
    db.session.commit()
    return html


def _secretary_case(case_id: int) -> PanelCase:
    case = services.get_case(case_id)
    if not case.panel.is_secretary(current_user):
        abort(403 if services.can_read_case(case, current_user) else 404)
    return case


@bp.route("/cases/<int:case_id>/accept", methods=["POST"])
@roles_required("secretary")
def accept_case(case_id: int):
    case = _secretary_case(case_id)
    run_atomically(lambda: cases.accept_case(case, actor=current_user))
    flash(_l("The case was accepted. Put it on a session's agenda."), "success")
    return redirect(url_for("panels.case_detail", case_id=case_id))


@bp.route("/cases/<int:case_id>/return", methods=["POST"])
@roles_required("secretary")
def return_case(case_id: int):
    case = _secretary_case(case_id)
    form = MessageForm()
    if not form.validate_on_submit():
        raise refused(form)
    run_atomically(lambda: cases.return_case(case, actor=current_user, message=form.message.data or ""))
    flash(_l("The case was returned to the submitter for completion."), "success")
    return redirect(url_for("panels.secretary"))


@bp.route("/cases/<int:case_id>/decline", methods=["POST"])
@roles_required("secretary")
def decline_case(case_id: int):
    case = _secretary_case(case_id)
    form = MessageForm()
    if not form.validate_on_submit():
        raise refused(form)
    run_atomically(lambda: cases.decline_case(case, actor=current_user, message=form.message.data or ""))
    flash(_l("The case was declined."), "success")
    return redirect(url_for("panels.secretary"))


@bp.route("/cases/<int:case_id>/schedule", methods=["POST"])
@roles_required("secretary")
def schedule_case(case_id: int):
    case = _secretary_case(case_id)
    form = ScheduleForm()
    form.session_id.choices = choices((str(s.id), "") for s in services.open_sessions(case.panel))
    if not form.validate_on_submit():
        raise refused(form, _l("Choose a session."))
    experts = ids(form.experts.data, "experts")
    run_atomically(lambda: cases.schedule_case(case, actor=current_user, session_id=int(form.session_id.data),
                                               experts=experts))
    flash(_l("The case is on the agenda at %(time)s.", time=format_range(case.start_dt, case.end_dt)), "success")
    return redirect(url_for("panels.session_detail", session_id=case.session_id))


@bp.route("/cases/<int:case_id>/unschedule", methods=["POST"])
@roles_required("secretary")
def unschedule_case(case_id: int):
    case = _secretary_case(case_id)
    session_id = case.session_id
    run_atomically(lambda: cases.unschedule_case(case, actor=current_user))
    flash(_l("The case was taken off the agenda and waits for another session."), "success")
    return redirect(url_for("panels.session_detail", session_id=session_id))


@bp.route("/cases/<int:case_id>/minutes", methods=["POST"])
@roles_required("secretary")
def case_minutes(case_id: int):
    case = _secretary_case(case_id)
    form = MinutesForm()
    if not form.validate_on_submit():
        raise refused(form, _l("A case takes 5–600 minutes."))
    run_atomically(lambda: cases.set_case_minutes(case, actor=current_user, minutes=form.minutes.data))
    flash(_l("The case's length was changed."), "success")
    return redirect(url_for("panels.case_detail", case_id=case_id))


@bp.route("/cases/<int:case_id>/move/<direction>", methods=["POST"])
@roles_required("secretary")
def move_case(case_id: int, direction: str):
    case = _secretary_case(case_id)
    if direction not in ("up", "down"):
        abort(404)
    run_atomically(lambda: cases.move_on_agenda(case, actor=current_user, direction=direction))
    return redirect(url_for("panels.session_detail", session_id=case.session_id) + f"#case-{case.id}")


@bp.route("/cases/<int:case_id>/conflict", methods=["POST"])
@roles_required("expert")
def declare_conflict(case_id: int):
    case = services.get_case(case_id)
    if not services.in_pool(case.panel, current_user):
        abort(404)
    run_atomically(lambda: cases.declare_conflict(case, actor=current_user))
    flash(_l("Your conflict of interest was recorded. You were taken off the case and the secretary sees it."), "success")
    return redirect(url_for("panels.expert_sessions"))


@bp.route("/cases/<int:case_id>/statement", methods=["GET", "POST"])
@roles_required("secretary")
def statement(case_id: int):
    case = _secretary_case(case_id)
    if case.is_erased:
        flash(_l("The case's content has been erased."), "error")
        return redirect(url_for("panels.case_detail", case_id=case.id))
    st = case.statement
    form = StatementForm()
    if request.method == "GET" and st is not None:
        form.text.data = st.text
        form.recommendations.data = "\n".join(st.recommendations or [])
        form.responsible_services.data = "\n".join(st.responsible_services or [])
        form.follow_up.data = f"{st.follow_up_date.day}.{st.follow_up_date.month}.{st.follow_up_date.year}" \
            if st.follow_up_date else ""
    message = None
    if form.validate_on_submit():
        try:
            run_atomically(lambda: cases.record_statement(case, actor=current_user, text=form.text.data,
                                                             recommendations=form.recommendations.data or "",
                                                             responsible_services=form.responsible_services.data or "",
                                                             follow_up=form.follow_up.data or None))
        except FORM_REFUSALS as exc:
            db.session.rollback()
            message = exc.message
            apply_errors(form, exc)
        else:
            flash(_l("The advice was saved and the submitter was notified."), "success")
            return redirect(url_for("panels.session_detail", session_id=case.session_id))
    not_started = None
    if case.session is not None and case.session.status != "held" and case.session.start_dt > utcnow() \
            and case.statement is None:
        not_started = str(_l("The advice can be recorded once the session has started (%(when)s).",
                             when=format_datetime(case.session.start_dt)))
        message = None if request.method == "GET" else message
    run_atomically(lambda: services.log_case_read(case, current_user, via="page"))
    status = 422 if (form.errors or message) else 200
    return render_template("panels/statement_form.html", form=form, case=case, message=message,
                           not_started=not_started), status


# --- sessions ----------------------------------------------------------------------------------

def _session(session_id: int) -> PanelSession:
    return db.get_or_404(PanelSession, session_id)


@bp.route("/sessions/<int:session_id>")
@login_required
def session_detail(session_id: int):
    session = _session(session_id)
    if not services.can_see_agenda(session, current_user):
        services.log_case_reads(session.agenda, current_user, via="page", action="refused")
        db.session.commit()
        abort(404)
    is_secretary = session.panel.is_secretary(current_user)
    lines = services.agenda_for(session, current_user)
    items = [line.case for line in lines]
    readable = {line.case.id for line in lines if line.readable}
    hidden_refs = {line.case.id for line in lines if not line.show_ref}
    now = datetime.now(UTC)
    move_form = MoveSessionForm()
    local = to_local(session.start_dt)
    move_form.date.data = f"{local.day}.{local.month}.{local.year}"
    move_form.start_time.data = f"{local.hour}.{local.minute:02d}"
    end_local = to_local(session.end_dt)
    move_form.end_time.data = f"{end_local.hour}.{end_local.minute:02d}"
    invited = attendance.is_invited(session, current_user)
    html = render_template(
        "panels/session_detail.html", session=session, items=items, readable=readable, hidden_refs=hidden_refs,
        is_secretary=is_secretary,
        used=services.used_minutes(session), started=session.start_dt <= now, move_form=move_form,
        cancel_form=CancelSessionForm(), graph_enabled=current_app.config.get("GRAPH_ENABLED", False),
        answers=attendance.answers(session) if is_secretary and session.is_published else [],
        invited=invited, my_answer=attendance.answer_of(session, current_user) if invited else None,
        attendance_form=AttendanceForm(),
    )
    # every item that shows its case reference or content is a read (logged after rendering: a
    # commit before it would reload every row shown)
    services.log_case_reads([c for c in items if c.id not in hidden_refs or c.id in readable], current_user,
                            via="page")
    db.session.commit()
    return html


@bp.route("/sessions/<int:session_id>/attendance", methods=["POST"])
@login_required
def answer_attendance(session_id: int):
    """An invited expert: "I will attend" / "I cannot attend", with an optional note."""
    session = _session(session_id)
    if not attendance.is_invited(session, current_user):
        abort(404 if not services.can_see_agenda(session, current_user) else 403)
    form = AttendanceForm()
    if not form.validate_on_submit():
        flash(_l("Use at most %(n)d characters.", n=attendance.NOTE_MAX), "error")
        return redirect(url_for("panels.session_detail", session_id=session_id))
    attending = request.form.get("attending") == "yes"
    # a refusal: the error handler's message back on the page
    run_atomically(lambda: attendance.answer_attendance(session, actor=current_user, attending=attending,
                                                        note=form.note.data or ""))
    flash(_l("Thank you: the secretary sees that you will attend.") if attending
          else _l("Thank you: the secretary was told that you cannot attend."), "success")
    return redirect(url_for("panels.session_detail", session_id=session_id))


@bp.route("/sessions/<int:session_id>/publish", methods=["POST"])
@roles_required("secretary")
def publish_session(session_id: int):
    session = _session(session_id)
    run_atomically(lambda: services.publish_agenda(session, actor=current_user))
    flash(_l("The agenda was published and the invitations are on their way."), "success")
    return redirect(url_for("panels.session_detail", session_id=session_id))


@bp.route("/sessions/<int:session_id>/move", methods=["POST"])
@roles_required("secretary")
def move_session(session_id: int):
    session = _session(session_id)
    form = MoveSessionForm()
    if form.validate_on_submit():
        try:
            day = parse_date(form.date.data)
            start = datetime.combine(day, parse_time(form.start_time.data))
            end = datetime.combine(day, parse_time(form.end_time.data))
        except ValueError:
            flash(_l("Write the date as d.m.yyyy and the times as 12.30."), "error")
            return redirect(url_for("panels.session_detail", session_id=session_id))
        run_atomically(lambda: services.move_session(session, actor=current_user, start=start, end=end))
        flash(_l("The session was moved."), "success")
    else:
        flash(_l("Write the date as d.m.yyyy and the times as 12.30."), "error")
    return redirect(url_for("panels.session_detail", session_id=session_id))


@bp.route("/sessions/<int:session_id>/cancel", methods=["POST"])
@roles_required("secretary")
def cancel_session(session_id: int):
    session = _session(session_id)
    form = CancelSessionForm()
    if not form.validate_on_submit():
        raise refused(form)
    session = run_atomically(lambda: services.cancel_session(session, actor=current_user,
                                                             reason=form.reason.data or ""))
    if session.already_done:
        flash(_l("The session has already been cancelled."), "success")
        return redirect(url_for("panels.session_detail", session_id=session_id))
    flash(_l("The session was cancelled. Its cases moved to the next session and their submitters were told."), "success")
    return redirect(url_for("panels.session_detail", session_id=session_id))


@bp.route("/sessions/<int:session_id>/held", methods=["POST"])
@roles_required("secretary")
def mark_held(session_id: int):
    session = _session(session_id)
    held = request.form.get("held") == "1"
    run_atomically(lambda: services.mark_held(session, actor=current_user, held=held))
    flash(_l("The session was marked held.") if held else _l("The session was marked not held; its cases moved to the next session."),
          "success")
    return redirect(url_for("panels.session_detail", session_id=session_id))


@bp.route("/sessions")
@roles_required("secretary")
def sessions():
    panels = services.panels_for_secretary(current_user)
    now = datetime.now(UTC)
    rows = {p.id: services.sessions_between(p, now - timedelta(days=120), None) for p in panels}
    return render_template("panels/sessions.html", panels=panels, rows=rows)


# --- experts -----------------------------------------------------------------------------------

@bp.route("/my-sessions")
@roles_required("expert")
def expert_sessions():
    sessions = services.sessions_for_expert(current_user)
    mine = {s.id: [c for c in s.agenda if any(e.id == current_user.id for e in c.experts)] for s in sessions}
    html = render_template("panels/expert_sessions.html", sessions=sessions, mine=mine)
    services.log_case_reads([c for cs in mine.values() for c in cs], current_user, via="page")
    db.session.commit()
    return html


# --- figures -----------------------------------------------------------------------------------

@bp.route("/figures")
@roles_required("secretary", "admin")
def figures():
    panels = services.all_panels() if current_user.is_admin else services.panels_for_secretary(current_user)
    try:
        year = int(request.args.get("year") or to_local(datetime.now(UTC)).year)
    except ValueError:
        abort(400)
    if not MIN_YEAR <= year <= MAX_YEAR:
        abort(404)  # no figures before the service or after the calendar's end
    panel_id = request.args.get("panel", type=int)
    chosen = [p for p in panels if p.id == panel_id] or panels
    data = figures_mod.compute(chosen, year=year)
    if request.args.get("format") == "csv":
        return Response(figures_mod.to_csv(data), mimetype="text/csv",
                        headers={"Content-Disposition": f"attachment; filename=panel-figures-{year}.csv"})
    return render_template("panels/figures.html", data=data, panels=panels, year=year, panel_id=panel_id,
                           chart=figures_mod.chart(data), area_names=expertise_names())


# --- admin -------------------------------------------------------------------------------------

@bp.route("/admin")
@roles_required("admin")
def admin_panels():
    return render_template("panels/admin_panels.html", panels=services.all_panels())


def _panel_form(panel=None) -> PanelForm:
    if panel is None or request.method == "POST":
        return PanelForm()
    local = to_local(panel.first_start_dt)
    parts = recurrence.parse_rrule(panel.rrule) or {"frequency": "monthly", "weekday": "TH", "ordinal": 2, "interval": 1}
    end = (datetime.combine(local.date(), local.time()) + timedelta(minutes=panel.session_minutes))
    return PanelForm(
        name=panel.name, name_sv=panel.name_sv or "", name_en=panel.name_en or "", region=panel.region,
        frequency=parts["frequency"], ordinal=str(parts["ordinal"]),
        weekday=parts["weekday"], interval=str(parts["interval"]),
        first_date=f"{local.day}.{local.month}.{local.year}", start_time=f"{local.hour}.{local.minute:02d}",
        end_time=f"{end.hour}.{end.minute:02d}", skip_july=panel.skip_july, skip_holidays=panel.skip_holidays,
        case_minutes=panel.case_minutes, submission_deadline_days=panel.submission_deadline_days,
        agenda_days=panel.agenda_days, secretaries="\n".join(u.email for u in panel.secretaries),
        is_active=panel.is_active,
    )


def _panel_values(form: PanelForm) -> dict:
    """The friendly recurrence → RRULE, first start and length (field errors raise DomainError)."""

    errors = {}
    try:
        day = parse_date(form.first_date.data)
    except ValueError:
        errors["first_date"] = str(_l("Write the date as d.m.yyyy, e.g. 5.1.2027."))
    try:
        start = parse_time(form.start_time.data)
    except ValueError:
        errors["start_time"] = str(_l("Write the time as 12.30."))
    try:
        end = parse_time(form.end_time.data)
    except ValueError:
        errors["end_time"] = str(_l("Write the time as 12.30."))
    if not errors and end <= start:
        errors["end_time"] = str(_l("The end must be after the start."))
    if errors:
        raise ValidationFailed(str(_l("Check the panel's details.")), fields=errors)
    rule = recurrence.build_rrule(frequency=form.frequency.data, weekday=form.weekday.data,
                                  ordinal=int(form.ordinal.data), interval=int(form.interval.data))
    first = datetime.combine(day, start)
    minutes = int((datetime.combine(day, end) - first).total_seconds() // 60)
    return {
        "name": form.name.data, "name_sv": form.name_sv.data or "", "name_en": form.name_en.data or "",
        "region": form.region.data or "", "rrule": rule, "first_start": first,
        "session_minutes": minutes, "case_minutes": form.case_minutes.data,
        "submission_deadline_days": form.submission_deadline_days.data, "agenda_days": form.agenda_days.data,
        "secretaries": [e.strip() for e in (form.secretaries.data or "").replace(",", "\n").splitlines() if e.strip()],
        "skip_july": bool(form.skip_july.data), "skip_holidays": bool(form.skip_holidays.data),
    }


_PANEL_ALIASES = {"first_start": "first_date", "session_minutes": "end_time", "rrule": "weekday"}


@bp.route("/admin/new", methods=["GET", "POST"])
@roles_required("admin")
def admin_new_panel():
    form = _panel_form()
    message = None
    if form.validate_on_submit():
        try:
            panel = run_atomically(lambda: panel_admin.create_panel(actor=current_user, **_panel_values(form)))
        except FORM_REFUSALS as exc:
            db.session.rollback()
            message = exc.message
            apply_errors(form, exc, _PANEL_ALIASES)
        else:
            flash(_l("The panel was created with %(n)d sessions. Add the experts next.", n=len(panel.sessions)), "success")
            return redirect(url_for("panels.admin_panel", panel_id=panel.id))
    status = 422 if (form.errors or message) else 200
    return render_template("panels/admin_panel_form.html", form=form, panel=None, message=message), status


@bp.route("/admin/<int:panel_id>", methods=["GET", "POST"])
@roles_required("admin")
def admin_panel(panel_id: int):
    panel = services.get_panel(panel_id)
    form = _panel_form(panel)
    expert_form = ExpertForm()
    expert_form.expertise.choices = expertise_choices()
    message = None
    if request.method == "POST" and form.validate_on_submit():
        try:
            run_atomically(lambda: panel_admin.update_panel(panel, actor=current_user, is_active=bool(form.is_active.data),
                                                            **_panel_values(form)))
        except FORM_REFUSALS as exc:
            db.session.rollback()
            message = exc.message
            apply_errors(form, exc, _PANEL_ALIASES)
        else:
            flash(_l("The panel was saved."), "success")
            return redirect(url_for("panels.admin_panel", panel_id=panel.id))
    status = 422 if (form.errors or message) else 200
    return render_template("panels/admin_panel_form.html", form=form, panel=panel, expert_form=expert_form,
                           message=message), status


@bp.route("/admin/<int:panel_id>/experts", methods=["POST"])
@roles_required("admin")
def admin_set_expert(panel_id: int):
    panel = services.get_panel(panel_id)
    form = ExpertForm()
    form.expertise.choices = expertise_choices()
    if not form.validate_on_submit():
        raise refused(form, _l("Enter the expert's e-mail address."))
    run_atomically(lambda: panel_admin.set_expert(panel, actor=current_user, email=form.email.data,
                                                  expertise=form.expertise.data or [],
                                                  organisation=form.organisation.data or "",
                                                  languages=form.languages.data or ["fi"]))
    flash(_l("The expert pool was updated."), "success")
    return redirect(url_for("panels.admin_panel", panel_id=panel_id) + "#experts")


@bp.route("/admin/<int:panel_id>/experts/<int:expert_id>/remove", methods=["POST"])
@roles_required("admin")
def admin_remove_expert(panel_id: int, expert_id: int):
    panel = services.get_panel(panel_id)
    run_atomically(lambda: panel_admin.remove_expert(panel, actor=current_user, expert_id=expert_id))
    flash(_l("The expert was removed from the pool."), "success")
    return redirect(url_for("panels.admin_panel", panel_id=panel_id) + "#experts")


@bp.route("/admin/read-log")
@roles_required("admin")
def read_log():
    """The old address of the case read log: the access log covers panel cases and bookings."""
    case_id = request.args.get("case", type=int)
    args = {"object_type": "panel_case", "object_id": case_id} if case_id else {}
    return redirect(url_for("access_log.index", **args), 301)
