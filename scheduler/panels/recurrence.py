"""The panel form's recurrence choice (frequency, weekday, which week, interval) ↔ an RRULE.

Only the panel's vocabulary lives here (weekdays MO–FR, the first..fourth or last weekday); the
rule engine, the Finnish holidays and the July break are core.recurrence.
"""

from __future__ import annotations

from ..core import recurrence

WEEKDAYS = ("MO", "TU", "WE", "TH", "FR")
FREQUENCIES = ("monthly", "weekly")
# 1..4 = first..fourth weekday of the month, -1 = the last one
ORDINALS = (1, 2, 3, 4, -1)


def build_rrule(*, frequency: str, weekday: str, ordinal: int = 1, interval: int = 1) -> str:
    """monthly + TH + 2 → FREQ=MONTHLY;BYDAY=2TH; weekly + MO + 2 → FREQ=WEEKLY;INTERVAL=2;BYDAY=MO."""
    if weekday not in WEEKDAYS:
        raise ValueError(weekday)
    if frequency == "monthly":
        if ordinal not in ORDINALS:
            raise ValueError(ordinal)
        return recurrence.monthly_rule(weekday, ordinal, interval)
    if frequency == "weekly":
        return recurrence.weekly_rule(weekday, interval)
    raise ValueError(frequency)


def parse_rrule(rule: str) -> dict:
    """The friendly parts of a rule written by build_rrule (for the edit form); {} when it is
    something else (a rule given through the API stays as it is)."""
    simple = recurrence.simple_rule(rule)
    if simple is None or simple.weekday not in WEEKDAYS:
        return {}
    if simple.freq == "MONTHLY" and simple.ordinal in ORDINALS:
        return {"frequency": "monthly", "weekday": simple.weekday, "ordinal": simple.ordinal,
                "interval": simple.interval}
    if simple.freq == "WEEKLY":
        return {"frequency": "weekly", "weekday": simple.weekday, "ordinal": 1, "interval": simple.interval}
    return {}
