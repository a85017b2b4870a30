"""Question kinds of issue 20, answered in a real browser by keyboard only."""

import pytest
from playwright.sync_api import Page, expect

from cases.models import Assignment, ItemKind, ModuleItem, Quiz
from tests.browser.conftest import assert_accessible, choose_matches_by_keyboard

pytestmark = pytest.mark.django_db(transaction=True)

REGIONS = {"Lenovo": "Beijing", "SMIC": "Shanghai", "Tencent": "Pearl River Delta"}


def _take(page: Page, item_url: str, matches: dict[str, str], *, start: str) -> None:
    page.goto(item_url)
    page.get_by_role("button", name=start).click()
    expect(page.get_by_text("Read the cases of weeks 2 to 7 first.")).to_be_visible()
    expect(page.get_by_text("0 of 1 answered.")).to_be_visible()
    choose_matches_by_keyboard(page, matches, after="Match each company to the region")
    expect(page.get_by_text("1 of 1 answered.")).to_be_visible()  # Autosaved.
    assert_accessible(page)
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    focused = page.evaluate("document.activeElement.textContent.trim()")
    assert focused == "Finish and submit…"
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Submit your attempt?")).to_be_visible()
    page.get_by_role("button", name="Submit now").focus()
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Score")).to_be_visible()


def test_a_student_matches_companies_to_regions_by_keyboard(open_as, world):
    item = ModuleItem.objects.create(
        module=world.quiz.item.module, kind=ItemKind.QUIZ, title="Regions check", position=60
    )
    Quiz.objects.create(item=item, attempts_allowed=2)
    Assignment.objects.create(item=item, cohort=world.course.cohorts.first())

    # The instructor writes the question in the bank and puts it, after a description,
    # in the quiz.
    teacher = open_as("instructor")
    teacher.goto(f"/courses/{world.course.pk}/questions/new/?kind=description")
    teacher.get_by_label("Title").fill("Before you start")
    teacher.get_by_label("Text").fill("Read the cases of weeks 2 to 7 first.")
    teacher.get_by_role("button", name="Save question").click()
    teacher.goto(f"/courses/{world.course.pk}/questions/new/?kind=matching")
    expect(teacher.get_by_label("Points")).to_be_visible()
    teacher.get_by_label("Title").fill("Regions")
    teacher.get_by_label("Text").fill("Match each company to the region it grew up in.")
    pairs = teacher.get_by_label("Pairs, one per line: prompt -> match")
    pairs.fill("Lenovo -> Beijing\nSMIC Shanghai")
    teacher.get_by_label("Points").fill("3")
    teacher.get_by_role("button", name="Save question").click()
    expect(teacher.get_by_text("Line 2 has no “->”")).to_be_visible()
    expect(pairs).to_have_value("Lenovo -> Beijing\nSMIC Shanghai")
    assert_accessible(teacher)
    pairs.fill("Lenovo -> Beijing\nSMIC -> Shanghai\nTencent -> Pearl River Delta\n-> Hangzhou")
    teacher.get_by_role("button", name="Save question").click()
    expect(teacher.get_by_text("Added “Regions”.")).to_be_visible()
    teacher.goto(f"/items/{item.pk}/quiz-settings/")
    teacher.get_by_label("No category · Before you start").check()
    teacher.get_by_label("No category · Regions").check()
    teacher.get_by_role("button", name="Save settings").click()
    expect(teacher.get_by_text("Quiz settings saved.")).to_be_visible()

    # First attempt: Tencent matched to Hangzhou, two pairs of three right.
    student = open_as("student")
    item_url = item.get_absolute_url()
    _take(student, item_url, REGIONS | {"Tencent": "Hangzhou"}, start="Start the quiz")
    expect(student.locator(".score")).to_have_text("2.00 / 3.00")
    expect(student.get_by_text("The right answers and feedback appear")).to_be_visible()

    # Second and last attempt: every pair right; now the pairs are shown, marked.
    _take(student, item_url, REGIONS, start="Start another attempt")
    expect(student.locator(".score")).to_have_text("3.00 / 3.00")
    expect(student.get_by_text("Tencent: Your match: Pearl River Delta")).to_be_visible()
    expect(student.get_by_text("3.00 / 3.00 points")).to_be_visible()
    assert_accessible(student)
