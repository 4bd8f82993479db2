"""`flask seed-demo`: the one command that spans every domain (each domain's own commands are in
its `cli.py`; `db upgrade` comes from Flask-Migrate)."""

from __future__ import annotations

import click
from flask import Flask, current_app

from .demo import DemoRefused, demo_logins, demo_present, seed_demo
from .extensions import db


@click.command("seed-demo")
def seed_demo_command():
    """Fill an empty database with a believable demo region and print the demo logins."""
    production = current_app.config["PRODUCTION"]
    try:
        logins = seed_demo(production=production)
    except DemoRefused as exc:
        if not production and demo_present():  # `make run` again: show the logins again
            _print_logins(demo_logins())
        raise click.ClickException(str(exc)) from exc
    db.session.commit()
    _print_logins(logins)


def _print_logins(logins: dict) -> None:
    click.echo(f"Demo logins (password for all: {logins['password']}):")
    for email, what in logins["users"]:
        click.echo(f"  {email:40} {what}")


def register_cli(app: Flask) -> None:
    app.cli.add_command(seed_demo_command)
