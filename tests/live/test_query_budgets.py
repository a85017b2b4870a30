"""The live class costs the same number of queries for a class of 5 as for one of 60:
the console, the projector, the phone page and their polled fragments."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from cases.services import live as services
from tests.factories import (
    CohortFactory,
    CourseFactory,
    ModuleFactory,
    UserFactory,
    enrol,
    make_live,
)
from tests.helpers import PAGE_BUDGET, data_queries, page_queries

pytestmark = pytest.mark.django_db

FRAGMENT_BUDGET = 4
SIZES = (5, 60)


def _live_class(size: int) -> dict:
    """`size` students present, each answering the poll on screen and half of them
    marked, in a session of a graded live-session item."""
    instructor = UserFactory()
    cohort = CohortFactory()
    students = enrol(cohort, size, prefix=f"live{size}-")
    course = CourseFactory(instructors=[instructor], cohorts=[cohort])
    session = make_live(ModuleFactory(course=course), [cohort], start_by=instructor)
    poll = services.poll_create(session=session, kind="single", prompt="R or D?", options="RD")
    services.poll_launch(poll)
    session.refresh_from_db()
    for n, student in enumerate(students):
        services.join(session, student)
        services.answer_save(session=session, poll=poll, user=student, answer={"choices": [0]})
        if n % 2:
            services.mark_add(session=session, student=student, points=1, note="", by=instructor)
    services.poll_update(poll, results_shown=True)
    services.cold_call_pick(session=session, by=instructor, students=course.cohorts.get().members)
    return {"instructor": instructor, "student": students[0], "session": session, "course": course}


@pytest.mark.parametrize(
    ("role", "url"),
    [
        ("instructor", lambda w: w["session"].get_absolute_url()),
        ("instructor", lambda w: reverse("cases:live_projector", args=[w["session"].pk])),
        ("instructor", lambda w: reverse("cases:live_sessions", args=[w["course"].pk])),
        ("instructor", lambda w: w["session"].item.get_absolute_url()),
        ("student", lambda w: w["session"].get_absolute_url()),
    ],
    ids=["console", "projector", "sessions", "item", "phone"],
)
def test_live_pages_stay_within_budget(client, role, url):
    counts = page_queries(client, _live_class, SIZES, role, url)
    assert counts[0] == counts[1] and counts[0] <= PAGE_BUDGET, counts


def _fragment_queries(client, world, url: str) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url, headers={"HX-Request": "true"})
    assert response.status_code == 200
    return data_queries(queries)


@pytest.mark.parametrize(
    ("role", "name", "query"),
    [
        ("instructor", "live_session", ""),
        ("instructor", "live_projector", ""),
        ("student", "live_state", "?known=-1"),
    ],
    ids=["console-board", "projector-board", "phone-state"],
)
def test_polled_fragments_stay_within_budget(client, role, name, query):
    counts = []
    for size in SIZES:
        world = _live_class(size)
        client.force_login(world[role])
        url = reverse(f"cases:{name}", args=[world["session"].pk]) + query
        counts.append(_fragment_queries(client, world, url))
    assert counts[0] == counts[1] and counts[0] <= FRAGMENT_BUDGET, counts


def test_poll_actions_skip_the_roster_and_the_cold_call_after_them_still_shows_it(client):
    """Reveal, hide, reveal again in front of a class of 5 and of 60: the polls' part
    costs the same queries and carries no roster; a cold call afterwards renders the
    caller's part with every present student."""
    counts = []
    for size in SIZES:
        world = _live_class(size)
        client.force_login(world["instructor"])
        session = world["session"]
        url = reverse("cases:live_poll_control", args=[session.current_poll_id])
        for action in ("hide", "reveal", "hide"):
            with CaptureQueriesContext(connection) as queries:
                response = client.post(url, {"action": action}, headers={"HX-Request": "true"})
            assert response.status_code == 200
            page = response.content.decode()
            assert "Reveal results" in page if action == "hide" else "Hide results" in page
            assert "Present:" not in page
        counts.append(data_queries(queries))
        response = client.post(
            reverse("cases:live_cold_call", args=[session.pk]), headers={"HX-Request": "true"}
        )
        assert f"Present: {size}" in response.content.decode()
    # The action's own queries and the polls' (asking for the roster and the call too
    # made it 12).
    assert counts[0] == counts[1] <= 9, counts
