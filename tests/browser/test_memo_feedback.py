"""A grader's comments in Chromium: the TA selects words with the mouse in the grader
(an emoji among them) and comments, the comment appearing beside the words without a
reload; then by keyboard from "+ comment"; the student reads them once released, at a
phone's width, in order below the text. Screenshots go to $FEEDBACK_SHOTS if set."""

import os
from pathlib import Path

import pytest
from django.urls import reverse
from playwright.sync_api import Page, expect

from cases.models import MemoComment
from cases.services import analyses
from cases.services.gradebook import assignment_release
from tests.browser.conftest import DESKTOP, PHONE, assert_accessible
from tests.browser.test_annotations import WORDS_AT
from tests.factories import make_analysis

pytestmark = pytest.mark.django_db(transaction=True)

BODY = """The firm should buy the lab 😀 rather than build one. It saves two years.

- Licences come with the deal.
- Staff stay on.

Building would cost more and take longer. The board prefers speed."""
WORDS = "buy the lab 😀 rather"


def _shot(page: Page, name: str) -> None:
    folder = os.environ.get("FEEDBACK_SHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=f"{folder}/{name}.png", full_page=True)


def _select_with_mouse(page: Page, number: int, words: str) -> None:
    at = page.evaluate(WORDS_AT, [number, words])
    assert at, f"{words!r} is not in ¶{number}"
    page.mouse.move(at["x0"], at["y0"])
    page.mouse.down()
    page.mouse.move(at["x1"], at["y1"], steps=6)
    page.mouse.up()
    assert page.evaluate("String(window.getSelection())") == words


def test_a_ta_comments_by_mouse_and_keyboard_and_the_student_reads_them(open_as, world):
    analysis = make_analysis(world.item.module, world.course.cohorts.all(), case=world.case)
    item, student = analysis.item, world.users["student"]
    version = analyses.memo_submit(item=item, user=student, body=BODY)

    ta = open_as("ta")
    ta.set_viewport_size(DESKTOP)
    ta.goto(reverse("cases:grade_work", args=[item.pk, student.pk]))
    layer = ta.locator("#memo-layer")
    expect(layer).to_contain_text("buy the lab")
    _select_with_mouse(ta, 1, WORDS)
    ta.get_by_role("button", name="Comment on selection").click()
    form = ta.locator("#comment-slot-1 form")
    expect(form.locator(".note__quote")).to_have_text(f"“{WORDS}”")
    expect(ta.get_by_label("Your comment", exact=True)).to_be_focused()
    ta.get_by_label("Your comment", exact=True).fill("Why is *buying* faster? Give the years.")
    ta.get_by_role("button", name="Save comment").click()
    expect(ta.get_by_role("status")).to_have_text("Comment saved.")
    expect(ta.get_by_role("status")).to_be_focused()
    expect(layer.locator("mark.memo-hl")).to_have_text(WORDS)
    expect(layer.locator(".memo-margin .memo-comment")).to_contain_text("Why is buying faster?")
    comment = MemoComment.objects.get()
    assert (comment.paragraph, comment.quote) == (1, WORDS)
    assert comment.end - comment.start == len(WORDS)  # Code points: the emoji is one.
    assert_accessible(ta)

    # By keyboard: "+ comment" beside ¶3, a sentence picked from the list.
    ta.get_by_role("link", name="+ comment on ¶3").focus()
    ta.keyboard.press("Enter")
    expect(ta.get_by_label("Words your comment is about")).to_be_focused()
    ta.get_by_label("Words your comment is about").select_option(
        label="Sentence 2: The board prefers speed."
    )
    ta.get_by_label("Your comment", exact=True).fill("Whose speed?")
    ta.get_by_role("button", name="Save comment").click()
    expect(layer.locator("mark.memo-hl", has_text="The board prefers speed.")).to_be_visible()
    assert MemoComment.objects.count() == 2
    _shot(ta, "grader-desktop")
    ta.goto(reverse("cases:memo_version", args=[version.pk]))
    _shot(ta, "version-ta-desktop")
    assert_accessible(ta)

    # The student: nothing before release; afterwards, at a phone's width, the
    # comments in order below their text.
    me = open_as("student")
    me.set_viewport_size(PHONE)
    me.goto(reverse("cases:memo_version", args=[version.pk]))
    expect(me.get_by_role("status")).to_contain_text("Feedback not released yet")
    expect(me.locator("mark")).to_have_count(0)
    assignment_release(assignment=item.assignments.get(), released=True)
    me.reload()
    listed = me.locator(".memo-comments-all .memo-comment")
    expect(listed).to_have_count(2)
    expect(listed.first).to_contain_text("Why is buying faster?")
    expect(me.locator(".memo-margin").first).to_be_hidden()
    _shot(me, "version-student-phone")
    assert_accessible(me)
    # The author has no comment tools: selecting words offers nothing.
    _select_with_mouse(me, 3, "The board prefers speed.")
    me.wait_for_timeout(400)
    expect(me.get_by_role("button", name="Comment on selection")).to_have_count(0)
    me.set_viewport_size(DESKTOP)
    expect(me.locator(".memo-margin").first).to_be_visible()
    _shot(me, "version-student-desktop")

    # A second version: the TA reads what changed, on its page and in the grader.
    second = analyses.memo_submit(
        item=item, user=student, body=BODY.replace("two years", "three years")
    )
    ta.goto(reverse("cases:memo_changes", args=[second.pk]))
    expect(ta.locator(".memo-diff ins")).to_contain_text("three")
    expect(ta.locator(".memo-diff del")).to_contain_text("two")
    assert_accessible(ta)
    _shot(ta, "changes-desktop")
    ta.goto(reverse("cases:grade_work", args=[item.pk, student.pk]))
    ta.get_by_text("What changed from version 1").click()
    expect(ta.locator(".memo-grader__changes .memo-diff ins")).to_contain_text("three")
    ta.set_viewport_size(PHONE)
    assert_accessible(ta)
    _shot(ta, "grader-phone")
