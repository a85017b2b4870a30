"""Numeric questions with several answers: the right one, others worth part of the
points (a number, a tolerance or a range, each with its feedback), and feedback on any
other answer. Authored in the form, answered, graded, regraded, copied."""

import re
from decimal import Decimal

import pytest
from django import forms
from django.urls import reverse

from cases.forms.quizzes import numeric_other_line, parse_numeric_others
from cases.models import Answer, Choice, Question, QuestionKind, numeric_given, numeric_match
from cases.services.builder import item_copy
from cases.services.quizzes import grade_response
from tests.quizzes.test_short_answer import _field, _new, _quiz_with, _start

HALF = Decimal("0.5")


def _born(**fields) -> tuple[Question, list[Choice]]:
    question = Question(
        kind=QuestionKind.NUMERIC, title="Born", text="?", numeric_answer=Decimal(1904),
        right_feedback="Right.", wrong_feedback="No.", **fields,
    )  # fmt: skip
    others = [
        Choice(pk=1, fraction=HALF, feedback="Close.", numeric_answer=Decimal(1900),
               numeric_tolerance=Decimal(10), numeric_range=True, position=0),
        Choice(pk=2, fraction=Decimal("0.25"), feedback="Wide.", numeric_answer=Decimal(1860),
               numeric_tolerance=Decimal(50), position=1),
        Choice(pk=3, fraction=Decimal(0), feedback="The founding.", numeric_answer=Decimal(1949),
               position=2),
    ]  # fmt: skip
    return question, others


def test_a_number_earns_the_best_credit_of_the_answers_it_fits():
    question, others = _born()
    grades = {v: grade_response(question, others, {"value": v}) for v in (1904, 1890.0, 1851, 1949)}
    assert grades == {1904: 1, 1890.0: HALF, 1851: Decimal("0.25"), 1949: 0}
    assert grade_response(question, others, {"value": 1700}) == 0
    assert grade_response(question, others, {}) == 0
    feedback = {v: numeric_match(question, others, Decimal(v)) for v in (1904, 1905, 1949, 1)}
    assert feedback[1904].feedback == "Right."
    assert feedback[1905].feedback == "Close."  # the range 1890..1910 beats ± 50
    assert feedback[1949].feedback == "The founding." and feedback[1949].fraction == 0
    assert feedback[1] is None  # the page then shows the wrong-answer feedback
    assert numeric_given({"value": 0.1}) == Decimal("0.1")  # exact, no float drift
    assert numeric_given({"value": True}) is None


def test_other_answers_are_typed_a_line_each_and_read_back_the_same():
    others = parse_numeric_others("%50%1890..1910 # Close.\n\n=1904:0\n%0%1949#The founding.")
    assert [
        (o.fraction, o.numeric_answer, o.numeric_tolerance, o.numeric_range, o.feedback)
        for o in others
    ] == [
        (HALF, 1900, 10, True, "Close."),
        (1, 1904, 0, False, ""),
        (0, 1949, 0, False, "The founding."),
    ]
    fields = ("fraction", "feedback", "numeric_answer", "numeric_tolerance", "numeric_range")
    lines = [numeric_other_line(Choice(**{f: getattr(o, f) for f in fields})) for o in others]
    assert lines == ["%50%1890..1910 # Close.", "=1904", "%0%1949 # The founding."]
    assert parse_numeric_others("\n".join(lines)) == others
    assert parse_numeric_others("  \n") == []


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("%50%abc", "Line 1: 'abc' is not a number"),
        ("=5\n%150%6", "Line 2: the credit must be from 0% to 100%"),
        ("%50%5..1", "Line 1: the range 5..1 runs backwards"),
        ("%50%5:-1", "Line 1: the tolerance in 5:-1 is negative"),
        ("%50%12345678901234567", "cannot be stored exactly"),
    ],
)
def test_bad_other_answers_are_named_by_line(text, message):
    with pytest.raises(forms.ValidationError, match=re.escape(message)):
        parse_numeric_others(text)


@pytest.mark.django_db
def test_a_numeric_question_with_several_answers_is_authored_answered_and_regraded(
    world, client_for
):
    teacher = client_for("instructor")
    html = teacher.get(_new(world) + "?kind=numeric").content.decode()
    assert "Other answers, one per line (optional)" in _field(html, "numeric_others_text")
    assert "%50%" in _field(html, "numeric_others_text")  # The syntax is told beside it.
    assert 'name="accepted_text"' not in html and 'name="choices_text"' not in html

    data = {
        "kind": "numeric",
        "title": "Deng",
        "text": "In which year was Deng Xiaoping born?",
        "points": "2",
        "numeric_answer": "1904",
        "numeric_tolerance": "0",
        "right_feedback": "Right: 1904.",
        "wrong_feedback": "No: he was born in 1904.",
        "numeric_others_text": "%50%1902..1906 # Close: within two years.\n%0%nineteen",
    }
    html = teacher.post(_new(world), data).content.decode()
    assert "Line 2: &#x27;nineteen&#x27; is not a number" in _field(html, "numeric_others_text")
    assert "%0%nineteen" in _field(html, "numeric_others_text")  # nothing typed is lost
    assert not Question.objects.filter(title="Deng").exists()
    data["numeric_others_text"] = "%50%1902..1906 # Close: within two years.\n%0%1949 # 1949?"
    assert teacher.post(_new(world), data).status_code == 302
    question = Question.objects.get(title="Deng")
    assert question.choices.count() == 2

    quiz = _quiz_with(world, teacher, [question])
    student = client_for("student")
    attempt = _start(student, quiz)
    slot = attempt.slots.get()
    page = student.get(attempt.get_absolute_url()).content.decode()
    assert "1902" not in page and "Close: within" not in page  # no key before release
    assert f'type="radio" name="q{slot.pk}"' not in page  # its answers are not choices
    save = reverse("cases:attempt_save", args=[attempt.pk])
    student.post(save, {"questions": str(slot.pk), f"q{slot.pk}": "1949"})
    student.post(save, {"questions": str(slot.pk), f"q{slot.pk}": "1906"})  # changed: counts
    assert Answer.objects.get(slot=slot).response == {"value": 1906.0}
    student.post(reverse("cases:attempt_submit", args=[attempt.pk]))
    attempt.refresh_from_db()
    assert attempt.score == 1 and attempt.max_score == 2

    result = student.get(reverse("cases:attempt_result", args=[attempt.pk])).content.decode()
    assert "Close: within two years." in result and "No: he was born" not in result
    assert "<strong>Accepted answers:</strong> 1904; 1902 to 1906 (50%)" in result
    assert "1.00 / 2" in result

    # Statistics name the answers that fell short, as numbers.
    teacher = client_for("instructor")
    stats = teacher.get(reverse("cases:quiz_stats", args=[quiz.item.pk])).content.decode()
    assert "<td>50%</td>" in stats and "1906 (1)" in stats

    # The instructor reopens it: the other answers are as typed. Widening the close
    # answer to full credit regrades the submitted attempt.
    edit = reverse("cases:question_edit", args=[question.pk])
    form = teacher.get(edit).content.decode()
    assert "%50%1902..1906 # Close: within two years.\n%0%1949 # 1949?" in form
    data.pop("kind")
    data["numeric_others_text"] = "=1902..1906 # Close enough."
    response = teacher.post(edit, data)
    assert response.status_code == 302
    attempt.refresh_from_db()
    assert attempt.score == 2
    assert question.choices.count() == 1  # the 1949 line is gone, not left behind

    # Emptied: only the right answer is left, and 1906 earns nothing.
    teacher.post(edit, data | {"numeric_others_text": ""})
    attempt.refresh_from_db()
    assert attempt.score == 0 and not question.choices.exists()
    student = client_for("student")  # One test client: signed in as one at a time.
    result = student.get(reverse("cases:attempt_result", args=[attempt.pk])).content.decode()
    assert "No: he was born in 1904." in result
    assert "<strong>Right answer:</strong> 1904" in result


@pytest.mark.django_db
def test_a_copied_quiz_keeps_the_other_numeric_answers(world):
    question, others = _born(course=world.course)
    question.save()
    for other in others:
        other.pk, other.question = None, question
        other.save()
    world.quiz.slots.create(question=question, position=9)
    module = world.other_course.modules.create(title="Copied", position=9)
    copy = item_copy(source=world.quiz.item, module=module)
    copied = Question.objects.get(course=world.other_course, title="Born")
    assert copy.quiz.slots.filter(question=copied).exists()
    choices = list(copied.choices.all())
    assert [(c.numeric_answer, c.numeric_tolerance, c.numeric_range) for c in choices] == [
        (1900, 10, True),
        (1860, 50, False),
        (1949, 0, False),
    ]
    assert grade_response(copied, choices, {"value": 1891}) == HALF
