"""Delivery: the outbox, e-mail (iMIP invitations), Microsoft Graph (Teams), background jobs."""


def init_app(app) -> None:
    from .microsoft import init_app as microsoft_init
    from .outbox import init_app as outbox_init

    outbox_init(app)
    microsoft_init(app)
