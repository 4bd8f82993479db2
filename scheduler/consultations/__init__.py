"""Consultation hours: recurring two-way consultation series, their slots and bookings."""


def init_app(app) -> None:
    """Register this domain's blueprint, navigation, CLI commands and signal receivers."""
    from ..core.signals import teams_meeting_ready
    from .services import set_join_url

    def on_teams_meeting_ready(meeting_key, join_url=None, **_kw):
        set_join_url(meeting_key, join_url)

    # weak=False: the receiver is a closure that would otherwise be collected
    teams_meeting_ready.connect(on_teams_meeting_ready, weak=False)
    try:
        from .views import init_views
    except ImportError:  # pages not written yet
        return
    init_views(app)
