"""Keeping a panel time in a feed, cancelled, after it has left the feed's sources.

A submitter's case time and an expert's session come from the agenda: when a case is taken off a
published agenda (withdrawn, declined, unscheduled, or moved on because the session was cancelled
or not held) the case no longer points at the session, so the time would simply vanish from the
feed. Just before such a change is flushed we still see where the case was (the ORM's attribute
history) and record a tombstone for the submitter, and for each expert who has no other case left
in that session. The personal feed shows them as STATUS:CANCELLED for 30 days.

Observation only: nothing of the panel's own rows is changed here.
"""

from __future__ import annotations

from sqlalchemy import event, inspect, select
from sqlalchemy.orm import Session

from ..core.db import utcnow
from ..panels.models import PanelCase, PanelCaseExpert, PanelSession
from .models import FeedTombstone

AGENDA_STATUSES = ("scheduled", "handled")


def _before(state, name: str):
    history = state.attrs[name].history
    if history.deleted:
        return history.deleted[0]
    return history.unchanged[0] if history.unchanged else None


def _keep(session: Session, *, user_id: int, key: str, uid: str, start, end, sequence: int, panel_name: str,
          now) -> None:
    row = session.execute(select(FeedTombstone).where(FeedTombstone.user_id == user_id,
                                                      FeedTombstone.item_key == key)).scalar_one_or_none()
    if row is None:
        row = FeedTombstone(user_id=user_id, item_key=key)
        session.add(row)
    row.uid, row.start_dt, row.end_dt, row.sequence = uid, start, end, sequence
    row.panel_name, row.cancelled_dt = panel_name[:200], now


def _cases_leaving_published_agendas(session: Session, flush_context, instances) -> None:
    leaving = []
    for obj in session.dirty:
        if not isinstance(obj, PanelCase):
            continue
        state = inspect(obj)
        old_session_id = _before(state, "session_id")
        if old_session_id is None:
            continue
        moved = obj.session_id != old_session_id
        off_agenda = _before(state, "status") in AGENDA_STATUSES and obj.status not in AGENDA_STATUSES
        if moved or off_agenda:
            leaving.append((obj, old_session_id, _before(state, "start_dt"), _before(state, "end_dt")))
    if not leaving:
        return
    now = utcnow()
    with session.no_autoflush:
        for case, old_session_id, start, end in leaving:
            old = session.get(PanelSession, old_session_id)
            if old is None or old.published_dt is None:
                continue
            panel_name = old.panel.name if old.panel else ""
            if start is not None and end is not None:
                _keep(session, user_id=case.submitter_id, key=f"panel-case:{case.id}", uid=case.ical_uid, start=start,
                      end=end, sequence=case.sequence, panel_name=panel_name, now=now)
            experts = session.execute(
                select(PanelCaseExpert.user_id).where(PanelCaseExpert.case_id == case.id)).scalars().all()
            for expert_id in experts:
                still_there = session.execute(
                    select(PanelCase.id).join(PanelCaseExpert, PanelCaseExpert.case_id == PanelCase.id)
                    .where(PanelCaseExpert.user_id == expert_id, PanelCase.session_id == old_session_id,
                           PanelCase.id != case.id, PanelCase.status.in_(AGENDA_STATUSES)).limit(1)
                ).first()
                if still_there is None:
                    _keep(session, user_id=expert_id, key=f"panel-session:{old_session_id}", uid=old.ical_uid,
                          start=old.start_dt, end=old.end_dt, sequence=old.sequence, panel_name=panel_name, now=now)


_installed = False


def install() -> None:
    global _installed
    if not _installed:
        event.listen(Session, "before_flush", _cases_leaving_published_agendas)
        _installed = True
