"""The gradebook in a real browser: grade inline, release, and the student's view, each
page audited for accessibility."""

import pytest
from playwright.sync_api import expect

from cases.models import GradeCategory, ModuleItem
from tests.browser.conftest import assert_accessible, sign_in
from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db(transaction=True)


def test_instructor_grades_inline_releases_and_the_student_sees_it(page, world):
    quizzes = GradeCategory.objects.create(course=world.course, name="Quizzes", weight=100)
    ModuleItem.objects.filter(pk=world.quiz.item.pk).update(grade_category=quizzes)
    sign_in(page, "instructor", PASSWORD)
    page.goto(f"/courses/{world.course.pk}/")
    page.get_by_role("link", name="Gradebook").click()
    expect(page.get_by_role("heading", name="Gradebook", level=1)).to_be_visible()
    assert_accessible(page)

    student = world.users["student"]
    row = page.locator(f"#student-{student.pk}")
    row.locator("td a").nth(0).click()  # The quiz: the first categorised column.
    panel = page.locator("#grade-panel")
    panel.get_by_label("Override score").fill("7")
    panel.get_by_role("button", name="Save grade").click()
    expect(panel.get_by_text("Give a reason for the override.")).to_be_visible()
    expect(panel.get_by_label("Override score")).to_have_value("7")
    panel.get_by_label("Reason for the override").fill("Marked by hand")
    panel.get_by_label("Comment for the student").fill("Good use of the case.")
    panel.get_by_role("button", name="Save grade").click()
    expect(panel.get_by_text("Grade saved.")).to_be_visible()
    expect(row.locator(".gradebook__total")).to_have_text("70.0%")
    assert_accessible(page)

    page.get_by_role("button", name="Release grades of Reading check").click()
    expect(page.get_by_role("button", name="Hide grades of Reading check")).to_be_visible()

    page.get_by_role("button", name="Sign out").click()
    sign_in(page, "student", PASSWORD)
    page.goto(f"/courses/{world.course.pk}/")
    page.get_by_role("link", name="My grades").click()
    expect(page.get_by_text("7 / 10")).to_be_visible()
    expect(page.get_by_text("Good use of the case.")).to_be_visible()
    assert_accessible(page)
