"""Retention: erase case content on time, keep the figures. Each package registers its step from its
init_app (`register_retention`); a daily job (`retention`, 02.30) and
`flask retention run [--as-of YYYY-MM-DD]` run them all through `run_retention()`:

- consultations: bookings CASE_RETENTION_DAYS after their end;
- panels: cases CASE_RETENTION_DAYS after they were closed (advice recorded, withdrawn, declined),
  with an e-mail to the submitter 14 days before the advice goes;
- delivery: outbox payloads and .eml files OUTBOX_RETENTION_DAYS after delivery or final failure;
- people: access log rows after ACCESS_LOG_RETENTION_DAYS.

Days are whole local days: content whose closing day is D goes on the run of day D + N, never on
the day before (`cutoff`). Steps are safe to rerun: erased rows are skipped, notices are deduped.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

import click
from flask import Flask, current_app
from flask.cli import AppGroup

from ..core.db import utcnow
from ..core.timefmt import local_to_utc, to_local
from ..extensions import db
from .registry import register_job


@dataclass(frozen=True)
class RetentionStep:
    name: str
    run: Callable[[date, datetime], dict[str, int]]  # (as_of, now) → counts by kind; flushes, never commits
    labels: dict[str, str]  # kind → how `flask retention run` names its count


def register_retention(app: Flask, name: str, run: Callable[[date, datetime], dict[str, int]],
                       labels: dict[str, str]) -> None:
    app.extensions.setdefault("retention", {})[name] = RetentionStep(name, run, labels)


def retention_steps(app: Flask | None = None) -> list[RetentionStep]:
    return list((app or current_app).extensions.get("retention", {}).values())


def start_of_day(day: date) -> datetime:
    """The first instant of a local day, in UTC."""
    return local_to_utc(datetime.combine(day, time()))


def cutoff(as_of: date, days: int) -> datetime:
    """What happened before this instant (on a local day ≤ as_of − days) is due on `as_of`."""
    return start_of_day(as_of - timedelta(days=days - 1))


def setting(name: str) -> int:
    """A retention period in days, as config.py's settings table read and checked it."""
    return int(current_app.config[name])


def run_retention(as_of: date | None = None, *, now: datetime | None = None) -> dict[str, int]:
    """Erase what is due on `as_of` (default: today, local). The caller commits."""
    now = now or utcnow()
    as_of = as_of or to_local(now).date()
    counts: dict[str, int] = {}
    for step in retention_steps():
        counts.update(dict.fromkeys(step.labels, 0))
        counts.update(step.run(as_of, now))
        db.session.flush()
    return counts


def retention_job() -> None:
    """The daily job (the runner commits)."""
    run_retention()


retention_cli = AppGroup("retention", help="Erase case content, outbox bodies and old access log rows on time.")


@retention_cli.command("run")
@click.option("--as-of", "as_of", default=None, metavar="YYYY-MM-DD",
              help="Erase what is due on this day (default: today).")
def run_command(as_of):
    """Erase what is due now (or on --as-of) and print what was erased, by kind."""
    day = None
    if as_of:
        try:
            day = date.fromisoformat(as_of)
        except ValueError as exc:
            raise click.BadParameter("write the date as YYYY-MM-DD", param_hint="--as-of") from exc
    counts = run_retention(day)
    db.session.commit()
    day = day or to_local(utcnow()).date()
    click.echo(f"Retention as of {day.isoformat()}:")
    for step in retention_steps():
        for kind, label in step.labels.items():
            click.echo(f"  {label}: {counts.get(kind, 0)}")


def init_app(app: Flask) -> None:
    """The `retention` CLI group and the daily job (the steps come from the packages)."""
    app.cli.add_command(retention_cli)
    register_job(app, "retention", retention_job, {"trigger": "cron", "hour": 2, "minute": 30})
