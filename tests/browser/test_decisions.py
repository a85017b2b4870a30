"""Commit, then reveal, in a real browser: the follow-up appears only after the student
commits, and the confidence slider shows its value as it moves."""

import pytest
from playwright.sync_api import expect

from cases.models import Assignment
from tests.browser.conftest import assert_accessible
from tests.factories import make_decision

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_student_commits_then_reads_the_follow_up(open_as, world):
    decision = make_decision(world.item.module)
    Assignment.objects.create(item=decision.item, cohort=world.course.cohorts.get())
    student = open_as("student")
    student.goto(decision.item.get_absolute_url())
    expect(student.get_by_text("FOLLOW-UP-SECRET")).to_have_count(0)
    assert_accessible(student)
    student.get_by_role("radio", name="Push for own R&D").check()
    student.get_by_label("Why, in a line").fill("Researchers compound.")
    student.get_by_role("radio", name="Yes, it will").check()
    slider = student.get_by_label("How sure are you?")
    slider.focus()
    for _ in range(2):
        student.keyboard.press("ArrowRight")
    expect(student.locator("output.range-value")).to_have_text("80")
    student.get_by_role("button", name="Commit").click()
    expect(student.get_by_text("FOLLOW-UP-SECRET")).to_be_visible()
    expect(student.get_by_text("80% sure")).to_be_visible()
    assert_accessible(student)
