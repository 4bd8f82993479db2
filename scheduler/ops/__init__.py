"""Operations: metrics (/metrics), readiness (/readyz), alerts to administrators, `flask check-setup`,
JSON logs with a request id, and the record of background job runs."""

from ..jobs import register_job
from .alerts import connect_receivers, digest_job
from .cli import register as register_cli
from .logging import install as install_logging
from .metrics import init_app as metrics_init
from .views import init_app as views_init


def init_app(app) -> None:
    install_logging(app)
    views_init(app)
    metrics_init(app)
    register_cli(app)
    connect_receivers()
    register_job(app, "ops-failed-digest", digest_job, {"trigger": "interval", "minutes": 30})
