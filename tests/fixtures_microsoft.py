"""A local HTTPS stand-in for the Microsoft identity platform and Graph (trustme certificate),
written from Microsoft's public docs. Owned by the Microsoft integration work.

What it speaks (paths as on login.microsoftonline.com and graph.microsoft.com):

- `GET  /{tenant}/v2.0/.well-known/openid-configuration` (OpenID Connect discovery; issuer
  `{base}/{tenant}/v2.0`)
- `GET  /{tenant}/oauth2/v2.0/authorize` (authorization code with PKCE: signs in the user the test
  chose with `standin.sign_in_as(...)` and redirects back with `code` and `state`)
- `POST /{tenant}/oauth2/v2.0/token` (`client_credentials`; `authorization_code` with the S256
  `code_verifier` check; client secret in the body or HTTP Basic; id_token RS256 JWT with
  iss/aud/tid/oid/sub/nonce/preferred_username/name; access tokens with `expires_in` 3600)
- Graph v1.0: `POST /v1.0/users/{organizer}/onlineMeetings/createOrGet` (201 new / 200 existing,
  keyed by organizer + externalId), `GET|PATCH|DELETE /v1.0/users/{organizer}/onlineMeetings/{id}`,
  every call checked for a bearer token this server issued for the Graph scope.

Faults the tests queue with `standin.fail_next(status, retry_after=..., code=...)`: 429 with
Retry-After, 503, 401 InvalidAuthenticationToken, 403, anything. `standin.revoke_tokens()` makes
every issued access token invalid (as a real rotation would). Every request is recorded in
`standin.requests` so tests can count creations.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import ssl
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, quote, unquote, urlencode, urlsplit

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

GRAPH_SCOPE = "https://graph.microsoft.com/.default"
TENANT_ID = "6f1c2a9e-3b4d-4e5f-8a7b-9c0d1e2f3a4b"
OTHER_TENANT_ID = "0a0b0c0d-1111-4222-8333-444455556666"
GRAPH_CLIENT_ID = "11111111-2222-4333-8444-555555555555"
GRAPH_CLIENT_SECRET = "graph-secret-" + "x" * 20
ENTRA_CLIENT_ID = "99999999-8888-4777-8666-555555555555"
ENTRA_CLIENT_SECRET = "entra-secret-" + "y" * 20
ORGANIZER_OID = "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee"
ORGANIZER_UPN = "teams-organizer@hyvinvointialue.example"


@dataclass
class Recorded:
    method: str
    path: str
    query: dict
    headers: dict
    body: object
    status: int = 0


@dataclass
class DirectoryUser:
    """A person in the stand-in's directory, signed in at the authorize endpoint."""

    upn: str
    name: str
    oid: str = field(default_factory=lambda: str(uuid.uuid4()))
    tid: str = TENANT_ID
    email: str | None = None


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _graph_time(dt: datetime) -> str:
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.0000000Z")


def _parse_graph_time(value: str) -> datetime:
    v = value.strip().replace("Z", "+00:00")
    if "." in v:  # Graph sends up to 7 fractional digits; Python takes 6
        head, rest = v.split(".", 1)
        frac, sign, tz = rest.partition("+") if "+" in rest else rest.partition("-")
        v = f"{head}.{frac[:6]}{sign}{tz}"
    dt = datetime.fromisoformat(v)
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.astimezone(UTC)


class MicrosoftStandIn:
    """State and behaviour of the stand-in; the HTTP handler below only parses and routes."""

    def __init__(self, base_url: str):
        self.base_url = base_url
        self.lock = threading.RLock()
        self._key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.kid = "standin-" + secrets.token_hex(4)
        self.reset()

    # --- test controls ------------------------------------------------------------------

    def reset(self) -> None:
        with self.lock:
            self.tenants = {TENANT_ID, OTHER_TENANT_ID}
            self.clients = {
                GRAPH_CLIENT_ID: {"secret": GRAPH_CLIENT_SECRET, "tenant": TENANT_ID, "redirect_uris": set()},
                ENTRA_CLIENT_ID: {"secret": ENTRA_CLIENT_SECRET, "tenant": TENANT_ID, "redirect_uris": set()},
            }
            # organizers for whom the Teams application access policy grants our Graph app access
            self.policy_organizers = {ORGANIZER_OID: ORGANIZER_UPN}
            self.requests: list[Recorded] = []
            self.faults: list[dict] = []
            self.access_tokens: dict[str, dict] = {}
            self.codes: dict[str, dict] = {}
            self.meetings: dict[str, dict] = {}  # meeting id -> meeting
            self.next_user: DirectoryUser | None = None
            self.authorize_error: tuple[str, str] | None = None
            self.token_lifetime = 3600

    def register_redirect_uri(self, client_id: str, uri: str) -> None:
        with self.lock:
            self.clients[client_id]["redirect_uris"].add(uri)

    def sign_in_as(self, user: DirectoryUser | None) -> None:
        """The user who 'types their password' at the next authorize request."""
        self.next_user = user

    def fail_next(self, status: int, *, retry_after: int | None = None, code: str | None = None,
                  path_contains: str = "/v1.0/", times: int = 1, text: str | None = None) -> None:
        """Queue a fault for the next matching request(s): a Graph-style JSON error, or `text` as the
        body (an HTML error page, as a load balancer in front of the identity platform sends)."""
        default_codes = {429: "TooManyRequests", 503: "ServiceNotAvailable", 401: "InvalidAuthenticationToken",
                         403: "Forbidden", 404: "NotFound", 400: "BadRequest", 500: "InternalServerError"}
        with self.lock:
            for _ in range(times):
                self.faults.append({"status": status, "retry_after": retry_after, "path": path_contains,
                                    "code": code or default_codes.get(status, "UnknownError"), "text": text})

    def revoke_tokens(self) -> None:
        with self.lock:
            for tok in self.access_tokens.values():
                tok["revoked"] = True

    # --- queries for assertions -----------------------------------------------------------

    def calls(self, method: str, path_contains: str, status: int | None = None) -> list[Recorded]:
        with self.lock:
            return [r for r in self.requests if r.method == method and path_contains in r.path
                    and (status is None or r.status == status)]

    def meetings_for(self, external_id: str) -> list[dict]:
        with self.lock:
            return [m for m in self.meetings.values() if m["externalId"] == external_id]

    # --- identity platform ------------------------------------------------------------------

    def issuer(self, tenant: str) -> str:
        return f"{self.base_url}/{tenant}/v2.0"

    def openid_configuration(self, tenant: str) -> tuple[int, dict]:
        if tenant not in self.tenants:
            return 400, {"error": "invalid_tenant",
                         "error_description": f"AADSTS90002: Tenant '{tenant}' not found."}
        base = f"{self.base_url}/{tenant}"
        return 200, {
            "issuer": self.issuer(tenant),
            "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
            "token_endpoint": f"{base}/oauth2/v2.0/token",
            "jwks_uri": f"{self.base_url}/{tenant}/discovery/v2.0/keys",
            "end_session_endpoint": f"{base}/oauth2/v2.0/logout",
            "response_modes_supported": ["query", "fragment", "form_post"],
            "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
            "scopes_supported": ["openid", "profile", "email", "offline_access"],
            "subject_types_supported": ["pairwise"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt", "client_secret_basic"],
            "claims_supported": ["sub", "iss", "aud", "exp", "iat", "nbf", "name", "nonce", "oid", "tid",
                                 "preferred_username", "email", "ver"],
            "tenant_region_scope": "EU",
        }

    def jwks(self) -> dict:
        pub = self._key.public_key().public_numbers()

        def enc(n: int) -> str:
            return _b64url(n.to_bytes((n.bit_length() + 7) // 8, "big"))

        return {"keys": [{"kty": "RSA", "use": "sig", "kid": self.kid, "n": enc(pub.n), "e": enc(pub.e)}]}

    def authorize(self, tenant: str, q: dict) -> tuple[int, dict, str]:
        """Returns (status, headers, body). A redirect back to the app on success."""
        client = self.clients.get(q.get("client_id", ""))
        redirect_uri = q.get("redirect_uri", "")
        if tenant not in self.tenants or client is None:
            return 400, {}, "AADSTS700016: Application not found in the directory."
        if redirect_uri not in client["redirect_uris"]:
            return 400, {}, "AADSTS50011: The redirect URI specified in the request does not match."
        sep = "&" if "?" in redirect_uri else "?"
        if q.get("response_type") != "code":
            return 302, {"Location": redirect_uri + sep + urlencode(
                {"error": "unsupported_response_type", "state": q.get("state", "")})}, ""
        if self.authorize_error:
            err, desc = self.authorize_error
            return 302, {"Location": redirect_uri + sep + urlencode(
                {"error": err, "error_description": desc, "state": q.get("state", "")})}, ""
        if not q.get("code_challenge") or q.get("code_challenge_method") != "S256":
            return 302, {"Location": redirect_uri + sep + urlencode(
                {"error": "invalid_request", "error_description": "AADSTS9002325: PKCE S256 required.",
                 "state": q.get("state", "")})}, ""
        user = self.next_user
        if user is None:
            return 200, {"Content-Type": "text/html"}, "<html><body>Sign in to your account</body></html>"
        code = _b64url(secrets.token_bytes(32))
        with self.lock:
            self.codes[code] = {
                "client_id": q["client_id"], "redirect_uri": redirect_uri, "tenant": tenant,
                "code_challenge": q["code_challenge"], "nonce": q.get("nonce"),
                "scope": q.get("scope", ""), "user": user, "expires": time.time() + 600,
            }
        params = {"code": code, "state": q.get("state", ""), "session_state": str(uuid.uuid4())}
        return 302, {"Location": redirect_uri + sep + urlencode(params)}, ""

    def _client_auth(self, form: dict, headers: dict) -> tuple[str | None, str | None]:
        auth = headers.get("authorization", "")
        if auth.lower().startswith("basic "):
            cid, _, secret = base64.b64decode(auth[6:]).decode().partition(":")
            return unquote(cid.replace("+", " ")), unquote(secret.replace("+", " "))
        return form.get("client_id"), form.get("client_secret")

    def token(self, tenant: str, form: dict, headers: dict) -> tuple[int, dict]:
        if tenant not in self.tenants:
            return 400, {"error": "invalid_request", "error_description": "AADSTS90002: Tenant not found."}
        client_id, secret = self._client_auth(form, headers)
        client = self.clients.get(client_id or "")
        if client is None or not secret or not secrets.compare_digest(client["secret"], secret):
            return 401, {"error": "invalid_client",
                         "error_description": "AADSTS7000215: Invalid client secret provided.",
                         "error_codes": [7000215]}
        grant = form.get("grant_type")
        now = int(time.time())
        if grant == "client_credentials":
            if form.get("scope") != GRAPH_SCOPE:
                return 400, {"error": "invalid_scope",
                             "error_description": "AADSTS1002012: The provided value for scope is not valid."}
            at = self._issue_access_token(client_id, tenant, app_only=True)
            return 200, {"token_type": "Bearer", "expires_in": self.token_lifetime,
                         "ext_expires_in": self.token_lifetime, "access_token": at}
        if grant == "authorization_code":
            with self.lock:
                entry = self.codes.pop(form.get("code", ""), None)  # single use
            if entry is None or entry["expires"] < now or entry["client_id"] != client_id:
                return 400, {"error": "invalid_grant",
                             "error_description": "AADSTS70008: The provided authorization code or refresh token has expired or was already redeemed."}
            if form.get("redirect_uri") != entry["redirect_uri"]:
                return 400, {"error": "invalid_grant",
                             "error_description": "AADSTS500112: The reply address does not match."}
            verifier = form.get("code_verifier") or ""
            if _b64url(hashlib.sha256(verifier.encode("ascii")).digest()) != entry["code_challenge"]:
                return 400, {"error": "invalid_grant",
                             "error_description": "AADSTS501481: The Code_Verifier does not match the code_challenge supplied in the authorization request."}
            user: DirectoryUser = entry["user"]
            claims = {
                "aud": client_id, "iss": self.issuer(user.tid), "iat": now, "nbf": now, "exp": now + 3600,
                "name": user.name, "oid": user.oid, "preferred_username": user.upn,
                "sub": _b64url(hashlib.sha256(f"{user.oid}:{client_id}".encode()).digest()),
                "tid": user.tid, "ver": "2.0",
            }
            if entry["nonce"]:
                claims["nonce"] = entry["nonce"]
            if user.email:
                claims["email"] = user.email
            id_token = jwt.encode(claims, self._key, algorithm="RS256", headers={"kid": self.kid})
            client_info = _b64url(json.dumps({"uid": user.oid, "utid": user.tid}).encode())
            return 200, {
                "token_type": "Bearer", "scope": "openid profile email User.Read",
                "expires_in": self.token_lifetime, "ext_expires_in": self.token_lifetime,
                "access_token": self._issue_access_token(client_id, user.tid, app_only=False),
                "id_token": id_token, "client_info": client_info,
            }
        return 400, {"error": "unsupported_grant_type",
                     "error_description": "AADSTS70003: The app requested an unsupported grant type."}

    def _issue_access_token(self, client_id: str, tenant: str, *, app_only: bool) -> str:
        raw = _b64url(secrets.token_bytes(32))
        with self.lock:
            self.access_tokens[raw] = {"client_id": client_id, "tenant": tenant, "app_only": app_only,
                                       "expires": time.time() + self.token_lifetime, "revoked": False}
        return raw

    # --- Graph -----------------------------------------------------------------------------

    @staticmethod
    def graph_error(status: int, code: str, message: str) -> tuple[int, dict, dict]:
        return status, {}, {"error": {"code": code, "message": message,
                                      "innerError": {"date": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S"),
                                                     "request-id": str(uuid.uuid4())}}}

    def _check_bearer(self, headers: dict) -> tuple[int, dict, dict] | None:
        auth = headers.get("authorization", "")
        if not auth.startswith("Bearer "):
            return self.graph_error(401, "InvalidAuthenticationToken", "Access token is empty.")
        tok = self.access_tokens.get(auth[7:])
        if tok is None or tok["revoked"]:
            return self.graph_error(401, "InvalidAuthenticationToken", "IDX14100: JWT is not well formed.")
        if tok["expires"] < time.time():
            return self.graph_error(401, "InvalidAuthenticationToken", "Lifetime validation failed, the token is expired.")
        if not tok["app_only"] or tok["client_id"] != GRAPH_CLIENT_ID:
            return self.graph_error(403, "Forbidden", "Insufficient privileges to complete the operation.")
        return None

    def graph(self, method: str, path: str, headers: dict, body) -> tuple[int, dict, dict | None]:
        denied = self._check_bearer(headers)
        if denied:
            return denied
        parts = path.split("/")  # ['', 'v1.0', 'users', organizer, 'onlineMeetings', ...]
        if len(parts) < 5 or parts[2] != "users" or parts[4] != "onlineMeetings":
            return self.graph_error(400, "BadRequest", "Resource not found for the segment.")
        organizer = unquote(parts[3])
        oid = next((o for o, upn in self.policy_organizers.items() if organizer in (o, upn)), None)
        if oid is None:
            return self.graph_error(403, "Forbidden",
                                    "Application does not have permission to create online meeting on behalf of this user.")
        rest = parts[5:]
        if method == "POST" and rest == ["createOrGet"]:
            return self._create_or_get(oid, body or {})
        if len(rest) == 1 and rest[0]:
            meeting_id = unquote(rest[0])
            with self.lock:
                meeting = self.meetings.get(meeting_id)
                if meeting is None or meeting["_organizer"] != oid:
                    return self.graph_error(404, "NotFound", "The meeting was not found.")
                if method == "GET":
                    return 200, {}, self._public(meeting)
                if method == "DELETE":
                    del self.meetings[meeting_id]
                    return 204, {}, None
                if method == "PATCH":
                    body = body or {}
                    if ("startDateTime" in body) != ("endDateTime" in body):
                        return self.graph_error(400, "BadRequest",
                                                "Adjusting the start or end time requires both startDateTime and endDateTime.")
                    if "startDateTime" in body:
                        start, end = _parse_graph_time(body["startDateTime"]), _parse_graph_time(body["endDateTime"])
                        if end < start:
                            return self.graph_error(400, "BadRequest", "endDateTime is earlier than startDateTime.")
                        meeting["startDateTime"], meeting["endDateTime"] = _graph_time(start), _graph_time(end)
                    if "subject" in body:
                        meeting["subject"] = body["subject"]
                    return 200, {}, self._public(meeting)
        return self.graph_error(405, "MethodNotAllowed", "The method is not allowed on this resource.")

    def _create_or_get(self, oid: str, body: dict) -> tuple[int, dict, dict]:
        external_id = body.get("externalId")
        if not external_id:
            return self.graph_error(400, "BadRequest", "externalId is required.")
        now = datetime.now(UTC)
        try:
            start = _parse_graph_time(body["startDateTime"]) if body.get("startDateTime") else None
            end = _parse_graph_time(body["endDateTime"]) if body.get("endDateTime") else None
        except ValueError:
            return self.graph_error(400, "BadRequest", "Invalid DateTime value.")
        if end is not None and start is None:
            return self.graph_error(400, "BadRequest", "endDateTime was given without startDateTime.")
        start = start or now
        end = end or start + timedelta(hours=1)
        if end < start:
            return self.graph_error(400, "BadRequest", "endDateTime is earlier than startDateTime.")
        with self.lock:
            for m in self.meetings.values():
                if m["_organizer"] == oid and m["externalId"] == external_id:
                    return 200, {}, self._public(m)
            meeting_id = "MSo" + _b64url(f"{oid}*{uuid.uuid4()}".encode())
            thread = secrets.token_hex(16)
            context = quote(json.dumps({"Tid": TENANT_ID, "Oid": oid}, separators=(",", ":")), safe="")
            meeting = {
                "id": meeting_id, "externalId": external_id, "_organizer": oid,
                "creationDateTime": _graph_time(now), "startDateTime": _graph_time(start),
                "endDateTime": _graph_time(end), "subject": body.get("subject", ""),
                "joinWebUrl": f"https://teams.microsoft.com/l/meetup-join/19%3ameeting_{thread}%40thread.v2/0?context={context}",
                "videoTeleconferenceId": str(secrets.randbelow(10**10)),
                "participants": {"organizer": {"upn": self.policy_organizers[oid], "role": "presenter",
                                               "identity": {"user": {"id": oid, "tenantId": TENANT_ID}}},
                                 "attendees": body.get("participants", {}).get("attendees", [])},
                "chatInfo": {"threadId": f"19:meeting_{thread}@thread.v2", "messageId": "0"},
            }
            self.meetings[meeting_id] = meeting
            return 201, {}, self._public(meeting)

    @staticmethod
    def _public(meeting: dict) -> dict:
        out = {k: v for k, v in meeting.items() if not k.startswith("_")}
        out["@odata.context"] = "https://graph.microsoft.com/v1.0/$metadata#microsoft.graph.onlineMeeting"
        return out

    # --- dispatch -------------------------------------------------------------------------

    def take_fault(self, path: str) -> dict | None:
        with self.lock:
            for i, f in enumerate(self.faults):
                if f["path"] in path:
                    return self.faults.pop(i)
        return None


def _make_handler(standin: MicrosoftStandIn):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # headers and body go out as separate writes

        def log_message(self, *args):  # quiet
            pass

        def _send(self, status: int, headers: dict | None = None, body: object = None, text: str | None = None):
            payload = b""
            headers = dict(headers or {})
            if body is not None:
                payload = json.dumps(body).encode()
                headers.setdefault("Content-Type", "application/json; charset=utf-8")
            elif text is not None:
                payload = text.encode()
                headers.setdefault("Content-Type", "text/plain; charset=utf-8")
            self.send_response(status)
            for k, v in headers.items():
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            if payload:
                self.wfile.write(payload)

        def _handle(self, method: str):
            parts = urlsplit(self.path)
            query = {k: v[0] for k, v in parse_qs(parts.query).items()}
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            ctype = self.headers.get("Content-Type", "")
            body: object = None
            if raw:
                if "json" in ctype:
                    body = json.loads(raw)
                elif "x-www-form-urlencoded" in ctype:
                    body = {k: v[0] for k, v in parse_qs(raw.decode()).items()}
                else:
                    body = raw.decode(errors="replace")
            headers = {k.lower(): v for k, v in self.headers.items()}
            rec = Recorded(method, parts.path, query, headers, body)
            with standin.lock:
                standin.requests.append(rec)

            fault = standin.take_fault(parts.path)
            if fault:
                rec.status = fault["status"]
                extra = {"Retry-After": str(fault["retry_after"])} if fault["retry_after"] is not None else {}
                if fault["text"] is not None:
                    return self._send(fault["status"], {**extra, "Content-Type": "text/html"}, text=fault["text"])
                _s, _h, err = standin.graph_error(fault["status"], fault["code"], "Injected fault.")
                return self._send(fault["status"], extra, err)

            segs = parts.path.split("/")
            status, out_headers, out_body, out_text = 404, {}, {"error": "not_found"}, None
            if parts.path.startswith("/v1.0/"):
                status, out_headers, out_body = standin.graph(method, parts.path, headers, body)
            elif len(segs) >= 3 and parts.path.endswith("/v2.0/.well-known/openid-configuration") and method == "GET":
                status, out_body = standin.openid_configuration(segs[1])
            elif parts.path.endswith("/discovery/v2.0/keys") and method == "GET":
                status, out_body = 200, standin.jwks()
            elif parts.path.endswith("/oauth2/v2.0/authorize") and method == "GET":
                status, out_headers, out_text = standin.authorize(segs[1], query)
                out_body = None
            elif parts.path.endswith("/oauth2/v2.0/token") and method == "POST":
                status, out_body = standin.token(segs[1], body if isinstance(body, dict) else {}, headers)
                out_headers = {"Cache-Control": "no-store", "Pragma": "no-cache"}
            rec.status = status
            self._send(status, out_headers, out_body, out_text)

        def do_GET(self):
            self._handle("GET")

        def do_POST(self):
            self._handle("POST")

        def do_PATCH(self):
            self._handle("PATCH")

        def do_DELETE(self):
            self._handle("DELETE")

    return Handler


class _Server(ThreadingHTTPServer):
    daemon_threads = True


@pytest.fixture(scope="session")
def microsoft_ca(tmp_path_factory):
    """A test CA (trustme) and a bundle file: the system's CAs plus this one."""
    import trustme

    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    folder = tmp_path_factory.mktemp("microsoft-ca")
    ca_file = folder / "test-ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    bundle = folder / "bundle.pem"
    system = ""
    try:
        import certifi

        system = open(certifi.where()).read()
    except Exception:
        pass
    bundle.write_text(system + "\n" + ca.cert_pem.bytes().decode())
    return {"ca": ca, "cert": cert, "ca_file": str(ca_file), "bundle": str(bundle)}


@pytest.fixture(scope="session")
def microsoft_server(microsoft_ca):
    server = _Server(("127.0.0.1", 0), None)  # handler set below, once the base URL is known
    port = server.server_address[1]
    standin = MicrosoftStandIn(f"https://127.0.0.1:{port}")
    server.RequestHandlerClass = _make_handler(standin)
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    microsoft_ca["cert"].configure_cert(ctx)
    server.socket = ctx.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield standin
    server.shutdown()
    server.server_close()


@pytest.fixture
def ms_standin(microsoft_server, microsoft_ca, monkeypatch):
    """The stand-in, emptied for this test. requests (and so msal) trust its CA for this test only:
    production code keeps the default trust store."""
    microsoft_server.reset()
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", microsoft_ca["bundle"])
    monkeypatch.setenv("CURL_CA_BUNDLE", microsoft_ca["bundle"])
    return microsoft_server


@pytest.fixture
def graph_settings(app, ms_standin):
    """Teams on, pointed at the stand-in; a fresh per-process Graph client for the test."""
    from scheduler.delivery import microsoft

    keys = ["GRAPH_ENABLED", "GRAPH_TENANT_ID", "GRAPH_CLIENT_ID", "GRAPH_CLIENT_SECRET", "GRAPH_ORGANIZER",
            "GRAPH_AUTHORITY_URL", "GRAPH_API_URL"]
    saved = {k: app.config.get(k) for k in keys}
    app.config.update({
        "GRAPH_ENABLED": True, "GRAPH_TENANT_ID": TENANT_ID, "GRAPH_CLIENT_ID": GRAPH_CLIENT_ID,
        "GRAPH_CLIENT_SECRET": GRAPH_CLIENT_SECRET, "GRAPH_ORGANIZER": ORGANIZER_OID,
        "GRAPH_AUTHORITY_URL": ms_standin.base_url, "GRAPH_API_URL": ms_standin.base_url + "/v1.0",
    })
    microsoft.forget_graph_clients()
    yield ms_standin
    microsoft.forget_graph_clients()
    app.config.update(saved)


@pytest.fixture
def entra_settings(app, ms_standin):
    """Entra ID sign-in on, pointed at the stand-in, with the app's callback registered there."""
    from scheduler.people import entra

    keys = ["ENTRA_ENABLED", "ENTRA_TENANT_ID", "ENTRA_CLIENT_ID", "ENTRA_CLIENT_SECRET", "ENTRA_AUTHORITY_URL"]
    saved = {k: app.config.get(k) for k in keys}
    app.config.update({
        "ENTRA_ENABLED": True, "ENTRA_TENANT_ID": TENANT_ID, "ENTRA_CLIENT_ID": ENTRA_CLIENT_ID,
        "ENTRA_CLIENT_SECRET": ENTRA_CLIENT_SECRET, "ENTRA_AUTHORITY_URL": ms_standin.base_url,
    })
    ms_standin.register_redirect_uri(ENTRA_CLIENT_ID, app.config["BASE_URL"] + "/sign-in/entra/callback")
    entra.forget_entra_clients()
    yield ms_standin
    entra.forget_entra_clients()
    app.config.update(saved)
