"""The gradebook's writes: a person's part of a grade, releases, default categories."""

from decimal import Decimal

import pytest
from django.db import connection

from cases.models import GradeCategory, ItemKind, ModuleItem, Work
from cases.services.gradebook import assignment_release, grade_categories_add_defaults
from cases.services.workspace.grading import work_grade
from cases.services.workspace.work import work_sync
from tests.helpers import at_once

pytestmark = pytest.mark.django_db


def _grade(world, student="student", **fields):
    values = {
        "override_score": Decimal(7),
        "override_reason": "Regraded by hand",
        "excused": False,
        "feedback": "Well argued.",
    }
    return work_grade(
        item=world.discussion.item,
        student=world.users[student],
        grader=world.users["instructor"],
        **(values | fields),
    )


def test_a_sync_after_grading_keeps_the_persons_part(world):
    _grade(world)
    work_sync(world.discussion.item, [world.users["student"].pk])
    work = Work.objects.get(item=world.discussion.item, user=world.users["student"])
    assert (work.override_score, work.feedback, work.graded_by) == (
        Decimal(7),
        "Well argued.",
        world.users["instructor"],
    )
    assert work.state == "submitted"  # The student's post, from the sync.


def test_an_override_reason_is_stored_trimmed_and_dropped_with_the_override(world):
    assert _grade(world, override_reason="  Late post accepted  ").override_reason == (
        "Late post accepted"
    )
    assert _grade(world, override_score=None).override_reason == ""


@pytest.mark.django_db(transaction=True)
def test_two_graders_at_once_leave_one_row(world):
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL's concurrent connections; SQLite serialises writers")
    errors = at_once(lambda: _grade(world, "student_ta_elsewhere"), 4)
    assert errors == []
    rows = Work.objects.filter(item=world.discussion.item, user=world.users["student_ta_elsewhere"])
    assert rows.count() == 1
    assert rows.get().override_score == Decimal(7)


def test_release_keeps_its_first_time_and_can_be_withdrawn(world):
    assignment = world.quiz.item.assignments.get()
    first = assignment_release(assignment=assignment, released=True).grades_released_at
    assert first is not None
    assert assignment_release(assignment=assignment, released=True).grades_released_at == first
    assert assignment_release(assignment=assignment, released=False).grades_released_at is None
    assignment.refresh_from_db()
    assert assignment.grades_released_at is None


def test_defaults_leave_a_courses_own_categories_alone(world):
    GradeCategory.objects.create(course=world.course, name="Quizzes", weight=100)
    filed = grade_categories_add_defaults(course=world.course)
    assert list(world.course.grade_categories.values_list("name", flat=True)) == ["Quizzes"]
    assert filed == 1  # Only the quiz: the other defaults do not exist here.
    assert ModuleItem.objects.get(kind=ItemKind.QUIZ).grade_category.name == "Quizzes"
    assert grade_categories_add_defaults(course=world.course) == 0
