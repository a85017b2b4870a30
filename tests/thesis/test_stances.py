"""Stance checks through real HTTP: students answer before and after a module and see
the class only after answering; the staff see distributions, shifts and reasons."""

import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from cases.models import Assignment, Cohort, StanceAnswer, Work, WorkStatus
from cases.services.thesis import StanceRefused, stance_answer
from tests.factories import (
    CohortFactory,
    CourseFactory,
    ModuleFactory,
    UserFactory,
    enrol,
    make_stance_check,
)
from tests.helpers import PAGE_BUDGET, page_queries

pytestmark = pytest.mark.django_db


@pytest.fixture
def stance(world):
    stance = make_stance_check(world.item.module)
    Assignment.objects.create(item=stance.item, cohort=world.course.cohorts.get())
    return stance


def _answer(client, stance, value="6", reason="Copying caps margins."):
    return client.post(
        reverse("cases:stance_answer", args=[stance.item.pk]), {"value": value, "reason": reason}
    )


def _open_after(stance):
    stance.after_opens_at = timezone.now() - timedelta(minutes=1)
    stance.save()


def test_a_student_sees_the_class_only_after_answering(world, stance, client_for):
    stance_answer(stance=stance, user=world.users["student_ta_elsewhere"], value=2, reason="No.")
    client = client_for("student")
    page = client.get(stance.item.get_absolute_url()).content.decode()
    assert "You will see how the class answered" in page and "chart__svg" not in page
    assert "No." not in page  # Never a classmate's reason.
    _answer(client, stance)
    _answer(client, stance, value="5", reason="Changed my mind a little.")  # Replaces.
    mine = StanceAnswer.objects.get(stance=stance, user=world.users["student"])
    assert (mine.phase, mine.value, mine.reason) == ("before", 5, "Changed my mind a little.")
    page = client.get(stance.item.get_absolute_url()).content.decode()
    assert "The class before the module" in page and "chart__svg" in page
    assert '<th scope="row">2</th><td>1</td>' in page  # The classmate's 2, counted.
    assert '<th scope="row">5 (yours)</th><td>1</td>' in page  # The changed answer is "you".
    assert "(yours)" not in page.replace("5 (yours)", "")
    assert "No." not in page


def test_staff_charts_say_when_they_will_fill_in_until_students_answer(world, stance, client_for):
    stance.after_opens_at = timezone.make_aware(timezone.datetime(2031, 1, 7, 9, 0))
    stance.save()
    instructor = client_for("instructor")
    html = instructor.get(stance.item.get_absolute_url()).content.decode()
    assert "No answers yet: the chart fills in as students answer the check." in html
    assert "Appears once a student has answered both before and after the module" in html
    assert "(after-module answers open Tue 7 Jan)" in html
    assert "chart__svg" not in html
    stance_answer(stance=stance, user=world.users["student"], value=6, reason="Royalties.")
    html = instructor.get(stance.item.get_absolute_url()).content.decode()
    assert html.count("chart__svg") == 1  # Before and after, drawn; the moves still wait.
    assert "Appears once a student has answered both" in html
    assert "(yours)" not in html and ">you</text>" not in html  # Staff answered nothing.


def test_a_bad_answer_is_refused_next_to_the_field_and_the_reason_kept(world, stance, client_for):
    response = client_for("student").post(
        reverse("cases:stance_answer", args=[stance.item.pk]),
        {"reason": "Royalties forever."},
        headers={"HX-Request": "true"},
    )
    html = response.content.decode()
    assert "Choose a point on the scale." in html and 'value="Royalties forever."' in html
    assert not StanceAnswer.objects.exists()


def test_answers_after_the_module_show_who_moved(world, stance, client_for):
    student = world.users["student"]
    stance_answer(stance=stance, user=student, value=6, reason="Royalties.")
    assert Work.objects.get(item=stance.item, user=student).state == WorkStatus.IN_PROGRESS
    _open_after(stance)
    stance_answer(stance=stance, user=student, value=3, reason="The cases changed my mind.")
    work = Work.objects.get(item=stance.item, user=student)
    assert (work.state, work.auto_score) == (WorkStatus.SUBMITTED, 1)
    html = client_for("instructor").get(stance.item.get_absolute_url()).content.decode()
    assert "1 answered before, 1 after; 1 moved, by -3.0 points on average." in html
    assert "<td>6</td><td>3</td><td>-3</td>" in html
    assert "“The cases changed my mind.”" in html
    assert '<th scope="row">-3 or less</th><td>1</td>' in html  # The shift chart's table.


def test_no_answers_once_the_windows_close(world, stance):
    stance.before_closes_at = timezone.now() - timedelta(hours=1)
    stance.save()
    with pytest.raises(StanceRefused, match="not taking answers"):
        stance_answer(stance=stance, user=world.users["student"], value=4, reason="Late.")


def test_staff_do_not_answer_and_a_ta_sees_only_their_cohort(world, stance, client_for):
    assert _answer(client_for("instructor"), stance).status_code == 403
    stance_answer(stance=stance, user=world.users["student"], value=6, reason="Mine.")
    section_b = Cohort.objects.create(name="Section B")
    world.course.cohorts.add(section_b)
    section_b.teaching_assistants.add(world.users["ta"])
    html = client_for("ta").get(stance.item.get_absolute_url()).content.decode()
    assert "“Mine.”" not in html and "0 answered before" in html


def test_settings_keep_the_windows_in_order(world, stance, client_for):
    now = timezone.now()
    response = client_for("instructor").post(
        reverse("cases:stance_settings", args=[stance.item.pk]),
        {
            "statement": stance.statement,
            "before_closes_at": (now + timedelta(days=3)).strftime("%Y-%m-%dT%H:%M"),
            "after_opens_at": (now + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M"),
        },
    )
    assert "Open the “after” check once the “before” one closes." in response.content.decode()


def _stance_class(size: int):
    instructor = UserFactory()
    cohort = CohortFactory()
    students = enrol(cohort, size, prefix=f"st{size}-")
    course = CourseFactory(instructors=[instructor], cohorts=[cohort])
    stance = make_stance_check(ModuleFactory(course=course))
    Assignment.objects.create(item=stance.item, cohort=cohort)
    for n, student in enumerate(students):
        stance_answer(stance=stance, user=student, value=1 + n % 7, reason=f"Reason {n}")
    _open_after(stance)
    for n, student in enumerate(students[::2]):
        stance_answer(stance=stance, user=student, value=1 + (n + 3) % 7, reason="After")
    return {"instructor": instructor, "student": students[1], "item": stance.item}


@pytest.mark.parametrize("role", ["instructor", "student"])
def test_stance_pages_cost_the_same_queries_for_5_or_60_students(client, role):
    counts = page_queries(client, _stance_class, (5, 60), role)
    assert counts[0] == counts[1], counts
    assert counts[1] <= PAGE_BUDGET, counts


def test_the_dashboard_shows_a_stance_check_in_progress_then_done(world, stance, client_for):
    student = world.users["student"]
    client = client_for("student")

    def status_on_dashboard():
        html = client.get(reverse("cases:home")).content.decode()
        card = html[html.index(stance.statement) :][:600]
        return re.search(r'class="tag tag--(\w+)"', card).group(1)

    assert status_on_dashboard() == "not_started"
    stance_answer(stance=stance, user=student, value=6, reason="Royalties.")
    assert status_on_dashboard() == "in_progress"
    _open_after(stance)
    stance_answer(stance=stance, user=student, value=5, reason="Less sure now.")
    assert status_on_dashboard() == "graded"  # For completion: answering is the grade.


def test_the_trackers_side_panel_shows_the_students_answers(world, stance, client_for):
    stance_answer(stance=stance, user=world.users["student"], value=6, reason="Royalties.")
    url = reverse(
        "cases:work_panel", args=[world.course.pk, world.users["student"].pk, stance.item.pk]
    )
    html = client_for("ta").get(url, headers={"HX-Request": "true"}).content.decode()
    assert "Before the module: 6 (Agree): “Royalties.”" in html
    assert "In progress" in html


def test_a_before_answer_sent_after_the_after_check_opened_is_not_taken_for_the_after(
    world, stance, client_for
):
    # The phase was the one open when the answer arrived, not the one the page asked:
    # a "before" page sent (or sent again, with Back) once the "after" check opened
    # saved the old answer as the student's "after" one, and their shift read as none.
    client = client_for("student")
    page = client.get(stance.item.get_absolute_url()).content.decode()
    assert 'name="phase" value="before"' in page
    _open_after(stance)
    data = {"value": "2", "reason": "Before the module I doubted it.", "phase": "before"}
    response = client.post(reverse("cases:stance_answer", args=[stance.item.pk]), data)
    html = response.content.decode()
    assert response.status_code == 400
    assert "The “after the module” check has opened since this page was loaded" in html
    assert 'value="Before the module I doubted it."' in html  # What was typed is kept.
    assert 'name="phase" value="after"' in html  # Sent again, it is the "after" answer.
    assert not StanceAnswer.objects.filter(user=world.users["student"]).exists()
    data |= {"phase": "after", "reason": "Now I agree."}
    assert (
        client.post(reverse("cases:stance_answer", args=[stance.item.pk]), data).status_code == 302
    )
    answer = StanceAnswer.objects.get(user=world.users["student"])
    assert (answer.phase, answer.reason) == ("after", "Now I agree.")


def test_the_statement_cannot_be_rewritten_once_students_have_answered_it(
    world, stance, client_for
):
    """Students answer the statement before the module; the instructor then rewrites it
    (here, turns it round). Their answers would then agree with the opposite claim and
    the shift chart compare answers to two statements: the settings refuse it beside
    the statement, keeping what was typed, while the windows still change."""
    _answer(client_for("student"), stance, value="7")
    original = stance.statement
    url = reverse("cases:stance_settings", args=[stance.item.pk])
    later = (timezone.now() + timedelta(days=5)).strftime("%Y-%m-%dT%H:%M")
    response = client_for("instructor").post(
        url, {"statement": "Research beats licensing.", "after_opens_at": later}
    )
    page = response.content.decode()
    assert response.status_code == 200
    assert "students have answered it" in page and "Research beats licensing." in page
    stance.refresh_from_db()
    assert stance.statement == original and stance.after_opens_at is None
    response = client_for("instructor").post(url, {"statement": original, "after_opens_at": later})
    assert response.status_code == 302
    stance.refresh_from_db()
    assert stance.after_opens_at is not None


@pytest.mark.parametrize("htmx", [False, True])
def test_an_answer_sent_just_after_the_window_closed_says_so_and_keeps_the_reason(
    world, stance, client_for, htmx
):
    """A student opens the check while it takes answers and writes a reason; the
    "before" window closes before they press Save. They are told their answer was not
    saved because answers are closed, and see the reason they wrote (to keep it), not a
    page that silently says "Answers are closed" with their words gone."""
    client = client_for("student")
    assert 'name="reason"' in client.get(stance.item.get_absolute_url()).content.decode()
    stance.before_closes_at = timezone.now() - timedelta(seconds=5)
    stance.save()
    response = client.post(
        reverse("cases:stance_answer", args=[stance.item.pk]),
        {"value": "5", "reason": "Royalties cap what a venture can learn.", "phase": "before"},
        headers={"HX-Request": "true"} if htmx else {},
    )
    html = response.content.decode()
    assert "This stance check is not taking answers now." in html
    assert "Royalties cap what a venture can learn." in html
    assert not StanceAnswer.objects.exists()


def test_the_side_panel_and_the_pair_thread_list_before_then_after(world, stance, client_for):
    """A student answered before the module and after it: the tracker's side panel (and
    a pair's thread, from the same lines) reads in that order, not "after" first."""
    student = world.users["student"]
    stance_answer(stance=stance, user=student, value=6, reason="Royalties.")
    _open_after(stance)
    stance_answer(stance=stance, user=student, value=3, reason="The cases changed my mind.")
    url = reverse("cases:work_panel", args=[world.course.pk, student.pk, stance.item.pk])
    html = client_for("ta").get(url, headers={"HX-Request": "true"}).content.decode()
    before = html.index("Before the module: 6 (Agree)")
    after = html.index("After the module: 3")
    assert before < after


def test_a_students_own_answers_read_before_then_after(world, stance, client_for):
    student = world.users["student"]
    stance_answer(stance=stance, user=student, value=6, reason="Royalties.")
    _open_after(stance)
    stance_answer(stance=stance, user=student, value=3, reason="The cases changed my mind.")
    html = client_for("student").get(stance.item.get_absolute_url()).content.decode()
    assert html.index("Before the module you answered") < html.index(
        "After the module you answered"
    )
