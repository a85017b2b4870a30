"""Scheduling an item for cohorts, extensions, and the deadlines page, with dates in the
course's time zone."""

import html as html_lib
import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse
from django.utils import timezone

from cases.models import Assignment, Extension, LatePolicy, ModuleItem, assignment_for_student
from cases.services.schedule import ExtensionTooEarly, extensions_grant
from tests.factories import AssignmentFactory, CohortFactory, MembershipFactory, ModuleItemFactory

pytestmark = pytest.mark.django_db

SHANGHAI = ZoneInfo("Asia/Shanghai")


def _row(cohort, **values) -> dict:
    fields = {
        "assigned": "on",
        "opens_at": "",
        "due_at": "",
        "points": "10",
        "late_policy": "accept",
        "late_penalty_percent": "0",
        "late_until": "",
    } | values
    return {
        f"cohort-{cohort.pk}-{name}": value for name, value in fields.items() if value is not None
    }


@pytest.fixture
def shanghai(world):
    world.course.time_zone = "Asia/Shanghai"
    world.course.save()
    return world.item.assignments.get().cohort


def test_a_date_typed_in_the_course_zone_is_stored_in_utc_and_shown_back(
    world, client_for, shanghai
):
    client = client_for("instructor")
    url = reverse("cases:item_schedule", args=[world.item.pk])
    response = client.post(url, {"action": "save"} | _row(shanghai, due_at="2030-03-01T09:00"))
    assert response.status_code == 302
    assignment = world.item.assignments.get()
    assert assignment.due_at == datetime(2030, 3, 1, 1, 0, tzinfo=UTC)
    html = client.get(url).content.decode()
    assert 'value="2030-03-01T09:00"' in html
    assert "Asia/Shanghai" in html


def test_the_time_zone_does_not_leak_into_the_next_request(world, client_for, shanghai):
    client_for("instructor").get(reverse("cases:item_schedule", args=[world.item.pk]))
    assert timezone.get_current_timezone_name() == "UTC"


@pytest.mark.parametrize(
    ("values", "message"),
    [
        (
            {"opens_at": "2030-03-02T09:00", "due_at": "2030-03-01T09:00"},
            "The due date must come after the opening date.",
        ),
        (
            {"due_at": "2030-03-01T09:00", "late_until": "2030-02-28T09:00"},
            "The cut-off must not come before the due date.",
        ),
        ({"late_until": "2030-02-28T09:00"}, "A cut-off needs a due date."),
        (
            {
                "due_at": "2030-03-01T09:00",
                "late_policy": "penalize",
                "late_penalty_percent": "150",
            },
            "The penalty is a percent from 0 to 100.",
        ),
    ],
)
def test_invalid_dates_come_back_with_the_error_beside_the_field_and_input_kept(
    world, client_for, shanghai, values, message
):
    before = world.item.assignments.get().due_at
    response = client_for("instructor").post(
        reverse("cases:item_schedule", args=[world.item.pk]),
        {"action": "save"} | _row(shanghai, points="17", **values),
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert message in html
    assert 'class="field__errors"' in html
    assert 'value="17"' in html
    for value in values.values():
        if "T" in value:
            assert f'value="{value}"' in html
    assert world.item.assignments.get().due_at == before


def test_unticking_a_cohort_takes_the_item_back(world, client_for, shanghai):
    client_for("instructor").post(
        reverse("cases:item_schedule", args=[world.item.pk]),
        {"action": "save"} | _row(shanghai, assigned=None, points=""),
    )
    assert not world.item.assignments.exists()


def test_a_penalty_policy_is_saved_with_its_percent_and_cut_off(world, client_for, shanghai):
    client_for("instructor").post(
        reverse("cases:item_schedule", args=[world.item.pk]),
        {"action": "save"}
        | _row(
            shanghai,
            opens_at="2030-02-20T08:00",
            due_at="2030-03-01T09:00",
            late_policy="penalize",
            late_penalty_percent="10",
            late_until="2030-03-03T09:00",
            points="20",
        ),
    )
    assignment = world.item.assignments.get()
    assert assignment.late_policy == LatePolicy.PENALIZE
    assert assignment.late_penalty_percent == 10
    assert assignment.points == 20
    assert assignment.opens_at == datetime(2030, 2, 20, 0, 0, tzinfo=UTC)
    assert assignment.late_until == datetime(2030, 3, 3, 1, 0, tzinfo=UTC)


def test_the_same_dates_apply_to_several_cohorts_at_once(world, client_for):
    second, third = CohortFactory(name="Section B"), CohortFactory(name="Section C")
    world.course.cohorts.add(second, third)
    first = world.item.assignments.get().cohort
    client_for("instructor").post(
        reverse("cases:item_schedule", args=[world.item.pk]),
        {
            "action": "apply",
            "bulk-cohorts": [first.pk, second.pk],
            "bulk-due_at": "2030-04-01T12:00",
            "bulk-points": "5",
            "bulk-late_policy": "refuse",
            "bulk-late_penalty_percent": "0",
        },
    )
    rows = {a.cohort: a for a in world.item.assignments.all()}
    assert set(rows) == {first, second}
    assert {a.due_at for a in rows.values()} == {datetime(2030, 4, 1, 12, tzinfo=UTC)}
    assert {a.late_policy for a in rows.values()} == {LatePolicy.REFUSE}


def test_apply_needs_a_cohort(world, client_for):
    world.course.cohorts.add(CohortFactory())
    response = client_for("instructor").post(
        reverse("cases:item_schedule", args=[world.item.pk]),
        {"action": "apply", "bulk-due_at": "2030-04-01T12:00", "bulk-points": "5",
         "bulk-late_policy": "accept", "bulk-late_penalty_percent": "0"},
    )  # fmt: skip
    assert "Choose at least one cohort." in response.content.decode()
    assert 'value="2030-04-01T12:00"' in response.content.decode()


def test_extensions_for_several_students_at_once_replace_earlier_ones(world, client_for):
    client = client_for("instructor")
    url = reverse("cases:extension_grant", args=[world.item.pk])
    students = [world.users["student"], world.users["student_ta_elsewhere"]]
    data = {"students": [s.pk for s in students], "due_at": "2030-05-01T09:00", "reason": "Trip"}
    assert client.post(url, data).status_code == 302
    assert Extension.objects.filter(assignment__item=world.item).count() == 2
    client.post(url, data | {"due_at": "2030-05-08T09:00", "late_until": "2030-05-09T09:00"})
    extensions = Extension.objects.filter(assignment__item=world.item)
    assert extensions.count() == 2
    assert {e.due_at for e in extensions} == {datetime(2030, 5, 8, 9, tzinfo=UTC)}
    assert {e.created_by for e in extensions} == {world.users["instructor"]}
    seen = assignment_for_student(world.item.pk, world.users["student"])
    assert seen.due_at == datetime(2030, 5, 8, 9, tzinfo=UTC)
    page = client.get(reverse("cases:item_schedule", args=[world.item.pk])).content.decode()
    assert "Trip" in page


def test_an_extension_is_only_for_students_the_item_is_given_to(world, client_for):
    response = client_for("instructor").post(
        reverse("cases:extension_grant", args=[world.item.pk]),
        {"students": [world.users["other_student"].pk], "due_at": "2030-05-01T09:00"},
    )
    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()
    assert not Extension.objects.exists()


def test_an_extensions_cut_off_may_not_precede_its_due_date(world, client_for):
    response = client_for("instructor").post(
        reverse("cases:extension_grant", args=[world.item.pk]),
        {
            "students": [world.users["student"].pk],
            "due_at": "2030-05-01T09:00",
            "late_until": "2030-04-01T09:00",
        },
    )
    assert "The cut-off must not come before the due date." in response.content.decode()
    assert not Extension.objects.exists()


def test_removing_an_extension(world, client_for):
    assignment = world.item.assignments.get()
    extension = Extension.objects.create(
        assignment=assignment, user=world.users["student"], due_at=assignment.due_at
    )
    other_item = ModuleItemFactory(module=world.item.module)
    client = client_for("instructor")
    # Through another item's address, it is not found.
    wrong = reverse("cases:extension_delete", args=[other_item.pk, extension.pk])
    assert client.post(wrong).status_code == 404
    client.post(reverse("cases:extension_delete", args=[world.item.pk, extension.pk]))
    assert not Extension.objects.exists()


@pytest.fixture
def deadlines(world, shanghai):
    """Two items due tomorrow evening UTC (the morning after in Shanghai): one for the
    student's cohort, extended for the student, one for another cohort."""
    elsewhere = CohortFactory(name="Section B")
    world.course.cohorts.add(elsewhere)
    MembershipFactory(cohort=elsewhere, user=world.users["other_student"])
    due = (timezone.now() + timedelta(days=2)).replace(hour=17, minute=0, second=0, microsecond=0)
    Assignment.objects.filter(cohort=shanghai).update(due_at=due)
    theirs = ModuleItemFactory(module=world.item.module, title="Only for Section B")
    AssignmentFactory(item=theirs, cohort=elsewhere, due_at=due)
    Extension.objects.create(
        assignment=world.item.assignments.get(),
        user=world.users["student"],
        due_at=due + timedelta(days=3),
    )
    return due


def test_staff_see_every_cohorts_deadlines_by_day_in_the_course_zone(world, client_for, deadlines):
    html = (
        client_for("ta")
        .get(reverse("cases:course_deadlines", args=[world.course.pk]))
        .content.decode()
    )
    shanghai_day = (deadlines + timedelta(hours=8)).date()
    assert f'datetime="{shanghai_day:%Y-%m-%d}"' in html
    assert "Only for Section B" in html
    assert "Section A ·" in html and "Section B ·" in html
    assert ">01:00<" in html  # 17:00 UTC is 01:00 the next day in Shanghai.


def test_a_student_sees_only_their_own_deadlines_with_their_extension(world, client_for, deadlines):
    html = (
        client_for("student")
        .get(reverse("cases:course_deadlines", args=[world.course.pk]))
        .content.decode()
    )
    assert "Only for Section B" not in html
    assert "Section B" not in html
    extended_day = (deadlines + timedelta(days=3, hours=8)).date()
    section = html.split(f'datetime="{extended_day:%Y-%m-%d}"')[1]
    assert "Shanghai Bell" in section.split("</section>")[0]
    assert "extended for you" in html
    # Another student of the same cohort keeps the cohort's date.
    other = (
        client_for("student_ta_elsewhere")
        .get(reverse("cases:course_deadlines", args=[world.course.pk]))
        .content.decode()
    )
    assert "extended for you" not in other


def test_the_course_page_links_to_deadlines(world, client_for):
    url = reverse("cases:course_deadlines", args=[world.course.pk])
    assert url in client_for("student").get(world.course.get_absolute_url()).content.decode()


def test_course_pages_show_dates_in_the_course_zone(world, client_for, shanghai):
    world.item.assignments.update(due_at=datetime(2030, 3, 1, 1, 0, tzinfo=UTC))
    html = client_for("student").get(world.course.get_absolute_url()).content.decode()
    assert "Fri 1 Mar, 09:00" in html
    assert "Times are in Asia/Shanghai." in html


def test_adding_an_item_reads_its_due_date_in_the_course_zone(world, client_for, shanghai):
    client_for("instructor").post(
        reverse("cases:item_create", args=[world.course.pk]),
        {
            "module": world.item.module_id,
            "kind": "quiz",
            "title": "Zoned quiz",
            "cohorts": [shanghai.pk],
            "due_at": "2030-03-01T09:00",
        },
    )
    assignment = Assignment.objects.get(item__title="Zoned quiz")
    assert assignment.due_at == datetime(2030, 3, 1, 1, 0, tzinfo=UTC)


def _typed(when: datetime, zone=UTC) -> str:
    """A moment as typed in a datetime-local field in `zone`."""
    return f"{when.astimezone(zone):%Y-%m-%dT%H:%M}"


def test_an_extension_must_come_after_the_cohorts_date_and_goes_once_the_date_passes_it(
    world, client_for, shanghai
):
    """The tester's journey: with the cohort due in ten days, an "extension" to a day
    already past, and then to the cohort's own date, is refused beside the field, with
    what was typed kept; the student's pages stay as they were (the quiz still due on
    their dashboard, nothing "extended"). A later date is granted. When the instructor
    then moves the cohort's date past that extension, it is removed and the page says
    whose; the student sees the cohort's new date, and a later extension may be granted
    again."""
    item, student = world.quiz.item, world.users["student"]
    cohort_due = (timezone.now() + timedelta(days=10)).replace(second=0, microsecond=0)
    item.assignments.update(due_at=cohort_due)
    grant = reverse("cases:extension_grant", args=[item.pk])
    schedule = reverse("cases:item_schedule", args=[item.pk])

    def student_pages():
        home = client_for("student").get(reverse("cases:home")).content.decode()
        course = client_for("student").get(world.course.get_absolute_url()).content.decode()
        return home.split('id="due-heading"')[1].split("</section>")[0], course

    too_early = [cohort_due - timedelta(days=14), cohort_due]
    for role, when in zip(["admin", "instructor"], too_early, strict=True):
        typed = _typed(when, SHANGHAI)
        response = client_for(role).post(
            grant, {"students": [student.pk], "due_at": typed, "reason": "Flu"}
        )
        html = response.content.decode()
        assert response.status_code == 200
        errors = html.split('id="id_due_at"')[1].split("</ul>")[0]
        local = cohort_due.astimezone(SHANGHAI)
        shown = f"{local:%a} {local.day} {local:%b %Y}, {local:%H:%M}"
        assert f"Section A is due {shown}: an extension must come after that." in errors
        assert f'value="{typed}"' in html and 'value="Flu"' in html
        assert re.search(rf'value="{student.pk}" id="id_students_\d" checked', html)
        assert not Extension.objects.exists()
        due, course = student_pages()
        assert item.title in due and "extended" not in due
        assert "(extended)" not in course

    later = cohort_due + timedelta(days=3)
    response = client_for("instructor").post(
        grant, {"students": [student.pk], "due_at": _typed(later, SHANGHAI), "reason": "Flu"}
    )
    assert response.status_code == 302
    assert Extension.objects.get().due_at == later
    due, course = student_pages()
    assert "(extended for you)" in due and "(extended)" in course

    # The cohort's date moves past the extension: it extends nothing, and goes.
    moved = cohort_due + timedelta(days=5)
    response = client_for("instructor").post(
        schedule,
        {"action": "save"} | _row(shanghai, due_at=_typed(moved, SHANGHAI)),
        follow=True,
    )
    html = response.content.decode()
    assert "Schedule saved." in html
    assert "1 extension no longer came after the cohort&#x27;s due date" in html
    assert f"{student.display_name} (Section A, " in html
    assert not Extension.objects.exists()
    assert "No extensions yet." in html
    due, course = student_pages()
    assert item.title in due and "extended" not in due
    assert "(extended)" not in course
    assert assignment_for_student(item.pk, student).due_at == moved
    # A later extension is granted again, against the cohort's new date.
    response = client_for("admin").post(
        grant, {"students": [student.pk], "due_at": _typed(moved + timedelta(days=1), SHANGHAI)}
    )
    assert response.status_code == 302
    assert "(extended for you)" in student_pages()[0]


def test_a_cohorts_date_moved_while_an_extension_is_granted_is_said_beside_the_field(
    world, client_for, monkeypatch
):
    """Another instructor moves the cohort's date past the extension between the form's
    check and the grant (the grant is wrapped to move it then): the page says so beside
    the field, what was typed kept, where it answered 500."""
    from cases.services import schedule

    item, student = world.item, world.users["student"]
    assignment = item.assignments.get()
    wanted = assignment.due_at + timedelta(days=2)
    grant = schedule.extensions_grant

    def moved_meanwhile(**kwargs):
        Assignment.objects.filter(pk=assignment.pk).update(due_at=wanted + timedelta(days=1))
        return grant(**kwargs)

    monkeypatch.setattr(schedule, "extensions_grant", moved_meanwhile)
    url = reverse("cases:extension_grant", args=[item.pk])
    response = client_for("instructor").post(
        url, {"students": [student.pk], "due_at": _typed(wanted), "reason": "Ill"}
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert "Section A is due " in html and 'value="Ill"' in html
    assert not Extension.objects.exists()


def test_an_extension_comes_after_every_cohort_of_the_student_that_has_the_item(world, client_for):
    """A student in two cohorts given the item on different dates: an extension between
    the two extends only one, and is refused naming the other; one cohort with no due
    date has nothing to extend. An extension from before this rule, earlier than its
    cohort's date, is flagged on the schedule page until it is removed."""
    item, student = world.item, world.users["student"]
    first = item.assignments.get()
    second = CohortFactory(name="Section B")
    world.course.cohorts.add(second)
    MembershipFactory(cohort=second, user=student)
    AssignmentFactory(item=item, cohort=second, due_at=first.due_at + timedelta(days=4))
    between = first.due_at + timedelta(days=2)
    client = client_for("instructor")
    grant = reverse("cases:extension_grant", args=[item.pk])
    for _ in range(2):
        html = client.post(
            grant, {"students": [student.pk], "due_at": _typed(between)}
        ).content.decode()
        assert "Section B is due " in html and "Section A is due" not in html
        assert not Extension.objects.exists()
    item.assignments.filter(cohort=second).update(due_at=None)
    html = client.post(
        grant, {"students": [student.pk], "due_at": _typed(between)}
    ).content.decode()
    assert "Section B has no due date for this item, so there is nothing to extend" in html
    # The service refuses it too, whoever calls it.
    with pytest.raises(ExtensionTooEarly, match="must come after"):
        extensions_grant(item=item, users=[student], due_at=between, by=world.users["instructor"])
    assert not Extension.objects.exists()

    # A row from before the rule: flagged on the schedule page, and only that one.
    Extension.objects.create(assignment=first, user=student, due_at=first.due_at)
    Extension.objects.create(
        assignment=first, user=world.users["student_ta_elsewhere"], due_at=between
    )
    page = client.get(reverse("cases:item_schedule", args=[item.pk])).content.decode()
    assert page.count("extends nothing") == 1
    assert "Not after Section A\N{RIGHT SINGLE QUOTATION MARK}s due date" in page


def _hidden_fields(html: str) -> dict:
    """What a page's form posts back unseen: its hidden inputs, several values a name."""
    fields: dict[str, list[str]] = {}
    for name, value in re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', html):
        fields.setdefault(name, []).append(html_lib.unescape(value))
    return fields


def test_taking_an_item_away_from_a_cohort_with_work_asks_first_and_says_what_goes(
    world, client_for, shanghai
):
    """The student hands in the reading, the instructor grades it, releases the grades
    and extends a classmate. Unticking the cohort then asks first, saying what goes (one
    student's work, one released grade, one extension) and changing nothing; going back
    keeps what was typed. Confirmed (by the admin, the second time), the item is gone for
    the cohort, grade included; given back, the work returns but the grade waits to be
    released again, as the page said. An item with nothing at stake just saves."""
    item, student, classmate = (
        world.item,
        world.users["student"],
        world.users["student_ta_elsewhere"],
    )
    course = world.course
    schedule = reverse("cases:item_schedule", args=[item.pk])
    grades = reverse("cases:student_grades", args=[course.pk])
    client_for("student").post(reverse("cases:reading_done", args=[world.case.slug]), {"done": "1"})
    client_for("instructor").post(
        reverse("cases:grade_edit", args=[course.pk, student.pk, item.pk]),
        {"override_score": "8", "override_reason": "Read closely", "feedback": "Well argued."},
    )
    assignment = item.assignments.get()
    client_for("instructor").post(
        reverse("cases:assignment_release", args=[assignment.pk]), {"release": "1"}
    )
    client_for("instructor").post(
        reverse("cases:extension_grant", args=[item.pk]),
        {"students": [classmate.pk], "due_at": _typed(assignment.due_at + timedelta(days=2))},
    )
    page = client_for("student").get(grades).content.decode()
    assert "8 / 10" in page and "Well argued." in page

    untick = {"action": "save"} | _row(shanghai, assigned=None, points="12")
    for role in ["instructor", "admin"]:
        response = client_for(role).post(schedule, untick)
        html = response.content.decode()
        assert response.status_code == 200
        assert "Take “Shanghai Bell” away from Section A?" in html
        text = re.sub(r"<[^>]+>", "", html)
        assert "1 student with work on it" in text
        assert "1 released grade will leave the student\N{RIGHT SINGLE QUOTATION MARK}s" in text
        assert "1 extension will be deleted" in text
        assert "its grades released again" in text
        # Nothing changed yet: the student still has the item, grade and all.
        assert item.assignments.get().grades_released_at is not None
        assert Extension.objects.count() == 1
        assert client_for("student").get(item.get_absolute_url()).status_code == 200
        # Back to the schedule: what was typed is there, the box still unticked.
        carried = _hidden_fields(html)
        assert carried["confirmed"] == ["1"]
        back = client_for(role).post(schedule, carried | {"action": "edit"}).content.decode()
        assert f'name="cohort-{shanghai.pk}-points" value="12"' in back
        assert (
            f'name="cohort-{shanghai.pk}-assigned" id="id_cohort-{shanghai.pk}-assigned">' in back
        )
        assert item.assignments.exists()

    response = client_for("admin").post(schedule, carried | {"action": "save"})
    assert response.status_code == 302
    assert not item.assignments.exists() and not Extension.objects.exists()
    assert client_for("student").get(item.get_absolute_url()).status_code == 404
    assert "Well argued." not in client_for("student").get(grades).content.decode()

    # Given back: the work is there again, its grade not released until released again.
    due = _typed(timezone.now() + timedelta(days=4), SHANGHAI)
    response = client_for("instructor").post(
        schedule, {"action": "save"} | _row(shanghai, due_at=due)
    )
    assert response.status_code == 302
    assert client_for("student").get(item.get_absolute_url()).status_code == 200
    page = client_for("student").get(grades).content.decode()
    row = page.split("Shanghai Bell")[1].split("</tr>")[0]
    assert "Not released" in row and "Well argued." not in page
    course_page = client_for("student").get(course.get_absolute_url()).content.decode()
    assert 'data-status="graded">Done<' in course_page  # Handed in, and graded, as before.

    # Nothing at stake (no work, no extension): unticking just saves.
    quiet = ModuleItemFactory(module=item.module, title="Nobody started this")
    AssignmentFactory(item=quiet, cohort=shanghai)
    response = client_for("instructor").post(
        reverse("cases:item_schedule", args=[quiet.pk]),
        {"action": "save"} | _row(shanghai, assigned=None, points=""),
    )
    assert response.status_code == 302 and not quiet.assignments.exists()


def test_a_student_who_keeps_the_item_through_another_cohort_loses_nothing(world, client_for):
    """The student is in two cohorts given the reading and has handed it in: taking it
    from one of them costs them nothing (no question asked, the item still theirs);
    taking it from the other then asks, counting them."""
    item, student = world.item, world.users["student"]
    first = item.assignments.get().cohort
    second = CohortFactory(name="Section B")
    world.course.cohorts.add(second)
    MembershipFactory(cohort=second, user=student)
    AssignmentFactory(item=item, cohort=second)
    client_for("student").post(reverse("cases:reading_done", args=[world.case.slug]), {"done": "1"})
    schedule = reverse("cases:item_schedule", args=[item.pk])
    due = _typed(timezone.now() + timedelta(days=5))
    response = client_for("instructor").post(
        schedule, {"action": "save"} | _row(first, assigned=None) | _row(second, due_at=due)
    )
    assert response.status_code == 302
    assert list(item.assignments.values_list("cohort", flat=True)) == [second.pk]
    assert client_for("student").get(item.get_absolute_url()).status_code == 200
    untick_both = {"action": "save"} | _row(first, assigned=None) | _row(second, assigned=None)
    html = client_for("instructor").post(schedule, untick_both).content.decode()
    assert "Take “Shanghai Bell” away from Section B?" in html
    assert "1 student with work on it" in re.sub(r"<[^>]+>", "", html)
    assert item.assignments.exists()


def test_an_extension_never_leaves_its_student_an_earlier_cut_off_than_the_cohorts(
    world, client_for, shanghai
):
    """The tester's journey: a student off sick is given until yesterday, with late
    work taken until an hour ago; the instructor then gives the whole cohort three more
    days to hand in late work. The student's classmates post late; the student, whose
    extension was to give them more time, was refused: "The cut-off for late work has
    passed." A student's cut-off is the later of their extension's and their cohort's,
    on every page that reads it (no cut-off counting as the latest)."""
    item, student = world.discussion.item, world.users["student"]
    now = timezone.now().replace(second=0, microsecond=0)
    due, cutoff = now - timedelta(days=3), now - timedelta(days=2)
    schedule = reverse("cases:item_schedule", args=[item.pk])
    instructor = client_for("instructor")
    row = _row(shanghai, due_at=_typed(due, SHANGHAI), late_until=_typed(cutoff, SHANGHAI))
    # The fixture's post, on time until now, counts as late: confirmed.
    saved = instructor.post(schedule, {"action": "save", "confirmed": "1"} | row)
    assert saved.status_code == 302
    grant = {
        "students": [student.pk],
        "due_at": _typed(now - timedelta(days=1), SHANGHAI),
        "late_until": _typed(now - timedelta(hours=1), SHANGHAI),
        "reason": "Flu",
    }
    response = instructor.post(reverse("cases:extension_grant", args=[item.pk]), grant)
    assert response.status_code == 302
    later = now + timedelta(days=3)
    row = _row(shanghai, due_at=_typed(due, SHANGHAI), late_until=_typed(later, SHANGHAI))
    assert instructor.post(schedule, {"action": "save"} | row).status_code == 302
    assert Extension.objects.filter(user=student).exists(), "it still extends the due date"

    post = reverse("cases:post_create", args=[item.pk])
    response = client_for("student_ta_elsewhere").post(post, {"body": "Late, but in."})
    assert response.status_code == 302
    response = client_for("student").post(post, {"body": "Sick, now back."})
    assert "cut-off" not in response.content.decode()
    assert response.status_code == 302
    seen = assignment_for_student(item.pk, student)
    assert seen.extended and seen.late_until == later
    # The schedule page gives the student's cut-off as it stands: the cohort's later one.
    page = client_for("instructor").get(schedule).content.decode()
    row = page.split('id="extensions-heading"')[1].split("</tr>", 2)[1]
    assert f'<time datetime="{timezone.localtime(later, SHANGHAI).isoformat()}"' in row


def test_adding_an_item_says_which_zone_its_due_date_is_typed_in(world, client_for, shanghai):
    """An instructor in another zone adds an item to a Shanghai course: the schedule
    page says dates are typed in Asia/Shanghai, the "add an item" form's due date said
    nothing, and 09:00 meant Shanghai's 09:00 whatever they had in mind."""
    url = reverse("cases:item_create", args=[world.course.pk]) + "?kind=quiz"
    html = client_for("instructor").get(url).content.decode()
    field = next(c for c in html.split('<div class="field')[1:] if 'name="due_at"' in c)
    assert "Time zone: Asia/Shanghai." in field


def test_an_item_that_opens_later_stays_off_the_students_grades_page_until_it_opens(
    world, client_for, shanghai
):
    """Next week's quiz, scheduled to open then: the student's course page and dashboard
    leave it out until it opens, but their grades page listed it, linked to a page they
    were refused ("not found"). It shows there once it is open, as everywhere else."""
    from tests.factories import make_quiz

    item = make_quiz(world.item.module, title="Week 9 quiz").item
    now = timezone.now().replace(second=0, microsecond=0)
    opens, due = now + timedelta(days=7), now + timedelta(days=8)
    schedule = reverse("cases:item_schedule", args=[item.pk])
    row = _row(shanghai, opens_at=_typed(opens, SHANGHAI), due_at=_typed(due, SHANGHAI))
    assert client_for("instructor").post(schedule, {"action": "save"} | row).status_code == 302

    student = client_for("student")
    grades = student.get(reverse("cases:student_grades", args=[world.course.pk])).text
    assert "Week 9 quiz" not in student.get(world.course.get_absolute_url()).text
    assert student.get(item.get_absolute_url()).status_code == 404
    assert "Week 9 quiz" not in grades
    assert "Shanghai Bell" in grades  # What is open is listed.

    row = _row(
        shanghai, opens_at=_typed(now - timedelta(hours=1), SHANGHAI), due_at=_typed(due, SHANGHAI)
    )
    assert client_for("instructor").post(schedule, {"action": "save"} | row).status_code == 302
    student = client_for("student")
    grades = student.get(reverse("cases:student_grades", args=[world.course.pk])).text
    assert "Week 9 quiz" in grades
    assert student.get(item.get_absolute_url()).status_code == 200


def test_moving_a_due_date_before_work_already_handed_in_asks_first(world, client_for, shanghai):
    """The reading was due Friday with a 10% a day penalty; the student handed it in on
    Wednesday and their grade was released. The instructor moves the due date to
    Monday: saved at once, the on-time work became late and lost 20%, released, with
    nothing said. The schedule page now asks first, saying whose handed-in work would
    count as late, with what was typed kept; confirmed, it saves."""
    item = world.item
    now = timezone.now().replace(second=0, microsecond=0)
    friday = now + timedelta(days=2)
    schedule = reverse("cases:item_schedule", args=[item.pk])
    penalty = {"late_policy": "penalize", "late_penalty_percent": "10"}
    row = _row(shanghai, due_at=_typed(friday, SHANGHAI), **penalty)
    assert client_for("instructor").post(schedule, {"action": "save"} | row).status_code == 302
    client_for("student").post(reverse("cases:reading_done", args=[world.case.slug]), {"done": "1"})
    assignment = item.assignments.get()
    client_for("instructor").post(
        reverse("cases:assignment_release", args=[assignment.pk]), {"release": "1"}
    )
    grades = reverse("cases:student_grades", args=[world.course.pk])
    assert "10 / 10" in client_for("student").get(grades).content.decode()

    monday = now - timedelta(days=2)
    moved = {"action": "save"} | _row(shanghai, due_at=_typed(monday, SHANGHAI), **penalty)
    response = client_for("instructor").post(schedule, moved)
    assert response.status_code == 200
    text = re.sub(r"<[^>]+>", "", response.content.decode())
    assert "1 student handed in before the due date it had, after the new one" in text
    assert "1 of them was shown their grade" in text
    assert item.assignments.get().due_at == friday
    assert "10 / 10" in client_for("student").get(grades).content.decode()
    carried = _hidden_fields(response.content.decode())
    back = client_for("instructor").post(schedule, carried | {"action": "edit"}).content.decode()
    assert f'value="{_typed(monday, SHANGHAI)}"' in back

    response = client_for("instructor").post(schedule, carried | {"action": "save"})
    assert response.status_code == 302
    assert item.assignments.get().due_at == monday
    assert "10 / 10" not in client_for("student").get(grades).content.decode()
    # Moved later again: nothing handed in becomes late, so it just saves.
    later = {"action": "save"} | _row(shanghai, due_at=_typed(friday, SHANGHAI), **penalty)
    assert client_for("instructor").post(schedule, later).status_code == 302


def test_the_same_dates_applied_to_several_cohorts_ask_first_too(world, client_for, shanghai):
    """The same move done with "Apply the same dates to several cohorts": it saved at
    once, the handed-in reading made late. It asks first as the cohort's own row does;
    going back keeps the dates typed in the form they were typed in."""
    item = world.item
    world.course.cohorts.add(CohortFactory(name="Section B"))
    now = timezone.now().replace(second=0, microsecond=0)
    schedule = reverse("cases:item_schedule", args=[item.pk])
    row = _row(shanghai, due_at=_typed(now + timedelta(days=2), SHANGHAI))
    assert client_for("instructor").post(schedule, {"action": "save"} | row).status_code == 302
    client_for("student").post(reverse("cases:reading_done", args=[world.case.slug]), {"done": "1"})
    monday = _typed(now - timedelta(days=2), SHANGHAI)
    bulk = {
        "action": "apply",
        "bulk-cohorts": [shanghai.pk],
        "bulk-due_at": monday,
        "bulk-points": "10",
        "bulk-late_policy": "accept",
        "bulk-late_penalty_percent": "0",
    }
    response = client_for("instructor").post(schedule, bulk)
    assert response.status_code == 200
    html = response.content.decode()
    assert "1 student handed in before the due date it had, after the new one" in re.sub(
        r"<[^>]+>", "", html
    )
    assert item.assignments.get().due_at == now + timedelta(days=2)
    carried = _hidden_fields(html)
    back = client_for("instructor").post(schedule, carried | {"action": "apply_edit"})
    assert f'name="bulk-due_at" value="{monday}"' in back.content.decode()
    response = client_for("instructor").post(schedule, carried | {"action": "apply"})
    assert response.status_code == 302
    assert item.assignments.get().due_at == now - timedelta(days=2)


def _field(html: str, name: str) -> str:
    """The `field` block of a form field by its input name: its label, inputs, errors."""
    return next(c for c in html.split('<div class="field')[1:] if f'name="{name}"' in c)


def test_an_archived_cohort_is_offered_no_new_work_and_keeps_what_it_had(world, client_for):
    """Last term's Section A is archived; this term's Section B takes the course. The
    add-item form and the schedule page still offered Section A, so new work could be
    given to a cohort that had ended. They offer Section B only; Section A's existing
    dates are still listed, marked archived and not editable, and saving the schedule
    leaves them alone. A post naming Section A anyway is refused beside the field with
    what was typed kept. Restored, Section A is offered again."""
    item = world.item
    section_a = item.assignments.get().cohort
    section_b, section_c = CohortFactory(name="Section B"), CohortFactory(name="Section C")
    world.course.cohorts.add(section_b, section_c)
    archive = reverse("cases:cohort_archive", args=[section_a.pk])
    assert client_for("admin").post(archive, {"archived": "1"}).status_code == 302
    a_due = item.assignments.get().due_at

    instructor = client_for("instructor")
    add = reverse("cases:item_create", args=[world.course.pk])
    html = instructor.get(add + "?kind=quiz").content.decode()
    offered = _field(html, "cohorts")
    assert f'value="{section_b.pk}"' in offered
    assert f'value="{section_a.pk}"' not in offered and "Section A" not in offered

    typed = {
        "module": item.module_id,
        "kind": "quiz",
        "title": "Week 2 quiz",
        "cohorts": [section_a.pk, section_b.pk],
        "due_at": "2030-03-01T09:00",
    }
    response = instructor.post(add, typed)
    assert response.status_code == 200
    html = response.content.decode()
    assert "Section A is archived" in _field(html, "cohorts")
    assert 'value="Week 2 quiz"' in html and 'value="2030-03-01T09:00"' in html
    assert not ModuleItem.objects.filter(title="Week 2 quiz").exists()

    schedule = reverse("cases:item_schedule", args=[item.pk])
    page = instructor.get(schedule).content.decode()
    assert f'name="cohort-{section_b.pk}-assigned"' in page
    assert f'name="cohort-{section_a.pk}-' not in page
    archived_row = page.split("<legend>Section A")[1].split("</fieldset>")[0]
    assert "archived" in archived_row
    assert timezone.localtime(a_due).strftime("%Y-%m-%dT%H:%M") in archived_row
    bulk_choices = _field(page, "bulk-cohorts")
    assert f'value="{section_a.pk}"' not in bulk_choices
    assert f'value="{section_c.pk}"' in bulk_choices

    # Named anyway, in the same dates for several cohorts: refused, dates kept.
    bulk = {
        "action": "apply",
        "bulk-cohorts": [section_a.pk, section_b.pk],
        "bulk-due_at": "2030-04-01T12:00",
        "bulk-points": "5",
        "bulk-late_policy": "accept",
        "bulk-late_penalty_percent": "0",
    }
    response = instructor.post(schedule, bulk)
    assert response.status_code == 200
    html = response.content.decode()
    assert "Section A is archived" in _field(html, "bulk-cohorts")
    assert 'value="2030-04-01T12:00"' in html
    # Or in Section A's own row: refused there, Section B's row as typed.
    rows = {"action": "save"} | _row(section_b, points="7") | _row(section_a, points="3")
    response = instructor.post(schedule, rows)
    assert response.status_code == 200
    html = response.content.decode()
    assert "Section A is archived" in html.split("<legend>Section A")[1].split("</fieldset>")[0]
    assert f'name="cohort-{section_b.pk}-points" value="7"' in html
    assert list(item.assignments.values_list("cohort", "points")) == [(section_a.pk, 10)]

    # Saved as the page posts it (Section A's row carries no fields): Section A's
    # assignment is untouched, and its student still has the item.
    response = instructor.post(schedule, {"action": "save"} | _row(section_b, points="7"))
    assert response.status_code == 302
    assignments = {a.cohort_id: a for a in item.assignments.all()}
    assert assignments[section_a.pk].due_at == a_due and assignments[section_b.pk].points == 7
    assert client_for("student").get(item.get_absolute_url()).status_code == 200

    # Restored, it is offered again.
    assert client_for("admin").post(archive, {"archived": "0"}).status_code == 302
    html = client_for("instructor").get(add + "?kind=quiz").content.decode()
    assert f'value="{section_a.pk}"' in _field(html, "cohorts")
    page = client_for("instructor").get(schedule).content.decode()
    assert f'name="cohort-{section_a.pk}-assigned"' in page


def test_moving_the_opening_later_after_students_started_asks_first(world, client_for, shanghai):
    """The student has read and marked done the case; their classmate has not opened
    it. The instructor moves the opening to next week: saved at once, the item vanished
    from the student with their work on it, with nothing said. The schedule page now
    asks first, naming whose work it is and saying they lose the item until it opens
    and their handed-in work is kept; going back keeps what was typed; confirmed, it
    saves. Moved earlier again, or later for a cohort nobody has started, it just
    saves."""
    item, student = world.item, world.users["student"]
    now = timezone.now().replace(second=0, microsecond=0)
    due = now + timedelta(days=10)
    schedule = reverse("cases:item_schedule", args=[item.pk])
    client_for("student").post(reverse("cases:reading_done", args=[world.case.slug]), {"done": "1"})
    assert client_for("student").get(item.get_absolute_url()).status_code == 200

    next_week = now + timedelta(days=7)
    row = _row(shanghai, opens_at=_typed(next_week, SHANGHAI), due_at=_typed(due, SHANGHAI))
    response = client_for("instructor").post(schedule, {"action": "save"} | row)
    assert response.status_code == 200
    html = response.content.decode()
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", html))
    assert "Section A: opens later" in text
    assert f"1 student with work on it ({student.display_name})" in text
    # Their classmate never opened it: nothing to lose, not named.
    assert world.users["student_ta_elsewhere"].display_name not in text
    assert "loses the item until it opens" in text
    assert "Their work is kept, the 1 handed in included, and shown again" in text
    # Nothing changed yet: the student still has the item.
    assert item.assignments.get().opens_at is None
    assert client_for("student").get(item.get_absolute_url()).status_code == 200
    carried = _hidden_fields(html)
    back = client_for("instructor").post(schedule, carried | {"action": "edit"}).content.decode()
    assert f'value="{_typed(next_week, SHANGHAI)}"' in back

    # The admin confirms: saved, and the item is closed to the student until it opens.
    response = client_for("admin").post(schedule, carried | {"action": "save"})
    assert response.status_code == 302
    assert item.assignments.get().opens_at == next_week
    assert client_for("student").get(item.get_absolute_url()).status_code == 404
    # Later still: nobody has it now, so nobody loses it; it just saves.
    row = _row(shanghai, opens_at=_typed(next_week + timedelta(days=1), SHANGHAI),
               due_at=_typed(due, SHANGHAI))  # fmt: skip
    assert client_for("instructor").post(schedule, {"action": "save"} | row).status_code == 302
    # Earlier again: it just saves, and the student has their work back.
    row = _row(shanghai, opens_at=_typed(now - timedelta(hours=1), SHANGHAI),
               due_at=_typed(due, SHANGHAI))  # fmt: skip
    assert client_for("instructor").post(schedule, {"action": "save"} | row).status_code == 302
    assert client_for("student").get(item.get_absolute_url()).status_code == 200

    # An item nobody has opened: moving its opening later just saves.
    quiet = ModuleItemFactory(module=item.module, title="Nobody opened this")
    AssignmentFactory(item=quiet, cohort=shanghai)
    response = client_for("instructor").post(
        reverse("cases:item_schedule", args=[quiet.pk]), {"action": "save"} | row
    )
    assert response.status_code == 302


def test_the_same_later_opening_for_several_cohorts_asks_first_too(world, client_for, shanghai):
    """The quiz the student started an attempt on, opened later with "Apply the same
    dates to several cohorts": it asks as a cohort's own row does, naming the student;
    a student in a second cohort whose quiz stays open loses nothing and is not named."""
    quiz_item, student = world.quiz.item, world.users["student"]
    classmate = world.users["student_ta_elsewhere"]
    second = CohortFactory(name="Section B")
    world.course.cohorts.add(second)
    MembershipFactory(cohort=second, user=classmate)
    AssignmentFactory(item=quiz_item, cohort=second)
    from cases.services.quizzes import attempt_start

    attempt_start(quiz=world.quiz, user=classmate)
    now = timezone.now().replace(second=0, microsecond=0)
    schedule = reverse("cases:item_schedule", args=[quiz_item.pk])
    bulk = {
        "action": "apply",
        "bulk-cohorts": [shanghai.pk],
        "bulk-opens_at": _typed(now + timedelta(days=7), SHANGHAI),
        "bulk-due_at": _typed(now + timedelta(days=9), SHANGHAI),
        "bulk-points": "10",
        "bulk-late_policy": "accept",
        "bulk-late_penalty_percent": "0",
    }
    response = client_for("instructor").post(schedule, bulk)
    assert response.status_code == 200
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", response.content.decode()))
    assert f"1 student with work on it ({student.display_name})" in text
    assert classmate.display_name not in text
    assert quiz_item.assignments.get(cohort=shanghai).opens_at is None
    carried = _hidden_fields(response.content.decode())
    response = client_for("instructor").post(schedule, carried | {"action": "apply"})
    assert response.status_code == 302
    assert quiz_item.assignments.get(cohort=shanghai).opens_at == now + timedelta(days=7)


def test_a_cohort_archived_while_the_instructor_builds_is_not_offered_new_items(world, client_for):
    """Last term's section still takes the course (its students keep their work) when
    the admin archives it, as the instructor builds the new term's module. Adding a
    quiz, she is offered only the current section, and a post naming the archived one
    is refused: its students are not handed new work nor told about it. On the new
    item's schedule the archived section has nothing to tick and is not among the
    cohorts the same dates apply to; an item it was given before shows its dates there,
    as they stay."""
    from cases.models import ModuleItem, Notification
    from cases.services.cohorts import cohort_archive

    old = world.item.assignments.get().cohort  # Section A: last term's, with a student.
    current = CohortFactory(name="Section B")
    world.course.cohorts.add(current)
    cohort_archive(cohort=old, archived=True, by=world.users["admin"])
    client = client_for("instructor")
    create = reverse("cases:item_create", args=[world.course.pk])
    form = client.get(create, {"kind": "quiz"}).content.decode()
    assert f'value="{current.pk}"' in form and f'name="cohorts" value="{old.pk}"' not in form
    fields = {"module": world.item.module.pk, "kind": "quiz", "title": "Week 1 check"}
    refused = client.post(create, fields | {"cohorts": [old.pk, current.pk]})
    assert refused.status_code == 200 and "field--invalid" in refused.content.decode()
    # Ticked on a form loaded before the archiving: said in words, not by its id.
    assert "is not one of the available choices" not in refused.content.decode()
    assert "Section A is archived: it takes no new work" in refused.content.decode()
    assert not ModuleItem.objects.filter(title="Week 1 check").exists()
    made = client.post(create, fields | {"cohorts": [current.pk]})
    assert made.status_code == 302
    item = ModuleItem.objects.get(title="Week 1 check")
    assert not Notification.objects.filter(user=world.users["student"]).exists()

    page = client.get(reverse("cases:item_schedule", args=[item.pk])).content.decode()
    assert f"cohort-{old.pk}-assigned" not in page and f"cohort-{current.pk}-assigned" in page
    assert f'name="bulk-cohorts" value="{old.pk}"' not in page
    kept = client.get(reverse("cases:item_schedule", args=[world.item.pk])).content.decode()
    assert f"cohort-{old.pk}-assigned" not in kept
    assert "This cohort is archived: its dates stay as they were" in kept
