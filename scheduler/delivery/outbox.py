"""The outbox: every e-mail and Graph call is written here in the transaction that causes it."""


def init_app(app) -> None:
    """Outbox handlers, admin pages, `outbox` CLI, signal receivers."""
