"""Reminder jobs: before consultations and panel sessions (REMINDER_HOURS, default 24), to social
workers before a panel's submission deadline (SUBMISSION_REMINDER_DAYS, default 3), and to the
secretaries when an agenda is not published by its day.

Safe to run any number of times and from any process: every reminder has a dedupe key (what, which
occurrence, whom), so the outbox holds each one once. Nothing of a case is in them: times, the
service or panel, and a link into the app.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from flask import current_app
from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import select

from ..core.db import utcnow
from ..core.timefmt import format_datetime, format_range
from ..delivery.invitations import Invitee, _lang, app_link, invitee_for
from ..delivery.mail import queue_email, render_email
from ..extensions import db

DEFAULT_SUBMISSION_REMINDER_DAYS = 3


def _stamp(dt: datetime) -> str:
    return dt.strftime("%Y%m%dT%H%MZ")


def _queue_notice(inv: Invitee, dedupe_key: str, build) -> None:
    """build(lang) → (subject, lines, facts, url, link_label), made in the recipient's language."""
    lang = _lang(inv.language)
    with force_locale(lang):
        subject, lines, facts, url, link_label = build(lang)
    text, html = render_email("notice", lang, subject=subject, lines=lines, facts=facts, url=url,
                              link_label=link_label)
    queue_email(inv.email, subject, text, html, language=lang, dedupe_key=dedupe_key)


def _meeting_reminder(summary: str, start, end, location: str, join_url: str, url: str):
    def build(lang: str):
        when = format_range(start, end, lang)
        facts = [(_("Time"), when)]
        if location:
            facts.append((_("Place"), location))
        if join_url:
            facts.append((_("Join the Teams meeting"), join_url))
        return (_("Reminder: %(summary)s, %(when)s", summary=summary, when=when),
                [_("A reminder of your coming meeting.")], facts, url, _("Details in the service"))

    return build


def booking_reminders(now: datetime, hours: int) -> int:
    from ..consultations.models import Booking
    from ..delivery.invitations import _booking_invitees, _booking_summary

    n = 0
    bookings = db.session.execute(
        select(Booking).where(Booking.status == "confirmed", Booking.start_dt > now,
                              Booking.start_dt <= now + timedelta(hours=hours))
    ).scalars().all()
    for b in bookings:
        if b.created_dt and b.created_dt > b.start_dt - timedelta(hours=hours):
            continue  # booked within the reminder window: the invitation itself is the reminder
        summary = _booking_summary(b)
        url = app_link("consultations.booking_detail", booking_id=b.id)
        for inv in {i.email: i for i in _booking_invitees(b)}.values():
            _queue_notice(inv, f"reminder:booking:{b.id}:{_stamp(b.start_dt)}:{inv.email}",
                          _meeting_reminder(summary(_lang(inv.language)), b.start_dt, b.end_dt,
                                            b.series.location or "", b.join_url or "", url))
            n += 1
    return n


def session_reminders(now: datetime, hours: int) -> int:
    from ..delivery.invitations import _case_summary, _session_invitees, _session_join_url, _session_summary
    from ..panels.models import PanelSession

    n = 0
    sessions = db.session.execute(
        select(PanelSession).where(PanelSession.status == "agenda_published", PanelSession.start_dt > now,
                                   PanelSession.start_dt <= now + timedelta(hours=hours))
    ).unique().scalars().all()
    for s in sessions:
        summary = _session_summary(s)
        join = _session_join_url(s)
        url = app_link("panels.session_detail", session_id=s.id)
        for inv in {i.email: i for i in _session_invitees(s)}.values():
            _queue_notice(inv, f"reminder:panel-session:{s.id}:{_stamp(s.start_dt)}:{inv.email}",
                          _meeting_reminder(summary(_lang(inv.language)), s.start_dt, s.end_dt, "", join, url))
            n += 1
        for case in s.agenda:
            if case.start_dt is None or case.end_dt is None:
                continue
            inv = invitee_for(case.submitter)
            _queue_notice(inv, f"reminder:panel-case:{case.id}:{_stamp(case.start_dt)}:{inv.email}",
                          _meeting_reminder(_case_summary(case)(inv.language), case.start_dt, case.end_dt, "", join,
                                            app_link("panels.case_detail", case_id=case.id)))
            n += 1
    return n


def deadline_reminders(now: datetime, days: int) -> int:
    """Social workers are reminded of each coming session's submission deadline, once."""
    from ..panels.models import Panel, PanelSession
    from ..people.models import User, UserRole

    n = 0
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
    for s in due:
        deadline = s.submission_deadline_dt
        url = app_link("panels.session_detail", session_id=s.id)
        for user in workers:
            inv = invitee_for(user)

            def build(lang: str, s=s, deadline=deadline, url=url):
                when = format_range(s.start_dt, s.end_dt, lang)
                return (_("Submission deadline %(deadline)s: %(panel)s", deadline=format_datetime(deadline, lang),
                          panel=s.panel.name),
                        [_("Cases for the expert panel's session are to be submitted by the deadline below.")],
                        [(_("Session time"), when), (_("Deadline for submitting cases"), format_datetime(deadline, lang))],
                        url, _("Open the session"))

            _queue_notice(inv, f"deadline:panel-session:{s.id}:{_stamp(deadline)}:{inv.email}", build)
            n += 1
    return n


def agenda_warnings(now: datetime) -> int:
    """The secretaries are warned once when a session's agenda is due and not yet published."""
    from ..panels.models import Panel, PanelSession

    n = 0
    sessions = db.session.execute(
        select(PanelSession).join(Panel, Panel.id == PanelSession.panel_id)
        .where(PanelSession.status == "scheduled", Panel.is_active.is_(True), PanelSession.start_dt > now)
        .order_by(PanelSession.start_dt).limit(200)
    ).unique().scalars().all()
    for s in sessions:
        if s.agenda_due_dt > now:
            continue
        url = app_link("panels.session_detail", session_id=s.id)
        for user in s.panel.secretaries:
            if not user.is_active:
                continue
            inv = invitee_for(user)

            def build(lang: str, s=s, url=url):
                when = format_range(s.start_dt, s.end_dt, lang)
                return (_("The agenda is not published: %(panel)s, %(when)s", panel=s.panel.name, when=when),
                        [_("The agenda of this session should have been published by now. Publish it, or cancel the session, in the service.")],
                        [(_("Session time"), when), (_("Agenda due"), format_datetime(s.agenda_due_dt, lang))],
                        url, _("Open the session"))

            _queue_notice(inv, f"agenda-warning:panel-session:{s.id}:{_stamp(s.agenda_due_dt)}:{inv.email}", build)
            n += 1
    return n


def send_reminders(now: datetime | None = None) -> dict:
    """The reminders job (every few minutes; reruns are no-ops thanks to the dedupe keys)."""
    now = now or utcnow()
    cfg = current_app.config
    hours = int(cfg.get("REMINDER_HOURS", 24))
    days = int(cfg.get("SUBMISSION_REMINDER_DAYS", DEFAULT_SUBMISSION_REMINDER_DAYS))
    counts = {
        "bookings": booking_reminders(now, hours),
        "sessions": session_reminders(now, hours),
        "deadlines": deadline_reminders(now, days),
        "agenda_warnings": agenda_warnings(now),
    }
    db.session.flush()
    return counts
