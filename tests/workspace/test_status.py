"""Where a student stands is computed once (`work_status`): two students, one with an
extension, walk through every kind of item, and the dashboard, the course page, the
deadlines, the tracker and the gradebook say the same thing at every step."""

import re
from datetime import timedelta

import pytest
from django.db.models import F
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from cases.models import (
    Assignment,
    Extension,
    Membership,
    ReadingProgress,
    User,
    Work,
    WorkStatus,
)
from cases.services.discussions import post_create
from cases.services.live import join
from cases.services.quizzes import answers_save, attempt_start, attempt_submit
from cases.services.readings import REOPEN_SECONDS, reading_mark_done
from cases.services.thesis import PlacementInput, decision_commit, spectrum_save, stance_answer
from tests.factories import make_decision, make_live, make_spectrum, make_stance_check

pytestmark = pytest.mark.django_db


@pytest.fixture
def every_kind(world):
    """All seven kinds given to the world's cohort, due yesterday, late work taken."""
    module, cohort = world.item.module, world.course.cohorts.get()
    stance = make_stance_check(module)
    decision = make_decision(module)
    spectrum = make_spectrum(module, [world.case])
    live = make_live(module, start_by=world.users["instructor"])
    for item in (stance.item, decision.item, spectrum.item, live.item):
        Assignment.objects.get_or_create(item=item, cohort=cohort)
    yesterday = timezone.now() - timedelta(days=1)
    Assignment.objects.filter(item__module=module).update(due_at=yesterday, late_policy="accept")
    return {"stance": stance, "decision": decision, "spectrum": spectrum, "live": live}


@pytest.fixture
def two_students(world):
    """Baker has an extension to tomorrow on everything; Carter has none."""
    baker = world.users["student_ta_elsewhere"]
    carter = User.objects.create(username="carter", first_name="Cy", last_name="Carter")
    Membership.objects.create(cohort=world.course.cohorts.get(), user=carter)
    tomorrow = timezone.now() + timedelta(days=1)
    for assignment in Assignment.objects.filter(item__module=world.item.module):
        Extension.objects.create(assignment=assignment, user=baker, due_at=tomorrow)
    return baker, carter


def _student_pages(client, course) -> dict[str, str]:
    return {
        "dashboard": client.get(reverse("cases:home")).content.decode(),
        "course page": client.get(course.get_absolute_url()).content.decode(),
        "deadlines": client.get(
            reverse("cases:course_deadlines", args=[course.pk])
        ).content.decode(),
    }


def _shown(html: str, item_id: int) -> str | None:
    """The status a student's page shows in the item's own row, if it lists the item."""
    for row in html.split("<li")[1:]:
        if f'href="/items/{item_id}/"' in row.split("</li>")[0]:
            found = re.search(r'data-status="(\w+)"', row.split("</li>")[0])
            return found.group(1) if found else "no status shown"
    return None


def _tracker_status(html: str, student: User, item_id: int) -> str:
    # A cell links to the tracker with its panel open: ...?page=1&student=<pk>&item=<pk>.
    cell = re.search(
        rf'cell--(\w+)"><a href="[^"]*[?;]student={student.pk}&amp;item={item_id}"', html
    )
    return cell.group(1)


def _check(world, client_for, student, items, expected, *, late: bool) -> None:
    """Every page that shows the student's status on an item shows `expected`."""
    course = world.course
    client = Client()
    client.force_login(student)
    pages = _student_pages(client, course)
    tracker = client_for("instructor").get(reverse("cases:tracker", args=[course.pk]))
    for item in items:
        want = expected[item.kind]
        seen = {name: _shown(html, item.pk) for name, html in pages.items()}
        seen["tracker"] = _tracker_status(tracker.content.decode(), student, item.pk)
        shown = {name: status for name, status in seen.items() if status is not None}
        assert set(shown.values()) == {want}, (student.username, item.kind, seen)
        # Each page that lists it: the course page and the tracker always do.
        assert {"course page", "tracker"} <= set(shown)
    overdue = pages["dashboard"].split('id="overdue-heading"')
    late_items = [i for i in items if expected[i.kind] == WorkStatus.LATE]
    for item in items:
        listed = (
            len(overdue) > 1 and f'href="/items/{item.pk}/"' in overdue[1].split("</section>")[0]
        )
        # Overdue: late with nothing handed in, and something still to do (not a class
        # meeting already held).
        assert listed == (item in late_items and item.kind != "live_session"), item.kind
    marked = pages["course page"].count("Handed in late")
    assert (marked > 0) == late


def test_every_page_agrees_on_where_each_student_stands(
    world, every_kind, two_students, client_for
):
    baker, carter = two_students
    items = list(world.item.module.items.all())
    kinds = {item.kind for item in items}
    assert len(kinds) == 7
    # Nothing done yet: due tomorrow for Baker, late since yesterday for Carter.
    _check(world, client_for, baker, items, dict.fromkeys(kinds, "not_started"), late=False)
    _check(world, client_for, carter, items, dict.fromkeys(kinds, "late"), late=False)

    # Both do everything today: on time for Baker, after the due date for Carter.
    for student in (baker, carter):
        reading_mark_done(user=student, case=world.case, done=True)
        attempt = attempt_start(quiz=world.quiz, user=student)
        essay = attempt.slots.get(question__kind="short_text")
        answers_save(
            attempt_id=attempt.pk, user=student, answers={essay.pk: {"value": "D."}}, seq=1
        )
        attempt_submit(attempt_id=attempt.pk, user=student)
        post_create(discussion=world.discussion, author=student, body="A process firm (¶2).")
        stance = every_kind["stance"]
        stance.after_opens_at = timezone.now() - timedelta(minutes=1)
        stance.save()
        stance_answer(stance=stance, user=student, value=5, reason="Process wins.")
        decision_commit(
            decision=every_kind["decision"],
            user=student,
            choice=0,
            rationale="Scale.",
            expects=True,
            confidence=70,
        )
        spectrum_save(
            exercise=every_kind["spectrum"],
            user=student,
            placements=[PlacementInput(world.case.pk, 80, "Process.")],
        )
        join(every_kind["live"], student)
    done = {
        "case_reading": "graded",
        "quiz": "submitted",  # The short answer waits for a person.
        "discussion": "submitted",  # Participation waits for a person.
        "stance_check": "graded",
        "decision": "graded",
        "spectrum": "graded",
        "live_session": "graded",
    }
    _check(world, client_for, baker, items, done, late=False)
    _check(world, client_for, carter, items, done, late=True)


def test_a_student_with_an_extension_sees_their_own_date_not_late(world, client_for):
    world.item.assignments.update(due_at=timezone.now() - timedelta(days=1))
    client_for("instructor").post(
        reverse("cases:extension_grant", args=[world.item.pk]),
        {
            "students": [world.users["student"].pk],
            "due_at": (timezone.localtime() + timedelta(days=2)).strftime("%Y-%m-%dT%H:%M"),
        },
    )
    html = client_for("student").get(reverse("cases:home")).content.decode()
    assert "Overdue" not in html
    due_next = html.split('id="due-heading"')[1].split("</section>")[0]
    assert world.item.title in due_next and "(extended for you)" in due_next
    assert 'data-status="not_started"' in due_next
    # Without one, the same reading is overdue.
    html = client_for("student_ta_elsewhere").get(reverse("cases:home")).content.decode()
    overdue = html.split('id="overdue-heading"')[1].split("</section>")[0]
    assert world.item.title in overdue


def test_a_stance_check_finished_after_its_due_date_is_not_overdue(world, client_for):
    stance = make_stance_check(world.item.module)
    Assignment.objects.create(
        item=stance.item,
        cohort=world.course.cohorts.get(),
        due_at=timezone.now() - timedelta(hours=2),
        late_policy="accept",
    )
    student = world.users["student"]
    html = client_for("student").get(reverse("cases:home")).content.decode()
    assert stance.statement in html.split('id="overdue-heading"')[1].split("</section>")[0]
    stance_answer(stance=stance, user=student, value=3, reason="Not sure.")
    stance.after_opens_at = timezone.now() - timedelta(minutes=1)
    stance.save()
    stance_answer(stance=stance, user=student, value=5, reason="Process wins.")
    html = client_for("student").get(reverse("cases:home")).content.decode()
    assert 'id="overdue-heading"' not in html
    done = html.split('id="done-heading"')[1].split("</section>")[0]
    assert stance.statement in done and "Handed in late" in done
    course_page = client_for("student").get(world.course.get_absolute_url()).content.decode()
    row = course_page.split(stance.statement)[1].split("</li>")[0]
    assert ">Answered<" in row and "Handed in late" in row


def test_doing_it_again_repairs_a_status_a_failed_write_left_behind(world, client_for):
    """A commit or an open whose Work write was lost (a crash between two writes, in the
    old code) is repaired by the student's next try, which the tracker then shows."""
    decision = make_decision(world.item.module)
    Assignment.objects.create(item=decision.item, cohort=world.course.cohorts.get())
    student = world.users["student"]
    client = client_for("student")
    commit = {"choice": "0", "rationale": "Scale.", "expects": "yes", "confidence": "70"}
    url = reverse("cases:decision_commit", args=[decision.item.pk])
    client.post(url, commit)
    client.get(world.item.get_absolute_url())  # Opens the reading.
    Work.objects.filter(user=student, item__in=[decision.item, world.item]).delete()
    client.post(url, commit)  # The double click that the student does anyway.
    # Their next visit (a reload within REOPEN_SECONDS only reads, and repairs nothing).
    earlier = F("last_opened_at") - timedelta(seconds=REOPEN_SECONDS)
    ReadingProgress.objects.filter(user=student).update(last_opened_at=earlier)
    client.get(world.item.get_absolute_url())
    tracker = client_for("instructor").get(reverse("cases:tracker", args=[world.course.pk]))
    html = tracker.content.decode()
    assert _tracker_status(html, student, decision.item.pk) == "graded"
    assert _tracker_status(html, student, world.item.pk) == "opened"
