"""iMIP invitations (RFC 5545 / 5546 / 6047): pure functions from a plain meeting description to a
METHOD:REQUEST or METHOD:CANCEL calendar.

The description carries no case content: a summary naming the service and the kind of meeting, and
a description with a link into the app (and the Teams join link). UID is stable for the life of the
meeting, SEQUENCE is raised by the owner on every change of time or status, DTSTAMP is fresh per
message. The VTIMEZONE comes from core.ical (RRULE observances, which Outlook understands).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from icalendar import Event, vCalAddress, vText

from ..core.ical import new_calendar

ROLES = ("CHAIR", "REQ-PARTICIPANT", "OPT-PARTICIPANT", "NON-PARTICIPANT")


@dataclass(frozen=True)
class Attendee:
    email: str
    name: str = ""
    role: str = "REQ-PARTICIPANT"


@dataclass(frozen=True)
class Meeting:
    uid: str
    sequence: int
    start_dt: datetime
    end_dt: datetime
    summary: str
    organizer_email: str
    organizer_name: str = ""
    attendees: tuple[Attendee, ...] = field(default_factory=tuple)
    url: str = ""  # a link into the app
    description: str = ""  # plain text; the link is added to it
    location: str = ""
    join_url: str = ""  # Teams


def _address(email: str, name: str, **params: str) -> vCalAddress:
    addr = vCalAddress(f"mailto:{email}")
    if name:
        addr.params["CN"] = vText(name)
    for key, value in params.items():
        addr.params[key] = value
    return addr


def build_event(meeting: Meeting, method: str, *, now: datetime | None = None,
                tz_name: str = "Europe/Helsinki") -> Event:
    if meeting.start_dt.tzinfo is None or meeting.end_dt.tzinfo is None:
        raise ValueError("meeting times must be aware datetimes")
    if meeting.end_dt <= meeting.start_dt:
        raise ValueError("a meeting must end after it starts")
    if not meeting.attendees and method != "PUBLISH":
        raise ValueError("an invitation needs at least one attendee")
    tz = ZoneInfo(tz_name)
    cancelled = method == "CANCEL"
    ev = Event()
    ev.add("UID", meeting.uid)
    ev.add("SEQUENCE", int(meeting.sequence))
    ev.add("DTSTAMP", (now or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0))
    ev.add("DTSTART", meeting.start_dt.astimezone(tz).replace(microsecond=0))
    ev.add("DTEND", meeting.end_dt.astimezone(tz).replace(microsecond=0))
    ev.add("SUMMARY", meeting.summary)
    ev.add("STATUS", "CANCELLED" if cancelled else "CONFIRMED")
    ev.add("TRANSP", "OPAQUE")
    ev.add("CLASS", "PRIVATE")
    location = meeting.location or ("Microsoft Teams" if meeting.join_url else "")
    if location:
        ev.add("LOCATION", location)
    lines = [meeting.description] if meeting.description else []
    if meeting.join_url:
        lines.append(f"Teams: {meeting.join_url}")
    if meeting.url:
        lines.append(meeting.url)
        ev.add("URL", meeting.url)
    if lines:
        ev.add("DESCRIPTION", "\n\n".join(lines))
    ev.add("ORGANIZER", _address(meeting.organizer_email, meeting.organizer_name))
    for a in meeting.attendees if method != "PUBLISH" else ():  # RFC 5546: PUBLISH carries no ATTENDEE
        if a.role not in ROLES:
            raise ValueError(f"unknown attendee role {a.role!r}")
        # RSVP=FALSE: the organizer is the service's no-reply address, so an "Accept" from a
        # calendar would go nowhere; attendance is confirmed in the service instead.
        ev.add("ATTENDEE", _address(a.email, a.name, CUTYPE="INDIVIDUAL", ROLE=a.role,
                                    PARTSTAT="NEEDS-ACTION", RSVP="FALSE"))
    return ev


def build_calendar(meeting: Meeting, method: str = "REQUEST", *, now: datetime | None = None,
                   tz_name: str = "Europe/Helsinki"):
    """A VCALENDAR with METHOD, the VTIMEZONE and one VEVENT."""
    if method not in ("REQUEST", "CANCEL", "PUBLISH"):
        raise ValueError("method must be REQUEST, CANCEL or PUBLISH")
    cal = new_calendar(method=method, tz_name=tz_name)
    cal.add_component(build_event(meeting, method, now=now, tz_name=tz_name))
    return cal


def invitation_ics(meeting: Meeting, method: str = "REQUEST", *, now: datetime | None = None,
                   tz_name: str = "Europe/Helsinki") -> str:
    """The calendar as text with CRLF line endings, ready for the text/calendar part."""
    if method not in ("REQUEST", "CANCEL"):
        raise ValueError("an invitation is a REQUEST or a CANCEL")
    return build_calendar(meeting, method, now=now, tz_name=tz_name).to_ical().decode("utf-8")


def calendar_file(meeting: Meeting, *, now: datetime | None = None, tz_name: str = "Europe/Helsinki") -> str:
    """"Add to my calendar": the meeting as an .ics file (METHOD:PUBLISH, the invitation's UID, so a
    calendar that already holds the invitation recognises the same event)."""
    return build_calendar(meeting, "PUBLISH", now=now, tz_name=tz_name).to_ical().decode("utf-8")
