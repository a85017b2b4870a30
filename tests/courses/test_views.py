import pytest
from django.urls import reverse

from tests.factories import AssignmentFactory, CohortFactory, ModuleItemFactory

pytestmark = pytest.mark.django_db


def test_student_sees_only_items_assigned_to_their_cohort(world, client_for):
    draft = ModuleItemFactory(module=world.item.module, title="Unassigned draft")
    other = ModuleItemFactory(module=world.item.module, title="For another section")
    AssignmentFactory(item=other, cohort=CohortFactory())
    html = client_for("student").get(reverse("cases:course_detail", args=[world.course.pk]))
    html = html.content.decode()
    assert "Shanghai Bell" in html
    assert "Unassigned draft" not in html
    assert "For another section" not in html
    assert client_for("student").get(draft.get_absolute_url()).status_code == 404


def test_course_staff_see_every_item_and_each_cohorts_dates(world, client_for):
    ModuleItemFactory(module=world.item.module, title="Unassigned draft")
    for role in ["instructor", "ta", "admin"]:
        response = client_for(role).get(reverse("cases:course_detail", args=[world.course.pk]))
        html = response.content.decode()
        assert "Unassigned draft" in html
        assert "Not assigned yet" in html
        assert "Section A: due" in html


def test_dashboard_lists_what_is_due_soonest_first(world, client_for):
    later = ModuleItemFactory(module=world.item.module, title="Tencent QQ")
    assignment = world.item.assignments.get()
    AssignmentFactory(
        item=later, cohort=assignment.cohort, due_at=assignment.due_at.replace(year=2099)
    )
    html = client_for("student").get(reverse("cases:home")).content.decode()
    assert html.index("Shanghai Bell") < html.index("Tencent QQ")


def test_dashboard_tells_a_new_student_what_to_do(client):
    from tests.factories import UserFactory

    client.force_login(UserFactory())
    html = client.get(reverse("cases:home")).content.decode()
    assert "You are not enrolled in a course yet" in html


def test_course_description_markdown_is_sanitised(world, client_for):
    world.course.description = "Read <script>alert(1)</script> [this](javascript:alert(2)) *now*"
    world.course.save()
    html = client_for("student").get(world.course.get_absolute_url()).content.decode()
    assert "<script>alert(1)" not in html
    assert 'href="javascript' not in html
    assert "<em>now</em>" in html


def test_instructor_dashboard_counts_students_once_across_cohorts(world, client_for):
    html = client_for("instructor").get(reverse("cases:instructor_dashboard")).content.decode()
    assert "MGT 6001 · 2 students in 1 cohort" in html  # student and student_ta_elsewhere


def test_work_due_soon_is_never_crowded_out_by_last_weeks(world, client_for):
    from django.utils import timezone

    cohort = world.item.assignments.get().cohort
    for n in range(14):
        item = ModuleItemFactory(module=world.item.module, title=f"Old reading {n}")
        AssignmentFactory(
            item=item, cohort=cohort, due_at=timezone.now() - timezone.timedelta(days=2)
        )
    html = client_for("student").get(reverse("cases:home")).content.decode()
    assert "Shanghai Bell" in html.split('id="due-heading"')[1]


def test_an_item_that_opens_later_stays_hidden_until_then(world, client_for):
    from django.utils import timezone

    world.item.assignments.update(
        opens_at=timezone.now() + timezone.timedelta(days=5),
        due_at=timezone.now() + timezone.timedelta(days=9),
    )
    client = client_for("student")
    assert client.get(world.item.get_absolute_url()).status_code == 404
    assert client.get(world.case.get_absolute_url()).status_code == 404
    assert "Shanghai Bell" not in client.get(world.course.get_absolute_url()).content.decode()


def test_instructor_adds_a_quiz_that_students_then_see(world, client_for):
    from cases.models import ModuleItem

    cohort = world.item.assignments.get().cohort
    response = client_for("instructor").post(
        reverse("cases:item_create", args=[world.course.pk]),
        {
            "module": world.item.module.pk,
            "kind": "quiz",
            "title": "Pop quiz on SMIC",
            "cohorts": [cohort.pk],
            "due_at": "2030-03-01T17:00",
        },
    )
    item = ModuleItem.objects.get(title="Pop quiz on SMIC")
    assert response["Location"] == reverse("cases:quiz_settings", args=[item.pk])
    assert hasattr(item, "quiz")
    html = client_for("student").get(world.course.get_absolute_url()).content.decode()
    assert "Pop quiz on SMIC" in html


def test_a_reading_needs_a_case(world, client_for):
    response = client_for("instructor").post(
        reverse("cases:item_create", args=[world.course.pk]),
        {"module": world.item.module.pk, "kind": "case_reading", "title": "Read it"},
    )
    assert "Choose the case to read." in response.content.decode()
    assert 'value="Read it"' in response.content.decode()


def test_dashboard_shows_quiz_and_discussion_status(world, client_for):
    from cases.services.discussions import post_create
    from cases.services.quizzes import attempt_submit

    client = client_for("student")
    html = client.get(reverse("cases:home")).content.decode()
    assert "tag--in_progress" in html  # The world's student has an open attempt.
    attempt_submit(attempt_id=world.attempt.pk, user=world.users["student"])
    html = client.get(reverse("cases:home")).content.decode()
    assert 'data-status="graded">Graded<' in html  # Nothing left for a person to grade.
    assert 'data-status="submitted">Posted<' in html  # The world's student posted.
    html = client_for("student_ta_elsewhere").get(reverse("cases:home")).content.decode()
    assert ">Posted<" not in html
    post_create(discussion=world.discussion, author=world.users["student_ta_elsewhere"], body="Me.")
    html = client_for("student_ta_elsewhere").get(reverse("cases:home")).content.decode()
    assert 'data-status="submitted">Posted<' in html


def test_the_dashboard_says_when_in_words_and_keeps_finished_work_apart(world, client_for):
    from datetime import timedelta

    from django.utils import timezone

    from cases.services.readings import reading_mark_done

    tomorrow = timezone.localtime() + timedelta(days=1)
    world.item.assignments.update(due_at=tomorrow.replace(hour=17, minute=0))
    world.quiz.item.assignments.update(due_at=timezone.now() + timedelta(days=10))
    client = client_for("student")

    def sections():
        html = client.get(reverse("cases:home")).content.decode()
        due = html.split('id="due-heading"')[1].split("</section>")[0]
        done = (
            html.split('id="done-heading"')[1].split("</section>")[0]
            if "done-heading" in html
            else ""
        )
        return due, done

    due, done = sections()
    assert "Shanghai Bell" in due and "due tomorrow at 17:00" in due
    assert "(in 10 days)" in due and world.quiz.item.title in due
    # Reading done: it leaves "Due next" for "Done", its status in the kind's words.
    reading_mark_done(user=world.users["student"], case=world.case, done=True)
    due, done = sections()
    assert "Shanghai Bell" not in due
    assert "Shanghai Bell" in done and ">Done<" in done


def test_a_student_who_joined_a_section_with_no_course_yet_is_told_so_not_to_find_one(
    client,
):
    """The admin made Section A and shared its code before attaching the course. A
    student joins with it ("You joined Section A") and lands on a dashboard that used
    to say she is in no cohort and should get someone to add her to one. It now names
    her section and says its course appears once it is attached; once the admin
    attaches the course, the dashboard shows it."""
    from cases.services.cohorts import cohort_course_attach
    from tests.factories import CohortFactory, CourseFactory, UserFactory

    section = CohortFactory(name="Section A")
    ann = UserFactory(username="ann")
    client.force_login(ann)
    joined = client.post(reverse("cases:cohort_join"), {"code": section.join_code}, follow=True)
    html = joined.content.decode()
    assert "You joined Section A." in html
    assert "adds you to a cohort" not in html
    assert "You are in Section A, which takes no course yet" in html

    course = CourseFactory(code="MGT 6400", title="Process innovation")
    cohort_course_attach(cohort=section, course=course, by=UserFactory(is_staff=True))
    html = client.get(reverse("cases:home")).content.decode()
    assert "Process innovation" in html and "takes no course yet" not in html
