"""The regional comparison: the course's companies by region, the authors' placement
only where it may be shown, and the class's placements once released."""

import pytest
from django.urls import reverse
from django.utils import timezone

from cases.models import CaseStudy, SpectrumPlacement
from tests.factories import make_spectrum

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
