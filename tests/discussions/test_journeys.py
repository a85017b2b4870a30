"""Discussions used a second time, or where two features meet: journeys through the
real views, asserting what the people in them would notice."""

import pytest
from django.urls import reverse

from cases.models import Notification, Post
from cases.services.discussions import ROOTS_PER_PAGE, post_create

pytestmark = pytest.mark.django_db


def _html(response) -> str:
    return response.content.decode()


def _fill_first_page(world, settings) -> None:
    """A full first page of top-level posts by the TA: the next post opens page 2."""
    settings.POSTS_PER_MINUTE = 1000
    roots = Post.objects.filter(discussion=world.discussion, parent=None).count()
    for n in range(ROOTS_PER_PAGE - roots):
        post_create(discussion=world.discussion, author=world.users["ta"], body=f"Point {n}.")


def test_a_reply_notice_and_a_moderators_return_land_on_the_page_holding_the_post(
    world, client_for, settings
):
    """A student's post on page 2 is replied to: the notice they follow shows the reply;
    the instructor who hides it from there comes back to the page that shows it."""
    _fill_first_page(world, settings)
    create = reverse("cases:post_create", args=[world.discussion.item.pk])
    client_for("student_ta_elsewhere").post(create, {"body": "A late argument."})
    late = Post.objects.get(body="A late argument.")
    client_for("student").post(create, {"body": "I disagree, see ¶1.", "parent": late.pk})
    reply = Post.objects.get(parent=late)

    notice = Notification.objects.get(user=world.users["student_ta_elsewhere"])
    page = _html(client_for("student_ta_elsewhere").get(notice.url))
    assert "I disagree" in page and f'id="post-{reply.pk}"' in page

    moderate = reverse("cases:post_moderate", args=[reply.pk])
    response = client_for("instructor").post(moderate, {"action": "hide", "reason": "Rude"})
    page = _html(client_for("instructor").get(response["Location"]))
    assert f'id="post-{reply.pk}"' in page and "Hidden from students: Rude." in page
