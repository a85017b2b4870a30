"""An item page joins only its own kind's content once the process knows the kind
(`permissions.access_item`), and a wrong guess never shows the wrong page."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from cases.models import ItemKind, ModuleItem
from cases.permissions import _ITEM_KINDS

pytestmark = pytest.mark.django_db


def _kind_joins(queries) -> list[str]:
    """The kinds' content tables the item's access query joined."""
    access = next(q["sql"] for q in queries if '"_teaches_any"' in q["sql"])
    tables = ["cases_casereading", "cases_quiz", "cases_discussion", "cases_livesession"]
    return [t for t in tables if f'JOIN "{t}"' in access]


def test_the_second_visit_joins_only_the_items_own_kind(world, client_for):
    student = client_for("student")
    url = world.discussion.item.get_absolute_url()
    with CaptureQueriesContext(connection) as first:
        assert "Argue from the case" in student.get(url).content.decode()
    assert world.discussion.item.pk in _ITEM_KINDS
    with CaptureQueriesContext(connection) as second:
        html = student.get(url).content.decode()
    assert "Argue from the case" in html
    assert len(second) <= len(first)  # Less: the page of posts and the prompt are kept.
    assert "cases_casereading" in _kind_joins(first)
    assert _kind_joins(second) == ["cases_discussion"]
    # Another kind's page, then the reading: each its own content.
    assert (
        "Shanghai Bell makes telecom switches"
        in student.get(world.item.get_absolute_url()).content.decode()
    )
    assert "Argue from the case" in student.get(url).content.decode()


def test_a_wrong_kind_remembered_still_shows_the_items_own_page(world, client_for):
    """An id that came back after a deletion, or a kind changed in the admin: the item
    is fetched again with every kind's content, and its kind remembered afresh."""
    student = client_for("student")
    item = world.discussion.item
    _ITEM_KINDS[item.pk] = ItemKind.CASE_READING
    assert "Argue from the case" in student.get(item.get_absolute_url()).content.decode()
    assert _ITEM_KINDS[item.pk] == ItemKind.DISCUSSION

    # The admin makes the reading's item a discussion with no content yet: the
    # generic item page, not the reading.
    student.get(world.item.get_absolute_url())
    ModuleItem.objects.filter(pk=world.item.pk).update(kind=ItemKind.QUIZ)
    html = student.get(world.item.get_absolute_url()).content.decode()
    assert "Shanghai Bell makes telecom switches" not in html
    assert _ITEM_KINDS[world.item.pk] == ItemKind.QUIZ
