"""/api/v1 endpoints for consultations: thin, calling scheduler.consultations.services."""

from __future__ import annotations
