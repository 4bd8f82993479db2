"""/api/v1 endpoints for feeds: thin, calling scheduler.feeds.services."""

from __future__ import annotations
