"""iCalendar building blocks shared by invitations (delivery/) and subscription feeds (feeds/).

Pure functions. The VTIMEZONE is written with RRULE observances (last Sunday of March and October,
EU rules) because Outlook mishandles the RDATE lists icalendar 7 generates.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from icalendar import Calendar, Timezone, TimezoneDaylight, TimezoneStandard

PRODID = "-//Lastensuojelun konsultaatiot//scheduler//FI"

# EU daylight-saving rules: since 1996, clocks change at 01:00 UTC on the last Sundays of March
# and October. Offsets for the zones a Finnish county could plausibly configure.
_EU_ZONES = {
    "Europe/Helsinki": ("+0200", "+0300", "EET", "EEST"),
    "Europe/Stockholm": ("+0100", "+0200", "CET", "CEST"),
}


def vtimezone(tz_name: str = "Europe/Helsinki") -> Timezone:
    if tz_name not in _EU_ZONES:

        return Timezone.from_tzinfo(ZoneInfo(tz_name))
    std_off, dst_off, std_name, dst_name = _EU_ZONES[tz_name]
    # DTSTART of each observance is local wall time before the change
    std_h = int(std_off[:3])
    tz = Timezone()
    tz.add("TZID", tz_name)
    tz.add("X-LIC-LOCATION", tz_name)
    daylight = TimezoneDaylight()
    daylight.add("TZOFFSETFROM", _offset(std_off))
    daylight.add("TZOFFSETTO", _offset(dst_off))
    daylight.add("TZNAME", dst_name)
    daylight.add("DTSTART", datetime(1970, 3, 29, 1 + std_h, 0, 0))
    daylight.add("RRULE", {"FREQ": "YEARLY", "BYMONTH": 3, "BYDAY": "-1SU"})
    standard = TimezoneStandard()
    standard.add("TZOFFSETFROM", _offset(dst_off))
    standard.add("TZOFFSETTO", _offset(std_off))
    standard.add("TZNAME", std_name)
    standard.add("DTSTART", datetime(1970, 10, 25, 1 + std_h + 1, 0, 0))
    standard.add("RRULE", {"FREQ": "YEARLY", "BYMONTH": 10, "BYDAY": "-1SU"})
    tz.add_component(daylight)
    tz.add_component(standard)
    return tz


def _offset(text: str):
    sign = -1 if text[0] == "-" else 1
    return sign * timedelta(hours=int(text[1:3]), minutes=int(text[3:5]))


def new_calendar(*, method: str | None = None, name: str | None = None, tz_name: str = "Europe/Helsinki") -> Calendar:
    """A VCALENDAR with PRODID, VERSION, optional METHOD and name, and the VTIMEZONE."""
    cal = Calendar()
    cal.add("PRODID", PRODID)
    cal.add("VERSION", "2.0")
    cal.add("CALSCALE", "GREGORIAN")
    if method:
        cal.add("METHOD", method)
    if name:
        cal.add("X-WR-CALNAME", name)
        cal.add("NAME", name)
    cal.add_component(vtimezone(tz_name))
    return cal
