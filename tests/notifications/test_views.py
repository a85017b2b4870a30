"""Notifications in the app: the bell's unread count (304 when nothing is new), the
list, opening one (marked read, taken to the thing), marking all read, and the email
preferences."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from cases.models import EmailSettings, Notification, NotificationKind, NotificationPreference
from tests.helpers import PAGE_BUDGET, data_queries

pytestmark = pytest.mark.django_db


def _notify(user, n=1, **fields):
    return [
        Notification.objects.create(
            user=user,
            kind=fields.get("kind", "reply"),
            title=fields.get("title", f"A reply to your post {i}"),
            url=fields.get("url", "/library/"),
        )
        for i in range(n)
    ]


def test_the_bell_counts_unread_and_answers_304_when_nothing_is_new(world, client_for):
    client = client_for("student")
    _notify(world.users["student"], 3)
    _notify(world.users["other_student"], 5)
    url = reverse("cases:notification_bell")
    first = client.get(url, headers={"HX-Request": "true"})
    assert 'aria-label="Notifications: 3 unread"' in first.content.decode()
    assert f'data-etag="{first["ETag"].replace(chr(34), "&quot;")}"' in first.content.decode()
    with CaptureQueriesContext(connection) as queries:
        again = client.get(url, headers={"HX-Request": "true", "If-None-Match": first["ETag"]})
    assert again.status_code == 304 and data_queries(queries) <= 2  # The user, the count.
    _notify(world.users["student"])
    changed = client.get(url, headers={"HX-Request": "true", "If-None-Match": first["ETag"]})
    assert changed.status_code == 200 and "4 unread" in changed.content.decode()


def test_opening_a_notification_marks_it_read_and_goes_to_the_thing(world, client_for):
    (mine,) = _notify(world.users["student"], url=world.quiz.item.get_absolute_url())
    client = client_for("student")
    response = client.get(reverse("cases:notification_open", args=[mine.pk]))
    assert response["Location"] == world.quiz.item.get_absolute_url()
    mine.refresh_from_db()
    assert mine.read_at is not None
    (elsewhere,) = _notify(world.users["student"], url="https://evil.example/steal")
    response = client.get(reverse("cases:notification_open", args=[elsewhere.pk]))
    assert response["Location"] == "/"  # Never away from the site.
    (theirs,) = _notify(world.users["other_student"])
    assert client.get(reverse("cases:notification_open", args=[theirs.pk])).status_code == 404


def test_the_list_and_marking_all_read(world, client_for):
    _notify(world.users["student"], 2)
    client = client_for("student")
    page = client.get(reverse("cases:notification_list")).content.decode()
    assert "2 unread" in page and "A reply to your post 1" in page
    response = client.post(reverse("cases:notification_read"), follow=True)
    assert "Marked 2 notifications read." in response.content.decode()
    assert not Notification.objects.filter(user=world.users["student"], read_at=None).exists()


def test_the_list_costs_the_same_for_few_and_many(world, client_for):
    client = client_for("student")
    counts = []
    for n in (3, 40):
        _notify(world.users["student"], n)
        with CaptureQueriesContext(connection) as queries:
            assert client.get(reverse("cases:notification_list")).status_code == 200
        counts.append(data_queries(queries))
    assert counts[0] == counts[1] <= PAGE_BUDGET, counts


def test_preferences_choose_what_is_emailed_and_the_digest(world, client_for):
    client = client_for("student")
    page = client.get(reverse("cases:notification_preferences")).content.decode()
    assert "A reply to your post" in page and "one email a day" in page
    data = {"email_published": "on", "email_due_soon": "on", "daily_digest": "on"}
    response = client.post(reverse("cases:notification_preferences"), data, follow=True)
    assert "Saved your email preferences." in response.content.decode()
    student = world.users["student"]
    off = set(
        NotificationPreference.objects.filter(user=student, email=False).values_list(
            "kind", flat=True
        )
    )
    ticked = {"published", "due_soon"}
    assert off == {kind for kind in NotificationKind.values if kind not in ticked}
    assert {"grade_released", "reply", "handed_in", "peer_review"} <= off
    assert EmailSettings.objects.get(user=student).daily_digest
    page = client.get(reverse("cases:notification_preferences")).content.decode()
    assert 'name="email_reply" id="id_email_reply">' in page  # Off, shown unticked.
    assert 'name="email_published" id="id_email_published" checked>' in page


def test_a_courses_notification_says_when_in_the_courses_zone_as_its_text_does(world, client_for):
    """A reminder of the Shanghai course, sent at 09:00 UTC, says 17:00 on the list, as
    its own text ("Due ... (Asia/Shanghai)") and the course's pages do; a notification of
    no course keeps the server's time. Moving the course to New York moves its times."""
    from datetime import UTC, datetime, timedelta

    from cases.services.notifications import due_reminders_send, notify

    world.course.time_zone = "Asia/Shanghai"
    world.course.save()
    student = world.users["student"]
    due = datetime(2026, 12, 10, 9, 0, tzinfo=UTC)
    world.item.assignments.update(due_at=due)
    due_reminders_send(now=due - timedelta(hours=2))
    notify([student], kind="published", title="Site news", url="/")
    Notification.objects.filter(user=student).update(created_at=due - timedelta(days=1))
    reminder = Notification.objects.get(user=student, title="Due soon: Shanghai Bell")
    assert reminder.body == "Due Thu 10 Dec 2026, 17:00 (Asia/Shanghai)."

    client = client_for("student")
    for _ in range(2):
        page = client.get(reverse("cases:notification_list")).content.decode()
        shanghai = page.split("Due soon: Shanghai Bell")[1].split("</li>")[0]
        assert ">Wed 9 Dec, 17:00</time>" in shanghai
        news = page.split("Site news")[1].split("</li>")[0]
        assert ">Wed 9 Dec, 09:00</time>" in news
        # A course page in between activates its zone; the list keeps each its own.
        client.get(world.course.get_absolute_url())
    world.course.time_zone = "America/New_York"
    world.course.save()
    page = client.get(reverse("cases:notification_list")).content.decode()
    assert ">Wed 9 Dec, 04:00</time>" in page.split("Due soon: Shanghai Bell")[1]
    assert ">Wed 9 Dec, 09:00</time>" in page.split("Site news")[1]


def test_opening_a_notice_from_its_email_marks_it_read_as_the_bell_does(
    world, client_for, django_capture_on_commit_callbacks
):
    """A student is emailed about a new quiz (and, on the daily digest, about a reply);
    signed out, they follow each email's link, sign in and land on the thing: the bell
    no longer counts what they just read, as opening it from the list would not."""
    from datetime import timedelta

    from django.core import mail
    from django.utils import timezone

    from cases.models import ItemKind
    from cases.services.builder import item_create
    from cases.services.notifications import digests_send, notify
    from tests.factories import PASSWORD

    student = world.users["student"]
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        item = item_create(
            module=world.item.module,
            kind=ItemKind.QUIZ,
            title="Pop quiz on SMIC",
            cohorts=[world.course.cohorts.get()],
            due_at=timezone.now() + timedelta(days=3),
        )
    EmailSettings.objects.create(user=student, daily_digest=True)
    reply_url = world.discussion.item.get_absolute_url()
    notify([student], kind="reply", title="A reply to your post", url=reply_url)
    digests_send()
    emails = [m for m in mail.outbox if m.to == [student.email]]
    assert len(emails) == 2
    client = client_for("anonymous")
    bell = reverse("cases:notification_bell")
    for email, target in zip(emails, [item, world.discussion.item], strict=True):
        link = next(
            line.split("http://127.0.0.1:8000", 1)[1]
            for line in email.body.splitlines()
            if "http://127.0.0.1:8000" in line
            and "unsubscribe" not in line
            and "preferences" not in line
        )
        signing_in = client.get(link)
        assert signing_in.status_code == 302 and signing_in["Location"].startswith("/login/")
        landed = client.post(
            signing_in["Location"],
            {"username": "student", "password": PASSWORD, "next": link},
            follow=True,
        )
        assert landed.redirect_chain[-1][0] == target.get_absolute_url()
        assert landed.status_code == 200
        client.post(reverse("logout"))
    client.force_login(student)
    assert 'aria-hidden="true">' not in client.get(bell).content.decode()  # No count.
    assert "0 unread ·" in client.get(reverse("cases:notification_list")).content.decode()


def test_a_student_removed_from_the_section_hears_nothing_of_a_thread_they_cannot_open(
    world, client, django_capture_on_commit_callbacks
):
    """The student posted in the section's thread; an admin removes them from the
    section. A classmate's reply to that post and the instructor's endorsement of it
    give them no notice and no email: its link would be a 404 to them. Back in the
    section, a reply reaches them again."""
    from django.core import mail
    from django.test import Client

    from cases.models import Membership, Post

    student = world.users["student"]
    section = world.course.cohorts.get()
    admin = Client()
    admin.force_login(world.users["admin"])
    members = reverse("cases:cohort_members", args=[section.pk])
    admin.post(members, {"action": "remove", "students": [student.pk]})
    mail.outbox.clear()
    classmate = Client()
    classmate.force_login(world.users["student_ta_elsewhere"])
    thread = reverse("cases:post_create", args=[world.discussion.item.pk])
    instructor = Client()
    instructor.force_login(world.users["instructor"])
    with django_capture_on_commit_callbacks(execute=True):
        classmate.post(thread, {"body": "Is headcount an input?", "parent": world.post.pk})
        moderate = reverse("cases:post_moderate", args=[world.post.pk])
        assert instructor.post(moderate, {"action": "endorse"}).status_code in (200, 302)
    assert Post.objects.filter(parent=world.post).count() == 1
    assert Post.objects.get(pk=world.post.pk).endorsed
    client.force_login(student)
    page = client.get(reverse("cases:notification_list")).content.decode()
    assert "0 unread" in page and "A reply to your post" not in page
    assert "was endorsed" not in page
    assert not [m for m in mail.outbox if m.to == [student.email]]
    assert client.get(world.discussion.item.get_absolute_url()).status_code == 404

    Membership.objects.create(cohort=section, user=student)
    with django_capture_on_commit_callbacks(execute=True):
        classmate.post(thread, {"body": "Or an output?", "parent": world.post.pk})
    page = client.get(reverse("cases:notification_list")).content.decode()
    assert "1 unread" in page and "A reply to your post" in page


def test_turning_the_digest_off_sends_what_it_held_instead_of_dropping_it(
    world, client_for, django_capture_on_commit_callbacks
):
    """The student takes the daily digest; a classmate's reply waits for it. Before it
    goes, the student switches to one email each time: the reply comes at once, in a
    last digest, rather than never; the next reply is emailed by itself, and no digest
    follows the day after."""
    from datetime import timedelta

    from django.core import mail
    from django.test import Client
    from django.utils import timezone

    from cases.services.notifications import digests_send

    student = world.users["student"]
    client = client_for("student")
    preferences = reverse("cases:notification_preferences")
    every_kind = {f"email_{kind}": "on" for kind in NotificationKind.values}
    client.post(preferences, every_kind | {"daily_digest": "on"})
    classmate = Client()
    classmate.force_login(world.users["student_ta_elsewhere"])
    thread = reverse("cases:post_create", args=[world.discussion.item.pk])
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        classmate.post(thread, {"body": "Is headcount an input?", "parent": world.post.pk})
    assert not mail.outbox  # Waiting for the digest.

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(preferences, every_kind, follow=True)
    assert "Saved your email preferences." in response.content.decode()
    [held] = mail.outbox
    assert held.to == [student.email]
    assert "A reply to your post in" in held.body
    with django_capture_on_commit_callbacks(execute=True):
        classmate.post(thread, {"body": "Or an output?", "parent": world.post.pk})
    assert len(mail.outbox) == 2 and "A reply to your post in" in mail.outbox[1].subject
    assert digests_send(now=timezone.now() + timedelta(days=1)) == 0
    assert len(mail.outbox) == 2
    assert not Notification.objects.filter(user=student, emailed_at=None).exists()


def test_a_notice_whose_item_was_deleted_or_taken_away_says_so_instead_of_a_404(
    world, client_for, django_capture_on_commit_callbacks
):
    """The student is told of a new quiz and of a reply to their post. The instructor
    deletes the quiz; an admin then removes the student from the section. Opening each
    notice marks it read and comes back to the list saying what it was about is no
    longer there for them, not a bare "page not found"."""
    from datetime import timedelta

    from django.test import Client
    from django.utils import timezone

    from cases.models import ItemKind
    from cases.services.builder import item_create
    from cases.services.discussions import post_create

    student = world.users["student"]
    section = world.course.cohorts.get()
    with django_capture_on_commit_callbacks(execute=True):
        item = item_create(
            module=world.item.module,
            kind=ItemKind.QUIZ,
            title="Pop quiz on SMIC",
            cohorts=[section],
            due_at=timezone.now() + timedelta(days=3),
        )
        post_create(
            discussion=world.discussion,
            author=world.users["student_ta_elsewhere"],
            body="Is headcount an input?",
            parent=world.post,
        )
    quiz = Notification.objects.get(user=student, kind="published")
    reply = Notification.objects.get(user=student, kind="reply")
    staff = Client()
    staff.force_login(world.users["instructor"])
    staff.post(reverse("cases:item_delete", args=[item.pk]))
    staff.force_login(world.users["admin"])
    members = reverse("cases:cohort_members", args=[section.pk])
    staff.post(members, {"action": "remove", "students": [student.pk]})

    client = client_for("student")
    for notice in (quiz, reply):
        response = client.get(reverse("cases:notification_open", args=[notice.pk]), follow=True)
        assert response.status_code == 200
        assert response.redirect_chain[-1][0] == reverse("cases:notification_list")
        page = response.content.decode()
        assert f"“{notice.title}” leads to something no longer there for you" in page
        notice.refresh_from_db()
        assert notice.read_at is not None
    assert "0 unread" in page


def test_mark_all_read_leaves_unread_what_arrived_after_the_list_was_shown(
    world, client_for, django_capture_on_commit_callbacks
):
    """The student has two unread notices and opens the list. While it is open, a
    classmate replies to their post. "Mark all read" marks the two they saw; the reply
    they never saw stays new, and the bell still counts it."""
    import re

    from cases.services.discussions import post_create

    student = world.users["student"]
    _notify(student, 2)
    client = client_for("student")
    page = client.get(reverse("cases:notification_list")).content.decode()
    assert "2 unread" in page
    form = page.split(f'action="{reverse("cases:notification_read")}"')[1].split("</form>")[0]
    data = dict(re.findall(r'name="(\w+)" value="([^"]*)"', form))
    post_create(
        discussion=world.discussion,
        author=world.users["student_ta_elsewhere"],
        body="Is headcount an input?",
        parent=world.post,
    )
    response = client.post(reverse("cases:notification_read"), data, follow=True)
    page = response.content.decode()
    assert "Marked 2 notifications read." in page
    assert "1 unread" in page
    reply = Notification.objects.get(user=student, title__startswith="A reply to your post in")
    assert reply.read_at is None
    bell = client.get(reverse("cases:notification_bell")).content.decode()
    assert 'aria-label="Notifications: 1 unread"' in bell


def test_moving_a_due_date_tells_the_students_already_told_the_old_one(
    world, client_for, django_capture_on_commit_callbacks
):
    """A quiz is given to the section, due in three days: each student is told that
    date. The instructor moves it a day earlier on the schedule page: the student is
    told the new date (in the app and by email), not left with a notice naming the old
    one; a classmate whose extension stands is told nothing, their date unmoved. Saving
    the page again tells nobody twice."""
    from datetime import timedelta

    from django.core import mail
    from django.utils import timezone

    from cases.models import ItemKind
    from cases.services.builder import item_create
    from cases.services.notifications import _when
    from cases.services.schedule import extensions_grant

    student, extended = world.users["student"], world.users["student_ta_elsewhere"]
    section = world.course.cohorts.get()
    old = (timezone.now() + timedelta(days=3)).replace(second=0, microsecond=0)
    with django_capture_on_commit_callbacks(execute=True):
        item = item_create(
            module=world.item.module,
            kind=ItemKind.QUIZ,
            title="Pop quiz on SMIC",
            cohorts=[section],
            due_at=old,
        )
        extensions_grant(
            item=item,
            users=[extended],
            due_at=old + timedelta(days=7),
            by=world.users["instructor"],
        )
    new = old - timedelta(days=1)
    row = {
        "assigned": "on",
        "opens_at": "",
        "due_at": new.strftime("%Y-%m-%dT%H:%M"),
        "points": "10",
        "late_policy": "accept",
        "late_penalty_percent": "0",
        "late_until": "",
    }
    data = {"action": "save"} | {f"cohort-{section.pk}-{k}": v for k, v in row.items()}
    instructor = client_for("instructor")
    mail.outbox.clear()
    for _twice in range(2):
        with django_capture_on_commit_callbacks(execute=True):
            saved = instructor.post(reverse("cases:item_schedule", args=[item.pk]), data)
        assert saved.status_code == 302
    assert item.assignments.get().due_at == new

    course = world.course
    [moved] = Notification.objects.filter(user=student, title__startswith="New date")
    assert moved.title == "New date: Pop quiz on SMIC"
    assert moved.body == f"Now due {_when(new, course)} (was {_when(old, course)})."
    # The classmate was told of their extension, not of the section's move.
    theirs = Notification.objects.filter(user=extended, title__startswith="New date")
    assert [n.body.split(" (was")[0] for n in theirs] == [
        f"Now due {_when(old + timedelta(days=7), course)}, extended for you"
    ]
    assert [m.to for m in mail.outbox] == [[student.email]]
    page = client_for("student").get(reverse("cases:notification_list")).content.decode()
    assert "New date: Pop quiz on SMIC" in page


def test_an_extension_given_or_taken_back_tells_the_student_their_new_date(
    world, client_for, django_capture_on_commit_callbacks
):
    """The student was told the quiz is due in three days. The instructor gives them a
    week more on the schedule page: they are told their new date. Then the instructor
    takes the extension back: they are told the earlier date is theirs again, not left
    planning on the week they no longer have. A classmate hears nothing."""
    from datetime import timedelta

    from django.core import mail
    from django.utils import timezone

    from cases.models import Extension, ItemKind
    from cases.services.builder import item_create
    from cases.services.notifications import _when

    student = world.users["student"]
    section = world.course.cohorts.get()
    due = (timezone.now() + timedelta(days=3)).replace(second=0, microsecond=0)
    with django_capture_on_commit_callbacks(execute=True):
        item = item_create(
            module=world.item.module,
            kind=ItemKind.QUIZ,
            title="Pop quiz on SMIC",
            cohorts=[section],
            due_at=due,
        )
    later = due + timedelta(days=7)
    instructor = client_for("instructor")
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        granted = instructor.post(
            reverse("cases:extension_grant", args=[item.pk]),
            {"students": [student.pk], "due_at": later.strftime("%Y-%m-%dT%H:%M"), "reason": "Ill"},
        )
    assert granted.status_code == 302
    extension = Extension.objects.get(user=student)
    with django_capture_on_commit_callbacks(execute=True):
        instructor.post(reverse("cases:extension_delete", args=[item.pk, extension.pk]))
    assert not Extension.objects.exists()

    course = world.course
    moved = Notification.objects.filter(user=student, title="New date: Pop quiz on SMIC")
    assert list(moved.order_by("pk").values_list("body", flat=True)) == [
        f"Now due {_when(later, course)}, extended for you (was {_when(due, course)}).",
        f"Now due {_when(due, course)}: your extension was taken back "
        f"(was {_when(later, course)}).",
    ]
    assert [m.to for m in mail.outbox] == [[student.email]] * 2
    assert not Notification.objects.filter(title__startswith="New date").exclude(user=student)


def test_an_unsubscribe_link_used_again_or_by_someone_else_says_where_things_stand(world, client):
    """The student stops grade emails from a link, and is shown where to turn them on
    again. Opening the same link later says they are already stopped, with no button to
    press again. A classmate signed in who opens the student's forwarded link is told it
    is for another account's emails, not theirs."""
    from cases.services.notifications import unsubscribe_url

    student = world.users["student"]
    url = unsubscribe_url(student.pk, NotificationKind.GRADE_RELEASED)
    preferences = reverse("cases:notification_preferences")
    done = client.post(url).content.decode()
    assert "Done" in done and f'href="{preferences}"' in done
    again = client.get(url).content.decode()
    assert "already gets no emails about “A grade released”" in again
    assert "<button" not in again.split("<main")[1]
    assert f'href="{preferences}"' in again

    client.force_login(world.users["other_student"])
    theirs = unsubscribe_url(student.pk, NotificationKind.REPLY)
    page = client.get(theirs).content.decode()
    assert "another account than the one you are signed in as" in page
    client.force_login(student)
    page = client.get(theirs).content.decode()
    assert "another account" not in page and "Stop these emails" in page


def test_an_extension_taken_back_by_mistake_and_given_again_is_told_again(
    world, client_for, django_capture_on_commit_callbacks
):
    """The instructor gives the student a week more, takes it back by mistake, then
    gives the same week again: the student, told it was taken back, is told it is
    theirs again. Giving the same date twice more tells nothing new."""
    from datetime import timedelta

    from django.utils import timezone

    from cases.models import Extension, ItemKind
    from cases.services.builder import item_create

    student = world.users["student"]
    due = (timezone.now() + timedelta(days=3)).replace(second=0, microsecond=0)
    with django_capture_on_commit_callbacks(execute=True):
        item = item_create(
            module=world.item.module,
            kind=ItemKind.QUIZ,
            title="Pop quiz on SMIC",
            cohorts=[world.course.cohorts.get()],
            due_at=due,
        )
    instructor = client_for("instructor")
    grant = reverse("cases:extension_grant", args=[item.pk])
    data = {
        "students": [student.pk],
        "due_at": (due + timedelta(days=7)).strftime("%Y-%m-%dT%H:%M"),
        "reason": "Ill",
    }
    instructor.post(grant, data)
    extension = Extension.objects.get(user=student)
    instructor.post(reverse("cases:extension_delete", args=[item.pk, extension.pk]))
    for _again in range(3):
        instructor.post(grant, data)
    moved = Notification.objects.filter(user=student, title__startswith="New date").order_by("pk")
    assert [("extended for you" in n.body) for n in moved] == [True, False, True]


def test_the_first_digest_lists_only_what_came_since_the_digest_was_turned_on(
    world, client_for, django_capture_on_commit_callbacks
):
    """Months ago the student turned off emails about replies; replies piled up,
    unread. Today they turn those emails back on, as a daily digest. The first digest
    lists what came since, not the months-old replies; turning the digest off and on
    again resends nothing old; saving the page again with the digest on loses nothing
    that was waiting for it."""
    from datetime import timedelta

    from django.core import mail
    from django.utils import timezone

    from cases.services.notifications import digests_send, notify

    student = world.users["student"]
    client = client_for("student")
    preferences = reverse("cases:notification_preferences")
    every_kind = {f"email_{kind}": "on" for kind in NotificationKind.values}
    no_replies = {k: v for k, v in every_kind.items() if k != "email_reply"}
    with django_capture_on_commit_callbacks(execute=True):
        client.post(preferences, no_replies)
        notify([student], kind="reply", title="MONTHS-OLD-REPLY", url="/library/")
        notify([student], kind="reply", title="WEEKS-OLD-REPLY", url="/library/")
    old = timezone.now() - timedelta(days=90)
    Notification.objects.filter(title="MONTHS-OLD-REPLY").update(created_at=old)
    Notification.objects.filter(title="WEEKS-OLD-REPLY").update(created_at=old + timedelta(days=70))
    assert not mail.outbox  # Emails about replies were off.

    with django_capture_on_commit_callbacks(execute=True):
        client.post(preferences, every_kind | {"daily_digest": "on"})
        notify([student], kind="reply", title="TODAYS-REPLY", url="/library/")
    assert not mail.outbox  # Waiting for the digest.
    assert digests_send() == 1
    [digest] = mail.outbox
    assert "TODAYS-REPLY" in digest.body and digest.subject == "Red Queen: 1 new notification"
    assert "MONTHS-OLD-REPLY" not in digest.body and "WEEKS-OLD-REPLY" not in digest.body

    # Off and on again: nothing old comes back, now or in the next digest.
    with django_capture_on_commit_callbacks(execute=True):
        client.post(preferences, every_kind)
        client.post(preferences, every_kind | {"daily_digest": "on"})
        notify([student], kind="reply", title="NEWER-REPLY", url="/library/")
        client.post(preferences, every_kind | {"daily_digest": "on"})  # Saved again.
    assert len(mail.outbox) == 1
    assert digests_send(now=timezone.now() + timedelta(days=1)) == 1
    second = mail.outbox[1].body
    assert "NEWER-REPLY" in second
    for old_title in ["MONTHS-OLD-REPLY", "WEEKS-OLD-REPLY", "TODAYS-REPLY"]:
        assert old_title not in second
    # The old ones are still in the app, unread.
    assert Notification.objects.filter(user=student, read_at=None).count() == 4


def test_a_student_who_joined_after_the_notice_is_told_when_the_date_moves(
    world, client_for, django_capture_on_commit_callbacks
):
    """A quiz is given to the section, due in three days, and its students are told.
    A student joins the section the next morning (by its join code): the quiz is on
    their dashboard, due that date. The instructor then moves it a day earlier: the late
    joiner is told the quiz and its new date, once (as the quiz is new to them: no
    notice ever named the old date to them), their classmates that the date moved.
    Saving the page again tells nobody twice."""
    from datetime import timedelta

    from django.utils import timezone

    from cases.models import ItemKind, Membership
    from cases.services.builder import item_create
    from cases.services.notifications import _when
    from tests.factories import UserFactory

    student = world.users["student"]
    section = world.course.cohorts.get()
    old = (timezone.now() + timedelta(days=3)).replace(second=0, microsecond=0)
    with django_capture_on_commit_callbacks(execute=True):
        item = item_create(
            module=world.item.module,
            kind=ItemKind.QUIZ,
            title="Pop quiz on SMIC",
            cohorts=[section],
            due_at=old,
        )
    late = UserFactory(username="latecomer")
    Membership.objects.create(cohort=section, user=late)
    new = old - timedelta(days=1)
    row = {
        "assigned": "on",
        "opens_at": "",
        "due_at": new.strftime("%Y-%m-%dT%H:%M"),
        "points": "10",
        "late_policy": "accept",
        "late_penalty_percent": "0",
        "late_until": "",
    }
    data = {"action": "save"} | {f"cohort-{section.pk}-{k}": v for k, v in row.items()}
    instructor = client_for("instructor")
    for _twice in range(2):
        with django_capture_on_commit_callbacks(execute=True):
            saved = instructor.post(reverse("cases:item_schedule", args=[item.pk]), data)
        assert saved.status_code == 302

    course = world.course
    told = Notification.objects.filter(title__endswith="Pop quiz on SMIC").order_by("pk")
    assert [n.title for n in told.filter(user=student)] == [
        "New: Pop quiz on SMIC",
        "New date: Pop quiz on SMIC",
    ]
    [theirs] = told.filter(user=late)
    assert theirs.title == "New: Pop quiz on SMIC"
    assert _when(new, course) in theirs.body
    assert _when(old, course) not in theirs.body
