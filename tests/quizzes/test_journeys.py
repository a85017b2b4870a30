"""Quizzes where two features meet: journeys through the real views, asserting what the
people in them would notice."""

import pytest
from django.test import Client
from django.urls import reverse

from cases.models import Cohort
from cases.services.quizzes import attempt_start, attempt_submit
from tests.factories import MembershipFactory, UserFactory
from tests.helpers import answer_all_right

pytestmark = pytest.mark.django_db


def _signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _stats(client, quiz) -> str:
    return client.get(reverse("cases:quiz_stats", args=[quiz.item.pk])).content.decode()


def test_quiz_statistics_count_the_current_class_as_the_tracker_does(world):
    """Three students of section A take the quiz: one answers everything right, two
    hand in blank. One blank student is then removed from the section and the other is
    moved to section B, which is not given the quiz. The statistics, like the tracker
    (where the quiz is not given to the one moved), now count only the class as it
    stands: one student, every question right; a TA of section A sees the same."""
    quiz, section_a = world.quiz, world.course.cohorts.get()
    ta = world.users["ta"]
    section_a.teaching_assistants.add(ta)
    section_b = Cohort.objects.create(name="Section B")
    world.course.cohorts.add(section_b)
    student = world.users["student"]
    answer_all_right(world.attempt, student)
    attempt_submit(attempt_id=world.attempt.pk, user=student)
    leaving, moving = UserFactory(username="leaving"), UserFactory(username="moving")
    for other in (leaving, moving):
        MembershipFactory(cohort=section_a, user=other)
        attempt = attempt_start(quiz=quiz, user=other)
        attempt_submit(attempt_id=attempt.pk, user=other)
    instructor = _signed_in(world.users["instructor"])
    assert "3 students with a submitted attempt" in _stats(instructor, quiz)

    admin = _signed_in(world.users["admin"])
    members = reverse("cases:cohort_members", args=[section_a.pk])
    admin.post(members, {"action": "remove", "students": [leaving.pk]})
    admin.post(members, {"action": "move", "students": [moving.pk], "to": section_b.pk})
    tracker = instructor.get(reverse("cases:tracker", args=[world.course.pk])).content.decode()
    # Gone from the tracker, or there with the quiz not given to them.
    assert leaving.display_name not in tracker and student.display_name in tracker

    for viewer in (instructor, _signed_in(ta)):
        stats = _stats(viewer, quiz)
        assert "1 student with a submitted attempt" in stats
        assert "Partner" in stats and "33%" not in stats and "100%" in stats
