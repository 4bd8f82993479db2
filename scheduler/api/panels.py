"""/api/v1 endpoints for panels: thin, calling scheduler.panels.services."""

from __future__ import annotations
