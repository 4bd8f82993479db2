"""core.recurrence: the one rule engine of consultation series and panel sessions (pure functions)."""

from __future__ import annotations

import time
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from scheduler.core import recurrence

HELSINKI = ZoneInfo("Europe/Helsinki")


def days(rule, first, after, before, **kw):
    return [s.date() for s in recurrence.starts(rule, first, after=after, before=before, **kw)]


def test_holidays_are_skipped_only_when_asked():
    # Thursdays around Ascension Day (6.5.2027); Fridays around Good Friday (26.3.2027)
    first = datetime(2027, 4, 29, 9)
    kept = days("FREQ=WEEKLY;BYDAY=TH", first, first, datetime(2027, 5, 20), skip_holidays=True)
    assert kept == [date(2027, 4, 29), date(2027, 5, 13)]
    assert date(2027, 5, 6) in days("FREQ=WEEKLY;BYDAY=TH", first, first, datetime(2027, 5, 20))
    fridays = days("FREQ=WEEKLY;BYDAY=FR", datetime(2027, 3, 19, 9), datetime(2027, 3, 1), datetime(2027, 4, 10),
                   skip_holidays=True)
    assert fridays == [date(2027, 3, 19), date(2027, 4, 2), date(2027, 4, 9)]
    assert recurrence.is_holiday(date(2027, 12, 6)) and recurrence.is_holiday(date(2027, 6, 26))  # Midsummer Day
    assert not recurrence.is_holiday(date(2027, 12, 7))
    assert recurrence.finnish_holidays(2027) is recurrence.finnish_holidays(2027)  # one cache


def test_july_is_skipped_for_a_summer_break():
    rule, first = "FREQ=MONTHLY;BYDAY=2TH", datetime(2027, 1, 14, 12, 30)
    with_july = days(rule, first, first, datetime(2028, 1, 1))
    without = days(rule, first, first, datetime(2028, 1, 1), skip_july=True)
    assert date(2027, 7, 8) in with_july and len(with_july) == 12
    assert [d.month for d in without] == [1, 2, 3, 4, 5, 6, 8, 9, 10, 11, 12]
    assert recurrence.is_skipped(date(2027, 7, 1), skip_july=True)
    assert not recurrence.is_skipped(date(2027, 7, 1), skip_holidays=True)


def test_every_other_week_and_the_last_day():
    rule = recurrence.weekly_rule("WE", 2)
    assert rule == "FREQ=WEEKLY;INTERVAL=2;BYDAY=WE"
    first = datetime(2027, 1, 13, 9)
    assert days(rule, first, datetime(2027, 1, 1), datetime(2027, 4, 30), last_day=date(2027, 2, 28)) == [
        date(2027, 1, 13), date(2027, 1, 27), date(2027, 2, 10), date(2027, 2, 24)]
    # the window is half open: a start exactly at `before` is not in it
    assert days(rule, first, first, datetime(2027, 1, 27, 9)) == [date(2027, 1, 13)]
    assert days(rule, first, datetime(2027, 2, 1), datetime(2027, 1, 1)) == []


def test_monthly_nth_weekday_and_the_last_one():
    assert recurrence.nth_weekday(date(2027, 1, 12)) == 2
    assert recurrence.nth_weekday(date(2027, 1, 29)) == -1  # a fifth Friday is "the last"
    second_tuesday = recurrence.monthly_rule("TU", 2, signed=True)
    assert second_tuesday == "FREQ=MONTHLY;BYDAY=+2TU"
    assert days(second_tuesday, datetime(2027, 1, 12, 10), datetime(2027, 1, 1), datetime(2027, 5, 1)) == [
        date(2027, 1, 12), date(2027, 2, 9), date(2027, 3, 9), date(2027, 4, 13)]
    last_friday = recurrence.monthly_rule("FR", -1)
    assert last_friday == "FREQ=MONTHLY;BYDAY=-1FR"
    assert days(last_friday, datetime(2027, 1, 29, 9), datetime(2027, 1, 1), datetime(2027, 4, 1)) == [
        date(2027, 1, 29), date(2027, 2, 26), date(2027, 3, 26)]
    assert recurrence.monthly_rule("TH", 2, 3) == "FREQ=MONTHLY;INTERVAL=3;BYDAY=2TH"
    with pytest.raises(ValueError):
        recurrence.monthly_rule("XX", 2)
    with pytest.raises(ValueError):
        recurrence.monthly_rule("TH", 7)


def test_wall_clock_time_stays_across_the_dst_changes_in_helsinki():
    # clocks go forward on 28.3.2027 and back on 31.10.2027
    first = datetime(2027, 3, 16, 13, 0)
    local = recurrence.starts("FREQ=WEEKLY;BYDAY=TU", first, after=first, before=datetime(2027, 11, 10))
    assert {(s.hour, s.minute) for s in local} == {(13, 0)}
    utc = {s.date(): s.replace(tzinfo=HELSINKI).astimezone(UTC).hour for s in local}
    assert utc[date(2027, 3, 23)] == 11 and utc[date(2027, 3, 30)] == 10  # EET +2, then EEST +3
    assert utc[date(2027, 10, 26)] == 10 and utc[date(2027, 11, 2)] == 11
    # a start in the hour that does not exist (3.30 on 28.3.) is still listed; local_to_utc reads it
    night = recurrence.starts("FREQ=WEEKLY;BYDAY=SU", datetime(2027, 3, 21, 3, 30), after=datetime(2027, 3, 21),
                              before=datetime(2027, 4, 1))
    assert [s.day for s in night] == [21, 28]


def test_rules_are_read_once_and_refused_when_unusable():
    assert recurrence.normalise_rule(" rrule:freq=weekly;byday=tu ") == "FREQ=WEEKLY;BYDAY=TU"
    assert recurrence.validate_rule("RRULE:FREQ=MONTHLY;BYDAY=1MO") == "FREQ=MONTHLY;BYDAY=1MO"
    assert recurrence.rule_parts("FREQ=WEEKLY;INTERVAL=2;BYDAY=WE") == {"FREQ": "WEEKLY", "INTERVAL": "2", "BYDAY": "WE"}
    for bad in ("", None, "FREQ=SECONDLY", "FREQ=YEARLY", "FREQ=WEEKLY;BYDAY=XX", "BYDAY=MO",
                "FREQ=WEEKLY;DTSTART=20270101T000000", "DTSTART:20270101T000000\nRRULE:FREQ=WEEKLY",
                "FREQ=WEEKLY;BYDAY=TU\nFREQ=DAILY", "FREQ=WEEKLY;INTERVAL=x"):
        with pytest.raises(ValueError):
            recurrence.validate_rule(bad)
    first = datetime(2027, 1, 5, 13)
    assert recurrence.parse_rule("FREQ=WEEKLY;BYDAY=TU", first) is recurrence.parse_rule("freq=weekly;byday=tu", first)


def test_simple_rules_are_taken_apart_for_the_forms():
    S = recurrence.SimpleRule
    assert recurrence.simple_rule("FREQ=WEEKLY;INTERVAL=2;BYDAY=TU") == S("WEEKLY", "TU", None, 2)
    assert recurrence.simple_rule("FREQ=MONTHLY;BYDAY=+2TU") == S("MONTHLY", "TU", 2, 1)
    assert recurrence.simple_rule("FREQ=MONTHLY;BYDAY=-1FR") == S("MONTHLY", "FR", -1, 1)
    for other in ("FREQ=MONTHLY;BYDAY=TU",  # every Tuesday of the month, not the first one
                  "FREQ=WEEKLY;BYDAY=2TU", "FREQ=WEEKLY;BYDAY=TU,TH", "FREQ=WEEKLY;BYDAY=TU;COUNT=5",
                  "FREQ=DAILY", "FREQ=WEEKLY;INTERVAL=x;BYDAY=TU", "FREQ=WEEKLY;INTERVAL=0;BYDAY=TU"):
        assert recurrence.simple_rule(other) is None, other


def test_rules_that_could_run_away_are_found_quickly():
    first = datetime(2027, 1, 5, 13)
    for never in ("FREQ=MONTHLY;BYMONTH=2;BYMONTHDAY=31", "FREQ=MONTHLY;BYDAY=MO;BYSETPOS=6",
                  "FREQ=MONTHLY;BYMONTHDAY=30;BYMONTH=2;COUNT=3"):
        started = time.perf_counter()
        assert not recurrence.occurs_within(never, first), never
        assert time.perf_counter() - started < 2  # dateutil alone would search to the year 9999
    leap_day = "FREQ=MONTHLY;BYMONTH=2;BYMONTHDAY=29"  # 29 February 2028 is the next
    assert recurrence.occurs_within(leap_day, datetime(2027, 6, 1, 13))
    assert not recurrence.occurs_within(leap_day, first)  # 420 days away: beyond the year it must meet in
    assert recurrence.occurs_within("FREQ=WEEKLY;BYDAY=TU", first, days=1)
    assert not recurrence.occurs_within("FREQ=WEEKLY;INTERVAL=2;BYDAY=MO", datetime(2027, 1, 5, 13), days=5)
    for wrong in ("FREQ=DAILY;BYMONTHDAY=-40", "FREQ=WEEKLY;INTERVAL=99999", "FREQ=MONTHLY;BYMONTHDAY=0",
                  "FREQ=DAILY;COUNT=x", "FREQ=YEARLY;BYWEEKNO=54"):
        with pytest.raises(ValueError):
            recurrence.check_rule_numbers(wrong)
    recurrence.check_rule_numbers("RRULE:freq=monthly;bymonthday=-1,15;bysetpos=-1;count=10000")
