"""Course services: reordering under concurrency and the time-zone helper."""

import pytest
from django.db import connection

from cases.models import Course
from cases.services.builder import DOWN, UP, module_move
from cases.timezones import zone_of
from tests.factories import CourseFactory, ModuleFactory
from tests.helpers import at_once


def _positions(course):
    return list(course.modules.order_by("position", "pk").values_list("title", "position"))


@pytest.mark.django_db
def test_a_module_move_numbers_every_module_from_one():
    course = CourseFactory()
    for title, position in [("a", 5), ("b", 5), ("c", 40)]:
        ModuleFactory(course=course, title=title, position=position)
    module_move(module=course.modules.get(title="c"), direction=UP)
    assert _positions(course) == [("a", 1), ("c", 2), ("b", 3)]


@pytest.mark.django_db(transaction=True)
def test_concurrent_moves_keep_positions_distinct():
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL's concurrent connections; SQLite serialises writers")
    course = CourseFactory()
    modules = [ModuleFactory(course=course, title=t, position=n) for n, t in enumerate("abcd", 1)]
    errors = at_once(lambda: module_move(module=modules[1], direction=DOWN), 4)
    assert errors == []
    positions = [p for _t, p in _positions(course)]
    assert positions == [1, 2, 3, 4]


def test_an_unknown_zone_name_falls_back_to_utc():
    assert str(zone_of(Course(time_zone="Mars/Olympus"))) == "UTC"
    assert str(zone_of(Course(time_zone="Asia/Shanghai"))) == "Asia/Shanghai"
