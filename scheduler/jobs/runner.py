"""Background jobs (APScheduler 3): set-up, leader election and the job list, registered in one place.

- One list of jobs per application (`app.extensions["jobs"]`, in registration order): each domain
  adds its own with `register_job(app, …)` from its init_app; ids are fixed, so registering again
  replaces (replace_existing=True).
- Fast hand-off on PostgreSQL: a job may name a LISTEN channel (`wake_on`); the scheduler's own
  lock connection listens, and a NOTIFY (sent by the transaction that queued work, delivered at its
  commit) runs that job at once instead of at its next interval. Polling stays, as the fallback
  and on SQLite.
- One scheduler at a time across processes and hosts: on PostgreSQL the process holding a session
  advisory lock on its own dedicated connection (not from the pool: closing it really releases the
  lock) runs the jobs; the others wait and take over when it goes away. SQLite: one process.
- Jobs are thin and safe to rerun (they look at the database and use dedupe keys); each runs in an
  app context and commits once. coalesce=True and misfire_grace_time make a late start run a
  missed job once instead of dropping it or running it many times.
- `SCHEDULER_ENABLED=1` starts the scheduler inside the web process (at its first request, so CLI
  commands and the reloader's watcher process never start one); `flask --app app scheduler run`
  runs it as a process of its own.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from apscheduler.schedulers.background import BackgroundScheduler
from flask import Flask
from sqlalchemy import BigInteger, bindparam, create_engine, text
from sqlalchemy.pool import NullPool

from ..core.errorlog import safe_exception_text
from ..core.signals import job_finished
from ..extensions import db
from .registry import jobs_of

log = logging.getLogger(__name__)

LOCK_KEY = 7_340_111_202_611_230  # pg advisory lock id of "the scheduler" (any fixed bigint)
MISFIRE_GRACE_SECONDS = 15 * 60
HEARTBEAT_SECONDS = 10.0
STANDBY_RETRY_SECONDS = 15.0


def run_job(app: Flask, job_id: str, func: Callable[[], Any]) -> None:
    """Run one job in its own app context; it commits once, a failure rolls back and is logged."""
    with app.app_context():
        started_dt, started, error = datetime.now(UTC), time.monotonic(), None
        try:
            func()
            db.session.commit()
        except Exception as exc:
            db.session.rollback()
            # class, statement and frames, not the message: it may quote what was being written
            log.error("job %s failed: %s", job_id, safe_exception_text(exc))
            error = exc
        try:  # when it ran, for readiness, metrics and the stalled-jobs alert (scheduler.ops)
            job_finished.send(job_id, ok=error is None, started_dt=started_dt,
                              duration=time.monotonic() - started, error=error)
        finally:
            db.session.remove()


class Leadership:
    """The advisory lock held on a dedicated connection (PostgreSQL), or nothing to hold (SQLite)."""

    def __init__(self, engine=None, conn=None):
        self.engine, self.conn = engine, conn

    def alive(self) -> bool:
        if self.conn is None:
            return True
        try:
            return bool(self.conn.execute(text("SELECT 1")).scalar())
        except Exception:
            log.warning("scheduler: lost the database connection holding the lock")
            return False

    def release(self) -> None:
        if self.conn is not None:
            try:
                self.conn.close()  # closing the session ends the advisory lock
            except Exception:  # noqa: S110  (the connection is gone: so is the lock)
                pass
            self.engine.dispose()
            self.conn = None


    def listen(self, channels: list[str]) -> None:
        for channel in channels:
            self.conn.exec_driver_sql(f'LISTEN "{channel}"')

    def wait_for_notifications(self, timeout: float) -> set[str]:
        """Block up to `timeout` seconds; the channels that were notified (empty on SQLite)."""
        if self.conn is None:
            return set()
        raw = self.conn.connection.driver_connection  # psycopg 3: notifications arrive on it
        return {n.channel for n in raw.notifies(timeout=timeout, stop_after=1)} | {
            n.channel for n in raw.notifies(timeout=0)}


def try_leadership(app: Flask) -> Leadership | None:
    url = app.config["SQLALCHEMY_DATABASE_URI"]
    if not url.startswith("postgresql"):
        return Leadership()
    engine = create_engine(url, poolclass=NullPool, isolation_level="AUTOCOMMIT")
    try:
        conn = engine.connect()
    except Exception as exc:
        engine.dispose()
        log.warning("scheduler: database not reachable (%s); retrying", type(exc).__name__)
        return None
    got = conn.execute(text("SELECT pg_try_advisory_lock(:key)").bindparams(bindparam("key", type_=BigInteger)),
                       {"key": LOCK_KEY}).scalar()
    if not got:
        conn.close()
        engine.dispose()
        return None
    return Leadership(engine, conn)


def build_scheduler(app: Flask) -> BackgroundScheduler:
    sched = BackgroundScheduler(
        timezone=app.config["APP_TIMEZONE"],
        job_defaults={"coalesce": True, "misfire_grace_time": MISFIRE_GRACE_SECONDS, "max_instances": 1},
    )
    now = datetime.now(UTC)
    for job in jobs_of(app):
        kwargs = dict(job.trigger) if isinstance(job.trigger, dict) else {"trigger": job.trigger}
        if kwargs.get("trigger") == "interval" and "next_run_time" not in kwargs:
            kwargs["next_run_time"] = now  # catch up at start: what fell due while no scheduler ran
        sched.add_job(run_job, args=[app, job.id, job.func], id=job.id, name=job.id, replace_existing=True,
                      coalesce=True, misfire_grace_time=MISFIRE_GRACE_SECONDS, max_instances=1, **kwargs)
    return sched


def run_scheduler(app: Flask, stop: threading.Event, *, heartbeat: float = HEARTBEAT_SECONDS,
                  standby_retry: float = STANDBY_RETRY_SECONDS) -> None:
    """Wait to become the one scheduler, run the jobs while the lock holds, until `stop` is set."""
    waiting_logged = False
    while not stop.is_set():
        lead = try_leadership(app)
        if lead is None:
            if not waiting_logged:
                log.info("scheduler: another process runs the jobs; standing by")
                waiting_logged = True
            stop.wait(standby_retry)
            continue
        waiting_logged = False
        sched = build_scheduler(app)
        sched.start()
        jobs = jobs_of(app)
        log.info("scheduler: running %d job(s): %s (pid %s)", len(jobs), ", ".join(j.id for j in jobs), os.getpid())
        woken = {j.wake_on: j for j in jobs if j.wake_on}
        try:
            if lead.conn is not None and woken:
                lead.listen(list(woken))
            while not stop.is_set():
                if lead.conn is not None and woken:
                    # wait on the lock connection: a NOTIFY runs its job now, in this thread (the
                    # job is safe to run beside its own scheduled run: the outbox claims rows)
                    for channel in lead.wait_for_notifications(heartbeat):
                        run_job(app, woken[channel].id, woken[channel].func)
                elif stop.wait(heartbeat):
                    break
                if not lead.alive():
                    break
        finally:
            sched.shutdown(wait=True)
            lead.release()
    log.info("scheduler: stopped (pid %s)", os.getpid())


def _in_reloader_watcher(app: Flask) -> bool:
    """`flask run --debug` starts a watcher process and a serving child (WERKZEUG_RUN_MAIN=true)."""
    return (app.debug and os.environ.get("FLASK_RUN_FROM_CLI") == "true"
            and os.environ.get("WERKZEUG_RUN_MAIN") != "true")


def start_in_background(app: Flask) -> threading.Thread | None:
    """Start the scheduler loop in a daemon thread of this process, once."""
    state = app.extensions.setdefault("job_scheduler", {"lock": threading.Lock(), "thread": None})
    with state["lock"]:
        if state["thread"] is not None or _in_reloader_watcher(app):
            return state["thread"]
        stop = threading.Event()
        thread = threading.Thread(target=run_scheduler, args=(app, stop), name="job-scheduler", daemon=True)
        state.update(thread=thread, stop=stop)
        thread.start()
        return thread
