"""Background jobs (APScheduler 3): the job list (registry.py), the one-leader scheduler loop
(runner.py) and `flask scheduler …` (cli.py). See runner.py for how one process is elected."""

from __future__ import annotations

from flask import Flask

from .cli import scheduler_cli
from .registry import Job, job_by_id, jobs_of, register_job
from .retention import register_retention
from .runner import start_in_background

__all__ = ["Job", "init_app", "job_by_id", "jobs_of", "register_job", "register_retention", "start_in_background"]


def init_app(app: Flask) -> None:
    """The job list of this app (domains fill it), the `scheduler` CLI; in-process scheduler when
    SCHEDULER_ENABLED (started at the first request, so CLI commands never start one)."""
    app.extensions.setdefault("jobs", {})
    app.cli.add_command(scheduler_cli)
    if app.config.get("SCHEDULER_ENABLED") and not app.config.get("TESTING"):
        @app.before_request
        def _start_scheduler_once():
            if app.extensions.get("job_scheduler", {}).get("thread") is None:
                start_in_background(app)
