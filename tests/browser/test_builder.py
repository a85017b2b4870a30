"""The instructor's course builder and schedule in a real browser: keyboard reordering
through htmx, and an accessibility audit of each new page."""

import re

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


def test_adding_an_item_chooses_the_kind_first_and_switches_it_in_place(page, world):
    """The kind first; then only its fields. Changing the kind swaps its fields by htmx
    (no reload), keeping the typed title; the no-script button is hidden."""
    sign_in(page, "instructor", PASSWORD)
    page.goto(reverse("cases:item_create", args=[world.course.pk]))
    expect(page.get_by_role("heading", name="What are you adding?")).to_be_visible()
    assert_accessible(page)
    page.get_by_role("link", name="Quiz", exact=True).click()
    expect(page.get_by_label("What are you adding?")).to_have_value("quiz")
    expect(page.get_by_role("button", name="Show its fields")).to_be_hidden()
    expect(page.get_by_label("Prompt (Markdown)")).to_have_count(0)
    assert_accessible(page)
    page.get_by_label("Title").fill("Week 3: who wins the race?")
    page.evaluate("window.notReloaded = true")
    page.get_by_label("What are you adding?").select_option("discussion")
    expect(page.get_by_label("Prompt (Markdown)")).to_be_visible()
    assert page.evaluate("window.notReloaded === true"), "htmx swapped the fields in place"
    expect(page.get_by_label("Title")).to_have_value("Week 3: who wins the race?")
    expect(page).to_have_url(re.compile(r"\?kind=discussion$"))
    assert_accessible(page)
    # Left blank, the prompt is refused next to the field; the title is still there.
    page.get_by_label("Module").select_option(str(world.item.module.pk))
    page.get_by_role("button", name="Add", exact=True).click()
    expect(page.locator(".field--invalid")).to_contain_text("Write the prompt students answer.")
    expect(page.get_by_label("Title")).to_have_value("Week 3: who wins the race?")
    assert_accessible(page)
    page.get_by_label("What are you adding?").select_option("spectrum")
    expect(page.get_by_text("Companies to place")).to_be_visible()
    expect(page.get_by_label("Prompt (Markdown)")).to_have_count(0)
