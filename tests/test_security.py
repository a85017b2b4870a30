import re

import pytest
from django.apps import apps
from django.test import Client
from django.urls import reverse

from tests.conftest import ROLES
from tests.test_authorization_matrix import MATRIX

pytestmark = pytest.mark.django_db


def _row_counts() -> dict[str, int]:
    return {model._meta.label: model.objects.count() for model in apps.get_models()}


@pytest.mark.parametrize("name", sorted(n for n, r in MATRIX.items() if r.method == "post"))
def test_unsafe_routes_reject_a_post_without_csrf_token(name, world):
    client = Client(enforce_csrf_checks=True)
    client.force_login(world.users["student"])
    response = client.post(MATRIX[name].url(world), MATRIX[name].data)
    assert response.status_code == 403


def test_every_post_form_on_our_pages_carries_a_csrf_token(world, client_for):
    for role in ROLES:
        client = client_for(role)
        for name, route in MATRIX.items():
            if route.method != "get" or name.startswith("admin:"):
                continue
            response = client.get(route.url(world), follow=True)
            if response.streaming:  # A download (the gradebook CSV), not a page.
                continue
            html = response.content.decode()
            for form in re.findall(r"<form[^>]*method=\"post\".*?</form>", html, re.S | re.I):
                assert "csrfmiddlewaretoken" in form, (role, name)


def test_no_get_changes_data(world, client_for):
    # Some routes make the object they open (a rubric, a stance check) when asked for
    # their URL: ask first.
    urls = [route.url(world) for route in MATRIX.values() if route.method == "get"]
    before = _row_counts()
    for role in ROLES:
        client = client_for(role)
        for url in urls:
            client.get(url)
    after = _row_counts()
    # Sessions come and go with force_login, and opening a case records that the
    # student opened it (first and last opened), which the tracker shows as opened
    # (Work); nothing else may move.
    for label in ["sessions.Session", "cases.ReadingProgress", "cases.Work"]:
        before.pop(label)
        after.pop(label)
    assert after == before


def test_csp_forbids_inline_script_and_eval_and_changes_nonce_per_response(client_for):
    client = client_for("student")
    first = client.get(reverse("cases:home"))
    second = client.get(reverse("cases:home"))
    policy = first["Content-Security-Policy"]
    script_src = re.search(r"script-src ([^;]*)", policy).group(1)
    assert "'unsafe-inline'" not in script_src
    assert "'unsafe-eval'" not in script_src
    nonce_1 = re.search(r"'nonce-([^']+)'", policy).group(1)
    nonce_2 = re.search(r"'nonce-([^']+)'", second["Content-Security-Policy"]).group(1)
    assert nonce_1 != nonce_2
    # Each response's scripts carry its own nonce (the assets are drawn once a process).
    for response, nonce in ((first, nonce_1), (second, nonce_2)):
        html = response.content.decode()
        scripts = re.findall(r"<script\b[^>]*>", html)
        assert len(scripts) == 2, "the page loads htmx and our script"
        assert all(f'nonce="{nonce}"' in tag and "src=" in tag for tag in scripts)
        assert "htmx-2" in html
        assert "\x00" not in html


def test_htmx_is_configured_for_same_origin_and_no_eval(client_for):
    html = client_for("student").get(reverse("cases:home")).content.decode()
    assert '"selfRequestsOnly": true' in html
    assert '"allowEval": false' in html
    assert 'hx-headers=\'{"X-CSRFToken": "' in html


def test_responses_forbid_framing_and_sniffing(client_for):
    response = client_for("student").get(reverse("cases:home"))
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert "frame-ancestors 'none'" in response["Content-Security-Policy"]


@pytest.mark.parametrize(
    ("next_url", "lands_on"),
    [
        ("/courses/", "/courses/"),
        ("https://evil.example/phish", "/"),
        ("//evil.example/phish", "/"),
        ("javascript:alert(1)", "/"),
    ],
)
def test_login_next_only_redirects_within_this_site(client, world, next_url, lands_on):
    response = client.post(
        reverse("login"),
        {"username": "student", "password": "correct-horse-battery", "next": next_url},
    )
    assert response.status_code == 302
    assert response["Location"] == lands_on


@pytest.mark.urls("tests.urls_with_errors")
def test_a_server_error_is_a_plain_page_without_a_trace(client, world):
    client.raise_request_exception = False
    client.force_login(world.users["student"])
    response = client.get("/boom/")
    html = response.content.decode()
    assert response.status_code == 500
    assert "Something went wrong" in html
    assert "<html" in html
    assert "Traceback" not in html
    assert "ZeroDivisionError" not in html


@pytest.mark.urls("tests.urls_with_errors")
def test_a_server_error_in_an_htmx_request_is_a_fragment_for_the_alert_region(client, world):
    client.raise_request_exception = False
    client.force_login(world.users["student"])
    response = client.get("/boom/", headers={"HX-Request": "true"})
    html = response.content.decode()
    assert response.status_code == 500
    assert "Something went wrong" in html
    assert "<html" not in html
    assert response["HX-Retarget"] == "#htmx-error"
    assert "Traceback" not in html


def test_not_found_is_a_friendly_page(client_for):
    response = client_for("student").get("/no/such/page/")
    assert response.status_code == 404
    assert "Not found" in response.content.decode()
    assert "Back to the dashboard" in response.content.decode()


def test_a_signed_in_page_is_never_stored_but_its_polls_revalidate(world, client_for):
    """A TA opens a student's work panel, then the tracker, then the tracker polls: the
    pages are private and never stored; the poll revalidates with its ETag; the 304
    leaves the browser's copy alone."""
    client = client_for("ta")
    student = world.users["student"]
    panel = client.get(
        reverse("cases:work_panel", args=[world.course.pk, student.pk, world.quiz.item.pk])
    )
    assert panel["Cache-Control"] == "private, no-store"
    url = reverse("cases:tracker", args=[world.course.pk])
    assert client.get(url)["Cache-Control"] == "private, no-store"
    poll = client.get(url, headers={"HX-Request": "true"})
    assert poll["Cache-Control"] == "private, no-cache" and poll.has_header("ETag")
    again = client.get(url, headers={"HX-Request": "true", "If-None-Match": poll["ETag"]})
    assert again.status_code == 304 and not again.has_header("Cache-Control")
