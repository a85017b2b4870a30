"""What users see when the database cannot be reached: a 503 with a clear page and
Retry-After, whether the failure comes from a view or a middleware; every other error
stays a 500."""

import logging

import psycopg
import pytest
from django.db import close_old_connections, connection
from django.urls import reverse

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.urls_with_errors")]

OUTAGE_MESSAGE = "Red Queen can&#x27;t reach its database for a moment"


@pytest.fixture
def student_client(client, world):
    client.raise_request_exception = False
    client.force_login(world.users["student"])
    return client


def test_a_page_in_a_database_outage_is_a_503_page_with_retry_after(student_client, database_down):
    response = student_client.get(reverse("cases:home"))
    html = response.content.decode()
    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    assert OUTAGE_MESSAGE in html
    assert "What you saved is safe" in html
    assert "<html" in html
    assert "Traceback" not in html
    assert "OperationalError" not in html


def test_an_htmx_request_in_a_database_outage_is_a_503_fragment_for_the_alert_region(
    student_client, database_down
):
    response = student_client.get(reverse("cases:home"), headers={"HX-Request": "true"})
    html = response.content.decode()
    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    assert response["HX-Retarget"] == "#htmx-error"
    assert response["HX-Reswap"] == "innerHTML"
    assert OUTAGE_MESSAGE in html
    assert "<html" not in html
    assert "HX-Request" in response["Vary"]


def test_a_quiz_autosave_in_a_database_outage_is_a_503_fragment(student_client, world, request):
    slot_id = world.attempt.slots.values_list("pk", flat=True).first()
    request.getfixturevalue("database_down")
    response = student_client.post(
        reverse("cases:attempt_save", args=[world.attempt.pk]),
        {"questions": str(slot_id), "seq": "1", f"q{slot_id}": "0"},
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 503
    assert response["HX-Retarget"] == "#htmx-error"
    assert OUTAGE_MESSAGE in response.content.decode()


def test_a_database_outage_in_a_middleware_is_a_503_too(student_client, settings, database_down):
    settings.MIDDLEWARE = ["tests.urls_with_errors.database_first_middleware", *settings.MIDDLEWARE]
    for headers in ({}, {"HX-Request": "true"}):
        response = student_client.get(reverse("cases:home"), headers=headers)
        assert response.status_code == 503
        assert response["Retry-After"] == "5"
        assert OUTAGE_MESSAGE in response.content.decode()


def test_a_database_outage_is_logged_in_one_line_without_a_traceback(
    student_client, database_down, caplog
):
    with caplog.at_level(logging.ERROR, logger="django.request"):
        student_client.get(reverse("cases:home"))
    [record] = [r for r in caplog.records if r.name == "django.request"]
    assert record.status_code == 503
    assert "database unreachable" in record.getMessage()
    assert record.exc_info is None


def test_a_failing_query_on_a_working_connection_stays_a_500(student_client):
    response = student_client.get("/failing-query/")
    assert response.status_code == 500
    assert "Something went wrong" in response.content.decode()
    assert "Retry-After" not in response


def test_a_bug_stays_a_500_without_retry_after(student_client):
    for headers in ({}, {"HX-Request": "true"}):
        response = student_client.get("/boom/", headers=headers)
        assert response.status_code == 500
        assert "Retry-After" not in response
        assert OUTAGE_MESSAGE not in response.content.decode()


@pytest.mark.django_db(transaction=True)
def test_a_connection_cut_by_the_server_is_a_503_and_the_next_request_reconnects(client, world):
    """What a PostgreSQL restart does to a persistent connection: the request that finds
    it cut answers 503, the end of the request drops the connection (gunicorn sends
    request_finished, whose close_old_connections the test client holds back, so it is
    called here) and the next request opens a new one."""
    if connection.vendor != "postgresql":
        pytest.skip("SQLite has no server to cut the connection")
    client.raise_request_exception = False
    client.force_login(world.users["student"])
    assert client.get(reverse("cases:home")).status_code == 200
    pid = connection.connection.info.backend_pid
    params = {**connection.get_connection_params(), "autocommit": True}
    params.pop("cursor_factory", None)
    with psycopg.connect(**params) as other:
        other.execute("SELECT pg_terminate_backend(%s)", [pid])

    response = client.get(reverse("cases:home"))
    assert response.status_code == 503
    assert OUTAGE_MESSAGE in response.content.decode()
    close_old_connections()
    assert connection.connection is None

    assert client.get(reverse("cases:home")).status_code == 200
    assert connection.connection.info.backend_pid != pid


@pytest.mark.django_db(transaction=True)
def test_a_connection_the_server_ended_between_requests_is_replaced_before_the_next_one(
    client, world
):
    """A PostgreSQL restart between two of a worker's requests: the health check at the
    next request finds the ended session on the socket and opens a new connection, so
    the student gets their page, not a 503. The check asks the server nothing: a
    healthy connection runs no query for it. (gunicorn sends request_started, whose
    close_old_connections the test client holds back, so it is called here.)"""
    if connection.vendor != "postgresql":
        pytest.skip("SQLite has no server to end the session")
    client.force_login(world.users["student"])
    home = reverse("cases:home")
    assert client.get(home).status_code == 200
    kept = connection.connection
    pid = kept.info.backend_pid

    close_old_connections()
    opened = []  # Cursors opened on the connection itself, bypassing Django's.
    kept.cursor = lambda *args, **kwargs: (
        opened.append(args) or type(kept).cursor(kept, *args, **kwargs)
    )
    try:
        assert connection.is_usable()
    finally:
        del kept.cursor
    assert not opened
    assert client.get(home).status_code == 200
    assert connection.connection.info.backend_pid == pid  # Healthy: kept.

    close_old_connections()
    params = {**connection.get_connection_params(), "autocommit": True}
    params.pop("cursor_factory", None)
    with psycopg.connect(**params) as other:
        # Returns once the backend has ended (the timeout, in ms, is only a bound).
        other.execute("SELECT pg_terminate_backend(%s, 10000)", [pid])
    assert not connection.is_usable()
    response = client.get(home)
    assert response.status_code == 200
    assert connection.connection.info.backend_pid != pid


@pytest.mark.django_db(transaction=True)
def test_a_connection_cut_inside_a_transaction_is_a_503_although_django_reconnected(client, world):
    if connection.vendor != "postgresql":
        pytest.skip("SQLite has no server to cut the connection")
    client.raise_request_exception = False
    client.force_login(world.users["student"])
    response = client.get("/connection-cut/")
    assert connection.connection is not None  # Reopened when the transaction ended.
    assert response.status_code == 503
    assert OUTAGE_MESSAGE in response.content.decode()
