"""The bell in a real browser: the header shows the unread count after the page loads;
opening a notification goes to the thing; marking all read clears the count."""

import re

import pytest
from playwright.sync_api import expect

from cases.models import Notification
from tests.browser.conftest import assert_accessible

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_bell_counts_and_clears(open_as, world):
    for title in ("Grade released: Reading check", "A reply to your post"):
        Notification.objects.create(
            user=world.users["student"],
            kind="grade_released",
            title=title,
            url=world.quiz.item.get_absolute_url(),
            course=world.course,
        )
    page = open_as("student")
    page.goto("/")
    bell = page.get_by_role("link", name="Notifications: 2 unread")
    expect(bell).to_be_visible()
    bell.click()
    expect(page.get_by_role("heading", name="Notifications")).to_be_visible()
    assert_accessible(page)
    page.get_by_role("link", name="Grade released: Reading check").click()
    expect(page).to_have_url(re.compile(re.escape(world.quiz.item.get_absolute_url()) + "$"))
    expect(page.get_by_role("link", name="Notifications: 1 unread")).to_be_visible()
    page.goto("/notifications/")
    page.get_by_role("button", name="Mark all read").click()
    expect(page.get_by_text("Marked 1 notification read.")).to_be_visible()
    expect(page.locator("#bell")).to_have_text("Notifications")
