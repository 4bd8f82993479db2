"""Background jobs (APScheduler 3): set-up, leader election and the job list, registered in one place.

- JOBS is the one list of jobs: (id, func, trigger). Domains add theirs with `register_job()` from
  their init_app; ids are fixed, so registering again replaces (replace_existing=True).
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
import signal
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import click
from flask import Flask
from flask.cli import AppGroup

log = logging.getLogger(__name__)

# (id, func, trigger): trigger is an APScheduler trigger or a dict of add_job trigger arguments,
# e.g. {"trigger": "interval", "seconds": 30}.
JOBS: list[tuple[str, Callable[[], Any], Any]] = []

LOCK_KEY = 7_340_111_202_611_230  # pg advisory lock id of "the scheduler" (any fixed bigint)
MISFIRE_GRACE_SECONDS = 15 * 60
HEARTBEAT_SECONDS = 10.0
STANDBY_RETRY_SECONDS = 15.0


def register_job(job_id: str, func: Callable[[], Any], trigger: Any) -> None:
    """Add a job to the one list (replacing a job with the same id)."""
    for i, (existing, _f, _t) in enumerate(JOBS):
        if existing == job_id:
            JOBS[i] = (job_id, func, trigger)
            return
    JOBS.append((job_id, func, trigger))


def job_by_id(job_id: str) -> tuple[str, Callable[[], Any], Any] | None:
    return next((j for j in JOBS if j[0] == job_id), None)


def run_job(app: Flask, job_id: str, func: Callable[[], Any]) -> None:
    """Run one job in its own app context; it commits once, a failure rolls back and is logged."""
    from ..extensions import db

    with app.app_context():
        try:
            func()
            db.session.commit()
        except Exception:
            db.session.rollback()
            log.exception("job %s failed", job_id)
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
            from sqlalchemy import text

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


def try_leadership(app: Flask) -> Leadership | None:
    from sqlalchemy import BigInteger, bindparam, create_engine, text
    from sqlalchemy.pool import NullPool

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


def build_scheduler(app: Flask):
    from apscheduler.schedulers.background import BackgroundScheduler

    sched = BackgroundScheduler(
        timezone=app.config.get("APP_TIMEZONE", "Europe/Helsinki"),
        job_defaults={"coalesce": True, "misfire_grace_time": MISFIRE_GRACE_SECONDS, "max_instances": 1},
    )
    now = datetime.now(UTC)
    for job_id, func, trigger in JOBS:
        kwargs = dict(trigger) if isinstance(trigger, dict) else {"trigger": trigger}
        if kwargs.get("trigger") == "interval" and "next_run_time" not in kwargs:
            kwargs["next_run_time"] = now  # catch up at start: what fell due while no scheduler ran
        sched.add_job(run_job, args=[app, job_id, func], id=job_id, name=job_id, replace_existing=True,
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
        log.info("scheduler: running %d job(s): %s (pid %s)", len(JOBS), ", ".join(j[0] for j in JOBS), os.getpid())
        try:
            while not stop.wait(heartbeat):
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


scheduler_cli = AppGroup("scheduler", help="Background jobs.")


@scheduler_cli.command("run")
def run_command():
    """Run the background jobs in this process (one scheduler at a time across all hosts)."""
    from flask import current_app

    app = current_app._get_current_object()  # type: ignore[attr-defined]
    stop = threading.Event()

    def on_signal(signum, _frame):
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    click.echo(f"Scheduler with jobs: {', '.join(j[0] for j in JOBS)}. Stop with Ctrl+C.")
    run_scheduler(app, stop)


@scheduler_cli.command("jobs")
def jobs_command():
    """List the registered jobs."""
    for job_id, func, trigger in JOBS:
        click.echo(f"{job_id:32} {func.__module__}.{func.__name__}  {trigger}")


@scheduler_cli.command("run-job")
@click.argument("job_id")
def run_job_command(job_id):
    """Run one job now, in this process (jobs are safe to rerun)."""
    from flask import current_app

    job = job_by_id(job_id)
    if job is None:
        raise click.ClickException(f"No job {job_id!r}; see `flask scheduler jobs`.")
    run_job(current_app._get_current_object(), job_id, job[1])  # type: ignore[attr-defined]
    click.echo(f"Ran {job_id}.")


def init_app(app: Flask) -> None:
    """Register the `scheduler` CLI group; start the scheduler in-process when SCHEDULER_ENABLED."""
    app.cli.add_command(scheduler_cli)
    # Domains that are set up before delivery add their jobs here, after the outbox's own.
    from ..panels import register_jobs as register_panel_jobs

    register_panel_jobs()
    from .retention import init_app as retention_init

    retention_init(app)
    if app.config.get("SCHEDULER_ENABLED") and not app.config.get("TESTING"):
        @app.before_request
        def _start_scheduler_once():
            if app.extensions.get("job_scheduler", {}).get("thread") is None:
                start_in_background(app)
