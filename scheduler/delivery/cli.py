"""`flask outbox …` (the queue of e-mails and Graph calls) and `flask teams check`."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import AppGroup

from ..extensions import db
from . import microsoft
from .outbox import deliver_due, retry_all_failed, status_counts

outbox_cli = AppGroup("outbox", help="The outbox of e-mails and Graph calls.")
teams_cli = AppGroup("teams", help="Microsoft Teams (Graph) settings check.")


@outbox_cli.command("flush")
def flush_command():
    """Deliver everything due now, once. Failures stay queued for their retry time."""
    counts = deliver_due()
    click.echo(f"Sent {counts['sent']}, to retry later {counts['retry']}, failed {counts['failed']}.")


@outbox_cli.command("status")
def status_command():
    """How many messages are queued, sent and failed."""
    counts = status_counts()
    click.echo(" ".join(f"{s}={counts.get(s, 0)}" for s in ("queued", "sent", "failed")))


@outbox_cli.command("retry-failed")
def retry_failed_command():
    """Queue every failed message again."""
    n = retry_all_failed()
    db.session.commit()
    click.echo(f"Queued {n} failed message(s) again.")


@teams_cli.command("check")
def teams_check() -> None:
    """Fetch an app token from the identity platform with the GRAPH_* settings."""
    if not microsoft.teams_enabled():
        click.echo("Teams is off: set GRAPH_TENANT_ID, GRAPH_CLIENT_ID, GRAPH_CLIENT_SECRET and GRAPH_ORGANIZER.")
        raise SystemExit(1)
    try:
        microsoft.graph_client().access_token()
    except Exception as exc:  # report any failure to the operator, with its reason
        click.echo(f"Could not get a Graph token: {exc}")
        raise SystemExit(1) from exc
    click.echo(f"OK: a Graph token for tenant {current_app.config['GRAPH_TENANT_ID']}; "
               f"meetings are owned by {current_app.config['GRAPH_ORGANIZER']}.")
