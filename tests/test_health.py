import pytest
from django.db import connection
from django.urls import reverse


@pytest.mark.django_db
def test_healthz_reports_a_reachable_database(client):
    response = client.get(reverse("healthz"))
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok"}


@pytest.mark.django_db(transaction=True)
def test_healthz_answers_503_when_the_database_is_unreachable(client):
    if connection.vendor == "sqlite":
        pytest.skip("SQLite's test database lives in memory and cannot be made unreachable")
    saved = dict(connection.settings_dict)
    connection.close()
    connection.settings_dict["HOST"] = "127.0.0.1"
    connection.settings_dict["PORT"] = "1"  # Nothing listens there.
    try:
        response = client.get(reverse("healthz"))
    finally:
        connection.close()
        connection.settings_dict.clear()
        connection.settings_dict.update(saved)
    assert response.status_code == 503
    assert response.json()["database"] == "unreachable"
