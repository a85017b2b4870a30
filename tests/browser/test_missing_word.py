"""Missing words and short answers in a real browser: the blank is the answer's input,
inside the sentence, and a student fills it by keyboard alone."""

from decimal import Decimal

import pytest
from playwright.sync_api import expect

from cases.models import Answer, Choice, ItemKind, ModuleItem, Question, QuestionKind, Quiz
from tests.browser.conftest import PHONE, assert_accessible
from tests.factories import AssignmentFactory

pytestmark = pytest.mark.django_db(transaction=True)


def _tomb_quiz(world) -> Quiz:
    course = world.course
    grant = Question.objects.create(
        course=course,
        kind=QuestionKind.SINGLE,
        title="Grant",
        text="Grant is ___ in Grant's tomb.",
    )
    Choice.objects.bulk_create(
        [
            Choice(question=grant, text="buried", fraction=0, feedback="Close", position=0),
            Choice(question=grant, text="entombed", fraction=1, position=1),
            Choice(question=grant, text="living", fraction=0, position=2),
        ]
    )
    capital = Question.objects.create(
        course=course,
        kind=QuestionKind.SHORT_ANSWER,
        title="Lenovo",
        text="Lenovo bought the PC business of ___ in 2005.",
        points=2,
    )
    Choice.objects.bulk_create(
        [
            Choice(question=capital, text="IBM", fraction=1, position=0),
            Choice(
                question=capital,
                text="International Business*",
                fraction=Decimal("0.5"),
                feedback="Half: the short name is IBM.",
                position=1,
            ),
        ]
    )
    item = ModuleItem.objects.create(
        module=world.item.module, kind=ItemKind.QUIZ, title="Blanks check", position=60
    )
    quiz = Quiz.objects.create(item=item, shuffle_choices=False)
    quiz.slots.create(question=grant, position=1)
    quiz.slots.create(question=capital, position=2)
    AssignmentFactory(item=item, cohort=world.course.cohorts.get())
    return quiz


def test_a_student_fills_a_blank_by_keyboard_and_gets_the_credit(open_as, world):
    quiz = _tomb_quiz(world)
    student = open_as("student")
    student.set_viewport_size(PHONE)
    student.goto(quiz.item.get_absolute_url())
    start = student.get_by_role("button", name="Start the quiz")
    start.focus()
    student.keyboard.press("Enter")

    # Each blank is named by its sentence; no radio buttons for the choice question.
    choice = student.get_by_role("combobox", name="Blank in: Grant is ___ in Grant's tomb.")
    typed = student.get_by_role(
        "textbox", name="Blank in: Lenovo bought the PC business of ___ in 2005."
    )
    expect(choice).to_be_visible()
    expect(student.get_by_role("radio")).to_have_count(0)
    assert_accessible(student)

    choice.focus()
    student.keyboard.press("ArrowDown")  # buried
    student.keyboard.press("ArrowDown")  # entombed
    expect(choice).to_have_value("1")
    student.keyboard.press("Tab")
    expect(typed).to_be_focused()
    student.keyboard.type("International Business Machines")
    expect(student.get_by_text("Saved").first).to_be_visible()  # Autosaved as typed.
    student.keyboard.press("Tab")
    expect(student.get_by_role("button", name="Save answers")).to_be_focused()
    student.keyboard.press("Enter")
    expect(student.get_by_text("Your answers are saved.")).to_be_visible()
    expect(choice).to_have_value("1")
    expect(typed).to_have_value("International Business Machines")
    assert Answer.objects.filter(response={"text": "International Business Machines"}).exists()

    student.get_by_role("button", name="Finish and submit…").focus()
    student.keyboard.press("Enter")
    student.get_by_role("button", name="Submit now").focus()
    student.keyboard.press("Enter")

    # 1 for the right word, half of 2 for the long name.
    expect(student.locator(".score")).to_have_text("2.00 / 3.00")
    expect(student.locator("mark.blank--filled").first).to_have_text("entombed")
    expect(student.locator("mark.blank--filled").last).to_have_text(
        "International Business Machines"
    )
    expect(student.get_by_text("Half: the short name is IBM.")).to_be_visible()
    assert_accessible(student)
