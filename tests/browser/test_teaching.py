"""The teaching page in a browser: each course's to-do fits its card on a desktop and a
phone, and its links lead where to act."""

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import PHONE, assert_accessible

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_to_do_fits_its_card_and_leads_to_the_grading_queue(open_as, world):
    from cases.models import Rubric
    from cases.services.readings import reading_mark_done

    world.item.rubric = Rubric.objects.create(
        course=world.course,
        title="Argument",
        criteria=[{"name": "Evidence", "levels": [{"label": "Thin", "points": 0}]}],
    )
    world.item.save()
    page = open_as("ta")
    page.goto("/teach/")
    waiting = page.get_by_role("link", name="waiting to be graded")
    before = int(waiting.locator(".todo__count").inner_text()) if waiting.count() else 0
    reading_mark_done(user=world.users["student"], case=world.case, done=True)
    for viewport in ({"width": 1280, "height": 900}, PHONE):
        page.set_viewport_size(viewport)
        page.goto("/teach/")
        card = page.locator(".teach-card").first
        expect(card.get_by_role("heading", name="To do")).to_be_visible()
        box = card.bounding_box()
        for part in card.locator(".card__meta, .todo__row, .card__title").all():
            inner = part.bounding_box()
            assert inner["x"] + inner["width"] <= box["x"] + box["width"], viewport
        assert page.evaluate("document.documentElement.scrollWidth") <= viewport["width"]
        assert_accessible(page)
    expect(page.locator(".todo")).to_contain_text("Shanghai Bell")  # Due in 3 days.
    waiting = page.get_by_role("link", name="waiting to be graded")
    expect(waiting.locator(".todo__count")).to_have_text(str(before + 1))
    waiting.click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Grading queue")
    expect(page.locator("main")).to_contain_text("Shanghai Bell")
