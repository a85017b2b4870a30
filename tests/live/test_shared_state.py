"""A changed session's phone fragment is rendered once for every phone in the same
state (`shared_fragment`), each served with its own CSRF token, and never shows one
student's answer to another."""

import re

import pytest
from django.test import Client
from django.test.signals import template_rendered
from django.urls import reverse

from cases.models import LiveAnswer
from cases.services import live as services
from tests.factories import MembershipFactory, UserFactory, make_live

pytestmark = pytest.mark.django_db
HTMX = {"HX-Request": "true"}


@pytest.fixture
def room(world):
    """A running session with three students of the cohort joined, each on a phone
    that checks CSRF as a browser's requests are checked."""
    session = make_live(
        world.item.module, world.course.cohorts.all(), start_by=world.users["instructor"]
    )
    cohort = world.course.cohorts.first()
    students = [world.users["student"]]
    for n in range(2):
        student = UserFactory(username=f"phone{n}")
        MembershipFactory(cohort=cohort, user=student)
        students.append(student)
    phones = []
    for student in students:
        services.join(session, student)
        phone = Client(enforce_csrf_checks=True)
        phone.force_login(student)
        phones.append(phone)
    return session, students, phones


def _state(phone, session) -> str:
    url = reverse("cases:live_state", args=[session.pk])
    response = phone.get(url, {"known": 0}, headers=HTMX)
    assert response.status_code == 200
    return response.content.decode()


def _renders(callback) -> int:
    seen = []

    def count(sender, template, **kwargs):
        if getattr(template, "name", "") and "live-state" in str(template.name):
            seen.append(template.name)

    template_rendered.connect(count)
    try:
        callback()
    finally:
        template_rendered.disconnect(count)
    return len(seen)


def _token(html: str) -> str:
    return re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html).group(1)


def test_phones_in_the_same_state_share_one_render_and_answer_with_their_own_token(room):
    session, _students, phones = room
    poll = services.poll_create(
        session=session, kind="single", prompt="Licence or build?", options=["Licence", "Build"]
    )
    services.poll_launch(poll)
    session.refresh_from_db()
    shown = []
    assert _renders(lambda: shown.append(_state(phones[0], session))) == 1
    assert _renders(lambda: shown.extend(_state(p, session) for p in phones[1:])) == 0
    assert all("Licence or build?" in html and "Your answer:" not in html for html in shown)
    assert "csrf-slot" not in "".join(shown)

    # Each answers through the form it was served, its token its own.
    for n, (phone, html) in enumerate(zip(phones[:2], shown, strict=False)):
        response = phone.post(
            reverse("cases:live_answer", args=[session.pk]),
            {"poll": poll.pk, "answer": str(n), "csrfmiddlewaretoken": _token(html)},
            headers=HTMX,
        )
        assert response.status_code == 200, response.content
        # The answer's own state comes back: the pick, and a form with a fresh token.
        mine = response.content.decode()
        assert f"Your answer: <strong>{['Licence', 'Build'][n]}</strong>" in mine
        assert "csrf-slot" not in mine and _token(mine)
    assert LiveAnswer.objects.filter(poll=poll).count() == 2

    # Answered or not, each phone shows its own state; then the poll closes and its
    # results show, the same for all but each student's own answer.
    first, second, third = (_state(p, session) for p in phones)
    assert "Your answer: <strong>Licence</strong>" in first
    assert "Your answer: <strong>Build</strong>" in second
    assert "Your answer:" not in third
    services.poll_update(poll, results_shown=True, close=True)
    first, second, third = (_state(p, session) for p in phones)
    assert all("How the class answered" in html for html in (first, second, third))
    assert "Your answer: <strong>Licence</strong>" in first
    assert "Your answer: <strong>Build</strong>" in second
    assert "closed before you answered" in third


def test_a_word_answered_is_the_students_own_fragment(room):
    session, students, phones = room
    poll = services.poll_create(session=session, kind="word", prompt="One word for QQ?")
    services.poll_launch(poll)
    session.refresh_from_db()
    poll.refresh_from_db()
    for student, word in zip(students[:2], ["Copy", "Platform"], strict=True):
        services.answer_save(session=session, poll=poll, user=student, answer={"text": word})
    first = _state(phones[0], session)
    assert _renders(lambda: _state(phones[1], session)) == 1
    assert "Copy" in first and "Platform" not in first
    assert "Platform" in _state(phones[1], session)
