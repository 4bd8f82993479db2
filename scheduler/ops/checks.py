"""`flask check-setup`: every configured integration checked against the real thing, one line each.

Nothing is sent and nothing is changed: SMTP stops after the sign-in (no MAIL FROM), Graph reads a
meeting that does not exist (404 proves the token, the permission and the application access policy
for the organizer; 403 shows which is missing), Entra ID is asked for its discovery document and an
app token. Each failing line names the README section to read.
"""

from __future__ import annotations

import smtplib
import ssl
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import quote, urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import msal
import requests
from flask import current_app
from sqlalchemy import text

from ..delivery.microsoft import GraphClient, GraphError, GraphTokenError
from ..extensions import db
from .health import schema_check

CHECK_TIMEOUT = 10  # seconds per network step
OK, FAIL, SKIP = "ok", "fail", "skip"

SECTION_SETTINGS = "Settings"
SECTION_PRODUCTION = "Running it in production"
SECTION_TEAMS = "Teams (Microsoft Graph)"
SECTION_ENTRA = "Microsoft Entra ID sign-in"


@dataclass
class Result:
    name: str
    status: str
    detail: str
    section: str = ""


def _production() -> bool:
    return bool(current_app.config.get("PRODUCTION"))


# --- database, keys, addresses, time ------------------------------------------------------------

def check_database() -> Result:
    try:
        db.session.execute(text("SELECT 1"))
        return Result("database", OK, f"answers ({db.engine.dialect.name})")
    except Exception as exc:  # any failure: report its class and first line
        return Result("database", FAIL, f"did not answer: {type(exc).__name__}: {str(exc).splitlines()[0][:200]}",
                      SECTION_PRODUCTION)
    finally:
        db.session.rollback()


def check_schema() -> Result:
    try:
        c = schema_check()
    except Exception as exc:  # the database is down: the line above says so
        return Result("schema", FAIL, f"could not be read ({type(exc).__name__})", SECTION_PRODUCTION)
    finally:
        db.session.rollback()
    return Result("schema", OK if c.ok else FAIL, c.detail, "" if c.ok else SECTION_PRODUCTION)


def check_secret_key() -> Result:
    key = current_app.config.get("SECRET_KEY") or ""
    dev_file = Path(current_app.instance_path) / "dev-secret-key"
    if dev_file.exists() and dev_file.read_text().strip() == key:
        if _production():
            return Result("SECRET_KEY", FAIL, "the generated development key is in use; set SECRET_KEY",
                          SECTION_SETTINGS)
        return Result("SECRET_KEY", OK, "a generated development key (set SECRET_KEY in production)")
    if len(key) < 32:
        return Result("SECRET_KEY", FAIL, f"only {len(key)} characters; use at least 32 random ones", SECTION_SETTINGS)
    if len(set(key)) < 12:
        return Result("SECRET_KEY", FAIL, "too few different characters to be random", SECTION_SETTINGS)
    return Result("SECRET_KEY", OK, f"{len(key)} characters")


def check_base_url() -> Result:
    url = current_app.config["BASE_URL"]
    parts = urlsplit(url)
    if parts.scheme != "https":
        if _production():
            return Result("BASE_URL", FAIL, f"{url} is not https", SECTION_SETTINGS)
        return Result("BASE_URL", OK, f"{url} (http is fine only for development)")
    return Result("BASE_URL", OK, url)


def check_timezone() -> Result:
    name = current_app.config.get("APP_TIMEZONE") or "Europe/Helsinki"
    try:
        ZoneInfo(name)
        helsinki = ZoneInfo("Europe/Helsinki")
    except (ZoneInfoNotFoundError, ValueError) as exc:
        return Result("timezone", FAIL, f"the time zone database has no {exc}", SECTION_SETTINGS)
    winter = datetime(2027, 1, 15, 12, tzinfo=helsinki).utcoffset()
    summer = datetime(2027, 7, 15, 12, tzinfo=helsinki).utcoffset()
    if (winter, summer) != (timedelta(hours=2), timedelta(hours=3)):
        return Result("timezone", FAIL, "Europe/Helsinki has the wrong offsets: update tzdata", SECTION_SETTINGS)
    return Result("timezone", OK, f"{name}; Europe/Helsinki +2/+3 in winter/summer")


# --- SMTP ---------------------------------------------------------------------------------------

def _smtp_reply(exc: smtplib.SMTPResponseException) -> str:
    msg = exc.smtp_error.decode("utf-8", "replace") if isinstance(exc.smtp_error, bytes) else str(exc.smtp_error)
    return f"{exc.smtp_code} {msg}"[:200]


def check_smtp() -> Result:
    cfg = current_app.config
    host, port = cfg.get("SMTP_HOST"), int(cfg.get("SMTP_PORT") or 25)
    if not host:
        if _production():
            return Result("smtp", FAIL, "SMTP_HOST is not set: e-mails are only written to files", SECTION_SETTINGS)
        return Result("smtp", SKIP, "SMTP_HOST is not set: e-mails are written as .eml files")
    where = f"{host}:{port}"
    steps = []
    try:
        context = ssl.create_default_context()
        if port == 465:
            smtp: smtplib.SMTP = smtplib.SMTP_SSL(host, port, timeout=CHECK_TIMEOUT, context=context)
            steps.append("TLS")
        else:
            smtp = smtplib.SMTP(host, port, timeout=CHECK_TIMEOUT)
        with smtp:
            smtp.ehlo()
            steps.insert(0, "connected")
            if cfg.get("SMTP_STARTTLS"):
                if not smtp.has_extn("starttls"):
                    return Result("smtp", FAIL, f"{where} does not offer STARTTLS (SMTP_STARTTLS=1)", SECTION_SETTINGS)
                smtp.starttls(context=context)
                smtp.ehlo()
                steps.append("STARTTLS")
            if cfg.get("SMTP_USERNAME"):
                if port != 465 and not cfg.get("SMTP_STARTTLS") and _production():
                    return Result("smtp", FAIL, "a password would be sent without TLS: set SMTP_STARTTLS=1 or port 465",
                                  SECTION_SETTINGS)
                smtp.login(cfg["SMTP_USERNAME"], cfg.get("SMTP_PASSWORD") or "")
                steps.append("signed in")
    except smtplib.SMTPAuthenticationError as exc:
        return Result("smtp", FAIL, f"{where} refused the credentials of SMTP_USERNAME: {_smtp_reply(exc)}",
                      SECTION_SETTINGS)
    except smtplib.SMTPNotSupportedError as exc:
        return Result("smtp", FAIL, f"{where}: {exc}", SECTION_SETTINGS)
    except ssl.SSLError as exc:
        return Result("smtp", FAIL, f"TLS with {where} failed: {exc.reason or exc}", SECTION_SETTINGS)
    except smtplib.SMTPResponseException as exc:
        return Result("smtp", FAIL, f"{where} answered {_smtp_reply(exc)}", SECTION_SETTINGS)
    except (smtplib.SMTPException, OSError) as exc:
        return Result("smtp", FAIL, f"could not reach {where}: {type(exc).__name__}: {exc}", SECTION_SETTINGS)
    return Result("smtp", OK, f"{where}: " + ", ".join(steps) + " (nothing sent)")


# --- Microsoft Graph and Entra ID ---------------------------------------------------------------

def _http_problem(exc: Exception) -> str:
    if isinstance(exc, requests.exceptions.SSLError):
        return "TLS certificate not trusted"
    if isinstance(exc, requests.ConnectionError | requests.Timeout):
        return "could not connect"
    return f"{type(exc).__name__}: {str(exc)[:200]}"


def check_graph() -> Result:
    cfg = current_app.config
    if not cfg.get("GRAPH_ENABLED"):
        return Result("graph", SKIP, "Teams is off (GRAPH_* not set)")
    organizer = cfg["GRAPH_ORGANIZER"]
    try:
        client = GraphClient(tenant_id=cfg["GRAPH_TENANT_ID"], client_id=cfg["GRAPH_CLIENT_ID"],
                             client_secret=cfg["GRAPH_CLIENT_SECRET"], authority_url=cfg["GRAPH_AUTHORITY_URL"],
                             api_url=cfg["GRAPH_API_URL"], timeout=CHECK_TIMEOUT)
        client.access_token()
    except GraphTokenError as exc:
        return Result("graph", FAIL, f"the identity platform refused the app: {str(exc)[:240]}", SECTION_TEAMS)
    except Exception as exc:  # msal raises ValueError for an unknown tenant, requests its own errors
        return Result("graph", FAIL, f"no token from {cfg['GRAPH_AUTHORITY_URL']}: {_http_problem(exc)}", SECTION_TEAMS)
    probe = f"check-setup-{uuid.uuid4().hex}"
    try:
        client.request("GET", f"/users/{quote(organizer, safe='@')}/onlineMeetings/{probe}")
    except GraphError as exc:
        if exc.status == 404:
            return Result("graph", OK, "token, permission and access policy for the organizer work")
        if exc.status == 403:
            return Result("graph", FAIL, "Graph refused access to the organizer's meetings: grant OnlineMeetings."
                          "ReadWrite.All (application) and the Teams application access policy for GRAPH_ORGANIZER",
                          SECTION_TEAMS)
        return Result("graph", FAIL, f"Graph answered {exc.status} {exc.code}", SECTION_TEAMS)
    except Exception as exc:  # network failures of the Graph address
        return Result("graph", FAIL, f"{cfg['GRAPH_API_URL']}: {_http_problem(exc)}", SECTION_TEAMS)
    return Result("graph", OK, "token, permission and access policy for the organizer work")


def check_entra_discovery() -> Result:
    cfg = current_app.config
    url = f"{cfg['ENTRA_AUTHORITY_URL'].rstrip('/')}/{cfg['ENTRA_TENANT_ID']}/v2.0/.well-known/openid-configuration"
    try:
        resp = requests.get(url, timeout=CHECK_TIMEOUT)
    except Exception as exc:  # network failures
        return Result("entra discovery", FAIL, f"{url}: {_http_problem(exc)}", SECTION_ENTRA)
    try:
        doc = resp.json()
    except ValueError:
        doc = {}
    if resp.status_code != 200:
        return Result("entra discovery", FAIL, f"{resp.status_code} {str(doc.get('error_description', ''))[:200]}",
                      SECTION_ENTRA)
    missing = [k for k in ("issuer", "authorization_endpoint", "token_endpoint", "jwks_uri") if not doc.get(k)]
    if missing:
        return Result("entra discovery", FAIL, f"the document lacks {', '.join(missing)}", SECTION_ENTRA)
    return Result("entra discovery", OK, f"issuer {doc['issuer']}")


def check_entra_redirect() -> Result:
    uri = current_app.config["BASE_URL"].rstrip("/") + "/sign-in/entra/callback"
    parts = urlsplit(uri)
    local = parts.hostname in {"localhost", "127.0.0.1"}
    if parts.scheme != "https" and not (local and not _production()):
        return Result("entra redirect URI", FAIL, f"{uri}: Entra ID accepts only https (http only for localhost)",
                      SECTION_ENTRA)
    if parts.query or parts.fragment or len(uri) > 256:
        return Result("entra redirect URI", FAIL, f"{uri}: no query or fragment, at most 256 characters",
                      SECTION_ENTRA)
    return Result("entra redirect URI", OK, f"register {uri} (platform Web) in the app registration")


def check_entra_secret() -> Result:
    cfg = current_app.config
    try:
        session = requests.Session()
        app = msal.ConfidentialClientApplication(
            cfg["ENTRA_CLIENT_ID"], client_credential=cfg["ENTRA_CLIENT_SECRET"],
            authority=f"{cfg['ENTRA_AUTHORITY_URL'].rstrip('/')}/{cfg['ENTRA_TENANT_ID']}",
            http_client=session, instance_discovery=False, timeout=CHECK_TIMEOUT)
        result = app.acquire_token_for_client(scopes=["https://graph.microsoft.com/.default"])
    except Exception as exc:  # network failures or an unknown tenant
        return Result("entra client secret", FAIL, _http_problem(exc), SECTION_ENTRA)
    if "access_token" not in result:
        return Result("entra client secret", FAIL, f"refused: {result.get('error')}: "
                      f"{str(result.get('error_description', ''))[:200]}", SECTION_ENTRA)
    return Result("entra client secret", OK, "the identity platform accepts ENTRA_CLIENT_ID and its secret")


def check_entra() -> list[Result]:
    if not current_app.config.get("ENTRA_ENABLED"):
        return [Result("entra", SKIP, "Microsoft sign-in is off (ENTRA_* not set)")]
    discovery = check_entra_discovery()
    results = [discovery, check_entra_redirect()]
    if discovery.status == OK:
        results.append(check_entra_secret())
    return results


def run_checks() -> list[Result]:
    results = [check_database(), check_schema(), check_secret_key(), check_base_url(), check_timezone(),
               check_smtp(), check_graph()]
    results.extend(check_entra())
    return results
