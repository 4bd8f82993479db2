"""Retention: erase case content on time, keep the figures. A daily job (`retention`, 02.30) and
`flask retention run [--as-of YYYY-MM-DD]` run the same `run_retention()`:

- bookings CASE_RETENTION_DAYS after their end, panel cases CASE_RETENTION_DAYS after they were
  closed (advice recorded, withdrawn, declined): the content goes, erased_dt is set;
- the submitter of a case with advice is e-mailed ERASURE_NOTICE_DAYS before (a link only);
- outbox payloads and .eml files OUTBOX_RETENTION_DAYS after delivery or final failure;
- access log rows after ACCESS_LOG_RETENTION_DAYS.

Days are whole local days: content whose closing day is D goes on the run of day D + N, never on
the day before. Safe to rerun: erased rows are skipped and the notice has a dedupe key.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

import click
from flask import current_app
from flask.cli import AppGroup

from ..core.db import utcnow
from ..core.timefmt import local_to_utc, to_local
from ..extensions import db

KINDS = (
    ("erasure_notices", "erasure notices queued"),
    ("bookings", "bookings erased"),
    ("panel_cases", "panel cases erased"),
    ("consultation_time_reasons", "consultation time messages erased"),
    ("outbox_messages", "outbox messages erased"),
    ("eml_files", ".eml files deleted"),
    ("access_log_entries", "access log entries deleted"),
)


def start_of_day(day: date) -> datetime:
    """The first instant of a local day, in UTC."""
    return local_to_utc(datetime.combine(day, time()))


def cutoff(as_of: date, days: int) -> datetime:
    """What happened before this instant (on a local day ≤ as_of − days) is due on `as_of`."""
    return start_of_day(as_of - timedelta(days=days - 1))


def run_retention(as_of: date | None = None, *, now: datetime | None = None) -> dict[str, int]:
    """Erase what is due on `as_of` (default: today, local). The caller commits."""
    from ..consultations.retention import erase_bookings, erase_occurrence_reasons
    from ..delivery.retention import erase_outbox, forget_invitations
    from ..panels.retention import ERASURE_NOTICE_DAYS, closed_cases, erase_cases, queue_erasure_notices
    from ..people.access_log import purge_before

    cfg = current_app.config
    now = now or utcnow()
    as_of = as_of or to_local(now).date()
    case_days = int(cfg.get("CASE_RETENTION_DAYS", 180))
    counts = dict.fromkeys((k for k, _label in KINDS), 0)

    case_cutoff = cutoff(as_of, case_days)
    due = [case_id for case_id, _status, _closed in closed_cases(closed_before=case_cutoff)]
    notice_cutoff = cutoff(as_of + timedelta(days=ERASURE_NOTICE_DAYS), case_days)
    counts["erasure_notices"] = queue_erasure_notices(
        closed_before=notice_cutoff, skip=set(due),
        erase_on=lambda closed: to_local(closed).date() + timedelta(days=case_days))
    counts["panel_cases"] = erase_cases(due, now=now)
    bookings = erase_bookings(ended_before=case_cutoff, now=now)
    counts["bookings"] = len(bookings)
    forget_invitations([f"booking:{i}" for i in bookings] + [f"panel-case:{i}" for i in due])
    counts["consultation_time_reasons"] = erase_occurrence_reasons(before=case_cutoff)
    db.session.flush()
    counts["outbox_messages"], counts["eml_files"] = erase_outbox(
        done_before=cutoff(as_of, int(cfg.get("OUTBOX_RETENTION_DAYS", 30))), now=now)
    counts["access_log_entries"] = purge_before(cutoff(as_of, int(cfg.get("ACCESS_LOG_RETENTION_DAYS", 1826))))
    return counts


def retention_job() -> None:
    """The daily job (run_job commits)."""
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
    for key, label in KINDS:
        click.echo(f"  {label}: {counts[key]}")


def init_app(app) -> None:
    """The `retention` CLI group and the daily job."""
    from . import register_job

    app.cli.add_command(retention_cli)
    register_job("retention", retention_job, {"trigger": "cron", "hour": 2, "minute": 30})
