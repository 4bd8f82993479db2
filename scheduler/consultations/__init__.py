"""Consultation hours: recurring two-way consultation series, their slots and bookings."""


def init_app(app) -> None:
    """Register this domain's blueprint, navigation, CLI commands and signal receivers."""
