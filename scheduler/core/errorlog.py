"""Logs never hold a case.

A request's body, an SQL statement's parameters and an exception's message can all carry what a
social worker typed (a case reference, a question, the panel's advice). So:

- the engine runs with `hide_parameters=True` (set in config.py and enforced in create_app), so
  SQLAlchemy neither logs nor puts the parameters into its exceptions' text;
- an unhandled error is logged by `log_exception_safely`: the request's method and path (ids only,
  no query string, no body), the exception's class and its causes, the SQLSTATE and the SQL
  statement with its placeholders, and where it happened (file, line, function): never the
  exception's message, which may quote the input (PostgreSQL's "invalid input syntax … "canary"",
  Python's "Invalid isoformat string: '…'");
- a database `DataError` (a value the database refuses: a NUL byte, a too-long text, a number out of
  range) and a value the driver cannot encode (a lone surrogate) are the caller's input, so they are a
  422, not a 500, and are logged with their class and SQLSTATE only;
- SQLAlchemy's result-row lines (logged at DEBUG when someone turns on `echo="debug"`) are dropped:
  a row of `panel_cases` is a case.
"""

from __future__ import annotations

import logging
import traceback
from typing import Any

from flask import Flask, jsonify, render_template, request
from flask_babel import lazy_gettext as _l
from sqlalchemy.exc import DataError, StatementError

from ..extensions import db

log = logging.getLogger(__name__)


def _chain(exc: BaseException | None) -> list[BaseException]:
    seen: list[BaseException] = []
    while exc is not None and exc not in seen and len(seen) < 10:
        seen.append(exc)
        exc = exc.__cause__ or exc.__context__
    return seen


def _describe(exc: BaseException) -> str:
    parts = []
    for e in _chain(exc):
        name = f"{type(e).__module__}.{type(e).__qualname__}"
        orig = getattr(e, "orig", None)
        code = getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)
        parts.append(name + (f" (SQLSTATE {code})" if code else ""))
    return " <- ".join(parts)


def safe_exception_text(exc: BaseException) -> str:
    """The class chain, SQL statement (placeholders only) and frames of an exception, without any
    message text."""
    lines = [_describe(exc)]
    statement = getattr(exc, "statement", None)
    if isinstance(statement, str):
        lines.append("statement: " + " ".join(statement.split())[:1000])
    for e in reversed(_chain(exc)):
        for frame in traceback.extract_tb(e.__traceback__):
            lines.append(f'  File "{frame.filename}", line {frame.lineno}, in {frame.name}')
    return "\n".join(lines)


def log_exception_safely(app: Flask, exc_info: Any) -> None:
    """Replaces Flask's `log_exception`, which logs the exception's message and traceback."""
    exc = exc_info[1] if isinstance(exc_info, tuple) else exc_info
    app.logger.error("Exception on %s [%s]: %s", request.path, request.method,
                     safe_exception_text(exc) if exc is not None else "?")


def is_input_refused_by_database(exc: BaseException) -> bool:
    if isinstance(exc, DataError | UnicodeError):
        return True
    return isinstance(exc, StatementError) and isinstance(getattr(exc, "orig", None), UnicodeError)


def _no_result_rows(record: logging.LogRecord) -> bool:
    return not (isinstance(record.msg, str) and record.msg.startswith(("Row ", "Col ")))


def init_app(app: Flask) -> None:
    options = app.config.setdefault("SQLALCHEMY_ENGINE_OPTIONS", {})
    options.setdefault("hide_parameters", True)  # a test or deployment may still say otherwise
    app.log_exception = lambda exc_info: log_exception_safely(app, exc_info)  # type: ignore[method-assign]
    engine_log = logging.getLogger("sqlalchemy.engine.Engine")
    if _no_result_rows not in engine_log.filters:
        engine_log.addFilter(_no_result_rows)

    @app.errorhandler(StatementError)
    @app.errorhandler(UnicodeError)  # the driver could not encode a value (a lone surrogate): input, not a fault
    def database_refused(exc: Exception):
        db.session.rollback()
        if not is_input_refused_by_database(exc):
            log_exception_safely(app, exc)
            return _answer(500, "server_error",
                           str(_l("Something went wrong on our side. Nothing was saved. Please try again.")))
        log.info("the database refused a value: %s", _describe(exc))
        return _answer(422, "validation_failed", str(_l("A value could not be stored. Check what you wrote.")))


def _answer(status: int, code: str, message: str):
    if request.path.startswith("/api/"):
        return jsonify(error={"code": code, "message": message, "fields": {}}), status
    return render_template("core/error.html", status=status, message=message), status
