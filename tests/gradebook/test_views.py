"""The gradebook pages, through Django's test client."""

import csv
import io
import re
from datetime import timedelta
from decimal import Decimal
from html import unescape

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from cases.models import (
    Assignment,
    AuditAction,
    AuditEntry,
    Cohort,
    GradeCategory,
    ModuleItem,
    Work,
    WorkStatus,
)
from cases.services.discussions import participation_grade
from cases.services.gradebook import assignment_release
from cases.services.readings import reading_mark_done
from cases.services.workspace.grading import work_grade
from tests.factories import MembershipFactory, UserFactory
from tests.helpers import data_queries

pytestmark = pytest.mark.django_db


@pytest.fixture
def graded(world):
    """Quizzes (60%) and Discussions (40%); the student has 8/10 on the quiz (an
    override) and 5/10 on the thread. The reading stays uncategorised."""
    course = world.course
    quizzes = GradeCategory.objects.create(course=course, name="Quizzes", weight=60, position=1)
    talk = GradeCategory.objects.create(course=course, name="Discussions", weight=40, position=2)
    ModuleItem.objects.filter(pk=world.quiz.item.pk).update(grade_category=quizzes)
    ModuleItem.objects.filter(pk=world.discussion.item.pk).update(grade_category=talk)
    student = world.users["student"]
    work_grade(
        item=world.quiz.item,
        student=student,
        grader=world.users["instructor"],
        override_score=Decimal(8),
        override_reason="Answered in class.",
        excused=False,
        feedback="QUIZ-FEEDBACK-FOR-STUDENT",
    )
    participation_grade(
        discussion=world.discussion, user_id=student.pk, points=Decimal(5), comment="", grader=None
    )
    return world


def _grade_url(world, item=None, student="student"):
    item = item or world.quiz.item
    return reverse("cases:grade_edit", args=[world.course.pk, world.users[student].pk, item.pk])


def _csv_rows(response) -> list[list[str]]:
    body = b"".join(response.streaming_content).decode("utf-8")
    assert body.startswith("\ufeff")
    return list(csv.reader(io.StringIO(body[1:])))


def test_gradebook_shows_points_category_percents_and_the_weighted_total(graded, client_for):
    response = client_for("instructor").get(reverse("cases:gradebook", args=[graded.course.pk]))
    assert response.status_code == 200
    html = response.content.decode()
    assert "Quizzes" in html and "Discussions" in html and "Uncategorised" in html
    assert "do not count in the total" in html  # The uncategorised reading is flagged.
    assert "80.0%" in html and "50.0%" in html
    assert "68.0%" in html  # 0.6 * 80 + 0.4 * 50.
    assert "override" in html
    assert _grade_url(graded) in html


def test_excused_work_leaves_its_category(graded, client_for):
    client = client_for("instructor")
    client.post(
        _grade_url(graded, graded.discussion.item),
        {"excused": "on", "override_score": "", "override_reason": "", "feedback": ""},
    )
    html = client.get(reverse("cases:gradebook", args=[graded.course.pk])).content.decode()
    assert "excused" in html
    assert "80.0%" in html and "50.0%" not in html  # Total renormalised to Quizzes alone.


def test_an_override_needs_a_reason_shown_beside_the_field_with_the_input_kept(graded, client_for):
    client = client_for("ta")
    response = client.post(
        _grade_url(graded, graded.discussion.item),
        {"override_score": "7.5", "override_reason": "  ", "feedback": "KEEP-THIS-COMMENT"},
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="id_override_reason_error"' in html
    assert "Give a reason for the override." in html
    assert 'value="7.5"' in html and "KEEP-THIS-COMMENT" in html
    work = Work.objects.get(item=graded.discussion.item, user=graded.users["student"])
    assert work.override_score is None


def test_saving_a_grade_twice_keeps_one_row_and_never_touches_the_synced_fields(graded, client_for):
    student = graded.users["student"]
    before = Work.objects.get(item=graded.discussion.item, user=student)
    data = {"override_score": "9", "override_reason": "Late post excused", "feedback": "Good."}
    client = client_for("ta")
    for _ in range(2):
        response = client.post(f"{_grade_url(graded, graded.discussion.item)}?cohort=&page=1", data)
        assert response.status_code == 302
    work = Work.objects.get(item=graded.discussion.item, user=student)
    assert (work.override_score, work.override_reason, work.feedback) == (
        Decimal(9),
        "Late post excused",
        "Good.",
    )
    assert work.graded_by == graded.users["ta"] and work.graded_at is not None
    synced = ["state", "opened_at", "submitted_at", "auto_score", "max_score", "needs_grading"]
    assert [getattr(work, f) for f in synced] == [getattr(before, f) for f in synced]
    # Clearing the override clears its reason too. (The form posts back what the
    # grader saw, and only what they changed is saved.)
    seen = {"initial-override_score": "9.00", "initial-override_reason": "Late post excused"}
    client.post(_grade_url(graded, graded.discussion.item), {"feedback": "Good."} | seen)
    work.refresh_from_db()
    assert (work.override_score, work.override_reason) == (None, "")


def test_grading_an_untouched_item_creates_its_row(graded, client_for):
    student = graded.users["student_ta_elsewhere"]
    url = _grade_url(graded, graded.item, "student_ta_elsewhere")
    client_for("instructor").post(url, {"excused": "on"})
    work = Work.objects.get(item=graded.item, user=student)
    assert work.excused and work.state == WorkStatus.NOT_STARTED


def test_htmx_gets_the_form_fragment_back(graded, client_for):
    client = client_for("instructor")
    url = _grade_url(graded)
    page = client.get(url)
    assert b"<html" in page.content and b'id="grade-form"' in page.content
    fragment = client.get(url, headers={"HX-Request": "true"})
    assert b"<html" not in fragment.content and b'id="grade-form"' in fragment.content
    saved = client.post(
        url,
        {"override_score": "6", "override_reason": "Regraded", "feedback": ""},
        headers={"HX-Request": "true"},
    )
    assert saved.status_code == 200
    assert b"<html" not in saved.content and b"Grade saved." in saved.content
    assert b"6 / 10" in saved.content
    assert saved["Vary"].count("HX-Request") == 1


def test_an_item_not_given_to_the_students_cohort_is_not_found(graded, client_for):
    stray = ModuleItem.objects.create(module=graded.item.module, kind="quiz", title="Draft")
    assert client_for("instructor").get(_grade_url(graded, stray)).status_code == 404


def test_students_see_their_grades_only_once_released(graded, client_for):
    url = reverse("cases:student_grades", args=[graded.course.pk])
    client = client_for("student")
    html = client.get(url).content.decode()
    assert "Not released" in html
    assert "QUIZ-FEEDBACK-FOR-STUDENT" not in html and "8 / 10" not in html
    assert "No grades have been released to you yet." in html

    assignment = graded.quiz.item.assignments.get()
    client_for("instructor").post(
        reverse("cases:assignment_release", args=[assignment.pk]), {"release": "1"}
    )
    html = client_for("student").get(url).content.decode()
    assert "QUIZ-FEEDBACK-FOR-STUDENT" in html and "8 / 10" in html
    assert "80.0%" in html  # Only the quiz is released: the total is the quiz's.
    assert "50 / 10" not in html and "5 / 10" not in html


def test_students_never_see_a_classmates_grades(graded, client_for):
    classmate = graded.users["student_ta_elsewhere"]
    work_grade(
        item=graded.quiz.item,
        student=classmate,
        grader=None,
        override_score=Decimal(3),
        override_reason="Reason",
        excused=False,
        feedback="CLASSMATE-SECRET-FEEDBACK",
    )
    Assignment.objects.update(grades_released_at=timezone.now())
    html = client_for("student").get(reverse("cases:student_grades", args=[graded.course.pk]))
    html = html.content.decode()
    assert "QUIZ-FEEDBACK-FOR-STUDENT" in html
    assert "CLASSMATE-SECRET-FEEDBACK" not in html and "3 / 10" not in html


def test_releasing_and_hiding_grades(graded, client_for):
    assignment = graded.quiz.item.assignments.get()
    url = reverse("cases:assignment_release", args=[assignment.pk])
    client = client_for("instructor")
    response = client.post(url, {"release": "1"}, headers={"HX-Request": "true"})
    assert response.status_code == 200
    assert b"<html" not in response.content and b"Hide grades" in response.content
    assignment.refresh_from_db()
    first = assignment.grades_released_at
    assert first is not None
    client.post(url, {"release": "1"})
    assignment.refresh_from_db()
    assert assignment.grades_released_at == first  # Releasing twice keeps the first time.
    client.post(url, {"release": "0"})
    assignment.refresh_from_db()
    assert assignment.grades_released_at is None


def test_the_gradebooks_release_forms_work_twice_from_the_kept_page(graded, client_for):
    """The release controls are kept with the grid, each viewer's token put in: an
    instructor releases from the page without JavaScript, reloads, hides again from
    the reloaded page; a TA, who may not release, is never shown the controls."""
    from django.test import Client

    instructor = Client(enforce_csrf_checks=True)
    instructor.force_login(graded.users["instructor"])
    url = reverse("cases:gradebook", args=[graded.course.pk])
    assignment = graded.quiz.item.assignments.get()
    form = re.compile(
        rf'id="release-{assignment.pk}".*?name="csrfmiddlewaretoken" value="([^"]+)"'
        r'.*?name="release" value="(\d)"',
        re.S,
    )
    for wanted, shown in (("1", "Hide grades"), ("0", "Release grades")):
        token, release = form.search(instructor.get(url).content.decode()).groups()
        assert release == wanted
        action = reverse("cases:assignment_release", args=[assignment.pk])
        sent = {"csrfmiddlewaretoken": token, "release": release}
        assert instructor.post(action, sent).status_code == 302
        page = instructor.get(url).content.decode()
        assert shown in page[page.index(f'id="release-{assignment.pk}"') :]
    assert "Release grades" not in client_for("ta").get(url).content.decode()


@pytest.mark.parametrize(
    "name", ["cases:gradebook", "cases:gradebook_csv", "cases:grade_edit", "cases:student_grades"]
)
def test_grade_pages_are_never_cached(graded, client_for, name):
    if name == "cases:grade_edit":
        role, url = "instructor", _grade_url(graded)
    else:
        role = "student" if name == "cases:student_grades" else "instructor"
        url = reverse(name, args=[graded.course.pk])
    response = client_for(role).get(url)
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]


def test_csv_has_a_bom_one_row_per_student_and_no_formulas(graded, client_for):
    student = graded.users["student"]
    student.first_name, student.last_name = '=HYPERLINK("http://evil")', "+Bad"
    student.save()
    graded.users["student_ta_elsewhere"].email = "@sum(A1)@example.edu"
    graded.users["student_ta_elsewhere"].save()
    response = client_for("instructor").get(reverse("cases:gradebook_csv", args=[graded.course.pk]))
    assert response["Content-Type"].startswith("text/csv")
    assert response["Content-Disposition"] == 'attachment; filename="mgt-6001-gradebook.csv"'
    rows = _csv_rows(response)
    header, body = rows[0], rows[1:]
    assert header[:4] == ["Username", "Student", "Email", "Cohort"]
    module = graded.quiz.item.module.title
    assert f"{module} / Reading check (10)" in header
    assert header[-4:] == ["Quizzes (%)", "Discussions (%)", "Uncategorised (%)", "Total (%)"]
    assert sorted(r[0] for r in body) == ["student", "student_ta_elsewhere"]
    mine = next(r for r in body if r[0] == "student")
    assert mine[1] == '\'=HYPERLINK("http://evil") +Bad'
    assert mine[3] == "Section A"
    assert mine[header.index(f"{module} / Reading check (10)")] == "8.00"
    assert mine[-1] == "68.0"
    theirs = next(r for r in body if r[0] == "student_ta_elsewhere")
    assert theirs[2] == "'@sum(A1)@example.edu"
    for row in rows:
        for value in row:
            assert not value.startswith(("=", "+", "-", "@", "\t", "\r"))


def test_a_ta_given_one_cohort_sees_only_that_cohort_in_gradebook_and_csv(graded, client_for):
    section_b = Cohort.objects.create(name="Section B")
    graded.course.cohorts.add(section_b)
    newcomer = UserFactory(username="newcomer", first_name="New", last_name="Comer")
    MembershipFactory(cohort=section_b, user=newcomer)
    for item in [graded.item, graded.quiz.item, graded.discussion.item]:
        Assignment.objects.create(item=item, cohort=section_b)
    section_b.teaching_assistants.add(graded.users["ta"])
    client = client_for("ta")
    html = client.get(reverse("cases:gradebook", args=[graded.course.pk])).content.decode()
    assert "newcomer" in html
    assert ">student<" not in html and "student_ta_elsewhere" not in html
    rows = _csv_rows(client.get(reverse("cases:gradebook_csv", args=[graded.course.pk])))
    assert [r[0] for r in rows[1:]] == ["newcomer"]
    # Nor may the TA open a grade of the other cohort's student.
    assert client.get(_grade_url(graded)).status_code == 404
    # The instructor still sees everyone, and may filter by cohort.
    instructor = client_for("instructor")
    url = reverse("cases:gradebook", args=[graded.course.pk])
    assert "student_ta_elsewhere" in instructor.get(url).content.decode()
    filtered = instructor.get(url, {"cohort": section_b.pk}).content.decode()
    assert "newcomer" in filtered and "student_ta_elsewhere" not in filtered


def test_the_gradebook_pages_by_fifty(world, client_for):
    from tests.factories import enrol

    enrol(world.course.cohorts.get(), 55, prefix="many")
    url = reverse("cases:gradebook", args=[world.course.pk])
    client = client_for("instructor")
    first = client.get(url).content.decode()
    assert "57 students, page 1 of 2" in first and "?page=2" in first
    second = client.get(url, {"page": "2"}).content.decode()
    assert "page 2 of 2" in second and "Previous" in second


def test_default_categories_come_from_a_button_and_file_items_by_kind(world, client_for):
    url = reverse("cases:grade_categories", args=[world.course.pk])
    client = client_for("instructor")
    page = client.get(url).content.decode()
    assert "Add the default categories" in page
    assert not GradeCategory.objects.filter(course=world.course).exists()  # GET writes nothing.
    assert client.post(url, {"action": "defaults"}).status_code == 302
    names = list(world.course.grade_categories.values_list("name", "weight"))
    assert names == [
        ("Readings", Decimal(10)),
        ("Quizzes", Decimal(30)),
        ("Discussions", Decimal(20)),
        ("Written analyses", Decimal(20)),
        ("Participation", Decimal(20)),
    ]
    world.item.refresh_from_db()
    world.quiz.item.refresh_from_db()
    assert world.item.grade_category.name == "Readings"
    assert world.quiz.item.grade_category.name == "Quizzes"
    client.post(url, {"action": "defaults"})  # Twice: nothing more.
    assert world.course.grade_categories.count() == 5
    assert "Add the default categories" not in client.get(url).content.decode()


def _formset_data(categories, extra=None):
    data = {
        "action": "categories",
        "categories-TOTAL_FORMS": str(len(categories) + 1),
        "categories-INITIAL_FORMS": str(len(categories)),
        "categories-MIN_NUM_FORMS": "0",
        "categories-MAX_NUM_FORMS": "1000",
    }
    for n, category in enumerate(categories):
        data |= {
            f"categories-{n}-id": str(category.pk),
            f"categories-{n}-name": category.name,
            f"categories-{n}-weight": str(category.weight),
            f"categories-{n}-drop_lowest": str(category.drop_lowest),
            f"categories-{n}-position": str(category.position),
        }
    n = len(categories)
    for key, value in (extra or {}).items():
        data[f"categories-{n}-{key}"] = value
    return data


def test_categories_are_edited_and_weights_not_totalling_100_are_flagged(world, client_for):
    url = reverse("cases:grade_categories", args=[world.course.pk])
    client = client_for("instructor")
    quizzes = GradeCategory.objects.create(course=world.course, name="Quizzes", weight=60)
    extra = {"name": "Essays", "weight": "30", "drop_lowest": "0", "position": "2"}
    assert client.post(url, _formset_data([quizzes], extra)).status_code == 302
    assert set(world.course.grade_categories.values_list("name", flat=True)) == {
        "Quizzes",
        "Essays",
    }
    assert "add up to 90%, not 100%" in client.get(url).content.decode()
    # A duplicate name is refused beside the field.
    extra = {"name": "quizzes", "weight": "10", "drop_lowest": "0", "position": "3"}
    categories = list(world.course.grade_categories.all())
    response = client.post(url, _formset_data(categories, extra))
    assert response.status_code == 200
    assert "Each category needs its own name." in response.content.decode()
    # File the quiz in Essays from the items form.
    essays = world.course.grade_categories.get(name="Essays")
    data = {"action": "items", f"item-{world.quiz.item.pk}": str(essays.pk)}
    assert client.post(url, data).status_code == 302
    world.quiz.item.refresh_from_db()
    assert world.quiz.item.grade_category == essays


def test_names_swapped_or_freed_by_a_deletion_in_one_save_are_saved(world, client_for):
    """Two categories swap names in one save, then a third is deleted and its name given
    to another in the same save: each name is held by one category when the save is
    done, so both saves go through (they used to stop on the unique name half way,
    an error page)."""
    url = reverse("cases:grade_categories", args=[world.course.pk])
    client = client_for("instructor")
    quizzes = GradeCategory.objects.create(course=world.course, name="Quizzes", weight=60)
    talk = GradeCategory.objects.create(course=world.course, name="Talk", weight=40, position=1)
    old = GradeCategory.objects.create(course=world.course, name="Old", weight=0, position=2)
    data = _formset_data([quizzes, talk, old]) | {
        "categories-TOTAL_FORMS": "3",  # No new one.
        "categories-0-name": "Talk",
        "categories-1-name": "Quizzes",
    }
    assert client.post(url, data).status_code == 302
    assert dict(world.course.grade_categories.values_list("pk", "name")) == {
        quizzes.pk: "Talk",
        talk.pk: "Quizzes",
        old.pk: "Old",
    }
    data = _formset_data(list(world.course.grade_categories.order_by("pk"))) | {
        "categories-TOTAL_FORMS": "3",
        "categories-2-DELETE": "on",
        "categories-0-name": "Old",
    }
    assert client.post(url, data).status_code == 302
    assert dict(world.course.grade_categories.values_list("pk", "name")) == {
        quizzes.pk: "Old",
        talk.pk: "Quizzes",
    }


def test_changing_the_weights_between_two_exports_is_in_the_audit_log(world, graded, client_for):
    """The instructor gives the quizzes more weight and deletes the discussions'
    category between two CSV exports, so every total moves: the admin's audit log says
    who changed what, with the categories before and after. Saving without a change
    writes nothing."""
    course = world.course
    url = reverse("cases:grade_categories", args=[course.pk])
    client = client_for("instructor")
    quizzes, talk = course.grade_categories.order_by("position")
    unchanged = _formset_data([quizzes, talk]) | {"categories-TOTAL_FORMS": "2"}
    assert client.post(url, unchanged).status_code == 302
    assert not AuditEntry.objects.filter(action=AuditAction.GRADE_CATEGORIES).exists()
    data = unchanged | {"categories-0-weight": "70", "categories-1-DELETE": "on"}
    # The discussions' category holds the thread: the page asks first, and only the
    # confirmed save is audited.
    assert client.post(url, data).status_code == 200
    assert not AuditEntry.objects.filter(action=AuditAction.GRADE_CATEGORIES).exists()
    assert client.post(url, data | {"confirmed": "1"}).status_code == 302
    [entry] = AuditEntry.objects.filter(action=AuditAction.GRADE_CATEGORIES)
    assert (entry.actor, entry.course) == (world.users["instructor"], course)
    assert entry.summary == "Grade categories of MGT 6001 changed"
    assert entry.before == {"Quizzes": "60%", "Discussions": "40%"}
    assert entry.after == {"Quizzes": "70%"}
    log = client_for("admin").get(reverse("cases:audit_log")).content.decode()
    assert "Grade categories of MGT 6001 changed" in log
    assert "Quizzes: 60%; Discussions: 40%" in log


def _carried(html: str) -> dict[str, str]:
    """The hidden fields of a confirmation page's form, as its buttons post them."""
    form = re.search(r'<form method="post" class="actions">(.*?)</form>', html, re.S).group(1)
    fields = re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', form)
    return {name: unescape(value) for name, value in fields if name != "csrfmiddlewaretoken"}


def _own_total(world) -> str:
    """The course grade on the student's own grades page, over released grades."""
    client = Client()
    client.force_login(world.users["student"])
    html = client.get(reverse("cases:student_grades", args=[world.course.pk])).content.decode()
    return re.search(r"Your course grade so far: <strong>([^<]*)</strong>", html).group(1)


@pytest.fixture
def released(graded):
    """The graded course with the quiz's and the thread's grades released: the student
    sees 68.0% (0.6 * 80 + 0.4 * 50)."""
    for item in (graded.quiz.item, graded.discussion.item):
        assignment_release(assignment=item.assignments.get(), released=True)
    return graded


def test_deleting_a_category_with_released_grades_asks_first_and_back_keeps_the_form(
    released, client_for
):
    """The instructor deletes the discussions' category (its thread is graded and
    released) and gives the quizzes 70%: a page says what goes, and nothing has changed
    yet. Back shows the form as typed; saving from the page applies it, and the
    student's total moves from 68.0% to the quiz's 80.0%."""
    course, student = released.course, released.users["student"]
    url = reverse("cases:grade_categories", args=[course.pk])
    gradebook_url = reverse("cases:gradebook", args=[course.pk])
    client = client_for("instructor")
    quizzes, talk = course.grade_categories.order_by("position")
    typed = _formset_data([quizzes, talk]) | {
        "categories-TOTAL_FORMS": "2",
        "categories-0-weight": "70",
        "categories-1-DELETE": "on",
    }
    response = client.post(url, typed)
    assert response.status_code == 200
    html = response.content.decode()
    assert "“Discussions” is deleted</strong>: its 1 item becomes Uncategorised and stops" in html
    assert "1 student\u2019s released total</strong> changes" in html
    assert "Save the categories" in html and "Back to the categories" in html
    # Nothing changed yet: the categories, the student's page, the gradebook, the log.
    assert list(course.grade_categories.values_list("name", "weight")) == [
        ("Quizzes", Decimal(60)),
        ("Discussions", Decimal(40)),
    ]
    assert ModuleItem.objects.get(pk=released.discussion.item.pk).grade_category == talk
    assert _own_total(released) == "68.0%"
    assert _row_total(client.get(gradebook_url).content.decode(), student) == "68.0%"
    assert not AuditEntry.objects.filter(action=AuditAction.GRADE_CATEGORIES).exists()
    # The page carries the form as typed; back, the form is as it was typed.
    carried = _carried(html)
    assert carried == {k: v for k, v in typed.items() if k != "action"} | {"confirmed": "1"}
    back = client.post(url, carried | {"action": "edit"})
    assert back.status_code == 200
    form = back.content.decode()
    assert 'name="categories-0-weight" value="70"' in form
    assert re.search(r'name="categories-1-DELETE"[^>]* checked', form)
    assert "Save categories" in form and "is deleted" not in form
    assert course.grade_categories.count() == 2
    assert _own_total(released) == "68.0%"
    # Saved from the confirmation page: applied at once, everywhere.
    assert client.post(url, carried | {"action": "categories"}).status_code == 302
    assert list(course.grade_categories.values_list("name", "weight")) == [("Quizzes", Decimal(70))]
    assert ModuleItem.objects.get(pk=released.discussion.item.pk).grade_category is None
    assert _own_total(released) == "80.0%"
    assert _row_total(client.get(gradebook_url).content.decode(), student) == "80.0%"
    assert AuditEntry.objects.filter(action=AuditAction.GRADE_CATEGORIES).count() == 1


def test_new_weights_that_move_released_totals_ask_first(released, client_for):
    """No category goes, but the weights move the student's released total: the page
    asks, saying so; before the release the same edit saved at once
    (test_the_category_view_shows_each_category_and_the_same_total_as_the_grid)."""
    course = released.course
    url = reverse("cases:grade_categories", args=[course.pk])
    client = client_for("instructor")
    quizzes, talk = course.grade_categories.order_by("position")
    typed = _formset_data([quizzes, talk]) | {
        "categories-TOTAL_FORMS": "2",
        "categories-0-weight": "20",
    }
    html = client.post(url, typed).content.decode()
    assert "1 student\u2019s released total</strong> changes" in html
    assert "is deleted" not in html
    assert course.grade_categories.get(name="Quizzes").weight == 60
    assert _own_total(released) == "68.0%"
    assert client.post(url, _carried(html) | {"action": "categories"}).status_code == 302
    assert _own_total(released) == "60.0%"  # 0.2 * 80 + 0.4 * 50, over 0.6.


def test_deleting_an_empty_category_or_renaming_one_saves_at_once(released, client_for):
    """With grades released, what moves no total saves without a question: a category
    renamed, and one deleted that holds no item."""
    course = released.course
    url = reverse("cases:grade_categories", args=[course.pk])
    client = client_for("instructor")
    empty = GradeCategory.objects.create(course=course, name="Old", weight=0, position=3)
    quizzes, talk, _old = course.grade_categories.order_by("position")
    typed = _formset_data([quizzes, talk, empty]) | {
        "categories-TOTAL_FORMS": "3",
        "categories-1-name": "Class debate",
        "categories-2-DELETE": "on",
    }
    assert client.post(url, typed).status_code == 302
    assert list(course.grade_categories.values_list("name", flat=True)) == [
        "Quizzes",
        "Class debate",
    ]
    assert _own_total(released) == "68.0%"


def test_a_category_of_another_course_cannot_be_chosen(world, client_for):
    elsewhere = GradeCategory.objects.create(course=world.other_course, name="Theirs", weight=1)
    url = reverse("cases:grade_categories", args=[world.course.pk])
    data = {"action": "items", f"item-{world.quiz.item.pk}": str(elsewhere.pk)}
    response = client_for("instructor").post(url, data)
    assert response.status_code == 200
    world.quiz.item.refresh_from_db()
    assert world.quiz.item.grade_category is None


@pytest.mark.parametrize(
    ("role", "expected"),
    [("student", 403), ("ta", 403), ("other_instructor", 404), ("instructor", 302)],
)
def test_only_the_courses_teachers_change_categories(world, client_for, role, expected):
    url = reverse("cases:grade_categories", args=[world.course.pk])
    assert client_for(role).post(url, {"action": "defaults"}).status_code == expected


@pytest.mark.parametrize(
    ("role", "expected"),
    [("student", 403), ("student_ta_elsewhere", 403), ("other_instructor", 404), ("ta", 302)],
)
def test_only_the_courses_graders_post_grades(world, client_for, role, expected):
    url = _grade_url(world)
    data = {"override_score": "1", "override_reason": "r"}
    assert client_for(role).post(url, data).status_code == expected


def test_missing_work_past_due_counts_as_zero(graded, client_for):
    Assignment.objects.filter(item=graded.quiz.item).update(
        due_at=timezone.now() - timedelta(days=2)
    )
    html = client_for("instructor").get(reverse("cases:gradebook", args=[graded.course.pk]))
    assert "missing" in html.content.decode()  # student_ta_elsewhere never started it.


def test_saving_from_the_gradebook_refreshes_the_students_row_out_of_band(graded, client_for):
    client = client_for("instructor")
    student = graded.users["student"]
    gradebook = client.get(reverse("cases:gradebook", args=[graded.course.pk])).content.decode()
    assert f'hx-get="{_grade_url(graded)}?cohort=&amp;page=1&amp;inline=1"' in gradebook
    assert f'<tr id="student-{student.pk}">' in gradebook
    opened = client.get(f"{_grade_url(graded)}?inline=1", headers={"HX-Request": "true"})
    assert b'name="inline" value="1"' in opened.content
    response = client.post(
        _grade_url(graded),
        {"override_score": "10", "override_reason": "Full marks", "inline": "1"},
        headers={"HX-Request": "true"},
    )
    html = response.content.decode()
    assert "Grade saved." in html
    assert html.count("<template>") == 1
    assert f'<tr id="student-{student.pk}" hx-swap-oob="true">' in html
    assert "80.0%" in html  # 0.6 * 100 + 0.4 * 50, renormalised over both.
    # Without `inline` (the form's own page), no row comes back.
    response = client.post(
        _grade_url(graded),
        {"override_score": "10", "override_reason": "Full marks"},
        headers={"HX-Request": "true"},
    )
    assert "hx-swap-oob" not in response.content.decode()


def test_the_gradebook_table_polls_and_an_unchanged_course_answers_204(world, client_for):
    client = client_for("instructor")
    url = reverse("cases:gradebook", args=[world.course.pk])
    htmx = {"HX-Request": "true"}
    first = client.get(url, {"poll": "1"}, headers=htmx)
    html = first.content.decode()
    assert html.strip().startswith('<div id="gradebook-table"')
    assert first["Cache-Control"].startswith("max-age=0")  # Never stored, polls included.
    known = re.search(r"known=([^\"&]+)", html).group(1)
    assert client.get(url, {"poll": "1", "known": known}, headers=htmx).status_code == 204
    reading_mark_done(user=world.users["student"], case=world.case, done=True)
    changed = client.get(url, {"poll": "1", "known": known}, headers=htmx)
    assert changed.status_code == 200
    assert f"known={known}" not in changed.content.decode()


def _student_row(html: str, student) -> str:
    match = re.search(rf'<tr id="student-{student.pk}"[^>]*>(.*?)</tr>', html, re.S)
    assert match, f"no row for {student}"
    return match.group(1)


def _row_total(html: str, student) -> str:
    row = _student_row(html, student)
    match = re.search(r'class="gradebook__percent gradebook__total">([^<]*)</td>', row)
    assert match
    return match.group(1)


def test_the_category_view_shows_each_category_and_the_same_total_as_the_grid(graded, client_for):
    client = client_for("instructor")
    url = reverse("cases:gradebook", args=[graded.course.pk])
    student = graded.users["student"]
    grid = client.get(url).content.decode()
    # The grid links to the category view and marks itself as the one shown.
    assert 'aria-current="page">Every item</a>' in grid
    assert f'href="{url}?view=categories"' in grid
    categories = client.get(url, {"view": "categories"}).content.decode()
    assert 'aria-current="page">Category totals</a>' in categories
    row = _student_row(categories, student)
    # One cell per category (Quizzes, Discussions, Uncategorised) and the total; no items.
    assert row.count("<td") == 4
    assert "80.0%" in row and "50.0%" in row
    assert _row_total(categories, student) == _row_total(grid, student) == "68.0%"
    assert _grade_url(graded) not in categories  # Per-item cells are the grid's.
    # The instructor changes the quizzes' weight: both views follow, and still agree.
    quizzes = graded.course.grade_categories.get(name="Quizzes")
    talk = graded.course.grade_categories.get(name="Discussions")
    quizzes.weight = Decimal(20)
    settings_url = reverse("cases:grade_categories", args=[graded.course.pk])
    data = _formset_data([quizzes, talk]) | {"categories-TOTAL_FORMS": "2"}  # No new one.
    assert client.post(settings_url, data).status_code == 302
    grid = client.get(url).content.decode()
    categories = client.get(url, {"view": "categories"}).content.decode()
    # 0.2 * 80 + 0.4 * 50, over 0.6.
    assert _row_total(categories, student) == _row_total(grid, student) == "60.0%"
    assert "20%" in categories


def test_the_category_view_is_kept_by_the_cohort_filter_paging_and_polling(world, client_for):
    second = Cohort.objects.create(name="Section Z")
    world.course.cohorts.add(second)
    for n in range(51):
        MembershipFactory(cohort=second, user=UserFactory(username=f"z{n:02d}"))
    Assignment.objects.create(item=world.quiz.item, cohort=second)
    client = client_for("instructor")
    url = reverse("cases:gradebook", args=[world.course.pk])
    html = client.get(url, {"view": "categories"}).content.decode()
    assert '<input type="hidden" name="view" value="categories">' in html
    assert "page=2&amp;view=categories" in html  # Next page.
    assert "poll=1&amp;view=categories" in html
    page_two = client.get(url, {"view": "categories", "page": "2"}).content.decode()
    assert 'aria-current="page">Category totals</a>' in page_two
    assert "page 2 of 2" in page_two
    poll = client.get(
        url, {"view": "categories", "poll": "1"}, headers={"HX-Request": "true"}
    ).content.decode()
    assert "gradebook--categories" in poll and "<html" not in poll
    assert "gradebook--categories" not in client.get(url).content.decode()


def test_the_gradebook_is_kept_between_changes_and_a_grade_shows_at_once(graded, client_for):
    """A reload between changes costs the version and the grader's cohorts, not the
    columns, rows and release controls; a grade saved from the grade page, a category
    reweighed, or another grader's view is never the kept grid of before."""
    client = client_for("instructor")
    url = reverse("cases:gradebook", args=[graded.course.pk])
    with CaptureQueriesContext(connection) as first:
        before = client.get(url).content.decode()
    with CaptureQueriesContext(connection) as again:
        reloaded = client.get(url).content.decode()
    body = re.compile(r"<tbody>.*?</tbody>", re.S)
    assert body.search(reloaded).group() == body.search(before).group()
    assert data_queries(again) == data_queries(first) - 4
    # The table's poll carries the version it shows: unchanged, it is a 204.
    known = re.search(r"known=(\w+)", before).group(1)
    poll = client.get(url, {"poll": "1", "known": known}, headers={"HX-Request": "true"})
    assert poll.status_code == 204

    data = {"override_score": "9.5", "override_reason": "Regraded", "feedback": ""}
    assert client.post(_grade_url(graded, graded.discussion.item), data).status_code == 302
    assert ">9.5</a>" in client.get(url).content.decode()
    quizzes = GradeCategory.objects.get(course=graded.course, name="Quizzes")
    quizzes.weight = 10
    quizzes.save()  # As the categories page saves it: `update()` would not date the change.
    totals = client.get(url, {"view": "categories"}).content.decode()
    assert "10%" in totals
    assert (
        client.get(url, {"poll": "1", "known": known}, headers={"HX-Request": "true"}).status_code
        == 200
    )

    section_b = Cohort.objects.create(name="Section B")
    graded.course.cohorts.add(section_b)
    section_b.teaching_assistants.add(graded.users["ta"])
    assert ">9.5</a>" not in client_for("ta").get(url).content.decode()
