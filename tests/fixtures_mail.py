"""Mail fixtures: a real SMTP server (aiosmtpd) for the tests. Owned by the delivery work.

`smtp_server` is an SMTP server on a free port of 127.0.0.1 that keeps what it receives; it can be
stopped and started again on the same port (SMTP down, then up) and told to refuse the next
messages with a reply of our choosing (451 → retried, 550 → permanent). `smtp_app` points the
app's SMTP settings at it for one test.

`SmtpServer(tls_context=..., users={"name": "password"})` offers STARTTLS with that context and
requires AUTH (PLAIN/LOGIN, only after STARTTLS when TLS is on); a wrong password gets 535.
`secure_smtp_server` is one with a trustme certificate for 127.0.0.1 (its CA in `.ca_file`)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import threading
from dataclasses import dataclass, field
from email import message_from_bytes, policy

import pytest


def _free_port() -> int:
    # aiosmtpd's Controller(port=0) does not work (it probes the port it was given): pick one first.
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    data: bytes

    @property
    def message(self):
        return message_from_bytes(self.data, policy=policy.default)


@dataclass
class SmtpServer:
    host: str = "127.0.0.1"
    port: int = field(default_factory=_free_port)
    received: list[Received] = field(default_factory=list)
    _refusals: list[str] = field(default_factory=list)
    _rcpt_refusals: dict[str, str] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _controller: object = None
    tls_context: object = None
    users: dict = field(default_factory=dict)
    ca_file: str = ""

    # aiosmtpd handler hooks
    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        reply = self._rcpt_refusals.get(address.lower())
        if reply:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        with self._lock:
            if self._refusals:
                return self._refusals.pop(0)
            self.received.append(Received(envelope.mail_from, list(envelope.rcpt_tos), bytes(envelope.content)))
        return "250 Message accepted for delivery"

    # control
    def start(self) -> None:
        from aiosmtpd.controller import Controller

        kwargs: dict = {}
        if self.tls_context is not None:
            kwargs.update(tls_context=self.tls_context)
        if self.users:
            kwargs.update(authenticator=self._authenticate, auth_required=True,
                          auth_require_tls=self.tls_context is not None)
        self._controller = Controller(self, hostname=self.host, port=self.port, **kwargs)
        self._controller.start()

    def _authenticate(self, server, session, envelope, mechanism, auth_data):
        from aiosmtpd.smtp import AuthResult, LoginPassword

        if isinstance(auth_data, LoginPassword):
            login, password = auth_data.login.decode(), auth_data.password.decode()
            if login in self.users and self.users[login] == password:
                return AuthResult(success=True)
        return AuthResult(success=False, handled=False)

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def refuse_next(self, reply: str = "451 4.3.0 Temporary failure, try again later", times: int = 1) -> None:
        """The next `times` messages get this reply to DATA."""
        with self._lock:
            self._refusals.extend([reply] * times)

    def refuse_recipient(self, address: str, reply: str = "550 5.1.1 No such user") -> None:
        self._rcpt_refusals[address.lower()] = reply

    def messages(self):
        return [r.message for r in self.received]


@pytest.fixture
def smtp_server():
    server = SmtpServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def secure_smtp_server(tmp_path):
    """STARTTLS (a trustme certificate for 127.0.0.1) and AUTH for the user "mailer"."""
    import ssl

    import trustme

    ca = trustme.CA()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1", "localhost").configure_cert(context)
    ca_file = tmp_path / "smtp-ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    server = SmtpServer(tls_context=context, users={"mailer": "right password"}, ca_file=str(ca_file))
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def smtp_app(app, smtp_server):
    """The app sending through `smtp_server` for this test (settings restored afterwards)."""
    keys = ("SMTP_HOST", "SMTP_PORT", "SMTP_USERNAME", "SMTP_PASSWORD", "SMTP_STARTTLS", "MAIL_FROM")
    saved = {k: app.config.get(k) for k in keys}
    app.config.update(SMTP_HOST=smtp_server.host, SMTP_PORT=smtp_server.port, SMTP_USERNAME="", SMTP_PASSWORD="",
                      SMTP_STARTTLS=False, MAIL_FROM="no-reply@palvelu.example.fi")
    try:
        yield app
    finally:
        app.config.update(saved)


@pytest.fixture
def mail_folder(app, tmp_path):
    """The app writing e-mails as .eml files into a fresh folder for this test (no SMTP_HOST)."""
    saved = (app.config.get("SMTP_HOST"), app.config.get("OUTBOX_DIR"))
    folder = tmp_path / "outbox"
    app.config.update(SMTP_HOST="", OUTBOX_DIR=str(folder))
    try:
        yield folder
    finally:
        app.config["SMTP_HOST"], app.config["OUTBOX_DIR"] = saved


# --- checking iMIP invitations with two independent parsers ---------------------------------

SYSTEM_PYTHON = "/usr/bin/python3"
_LIBICAL_SCRIPT = """
import json, sys
import gi
gi.require_version("ICalGLib", "3.0")
from gi.repository import ICalGLib

def check(text):
    comp = ICalGLib.Component.new_from_string(text)
    if comp is None:
        return {"ok": False, "errors": ["unparseable"]}
    ok = ICalGLib.restriction_check(comp)  # RFC 5546 (iTIP) restrictions for the calendar's METHOD
    errors = []

    def walk(c):
        p = c.get_first_property(ICalGLib.PropertyKind.XLICERROR_PROPERTY)
        while p is not None:
            errors.append(p.as_ical_string().strip())
            p = c.get_next_property(ICalGLib.PropertyKind.XLICERROR_PROPERTY)
        sub = c.get_first_component(ICalGLib.ComponentKind.ANY_COMPONENT)
        while sub is not None:
            walk(sub)
            sub = c.get_next_component(ICalGLib.ComponentKind.ANY_COMPONENT)

    walk(comp)
    return {"ok": bool(ok), "errors": errors}

print(json.dumps([check(t) for t in json.load(sys.stdin)]))
"""


def _libical_available() -> bool:
    if not os.path.exists(SYSTEM_PYTHON):
        return False
    probe = subprocess.run([SYSTEM_PYTHON, "-c", "import gi; gi.require_version('ICalGLib', '3.0')"],
                           capture_output=True, timeout=60)
    return probe.returncode == 0


def libical_check(ics: str) -> dict:
    """libical's RFC 5546 restriction check, run by the system Python (gir1.2-ical-3.0, python3-gi).
    Skips the test where they are missing, unless CI is set (then it fails)."""
    return libical_check_many([ics])[0]


def libical_check_many(calendars: list[str]) -> list[dict]:
    """The same for many calendars in one run of the system Python."""
    if not _libical_available():
        if os.environ.get("CI"):
            pytest.fail("libical (gir1.2-ical-3.0, python3-gi) is required in CI")
        pytest.skip("libical's GObject bindings are not installed (apt-get install -y gir1.2-ical-3.0 python3-gi)")
    out = subprocess.run([SYSTEM_PYTHON, "-c", _LIBICAL_SCRIPT], input=json.dumps(calendars), capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def check_invitation(ics: str, method: str):
    """Assert an iMIP calendar is valid for both parsers; return it parsed by icalendar."""
    return check_invitations([(ics, method)])[0]


def check_invitations(items: list[tuple[str, str]]):
    """check_invitation for many (ics, method) pairs, with one libical run; returns the calendars."""
    from icalendar import Calendar

    cals = []
    for ics, method in items:
        cal = Calendar.from_ical(ics)
        for comp in cal.walk():
            assert not comp.errors, (comp.name, comp.errors)
        assert str(cal["METHOD"]) == method
        cals.append(cal)
    if items:
        for (ics, _m), result in zip(items, libical_check_many([ics for ics, _m in items]), strict=True):
            assert result == {"ok": True, "errors": []}, (result, ics)
    return cals


def calendar_parts(mail):
    """The text/calendar parts of a parsed e-mail."""
    return [p for p in mail.walk() if p.get_content_type() == "text/calendar"]
