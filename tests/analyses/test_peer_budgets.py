"""Peer review's pages cost the same few queries for a small class as for a large one."""

import pytest
from django.urls import reverse

from cases.models import PeerReview
from cases.services import peer_review as services
from cases.services.workspace.grading import work_grade
from tests.analyses.test_peer_review import Class, _assigned
from tests.helpers import PAGE_BUDGET, page_queries

pytestmark = pytest.mark.django_db


def _reviewed_class(size: int) -> dict:
    """A class of `size` whose reviews are assigned, most submitted and rated, and half
    of whose memos the staff scored."""
    world = Class(size=size, reviews_each=3, prefix=f"c{size}-")
    reviews = list(_assigned(world))
    for review in reviews[:-2]:
        services.peer_review_submit(
            review=review, rubric=world.rubric, levels={"0": 1, "1": 1}, comment="Fine.",
            deadline=None,
        )  # fmt: skip
        services.peer_review_rate(review=review, author=review.author, helpfulness=4)
    for student in world.students[::2]:
        work_grade(
            item=world.item, student=student, grader=world.instructor, rubric_levels={"0": 2}
        )
    reviewer = world.students[1]
    return {
        "instructor": world.instructor,
        "student": reviewer,
        "item": world.item,
        "review": PeerReview.objects.filter(reviewer=reviewer, submitted_at__isnull=False)
        .order_by("position")
        .first(),
    }


def test_the_staff_page_of_peer_reviews_stays_within_budget(client):
    counts = page_queries(
        client,
        _reviewed_class,
        [5, 40],
        "instructor",
        url=lambda w: reverse("cases:peer_reviews", args=[w["item"].pk]),
    )
    assert counts[0] == counts[1] <= PAGE_BUDGET


def test_the_review_page_stays_within_budget(client):
    counts = page_queries(
        client,
        _reviewed_class,
        [5, 40],
        "student",
        url=lambda w: reverse("cases:peer_review", args=[w["review"].pk]),
    )
    assert counts[0] == counts[1] <= PAGE_BUDGET


def test_the_writing_page_with_peer_review_stays_within_budget(client):
    counts = page_queries(client, _reviewed_class, [5, 40], "student")
    assert counts[0] == counts[1] <= PAGE_BUDGET
