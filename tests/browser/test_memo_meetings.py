"""Written analyses at a phone's width, where the pieces meet: the reviews of a
student's memo, each with the level its reviewer chose for each criterion."""

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from cases.models import PeerReview, Rubric
from cases.services.analyses import memo_submit
from tests.browser.conftest import PHONE, assert_accessible
from tests.factories import MembershipFactory, UserFactory, make_analysis

pytestmark = pytest.mark.django_db(transaction=True)

CRITERIA = [
    {
        "name": "Evidence from the case (¶ citations)",
        "levels": [
            {"label": "None", "points": 0},
            {"label": "Cited paragraphs that support the point", "points": 4},
        ],
    },
    {
        "name": "Counter-argument",
        "levels": [{"label": "Missing", "points": 0}, {"label": "Named and answered", "points": 5}],
    },
]


def test_a_review_of_my_memo_fits_a_phone(open_as, world):
    student = world.users["student"]
    cohort = world.course.cohorts.get(memberships__user=student)
    classmate = UserFactory(username="classmate")
    MembershipFactory(cohort=cohort, user=classmate)
    analysis = make_analysis(world.item.module, [cohort], peer_review=True, reviews_each=1)
    item = analysis.item
    item.rubric = Rubric.objects.create(course=world.course, title="Memo", criteria=CRITERIA)
    item.save()
    long_ago = timezone.now() - timedelta(days=2)
    mine = memo_submit(item=item, user=student, body="Build it, as ¶1 says.", now=long_ago)
    memo_submit(item=item, user=classmate, body="License it, as ¶2 says.", now=long_ago)
    item.assignments.update(due_at=timezone.now() - timedelta(days=1))
    PeerReview.objects.create(
        item=item,
        reviewer=classmate,
        author=student,
        version=mine,
        position=1,
        rubric_levels={"0": 1, "1": 1},
        score=9,
        comment="Clear and well argued.",
        comment_html="<p>Clear and well argued.</p>",
        submitted_at=timezone.now(),
    )
    page = open_as("student")
    page.set_viewport_size(PHONE)
    page.goto(item.get_absolute_url())
    review = page.locator(".peer__received").first
    expect(review).to_contain_text("Cited paragraphs that support the point (4)")
    box = review.bounding_box()
    for part in review.locator(".grade-facts dt, .grade-facts dd").all():
        inner = part.bounding_box()
        assert inner["x"] + inner["width"] <= box["x"] + box["width"] + 0.5, part.inner_text()
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    assert_accessible(page)
