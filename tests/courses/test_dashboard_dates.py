"""The dashboards say when work is due in each course's own time zone, as its course
page and deadlines say it: the student's (`/`) and the teaching page (`/teach/`) list
several courses' items, each in its own course's zone, whatever the server's is."""

import html as html_lib
import re
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse
from django.utils import timezone

from cases.models import Memo, MemoVersion, PeerReview
from tests.factories import AssignmentFactory, MembershipFactory, ModuleFactory, make_analysis

pytestmark = pytest.mark.django_db

SHANGHAI = ZoneInfo("Asia/Shanghai")
NEW_YORK = ZoneInfo("America/New_York")


def _local(zone, days: int, hour: int) -> datetime:
    """`hour` o'clock, `days` days from today in `zone`, as an aware moment."""
    day = timezone.now().astimezone(zone).date() + timedelta(days=days)
    return datetime.combine(day, time(hour), tzinfo=zone)


def _row(html: str, title: str) -> str:
    """The text of the dashboard's (or teaching page's) row that names `title`, with
    its tooltip."""
    row = re.search(rf"<li[^>]*>(?:(?!</li>).)*{re.escape(title)}(?:(?!</li>).)*</li>", html, re.S)
    assert row, title
    return html_lib.unescape(row[0])


def _due_next(client) -> str:
    page = client.get(reverse("cases:home")).content.decode()
    return page.split('id="due-heading"')[1].split("</section>")[0]


def _set_zone(client, course, zone: str) -> None:
    response = client.post(
        reverse("cases:course_edit", args=[course.pk]),
        {"code": course.code, "title": course.title, "description": "", "time_zone": zone},
    )
    assert response.status_code == 302


def test_each_dashboard_row_is_due_in_its_own_courses_zone_as_its_course_page_says(
    world, client_for
):
    """A Shanghai course's reading due at 17:00 there, and a quiz due at 07:00 there
    (23:00 the evening before in UTC): the student's dashboard and the instructor's
    teaching page say 17:00 and 07:00 on the Shanghai day, as the course page and the
    deadlines do, and keep saying it after a course page was seen. Another course of
    the student's, in New York, shows its own item in New York's time on the same
    dashboard. When the instructor moves the course to New York, both pages follow."""
    student = world.users["student"]
    _set_zone(client_for("instructor"), world.course, "Asia/Shanghai")
    reading_due, quiz_due = _local(SHANGHAI, 5, 17), _local(SHANGHAI, 3, 7)
    world.item.assignments.update(due_at=reading_due)
    world.quiz.item.assignments.update(due_at=quiz_due)
    world.discussion.item.assignments.update(due_at=_local(SHANGHAI, 30, 12))
    # The student also takes a New York course, with a memo due at the same moment as
    # the reading.
    world.other_course.time_zone = "America/New_York"
    world.other_course.save()
    MembershipFactory(cohort=world.other_course.cohorts.get(), user=student)
    memo = make_analysis(ModuleFactory(course=world.other_course), title="Memo in New York")
    AssignmentFactory(item=memo.item, cohort=world.other_course.cohorts.get(), due_at=reading_due)
    in_new_york = reading_due.astimezone(NEW_YORK)

    for _ in range(2):
        client = client_for("student")
        course_page = client.get(world.course.get_absolute_url()).content.decode()
        assert f"{reading_due:%a} {reading_due.day} {reading_due:%b}, 17:00" in course_page
        deadlines = client.get(reverse("cases:course_deadlines", args=[world.course.pk]))
        assert ">17:00<" in deadlines.content.decode()
        assert ">07:00<" in deadlines.content.decode()

        due = _due_next(client)
        reading = _row(due, "Shanghai Bell")
        assert f"due {reading_due:%A} at 17:00 (in 5 days)" in reading
        day = f"{reading_due:%a} {reading_due.day} {reading_due:%b %Y}"
        assert f'title="{day}, 17:00 (Asia/Shanghai)"' in reading
        quiz = _row(due, world.quiz.item.title)
        assert f"due {quiz_due:%A} at 07:00 (in 3 days)" in quiz
        assert "at 23:00" not in quiz
        # The New York course's memo, due at the reading's moment, in New York's time.
        theirs = _row(due, "Memo in New York")
        assert f"at {in_new_york:%H:%M}" in theirs and "(America/New_York)" in theirs
        assert "at 17:00" not in theirs

        teaching = client_for("instructor").get("/teach/").content.decode()
        assert f"due {reading_due:%A} at 17:00 (in 5 days)" in _row(teaching, "Shanghai Bell")
        assert "(Asia/Shanghai)" in _row(teaching, "Shanghai Bell")
        assert f"due {quiz_due:%A} at 07:00 (in 3 days)" in _row(teaching, world.quiz.item.title)

    # The instructor moves the course to New York: every page follows at once.
    _set_zone(client_for("instructor"), world.course, "America/New_York")
    due = _due_next(client_for("student"))
    reading = _row(due, "Shanghai Bell")
    assert f"at {in_new_york:%H:%M}" in reading and "(America/New_York)" in reading
    assert "at 17:00" not in reading
    teaching = client_for("instructor").get("/teach/").content.decode()
    assert f"at {in_new_york:%H:%M}" in _row(teaching, "Shanghai Bell")


def test_peer_reviews_to_write_are_due_in_the_items_courses_zone(world, client_for):
    """A memo to review in the Shanghai course: the dashboard's "Peer reviews to write"
    says its deadline at 17:00 Shanghai time, named, as the course's own pages would;
    submitting the review takes it off."""
    world.course.time_zone = "Asia/Shanghai"
    world.course.save()
    student, classmate = world.users["student"], world.users["student_ta_elsewhere"]
    cohort = world.item.assignments.get().cohort
    analysis = make_analysis(
        world.item.module, [cohort], title="Memo: build or buy", peer_review=True
    )
    due = _local(SHANGHAI, 2, 17)
    analysis.item.assignments.update(due_at=due)
    theirs = Memo.objects.create(item=analysis.item, author=classmate)
    version = MemoVersion.objects.create(
        memo=theirs, number=1, body="Buy.", body_html="<p>Buy.</p>", word_count=1,
        submitted_at=timezone.now(),
    )  # fmt: skip
    review = PeerReview.objects.create(
        item=analysis.item, reviewer=student, author=classmate, version=version, position=1
    )
    deadline = due + timedelta(days=analysis.review_days)

    for _ in range(2):
        page = client_for("student").get(reverse("cases:home")).content.decode()
        section = page.split('id="reviews-heading"')[1].split("</section>")[0]
        row = _row(section, "Memo: build or buy")
        assert f"{deadline:%a} {deadline.day} {deadline:%b %Y}, 17:00 (Asia/Shanghai)" in row
        assert "at 17:00" in row
    review.submitted_at = timezone.now()
    review.save()
    page = client_for("student").get(reverse("cases:home")).content.decode()
    assert 'id="reviews-heading"' not in page
