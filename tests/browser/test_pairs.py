"""Arguing with the other side in a real browser: the instructor pairs students far
apart on a stance check, and the pair argue in their own thread."""

import pytest
from playwright.sync_api import expect

from cases.models import Assignment
from cases.services.thesis import stance_answer
from tests.browser.conftest import assert_accessible
from tests.factories import make_stance_check

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_instructor_pairs_opposites_and_they_argue(open_as, world):
    stance = make_stance_check(world.item.module)
    Assignment.objects.create(item=stance.item, cohort=world.course.cohorts.get())
    alice, bob = world.users["student"], world.users["student_ta_elsewhere"]
    stance_answer(stance=stance, user=alice, value=1, reason="Copying is cheaper.")
    stance_answer(stance=stance, user=bob, value=7, reason="Royalties forever otherwise.")

    teacher = open_as("instructor")
    teacher.goto(stance.item.get_absolute_url())
    teacher.get_by_role("button", name="Pair students far apart (before answers)").click()
    expect(teacher.get_by_text("6 points apart, 0 messages")).to_be_visible()
    assert_accessible(teacher)

    first = open_as("student")
    first.goto(stance.item.get_absolute_url())
    first.get_by_role("link", name="argue it out").click()
    first.get_by_label("Your message").fill("What would **change your mind**?")
    first.get_by_role("button", name="Send").click()
    expect(first.locator(".post strong", has_text="change your mind")).to_be_visible()
    assert_accessible(first)

    second = open_as("student_ta_elsewhere")
    second.goto(first.url)
    expect(second.get_by_text("Royalties forever otherwise.")).to_be_visible()
    expect(second.locator(".post", has_text="change your mind")).to_be_visible()
