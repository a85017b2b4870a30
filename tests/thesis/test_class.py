"""The class's figures on a thesis item (a decision point's split, a stance check's
charts, a spectrum exercise's placements) count the current members of the cohorts the
item is given to, on a student's page and on the instructor's alike: a student who left
the course, or moved to a section not given the item, no longer counts."""

import re

import pytest
from django.urls import reverse

from cases.models import Assignment
from cases.services.thesis import PlacementInput, spectrum_save, stance_answer
from tests.factories import (
    CohortFactory,
    MembershipFactory,
    UserFactory,
    make_decision,
    make_spectrum,
    make_stance_check,
)

pytestmark = pytest.mark.django_db


def _rows(html: str, after: str) -> dict[str, list[str]]:
    """The first data table after `after` in the page: {row heading: its cells}."""
    table = html[html.index(after) :]
    table = table[table.index("<tbody>") : table.index("</tbody>")]
    rows = re.findall(r'<tr><th scope="row">(.*?)</th>(.*?)</tr>', table)
    return {
        label.removesuffix(" (yours)"): re.findall(r"<td>(.*?)</td>", cells)
        for label, cells in rows
    }


@pytest.fixture
def sections(world, client_for):
    """Section A (the world's) and Section B, both given the items; a section C of the
    course given none of them. In A, besides the student: a leaver and a mover; in B,
    a student of its own."""
    section_a = world.course.cohorts.get()
    section_b, section_c = CohortFactory(name="Section B"), CohortFactory(name="Section C")
    world.course.cohorts.add(section_b, section_c)
    people = {name: UserFactory(username=name) for name in ("leaver", "mover", "switcher", "bee")}
    for name in ("leaver", "mover", "switcher"):
        MembershipFactory(cohort=section_a, user=people[name])
    MembershipFactory(cohort=section_b, user=people["bee"])
    return {"a": section_a, "b": section_b, "c": section_c, **people}


def _given(item, *cohorts):
    for cohort in cohorts:
        Assignment.objects.create(item=item, cohort=cohort)


def _leave(client_for, sections):
    """The admin removes the leaver from section A, moves the mover to section C (not
    given the items) and the switcher to section B (given them)."""
    admin = client_for("admin")
    url = reverse("cases:cohort_members", args=[sections["a"].pk])
    admin.post(url, {"action": "remove", "students": [sections["leaver"].pk]})
    move = {"action": "move", "students": [sections["mover"].pk], "to": sections["c"].pk}
    admin.post(url, move)
    move = {"action": "move", "students": [sections["switcher"].pk], "to": sections["b"].pk}
    admin.post(url, move)
    assert not sections["leaver"].cohorts.exists()
    assert list(sections["mover"].cohorts.all()) == [sections["c"]]


def test_a_decisions_split_counts_only_students_still_given_it(world, sections, client, client_for):
    decision = make_decision(world.item.module)
    _given(decision.item, sections["a"], sections["b"])
    commit = reverse("cases:decision_commit", args=[decision.item.pk])
    data = {"rationale": "Because.", "expects": "yes", "confidence": "70"}
    for name, choice in (("leaver", 1), ("mover", 1), ("switcher", 0), ("bee", 1)):
        client.force_login(sections[name])
        assert client.post(commit, data | {"choice": choice}).status_code == 302
    _leave(client_for, sections)

    student = client_for("student")
    assert student.post(commit, data | {"choice": "0"}).status_code == 302
    page = student.get(decision.item.get_absolute_url()).content.decode()
    # The student, the switcher (now in B) and B's own student; not the leaver, nor
    # the mover, whose section is not given the decision point.
    assert "3 committed; 3 expect" in page
    seen = _rows(page, "What the class decided")
    assert seen == {"Push for own R&amp;D": ["2"], "Stay a licensee": ["1"]}

    staff = client_for("instructor").get(decision.item.get_absolute_url()).content.decode()
    assert "3 committed; 3 expect" in staff
    assert _rows(staff, "What the class decided") == seen


def test_a_stance_checks_charts_count_only_students_still_given_it(world, sections, client_for):
    stance = make_stance_check(world.item.module)
    _given(stance.item, sections["a"], sections["b"])
    for name, value in (("leaver", 1), ("mover", 1), ("switcher", 7), ("bee", 7)):
        stance_answer(stance=stance, user=sections[name], value=value, reason="Why not.")
    _leave(client_for, sections)

    student = client_for("student")
    url = reverse("cases:stance_answer", args=[stance.item.pk])
    student.post(url, {"value": "4", "reason": "Both.", "phase": "before"})
    page = student.get(stance.item.get_absolute_url()).content.decode()
    seen = _rows(page, "The class before the module")
    assert (seen["1"], seen["4"], seen["7"]) == (["0"], ["1"], ["2"])

    staff = client_for("instructor").get(stance.item.get_absolute_url()).content.decode()
    before = {label: cells[:1] for label, cells in _rows(staff, "Before and after").items()}
    assert before == seen


def test_a_spectrums_released_chart_counts_only_students_still_given_it(
    world, sections, client_for
):
    exercise = make_spectrum(world.item.module, [world.case], [sections["a"], sections["b"]])
    for name, position in (("leaver", 0), ("mover", 0), ("switcher", 90), ("bee", 90)):
        placement = PlacementInput(world.case.pk, position, "")
        spectrum_save(exercise=exercise, user=sections[name], placements=[placement])
    _leave(client_for, sections)
    save = reverse("cases:spectrum_save", args=[exercise.item.pk])
    data = {f"position_{world.case.pk}": "60", f"justification_{world.case.pk}": ""}
    assert client_for("student").post(save, data).status_code == 302
    instructor = client_for("instructor")
    instructor.post(reverse("cases:spectrum_release", args=[exercise.item.pk]))
    staff = instructor.get(exercise.item.get_absolute_url()).content.decode()

    page = client_for("student").get(exercise.item.get_absolute_url()).content.decode()
    company = world.case.company
    # Three placements, 60, 90 and 90: a mean of 80, not 48 with the two zeros.
    assert _rows(page, "Where the class placed")[company][:2] == ["3", "80.0"]
    assert _rows(staff, "Where your students placed")[company][:2] == ["3", "80.0"]


def test_the_regional_comparison_counts_each_exercises_class_as_its_page_does(
    world, sections, client_for
):
    """The leaver and the mover placed Shanghai Bell at 0 before the admin took them out
    of the exercise's sections; the switcher and B's student placed it at 90, the student
    at 60. Once the exercise is released, the regions page shows the student and the
    instructor the three placements the exercise's own page counts, not the two zeros."""
    exercise = make_spectrum(world.item.module, [world.case], [sections["a"], sections["b"]])
    for name, position in (("leaver", 0), ("mover", 0), ("switcher", 90), ("bee", 90)):
        placement = PlacementInput(world.case.pk, position, "")
        spectrum_save(exercise=exercise, user=sections[name], placements=[placement])
    _leave(client_for, sections)
    save = reverse("cases:spectrum_save", args=[exercise.item.pk])
    data = {f"position_{world.case.pk}": "60", f"justification_{world.case.pk}": ""}
    assert client_for("student").post(save, data).status_code == 302
    instructor = client_for("instructor")
    instructor.post(reverse("cases:spectrum_release", args=[exercise.item.pk]))
    regions = reverse("cases:regional_comparison", args=[world.course.pk])
    company = world.case.company
    for role in ("instructor", "student"):
        page = client_for(role).get(regions).content.decode()
        dots = re.findall(rf"<title>{re.escape(company)}: (\d+)</title>", page)
        assert sorted(dots) == ["60", "90", "90"], role
