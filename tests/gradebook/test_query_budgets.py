"""The gradebook costs the same number of queries for a class of 20 as of 400."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from cases.models import Assignment, GradeCategory, ItemKind, ModuleItem, Work, WorkStatus
from cases.services.gradebook import grade_categories_change
from tests.factories import CohortFactory, CourseFactory, ModuleFactory, UserFactory, enrol
from tests.helpers import FRAGMENT_BUDGET, PAGE_BUDGET, data_queries

pytestmark = pytest.mark.django_db


def _gradebook_of(size: int):
    """Two cohorts sharing `size` students, two categories, six items given to both
    cohorts, every student's work graded (a third excused, a third overridden)."""
    instructor = UserFactory()
    cohorts = [CohortFactory(), CohortFactory()]
    students = enrol(cohorts[0], size - size // 2, prefix=f"g{size}a-")
    students += enrol(cohorts[1], size // 2, prefix=f"g{size}b-")
    course = CourseFactory(instructors=[instructor], cohorts=cohorts)
    categories = [
        GradeCategory.objects.create(course=course, name="Quizzes", weight=60, drop_lowest=1),
        GradeCategory.objects.create(course=course, name="Readings", weight=40),
    ]
    items = []
    for m in range(2):
        module = ModuleFactory(course=course)
        for i in range(3):
            items.append(
                ModuleItem.objects.create(
                    module=module,
                    kind=ItemKind.QUIZ if i else ItemKind.CASE_READING,
                    title=f"Item {m}-{i}",
                    position=i,
                    grade_category=categories[0] if i else categories[1],
                )
            )
    for item in items:
        for cohort in cohorts:
            Assignment.objects.create(item=item, cohort=cohort, grades_released_at=timezone.now())
    Work.objects.bulk_create(
        Work(
            item=item,
            user=student,
            state=WorkStatus.SUBMITTED,
            submitted_at=timezone.now(),
            auto_score=n % 5,
            max_score=4,
            excused=n % 3 == 0,
            override_score=7 if n % 3 == 1 else None,
            override_reason="Regraded" if n % 3 == 1 else "",
            feedback="Well argued.",
        )
        for n, student in enumerate(students)
        for item in items
    )
    return {
        "course": course,
        "cohort": cohorts[1],
        "instructor": instructor,
        "student": students[1],
        "items": items,
    }


PAGES = [
    ("instructor", lambda w: reverse("cases:gradebook", args=[w["course"].pk])),
    (
        "instructor",
        lambda w: reverse("cases:gradebook", args=[w["course"].pk]) + f"?cohort={w['cohort'].pk}",
    ),
    (
        "instructor",
        lambda w: reverse("cases:gradebook", args=[w["course"].pk]) + "?view=categories",
    ),
    ("student", lambda w: reverse("cases:student_grades", args=[w["course"].pk])),
]


@pytest.mark.parametrize(("role", "url"), PAGES)
def test_gradebook_pages_do_not_grow_with_class_size(client, role, url):
    counts = []
    for size in (20, 400):
        world = _gradebook_of(size)
        client.force_login(world[role])
        with CaptureQueriesContext(connection) as queries:
            response = client.get(url(world))
        assert response.status_code == 200
        counts.append(data_queries(queries))
    print(f"{role} {url(world)}: {counts}")
    assert counts[0] == counts[1], counts
    assert counts[1] <= PAGE_BUDGET, counts


def test_csv_export_queries_do_not_grow_with_class_size(client):
    counts = []
    for size in (20, 400):
        world = _gradebook_of(size)
        client.force_login(world["instructor"])
        with CaptureQueriesContext(connection) as queries:
            response = client.get(reverse("cases:gradebook_csv", args=[world["course"].pk]))
            lines = b"".join(response.streaming_content).decode().splitlines()
        assert len(lines) == size + 1
        counts.append(data_queries(queries))
    print(f"csv: {counts}")
    assert counts[0] == counts[1] <= PAGE_BUDGET, counts


def test_releasing_grades_is_a_small_fragment(client):
    counts = []
    for size in (20, 400):
        world = _gradebook_of(size)
        client.force_login(world["instructor"])
        assignment = world["items"][0].assignments.first()
        url = reverse("cases:assignment_release", args=[assignment.pk])
        with CaptureQueriesContext(connection) as queries:
            response = client.post(url, {"release": "0"}, headers={"HX-Request": "true"})
        assert response.status_code == 200
        counts.append(data_queries(queries))
    assert counts[0] == counts[1] <= FRAGMENT_BUDGET, counts


def test_the_categories_confirmation_counts_in_queries_that_do_not_grow_with_class_size(client):
    """Deleting the quizzes' category, which holds four items graded and released, asks
    first; what the page says is counted for the whole class (the items deleted with
    it, every student's released total) at one cost whatever its size."""
    counts = []
    for size in (20, 400):
        world = _gradebook_of(size)
        client.force_login(world["instructor"])
        quizzes, readings = GradeCategory.objects.filter(course=world["course"]).order_by("pk")
        # Full marks on the readings, so every total that is not excused moves.
        Work.objects.filter(item__grade_category=readings).update(
            override_score=10, override_reason="Regraded"
        )
        data = {
            "action": "categories",
            "categories-TOTAL_FORMS": "2",
            "categories-INITIAL_FORMS": "2",
            "categories-MIN_NUM_FORMS": "0",
            "categories-MAX_NUM_FORMS": "1000",
        }
        for n, category in enumerate([quizzes, readings]):
            data |= {
                f"categories-{n}-id": str(category.pk),
                f"categories-{n}-name": category.name,
                f"categories-{n}-weight": str(category.weight),
                f"categories-{n}-drop_lowest": str(category.drop_lowest),
                f"categories-{n}-position": str(category.position),
            }
        data["categories-0-DELETE"] = "on"
        url = reverse("cases:grade_categories", args=[world["course"].pk])
        with CaptureQueriesContext(connection) as queries:
            response = client.post(url, data)
        assert response.status_code == 200
        html = response.content.decode()
        assert "“Quizzes” is deleted</strong>: its 4 items become Uncategorised and stop" in html
        # Every total moves to the readings' 100%, but the excused third's (none) and
        # those whose quizzes are auto-scored 4 of 4 (already 100%).
        moved = sum(1 for n in range(size) if n % 3 and not (n % 3 == 2 and n % 5 == 4))
        assert f"{moved} students\u2019 released totals</strong> change" in html
        assert GradeCategory.objects.filter(course=world["course"]).count() == 2
        counts.append(data_queries(queries))
        # Of them, what the page says: the categories with their items, every cohort's
        # columns and every student's row.
        with CaptureQueriesContext(connection) as counting:
            change = grade_categories_change(course=world["course"], saved=[], deleted=[quizzes])
        assert (change.emptied, change.released) == ([(quizzes, 4)], moved)
        assert data_queries(counting) == 6
    print(f"categories confirmation: {counts}")
    # The rest is the page's own: the course, the formset and its checks, the items.
    assert counts[0] == counts[1], counts
