"""Settings come from the environment; the embedded defaults make `make run` work on a laptop."""

from __future__ import annotations

import ipaddress
import os
import secrets
from pathlib import Path
from urllib.parse import urlparse
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


class ConfigError(RuntimeError):
    """A setting is missing or malformed; start-up stops with this message."""


def _bool(value: str | None, default: bool = False) -> bool:
    if value is None or value == "":
        return default
    v = value.strip().lower()
    if v in {"1", "true", "yes", "on"}:
        return True
    if v in {"0", "false", "no", "off"}:
        return False
    raise ValueError(f"expected a yes/no value, got {value!r}")


def _int(name: str, env: dict[str, str], default: int) -> int:
    raw = env.get(name)
    if raw in (None, ""):
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise ConfigError(f"{name} must be a whole number, got {raw!r}") from exc


def load_config(instance_path: str, env: dict[str, str] | None = None) -> dict:
    """Read the environment into a Flask config dict, validating it.

    In production (APP_ENV=production) SECRET_KEY, BASE_URL and DATABASE_URL are required.
    """
    env = dict(os.environ if env is None else env)
    errors: list[str] = []
    app_env = env.get("APP_ENV", "development").strip().lower()
    production = app_env == "production"

    database_url = env.get("DATABASE_URL") or ""
    if not database_url:
        if production:
            errors.append("DATABASE_URL is required in production (postgresql+psycopg://user@host/db)")
        database_url = "sqlite:///" + str(Path(instance_path) / "scheduler.sqlite3")
    elif database_url.startswith("postgres://") or database_url.startswith("postgresql://"):
        # psycopg 3 is the driver we ship; accept the common spellings.
        database_url = "postgresql+psycopg://" + database_url.split("://", 1)[1]
    elif not (database_url.startswith("sqlite:") or database_url.startswith("postgresql+psycopg://")):
        errors.append(f"DATABASE_URL must be a sqlite:/// or postgresql+psycopg:// URL, got {database_url.split(':')[0]}:…")

    secret_key = env.get("SECRET_KEY") or ""
    if not secret_key:
        if production:
            errors.append("SECRET_KEY is required in production (at least 32 random characters)")
        secret_key = _dev_secret(instance_path)
    elif production and len(secret_key) < 32:
        errors.append("SECRET_KEY must be at least 32 characters long")

    base_url = (env.get("BASE_URL") or "").rstrip("/")
    if not base_url:
        if production:
            errors.append("BASE_URL is required in production (e.g. https://konsultaatio.example.fi)")
        base_url = "http://127.0.0.1:5000"
    parsed = urlparse(base_url)
    if parsed.scheme not in {"http", "https"} or not parsed.netloc:
        errors.append(f"BASE_URL must be an http(s) address, got {base_url!r}")
    elif production and parsed.scheme != "https" and env.get("BASE_URL"):
        errors.append("BASE_URL must use https in production")
    https = parsed.scheme == "https"

    tz_name = env.get("APP_TIMEZONE") or "Europe/Helsinki"
    try:
        ZoneInfo(tz_name)
    except (ZoneInfoNotFoundError, ValueError):
        errors.append(f"APP_TIMEZONE {tz_name!r} is not a known time zone")

    try:
        smtp_starttls = _bool(env.get("SMTP_STARTTLS"), default=False)
        scheduler_enabled = _bool(env.get("SCHEDULER_ENABLED"), default=False)
    except ValueError as exc:
        errors.append(f"SMTP_STARTTLS/SCHEDULER_ENABLED: {exc}")
        smtp_starttls = scheduler_enabled = False
    try:
        jobs_expected = _bool(env.get("JOBS_EXPECTED"), default=False)
    except ValueError as exc:
        errors.append(f"JOBS_EXPECTED: {exc}")
        jobs_expected = False

    # Operations (scheduler/ops): who may read /metrics, the log format
    metrics_networks = []
    for part in (env.get("METRICS_ALLOWED_NETWORKS") or "127.0.0.0/8,::1").replace(" ", ",").split(","):
        if part:
            try:
                metrics_networks.append(ipaddress.ip_network(part, strict=False))
            except ValueError:
                errors.append(f"METRICS_ALLOWED_NETWORKS: {part!r} is not an address or network (10.0.0.0/8)")
    log_format = (env.get("LOG_FORMAT") or "text").strip().lower()
    if log_format not in {"text", "json"}:
        errors.append(f"LOG_FORMAT must be text or json, got {log_format!r}")
        log_format = "text"

    ints = {}
    for name, default in [
        ("SMTP_PORT", 25),
        ("SESSION_IDLE_MINUTES", 30),
        ("SESSION_MAX_HOURS", 12),
        ("LOGIN_MAX_FAILURES", 5),
        ("LOGIN_MAX_FAILURES_PER_ADDRESS", 30),
        ("LOGIN_LOCK_MINUTES", 15),
        ("REMINDER_HOURS", 24),
        ("ATTENDANCE_WARNING_DAYS", 3),
        ("TRUSTED_PROXY_COUNT", 0),
        ("JOBS_STALE_MINUTES", 5),
        ("ALERT_JOBS_STALLED_MINUTES", 15),
    ]:
        try:
            ints[name] = _int(name, env, default)
        except ConfigError as exc:
            errors.append(str(exc))
            ints[name] = default
        else:
            lowest = 0 if name in {"TRUSTED_PROXY_COUNT", "REMINDER_HOURS"} else 1
            highest = 65535 if name == "SMTP_PORT" else 100_000
            if not lowest <= ints[name] <= highest:
                errors.append(f"{name} must be between {lowest} and {highest}, got {ints[name]}")
                ints[name] = default

    smtp_host = env.get("SMTP_HOST") or ""
    mail_from = env.get("MAIL_FROM") or ""
    if smtp_host and not mail_from and production:
        errors.append("MAIL_FROM is required when SMTP_HOST is set")
    if not mail_from:
        mail_from = "no-reply@" + (parsed.hostname or "localhost")
    elif not _looks_like_address(mail_from):
        errors.append(f"MAIL_FROM must be an e-mail address (name@example.fi), got {mail_from!r}")
    # Law 306/2019: the accessibility statement names a feedback channel answered within 14 days, so
    # it must be a mailbox somebody reads: never the no-reply sender. ACCESSIBILITY_CONTACT is the
    # setting's earlier name and is still read.
    feedback_name = "ACCESSIBILITY_FEEDBACK_EMAIL"
    accessibility_contact = (env.get(feedback_name) or "").strip()
    if not accessibility_contact and (env.get("ACCESSIBILITY_CONTACT") or "").strip():
        feedback_name = "ACCESSIBILITY_CONTACT"
        accessibility_contact = env["ACCESSIBILITY_CONTACT"].strip()
    if not accessibility_contact:
        if production:
            errors.append("ACCESSIBILITY_FEEDBACK_EMAIL is required in production: the accessibility statement's "
                          "feedback address, a mailbox that is read (law 306/2019)")
    elif not _looks_like_address(accessibility_contact):
        errors.append(f"{feedback_name} must be an e-mail address, got {accessibility_contact!r}")
    elif _bare_address(accessibility_contact) == _bare_address(mail_from):
        errors.append(f"{feedback_name} must be a mailbox that is read, not the sender address MAIL_FROM")

    graph_keys = ["GRAPH_TENANT_ID", "GRAPH_CLIENT_ID", "GRAPH_CLIENT_SECRET", "GRAPH_ORGANIZER"]
    graph_set = [k for k in graph_keys if env.get(k)]
    if graph_set and len(graph_set) != len(graph_keys):
        missing = ", ".join(k for k in graph_keys if not env.get(k))
        errors.append(f"Teams needs all of GRAPH_TENANT_ID, GRAPH_CLIENT_ID, GRAPH_CLIENT_SECRET, GRAPH_ORGANIZER; missing {missing}")
    graph_authority = (env.get("GRAPH_AUTHORITY_URL") or "https://login.microsoftonline.com").rstrip("/")
    graph_api = (env.get("GRAPH_API_URL") or "https://graph.microsoft.com/v1.0").rstrip("/")
    for name, value in [("GRAPH_AUTHORITY_URL", graph_authority), ("GRAPH_API_URL", graph_api)]:
        if not value.startswith("https://"):
            errors.append(f"{name} must be an https:// address")

    entra_keys = ["ENTRA_TENANT_ID", "ENTRA_CLIENT_ID", "ENTRA_CLIENT_SECRET"]
    entra_set = [k for k in entra_keys if env.get(k)]
    if entra_set and len(entra_set) != len(entra_keys):
        missing = ", ".join(k for k in entra_keys if not env.get(k))
        errors.append(f"Entra ID sign-in needs all of ENTRA_TENANT_ID, ENTRA_CLIENT_ID, ENTRA_CLIENT_SECRET; missing {missing}")
    entra_authority = (env.get("ENTRA_AUTHORITY_URL") or graph_authority).rstrip("/")

    if errors:
        raise ConfigError("Configuration error:\n  - " + "\n  - ".join(errors))

    # hide_parameters: SQL parameters (case texts) never reach a log line or an exception's text
    engine_options: dict = {"pool_pre_ping": True, "hide_parameters": True}
    if database_url.startswith("sqlite"):
        engine_options = {"connect_args": {"timeout": 30}, "hide_parameters": True}

    return {
        "APP_ENV": app_env,
        "PRODUCTION": production,
        "SECRET_KEY": secret_key,
        "SQLALCHEMY_DATABASE_URI": database_url,
        "SQLALCHEMY_ENGINE_OPTIONS": engine_options,
        "BASE_URL": base_url,
        "PREFERRED_URL_SCHEME": parsed.scheme,
        "APP_TIMEZONE": tz_name,
        "HTTPS": https,
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": https,
        "SESSION_COOKIE_NAME": "__Host-session" if https else "session",
        "SESSION_IDLE_MINUTES": ints["SESSION_IDLE_MINUTES"],
        "SESSION_MAX_HOURS": ints["SESSION_MAX_HOURS"],
        "LOGIN_MAX_FAILURES": ints["LOGIN_MAX_FAILURES"],
        "LOGIN_MAX_FAILURES_PER_ADDRESS": ints["LOGIN_MAX_FAILURES_PER_ADDRESS"],
        "LOGIN_LOCK_MINUTES": ints["LOGIN_LOCK_MINUTES"],
        "REMINDER_HOURS": ints["REMINDER_HOURS"],
        "ATTENDANCE_WARNING_DAYS": ints["ATTENDANCE_WARNING_DAYS"],
        "WTF_CSRF_TIME_LIMIT": None,  # the token lives as long as the server-side session
        "BABEL_DEFAULT_LOCALE": "fi",
        "BABEL_DEFAULT_TIMEZONE": tz_name,
        "LANGUAGES": ["fi", "sv", "en"],
        "SMTP_HOST": smtp_host,
        "SMTP_PORT": ints["SMTP_PORT"],
        "SMTP_USERNAME": env.get("SMTP_USERNAME") or "",
        "SMTP_PASSWORD": env.get("SMTP_PASSWORD") or "",
        "SMTP_STARTTLS": smtp_starttls,
        "MAIL_FROM": mail_from,
        "ACCESSIBILITY_FEEDBACK_EMAIL": accessibility_contact,
        "TRUSTED_PROXY_COUNT": ints["TRUSTED_PROXY_COUNT"],
        "MAX_CONTENT_LENGTH": 8 * 1024 * 1024,
        "API_MAX_CONTENT_LENGTH": 256 * 1024,  # /api/v1 bodies: the largest real one is ~50 kB
        "GRAPH_ENABLED": len(graph_set) == len(graph_keys),
        "GRAPH_TENANT_ID": env.get("GRAPH_TENANT_ID") or "",
        "GRAPH_CLIENT_ID": env.get("GRAPH_CLIENT_ID") or "",
        "GRAPH_CLIENT_SECRET": env.get("GRAPH_CLIENT_SECRET") or "",
        "GRAPH_ORGANIZER": env.get("GRAPH_ORGANIZER") or "",
        "GRAPH_AUTHORITY_URL": graph_authority,
        "GRAPH_API_URL": graph_api,
        "ENTRA_ENABLED": len(entra_set) == len(entra_keys),
        "ENTRA_TENANT_ID": env.get("ENTRA_TENANT_ID") or "",
        "ENTRA_CLIENT_ID": env.get("ENTRA_CLIENT_ID") or "",
        "ENTRA_CLIENT_SECRET": env.get("ENTRA_CLIENT_SECRET") or "",
        "ENTRA_AUTHORITY_URL": entra_authority,
        "SCHEDULER_ENABLED": scheduler_enabled,
        "OUTBOX_DIR": str(Path(instance_path) / "outbox"),
        "JOBS_EXPECTED": jobs_expected,
        "JOBS_STALE_MINUTES": ints["JOBS_STALE_MINUTES"],
        "ALERT_JOBS_STALLED_MINUTES": ints["ALERT_JOBS_STALLED_MINUTES"],
        "METRICS_ALLOWED_NETWORKS": metrics_networks,
        "LOG_FORMAT": log_format,
        "REQUEST_ID_HEADER": (env.get("REQUEST_ID_HEADER") or "X-Request-ID").strip(),
    }


def _looks_like_address(value: str) -> bool:
    """name@host, optionally written as 'Name <name@host>' (MAIL_FROM may carry a display name)."""
    if "<" in value and value.rstrip().endswith(">"):
        value = value[value.rindex("<") + 1 : -1]
    local, _, host = value.strip().partition("@")
    return bool(local) and bool(host) and " " not in value.strip() and "@" not in host


def _bare_address(value: str) -> str:
    if "<" in value and value.rstrip().endswith(">"):
        value = value[value.rindex("<") + 1 : -1]
    return value.strip().lower()


def _dev_secret(instance_path: str) -> str:
    """A per-installation random key for development, kept in instance/ so sessions survive restarts."""
    path = Path(instance_path) / "dev-secret-key"
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        path.write_text(secrets.token_urlsafe(48))
        path.chmod(0o600)
    return path.read_text().strip()
