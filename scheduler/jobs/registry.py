"""The application's job list: each domain registers its jobs from its init_app."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask import Flask, current_app


@dataclass(frozen=True)
class Job:
    id: str
    func: Callable[[], Any]
    # an APScheduler trigger, or a dict of add_job trigger arguments: {"trigger": "interval", "seconds": 30}
    trigger: Any
    wake_on: str | None = None  # a PostgreSQL NOTIFY channel that runs the job at once


def register_job(app: Flask, job_id: str, func: Callable[[], Any], trigger: Any, *,
                 wake_on: str | None = None) -> None:
    """Add a job to the application's list (replacing a job with the same id, keeping its place)."""
    jobs: dict[str, Job] = app.extensions.setdefault("jobs", {})
    jobs[job_id] = Job(job_id, func, trigger, wake_on)


def jobs_of(app: Flask | None = None) -> list[Job]:
    return list((app or current_app).extensions.get("jobs", {}).values())


def job_by_id(job_id: str, app: Flask | None = None) -> Job | None:
    return (app or current_app).extensions.get("jobs", {}).get(job_id)
