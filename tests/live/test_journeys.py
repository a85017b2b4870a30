"""Live class used a second time and where it meets other features: two sections of
one course each with its session, a student moved, deactivated or found absent, the
session ended with a console still open."""

import pytest
from django.urls import reverse

from cases.services import live as services
from tests.factories import CohortFactory, MembershipFactory, UserFactory, make_live

pytestmark = pytest.mark.django_db


@pytest.fixture
def sections(world):
    """The course's Section A and a Section B with a student of its own, and a
    live-session item given to both."""
    section_a = world.course.cohorts.get()
    section_b = CohortFactory(name="Section B")
    world.course.cohorts.add(section_b)
    MembershipFactory(cohort=section_b, user=UserFactory(username="student_b"))
    item = make_live(world.item.module, [section_a, section_b])
    return section_a, section_b, item


def _start(world, item, cohort, title):
    return services.session_start(
        course=world.course, by=world.users["instructor"], title=title, item=item, cohort=cohort
    )


def test_a_student_sees_on_the_item_only_the_session_of_their_own_section(
    world, sections, client_for
):
    """Section B's class is running: a Section A student opening the item is not offered
    B's session (it would answer 404); when A's starts, that is the one offered, as on
    the dashboard."""
    _section_a, section_b, item = sections
    b_session = _start(world, item, section_b, "Section B, Monday")
    client = client_for("student")
    page = client.get(item.get_absolute_url()).content.decode()
    assert b_session.get_absolute_url() not in page
    assert "No session is running now" in page
    assert client.get(b_session.get_absolute_url()).status_code == 404
    a_session = _start(world, item, world.course.cohorts.get(name="Section A"), "Section A")
    page = client.get(item.get_absolute_url()).content.decode()
    assert a_session.get_absolute_url() in page and b_session.get_absolute_url() not in page
    dashboard = client.get(reverse("cases:home")).content.decode()
    assert a_session.get_absolute_url() in dashboard
    assert b_session.get_absolute_url() not in dashboard
