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


def test_a_grade_released_to_a_student_stays_shown_after_a_move_to_a_section_not_yet_released(
    world,
):
    """Section A's memo and thread grades are released; its quiz grades are not. The
    student, graded on all three, is moved to section B, where none is released yet.
    The memo and thread grades they had read stay on their grades page, the memo's on
    its own page and version too; the quiz grade, never released to them, waits for
    B's release, and then shows."""
    from cases.models import Cohort
    from cases.services.analyses import memo_submit
    from cases.services.workspace.grading import work_grade
    from tests.factories import AssignmentFactory, make_analysis

    student, section_a = world.users["student"], world.course.cohorts.get()
    section_b = Cohort.objects.create(name="Section B")
    world.course.cohorts.add(section_b)
    memo_item = make_analysis(world.item.module, [section_a, section_b]).item
    for item in (world.discussion.item, world.quiz.item):
        AssignmentFactory(item=item, cohort=section_b)
    version = memo_submit(item=memo_item, user=student, body="Buy: ¶2 says the lab is small.")
    instructor = _signed_in(world.users["instructor"])
    instructor.post(
        reverse("cases:grade_work", args=[memo_item.pk, student.pk]),
        {"participation": "9", "feedback": "MEMO-COMMENT", "memo_version": "1"},
    )
    instructor.post(
        reverse("cases:grade_work", args=[world.discussion.item.pk, student.pk]),
        {"participation": "6", "feedback": ""},
    )
    work_grade(
        item=world.quiz.item,
        student=student,
        grader=world.users["instructor"],
        override_score=Decimal(8),
        override_reason="Answered in class.",
    )
    for item in (memo_item, world.discussion.item):
        _release(instructor, item.assignments.get(cohort=section_a))
    student_client = _signed_in(student)
    grades_url = reverse("cases:student_grades", args=[world.course.pk])
    before = _html(student_client.get(grades_url))
    assert "9 / 10" in before and "6 / 10" in before and "8 / 10" not in before

    admin = _signed_in(world.users["admin"])
    admin.post(
        reverse("cases:cohort_members", args=[section_a.pk]),
        {"action": "move", "students": [student.pk], "to": section_b.pk},
    )
    assert list(student.cohorts.all()) == [section_b]

    after = _html(student_client.get(grades_url))
    assert "9 / 10" in after and "MEMO-COMMENT" in after and "6 / 10" in after
    assert "8 / 10" not in after
    assert after.count("Not released") == 1  # The quiz (the reading is not given to B).
    memo_page = _html(student_client.get(memo_item.get_absolute_url()))
    assert "Your grade and your grader's comments are released" in memo_page
    version_page = _html(student_client.get(reverse("cases:memo_version", args=[version.pk])))
    assert "MEMO-COMMENT" in version_page

    _release(instructor, world.quiz.item.assignments.get(cohort=section_b))
    assert "8 / 10" in _html(student_client.get(grades_url))

    # Moved on again, to a section that has released nothing: all three stay shown.
    section_c = Cohort.objects.create(name="Section C")
    world.course.cohorts.add(section_c)
    for item in (memo_item, world.discussion.item, world.quiz.item):
        AssignmentFactory(item=item, cohort=section_c)
    admin.post(
        reverse("cases:cohort_members", args=[section_b.pk]),
        {"action": "move", "students": [student.pk], "to": section_c.pk},
    )
    again = _html(student_client.get(grades_url))
    assert "9 / 10" in again and "6 / 10" in again and "8 / 10" in again
    assert "Not released" not in again


def test_a_quiz_whose_score_is_never_shown_stays_out_of_the_students_grades_when_released(world):
    """The quiz says the student's score is shown "Never". The instructor releases the
    course's columns in the gradebook, the quiz's too. The student's grades page and
    course total then leave the quiz out, as its own page does, and no notice says its
    grade is released; the staff's gradebook still shows the score. Set to "after the
    due date" and past it, the quiz's grade shows and counts."""
    from datetime import timedelta

    from cases.models import Answer, GradeCategory, ModuleItem, Notification
    from cases.services.quizzes import answer_grade, attempt_submit
    from tests.helpers import answer_all_right

    course, student, quiz = world.course, world.users["student"], world.quiz
    quiz.feedback_release = "never"
    quiz.save()
    for position, (name, item) in enumerate(
        [("Quizzes", quiz.item), ("Discussions", world.discussion.item)], 1
    ):
        category = GradeCategory.objects.create(
            course=course, name=name, weight=50, position=position
        )
        ModuleItem.objects.filter(pk=item.pk).update(grade_category=category)
    answer_all_right(world.attempt, student)
    attempt_submit(attempt_id=world.attempt.pk, user=student)
    essay = Answer.objects.get(slot__attempt=world.attempt, slot__question__title="Argue")
    answer_grade(
        answer_id=essay.pk, points=Decimal(2), comment="", grader=world.users["instructor"]
    )
    instructor = _signed_in(world.users["instructor"])
    instructor.post(
        reverse("cases:grade_work", args=[world.discussion.item.pk, student.pk]),
        {"participation": "5", "feedback": ""},
    )
    quiz_work = Work.objects.get(item=quiz.item, user=student)
    assert quiz_work.auto_score == quiz_work.max_score and not quiz_work.needs_grading
    for item in (quiz.item, world.discussion.item):
        _release(instructor, item.assignments.get())

    student_client = _signed_in(student)
    grades_url = reverse("cases:student_grades", args=[course.pk])
    mine = _html(student_client.get(grades_url))
    quiz_row = mine[mine.index(quiz.item.title) :].split("</tr>")[0]
    assert "Not released" in quiz_row and " / 10" not in quiz_row
    assert "Your course grade so far: <strong>50.0%</strong>" in mine  # The thread only.
    assert not Notification.objects.filter(user=student, title__contains=quiz.item.title)
    overview = _html(student_client.get(quiz.item.get_absolute_url()))
    assert "Not released yet" in overview
    gradebook = _html(instructor.get(reverse("cases:gradebook", args=[course.pk])))
    assert "<b>10</b>" in gradebook or ">10<" in gradebook  # The staff see the score.

    quiz.feedback_release = "after_due"
    quiz.save()
    quiz.item.assignments.update(due_at=timezone.now() - timedelta(hours=1))
    mine = _html(student_client.get(grades_url))
    quiz_row = mine[mine.index(quiz.item.title) :].split("</tr>")[0]
    assert "Not released" not in quiz_row and " / 10" in quiz_row


def test_grades_not_released_reach_the_student_nowhere_until_released(world):
    """A memo graded 9 / 10 with a comment and a thread graded 6 / 10, neither released:
    the student's grades page, total, the memo's page and version, and their notices
    show neither grade nor comment. Released, the memo's shows everywhere, with a
    notice, while the thread's stays hidden."""
    from cases.models import Notification
    from cases.services.analyses import memo_submit
    from tests.factories import make_analysis

    student, section_a = world.users["student"], world.course.cohorts.get()
    memo_item = make_analysis(world.item.module, [section_a]).item
    version = memo_submit(item=memo_item, user=student, body="Buy: ¶2 says the lab is small.")
    instructor = _signed_in(world.users["instructor"])
    instructor.post(
        reverse("cases:grade_work", args=[memo_item.pk, student.pk]),
        {"participation": "9", "feedback": "MEMO-COMMENT", "memo_version": "1"},
    )
    instructor.post(
        reverse("cases:grade_work", args=[world.discussion.item.pk, student.pk]),
        {"participation": "6", "feedback": "THREAD-COMMENT"},
    )
    student_client = _signed_in(student)
    grades_url = reverse("cases:student_grades", args=[world.course.pk])
    pages = [grades_url, memo_item.get_absolute_url()]
    pages.append(reverse("cases:memo_version", args=[version.pk]))
    pages.append(reverse("cases:notification_list"))
    seen = "".join(_html(student_client.get(url)) for url in pages)
    for secret in ("9 / 10", "6 / 10", "MEMO-COMMENT", "THREAD-COMMENT", "course grade so far"):
        assert secret not in seen
    assert not Notification.objects.filter(user=student, kind="grade_released")

    _release(instructor, memo_item.assignments.get())
    seen = "".join(_html(student_client.get(url)) for url in pages)
    assert "9 / 10" in seen and "MEMO-COMMENT" in seen
    assert "6 / 10" not in seen and "THREAD-COMMENT" not in seen
    assert Notification.objects.filter(user=student, title__contains=memo_item.title).exists()


def test_a_student_moved_after_a_release_is_told_when_graded_in_the_new_section(world):
    """Section A's thread grades are released before the student has one. Moved to
    section B, which has released nothing, the student keeps A's release: graded
    there, the grade shows on their grades page at once, and they are told, once,
    however often they are graded again and whenever B releases. A classmate of B's
    graded too is told nothing until B releases."""
    from cases.models import Cohort, Notification
    from tests.factories import AssignmentFactory, MembershipFactory, UserFactory

    student, section_a = world.users["student"], world.course.cohorts.get()
    item = world.discussion.item
    section_b = Cohort.objects.create(name="Section B")
    world.course.cohorts.add(section_b)
    classmate = UserFactory(username="classmate_b")
    MembershipFactory(cohort=section_b, user=classmate)
    AssignmentFactory(item=item, cohort=section_b)
    instructor = _signed_in(world.users["instructor"])
    _release(instructor, item.assignments.get(cohort=section_a))
    _signed_in(world.users["admin"]).post(
        reverse("cases:cohort_members", args=[section_a.pk]),
        {"action": "move", "students": [student.pk], "to": section_b.pk},
    )

    grade_url = reverse("cases:grade_work", args=[item.pk, student.pk])
    instructor.post(grade_url, {"participation": "6", "feedback": ""})
    instructor.post(
        reverse("cases:grade_work", args=[item.pk, classmate.pk]),
        {"participation": "5", "feedback": ""},
    )
    grades = _html(_signed_in(student).get(reverse("cases:student_grades", args=[world.course.pk])))
    assert "6 / 10" in grades
    told = Notification.objects.filter(kind="grade_released", title__contains=item.title)
    assert list(told.values_list("user__username", flat=True)) == ["student"]

    instructor.post(grade_url, {"participation": "7", "feedback": ""})
    _release(instructor, item.assignments.get(cohort=section_b))
    assert sorted(told.values_list("user__username", flat=True)) == ["classmate_b", "student"]


def test_a_student_told_of_a_grade_before_a_move_is_not_told_again_when_regraded(world):
    """Graded and told of section A's release, the student is moved to section B and
    regraded there: the new grade shows at once, and the notice they have stands for
    it; they are not told a second time, nor when B releases."""
    from cases.models import Cohort, Notification
    from tests.factories import AssignmentFactory

    student, section_a = world.users["student"], world.course.cohorts.get()
    item = world.discussion.item
    section_b = Cohort.objects.create(name="Section B")
    world.course.cohorts.add(section_b)
    AssignmentFactory(item=item, cohort=section_b)
    instructor = _signed_in(world.users["instructor"])
    grade_url = reverse("cases:grade_work", args=[item.pk, student.pk])
    instructor.post(grade_url, {"participation": "6", "feedback": ""})
    _release(instructor, item.assignments.get(cohort=section_a))
    told = Notification.objects.filter(user=student, kind="grade_released")
    assert told.count() == 1
    _signed_in(world.users["admin"]).post(
        reverse("cases:cohort_members", args=[section_a.pk]),
        {"action": "move", "students": [student.pk], "to": section_b.pk},
    )

    instructor.post(grade_url, {"participation": "8", "feedback": ""})
    grades = _html(_signed_in(student).get(reverse("cases:student_grades", args=[world.course.pk])))
    assert "8 / 10" in grades
    _release(instructor, item.assignments.get(cohort=section_b))
    assert told.count() == 1
