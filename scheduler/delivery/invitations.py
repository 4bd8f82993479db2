"""Calendar invitations for bookings and panel sessions, the panel's agenda e-mail and its notices
to submitters: the delivery side of the domain signals. Everything is written to the outbox in the
transaction of the change that causes it.

- One invitation per person per meeting: `CalendarInvitation` remembers who holds an entry for
  which UID, so an update (a raised SEQUENCE) goes to the same entry, a person taken off a meeting
  gets a CANCEL, a cancelled meeting reaches everyone who was invited, and a repeated signal for the
  same state sends nothing.
- Teams: when `microsoft.teams_enabled()` and the meeting is a Teams one (modality "teams", every
  panel session), we ask for the online meeting (`request_meeting`) and send our own iMIP
  invitations once the join link is known (`teams_meeting_ready`); otherwise at once.
- No case content leaves: summaries name the service and the kind of meeting; bodies carry times,
  places, the Teams link and a link into the app. The agenda e-mail lists times and the expertise
  asked for, numbered, never the case references.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from datetime import datetime

from flask import current_app
from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import select

from ..core.timefmt import format_range
from ..extensions import db
from .ical import Attendee, Meeting
from .mail import queue_email, queue_invitation, render_email
from .models import CalendarInvitation

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Invitee:
    email: str
    name: str = ""
    language: str = "fi"
    role: str = "REQ-PARTICIPANT"


def _lang(language: str | None) -> str:
    return language if language in current_app.config["LANGUAGES"] else current_app.config["BABEL_DEFAULT_LOCALE"]


def invitee_for(user, role: str = "REQ-PARTICIPANT") -> Invitee:
    return Invitee(email=user.email.lower(), name=user.name, language=_lang(user.language), role=role)


# The pages' documented paths (BRIEF), used until/unless the endpoint is registered.
_PATHS = {
    "consultations.booking_detail": "/consultations/bookings/{booking_id}",
    "panels.session_detail": "/panels/sessions/{session_id}",
    "panels.case_detail": "/panels/cases/{case_id}",
}


def app_link(endpoint: str, **values) -> str:
    """An absolute link into the app that works without a request (jobs, workers)."""
    from werkzeug.routing import BuildError

    try:
        path = current_app.url_map.bind("localhost").build(endpoint, values)
    except BuildError:
        if endpoint not in _PATHS:
            raise
        path = _PATHS[endpoint].format(**values)
    return current_app.config["BASE_URL"] + path


def _organizer_name(lang: str) -> str:
    with force_locale(lang):
        return _("Consultations and expert panel")


def _teams():
    """The Microsoft helper's functions when it is installed and configured, else None."""
    try:
        from . import microsoft
    except ImportError:  # pragma: no cover
        return None
    enabled = getattr(microsoft, "teams_enabled", None)
    if enabled is None or not enabled():
        return None
    return microsoft


# --- the generic part: one meeting, its invitees ------------------------------------------------

@dataclass(frozen=True)
class MeetingSpec:
    meeting_key: str
    uid: str
    sequence: int
    start_dt: datetime | None  # None: a cancellation at the times last sent
    end_dt: datetime | None
    url: str
    location: str = ""
    join_url: str = ""


def _rows(uid: str) -> dict[str, CalendarInvitation]:
    rows = db.session.execute(select(CalendarInvitation).where(CalendarInvitation.uid == uid)).scalars()
    return {r.email: r for r in rows}


def _send(row: CalendarInvitation, spec: MeetingSpec, summary: str, attendees: tuple[Attendee, ...],
          method: str, intro: str = "") -> None:
    start, end = spec.start_dt or row.start_dt, spec.end_dt or row.end_dt
    meeting = Meeting(uid=spec.uid, sequence=spec.sequence, start_dt=start, end_dt=end,
                      summary=summary, organizer_email=current_app.config["MAIL_FROM"],
                      organizer_name=_organizer_name(row.language), attendees=attendees, url=spec.url,
                      location=spec.location, join_url=spec.join_url if method == "REQUEST" else "")
    updated = bool(row.sends) and row.method == "REQUEST"  # they already hold an entry for it
    row.sends = (row.sends or 0) + 1
    row.method, row.sequence, row.start_dt, row.end_dt = method, spec.sequence, start, end
    queue_invitation(row.email, row.language, meeting, method, intro=intro, updated=updated,
                     dedupe_key=f"invite:{spec.uid}:{row.email}:{row.sends}")


def sync_meeting(spec: MeetingSpec, invitees: list[Invitee], summary_for, *, cancelled: bool = False,
                 intro_for=None) -> int:
    """Bring every invitee's calendar entry to this state of the meeting; returns messages queued.

    REQUEST to whoever has no entry yet or an older SEQUENCE; CANCEL to whoever had one and is no
    longer invited (or to everyone, when the meeting is cancelled)."""
    rows = _rows(spec.uid)
    wanted: dict[str, Invitee] = {}
    for inv in invitees:
        wanted.setdefault(inv.email.lower(), inv)
    queued = 0
    if not cancelled:
        attendees = tuple(Attendee(i.email, i.name, i.role) for i in wanted.values())
        for email, inv in wanted.items():
            row = rows.get(email)
            if row is not None and row.method == "REQUEST" and row.sequence >= spec.sequence:
                continue  # already holds this version
            if row is None:
                row = CalendarInvitation(uid=spec.uid, email=email, meeting_key=spec.meeting_key, sends=0)
                db.session.add(row)
            row.name, row.language = inv.name, _lang(inv.language)
            _send(row, spec, summary_for(row.language), attendees, "REQUEST",
                  intro_for(row.language) if intro_for else "")
            queued += 1
    for email, row in rows.items():
        if row.method == "REQUEST" and (cancelled or email not in wanted):
            _send(row, spec, summary_for(row.language), (Attendee(row.email, row.name),), "CANCEL")
            queued += 1
    db.session.flush()
    return queued


# --- consultations ------------------------------------------------------------------------------

def booking_key(booking) -> str:
    return f"booking:{booking.id}"


def _booking_summary(booking):
    unit = booking.series.unit

    def summary(lang: str) -> str:
        with force_locale(lang):
            return _("%(service)s – consultation", service=unit.localized_name(lang))

    return summary


def _booking_invitees(booking) -> list[Invitee]:
    from ..people.services import get_user_by_email

    people = [invitee_for(booking.booker)]
    people += [invitee_for(u, "CHAIR") for u in booking.series.consultants if u.is_active]
    for email in booking.participants or []:
        user = get_user_by_email(email)
        if user is not None:
            people.append(invitee_for(user, "OPT-PARTICIPANT"))
        else:
            people.append(Invitee(email=email.lower(), language=_lang(booking.booker.language),
                                  role="OPT-PARTICIPANT"))
    return people


def sync_booking(booking, *, join_url: str | None = None) -> int:
    teams = _teams() if booking.series.modality == "teams" else None
    key = booking_key(booking)
    spec_join = join_url or booking.join_url or (teams.join_url_for(key) if teams else None) or ""
    spec = MeetingSpec(key, booking.ical_uid, booking.sequence, booking.start_dt, booking.end_dt,
                       app_link("consultations.booking_detail", booking_id=booking.id),
                       location=booking.series.location or "", join_url=spec_join)
    summary = _booking_summary(booking)
    if booking.status != "confirmed":
        if teams:
            teams.cancel_meeting(key)
        return sync_meeting(spec, [], summary, cancelled=True)
    if teams:
        teams.request_meeting(key, summary(current_app.config["BABEL_DEFAULT_LOCALE"]), booking.start_dt,
                              booking.end_dt)
        if not spec_join:
            return 0  # the invitations go out with the join link, on teams_meeting_ready
    return sync_meeting(spec, _booking_invitees(booking), summary)


def on_booking_changed(booking, action: str | None = None, previous_start=None, **_kw) -> None:
    sync_booking(booking)


# --- panels -------------------------------------------------------------------------------------

def session_key(session) -> str:
    return f"panel-session:{session.id}"


def _session_summary(session):
    def summary(lang: str) -> str:
        with force_locale(lang):
            return _("Expert panel: %(panel)s", panel=session.panel.name)

    return summary


def _case_summary(case):
    def summary(lang: str) -> str:
        with force_locale(lang):
            return _("Your case at the expert panel: %(panel)s", panel=case.panel.name)

    return summary


def _session_join_url(session, join_url: str | None = None) -> str:
    if join_url:
        return join_url
    if session.join_url:
        return session.join_url
    teams = _teams()
    return (teams.join_url_for(session_key(session)) if teams else None) or ""


def _session_invitees(session) -> list[Invitee]:
    people = [invitee_for(u, "CHAIR") for u in session.panel.secretaries if u.is_active]
    for case in session.agenda:
        people += [invitee_for(u) for u in case.experts if u.is_active]
    return people


def _case_on_published_agenda(case) -> bool:
    s = case.session
    return (case.status in ("scheduled", "handled") and s is not None and s.status == "agenda_published"
            and case.start_dt is not None and case.end_dt is not None)


def sync_case(case, *, join_url: str | None = None) -> int:
    """The submitting worker's invitation to their own case's time only (its own UID)."""
    key = f"panel-case:{case.id}"
    summary = _case_summary(case)
    url = app_link("panels.case_detail", case_id=case.id)
    if _case_on_published_agenda(case):
        session = case.session
        join = _session_join_url(session, join_url)
        if _teams() and not join:
            return 0  # sent with the session's join link
        spec = MeetingSpec(key, case.ical_uid, case.sequence, case.start_dt, case.end_dt, url, join_url=join)
        return sync_meeting(spec, [invitee_for(case.submitter)], summary)
    if case.status == "handled":
        return 0  # advice given: the past entry stays as it was
    rows = _rows(case.ical_uid)
    if not any(r.method == "REQUEST" for r in rows.values()):
        return 0
    # the case is off a published agenda: cancel the entry it had, at the time it was sent for
    last_sequence = max(r.sequence for r in rows.values())
    spec = MeetingSpec(key, case.ical_uid, max(case.sequence, last_sequence), None, None, url)
    return sync_meeting(spec, [], summary, cancelled=True)


def _agenda_hash(session) -> str:
    parts = [f"{session.start_dt.isoformat()}|{session.end_dt.isoformat()}"]
    for case in session.agenda:
        parts.append(f"{case.position}|{case.start_dt}|{case.end_dt}|{','.join(case.expertise_codes)}")
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]


def queue_agenda(session, *, join_url: str = "") -> int:
    """The agenda e-mail to the secretaries and the session's experts: times and the expertise asked
    for, numbered; the case references, background and questions stay in the app."""
    version = _agenda_hash(session)
    queued = 0
    url = app_link("panels.session_detail", session_id=session.id)
    for inv in {i.email: i for i in _session_invitees(session)}.values():
        lang = inv.language
        with force_locale(lang):
            items = [{"number": n, "when": format_range(c.start_dt, c.end_dt, lang),
                      "expertise": ", ".join(a.localized_name(lang) for a in c.areas)}
                     for n, c in enumerate(session.agenda, start=1)]
            when = format_range(session.start_dt, session.end_dt, lang)
            subject = _("Agenda: %(panel)s, %(when)s", panel=session.panel.name, when=when)
        text, html = render_email("agenda", lang, panel=session.panel.name, when=when, items=items, url=url,
                                  join_url=join_url, subject=subject)
        queue_email(inv.email, subject, text, html, language=lang,
                    dedupe_key=f"agenda:{session.id}:{version}:{inv.email}")
        queued += 1
    return queued


def sync_session(session, *, join_url: str | None = None, action: str | None = None) -> int:
    key = session_key(session)
    summary = _session_summary(session)
    url = app_link("panels.session_detail", session_id=session.id)
    teams = _teams()
    join = _session_join_url(session, join_url)
    spec = MeetingSpec(key, session.ical_uid, session.sequence, session.start_dt, session.end_dt, url,
                       join_url=join)
    if session.status == "cancelled":
        if teams:
            teams.cancel_meeting(key)
        return sync_meeting(spec, [], summary, cancelled=True)
    if session.status != "agenda_published":
        return 0  # invitations start with publication; held / not held change nothing
    if teams:
        rows = _rows(session.ical_uid)
        if join_url is None and (not rows or max(r.sequence for r in rows.values()) < session.sequence):
            teams.request_meeting(key, summary(current_app.config["BABEL_DEFAULT_LOCALE"]), session.start_dt,
                                  session.end_dt)
        if not join:
            return 0  # the invitations go out with the join link, on teams_meeting_ready
    queued = sync_meeting(spec, _session_invitees(session), summary)
    for case in session.agenda:
        queued += sync_case(case, join_url=join)
    queued += queue_agenda(session, join_url=join)
    return queued


def on_panel_session_changed(session, action: str | None = None, **_kw) -> None:
    sync_session(session, action=action)


CASE_NOTICES = ("returned", "declined", "moved", "statement")


def queue_case_notice(case, action: str) -> None:
    """A short e-mail to the submitter: what happened, and a link (the message itself stays in the app)."""
    user = case.submitter
    lang = _lang(user.language)
    with force_locale(lang):
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
        subject = f"{subject} – {case.panel.name}"
        link_label = _("Open the case")
    url = app_link("panels.case_detail", case_id=case.id)
    text, html = render_email("notice", lang, subject=subject, lines=[line], facts=[], url=url,
                              link_label=link_label)
    queue_email(user.email, subject, text, html, language=lang)


def on_panel_case_changed(case, action: str | None = None, **_kw) -> None:
    if action in CASE_NOTICES:
        queue_case_notice(case, action)
    if action in ("scheduled", "moved", "withdrawn", "declined", "returned"):
        sync_case(case)


# --- Teams ---------------------------------------------------------------------------------------

def on_teams_meeting_ready(meeting_key: str, join_url: str | None = None, **_kw) -> None:
    kind, _sep, ident = (meeting_key or "").partition(":")
    if not ident.isdigit() or not join_url:
        return
    if kind == "booking":
        from ..consultations.models import Booking

        booking = db.session.get(Booking, int(ident))
        if booking is not None and booking.status == "confirmed":
            sync_booking(booking, join_url=join_url)
    elif kind == "panel-session":
        from ..panels.models import PanelSession

        session = db.session.get(PanelSession, int(ident))
        if session is not None:
            sync_session(session, join_url=join_url)


def connect_receivers() -> None:
    """Module-level receivers: connecting again (another create_app) does not add a second one."""
    from ..core.signals import booking_changed, panel_case_changed, panel_session_changed, teams_meeting_ready

    booking_changed.connect(on_booking_changed)
    panel_session_changed.connect(on_panel_session_changed)
    panel_case_changed.connect(on_panel_case_changed)
    teams_meeting_ready.connect(on_teams_meeting_ready)
