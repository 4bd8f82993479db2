"""Retention of the outbox: a message's payload (addresses, subject, texts, calendar data) and its
.eml file in OUTBOX_DIR go OUTBOX_RETENTION_DAYS after it was delivered or finally failed. The row
stays (kind, status, dates, dedupe key: a notice is never sent twice) with erased_dt set. A dedupe
key that holds an e-mail address (an invitation's) is replaced by its hash: by then the message is
long delivered, and the address must go with the payload."""

from __future__ import annotations

import hashlib
from datetime import date, datetime
from pathlib import Path

from flask import current_app
from sqlalchemy import and_, delete, or_, select, update

from ..extensions import db
from ..jobs.retention import cutoff, setting
from .models import CalendarInvitation, OutboxMessage

LABELS = {"outbox_messages": "outbox messages erased", "eml_files": ".eml files deleted"}


def retention_step(as_of: date, now: datetime) -> dict[str, int]:
    messages, files = erase_outbox(done_before=cutoff(as_of, setting("OUTBOX_RETENTION_DAYS")), now=now)
    return {"outbox_messages": messages, "eml_files": files}


def erase_outbox(*, done_before: datetime, now: datetime) -> tuple[int, int]:
    """(messages erased, .eml files deleted). The files go after the rows are updated in this
    transaction; a file whose deletion fails is tried again on the next run (by its age)."""
    finished = or_(and_(OutboxMessage.status == "sent", OutboxMessage.sent_dt < done_before),
                   and_(OutboxMessage.status == "failed", OutboxMessage.updated_dt < done_before))
    ids = list(db.session.execute(
        select(OutboxMessage.id).where(finished, OutboxMessage.erased_dt.is_(None))).scalars())
    for start in range(0, len(ids), 500):
        chunk = ids[start:start + 500]
        db.session.execute(
            update(OutboxMessage).where(OutboxMessage.id.in_(chunk))
            .values(payload={}, last_error=None, erased_dt=now).execution_options(synchronize_session=False))
        for msg_id, key in db.session.execute(select(OutboxMessage.id, OutboxMessage.dedupe_key).where(
                OutboxMessage.id.in_(chunk), OutboxMessage.dedupe_key.contains("@"))).all():
            db.session.execute(update(OutboxMessage).where(OutboxMessage.id == msg_id)
                               .values(dedupe_key="erased:" + hashlib.sha256(key.encode()).hexdigest())
                               .execution_options(synchronize_session=False))
    return len(ids), _delete_eml_files(ids, done_before)


def _delete_eml_files(ids: list[int], done_before: datetime) -> int:
    folder = Path(current_app.config["OUTBOX_DIR"])
    if not folder.is_dir():
        return 0
    wanted = {f"{i:06d}" for i in ids}
    deleted = 0
    for path in folder.glob("*.eml"):
        number = path.stem.rpartition("-")[2]
        try:
            old = path.stat().st_mtime < done_before.timestamp()
        except FileNotFoundError:
            continue
        if number in wanted or old:
            try:
                path.unlink()
                deleted += 1
            except FileNotFoundError:
                pass
    return deleted


def forget_invitations(meeting_keys: list[str]) -> int:
    """Who holds a calendar entry for a meeting whose content was erased (the participants'
    addresses): the meeting is over, no cancellation will ever be sent for it."""
    n = 0
    for start in range(0, len(meeting_keys), 500):
        res = db.session.execute(delete(CalendarInvitation)
                                 .where(CalendarInvitation.meeting_key.in_(meeting_keys[start:start + 500]))
                                 .execution_options(synchronize_session=False))
        n += res.rowcount or 0
    return n
