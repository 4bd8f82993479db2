"""Microsoft Graph bookkeeping: which Teams meeting belongs to which booking or panel session.

One row per meeting key ("booking:<id>", "panel-session:<id>"). The row holds what we want
(subject, times, cancelled or not: written by `request_meeting` / `cancel_meeting` in the
caller's transaction) and what Graph has (meeting id, join URL, the times last sent: written by
the outbox worker). The worker always converges Graph to the wanted state, so a stale or repeated
outbox message does no harm.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Boolean, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ..core.db import UTCDateTime, utcnow
from ..extensions import db

__all__ = ["TeamsMeeting"]


def new_external_id() -> str:
    return str(uuid.uuid4())


class TeamsMeeting(db.Model):
    __tablename__ = "teams_meetings"

    id: Mapped[int] = mapped_column(primary_key=True)
    meeting_key: Mapped[str] = mapped_column(String(80), unique=True)
    # Graph's createOrGet key: random, stable for the life of the meeting, no case data
    external_id: Mapped[str] = mapped_column(String(64), unique=True, default=new_external_id)
    # wanted state
    subject: Mapped[str] = mapped_column(String(200))
    start_dt: Mapped[datetime] = mapped_column(UTCDateTime)
    end_dt: Mapped[datetime] = mapped_column(UTCDateTime)
    is_cancelled: Mapped[bool] = mapped_column(Boolean, default=False)
    version: Mapped[int] = mapped_column(Integer, default=1)
    # Graph's state, as last seen by the worker
    graph_id: Mapped[str | None] = mapped_column(String(512))
    join_url: Mapped[str | None] = mapped_column(Text)
    synced_subject: Mapped[str | None] = mapped_column(String(200))
    synced_start_dt: Mapped[datetime | None] = mapped_column(UTCDateTime)
    synced_end_dt: Mapped[datetime | None] = mapped_column(UTCDateTime)
    is_deleted_in_graph: Mapped[bool] = mapped_column(Boolean, default=False)
    created_dt: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_dt: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    @property
    def is_in_sync(self) -> bool:
        if self.is_cancelled:
            return self.graph_id is None or self.is_deleted_in_graph
        return (self.graph_id is not None and self.synced_subject == self.subject
                and self.synced_start_dt == self.start_dt and self.synced_end_dt == self.end_dt)

    def __repr__(self) -> str:
        state = "cancelled" if self.is_cancelled else ("ready" if self.join_url else "pending")
        return f"<TeamsMeeting {self.meeting_key} {state} v{self.version}>"
