"""Quiz journeys where a feature is used a second time or two features meet: a
question edited after it was answered and graded, and the like."""

from decimal import Decimal

import pytest
from django.urls import reverse

from cases.models import Attempt, Work

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
