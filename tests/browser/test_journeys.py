"""Each role's first steps, in a real browser, with an accessibility audit per page."""

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import PHONE, assert_accessible, sign_in
from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db(transaction=True)


def test_student_signs_in_and_sees_the_dashboard_then_the_course(page, world):
    sign_in(page, "student", PASSWORD)
    expect(page.get_by_role("heading", name="Due next")).to_be_visible()
    expect(page.get_by_role("link", name="Shanghai Bell")).to_be_visible()
    assert_accessible(page)

    page.get_by_role("link", name="Run of the Red Queen").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Run of the Red Queen")
    expect(page.get_by_text("You are: Student")).to_be_visible()
    assert_accessible(page)


def test_student_dashboard_reads_well_on_a_phone(page, world):
    page.set_viewport_size(PHONE)
    sign_in(page, "student", PASSWORD)
    expect(page.get_by_role("heading", name="My courses")).to_be_visible()
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], "nothing scrolls sideways on a phone"
    assert_accessible(page)


def test_instructor_signs_in_and_lands_on_the_teaching_dashboard(page, world):
    sign_in(page, "instructor", PASSWORD)
    assert page.url.endswith("/teach/")
    expect(page.get_by_role("heading", name="Teaching")).to_be_visible()
    expect(page.get_by_role("link", name="Run of the Red Queen")).to_be_visible()
    assert_accessible(page)

    page.get_by_role("link", name="Run of the Red Queen").click()
    expect(page.get_by_text("You are: Instructor")).to_be_visible()
    expect(page.get_by_text("Section A: due")).to_be_visible()
    assert_accessible(page)


def test_skip_link_and_keyboard_focus_are_visible(page, world):
    page.goto("/login/")
    page.locator("body").click(position={"x": 5, "y": 300})  # Focus the document itself.
    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Skip to content")
    expect(skip).to_be_focused()
    outline = skip.evaluate("el => getComputedStyle(el).outlineStyle")
    assert outline != "none"


def test_wrong_password_message_is_announced_and_login_page_is_accessible(page, world):
    sign_in(page, "student", "not-the-password")
    expect(page.get_by_role("alert")).to_contain_text("correct username and password")
    expect(page.get_by_label("Username")).to_have_value("student")
    assert_accessible(page)


def test_the_accessibility_audit_fails_on_a_real_violation(page):
    page.set_content('<html lang="en"><title>t</title><main><input type="text"></main></html>')
    with pytest.raises(AssertionError, match="label"):
        assert_accessible(page)
