"""Every domain's models, imported in one place so SQLAlchemy's metadata (and Alembic) see them all."""

from .people.models import *  # noqa: F403
from .people.access_log import *  # noqa: F403
from .consultations.models import *  # noqa: F403
from .panels.models import *  # noqa: F403
from .panels.attendance import SessionAttendance  # noqa: F401
from .delivery.models import *  # noqa: F403
from .feeds.models import *  # noqa: F403
from .delivery.microsoft_models import *  # noqa: F403
from .ops.models import *  # noqa: F403
