"""A stance check in a real browser: a student answers before and after the module,
and the instructor's page shows how the class moved."""

import re
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from cases.models import Assignment
from tests.browser.conftest import assert_accessible
from tests.factories import make_stance_check

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_student_answers_before_and_after_and_the_instructor_sees_the_shift(open_as, world):
    stance = make_stance_check(world.item.module)
    Assignment.objects.create(item=stance.item, cohort=world.course.cohorts.get())
    student = open_as("student")
    student.goto(stance.item.get_absolute_url())
    expect(student.get_by_text("You will see how the class answered")).to_be_visible()
    student.get_by_role("radio", name=re.compile(r"^6")).check()
    student.get_by_label("Your reason, in a line").fill("Royalties are a tax on copying.")
    student.get_by_role("button", name="Save my answer").click()
    expect(student.locator("figcaption", has_text="The class before the module")).to_be_visible()
    assert_accessible(student)

    stance.after_opens_at = timezone.now() - timedelta(minutes=1)
    stance.save()
    student.reload()
    student.get_by_role("radio", name=re.compile(r"^3")).focus()
    student.keyboard.press("Space")
    student.get_by_label("Your reason, in a line").fill("The ODM cases changed my mind.")
    student.get_by_role("button", name="Save my answer").click()
    expect(student.locator("figcaption", has_text="The class after the module")).to_be_visible()

    teacher = open_as("instructor")
    teacher.goto(stance.item.get_absolute_url())
    expect(teacher.get_by_text("1 moved, by -3.0 points on average")).to_be_visible()
    expect(
        teacher.get_by_role("img", name=re.compile("How far each student moved"))
    ).to_be_visible()
    expect(teacher.locator("tr", has_text=world.users["student"].display_name)).to_contain_text(
        "-3"
    )
    assert_accessible(teacher)
