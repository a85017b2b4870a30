"""People: course roles given and taken away, accounts deactivated and reactivated, and
the audit log of it all."""

import csv
import io
import re
from datetime import timedelta

import pytest
from django.contrib.sessions.models import Session
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from cases.models import Attempt, AuditAction, AuditEntry, User
from cases.services.people import audit
from tests.factories import PASSWORD, CohortFactory, UserFactory

pytestmark = pytest.mark.django_db


def _people_url(world) -> str:
    return reverse("cases:course_people", args=[world.course.pk])


def _remove(client, world, user, role):
    url = reverse("cases:course_people_remove", args=[world.course.pk, user.pk])
    return client.post(url, {"role": role}, follow=True)


# Course roles ------------------------------------------------------------------------


def test_an_admin_makes_someone_instructor_by_email_and_it_is_audited(world, client_for):
    newcomer = UserFactory(username="newcomer")
    admin = client_for("admin")
    response = admin.post(
        _people_url(world), {"person": "NEWCOMER@example.edu", "role": "instructor"}
    )
    assert response.status_code == 302
    assert world.course.instructors.filter(pk=newcomer.pk).exists()
    said = admin.get(response.url).content.decode()
    assert f"{newcomer.display_name} is now an instructor." in said
    again = admin.post(_people_url(world), {"person": "newcomer", "role": "instructor"})
    assert f"{newcomer.display_name} is already an instructor." in again.content.decode()
    gone = _remove(admin, world, newcomer, "instructor").content.decode()
    assert f"{newcomer.display_name} is no longer an instructor." in gone
    again = _remove(admin, world, newcomer, "instructor").content.decode()
    assert f"{newcomer.display_name} is not an instructor here." in again
    entry = AuditEntry.objects.get(action=AuditAction.ROLE_ADD)
    assert entry.actor == world.users["admin"]
    assert (entry.subject, entry.course) == (newcomer, world.course)
    assert entry.before == {"role": "none"}
    assert entry.after == {"role": "Instructor"}


def test_an_instructor_adds_and_removes_a_ta(world, client_for):
    helper = UserFactory(username="helper")
    client = client_for("instructor")
    response = client.post(_people_url(world), {"person": "helper", "role": "ta"}, follow=True)
    assert "is now a teaching assistant" in response.content.decode()
    assert world.course.teaching_assistants.filter(pk=helper.pk).exists()
    response = _remove(client, world, helper, "ta")
    assert "is no longer a teaching assistant" in response.content.decode()
    assert not world.course.teaching_assistants.filter(pk=helper.pk).exists()
    removed = AuditEntry.objects.get(action=AuditAction.ROLE_REMOVE)
    assert (removed.before, removed.after) == ({"role": "Teaching assistant"}, {"role": "none"})


def test_an_instructor_cannot_make_anyone_an_instructor(world, client_for):
    helper = UserFactory(username="helper")
    client = client_for("instructor")
    response = client.post(_people_url(world), {"person": "helper", "role": "instructor"})
    assert response.status_code == 403
    assert not world.course.instructors.filter(pk=helper.pk).exists()
    assert '<option value="instructor"' not in client.get(_people_url(world)).content.decode()


def test_an_instructor_cannot_remove_an_instructor(world, client_for):
    world.course.instructors.add(UserFactory(username="co_teacher"))
    co_teacher = User.objects.get(username="co_teacher")
    response = client_for("instructor").post(
        reverse("cases:course_people_remove", args=[world.course.pk, co_teacher.pk]),
        {"role": "instructor"},
    )
    assert response.status_code == 403
    assert world.course.instructors.count() == 2


def test_an_instructor_cannot_give_themselves_a_role(world, client_for):
    response = client_for("instructor").post(
        _people_url(world), {"person": "instructor", "role": "ta"}
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert "You cannot change your own role" in html
    assert 'value="instructor"' in html  # What was typed is kept.
    assert not world.course.teaching_assistants.filter(username="instructor").exists()
    assert not AuditEntry.objects.exists()


def test_an_admin_cannot_give_themselves_a_role_nor_the_admin_flag(world, client_for):
    client = client_for("admin")
    response = client.post(_people_url(world), {"person": "admin", "role": "instructor"})
    assert "You cannot change your own role" in response.content.decode()
    assert not world.course.instructors.filter(username="admin").exists()
    # Admin is not a course role: the page never gives or takes the staff flag.
    response = client.post(_people_url(world), {"person": "student", "role": "admin"})
    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()
    assert not User.objects.get(username="student").is_staff
    assert not AuditEntry.objects.exists()


def test_removing_the_last_instructor_is_refused(world, client_for):
    response = _remove(client_for("admin"), world, world.users["instructor"], "instructor")
    assert "last instructor" in response.content.decode()
    assert world.course.instructors.filter(username="instructor").exists()
    assert not AuditEntry.objects.exists()


def test_a_ta_made_instructor_stops_being_a_ta(world, client_for):
    client_for("admin").post(_people_url(world), {"person": "ta", "role": "instructor"})
    assert world.course.instructors.filter(username="ta").exists()
    assert not world.course.teaching_assistants.filter(username="ta").exists()
    entry = AuditEntry.objects.get()
    assert (entry.before, entry.after) == ({"role": "Teaching assistant"}, {"role": "Instructor"})


@pytest.mark.parametrize(
    ("person", "message"),
    [
        ("nobody-here", "Nobody has that username or email."),
        ("student", "is a student in this course"),
        ("ta", "is already a teaching assistant"),
    ],
)
def test_refused_additions_come_back_beside_the_field(world, client_for, person, message):
    response = client_for("instructor").post(_people_url(world), {"person": person, "role": "ta"})
    html = response.content.decode()
    assert response.status_code == 200
    assert message in html
    assert "field--invalid" in html
    assert f'value="{person}"' in html


def test_a_deactivated_account_is_not_given_a_role(world, client_for):
    UserFactory(username="gone", is_active=False)
    response = client_for("admin").post(_people_url(world), {"person": "gone", "role": "ta"})
    assert "deactivated: reactivate it first" in response.content.decode()


def test_the_page_lists_each_ta_with_the_cohorts_they_are_limited_to(world, client_for):
    section = world.course.cohorts.get()
    section.teaching_assistants.add(world.users["ta"])
    CohortFactory(name="Not this course").teaching_assistants.add(world.users["ta"])
    html = client_for("instructor").get(_people_url(world)).content.decode()
    assert "Section A" in html
    assert "Not this course" not in html


def test_with_htmx_a_change_answers_the_people_region_with_its_message(world, client_for):
    UserFactory(username="helper")
    response = client_for("instructor").post(
        _people_url(world), {"person": "helper", "role": "ta"}, headers={"HX-Request": "true"}
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert html.lstrip().startswith('<div id="people"')
    assert "is now a teaching assistant" in html


def test_the_course_page_links_to_people_only_for_those_who_give_roles(world, client_for):
    url = world.course.get_absolute_url()
    people = _people_url(world)
    assert people in client_for("instructor").get(url).content.decode()
    assert people in client_for("admin").get(url).content.decode()
    assert people not in client_for("ta").get(url).content.decode()
    assert people not in client_for("student").get(url).content.decode()


# Deactivation ------------------------------------------------------------------------


def _deactivate(client, user):
    url = reverse("cases:person_deactivate", args=[user.pk])
    return client.post(url, {"confirm": "yes"}, follow=True)


def test_a_deactivated_student_keeps_their_work_and_shows_as_deactivated(world, client_for):
    student = world.users["student"]
    client = client_for("admin")
    response = _deactivate(client, student)
    student.refresh_from_db()
    assert not student.is_active
    assert Attempt.objects.filter(user=student).exists()
    assert student.memberships.exists()
    assert "deactivated" in response.content.decode()
    entry = AuditEntry.objects.get(action=AuditAction.DEACTIVATE)
    assert (entry.subject, entry.actor) == (student, world.users["admin"])
    assert (entry.before, entry.after) == ({"active": "yes"}, {"active": "no"})


def test_deactivating_asks_first_and_a_bare_post_only_asks_again(world, client_for):
    student = world.users["student"]
    client = client_for("admin")
    directory = client.get(reverse("cases:people_directory"), {"q": "student"})
    url = reverse("cases:person_deactivate", args=[student.pk])
    # The directory offers a link to a page that asks; it keeps the search to go back to.
    assert f'href="{url}?q=student"' in directory.content.decode()
    page = client.get(url, {"q": "student"})
    html = page.content.decode()
    assert f"Deactivate {student.display_name}?" in html
    assert "will lose access" in html and "Their work, grades and cohorts" in html
    assert 'name="confirm" value="yes"' in html
    assert f'href="{reverse("cases:people_directory")}?q=student">Cancel' in html
    student.refresh_from_db()
    assert student.is_active  # Looking at the question changes nothing.
    # A POST that skipped the question (an old form, a replay) is asked again.
    again = client.post(url)
    assert again.status_code == 200
    assert f"Deactivate {student.display_name}?" in again.content.decode()
    student.refresh_from_db()
    assert student.is_active
    assert not AuditEntry.objects.exists()
    # Confirmed: done once, back on the same search, and asking again says so.
    done = client.post(url + "?q=student", {"confirm": "yes"})
    assert done["Location"] == reverse("cases:people_directory") + "?q=student"
    student.refresh_from_db()
    assert not student.is_active
    repeat = client.get(url, follow=True)
    assert "is already deactivated" in repeat.content.decode()
    assert AuditEntry.objects.filter(action=AuditAction.DEACTIVATE).count() == 1


def test_a_deactivated_account_cannot_sign_in_until_reactivated(world, client, client_for):
    admin = client_for("admin")
    _deactivate(admin, world.users["student"])
    client.logout()
    response = client.post(reverse("login"), {"username": "student", "password": PASSWORD})
    assert response.status_code == 200
    assert "This account is deactivated" in response.content.decode()
    client.force_login(world.users["admin"])
    client.post(reverse("cases:person_reactivate", args=[world.users["student"].pk]))
    assert AuditEntry.objects.filter(action=AuditAction.REACTIVATE).count() == 1
    client.logout()
    response = client.post(reverse("login"), {"username": "student", "password": PASSWORD})
    assert response.status_code == 302


def test_a_signed_in_user_is_signed_out_when_deactivated(world, client):
    from django.test import Client

    student = Client()
    student.force_login(world.users["student"])
    assert student.get(reverse("cases:home")).status_code == 200
    client.force_login(world.users["admin"])
    _deactivate(client, world.users["student"])
    response = student.get(reverse("cases:home"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))
    # The session itself is gone, so reactivation does not bring it back.
    assert not Session.objects.filter(session_key=student.session.session_key).exists()
    client.post(reverse("cases:person_reactivate", args=[world.users["student"].pk]))
    assert student.get(reverse("cases:home")).status_code == 302


def test_the_staff_see_a_deactivated_student_marked_and_not_behind_until_reactivated(world):
    """An instructor has the tracker open (kept, polling) when an admin deactivates a
    student: at once the tracker, the gradebook and its CSV mark them, still listed
    with their work, and the "behind" filter and the teaching page stop counting them
    (the "late" filter, about cells, keeps them); reactivated, everything is back."""
    world.item.assignments.update(due_at=timezone.now() - timedelta(days=1))
    student = world.users["student"]
    instructor, admin = Client(), Client()
    instructor.force_login(world.users["instructor"])
    admin.force_login(world.users["admin"])
    tracker = reverse("cases:tracker", args=[world.course.pk])
    gradebook = reverse("cases:gradebook", args=[world.course.pk])
    csv_url = reverse("cases:gradebook_csv", args=[world.course.pk])

    def tracker_row(**params) -> str:
        html = instructor.get(tracker, params).content.decode()
        found = re.search(
            rf'<tr><th scope="row"><a href="{tracker}students/{student.pk}/".*?</th>', html
        )
        return found[0] if found else ""

    def gradebook_row() -> str:
        html = instructor.get(gradebook).content.decode()
        return re.search(rf'<tr id="student-{student.pk}">.*?</th>', html, re.S)[0]

    def account() -> str:
        body = b"".join(instructor.get(csv_url).streaming_content).decode("utf-8-sig")
        header, *rows = csv.reader(io.StringIO(body))
        return next(dict(zip(header, r, strict=True)) for r in rows if r[0] == "student")["Account"]

    def behind() -> tuple[str, int]:
        html = instructor.get(tracker, {"behind": "1"}).content.decode()
        teaching = instructor.get(reverse("cases:instructor_dashboard")).content.decode()
        return (
            re.search(r"(\d+) students? ·", html)[1],
            int(re.search(r'todo__count">(\d+)</strong> students? behind', teaching)[1]),
        )

    def poll(etag) -> int:
        headers = {"HX-Request": "true", "If-None-Match": etag}
        return instructor.get(tracker, headers=headers).status_code

    assert "deactivated" not in tracker_row() and "deactivated" not in gradebook_row()
    assert account() == "active"
    assert behind() == ("2", 2)
    etag = instructor.get(tracker, headers={"HX-Request": "true"})["ETag"]
    assert poll(etag) == 304

    admin.post(reverse("cases:person_deactivate", args=[student.pk]), {"confirm": "yes"})
    student.refresh_from_db()
    assert not student.is_active
    assert poll(etag) == 200  # The kept grid's version moved.
    mark = '<span class="tag tag--deactivated">deactivated</span>'
    assert mark in tracker_row() and "Late" in instructor.get(tracker).content.decode()
    assert mark in gradebook_row()
    assert account() == "deactivated"
    assert behind() == ("1", 1)
    assert tracker_row(behind="1") == ""
    assert mark in tracker_row(status="late")  # Their work is still late.

    admin.post(reverse("cases:person_reactivate", args=[student.pk]))
    assert "deactivated" not in tracker_row() and "deactivated" not in gradebook_row()
    assert account() == "active"
    assert behind() == ("2", 2)
    assert tracker_row(behind="1") != ""


def test_an_admin_cannot_deactivate_themselves(world, client_for):
    admin = world.users["admin"]
    response = _deactivate(client_for("admin"), admin)
    assert "You cannot deactivate your own account." in response.content.decode()
    admin.refresh_from_db()
    assert admin.is_active
    assert not AuditEntry.objects.exists()


def test_the_directory_searches_names_usernames_emails_and_student_numbers(world, client_for):
    UserFactory(username="ada", first_name="Ada", last_name="Lovelace", student_id="S-1815")
    client = client_for("admin")
    url = reverse("cases:people_directory")
    for query in ["Lovelace", "ada lovelace", "ada@example.edu", "1815"]:
        html = client.get(url, {"q": query}).content.decode()
        assert "Ada Lovelace" in html, query
        assert "other_student" not in html, query
    html = client.get(url, {"q": "zzz-nobody"}).content.decode()
    assert "Nobody matches this search." in html


def test_the_directory_shows_fifty_a_page_and_filters_by_status(world, client_for):
    User.objects.bulk_create(User(username=f"many{n:02}", last_name="Many") for n in range(55))
    User.objects.filter(username="many00").update(is_active=False)
    client = client_for("admin")
    url = reverse("cases:people_directory")
    first = client.get(url, {"q": "many"}).content.decode()
    assert first.count('aria-label="Deactivate ') + first.count('aria-label="Reactivate ') == 50
    assert "Page 1 of 2" in first
    second = client.get(url, {"q": "many", "page": "2"}).content.decode()
    assert second.count("many") >= 5
    deactivated = client.get(url, {"status": "deactivated"}).content.decode()
    assert "many00" in deactivated
    assert "many01" not in deactivated


def test_deactivating_keeps_the_search_the_admin_came_from(world, client_for):
    url = reverse("cases:person_deactivate", args=[world.users["student"].pk])
    response = client_for("admin").post(f"{url}?q=stu&page=1", {"confirm": "yes"})
    assert response["Location"] == reverse("cases:people_directory") + "?q=stu&page=1"


# The audit log -----------------------------------------------------------------------


@pytest.fixture
def log(world):
    admin, student = world.users["admin"], world.users["student"]
    audit(
        admin,
        AuditAction.DEACTIVATE,
        "Student deactivated",
        subject=student,
        before={"active": "yes"},
        after={"active": "no"},
    )
    audit(
        world.users["instructor"],
        AuditAction.ROLE_ADD,
        "TA given",
        subject=world.users["ta"],
        course=world.course,
        before={"role": "none"},
        after={"role": "Teaching assistant"},
    )
    old = audit(admin, AuditAction.ENROL, "=cmd|' /C calc'!A0", cohort=world.course.cohorts.get())
    AuditEntry.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=30))
    return world


def _shown(html: str) -> set[str]:
    return {s for s in ["Student deactivated", "TA given", "calc"] if s in html}


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({}, {"Student deactivated", "TA given", "calc"}),
        ({"action": "deactivate"}, {"Student deactivated"}),
        ({"actor": "INSTRUCTOR"}, {"TA given"}),
        ({"subject": "student"}, {"Student deactivated"}),
        ({"course": "course"}, {"TA given"}),
        ({"cohort": "cohort"}, {"calc"}),
        ({"since": "today"}, {"Student deactivated", "TA given"}),
        ({"until": "last week"}, {"calc"}),
    ],
)
def test_the_audit_log_filters(log, client_for, filters, expected):
    values = {
        "course": str(log.course.pk),
        "cohort": str(log.course.cohorts.get().pk),
        "today": timezone.localdate().isoformat(),
        "last week": (timezone.localdate() - timedelta(days=7)).isoformat(),
    }
    query = {k: values.get(v, v) for k, v in filters.items()}
    html = client_for("admin").get(reverse("cases:audit_log"), query).content.decode()
    assert _shown(html) == expected


def test_the_audit_log_shows_newest_first_with_readable_changes(log, client_for):
    html = client_for("admin").get(reverse("cases:audit_log")).content.decode()
    assert html.index("TA given") < html.index("Student deactivated") < html.index("calc")
    assert "role: none → role: Teaching assistant" in html
    assert "active: yes → active: no" in html


def test_a_backwards_date_range_is_refused_beside_the_field(log, client_for):
    response = client_for("admin").get(
        reverse("cases:audit_log"), {"since": "2030-02-01", "until": "2030-01-01"}
    )
    html = response.content.decode()
    assert "The end date must not come before the start date." in html
    assert 'value="2030-02-01"' in html
    assert _shown(html) == set()


def test_the_audit_csv_is_filtered_and_cannot_run_formulas(log, client_for):
    response = client_for("admin").get(reverse("cases:audit_csv"), {"actor": "admin"})
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    assert response["Content-Disposition"] == 'attachment; filename="audit-log.csv"'
    assert "Student deactivated" in text
    assert "TA given" not in text
    assert "'=cmd" in text
    assert "active: yes" in text


# TA cohort limits --------------------------------------------------------------------


def _limit(client, world, cohorts, **headers):
    url = reverse("cases:course_ta_cohorts", args=[world.course.pk, world.users["ta"].pk])
    return client.post(url, {"cohorts": [c.pk for c in cohorts]}, headers=headers)


def _tracker_names(client, world) -> str:
    return client.get(reverse("cases:tracker", args=[world.course.pk])).content.decode()


def test_an_instructor_limits_a_ta_to_one_cohort_and_widens_it_again(world, client_for):
    section_a = world.course.cohorts.get()
    section_b = CohortFactory(name="Section B")
    world.course.cohorts.add(section_b)
    bea = UserFactory(username="bea", first_name="Bea", last_name="Bright")
    section_b.members.add(bea)
    for assignment in list(section_a.assignments.all()):
        assignment.pk, assignment.cohort = None, section_b
        assignment.save()
    ann = world.users["student"].display_name
    ta = world.users["ta"]

    html = _tracker_names(client_for("ta"), world)
    assert ann in html and "Bea Bright" in html  # Limited to nothing: every cohort.

    instructor = client_for("instructor")
    page = instructor.get(_people_url(world)).content.decode()
    assert f"Save the cohorts {ta.display_name} is limited to" in page
    response = _limit(instructor, world, [section_a])
    assert response["Location"] == _people_url(world)
    page = instructor.get(_people_url(world)).content.decode()
    assert "now sees and grades only Section A" in page
    assert f'value="{section_a.pk}" checked' in page
    assert f'value="{section_b.pk}" checked' not in page
    entry = AuditEntry.objects.get(action=AuditAction.ROLE_ADD, subject=ta)
    assert (entry.cohort, entry.actor) == (section_a, world.users["instructor"])
    _limit(instructor, world, [section_a])  # Saved again: nothing changes, nothing logged.
    assert AuditEntry.objects.filter(subject=ta).count() == 1

    ta_client = client_for("ta")
    html = _tracker_names(ta_client, world)
    assert ann in html and "Bea Bright" not in html
    timeline = reverse("cases:student_timeline", args=[world.course.pk, bea.pk])
    assert ta_client.get(timeline).status_code == 404
    # A TA cannot widen their own limits.
    assert _limit(ta_client, world, [section_a, section_b]).status_code == 403

    instructor = client_for("instructor")
    _limit(instructor, world, [section_a, section_b])
    html = _tracker_names(client_for("ta"), world)
    assert ann in html and "Bea Bright" in html
    assert client_for("ta").get(timeline).status_code == 200

    # Nothing ticked: every cohort again, and the page says so (with htmx, in the region).
    response = _limit(client_for("instructor"), world, [], **{"HX-Request": "true"})
    html = response.content.decode()
    assert html.lstrip().startswith('<div id="people"')
    assert "now sees and grades every cohort" in html
    assert not section_a.teaching_assistants.exists()
    assert not section_b.teaching_assistants.exists()
    assert AuditEntry.objects.filter(subject=ta, action=AuditAction.ROLE_REMOVE).count() == 2


def test_ta_limits_refuse_other_courses_cohorts_and_people_who_are_not_tas(world, client_for):
    instructor = client_for("instructor")
    elsewhere = world.other_course.cohorts.get()
    response = _limit(instructor, world, [elsewhere])
    assert response.status_code == 302
    page = instructor.get(_people_url(world)).content.decode()
    assert "Choose among this course&#x27;s cohorts." in page
    assert not elsewhere.teaching_assistants.exists()
    student = world.users["student"]
    url = reverse("cases:course_ta_cohorts", args=[world.course.pk, student.pk])
    assert instructor.post(url, {"cohorts": []}).status_code == 404


def test_a_course_is_not_left_with_only_deactivated_instructors(world, client_for):
    """The course gets a second instructor; the first leaves and is deactivated. Taking
    the instructor role from the second is then refused, as for the last instructor:
    the deactivated one cannot teach. And deactivating the second asks with a warning
    that nobody would be left to teach the course."""
    admin = client_for("admin")
    admin.post(_people_url(world), {"person": "other_instructor", "role": "instructor"})
    assert world.course.instructors.filter(username="other_instructor").exists()
    _deactivate(admin, world.users["instructor"])
    response = _remove(admin, world, world.users["other_instructor"], "instructor")
    assert "last instructor" in response.content.decode()
    assert world.course.instructors.filter(username="other_instructor").exists()
    url = reverse("cases:person_deactivate", args=[world.users["other_instructor"].pk])
    page = admin.get(url).content.decode()
    assert "the only active instructor of MGT 6001 and MGT 7002" in page
    page = admin.get(reverse("cases:person_deactivate", args=[world.users["ta"].pk]))
    assert "only active instructor" not in page.content.decode()


def test_an_instructor_finds_the_join_code_to_share_and_whether_it_admits_anyone(world, client_for):
    """A new instructor wants her students in: the course's People page lists each of
    its cohorts with how many students it has, its join code and where students type it,
    so she can put it on a slide. When an admin switches the code off, the page says it
    admits nobody and that an admin turns it back on (students refused are told to ask
    her). Another course's cohort and its code are not shown."""
    from cases.services.cohorts import join_code_enable

    section = world.course.cohorts.get()
    other = world.other_course.cohorts.get()
    client = client_for("instructor")
    html = client.get(_people_url(world)).content.decode()
    students = re.search(
        r'<section[^>]*aria-labelledby="students-heading".*?</section>', html, re.S
    )
    assert students, "no students section"
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", students[0]))
    assert section.name in text and section.join_code in text
    assert "2 students" in text and reverse("cases:cohort_join") in students[0]
    assert "Admits students" in text
    assert other.join_code not in html

    join_code_enable(cohort=section, enabled=False, by=world.users["admin"])
    html = client.get(_people_url(world)).content.decode()
    assert "Switched off: an admin turns it on" in html


def test_an_admin_invites_a_new_instructor_and_ta_by_email_who_then_set_their_passwords(
    world, client, django_capture_on_commit_callbacks
):
    """The admin's first hour: the course's new instructor and TA have no accounts
    yet. On the course's People page she types each one's email (as pasted, with a
    capital and a trailing space) and the role. Each gets an account with no password
    and an invitation naming their username; the page says so. Typed again in another
    case, the address finds the same account ("already"). The instructor uses her link
    and lands on her teaching page with the course. An instructor typing an unknown
    address is told, beside the field, that an admin invites newcomers: nothing made."""
    from django.core import mail

    from cases.models import Invitation

    client.force_login(world.users["admin"])
    with django_capture_on_commit_callbacks(execute=True):
        made = client.post(
            _people_url(world), {"person": "Mei.Tan@Example.edu ", "role": "instructor"}
        )
    assert made.status_code == 302
    said = client.get(made.url).content.decode()
    assert "Invited Mei.Tan@example.edu" in said
    tan = User.objects.get(email__iexact="mei.tan@example.edu")
    assert (tan.username, tan.has_usable_password()) == ("mei.tan", False)
    assert world.course.instructors.filter(pk=tan.pk).exists()
    with django_capture_on_commit_callbacks(execute=True):
        client.post(_people_url(world), {"person": "ravi@example.edu", "role": "ta"})
    ravi = User.objects.get(email="ravi@example.edu")
    assert world.course.teaching_assistants.filter(pk=ravi.pk).exists()
    assert sorted(m.to[0] for m in mail.outbox) == ["Mei.Tan@example.edu", "ravi@example.edu"]
    assert (
        Invitation.objects.filter(user__in=[tan, ravi], sent_by=world.users["admin"]).count() == 2
    )
    assert AuditEntry.objects.filter(action=AuditAction.INVITE, subject=tan).exists()
    again = client.post(_people_url(world), {"person": "mei.tan@EXAMPLE.edu", "role": "instructor"})
    assert "is already an instructor" in again.content.decode()
    assert User.objects.filter(email__iexact="mei.tan@example.edu").count() == 1

    [invitation] = [m for m in mail.outbox if m.to == ["Mei.Tan@example.edu"]]
    assert "username is mei.tan" in invitation.body
    link = next(line for line in invitation.body.splitlines() if "/password/reset/" in line)
    client.logout()
    form_page = client.get(link[link.index("/password/reset/") :].strip(), follow=True)
    landed = client.post(
        form_page.redirect_chain[-1][0],
        {"new_password1": "a-new-long-passphrase", "new_password2": "a-new-long-passphrase"},
        follow=True,
    )
    assert landed.redirect_chain[-1][0] == reverse("cases:instructor_dashboard")
    assert world.course.title in landed.content.decode()

    mail.outbox.clear()
    instructor = Client()
    instructor.force_login(world.users["instructor"])
    refused = instructor.post(_people_url(world), {"person": "new.ta@example.edu", "role": "ta"})
    html = refused.content.decode()
    assert "field--invalid" in html and "an admin can invite" in html
    assert not User.objects.filter(email="new.ta@example.edu").exists() and not mail.outbox


def test_an_admin_who_made_a_course_for_an_instructor_steps_down_once_she_is_in(client):
    """The admin makes the course on the app's New course page (she becomes its
    instructor) and invites its real instructor. She then takes her own instructor
    role away on the People page, where her row has a Remove button: she keeps the
    course as an admin, and her teaching page shows it as one she oversees, not one
    whose to-do is hers. Before anyone else teaches it, stepping down is refused as
    leaving the course without an instructor. The instructor still cannot take her own
    role away (only an admin changes instructors)."""
    admin = UserFactory(username="root", is_staff=True)
    client.force_login(admin)
    client.post(
        reverse("cases:course_create"),
        {"code": "MGT 6500", "title": "Red Queen", "description": "", "time_zone": "UTC"},
    )
    from cases.models import Course

    course = Course.objects.get(code="MGT 6500")
    url = reverse("cases:course_people", args=[course.pk])
    remove = reverse("cases:course_people_remove", args=[course.pk, admin.pk])
    alone = client.post(remove, {"role": "instructor"}, follow=True).content.decode()
    assert "last instructor" in alone and course.instructors.filter(pk=admin.pk).exists()

    client.post(url, {"person": "tan@example.edu", "role": "instructor"})
    assert remove in client.get(url).content.decode()
    done = client.post(remove, {"role": "instructor"}, follow=True).content.decode()
    assert f"{admin.display_name} is no longer an instructor." in done
    assert list(course.instructors.values_list("email", flat=True)) == ["tan@example.edu"]
    assert "You oversee this course as an admin" in client.get("/teach/").content.decode()
    assert AuditEntry.objects.filter(
        action=AuditAction.ROLE_REMOVE, actor=admin, subject=admin
    ).exists()

    tan = User.objects.get(email="tan@example.edu")
    client.force_login(tan)
    mine = reverse("cases:course_people_remove", args=[course.pk, tan.pk])
    assert client.post(mine, {"role": "instructor"}).status_code == 403
    assert course.instructors.filter(pk=tan.pk).exists()
