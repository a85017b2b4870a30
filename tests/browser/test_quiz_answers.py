"""A quiz answer refused, in a real browser with JavaScript on."""

import re

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import assert_accessible, sign_in
from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db(transaction=True)

NOT_A_NUMBER = "Not saved: Write a number only, such as 1600 or 2.5."


def test_a_refused_number_is_said_beside_its_question_until_it_saves(page, world):
    """The autosave's refusal is the question's own note, not an alert over the page,
    and the question's next save replaces it; the page's Save button, posting the whole
    form, keeps the number as typed beside the same note."""
    slot = world.attempt.slots.get(question__title="Researchers")
    sign_in(page, "student", PASSWORD)
    page.goto(world.attempt.get_absolute_url())
    number = page.get_by_label("Your answer (a number)")
    note = page.locator(f"#saved-{slot.pk}")

    number.fill("2005?")
    expect(note).to_have_text(NOT_A_NUMBER)
    expect(page.locator("#htmx-error")).to_be_empty()
    number.fill("1,5")
    expect(note).to_have_text(re.compile(r"^Saved \d\d:\d\d:\d\d, read as 1\.5$"))
    expect(number).to_have_value("1,5")
    expect(page.locator("#htmx-error")).to_be_empty()

    number.fill("2005?")
    expect(note).to_have_text(NOT_A_NUMBER)
    page.get_by_role("button", name="Save answers").click()
    expect(page.get_by_text("Question 3 was not saved: see the note beside it.")).to_be_visible()
    expect(number).to_have_value("2005?")
    expect(note).to_have_text(NOT_A_NUMBER)
    assert_accessible(page)
