"""Short answers graded automatically (accepted answers with credit, `*` wildcards,
case sensitivity, per-answer feedback) and missing words (a blank in the text, for
single-choice and short-answer questions)."""

import re
from decimal import Decimal

import pytest
from django import forms
from django.urls import reverse

from cases.forms.quizzes import AcceptedAnswer, accepted_line, parse_accepted
from cases.markdown import count_blanks, render_markdown_blank
from cases.models import (
    Answer,
    Attempt,
    Choice,
    Cohort,
    ItemKind,
    ModuleItem,
    Question,
    QuestionKind,
    Quiz,
    short_answer_fits,
)
from cases.services.builder import item_copy
from cases.services.quizzes import grade_response
from tests.factories import AssignmentFactory

HALF = Decimal("0.5")


def _question(**fields):
    return Question(kind=QuestionKind.SHORT_ANSWER, title="Tomb", text="?", **fields)


def _choices(*rows):
    return [
        Choice(pk=i, text=text, fraction=Decimal(str(f)), feedback=fb, position=i)
        for i, (text, f, fb) in enumerate(rows)
    ]


# Matching and grading, pure -------------------------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "given", "case_sensitive", "fits"),
    [
        ("entombed", "entombed", False, True),
        ("entombed", "  Entombed ", False, True),
        ("entombed", "Entombed", True, False),
        ("Grant's  tomb", "grant's tomb", False, True),
        ("Grant's tomb", "Grant's\ttomb", True, True),
        ("entomb*", "entombed", False, True),
        ("entomb*", "entomb", False, True),
        ("entomb*", "unentombed", False, False),
        ("*tomb*", "in the tomb here", False, True),
        ("a*b*c", "abc", False, True),
        ("a*b*c", "acb", False, False),
        ("ab*ba", "aba", False, False),
        (r"5\*", "5*", False, True),
        (r"5\*", "55", False, False),
        ("*", "anything at all", False, True),
        ("Straße", "STRASSE", False, True),
    ],
)
def test_an_answer_fits_its_pattern(pattern, given, case_sensitive, fits):
    assert short_answer_fits(pattern, given, case_sensitive=case_sensitive) is fits


def test_many_wildcards_never_backtrack():
    assert not short_answer_fits("*a" * 40 + "b", "a" * 5000, case_sensitive=False)


def test_grading_takes_the_best_credit_among_matching_answers():
    question = _question()
    choices = _choices(("buri*", 0.5, "Close"), ("buried alive", 1, ""), ("living", 0, "No"))
    assert grade_response(question, choices, {"text": "Buried alive"}) == 1
    assert grade_response(question, choices, {"text": "buried"}) == HALF
    assert grade_response(question, choices, {"text": "living"}) == 0
    assert grade_response(question, choices, {"text": "entombed"}) == 0
    assert grade_response(question, choices, {}) == 0
    question.case_sensitive = True
    assert grade_response(question, choices, {"text": "buried Alive"}) == HALF
    assert grade_response(question, choices, {"text": "Buried alive"}) == 0


# Authoring syntax ------------------------------------------------------------------------


def test_accepted_answers_are_read_a_line_at_a_time():
    answers = parse_accepted(
        "=entombed\n\n%50%buried # Close: the word is entombed\n  C\\# sharp  \n%0%living#No"
    )
    assert answers == [
        AcceptedAnswer("entombed", Decimal(1), ""),
        AcceptedAnswer("buried", HALF, "Close: the word is entombed"),
        AcceptedAnswer("C# sharp", Decimal(1), ""),
        AcceptedAnswer("living", Decimal(0), "No"),
    ]
    # What the form shows again reads back the same.
    lines = [
        accepted_line(Choice(text=a.text, fraction=a.fraction, feedback=a.feedback))
        for a in answers
    ]
    assert parse_accepted("\n".join(lines)) == answers


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("%50%buried", "No answer gives full credit"),
        ("=entombed\n%150%buried", "Line 2: the credit must be from 0% to 100%"),
        ("=entombed\n%half%buried", "Line 2: write the credit as a percent"),
        ("=  # feedback only", "Line 1: give the answer itself"),
        ("\n  \n", "Give at least one accepted answer"),
    ],
)
def test_bad_accepted_answers_are_named(text, message):
    with pytest.raises(forms.ValidationError, match=re.escape(message)):
        parse_accepted(text)


# The blank --------------------------------------------------------------------------------


def test_the_blank_survives_markdown_and_names_its_sentence():
    blank = render_markdown_blank("Grant is ___ in *Grant's* tomb.\n\nAnother paragraph.")
    assert blank is not None
    assert blank.before == "<p>Grant is "
    assert blank.after.startswith(" in <em>Grant's</em> tomb.</p>")
    assert blank.sentence == "Grant is ___ in Grant's tomb."
    # A rule of underscores on its own line is a blank, not a horizontal rule.
    alone = render_markdown_blank("Name the partner:\n\n_____\n")
    assert alone is not None and "<hr" not in alone.before + alone.after
    # Underscores inside a word are not a blank; neither is an escaped one; nor two.
    assert count_blanks("snake_case and __init__ and \\___") == 0
    assert render_markdown_blank("No blank here.") is None
    assert render_markdown_blank("___ and ___") is None
    # Whatever the text holds, only sanitised Markdown surrounds the blank.
    hostile = render_markdown_blank("<img src=x onerror=alert(1)> ___ <script>x</script>")
    assert hostile is not None
    assert "<img" not in hostile.before and "<script" not in hostile.after


# Journeys ---------------------------------------------------------------------------------


def _new(world):
    return reverse("cases:question_create", args=[world.course.pk])


def _field(html: str, name: str) -> str:
    for chunk in html.split('<div class="field')[1:]:
        if f'name="{name}"' in chunk:
            return chunk
    raise AssertionError(f"No field {name!r} on the page")


def _quiz_with(world, client, questions) -> Quiz:
    """An instructor makes a quiz of these bank questions, given to the section."""
    item = ModuleItem.objects.create(
        module=world.item.module, kind=ItemKind.QUIZ, title="Tomb check", position=60
    )
    quiz = Quiz.objects.create(item=item, shuffle_choices=False)
    AssignmentFactory(item=item, cohort=Cohort.objects.get(name="Section A"))
    response = client.post(
        reverse("cases:quiz_settings", args=[item.pk]),
        {
            "attempts_allowed": "1",
            "grading_method": "highest",
            "feedback_release": "immediately",
            "questions": [str(q.pk) for q in questions],
        },
    )
    assert response.status_code == 302
    return quiz


def _start(client, quiz) -> Attempt:
    response = client.post(reverse("cases:attempt_start", args=[quiz.item.pk]))
    assert response.status_code == 302
    return Attempt.objects.get(quiz=quiz, state="in_progress")


@pytest.mark.django_db
def test_a_short_answer_is_authored_answered_graded_and_regraded(world, client_for):
    teacher = client_for("instructor")
    html = teacher.get(_new(world) + "?kind=short_answer").content.decode()
    assert "Accepted answers, one per line" in _field(html, "accepted_text")
    assert "%50%" in _field(html, "accepted_text")  # The syntax is told beside it.
    assert "Letter case matters" in _field(html, "case_sensitive")
    assert "graded against the accepted answers" in html
    assert 'name="choices_text"' not in html and 'name="numeric_answer"' not in html
    assert "For a missing word, write ___ in the text" in html  # How to write a blank.

    data = {
        "kind": "short_answer",
        "title": "Tomb",
        "text": "Grant is ___ in Grant's tomb, or ___ there.",
        "points": "2",
        "accepted_text": "%50%buried # Close: the word is entombed\n%150%entombed",
    }
    html = teacher.post(_new(world), data).content.decode()
    assert "Line 2: the credit must be from 0% to 100%" in _field(html, "accepted_text")
    assert "%50%buried # Close: the word is entombed" in _field(html, "accepted_text")
    assert "this text has 2" in _field(html, "text")
    assert not Question.objects.filter(title="Tomb").exists()
    data |= {
        "text": "Grant is ___ in Grant's tomb.",
        "accepted_text": "%50%buri* # Close: the word is entombed\n=entombed",
    }
    assert teacher.post(_new(world), data).status_code == 302
    question = Question.objects.get(title="Tomb")
    assert question.kind == QuestionKind.SHORT_ANSWER and not question.case_sensitive
    assert [(c.text, c.fraction) for c in question.choices.all()] == [
        ("buri*", HALF),
        ("entombed", 1),
    ]

    quiz = _quiz_with(world, teacher, [question])
    student = client_for("student")
    attempt = _start(student, quiz)
    slot = attempt.slots.get()
    page = student.get(attempt.get_absolute_url()).content.decode()
    # The blank is the input, inside the sentence, named by it; the key is nowhere.
    assert re.search(
        rf'<p>Grant is <input class="blank"[^>]* name="q{slot.pk}"[^>]*'
        r'aria-label="Blank in: Grant is ___ in Grant&#x27;s tomb.">'
        r" in Grant's tomb.</p>",
        page,
    ), page
    assert "entombed" not in page and "buri" not in page

    save = reverse("cases:attempt_save", args=[attempt.pk])
    student.post(save, {"questions": str(slot.pk), f"q{slot.pk}": "living"})
    # Changed before submitting: the second answer counts.
    student.post(save, {"questions": str(slot.pk), f"q{slot.pk}": "  Buried  "})
    assert Answer.objects.get(slot=slot).response == {"text": "Buried"}
    student.post(reverse("cases:attempt_submit", args=[attempt.pk]))
    attempt.refresh_from_db()
    assert attempt.score == 1 and attempt.max_score == 2

    result = student.get(reverse("cases:attempt_result", args=[attempt.pk])).content.decode()
    assert re.search(r'Grant is <mark class="blank blank--filled">Buried</mark> in Grant', result)
    assert "Close: the word is entombed" in result
    assert "1.00 / 2" in result and "entombed; buri* (50%)" in result

    # Statistics count it and name the answers that fell short.
    teacher = client_for("instructor")  # The test client signs in as one at a time.
    stats = teacher.get(reverse("cases:quiz_stats", args=[quiz.item.pk])).content.decode()
    assert "Short answer (graded automatically)" in stats
    assert "<td>50%</td>" in stats and "buried (1)" in stats

    # The key corrected: "buried" is as good. Saving regrades the submitted attempt.
    edit = reverse("cases:question_edit", args=[question.pk])
    form = teacher.get(edit).content.decode()
    assert "%50%buri* # Close: the word is entombed\n=entombed" in form
    data.pop("kind")
    response = teacher.post(edit, data | {"accepted_text": "=entombed\n=buri* # Fine too"})
    assert response.status_code == 302
    attempt.refresh_from_db()
    assert attempt.score == 2
    assert question.choices.count() == 2

    stats = teacher.get(reverse("cases:quiz_stats", args=[quiz.item.pk])).content.decode()
    assert "<td>100%</td>" in stats and "buried (1)" not in stats


@pytest.mark.django_db
def test_a_missing_word_choice_is_a_select_in_the_sentence(world, client_for):
    teacher = client_for("instructor")
    html = teacher.get(_new(world) + "?kind=single").content.decode()
    assert "For a missing word, write ___ in the text" in html
    html = teacher.get(_new(world) + "?kind=multiple").content.decode()
    assert "missing word" not in html  # Blanks are for one choice, or a typed answer.
    data = {
        "kind": "single",
        "title": "Grant",
        "text": "Grant is ___ in Grant's tomb.",
        "points": "1",
        "choices_text": "~buried # Close\n=entombed\n~living # No",
    }
    assert teacher.post(_new(world), data).status_code == 302
    blank = Question.objects.get(title="Grant")
    plain = Question.objects.get(title="Partner")  # No blank: as it always was.
    quiz = _quiz_with(world, teacher, [blank, plain])
    student = client_for("student")
    attempt = _start(student, quiz)
    slot, plain_slot = attempt.slots.get(question=blank), attempt.slots.get(question=plain)
    page = student.get(attempt.get_absolute_url()).content.decode()
    select = re.search(rf'<p>Grant is (<select [^>]*name="q{slot.pk}".*?</select>) in', page, re.S)
    assert select, page
    assert 'aria-label="Blank in: Grant is ___ in Grant' in select.group(1)
    assert re.findall(r'<option value="(\d*)"[^>]*>([^<]*)</option>', select.group(1)) == [
        ("", "Choose…"),
        ("0", "buried"),
        ("1", "entombed"),
        ("2", "living"),
    ]
    assert f'type="radio" name="q{slot.pk}"' not in page
    assert f'type="radio" name="q{plain_slot.pk}"' in page

    save = reverse("cases:attempt_save", args=[attempt.pk])
    student.post(save, {"questions": str(slot.pk), f"q{slot.pk}": "0"})
    again = student.get(attempt.get_absolute_url()).content.decode()
    assert '<option value="0" selected>buried</option>' in again
    student.post(save, {"questions": str(slot.pk), f"q{slot.pk}": "1"})
    student.post(reverse("cases:attempt_submit", args=[attempt.pk]))
    attempt.refresh_from_db()
    assert attempt.score == 1
    result = student.get(reverse("cases:attempt_result", args=[attempt.pk])).content.decode()
    assert '<mark class="blank blank--filled">entombed</mark> in Grant' in result


@pytest.mark.django_db
def test_a_copied_quiz_keeps_the_accepted_answers_and_case_rule(world, client_for):
    question = Question.objects.create(
        course=world.other_course,
        kind=QuestionKind.SHORT_ANSWER,
        title="Case",
        text="Its ticker is ___.",
        case_sensitive=True,
    )
    Choice.objects.create(question=question, text="ALU", fraction=1, feedback="Yes", position=0)
    item = ModuleItem.objects.create(
        module=world.item.module.__class__.objects.create(course=world.other_course, title="M"),
        kind=ItemKind.QUIZ,
        title="Ticker",
    )
    quiz = Quiz.objects.create(item=item)
    quiz.slots.create(question=question, position=1)
    copy = item_copy(source=item, module=world.item.module)
    copied = copy.quiz.slots.get().question
    assert copied.pk != question.pk and copied.course == world.course
    assert copied.case_sensitive and copied.kind == QuestionKind.SHORT_ANSWER
    assert [(c.text, c.fraction, c.feedback) for c in copied.choices.all()] == [("ALU", 1, "Yes")]


def test_the_demo_reading_check_asks_for_a_missing_word():
    from pathlib import Path

    from cases.gift import parse_gift

    gift = Path("cases/demo/quizzes/03-lenovo.gift").read_text(encoding="utf-8")
    rank = next(q for q in parse_gift(gift) if q.title == "Lenovo's world rank")
    assert rank.kind == QuestionKind.SINGLE
    blank = render_markdown_blank(rank.text)
    assert blank is not None and blank.sentence.endswith("Lenovo ranks ___.")
    assert [c.text for c in rank.choices if c.fraction == 1] == ["fourth"]
