"""The live class under races, on PostgreSQL: a class answering at once, a double tap,
two clicks on the picker. SQLite serialises writers, so these run on PostgreSQL only."""

import itertools
import threading

import pytest
from django.db import connection

from cases.models import ColdCall, LiveAnswer, LiveAttendance, User, Work
from cases.services import live as services
from tests.factories import enrol, make_live
from tests.helpers import at_once

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _postgres_only():
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL's concurrent connections; SQLite serialises writers")


@pytest.fixture
def open_poll(world):
    cohort = world.course.cohorts.get()
    students = enrol(cohort, 12, prefix="race")
    session = make_live(world.item.module, [cohort], start_by=world.users["instructor"])
    poll = services.poll_create(session=session, kind="single", prompt="R or D?", options="RD")
    services.poll_launch(poll)
    session.refresh_from_db()
    return session, poll, students


def test_a_class_answering_at_once_loses_no_answer(open_poll):
    session, poll, students = open_poll
    queue = iter(students)
    lock = threading.Lock()

    def answer():
        with lock:
            student = next(queue)
        services.join(session, student)
        services.answer_save(session=session, poll=poll, user=student, answer={"choices": [1]})

    assert at_once(answer, len(students)) == []
    assert LiveAnswer.objects.filter(poll=poll).count() == len(students)
    assert LiveAttendance.objects.filter(session=session).count() == len(students)
    assert Work.objects.filter(item=session.item, state="submitted").count() == len(students)


def test_a_double_tap_leaves_one_answer_and_one_attendance(open_poll):
    session, poll, students = open_poll
    student = students[0]
    choices = itertools.cycle([[0], [1]])

    def tap():
        services.join(session, student)
        services.answer_save(
            session=session, poll=poll, user=student, answer={"choices": next(choices)}
        )

    assert at_once(tap, 6) == []
    assert LiveAnswer.objects.filter(poll=poll, user=student).count() == 1
    assert LiveAttendance.objects.filter(session=session, user=student).count() == 1


def test_two_clicks_on_the_picker_call_two_different_students(open_poll):
    session, _poll, students = open_poll
    for student in students[:3]:
        services.join(session, student)
    by = User.objects.get(username="instructor")
    everyone = User.objects.filter(pk__in=[s.pk for s in students])

    def pick():
        services.cold_call_pick(session=session, by=by, students=everyone)

    for _ in range(5):
        assert at_once(pick, 2) == []
    called = list(ColdCall.objects.order_by("called_at", "pk").values_list("student", flat=True))
    assert len(called) == 10
    assert all(a != b for a, b in itertools.pairwise(called))
