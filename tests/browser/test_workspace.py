"""The instructor's workspace in a real browser: build and schedule a module, students
respond, and the tracker (and gradebook) show it without a reload."""

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from cases.models import ModuleItem
from tests.browser.conftest import assert_accessible
from tests.factories import make_case

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_new_module_is_built_scheduled_answered_and_tracked(open_as, world):
    make_case(
        slug="techfaith",
        title="TechFaith",
        company="TechFaith",
        created_by=world.users["instructor"],
    )
    teacher = open_as("instructor")
    # Build: a new module with a case reading in it.
    teacher.goto(reverse("cases:course_builder", args=[world.course.pk]))
    teacher.get_by_role("link", name="Add a module").click()
    teacher.get_by_label("Title").fill("Design houses")
    teacher.get_by_role("button", name="Add module").click()
    expect(teacher.get_by_role("heading", name="Design houses")).to_be_visible()
    teacher.get_by_role("link", name="Add an item").click()
    teacher.get_by_role("link", name="Case reading").click()  # The kind first.
    teacher.get_by_label("Module").select_option(label="Design houses")
    teacher.get_by_label("Title").fill("TechFaith: selling design")
    teacher.get_by_label("Case").select_option(label="TechFaith")
    teacher.get_by_role("button", name="Add").click()
    item = ModuleItem.objects.get(title="TechFaith: selling design")

    # Schedule it for the section, due in a week, worth 5 points.
    teacher.goto(reverse("cases:item_schedule", args=[item.pk]))
    section = teacher.locator("fieldset", has_text="Section A")
    section.get_by_label("Assigned").check()
    section.get_by_label("Due").fill("2035-03-01T17:00")
    section.get_by_label("Points").fill("5")
    teacher.get_by_role("button", name="Save schedule").click()
    expect(teacher.locator(".alert--success")).to_be_visible()

    # The tracker is open while the class works.
    teacher.goto(reverse("cases:tracker", args=[world.course.pk]))
    assert_accessible(teacher)
    teacher.evaluate("window.notReloaded = true")
    header = teacher.locator("thead th", has_text="TechFaith: selling design")
    expect(header).to_be_visible()
    row = teacher.locator("tbody tr", has_text=world.users["student"].display_name)
    column = teacher.locator("thead th").all_inner_texts().index(header.inner_text())
    cell = row.locator("th, td").nth(column)
    expect(cell).to_contain_text("Not started")

    # So is the gradebook, in another tab.
    gradebook = teacher.context.new_page()
    gradebook.goto(reverse("cases:gradebook", args=[world.course.pk]))
    student_pk = world.users["student"].pk
    grade = gradebook.locator(f'#student-{student_pk} a[href*="/items/{item.pk}/"]')
    expect(grade).to_have_text("—")

    student = open_as("student")
    student.goto(item.get_absolute_url())
    student.get_by_role("button", name="Mark as done").click()
    expect(student.get_by_text("Done ✓")).to_be_visible()

    # Within a poll or two, without reloading.
    expect(cell).to_contain_text("Graded 5", timeout=25_000)
    assert teacher.evaluate("window.notReloaded === true")
    expect(grade).to_have_text("5", timeout=35_000)  # The gradebook polls every 15 s.
    cell.get_by_role("link").click()
    panel = teacher.locator("#work-panel")
    expect(panel).to_contain_text("done")
    expect(panel).to_contain_text("5 / 5 points")
    assert_accessible(teacher)
