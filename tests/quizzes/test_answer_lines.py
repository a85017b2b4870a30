"""Editing a question's answer lines in the bank while students have answered it: each
student keeps the line they chose, whatever is inserted, moved or reworded around it;
a changed credit regrades them; a line somebody chose cannot be deleted."""

import re
from decimal import Decimal

import pytest
from django.urls import reverse

from cases.models import Answer, Attempt, Choice, Question
from tests.quizzes.test_matching import _matching_question, _value
from tests.quizzes.test_short_answer import _field, _quiz_with, _start

pytestmark = pytest.mark.django_db


def _html(response) -> str:
    return response.content.decode()


def _edit(client, question, lines_field, lines, **fields):
    """The instructor saves the question's edit form with these answer lines."""
    data = {"title": question.title, "text": question.text, "points": str(question.points)}
    return client.post(
        reverse("cases:question_edit", args=[question.pk]),
        data | fields | {lines_field: lines},
        follow=True,
    )


def _choose(client, attempt, slot, place: str):
    """The student ticks the choice at this place of their attempt, without JavaScript."""
    client.post(
        reverse("cases:attempt_save", args=[attempt.pk]),
        {"questions": str(slot.pk), f"q{slot.pk}": place},
    )


def _ticked(html: str, slot) -> list[str]:
    """The choices shown ticked for this question on the attempt page."""
    return re.findall(rf'name="q{slot.pk}" value="\d+" checked> ([^<]*)</label>', html)


def _points(attempt, question) -> Decimal:
    return Answer.objects.get(slot__attempt=attempt, slot__question=question).points


def test_inserting_and_moving_answer_lines_moves_nobodys_answer(world, client_for):
    """One student answers right and submits, another answers wrong and is still at it.
    The instructor adds a new first line and moves the right one to the bottom, saving
    twice: nobody's answer or score moves, the open attempt shows the same tick, and the
    statistics name only a line somebody chose. Then the key itself changes, and the
    regrade follows the lines each student chose."""
    partner = Question.objects.get(title="Partner")  # =Alcatel ~Motorola ~IBM
    student = client_for("student")
    slot = world.attempt.slots.get(question=partner)
    _choose(student, world.attempt, slot, "0")  # Alcatel, the right answer.
    student.post(reverse("cases:attempt_submit", args=[world.attempt.pk]))
    assert _points(world.attempt, partner) == 1

    other = client_for("student_ta_elsewhere")
    attempt = _start(other, world.quiz)
    other_slot = attempt.slots.get(question=partner)
    _choose(other, attempt, other_slot, "1")  # Motorola.
    assert _ticked(_html(other.get(attempt.get_absolute_url())), other_slot) == ["Motorola"]

    teacher = client_for("instructor")
    lines = "~Government subsidies paid to the firm #No\n~Motorola\n~IBM\n=Alcatel"
    for _twice in range(2):
        html = _html(_edit(teacher, partner, "choices_text", lines))
        assert "regraded, 0 attempt scores changed" in html
    assert [c.text for c in partner.choices.all()] == [
        "Government subsidies paid to the firm",
        "Motorola",
        "IBM",
        "Alcatel",
    ]
    assert _points(world.attempt, partner) == 1
    result = _html(
        client_for("student").get(reverse("cases:attempt_result", args=[world.attempt.pk]))
    )
    assert "<strong>Your choice:</strong> Alcatel" in result

    other = client_for("student_ta_elsewhere")
    assert _ticked(_html(other.get(attempt.get_absolute_url())), other_slot) == ["Motorola"]
    other.post(reverse("cases:attempt_submit", args=[attempt.pk]))
    stats = _html(
        client_for("instructor").get(reverse("cases:quiz_stats", args=[world.quiz.item.pk]))
    )
    assert "Motorola (1)" in stats and "Government subsidies" not in stats

    # The key corrected: Motorola was right. Each student is regraded on their own line.
    lines = "~Government subsidies paid to the firm #No\n=Motorola\n~IBM\n~Alcatel"
    html = _html(_edit(client_for("instructor"), partner, "choices_text", lines))
    assert "regraded, 2 attempt scores changed" in html
    assert (_points(world.attempt, partner), _points(attempt, partner)) == (0, 1)


def test_a_reworded_line_keeps_its_answers_and_a_chosen_line_is_never_deleted(world, client_for):
    """A student chose Motorola. The instructor fixes its wording: the student's answer
    follows. Writing another answer over it (and dropping IBM) is refused beside the
    answer lines, twice alike, with everything typed kept and nothing saved; dropping
    IBM alone, which nobody chose, is saved."""
    partner = Question.objects.get(title="Partner")
    motorola = partner.choices.get(text="Motorola")
    student = client_for("student")
    _choose(student, world.attempt, world.attempt.slots.get(question=partner), "1")
    student.post(reverse("cases:attempt_submit", args=[world.attempt.pk]))

    teacher = client_for("instructor")
    lines = "=Alcatel\n~Motorola Inc. #A US firm\n~IBM"
    assert "regraded, 0 attempt scores changed" in _html(
        _edit(teacher, partner, "choices_text", lines)
    )
    assert partner.choices.get(pk=motorola.pk).text == "Motorola Inc."

    for _twice in range(2):
        response = _edit(
            teacher, partner, "choices_text", "=Alcatel\n~Huawei", title="Partner (edited)"
        )
        assert response.status_code == 200
        field = _field(_html(response), "choices_text")
        assert "“Motorola Inc.” was chosen in 1 attempt: keep its line" in field
        assert "IBM" not in field  # Nobody chose IBM: it may go.
        assert "=Alcatel\n~Huawei</textarea>" in field
        assert 'value="Partner (edited)"' in _html(response)
    partner.refresh_from_db()
    assert partner.title == "Partner"
    assert [c.text for c in partner.choices.all()] == ["Alcatel", "Motorola Inc.", "IBM"]

    assert "regraded, 0" in _html(_edit(teacher, partner, "choices_text", "=Alcatel\n~Motorola"))
    assert [c.pk for c in partner.choices.all()] == [
        partner.choices.get(text="Alcatel").pk,
        motorola.pk,
    ]
    result = _html(
        client_for("student").get(reverse("cases:attempt_result", args=[world.attempt.pk]))
    )
    assert "<strong>Your choice:</strong> Motorola" in result
    assert "IBM" not in result


def test_a_matching_question_keeps_each_students_pairs_through_an_edit(world, client_for):
    """A student matches every prompt right and submits. The instructor adds a first
    pair and moves Lenovo's to the bottom, saving twice: the student keeps every match
    and the full score. Deleting the SMIC prompt they answered is refused beside the
    pairs."""
    teacher = client_for("instructor")
    question = _matching_question(world.course)
    quiz = _quiz_with(world, teacher, [question])
    student = client_for("student")
    attempt = _start(student, quiz)
    page = _html(student.get(attempt.get_absolute_url()))
    slot = attempt.slots.get()
    values = [
        _value(page, "Lenovo", "Beijing"),
        _value(page, "TechFaith", "Beijing"),
        _value(page, "SMIC", "Shanghai"),
    ]
    student.post(
        reverse("cases:attempt_save", args=[attempt.pk]),
        {"questions": str(slot.pk), f"q{slot.pk}": values},
    )
    student.post(reverse("cases:attempt_submit", args=[attempt.pk]))
    attempt.refresh_from_db()
    assert attempt.score == 3

    teacher = client_for("instructor")
    pairs = (
        "Huawei -> Shenzhen\nTechFaith -> Beijing\nSMIC -> Shanghai\n-> Hangzhou\nLenovo -> Beijing"
    )
    for _twice in range(2):
        html = _html(_edit(teacher, question, "pairs_text", pairs))
        assert "regraded, 0 attempt scores changed" in html
    attempt.refresh_from_db()
    assert attempt.score == 3
    assert Choice.objects.filter(question=question).count() == 5

    response = _edit(teacher, question, "pairs_text", "Huawei -> Shenzhen\nLenovo -> Beijing")
    assert "The prompt “SMIC” was answered in 1 attempt" in _field(_html(response), "pairs_text")
    assert Choice.objects.filter(question=question).count() == 5
    result = _html(client_for("student").get(reverse("cases:attempt_result", args=[attempt.pk])))
    assert "Lenovo: <strong>Your match:</strong> Beijing" in result
    assert Attempt.objects.get(pk=attempt.pk).score == 3
