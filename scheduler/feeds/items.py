"""What a feed is made of: plain items, produced by the providers (one per source domain).

An item carries only what may leave the system: the service and the kind of meeting, times, a
status, the join link and a link into the app. Never a case reference, question, background or
advice.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

CONFIRMED = "CONFIRMED"
CANCELLED = "CANCELLED"
TENTATIVE = "TENTATIVE"


@dataclass(frozen=True, slots=True)
class FeedItem:
    key: str  # unique per source object and view of it, e.g. "booking:12"; the render cache key
    uid: str  # the iCalendar UID: stable across requests (the object's ical_uid where it has one)
    start: datetime  # aware
    end: datetime  # aware
    summary: str  # the service and the kind of meeting, in the feed's language
    status: str  # CONFIRMED, TENTATIVE or CANCELLED
    updated_dt: datetime  # the item's last change: DTSTAMP and LAST-MODIFIED
    url: str  # into the app
    sequence: int = 0
    join_url: str | None = None
    transparent: bool = False  # True: does not block the subscriber's free/busy time (open slots)

    def fingerprint(self) -> str:
        """Everything the rendered text depends on, as one string (hashed into the cache version)."""
        return (
            f"{self.uid}\x1f{self.start.timestamp()}\x1f{self.end.timestamp()}\x1f{self.summary}\x1f{self.status}"
            f"\x1f{self.updated_dt.timestamp()}\x1f{self.url}\x1f{self.sequence}\x1f{self.join_url}\x1f{self.transparent}"
        )
