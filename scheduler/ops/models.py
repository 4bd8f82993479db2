"""Operations: when each background job last ran, for readiness, metrics and the stalled-jobs alert."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Float, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from ..core.db import UTCDateTime, utcnow
from ..extensions import db

__all__ = ["JobRun"]


class JobRun(db.Model):
    """One row per job id, updated after every run by the process that ran it (the leader).

    Holds no case data: a job id, times, a duration and the class name of the last error."""

    __tablename__ = "job_runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    job_id: Mapped[str] = mapped_column(String(80), unique=True)
    last_started_dt: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_success_dt: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_duration_seconds: Mapped[float | None] = mapped_column(Float)
    last_failure_dt: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(String(200))
    consecutive_failures: Mapped[int] = mapped_column(Integer, default=0)
    updated_dt: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    def __repr__(self) -> str:
        return f"<JobRun {self.job_id} ok={self.last_success_dt} failures={self.consecutive_failures}>"
