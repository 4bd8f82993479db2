"""Consultation hours: recurring two-way consultation series, their slots and bookings."""

from __future__ import annotations

from flask import Flask

from ..core.signals import teams_meeting_ready
from ..jobs import register_retention
from . import notifications, retention
from .services import set_join_url
from .views import init_views


def init_app(app: Flask) -> None:
    """Register this domain's pages, navigation, notifications, jobs and signal receivers."""
    teams_meeting_ready.connect(set_join_url)  # keep the Teams link on the booking
    init_views(app)
    notifications.init_app(app)
    register_retention(app, "consultations", retention.retention_step, retention.LABELS)
