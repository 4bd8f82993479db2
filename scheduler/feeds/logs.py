"""Feed tokens never reach a log: request lines (Werkzeug's, gunicorn's access log) and Flask's
own "Exception on /feeds/…" lines have the token replaced before any handler sees them."""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping

_TOKEN_IN_PATH = re.compile(r"(/feeds/)[A-Za-z0-9_-]{8,}")
REDACTED = r"\1[redacted]"


def redact(text: str) -> str:
    return _TOKEN_IN_PATH.sub(REDACTED, text)


def _clean(value):
    return redact(value) if isinstance(value, str) else value


class RedactFeedTokens(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        if isinstance(record.args, Mapping):
            record.args = {k: _clean(v) for k, v in record.args.items()}
        elif isinstance(record.args, tuple):
            record.args = tuple(_clean(a) for a in record.args)
        return True


LOGGERS = ("werkzeug", "gunicorn.access", "gunicorn.error")


def install(app) -> None:
    for name in (*LOGGERS, app.logger.name):
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactFeedTokens) for f in logger.filters):
            logger.addFilter(RedactFeedTokens())
