"""Shared fixtures: one small world with a user in every role the platform knows."""

import os
from dataclasses import dataclass

import pytest
from django.core.cache import cache
from django.db import DEFAULT_DB_ALIAS, connections

from cases.models import (
    Attempt,
    CaseReading,
    CaseStudy,
    Course,
    Discussion,
    ModuleItem,
    Post,
    Quiz,
    User,
)
from cases.services.discussions import post_create
from cases.services.quizzes import attempt_start
from tests.factories import (
    AssignmentFactory,
    CohortFactory,
    CourseFactory,
    MembershipFactory,
    ModuleFactory,
    ModuleItemFactory,
    UserFactory,
    make_case,
    make_discussion,
    make_quiz,
)

# Playwright's sync API runs an event loop in the test thread; live_server tests still
# use the ORM from that thread on purpose.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

ROLES = [
    "anonymous",
    "student",
    "other_student",
    "instructor",
    "other_instructor",
    "ta",
    "student_ta_elsewhere",
    "admin",
]


@dataclass
class World:
    course: Course
    other_course: Course
    item: ModuleItem
    case: CaseStudy
    quiz: Quiz
    attempt: Attempt
    discussion: Discussion
    post: Post
    users: dict[str, User | None]


@pytest.fixture
def world(db) -> World:
    """A course with a student, an instructor and a TA, beside another course with its
    own student and instructor, and an admin over both."""
    users = {
        "anonymous": None,
        "student": UserFactory(username="student"),
        "other_student": UserFactory(username="other_student"),
        "instructor": UserFactory(username="instructor"),
        "other_instructor": UserFactory(username="other_instructor"),
        "ta": UserFactory(username="ta"),
        # A student in this course who assists on the other one.
        "student_ta_elsewhere": UserFactory(username="student_ta_elsewhere"),
        "admin": UserFactory(username="admin", is_staff=True, is_superuser=True),
    }
    cohort = CohortFactory(name="Section A")
    other_cohort = CohortFactory(name="Other section")
    MembershipFactory(cohort=cohort, user=users["student"])
    MembershipFactory(cohort=other_cohort, user=users["other_student"])
    MembershipFactory(cohort=cohort, user=users["student_ta_elsewhere"])
    course = CourseFactory(
        code="MGT 6001",
        title="Run of the Red Queen",
        instructors=[users["instructor"]],
        teaching_assistants=[users["ta"]],
        cohorts=[cohort],
    )
    other_course = CourseFactory(
        code="MGT 7002",
        instructors=[users["other_instructor"]],
        teaching_assistants=[users["student_ta_elsewhere"]],
        cohorts=[other_cohort],
    )
    case = make_case(created_by=users["instructor"])
    item = ModuleItemFactory(module=ModuleFactory(course=course), title="Shanghai Bell", position=0)
    CaseReading.objects.create(item=item, case=case)
    AssignmentFactory(item=item, cohort=cohort)
    quiz = make_quiz(item.module)
    AssignmentFactory(item=quiz.item, cohort=cohort)
    attempt = attempt_start(quiz=quiz, user=users["student"])
    discussion = make_discussion(item.module, case)
    AssignmentFactory(item=discussion.item, cohort=cohort)
    post = post_create(
        discussion=discussion, author=users["student"], body="Headcount is an input (¶2)."
    )
    return World(
        course=course,
        other_course=other_course,
        item=item,
        case=case,
        quiz=quiz,
        attempt=attempt,
        discussion=discussion,
        post=post,
        users=users,
    )


@pytest.fixture
def client_for(client, world):
    """client_for(role) signs the test client in as that role's user."""

    def _client_for(role: str):
        user = world.users[role]
        client.logout()
        if user is not None:
            client.force_login(user)
        return client

    return _client_for


@pytest.fixture
def database_down():
    """The database, unreachable as in an outage: this thread's connection is swapped for
    one to a server that is not there (PostgreSQL: a closed port; SQLite: a file in a
    folder that does not exist), so every query fails to connect, while the test
    database's own connection waits untouched. Sign the client in before using it."""
    real = connections[DEFAULT_DB_ALIAS]
    down = connections.create_connection(DEFAULT_DB_ALIAS)
    if down.vendor == "postgresql":
        down.settings_dict = {**down.settings_dict, "HOST": "127.0.0.1", "PORT": "1"}
    else:
        down.settings_dict = {**down.settings_dict, "NAME": "/nonexistent/redqueen/db.sqlite3"}
    connections[DEFAULT_DB_ALIAS] = down
    try:
        yield
    finally:
        down.close()
        connections[DEFAULT_DB_ALIAS] = real


@pytest.fixture(scope="session")
def lti_platform():
    """A real LTI 1.3 platform (tests/lti/platform.py) on a local port, for the session."""
    from tests.lti.platform import Platform

    platform = Platform()
    yield platform
    platform.stop()


@pytest.fixture(autouse=True)
def _forget_lti_platform(request):
    """Each test starts from an empty platform, without starting it for tests that don't ask."""
    if "lti_platform" in request.fixturenames:
        request.getfixturevalue("lti_platform").reset()


@pytest.fixture(autouse=True)
def _forget_what_processes_remember():
    """Each test starts with nothing remembered from an earlier one: ids come back after
    a rollback, so an item kind (`permissions.access_item`) left behind would cost an
    item page the query that puts a wrong guess right, and a shared fragment
    (`cases.http.shared_fragment`) kept under the same session and version would be
    another test's."""
    from cases.http import _near
    from cases.permissions import _CASE_IDS, _ITEM_KINDS
    from cases.services.discussions import _paragraph_numbers
    from cases.views.discussions import _prompt_html

    _ITEM_KINDS.clear()
    _CASE_IDS.clear()
    cache.clear()
    _near.clear()
    # Kept a process per case id and revision, which come back after a rollback.
    _paragraph_numbers.cache_clear()
    _prompt_html.cache_clear()
