"""Where feed items come from: one small provider per source, each returning plain FeedItems.

Personal feed providers take (user, ctx); the unit and panel feeds have their own. Each provider
runs a constant number of queries and selects only what a feed may carry.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from sqlalchemy import func, select

from ..extensions import db
from ..people.models import Unit, User
from .items import FeedItem

if TYPE_CHECKING:
    from .services import FeedContext


def consultation_items(user: User, ctx: FeedContext) -> Iterable[FeedItem]:
    """Consultations the user booked or hosts (is a consultant of the series)."""
    return []


def panel_items(user: User, ctx: FeedContext) -> Iterable[FeedItem]:
    """Panel sessions the user is invited to, or their own case's time in one."""
    return []


PERSONAL_PROVIDERS: list[Callable[[User, FeedContext], Iterable[FeedItem]]] = [consultation_items, panel_items]


def unit_with_code(code: str) -> Unit | None:
    return db.session.execute(
        select(Unit).where(func.lower(Unit.code) == (code or "").lower(), Unit.is_active.is_(True))
    ).scalar_one_or_none()


def unit_slot_items(unit: Unit, ctx: FeedContext) -> Iterable[FeedItem]:
    """The unit's published consultation hours: times and free/booked only."""
    return []


def subscribable_units() -> list[Unit]:
    return list(db.session.execute(select(Unit).where(Unit.is_active.is_(True)).order_by(Unit.code)).scalars())


def panel_with_id(panel_id: int):
    return None


def panel_session_items(panel, ctx: FeedContext) -> Iterable[FeedItem]:
    return []


def subscribable_panels() -> list[tuple[int, str]]:
    return []
