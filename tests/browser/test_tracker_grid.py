"""The response tracker at 1280 px in a real browser: the sticky name column stays on
top of the cells scrolled beneath it, the compact view fits many more columns, and a
cell's side panel has an address that opens it again."""

import re

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from cases.models import CaseReading
from tests.browser.conftest import assert_accessible
from tests.factories import AssignmentFactory, ModuleItemFactory

pytestmark = pytest.mark.django_db(transaction=True)

# What lies on top at a point: the element there, or the table cell it is inside.
TOP_CELL = """([x, y]) => {
    const el = document.elementFromPoint(x, y);
    const cell = el && el.closest('th, td');
    return cell ? cell.textContent.trim() : null;
}"""

VISIBLE_COLUMNS = """() => {
    const wrap = document.querySelector('.table-wrap--sticky').getBoundingClientRect();
    return [...document.querySelectorAll('thead th.matrix__item')]
        .filter(th => th.getBoundingClientRect().right <= wrap.right).length;
}"""


@pytest.fixture
def wide(world):
    """The world's course with 25 more readings given to the student's section."""
    cohort = world.course.cohorts.get()
    for n in range(25):
        item = ModuleItemFactory(module=world.item.module, title=f"Reading check {n:02d}: a case")
        CaseReading.objects.create(item=item, case=world.case)
        AssignmentFactory(item=item, cohort=cohort)
    return world


def _center_of(locator) -> list[float]:
    box = locator.bounding_box()
    return [box["x"] + box["width"] - 6, box["y"] + box["height"] / 2]


def test_the_sticky_name_column_stays_on_top_and_compact_fits_more(open_as, wide):
    page = open_as("instructor")
    page.set_viewport_size({"width": 1280, "height": 900})
    student = wide.users["student"]
    page.goto(reverse("cases:tracker", args=[wide.course.pk]))
    assert_accessible(page)
    full_columns = page.evaluate(VISIBLE_COLUMNS)
    # Scroll the grid sideways: cells slide beneath the names, never over them.
    page.locator(".table-wrap--sticky").evaluate("el => el.scrollLeft = 600")
    name = page.locator("tbody th", has_text=student.display_name)
    corner = page.locator("thead th.matrix__student")
    assert page.evaluate(TOP_CELL, _center_of(name)) == student.display_name
    # Above the names, at the same x: the header's own corner, not a scrolled header.
    x, _ = _center_of(name)
    assert page.evaluate(TOP_CELL, [x, _center_of(corner)[1]]) == "Student"
    # The compact view: symbols, a legend, and many more columns in the same width.
    page.get_by_role("link", name="Compact symbols").click()
    expect(page.get_by_role("heading", name="Symbols")).to_be_visible()
    assert "view=compact" in page.url
    assert_accessible(page)
    compact_columns = page.evaluate(VISIBLE_COLUMNS)
    assert compact_columns >= 2 * full_columns, (full_columns, compact_columns)
    page.locator(".table-wrap--sticky").evaluate("el => el.scrollLeft = 400")
    name = page.locator("tbody th", has_text=student.display_name)
    assert page.evaluate(TOP_CELL, _center_of(name)) == student.display_name
    # A cell opens the side panel and gives it an address; reloaded, the panel is back.
    row = page.locator("tbody tr", has_text=student.display_name)
    row.get_by_role("link", name=re.compile("In progress")).click()
    panel = page.locator("#work-panel")
    expect(panel).to_contain_text("Attempt 1: In progress")
    expect(page).to_have_url(re.compile(rf"view=compact.*student={student.pk}&item="))
    page.reload()
    expect(page.locator("#work-panel")).to_contain_text("Attempt 1: In progress")
    expect(page.locator(".matrix--compact")).to_be_visible()
    assert_accessible(page)


def test_the_tracker_fits_a_phone(open_as, wide):
    page = open_as("instructor")
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(reverse("cases:tracker", args=[wide.course.pk]) + "?view=compact")
    assert_accessible(page)
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def test_the_gradebook_total_is_in_view_and_the_category_view_passes_axe(open_as, wide):
    page = open_as("instructor")
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(reverse("cases:gradebook", args=[wide.course.pk]))
    # 28 items are far wider than the page, yet the total is in view without scrolling.
    wrap = page.locator("#gradebook-table")
    assert wrap.evaluate("el => el.scrollWidth > el.clientWidth")
    total = page.locator("thead th.gradebook__total")
    box, frame = total.bounding_box(), wrap.bounding_box()
    assert box["x"] + box["width"] <= frame["x"] + frame["width"] + 1
    assert page.evaluate(TOP_CELL, [box["x"] + 8, box["y"] + box["height"] / 2]) == "Total"
    page.get_by_role("link", name="Category totals").click()
    expect(page.locator(".gradebook--categories")).to_be_visible()
    assert "view=categories" in page.url
    assert_accessible(page)
