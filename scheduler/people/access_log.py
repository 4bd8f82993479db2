"""The access log: every read of case content (a booking's or a panel case's), and every refused
attempt, with who, when, which object and through what (page or API).

A data protection officer answers "who read this case, and when" from it, and a client may ask
the same (GDPR art. 15; the client-data act 703/2023 requires access logs). So a row outlives
both its reader (the user id is set to NULL when the account is deleted; the e-mail at the time
stays) and the object it names (object_type + object_id, no foreign key: the log must not go
when a case is erased or deleted). Rows are removed only by retention, after
ACCESS_LOG_RETENTION_DAYS.

Logging is one INSERT per read, or one multi-row INSERT for a list; the caller commits.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String, delete, insert, select
from sqlalchemy.orm import Mapped, mapped_column

from ..core.db import UTCDateTime, sql_in, utcnow
from ..core.timefmt import iso_local
from ..extensions import db
from ..jobs.retention import cutoff, setting

__all__ = ["AccessLogEntry", "ACCESS_ACTIONS", "ACCESS_OBJECT_TYPES", "ACCESS_VIAS"]

ACCESS_ACTIONS = ("read", "refused")
ACCESS_OBJECT_TYPES = ("booking", "panel_case")
ACCESS_VIAS = ("page", "api")


class AccessLogEntry(db.Model):
    __tablename__ = "access_log"
    __table_args__ = (
        CheckConstraint(f"action IN ({sql_in(ACCESS_ACTIONS)})", name="action"),
        CheckConstraint(f"object_type IN ({sql_in(ACCESS_OBJECT_TYPES)})", name="object_type"),
        CheckConstraint(f"via IN ({sql_in(ACCESS_VIAS)})", name="via"),
        Index("ix_access_log_object", "object_type", "object_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    at_dt: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    # SET NULL, never CASCADE: deleting an account must not delete the record of what it read
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    user_email: Mapped[str] = mapped_column(String(254))  # as it was at the time of the read
    action: Mapped[str] = mapped_column(String(10), default="read")
    object_type: Mapped[str] = mapped_column(String(20))
    object_id: Mapped[int] = mapped_column(Integer)
    via: Mapped[str] = mapped_column(String(10), default="page")

    def __repr__(self) -> str:
        return f"<AccessLogEntry {self.action} {self.object_type}:{self.object_id} by {self.user_email}>"


def log_access(user, object_type: str, object_ids: Iterable[int], *, via: str, action: str = "read",
               now: datetime | None = None) -> int:
    """Record that `user` read (or was refused) these objects: one multi-row INSERT, no ORM objects."""
    if object_type not in ACCESS_OBJECT_TYPES or via not in ACCESS_VIAS or action not in ACCESS_ACTIONS:
        raise ValueError(f"unknown access log entry {object_type}/{via}/{action}")
    ids = list(dict.fromkeys(int(i) for i in object_ids))
    if not ids:
        return 0
    at = now or utcnow()
    rows = [{"at_dt": at, "user_id": user.id, "user_email": user.email, "action": action,
             "object_type": object_type, "object_id": i, "via": via} for i in ids]
    db.session.execute(insert(AccessLogEntry).values(rows))
    return len(ids)


def log_read(user, object_type: str, object_id: int, *, via: str, now: datetime | None = None) -> None:
    log_access(user, object_type, [object_id], via=via, now=now)


def log_refused(user, object_type: str, object_id: int, *, via: str, now: datetime | None = None) -> None:
    log_access(user, object_type, [object_id], via=via, action="refused", now=now)


def _filtered(*, object_type: str | None = None, object_id: int | None = None, person: str | None = None,
              start: datetime | None = None, end: datetime | None = None):
    q = select(AccessLogEntry)
    if object_type:
        q = q.where(AccessLogEntry.object_type == object_type)
    if object_id is not None:
        q = q.where(AccessLogEntry.object_id == object_id)
    if person:
        q = q.where(AccessLogEntry.user_email == person.strip().lower())
    if start is not None:
        q = q.where(AccessLogEntry.at_dt >= start)
    if end is not None:
        q = q.where(AccessLogEntry.at_dt < end)
    return q


def entries(*, limit: int | None = 200, offset: int = 0, newest_first: bool = True, **filters) -> list[AccessLogEntry]:
    order = (AccessLogEntry.at_dt.desc(), AccessLogEntry.id.desc()) if newest_first else \
        (AccessLogEntry.at_dt, AccessLogEntry.id)
    q = _filtered(**filters).order_by(*order).offset(offset)
    if limit is not None:
        q = q.limit(limit)
    return list(db.session.execute(q).scalars())


def entry_json(e: AccessLogEntry) -> dict:
    return {"at": iso_local(e.at_dt), "user": e.user_email, "action": e.action, "object_type": e.object_type,
            "object_id": e.object_id, "via": e.via}


def to_csv(rows: Iterable[AccessLogEntry]) -> str:
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\r\n")
    w.writerow(("at", "user", "action", "object_type", "object_id", "via"))
    for e in rows:
        d = entry_json(e)
        user = d["user"]
        if user[:1] in ("=", "+", "-", "@", "\t", "\r"):  # no spreadsheet formulas
            user = "'" + user
        w.writerow((d["at"], user, d["action"], d["object_type"], d["object_id"], d["via"]))
    return out.getvalue()


def purge_before(cutoff: datetime) -> int:
    """Retention: remove the entries older than `cutoff`; returns how many."""
    res = db.session.execute(delete(AccessLogEntry).where(AccessLogEntry.at_dt < cutoff)
                             .execution_options(synchronize_session=False))
    return res.rowcount or 0


def retention_step(as_of, now) -> dict[str, int]:
    """Retention (jobs/retention.py): rows older than ACCESS_LOG_RETENTION_DAYS."""
    return {"access_log_entries": purge_before(cutoff(as_of, setting("ACCESS_LOG_RETENTION_DAYS")))}
