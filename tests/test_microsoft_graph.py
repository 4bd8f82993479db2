"""GraphClient against the HTTPS stand-in of the identity platform and Graph (no outbox needed)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import requests

from .fixtures_microsoft import (
    GRAPH_CLIENT_ID,
    GRAPH_CLIENT_SECRET,
    ORGANIZER_OID,
    ORGANIZER_UPN,
    TENANT_ID,
)

START = datetime(2027, 1, 5, 11, 0, tzinfo=UTC)
END = START + timedelta(minutes=45)


def make_client(standin, ca_file=None, secret=GRAPH_CLIENT_SECRET):
    from scheduler.delivery.microsoft import GraphClient

    session = None
    if ca_file:
        session = requests.Session()
        session.trust_env = False  # REQUESTS_CA_BUNDLE would otherwise override verify
        session.verify = ca_file
    return GraphClient(tenant_id=TENANT_ID, client_id=GRAPH_CLIENT_ID, client_secret=secret,
                       authority_url=standin.base_url, api_url=standin.base_url + "/v1.0", http_session=session)


def test_token_is_fetched_once_and_cached(ms_standin):
    client = make_client(ms_standin)
    client.create_or_get_meeting(ORGANIZER_OID, "ext-1", "Konsultaatio", START, END)
    client.create_or_get_meeting(ORGANIZER_OID, "ext-2", "Konsultaatio", START, END)
    discovery = ms_standin.calls("GET", f"/{TENANT_ID}/v2.0/.well-known/openid-configuration")
    tokens = ms_standin.calls("POST", f"/{TENANT_ID}/oauth2/v2.0/token")
    assert len(discovery) == 1
    assert len(tokens) == 1
    form = tokens[0].body
    assert form["grant_type"] == "client_credentials"
    assert form["scope"] == "https://graph.microsoft.com/.default"
    assert form["client_id"] == GRAPH_CLIENT_ID
    creates = ms_standin.calls("POST", "/onlineMeetings/createOrGet")
    assert len(creates) == 2
    assert all(r.headers["authorization"].startswith("Bearer ") for r in creates)


def test_an_explicit_session_with_the_test_ca_works_without_the_environment(ms_standin, microsoft_ca, monkeypatch):
    monkeypatch.delenv("REQUESTS_CA_BUNDLE")
    monkeypatch.delenv("CURL_CA_BUNDLE")
    client = make_client(ms_standin, ca_file=microsoft_ca["ca_file"])
    meeting = client.create_or_get_meeting(ORGANIZER_OID, "ext-ca", "Konsultaatio", START, END)
    assert meeting["joinWebUrl"].startswith("https://teams.microsoft.com/l/meetup-join/")


def test_default_session_does_not_trust_the_test_ca(ms_standin, monkeypatch):
    """Production keeps the system trust store: without the test CA the stand-in is refused."""
    monkeypatch.delenv("REQUESTS_CA_BUNDLE")
    monkeypatch.delenv("CURL_CA_BUNDLE")
    with pytest.raises(requests.exceptions.SSLError) as err:  # msal asks for the OpenID configuration at once
        make_client(ms_standin).access_token()
    assert "SSL" in repr(err.value) or "certificate" in repr(err.value).lower()


def test_create_or_get_is_idempotent_by_external_id(ms_standin):
    client = make_client(ms_standin)
    first = client.create_or_get_meeting(ORGANIZER_OID, "ext-same", "Konsultaatio", START, END)
    again = client.create_or_get_meeting(ORGANIZER_OID, "ext-same", "Konsultaatio", START, END)
    assert first["id"] == again["id"] and first["joinWebUrl"] == again["joinWebUrl"]
    statuses = [r.status for r in ms_standin.calls("POST", "/createOrGet")]
    assert statuses == [201, 200]
    assert len(ms_standin.meetings_for("ext-same")) == 1
    body = ms_standin.calls("POST", "/createOrGet")[0].body
    assert body == {"externalId": "ext-same", "subject": "Konsultaatio",
                    "startDateTime": "2027-01-05T11:00:00Z", "endDateTime": "2027-01-05T11:45:00Z"}


def test_update_and_delete(ms_standin):
    from scheduler.delivery.microsoft import parse_graph_time

    client = make_client(ms_standin)
    m = client.create_or_get_meeting(ORGANIZER_UPN, "ext-u", "Konsultaatio", START, END)
    moved = client.update_meeting(ORGANIZER_UPN, m["id"], "Konsultaatio", START + timedelta(days=1), END + timedelta(days=1))
    assert parse_graph_time(moved["startDateTime"]) == START + timedelta(days=1)
    assert moved["joinWebUrl"] == m["joinWebUrl"]
    client.delete_meeting(ORGANIZER_UPN, m["id"])
    assert ms_standin.meetings_for("ext-u") == []
    client.delete_meeting(ORGANIZER_UPN, m["id"])  # already gone: fine
    assert [r.status for r in ms_standin.calls("DELETE", "/onlineMeetings/")] == [204, 404]


def test_throttling_and_unavailable_carry_retry_after(ms_standin):
    from scheduler.delivery.microsoft import GraphThrottled

    client = make_client(ms_standin)
    ms_standin.fail_next(429, retry_after=7)
    with pytest.raises(GraphThrottled) as err:
        client.create_or_get_meeting(ORGANIZER_OID, "ext-t", "Konsultaatio", START, END)
    assert err.value.status == 429 and err.value.retry_after == 7 and err.value.code == "TooManyRequests"
    ms_standin.fail_next(503)
    with pytest.raises(GraphThrottled) as err:
        client.create_or_get_meeting(ORGANIZER_OID, "ext-t", "Konsultaatio", START, END)
    assert err.value.status == 503 and err.value.retry_after is None
    assert ms_standin.meetings == {}
    client.create_or_get_meeting(ORGANIZER_OID, "ext-t", "Konsultaatio", START, END)
    assert len(ms_standin.meetings_for("ext-t")) == 1


def test_a_refused_token_is_dropped_and_a_new_one_fetched(ms_standin):
    from scheduler.delivery.microsoft import GraphAuthError

    client = make_client(ms_standin)
    client.create_or_get_meeting(ORGANIZER_OID, "ext-a", "Konsultaatio", START, END)
    ms_standin.revoke_tokens()
    with pytest.raises(GraphAuthError) as err:
        client.create_or_get_meeting(ORGANIZER_OID, "ext-b", "Konsultaatio", START, END)
    assert err.value.code == "InvalidAuthenticationToken"
    # the cached token is still used until we drop it
    with pytest.raises(GraphAuthError):
        client.create_or_get_meeting(ORGANIZER_OID, "ext-b", "Konsultaatio", START, END)
    assert len(ms_standin.calls("POST", "/oauth2/v2.0/token")) == 1
    client.drop_token()
    client.create_or_get_meeting(ORGANIZER_OID, "ext-b", "Konsultaatio", START, END)
    assert len(ms_standin.calls("POST", "/oauth2/v2.0/token")) == 2


def test_wrong_secret_is_a_token_error(ms_standin):
    from scheduler.delivery.microsoft import GraphTokenError

    client = make_client(ms_standin, secret="wrong")  # discovery needs no secret
    with pytest.raises(GraphTokenError) as err:
        client.access_token()
    assert "invalid_client" in str(err.value)
    assert ms_standin.calls("POST", "/createOrGet") == []


def test_organizer_without_application_access_policy_is_forbidden(ms_standin):
    from scheduler.delivery.microsoft import GraphError

    client = make_client(ms_standin)
    with pytest.raises(GraphError) as err:
        client.create_or_get_meeting("someone-else@hyvinvointialue.example", "ext-f", "Konsultaatio", START, END)
    assert err.value.status == 403


def test_graph_times_are_parsed_to_aware_utc():
    from scheduler.delivery.microsoft import parse_graph_time

    assert parse_graph_time("2027-01-05T11:00:00.0000000Z") == START
    assert parse_graph_time("2027-01-05T13:00:00+02:00") == START
    assert parse_graph_time("2027-01-05T11:00:00.1234567Z") == START.replace(microsecond=123456)
    assert parse_graph_time("nonsense") is None
    assert parse_graph_time(None) is None
