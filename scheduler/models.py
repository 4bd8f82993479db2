"""Every domain's models, imported in one place so SQLAlchemy's metadata (and Alembic) see them all."""

from .people.models import *  # noqa: F403
