"""Microsoft Entra ID single sign-on (msal authorization-code flow: state, nonce, PKCE S256).

On only when ENTRA_TENANT_ID, ENTRA_CLIENT_ID and ENTRA_CLIENT_SECRET are set (otherwise the two
addresses answer 404 and the sign-in page shows no Microsoft button).

- `GET /sign-in/entra` (`people.entra_start`): msal's `initiate_auth_code_flow` makes state, nonce
  and a PKCE verifier; the flow (without its URL) waits in the signed session cookie and the browser
  goes to `{ENTRA_AUTHORITY_URL}/{ENTRA_TENANT_ID}/oauth2/v2.0/authorize`.
- `GET /sign-in/entra/callback` (`people.entra_callback`, the redirect URI to register:
  `BASE_URL/sign-in/entra/callback`): msal's `acquire_token_by_auth_code_flow` checks the state,
  redeems the code with the verifier and checks the nonce. The ID token comes straight from the
  token endpoint over TLS, so (OpenID Connect Core 3.1.3.7, item 6) we check its claims rather
  than its signature: `iss` is `{authority}/{tid}/v2.0`, `aud` is our client id, it has not
  expired, and `tid` is ENTRA_TENANT_ID.

Who is who: a person is their tenant id + object id (`tid` + `oid`), never their e-mail.
The first sign-in links: an account an administrator created with the same e-mail address as the
Microsoft account's user name (`preferred_username`, or `email`) and no link yet is linked to that
tid + oid, provided the token's tid is our tenant. From then on only tid + oid count (a renamed
Microsoft account still gets in; a new Microsoft account with an old address does not). An account
already linked to another Microsoft account is refused, as is a disabled account; with no account
at all the person is told to ask the administrator (SSO never creates accounts: roles and units
are an administrator's decision). `flask entra show EMAIL` / `flask entra unlink EMAIL` let the
administrator inspect or remove a link (the next sign-in then links anew).
"""

from __future__ import annotations

import logging
import threading
import time
import warnings

import click
import msal
import requests
from flask import abort, current_app, flash, redirect, request, session, url_for
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from msal.exceptions import MsalServiceError
from sqlalchemy import func, select

from ..core.errors import DomainError
from ..core.views import safe_next
from ..extensions import db
from .models import User
from .views import sign_in_user

log = logging.getLogger(__name__)

CLOCK_SKEW = 120  # seconds allowed between our clock and the identity platform's

# The identity platform did not answer, or answered 5xx (msal raises MsalServiceError for a 5xx
# from the discovery document or the token endpoint): "not available right now", never a 500.
UNAVAILABLE = (requests.RequestException, MsalServiceError)


class EntraRefused(DomainError):
    status = 403
    code = "entra_refused"


# --- the service: which account a verified Microsoft identity signs in to ------------------------

def resolve_entra_user(*, tenant_id: str, object_id: str, username: str | None, email: str | None,
                       allowed_tenant: str) -> User:
    """The account for a verified (tid, oid), linking it on the first sign-in. Raises EntraRefused.
    Flushes; the caller commits."""
    tid, oid = (tenant_id or "").strip().lower(), (object_id or "").strip().lower()
    if not tid or not oid:
        raise EntraRefused(str(_l("Microsoft did not tell us who you are. Please try again.")))
    if tid != allowed_tenant.strip().lower():
        raise EntraRefused(str(_l("Your Microsoft account belongs to another organisation. Sign in with your "
                                  "work account of this organisation.")))
    user = db.session.execute(
        select(User).where(User.entra_tenant_id == tid, User.entra_object_id == oid)
    ).scalar_one_or_none()
    if user is None:
        for address in (username, email):  # the user name (UPN) first, then the optional email claim
            if address and "@" in address:
                user = db.session.execute(
                    select(User).where(func.lower(User.email) == address.strip().lower())
                ).scalar_one_or_none()
                if user is not None:
                    break
        if user is None:
            raise EntraRefused(str(_l("There is no account in this service for your Microsoft account. Ask your "
                                      "administrator to create one for you.")), code="entra_no_account")
        if user.entra_object_id or user.entra_tenant_id:
            log.warning("Entra sign-in refused: user %s is linked to another Microsoft account", user.id)
            raise EntraRefused(str(_l("Your account in this service is linked to another Microsoft account. Ask "
                                      "your administrator to check the link.")), code="entra_linked_elsewhere")
        if user.is_active:
            user.entra_tenant_id, user.entra_object_id = tid, oid
            db.session.flush()
            log.info("Entra account linked to user %s", user.id)
    if not user.is_active:
        raise EntraRefused(str(_l("Your account in this service is disabled. Ask your administrator.")),
                           code="entra_disabled")
    return user


def check_id_token_claims(claims: dict, *, authority_url: str, client_id: str, now: float | None = None) -> None:
    """Raise EntraRefused unless the ID token was issued by our authority for us and is current."""
    now = time.time() if now is None else now
    tid = str(claims.get("tid", ""))
    expected_iss = f"{authority_url.rstrip('/')}/{tid}/v2.0"
    aud = claims.get("aud")
    ok = (
        bool(tid) and claims.get("iss") == expected_iss
        and (aud == client_id or (isinstance(aud, list) and client_id in aud))
        and float(claims.get("exp", 0)) + CLOCK_SKEW >= now
        and float(claims.get("nbf", claims.get("iat", now))) - CLOCK_SKEW <= now
    )
    if not ok:
        log.warning("Entra sign-in refused: ID token claims did not check out (iss/aud/exp)")
        raise EntraRefused(str(_l("The sign-in could not be verified. Please try again.")))


# --- msal, one client per process ------------------------------------------------------------------

_clients: dict[tuple, msal.ConfidentialClientApplication] = {}
_clients_lock = threading.Lock()


def entra_client() -> msal.ConfidentialClientApplication:
    cfg = current_app.config
    key = (cfg["ENTRA_AUTHORITY_URL"], cfg["ENTRA_TENANT_ID"], cfg["ENTRA_CLIENT_ID"], cfg["ENTRA_CLIENT_SECRET"])
    with _clients_lock:
        client = _clients.get(key)
        if client is None:
            client = _clients[key] = msal.ConfidentialClientApplication(
                key[2], client_credential=key[3], authority=f"{key[0].rstrip('/')}/{key[1]}",
                instance_discovery=False,  # the authority is the administrator's setting
                timeout=30,
            )
        return client


def forget_entra_clients() -> None:
    with _clients_lock:
        _clients.clear()


def redirect_uri() -> str:
    return current_app.config["BASE_URL"].rstrip("/") + url_for("people.entra_callback")


# --- the two addresses -------------------------------------------------------------------------

def _refuse(message: str, status: int = 403):
    """Back to the sign-in page with the reason (a redirect: the page's own form posts to /sign-in, and
    the code leaves the address bar)."""
    flash(message, "error")
    return redirect(url_for("people.sign_in"))


def _unavailable():
    return _refuse(str(_l("Sign-in with a Microsoft account is not available right now. Please try again "
                          "later, or sign in with a local account.")), 503)


def entra_start():
    if not current_app.config.get("ENTRA_ENABLED"):
        abort(404)
    if current_user.is_authenticated:
        return redirect(url_for("core.home"))
    with warnings.catch_warnings():
        # msal recommends response_mode=form_post (RFC 9700 4.3.1: codes in URLs may leak through
        # Referer or history). A cross-site POST would not carry our SameSite=Lax session cookie, so
        # we keep the query mode; the code is single-use, bound to the PKCE verifier and our client
        # secret, redeemed at once, and our Referrer-Policy sends no URL to other sites.
        warnings.filterwarnings("ignore", message="response_mode='form_post' is recommended")
        try:
            flow = entra_client().initiate_auth_code_flow(scopes=[], redirect_uri=redirect_uri(),
                                                          prompt="select_account", response_mode="query")
        except (*UNAVAILABLE, ValueError) as exc:  # the identity platform did not answer (or not usably)
            log.warning("Entra sign-in unavailable: %s", type(exc).__name__)
            return _unavailable()
    session["entra_flow"] = {k: v for k, v in flow.items() if k != "auth_uri"}
    session["entra_next"] = safe_next(request.args.get("next"), "")
    return redirect(flow["auth_uri"])


def entra_callback():
    cfg = current_app.config
    if not cfg.get("ENTRA_ENABLED"):
        abort(404)
    flow = session.pop("entra_flow", None)
    next_url = session.pop("entra_next", "")
    if not flow:
        return _refuse(str(_l("The sign-in had expired or was started in another window. Please try again.")), 400)
    try:
        result = entra_client().acquire_token_by_auth_code_flow(flow, request.args.to_dict())
    except UNAVAILABLE as exc:
        log.warning("Entra sign-in unavailable: %s", type(exc).__name__)
        return _unavailable()
    except ValueError:  # state mismatch or a malformed answer: possibly forged
        log.warning("Entra sign-in refused: state did not match")
        return _refuse(str(_l("The sign-in could not be verified. Please try again.")), 400)
    except RuntimeError:  # nonce mismatch
        log.warning("Entra sign-in refused: nonce did not match")
        return _refuse(str(_l("The sign-in could not be verified. Please try again.")), 400)
    if "error" in result or "id_token_claims" not in result:
        log.info("Entra sign-in did not complete: %s", result.get("error", "no id_token"))
        if result.get("error") == "access_denied":
            return _refuse(str(_l("The sign-in with Microsoft was cancelled.")), 401)
        return _refuse(str(_l("Microsoft sign-in did not succeed. Please try again, or ask your administrator.")), 401)
    claims = result["id_token_claims"]
    try:
        check_id_token_claims(claims, authority_url=cfg["ENTRA_AUTHORITY_URL"], client_id=cfg["ENTRA_CLIENT_ID"])
        user = resolve_entra_user(tenant_id=claims.get("tid", ""), object_id=claims.get("oid", ""),
                                  username=claims.get("preferred_username"), email=claims.get("email"),
                                  allowed_tenant=cfg["ENTRA_TENANT_ID"])
    except EntraRefused as exc:
        db.session.rollback()  # nothing to keep
        return _refuse(exc.message, exc.status)
    sign_in_user(user, "entra")
    db.session.commit()
    return redirect(safe_next(next_url, url_for("core.home")))


entra_cli = click.Group("entra", help="Microsoft Entra ID sign-in: the links between accounts and Microsoft accounts.")


@entra_cli.command("unlink")
@click.argument("email")
def unlink_command(email: str) -> None:
    """Remove EMAIL's link to a Microsoft account; the next Entra sign-in with that address links anew."""
    user = db.session.execute(select(User).where(func.lower(User.email) == email.strip().lower())).scalar_one_or_none()
    if user is None:
        raise click.ClickException(f"No account with the e-mail address {email}")
    if not user.entra_object_id:
        click.echo(f"{user.email} is not linked to a Microsoft account.")
        return
    user.entra_tenant_id = user.entra_object_id = None
    db.session.commit()
    log.info("Entra link removed from user %s", user.id)
    click.echo(f"{user.email} is no longer linked to a Microsoft account.")


@entra_cli.command("show")
@click.argument("email")
def show_command(email: str) -> None:
    """Show EMAIL's Microsoft account link (tenant id and object id)."""
    user = db.session.execute(select(User).where(func.lower(User.email) == email.strip().lower())).scalar_one_or_none()
    if user is None:
        raise click.ClickException(f"No account with the e-mail address {email}")
    if user.entra_object_id:
        click.echo(f"{user.email}: tenant {user.entra_tenant_id}, object {user.entra_object_id}")
    else:
        click.echo(f"{user.email} is not linked to a Microsoft account.")


def init_app(app) -> None:
    """Register the Entra sign-in routes; they answer only when ENTRA_* is set (checked per request,
    so the setting is read where the app runs). And the `entra` CLI."""
    app.cli.add_command(entra_cli)
    app.add_url_rule("/sign-in/entra", endpoint="people.entra_start", view_func=entra_start)
    app.add_url_rule("/sign-in/entra/callback", endpoint="people.entra_callback", view_func=entra_callback)
