"""The teaching page: each course's to-do list (work waiting to be graded, students
behind, items closing this week), as the instructor and the TA act on it."""

import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from cases.models import CaseReading, Rubric, Work
from cases.services.readings import reading_mark_done
from tests.factories import (
    AssignmentFactory,
    CohortFactory,
    CourseFactory,
    ModuleFactory,
    ModuleItemFactory,
    UserFactory,
    enrol,
    make_case,
)
from tests.helpers import PAGE_BUDGET, data_queries

pytestmark = pytest.mark.django_db

TEACH = "/teach/"


def _waiting(html: str) -> int:
    if "Nothing waiting to be graded" in html:
        return 0
    return int(re.search(r'todo__count">(\d+)</strong> pieces? of work waiting', html)[1])


def _behind(html: str) -> int:
    if "No student is behind" in html:
        return 0
    return int(re.search(r'todo__count">(\d+)</strong> students? behind', html)[1])


def _closing(html: str) -> str:
    """The text of the "closing this week" row."""
    row = re.search(r'<li class="todo__row">\s*(?:<strong[^>]*>\d+</strong> items?|<span '
                    r'class="todo__done">Nothing closes)[\s\S]*?</li>\s*</ul>', html)  # fmt: skip
    return re.sub(r"<[^>]+>|\s+", " ", row[0])


def _rubric(course) -> Rubric:
    return Rubric.objects.create(
        course=course,
        title="Argument",
        criteria=[{"name": "Evidence", "levels": [{"label": "Thin", "points": 0},
                                                   {"label": "Strong", "points": 4}]}],
    )  # fmt: skip


def test_the_to_do_follows_hand_in_grading_and_due_dates(world, client_for):
    assert reverse("cases:instructor_dashboard") == TEACH
    item, student = world.item, world.users["student"]
    item.rubric = _rubric(world.course)
    item.save()
    ta_page = client_for("ta").get(TEACH).content.decode()
    before = _waiting(ta_page)
    assert reverse("cases:grading_queue", args=[world.course.pk]) in ta_page or before == 0

    # The student marks the reading done (twice: one piece of work): it waits for the TA.
    for _ in range(2):
        client_for("student").post(
            reverse("cases:reading_done", args=[world.case.slug]), {"done": "1"}
        )
    for role in ("ta", "instructor"):
        html = client_for(role).get(TEACH).content.decode()
        assert _waiting(html) == before + 1, role
        assert reverse("cases:grading_queue", args=[world.course.pk]) in html
    assert _waiting(client_for("other_instructor").get(TEACH).content.decode()) == 0

    # The TA grades it with the rubric: it no longer waits.
    client_for("ta").post(
        reverse("cases:grade_work", args=[item.pk, student.pk]), {"criterion_0": "1"}
    )
    assert Work.objects.get(item=item, user=student).rubric_score == 4
    assert _waiting(client_for("ta").get(TEACH).content.decode()) == before

    # Due in three days: under "closing this week", with when; next month: gone.
    assignment = item.assignments.get()
    assignment.due_at = timezone.now() + timedelta(days=3, hours=1)
    assignment.save()
    html = client_for("instructor").get(TEACH).content.decode()
    closing = _closing(html)
    assert "Shanghai Bell" in closing and "(in 3 days)" in closing
    assert reverse("cases:item_detail", args=[item.pk]) in html
    assignment.due_at = timezone.now() + timedelta(days=35)
    assignment.save()
    closing = _closing(client_for("instructor").get(TEACH).content.decode())
    assert "Shanghai Bell" not in closing


def test_students_behind_are_those_with_overdue_work_not_handed_in(world, client_for):
    """Two students, one reading due yesterday: both behind until one marks it done and
    the other is excused; the link opens the tracker's "behind" filter."""
    world.item.assignments.update(due_at=timezone.now() - timedelta(days=1))
    # The quiz and the discussion are not yet due; only the reading is overdue.
    html = client_for("instructor").get(TEACH).content.decode()
    assert _behind(html) == 2
    tracker = reverse("cases:tracker", args=[world.course.pk]) + "?behind=1"
    assert tracker in html
    assert client_for("instructor").get(tracker).status_code == 200

    reading_mark_done(user=world.users["student"], case=world.case, done=True)
    assert _behind(client_for("ta").get(TEACH).content.decode()) == 1
    Work.objects.update_or_create(
        item=world.item, user=world.users["student_ta_elsewhere"], defaults={"excused": True}
    )
    html = client_for("ta").get(TEACH).content.decode()
    assert _behind(html) == 0 and "No student is behind" in html


def _class_of(size: int):
    """A course of `size` students in two cohorts, a TA limited to the first, twelve
    readings with a rubric (half of them overdue), and every student's first reading
    handed in and waiting to be graded."""
    instructor, ta = UserFactory(), UserFactory()
    cohorts = [CohortFactory(), CohortFactory()]
    students = enrol(cohorts[0], size - size // 2, prefix=f"t{size}a-")
    students += enrol(cohorts[1], size // 2, prefix=f"t{size}b-")
    course = CourseFactory(instructors=[instructor], teaching_assistants=[ta], cohorts=cohorts)
    cohorts[0].teaching_assistants.add(ta)
    rubric = _rubric(course)
    first_case = None
    for m in range(3):
        module = ModuleFactory(course=course)
        for i in range(4):
            item = ModuleItemFactory(module=module, rubric=rubric)
            case = make_case(slug=f"teach-{size}-{m}-{i}", created_by=instructor)
            CaseReading.objects.create(item=item, case=case)
            first_case = first_case or case
            due = timezone.now() + timedelta(days=(-2 if i % 2 else 2))
            for cohort in cohorts:
                AssignmentFactory(item=item, cohort=cohort, due_at=due)
    for student in students:
        reading_mark_done(user=student, case=first_case, done=True)
    return {"instructor": instructor, "ta": ta, "size": size, "first_half": size - size // 2}


@pytest.mark.parametrize("role", ["instructor", "ta"])
def test_the_teaching_page_costs_the_same_queries_for_any_class(
    client, role, django_assert_max_num_queries
):
    counts = []
    for size in (6, 60):
        world = _class_of(size)
        client.force_login(world[role])
        with django_assert_max_num_queries(PAGE_BUDGET) as queries:
            html = client.get(TEACH).content.decode()
        counts.append(data_queries(queries))
        seen = world["size"] if role == "instructor" else world["first_half"]
        assert _waiting(html) == seen  # Every student's first reading, the TA's cohort.
        assert _behind(html) == seen  # Each has overdue readings.
        assert "6 items closing this week" in re.sub(r"<[^>]+>", "", html)
    assert counts[0] == counts[1], counts


def test_an_admin_overseeing_many_courses_costs_the_same_as_one(
    world, client_for, django_assert_max_num_queries
):
    """An admin sees every course; the to-do is for the courses one teaches, so three
    more courses add no query, while the admin's own teaching still gets its to-do."""
    admin = client_for("admin")
    with django_assert_max_num_queries(PAGE_BUDGET) as queries:
        html = admin.get(TEACH).content.decode()
    one = data_queries(queries)
    assert "You oversee this course as an admin" in html and "To do" not in html
    for _ in range(3):
        CourseFactory(cohorts=[CohortFactory()])
    with django_assert_max_num_queries(PAGE_BUDGET) as queries:
        html = admin.get(TEACH).content.decode()
    assert data_queries(queries) == one
    assert html.count("You oversee this course as an admin") == 5  # With the other course.
    world.course.instructors.add(world.users["admin"])
    html = admin.get(TEACH).content.decode()
    assert "To do" in html and html.count("You oversee this course as an admin") == 4


def _text(response) -> str:
    main = response.content.decode().split("<main", 1)[1].split("</main>", 1)[0]
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", main))


def test_a_new_site_s_first_course_is_made_in_the_app_and_its_empty_pages_say_what_next(client):
    """An admin on a site with no course yet opens the teaching page: it offers the
    app's own "New course" page (which makes the course with its instructor), not the
    Django admin's bare table. She makes a course and hands it to a new instructor. The
    instructor's course page, with no module yet, sends him to the builder to add the
    first one, rather than only saying there is none."""
    admin = UserFactory(username="root", is_staff=True, is_superuser=True)
    client.force_login(admin)
    teaching = client.get(TEACH)
    assert reverse("cases:course_create") in teaching.content.decode()
    assert reverse("admin:index") + '">admin</a>' not in teaching.content.decode()
    made = client.post(
        reverse("cases:course_create"),
        {"code": "MGT 6100", "title": "Second generation", "description": "", "time_zone": "UTC"},
    )
    assert made.status_code == 302

    prof = UserFactory(username="prof")
    course = CourseFactory(code="MGT 6200", instructors=[prof])
    client.force_login(prof)
    page = client.get(course.get_absolute_url())
    assert "no modules yet" in _text(page)
    assert (
        f'href="{reverse("cases:course_builder", args=[course.pk])}"'
        in re.search(r'<p class="empty">.*?</p>', page.content.decode(), re.S)[0]
    )
    # His teaching page offers a new course too: an instructor may start another.
    assert reverse("cases:course_create") in client.get(TEACH).content.decode()
