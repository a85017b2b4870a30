"""Each plain-SQL query of cases/sql.py gives what its ORM twin gives, for every role of
the test world."""

from datetime import datetime, timedelta

import pytest
from django.db.models import Case, Count, IntegerField, Max, Sum, Value, When
from django.utils import timezone

from cases import sql
from cases.models import (
    Accommodation,
    Assignment,
    Cohort,
    Course,
    Extension,
    GradeCategory,
    LiveSession,
    Membership,
    ModuleItem,
    Notification,
    ReadingProgress,
    Rubric,
    Work,
    live_running_since,
)
from cases.permissions import _roles
from cases.services.live import answer_save, join, poll_create, poll_launch, poll_update
from cases.services.people import user_deactivate, user_reactivate
from cases.services.readings import reading_mark_done, reading_open
from cases.services.workspace.work import work_sync
from tests.conftest import ROLES
from tests.factories import make_live

pytestmark = pytest.mark.django_db

SIGNED_IN = [role for role in ROLES if role != "anonymous"]


@pytest.mark.parametrize("role", SIGNED_IN)
def test_course_with_roles_matches_the_orm(world, role):
    user = world.users[role]
    for course in (world.course, world.other_course):
        raw = sql.course_with_roles(user_id=user.pk, course_id=course.pk)
        orm = Course.objects.annotate(**_roles(user, "pk")).get(pk=course.pk)
        assert (raw.pk, raw.code, raw.time_zone) == (orm.pk, orm.code, orm.time_zone)
        roles = ("_is_instructor", "_is_ta", "_is_student")
        assert [getattr(raw, r) for r in roles] == [getattr(orm, r) for r in roles]
    assert sql.course_with_roles(user_id=user.pk, course_id=0) is None


@pytest.mark.parametrize("role", SIGNED_IN)
def test_teaching_staff_matches_the_orm(world, role):
    user = world.users[role]
    assert sql.is_teaching_staff(user_id=user.pk) == Course.objects.taught_by(user).exists()


@pytest.mark.parametrize("role", SIGNED_IN)
def test_joined_session_version_matches_the_orm(world, role):
    session = make_live(
        world.item.module, world.course.cohorts.all(), start_by=world.users["instructor"]
    )
    user = world.users[role]
    if role in ("student", "ta"):
        join(session, user)

    def orm():
        found = LiveSession.objects.filter(pk=session.pk, attendance__user=user).first()
        if found is None:
            return None
        poll = found.current_poll
        running = found.is_running
        if not running or poll is None or not poll.results_shown or poll.state != "open":
            return (found.version, running, None, None)
        answers = poll.answers.aggregate(n=Count("pk"), at=Max("updated_at"))
        return (found.version, running, answers["n"], _plain(answers["at"]))

    def raw():
        since = live_running_since()
        found = sql.joined_session_version(user_id=user.pk, session_id=session.pk, since=since)
        if found is None or found[2] is None:
            return found if found is None else (*found[:2], found[2], found[3])
        return (*found[:3], _plain(found[3]))

    assert raw() == orm()
    poll = poll_create(session=session, kind="single", prompt="R or D?", options="RD")
    poll_launch(poll)
    assert raw() == orm()
    poll_update(poll, results_shown=True)
    assert raw() == orm()
    session.refresh_from_db()
    if role in ("student", "ta"):
        answer_save(session=session, poll=poll, user=user, answer={"choices": [1]})
    assert raw() == orm()
    # Left running for seven hours: no longer running, its counts no longer asked.
    started = session.started_at
    LiveSession.objects.filter(pk=session.pk).update(started_at=started - timedelta(hours=7))
    assert raw() == orm()
    LiveSession.objects.filter(pk=session.pk).update(started_at=started)
    poll_update(poll, close=True)
    assert raw() == orm()


def _plain(value):
    """Values as both databases can be compared: datetimes to the microsecond (SQLite's
    raw answer is text), numbers as numbers."""
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S.%f")
    if isinstance(value, str) and value[:2] == "20":
        return value.replace("T", " ")[:26].ljust(26, "0").split("+")[0]
    return None if value is None else float(value)


def _course_version_orm(course, now) -> tuple:
    items = ModuleItem.objects.filter(module__course=course)
    due = Sum(
        Case(When(due_at__lte=now, then=Value(1)), default=Value(0)), output_field=IntegerField()
    )
    cut_off = Sum(
        Case(When(late_until__lte=now, then=Value(1)), default=Value(0)),
        output_field=IntegerField(),
    )
    a = Assignment.objects.filter(item__in=items).aggregate(
        a1=Max("updated_at"), a2=Count("pk"), a3=due, a4=cut_off
    )
    e = Extension.objects.filter(assignment__item__in=items).aggregate(
        e1=Max("updated_at"), e2=Count("pk"), e3=due, e4=cut_off
    )
    r = Membership.objects.filter(cohort__courses=course).aggregate(
        r1=Count("pk"),
        r2=Sum("pk"),
        r3=Sum("cohort_id"),
        r4=Sum(Case(When(user__is_active=False, then=Value(1)), default=Value(0))),
        r5=Sum(Case(When(user__is_active=False, then="user_id"), default=Value(0))),
    )
    k = Cohort.objects.filter(courses=course).aggregate(k1=Max("updated_at"))
    i = items.aggregate(
        i1=Count("pk"),
        i2=Max("updated_at"),
        i3=Max("module__updated_at"),
        i4=Count("grade_category"),
        i5=Max("grade_category__updated_at"),
        i6=Count("rubric"),
        i7=Max("rubric__updated_at"),
    )
    x = Accommodation.objects.filter(course=course).aggregate(x1=Count("pk"), x2=Max("updated_at"))
    w = Work.objects.filter(item__in=items).aggregate(w1=Max("updated_at"))
    return tuple(v for part in (a, e, r, k, i, x, w) for v in part.values())


def test_course_version_matches_the_orm_through_a_term_of_changes(world):
    course, student = world.course, world.users["student"]
    now = timezone.now()

    def agree(moment):
        raw = sql.course_version_row(course_id=course.pk, now=moment)
        assert [_plain(v) for v in raw] == [_plain(v) for v in _course_version_orm(course, moment)]

    agree(now)
    reading_mark_done(user=student, case=world.case, done=True)
    agree(now)
    assignment = world.item.assignments.get()
    Extension.objects.create(
        assignment=assignment,
        user=student,
        due_at=now + timedelta(days=9),
        late_until=now + timedelta(days=12),
    )
    Assignment.objects.filter(pk=assignment.pk).update(late_until=now + timedelta(days=5))
    cases = GradeCategory.objects.create(course=course, name="Cases", weight=25, drop_lowest=1)
    Membership.objects.create(cohort=course.cohorts.get(), user=world.users["other_student"])
    agree(now)
    agree(now + timedelta(days=30))  # Every due date has passed.
    world.item.grade_category = cases
    world.item.rubric = Rubric.objects.create(
        course=course, title="Argument", criteria=[{"name": "Evidence", "levels": []}]
    )
    world.item.save()
    Accommodation.objects.create(course=course, student=student, extra_minutes=30)
    cohort = course.cohorts.get()
    cohort.name = "Section A, Mondays"
    cohort.save()
    agree(now)
    cases.delete()  # Its item is left uncategorised (set null), its rubric kept.
    agree(now)
    user_deactivate(user=student, by=world.users["admin"])
    agree(now)
    user_reactivate(user=student, by=world.users["admin"])
    agree(now)


@pytest.mark.parametrize("role", SIGNED_IN)
def test_the_reading_upsert_leaves_what_work_sync_would(world, role):
    user = world.users[role]
    reading_open(user=user, case=world.case)
    assert work_sync(world.item, [user.pk]) == 0  # The ORM twin finds nothing to change.
    reading_mark_done(user=user, case=world.case, done=True)
    assert work_sync(world.item, [user.pk]) == 0
    given = Assignment.objects.filter(item=world.item, cohort__memberships__user=user).exists()
    assert Work.objects.filter(item=world.item, user=user).exists() == given


@pytest.mark.parametrize("role", SIGNED_IN)
def test_reading_touch_updates_and_returns_what_the_orm_would(world, role):
    user = world.users[role]
    now = timezone.now()
    touch = {"user_id": user.pk, "case_id": world.case.pk}
    assert sql.reading_touch(**touch, now=now, beat=5, before=now) is None
    reading_open(user=user, case=world.case)
    reading_mark_done(user=user, case=world.case, done=True)
    opened = ReadingProgress.objects.get(user=user, case=world.case).last_opened_at
    # Opened since `before`: nothing is touched, as the ORM's filtered update touches none.
    assert sql.reading_touch(**touch, now=now, beat=7, before=opened) is None
    assert ReadingProgress.objects.get(user=user, case=world.case).last_opened_at == opened
    later = now + timedelta(minutes=7)
    touched = sql.reading_touch(**touch, now=later, beat=99, before=later - timedelta(minutes=1))
    twin = ReadingProgress.objects.get(user=user, case=world.case)
    fields = [field.attname for field in ReadingProgress._meta.concrete_fields]
    assert [getattr(touched, name) for name in fields] == [getattr(twin, name) for name in fields]
    assert (twin.last_opened_at, twin.last_beat) == (later, 99)
    assert twin.done_at is not None


def test_notifications_insert_matches_bulk_create_and_skips_repeats(world):
    users = [world.users[role] for role in SIGNED_IN]
    values = {
        "kind": "reply",
        "title": "A reply",
        "body": "",
        "url": "/items/1/",
        "course": world.course.pk,
        "key": "reply:1",
    }
    now = timezone.now()
    ids = sql.notifications_insert(user_ids=[u.pk for u in users], values=values, now=now)
    assert len(ids) == len(users)
    assert sql.notifications_insert(user_ids=[u.pk for u in users], values=values, now=now) == []
    twin = {**values, "key": "reply:2", "course_id": values["course"]}
    del twin["course"]
    Notification.objects.bulk_create(
        [Notification(user=u, created_at=now, **twin) for u in users], ignore_conflicts=True
    )
    fields = ["user_id", "kind", "title", "body", "url", "course_id", "emailed_at"]
    raw = sorted(Notification.objects.filter(key="reply:1").values_list(*fields))
    orm = sorted(Notification.objects.filter(key="reply:2").values_list(*fields))
    assert raw == orm


def test_answer_save_changes_what_the_orm_would_and_leaves_a_late_older_save(world):
    """Saving one answer twice in plain SQL and through the ORM twin, in turn: a newer
    save changes it, an older one arriving late does not, an unconditional one does."""
    from cases.models import Answer

    slots = list(world.attempt.slots.order_by("position"))
    now = timezone.now()

    def orm(slot, response, seq, newer_only):
        rows = Answer.objects.filter(slot=slot)
        if newer_only:
            rows = rows.filter(seq__lt=seq)
        return rows.update(response=response, seq=seq, saved_at=now)

    def plain(slot, response, seq, newer_only):
        return sql.answer_save(
            slot_id=slot.pk, response=response, seq=seq, now=now, newer_only=newer_only
        )

    steps = [({"value": "40"}, 10, True), ({"value": "3"}, 5, True), ({"text": "¶2"}, 1, False)]
    for response, seq, newer_only in steps:
        changed = [
            save(slot, response, seq, newer_only)
            for save, slot in ((orm, slots[0]), (plain, slots[1]))
        ]
        assert changed[0] == changed[1]
        twins = [Answer.objects.get(slot=slot) for slot in slots[:2]]
        assert [(a.response, a.seq, a.saved_at) for a in twins] == [
            (twins[0].response, twins[0].seq, twins[0].saved_at)
        ] * 2
    assert (twins[0].response, twins[0].seq) == ({"text": "¶2"}, 1)


def test_thread_bump_moves_the_version_as_the_orm_would_and_says_a_lock(world):
    """Bumping in plain SQL and through the ORM twin, in turn: each moves the version by
    one; the plain one returns the version it made and the lock as they stand."""
    from django.db.models import F

    from cases.models import Discussion
    from cases.services.discussions import discussion_lock

    discussion = world.discussion
    rows = Discussion.objects.filter(pk=discussion.pk)
    start = rows.get().version
    for turn in range(2):
        assert sql.thread_bump(discussion_id=discussion.pk) == (start + 2 * turn + 1, False)
        rows.update(version=F("version") + 1)
        assert rows.get().version == start + 2 * turn + 2
    discussion_lock(discussion=discussion, locked=True)
    version, locked = sql.thread_bump(discussion_id=discussion.pk)
    assert (version, locked) == (rows.get().version, True)
