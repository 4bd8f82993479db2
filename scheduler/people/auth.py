"""Sign-in: argon2id passwords, server-side sessions, throttling of failed attempts, API tokens."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import date, datetime, time, timedelta
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import bindparam, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload

from ..core.db import utcnow
from ..core.errors import DomainError, ValidationFailed
from ..core.privacy import identity_code_errors
from ..core.timefmt import local_to_utc, to_local
from ..extensions import db
from .models import ApiToken, LoginThrottle, User, UserSession

# OWASP ASVS 5.0 / Password Storage Cheat Sheet: argon2id, m >= 19 MiB, t >= 2, p = 1.
# We sit above the minimum on memory.
_hasher = PasswordHasher(time_cost=2, memory_cost=32 * 1024, parallelism=1)
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))

MIN_PASSWORD_LENGTH = 12


class SignInFailed(DomainError):
    status = 401
    code = "sign_in_failed"


class TooManyAttempts(DomainError):
    status = 429
    code = "too_many_attempts"


def sha256(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(user: User | None, password: str) -> bool:
    """Constant work whether or not the account exists; rehash when the parameters rise."""
    stored = user.password_hash if user and user.password_hash else _DUMMY_HASH
    try:
        _hasher.verify(stored, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False
    if user is None or not user.password_hash:
        return False
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
    return True


# --- throttling --------------------------------------------------------------------------

def throttle_row(key: str) -> LoginThrottle:
    row = db.session.execute(select(LoginThrottle).where(LoginThrottle.key == key).with_for_update()).scalar_one_or_none()
    if row is None:
        try:
            with db.session.begin_nested():
                row = LoginThrottle(key=key, failures=0, window_start_dt=utcnow())
                db.session.add(row)
        except IntegrityError:  # another worker created it first
            row = db.session.execute(select(LoginThrottle).where(LoginThrottle.key == key).with_for_update()).scalar_one()
    return row


def _account_key(email: str, address: str | None) -> str:
    # per account AND address: failures from one place lock that place out of the account, not
    # the colleague who signs in from their own desk (the per-address limit still stops one
    # address from trying many accounts)
    return f"account:{email.strip().lower()}|{address or '-'}"


def _keys(email: str, address: str | None) -> list[tuple[str, int]]:
    cfg = current_app.config
    keys = [(_account_key(email, address), cfg["LOGIN_MAX_FAILURES"])]
    if address:
        keys.append((f"address:{address}", cfg["LOGIN_MAX_FAILURES_PER_ADDRESS"]))
    return keys


def check_throttle(email: str, address: str | None) -> None:
    now = utcnow()
    for key, _limit in _keys(email, address):
        row = db.session.get(LoginThrottle, key)
        if row and row.locked_until_dt and row.locked_until_dt > now:
            raise TooManyAttempts(str(_l("Too many failed sign-in attempts. Try again in a few minutes.")))


def record_failure(email: str, address: str | None) -> None:
    now = utcnow()
    window = timedelta(minutes=current_app.config["LOGIN_LOCK_MINUTES"])
    for key, limit in _keys(email, address):
        row = throttle_row(key)
        if now - row.window_start_dt > window:
            row.failures, row.window_start_dt = 0, now
        row.failures += 1
        if row.failures >= limit:
            row.locked_until_dt = now + window


def clear_account_failures(email: str, address: str | None = None) -> None:
    db.session.execute(
        update(LoginThrottle)
        .where(LoginThrottle.key == _account_key(email, address))
        .values(failures=0, locked_until_dt=None)
    )


def authenticate(email: str, password: str, address: str | None) -> User:
    """Check a local password. Raises TooManyAttempts or SignInFailed; the caller commits."""
    email = (email or "").strip().lower()
    check_throttle(email, address)
    user = db.session.execute(select(User).where(User.email == email)).scalar_one_or_none()
    ok = verify_password(user, password or "")
    if not ok or user is None or not user.is_active:
        record_failure(email, address)
        raise SignInFailed(str(_l("The e-mail address or password is wrong, or the account is disabled.")))
    clear_account_failures(email, address)
    return user


@cache
def _by_hash_with_user(holder):
    """The session or token row with this :digest, with its user and the user's roles and units
    in the same statement. Every request signs in, so this is one round trip instead of four (the
    row, the user, the roles, the units); a person has a role or two and a unit or two, so the
    joined rows stay few. Built once per holder: a statement object used again skips
    SQLAlchemy's construction and cache-key work."""
    user = joinedload(holder.user)
    return (select(holder).where(holder.token_hash == bindparam("digest"))
            .options(user.joinedload(User.role_rows), user.joinedload(User.units)))


# --- server-side sessions ------------------------------------------------------------------

def start_session(user: User, method: str = "password") -> str:
    raw = secrets.token_urlsafe(32)
    db.session.add(UserSession(user_id=user.id, token_hash=sha256(raw), method=method))
    user.last_login_dt = utcnow()
    return raw


def resolve_session(raw: str | None) -> User | None:
    """The user behind a session id, or None when it has ended, idled out or grown too old."""
    if not raw:
        return None
    row = db.session.execute(_by_hash_with_user(UserSession), {"digest": sha256(raw)}).unique().scalar_one_or_none()
    if row is None or row.ended_dt is not None:
        return None
    now = utcnow()
    cfg = current_app.config
    if now - row.last_seen_dt > timedelta(minutes=cfg["SESSION_IDLE_MINUTES"]) or now - row.created_dt > timedelta(
        hours=cfg["SESSION_MAX_HOURS"]
    ):
        row.ended_dt = now
        db.session.commit()
        return None
    user = row.user
    if not user.is_active:
        return None
    if now - row.last_seen_dt > timedelta(seconds=30):  # keep writes rare
        row.last_seen_dt = now
        db.session.commit()
    return user


def end_session(raw: str | None) -> None:
    if raw:
        db.session.execute(
            update(UserSession).where(UserSession.token_hash == sha256(raw), UserSession.ended_dt.is_(None)).values(ended_dt=utcnow())
        )


def end_all_sessions(user: User, *, keep: str | None = None) -> None:
    """End the user's sessions; with keep (a raw session id), all but that one (this browser)."""
    stmt = update(UserSession).where(UserSession.user_id == user.id, UserSession.ended_dt.is_(None))
    if keep:
        stmt = stmt.where(UserSession.token_hash != sha256(keep))
    db.session.execute(stmt.values(ended_dt=utcnow()))


# --- API tokens --------------------------------------------------------------------------

TOKEN_PREFIX = "lsk_"  # noqa: S105  (a public prefix, not a secret)
TOKEN_DEFAULT_DAYS = 365
TOKEN_MAX_DAYS = 2 * 365
LAST_USED_EVERY = timedelta(minutes=1)  # "last used" is exact to the minute, without a write per request


def token_expiry(expires: date | None, *, never: bool = False, now: datetime | None = None) -> datetime | None:
    """The end of the token's last valid day (local time): a year from today unless a date is
    given; None (no expiry) only when asked for."""
    if never:
        return None
    now = now or utcnow()
    today = to_local(now).date()
    if expires is None:
        expires = today + timedelta(days=TOKEN_DEFAULT_DAYS)
    if expires < today or expires > today + timedelta(days=TOKEN_MAX_DAYS):
        raise ValidationFailed(str(_l("Check the token's expiry date.")), fields={
            "expires": str(_l("Choose a date from today to two years from now."))})
    return local_to_utc(datetime.combine(expires + timedelta(days=1), time()))


def create_api_token(user: User, label: str = "", *, expires: date | None = None, never_expires: bool = False,
                     now: datetime | None = None) -> str:
    """A new personal token; the raw secret is returned once and only its SHA-256 is kept."""
    label = (label or "").strip()
    errors = identity_code_errors(label=label)
    if len(label) > 100:
        errors["label"] = str(_l("Use at most 100 characters."))
    if errors:
        raise ValidationFailed(str(_l("Check the token's name.")), fields=errors)
    expires_dt = token_expiry(expires, never=never_expires, now=now)
    raw = TOKEN_PREFIX + secrets.token_urlsafe(32)
    db.session.add(ApiToken(user_id=user.id, label=label, prefix=raw[:10], token_hash=sha256(raw),
                            expires_dt=expires_dt))
    db.session.flush()
    return raw


def user_for_api_token(raw: str) -> User | None:
    digest = sha256(raw)
    row = db.session.execute(_by_hash_with_user(ApiToken), {"digest": digest}).unique().scalar_one_or_none()
    # the lookup is by hash; compare again in constant time for good measure
    if row is None or row.revoked_dt is not None or not hmac.compare_digest(row.token_hash, digest):
        return None
    now = utcnow()
    if row.is_expired(now) or not row.user.is_active:
        return None
    if row.last_used_dt is None or now - row.last_used_dt >= LAST_USED_EVERY:
        # one guarded write per token and minute, even with many requests at once
        db.session.execute(update(ApiToken).where(
            ApiToken.id == row.id,
            (ApiToken.last_used_dt.is_(None)) | (ApiToken.last_used_dt <= now - LAST_USED_EVERY),
        ).values(last_used_dt=now))
        db.session.commit()
    return row.user


def active_api_tokens(user: User) -> list[ApiToken]:
    """The user's tokens that still work (not revoked, not expired), oldest first."""
    now = utcnow()
    rows = db.session.execute(
        select(ApiToken).where(ApiToken.user_id == user.id, ApiToken.revoked_dt.is_(None)).order_by(ApiToken.created_dt)
    ).scalars().all()
    return [t for t in rows if not t.is_expired(now)]


def revoke_api_token(user: User, token_id: int) -> bool:
    row = db.session.get(ApiToken, token_id)
    if row is None or row.user_id != user.id or row.revoked_dt is not None:
        return False
    row.revoked_dt = utcnow()
    return True
