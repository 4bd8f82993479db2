"""`flask feeds …`: replace a user's feed address, empty the render cache."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from ..extensions import db
from ..people.services import get_user_by_email
from .services import clear_render_cache, reset_feed_token

feeds_cli = AppGroup("feeds", help="Calendar subscription feeds.")


@feeds_cli.command("reset")
@click.argument("email")
def reset_command(email):
    """Replace EMAIL's feed address (e.g. when it has leaked). The old one stops working at once."""
    user = get_user_by_email(email)
    if user is None:
        raise click.ClickException(f"No user {email}")
    reset_feed_token(user)
    db.session.commit()
    click.echo(f"The feed address of {user.email} was replaced; they find the new one on their profile page.")


@feeds_cli.command("clear-cache")
def clear_cache_command():
    """Empty the render cache (safe at any time: feeds render their items again on the next poll)."""
    n = clear_render_cache()
    db.session.commit()
    click.echo(f"Removed {n} cached items.")
