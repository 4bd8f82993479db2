"""Teams meetings through Microsoft Graph (app-only, msal client credentials).

Why Graph `onlineMeetings` plus our own iMIP invitations, and not Graph calendar events
---------------------------------------------------------------------------------------
A calendar event created with `isOnlineMeeting: true` makes Exchange send the invitations: one
message, in the organizer mailbox's language, with one time, to everybody on the attendee list.
That breaks three things we must hold:

1. *Exactly one invitation per person per meeting.* Our own iMIP e-mails (delivery/mail.py,
   delivery/ical.py) already invite the booker, the consultants and the extra participants; an
   Exchange invitation on top would give each of them a second, competing calendar entry.
2. *Each recipient in their own language* (fi/sv/en): we render every invitation per recipient.
3. *A panel's submitting social workers are invited to their own case's time only*, with the
   same join link as the whole session; an Exchange event has one time for all attendees.

So Graph only creates the Teams meeting (`POST /users/{organizer}/onlineMeetings/createOrGet`,
which never shows in anyone's calendar), and our invitations carry its join link. createOrGet is
keyed by an `externalId` that is random, stored with the meeting key and stable for the life of
the meeting: a create retried after a timeout, a 429 or a crash after Graph answered but before
our commit returns the same meeting instead of making a second one. A change of time is a
`PATCH`, a cancellation a `DELETE`. Subjects name only the service and the kind of meeting.

The interface for the other packages (BRIEF "Teams"): `teams_enabled`, `request_meeting`,
`cancel_meeting`, `join_url_for`. They write the wanted state into `TeamsMeeting` and an outbox
message of kind "graph" in the caller's transaction; the "graph" handler converges Graph to the
wanted state and, when a join URL first becomes known, sends `teams_meeting_ready`.
"""

from __future__ import annotations

import logging
import re
import threading
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import quote

import msal
import requests
from flask import current_app
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from ..core.privacy import find_identity_codes
from ..core.signals import teams_meeting_ready
from ..extensions import db
from .microsoft_models import TeamsMeeting, new_external_id
from .outbox import PermanentFailure, RetryLater, enqueue

log = logging.getLogger(__name__)

GRAPH_SCOPE = "https://graph.microsoft.com/.default"
OUTBOX_KIND = "graph"
MEETING_KEY = re.compile(r"^(booking|panel-session):\d+$")
HTTP_TIMEOUT = 30  # seconds, per Graph or token request


# --- errors ------------------------------------------------------------------------------------

class GraphError(Exception):
    """Graph answered with an error. `status` is the HTTP status, `code` Graph's error code."""

    def __init__(self, status: int, code: str = "", message: str = "", retry_after: float | None = None):
        super().__init__(f"Graph {status} {code}: {message}".strip())
        self.status, self.code, self.message, self.retry_after = status, code, message, retry_after


class GraphThrottled(GraphError):
    """429 or 503: wait `retry_after` seconds (when Graph said) and try again."""


class GraphAuthError(GraphError):
    """401: the access token was refused (expired, revoked, rotated keys)."""


class GraphTokenError(Exception):
    """The identity platform refused to issue an app token (wrong secret, tenant or consent)."""


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def _graph_time(dt: datetime) -> str:
    if dt.tzinfo is None:
        raise ValueError("naive datetime given to Graph")
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_graph_time(value: str | None) -> datetime | None:
    """Graph's DateTime ('2027-01-05T11:00:00.0000000Z', up to 7 fractional digits) → aware UTC."""
    if not value:
        return None
    m = re.match(r"^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d+))?(Z|[+-]\d{2}:\d{2})?$", value.strip())
    if not m:
        return None
    base, frac, tz = m.groups()
    dt = datetime.fromisoformat(base + (f".{frac[:6]}" if frac else "") + ("+00:00" if tz in (None, "Z") else tz))
    return dt.astimezone(UTC)


# --- the client --------------------------------------------------------------------------------

class GraphClient:
    """Microsoft Graph with an app-only token. One per process (see `graph_client()`): msal's
    ConfidentialClientApplication keeps the token in its cache and renews it shortly before expiry.

    `http_session` is the requests session used for both the identity platform and Graph; by default
    a plain `requests.Session()`, which verifies certificates against the system's trust store.
    """

    def __init__(self, *, tenant_id: str, client_id: str, client_secret: str, authority_url: str, api_url: str,
                 http_session: requests.Session | None = None, timeout: float = HTTP_TIMEOUT):
        self.api_url = api_url.rstrip("/")
        self.timeout = timeout
        self.session = http_session or requests.Session()
        self.token_cache = msal.TokenCache()
        self._msal = msal.ConfidentialClientApplication(
            client_id,
            client_credential=client_secret,
            authority=f"{authority_url.rstrip('/')}/{tenant_id}",
            token_cache=self.token_cache,
            http_client=self.session,
            # the authority is configured by the administrator; no look-up of it at Microsoft
            instance_discovery=False,
            timeout=timeout,
        )

    # tokens
    def access_token(self) -> str:
        result = self._msal.acquire_token_for_client(scopes=[GRAPH_SCOPE])
        if "access_token" not in result:
            raise GraphTokenError(f"{result.get('error', 'no_token')}: {result.get('error_description', '')[:300]}")
        return result["access_token"]

    def drop_token(self) -> None:
        """Forget cached access tokens (after a 401) so the next call fetches a new one."""
        for item in list(self.token_cache.search(msal.TokenCache.CredentialType.ACCESS_TOKEN)):
            self.token_cache.remove_at(item)

    # plain requests
    def request(self, method: str, path: str, json: dict | None = None) -> dict | None:
        headers = {"Authorization": f"Bearer {self.access_token()}", "Accept": "application/json"}
        resp = self.session.request(method, self.api_url + path, json=json, headers=headers, timeout=self.timeout)
        if 200 <= resp.status_code < 300:
            if resp.status_code == 204 or not resp.content:
                return None
            return resp.json()
        code, message = "", ""
        try:
            err = resp.json().get("error", {})
            if isinstance(err, dict):
                code, message = str(err.get("code", "")), str(err.get("message", ""))[:300]
        except ValueError:
            message = resp.text[:200]
        if resp.status_code in (429, 503):
            raise GraphThrottled(resp.status_code, code, message, _retry_after(resp.headers.get("Retry-After")))
        if resp.status_code == 401:
            raise GraphAuthError(401, code, message)
        raise GraphError(resp.status_code, code, message)

    # online meetings
    def _meetings(self, organizer: str) -> str:
        return f"/users/{quote(organizer, safe='@')}/onlineMeetings"

    def create_or_get_meeting(self, organizer: str, external_id: str, subject: str, start_dt: datetime,
                              end_dt: datetime) -> dict:
        body = {"externalId": external_id, "subject": subject,
                "startDateTime": _graph_time(start_dt), "endDateTime": _graph_time(end_dt)}
        result = self.request("POST", self._meetings(organizer) + "/createOrGet", json=body)
        assert result is not None
        return result

    def update_meeting(self, organizer: str, meeting_id: str, subject: str, start_dt: datetime,
                       end_dt: datetime) -> dict:
        body = {"subject": subject, "startDateTime": _graph_time(start_dt), "endDateTime": _graph_time(end_dt)}
        result = self.request("PATCH", f"{self._meetings(organizer)}/{quote(meeting_id, safe='')}", json=body)
        return result or {}

    def delete_meeting(self, organizer: str, meeting_id: str) -> None:
        try:
            self.request("DELETE", f"{self._meetings(organizer)}/{quote(meeting_id, safe='')}")
        except GraphError as exc:
            if exc.status != 404:  # already gone is what we wanted
                raise


_clients: dict[tuple, GraphClient] = {}
_clients_lock = threading.Lock()


def graph_client() -> GraphClient:
    """This process's GraphClient for the current settings (created once, then reused)."""
    cfg = current_app.config
    key = (cfg["GRAPH_TENANT_ID"], cfg["GRAPH_CLIENT_ID"], cfg["GRAPH_CLIENT_SECRET"], cfg["GRAPH_AUTHORITY_URL"],
           cfg["GRAPH_API_URL"])
    with _clients_lock:
        client = _clients.get(key)
        if client is None:
            client = _clients[key] = GraphClient(tenant_id=key[0], client_id=key[1], client_secret=key[2],
                                                 authority_url=key[3], api_url=key[4])
        return client


def forget_graph_clients() -> None:
    """Drop the per-process clients (and their token caches)."""
    with _clients_lock:
        _clients.clear()


# --- the interface for bookings and panel sessions ---------------------------------------------

def teams_enabled() -> bool:
    return bool(current_app.config.get("GRAPH_ENABLED"))


def _check(meeting_key: str, subject: str, start_dt: datetime, end_dt: datetime) -> None:
    if not MEETING_KEY.match(meeting_key):
        raise ValueError(f"not a meeting key: {meeting_key!r}")
    if start_dt.tzinfo is None or end_dt.tzinfo is None:
        raise ValueError("meeting times must be timezone-aware")
    if end_dt <= start_dt:
        raise ValueError("a meeting must end after it starts")
    if find_identity_codes(subject):  # a last guard: subjects carry no case data
        raise ValueError("a Teams subject must not carry case data")


def _row(meeting_key: str) -> TeamsMeeting | None:
    return db.session.execute(
        select(TeamsMeeting).where(TeamsMeeting.meeting_key == meeting_key).with_for_update()
    ).scalar_one_or_none()


def _enqueue(row: TeamsMeeting) -> None:
    enqueue(OUTBOX_KIND, {"op": "sync", "meeting_key": row.meeting_key, "version": row.version},
            dedupe_key=f"graph:{row.external_id}:v{row.version}")


def request_meeting(meeting_key: str, subject: str, start_dt: datetime, end_dt: datetime) -> None:
    """Create the Teams meeting for a booking or panel session, or move it to new times.

    Runs in the caller's transaction (the caller commits). Does nothing when Teams is off or when
    nothing changed. `subject` names the service and the kind of meeting only.
    """
    if not teams_enabled():
        return
    subject = (subject or "").strip()[:200]
    _check(meeting_key, subject, start_dt, end_dt)
    # Graph keeps whole seconds; so do we, or every comparison would see a change
    start_dt, end_dt = start_dt.replace(microsecond=0), end_dt.replace(microsecond=0)
    row = _row(meeting_key)
    if row is None:
        try:
            with db.session.begin_nested():
                row = TeamsMeeting(meeting_key=meeting_key, subject=subject, start_dt=start_dt, end_dt=end_dt,
                                   version=1, is_cancelled=False, is_deleted_in_graph=False)
                db.session.add(row)
        except IntegrityError:  # another transaction created it first
            row = _row(meeting_key)
            assert row is not None
        else:
            _enqueue(row)
            return
    if row.is_cancelled:
        row.is_cancelled = False
        if row.is_deleted_in_graph or row.graph_id is None:
            # deleted in Graph (or never made, or made by a run that crashed): a new Teams meeting,
            # under a new externalId so createOrGet cannot hand back the old one
            row.external_id = new_external_id()
            row.is_deleted_in_graph = False
            row.graph_id = row.join_url = row.synced_subject = None
            row.synced_start_dt = row.synced_end_dt = None
        # else: the deletion was still waiting in the outbox; the same meeting simply stays
    elif (row.subject, row.start_dt, row.end_dt) == (subject, start_dt, end_dt):
        return
    row.subject, row.start_dt, row.end_dt = subject, start_dt, end_dt
    row.version += 1
    db.session.flush()
    _enqueue(row)


def cancel_meeting(meeting_key: str) -> None:
    """Delete the Teams meeting (through the outbox). Nothing happens when there is none."""
    if not teams_enabled():
        return
    row = _row(meeting_key)
    if row is None or row.is_cancelled:
        return
    row.is_cancelled = True
    row.version += 1
    db.session.flush()
    _enqueue(row)


def join_url_for(meeting_key: str) -> str | None:
    row = db.session.execute(select(TeamsMeeting).where(TeamsMeeting.meeting_key == meeting_key)).scalar_one_or_none()
    if row is None or row.is_cancelled:
        return None
    return row.join_url


# --- the outbox handler ------------------------------------------------------------------------

def sync_meeting(meeting_key: str, client: GraphClient | None = None) -> str | None:
    """Bring Graph to the wanted state of one meeting. Raises GraphError and friends.

    Returns the join URL when it became known (or changed) in this run, else None. The caller
    commits; a rollback after Graph answered is safe: the next run's createOrGet finds the meeting.
    """
    row = _row(meeting_key)
    if row is None or row.is_in_sync:
        return None
    client = client or graph_client()
    organizer = current_app.config["GRAPH_ORGANIZER"]
    if row.is_cancelled:
        if row.graph_id:
            client.delete_meeting(organizer, row.graph_id)
            row.is_deleted_in_graph = True
        return None
    seen_url = None
    if row.graph_id is None:
        meeting = client.create_or_get_meeting(organizer, row.external_id, row.subject, row.start_dt, row.end_dt)
        row.graph_id = str(meeting["id"])
        seen_url = _remember(row, meeting)
    if (row.synced_subject, row.synced_start_dt, row.synced_end_dt) != (row.subject, row.start_dt, row.end_dt):
        # a time change, or createOrGet found the meeting a crashed run had made with older values
        meeting = client.update_meeting(organizer, row.graph_id, row.subject, row.start_dt, row.end_dt)
        seen_url = _remember(row, meeting, fallback=True) or seen_url
    url = None
    if seen_url and seen_url != row.join_url:
        row.join_url = url = seen_url
    db.session.flush()
    return url


def _remember(row: TeamsMeeting, meeting: dict, fallback: bool = False) -> str | None:
    """Note what Graph now has; returns its join URL."""
    row.synced_subject = meeting.get("subject", row.subject if fallback else None)
    row.synced_start_dt = parse_graph_time(meeting.get("startDateTime")) or (row.start_dt if fallback else None)
    row.synced_end_dt = parse_graph_time(meeting.get("endDateTime")) or (row.end_dt if fallback else None)
    return meeting.get("joinWebUrl") or None


def handle_graph_message(message: Any) -> None:
    """Outbox handler for kind "graph": 429/503 → RetryLater(Retry-After); 401 → drop the token and
    retry later; other 4xx → PermanentFailure; anything else → the outbox's back-off."""
    payload = message.payload or {}
    meeting_key = payload.get("meeting_key", "")
    if not MEETING_KEY.match(meeting_key):
        raise PermanentFailure(f"graph message without a meeting key ({payload.get('op')!r})")
    if not teams_enabled():
        raise PermanentFailure("Teams is off (GRAPH_* settings are not set); the meeting was not synchronised")
    client = graph_client()
    try:
        url = sync_meeting(meeting_key, client)
    except GraphThrottled as exc:
        raise RetryLater(f"Graph {exc.status} {exc.code}".strip(), retry_after=exc.retry_after) from exc
    except GraphAuthError as exc:
        client.drop_token()
        raise RetryLater(f"Graph 401 {exc.code}: access token refused, a new one will be fetched") from exc
    except GraphError as exc:
        if 400 <= exc.status < 500:
            raise PermanentFailure(f"Graph {exc.status} {exc.code}: {exc.message}") from exc
        raise
    if url:
        log.info("Teams meeting ready for %s", meeting_key)
        teams_meeting_ready.send(meeting_key, join_url=url)
