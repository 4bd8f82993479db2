"""`flask unit create …`, `flask user create | token | import …`: units and people from the command line."""

from __future__ import annotations

import sys

import click
from flask.cli import AppGroup

from ..core.errors import DomainError
from ..extensions import db
from .auth import create_api_token
from .models import ROLES, UNIT_KINDS
from .services import create_unit, create_user, get_user_by_email, import_users_csv

unit_cli = AppGroup("unit", help="Units (services).")
user_cli = AppGroup("user", help="Users.")


def _fail(exc: DomainError) -> None:
    db.session.rollback()
    details = "".join(f"\n  {k}: {v}" for k, v in exc.fields.items())
    raise click.ClickException(f"{exc.message}{details}")


@unit_cli.command("create")
@click.argument("code")
@click.option("--name", required=True, help="Name in Finnish.")
@click.option("--name-sv", default="", help="Name in Swedish.")
@click.option("--name-en", default="", help="Name in English.")
@click.option("--kind", required=True, type=click.Choice(UNIT_KINDS))
def unit_create(code, name, name_sv, name_en, kind):
    """Create a unit with CODE."""
    try:
        unit = create_unit(code=code, name_fi=name, name_sv=name_sv, name_en=name_en, kind=kind)
        db.session.commit()
    except DomainError as exc:
        _fail(exc)
    click.echo(f"Created unit {unit.code} ({unit.kind}).")


@user_cli.command("create")
@click.argument("email")
@click.option("--name", required=True)
@click.option("--role", "roles", multiple=True, required=True, type=click.Choice(ROLES))
@click.option("--unit", "units", multiple=True, help="Unit code; repeat for several.")
@click.option("--language", default="fi", type=click.Choice(["fi", "sv", "en"]))
@click.option("--password-stdin", is_flag=True, help="Read a password from standard input (else: SSO only).")
def user_create(email, name, roles, units, language, password_stdin):
    """Create a user with EMAIL."""
    password = sys.stdin.readline().rstrip("\r\n") if password_stdin else None
    try:
        user = create_user(email=email, name=name, roles=list(roles), unit_codes=list(units), language=language,
                           password=password)
        db.session.commit()
    except DomainError as exc:
        _fail(exc)
    click.echo(f"Created user {user.email} ({', '.join(user.roles)}).")


@user_cli.command("token")
@click.argument("email")
@click.option("--label", default="cli")
def user_token(email, label):
    """Create a new API token for EMAIL and print it alone on the last line."""
    user = get_user_by_email(email)
    if user is None or not user.is_active:
        raise click.ClickException(f"No active user {email}")
    try:
        raw = create_api_token(user, label)
    except DomainError as exc:
        _fail(exc)
    db.session.commit()
    click.echo(f"API token for {user.email} (shown once, valid for a year; store it safely):")
    click.echo(raw)


@user_cli.command("import")
@click.argument("path", type=click.File("r", encoding="utf-8-sig"))
def user_import(path):
    """Create or update users from a CSV file (email,name,roles,units,language)."""
    result = import_users_csv(path.read())
    if result.errors:
        db.session.rollback()
        for line, msg in result.errors:
            click.echo(f"line {line}: {msg}", err=True)
        raise click.ClickException("Nothing was imported.")
    db.session.commit()
    click.echo(f"Created {result.created}, updated {result.updated}.")
