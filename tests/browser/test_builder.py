"""The instructor's course builder and schedule in a real browser: keyboard reordering
through htmx, and an accessibility audit of each new page."""

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from tests.browser.conftest import assert_accessible, sign_in
from tests.factories import PASSWORD, ModuleFactory

pytestmark = pytest.mark.django_db(transaction=True)


def test_instructor_reorders_modules_from_the_keyboard(page, world):
    # After the world's module, whatever position the factory's sequence gave it.
    ModuleFactory(
        course=world.course, title="Second module", position=world.item.module.position + 1
    )
    first = world.item.module.title
    sign_in(page, "instructor", PASSWORD)
    page.goto(reverse("cases:course_builder", args=[world.course.pk]))
    assert_accessible(page)
    headings = page.locator("#module-list h2")
    expect(headings.first).to_contain_text(first)
    page.evaluate("window.notReloaded = true")
    page.get_by_role("button", name="Move module Second module up").focus()
    page.keyboard.press("Enter")
    expect(headings.first).to_contain_text("Second module")
    expect(headings.nth(1)).to_contain_text(first)
    assert page.evaluate("window.notReloaded === true"), "htmx swapped the list in place"
    expect(page.get_by_role("button", name="Move module Second module up")).to_be_focused()


def test_schedule_and_deadlines_pages_are_accessible(page, world):
    sign_in(page, "instructor", PASSWORD)
    page.goto(reverse("cases:item_schedule", args=[world.item.pk]))
    expect(page.get_by_role("heading", name="Extensions")).to_be_visible()
    assert_accessible(page)
    page.goto(reverse("cases:course_deadlines", args=[world.course.pk]))
    expect(page.get_by_role("heading", level=1)).to_have_text("Deadlines")
    assert_accessible(page)
    page.goto(reverse("cases:course_duplicate", args=[world.course.pk]))
    assert_accessible(page)
