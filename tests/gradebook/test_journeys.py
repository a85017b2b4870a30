"""Grades as the staff and the students see them, used a second time or where two
features meet: journeys through the real views, asserting what the people in them
would notice."""

from decimal import Decimal

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from cases.models import Work, WorkStatus, work_status

pytestmark = pytest.mark.django_db


def _html(response) -> str:
    return response.content.decode()


def _signed_in(user) -> Client:
    """A browser of its own for each person of the journey."""
    client = Client()
    client.force_login(user)
    return client


def _release(client, assignment) -> None:
    client.post(reverse("cases:assignment_release", args=[assignment.pk]), {"release": "1"})


def test_posts_written_after_a_participation_grade_put_the_work_back_to_grade(world):
    """The instructor gives the student's participation 7 / 10 and releases it; the
    student posts twice more. The tracker, gradebook and queue then say the thread waits
    for a grader again, with 7 as the earlier grade and the grader's starting point; the
    student still reads their 7. The grader saving it as it is lets it stand again."""
    item, student = world.discussion.item, world.users["student"]
    student_client = _signed_in(student)
    instructor = _signed_in(world.users["instructor"])
    grade_url = reverse("cases:grade_work", args=[item.pk, student.pk])
    instructor.post(grade_url, {"participation": "7", "feedback": "Bring in ¶3 next time."})
    _release(instructor, item.assignments.get())
    grades_url = reverse("cases:student_grades", args=[world.course.pk])
    assert "7 / 10" in _html(student_client.get(grades_url))

    create = reverse("cases:post_create", args=[item.pk])
    student_client.post(create, {"body": "A second thought, with ¶3."})
    student_client.post(create, {"body": "And a third, answering a classmate."})

    work = Work.objects.get(item=item, user=student)
    assert work.needs_grading
    assert Work.objects.filter(pk=work.pk).waiting_for_grader().exists()
    queue = _html(instructor.get(reverse("cases:grading_queue", args=[world.course.pk])))
    assert item.title in queue
    tracker = _html(instructor.get(reverse("cases:tracker", args=[world.course.pk])))
    assert "(was 7)" in tracker
    gradebook = _html(instructor.get(reverse("cases:gradebook", args=[world.course.pk])))
    assert "to grade" in gradebook and "was 7" in gradebook
    page = _html(instructor.get(grade_url))
    assert "The grade below is the earlier one (7 / 10)" in page
    assert 'value="7.00"' in page  # The earlier points, the grader's starting point.

    mine = _html(student_client.get(grades_url))
    assert "your earlier grade: 7 / 10" in mine and "Bring in ¶3 next time." in mine

    # Saved as it is (nothing changed on the form): the grade stands for the posts.
    instructor.post(grade_url, {"participation": "7.00", "feedback": "Bring in ¶3 next time."})
    work.refresh_from_db()
    assert not work.needs_grading
    assert not Work.objects.filter(pk=work.pk).waiting_for_grader().exists()
    tracker = _html(instructor.get(reverse("cases:tracker", args=[world.course.pk])))
    assert "(was 7)" not in tracker
    mine = _html(student_client.get(grades_url))
    assert "7 / 10" in mine and "your earlier grade" not in mine


def test_a_post_after_a_grade_on_the_participation_page_waits_until_graded_there_again(world):
    """Graded on the thread's participation page, then a post: to grade (was 6). A new
    grade there answers it and counts."""
    item, student = world.discussion.item, world.users["student"]
    student_client = _signed_in(student)
    instructor = _signed_in(world.users["instructor"])
    url = reverse("cases:participation", args=[item.pk])
    instructor.post(url, {"student": student.pk, "points": "6", "comment": ""})
    student_client.post(reverse("cases:post_create", args=[item.pk]), {"body": "More."})
    work = Work.objects.get(item=item, user=student)
    assert work.needs_grading
    assert "posted since graded: to grade" in _html(instructor.get(url))

    instructor.post(url, {"student": student.pk, "points": "8", "comment": ""})
    work.refresh_from_db()
    assert not work.needs_grading and work.auto_score == Decimal(8)
    assert work_status(work, item.assignments.get(), timezone.now()) == WorkStatus.GRADED
    assert "was 6" not in _html(instructor.get(reverse("cases:gradebook", args=[world.course.pk])))
    assert "posted since graded" not in _html(instructor.get(url))
