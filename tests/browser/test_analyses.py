"""Written analyses in Chromium: a student writes by keyboard alone, inserts a
citation, leaves and comes back to the draft, previews it with the citation's hover
preview, hands it in and hands it in again."""

import re
from datetime import timedelta
from urllib.parse import parse_qs

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from cases.models import Memo, MemoVersion
from tests.browser.conftest import PHONE, assert_accessible
from tests.factories import make_analysis

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def analysis(world):
    analysis = make_analysis(
        world.item.module, world.course.cohorts.all(), case=world.case, word_limit=60
    )
    assignment = analysis.item.assignments.get()
    assignment.due_at = timezone.now() + timedelta(days=2)
    assignment.save()
    return analysis


def _saves(response, ending: str) -> bool:
    """Whether the response answers a draft save of text ending so."""
    if "/memo/draft/" not in response.url:
        return False
    body = parse_qs(response.request.post_data or "").get("body", [""])[0]
    return body.endswith(ending)


def _tab_to(page: Page, selector: str, limit: int = 40) -> None:
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate("(s) => document.activeElement.matches(s)", selector):
            return
    raise AssertionError(f"Tab never reached {selector}")


def test_a_student_writes_cites_and_hands_in_twice_by_keyboard(open_as, analysis):
    page = open_as("student")
    page.clock.install()
    page.goto(analysis.item.get_absolute_url())
    assert_accessible(page)
    editor = page.get_by_label("Your analysis (Markdown)")
    _tab_to(page, "textarea[name=body]")
    page.keyboard.type("Licensing kept the plant busy, as the case shows")
    # The word count follows the typing; the draft is saved after a pause.
    expect(page.locator("[data-word-count]")).to_have_text("9")
    with page.expect_response(lambda r: "/memo/draft/" in r.url):
        page.clock.run_for(2_000)
    expect(page.locator("#draft-status")).to_contain_text("Draft saved")
    # Cite paragraph 2 from the picker, by keyboard: the citation lands at the cursor.
    _tab_to(page, "#cite-paragraph")
    page.keyboard.press("ArrowDown")
    _tab_to(page, "[data-cite-insert]")
    page.keyboard.press("Enter")
    expect(editor).to_have_value("Licensing kept the plant busy, as the case shows ¶2")
    page.keyboard.type(".")
    # The save of this text, not an earlier one (leaving the box saves too) arriving late.
    with page.expect_response(lambda r: _saves(r, "¶2.")):
        page.clock.run_for(2_000)
    memo = Memo.objects.get(item=analysis.item)
    assert memo.draft.endswith("¶2.")
    # Away and back: the draft is there.
    page.goto("/")
    page.goto(analysis.item.get_absolute_url())
    expect(editor).to_have_value("Licensing kept the plant busy, as the case shows ¶2.")
    # Preview: the citation is a link whose focus shows the paragraph cited.
    _tab_to(page, "button[value=preview]")
    page.keyboard.press("Enter")
    cite = page.locator("#preview a.cite")
    expect(cite).to_have_text("¶2")
    cite.focus()
    expect(page.locator("#preview .cite-preview")).to_be_visible()
    assert_accessible(page)
    # Hand in.
    _tab_to(page, "button[value=submit]")
    page.keyboard.press("Enter")
    expect(page.get_by_text("Handed in: version 1")).to_be_visible()
    # Revise and hand in again: both versions are listed.
    editor.focus()
    page.keyboard.press("End")
    page.keyboard.type(" Building would have cost the licence.")
    _tab_to(page, "button[value=submit]")
    page.keyboard.press("Enter")
    expect(page.get_by_text("Handed in: version 2")).to_be_visible()
    versions = page.locator(".versions li")
    expect(versions).to_have_count(2)
    assert MemoVersion.objects.filter(memo=memo).count() == 2
    assert_accessible(page)


def test_over_the_limit_on_a_phone_the_text_stays_with_the_reason(open_as, analysis):
    page = open_as("student")
    page.set_viewport_size(PHONE)
    page.goto(analysis.item.get_absolute_url())
    editor = page.get_by_label("Your analysis (Markdown)")
    editor.fill("word " * 70)
    expect(page.locator("[data-word-count]")).to_have_text("70")
    page.get_by_role("button", name="Hand in").click()
    expect(page.locator(".field__errors")).to_contain_text(re.compile(r"70 words; the limit is 60"))
    expect(editor).to_have_value(re.compile(r"^(word ){69}word\s*$"))
    assert_accessible(page)
