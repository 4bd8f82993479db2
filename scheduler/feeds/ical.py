"""iCalendar text for subscription feeds. Pure functions: items in, text out.

A feed is the calendar envelope (made once per name and zone) followed by each item's VEVENT,
which is rendered once and then kept (see services.py); assembling a feed is concatenation.
"""

from __future__ import annotations

from datetime import UTC, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from icalendar import Event, vDuration

from ..core.ical import new_calendar
from .items import FeedItem

REFRESH = timedelta(hours=1)
_END = "END:VCALENDAR\r\n"


@lru_cache(maxsize=256)
def calendar_head(name: str, tz_name: str = "Europe/Helsinki") -> str:
    """Everything of the VCALENDAR before the first VEVENT: METHOD:PUBLISH, the name, refresh hints
    and the VTIMEZONE. No ORGANIZER or ATTENDEE anywhere in a feed."""
    cal = new_calendar(method="PUBLISH", name=name, tz_name=tz_name)
    cal.add("X-WR-TIMEZONE", tz_name)
    # RFC 7986 requires VALUE=DURATION here; icalendar's refresh_interval leaves it out.
    cal.add("REFRESH-INTERVAL", REFRESH, parameters={"VALUE": "DURATION"})
    cal.add("X-PUBLISHED-TTL", vDuration(REFRESH))
    text = cal.to_ical().decode("utf-8")
    assert text.endswith(_END)
    return text[: -len(_END)]


def calendar_tail() -> str:
    return _END


def render_vevent(item: FeedItem, labels: dict[str, str], tz_name: str = "Europe/Helsinki") -> str:
    """One VEVENT as text (CRLF lines, folded). DTSTAMP is the item's last change, not the clock,
    so an unchanged item renders to the same bytes."""
    tz = ZoneInfo(tz_name)
    ev = Event()
    ev.add("UID", item.uid)
    ev.add("DTSTAMP", item.updated_dt.astimezone(UTC))
    ev.add("LAST-MODIFIED", item.updated_dt.astimezone(UTC))
    ev.add("SEQUENCE", item.sequence)
    ev.add("DTSTART", item.start.astimezone(tz))
    ev.add("DTEND", item.end.astimezone(tz))
    ev.add("SUMMARY", item.summary)
    ev.add("STATUS", item.status)
    ev.add("TRANSP", "TRANSPARENT" if item.transparent else "OPAQUE")
    ev.add("CLASS", "PRIVATE")
    ev.add("URL", item.url)
    lines = [f"{labels['open']}: {item.url}"]
    if item.join_url:
        lines.insert(0, f"{labels['join']}: {item.join_url}")
        ev.add("CONFERENCE", item.join_url, parameters={"VALUE": "URI", "FEATURE": "AUDIO,VIDEO",
                                                        "LABEL": labels["join"]})
    ev.add("DESCRIPTION", "\n".join(lines))
    return ev.to_ical().decode("utf-8")
