"""One-time links to set a password: the welcome e-mail of a new local account and "forgot password".

A link holds a random secret; only its SHA-256 is stored. It works once (a guarded write marks it
used) and expires: a welcome link after WELCOME_LINK_DAYS, a reset link after RESET_LINK_HOURS.
A new link replaces the person's earlier unused ones. The e-mail goes through the outbox in the
same transaction; the caller commits.

"Forgot password" answers the same whether or not the address has an account, and is throttled
per address and per network address, so it can neither be used to find out who has an account
nor to flood someone's inbox.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from flask import current_app
from flask_babel import force_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select, update

from ..core.db import utcnow
from ..core.errors import Conflict
from ..core.hygiene import is_clean
from ..delivery.mail import queue_email, render_email
from ..extensions import db
from .auth import TooManyAttempts, sha256, throttle_row
from .models import PasswordToken, User
from .services import set_password

WELCOME_LINK_DAYS = 7
RESET_LINK_HOURS = 24
RESETS_PER_ACCOUNT = 3  # e-mails per account within the window; more are silently not sent
RESETS_PER_ADDRESS = 10  # requests per network address within the window; more get "try later"
RESET_WINDOW = timedelta(hours=1)


class LinkNotValid(Conflict):
    code = "link_not_valid"


def _lifetime(purpose: str) -> timedelta:
    return timedelta(days=WELCOME_LINK_DAYS) if purpose == "welcome" else timedelta(hours=RESET_LINK_HOURS)


def issue_link(user: User, purpose: str, *, now: datetime | None = None) -> str:
    """A new link for user (earlier unused links stop working) and its e-mail in the outbox.
    Returns the secret (shown nowhere; it is only in the e-mail)."""
    if purpose not in ("welcome", "reset"):
        raise ValueError(purpose)
    now = now or utcnow()
    db.session.execute(
        update(PasswordToken).where(PasswordToken.user_id == user.id, PasswordToken.used_dt.is_(None))
        .values(used_dt=now)
    )
    raw = secrets.token_urlsafe(32)
    db.session.add(PasswordToken(user_id=user.id, purpose=purpose, token_hash=sha256(raw), created_dt=now,
                                 expires_dt=now + _lifetime(purpose)))
    db.session.flush()
    _queue_link_email(user, purpose, raw)
    return raw


def _queue_link_email(user: User, purpose: str, raw: str) -> None:
    lang = user.language if user.language in current_app.config["LANGUAGES"] else "fi"
    with force_locale(lang):
        if purpose == "welcome":
            subject = _("Your account in the consultation and expert panel service")
            lines = [
                _("Hello %(name)s,", name=user.name),
                _("An account has been created for you in the consultation and expert panel service. "
                  "Set your password with the link below; then sign in with your e-mail address %(email)s.",
                  email=user.email),
                _("The link works once and expires in %(days)d days. If it has expired, use \"Forgot your "
                  "password?\" on the sign-in page.", days=WELCOME_LINK_DAYS),
            ]
        else:
            subject = _("Set a new password")
            lines = [
                _("Hello %(name)s,", name=user.name),
                _("A new password was asked for your account in the consultation and expert panel service. "
                  "Set it with the link below."),
                _("The link works once and expires in %(hours)d hours. If you did not ask for this, you can "
                  "ignore this message: your password stays as it was.", hours=RESET_LINK_HOURS),
            ]
        link_label = _("Set your password")
    # built without a request: the admin page, the CLI or a job may issue a link
    url = current_app.config["BASE_URL"] + current_app.url_map.bind("localhost").build(
        "people.set_password", {"token": raw})
    text, html = render_email("notice", lang, subject=subject, lines=lines, facts=[], url=url, link_label=link_label)
    queue_email(user.email, subject, text, html, language=lang)


def _count_request(key: str, now: datetime) -> int:
    """Requests under `key` within the window, this one included."""
    row = throttle_row(key)
    if now - row.window_start_dt > RESET_WINDOW:
        row.failures, row.window_start_dt = 0, now
    row.failures += 1
    return row.failures


def request_reset(email: str, address: str | None, *, now: datetime | None = None) -> None:
    """Forgot password: a reset link to an active account with this address, if there is one.
    The same outcome for the caller either way; TooManyAttempts only per network address."""
    now = now or utcnow()
    email = (email or "").strip().lower()[:254]
    if address and _count_request(f"reset-address:{address}", now) > RESETS_PER_ADDRESS:
        raise TooManyAttempts(str(_l("Too many requests. Try again in an hour.")))
    if not is_clean(email) or "@" not in email:
        return  # no account has such an address (and a NUL byte would upset PostgreSQL)
    user = db.session.execute(select(User).where(User.email == email)).scalar_one_or_none()
    if user is None or not user.is_active:
        return
    if _count_request(f"reset-account:{email}", now) > RESETS_PER_ACCOUNT:
        return  # already sent several: not one more e-mail into their inbox
    issue_link(user, "reset", now=now)


def find_link(raw: str, *, now: datetime | None = None) -> PasswordToken:
    """The valid (unused, unexpired, active account) link behind raw, or LinkNotValid."""
    now = now or utcnow()
    row = None
    if raw and len(raw) <= 100 and is_clean(raw):
        row = db.session.execute(select(PasswordToken).where(PasswordToken.token_hash == sha256(raw))).scalar_one_or_none()
    if row is None or row.used_dt is not None or row.expires_dt <= now or not row.user.is_active:
        raise LinkNotValid(str(_l("This link has expired or has already been used. Ask for a new one.")))
    return row


def use_link(raw: str, password: str, *, now: datetime | None = None) -> User:
    """Set the password with a link: once only (a guarded write), every browser signed out."""
    now = now or utcnow()
    row = find_link(raw, now=now)
    user = row.user
    set_password(user, password, end_sessions=True)  # raises ValidationFailed for a short one
    won = db.session.execute(
        update(PasswordToken).where(PasswordToken.id == row.id, PasswordToken.used_dt.is_(None))
        .values(used_dt=now)
    ).rowcount == 1
    if not won:
        raise LinkNotValid(str(_l("This link has expired or has already been used. Ask for a new one.")))
    db.session.flush()
    return user
