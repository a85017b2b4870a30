"""Extra time on timed quizzes (accommodations): set by the instructor on a quiz's
schedule page, enforced where an attempt's deadline is computed, shown to the student
and to staff."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db.models import F
from django.urls import reverse
from django.utils import timezone

from cases.models import Accommodation, Answer, Attempt, AttemptState, LatePolicy
from cases.services.quizzes import attempt_submit
from tests.helpers import quiz_slots

pytestmark = pytest.mark.django_db


@pytest.fixture
def timed(world):
    """A 30-minute quiz with three attempts; the fixture's open attempt is handed in."""
    world.quiz.time_limit_minutes = 30
    world.quiz.attempts_allowed = 3
    world.quiz.save()
    attempt_submit(attempt_id=world.attempt.pk, user=world.users["student"])
    return world.quiz


def _schedule_url(quiz) -> str:
    return reverse("cases:item_schedule", args=[quiz.item.pk])


def _start(client, quiz) -> Attempt:
    response = client.post(reverse("cases:attempt_start", args=[quiz.item.pk]))
    assert response.status_code == 302
    return Attempt.objects.get(pk=response["Location"].rstrip("/").split("/")[-1])


def _minutes_in(attempt: Attempt, minutes: int) -> None:
    """As if the attempt had started `minutes` ago (its stored deadline moves with it)."""
    back = timezone.now() - attempt.started_at + timedelta(minutes=minutes)
    Attempt.objects.filter(pk=attempt.pk).update(
        started_at=F("started_at") - back, deadline_at=F("deadline_at") - back
    )


def _autosave(client, attempt: Attempt, value: str):
    slot = quiz_slots(attempt)["Researchers"]
    response = client.post(
        reverse("cases:attempt_save", args=[attempt.pk]),
        {"questions": str(slot.pk), f"q{slot.pk}": value, "seq": value},
        headers={"HX-Request": "true"},
    )
    return response, Answer.objects.get(slot=slot).response


def test_time_and_a_half_for_one_student_is_enforced_and_taken_back(world, timed, client_for):
    amal = world.users["student_ta_elsewhere"]

    instructor = client_for("instructor")
    page = instructor.get(_schedule_url(timed)).content.decode()
    assert "Extra time on timed quizzes" in page and "Nobody has extra time." in page
    response = instructor.post(
        reverse("cases:accommodation_set", args=[timed.item.pk]),
        {"student": amal.pk, "time_multiplier": "1.5", "extra_minutes": "", "reason": "DSS"},
        follow=True,
    )
    html = response.content.decode()
    assert f"Extra time saved for {amal.display_name}: \N{MULTIPLICATION SIGN}1.5" in html
    assert Accommodation.objects.get().time_multiplier == Decimal("1.50")
    # Saved again: still one, replaced.
    instructor.post(
        reverse("cases:accommodation_set", args=[timed.item.pk]),
        {"student": amal.pk, "time_multiplier": "1.5", "reason": "DSS letter"},
    )
    assert Accommodation.objects.get().reason == "DSS letter"
    # Staff see it in the tracker beside the name, and in the work panel.
    tracker = instructor.get(reverse("cases:tracker", args=[world.course.pk])).content.decode()
    assert tracker.count("extra time</span>") == 1
    panel = reverse("cases:work_panel", args=[world.course.pk, amal.pk, timed.item.pk])
    assert "\N{MULTIPLICATION SIGN}1.5 on timed quizzes" in instructor.get(panel).content.decode()

    # The student reads their own time before starting, and the timer agrees.
    client = client_for("student_ta_elsewhere")
    overview = client.get(timed.item.get_absolute_url()).content.decode()
    assert "You have <strong>45 minutes</strong>" in overview
    assert "includes your extra time" in overview
    attempt = _start(client, timed)
    detail = client.get(attempt.get_absolute_url()).content.decode()
    assert "44 min" in detail or "45 min 00 s" in detail
    assert "includes your extra time" in detail
    attempt.refresh_from_db()
    assert attempt.deadline_at - attempt.started_at == timedelta(minutes=45)
    # Forty minutes in, an autosave is taken.
    _minutes_in(attempt, 40)
    response, saved = _autosave(client, attempt, "1600")
    assert response.status_code == 200 and "HX-Redirect" not in response
    assert saved == {"value": 1600.0}

    # Bo, without extra time, sees 30 minutes; at minute 40 the save is refused and
    # the attempt is handed in with what was saved.
    other = client_for("student")
    overview = other.get(timed.item.get_absolute_url()).content.decode()
    assert "Time limit: <strong>30 minutes</strong>" in overview
    assert "extra time" not in overview
    bos = _start(other, timed)
    _minutes_in(bos, 40)
    response, saved = _autosave(other, bos, "1600")
    assert response["HX-Redirect"] == reverse("cases:attempt_result", args=[bos.pk])
    assert saved != {"value": 1600.0}
    bos.refresh_from_db()
    assert bos.state == AttemptState.SUBMITTED and bos.timed_out

    # The instructor takes it back: Amal's next attempt has the quiz's 30 minutes.
    client = client_for("student_ta_elsewhere")
    client.post(reverse("cases:attempt_submit", args=[attempt.pk]))
    instructor = client_for("instructor")
    accommodation = Accommodation.objects.get()
    response = instructor.post(
        reverse("cases:accommodation_delete", args=[timed.item.pk, accommodation.pk]),
        follow=True,
    )
    assert f"Extra time removed for {amal.display_name}." in response.content.decode()
    assert not Accommodation.objects.exists()
    client = client_for("student_ta_elsewhere")
    assert (
        "Time limit: <strong>30 minutes</strong>"
        in client.get(timed.item.get_absolute_url()).content.decode()
    )
    again = _start(client, timed)
    assert again.number == 2
    assert again.deadline_at - again.started_at == timedelta(minutes=30)


def test_extra_time_never_runs_past_the_quiz_closing(world, timed, client_for):
    amal = world.users["student_ta_elsewhere"]
    Accommodation.objects.create(course=world.course, student=amal, extra_minutes=60)
    closes = timezone.now() + timedelta(minutes=20)
    timed.item.assignments.update(due_at=closes, late_policy=LatePolicy.REFUSE)
    attempt = _start(client_for("student_ta_elsewhere"), timed)
    assert attempt.deadline_at == closes


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"time_multiplier": "", "extra_minutes": ""}, "Give a multiplier, extra minutes or both."),
        ({"time_multiplier": "0.5"}, "greater than or equal to 1"),
        ({"extra_minutes": "-5"}, "greater than or equal to 1"),
    ],
)
def test_bad_extra_time_comes_back_with_what_was_typed(world, timed, client_for, data, message):
    amal = world.users["student_ta_elsewhere"]
    response = client_for("instructor").post(
        reverse("cases:accommodation_set", args=[timed.item.pk]),
        {"student": amal.pk, "reason": "Letter 12"} | data,
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert message in html
    assert 'value="Letter 12"' in html
    assert not Accommodation.objects.exists()


def test_extra_time_is_only_for_the_course_students_and_its_teachers(world, timed, client_for):
    url = reverse("cases:accommodation_set", args=[timed.item.pk])
    stranger = world.users["other_student"]
    response = client_for("instructor").post(url, {"student": stranger.pk, "extra_minutes": "10"})
    assert "Select a valid choice" in response.content.decode()
    student = world.users["student"]
    assert (
        client_for("ta").post(url, {"student": student.pk, "extra_minutes": "9"}).status_code == 403
    )
    assert not Accommodation.objects.exists()
