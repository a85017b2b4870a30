"""The students-by-items matrix under the tracker and the gradebook."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from cases.models import Cohort, Extension, GradeCategory, Rubric, Work, WorkStatus
from cases.permissions import access_course
from cases.services.builder import module_move
from cases.services.cohorts import cohort_rename
from cases.services.discussions import participation_grade
from cases.services.gradebook import grade_categories_save, items_file
from cases.services.people import user_deactivate, user_reactivate
from cases.services.quizzes import attempt_submit
from cases.services.readings import reading_mark_done, reading_open
from cases.services.schedule import accommodation_set
from cases.services.workspace.grading import rubric_update
from cases.services.workspace.matrix import course_matrix, course_version
from tests.factories import MembershipFactory, ModuleFactory, UserFactory
from tests.helpers import answer_all_right

pytestmark = pytest.mark.django_db


def _matrix(world, role="instructor", **filters):
    user = world.users[role]
    course, access = access_course(user, world.course.pk)
    return course_matrix(user, course, access, **filters)


def _cells(matrix, username):
    row = next(r for r in matrix.rows if r.student.username == username)
    return {cell.item.title: cell for cell in row.cells}


def test_each_kind_of_work_shows_its_status(world):
    student = world.users["student"]
    cells = _cells(_matrix(world), "student")
    # The world's student has an open attempt and a post; nothing read yet.
    assert cells["Shanghai Bell"].status == WorkStatus.NOT_STARTED
    assert cells["Reading check"].status == WorkStatus.IN_PROGRESS
    assert cells["R firm or D firm?"].status == WorkStatus.SUBMITTED

    reading_open(user=student, case=world.case)
    assert _cells(_matrix(world), "student")["Shanghai Bell"].status == WorkStatus.OPENED
    reading_mark_done(user=student, case=world.case, done=True)
    answer_all_right(world.attempt, student)  # With a short text for a person.
    attempt_submit(attempt_id=world.attempt.pk, user=student)
    participation_grade(
        discussion=world.discussion, user_id=student.pk, points=Decimal(8), comment="", grader=None
    )
    cells = _cells(_matrix(world), "student")
    assert cells["Shanghai Bell"].status == WorkStatus.GRADED
    assert cells["Shanghai Bell"].points == Decimal("10.00")  # Completion: full points.
    # A short text waits for a person.
    assert cells["Reading check"].status == WorkStatus.SUBMITTED
    assert cells["R firm or D firm?"].status == WorkStatus.GRADED
    assert cells["R firm or D firm?"].points == Decimal("8.00")


def test_past_due_without_work_is_late_unless_extended_or_excused(world):
    student = world.users["student"]
    world.item.assignments.update(due_at=timezone.now() - timedelta(days=1))
    assert _cells(_matrix(world), "student")["Shanghai Bell"].status == WorkStatus.LATE
    assert {r.student.username for r in _matrix(world, behind=True).rows} == {
        "student",
        "student_ta_elsewhere",
    }
    Extension.objects.create(
        assignment=world.item.assignments.get(),
        user=student,
        due_at=timezone.now() + timedelta(days=2),
    )
    assert _cells(_matrix(world), "student")["Shanghai Bell"].status == WorkStatus.NOT_STARTED
    assert [r.student.username for r in _matrix(world, behind=True).rows] == [
        "student_ta_elsewhere"
    ]
    Work.objects.create(item=world.item, user=world.users["student_ta_elsewhere"], excused=True)
    assert _matrix(world, behind=True).rows == []


def test_a_ta_assigned_to_one_cohort_sees_only_its_students(world):
    section_b = Cohort.objects.create(name="Section B")
    world.course.cohorts.add(section_b)
    newcomer = UserFactory(username="newcomer")
    MembershipFactory(cohort=section_b, user=newcomer)
    everyone = {r.student.username for r in _matrix(world, role="ta").rows}
    assert everyone == {"student", "student_ta_elsewhere", "newcomer"}
    section_b.teaching_assistants.add(world.users["ta"])
    assert {r.student.username for r in _matrix(world, role="ta").rows} == {"newcomer"}
    # The instructor still sees the whole course.
    assert len(_matrix(world).rows) == 3


def test_status_filter_and_paging(world):
    matrix = _matrix(world, status=WorkStatus.IN_PROGRESS)
    assert [r.student.username for r in matrix.rows] == ["student"]
    paged = _matrix(world, per_page=1, page=2)
    assert (paged.total, paged.pages, paged.page, len(paged.rows)) == (2, 2, 2, 1)


def test_rows_know_their_cohorts_and_the_matrix_its_assignments(world):
    matrix = _matrix(world)
    cohort = world.course.cohorts.get()
    assert all(row.cohorts == [cohort.pk] for row in matrix.rows)
    assert {a.cohort.name for a in matrix.assignments} == {"Section A"}
    assert len(matrix.assignments) == len(matrix.items) == 3


def test_a_students_own_row_has_their_items_only(world):
    from cases.services.workspace.matrix import student_row

    row = student_row(world.users["student"], world.course)
    assert [c.item.title for c in row.cells] == [c.item.title for c in _cells_row(world)]
    assert student_row(world.users["other_student"], world.course).cells == []


def _cells_row(world):
    return next(r for r in _matrix(world).rows if r.student.username == "student").cells


def _mover(course, now):
    """`moved()`: whether the course's version is new since it was last asked (it is
    asked once here, so the first `moved()` after no change is False)."""
    seen = [course_version(course, now)]

    def moved() -> bool:
        version = course_version(course, now)
        fresh = version not in seen
        seen.append(version)
        return fresh

    return moved


def test_the_course_version_moves_with_everything_the_grid_shows(world):
    """Unchanged polls answer 304 on this version alone: each kind of change the
    tracker or gradebook shows must move it, and nothing else."""
    course, now = world.course, timezone.now()
    moved = _mover(course, now)

    assert not moved()  # Asking again changes nothing.
    reading_mark_done(user=world.users["student"], case=world.case, done=True)
    assert moved()  # A student's work.
    assignment = world.item.assignments.get()
    assignment.due_at = now + timedelta(days=3)
    assignment.save()
    assert moved()  # A date.
    # Four days on, it has passed.
    assert course_version(course, now + timedelta(days=4)) != course_version(course, now)
    Extension.objects.create(
        assignment=assignment, user=world.users["student"], due_at=now + timedelta(days=5)
    )
    assert moved()
    section_b = Cohort.objects.create(name="Section B")
    course.cohorts.add(section_b)
    world.users["student"].memberships.update(cohort=section_b)
    assert moved()  # The same number of students, one in another section.
    essays = GradeCategory.objects.create(course=course, name="Essays", weight=Decimal(20))
    assert not moved()  # A category without items shows in no grid.
    items_file(course=course, changes={world.item.pk: essays})
    assert moved()
    world.item.refresh_from_db()  # Filed by an update.
    world.item.position = 7
    world.item.save()
    assert moved()  # The columns' order.
    admin, before = world.users["admin"], course_version(course, now)
    user_deactivate(user=world.users["student"], by=admin)
    assert moved()  # "deactivated" beside the name, and no longer behind.
    user_reactivate(user=world.users["student"], by=admin)
    assert course_version(course, now) == before  # What the grid kept for it shows again.
    user_deactivate(user=world.users["other_student"], by=admin)
    assert not moved()  # Another course's student.
    Work.objects.filter(item__module__course=world.other_course).update(feedback="x")
    assert not moved()


def _levels(*points: int) -> list:
    return [{"name": "Evidence", "levels": [{"label": f"L{p}", "points": p} for p in points]}]


def test_the_course_version_moves_with_changes_that_keep_every_count_and_sum(world):
    """Weights swapped, items swapped between categories, a category, an item or a
    cohort renamed, a rubric's level given other points, modules reordered, extra time
    given: the grids show each, and none changes how many rows there are or what their
    numbers add up to."""
    course, now = world.course, timezone.now()
    instructor = world.users["instructor"]
    quizzes = GradeCategory.objects.create(course=course, name="Quizzes", weight=60, position=1)
    talk = GradeCategory.objects.create(course=course, name="Discussions", weight=40, position=2)
    items_file(course=course, changes={world.quiz.item.pk: quizzes, world.discussion.item.pk: talk})
    rubric = Rubric.objects.create(course=course, title="Argument", criteria=_levels(0, 5))
    rubric_update(
        rubric=rubric, title="Argument", criteria=rubric.criteria, item_ids={world.item.pk}
    )
    later = ModuleFactory(course=course, title="Later", position=2)
    moved = _mover(course, now)

    assert not moved()
    quizzes.weight, talk.weight = talk.weight, quizzes.weight
    grade_categories_save(course=course, saved=[quizzes, talk], deleted=[])
    assert moved()  # The weights still add up to 100.
    items_file(course=course, changes={world.quiz.item.pk: talk, world.discussion.item.pk: quizzes})
    assert moved()  # Each category still holds one item.
    talk.name = "Class debate"
    grade_categories_save(course=course, saved=[talk], deleted=[])
    assert moved()
    quizzes.position, talk.position = talk.position, quizzes.position
    grade_categories_save(course=course, saved=[quizzes, talk], deleted=[])
    assert moved()  # The categories' order.
    rubric_update(
        rubric=rubric, title="Argument", criteria=_levels(0, 10), item_ids={world.item.pk}
    )
    assert moved()  # The same levels chosen (none), out of a new maximum.
    world.item.refresh_from_db()  # Its rubric was set by an update.
    world.item.title = "Shanghai Bell, part A"
    world.item.save()
    assert moved()
    module_move(module=later, direction="up")
    assert moved()  # The columns' order, module by module.
    cohort_rename(cohort=course.cohorts.get(), name="Section A, Mondays", by=instructor)
    assert moved()
    accommodation_set(
        course=course,
        student=world.users["student"],
        extra_minutes=30,
        time_multiplier=None,
        by=instructor,
    )
    assert moved()  # "Extra time" beside the name.
    grade_categories_save(course=course, saved=[], deleted=[talk])
    assert moved()  # Its item is left uncategorised.
    rubric.delete()
    assert moved()  # Its item is left without one.
    Rubric.objects.create(course=world.other_course, title="Theirs", criteria=_levels(0, 1))
    assert not moved()
