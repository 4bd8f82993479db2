"""Retention of consultation bookings: the case content goes CASE_RETENTION_DAYS after the
booking's end (the step runs from jobs/retention.py, which commits). What the figures and the
calendars need stays: times, series and unit, status, booker."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import select, update

from ..delivery.retention import forget_invitations
from ..extensions import db
from ..jobs.retention import cutoff, setting
from .models import Booking, OccurrenceChange

LABELS = {"bookings": "bookings erased", "consultation_time_reasons": "consultation time messages erased"}


def retention_step(as_of: date, now: datetime) -> dict[str, int]:
    before = cutoff(as_of, setting("CASE_RETENTION_DAYS"))
    ids = erase_bookings(ended_before=before, now=now)
    forget_invitations([f"booking:{i}" for i in ids])
    return {"bookings": len(ids), "consultation_time_reasons": erase_occurrence_reasons(before=before)}


def erase_bookings(*, ended_before: datetime, now: datetime) -> list[int]:
    """Erase the case reference, question, participants and cancel reason of every booking that
    ended before `ended_before` and still has them; each records erased_dt. Returns their ids."""
    ids = list(db.session.execute(
        select(Booking.id).where(Booking.end_dt < ended_before, Booking.erased_dt.is_(None))).scalars())
    for start in range(0, len(ids), 500):
        db.session.execute(
            update(Booking).where(Booking.id.in_(ids[start:start + 500]))
            .values(case_ref="", question="", participants=[], cancel_reason="", erased_dt=now)
            .execution_options(synchronize_session=False))
    return ids


def erase_occurrence_reasons(*, before: datetime) -> int:
    """The hosts' messages on cancelled or moved consultation times (typed text, sent to bookers)."""
    res = db.session.execute(
        update(OccurrenceChange).where(OccurrenceChange.original_start_dt < before, OccurrenceChange.reason != "")
        .values(reason="").execution_options(synchronize_session=False))
    return res.rowcount or 0
