"""Recording job runs (the `job_finished` signal) and reading them back."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from ..core.db import utcnow
from ..extensions import db
from .models import JobRun

log = logging.getLogger(__name__)

DELIVERY_JOB = "outbox-deliver"


def record_job_run(job_id: str, *, ok: bool, started_dt: datetime, duration: float,
                   error: BaseException | None = None, **_extra) -> None:
    """Note one run in its own short transaction (the job's own has ended). Never raises: a job
    must not fail because its bookkeeping did."""
    try:
        for _attempt in range(2):  # a first run in two processes at once: the loser updates
            try:
                row = db.session.execute(select(JobRun).where(JobRun.job_id == job_id)).scalar_one_or_none()
                if row is None:
                    row = JobRun(job_id=job_id, consecutive_failures=0)
                    db.session.add(row)
                row.last_started_dt = started_dt
                if ok:
                    row.last_success_dt = utcnow()
                    row.last_duration_seconds = round(duration, 3)
                    row.consecutive_failures = 0
                else:
                    row.last_failure_dt = utcnow()
                    row.last_error = type(error).__name__[:200] if error else "unknown"
                    row.consecutive_failures = (row.consecutive_failures or 0) + 1
                db.session.commit()
                break
            except IntegrityError:
                db.session.rollback()
    except SQLAlchemyError as exc:
        db.session.rollback()
        log.warning("could not record the run of job %s: %s", job_id, type(exc).__name__)


def job_runs() -> list[JobRun]:
    return list(db.session.execute(select(JobRun).order_by(JobRun.job_id)).scalars())


def last_success(job_id: str = DELIVERY_JOB) -> datetime | None:
    return db.session.execute(select(JobRun.last_success_dt).where(JobRun.job_id == job_id)).scalar_one_or_none()


def jobs_state(minutes: int, now: datetime | None = None, job_id: str = DELIVERY_JOB) -> tuple[bool, datetime | None]:
    """(fresh, last success): fresh when the job succeeded within `minutes`."""
    last = last_success(job_id)
    now = now or utcnow()
    return (last is not None and now - last <= timedelta(minutes=minutes)), last
