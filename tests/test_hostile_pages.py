"""Hostile page requests, as each role, against the demo: never a server error, and bad input
changes nothing.

Three tables:
- query parameters out of range or garbage (`page=`, `year=`, `case=`, dates, filters);
- ids in addresses that are missing, zero or larger than any database integer (2^31, 2^63), and
  garbage in the addresses' text parts, on every page address, GET and POST (a POST to a missing
  object is a 404 and changes nothing);
- every form the role can reach (found by crawling the demo, as tests/test_demo_smoke.py does),
  posted with huge values (100 kB), NUL bytes, lone surrogates, wrong types (words in number
  fields, unknown choices): nothing is saved.
"""

from __future__ import annotations

import hashlib
import re
from collections import deque
from html.parser import HTMLParser
from urllib.parse import quote, urldefrag, urlsplit

import pytest
from sqlalchemy import select

from .conftest import csrf_token
from .test_demo_smoke import SKIP, sign_in_demo

ROLES = {
    "social worker": "sosiaalityontekija@demo.fi",
    "host": "lanu@demo.fi",
    "secretary": "sihteeri@demo.fi",
    "expert": "juristi@demo.fi",
    "admin": "admin@demo.fi",
}
HUGE = "x" * 100_000
# Tables that a mere page view writes to (sessions, the access log of case and booking reads, which
# keeps refusals too, the feed cache) are not "data changed by the input".
NOT_INPUT = {"user_sessions", "login_throttles", "access_log", "feed_render_cache"}


@pytest.fixture
def demo(app, db):
    from scheduler.demo import seed_demo

    seed_demo(production=False)
    db.session.commit()


def fingerprint(db) -> dict[str, str]:
    """A digest of every table's rows (what the input could have changed)."""
    db.session.rollback()
    out = {}
    for table in db.metadata.sorted_tables:
        if table.name in NOT_INPUT:
            continue
        order = list(table.primary_key.columns) or list(table.columns)
        rows = db.session.execute(select(table).order_by(*order)).all()
        out[table.name] = hashlib.sha256(repr([tuple(r) for r in rows]).encode()).hexdigest()
    db.session.rollback()
    return out


def changed(before: dict, after: dict) -> list[str]:
    return sorted(k for k in before if before[k] != after.get(k))


def signed_in(app, role: str):
    client = app.test_client()
    sign_in_demo(client, ROLES[role])
    return client


# --- 1. query parameters ---------------------------------------------------------------------

GARBAGE = ["0", "-1", "2147483648", "9223372036854775808", "99999999999999999999999", "abc", "1e3", "1.5",
           "%00", "a%00b", "%ED%A0%80", "%FF", "31.2.2027", "1.1.1", "1.1.99999", "0.0.0", HUGE]

QUERIES = {
    "admin": [("/admin/users", ["page", "q", "role", "state", "unit"]),
              ("/panels/figures", ["year", "panel", "format"]),
              ("/panels/admin/read-log", ["page", "case"]),
              ("/admin/outbox/", ["status"])],
    "secretary": [("/panels/figures", ["year", "panel"]), ("/panels/sessions", ["page", "year"])],
    "social worker": [("/consultations/", ["date_from", "date_to", "kind", "unit", "modality", "language"]),
                      ("/consultations/mine", ["page"])],
    "host": [("/consultations/", ["date_from", "date_to", "unit"]), ("/consultations/hosting", ["page"])],
    "expert": [("/consultations/", ["date_from", "date_to"]), ("/panels/my-sessions", ["page"])],
}


@pytest.mark.parametrize("role", list(ROLES))
def test_query_parameters_out_of_range_or_garbage(app, demo, db, role):
    client = signed_in(app, role)
    before = fingerprint(db)
    failures = {}
    for path, params in QUERIES[role]:
        for value in GARBAGE:
            encoded = value if "%" in value else quote(value, safe="")
            for query in [f"{p}={encoded}" for p in params] + ["&".join(f"{p}={encoded}" for p in params)]:
                resp = client.get(f"{path}?{query}")
                if resp.status_code >= 500:
                    failures[f"{path}?{query[:80]}"] = resp.status_code
    assert not failures, "\n".join(f"{k}: {v}" for k, v in failures.items())
    assert changed(before, fingerprint(db)) == []


# --- 2. ids and text in addresses --------------------------------------------------------------

MISSING_IDS = [0, 2**31 - 1, 2**31, 2**63]
BAD_TEXT = ["x", "0", "9" * 40, "%00", "a%01b", "%ED%A0%80", "y" * 3000]


def _real_ids(db) -> dict[str, object]:
    from scheduler.consultations.models import Booking, ConsultationSeries
    from scheduler.delivery.models import OutboxMessage
    from scheduler.panels.models import Panel, PanelCase, PanelExpert, PanelSession
    from scheduler.people.models import ApiToken, ExpertiseArea, Unit, User

    def first(col):
        return db.session.scalar(select(col).order_by(col).limit(1))

    return {"token_id": first(ApiToken.id), "unit_id": first(Unit.id), "user_id": first(User.id),
            "booking_id": first(Booking.id), "series_id": first(ConsultationSeries.id), "panel_id": first(Panel.id),
            "case_id": first(PanelCase.id), "session_id": first(PanelSession.id), "expert_id": first(PanelExpert.user_id),
            "message_id": first(OutboxMessage.id), "code": first(ExpertiseArea.code), "direction": "up"}


def _addresses(app, db) -> list[tuple[str, set[str], str]]:
    """(address, methods, what) for every page address with a variable part: each variable missing or
    garbage in turn, the others real."""
    real = _real_ids(db)
    out = []
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith(("/api/", "/static/")) or not rule.arguments:
            continue
        methods = set(rule.methods) - {"HEAD", "OPTIONS"}
        for arg in sorted(rule.arguments):
            is_int = type(rule._converters[arg]).__name__ == "DatabaseIntConverter"
            for bad in (MISSING_IDS if is_int else BAD_TEXT):
                path = rule.rule
                for name in rule.arguments:
                    value = bad if name == arg else real.get(name) or "1"
                    path = re.sub(rf"<(?:[a-z]+:)?{name}>", str(value), path)
                out.append((path, methods, f"{rule.rule} {arg}={str(bad)[:20]}"))
    return out


@pytest.mark.parametrize("role", list(ROLES))
def test_missing_and_huge_ids_in_addresses(app, demo, db, role):
    client = signed_in(app, role)
    token = csrf_token(client, "/")
    before = fingerprint(db)
    failures = {}
    for path, methods, what in _addresses(app, db):
        if "GET" in methods:
            resp = client.get(path)
            if resp.status_code >= 500:
                failures[f"GET {what}"] = resp.status_code
        if "POST" in methods and not path.startswith("/sign-in"):
            resp = client.post(path, data={"csrf_token": token, "reason": "x", "message": "x", "minutes": "30",
                                           "session_id": "1", "held": "1", "active": "1", "slot_id": "x",
                                           "text": "x", "new_password": "y" * 20})
            if resp.status_code >= 500:
                failures[f"POST {what}"] = resp.status_code
    assert not failures, "\n".join(f"{k}: {v}" for k, v in failures.items())
    assert changed(before, fingerprint(db)) == []


def test_a_post_to_a_missing_case_is_not_found(app, demo, db):
    """The issue's example: POST /panels/cases/<missing id>/withdraw was a 500."""
    client = signed_in(app, "social worker")
    resp = client.post("/panels/cases/2147483647/withdraw", data={"csrf_token": csrf_token(client, "/panels/")})
    assert resp.status_code == 404
    assert "text/html" in resp.content_type


# --- 3. every reachable form, posted with hostile values -----------------------------------------

class _Forms(HTMLParser):
    """The forms of a page: action, method, enctype and fields (name, kind, value, options)."""

    def __init__(self):
        super().__init__()
        self.forms: list[dict] = []
        self._form: dict | None = None
        self._select: dict | None = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form":
            self._form = {"action": a.get("action") or "", "method": (a.get("method") or "get").lower(),
                          "enctype": a.get("enctype") or "", "fields": []}
            self.forms.append(self._form)
        elif self._form is None or not a.get("name"):
            return
        elif tag == "input":
            kind = (a.get("type") or "text").lower()
            if kind in ("submit", "button", "reset", "image"):
                if a.get("value") is not None:
                    self._form["fields"].append({"name": a["name"], "kind": "button", "value": a["value"]})
                return
            self._form["fields"].append({"name": a["name"], "kind": kind, "value": a.get("value") or ""})
        elif tag == "button":
            self._form["fields"].append({"name": a["name"], "kind": "button", "value": a.get("value") or ""})
        elif tag == "textarea":
            self._form["fields"].append({"name": a["name"], "kind": "textarea", "value": ""})
        elif tag == "select":
            self._select = {"name": a["name"], "kind": "select", "value": "", "options": []}
            self._form["fields"].append(self._select)
        if tag == "option" and self._select is not None:
            self._select["options"].append(a.get("value", ""))

    def handle_endtag(self, tag):
        if tag == "form":
            self._form = None
        elif tag == "select":
            self._select = None


TYPED = {"text", "email", "password", "textarea", "number", "search", "tel", "url", "date", "time"}


def _variants() -> dict[str, dict[str, object]]:
    """What each kind of field gets in each hostile variant (None: keep the page's value)."""
    return {
        "huge": {"typed": HUGE, "number": "9" * 40, "email": "a" * 100_000 + "@example.fi", "choice": HUGE},
        "nul": {"typed": "ok\x00bad", "number": "1\x00", "email": "a\x00@example.fi", "choice": "\x00"},
        "control": {"typed": "ok\x1b[31mbad\x7f", "number": "\x0c", "email": "a\x08@example.fi", "choice": "\x01"},
        "surrogate": {"typed": "ok\ud800bad", "number": "\udfff", "email": "a\ud800@example.fi", "choice": "\ud800"},
        "types": {"typed": ["one", "two", "three"], "number": "twelve", "email": "not an address", "choice": "no-such-choice"},
    }


def _has_types(fields: list[dict]) -> bool:
    """Whether the form has a field a wrong value can be wrong for: a number, an e-mail address, a
    choice (a select, radio buttons, a list of checkboxes). A lone checkbox is a yes/no."""
    names = [f["name"] for f in fields]
    return any(f["kind"] in ("number", "email", "select", "radio")
               or (f["kind"] == "checkbox" and names.count(f["name"]) > 1) for f in fields)


def _body(form: dict, variant: dict) -> list[tuple[str, object]]:
    data = []
    for f in form["fields"]:
        kind, name = f["kind"], f["name"]
        if name == "csrf_token":
            data.append((name, f["value"]))
        elif kind in ("hidden", "button"):
            data.append((name, f["value"]))
        elif kind == "email":
            data.append((name, variant["email"]))
        elif kind == "number":
            data.append((name, variant["number"]))
        elif kind in TYPED:
            values = variant["typed"]
            data.extend((name, v) for v in (values if isinstance(values, list) else [values]))
        elif kind in ("select", "radio", "checkbox"):
            data.append((name, variant["choice"]))
        elif kind == "file":
            data.append((name, "file"))
    return data


def _encode(data: list[tuple[str, object]], multipart: bool):
    """A request body by hand, so that a lone surrogate can be sent (UTF-8 with surrogatepass: the
    bytes a broken client would send)."""
    def enc(s: str) -> bytes:
        return s.encode("utf-8", "surrogatepass")

    if multipart:
        boundary = "hostile-boundary-7f3a"
        parts = []
        for name, value in data:
            if value == "file":
                parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; filename="users.csv"\r\n'
                             "Content-Type: text/csv\r\n\r\n".encode()
                             + b"email;name;roles;units\nnul\x00@example.fi;N\x00ul;admin;\n" + HUGE.encode() + b"\r\n")
            else:
                parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'.encode()
                             + enc(str(value)) + b"\r\n")
        return b"".join(parts) + f"--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"
    body = "&".join(f"{quote(name)}={quote(enc(str(value)))}" for name, value in data)
    return body.encode("ascii"), "application/x-www-form-urlencoded"


def _reachable_forms(client, limit: int = 80) -> dict[tuple, tuple[str, dict]]:
    """Crawl from the front page; the forms found, one per (address pattern, field names)."""
    seen: set[str] = set()
    forms: dict[tuple, tuple[str, dict]] = {}
    queue = deque(["/"])
    while queue and len(seen) < limit:
        path = queue.popleft()
        if path in seen:
            continue
        seen.add(path)
        resp = client.get(path)
        if resp.status_code != 200 or resp.mimetype != "text/html":
            continue
        html = resp.get_data(as_text=True)
        parser = _Forms()
        parser.feed(html)
        for form in parser.forms:
            action = (form["action"] or path).replace("&amp;", "&")
            key = (re.sub(r"\d+", "N", urlsplit(action).path), form["method"],
                   tuple(sorted(f["name"] for f in form["fields"])))
            forms.setdefault(key, (action, form))
        for href in re.findall(r'href="(/[^"]*)"', html):
            href = urldefrag(href.replace("&amp;", "&"))[0]
            if href and not SKIP.match(href) and href not in seen:
                queue.append(href)
    return forms


# Forms whose only input is a choice between two harmless states of the person's own (language, a
# series open or closed): a changed value there is the form working, not bad input getting in.
NOT_DATA = re.compile(r"^/(language|sign-out)$")


@pytest.mark.parametrize("role", list(ROLES))
def test_every_reachable_form_refuses_hostile_values(app, demo, db, role):
    client = signed_in(app, role)
    forms = _reachable_forms(client)
    assert forms, "the crawl found no forms"
    failures: dict[str, object] = {}
    posted = 0
    before = fingerprint(db)
    for (pattern, method, _names), (action, form) in sorted(forms.items()):
        typed = [f for f in form["fields"] if f["kind"] in TYPED | {"select", "radio", "checkbox", "file"}]
        if NOT_DATA.match(pattern) or not typed:
            continue  # a button: its hostile cases are the addresses' ids (table 2)
        for name, variant in _variants().items():
            if name == "types" and not _has_types(typed):
                continue  # text and yes/no boxes only: any text is the right type, any value ticks a box
            data = _body(form, variant)
            if method == "get":
                query = "&".join(f"{quote(k)}={quote(str(v).encode('utf-8', 'surrogatepass'))}" for k, v in data)
                resp = client.get(f"{urlsplit(action).path}?{query}")
                if resp.status_code >= 500:
                    failures[f"GET {pattern} {name}"] = resp.status_code
                continue
            body, ctype = _encode(data, multipart="multipart" in form["enctype"])
            resp = client.post(action, data=body, content_type=ctype)
            posted += 1
            after = fingerprint(db)
            if resp.status_code >= 500:
                failures[f"POST {pattern} {name}"] = resp.status_code
            elif name != "surrogate" and changed(before, after):
                # (a lone surrogate cannot travel in a form: Werkzeug keeps an invalid %-escape as
                # the literal text "%ED%A0%80" and replaces invalid bytes in a multipart body, so
                # what arrives is ordinary text; the check there is only that nothing breaks)
                failures[f"POST {pattern} {name}"] = f"changed {changed(before, after)} ({resp.status_code})"
            before = after
    assert not failures, "\n".join(f"{k}: {v}" for k, v in failures.items())
    assert posted >= 5  # the role really had forms to post


# --- 4. the sign-in page, for anyone ---------------------------------------------------------------

SIGN_IN_EMAILS = ["a" * 100_000 + "@example.fi", "b" * 300 + "@example.fi", "c" * 246 + "@demo.fi", "nul\x00@demo.fi",
                  "esc\x1b@demo.fi", "sur\ud800@demo.fi", "", " ", "not an address", "admin@demo.fi"]
SIGN_IN_PASSWORDS = ["x" * 100_000, "wrong\x00", "wrong\ud800", "", "wrong"]


def test_nothing_typed_on_the_sign_in_page_gives_a_server_error(app, demo, db):
    from scheduler.people.models import LoginThrottle

    client = app.test_client()
    token = csrf_token(client, "/sign-in")
    failures = {}
    pairs = [(e, "wrong") for e in SIGN_IN_EMAILS] + [("admin@demo.fi", p) for p in SIGN_IN_PASSWORDS]
    pairs += [(e, p) for e, p in zip(SIGN_IN_EMAILS, reversed(SIGN_IN_PASSWORDS), strict=False)]
    for email, password in pairs:
        body, ctype = _encode([("csrf_token", token), ("email", email), ("password", password)], multipart=False)
        resp = client.post("/sign-in", data=body, content_type=ctype)
        if resp.status_code >= 500 or resp.status_code == 302:
            failures[f"{email[:20]!r} / {password[:10]!r}"] = resp.status_code
    assert failures == {}
    for nxt in ("%00", "%ED%A0%80", "//evil.example", "https://evil.example/", "/\\evil", "y" * 5000):
        assert client.get(f"/sign-in?next={nxt}").status_code < 500
    # repeated and missing fields
    for data in ([("csrf_token", token), ("email", "a@demo.fi"), ("email", "b@demo.fi")], [("csrf_token", token)]):
        body, ctype = _encode(data, multipart=False)
        assert client.post("/sign-in", data=body, content_type=ctype).status_code < 500
    # only addresses that fit the form reached the throttle, and none of the broken ones
    keys = db.session.scalars(select(LoginThrottle.key)).all()
    assert keys and all(len(k) <= 300 and "\x00" not in k and "\x1b" not in k for k in keys)


# --- 5. values the views read straight from the request (hidden fields, next=) -------------------

DIRECT = ["\x00", "/a\r\nX-Injected: yes", "/\t/evil.example", "//evil.example", "https://evil.example/", HUGE, "",
          "9" * 40, "-1"]


def test_hidden_fields_and_next_addresses(app, demo, db):
    from scheduler.consultations.models import Booking, ConsultationSeries

    client = signed_in(app, "social worker")
    token = csrf_token(client, "/")
    booking = db.session.scalars(select(Booking).where(Booking.status == "confirmed")
                                 .where(Booking.booker.has(email=ROLES["social worker"]))).first()
    series = db.session.scalars(select(ConsultationSeries)).first()
    failures = {}
    for value in DIRECT:
        posts = [("/language", {"lang": value, "next": "/"}), ("/language", {"lang": "sv", "next": value}),
                 (f"/consultations/series/{series.id}/active", {"active": value})]
        if booking is not None:
            posts.append((f"/consultations/bookings/{booking.id}/reschedule", {"slot_id": value}))
        for path, data in posts:
            body, ctype = _encode([("csrf_token", token), *data.items()], multipart=False)
            resp = client.post(path, data=body, content_type=ctype)
            location = resp.headers.get("Location", "")
            if resp.status_code >= 500 or "evil" in location or "\n" in location:
                failures[f"{path} {data}"[:120]] = (resp.status_code, location[:60])
        resp = client.get(f"/sign-in?next={quote(value)}")
        if resp.status_code >= 500:
            failures[f"sign-in next={value[:20]!r}"] = resp.status_code
    assert not failures, failures
