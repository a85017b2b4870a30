"""The regional comparison: the course's companies by region, the authors' placement
only where it may be shown, and the class's placements once released."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from cases.models import (
    REGIONAL_CASE_SLUG,
    CaseReading,
    CaseStudy,
    ItemKind,
    ModuleItem,
    SpectrumPlacement,
)
from tests.factories import (
    CohortFactory,
    CourseFactory,
    ModuleFactory,
    UserFactory,
    enrol,
    make_case,
    make_spectrum,
)
from tests.helpers import PAGE_BUDGET, data_queries

pytestmark = pytest.mark.django_db


def test_regions_show_companies_and_hide_what_is_not_released(world, client_for):
    CaseStudy.objects.filter(pk=world.case.pk).update(spectrum_placement=60)
    exercise = make_spectrum(world.item.module, [world.case], [world.course.cohorts.get()])
    SpectrumPlacement.objects.create(
        exercise=exercise, user=world.users["student"], case=world.case, position=35,
        justification="", justification_html="",
    )  # fmt: skip
    url = reverse("cases:regional_comparison", args=[world.course.pk])
    student = client_for("student").get(url).content.decode()
    assert "Shanghai Bell" in student
    assert "<title>The authors: 60</title>" not in student  # Not released yet.
    assert "<title>Shanghai Bell: 35</title>" not in student
    staff = client_for("instructor").get(url).content.decode()
    assert "<title>The authors: 60</title>" in staff and "<title>Shanghai Bell: 35</title>" in staff
    CaseStudy.objects.filter(pk=world.case.pk).update(placement_released=True)
    exercise.released_at = timezone.now()
    exercise.save()
    student = client_for("student").get(url).content.decode()
    assert (
        "<title>The authors: 60</title>" in student
        and "<title>Shanghai Bell: 35</title>" in student
    )
    assert "No company from Beijing in this course yet." in student


def test_the_regions_page_says_what_it_compares_links_the_regional_case_and_what_waits(
    world, client_for
):
    url = reverse("cases:regional_comparison", args=[world.course.pk])
    student = client_for("student")
    html = student.get(url).content.decode()
    assert "grouped by region, so you can compare where the class placed each one" in html
    assert "sets out how the three regions differ" not in html  # No regional case here yet.
    assert "appears once your instructor releases a spectrum exercise on them" in html
    regional = make_case(
        slug=REGIONAL_CASE_SLUG, title="Three regions, three races", region="other", company="-"
    )
    item = ModuleItem.objects.create(
        module=world.item.module, kind=ItemKind.CASE_READING, title="Three regions", position=9
    )
    CaseReading.objects.create(item=item, case=regional)
    html = student.get(url).content.decode()
    assert f'<a href="{regional.get_absolute_url()}">Three regions, three races</a>' in html
    assert "Regional" not in html and "No company from Other" not in html  # Not a region.
    staff = client_for("instructor").get(url).content.decode()
    assert "<title>The authors: 60</title>" in staff  # Staff see the authors' at once.
    assert "once your instructor releases" not in staff


@pytest.mark.parametrize("role", ["instructor", "student"])
def test_the_regions_page_costs_the_same_queries_for_5_or_60_students(client, role):
    """Counting each exercise's class (the current members of the cohorts it is given
    to) is a subquery, not a query per student; a student sees the released one."""
    counts = []
    for size in (5, 60):
        instructor = UserFactory()
        cohort = CohortFactory()
        students = enrol(cohort, size, prefix=f"rg{size}-")
        course = CourseFactory(instructors=[instructor], cohorts=[cohort])
        module = ModuleFactory(course=course)
        regions = ["beijing", "prd"]
        cases = [make_case(slug=f"rg-{size}-{n}", region=r) for n, r in enumerate(regions)]
        for case in cases:
            item = ModuleItem.objects.create(module=module, kind=ItemKind.CASE_READING, title="R")
            CaseReading.objects.create(item=item, case=case)
        exercise = make_spectrum(module, cases, [cohort])
        exercise.released_at = timezone.now()
        exercise.save()
        SpectrumPlacement.objects.bulk_create(
            SpectrumPlacement(exercise=exercise, user=s, case=c, position=50)
            for s in students
            for c in cases
        )
        client.force_login(instructor if role == "instructor" else students[0])
        with CaptureQueriesContext(connection) as queries:
            response = client.get(reverse("cases:regional_comparison", args=[course.pk]))
        assert response.status_code == 200
        assert response.content.decode().count(": 50</title>") == 2 * size
        counts.append(data_queries(queries))
    assert counts[0] == counts[1] and counts[1] <= PAGE_BUDGET, counts


def test_a_student_with_an_open_exercise_on_a_company_sees_no_placements_of_it_here(
    world, client_for
):
    """Section B's spectrum exercise on Shanghai Bell is released; section A's own, on
    the same company, is still open. A section A student who opens the regional
    comparison before placing the company sees neither B's placements of it nor the
    authors' (released in the library): nothing anchors theirs. Released, A's shows."""
    section_a = world.course.cohorts.get()
    section_b = CohortFactory(name="Section B")
    world.course.cohorts.add(section_b)
    [bea] = enrol(section_b, 1, prefix="bea")
    CaseStudy.objects.filter(pk=world.case.pk).update(placement_released=True)
    for_b = make_spectrum(world.item.module, [world.case], [section_b], title="B places")
    SpectrumPlacement.objects.create(
        exercise=for_b, user=bea, case=world.case, position=35,
        justification="", justification_html="",
    )  # fmt: skip
    for_b.released_at = timezone.now()
    for_b.save()
    for_a = make_spectrum(world.item.module, [world.case], [section_a], title="A places")
    url = reverse("cases:regional_comparison", args=[world.course.pk])

    student = client_for("student")
    page = student.get(url).content.decode()
    assert "Shanghai Bell" in page
    assert "<title>Shanghai Bell: 35</title>" not in page
    assert "<title>The authors: 60</title>" not in page
    for_a.released_at = timezone.now()
    for_a.save()
    page = student.get(url).content.decode()
    assert "<title>Shanghai Bell: 35</title>" in page and "<title>The authors: 60</title>" in page
