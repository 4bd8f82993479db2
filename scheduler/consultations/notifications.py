"""Who hears about a booking, and what they are told: invitations, Teams, reminders.

A request only records what changed: the `booking_changed` signal (sent by the services in the
booking's transaction) enqueues one compact outbox event, "booking 17 changed". The worker then
renders each person's invitation from the booking as it is at that moment (`sync_booking`), so a
booking made and cancelled before the worker ran sends nothing, and an event handled twice sends
nothing twice (delivery.meetings keeps one entry per person and SEQUENCE).

Nothing of the case leaves: the summary names the service; the invitation carries the time, the
place or Teams link and a link to the booking's page.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from flask import current_app
from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import select

from ..core.db import utcnow
from ..core.signals import booking_changed, teams_meeting_ready
from ..delivery import microsoft
from ..delivery.ical import Meeting, calendar_file
from ..delivery.meetings import (
    Invitee,
    MeetingSpec,
    app_link,
    language_or_default,
    meeting_reminder,
    queue_notice,
    stamp,
    sync_meeting,
)
from ..delivery.outbox import record_event, register_handler
from ..extensions import db
from ..jobs import register_job
from ..people.services import get_user_by_email
from .models import Booking

EVENT = "booking.changed"


def booking_key(booking: Booking) -> str:
    return f"booking:{booking.id}"


def booking_summary(booking: Booking):
    """The series' title and the service, in the recipient's language (falling back to Finnish)."""
    series = booking.series
    unit = series.unit

    def summary(lang: str) -> str:
        with force_locale(lang):
            return _("%(title)s – %(service)s", title=series.localized("title", lang),
                     service=unit.localized_name(lang))

    return summary


def booking_invitees(booking: Booking) -> list[Invitee]:
    """The booker, the series' active consultants (chairs) and the extra participants."""
    people = [Invitee.of(booking.booker)]
    people += [Invitee.of(u, "CHAIR") for u in booking.series.consultants if u.is_active]
    for email in booking.participants or []:
        user = get_user_by_email(email)
        if user is not None:
            people.append(Invitee.of(user, "OPT-PARTICIPANT"))
        else:
            people.append(Invitee(email=email.lower(), language=language_or_default(booking.booker.language),
                                  role="OPT-PARTICIPANT"))
    return people


def booking_how(booking: Booking, teams_connected: bool):
    """How the consultation is held, in the reader's language (the invitation's text and DESCRIPTION)."""
    series = booking.series

    def how(lang: str) -> str:
        with force_locale(lang):
            if series.modality == "phone":
                if series.location:
                    return _("By phone: call %(number)s at the time.", number=series.localized("location", lang))
                return _("By phone: the consultant calls you at the time.")
            if series.modality == "teams":
                if teams_connected:
                    return _("On Microsoft Teams: join with the link in this invitation.")
                return _("On Microsoft Teams: the consultant sends the meeting link before the consultation.")
            return _("In person at the place below.")

    return how


def booking_place(booking: Booking):
    """The series' place in the reader's language (Finnish where no translation was written)."""
    series = booking.series
    return lambda lang: series.localized("location", lang)


def _teams_for(booking: Booking):
    return microsoft if booking.series.modality == "teams" and microsoft.teams_enabled() else None


def sync_booking(booking: Booking, *, join_url: str | None = None) -> int:
    """Bring everyone's invitation (and the Teams meeting) to the booking's present state."""
    teams = _teams_for(booking)
    key = booking_key(booking)
    spec_join = join_url or booking.join_url or (teams.join_url_for(key) if teams else None) or ""
    modality = booking.series.modality
    spec = MeetingSpec(key, booking.ical_uid, booking.sequence, booking.start_dt, booking.end_dt,
                       app_link("consultations.booking_detail", booking_id=booking.id),
                       location=(booking.series.location or "") if modality == "in_person" else "",
                       join_url=spec_join, how_for=booking_how(booking, bool(teams)),
                       location_for=booking_place(booking) if modality == "in_person" else None)
    summary = booking_summary(booking)
    if booking.status != "confirmed":
        if teams:
            teams.cancel_meeting(key)
        return sync_meeting(spec, [], summary, cancelled=True)
    if teams:
        teams.request_meeting(key, summary(current_app.config["BABEL_DEFAULT_LOCALE"]), booking.start_dt,
                              booking.end_dt)
        if not spec_join:
            return 0  # the invitations go out with the join link, on teams_meeting_ready
    return sync_meeting(spec, booking_invitees(booking), summary)


def booking_calendar_file(booking: Booking, lang: str) -> str:
    """The booking as an .ics download (same UID as the invitation; no case content)."""
    teams = _teams_for(booking)
    meeting = Meeting(uid=booking.ical_uid, sequence=booking.sequence, start_dt=booking.start_dt,
                      end_dt=booking.end_dt, summary=booking_summary(booking)(lang),
                      organizer_email=current_app.config["MAIL_FROM"],
                      url=app_link("consultations.booking_detail", booking_id=booking.id),
                      location=booking.series.localized("location", lang) if booking.series.modality == "in_person" else "",
                      join_url=booking.join_url or "", description=booking_how(booking, bool(teams))(lang))
    return calendar_file(meeting, tz_name=current_app.config["APP_TIMEZONE"])


# --- recorded in the request, handled by the worker -------------------------------------------

def record_booking_change(booking: Booking, **_kw) -> None:
    """booking_changed receiver (in the request's transaction): one compact event, nothing rendered."""
    record_event(EVENT, {"booking_id": booking.id})


def handle_booking_changed(message) -> None:
    booking = db.session.get(Booking, int(message.payload["booking_id"]))
    if booking is not None:
        sync_booking(booking)


def on_teams_meeting_ready(meeting_key: str, join_url: str | None = None, **_kw) -> None:
    """The worker made the Teams meeting: the invitations can now carry its join link."""
    kind, _sep, ident = (meeting_key or "").partition(":")
    if kind != "booking" or not ident.isdigit() or not join_url:
        return
    booking = db.session.get(Booking, int(ident))
    if booking is not None and booking.status == "confirmed":
        sync_booking(booking, join_url=join_url)


# --- reminders ----------------------------------------------------------------------------------

def booking_reminders(now: datetime | None = None, hours: int | None = None) -> int:
    """Everyone invited to a booking is reminded once, REMINDER_HOURS before it (safe to rerun)."""
    now = now or utcnow()
    hours = int(current_app.config["REMINDER_HOURS"] if hours is None else hours)
    n = 0
    bookings = db.session.execute(
        select(Booking).where(Booking.status == "confirmed", Booking.start_dt > now,
                              Booking.start_dt <= now + timedelta(hours=hours))
    ).scalars().all()
    for b in bookings:
        if b.created_dt and b.created_dt > b.start_dt - timedelta(hours=hours):
            continue  # booked within the reminder window: the invitation itself is the reminder
        summary = booking_summary(b)
        url = app_link("consultations.booking_detail", booking_id=b.id)
        for inv in {i.email: i for i in booking_invitees(b)}.values():
            lang = language_or_default(inv.language)
            queue_notice(inv, meeting_reminder(summary(lang), b.start_dt, b.end_dt,
                                               b.series.localized("location", lang), b.join_url or "", url),
                         dedupe_key=f"reminder:booking:{b.id}:{stamp(b.start_dt)}:{inv.email}")
            n += 1
    db.session.flush()
    return n


def init_app(app) -> None:
    booking_changed.connect(record_booking_change)
    teams_meeting_ready.connect(on_teams_meeting_ready)
    register_handler(app, EVENT, handle_booking_changed, event=True)
    register_job(app, "booking-reminders", booking_reminders, {"trigger": "interval", "minutes": 5})
