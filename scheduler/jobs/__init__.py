"""Background jobs (APScheduler 3): set-up, leader election and the job list, registered in one place."""


def init_app(app) -> None:
    """Register the `scheduler` CLI group; start the scheduler in-process when SCHEDULER_ENABLED."""
