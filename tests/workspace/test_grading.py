"""Grading one student at a time, reached the way graders reach it: from the response
tracker's side panel, and from the course page's grading queue."""

import re
from decimal import Decimal

import pytest
from django.urls import reverse

from cases.models import Answer, Attempt, Membership, User, Work
from cases.services.quizzes import answers_save, attempt_start, attempt_submit

pytestmark = pytest.mark.django_db


def _hand_in(quiz, user, text: str) -> Attempt:
    attempt = Attempt.objects.filter(quiz=quiz, user=user).first() or attempt_start(
        quiz=quiz, user=user
    )
    essay = attempt.slots.get(question__kind="short_text")
    answers_save(attempt_id=attempt.pk, user=user, answers={essay.pk: {"value": text}}, seq=1)
    return attempt_submit(attempt_id=attempt.pk, user=user)


@pytest.fixture
def graded_class(world):
    """Adams and Carter hand in the quiz with a short answer; Baker, between them by
    name, does nothing."""
    adams, baker = world.users["student"], world.users["student_ta_elsewhere"]
    carter = User.objects.create(username="carter", first_name="Cy", last_name="Carter")
    Membership.objects.create(cohort=world.course.cohorts.get(), user=carter)
    for user, last_name in [(adams, "Adams"), (baker, "Baker")]:
        user.last_name = last_name
        user.save()
    _hand_in(world.quiz, adams, "It wins on process: D, not R.")
    _hand_in(world.quiz, carter, "An R firm, by its headcount.")
    return adams, baker, carter


def test_a_ta_grades_short_answers_from_the_tracker_then_saves_and_goes_to_the_next_waiting(
    world, graded_class, client_for
):
    adams, _baker, carter = graded_class
    item = world.quiz.item
    client = client_for("ta")
    # The tracker's side panel says short answers wait and links to the grader.
    panel = client.get(
        reverse("cases:work_panel", args=[world.course.pk, adams.pk, item.pk]),
        headers={"HX-Request": "true"},
    ).content.decode()
    assert "short answers to grade" in panel
    grader_url = reverse("cases:grade_work", args=[item.pk, adams.pk])
    assert grader_url in panel
    page = client.get(grader_url).content.decode()
    # The short answer itself, with a points field that says its maximum.
    assert "It wins on process: D, not R." in page
    answer = Answer.objects.get(slot__attempt__user=adams, slot__question__kind="short_text")
    assert "Points (out of 2)" in page and f'name="points_{answer.pk}"' in page

    # Too many points: refused beside the field, what was typed kept.
    response = client.post(
        grader_url, {f"points_{answer.pk}": "5", "feedback": "Good use of ¶2.", "next": "1"}
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert "less than or equal to 2" in html and "Good use of ¶2." in html
    assert Answer.objects.get(pk=answer.pk).needs_grading

    # Save and next skips Baker (nothing to grade) for Carter.
    response = client.post(
        grader_url,
        {f"points_{answer.pk}": "1.5", f"comment_{answer.pk}": "Say why.", "next": "1"},
    )
    assert response.url == reverse("cases:grade_work", args=[item.pk, carter.pk])
    answer.refresh_from_db()
    assert (answer.points, answer.comment, answer.graded_by) == (
        Decimal("1.50"),
        "Say why.",
        world.users["ta"],
    )
    assert not Work.objects.get(item=item, user=adams).needs_grading
    # Opened again, the grader shows the grade given.
    assert 'value="1.50"' in client.get(grader_url).content.decode()

    # The last one waiting: Save and next lands on the queue, with nothing left.
    carter_answer = Answer.objects.get(
        slot__attempt__user=carter, slot__question__kind="short_text"
    )
    response = client.post(
        reverse("cases:grade_work", args=[item.pk, carter.pk]),
        {f"points_{carter_answer.pk}": "2", "next": "1"},
        follow=True,
    )
    html = response.content.decode()
    assert response.redirect_chain[-1][0] == reverse("cases:grading_queue", args=[world.course.pk])
    assert "No more work on" in html and "0 answers waiting" in html


def test_the_ta_finds_the_grading_queue_on_the_course_page_and_it_opens_the_first_waiting(
    world, graded_class, client_for
):
    adams, _baker, _carter = graded_class
    client = client_for("ta")
    course_page = client.get(world.course.get_absolute_url()).content.decode()
    queue_url = reverse("cases:grading_queue", args=[world.course.pk])
    assert queue_url in course_page
    queue = client.get(queue_url).content.decode()
    first = reverse("cases:grade_work", args=[world.quiz.item.pk, adams.pk])
    assert re.search(rf'href="{first}">{world.quiz.item.title}</a>: 2 students', queue)
    # A student sees no grading queue.
    student_page = client_for("student").get(world.course.get_absolute_url()).content.decode()
    assert queue_url not in student_page


def test_participation_points_say_their_maximum_and_refuse_more(world, client_for):
    client = client_for("instructor")
    item = world.discussion.item
    url = reverse("cases:grade_work", args=[item.pk, world.users["student"].pk])
    points = item.assignments.get().points
    assert f"Participation points (out of {points})" in client.get(url).content.decode()
    response = client.post(url, {"participation": str(points + 1), "feedback": ""})
    assert "less than or equal to" in response.content.decode()
    client.post(url, {"participation": str(points), "feedback": ""})
    assert Work.objects.get(item=item, user=world.users["student"]).auto_score == points


def test_work_on_an_item_taken_away_from_the_cohort_waits_for_nobody(world, client_for):
    """A memo handed in, then the analysis taken away from the student's cohort: its
    work is kept (it returns if the item is given back) but the tracker no longer
    shows it, so neither do the grading queue and the Teaching page's count."""
    from cases.services.analyses import memo_submit
    from cases.services.schedule import assignments_schedule
    from tests.factories import make_analysis

    cohort = world.course.cohorts.get()
    item = make_analysis(world.item.module, [cohort], case=world.case, title="Memo: sell?").item
    memo_submit(item=item, user=world.users["student"], body="Sell the unit, as ¶2 shows.")
    client = client_for("instructor")
    queue = reverse("cases:grading_queue", args=[world.course.pk])
    teaching = reverse("cases:instructor_dashboard")

    def waiting() -> int:
        text = client.get(teaching).text
        found = re.search(r'todo__count">(\d+)</strong> piece', text)
        return int(found.group(1)) if found else 0

    before = waiting()
    assert "Memo: sell?" in client.get(queue).text
    dates = {
        name: getattr(item.assignments.get(), name)
        for name in ("opens_at", "due_at", "points", "late_policy", "late_until")
    }
    assignments_schedule(item=item, schedule={cohort: None})
    assert "Memo: sell?" not in client.get(reverse("cases:tracker", args=[world.course.pk])).text
    assert "Memo: sell?" not in client.get(queue).text
    assert waiting() == before - 1
    assignments_schedule(item=item, schedule={cohort: dates | {"late_penalty_percent": 0}})
    assert "Memo: sell?" in client.get(queue).text and waiting() == before
