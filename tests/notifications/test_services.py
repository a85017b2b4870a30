"""Notifications: each event's in-app rows and emails, preferences, the unsubscribe link,
the daily digest and due-date reminders (once each, even when runs overlap)."""

from datetime import timedelta
from io import StringIO

import pytest
from django.core import mail
from django.core.management import call_command
from django.db import connection, transaction
from django.test import override_settings
from django.urls import reverse
from django.utils import timezone

from cases.models import (
    Assignment,
    Cohort,
    Course,
    EmailSettings,
    Extension,
    ItemKind,
    LatePolicy,
    ModuleItem,
    Notification,
    NotificationKind,
    NotificationPreference,
    User,
    Work,
    WorkStatus,
)
from cases.services.builder import item_create
from cases.services.discussions import post_create, post_moderate
from cases.services.gradebook import assignment_release
from cases.services.notifications import (
    _when,
    digests_send,
    due_reminders_send,
    notify,
    opened_notify,
    unsubscribe_url,
)
from cases.services.schedule import assignments_schedule, extensions_grant
from cases.services.workspace.grading import work_grade
from tests.helpers import at_once

pytestmark = pytest.mark.django_db

DATABASE_TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}


@pytest.fixture
def commit(django_capture_on_commit_callbacks):
    """Run what waits for the transaction to commit (the email tasks) as a commit would."""
    return lambda: django_capture_on_commit_callbacks(execute=True)


def _cohort(world) -> Cohort:
    return world.course.cohorts.get()


def _rows(kind: str) -> list[tuple[str, str]]:
    return sorted(Notification.objects.filter(kind=kind).values_list("user__username", "title"))


def _new_item(world, commit, *, due_in=timedelta(days=3)) -> ModuleItem:
    with commit():
        return item_create(
            module=world.item.module,
            kind=ItemKind.QUIZ,
            title="Pop quiz on SMIC",
            cohorts=[_cohort(world)],
            due_at=timezone.now() + due_in,
        )


def _grade_and_release(world, commit):
    work_grade(
        item=world.discussion.item,
        student=world.users["student"],
        grader=world.users["instructor"],
        override_score=7,
        override_reason="Strong argument",
    )
    assignment = world.discussion.item.assignments.get()
    with commit():
        assignment_release(assignment=assignment, released=True)
    return assignment


# Events --------------------------------------------------------------------------------


def test_publishing_an_item_notifies_the_cohorts_students_and_emails_them(world, commit):
    mail.outbox.clear()
    item = _new_item(world, commit)
    assert _rows("published") == [
        ("student", "New: Pop quiz on SMIC"),
        ("student_ta_elsewhere", "New: Pop quiz on SMIC"),
    ]
    assert sorted(m.to[0] for m in mail.outbox) == [
        "student@example.edu",
        "student_ta_elsewhere@example.edu",
    ]
    message = mail.outbox[0]
    assert message.subject == "MGT 6001: New: Pop quiz on SMIC"
    # The link opens the notice (marking it read), which goes on to the item.
    notice = Notification.objects.get(user__email=message.to[0], kind="published")
    assert notice.url == item.get_absolute_url()
    link = "http://127.0.0.1:8000" + reverse("cases:notification_open", args=[notice.pk])
    assert link in message.body
    [(html, mimetype)] = message.alternatives
    assert mimetype == "text/html" and f'href="{link}"' in html
    assert "/notifications/unsubscribe/" in message.body
    assert message.extra_headers["List-Unsubscribe"].startswith("<http://127.0.0.1:8000/")
    assert Notification.objects.filter(emailed_at__isnull=True).count() == 0


def _create_then_fail(world):
    with transaction.atomic():
        item_create(
            module=world.item.module, kind=ItemKind.QUIZ, title="Never", cohorts=[_cohort(world)]
        )
        raise RuntimeError("the request failed")


def test_a_change_rolled_back_notifies_nobody(world, commit):
    mail.outbox.clear()
    with commit(), pytest.raises(RuntimeError):
        _create_then_fail(world)
    assert not Notification.objects.exists() and not mail.outbox


def test_saving_new_dates_tells_nobody_twice(world, commit):
    """Nobody is told twice that the item is new; moved, its new date is news, once."""
    item = _new_item(world, commit)
    mail.outbox.clear()
    later = timezone.now() + timedelta(days=9)
    for _twice in range(2):
        with commit():
            assignments_schedule(item=item, schedule={_cohort(world): {"due_at": later}})
    assert [title for _user, title in _rows("published")] == [
        "New date: Pop quiz on SMIC",
        "New: Pop quiz on SMIC",
    ] * 2
    assert len(mail.outbox) == 2


def test_work_that_no_longer_takes_theirs_is_no_news_until_its_dates_take_it_again(world, commit):
    """Given with a due date this morning and late work refused, the quiz is not "New"
    to anyone; one student's extension makes it new to them alone. Moved to next week,
    it is news to the rest, and to nobody twice. A reading given late with late work
    taken is news to all: it counts as missing until they hand it in."""
    item = item_create(module=world.item.module, kind=ItemKind.QUIZ, title="Closed")

    def due(hours: int) -> dict:
        when = timezone.now() + timedelta(hours=hours)
        return {_cohort(world): {"due_at": when, "late_policy": LatePolicy.REFUSE}}

    with commit():
        assignments_schedule(item=item, schedule=due(-2))
    assert not Notification.objects.filter(kind="published").exists()
    with commit():
        extensions_grant(
            item=item,
            users=[world.users["student"]],
            due_at=timezone.now() + timedelta(days=3),
            by=world.users["instructor"],
        )
        assignments_schedule(item=item, schedule=due(-1))
    assert _rows("published") == [("student", "New: Closed")]
    next_week = due(24 * 7)
    for _twice in range(2):
        with commit():
            assignments_schedule(item=item, schedule=next_week)
    # The student's extension, overtaken, went: their date moved, and they are told so.
    assert sorted(_rows("published")) == [
        ("student", "New date: Closed"),
        ("student", "New: Closed"),
        ("student_ta_elsewhere", "New: Closed"),
    ]
    late = item_create(module=world.item.module, kind=ItemKind.QUIZ, title="Forgotten")
    with commit():
        assignments_schedule(
            item=late,
            schedule={_cohort(world): {"due_at": timezone.now() - timedelta(days=1)}},
        )
    assert sorted(u for u, title in _rows("published") if title == "New: Forgotten") == [
        "student",
        "student_ta_elsewhere",
    ]


def test_work_that_opened_and_fell_due_before_the_job_ran_is_news_to_the_extended(world, commit):
    """It opens at nine, due at ten with late work refused; one student has until
    tomorrow. The job runs at five past ten: news to that student alone."""
    item = item_create(module=world.item.module, kind=ItemKind.QUIZ, title="Short")
    opens = timezone.now() + timedelta(hours=1)
    schedule = {"opens_at": opens, "due_at": opens + timedelta(hours=1)}
    with commit():
        assignments_schedule(
            item=item, schedule={_cohort(world): schedule | {"late_policy": LatePolicy.REFUSE}}
        )
        extensions_grant(
            item=item,
            users=[world.users["student"]],
            due_at=opens + timedelta(days=1),
            by=world.users["instructor"],
        )
    with commit():
        assert opened_notify(now=opens + timedelta(hours=1, minutes=5)) == 1
    assert _rows("published") == [("student", "New: Short")]


def test_an_assignment_that_opens_later_is_announced_when_it_opens(world, commit):
    item = item_create(module=world.item.module, kind=ItemKind.QUIZ, title="Later")
    opens = timezone.now() + timedelta(hours=5)
    with commit():
        assignments_schedule(
            item=item,
            schedule={_cohort(world): {"opens_at": opens, "due_at": opens + timedelta(days=2)}},
        )
    assert not Notification.objects.exists()
    assert opened_notify(now=opens - timedelta(minutes=1)) == 0
    with commit():
        assert opened_notify(now=opens + timedelta(minutes=3)) == 2
    assert opened_notify(now=opens + timedelta(minutes=8)) == 0
    assert len(_rows("published")) == 2


def test_a_student_extended_before_the_item_opens_is_told_their_own_date(world, commit):
    """The quiz opens in five hours, due two days after; one student is given a week.
    When it opens, each is told the date the item's page will say to them; a second run
    tells nobody again."""
    item = item_create(module=world.item.module, kind=ItemKind.QUIZ, title="Later")
    opens = timezone.now() + timedelta(hours=5)
    due, theirs = opens + timedelta(days=2), opens + timedelta(days=7)
    with commit():
        assignments_schedule(
            item=item, schedule={_cohort(world): {"opens_at": opens, "due_at": due}}
        )
        extensions_grant(
            item=item, users=[world.users["student"]], due_at=theirs, by=world.users["instructor"]
        )
    with commit():
        assert opened_notify(now=opens + timedelta(minutes=3)) == 2
    assert opened_notify(now=opens + timedelta(minutes=8)) == 0
    bodies = dict(
        Notification.objects.filter(kind="published").values_list("user__username", "body")
    )
    assert bodies == {
        "student": f"Due {_when(theirs, world.course)} (extended for you).",
        "student_ta_elsewhere": f"Due {_when(due, world.course)}.",
    }


def test_releasing_grades_passes_over_a_memo_whose_grade_waits_on_a_new_version(world, commit):
    """Two students' memos are graded; one hands in again before the release. Only the
    other is told a grade is released: the first one's grades page says "handed in
    again, not graded yet"."""
    from decimal import Decimal

    from cases.services import analyses
    from cases.services.memo_feedback import memo_points
    from tests.factories import make_analysis

    item = make_analysis(world.item.module, world.course.cohorts.all(), case=world.case).item
    students = [world.users["student"], world.users["student_ta_elsewhere"]]
    for student in students:
        analyses.memo_submit(item=item, user=student, body="Buy the lab: it saves two years.")
        memo_points(item=item, student=student, points=Decimal(7), grader=world.users["ta"])
    analyses.memo_submit(item=item, user=students[0], body="Buy the lab: it saves three years.")
    with commit():
        assignment_release(assignment=item.assignments.get(), released=True)
    assert _rows("grade_released") == [("student_ta_elsewhere", f"Grade released for {item.title}")]


def test_releasing_grades_notifies_the_students_with_a_grade_once(world, commit):
    mail.outbox.clear()
    assignment = _grade_and_release(world, commit)
    assert _rows("grade_released") == [("student", "Grade released for R firm or D firm?")]
    [message] = mail.outbox
    assert message.subject == "MGT 6001: Grade released for R firm or D firm?"
    notice = Notification.objects.get(kind="grade_released")
    assert notice.url == reverse("cases:student_grades", args=[world.course.pk])
    assert reverse("cases:notification_open", args=[notice.pk]) in message.body
    assignment_release(assignment=assignment, released=False)
    with commit():
        assignment_release(assignment=assignment, released=True)
    assert len(_rows("grade_released")) == 1 and len(mail.outbox) == 1


def test_a_reply_notifies_the_parents_author_without_naming_the_replier(world, commit):
    mail.outbox.clear()
    with commit():
        reply = post_create(
            discussion=world.discussion,
            author=world.users["student_ta_elsewhere"],
            body="Is headcount really an input?",
            parent=world.post,
        )
    assert _rows("reply") == [("student", "A reply to your post in R firm or D firm?")]
    assert Notification.objects.get(kind="reply").url == reply.get_absolute_url()
    [message] = mail.outbox
    assert "student_ta_elsewhere" not in message.body + message.alternatives[0][0]


def test_replying_to_ones_own_post_notifies_nobody(world, commit):
    with commit():
        post_create(
            discussion=world.discussion,
            author=world.users["student"],
            body="And ¶3.",
            parent=world.post,
        )
    assert not Notification.objects.filter(kind="reply").exists()


def test_an_endorsement_notifies_the_author_once(world, commit):
    mail.outbox.clear()
    with commit():
        post_moderate(post=world.post, action="endorse")
        post_moderate(post=world.post, action="unendorse")
        post_moderate(post=world.post, action="endorse")
        post_moderate(post=world.post, action="pin")
    assert _rows("endorsed") == [("student", "Your post in R firm or D firm? was endorsed")]
    assert len(mail.outbox) == 1


def test_notify_with_a_key_inserts_each_users_row_once_and_says_which(world, commit):
    student, other = world.users["student"], world.users["student_ta_elsewhere"]
    first = notify([student], kind="reply", title="Hi", url="/", key="k:1")
    both = notify([student, other.pk, other], kind="reply", title="Hi", url="/", key="k:1")
    assert len(first) == 1 and len(both) == 1
    assert set(first + both) == set(Notification.objects.values_list("pk", flat=True))
    unkeyed = notify([student, student], kind="reply", title="Hi", url="/")
    assert len(unkeyed) == 1 and Notification.objects.count() == 3


# Preferences and unsubscribing ---------------------------------------------------------


def test_the_unsubscribe_link_asks_first_then_stops_that_kind_only(world, client, commit):
    student = world.users["student"]
    url = unsubscribe_url(student.pk, NotificationKind.GRADE_RELEASED)
    response = client.get(url)
    assert response.status_code == 200
    assert "Stop these emails" in response.content.decode()
    assert "A grade released" in response.content.decode()
    assert not NotificationPreference.objects.exists()  # A GET changes nothing.
    response = client.post(url)
    assert response.status_code == 200 and "Done" in response.content.decode()
    preference = NotificationPreference.objects.get(user=student)
    assert (preference.kind, preference.email) == ("grade_released", False)
    client.post(url)  # Twice: still one row.
    assert NotificationPreference.objects.count() == 1

    mail.outbox.clear()
    _grade_and_release(world, commit)
    assert _rows("grade_released") == [("student", "Grade released for R firm or D firm?")]
    assert not mail.outbox  # In the app, not emailed.
    with commit():
        post_moderate(post=world.post, action="endorse")
    assert [m.to for m in mail.outbox] == [["student@example.edu"]]  # Other kinds still are.


def test_the_link_in_an_email_turns_its_kind_off(world, client, commit):
    mail.outbox.clear()
    with commit():
        post_moderate(post=world.post, action="endorse")
    link = next(
        line for line in mail.outbox[0].body.splitlines() if "/notifications/unsubscribe/" in line
    )
    client.post(link.strip())
    assert NotificationPreference.objects.get(user=world.users["student"]).kind == "endorsed"


@pytest.mark.parametrize(
    "token",
    ["nonsense", "WzEsImVuZG9yc2VkIl0:1abc:forged", "tampered"],
)
def test_a_bad_unsubscribe_token_is_not_found_and_changes_nothing(world, client, token):
    if token == "tampered":
        good = unsubscribe_url(world.users["student"].pk, "endorsed").rstrip("/").split("/")[-1]
        token = good[:-2] + ("aa" if not good.endswith("aa") else "bb")
    url = reverse("cases:notification_unsubscribe", args=[token])
    assert client.get(url).status_code == 404
    assert client.post(url).status_code == 404
    assert not NotificationPreference.objects.exists()


def test_a_preference_off_means_no_email_but_the_notification_still_shows(world, commit):
    NotificationPreference.objects.create(
        user=world.users["student"], kind=NotificationKind.PUBLISHED, email=False
    )
    mail.outbox.clear()
    _new_item(world, commit)
    assert len(_rows("published")) == 2
    assert [m.to for m in mail.outbox] == [["student_ta_elsewhere@example.edu"]]


def test_digest_users_get_no_email_at_once_but_one_digest_a_day(world, commit):
    student = world.users["student"]
    EmailSettings.objects.create(user=student, daily_digest=True)
    mail.outbox.clear()
    _new_item(world, commit)
    with commit():
        post_moderate(post=world.post, action="endorse")
    assert [m.to for m in mail.outbox] == [["student_ta_elsewhere@example.edu"]]
    mail.outbox.clear()

    now = timezone.now()
    assert digests_send(now=now) == 1
    [digest] = mail.outbox
    assert digest.to == ["student@example.edu"]
    assert digest.subject == "Red Queen: 2 new notifications"
    assert "MGT 6001: New: Pop quiz on SMIC" in digest.body
    assert "MGT 6001: Your post in R firm or D firm? was endorsed" in digest.body
    assert digest.alternatives[0][1] == "text/html"
    assert digest.body.count("/notifications/unsubscribe/") == 2  # One link per kind.
    assert not Notification.objects.filter(user=student, emailed_at__isnull=True).exists()

    assert digests_send(now=now + timedelta(hours=1)) == 0  # A rerun sends nothing.
    with commit():
        post_create(
            discussion=world.discussion,
            author=world.users["student_ta_elsewhere"],
            body="A reply",
            parent=world.post,
        )
    assert len(mail.outbox) == 1
    assert digests_send(now=now + timedelta(hours=2)) == 0  # Not a day yet.
    assert digests_send(now=now + timedelta(hours=24)) == 1
    assert "A reply to your post" in mail.outbox[1].body


def test_a_digest_leaves_out_what_was_read_and_sends_nothing_when_nothing_is_new(world):
    student = world.users["student"]
    EmailSettings.objects.create(user=student, daily_digest=True)
    notify([student], kind="reply", title="Read already", url="/")
    Notification.objects.update(read_at=timezone.now())
    mail.outbox.clear()
    assert digests_send() == 0 and not mail.outbox


# Reminders -----------------------------------------------------------------------------


def test_reminders_go_once_to_students_whose_work_is_due_and_not_done(world, commit):
    item = _new_item(world, commit, due_in=timedelta(hours=10))
    Work.objects.update_or_create(
        item=item,
        user=world.users["student_ta_elsewhere"],
        defaults={"state": WorkStatus.SUBMITTED},
    )
    mail.outbox.clear()
    with commit():
        assert due_reminders_send() == 1
    assert due_reminders_send() == 0  # Run twice: once.
    assert _rows("due_soon") == [("student", "Due soon: Pop quiz on SMIC")]
    [message] = mail.outbox
    assert message.subject == "MGT 6001: Due soon: Pop quiz on SMIC"
    assert "Due " in message.body


def test_no_reminder_for_excused_work_or_work_due_later(world, commit):
    item = _new_item(world, commit, due_in=timedelta(hours=30))
    assert due_reminders_send() == 0
    assert due_reminders_send(now=timezone.now() + timedelta(hours=7)) == 2
    other = _new_item(world, commit, due_in=timedelta(hours=5))
    for username in ["student", "student_ta_elsewhere"]:
        Work.objects.update_or_create(
            item=other, user=world.users[username], defaults={"excused": True}
        )
    assert due_reminders_send() == 0
    assert item.pk != other.pk


def test_an_extension_moves_the_reminder_and_a_new_date_reminds_again(world, commit):
    item = _new_item(world, commit, due_in=timedelta(hours=10))
    student = world.users["student"]
    extensions_grant(
        item=item,
        users=[student],
        due_at=timezone.now() + timedelta(days=3),
        by=world.users["instructor"],
    )

    def reminded(now=None) -> list[str]:
        due_reminders_send(now=now)
        reminders = Notification.objects.filter(kind="due_soon", url=item.get_absolute_url())
        return sorted(reminders.values_list("user__username", flat=True))

    assert reminded() == ["student_ta_elsewhere"]  # The student's own date is later.
    later = timezone.now() + timedelta(days=2, hours=12)
    assert reminded(later) == ["student", "student_ta_elsewhere"]  # Before their own date.
    assert reminded(later) == ["student", "student_ta_elsewhere"]

    # Reminded for the extended date, then given a later one: reminded again before it.
    Extension.objects.filter(user=student).update(due_at=timezone.now() + timedelta(days=4))
    assert reminded(timezone.now() + timedelta(days=3, hours=12)) == [
        "student",
        "student",
        "student_ta_elsewhere",
    ]


@pytest.mark.django_db(transaction=True)
def test_two_reminder_runs_at_once_send_each_reminder_once(world):
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL's concurrent connections; SQLite serialises writers")
    due = timezone.now() + timedelta(hours=6)
    item = item_create(
        module=world.item.module,
        kind=ItemKind.QUIZ,
        title="Race",
        cohorts=[_cohort(world)],
        due_at=due,
    )
    mail.outbox.clear()
    errors = at_once(due_reminders_send, 4)
    assert errors == []
    reminders = Notification.objects.filter(kind="due_soon")
    assert sorted(reminders.values_list("user__username", flat=True)) == [
        "student",
        "student_ta_elsewhere",
    ]
    assert sorted(m.to[0] for m in mail.outbox) == [
        "student@example.edu",
        "student_ta_elsewhere@example.edu",
    ]
    assert item.pk


# The whole path: a request stores the task, the worker sends ------------------------------


@pytest.mark.django_db(transaction=True)
def test_publishing_to_the_demo_cohort_notifies_twelve_and_the_worker_emails_them(client):
    call_command("seed_demo", force=True)
    mail.outbox.clear()
    instructor = User.objects.get(username="instructor")
    course = Course.objects.get(instructors=instructor)
    section_a = Cohort.objects.get(name__endswith="section A")
    client.force_login(instructor)
    with override_settings(TASKS=DATABASE_TASKS):
        response = client.post(
            reverse("cases:item_create", args=[course.pk]),
            {
                "module": course.modules.first().pk,
                "kind": "quiz",
                "title": "Pop quiz on Huawei",
                "cohorts": [section_a.pk],
                "due_at": "2030-03-01T17:00",
            },
        )
        assert response.status_code == 302
        assignment = Assignment.objects.get(item__title="Pop quiz on Huawei")
        published = Notification.objects.filter(key=f"published:{assignment.pk}")
        assert published.count() == 12
        assert not mail.outbox  # The request only stored the task.
        assert not published.filter(emailed_at__isnull=False).exists()

        call_command("db_worker", "--batch", "--no-startup-delay", "--interval", "0")

    assert len(mail.outbox) == 12
    assert {m.to[0] for m in mail.outbox} == set(section_a.members.values_list("email", flat=True))
    assert all(m.subject.endswith("New: Pop quiz on Huawei") for m in mail.outbox)
    assert published.filter(emailed_at__isnull=True).count() == 0


def test_an_invitation_still_sends_a_set_password_link_as_text_and_html(world, commit):
    from cases.services.cohorts.invitations import invitations_send

    newcomer = User.objects.create_user(username="ann", email="ann@example.edu")
    mail.outbox.clear()
    with commit():
        invitations_send([newcomer], cohort=_cohort(world))
    [message] = mail.outbox
    assert message.subject == "Your Red Queen account for Section A"
    assert "/password/reset/" in message.body and "username is ann" in message.body
    assert "/password/reset/" in message.alternatives[0][0]
    assert "unsubscribe" not in message.body.lower()
    assert not Notification.objects.exists()


def test_a_digest_turned_on_outside_the_preferences_page_starts_a_day_back(world):
    """A digest set on in the Django admin (or before digests knew when they began)
    has its first run: it lists the last day's notices, not months-old unread ones."""
    student = world.users["student"]
    EmailSettings.objects.create(user=student, daily_digest=True)
    notify([student], kind="reply", title="MONTHS-OLD", url="/")
    Notification.objects.update(created_at=timezone.now() - timedelta(days=120))
    notify([student], kind="reply", title="THIS-MORNING", url="/")
    mail.outbox.clear()
    assert digests_send() == 1
    [digest] = mail.outbox
    assert "THIS-MORNING" in digest.body and "MONTHS-OLD" not in digest.body


def _quiz_graded(world, user):
    """The world's quiz answered right by `user` and handed in, its essay then graded by
    the instructor: a grade on the quiz, with nothing waiting for a person."""
    from decimal import Decimal

    from cases.models import Answer
    from cases.services.quizzes import answer_grade, attempt_start, attempt_submit
    from tests.helpers import answer_all_right

    attempt = attempt_start(quiz=world.quiz, user=user)
    answer_all_right(attempt, user)
    attempt_submit(attempt_id=attempt.pk, user=user)
    essay = Answer.objects.get(slot__attempt=attempt, slot__question__title="Argue")
    answer_grade(
        answer_id=essay.pk, points=Decimal(2), comment="", grader=world.users["instructor"]
    )


def test_a_quiz_released_before_its_due_date_is_told_when_each_student_may_read_it(world, commit):
    """The quiz shows scores after the due date. The instructor releases its column in
    the gradebook the day before: nobody is told, as nobody may read it yet. When the
    due date passes the scheduled run tells the student, and the classmate given a day
    more once theirs passes; run again, released again, nobody is told twice."""
    from cases.services.notifications import grades_readable_notify

    student, extended = world.users["student"], world.users["student_ta_elsewhere"]
    quiz = world.quiz
    quiz.feedback_release = "after_due"
    quiz.save()
    assignment = quiz.item.assignments.get()
    due = timezone.now() + timedelta(days=1)
    Assignment.objects.filter(pk=assignment.pk).update(due_at=due)
    extensions_grant(
        item=quiz.item, users=[extended], due_at=due + timedelta(days=1), by=world.users["ta"]
    )
    for user in (student, extended):
        _quiz_graded(world, user)
    assignment.refresh_from_db()
    with commit():
        assignment_release(assignment=assignment, released=True)
    assert _rows("grade_released") == []
    with commit():
        call_command("send_due_reminders", stdout=StringIO())
    assert _rows("grade_released") == []

    with commit():
        assert grades_readable_notify(now=due + timedelta(minutes=5)) == 1
    title = f"Grade released for {quiz.item.title}"
    assert _rows("grade_released") == [("student", title)]
    with commit():
        assert grades_readable_notify(now=due + timedelta(minutes=10)) == 0

    with commit():
        assert grades_readable_notify(now=due + timedelta(days=1, minutes=5)) == 1
    assert _rows("grade_released") == [("student", title), ("student_ta_elsewhere", title)]
    assignment_release(assignment=assignment, released=False)
    with commit():
        assignment_release(assignment=assignment, released=True)
        grades_readable_notify(now=due + timedelta(days=1, minutes=10))
    assert len(_rows("grade_released")) == 2


def test_a_student_moved_after_an_early_release_is_told_when_their_due_date_passes(
    world, commit, client
):
    """The quiz shows scores after the due date; section A's column is released the day
    before it. The student, graded, is moved to section B, whose grades are not
    released, due the same day: A's release is held for them. When the date passes the
    scheduled run tells them, once; B's classmate, graded too, is told nothing."""
    from cases.services.notifications import grades_readable_notify
    from tests.factories import AssignmentFactory, MembershipFactory, UserFactory

    student, section_a = world.users["student"], _cohort(world)
    quiz = world.quiz
    quiz.feedback_release = "after_due"
    quiz.save()
    due = timezone.now() + timedelta(days=1)
    section_b = Cohort.objects.create(name="Section B")
    world.course.cohorts.add(section_b)
    classmate = UserFactory(username="classmate_b")
    MembershipFactory(cohort=section_b, user=classmate)
    AssignmentFactory(item=quiz.item, cohort=section_b, due_at=due)
    quiz.item.assignments.update(due_at=due)
    for user in (student, classmate):
        _quiz_graded(world, user)
    with commit():
        assignment_release(assignment=quiz.item.assignments.get(cohort=section_a), released=True)
    client.force_login(world.users["admin"])
    client.post(
        reverse("cases:cohort_members", args=[section_a.pk]),
        {"action": "move", "students": [student.pk], "to": section_b.pk},
    )
    with commit():
        assert grades_readable_notify() == 0
        assert grades_readable_notify(now=due + timedelta(minutes=5)) == 1
        assert grades_readable_notify(now=due + timedelta(minutes=10)) == 0
    assert _rows("grade_released") == [("student", f"Grade released for {quiz.item.title}")]
