"""Quiz journeys where a feature is used a second time or two features meet: a
question edited after it was answered and graded, and the like."""

import csv
import io
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from cases.models import Attempt, Work, counting_attempt, quiz_result
from cases.services.quizzes import attempt_start
from cases.services.schedule import assignments_schedule

pytestmark = pytest.mark.django_db


def _slot(world, title):
    return world.attempt.slots.get(question__title=title)


def test_points_lowered_after_an_essay_was_graded_scale_its_grade(world, client_for):
    """The student writes the essay (2 points) and submits; the TA gives it full marks;
    the instructor then makes the essay worth 1 point. Full marks stay full marks: the
    attempt never scores more than it is out of, on the result page or the gradebook."""
    essay = _slot(world, "Argue")
    student = client_for("student")
    student.post(
        reverse("cases:attempt_save", args=[world.attempt.pk]),
        {"questions": str(essay.pk), f"q{essay.pk}": "Headcount is an input."},
    )
    student.post(reverse("cases:attempt_submit", args=[world.attempt.pk]))
    ta = client_for("ta")
    ta.post(
        reverse("cases:answer_grade", args=[essay.answer.pk]),
        {"points": "2", "comment": "Well argued."},
    )
    assert Attempt.objects.get(pk=world.attempt.pk).score == Decimal("2")

    question = essay.question
    response = client_for("instructor").post(
        reverse("cases:question_edit", args=[question.pk]),
        {"title": question.title, "text": question.text, "points": "1"},
    )
    assert response.status_code == 302
    attempt = Attempt.objects.get(pk=world.attempt.pk)
    assert attempt.max_score == Decimal("5")  # Four auto-graded points and the essay's 1.
    assert attempt.score == Decimal("1")  # Full marks on the essay, nothing else answered.
    essay.answer.refresh_from_db()
    assert (essay.answer.points, essay.answer.fraction) == (Decimal("1"), Decimal("1"))
    work = Work.objects.get(item=world.quiz.item, user=world.users["student"])
    assert work.auto_score <= work.max_score


def _settings(client, quiz, questions, **fields):
    data = {
        "attempts_allowed": "2",
        "grading_method": "last",
        "feedback_release": "immediately",
        "questions": [str(q.pk) for q in questions],
    }
    return client.post(reverse("cases:quiz_settings", args=[quiz.item.pk]), data | fields)


def _csv_cell(client, world, username: str) -> str:
    response = client.get(reverse("cases:gradebook_csv", args=[world.course.pk]))
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode()[1:])))
    column = next(i for i, name in enumerate(rows[0]) if world.quiz.item.title in name)
    return next(row for row in rows if row[0] == username)[column]


def test_the_last_attempt_counts_out_of_its_own_questions(world, client_for):
    """Two attempts, the last counts. The first is handed in blank (0 of 6); the
    instructor then drops every question but one (1 point); the second attempt gets it
    right: 1 of 1. The last attempt counts, so the gradebook and its CSV give full
    marks, as the attempt's own result page says 1 / 1; not 1 of the first's 6."""
    instructor = client_for("instructor")
    partner = _slot(world, "Partner").question
    every = [slot.question for slot in world.quiz.slots.all()]
    assert _settings(instructor, world.quiz, every).status_code == 302
    student = client_for("student")
    student.post(reverse("cases:attempt_submit", args=[world.attempt.pk]))
    instructor = client_for("instructor")
    assert _settings(instructor, world.quiz, [partner]).status_code == 302

    student = client_for("student")
    response = student.post(reverse("cases:attempt_start", args=[world.quiz.item.pk]))
    second = Attempt.objects.get(quiz=world.quiz, user=world.users["student"], number=2)
    assert response.url == second.get_absolute_url()
    slot = second.slots.get()
    right = str(slot.choice_order.index(partner.choices.get(text="Alcatel").pk))
    student.post(
        reverse("cases:attempt_save", args=[second.pk]),
        {"questions": str(slot.pk), f"q{slot.pk}": right},
    )
    student.post(reverse("cases:attempt_submit", args=[second.pk]))
    result = student.get(reverse("cases:attempt_result", args=[second.pk])).content.decode()
    assert "1.00 / 1.00" in result

    assert _csv_cell(client_for("instructor"), world, "student") == "10.00"


def test_attempts_out_of_different_totals_are_each_judged_against_their_own():
    """4 of 4 and then 5 of 10 (a question added between them): the best attempt is the
    first (all of it right), not the one with more points; the average is of 100% and
    50%, out of the last attempt's total."""
    attempts = [
        Attempt(number=1, state="submitted", score=Decimal("4"), max_score=Decimal("4")),
        Attempt(number=2, state="submitted", score=Decimal("5"), max_score=Decimal("10")),
    ]
    assert quiz_result(attempts, "highest") == (Decimal("4"), Decimal("4"))
    assert counting_attempt(attempts, "highest").number == 1
    assert quiz_result(attempts, "last") == (Decimal("5"), Decimal("10"))
    assert quiz_result(attempts, "average") == (Decimal("7.50"), Decimal("10"))


def _answer_partner_right(client, attempt):
    slot = attempt.slots.get(question__title="Partner")
    alcatel = slot.question.choices.get(text="Alcatel").pk
    client.post(
        reverse("cases:attempt_save", args=[attempt.pk]),
        {"questions": str(slot.pk), f"q{slot.pk}": str(slot.choice_order.index(alcatel))},
    )


def test_changing_the_grading_method_after_attempts_moves_the_gradebook(world, client_for):
    """Two attempts, the highest counts: the first gets one question right, the second
    is handed in blank. The instructor then makes the last attempt count: the gradebook
    and its CSV follow at once (0), not the highest they showed before."""
    every = [slot.question for slot in world.quiz.slots.all()]
    assert _settings(client_for("instructor"), world.quiz, every, grading_method="highest")
    student = client_for("student")
    _answer_partner_right(student, world.attempt)
    student.post(reverse("cases:attempt_submit", args=[world.attempt.pk]))
    student.post(reverse("cases:attempt_start", args=[world.quiz.item.pk]))
    second = Attempt.objects.get(quiz=world.quiz, user=world.users["student"], number=2)
    student.post(reverse("cases:attempt_submit", args=[second.pk]))
    instructor = client_for("instructor")
    assert _csv_cell(instructor, world, "student") == "1.67"  # 1 of 6 points, of 10.

    response = _settings(instructor, world.quiz, every, grading_method="last")
    assert response.status_code == 302
    assert _csv_cell(instructor, world, "student") == "0.00"


def test_a_quiz_taken_away_from_the_cohort_takes_its_open_attempt_with_it(world, client_for):
    """The student is mid-attempt when the instructor takes the quiz away from their
    section. Like the quiz's page, the attempt is no longer theirs to answer, hand in
    or read the results of (where the answer key would show with no due date left)."""
    student = client_for("student")
    slot = _slot(world, "Researchers")
    cohort = world.users["student"].memberships.get().cohort
    assignments_schedule(item=world.quiz.item, schedule={cohort: None})

    assert student.get(world.quiz.item.get_absolute_url()).status_code == 404
    assert student.get(world.attempt.get_absolute_url()).status_code == 404
    response = student.post(
        reverse("cases:attempt_save", args=[world.attempt.pk]),
        {"questions": str(slot.pk), f"q{slot.pk}": "1600"},
    )
    assert response.status_code == 404
    response = student.post(reverse("cases:attempt_submit", args=[world.attempt.pk]))
    assert response.status_code == 404
    assert student.get(reverse("cases:attempt_result", args=[world.attempt.pk])).status_code == 404
    attempt = Attempt.objects.get(pk=world.attempt.pk)
    assert attempt.is_open and slot.answer.__class__.objects.get(slot=slot).response == {}


def test_the_key_stays_hidden_while_the_last_attempt_is_open(world, client_for):
    """Two attempts allowed. The student hands in the first, starts the second and,
    with it open, looks back at the first's result in another tab: the right answers
    must not show there while the second attempt can still use them. Once the second
    is handed in, they do."""
    world.quiz.attempts_allowed = 2
    world.quiz.save()
    student = client_for("student")
    student.post(reverse("cases:attempt_submit", args=[world.attempt.pk]))
    first_result = reverse("cases:attempt_result", args=[world.attempt.pk])
    assert "KEY-FEEDBACK" not in student.get(first_result).content.decode()

    student.post(reverse("cases:attempt_start", args=[world.quiz.item.pk]))
    second = Attempt.objects.get(quiz=world.quiz, user=world.users["student"], number=2)
    assert second.is_open
    html = student.get(first_result).content.decode()
    assert "KEY-FEEDBACK" not in html and "right answer</span>" not in html
    assert "no attempts left" in html

    student.post(reverse("cases:attempt_submit", args=[second.pk]))
    assert "KEY-FEEDBACK" in student.get(first_result).content.decode()


def _write_essay(client, attempt, text):
    slot = attempt.slots.get(question__title="Argue")
    client.post(
        reverse("cases:attempt_save", args=[attempt.pk]),
        {"questions": str(slot.pk), f"q{slot.pk}": text},
    )
    return slot


def test_when_the_last_attempt_counts_an_earlier_essay_holds_no_grade_back(world, client_for):
    """Two attempts, the last counts. The student writes the essay in both; the TA
    grades the second attempt's essay, the one that counts. The gradebook gives the
    grade: the first attempt's essay, which can never count, does not keep it at
    "to grade" (it stays in the queue, for the feedback its student waits for)."""
    every = [slot.question for slot in world.quiz.slots.all()]
    assert _settings(client_for("instructor"), world.quiz, every, grading_method="last")
    student = client_for("student")
    _write_essay(student, world.attempt, "A first go.")
    student.post(reverse("cases:attempt_submit", args=[world.attempt.pk]))
    student.post(reverse("cases:attempt_start", args=[world.quiz.item.pk]))
    second = Attempt.objects.get(quiz=world.quiz, user=world.users["student"], number=2)
    _answer_partner_right(student, second)
    essay = _write_essay(student, second, "A better go.")
    student.post(reverse("cases:attempt_submit", args=[second.pk]))

    ta = client_for("ta")
    assert _csv_cell(ta, world, "student") == "to grade"
    # Both essays are in the queue: the student wrote the first too, and its attempt's
    # page says it waits for a grader.
    queue = ta.get(reverse("cases:grading_queue", args=[world.course.pk])).content.decode()
    assert "A better go." in queue and "A first go." in queue
    ta.post(reverse("cases:answer_grade", args=[essay.answer.pk]), {"points": "2", "comment": ""})
    assert _csv_cell(ta, world, "student") == "5.00"  # 1 + 2 of 6 points, of 10.


def test_a_student_moved_to_a_later_section_mid_attempt_keeps_its_later_close(world, client_for):
    """Section A's quiz takes no late work and was due ten minutes ago; section B's is
    due in three days. A student of A started an attempt half an hour ago and is still
    at it when the instructor moves them to B. Their attempt now ends by B's date: the
    job that submits attempts whose time is up leaves it open, and the student goes on
    answering."""
    from cases.models import Cohort
    from cases.services.cohorts import memberships_move

    now = timezone.now()
    student = world.users["student_ta_elsewhere"]
    section_a = student.memberships.get().cohort
    section_b = Cohort.objects.create(name="Section B")
    world.course.cohorts.add(section_b)
    terms = {"late_policy": "refuse", "opens_at": None, "late_until": None, "points": 10}
    terms |= {"late_penalty_percent": 0}
    assignments_schedule(
        item=world.quiz.item,
        schedule={
            section_a: terms | {"due_at": now - timedelta(minutes=10)},
            section_b: terms | {"due_at": now + timedelta(days=3)},
        },
    )
    attempt = attempt_start(quiz=world.quiz, user=student, now=now - timedelta(minutes=30))
    assert attempt.deadline_at == now - timedelta(minutes=10)

    memberships_move(cohort=section_a, to=section_b, users=[student], by=world.users["admin"])
    call_command("finalize_expired_attempts")
    assert Attempt.objects.get(pk=attempt.pk).is_open

    slot = attempt.slots.get(question__title="Researchers")
    client = client_for("anonymous")
    client.force_login(student)
    response = client.post(
        reverse("cases:attempt_save", args=[attempt.pk]),
        {"questions": str(slot.pk), f"q{slot.pk}": "1600"},
    )
    assert response.status_code == 302
    assert response.url == attempt.get_absolute_url()
    assert Attempt.objects.get(pk=attempt.pk).is_open


def test_an_autosave_after_a_save_button_counts_whatever_the_laptops_clock(world, client_for):
    """The student's laptop clock runs two minutes behind the server's. They answer
    (autosaved), press "Save answers" (a plain post), then change their mind: the
    autosave of the new answer is the one kept, as its "Saved" note says, not dropped
    as older than the button's save."""
    slot = _slot(world, "Researchers")
    student = client_for("student")
    save = reverse("cases:attempt_save", args=[world.attempt.pk])
    laptop = int(timezone.now().timestamp() * 1000) - 120_000

    def autosave(value, seq):
        return student.post(
            save,
            {"questions": str(slot.pk), f"q{slot.pk}": value, "seq": str(seq)},
            headers={"HX-Request": "true"},
        )

    assert "Saved" in autosave("1500", laptop).content.decode()
    student.post(save, {"questions": str(slot.pk), f"q{slot.pk}": "1550"})
    assert slot.answer.__class__.objects.get(slot=slot).response == {"value": 1550.0}
    assert "Saved" in autosave("1600", laptop + 5_000).content.decode()
    assert slot.answer.__class__.objects.get(slot=slot).response == {"value": 1600.0}
    # An older autosave arriving late still changes nothing.
    autosave("1400", laptop + 1_000)
    assert slot.answer.__class__.objects.get(slot=slot).response == {"value": 1600.0}


def test_a_quiz_given_before_its_questions_are_written_cannot_be_started_until_they_are(
    world, client_for
):
    """A new instructor adds her first quiz and gives it to her section at once, meaning
    to write its questions tonight. A student opening it in the meantime is not offered
    "Start the quiz" on an empty quiz (it scored 0 / 0 and used up his one attempt, so
    he could never take the real one): he reads that it has no questions yet. Her own
    page says students cannot start it until she adds questions. Once a question is in
    the quiz, he starts it and it has that question."""
    from cases.models import ModuleItem, Question, QuizSlot

    cohort = world.course.cohorts.get()
    instructor = client_for("instructor")
    instructor.post(
        reverse("cases:item_create", args=[world.course.pk]),
        {"module": world.item.module.pk, "kind": "quiz", "title": "Week 1", "cohorts": [cohort.pk]},
    )
    item = ModuleItem.objects.get(title="Week 1")
    staff_page = instructor.get(item.get_absolute_url()).content.decode()
    assert "No questions yet: students given this quiz cannot start it" in staff_page

    student = client_for("student")
    page = student.get(item.get_absolute_url()).content.decode()
    assert "This quiz has no questions yet" in page and "Start the quiz" not in page
    started = student.post(reverse("cases:attempt_start", args=[item.pk]), follow=True)
    assert "This quiz has no questions yet" in started.content.decode()
    assert not Attempt.objects.filter(quiz=item.quiz).exists()

    question = Question.objects.create(
        course=world.course, kind="true_false", title="Owner", text="Alcatel owns it.",
        true_false_answer=False,
    )  # fmt: skip
    QuizSlot.objects.create(quiz=item.quiz, question=question, position=1)
    student.post(reverse("cases:attempt_start", args=[item.pk]))
    attempt = Attempt.objects.get(quiz=item.quiz, user=world.users["student"])
    assert attempt.slots.count() == 1
