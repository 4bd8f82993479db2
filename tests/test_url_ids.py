"""An id in a page or API address that no database integer can hold is simply not found (404),
not a server error (SQLite overflows, PostgreSQL refuses it)."""

import pytest


@pytest.mark.parametrize("path", [
    "/consultations/bookings/99999999999999999999",
    "/panels/cases/99999999999999999999",
    "/panels/sessions/2147483648",
])
def test_huge_ids_are_not_found(client, db, make_user, login, path):
    login(make_user(roles=("social_worker", "secretary")))
    assert client.get(path).status_code == 404
