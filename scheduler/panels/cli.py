"""`flask --app app panels top-up`: keep every active panel's sessions materialised to the horizon."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from ..extensions import db
from .services import all_panels, ensure_sessions

panels_cli = AppGroup("panels", help="The multidisciplinary expert panel.")


@panels_cli.command("top-up")
@click.option("--months", type=int, default=None, help="Horizon in months (default PANEL_HORIZON_MONTHS, 12).")
def top_up(months):
    """Create the sessions that are missing up to the horizon (safe to rerun)."""
    created = sum(ensure_sessions(p, months=months) for p in all_panels(active_only=True))
    db.session.commit()
    click.echo(f"Created {created} panel sessions.")
