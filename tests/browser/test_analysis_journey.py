"""A written analysis from start to finish in Chromium, each person in their own
browser: two students hand in; the due date passes; the instructor assigns peer
review; a student reviews a classmate's memo by keyboard alone; the TA comments on the
student's words and grades with the rubric; the instructor releases the grades; the
student reads the comments in the margin of their own text and the review they got,
and rates it. axe finds nothing at any step."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from playwright.sync_api import Page, expect

from cases.models import MemoComment, PeerReview, Rubric, Work
from cases.services import analyses
from tests.browser.conftest import assert_accessible
from tests.factories import make_analysis

pytestmark = pytest.mark.django_db(transaction=True)

MINE = """Shanghai Bell should build its own research staff. The licence ties it to one partner.

It can pay for the people, as ¶2 shows. The risk is time, not money."""
THEIRS = """Keep licensing. Adapting proven designs is what the firm does well, as ¶1 says.

A research staff would take a decade to pay back."""
CRITERIA = [
    {
        "name": "Position",
        "levels": [{"label": "Unclear", "points": 0}, {"label": "Clear", "points": 5}],
    },
    {
        "name": "Evidence",
        "levels": [{"label": "None", "points": 0}, {"label": "Cited", "points": 5}],
    },
]


def _tab_to(page: Page, selector: str, limit: int = 60) -> None:
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate("(s) => document.activeElement.matches(s)", selector):
            return
    raise AssertionError(f"Tab never reached {selector}")


def test_write_review_comment_grade_release_read(open_as, world):
    student, classmate = world.users["student"], world.users["student_ta_elsewhere"]
    rubric = Rubric.objects.create(course=world.course, title="Memo", criteria=CRITERIA)
    analysis = make_analysis(
        world.item.module, world.course.cohorts.all(), case=world.case, peer_review=True,
        reviews_each=1,
    )  # fmt: skip
    item = analysis.item
    item.rubric = rubric
    item.save()
    assignment = item.assignments.get()
    assignment.due_at = timezone.now() + timedelta(days=1)
    assignment.save()
    mine = analyses.memo_submit(item=item, user=student, body=MINE)
    analyses.memo_submit(item=item, user=classmate, body=THEIRS)
    # The due date passes (moved by the instructor: the schedule as it stands counts).
    assignment.due_at = timezone.now() - timedelta(minutes=5)
    assignment.save()

    # The instructor assigns peer review for the section.
    teacher = open_as("instructor")
    teacher.goto(reverse("cases:peer_reviews", args=[item.pk]))
    assert_accessible(teacher)
    teacher.get_by_role("button", name="Assign peer reviews").click()
    expect(teacher.locator("table").first).to_contain_text("2 assigned")
    review = PeerReview.objects.get(reviewer=student)
    assert review.author == classmate

    # The student reviews the classmate's memo by keyboard alone.
    me = open_as("student")
    me.goto(item.get_absolute_url())
    assert_accessible(me)
    _tab_to(me, f"a[href$='/reviews/{review.pk}/']")
    me.keyboard.press("Enter")
    expect(me.locator("h1")).to_contain_text("Memo 1")
    expect(me.locator("body")).not_to_contain_text(classmate.get_full_name())
    assert_accessible(me)
    for _criterion in CRITERIA:
        _tab_to(me, "input[type=radio]")
        me.keyboard.press("ArrowDown")  # From the first level to "Clear" / "Cited".
    _tab_to(me, "textarea[name=comment]")
    me.keyboard.type("Clear position; say why a decade, citing the case.")
    _tab_to(me, "button[type=submit]")
    me.keyboard.press("Enter")
    expect(me.get_by_role("button", name="Save changes")).to_be_visible()
    review.refresh_from_db()
    assert review.submitted_at and review.score == 10

    # The TA comments on the student's words by "+ comment" and grades with the rubric.
    ta = open_as("ta")
    ta.goto(reverse("cases:grade_work", args=[item.pk, student.pk]))
    ta.get_by_role("link", name="+ comment on ¶2").click()
    ta.get_by_label("Words your comment is about").select_option(
        label="Sentence 2: The risk is time, not money."
    )
    ta.get_by_label("Your comment", exact=True).fill("How much time? The case gives years.")
    ta.get_by_role("button", name="Save comment").click()
    expect(ta.locator("mark.memo-hl", has_text="The risk is time")).to_be_visible()
    ta.get_by_role("group", name="Position").get_by_label("Clear (5)").check()
    ta.get_by_role("group", name="Evidence").get_by_label("Cited (5)").check()
    ta.get_by_label("Comment for the student").fill("Sound; now size the risk.")
    ta.get_by_role("button", name="Save", exact=True).click()
    expect(ta.get_by_text("Saved the grade")).to_be_visible()
    assert_accessible(ta)
    work = Work.objects.get(item=item, user=student)
    assert work.rubric_score == 10 and MemoComment.objects.filter(version=mine).count() == 1

    # Before release the student reads no feedback; the instructor releases it.
    me.goto(reverse("cases:memo_version", args=[mine.pk]))
    expect(me.get_by_role("status")).to_contain_text("Feedback not released yet")
    teacher.goto(reverse("cases:gradebook", args=[world.course.pk]))
    teacher.get_by_role("button", name=f"Release grades of {item.title}").click()
    expect(teacher.get_by_role("button", name=f"Hide grades of {item.title}")).to_be_visible()

    # The student reads the comment beside their words, the rubric, and the review.
    me.reload()
    expect(me.locator("mark", has_text="The risk is time")).to_be_visible()
    expect(me.locator(".memo-margin .memo-comment")).to_contain_text("How much time?")
    expect(me.locator("body")).to_contain_text("Sound; now size the risk.")
    assert_accessible(me)
    # The classmate reads the student's review as "Reviewer 1", never by name, and
    # rates how helpful it was.
    theirs = open_as("student_ta_elsewhere")
    theirs.goto(item.get_absolute_url())
    expect(theirs.locator(".peer__received")).to_contain_text("Reviewer 1")
    expect(theirs.locator(".peer__received")).to_contain_text("Clear position")
    expect(theirs.locator("body")).not_to_contain_text(student.get_full_name())
    theirs.locator(".peer__rating").get_by_label("4").check()
    theirs.locator(".peer__rating").get_by_role("button", name="Rate").click()
    expect(theirs.get_by_text("Saved: 4 of 5.")).to_be_visible()
    assert_accessible(theirs)
    review.refresh_from_db()
    assert review.helpfulness == 4
