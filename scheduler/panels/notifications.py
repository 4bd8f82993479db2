"""Who hears about the expert panel's sessions and cases, and what they are told.

- Invitations: at publication the secretaries and the session's experts are invited to the session,
  and each submitting social worker to their own case's time only (its own UID), all with the
  session's Teams link; the agenda e-mail lists times and the expertise asked for, never the cases.
- Notices to a submitter (returned, declined, moved, advice ready): a line and a link; the message
  itself stays in the service.
- Reminders before a session, before a submission deadline, and to the secretaries when an agenda
  is due and not published.

A request only records what changed: the signals enqueue one compact outbox event ("panel case 8
changed: returned"); the worker renders from the present state. Summaries name the panel only.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta

from flask import current_app
from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import select

from ..core.db import utcnow
from ..core.signals import (
    panel_attendance_changed,
    panel_case_changed,
    panel_session_changed,
    teams_meeting_ready,
)
from ..core.timefmt import format_datetime, format_range
from ..delivery import microsoft
from ..delivery.mail import queue_email, render_email
from ..delivery.meetings import (
    Invitee,
    MeetingSpec,
    app_link,
    invitation_rows,
    language_or_default,
    meeting_reminder,
    queue_notice,
    stamp,
    sync_meeting,
)
from ..delivery.outbox import record_event, register_handler
from ..extensions import db
from ..jobs import register_job
from ..people.models import User, UserRole
from .attendance import cases_lacking_experts
from .models import Panel, PanelCase, PanelSession

SESSION_EVENT = "panel-session.changed"
ATTENDANCE_EVENT = "panel-attendance.changed"
CASE_EVENT = "panel-case.changed"
EXPERT_LEFT_EVENT = "panel-expert.left"
CASE_NOTICES = ("returned", "declined", "moved", "statement")
CASE_SYNCS = ("scheduled", "moved", "withdrawn", "declined", "returned")


def _teams():
    return microsoft if microsoft.teams_enabled() else None


def session_key(session: PanelSession) -> str:
    return f"panel-session:{session.id}"


def session_summary(session: PanelSession):
    def summary(lang: str) -> str:
        with force_locale(lang):
            return _("Expert panel: %(panel)s", panel=session.panel.localized_name(lang))

    return summary


def case_summary(case: PanelCase):
    def summary(lang: str) -> str:
        with force_locale(lang):
            return _("Your case at the expert panel: %(panel)s", panel=case.panel.localized_name(lang))

    return summary


def session_join_url(session: PanelSession, join_url: str | None = None) -> str:
    if join_url:
        return join_url
    if session.join_url:
        return session.join_url
    teams = _teams()
    return (teams.join_url_for(session_key(session)) if teams else None) or ""


def session_invitees(session: PanelSession) -> list[Invitee]:
    people = [Invitee.of(u, "CHAIR") for u in session.panel.secretaries if u.is_active]
    for case in session.agenda:
        people += [Invitee.of(u) for u in case.experts if u.is_active]
    return people


def _case_on_published_agenda(case: PanelCase) -> bool:
    s = case.session
    return (case.status in ("scheduled", "handled") and s is not None and s.status == "agenda_published"
            and case.start_dt is not None and case.end_dt is not None)


def sync_case(case: PanelCase, *, join_url: str | None = None) -> int:
    """The submitting worker's invitation to their own case's time only (its own UID)."""
    key = f"panel-case:{case.id}"
    summary = case_summary(case)
    url = app_link("panels.case_detail", case_id=case.id)
    if _case_on_published_agenda(case):
        session = case.session
        join = session_join_url(session, join_url)
        if _teams() and not join:
            return 0  # sent with the session's join link
        spec = MeetingSpec(key, case.ical_uid, case.sequence, case.start_dt, case.end_dt, url, join_url=join)
        return sync_meeting(spec, [Invitee.of(case.submitter)], summary)
    if case.status == "handled":
        return 0  # advice given: the past entry stays as it was
    rows = invitation_rows(case.ical_uid)
    if not any(r.method == "REQUEST" for r in rows.values()):
        return 0
    # the case is off a published agenda: cancel the entry it had, at the time it was sent for
    last_sequence = max(r.sequence for r in rows.values())
    spec = MeetingSpec(key, case.ical_uid, max(case.sequence, last_sequence), None, None, url)
    return sync_meeting(spec, [], summary, cancelled=True)


def _agenda_hash(session: PanelSession) -> str:
    parts = [f"{session.start_dt.isoformat()}|{session.end_dt.isoformat()}"]
    for case in session.agenda:
        parts.append(f"{case.position}|{case.start_dt}|{case.end_dt}|{','.join(case.expertise_codes)}")
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]


def queue_agenda(session: PanelSession, *, join_url: str = "") -> int:
    """The agenda e-mail to the secretaries and the session's experts: times and the expertise asked
    for, numbered; the case references, background and questions stay in the app."""
    version = _agenda_hash(session)
    queued = 0
    url = app_link("panels.session_detail", session_id=session.id)
    for inv in {i.email: i for i in session_invitees(session)}.values():
        lang = inv.language
        with force_locale(lang):
            items = [{"number": n, "when": format_range(c.start_dt, c.end_dt, lang),
                      "expertise": ", ".join(a.localized_name(lang) for a in c.areas)}
                     for n, c in enumerate(session.agenda, start=1)]
            when = format_range(session.start_dt, session.end_dt, lang)
            subject = _("Agenda: %(panel)s, %(when)s", panel=session.panel.localized_name(lang), when=when)
        text, html = render_email("agenda", lang, panel=session.panel.localized_name(lang), when=when, items=items, url=url,
                                  join_url=join_url, subject=subject)
        queue_email(inv.email, subject, text, html, language=lang,
                    dedupe_key=f"agenda:{session.id}:{version}:{inv.email}")
        queued += 1
    return queued


def sync_session(session: PanelSession, *, join_url: str | None = None) -> int:
    key = session_key(session)
    summary = session_summary(session)
    url = app_link("panels.session_detail", session_id=session.id)
    teams = _teams()
    join = session_join_url(session, join_url)
    spec = MeetingSpec(key, session.ical_uid, session.sequence, session.start_dt, session.end_dt, url,
                       join_url=join)
    if session.status == "cancelled":
        if teams:
            teams.cancel_meeting(key)
        return sync_meeting(spec, [], summary, cancelled=True)
    if session.status != "agenda_published":
        return 0  # invitations start with publication; held / not held change nothing
    if teams:
        rows = invitation_rows(session.ical_uid)
        if join_url is None and (not rows or max(r.sequence for r in rows.values()) < session.sequence):
            teams.request_meeting(key, summary(current_app.config["BABEL_DEFAULT_LOCALE"]), session.start_dt,
                                  session.end_dt)
        if not join:
            return 0  # the invitations go out with the join link, on teams_meeting_ready
    queued = sync_meeting(spec, session_invitees(session), summary)
    for case in session.agenda:
        queued += sync_case(case, join_url=join)
    queued += queue_agenda(session, join_url=join)
    return queued


def queue_case_notice(case: PanelCase, action: str) -> None:
    """A short e-mail to the submitter: what happened, and a link (the message itself stays in the app)."""
    user = case.submitter
    url = app_link("panels.case_detail", case_id=case.id)

    def build(lang: str):
        subject, line = {
            "returned": (_("Your case was returned for completion"),
                         _("The panel secretary returned your case for completion. Read the message and complete the case in the service.")),
            "declined": (_("Your case was not taken to the panel"),
                         _("The panel secretary declined your case. Read the reason in the service.")),
            "moved": (_("The time of your case at the panel changed"),
                      _("Your case has moved to another time or session. See the new time in the service.")),
            "statement": (_("The panel's advice on your case is ready"),
                          _("The expert panel has recorded its advice on your case. Read it in the service.")),
        }[action]
        return f"{subject} – {case.panel.localized_name(lang)}", [line], [], url, _("Open the case")

    queue_notice(Invitee.of(user), build)


def queue_expert_left_notices(panel: Panel, expert: User, cases: list[PanelCase]) -> int:
    """Tell each secretary which cases lost an expert who left the pool (issue 12). Nothing of the
    cases leaves: each is named by its number, its session time and its link."""
    rows = []
    for case in cases:
        url = app_link("panels.case_detail", case_id=case.id)
        rows.append((case.id, case.start_dt, case.end_dt, len(case.experts), url))

    def build(lang: str):
        facts = []
        for case_id, start, end, left, url in rows:
            when = format_range(start, end, lang) if start and end else _("waiting for a session")
            facts.append((_("Case %(n)d", n=case_id), " · ".join([when, _("experts left: %(n)d", n=left), url])))
        lines = [_("%(name)s is no longer in the panel's expert pool and was taken off the cases below. "
                   "Choose another expert for each of them in the service.", name=expert.name)]
        return (_("Cases need another expert") + " – " + panel.localized_name(lang), lines, facts,
                app_link("panels.secretary"), _("Open the secretary's page"))

    sent = 0
    for secretary in panel.secretaries:
        if secretary.is_active:
            queue_notice(Invitee.of(secretary), build)
            sent += 1
    return sent


# --- recorded in the request, handled by the worker -------------------------------------------

def record_expert_left(panel: Panel, expert: User, cases: list[PanelCase]) -> None:
    record_event(EXPERT_LEFT_EVENT, {"panel_id": panel.id, "user_id": expert.id, "case_ids": [c.id for c in cases]})


def handle_expert_left(message) -> None:
    panel = db.session.get(Panel, int(message.payload["panel_id"]))
    expert = db.session.get(User, int(message.payload["user_id"]))
    if panel is None or expert is None:
        return
    cases = [c for c in (db.session.get(PanelCase, int(i)) for i in message.payload.get("case_ids", [])) if c]
    if cases:
        queue_expert_left_notices(panel, expert, cases)


def record_session_change(session: PanelSession, action: str | None = None, **_kw) -> None:
    record_event(SESSION_EVENT, {"session_id": session.id, "action": action or ""})


def record_case_change(case: PanelCase, action: str | None = None, **_kw) -> None:
    if action in CASE_NOTICES or action in CASE_SYNCS:
        record_event(CASE_EVENT, {"case_id": case.id, "action": action})


def handle_session_changed(message) -> None:
    session = db.session.get(PanelSession, int(message.payload["session_id"]))
    if session is not None:
        sync_session(session)


def handle_case_changed(message) -> None:
    case = db.session.get(PanelCase, int(message.payload["case_id"]))
    action = message.payload.get("action")
    if case is None:
        return
    if action in CASE_NOTICES:
        queue_case_notice(case, action)
    if action in CASE_SYNCS:
        sync_case(case)


def record_attendance_change(session: PanelSession, user_id: int | None = None, attending: bool = True,
                             **_kw) -> None:
    if not attending:
        record_event(ATTENDANCE_EVENT, {"session_id": session.id, "user_id": user_id})


def handle_attendance_changed(message) -> None:
    """An expert cannot attend: the secretaries hear of it at once (who, which session, a link;
    the expert's note stays in the service)."""
    session = db.session.get(PanelSession, int(message.payload["session_id"]))
    user = db.session.get(User, int(message.payload.get("user_id") or 0))
    if session is None or user is None or session.status != "agenda_published":
        return
    url = app_link("panels.session_detail", session_id=session.id)
    for secretary in session.panel.secretaries:
        if not secretary.is_active:
            continue

        def build(lang: str, secretary=secretary):
            when = format_range(session.start_dt, session.end_dt, lang)
            return (_("An expert cannot attend: %(panel)s, %(when)s", panel=session.panel.localized_name(lang),
                      when=when),
                    [_("%(name)s has answered that they cannot attend the session. Choose a replacement on the case page.",
                       name=user.name)],
                    [(_("Session time"), when)], url, _("Open the session"))

        queue_notice(Invitee.of(secretary), build,
                     dedupe_key=f"attendance-declined:{session.id}:{user.id}:{message.id}:{secretary.email.lower()}")


def on_teams_meeting_ready(meeting_key: str, join_url: str | None = None, **_kw) -> None:
    kind, _sep, ident = (meeting_key or "").partition(":")
    if kind != "panel-session" or not ident.isdigit() or not join_url:
        return
    session = db.session.get(PanelSession, int(ident))
    if session is not None:
        sync_session(session, join_url=join_url)


# --- reminders ----------------------------------------------------------------------------------

def session_reminders(now: datetime, hours: int) -> int:
    n = 0
    sessions = db.session.execute(
        select(PanelSession).where(PanelSession.status == "agenda_published", PanelSession.start_dt > now,
                                   PanelSession.start_dt <= now + timedelta(hours=hours))
    ).unique().scalars().all()
    for s in sessions:
        summary = session_summary(s)
        join = session_join_url(s)
        url = app_link("panels.session_detail", session_id=s.id)
        for inv in {i.email: i for i in session_invitees(s)}.values():
            queue_notice(inv, meeting_reminder(summary(language_or_default(inv.language)), s.start_dt, s.end_dt,
                                               "", join, url),
                         dedupe_key=f"reminder:panel-session:{s.id}:{stamp(s.start_dt)}:{inv.email}")
            n += 1
        for case in s.agenda:
            if case.start_dt is None or case.end_dt is None:
                continue
            inv = Invitee.of(case.submitter)
            queue_notice(inv, meeting_reminder(case_summary(case)(inv.language), case.start_dt, case.end_dt, "",
                                               join, app_link("panels.case_detail", case_id=case.id)),
                         dedupe_key=f"reminder:panel-case:{case.id}:{stamp(case.start_dt)}:{inv.email}")
            n += 1
    return n


def deadline_reminders(now: datetime, days: int) -> int:
    """Social workers are reminded of each coming session's submission deadline, once."""
    # each panel has its own deadline (days before a session): look at the coming unpublished sessions
    # (materialised about a year ahead) and keep those whose deadline falls within the lead time
    candidates = db.session.execute(
        select(PanelSession).join(Panel, Panel.id == PanelSession.panel_id)
        .where(PanelSession.status == "scheduled", Panel.is_active.is_(True), PanelSession.start_dt > now,
               PanelSession.start_dt <= now + timedelta(days=days + 366))
        .order_by(PanelSession.start_dt)
    ).unique().scalars().all()
    due = [s for s in candidates if now < s.submission_deadline_dt <= now + timedelta(days=days)]
    if not due:
        return 0
    workers = db.session.execute(
        select(User).join(UserRole, UserRole.user_id == User.id)
        .where(UserRole.role == "social_worker", User.is_active.is_(True)).order_by(User.id)
    ).unique().scalars().all()
    n = 0
    for s in due:
        deadline = s.submission_deadline_dt
        url = app_link("panels.session_detail", session_id=s.id)
        for user in workers:
            def build(lang: str, s=s, deadline=deadline, url=url):
                when = format_range(s.start_dt, s.end_dt, lang)
                return (_("Submission deadline %(deadline)s: %(panel)s", deadline=format_datetime(deadline, lang),
                          panel=s.panel.localized_name(lang)),
                        [_("Cases for the expert panel's session are to be submitted by the deadline below.")],
                        [(_("Session time"), when), (_("Deadline for submitting cases"), format_datetime(deadline, lang))],
                        url, _("Open the session"))

            inv = Invitee.of(user)
            queue_notice(inv, build, dedupe_key=f"deadline:panel-session:{s.id}:{stamp(deadline)}:{inv.email}")
            n += 1
    return n


def agenda_warnings(now: datetime) -> int:
    """The secretaries are warned once when a session's agenda is due and not yet published."""
    sessions = db.session.execute(
        select(PanelSession).join(Panel, Panel.id == PanelSession.panel_id)
        .where(PanelSession.status == "scheduled", Panel.is_active.is_(True), PanelSession.start_dt > now)
        .order_by(PanelSession.start_dt).limit(200)
    ).unique().scalars().all()
    n = 0
    for s in sessions:
        if s.agenda_due_dt > now:
            continue
        url = app_link("panels.session_detail", session_id=s.id)
        for user in s.panel.secretaries:
            if not user.is_active:
                continue

            def build(lang: str, s=s, url=url):
                when = format_range(s.start_dt, s.end_dt, lang)
                return (_("The agenda is not published: %(panel)s, %(when)s", panel=s.panel.localized_name(lang), when=when),
                        [_("The agenda of this session should have been published by now. Publish it, or cancel the session, in the service.")],
                        [(_("Session time"), when), (_("Agenda due"), format_datetime(s.agenda_due_dt, lang))],
                        url, _("Open the session"))

            inv = Invitee.of(user)
            queue_notice(inv, build,
                         dedupe_key=f"agenda-warning:panel-session:{s.id}:{stamp(s.agenda_due_dt)}:{inv.email}")
            n += 1
    return n


def attendance_warnings(now: datetime, days: int) -> int:
    """ATTENDANCE_WARNING_DAYS before a published session, the secretaries are warned once about
    the cases that have no confirmed expert for an expertise they asked for (agenda numbers and
    expertise only)."""
    sessions = db.session.execute(
        select(PanelSession).where(PanelSession.status == "agenda_published", PanelSession.start_dt > now,
                                   PanelSession.start_dt <= now + timedelta(days=days))
        .order_by(PanelSession.start_dt)
    ).unique().scalars().all()
    n = 0
    for s in sessions:
        gaps = cases_lacking_experts(s)
        if not gaps:
            continue
        url = app_link("panels.session_detail", session_id=s.id)
        for user in s.panel.secretaries:
            if not user.is_active:
                continue

            def build(lang: str, s=s, gaps=gaps, url=url):
                when = format_range(s.start_dt, s.end_dt, lang)
                lines = [_("These cases have no confirmed expert for all the expertise they asked for:")]
                for number, case, codes in gaps:
                    names = ", ".join(a.localized_name(lang) for a in case.areas if a.code in codes)
                    lines.append(_("Case %(number)d: %(expertise)s", number=number, expertise=names))
                return (_("Experts missing: %(panel)s, %(when)s", panel=s.panel.localized_name(lang), when=when), lines,
                        [(_("Session time"), when)], url, _("Open the session"))

            inv = Invitee.of(user)
            queue_notice(inv, build, dedupe_key=f"attendance-warning:panel-session:{s.id}:{stamp(s.start_dt)}:{inv.email}")
            n += 1
    return n


def panel_reminders(now: datetime | None = None) -> dict:
    """The panel's reminders job (every few minutes; reruns are no-ops thanks to the dedupe keys)."""
    now = now or utcnow()
    cfg = current_app.config
    counts = {
        "sessions": session_reminders(now, int(cfg["REMINDER_HOURS"])),
        "deadlines": deadline_reminders(now, int(cfg.get("SUBMISSION_REMINDER_DAYS", 3))),
        "agenda_warnings": agenda_warnings(now),
        "attendance_warnings": attendance_warnings(now, int(cfg.get("ATTENDANCE_WARNING_DAYS", 3))),
    }
    db.session.flush()
    return counts


def init_app(app) -> None:
    panel_session_changed.connect(record_session_change)
    panel_case_changed.connect(record_case_change)
    panel_attendance_changed.connect(record_attendance_change)
    teams_meeting_ready.connect(on_teams_meeting_ready)
    register_handler(app, ATTENDANCE_EVENT, handle_attendance_changed, event=True)
    register_handler(app, SESSION_EVENT, handle_session_changed, event=True)
    register_handler(app, CASE_EVENT, handle_case_changed, event=True)
    register_handler(app, EXPERT_LEFT_EVENT, handle_expert_left, event=True)
    register_job(app, "panel-reminders", panel_reminders, {"trigger": "interval", "minutes": 5})
