"""The WSGI entry point: `flask --app app …` and `gunicorn 'app:app'`."""

import sys

from scheduler import create_app
from scheduler.config import ConfigError

try:
    app = create_app()
except ConfigError as exc:  # a missing or malformed setting: say which, without a traceback
    sys.exit(f"{exc}\nThe settings are listed in README.md (Settings).")
