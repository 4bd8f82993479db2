"""`flask scheduler run | jobs | run-job ID`."""

from __future__ import annotations

import signal
import threading

import click
from flask import current_app
from flask.cli import AppGroup

from .registry import job_by_id, jobs_of
from .runner import run_job, run_scheduler

scheduler_cli = AppGroup("scheduler", help="Background jobs.")


@scheduler_cli.command("run")
def run_command():
    """Run the background jobs in this process (one scheduler at a time across all hosts)."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    stop = threading.Event()

    def on_signal(signum, _frame):
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    click.echo(f"Scheduler with jobs: {', '.join(j.id for j in jobs_of(app))}. Stop with Ctrl+C.")
    run_scheduler(app, stop)


@scheduler_cli.command("jobs")
def jobs_command():
    """List the registered jobs."""
    for job in jobs_of():
        click.echo(f"{job.id:32} {job.func.__module__}.{job.func.__name__}  {job.trigger}")


@scheduler_cli.command("run-job")
@click.argument("job_id")
def run_job_command(job_id):
    """Run one job now, in this process (jobs are safe to rerun)."""
    job = job_by_id(job_id)
    if job is None:
        raise click.ClickException(f"No job {job_id!r}; see `flask scheduler jobs`.")
    run_job(current_app._get_current_object(), job_id, job.func)  # type: ignore[attr-defined]
    click.echo(f"Ran {job_id}.")
