"""The spectrum exercise in a real browser: a student places a company with the
keyboard, the instructor releases the class's placements, the student sees the chart."""

import pytest
from playwright.sync_api import expect

from cases.models import SpectrumPlacement
from tests.browser.conftest import assert_accessible
from tests.factories import make_case, make_spectrum

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_student_places_with_the_keyboard_and_sees_the_class_after_release(open_as, world):
    lenovo = make_case(slug="lenovo", title="Lenovo", company="Lenovo", spectrum_placement=80)
    exercise = make_spectrum(world.item.module, [world.case, lenovo], world.course.cohorts.all())
    url = exercise.item.get_absolute_url()

    student = open_as("student")
    student.goto(url)
    slider = student.get_by_label("Where to place Lenovo (0 = R, 100 = D)")
    not_placed = student.locator(f"#id_unplaced_{lenovo.pk}")
    expect(not_placed).to_be_checked()
    expect(student.locator(f"#spectrum-value-{lenovo.pk}")).to_have_text("—")
    slider.focus()
    for _ in range(3):
        slider.press("ArrowRight")
    expect(slider).to_have_value("53")
    expect(student.locator(f"#spectrum-value-{lenovo.pk}")).to_have_text("53")
    expect(not_placed).not_to_be_checked()  # Moving the slider placed it.
    student.get_by_label("Why there? (Lenovo)").fill("It assembles and sells: see ¶2.")
    assert_accessible(student)
    student.get_by_role("button", name="Save placements").click()
    expect(student.get_by_text("Your placements are saved.")).to_be_visible()
    # Lenovo only: Shanghai Bell's slider was never moved.
    assert list(SpectrumPlacement.objects.values_list("case", "position")) == [(lenovo.pk, 53)]
    # Nothing of the authors' or the class's before release.
    expect(student.locator(".chart__svg")).to_have_count(0)

    teacher = open_as("instructor")
    teacher.goto(url)
    expect(teacher.get_by_text("It assembles and sells")).to_be_visible()
    assert_accessible(teacher)
    teacher.get_by_role("button", name="Release the placements to students").click()
    expect(teacher.get_by_role("button", name="Hide the placements again")).to_be_visible()

    student.goto(url)
    expect(student.get_by_role("img", name="Where the class placed each company")).to_be_visible()
    row = student.locator("tr", has_text="Lenovo").last
    expect(row).to_contain_text("53")
    expect(row).to_contain_text("27")  # 80 - 53 from the authors.
    assert_accessible(student)
