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
    student = world.users["student"]  # A long name must wrap, not widen the header.
    student.first_name, student.last_name = "Alexandrina", "Konstantinopoulou-Vasquez"
    student.save()
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
    expect(page.get_by_text("Section A: due").first).to_be_visible()
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


def test_student_reads_a_case_on_a_phone_and_marks_it_done(page, world):
    page.set_viewport_size(PHONE)
    sign_in(page, "student", PASSWORD)
    page.get_by_role("link", name="Shanghai Bell").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Shanghai Bell")
    expect(page.locator("#p2")).to_contain_text("researchers")
    expect(page.get_by_role("heading", name="Key facts")).to_be_visible()
    expect(page.get_by_text("SECRET-TEACHING-NOTE")).to_have_count(0)
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    assert_accessible(page)

    page.get_by_role("button", name="Mark as done").click()
    expect(page.get_by_text("Done ✓")).to_be_visible()
    expect(page.get_by_role("button", name="Mark as not done")).to_be_visible()

    page.get_by_role("link", name="Dashboard").first.click()
    expect(page.locator(".due-list .tag--graded")).to_have_text("Done")
    assert_accessible(page)


def test_instructor_sees_teaching_notes_and_searches_the_library(page, world):
    sign_in(page, "instructor", PASSWORD)
    page.goto(world.case.get_absolute_url())
    expect(page.get_by_role("heading", name="Teaching notes")).to_be_visible()
    expect(page.get_by_role("heading", name="Authors' placement")).to_be_visible()
    assert_accessible(page)

    page.goto("/library/")
    page.get_by_label("Search").fill("zzzz")
    expect(page.get_by_text("No case matches")).to_be_visible()  # Swapped in by htmx.
    assert "q=zzzz" in page.url
    page.get_by_label("Search").fill("telecom")
    expect(page.get_by_role("link", name="Shanghai Bell")).to_be_visible()
    assert_accessible(page)


def test_instructor_writes_a_case_with_a_live_preview(page, world):
    sign_in(page, "instructor", PASSWORD)
    page.goto("/library/new/")
    page.get_by_label("Body").fill("A *first* paragraph.\n\nA second one.")
    expect(page.locator("#case-preview em")).to_have_text("first")
    assert_accessible(page)


def test_student_takes_a_timed_quiz_end_to_end(page, world):
    world.quiz.time_limit_minutes = 20
    world.quiz.save()
    sign_in(page, "student_ta_elsewhere", PASSWORD)
    page.goto(world.quiz.item.get_absolute_url())
    assert_accessible(page)
    page.get_by_role("button", name="Start the quiz").click()
    expect(page.get_by_text("Time left:")).to_be_visible()
    first_tick = page.locator(".timer__value").inner_text()
    page.wait_for_timeout(1500)
    assert page.locator(".timer__value").inner_text() != first_tick  # It counts down.
    assert_accessible(page)

    page.get_by_label("Alcatel").check()
    expect(page.locator(".saved-note").first).to_contain_text("Saved")
    page.get_by_label("Your answer (a number)").fill("1600")
    page.get_by_label("Your answer", exact=True).fill("A developer with a big lab.")
    expect(page.locator(".saved-note", has_text="Saved")).to_have_count(3)

    page.reload()  # A dropped connection or a closed tab loses nothing.
    expect(page.get_by_label("Alcatel")).to_be_checked()
    expect(page.get_by_label("Your answer (a number)")).to_have_value("1600")
    expect(page.get_by_label("Your answer", exact=True)).to_have_value(
        "A developer with a big lab."
    )

    page.get_by_role("button", name="Finish and submit…").click()
    expect(page.get_by_role("heading", name="Submit your attempt?")).to_be_visible()
    page.get_by_role("button", name="Submit now").click()
    expect(page.get_by_role("heading", name="Score")).to_be_visible()
    expect(page.get_by_text("KEY-FEEDBACK: Alcatel was the partner.")).to_be_visible()
    expect(page.get_by_text("Waiting for a grader.")).to_be_visible()
    assert_accessible(page)
