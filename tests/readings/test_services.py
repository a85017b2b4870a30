from datetime import timedelta

import pytest
from django.db import connection
from django.db.models import F
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from cases.models import ReadingProgress, Work, WorkStatus
from cases.services.readings import (
    HEARTBEAT_MAX_CREDIT_SECONDS,
    READING_TIME_CAP_SECONDS,
    case_update,
    reading_heartbeat,
    reading_mark_done,
    reading_open,
)
from tests.factories import UserFactory, make_case
from tests.helpers import at_once

pytestmark = pytest.mark.django_db


def _numbers(case):
    return [(p.number, p.text) for p in case.paragraphs.order_by("position")]


def test_paragraphs_are_numbered_in_order():
    case = make_case()
    assert [n for n, _ in _numbers(case)] == [1, 2, 3]
    assert case.paragraphs.get(number=2).html == "<p>It has employed <em>many</em> researchers.</p>"


def test_editing_one_paragraph_keeps_every_number():
    case = make_case()
    case.body = case.body.replace("many", "over 1,600")
    case_update(case=case)
    assert [n for n, _ in _numbers(case)] == [1, 2, 3]
    assert "1,600" in case.paragraphs.get(number=2).text
    assert case.revision == 2


def test_inserting_a_paragraph_gives_it_a_new_number_and_keeps_the_others():
    case = make_case()
    first, *rest = case.body.split("\n\n")
    case.body = "\n\n".join([first, "A new paragraph in between.", *rest])
    case_update(case=case)
    assert [n for n, _ in _numbers(case)] == [1, 4, 2, 3]


def test_a_deleted_paragraph_number_is_never_reused():
    case = make_case()
    paragraphs = case.body.split("\n\n")
    case.body = "\n\n".join([paragraphs[0], paragraphs[2]])
    case_update(case=case)
    case.body += "\n\nA later addition."
    case_update(case=case)
    assert [n for n, _ in _numbers(case)] == [1, 3, 4]


def test_unchanged_body_is_not_a_new_revision():
    case = make_case()
    case.title = "Shanghai Bell, revisited"
    case_update(case=case)
    assert case.revision == 1


def test_paragraph_html_is_sanitised():
    case = make_case(body='Hi <img src=x onerror="alert(1)"> [x](javascript:alert(1))')
    html = case.paragraphs.get().html
    assert "<img" not in html
    assert 'href="javascript' not in html


def test_opening_twice_keeps_one_progress_row_and_the_first_open_time():
    case, user = make_case(), UserFactory()
    first = reading_open(user=user, case=case)
    second = reading_open(user=user, case=case)
    assert ReadingProgress.objects.count() == 1
    assert second.first_opened_at == first.first_opened_at
    assert second.last_opened_at >= first.last_opened_at


def test_a_reload_within_a_minute_reads_and_the_next_visit_records(world):
    """A student paging back to the case writes nothing; their next visit a minute on
    records the open (and brings their Work in line, should it have drifted)."""
    student, case = world.users["student"], world.case
    reading_open(user=student, case=case)
    row = ReadingProgress.objects.get(user=student, case=case)
    recorded, beat = row.last_opened_at, row.last_beat
    Work.objects.filter(user=student, item=world.item).delete()  # A write lost, say.
    with CaptureQueriesContext(connection) as reload:
        assert reading_open(user=student, case=case).last_opened_at == recorded
    assert not [q for q in reload if q["sql"].startswith("INSERT")]
    row.refresh_from_db()
    assert (row.last_opened_at, row.last_beat) == (recorded, beat)
    assert not Work.objects.filter(user=student, item=world.item).exists()
    ReadingProgress.objects.update(last_opened_at=F("last_opened_at") - timedelta(minutes=1))
    assert reading_open(user=student, case=case).last_opened_at > recorded
    assert Work.objects.get(user=student, item=world.item).state == WorkStatus.OPENED


def test_heartbeat_credits_elapsed_time_capped_per_beat():
    case, user = make_case(), UserFactory()
    reading_open(user=user, case=case)
    ReadingProgress.objects.update(last_beat=F("last_beat") - 45 * 60)  # Open over lunch.
    reading_heartbeat(user=user, case=case, paragraph=2)
    progress = ReadingProgress.objects.get()
    assert progress.active_seconds == HEARTBEAT_MAX_CREDIT_SECONDS
    assert progress.last_paragraph == 2


def test_a_repeated_heartbeat_gains_nothing(monkeypatch):
    case, user = make_case(), UserFactory()
    moment = timezone.now()
    monkeypatch.setattr(timezone, "now", lambda: moment)  # No second passes between beats.
    reading_open(user=user, case=case)
    ReadingProgress.objects.update(last_beat=F("last_beat") - 10)
    reading_heartbeat(user=user, case=case, paragraph=1)
    once = ReadingProgress.objects.get().active_seconds
    reading_heartbeat(user=user, case=case, paragraph=1)
    assert once == 10
    assert ReadingProgress.objects.get().active_seconds == once


def test_a_first_heartbeat_starts_progress_and_remembers_the_paragraph():
    case, user = make_case(), UserFactory()
    reading_heartbeat(user=user, case=case, paragraph=3)
    assert ReadingProgress.objects.get().last_paragraph == 3


def test_reading_time_is_capped_per_case():
    case, user = make_case(), UserFactory()
    reading_open(user=user, case=case)
    ReadingProgress.objects.update(
        active_seconds=READING_TIME_CAP_SECONDS - 5, last_beat=F("last_beat") - 30
    )
    reading_heartbeat(user=user, case=case, paragraph=None)
    assert ReadingProgress.objects.get().active_seconds == READING_TIME_CAP_SECONDS


def test_mark_done_twice_keeps_the_first_time_and_can_be_undone():
    case, user = make_case(), UserFactory()
    reading_mark_done(user=user, case=case, done=True)
    first = ReadingProgress.objects.get().done_at
    reading_mark_done(user=user, case=case, done=True)
    assert ReadingProgress.objects.get().done_at == first
    reading_mark_done(user=user, case=case, done=False)
    assert ReadingProgress.objects.get().done_at is None


@pytest.mark.django_db(transaction=True)
def test_two_first_opens_at_once_make_one_progress_row():
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL's concurrent connections; SQLite serialises writers")
    case, user = make_case(), UserFactory()
    errors = at_once(lambda: reading_open(user=user, case=case), 4)
    assert errors == []
    assert ReadingProgress.objects.filter(user=user, case=case).count() == 1


def test_moved_paragraphs_keep_their_numbers():
    case = make_case(body="Alpha one.\n\nBeta two.\n\nGamma three.")
    case.body = "Gamma three.\n\nBeta two.\n\nAlpha one."
    case_update(case=case)
    assert _numbers(case) == [(3, "Gamma three."), (2, "Beta two."), (1, "Alpha one.")]


def test_a_rewritten_paragraph_gets_a_new_number_not_an_old_one():
    case = make_case(body="Alpha one.\n\nBeta two.")
    case.body = "Something entirely different and new.\n\nBeta two."
    case_update(case=case)
    assert _numbers(case) == [(3, "Something entirely different and new."), (2, "Beta two.")]
