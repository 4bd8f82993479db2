"""Secret feed addresses: 192-bit tokens, HMAC(key from SECRET_KEY, a random nonce kept per user).

Only the SHA-256 of a token is looked up; the token itself is derived again when it has to be
shown (profile page, API), so a copy of the database alone gives no working address. Changing
SECRET_KEY retires every address at once.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from datetime import datetime, timedelta
from functools import cache

from flask import current_app
from sqlalchemy import bindparam, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import lazyload

from ..core.db import utcnow
from ..extensions import db
from ..people.models import User
from .models import FeedToken
from .providers import subscribable_panels, subscribable_units

TOKEN_BYTES = 24  # 192 bits; 32 URL-safe characters
_TOKEN_RE = re.compile(r"^[A-Za-z0-9_-]{32}$")
_LAST_USED_EVERY = timedelta(hours=1)


def _sha256(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


# --- the secret addresses ------------------------------------------------------------------------

def _derive(nonce: str) -> str:
    key = hashlib.sha256(b"scheduler feed token v1\x00" + current_app.config["SECRET_KEY"].encode()).digest()
    mac = hmac.new(key, nonce.encode(), hashlib.sha256).digest()[:TOKEN_BYTES]
    return base64.urlsafe_b64encode(mac).decode().rstrip("=")


def _new_nonce() -> str:
    return secrets.token_hex(TOKEN_BYTES)


def ensure_feed_token(user: User, *, own_transaction: bool = False) -> str:
    """The user's feed token, creating it when the user has none yet (insert-if-absent, safe when
    two requests race). The caller commits, except with own_transaction=True: then a missing row is
    created and committed in a short transaction of its own, so that a read-only page (the profile)
    can show the address without committing anything else (do not use it with unflushed writes
    pending on SQLite: they would lock the file)."""
    row = db.session.get(FeedToken, user.id)
    if row is None:
        nonce = _new_nonce()
        table = FeedToken.__table__
        values = {"user_id": user.id, "nonce": nonce, "token_hash": _sha256(_derive(nonce)), "created_dt": utcnow()}

        def insert(conn):
            ins = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
            conn.execute(ins(table).values(**values).on_conflict_do_nothing(index_elements=["user_id"]))

        if own_transaction:
            with db.engine.begin() as conn:
                insert(conn)
        else:
            insert(db.session.connection())
        row = db.session.get(FeedToken, user.id, populate_existing=True)
        assert row is not None
    raw = _derive(row.nonce)
    digest = _sha256(raw)
    if not hmac.compare_digest(row.token_hash, digest):
        # SECRET_KEY was changed: the address changes with it (the old one no longer resolves).
        stmt = update(FeedToken).where(FeedToken.user_id == user.id).values(token_hash=digest)
        if own_transaction:
            with db.engine.begin() as conn:
                conn.execute(stmt)
        else:
            db.session.execute(stmt)
        db.session.expire(row)
    return raw


def reset_feed_token(user: User) -> str:
    """Replace the user's feed address; the old one is dead as soon as this commits."""
    row = db.session.get(FeedToken, user.id)
    nonce = _new_nonce()
    raw = _derive(nonce)
    if row is None:
        row = FeedToken(user_id=user.id, nonce=nonce, token_hash=_sha256(raw))
        db.session.add(row)
    else:
        row.nonce, row.token_hash, row.created_dt, row.last_used_dt = nonce, _sha256(raw), utcnow(), None
    db.session.flush()
    return raw


@cache
def _token_statement():
    """Built once (a feed poll is the hottest request): the user with the token's nonce and last
    use, by the token's hash. Only the user is loaded as an object; its roles and units only if
    asked for (a feed needs the user's id, language and state)."""
    return (
        select(User, FeedToken.nonce, FeedToken.last_used_dt)
        .join(FeedToken, FeedToken.user_id == User.id)
        .options(lazyload(User.role_rows), lazyload(User.units))
        .where(FeedToken.token_hash == bindparam("digest"))
    )


@cache
def token_owner():
    """Built once: the token's owner as plain columns (id, is_active, language, nonce, last_used_dt),
    by the token's hash (parameter: digest); a CTE, so that the personal feed's validator finds the
    user in its own statement (a 304 is then one statement), without loading a User object."""
    return (
        select(User.id, User.is_active, User.language, FeedToken.nonce, FeedToken.last_used_dt)
        .join(FeedToken, FeedToken.user_id == User.id)
        .where(FeedToken.token_hash == bindparam("digest"))
        .cte("me")
    )


def token_digest(raw: str) -> str | None:
    """What a presented token is looked up by, or None for what cannot be a token."""
    if not raw or not _TOKEN_RE.match(raw):
        return None
    return _sha256(raw)


def token_holds(raw: str, nonce: str, is_active: bool) -> bool:
    """The row found by the token's hash is the token's, under the current key, and its user
    active. Found by hash, then checked in constant time against what the current key derives, so
    a changed SECRET_KEY retires every address at once (the profile shows the new one)."""
    return hmac.compare_digest(_derive(nonce), raw) and bool(is_active)


def note_use(user_id: int, last_used_dt: datetime | None, now: datetime) -> None:
    """Stamp the address's last use, at most hourly: polling stays read-only."""
    if last_used_dt is None or now - last_used_dt > _LAST_USED_EVERY:
        db.session.execute(update(FeedToken).where(FeedToken.user_id == user_id).values(last_used_dt=now))


def user_for_feed_token(raw: str, *, now: datetime | None = None) -> User | None:
    """The active user whose feed token this is, or None. One query (token and user together)."""
    digest = token_digest(raw)
    if digest is None:
        return None
    row = db.session.execute(_token_statement(), {"digest": digest}).one_or_none()
    if row is None or not token_holds(raw, row.nonce, row.User.is_active):
        return None
    note_use(row.User.id, row.last_used_dt, now or utcnow())
    return row.User


# --- addresses ---------------------------------------------------------------------------------

def base_url() -> str:
    return current_app.config["BASE_URL"].rstrip("/")


def personal_feed_url(token: str) -> str:
    return f"{base_url()}/feeds/{token}.ics"


def unit_feed_url(token: str, unit_code: str) -> str:
    return f"{base_url()}/feeds/{token}/units/{unit_code}.ics"


def panel_feed_url(token: str, panel_id: int) -> str:
    return f"{base_url()}/feeds/{token}/panels/{panel_id}.ics"


def webcal(url: str) -> str:
    return "webcal://" + url.split("://", 1)[1]


def feed_urls(user: User, token: str | None = None) -> dict:
    """All feed addresses the user may subscribe to: {"personal": URL, "units": [...], "panels": [...]}."""
    token = token or ensure_feed_token(user)
    lang = user.language or "fi"
    return {
        "personal": personal_feed_url(token),
        "units": [
            {"code": u.code, "name": u.localized_name(lang), "url": unit_feed_url(token, u.code)}
            for u in subscribable_units()
        ],
        "panels": [
            {"id": p_id, "name": name, "url": panel_feed_url(token, p_id)} for p_id, name in subscribable_panels()
        ],
    }
