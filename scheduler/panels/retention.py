"""Retention of panel cases: CASE_RETENTION_DAYS after a case is closed (advice recorded, withdrawn
or declined) its content and the advice are erased; the child's age becomes an age band. What the
figures need stays: dates, panel, status, expertise areas, municipality, the events. The submitter
is told ERASURE_NOTICE_DAYS before the advice goes (a link only), to file it in the client record
first (the case page has a print view of the advice). The step runs from jobs/retention.py, which
commits."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from flask_babel import gettext as _
from sqlalchemy import delete, func, select, update

from ..core.timefmt import format_day, to_local
from ..delivery.meetings import Invitee, app_link, queue_notice
from ..delivery.models import OutboxMessage
from ..delivery.retention import forget_invitations
from ..extensions import db
from ..jobs.retention import cutoff, setting
from .models import PanelCase, PanelCaseEvent, PanelConflict, PanelSession, PanelStatement, age_band

CLOSED_STATUSES = ("handled", "withdrawn", "declined")
ERASURE_NOTICE_DAYS = 14
LABELS = {"erasure_notices": "erasure notices queued", "panel_cases": "panel cases erased",
          "session_reasons": "session cancel reasons erased"}


def retention_step(as_of: date, now: datetime) -> dict[str, int]:
    days = setting("CASE_RETENTION_DAYS")
    due = [case_id for case_id, _status, _closed in closed_cases(closed_before=cutoff(as_of, days))]
    notices = queue_erasure_notices(
        closed_before=cutoff(as_of + timedelta(days=ERASURE_NOTICE_DAYS), days), skip=set(due),
        erase_on=lambda closed: to_local(closed).date() + timedelta(days=days))
    erased = erase_cases(due, now=now)
    forget_invitations([f"panel-case:{i}" for i in due])
    return {"erasure_notices": notices, "panel_cases": erased,
            "session_reasons": erase_session_reasons(ended_before=cutoff(as_of, days))}


def erase_session_reasons(*, ended_before: datetime) -> int:
    """A cancelled session's reason is free text a secretary typed (it may name a case): it goes
    CASE_RETENTION_DAYS after the session's time, like the cases' content."""
    return db.session.execute(
        update(PanelSession).where(PanelSession.status == "cancelled", PanelSession.cancel_reason != "",
                                   PanelSession.end_dt < ended_before)
        .values(cancel_reason="").execution_options(synchronize_session=False)).rowcount or 0


def closed_cases(*, closed_before: datetime) -> list[tuple[int, str, datetime]]:
    """(id, status, closed at) of the not yet erased cases closed before `closed_before`: advice
    recorded (handled_dt), or the withdrawal or decline (its event's time)."""
    closing = (select(func.max(PanelCaseEvent.created_dt))
               .where(PanelCaseEvent.case_id == PanelCase.id, PanelCaseEvent.action.in_(("withdrawn", "declined")))
               .correlate(PanelCase).scalar_subquery())
    rows = db.session.execute(
        select(PanelCase.id, PanelCase.status, PanelCase.handled_dt, closing)
        .where(PanelCase.status.in_(CLOSED_STATUSES), PanelCase.erased_dt.is_(None))).all()
    out = []
    for case_id, status, handled_dt, event_dt in rows:
        closed = handled_dt if status == "handled" else event_dt
        if closed is None:  # a closed case without its event (data from before the events): its last change
            closed = handled_dt or event_dt
        if closed is not None and closed.tzinfo is None:  # a func.max() result on SQLite may come back naive
            closed = closed.replace(tzinfo=UTC)
        if closed is not None and closed < closed_before:
            out.append((case_id, status, closed))
    return out


def erase_cases(case_ids: list[int], *, now: datetime) -> int:
    """Erase the content of these cases and their advice; each records erased_dt."""
    n = 0
    for start in range(0, len(case_ids), 200):
        chunk = case_ids[start:start + 200]
        ages = dict(db.session.execute(select(PanelCase.id, PanelCase.child_age).where(PanelCase.id.in_(chunk))).all())
        for case_id, age in ages.items():
            db.session.execute(
                update(PanelCase).where(PanelCase.id == case_id, PanelCase.erased_dt.is_(None))
                .values(case_ref="", background="", questions="", services_tried="", secretary_message="",
                        child_age=None, child_age_band=age_band(age), erased_dt=now)
                .execution_options(synchronize_session=False))
            n += 1
        db.session.execute(
            update(PanelStatement).where(PanelStatement.case_id.in_(chunk))
            .values(text="", recommendations=[], responsible_services=[], follow_up_date=None)
            .execution_options(synchronize_session=False))
        # who declared a conflict of interest on which case: no longer needed once the case is gone
        db.session.execute(delete(PanelConflict).where(PanelConflict.case_id.in_(chunk))
                           .execution_options(synchronize_session=False))
    return n


def queue_erasure_notices(*, closed_before: datetime, skip: set[int], erase_on) -> int:
    """An e-mail to the submitter of each handled case whose advice will be erased soon: no case
    content, only the date and the link. Deduped per case, so a daily run sends it once.
    erase_on(closed_dt) → the local date its content goes. Returns how many were queued now."""
    n = 0
    for case_id, status, closed in closed_cases(closed_before=closed_before):
        key = f"erasure-notice:panel-case:{case_id}"
        if status != "handled" or case_id in skip or db.session.scalar(
                select(OutboxMessage.id).where(OutboxMessage.dedupe_key == key)) is not None:
            continue
        case = db.session.get(PanelCase, case_id)
        day = erase_on(closed)
        url = app_link("panels.case_detail", case_id=case.id)

        def build(lang: str, day=day, url=url, panel=case.panel.name):
            when = format_day(day, lang)
            subject = _("The panel's advice on your case will be erased on %(date)s", date=when) + f" – {panel}"
            lines = [_("This service keeps cases only as working copies. The content of your case and the panel's "
                       "advice will be erased from the service on %(date)s.", date=when),
                     _("If you have not yet filed the advice in the client record, open the case and print the advice.")]
            return subject, lines, [], url, _("Open the case")

        queue_notice(Invitee.of(case.submitter), build, dedupe_key=key)
        n += 1
    return n
