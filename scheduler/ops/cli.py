"""`flask check-setup` and `flask ops watchdog|digest|status`."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import AppGroup, with_appcontext

from ..delivery.outbox import deliver_due
from ..extensions import db
from .alerts import failed_count, failed_digest, jobs_stalled
from .checks import run_checks
from .health import schema_check
from .jobruns import DELIVERY_JOB, jobs_state

ops_cli = AppGroup("ops", help="Operations: alerts and the jobs watchdog.")

MARKS = {"ok": ("  OK ", "green"), "fail": ("FAIL ", "red"), "skip": ("SKIP ", "yellow")}


@click.command("check-setup")
@with_appcontext
def check_setup_command():
    """Check every configured integration against the real thing; exit 1 on any failure."""
    results = run_checks()
    for r in results:
        mark, colour = MARKS[r.status]
        line = f"{click.style(mark, fg=colour, bold=True)} {r.name}: {r.detail}"
        if r.status == "fail" and r.section:
            line += f"  (README: {r.section})"
        click.echo(line)
    failed = sum(r.status == "fail" for r in results)
    if failed:
        click.echo(click.style(f"{failed} check(s) failed.", fg="red"))
        raise SystemExit(1)
    click.echo(click.style("All checks passed.", fg="green"))


@ops_cli.command("watchdog")
def watchdog_command():
    """Alert the administrators when the jobs process has stalled (run every few minutes by a timer
    on the web host). While it is stalled, this also delivers the outbox, so the alert goes out."""
    if not schema_check().ok:
        db.session.rollback()
        raise click.ClickException("The database is not at the migration head (an upgrade in progress?); "
                                   "nothing was checked.")
    minutes = int(current_app.config["ALERT_JOBS_STALLED_MINUTES"])
    fresh, last = jobs_state(minutes)
    if fresh:
        db.session.rollback()
        click.echo(f"OK: {DELIVERY_JOB} last succeeded at {last.isoformat(timespec='seconds')}.")
        return
    new = jobs_stalled()
    db.session.commit()
    counts = deliver_due()
    click.echo(f"STALLED: {DELIVERY_JOB} last succeeded at {last.isoformat(timespec='seconds') if last else 'never'}; "
               f"{new} new alert(s); delivered {counts['sent']}, to retry {counts['retry']}, failed {counts['failed']}.")
    raise SystemExit(2)


@ops_cli.command("digest")
def digest_command():
    """Queue today's digest of failed messages now (the job does it every morning)."""
    n = failed_digest()
    db.session.commit()
    click.echo(f"Failed messages: {failed_count()}; {n} digest e-mail(s) queued.")


def register(app) -> None:
    app.cli.add_command(check_setup_command)
    app.cli.add_command(ops_cli)
