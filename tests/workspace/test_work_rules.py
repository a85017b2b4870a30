"""Rules of students' work and grades that cut across the kinds: who a TA grades, when
late work counts as late, work done before an item was given, rubric edits, and graders
working at once."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from cases.models import Assignment, Cohort, Rubric, Work, WorkStatus
from cases.permissions import access_course
from cases.services.discussions import PostRefused, participation_grade, post_create
from cases.services.quizzes import attempt_start, attempt_submit
from cases.services.readings import reading_mark_done
from cases.services.schedule import assignments_schedule
from cases.services.workspace.matrix import course_matrix
from cases.services.workspace.work import work_points
from tests.factories import MembershipFactory, UserFactory
from tests.helpers import answer_all_right

pytestmark = pytest.mark.django_db


def _cell(world, item, username="student"):
    user = world.users["instructor"]
    course, access = access_course(user, world.course.pk)
    matrix = course_matrix(user, course, access, per_page=None)
    row = next(r for r in matrix.rows if r.student.username == username)
    return next(c for c in row.cells if c.item.pk == item.pk)


def test_a_ta_of_another_cohort_can_neither_see_nor_grade_participation_here(world, client_for):
    section_b = Cohort.objects.create(name="Section B")
    world.course.cohorts.add(section_b)
    section_b.teaching_assistants.add(world.users["ta"])
    newcomer = UserFactory(username="newcomer", first_name="New", last_name="Comer")
    MembershipFactory(cohort=section_b, user=newcomer)
    Assignment.objects.create(item=world.discussion.item, cohort=section_b)
    client = client_for("ta")
    url = reverse("cases:participation", args=[world.discussion.item.pk])
    html = client.get(url).content.decode()
    assert "Comer" in html and world.users["student"].last_name not in html
    refused = client.post(url, {"student": world.users["student"].pk, "points": "1"})
    assert refused.status_code == 404
    assert not Work.objects.filter(
        item=world.discussion.item, user=world.users["student"], auto_score__isnull=False
    ).exists()


def test_the_late_penalty_follows_the_attempt_that_counts(world):
    student = world.users["student"]
    quiz = world.quiz
    quiz.attempts_allowed = 2
    quiz.save()
    attempt_submit(attempt_id=world.attempt.pk, user=student)  # On time, nothing answered.
    quiz.item.assignments.update(
        due_at=timezone.now() - timedelta(hours=1), late_policy="penalize", late_penalty_percent=20
    )
    second = attempt_start(quiz=quiz, user=student)
    answer_all_right(second, student)
    attempt_submit(attempt_id=second.pk, user=student)  # The best, an hour late.
    cell = _cell(world, quiz.item)
    assert cell.late
    work = Work.objects.get(item=quiz.item, user=student)
    assert cell.points == work_points(work, cell.assignment)
    assert cell.points == Decimal("5.33")  # 4 of 6, one day late: 20% off 6.67.


def test_a_reading_done_before_it_was_given_shows_once_it_is(world):
    student = world.users["student"]
    world.item.assignments.all().delete()
    reading_mark_done(user=student, case=world.case, done=True)
    assert not Work.objects.filter(item=world.item, user=student).exists()
    cohort = world.course.cohorts.get()
    due = timezone.now() + timedelta(days=1)
    fields = {
        "opens_at": None,
        "due_at": due,
        "points": 10,
        "late_policy": "accept",
        "late_penalty_percent": 0,
        "late_until": None,
    }
    assignments_schedule(item=world.item, schedule={cohort: fields})
    assert _cell(world, world.item).status == WorkStatus.GRADED


def test_editing_a_rubric_rescores_the_levels_already_chosen(world, client_for):
    item = world.discussion.item
    rubric = Rubric.objects.create(
        course=world.course,
        title="Argument",
        criteria=[{"name": "Evidence", "levels": [{"label": "Thin", "points": 0},
                                                   {"label": "Strong", "points": 4}]}],
    )  # fmt: skip
    item.rubric = rubric
    item.save()
    client = client_for("instructor")
    client.post(
        reverse("cases:grade_work", args=[item.pk, world.users["student"].pk]),
        {"criterion_0": "1"},
    )
    assert Work.objects.get(item=item, user=world.users["student"]).rubric_score == 4
    # Confirmed, as the page asks first (tests/workspace/test_rubrics.py).
    client.post(
        reverse("cases:rubric_edit", args=[rubric.pk]),
        {
            "title": "Argument",
            "criteria": "Evidence: Thin 0 | Strong 8",
            "items": [item.pk],
            "confirmed": "1",
        },
    )
    assert Work.objects.get(item=item, user=world.users["student"]).rubric_score == 8


def test_participation_points_without_a_post_count_as_graded(world):
    quiet = world.users["student_ta_elsewhere"]
    world.discussion.item.assignments.update(due_at=timezone.now() - timedelta(days=1))
    participation_grade(
        discussion=world.discussion, user_id=quiet.pk, points=Decimal(7), comment="", grader=None
    )
    cell = _cell(world, world.discussion.item, "student_ta_elsewhere")
    assert (cell.status, cell.points) == (WorkStatus.GRADED, Decimal("7.00"))


def test_no_post_after_the_cut_off(world):
    world.discussion.item.assignments.update(
        due_at=timezone.now() - timedelta(days=2), late_until=timezone.now() - timedelta(days=1)
    )
    with pytest.raises(PostRefused, match="cut-off"):
        post_create(discussion=world.discussion, author=world.users["student"], body="Late.")
    # Staff are not held to a student's dates.
    post_create(discussion=world.discussion, author=world.users["instructor"], body="Noted.")


def test_two_graders_each_keep_what_they_changed(world, client_for):
    item, student = world.item, world.users["student"]
    edit_url = reverse("cases:grade_edit", args=[world.course.pk, student.pk, item.pk])
    # Both open the student's grade; one writes a comment, the other excuses the item.
    client_for("instructor").post(
        reverse("cases:grade_work", args=[item.pk, student.pk]), {"feedback": "Good notes."}
    )
    seen_before_the_comment = {
        "initial-feedback": "",
        "initial-excused": "",
        "initial-override_score": "",
        "initial-override_reason": "",
    }
    client_for("ta").post(
        edit_url,
        {"excused": "on", "feedback": "", "override_reason": ""} | seen_before_the_comment,
    )
    work = Work.objects.get(item=item, user=student)
    assert (work.feedback, work.excused) == ("Good notes.", True)
