"""Calendar subscription feeds: building feeds from the providers' items (addresses: tokens.py).

The providers (providers.py) return plain FeedItems. Each item's VEVENT text is rendered once and
kept, under the item's key and a fingerprint of its content, so a feed is the envelope plus
concatenated texts; DTSTAMP is the item's last change, so an unchanged feed has the same bytes and
ETag. What is kept, and why (figures: README, Benchmarks; bench/feeds.py):

- `_FeedMemo`: this worker's last build of each personal feed (with its gzip), and the state of
  its sources (providers.personal_state_statement, in the token's own statement). While that
  state holds, the feed is served without reading its items: the usual poll within 2× of serving
  the same bytes from memory (reading the items again: 5× and more).
- `_Memory`: this worker's item texts, so a feed in which one item changed reads and renders
  only what changed.
- the `feed_render_cache` table: item texts shared by all workers and kept over restarts, so a
  fresh worker does not render every event again (rendering is ~0.3 ms an event).

Statements per personal feed, whatever its size: one (the token, its user and the state); on a
change, also the user, four item queries, one for texts missing from memory and one upsert of new
texts.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cache
from operator import attrgetter

from flask import current_app
from flask_babel import force_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import String, bindparam, cast, func, select
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import DBAPIError

from ..core.db import utcnow
from ..core.errors import NotFound
from ..extensions import db
from ..people.models import User
from .ical import calendar_head, calendar_tail, render_vevent
from .items import CANCELLED, FeedItem
from .models import FeedRenderCache
from .providers import (
    PERSONAL_PROVIDERS,
    panel_session_items,
    panel_with_id,
    personal_state_statement,
    unit_slot_items,
    unit_with_code,
)
from .tokens import (  # noqa: F401  (the feeds API: views, API endpoints and the CLI use these from here)
    base_url,
    ensure_feed_token,
    feed_urls,
    note_use,
    panel_feed_url,
    personal_feed_url,
    reset_feed_token,
    token_digest,
    token_holds,
    token_owner,
    unit_feed_url,
    user_for_feed_token,
    webcal,
)

# Raise when the VEVENT layout changes: every cached text is then rendered anew.
RENDER_VERSION = "1"
PAST_DAYS = 90  # the window: the past 90 days and the future
CANCELLED_DAYS = 30  # a cancelled item stays (as STATUS:CANCELLED) this long after its cancellation


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
    # the moment the window drops one of its items (the clock alone changes the feed then)
    stale_after: datetime | None = None
    _packed: list[bytes] = field(default_factory=list, compare=False, repr=False)

    def gzipped(self) -> bytes:
        """The body compressed, once per built feed: an unchanged personal feed is the same
        BuiltFeed (kept in _FeedMemo), so it is compressed once, not per request."""
        if not self._packed:
            self._packed.append(gzip.compress(self.body, compresslevel=6, mtime=0))
        return self._packed[0]


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


class _FeedMemo:
    """This process's last build of each personal feed, with the state it was built from (see
    providers.personal_state_statement) and the moment it was built. While the state is the same
    and the clock has not reached the feed's stale_after, the feed is the same bytes: it is served
    without reading its items. Bounded in size."""

    def __init__(self, max_bytes: int = 64 * 1024 * 1024):
        self.data: dict[tuple, tuple[tuple, datetime, BuiltFeed]] = {}
        self.size = 0
        self.max_bytes = max_bytes
        self._lock = threading.Lock()

    def get(self, key: tuple, state: tuple, now: datetime) -> BuiltFeed | None:
        hit = self.data.get(key)
        if hit is None or hit[0] != state:
            return None
        built_at, feed = hit[1], hit[2]
        # a clock that went back (a test's `now`) may show items the build had dropped
        if now < built_at or (feed.stale_after is not None and now > feed.stale_after):
            return None
        return feed

    def put(self, key: tuple, state: tuple, now: datetime, feed: BuiltFeed) -> None:
        with self._lock:
            old = self.data.pop(key, None)
            if old is not None:
                self.size -= len(old[2].body)
            self.data[key] = (state, now, feed)
            self.size += len(feed.body)
            while self.size > self.max_bytes and self.data:
                _, (_, _, dropped) = _pop_first(self.data)
                self.size -= len(dropped.body)

    def clear(self) -> None:
        with self._lock:
            self.data.clear()
            self.size = 0


_feed_memo = _FeedMemo()


def forget_rendered_in_memory(*, feeds: bool = True) -> None:
    """Drop this process's copies of item texts and (feeds=False: not) of whole feeds; the table
    stays."""
    _memory.clear()
    if feeds:
        _feed_memo.clear()


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
    return BuiltFeed(body=data, etag=hashlib.sha256(data).hexdigest()[:32], count=len(kept), rendered=len(fresh),
                     stale_after=_stale_after(kept))


def _stale_after(kept: list[FeedItem]) -> datetime | None:
    """When the first of these items leaves the window (see _keeper): past its end by PAST_DAYS, or
    cancelled for CANCELLED_DAYS. Nothing enters the window by the clock alone (it has no end)."""
    past, cancelled = timedelta(days=PAST_DAYS), timedelta(days=CANCELLED_DAYS)
    return min((min(i.end + past, i.updated_dt + cancelled) if i.status == CANCELLED else i.end + past
                for i in kept), default=None)


def _context(user: User, now: datetime | None) -> FeedContext:
    return FeedContext(lang=user.language or "fi", now=now or utcnow(), base_url=base_url())


def _collect(providers: Iterable[Callable[..., Iterable[FeedItem]]], *args) -> list[FeedItem]:
    """Every provider's items; one item per UID (the earlier provider's)."""
    items: list[FeedItem] = []
    seen: set[str] = set()
    for provider in providers:
        for item in provider(*args):
            if item.uid not in seen:
                seen.add(item.uid)
                items.append(item)
    return items


@cache
def _state_by_token():
    return personal_state_statement(token_owner())


@cache
def _state_by_user():
    return personal_state_statement(select(User.id).where(User.id == bindparam("user_id")).cte("me"))


def _window(now: datetime) -> dict:
    return {"window_start": now - timedelta(days=PAST_DAYS), "cancelled_since": now - timedelta(days=CANCELLED_DAYS)}


def personal_feed_for_token(raw: str, *, now: datetime | None = None) -> BuiltFeed | None:
    """The personal feed behind a feed address, or None (an unknown or replaced token, an inactive
    user). The token, its user and the feed's state come in one statement: an unchanged feed (a
    poll, a 304) costs that one statement, whatever the number of items."""
    digest = token_digest(raw)
    if digest is None:
        return None
    now = now or utcnow()
    rows = db.session.connection().execute(_state_by_token(), {"digest": digest, **_window(now)}).all()
    if not rows:
        return None
    user_id, is_active, language, nonce, last_used_dt = rows[0][:5]
    if not token_holds(raw, nonce, is_active):
        return None
    note_use(user_id, last_used_dt, now)
    return _personal(user_id, language or "fi", [r[5:] for r in rows], now)


def personal_feed(user: User, *, now: datetime | None = None) -> BuiltFeed:
    """The consultations the user booked or hosts and the panel times they are invited to."""
    now = now or utcnow()
    rows = db.session.connection().execute(_state_by_user(), {"user_id": user.id, **_window(now)}).all()
    return _personal(user.id, user.language or "fi", [r[1:] for r in rows], now, user)


def _personal(user_id: int, lang: str, groups: list, now: datetime, user: User | None = None) -> BuiltFeed:
    """From the state of its sources: unchanged since this process last built the feed, the same
    feed again; otherwise the items, and texts from the caches."""
    ctx = FeedContext(lang=lang, now=now, base_url=base_url())
    key = ("personal", user_id, ctx.lang, ctx.base_url, current_app.config["APP_TIMEZONE"])
    # one row per group, in no particular order; none when `me` has no groups (the outer join)
    state = tuple(sorted((tuple(g) for g in groups if g[0] is not None), key=lambda g: (g[0], g[1] or 0)))
    feed = _feed_memo.get(key, state, now)
    if feed is not None:
        return feed
    if user is None:
        user = db.session.get(User, user_id)
        assert user is not None
    with force_locale(ctx.lang):
        name = _("Consultations and expert panel")
        items = _collect(PERSONAL_PROVIDERS, user, ctx)
        feed = build_feed(name, items, ctx)
    _feed_memo.put(key, state, now, feed)
    return feed


def unit_feed(user: User, unit_code: str, *, now: datetime | None = None) -> BuiltFeed:
    """A unit's published consultation hours: times and free/booked, nothing else."""
    unit = unit_with_code(unit_code)
    if unit is None:
        raise NotFound(str(_l("No such feed.")))
    ctx = _context(user, now)
    with force_locale(ctx.lang):
        name = _("Consultation hours: %(unit)s", unit=unit.localized_name(ctx.lang))
        return build_feed(name, unit_slot_items(unit, ctx), ctx)


def panel_feed(user: User, panel_id: int, *, now: datetime | None = None) -> BuiltFeed:
    """A panel's session dates."""
    panel = panel_with_id(panel_id)
    if panel is None:
        raise NotFound(str(_l("No such feed.")))
    ctx = _context(user, now)
    with force_locale(ctx.lang):
        name = _("Expert panel sessions: %(panel)s", panel=panel.localized_name(ctx.lang))
        return build_feed(name, panel_session_items(panel, ctx), ctx)


def clear_render_cache() -> int:
    result = db.session.execute(FeedRenderCache.__table__.delete())
    return result.rowcount or 0
