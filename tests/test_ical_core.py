from datetime import datetime
from zoneinfo import ZoneInfo

import icalendar
import recurring_ical_events

from scheduler.core.ical import new_calendar


def test_vtimezone_uses_rrule_and_places_times_right_across_dst():
    cal = new_calendar(method="PUBLISH")
    text = cal.to_ical().decode()
    assert "BYMONTH=3" in text and "BYDAY=-1SU" in text and "RDATE" not in text
    ev = icalendar.Event()
    ev.add("UID", "x@test")
    ev.add("DTSTAMP", datetime(2027, 1, 1, tzinfo=ZoneInfo("UTC")))
    ev.add("DTSTART", datetime(2027, 3, 23, 13, 0, tzinfo=ZoneInfo("Europe/Helsinki")))
    ev.add("DURATION", __import__("datetime").timedelta(minutes=30))
    ev.add("RRULE", {"FREQ": "WEEKLY", "COUNT": 3})
    cal.add_component(ev)
    parsed = icalendar.Calendar.from_ical(cal.to_ical())
    assert not any(c.errors for c in parsed.walk())
    occ = recurring_ical_events.of(parsed).between(datetime(2027, 3, 1), datetime(2027, 4, 30))
    assert [o["DTSTART"].dt.astimezone(ZoneInfo("Europe/Helsinki")).hour for o in occ] == [13, 13, 13]
    tz = parsed.walk("VTIMEZONE")[0]
    # the block itself converts correctly: 13.00 local on both sides of the March change
    zi = tz.to_tz()
    assert datetime(2027, 3, 23, 13, tzinfo=zi).utcoffset().total_seconds() == 7200
    assert datetime(2027, 3, 30, 13, tzinfo=zi).utcoffset().total_seconds() == 10800
    assert datetime(2027, 10, 31, 13, tzinfo=zi).utcoffset().total_seconds() == 7200
