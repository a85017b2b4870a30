"""Cohort administration (admins) and joining a cohort with its code (signing up with
one is in test_signup.py). Every change leaves an audit entry."""

import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from cases.models import (
    Assignment,
    AuditAction,
    AuditEntry,
    Cohort,
    Extension,
    Membership,
    User,
    Work,
    WorkStatus,
)
from cases.permissions import (
    JOIN_CODE_DISABLED,
    JOIN_CODE_EXPIRED,
    JOIN_CODE_OTHER_SECTION,
    JOIN_CODE_REMOVED,
    JOIN_CODE_TEACHER,
    JOIN_CODE_UNKNOWN,
)
from cases.services.cohorts.roster import roster_apply
from cases.services.readings import reading_open
from tests.factories import (
    AssignmentFactory,
    CohortFactory,
    MembershipFactory,
    UserFactory,
    enrol,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def section(world) -> Cohort:
    """The world's course's cohort: the world's student is in it, and the world's
    reading, quiz and discussion are given to it."""
    return world.course.cohorts.get()


@pytest.fixture
def admin(client_for):
    return client_for("admin")


def _entries(action) -> list[AuditEntry]:
    return list(AuditEntry.objects.filter(action=action).order_by("pk"))


def _page(cohort: Cohort) -> str:
    return reverse("cases:cohort_detail", args=[cohort.pk])


# Cohorts ------------------------------------------------------------------------------


def test_admin_creates_a_cohort_and_lands_on_its_page(world, admin):
    response = admin.post(reverse("cases:cohort_list"), {"name": "  MGT 6001   section C "})
    cohort = Cohort.objects.get(name="MGT 6001 section C")
    assert response.url == _page(cohort)
    assert len(cohort.join_code) == 8
    [entry] = _entries(AuditAction.COHORT)
    assert entry.actor == world.users["admin"]
    assert entry.after == {"name": "MGT 6001 section C", "join_code": cohort.join_code}
    assert cohort.join_code in admin.get(_page(cohort)).content.decode()


def test_a_cohort_without_a_name_is_refused_beside_the_field(world, admin):
    response = admin.post(reverse("cases:cohort_list"), {"name": "   "})
    assert response.status_code == 200
    assert "This field is required." in response.content.decode()
    assert Cohort.objects.count() == 2
    assert not AuditEntry.objects.exists()


def test_the_list_shows_active_cohorts_unless_asked_for_archived_ones(world, admin, section):
    section.archived_at = timezone.now()
    section.save()
    url = reverse("cases:cohort_list")
    assert "Section A" not in admin.get(url).content.decode()
    archived = admin.get(url, {"show": "archived"}).content.decode()
    assert "Section A" in archived
    assert "Other section" not in archived
    assert "Other section" in admin.get(url, {"show": "all"}).content.decode()


def test_the_list_keeps_cohorts_in_name_order_as_they_are_added_and_filled(world, admin):
    """Cohorts made after the world's, one of them filled: the page and its htmx list
    name them alphabetically, with their sizes, not in the order they were made."""
    url = reverse("cases:cohort_list")

    def listed(html: str) -> list[tuple[str, str]]:
        rows = re.findall(
            r'<a href="/manage/cohorts/\d+/">([^<]+)</a>.*?<td>(\d+)</td>', html, re.S
        )
        return [(name, size) for name, size in rows]

    for name in ("Zeta section", "Alpha section"):
        admin.post(url, {"name": name})
    expected = [("Alpha section", "0"), ("Other section", "1"), ("Section A", "2")]
    expected.append(("Zeta section", "0"))
    assert listed(admin.get(url).content.decode()) == expected
    # A member joins the last one made: the counts change, the order does not.
    enrol(Cohort.objects.get(name="Alpha section"), 3)
    expected[0] = ("Alpha section", "3")
    fragment = admin.get(url, {"show": "all"}, headers={"HX-Request": "true"})
    assert listed(fragment.content.decode()) == expected
    assert listed(admin.get(url).content.decode()) == expected


def test_htmx_filtering_gets_only_the_list(world, admin):
    response = admin.get(
        reverse("cases:cohort_list"), {"show": "all"}, headers={"HX-Request": "true"}
    )
    html = response.content.decode()
    assert html.lstrip().startswith('<section id="cohort-results"')
    assert "<html" not in html
    assert response["Vary"] and "HX-Request" in response["Vary"]


def test_rename_is_audited_with_before_and_after(world, admin, section):
    response = admin.post(reverse("cases:cohort_rename", args=[section.pk]), {"name": "A1"})
    assert response.status_code == 302
    section.refresh_from_db()
    assert section.name == "A1"
    [entry] = _entries(AuditAction.COHORT)
    assert (entry.before, entry.after) == ({"name": "Section A"}, {"name": "A1"})


def test_a_blank_rename_is_refused_beside_the_field(world, admin, section):
    response = admin.post(reverse("cases:cohort_rename", args=[section.pk]), {"name": ""})
    assert response.status_code == 200
    assert "field--invalid" in response.content.decode()
    section.refresh_from_db()
    assert section.name == "Section A"


def test_archiving_keeps_members_and_stops_the_join_code(world, admin, section, client_for):
    admin.post(reverse("cases:cohort_archive", args=[section.pk]), {"archived": "1"})
    section.refresh_from_db()
    assert section.archived_at is not None
    assert section.memberships.count() == 2
    [entry] = _entries(AuditAction.COHORT)
    assert entry.before == {"archived_at": None}
    assert entry.after["archived_at"]
    client = client_for("other_student")
    response = client.post(reverse("cases:cohort_join"), {"code": section.join_code})
    assert JOIN_CODE_UNKNOWN in response.content.decode()
    # Restoring brings it back, and the code works again.
    admin = client_for("admin")
    admin.post(reverse("cases:cohort_archive", args=[section.pk]), {"archived": "0"})
    section.refresh_from_db()
    assert section.archived_at is None
    assert len(_entries(AuditAction.COHORT)) == 2


def test_restoring_a_section_whose_student_now_takes_another_is_refused(world, admin, section):
    """Last term's Section A was archived and its student joined Section B of the same
    course: restored, Section A would put them in two current sections. Refused on the
    cohort's page, naming them, and the cohort stays archived."""
    admin.post(reverse("cases:cohort_archive", args=[section.pk]), {"archived": "1"})
    section_b = CohortFactory(name="Section B")
    world.course.cohorts.add(section_b)
    student = world.users["student"]
    MembershipFactory(cohort=section_b, user=student)
    response = admin.post(reverse("cases:cohort_archive", args=[section.pk]), {"archived": "0"})
    assert response.status_code == 200
    assert (
        f"{student.username} is already in Section B, another section of MGT 6001: "
        "move them from there instead."
    ) in response.content.decode()
    section.refresh_from_db()
    assert section.archived_at is not None
    assert len(_entries(AuditAction.COHORT)) == 1


def test_archiving_twice_writes_one_entry(world, admin, section):
    for _ in range(2):
        admin.post(reverse("cases:cohort_archive", args=[section.pk]), {"archived": "1"})
    assert len(_entries(AuditAction.COHORT)) == 1


def test_attach_and_detach_a_course(world, admin):
    cohort = CohortFactory(name="Section C")
    url = reverse("cases:cohort_courses", args=[cohort.pk])
    admin.post(url, {"action": "attach", "course": world.course.pk})
    assert world.course.cohorts.filter(pk=cohort.pk).exists()
    admin.post(url, {"action": "detach", "course": world.course.pk})
    assert not world.course.cohorts.filter(pk=cohort.pk).exists()
    attach, detach = _entries(AuditAction.COHORT)
    assert (attach.course, attach.after) == (world.course, {"course": "MGT 6001"})
    assert (detach.course, detach.before) == (world.course, {"course": "MGT 6001"})


def test_attaching_a_course_its_members_already_take_or_teach_is_refused(world, admin):
    """Section C holds the course's student (already in its Section A) and its TA:
    attached to the course, it would put the student in two of its sections and make
    the TA a student of the course they teach. Refused beside the course, naming each,
    and nothing is attached; without them, it attaches."""
    cohort = CohortFactory(name="Section C")
    student, ta = world.users["student"], world.users["ta"]
    MembershipFactory(cohort=cohort, user=student)
    MembershipFactory(cohort=cohort, user=ta)
    url = reverse("cases:cohort_courses", args=[cohort.pk])
    response = admin.post(url, {"action": "attach", "course": world.course.pk})
    html = response.content.decode()
    assert response.status_code == 200
    assert (
        f"{student.username} is already in Section A, another section of MGT 6001: "
        "move them from there instead."
    ) in html
    assert f"{ta.username} teaches MGT 6001: staff of a course cannot also take it." in html
    assert not world.course.cohorts.filter(pk=cohort.pk).exists()
    assert not _entries(AuditAction.COHORT)
    Membership.objects.filter(cohort=cohort).delete()
    admin.post(url, {"action": "attach", "course": world.course.pk})
    assert world.course.cohorts.filter(pk=cohort.pk).exists()


def test_detaching_a_course_that_still_gives_the_cohort_items_is_refused(world, admin, section):
    url = reverse("cases:cohort_courses", args=[section.pk])
    response = admin.post(url, {"action": "detach", "course": world.course.pk})
    assert response.status_code == 200
    assert "still gives 3 items to this cohort" in response.content.decode()
    assert world.course.cohorts.filter(pk=section.pk).exists()
    assert not AuditEntry.objects.exists()


def test_attaching_without_a_course_is_refused_beside_the_field(world, admin, section):
    url = reverse("cases:cohort_courses", args=[section.pk])
    response = admin.post(url, {"action": "attach", "course": ""})
    assert response.status_code == 200
    assert "Choose a course." in response.content.decode()


# Join codes ---------------------------------------------------------------------------


def test_a_new_code_replaces_the_old_one(world, admin, section, client_for):
    old = section.join_code
    admin.post(reverse("cases:cohort_join_code", args=[section.pk]), {"action": "rotate"})
    section.refresh_from_db()
    assert section.join_code != old
    [entry] = _entries(AuditAction.JOIN_CODE)
    assert (entry.before, entry.after) == ({"join_code": old}, {"join_code": section.join_code})
    client = client_for("other_student")
    assert (
        JOIN_CODE_UNKNOWN
        in client.post(reverse("cases:cohort_join"), {"code": old}).content.decode()
    )
    client.post(reverse("cases:cohort_join"), {"code": section.join_code})
    assert section.memberships.filter(user=world.users["other_student"]).exists()


def test_a_code_switched_off_admits_nobody_until_switched_on(world, admin, section, client_for):
    url = reverse("cases:cohort_join_code", args=[section.pk])
    admin.post(url, {"action": "disable"})
    section.refresh_from_db()
    assert not section.join_code_enabled
    client = client_for("other_student")
    response = client.post(reverse("cases:cohort_join"), {"code": section.join_code})
    assert JOIN_CODE_DISABLED in response.content.decode()
    client_for("admin").post(url, {"action": "enable"})
    section.refresh_from_db()
    assert section.join_code_enabled
    entries = _entries(AuditAction.JOIN_CODE)
    assert [(e.before, e.after) for e in entries] == [
        ({"join_code_enabled": True}, {"join_code_enabled": False}),
        ({"join_code_enabled": False}, {"join_code_enabled": True}),
    ]


def test_expiry_is_typed_in_the_server_zone_and_can_be_cleared(world, admin, section, settings):
    url = reverse("cases:cohort_join_code", args=[section.pk])
    admin.post(url, {"action": "expiry", "expires_at": "2099-03-01T09:00"})
    section.refresh_from_db()
    assert section.join_code_expires_at.isoformat() == "2099-03-01T09:00:00+00:00"
    assert 'value="2099-03-01T09:00"' in admin.get(_page(section)).content.decode()
    admin.post(url, {"action": "clear"})
    section.refresh_from_db()
    assert section.join_code_expires_at is None
    set_, cleared = _entries(AuditAction.JOIN_CODE)
    assert set_.after == {"join_code_expires_at": "2099-03-01T09:00:00+00:00"}
    assert cleared.after == {"join_code_expires_at": None}


def test_an_expiry_in_the_past_is_refused_beside_the_field_with_the_input_kept(
    world, admin, section
):
    url = reverse("cases:cohort_join_code", args=[section.pk])
    response = admin.post(url, {"action": "expiry", "expires_at": "2001-01-01T09:00"})
    html = response.content.decode()
    assert response.status_code == 200
    assert "Choose a time in the future" in html
    assert 'value="2001-01-01T09:00"' in html
    assert not AuditEntry.objects.exists()


# Members ------------------------------------------------------------------------------


def test_members_are_shown_fifty_a_page_with_their_details(world, admin):
    cohort = CohortFactory(name="Big")
    students = enrol(cohort, 60, prefix="big")
    students[0].student_id, students[0].is_active = "S-0001", False
    students[0].save()
    first = admin.get(_page(cohort)).content.decode()
    assert first.count('name="students"') == 50
    assert "Page 1 of 2" in first
    assert "S-0001" in first and "Deactivated" in first
    second = admin.get(_page(cohort), {"page": "2"}, headers={"HX-Request": "true"})
    html = second.content.decode()
    assert html.count('name="students"') == 10
    assert "<html" not in html and 'id="cohort-members"' in html


def test_moving_a_student_keeps_their_work_and_shows_it_in_the_new_cohort(world, admin):
    """The student read the case before: once moved into a cohort given the reading,
    the tracker shows it opened."""
    old, new = CohortFactory(name="Old"), CohortFactory(name="New")
    AssignmentFactory(item=world.item, cohort=new)
    student = UserFactory(username="mover")
    MembershipFactory(cohort=old, user=student)
    reading_open(user=student, case=world.case)
    assert not Work.objects.filter(user=student, item=world.item).exists()
    url = reverse("cases:cohort_members", args=[old.pk])
    data = {"action": "move", "students": [student.pk], "to": new.pk}
    response = admin.post(url, data)
    assert response.status_code == 302
    assert list(student.cohorts.all()) == [new]
    assert Work.objects.get(user=student, item=world.item).state == WorkStatus.OPENED
    # A second click moves nobody and writes nothing.
    admin.post(url, data)
    [entry] = _entries(AuditAction.MOVE)
    assert (entry.subject, entry.cohort) == (student, new)
    assert entry.before == {"cohort": old.pk, "name": "Old"}
    assert entry.after == {"cohort": new.pk, "name": "New"}


def test_a_moved_student_keeps_an_extension_that_still_gives_them_more_time(world, admin):
    """Sections A and B have the reading due yesterday and the quiz due in a week; the
    student had until tomorrow on both. Moved to B, they still have until tomorrow on
    the reading (B's date is earlier), listed under B on the schedule; on the quiz B's
    own date is already later, so that extension goes, as when a cohort's date is moved
    past one. Nothing stays behind on A's assignments."""
    section_a = world.course.cohorts.get()
    section_b = CohortFactory(name="Section B")
    world.course.cohorts.add(section_b)
    now = timezone.now()
    student = world.users["student"]
    for item, due in (
        (world.item, now - timedelta(days=1)),
        (world.quiz.item, now + timedelta(days=7)),
    ):
        item.assignments.filter(cohort=section_a).update(due_at=due)
        AssignmentFactory(item=item, cohort=section_b, due_at=due)
        Extension.objects.create(
            assignment=item.assignments.get(cohort=section_a),
            user=student,
            due_at=now + timedelta(days=1),
        )
    admin.post(
        reverse("cases:cohort_members", args=[section_a.pk]),
        {"action": "move", "students": [student.pk], "to": section_b.pk},
    )
    reading = Assignment.objects.seen_by(student).get(item=world.item)
    assert (reading.cohort, reading.due_at) == (section_b, now + timedelta(days=1))
    quiz = Assignment.objects.seen_by(student).get(item=world.quiz.item)
    assert (quiz.cohort, quiz.due_at) == (section_b, now + timedelta(days=7))
    assert list(Extension.objects.values_list("assignment__cohort__name", "assignment__item")) == [
        ("Section B", world.item.pk)
    ]
    schedule = admin.get(reverse("cases:item_schedule", args=[world.item.pk])).content.decode()
    assert re.search(r"<th scope=\"row\">[^<]+</th>\s*<td>Section B</td>", schedule)
    [entry] = _entries(AuditAction.MOVE)
    assert entry.after == {
        "cohort": section_b.pk,
        "name": "Section B",
        "extensions": "1 kept, 1 no longer later than Section B's date",
    }
    # Moved back to A, where an extension of theirs on the reading already is (granted
    # there since): that one stands and B's goes.
    theirs = Extension.objects.create(
        assignment=world.item.assignments.get(cohort=section_a),
        user=student,
        due_at=now + timedelta(days=3),
    )
    admin.post(
        reverse("cases:cohort_members", args=[section_b.pk]),
        {"action": "move", "students": [student.pk], "to": section_a.pk},
    )
    assert list(Extension.objects.all()) == [theirs]
    assert _entries(AuditAction.MOVE)[-1].after["extensions"] == (
        "0 kept, 1 replaced by their own in Section A"
    )


def test_a_removed_students_extensions_leave_the_sections_schedule_as_the_audit_says(
    world, client_for, section
):
    """The instructor grants two students of Section A a week more on the reading; the
    schedule lists both. An admin removes one of them from Section A: the instructor's
    schedule lists only the one still in it, the removal's audit entry says the
    extension went, and the student's account and work stay."""
    student, staying = world.users["student"], world.users["student_ta_elsewhere"]
    instructor = client_for("instructor")
    schedule = reverse("cases:item_schedule", args=[world.item.pk])
    granted = instructor.post(
        reverse("cases:extension_grant", args=[world.item.pk]),
        {"students": [student.pk, staying.pk], "due_at": "2030-05-01T09:00", "reason": "Trip"},
    )
    assert granted.status_code == 302
    page = instructor.get(schedule).content.decode()
    assert f"Remove the extension of {student.display_name}" in page
    admin = client_for("admin")
    admin.post(
        reverse("cases:cohort_members", args=[section.pk]),
        {"action": "remove", "students": [student.pk]},
    )
    assert not section.memberships.filter(user=student).exists()
    page = client_for("instructor").get(schedule).content.decode()
    assert f"Remove the extension of {student.display_name}" not in page
    assert f"Remove the extension of {staying.display_name}" in page
    assert list(Extension.objects.values_list("user", flat=True)) == [staying.pk]
    [entry] = _entries(AuditAction.UNENROL)
    assert (entry.subject, entry.cohort) == (student, section)
    assert entry.after == {"extensions": "1 removed"}
    assert User.objects.filter(pk=student.pk).exists()
    assert Work.objects.filter(user=student).exists()


def test_cohorts_of_one_name_read_apart_by_their_courses_where_an_admin_picks_one(
    world, admin, section
):
    """Names are free: the other course's section is renamed "Section A" too. The
    Move-to list and the audit log's cohort filter name each with its course's code."""
    Cohort.objects.filter(courses=world.other_course).update(name="Section A")
    CohortFactory(name="Section A")
    page = admin.get(_page(section)).content.decode()
    assert f">Section A · {world.other_course.code}</option>" in page
    assert ">Section A · no course</option>" in page
    audit = admin.get(reverse("cases:audit_log")).content.decode()
    assert ">Section A · no course</option>" in audit
    assert f">Section A · {world.course.code}</option>" in audit


def test_moving_without_a_target_is_refused_and_the_choice_is_kept(world, admin, section):
    student = world.users["student"]
    url = reverse("cases:cohort_members", args=[section.pk])
    response = admin.post(url, {"action": "move", "students": [student.pk]})
    html = response.content.decode()
    assert response.status_code == 200
    assert "Choose the cohort to move them to." in html
    assert f'value="{student.pk}" id="student-{student.pk}" checked' in html
    assert section.memberships.filter(user=student).exists()


def test_moving_into_an_archived_cohort_is_refused(world, admin, section):
    archived = CohortFactory(name="Past", archived_at=timezone.now())
    url = reverse("cases:cohort_members", args=[section.pk])
    data = {"action": "move", "students": [world.users["student"].pk], "to": archived.pk}
    assert admin.post(url, data).status_code == 200
    assert not archived.memberships.exists()


def test_a_move_that_would_make_a_student_of_two_sections_or_of_their_own_course_is_refused(
    world, admin, section
):
    """The student of Section A also takes another course in "Elsewhere"; moved from
    there into Section B of Section A's course they would be in two of its sections.
    A student of Section A who assists on MGT 7002 would become a student of the course
    they teach. Both moves are refused beside the target, the choice kept, and nothing
    moves; a plain move from Section A to Section B goes through."""
    section_b = CohortFactory(name="Section B")
    world.course.cohorts.add(section_b)
    elsewhere = CohortFactory(name="Elsewhere")
    student = world.users["student"]
    MembershipFactory(cohort=elsewhere, user=student)
    response = admin.post(
        reverse("cases:cohort_members", args=[elsewhere.pk]),
        {"action": "move", "students": [student.pk], "to": section_b.pk},
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert (
        f"{student.username} is already in Section A, another section of MGT 6001: "
        "move them from there instead."
    ) in html
    assert f'<option value="{section_b.pk}" selected>' in html
    assistant = world.users["student_ta_elsewhere"]
    other_section = world.other_course.cohorts.get()
    response = admin.post(
        reverse("cases:cohort_members", args=[section.pk]),
        {"action": "move", "students": [assistant.pk], "to": other_section.pk},
    )
    assert (
        f"{assistant.username} teaches MGT 7002: staff of a course cannot also take it."
    ) in response.content.decode()
    assert not section_b.memberships.exists() and not _entries(AuditAction.MOVE)
    assert not other_section.memberships.filter(user=assistant).exists()
    admin.post(
        reverse("cases:cohort_members", args=[section.pk]),
        {"action": "move", "students": [student.pk], "to": section_b.pk},
    )
    assert section_b.memberships.filter(user=student).exists()


def test_someone_outside_the_cohort_cannot_be_moved_or_removed_from_it(world, admin, section):
    url = reverse("cases:cohort_members", args=[section.pk])
    response = admin.post(url, {"action": "remove", "students": [world.users["other_student"].pk]})
    assert response.status_code == 200
    assert Membership.objects.filter(user=world.users["other_student"]).count() == 1


def test_removing_a_student_keeps_their_account_and_work(world, admin, section):
    student = world.users["student"]
    works = Work.objects.filter(user=student).count()
    url = reverse("cases:cohort_members", args=[section.pk])
    admin.post(url, {"action": "remove", "students": [student.pk]})
    assert not section.memberships.filter(user=student).exists()
    assert User.objects.filter(pk=student.pk, is_active=True).exists()
    assert Work.objects.filter(user=student).count() == works
    [entry] = _entries(AuditAction.UNENROL)
    assert (entry.subject, entry.cohort, entry.actor) == (student, section, world.users["admin"])


def test_choosing_nobody_is_refused(world, admin, section):
    url = reverse("cases:cohort_members", args=[section.pk])
    response = admin.post(url, {"action": "remove"})
    assert "Choose at least one student." in response.content.decode()


# Joining with a code ------------------------------------------------------------------


def test_joining_with_a_code_enrols_once_and_brings_earlier_work(world, section, client_for):
    student = world.users["other_student"]
    reading_open(user=student, case=world.case)
    client = client_for("other_student")
    code = f" {section.join_code.lower()[:4]} {section.join_code.lower()[4:]} "
    response = client.post(reverse("cases:cohort_join"), {"code": code})
    assert response.url == reverse("cases:home")
    assert section.memberships.filter(user=student).exists()
    assert Work.objects.get(user=student, item=world.item).state == WorkStatus.OPENED
    # Joining again is harmless: one membership, one entry.
    response = client.post(reverse("cases:cohort_join"), {"code": section.join_code}, follow=True)
    assert "You are already in Section A." in response.content.decode()
    assert section.memberships.filter(user=student).count() == 1
    [entry] = _entries(AuditAction.ENROL)
    assert (entry.actor, entry.subject, entry.cohort) == (student, student, section)


def test_a_student_cannot_join_a_second_section_nor_staff_their_own_course(
    world, section, client_for, settings
):
    """Section B's code typed by a section A student would give them B's later dates
    and B's notes beside A's; a TA typing it would become one of the students they
    grade. Both are refused beside the field and counted as no wrong code; the student
    changes section once an admin moves them, and last term's cohort is no bar."""
    settings.JOIN_CODE_FAILURE_LIMIT = 2
    section_b = CohortFactory(name="Section B")
    world.course.cohorts.add(section_b)
    student = client_for("student")
    url = reverse("cases:cohort_join")
    for _ in range(3):  # More than the lockout allows: not a wrong code.
        response = student.post(url, {"code": section_b.join_code})
        assert response.status_code == 200
        assert dict(response.context["form"].errors) == {
            "code": [JOIN_CODE_OTHER_SECTION.format(cohort="Section A")]
        }
    assert not section_b.memberships.exists()
    # Their own section's code still says they are in it.
    again = student.post(url, {"code": section.join_code}, follow=True)
    assert "You are already in Section A." in again.content.decode()
    for username in ["ta", "instructor"]:
        refused = client_for(username).post(url, {"code": section_b.join_code})
        assert dict(refused.context["form"].errors) == {
            "code": [JOIN_CODE_TEACHER.format(course=world.course.code)]
        }
    # Another course's student joins it; a student whose section A is archived (last
    # term) joins B.
    assert client_for("other_student").post(url, {"code": section_b.join_code}).status_code == 302
    Cohort.objects.filter(pk=section.pk).update(archived_at=timezone.now())
    assert client_for("student").post(url, {"code": section_b.join_code}).status_code == 302
    assert set(section_b.memberships.values_list("user__username", flat=True)) == {
        "other_student",
        "student",
    }
    assert len(_entries(AuditAction.ENROL)) == 2


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"join_code": "NOSUCH23"}, JOIN_CODE_UNKNOWN),
        ({"join_code_enabled": False}, JOIN_CODE_DISABLED),
        ({"join_code_expires_at": timezone.now() - timedelta(minutes=1)}, JOIN_CODE_EXPIRED),
        ({"archived_at": timezone.now()}, JOIN_CODE_UNKNOWN),
    ],
    ids=["unknown", "disabled", "expired", "archived"],
)
def test_a_code_that_admits_nobody_is_refused_beside_the_field(
    world, section, client_for, change, message
):
    code = section.join_code
    Cohort.objects.filter(pk=section.pk).update(**change)
    response = client_for("other_student").post(reverse("cases:cohort_join"), {"code": code})
    html = response.content.decode()
    assert response.status_code == 200
    assert message in html
    assert f'value="{code}"' in html
    assert not section.memberships.filter(user=world.users["other_student"]).exists()
    assert not AuditEntry.objects.exists()


def test_an_empty_code_is_refused_beside_the_field(world, client_for):
    response = client_for("other_student").post(reverse("cases:cohort_join"), {"code": ""})
    assert "Type your cohort&#x27;s join code." in response.content.decode()


def test_a_student_an_admin_removed_cannot_rejoin_with_the_open_code_until_added_back(
    world, admin, section, client_for
):
    """The admin's removal holds: the code still open in the class's slides does not
    undo it. The student is told why, beside the field; an admin who adds them back
    (here by the roster import) is obeyed, and leaving again is the admin's to decide."""
    student = world.users["student"]
    removed = admin.post(
        reverse("cases:cohort_members", args=[section.pk]),
        {"action": "remove", "students": [student.pk]},
        follow=True,
    )
    assert "The join code no longer lets them back in" in removed.content.decode()
    client = client_for("student")
    url = reverse("cases:cohort_join")
    for _ in range(2):
        response = client.post(url, {"code": section.join_code})
        assert response.status_code == 200
        assert dict(response.context["form"].errors) == {
            "code": [JOIN_CODE_REMOVED.format(cohort="Section A")]
        }
    assert not section.memberships.filter(user=student).exists()
    # Another student who was never removed still joins with the same code.
    assert client_for("other_student").post(url, {"code": section.join_code}).status_code == 302
    # Added back by an admin: a member again, and the code says so.
    roster = f"email,first_name,last_name,student_id\n{student.email},Sam,Tan,\n"
    roster_apply(cohort=section, data=roster.encode(), actor=world.users["admin"], invite=False)
    assert section.memberships.filter(user=student).exists()
    again = client.post(url, {"code": section.join_code}, follow=True)
    assert "You are already in Section A." in again.content.decode()


def test_a_moved_student_is_told_once_which_due_dates_changed(world, admin, client_for):
    """Sections A and B take the course on different dates. The admin moves the student
    from A to B: their due dates changed with nothing said, though a moved due date or
    an extension tells them. They are now told once, in one notice, of each item whose
    date is not what it was: the quiz due later, the discussion B is not given, B's memo
    new to them. Not the reading, where their extension still gives them the same
    date, nor B's item that has not opened yet. A classmate moved to a section with the
    same dates, and a second click, tell nobody anything."""
    from cases.models import Notification
    from tests.factories import ModuleItemFactory

    section_a = world.course.cohorts.get()
    section_b = CohortFactory(name="Section B")
    section_c = CohortFactory(name="Section C")
    world.course.cohorts.add(section_b, section_c)
    student, classmate = world.users["student"], world.users["student_ta_elsewhere"]
    now = timezone.now().replace(second=0, microsecond=0)
    reading, quiz = world.item, world.quiz.item
    a_dates = {
        reading: now + timedelta(days=3),
        quiz: now + timedelta(days=7),
        world.discussion.item: now + timedelta(days=4),
    }
    for item, due in a_dates.items():
        item.assignments.filter(cohort=section_a).update(due_at=due)
        AssignmentFactory(item=item, cohort=section_c, due_at=due)
    AssignmentFactory(item=reading, cohort=section_b, due_at=now + timedelta(days=5))
    AssignmentFactory(item=quiz, cohort=section_b, due_at=now + timedelta(days=8))
    memo = ModuleItemFactory(module=reading.module, title="Week 2 memo")
    AssignmentFactory(item=memo, cohort=section_b, due_at=now + timedelta(days=10))
    later = ModuleItemFactory(module=reading.module, title="Not open yet")
    AssignmentFactory(
        item=later,
        cohort=section_b,
        opens_at=now + timedelta(days=2),
        due_at=now + timedelta(days=9),
    )
    Extension.objects.create(
        assignment=reading.assignments.get(cohort=section_a),
        user=student,
        due_at=now + timedelta(days=6),
    )
    before = Notification.objects.count()

    move = {"action": "move", "students": [student.pk], "to": section_b.pk}
    members = reverse("cases:cohort_members", args=[section_a.pk])
    assert admin.post(members, move).status_code == 302
    [notice] = Notification.objects.filter(user=student)
    assert Notification.objects.count() == before + 1
    assert "Section B" in notice.title
    body = notice.body
    assert "Shanghai Bell" not in body  # Their extension: still the same date.
    assert "Not open yet" not in body
    moved_to = timezone.localtime(a_dates[quiz] + timedelta(days=1))
    was = timezone.localtime(a_dates[quiz])
    assert f"{quiz.title}: now due {moved_to:%a %-d %b %Y, %H:%M} (UTC) (was {was:%a %-d}" in body
    assert f"{world.discussion.item.title}: no longer given to you" in body
    assert "Week 2 memo: due " in body and "new to you" in body
    page = client_for("student").get(reverse("cases:notification_list")).content.decode()
    assert "Week 2 memo" in page
    # A second click moves nobody (they are no longer in A) and tells nobody.
    admin = client_for("admin")
    admin.post(members, move)
    assert Notification.objects.filter(user=student).count() == 1

    # The classmate, moved to a section with A's dates: nothing differs, nothing said.
    move = {"action": "move", "students": [classmate.pk], "to": section_c.pk}
    assert admin.post(members, move).status_code == 302
    assert Membership.objects.filter(user=classmate, cohort=section_c).exists()
    assert not Notification.objects.filter(user=classmate).exists()


def test_a_new_cohort_s_page_leads_to_its_roster_import_and_the_import_back_to_it(world, admin):
    """The admin creates a section and lands on its page, which says to enrol students
    from a roster: the page links the roster import (it was only on the cohort list).
    The import's breadcrumb leads back to the section, and once the roster is in she is
    back on the section's page, its new members listed, each shown as invited and not
    chosen a password rather than as an ordinary active account."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    made = admin.post(reverse("cases:cohort_list"), {"name": "Section C"}, follow=True)
    cohort = Cohort.objects.get(name="Section C")
    html = made.content.decode()
    importer = reverse("cases:roster_import", args=[cohort.pk])
    assert f'href="{importer}"' in html
    page = admin.get(importer).content.decode()
    assert f'href="{_page(cohort)}"' in page
    upload = SimpleUploadedFile(
        "roster.csv", b"email,first_name,last_name,student_id\nann@example.edu,Ann,Lee,A1\n"
    )
    preview = admin.post(importer, {"step": "preview", "file": upload}).content.decode()
    roster = re.search(r'name="roster" value="([^"]+)"', preview)[1]
    done = admin.post(importer, {"step": "confirm", "roster": roster, "invite": "False"})
    assert done.url == _page(cohort)
    members = admin.get(done.url).content.decode()
    assert "Imported into Section C: 1 new account, 0 updated" in members
    row = re.search(r"<tr>\s*<td><input[^>]*>.*?</tr>", members, re.S)[0]
    assert "ann@example.edu" in row and "No password yet" in row
