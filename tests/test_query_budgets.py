"""Pages cost the same number of queries for a class of 3 as for a class of 60."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from tests.factories import (
    AssignmentFactory,
    CohortFactory,
    CourseFactory,
    ModuleFactory,
    ModuleItemFactory,
    UserFactory,
    enrol,
)

pytestmark = pytest.mark.django_db

PAGE_BUDGET = 8


def _class_of(size: int):
    """A course with two cohorts sharing `size` students, four modules of three items
    each, every item assigned to both cohorts."""
    instructor = UserFactory()
    cohorts = [CohortFactory(), CohortFactory()]
    students = enrol(cohorts[0], size - size // 2, prefix=f"a{size}-")
    enrol(cohorts[1], size // 2, prefix=f"b{size}-")
    course = CourseFactory(instructors=[instructor], cohorts=cohorts)
    for _ in range(4):
        module = ModuleFactory(course=course)
        for _ in range(3):
            item = ModuleItemFactory(module=module)
            for cohort in cohorts:
                AssignmentFactory(item=item, cohort=cohort)
    admin = UserFactory(is_staff=True)
    return {"course": course, "student": students[0], "instructor": instructor, "admin": admin}


PAGES = [
    ("student", lambda c: reverse("cases:home")),
    ("student", lambda c: reverse("cases:course_detail", args=[c.pk])),
    ("instructor", lambda c: reverse("cases:instructor_dashboard")),
    ("instructor", lambda c: reverse("cases:course_detail", args=[c.pk])),
    ("admin", lambda c: reverse("cases:cohort_list")),
]


@pytest.mark.parametrize(("role", "url"), PAGES)
def test_page_queries_do_not_grow_with_class_size(client, role, url):
    counts = []
    for size in (3, 60):
        world = _class_of(size)
        client.force_login(world[role])
        with CaptureQueriesContext(connection) as queries:
            response = client.get(url(world["course"]))
        assert response.status_code == 200
        counts.append(len(queries))
    assert counts[0] == counts[1], counts
    assert counts[1] <= PAGE_BUDGET, counts


def test_dashboard_stays_within_budget_for_a_large_class(client, django_assert_max_num_queries):
    world = _class_of(60)
    client.force_login(world["student"])
    with django_assert_max_num_queries(PAGE_BUDGET):
        client.get(reverse("cases:home"))
