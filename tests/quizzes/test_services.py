import threading
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from cases.models import Answer, Attempt, AttemptState, LatePolicy, Work, quiz_grade
from cases.services.quizzes import (
    AttemptClosed,
    AttemptLimitReached,
    InvalidAnswer,
    QuizClosed,
    answer_grade,
    answers_save,
    attempt_start,
    attempt_submit,
    question_regrade,
)
from cases.services.workspace.work import work_points
from tests.helpers import answer_all_right, at_once, quiz_slots

pytestmark = pytest.mark.django_db


def test_a_full_marks_attempt_scores_every_auto_graded_point(world):
    student = world.users["student"]
    answer_all_right(world.attempt, student)
    attempt = attempt_submit(attempt_id=world.attempt.pk, user=student)
    assert attempt.state == AttemptState.SUBMITTED
    assert attempt.score == Decimal("4.00")  # The essay waits for a person.
    assert attempt.max_score == Decimal("6.00")
    assert attempt.needs_grading


def test_multiple_choice_partial_credit_never_goes_below_zero(world):
    student = world.users["student"]
    slot = quiz_slots(world.attempt)["Levers"]
    answers_save(
        attempt_id=world.attempt.pk,
        user=student,
        seq=None,
        answers={slot.pk: {"choices": ["0", "2"]}},  # Finance and a wrong one.
    )
    attempt_submit(attempt_id=world.attempt.pk, user=student)
    assert Answer.objects.get(slot=slot).points == Decimal("0.00")


def test_one_right_of_two_gets_half(world):
    student = world.users["student"]
    slot = quiz_slots(world.attempt)["Levers"]
    answers_save(
        attempt_id=world.attempt.pk,
        user=student,
        seq=None,
        answers={slot.pk: {"choices": ["0"]}},
    )
    attempt_submit(attempt_id=world.attempt.pk, user=student)
    assert Answer.objects.get(slot=slot).points == Decimal("0.50")


def test_submitting_twice_is_one_submission(world):
    student = world.users["student"]
    first = attempt_submit(attempt_id=world.attempt.pk, user=student)
    second = attempt_submit(attempt_id=world.attempt.pk, user=student)
    assert first.submitted_at == second.submitted_at
    assert Attempt.objects.filter(user=student).count() == 1


def test_a_save_after_submit_is_refused(world):
    student = world.users["student"]
    attempt_submit(attempt_id=world.attempt.pk, user=student)
    slot = quiz_slots(world.attempt)["Researchers"]
    with pytest.raises(AttemptClosed):
        answers_save(
            attempt_id=world.attempt.pk, user=student, seq=None, answers={slot.pk: {"value": "1"}}
        )


def test_a_delayed_older_save_never_overwrites_a_newer_one(world):
    student = world.users["student"]
    slot = quiz_slots(world.attempt)["Researchers"]
    save = {"attempt_id": world.attempt.pk, "user": student}
    answers_save(**save, seq=2000, answers={slot.pk: {"value": "1600"}})
    answers_save(**save, seq=1000, answers={slot.pk: {"value": "9"}})
    assert Answer.objects.get(slot=slot).response == {"value": 1600.0}


def test_the_same_save_twice_is_harmless(world):
    student = world.users["student"]
    slot = quiz_slots(world.attempt)["Researchers"]
    save = {"attempt_id": world.attempt.pk, "user": student, "answers": {slot.pk: {"value": "7"}}}
    answers_save(**save, seq=5)
    answers_save(**save, seq=5)
    assert Answer.objects.get(slot=slot).response == {"value": 7.0}


def test_an_answer_naming_a_choice_outside_the_attempt_is_refused(world):
    student = world.users["student"]
    slots = quiz_slots(world.attempt)
    beyond = str(len(slots["Partner"].choice_order))
    for posted in [beyond, str(slots["Levers"].choice_order[0]), "-1", "1e3", "²"]:
        result = answers_save(
            attempt_id=world.attempt.pk,
            user=student,
            seq=None,
            answers={slots["Partner"].pk: {"choices": [posted]}},
        )
        assert result.refused == {slots["Partner"].pk: "That choice is not part of this question."}
        assert Answer.objects.get(slot=slots["Partner"]).response == {}


def test_an_answer_to_a_question_outside_the_attempt_is_refused(world):
    other = attempt_start(quiz=world.quiz, user=world.users["student_ta_elsewhere"])
    foreign_slot = other.slots.first()
    with pytest.raises(InvalidAnswer):
        answers_save(
            attempt_id=world.attempt.pk,
            user=world.users["student"],
            seq=None,
            answers={foreign_slot.pk: {"value": "1"}},
        )


def test_the_attempts_limit_holds(world):
    student = world.users["student"]
    attempt_submit(attempt_id=world.attempt.pk, user=student)
    with pytest.raises(AttemptLimitReached):
        attempt_start(quiz=world.quiz, user=student)


def test_starting_again_resumes_the_open_attempt(world):
    assert attempt_start(quiz=world.quiz, user=world.users["student"]) == world.attempt


def test_time_limit_is_enforced_with_the_answers_saved_so_far(world, settings):
    student = world.users["student_ta_elsewhere"]
    world.quiz.time_limit_minutes = 10
    world.quiz.save()
    start = timezone.now() - timedelta(minutes=11)
    attempt = attempt_start(quiz=world.quiz, user=student, now=start)
    slot = quiz_slots(attempt)["Researchers"]
    answers_save(
        attempt_id=attempt.pk,
        user=student,
        seq=None,
        answers={slot.pk: {"value": "1600"}},
        now=start + timedelta(minutes=5),
    )
    with pytest.raises(AttemptClosed):
        answers_save(
            attempt_id=attempt.pk, user=student, seq=None, answers={slot.pk: {"value": "1"}}
        )
    call_command("finalize_expired_attempts")
    attempt.refresh_from_db()
    assert attempt.state == AttemptState.SUBMITTED
    assert attempt.timed_out
    assert attempt.score == Decimal("1.00")
    # Finished at the deadline plus grace, not when the command ran.
    assert attempt.submitted_at == attempt.deadline_at + timedelta(
        seconds=settings.QUIZ_GRACE_SECONDS
    )


def test_a_save_within_the_grace_period_counts(world):
    student = world.users["student_ta_elsewhere"]
    world.quiz.time_limit_minutes = 10
    world.quiz.save()
    attempt = attempt_start(
        quiz=world.quiz, user=student, now=timezone.now() - timedelta(minutes=10, seconds=10)
    )
    slot = quiz_slots(attempt)["Researchers"]
    answers_save(
        attempt_id=attempt.pk, user=student, seq=None, answers={slot.pk: {"value": "1600"}}
    )
    assert Answer.objects.get(slot=slot).response == {"value": 1600.0}


def test_a_late_attempt_keeps_its_score_and_the_gradebook_takes_the_penalty(world):
    student = world.users["student"]
    world.quiz.item.assignments.update(
        due_at=timezone.now() - timedelta(hours=1),
        late_policy=LatePolicy.PENALIZE,
        late_penalty_percent=30,
        points=10,
    )
    answer_all_right(world.attempt, student)
    attempt = attempt_submit(attempt_id=world.attempt.pk, user=student)
    assert attempt.late
    assert (attempt.score, attempt.max_score) == (Decimal("4.00"), Decimal("6.00"))
    work = Work.objects.get(item=world.quiz.item, user=student)
    assignment = world.quiz.item.assignments.get()
    # 4/6 of 10 points, one day late (any part of a day counts): 30% off.
    assert work_points(work, assignment) == Decimal("4.67")


def test_no_attempt_can_start_after_the_due_date_under_a_refuse_policy(world):
    world.quiz.item.assignments.update(
        due_at=timezone.now() - timedelta(hours=1), late_policy=LatePolicy.REFUSE
    )
    with pytest.raises(QuizClosed):
        attempt_start(quiz=world.quiz, user=world.users["student_ta_elsewhere"])


def test_regrade_after_a_key_correction_recomputes_scores(world):
    student = world.users["student"]
    slot = quiz_slots(world.attempt)["Partner"]
    motorola = slot.choice_order[1]
    answers_save(
        attempt_id=world.attempt.pk,
        user=student,
        seq=None,
        answers={slot.pk: {"choices": ["1"]}},
    )
    attempt = attempt_submit(attempt_id=world.attempt.pk, user=student)
    assert attempt.score == Decimal("0.00")
    question = slot.question
    question.choices.filter(pk=motorola).update(fraction=1)
    question.choices.exclude(pk=motorola).update(fraction=0)
    assert question_regrade(question=question) == 1
    attempt.refresh_from_db()
    assert attempt.score == Decimal("1.00")


def test_a_person_grades_the_essay_and_the_score_follows(world):
    student = world.users["student"]
    answer_all_right(world.attempt, student)
    attempt_submit(attempt_id=world.attempt.pk, user=student)
    essay = Answer.objects.get(slot__attempt=world.attempt, slot__question__title="Argue")
    answer_grade(answer_id=essay.pk, points=Decimal("5"), comment="Good", grader=world.users["ta"])
    attempt = Attempt.objects.get(pk=world.attempt.pk)
    assert attempt.score == Decimal("6.00")  # Capped at the question's 2 points.
    assert not attempt.needs_grading


def test_grading_method_picks_the_grade_that_counts():
    attempts = [
        Attempt(number=1, state="submitted", score=Decimal("4")),
        Attempt(number=2, state="submitted", score=Decimal("2")),
    ]
    assert quiz_grade(attempts, "highest") == Decimal("4")
    assert quiz_grade(attempts, "last") == Decimal("2")
    assert quiz_grade(attempts, "average") == Decimal("3.00")


@pytest.mark.django_db(transaction=True)
def test_twenty_concurrent_starts_respect_the_attempts_limit(world):
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL's concurrent connections; SQLite serialises writers")
    student = world.users["student_ta_elsewhere"]
    world.quiz.attempts_allowed = 2
    world.quiz.save()
    errors = at_once(
        lambda: attempt_start(quiz=world.quiz, user=student), 20, expected=AttemptLimitReached
    )
    assert errors == []
    assert Attempt.objects.filter(quiz=world.quiz, user=student).count() == 1
    # And after submitting, the second and last attempt can start, but no third.
    attempt_submit(attempt_id=Attempt.objects.get(user=student).pk, user=student)
    second = attempt_start(quiz=world.quiz, user=student)
    attempt_submit(attempt_id=second.pk, user=student)
    with pytest.raises(AttemptLimitReached):
        attempt_start(quiz=world.quiz, user=student)


@pytest.mark.django_db(transaction=True)
def test_a_save_racing_the_submit_is_graded_or_refused(world):
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL row locks")
    student = world.users["student"]
    slot = quiz_slots(world.attempt)["Researchers"]
    outcomes = []

    def save():
        try:
            answers_save(
                attempt_id=world.attempt.pk,
                user=student,
                seq=None,
                answers={slot.pk: {"value": "1600"}},
            )
            outcomes.append("saved")
        except AttemptClosed:
            outcomes.append("refused")
        finally:
            connection.close()

    def submit():
        attempt_submit(attempt_id=world.attempt.pk, user=student)
        connection.close()

    threads = [threading.Thread(target=save), threading.Thread(target=submit)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    answer = Answer.objects.get(slot=slot)
    if outcomes == ["saved"]:
        assert answer.points == Decimal("1.00")  # Saved before the submit graded it.
    else:
        assert answer.response == {}


def test_non_finite_numbers_are_refused(world):
    slot = quiz_slots(world.attempt)["Researchers"]
    for value in ["inf", "nan", "1e400"]:
        result = answers_save(
            attempt_id=world.attempt.pk,
            user=world.users["student"],
            seq=None,
            answers={slot.pk: {"value": value}},
        )
        assert result.refused == {slot.pk: "Give an ordinary number."}
        assert Answer.objects.get(slot=slot).response == {}


def test_under_a_refuse_policy_an_attempt_closes_at_the_due_date(world):
    student = world.users["student_ta_elsewhere"]
    due = timezone.now() + timedelta(minutes=5)
    world.quiz.item.assignments.update(due_at=due, late_policy=LatePolicy.REFUSE)
    attempt = attempt_start(quiz=world.quiz, user=student)
    assert attempt.deadline_at == due


def test_regrading_costs_the_same_queries_for_few_or_many_attempts(
    world, django_assert_max_num_queries
):
    from cases.services.quizzes import quiz_regrade
    from tests.factories import enrol

    cohort = world.quiz.item.assignments.get().cohort
    for student in enrol(cohort, 12, prefix="rg"):
        attempt = attempt_start(quiz=world.quiz, user=student)
        attempt_submit(attempt_id=attempt.pk, user=student)
    with django_assert_max_num_queries(12):
        quiz_regrade(quiz=world.quiz)
