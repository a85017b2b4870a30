"""The spectrum exercise: students place companies from R (0) to D (100), see only
their own placements until the instructor releases the class's beside the authors'."""

from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from cases.models import (
    Assignment,
    Cohort,
    ItemKind,
    LatePolicy,
    ModuleItem,
    SpectrumPlacement,
    Work,
    WorkStatus,
)
from cases.permissions import access_course
from cases.services.builder import item_create
from cases.services.thesis import PlacementInput, SpectrumRefused, spectrum_save
from cases.services.workspace.matrix import course_matrix
from tests.factories import (
    AssignmentFactory,
    CohortFactory,
    CourseFactory,
    MembershipFactory,
    ModuleFactory,
    UserFactory,
    enrol,
    make_case,
    make_spectrum,
)
from tests.helpers import PAGE_BUDGET, page_queries

pytestmark = pytest.mark.django_db


@pytest.fixture
def spectrum(world):
    lenovo = make_case(
        slug="lenovo",
        title="Lenovo",
        company="Lenovo",
        spectrum_placement=80,
        spectrum_justification="SECRET-LENOVO-REASON",
    )
    return make_spectrum(world.item.module, [world.case, lenovo], world.course.cohorts.all())


def _data(exercise, values: dict[str, tuple]) -> dict:
    """POST data from {slug: (position, justification)}."""
    by_slug = {case.slug: case.pk for case in exercise.cases.all()}
    data = {}
    for slug, (position, text) in values.items():
        data[f"position_{by_slug[slug]}"] = position
        data[f"justification_{by_slug[slug]}"] = text
    return data


def _save(client, exercise, values, **headers):
    url = reverse("cases:spectrum_save", args=[exercise.item.pk])
    return client.post(url, _data(exercise, values), headers=headers)


def _inputs(exercise, values: dict[str, tuple]) -> list[PlacementInput]:
    by_slug = {case.slug: case.pk for case in exercise.cases.all()}
    return [PlacementInput(by_slug[s], p, t) for s, (p, t) in values.items()]


def test_saving_twice_keeps_one_placement_per_company_with_the_latest_answer(spectrum, client_for):
    client = client_for("student")
    first = {"shanghai-bell": (40, "A lab, see ¶2."), "lenovo": (70, "")}
    assert _save(client, spectrum, first).status_code == 302
    assert _save(client, spectrum, first).status_code == 302
    response = _save(client, spectrum, {"shanghai-bell": (55, "Still ¶2."), "lenovo": (70, "")})
    assert response.status_code == 302
    rows = {p.case.slug: p for p in SpectrumPlacement.objects.select_related("case")}
    assert len(rows) == 2
    bell = rows["shanghai-bell"]
    assert (bell.position, bell.justification) == (55, "Still ¶2.")
    assert '<a class="cite" href="/library/shanghai-bell/#p2"' in bell.justification_html


def test_the_service_upsert_is_idempotent_and_keeps_the_first_placement_time(spectrum, world):
    student = world.users["student"]
    values = {"shanghai-bell": (10, "R-ish"), "lenovo": (90, "D")}
    spectrum_save(exercise=spectrum, user=student, placements=_inputs(spectrum, values))
    created = dict(SpectrumPlacement.objects.values_list("case__slug", "created_at"))
    spectrum_save(exercise=spectrum, user=student, placements=_inputs(spectrum, values))
    assert SpectrumPlacement.objects.count() == 2
    assert dict(SpectrumPlacement.objects.values_list("case__slug", "created_at")) == created


def test_out_of_range_and_too_long_answers_are_refused_beside_the_field_keeping_the_input(
    spectrum, client_for
):
    client = client_for("student")
    long_text = "Process innovation " * 40  # Over 600 characters.
    response = _save(
        client, spectrum, {"shanghai-bell": (150, "KEPT-WORDS ¶2"), "lenovo": (30, long_text)}
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert "Choose a place from 0 to 100." in html
    assert "Ensure this value has at most 600 characters" in html
    assert "KEPT-WORDS ¶2" in html and long_text.strip() in html
    assert 'value="150"' in html and 'value="30"' in html
    assert not SpectrumPlacement.objects.exists()


def test_a_closed_assignment_refuses_the_save_with_a_message_and_keeps_the_input(
    spectrum, client_for
):
    Assignment.objects.filter(item=spectrum.item).update(
        opens_at=timezone.now() - timedelta(days=9),
        due_at=timezone.now() - timedelta(days=1),
        late_policy=LatePolicy.REFUSE,
    )
    client = client_for("student")
    response = _save(client, spectrum, {"shanghai-bell": (33, "TOO-LATE-WORDS")})
    html = response.content.decode()
    assert response.status_code == 200
    assert "This was due and no longer accepts work." in html
    assert "TOO-LATE-WORDS" in html
    assert not SpectrumPlacement.objects.exists()
    page = client.get(spectrum.item.get_absolute_url()).content.decode()
    assert "Save placements" not in page and "no longer accepts work" in page


def test_saving_is_refused_once_the_placements_are_released(spectrum, world):
    spectrum.released_at = timezone.now()
    spectrum.save()
    with pytest.raises(SpectrumRefused):
        spectrum_save(
            exercise=spectrum,
            user=world.users["student"],
            placements=_inputs(spectrum, {"lenovo": (80, "")}),
        )


def test_before_release_a_student_sees_neither_the_authors_nor_classmates(
    spectrum, world, client_for
):
    classmate = client_for("student_ta_elsewhere")
    _save(classmate, spectrum, {"shanghai-bell": (17, "CLASSMATE-WORDS"), "lenovo": (3, "")})
    client = client_for("student")
    _save(client, spectrum, {"shanghai-bell": (50, "MY-OWN-WORDS"), "lenovo": (70, "")})
    html = client.get(spectrum.item.get_absolute_url()).content.decode()
    assert "MY-OWN-WORDS" in html
    for secret in ["CLASSMATE-WORDS", "SECRET-PLACEMENT-REASON", "SECRET-LENOVO-REASON"]:
        assert secret not in html
    assert "Authors" not in html and "chart__svg" not in html
    assert 'value="17"' not in html and 'value="3"' not in html
    assert "appears here once your instructor releases the placements" in html  # And when.


def test_after_release_a_student_sees_the_distribution_the_authors_and_their_distance(
    spectrum, client_for
):
    _save(client_for("student_ta_elsewhere"), spectrum, {"shanghai-bell": (17, "CLASSMATE")})
    client = client_for("student")
    _save(client, spectrum, {"shanghai-bell": (50, "Mine"), "lenovo": (70, "")})
    release = reverse("cases:spectrum_release", args=[spectrum.item.pk])
    assert client_for("instructor").post(release, {"release": "1"}).status_code == 302
    client = client_for("student")
    html = client.get(spectrum.item.get_absolute_url()).content.decode()
    assert "<title>Authors' placement: 60</title>" in html
    assert "<title>Shanghai Bell: 17</title>" in html  # A classmate's dot, unnamed.
    assert "once your instructor releases" not in html
    assert "<td>33.5</td>" in html  # Class mean of 17 and 50.
    # Mine, the class mean, the authors', my distance.
    assert "<td>50</td><td>33.5</td><td>60</td><td>10</td>" in html
    assert "SECRET-LENOVO-REASON" in html
    assert "CLASSMATE" not in html  # Classmates' words stay theirs.


def test_the_tracker_follows_placements_from_in_progress_to_complete(spectrum, world):
    student = world.users["student"]
    spectrum_save(
        exercise=spectrum, user=student, placements=_inputs(spectrum, {"lenovo": (80, "")})
    )
    work = Work.objects.get(item=spectrum.item, user=student)
    assert work.state == WorkStatus.IN_PROGRESS and work.auto_score is None
    user = world.users["instructor"]
    course, access = access_course(user, world.course.pk)

    def cell():
        matrix = course_matrix(user, course, access, per_page=None)
        row = next(r for r in matrix.rows if r.student.pk == student.pk)
        return next(c for c in row.cells if c.item.pk == spectrum.item.pk)

    assert cell().status == WorkStatus.IN_PROGRESS
    spectrum_save(
        exercise=spectrum,
        user=student,
        placements=_inputs(spectrum, {"lenovo": (80, ""), "shanghai-bell": (20, "")}),
    )
    work.refresh_from_db()
    assert work.state == WorkStatus.SUBMITTED and work.auto_score == work.max_score == 1
    assert cell().status == WorkStatus.GRADED


def test_staff_see_every_placement_with_the_authors_before_release(spectrum, client_for):
    _save(client_for("student"), spectrum, {"shanghai-bell": (44, "STUDENT-WORDS ¶2")})
    for role in ["instructor", "ta", "admin"]:
        html = client_for(role).get(spectrum.item.get_absolute_url()).content.decode()
        assert "STUDENT-WORDS" in html and "<title>Authors' placement: 60</title>" in html
        assert "<td>1</td>" in html  # One student placed Shanghai Bell.
        assert ("Release the placements" in html) == (role != "ta")


def test_a_ta_of_another_cohort_sees_only_their_own_students_placements(
    spectrum, world, client_for
):
    section_b = Cohort.objects.create(name="Section B")
    world.course.cohorts.add(section_b)
    section_b.teaching_assistants.add(world.users["ta"])
    newcomer = UserFactory(username="newcomer")
    MembershipFactory(cohort=section_b, user=newcomer)
    Assignment.objects.create(item=spectrum.item, cohort=section_b)
    _save(client_for("student"), spectrum, {"lenovo": (12, "SECTION-A-WORDS")})
    other = Client()
    other.force_login(newcomer)
    _save(other, spectrum, {"lenovo": (88, "SECTION-B-WORDS")})
    html = client_for("ta").get(spectrum.item.get_absolute_url()).content.decode()
    assert "SECTION-B-WORDS" in html and "SECTION-A-WORDS" not in html
    assert "<title>Lenovo: 12</title>" not in html


def test_the_save_answers_htmx_with_the_form_alone(spectrum, client_for):
    client = client_for("student")
    response = _save(client, spectrum, {"lenovo": (61, "")}, **{"HX-Request": "true"})
    html = response.content.decode()
    assert response.status_code == 200 and "HX-Request" in response["Vary"]
    assert html.lstrip().startswith('<section id="spectrum-form"') and "<html" not in html
    assert "Your placements are saved." in html


def test_the_spectrum_page_is_for_course_members_only(spectrum, client_for):
    url = spectrum.item.get_absolute_url()
    for role, status in [("student", 200), ("other_student", 404), ("other_instructor", 404)]:
        assert client_for(role).get(url).status_code == status, role


def test_a_new_spectrum_item_places_every_case_the_course_reads_by_default(world):
    item = item_create(module=world.item.module, kind=ItemKind.SPECTRUM, title="Place them")
    assert list(item.spectrum.cases.all()) == [world.case]


def test_the_add_item_form_makes_a_spectrum_exercise(world, client_for):
    client = client_for("instructor")
    lenovo = make_case(slug="lenovo", title="Lenovo", company="Lenovo")
    response = client.post(
        reverse("cases:item_create", args=[world.course.pk]),
        {
            "module": world.item.module_id,
            "kind": "spectrum",
            "title": "Where they sit",
            "spectrum_cases": [lenovo.pk],
        },
    )
    assert response.status_code == 302
    item = ModuleItem.objects.get(title="Where they sit")
    assert list(item.spectrum.cases.all()) == [lenovo]


def _class_of(size: int):
    instructor = UserFactory()
    cohort = CohortFactory()
    students = enrol(cohort, size, prefix=f"sp{size}-")
    course = CourseFactory(instructors=[instructor], cohorts=[cohort])
    cases = [make_case(slug=f"sp-{size}-{n}", company=f"Firm {n}") for n in range(4)]
    module = ModuleFactory(course=course)
    exercise = make_spectrum(module, cases)
    AssignmentFactory(item=exercise.item, cohort=cohort)
    for n, student in enumerate(students):
        values = [
            PlacementInput(c.pk, (n * 7 + i) % 101, "Because ¶1.") for i, c in enumerate(cases)
        ]
        spectrum_save(exercise=exercise, user=student, placements=values)
    exercise.released_at = timezone.now()
    exercise.save()
    return {"item": exercise.item, "student": students[0], "instructor": instructor}


@pytest.mark.parametrize("role", ["student", "instructor"])
def test_the_spectrum_page_costs_the_same_queries_for_any_class_size(client, role):
    counts = page_queries(client, _class_of, (5, 40), role)
    assert counts[0] == counts[1], counts
    assert counts[1] <= PAGE_BUDGET, counts


def test_sliders_start_unplaced_and_an_untouched_one_is_no_answer(spectrum, world, client_for):
    client = client_for("student")
    page = client.get(spectrum.item.get_absolute_url()).content.decode()
    lenovo = spectrum.cases.get(slug="lenovo")
    bell = world.case
    for case in (bell, lenovo):
        assert f'name="unplaced_{case.pk}" id="id_unplaced_{case.pk}" checked' in page
        assert f'href="{case.get_absolute_url()}"' in page  # Each company links its case.
        assert f"cite paragraphs of “{case.title}” like ¶3" in page
    assert "Where to place Lenovo" in page and "sits" not in page
    # Without script the whole form is posted: Lenovo's box still ticked, Bell's unticked.
    data = _data(spectrum, {"shanghai-bell": (50, "A lab, see ¶2."), "lenovo": (50, "")})
    data[f"unplaced_{lenovo.pk}"] = "on"
    client.post(reverse("cases:spectrum_save", args=[spectrum.item.pk]), data)
    placed = SpectrumPlacement.objects.filter(user=world.users["student"])
    assert list(placed.values_list("case__slug", "position")) == [("shanghai-bell", 50)]
    page = client.get(spectrum.item.get_absolute_url()).content.decode()
    assert f'name="unplaced_{bell.pk}"' not in page  # Placed: no box any more.
    assert f'name="unplaced_{lenovo.pk}" id="id_unplaced_{lenovo.pk}" checked' in page


def test_a_reason_written_for_a_company_left_unplaced_is_not_thrown_away(
    spectrum, world, client_for
):
    """A student places Bell, then comes back and writes why Lenovo sits where it does
    but leaves its "Not placed yet" box ticked (no script, or the slider left where it
    rests). The reason is not dropped with "saved": the form says, beside Lenovo, to
    place it, with the reason kept; placed, both are saved."""
    client = client_for("student")
    url = reverse("cases:spectrum_save", args=[spectrum.item.pk])
    lenovo = spectrum.cases.get(slug="lenovo")
    client.post(url, _data(spectrum, {"shanghai-bell": (40, "A lab, see ¶2.")}))
    data = _data(
        spectrum, {"shanghai-bell": (40, "A lab, see ¶2."), "lenovo": (50, "Mostly process work.")}
    )
    data[f"unplaced_{lenovo.pk}"] = "on"
    response = client.post(url, data)
    page = response.content.decode()
    assert response.status_code == 200
    assert "Mostly process work." in page
    assert f'id="id_position_{lenovo.pk}_error"' in page and "Not placed yet" in page
    placed = SpectrumPlacement.objects.filter(user=world.users["student"])
    assert list(placed.values_list("case__slug", flat=True)) == ["shanghai-bell"]

    del data[f"unplaced_{lenovo.pk}"]
    assert client.post(url, data).status_code == 302
    assert placed.get(case=lenovo).justification == "Mostly process work."


def test_the_authors_placement_waits_while_a_spectrum_exercise_on_the_company_is_open(
    spectrum, world, client_for
):
    """The case's authors' placement was released in the library (for another course, or
    a past term). While this class's spectrum exercise on the company is not released,
    a student who follows the exercise's link to the case, or opens the regional
    comparison, is not shown where the authors put it: nothing anchors their own
    placement. Once the instructor releases the exercise, both show it."""
    from cases.models import CaseStudy

    CaseStudy.objects.filter(pk=world.case.pk).update(placement_released=True)
    student = client_for("student")
    exercise_page = student.get(spectrum.item.get_absolute_url()).content.decode()
    assert f'href="{world.case.get_absolute_url()}"' in exercise_page
    reader = student.get(world.case.get_absolute_url()).content.decode()
    assert "SECRET-PLACEMENT-REASON" not in reader
    regions = reverse("cases:regional_comparison", args=[world.course.pk])
    assert "<title>The authors: 60</title>" not in student.get(regions).content.decode()
    # The staff see it all along.
    staff = client_for("instructor").get(world.case.get_absolute_url()).content.decode()
    assert "SECRET-PLACEMENT-REASON" in staff

    client_for("instructor").post(reverse("cases:spectrum_release", args=[spectrum.item.pk]))
    reader = student.get(world.case.get_absolute_url()).content.decode()
    assert "SECRET-PLACEMENT-REASON" in reader
    assert "<title>The authors: 60</title>" in student.get(regions).content.decode()


def test_release_hide_and_release_again_with_students_looking_in_between(spectrum, world):
    """The instructor releases the placements, takes the release back, and releases
    again. Between, the student looks each time: once hidden they see only their own
    placements again (no class dots, no authors', not in the reader or the regional
    comparison either), their words are all there, and what they change while it is
    hidden is what the second release shows."""
    from cases.models import CaseStudy

    CaseStudy.objects.filter(pk=world.case.pk).update(placement_released=True)
    student, classmate, instructor = Client(), Client(), Client()
    student.force_login(world.users["student"])
    classmate.force_login(world.users["student_ta_elsewhere"])
    instructor.force_login(world.users["instructor"])
    page = spectrum.item.get_absolute_url()
    release = reverse("cases:spectrum_release", args=[spectrum.item.pk])
    regions = reverse("cases:regional_comparison", args=[world.course.pk])
    _save(classmate, spectrum, {"shanghai-bell": (17, "CLASSMATE-WORDS"), "lenovo": (3, "")})
    _save(student, spectrum, {"shanghai-bell": (50, "MY-FIRST-WORDS ¶2"), "lenovo": (70, "")})

    assert instructor.post(release, {"release": "1"}).status_code == 302
    html = student.get(page).content.decode()
    assert "<title>Shanghai Bell: 17</title>" in html and "SECRET-LENOVO-REASON" in html
    # A save sent from a page loaded before the release is refused, every word kept.
    refused = _save(student, spectrum, {"shanghai-bell": (51, "LATE-WORDS"), "lenovo": (70, "")})
    assert refused.status_code == 200 and "LATE-WORDS" in refused.content.decode()

    hidden = instructor.post(release, {"release": "0"}, follow=True).content.decode()
    assert "Students again see only their own placements." in hidden
    assert "Release the placements to students" in hidden
    html = student.get(page).content.decode()
    assert "MY-FIRST-WORDS" in html and 'value="50"' in html and 'value="70"' in html
    for shown in ["<title>Shanghai Bell: 17</title>", "SECRET-LENOVO-REASON", "chart__svg"]:
        assert shown not in html
    assert "Authors" not in html and "CLASSMATE-WORDS" not in html
    assert "appears here once your instructor releases the placements" in html
    assert "Save placements" in html
    assert (
        "SECRET-PLACEMENT-REASON" not in student.get(world.case.get_absolute_url()).content.decode()
    )
    region_html = student.get(regions).content.decode()
    assert "<title>The authors: 60</title>" not in region_html
    assert "Shanghai Bell: 17" not in region_html
    # Hiding twice (a second tab) changes nothing and loses nothing.
    assert instructor.post(release, {"release": "0"}).status_code == 302
    # The student changes their mind while it is hidden.
    assert (
        _save(
            student, spectrum, {"shanghai-bell": (35, "MY-SECOND-WORDS"), "lenovo": (70, "")}
        ).status_code
        == 302
    )
    assert SpectrumPlacement.objects.filter(user=world.users["student"]).count() == 2
    assert SpectrumPlacement.objects.filter(user=world.users["student_ta_elsewhere"]).count() == 2

    assert instructor.post(release, {"release": "1"}).status_code == 302
    html = student.get(page).content.decode()
    assert "<title>Shanghai Bell: 17</title>" in html and "<title>Shanghai Bell: 35</title>" in html
    assert "<td>35</td><td>26.0</td><td>60</td><td>25</td>" in html
    assert "SECRET-PLACEMENT-REASON" in student.get(world.case.get_absolute_url()).content.decode()
    staff = instructor.get(page).content.decode()
    assert "MY-SECOND-WORDS" in staff and "CLASSMATE-WORDS" in staff
