"""Calendar invitations for any meeting: one entry per person, kept in step with the meeting.

`sync_meeting(spec, invitees, summary_for)` is the one entry the domains use. It knows no domain:
the caller (a domain's `notifications.py`) says what the meeting is (`MeetingSpec`), who is invited
(`Invitee`: an address, a name and a language, no user objects) and what the summary says in each
language. It runs in the worker, after the change that caused it has committed.

- One invitation per person per meeting: `CalendarInvitation` remembers who holds an entry for
  which UID, so an update (a raised SEQUENCE) goes to the same entry, a person taken off a meeting
  gets a CANCEL, a cancelled meeting reaches everyone who was invited, and running again for the
  same state sends nothing (idempotent per UID, SEQUENCE, method and recipient).
- No case content leaves: the summary names the service and the kind of meeting; the e-mail and the
  calendar carry times, the place, the Teams link and a link into the app.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from flask import current_app
from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import select
from werkzeug.routing import BuildError

from ..core.timefmt import format_range
from ..extensions import db
from .ical import Attendee, Meeting
from .mail import queue_email, queue_invitation, render_email
from .models import CalendarInvitation


@dataclass(frozen=True)
class Invitee:
    email: str
    name: str = ""
    language: str = "fi"
    role: str = "REQ-PARTICIPANT"

    @classmethod
    def of(cls, person, role: str = "REQ-PARTICIPANT") -> Invitee:
        """From anything with `email`, `name` and `language` (a user)."""
        return cls(email=person.email.lower(), name=person.name, language=language_or_default(person.language),
                   role=role)


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
    # how the meeting is held, in the reader's language ("By phone: the consultant calls you")
    how_for: Callable[[str], str] | None = None
    # the place in the reader's language, when people wrote it in several (else `location`)
    location_for: Callable[[str], str] | None = None


def language_or_default(language: str | None) -> str:
    cfg = current_app.config
    return language if language in cfg["LANGUAGES"] else cfg["BABEL_DEFAULT_LOCALE"]


def app_link(endpoint: str, **values) -> str:
    """An absolute link into the app that works without a request (jobs, workers)."""
    try:
        path = current_app.url_map.bind("localhost").build(endpoint, values)
    except BuildError as exc:
        raise RuntimeError(f"no page {endpoint!r} to link to") from exc
    return current_app.config["BASE_URL"] + path


def _organizer_name(lang: str) -> str:
    with force_locale(lang):
        return _("Consultations and expert panel")


def invitation_rows(uid: str) -> dict[str, CalendarInvitation]:
    """Who holds an entry for this UID, by address."""
    rows = db.session.execute(select(CalendarInvitation).where(CalendarInvitation.uid == uid)).scalars()
    return {r.email: r for r in rows}


def _send(row: CalendarInvitation, spec: MeetingSpec, summary: str, attendees: tuple[Attendee, ...],
          method: str, intro: str = "") -> None:
    start, end = spec.start_dt or row.start_dt, spec.end_dt or row.end_dt
    meeting = Meeting(uid=spec.uid, sequence=spec.sequence, start_dt=start, end_dt=end,
                      summary=summary, organizer_email=current_app.config["MAIL_FROM"],
                      organizer_name=_organizer_name(row.language), attendees=attendees, url=spec.url,
                      location=spec.location_for(row.language) if spec.location_for else spec.location,
                      join_url=spec.join_url if method == "REQUEST" else "",
                      description=spec.how_for(row.language) if spec.how_for and method == "REQUEST" else "")
    updated = bool(row.sends) and row.method == "REQUEST"  # they already hold an entry for it
    row.sends = (row.sends or 0) + 1
    row.method, row.sequence, row.start_dt, row.end_dt = method, spec.sequence, start, end
    queue_invitation(row.email, row.language, meeting, method, intro=intro, updated=updated,
                     dedupe_key=f"invite:{spec.uid}:{row.email}:{row.sends}")


def sync_meeting(spec: MeetingSpec, invitees: list[Invitee], summary_for: Callable[[str], str], *,
                 cancelled: bool = False, intro_for: Callable[[str], str] | None = None) -> int:
    """Bring every invitee's calendar entry to this state of the meeting; returns messages queued.

    REQUEST to whoever has no entry yet or an older SEQUENCE; CANCEL to whoever had one and is no
    longer invited (or to everyone, when the meeting is cancelled)."""
    rows = invitation_rows(spec.uid)
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
            row.name, row.language = inv.name, language_or_default(inv.language)
            _send(row, spec, summary_for(row.language), attendees, "REQUEST",
                  intro_for(row.language) if intro_for else "")
            queued += 1
    for email, row in rows.items():
        if row.method == "REQUEST" and (cancelled or email not in wanted):
            _send(row, spec, summary_for(row.language), (Attendee(row.email, row.name),), "CANCEL")
            queued += 1
    db.session.flush()
    return queued


NoticeBuilder = Callable[[str], tuple[str, list[str], list[tuple[str, str]], str, str]]


def queue_notice(inv: Invitee, build: NoticeBuilder, *, dedupe_key: str | None = None) -> None:
    """A short e-mail (a reminder, a notice) in the recipient's language:
    build(lang) → (subject, lines, facts, url, link_label), called inside that language."""
    lang = language_or_default(inv.language)
    with force_locale(lang):
        subject, lines, facts, url, link_label = build(lang)
    text, html = render_email("notice", lang, subject=subject, lines=lines, facts=facts, url=url,
                              link_label=link_label)
    queue_email(inv.email, subject, text, html, language=lang, dedupe_key=dedupe_key)


def stamp(dt: datetime) -> str:
    """A meeting time in dedupe keys (a moved meeting gets its reminder again)."""
    return dt.strftime("%Y%m%dT%H%MZ")


def meeting_reminder(summary: str, start: datetime, end: datetime, location: str, join_url: str,
                     url: str) -> NoticeBuilder:
    """The content of a reminder of a meeting, for queue_notice."""

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
