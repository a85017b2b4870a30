"""An admin deactivates a student and reactivates them, in a real browser: the student's
sign-in is refused in between, and the audit log shows it."""

import re

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from tests.browser.conftest import assert_accessible, sign_in
from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db(transaction=True)


def test_admin_deactivates_and_reactivates_a_student(page, browser, live_server, world):
    sign_in(page, "admin", PASSWORD)
    page.goto(reverse("cases:people_directory"))
    assert_accessible(page)
    search = page.get_by_role("searchbox", name="Search")
    search.fill("student")
    page.get_by_role("button", name="Search").click()
    expect(page).to_have_url(re.compile(r"q=student"))  # The search has come back.
    name = world.users["student"].display_name
    page.get_by_role("link", name=f"Deactivate {name} (student)…").click()
    # A page asks first, and says what is kept; Confirm does it.
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Deactivate {name}?")
    expect(page.get_by_text("Their work, grades and cohorts")).to_be_visible()
    assert_accessible(page)
    page.get_by_role("button", name=f"Deactivate {name}").click()
    expect(page.get_by_role("status")).to_contain_text("account is deactivated")
    expect(search).to_have_value("student")  # Back on the search the admin made.
    expect(page.get_by_role("button", name=f"Reactivate {name} (student)")).to_be_visible()
    assert_accessible(page)

    student = browser.new_context(base_url=live_server.url).new_page()
    sign_in(student, "student", PASSWORD)
    expect(student.get_by_role("alert")).to_contain_text("This account is deactivated.")
    assert student.url.endswith("/login/")

    page.goto(reverse("cases:audit_log"))
    page.get_by_label("Action").select_option(label="Account deactivated")
    page.get_by_role("button", name="Filter").click()
    expect(page).to_have_url(re.compile(r"/manage/audit/\?action=deactivate"))  # Shareable.
    rows = page.locator("#results tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("Account deactivated")
    expect(rows.first).to_contain_text("active: yes → active: no")
    assert_accessible(page)

    page.goto(reverse("cases:people_directory") + "?status=deactivated")
    page.get_by_role("button", name=f"Reactivate {name} (student)").click()
    expect(page.get_by_role("status")).to_contain_text("account is active again")

    sign_in(student, "student", PASSWORD)
    expect(student.get_by_role("button", name="Sign out")).to_be_visible()
    student.context.close()


def test_course_people_page_is_accessible_and_adds_a_ta_with_htmx(page, world):
    sign_in(page, "instructor", PASSWORD)
    page.goto(world.course.get_absolute_url())
    page.get_by_role("link", name="People: instructors and TAs").click()
    assert_accessible(page)
    page.evaluate("window.notReloaded = true")
    page.get_by_label("Username or email").fill("other_student@example.edu")
    # By keyboard: Add pressed with Enter keeps the focus on Add in the swapped region,
    # not on the page's body (where the next Tab would start again at the top).
    page.get_by_role("button", name="Add").focus()
    page.keyboard.press("Enter")
    expect(page.locator("#people")).to_contain_text("is now a teaching assistant")
    expect(page.get_by_role("button", name="Add")).to_be_focused()
    assert page.evaluate("window.notReloaded === true"), "htmx swapped the region in place"
    expect(page.get_by_role("button", name="Remove")).to_have_count(2)
    assert_accessible(page)
