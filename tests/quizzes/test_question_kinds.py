"""A question's kind first, then only that kind's fields, shown and validated; its
kind fixed once made (the answers given were given to it)."""

import re

import pytest
from django.urls import reverse

from cases.models import Question, QuestionKind

pytestmark = pytest.mark.django_db

ANSWER_FIELDS = {
    "choices_text",
    "true_false_answer",
    "numeric_answer",
    "numeric_tolerance",
    "spectrum_target",
    "spectrum_graded",
    "spectrum_tolerance",
}


def _names(html: str) -> set[str]:
    return set(re.findall(r'name="([a-z_]+)"', html)) - {"csrfmiddlewaretoken"}


def _field(html: str, name: str) -> str:
    for chunk in html.split('<div class="field')[1:]:
        if f'name="{name}"' in chunk:
            return chunk
    raise AssertionError(f"No field {name!r} on the page")


def _new(world, kind=""):
    url = reverse("cases:question_create", args=[world.course.pk])
    return f"{url}?kind={kind}" if kind else url


def test_a_numeric_question_shows_and_checks_only_its_fields(world, client_for):
    client = client_for("instructor")
    html = client.get(_new(world)).content.decode()
    assert "What kind of question?" in html and 'href="?kind=numeric"' in html
    assert "title" not in _names(html)

    html = client.get(_new(world, "numeric")).content.decode()
    assert ANSWER_FIELDS & _names(html) == {"numeric_answer", "numeric_tolerance"}
    assert {"kind", "title", "text", "points", "category", "feedback"} <= _names(html)
    assert "Right answer" in _field(html, "numeric_answer")

    data = {
        "kind": "numeric",
        "title": "Sites by 2005",
        "text": "How many plants did it run?",
        "points": "2",
        "numeric_tolerance": "0.5",
        # Another kind's answer key, posted anyway, is neither checked nor saved.
        "choices_text": "only one line",
        "spectrum_target": "500",
    }
    before = Question.objects.count()
    html = client.post(_new(world), data).content.decode()
    assert "Give the right number." in _field(html, "numeric_answer")
    assert 'value="Sites by 2005"' in _field(html, "title")
    assert "choices_text" not in _names(html) and "at least two answers" not in html
    assert Question.objects.count() == before

    response = client.post(_new(world), data | {"numeric_answer": "7"})
    assert response.status_code == 302
    question = Question.objects.get(title="Sites by 2005")
    assert (question.kind, question.numeric_answer, question.numeric_tolerance) == (
        QuestionKind.NUMERIC,
        7,
        0.5,
    )
    assert question.spectrum_target is None and not question.choices.exists()

    # Edited later: its kind is named but not offered for change, and only its fields.
    edit = reverse("cases:question_edit", args=[question.pk])
    html = client.get(edit).content.decode()
    assert "Kind</span> Numeric" in html and "kind" not in _names(html)
    assert ANSWER_FIELDS & _names(html) == {"numeric_answer", "numeric_tolerance"}
    data = {"title": "Sites by 2005", "text": "How many?", "points": "2"}
    response = client.post(edit, data | {"numeric_answer": "8", "numeric_tolerance": "0"})
    assert response.status_code == 302
    question.refresh_from_db()
    assert (question.kind, question.numeric_answer) == (QuestionKind.NUMERIC, 8)
    assert 'value="8"' in _field(client.get(edit).content.decode(), "numeric_answer")

    # Numbers are kept exactly, as written; more digits than can be kept are refused.
    response = client.post(edit, data | {"numeric_answer": "3.14159265", "numeric_tolerance": "0"})
    assert response.status_code == 302
    question.refresh_from_db()
    assert str(question.numeric_answer.normalize()) == "3.14159265"
    assert 'value="3.14159265"' in _field(client.get(edit).content.decode(), "numeric_answer")
    html = client.post(
        edit, data | {"numeric_answer": "1234567.123456789", "numeric_tolerance": "0"}
    ).content.decode()
    assert "at most 15 significant digits" in _field(html, "numeric_answer")
    assert 'value="1234567.123456789"' in _field(html, "numeric_answer")


def test_a_multiple_choice_question_shows_only_its_answers(world, client_for):
    client = client_for("instructor")
    html = client.get(_new(world, "multiple")).content.decode()
    assert ANSWER_FIELDS & _names(html) == {"choices_text"}
    answers = _field(html, "choices_text")
    assert "placeholder=" in answers and 'id="id_choices_text">\n</textarea>' in answers
    data = {"kind": "multiple", "title": "Partners", "text": "Who partnered?", "points": "1"}
    html = client.post(_new(world), data).content.decode()
    assert "Give at least two answers, one a line." in _field(html, "choices_text")
    assert 'value="Partners"' in _field(html, "title")
    choices = "~%50%Alcatel\n~%50%Shanghai PTIC\n~%-100%IBM"
    assert client.post(_new(world), data | {"choices_text": choices}).status_code == 302
    question = Question.objects.get(title="Partners")
    assert question.kind == QuestionKind.MULTIPLE and question.choices.count() == 3
    html = client.get(reverse("cases:question_edit", args=[question.pk])).content.decode()
    assert ANSWER_FIELDS & _names(html) == {"choices_text"}
    assert "Shanghai PTIC" in _field(html, "choices_text")


def test_a_likert_question_has_no_points_and_htmx_switches_the_kind(world, client_for):
    client = client_for("instructor")
    html = client.get(_new(world, "likert")).content.decode()
    assert not (ANSWER_FIELDS | {"points"}) & _names(html)
    assert "never scored" in html
    hx = {"HX-Request": "true", "HX-Target": "kind-fields"}
    response = client.get(_new(world, "true_false"), headers=hx)
    html = response.content.decode()
    assert _names(html) == {"true_false_answer", "right_feedback", "wrong_feedback", "points"}
    assert "<form" not in html and response["HX-Replace-Url"] == _new(world, "true_false")
    # Without script: the switch posts back with what was typed, refusing nothing.
    data = {"kind": "spectrum", "title": "Where?", "text": "Place it.", "switch_kind": "1"}
    html = client.post(_new(world), data).content.decode()
    assert "field--invalid" not in html and 'value="Where?"' in _field(html, "title")
    assert {"spectrum_target", "spectrum_graded"} <= _names(html)
    assert not Question.objects.filter(title="Where?").exists()
