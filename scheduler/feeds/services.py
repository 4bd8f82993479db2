"""Calendar subscription feeds: secret addresses and building feeds from the providers' items.

Tokens: 192 bits, HMAC(key from SECRET_KEY, a random nonce kept per user); only SHA-256 of the
token is looked up. Feeds: the providers (providers.py) return plain FeedItems; each item's
VEVENT text is kept in `feed_render_cache` under its key and a fingerprint of its content, and
a feed is the envelope plus the concatenated texts. A feed costs a constant number of queries:
the token (with its user), one per provider, one for the cached texts, and one upsert when
something changed.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import secrets
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from operator import attrgetter

from flask import current_app
from flask_babel import force_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import String, bindparam, cast, func, select, update
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import contains_eager

from ..core.db import utcnow
from ..core.errors import NotFound
from ..extensions import db
from ..people.models import User
from .ical import calendar_head, calendar_tail, render_vevent
from .items import CANCELLED, FeedItem
from .models import FeedRenderCache, FeedToken

# Raise when the VEVENT layout changes: every cached text is then rendered anew.
RENDER_VERSION = "1"
PAST_DAYS = 90  # the window: the past 90 days and the future
CANCELLED_DAYS = 30  # a cancelled item stays (as STATUS:CANCELLED) this long after its cancellation
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


def ensure_feed_token(user: User) -> str:
    """The user's feed token, creating it when the user has none yet.

    Creation runs in its own short transaction (insert-if-absent, safe when two requests race) so
    that a read-only page can show the address; the calling request's unit of work is untouched.
    """
    row = db.session.get(FeedToken, user.id)
    if row is None:
        nonce = _new_nonce()
        table = FeedToken.__table__
        with db.engine.begin() as conn:
            stmt = (pg_insert if conn.dialect.name == "postgresql" else sqlite_insert)(table).values(
                user_id=user.id, nonce=nonce, token_hash=_sha256(_derive(nonce)), created_dt=utcnow()
            ).on_conflict_do_nothing(index_elements=["user_id"])
            conn.execute(stmt)
        row = db.session.get(FeedToken, user.id, populate_existing=True)
        assert row is not None
    raw = _derive(row.nonce)
    digest = _sha256(raw)
    if not hmac.compare_digest(row.token_hash, digest):
        # SECRET_KEY was changed: the address changes with it (the old one no longer resolves).
        db.session.execute(update(FeedToken).where(FeedToken.user_id == user.id).values(token_hash=digest))
        db.session.flush()
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


def user_for_feed_token(raw: str, *, now: datetime | None = None) -> User | None:
    """The active user whose feed token this is, or None. One query (token and user together)."""
    if not raw or not _TOKEN_RE.match(raw):
        return None
    digest = _sha256(raw)
    row = db.session.execute(
        select(FeedToken).join(FeedToken.user).options(contains_eager(FeedToken.user))
        .where(FeedToken.token_hash == digest)
    ).scalar_one_or_none()
    # found by its hash; compared again in constant time all the same
    if row is None or not hmac.compare_digest(row.token_hash, digest) or not row.user.is_active:
        return None
    now = now or utcnow()
    if row.last_used_dt is None or now - row.last_used_dt > _LAST_USED_EVERY:
        row.last_used_dt = now  # written at most hourly: polling stays read-only
    return row.user


# --- addresses ---------------------------------------------------------------------------------

def _base() -> str:
    return current_app.config["BASE_URL"].rstrip("/")


def personal_feed_url(token: str) -> str:
    return f"{_base()}/feeds/{token}.ics"


def unit_feed_url(token: str, unit_code: str) -> str:
    return f"{_base()}/feeds/{token}/units/{unit_code}.ics"


def panel_feed_url(token: str, panel_id: int) -> str:
    return f"{_base()}/feeds/{token}/panels/{panel_id}.ics"


def webcal(url: str) -> str:
    return "webcal://" + url.split("://", 1)[1]


def feed_urls(user: User, token: str | None = None) -> dict:
    """All feed addresses the user may subscribe to: {"personal": URL, "units": [...], "panels": [...]}."""
    from .providers import subscribable_panels, subscribable_units

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


# --- building a feed ---------------------------------------------------------------------------

@dataclass(frozen=True)
class FeedContext:
    """What providers need besides their subject: the feed's language, the clock and the window."""

    lang: str
    now: datetime
    base_url: str

    @property
    def window_start(self) -> datetime:
        return self.now - timedelta(days=PAST_DAYS)

    @property
    def cancelled_since(self) -> datetime:
        return self.now - timedelta(days=CANCELLED_DAYS)

    def url(self, path: str) -> str:
        return self.base_url + path

    def keeps(self, item: FeedItem) -> bool:
        return _keeper(self)(item)


def _keeper(ctx: FeedContext) -> Callable[[FeedItem], bool]:
    window_start, cancelled_since = ctx.window_start, ctx.cancelled_since

    def keep(item: FeedItem) -> bool:
        if item.end < window_start:
            return False
        return item.status != CANCELLED or item.updated_dt >= cancelled_since

    return keep


@dataclass(frozen=True)
class BuiltFeed:
    body: bytes
    etag: str  # the hex digest, without quotes
    count: int
    rendered: int  # items rendered anew for this request (in no cache)


class _Memory:
    """This process's copy of recently used texts: cache key → (the item, its bytes), bounded in
    size. In front of the table, so a warm feed reads no rendered text from the database; an
    entry counts only while the item is equal to the one it was rendered from."""

    def __init__(self, max_bytes: int = 64 * 1024 * 1024):
        self.data: dict[str, tuple[FeedItem, bytes]] = {}
        self.size = 0
        self.max_bytes = max_bytes
        self._lock = threading.Lock()

    def put(self, key: str, item: FeedItem, body: bytes) -> None:
        with self._lock:
            old = self.data.pop(key, None)
            if old is not None:
                self.size -= len(old[1])
            self.data[key] = (item, body)
            self.size += len(body)
            while self.size > self.max_bytes and self.data:  # oldest first
                _, (_, dropped) = _pop_first(self.data)
                self.size -= len(dropped)

    def clear(self) -> None:
        with self._lock:
            self.data.clear()
            self.size = 0


def _pop_first(d: dict):
    key = next(iter(d))
    return key, d.pop(key)


_memory = _Memory()


def forget_rendered_in_memory() -> None:
    """Drop this process's copies (the table stays)."""
    _memory.clear()


def _labels() -> dict[str, str]:
    return {"open": _("Open in the service"), "join": _("Join the meeting")}


def _version(salt: str, fingerprint: str) -> str:
    return hashlib.sha256((salt + fingerprint).encode()).hexdigest()[:40]


def _cached_texts(keys: list[str]) -> dict[str, tuple[str, str]]:
    """cache_key → (version, body) for the given keys, in one query with one parameter (a JSON
    list), whatever the number of keys (no IN list of thousands of placeholders)."""
    if not keys:
        return {}
    c = FeedRenderCache
    param = bindparam("keys", json.dumps(keys), type_=String)
    if db.session.get_bind().dialect.name == "postgresql":
        src = func.jsonb_array_elements_text(cast(param, JSONB)).table_valued("value")
    else:
        src = func.json_each(param).table_valued("value")
    rows = db.session.execute(select(c.cache_key, c.version, c.body).where(c.cache_key.in_(select(src.c.value))))
    return {k: (v, b) for k, v, b in rows}


def _store_texts(rows: list[dict]) -> None:
    """Upsert rendered texts (one executemany). The cache is an optimisation: if another request
    writes the same rows at the same moment and the database objects, the feed is served anyway."""
    if not rows:
        return
    rows.sort(key=lambda r: r["cache_key"])  # one lock order for concurrent writers
    conn = db.session.connection()
    ins = (pg_insert if conn.dialect.name == "postgresql" else sqlite_insert)(FeedRenderCache.__table__)
    stmt = ins.on_conflict_do_update(
        index_elements=["cache_key"],
        set_={"version": ins.excluded.version, "body": ins.excluded.body, "rendered_dt": ins.excluded.rendered_dt},
    )
    try:
        with db.session.begin_nested():
            db.session.connection().execute(stmt, rows)
    except DBAPIError as exc:
        current_app.logger.warning("feeds: render cache not updated (%s)", type(exc).__name__)


def build_feed(name: str, items: Iterable[FeedItem], ctx: FeedContext, tz_name: str | None = None) -> BuiltFeed:
    """The calendar text of `items` (filtered to the window), reusing each unchanged item's text:
    from this process's memory, else from the table (one query for all), else rendered now."""
    tz_name = tz_name or current_app.config["APP_TIMEZONE"]
    kept = sorted(filter(_keeper(ctx), items), key=attrgetter("start", "uid"))
    labels = _labels()
    salt = f"{RENDER_VERSION}\x1f{tz_name}\x1f{labels['open']}\x1f{labels['join']}\x1f"
    prefix = f"{ctx.lang}:"
    mem_prefix = hashlib.sha256(salt.encode()).hexdigest()[:8] + ":"
    memory = _memory.data
    bodies: list[bytes | None] = []
    wanted: list[tuple[int, str, FeedItem]] = []  # not in memory: (position, key, item)
    for item in kept:
        key = prefix + item.key
        hit = memory.get(mem_prefix + key)
        if hit is not None and hit[0] == item:
            bodies.append(hit[1])
        else:
            wanted.append((len(bodies), key, item))
            bodies.append(None)
    fresh: list[dict] = []
    if wanted:
        stored = _cached_texts([w[1] for w in wanted])
        now = utcnow()
        for pos, key, item in wanted:
            version = _version(salt, item.fingerprint())
            row = stored.get(key)
            if row is not None and row[0] == version:
                text = row[1]
            else:
                text = render_vevent(item, labels, tz_name)
                fresh.append({"cache_key": key, "version": version, "body": text, "rendered_dt": now})
            body = text.encode("utf-8")
            bodies[pos] = body
            _memory.put(mem_prefix + key, item, body)
        _store_texts(fresh)
    data = b"".join([calendar_head(name, tz_name).encode("utf-8"), *bodies, calendar_tail().encode()])  # type: ignore[list-item]
    return BuiltFeed(body=data, etag=hashlib.sha256(data).hexdigest()[:32], count=len(kept), rendered=len(fresh))


def _context(user: User, now: datetime | None) -> FeedContext:
    return FeedContext(lang=user.language or "fi", now=now or utcnow(), base_url=_base())


def _collect(providers: Iterable[Callable[..., Iterable[FeedItem]]], *args) -> list[FeedItem]:
    items: list[FeedItem] = []
    for provider in providers:
        items.extend(provider(*args))
    return items


def personal_feed(user: User, *, now: datetime | None = None) -> BuiltFeed:
    """The consultations the user booked or hosts and the panel times they are invited to."""
    from .providers import PERSONAL_PROVIDERS

    ctx = _context(user, now)
    with force_locale(ctx.lang):
        name = _("Consultations and expert panel")
        items = _collect(PERSONAL_PROVIDERS, user, ctx)
        return build_feed(name, items, ctx)


def unit_feed(user: User, unit_code: str, *, now: datetime | None = None) -> BuiltFeed:
    """A unit's published consultation hours: times and free/booked, nothing else."""
    from .providers import unit_slot_items, unit_with_code

    unit = unit_with_code(unit_code)
    if unit is None:
        raise NotFound(str(_l("No such feed.")))
    ctx = _context(user, now)
    with force_locale(ctx.lang):
        name = _("Consultation hours: %(unit)s", unit=unit.localized_name(ctx.lang))
        return build_feed(name, unit_slot_items(unit, ctx), ctx)


def panel_feed(user: User, panel_id: int, *, now: datetime | None = None) -> BuiltFeed:
    """A panel's session dates."""
    from .providers import panel_session_items, panel_with_id

    panel = panel_with_id(panel_id)
    if panel is None:
        raise NotFound(str(_l("No such feed.")))
    ctx = _context(user, now)
    with force_locale(ctx.lang):
        name = _("Expert panel sessions: %(panel)s", panel=panel.name)
        return build_feed(name, panel_session_items(panel, ctx), ctx)


def clear_render_cache() -> int:
    result = db.session.execute(FeedRenderCache.__table__.delete())
    return result.rowcount or 0
