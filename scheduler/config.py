"""Settings: every environment variable the service reads, declared once in SETTINGS.

Each setting has a name, a kind (which says how it is read and checked), a default, bounds or
choices, and a one-line description; load_config() reads them all from the environment, checks
them, and stops start-up with a ConfigError that names each bad setting. With nothing set the
embedded defaults make `make run` work on a laptop; APP_ENV=production requires the rest.
README.md's Settings table is made from this one (`python scripts/settings_table.py` rewrites
it; tests/test_config.py checks that the two agree).
"""

from __future__ import annotations

import ipaddress
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from email.utils import parseaddr
from pathlib import Path
from typing import Any
from urllib.parse import urlparse
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

ROOT = Path(__file__).resolve().parent.parent


class ConfigError(RuntimeError):
    """A setting is missing or malformed; start-up stops with this message."""


class _Derived:
    """The default is worked out from other settings (see load_config); `shown` says how."""

    def __repr__(self) -> str:
        return "DERIVED"


DERIVED: Any = _Derived()


@dataclass(frozen=True)
class Setting:
    name: str
    kind: str  # see _read: text, secret, int, bool, choice, timezone, url, https_url, email, database_url,
    #            path, networks
    default: Any
    description: str
    low: int | None = None
    high: int | None = None
    choices: tuple[str, ...] = ()
    shown: str | None = None  # the default as the README shows it, when the value alone would not say


S = Setting
SETTINGS: tuple[Setting, ...] = (
    S("APP_ENV", "choice", "development", "`production` makes `SECRET_KEY`, `BASE_URL` (https) and `DATABASE_URL` "
      "required and stops `seed-demo` altogether.", choices=("development", "production")),
    S("DATABASE_URL", "database_url", DERIVED, "`postgresql+psycopg://user:password@host/dbname` in production "
      "(`postgresql://` and `postgres://` mean the same).", shown="SQLite file `instance/scheduler.sqlite3`"),
    S("SECRET_KEY", "secret", DERIVED, "Signs the session cookie, the forms' CSRF tokens and the calendar addresses. "
      "Production: at least 32 random characters, e.g. `python3 -c 'import secrets; print(secrets.token_urlsafe(48))'`.",
      shown="a random key kept in `instance/dev-secret-key`"),
    S("BASE_URL", "url", "http://127.0.0.1:5000", "The public address, used in links in e-mails, calendars and Teams. "
      "With `https://` the cookie is `Secure` (named `__Host-session`) and HSTS is sent."),
    S("APP_TIMEZONE", "timezone", "Europe/Helsinki", "Times are stored in UTC and shown in this zone."),
    S("SMTP_HOST", "text", "", "The mail server. Unset: e-mails are written as `.eml` files under `instance/outbox/` "
      "and listed on an admin page instead of being sent."),
    S("SMTP_PORT", "int", 25, "Mail server port (587 with STARTTLS is usual; 465 is TLS from the start).", 1, 65535),
    S("SMTP_USERNAME", "text", "", "Mail server user name, if the server wants one."),
    S("SMTP_PASSWORD", "secret", "", "Mail server password, if the server wants one."),
    S("SMTP_STARTTLS", "bool", False, "`1` to upgrade the connection with STARTTLS."),
    S("MAIL_FROM", "email", DERIVED, "Sender address (`Name <address>` works). Required in production when "
      "`SMTP_HOST` is set.", shown="`no-reply@` + the host of `BASE_URL`"),
    S("MAIL_FROM_NAME", "text", "", "A display name for the sender (e.g. `Konsultaatiot`), with a plain `MAIL_FROM` "
      "address."),
    S("ACCESSIBILITY_FEEDBACK_EMAIL", "email", "", "The feedback address in the accessibility statement "
      "(law 306/2019; answered within 14 days): a mailbox someone reads. Required in production; never falls back "
      "to `MAIL_FROM` and may not be the same address. `ACCESSIBILITY_CONTACT`, its earlier name, is still read.",
      shown="– (required in production)"),
    S("ACCESSIBILITY_CONTACT", "email", "", "The earlier name of `ACCESSIBILITY_FEEDBACK_EMAIL` (read when that "
      "one is not set)."),
    S("GRAPH_TENANT_ID", "text", "", "Microsoft Graph for Teams meetings (app-only): the tenant. The four `GRAPH_` "
      "ids and secret go together, all or none; unset, Teams is off and the pages say so."),
    S("GRAPH_CLIENT_ID", "text", "", "Graph: the app registration's client id."),
    S("GRAPH_CLIENT_SECRET", "secret", "", "Graph: the app registration's client secret."),
    S("GRAPH_ORGANIZER", "text", "", "Graph: the mailbox that owns the Teams meetings."),
    S("GRAPH_AUTHORITY_URL", "https_url", "https://login.microsoftonline.com",
      "Identity platform address (only changed for national clouds or tests)."),
    S("GRAPH_API_URL", "https_url", "https://graph.microsoft.com/v1.0", "Graph address (same)."),
    S("ENTRA_TENANT_ID", "text", "", "Microsoft Entra ID single sign-on (authorization code flow with PKCE): "
      "the tenant. The three `ENTRA_` values go together, all or none; unset, people sign in with passwords."),
    S("ENTRA_CLIENT_ID", "text", "", "Entra ID sign-in: the app registration's client id."),
    S("ENTRA_CLIENT_SECRET", "secret", "", "Entra ID sign-in: the app registration's client secret."),
    S("ENTRA_AUTHORITY_URL", "https_url", DERIVED, "Identity platform address for sign-in.",
      shown="`GRAPH_AUTHORITY_URL`"),
    S("SCHEDULER_ENABLED", "bool", False, "`1` runs the background jobs (mail delivery, reminders) in this process. "
      "Turn it on in exactly one process.", shown="`0` (`make run`: `1`)"),
    S("REMINDER_HOURS", "int", 24, "How many hours before a meeting reminders go out (0: none).", 0, 720),
    S("SUBMISSION_REMINDER_DAYS", "int", 3, "How many days before a panel's submission deadline social workers are "
      "reminded of it (0: no reminders).", 0, 60),
    S("SESSION_IDLE_MINUTES", "int", 30, "Sign-out after this long without activity.", 1, 1440),
    S("SESSION_MAX_HOURS", "int", 12, "Sign-out this long after signing in, however active.", 1, 168),
    S("LOGIN_MAX_FAILURES", "int", 5, "Failed sign-ins per account before it is locked for a while.", 1, 1000),
    S("LOGIN_MAX_FAILURES_PER_ADDRESS", "int", 30, "Failed sign-ins from one IP address (any accounts) before that "
      "address is locked.", 1, 100_000),
    S("LOGIN_LOCK_MINUTES", "int", 15, "How long a lock lasts; also the window in which failures are counted.",
      1, 10_080),
    S("TRUSTED_PROXY_COUNT", "int", 0, "Behind a reverse proxy: how many proxies set `X-Forwarded-For`/`-Proto` "
      "(usually `1`). Without it every sign-in seems to come from the proxy and the per-address limit would lock "
      "everyone out.", 0, 10),
    S("PANEL_HORIZON_MONTHS", "int", 12, "How many months ahead expert panel sessions are created.", 1, 60),
    S("OUTBOX_MAX_ATTEMPTS", "int", 10, "Delivery attempts of one e-mail or Teams call before it is listed as "
      "failed on the admin page *Outbox* (where it can be retried).", 1, 100),
    S("OUTBOX_BACKOFF_SECONDS", "int", 60, "Wait after the first failed attempt; it doubles after each further one.",
      1, 86_400),
    S("OUTBOX_BACKOFF_CAP_SECONDS", "int", 3600, "The longest wait between two attempts.", 1, 604_800),
    S("ATTENDANCE_WARNING_DAYS", "int", 3, "How many days before a panel session the secretaries are warned about "
      "cases that have no confirmed expert for an expertise they asked for.", 1, 60),
    S("CASE_RETENTION_DAYS", "int", 180, "Case content (references, questions, backgrounds, advice, messages) is "
      "erased this many days after a booking's end or a panel case's closing; the figures stay. See *Privacy*.",
      1, 3650),
    S("OUTBOX_RETENTION_DAYS", "int", 30, "Outbox message bodies and saved `.eml` files are deleted this many days "
      "after delivery or final failure.", 1, 3650),
    S("ACCESS_LOG_RETENTION_DAYS", "int", 1826, "Access log rows are kept this long (about five years: see "
      "*Privacy*).", 1, 36500),
    S("INSTANCE_PATH", "path", DERIVED, "Where the SQLite file, the development key and the `.eml` outbox live.",
      shown="`instance/` in the checkout"),
    S("JOBS_EXPECTED", "bool", False, "`1` when a jobs process should be running: `/readyz` then also wants the "
      "delivery job to have succeeded within `JOBS_STALE_MINUTES`."),
    S("JOBS_STALE_MINUTES", "int", 5, "See `JOBS_EXPECTED`.", 1, 1440),
    S("ALERT_JOBS_STALLED_MINUTES", "int", 15, "`flask ops watchdog` e-mails the administrators when the delivery "
      "job has not succeeded for this long.", 1, 10_080),
    S("METRICS_ALLOWED_NETWORKS", "networks", "127.0.0.0/8,::1", "Addresses or networks (comma-separated) that may "
      "read `/metrics`; the client address is taken after `TRUSTED_PROXY_COUNT` proxies."),
    S("PROMETHEUS_MULTIPROC_DIR", "path", "", "An empty folder (on tmpfs) shared by the gunicorn workers on one "
      "host: `/metrics` then adds up every worker (prometheus_client reads it from the environment too). See "
      "*Monitoring, alerts and upgrades*."),
    S("LOG_FORMAT", "choice", "text", "`json`: one JSON object per log line (see *Monitoring, alerts and "
      "upgrades*).", choices=("text", "json")),
    S("REQUEST_ID_HEADER", "text", "X-Request-ID", "Taken from the proxy when `TRUSTED_PROXY_COUNT` > 0 (else "
      "generated); returned in the response and on every log line."),
)
del S
_TRUE, _FALSE = {"1", "true", "yes", "on"}, {"0", "false", "no", "off"}


# --- reading one value -------------------------------------------------------------------------

def _read(setting: Setting, raw: str) -> Any:
    """The value of a set variable, or ValueError with a message that names the setting."""
    name, kind = setting.name, setting.kind
    value = raw if kind == "secret" else raw.strip()
    if kind in ("text", "secret", "path"):
        return value
    if kind == "int":
        try:
            number = int(value)
        except ValueError:
            raise ValueError(f"{name} must be a whole number, got {raw!r}") from None
        low = setting.low if setting.low is not None else number
        high = setting.high if setting.high is not None else number
        if not low <= number <= high:
            raise ValueError(f"{name} must be between {setting.low} and {setting.high}, got {number}")
        return number
    if kind == "bool":
        if value.lower() in _TRUE:
            return True
        if value.lower() in _FALSE:
            return False
        raise ValueError(f"{name} must be 1 or 0 (yes/no, true/false, on/off), got {raw!r}")
    if kind == "choice":
        if value.lower() not in setting.choices:
            raise ValueError(f"{name} must be one of {', '.join(setting.choices)}, got {raw!r}")
        return value.lower()
    if kind == "timezone":
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"{name} {value!r} is not a known time zone") from None
        return value
    if kind == "url":
        value = value.rstrip("/")
        parsed = urlparse(value)
        if parsed.scheme not in {"http", "https"} or not parsed.netloc:
            raise ValueError(f"{name} must be an http(s) address, got {value!r}")
        return value
    if kind == "https_url":
        if not value.startswith("https://"):
            raise ValueError(f"{name} must be an https:// address")
        return value.rstrip("/")
    if kind == "email":
        if not _looks_like_address(value):
            raise ValueError(f"{name} must be an e-mail address (name@example.fi), got {value!r}")
        return value
    if kind == "database_url":
        if value.startswith(("postgres://", "postgresql://")):
            # psycopg 3 is the driver we ship; accept the common spellings.
            return "postgresql+psycopg://" + value.split("://", 1)[1]
        if not value.startswith(("sqlite:", "postgresql+psycopg://")):
            raise ValueError(f"{name} must be a sqlite:/// or postgresql+psycopg:// URL, got {value.split(':')[0]}:…")
        return value
    if kind == "networks":
        networks = []
        for part in value.replace(" ", ",").split(","):
            if part:
                try:
                    networks.append(ipaddress.ip_network(part, strict=False))
                except ValueError:
                    raise ValueError(f"{name}: {part!r} is not an address or network (10.0.0.0/8)") from None
        return networks
    raise AssertionError(f"{name}: unknown kind {kind}")


def instance_path(env: Mapping[str, str] | None = None) -> str:
    """INSTANCE_PATH, read before the rest: the application factory needs it to exist."""
    env = os.environ if env is None else env
    return (env.get("INSTANCE_PATH") or "").strip() or str(ROOT / "instance")


# --- reading them all --------------------------------------------------------------------------

def load_config(instance_path: str, env: Mapping[str, str] | None = None) -> dict:
    """Read the environment into a Flask config dict, checking every setting of SETTINGS.

    In production (APP_ENV=production) SECRET_KEY, BASE_URL and DATABASE_URL are required.
    """
    env = dict(os.environ if env is None else env)
    errors: list[str] = []
    bad: set[str] = set()  # names whose value could not be read (reported once, not checked further)
    v: dict[str, Any] = {}
    for setting in SETTINGS:
        raw = env.get(setting.name)
        if raw is None or raw.strip() == "":
            # a default written as the variable would be (a list of networks) is read the same way
            v[setting.name] = _read(setting, setting.default) if setting.kind == "networks" else setting.default
            continue
        try:
            v[setting.name] = _read(setting, raw)
        except ValueError as exc:
            errors.append(str(exc))
            bad.add(setting.name)
            v[setting.name] = setting.default
    production = v["APP_ENV"] == "production"

    # the defaults that depend on other settings, and the rules between settings
    if v["DATABASE_URL"] is DERIVED:
        if production:
            errors.append("DATABASE_URL is required in production (postgresql+psycopg://user@host/db)")
        v["DATABASE_URL"] = "sqlite:///" + str(Path(instance_path) / "scheduler.sqlite3")

    if v["SECRET_KEY"] is DERIVED:
        if production:
            errors.append("SECRET_KEY is required in production (at least 32 random characters)")
        v["SECRET_KEY"] = _dev_secret(instance_path)
    elif production and len(v["SECRET_KEY"]) < 32:
        errors.append("SECRET_KEY must be at least 32 characters long")

    base_url_set = bool((env.get("BASE_URL") or "").strip())
    if production and not base_url_set:
        errors.append("BASE_URL is required in production (e.g. https://konsultaatio.example.fi)")
    parsed = urlparse(v["BASE_URL"])
    if production and base_url_set and "BASE_URL" not in bad and parsed.scheme != "https":
        errors.append("BASE_URL must use https in production")
    https = parsed.scheme == "https"

    if v["MAIL_FROM"] is DERIVED:
        if v["SMTP_HOST"] and production and "MAIL_FROM" not in bad:
            errors.append("MAIL_FROM is required when SMTP_HOST is set")
        v["MAIL_FROM"] = "no-reply@" + (parsed.hostname or "localhost")
    elif v["MAIL_FROM_NAME"] and "<" in v["MAIL_FROM"]:
        errors.append("MAIL_FROM_NAME needs a plain MAIL_FROM address (name@example.fi), not 'Name <address>'")
    # Law 306/2019: the accessibility statement names a feedback channel answered within 14 days, so it
    # must be a mailbox somebody reads: never the no-reply sender.
    feedback_name = "ACCESSIBILITY_FEEDBACK_EMAIL"
    if not v[feedback_name] and v["ACCESSIBILITY_CONTACT"]:
        feedback_name = "ACCESSIBILITY_CONTACT"
        v["ACCESSIBILITY_FEEDBACK_EMAIL"] = v["ACCESSIBILITY_CONTACT"]
    if not v["ACCESSIBILITY_FEEDBACK_EMAIL"]:
        if production and feedback_name not in bad:
            errors.append("ACCESSIBILITY_FEEDBACK_EMAIL is required in production: the accessibility statement's "
                          "feedback address, a mailbox that is read (law 306/2019)")
    elif _bare_address(v["ACCESSIBILITY_FEEDBACK_EMAIL"]) == _bare_address(v["MAIL_FROM"]):
        errors.append(f"{feedback_name} must be a mailbox that is read, not the sender address MAIL_FROM")
    v["ACCESSIBILITY_CONTACT"] = v["ACCESSIBILITY_FEEDBACK_EMAIL"]
    if v["ENTRA_AUTHORITY_URL"] is DERIVED:
        v["ENTRA_AUTHORITY_URL"] = v["GRAPH_AUTHORITY_URL"]

    groups = {
        "Teams": ["GRAPH_TENANT_ID", "GRAPH_CLIENT_ID", "GRAPH_CLIENT_SECRET", "GRAPH_ORGANIZER"],
        "Entra ID sign-in": ["ENTRA_TENANT_ID", "ENTRA_CLIENT_ID", "ENTRA_CLIENT_SECRET"],
    }
    enabled = {}
    for what, keys in groups.items():
        given = [k for k in keys if v[k]]
        if given and len(given) != len(keys):
            missing = ", ".join(k for k in keys if not v[k])
            errors.append(f"{what} needs all of {', '.join(keys)}; missing {missing}")
        enabled[what] = len(given) == len(keys)

    if v["OUTBOX_BACKOFF_CAP_SECONDS"] < v["OUTBOX_BACKOFF_SECONDS"]:
        errors.append("OUTBOX_BACKOFF_CAP_SECONDS must be at least OUTBOX_BACKOFF_SECONDS")

    if errors:
        raise ConfigError("Configuration error:\n  - " + "\n  - ".join(errors))

    database_url = v.pop("DATABASE_URL")
    v.pop("INSTANCE_PATH")  # read by the application factory (instance_path())
    # hide_parameters: SQL parameters (case texts) never reach a log line or an exception's text
    engine_options: dict = {"pool_pre_ping": True, "hide_parameters": True}
    if database_url.startswith("sqlite"):
        engine_options = {"connect_args": {"timeout": 30}, "hide_parameters": True}
    return {
        **v,
        "PRODUCTION": production,
        "SQLALCHEMY_DATABASE_URI": database_url,
        "SQLALCHEMY_ENGINE_OPTIONS": engine_options,
        "PREFERRED_URL_SCHEME": parsed.scheme,
        "HTTPS": https,
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": https,
        "SESSION_COOKIE_NAME": "__Host-session" if https else "session",
        "WTF_CSRF_TIME_LIMIT": None,  # the token lives as long as the server-side session
        "BABEL_DEFAULT_LOCALE": "fi",
        "BABEL_DEFAULT_TIMEZONE": v["APP_TIMEZONE"],
        "LANGUAGES": ["fi", "sv", "en"],
        "MAX_CONTENT_LENGTH": 8 * 1024 * 1024,
        "API_MAX_CONTENT_LENGTH": 256 * 1024,  # /api/v1 bodies: the largest real one is ~50 kB
        "GRAPH_ENABLED": enabled["Teams"],
        "ENTRA_ENABLED": enabled["Entra ID sign-in"],
        "OUTBOX_DIR": str(Path(instance_path) / "outbox"),
    }


def _looks_like_address(value: str) -> bool:
    """name@host, optionally written as 'Name <name@host>' (MAIL_FROM may carry a display name)."""
    if "<" in value and value.rstrip().endswith(">"):
        value = value[value.rindex("<") + 1 : -1]
    local, _, host = value.strip().partition("@")
    return bool(local) and bool(host) and " " not in value.strip() and "@" not in host


def _bare_address(value: str) -> str:
    return parseaddr(value)[1].strip().lower()


def _dev_secret(instance_path: str) -> str:
    """A per-installation random key for development, kept in instance/ so sessions survive restarts."""
    path = Path(instance_path) / "dev-secret-key"
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        path.write_text(secrets.token_urlsafe(48))
        path.chmod(0o600)
    return path.read_text().strip()


# --- the README's table ------------------------------------------------------------------------

def _values_text(s: Setting) -> str:
    if s.kind == "int":
        return f"whole number {s.low}–{s.high}"
    if s.kind == "bool":
        return "`1` or `0`"
    if s.kind == "choice":
        return " or ".join(f"`{c}`" for c in s.choices)
    return {"timezone": "IANA time zone", "url": "http(s) address", "https_url": "https:// address",
            "email": "e-mail address", "database_url": "database URL", "path": "folder",
            "secret": "secret text", "networks": "IP networks, comma-separated"}.get(s.kind, "text")


def _default_text(s: Setting) -> str:
    if s.shown:
        return s.shown
    if s.default in ("", None):
        return "*(unset)*"
    if isinstance(s.default, bool):
        return f"`{int(s.default)}`"
    return f"`{s.default}`"


def markdown_table() -> str:
    """The Settings table of README.md, made from SETTINGS."""
    rows = ["| Variable | Default | Values | What it does |", "|---|---|---|---|"]
    rows += [f"| `{s.name}` | {_default_text(s)} | {_values_text(s)} | {s.description} |" for s in SETTINGS]
    return "\n".join(rows) + "\n"

