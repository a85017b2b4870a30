"""Notifications: in-app notices of what happened, and their emails.

The services where things happen (an item given to a cohort, grades released, a reply, an
endorsement) call one of the `*_notify` functions inside their own transaction, so a
change that is rolled back notifies nobody. `notify` writes the in-app rows in one
`INSERT ... ON CONFLICT DO NOTHING RETURNING id`: an event with a key reaches each user
once, however many times and from however many hosts it is reported, and only the rows
really inserted are emailed. The email goes out through Django's tasks framework after
the transaction commits, one task per batch: in production the database backend stores
it and `manage.py db_worker` sends it, never the request.

Who is emailed: users with an address whose preference for the kind is on (no
NotificationPreference row: on) and who do not take the daily digest; `digests_send`
emails the others once a day, and `digest_last` at once what a digest turned off held.
Every email carries a link that turns off that kind of email for its recipient (a
signed token, no sign-in needed).
"""

import copy
from collections import Counter, defaultdict
from collections.abc import Iterable
from datetime import datetime, timedelta
from functools import partial
from urllib.parse import urlsplit

from django.conf import settings
from django.core import signing
from django.core.mail import EmailMultiAlternatives, mailers
from django.db import transaction
from django.db.models import CharField, Exists, OuterRef, Q, QuerySet, Subquery, Value
from django.db.models.functions import Cast, Concat
from django.http import Http404
from django.tasks import task
from django.template.loader import render_to_string
from django.urls import Resolver404, get_script_prefix, resolve, reverse
from django.utils import timezone
from django.utils.formats import date_format

from cases import sql
from cases.models import (
    Assignment,
    Course,
    EmailSettings,
    Extension,
    FeedbackRelease,
    Follow,
    HeldRelease,
    ItemKind,
    Membership,
    MemoVersion,
    Notification,
    NotificationKind,
    NotificationPreference,
    PeerReview,
    Post,
    User,
    Work,
    WorkStatus,
    given_to,
    grade_released,
    refusal,
    with_extension,
    work_status,
)
from cases.models.workspace import STATUS_FIELDS, UNFINISHED
from cases.permissions import access_course, access_item, item_access, items_with_access
from cases.timezones import zone_of

# Rows a single INSERT carries (8 parameters each, well under SQLite's limit).
INSERT_BATCH = 500
# A reminder goes out when the (extended) due date is this close.
REMINDER_AHEAD = timedelta(hours=24)
# An assignment that opens later is announced by send_due_reminders once it has opened;
# one opened longer ago than this (cron stopped for days) is no longer news.
OPENED_CATCH_UP = timedelta(days=2)
# A grade released before the student could read it (a quiz that shows scores after the
# due date) is told by send_due_reminders once their due date has passed, within this.
READABLE_CATCH_UP = timedelta(days=2)
# A digest goes out when the last one is at least this old, so a daily cron that drifts
# still sends one a day and a rerun the same day sends nothing.
DIGEST_EVERY = timedelta(hours=20)
# A digest reaches back this far before its start (the previous digest, or turning the
# digest on), for a notice written in a transaction that was still open then, or whose
# email task was still queued when the digest was turned on. Whatever an earlier digest
# or email sent is marked `emailed_at` and never sent twice.
DIGEST_OVERLAP = timedelta(hours=1)
UNSUBSCRIBE_SALT = "cases.notifications.unsubscribe"


# Writing notifications -----------------------------------------------------------------


def notify(
    users: Iterable[User | int],
    *,
    kind: str,
    title: str,
    url: str,
    course: Course | None = None,
    key: str = "",
    body: str = "",
) -> list[int]:
    """Give each user an in-app notification and, once the current transaction commits,
    email those who want it (one task for the batch). With a key, a user gets the event
    once: a repeat, or a concurrent run, inserts nothing and emails nobody. Returns the
    ids of the notifications inserted."""
    user_ids = sorted({getattr(user, "pk", user) for user in users})
    if not user_ids:
        return []
    values = {
        "kind": kind,
        "title": title[:300],
        "body": body,
        "url": url[:500],
        "course": course.pk if course else None,
        "key": key[:200],
    }
    now = timezone.now()
    ids: list[int] = []
    for start in range(0, len(user_ids), INSERT_BATCH):
        batch = user_ids[start : start + INSERT_BATCH]
        ids += sql.notifications_insert(user_ids=batch, values=values, now=now)
    if ids:
        transaction.on_commit(partial(notifications_email.enqueue, ids))
    return ids


# Events --------------------------------------------------------------------------------


def _when(moment: datetime, course: Course) -> str:
    """A moment in the course's zone, named: the text is read on no course's page (the
    notifications, an email), so it says whose time it is."""
    zone = zone_of(course)
    return f"{date_format(timezone.localtime(moment, zone), 'D j M Y, H:i')} ({zone})"


def _students(cohort_id: int) -> QuerySet:
    return Membership.objects.filter(cohort=cohort_id, user__is_active=True).values_list(
        "user_id", flat=True
    )


def _students_dates(assignment: Assignment):
    """Each active student of the assignment's cohort, with the assignment as they see
    it (their extension applied, `extended` then true): one query for the extensions."""
    extensions = {e.user_id: e for e in Extension.objects.filter(assignment=assignment)}
    for user_id in _students(assignment.cohort_id):
        yield user_id, with_extension(copy.copy(assignment), extensions.get(user_id))


def published_notify(assignments: Iterable[Assignment], *, now=None) -> int:
    """Tell the students of each assignment's cohort that the item is theirs, once per
    assignment, each with their own due date: a student given an extension before the
    item opened is told theirs, as its page says. Work that no longer takes theirs
    (`refusal`: past due with late work refused, or past its cut-off) is no news to
    them; work past due that still takes late work is, since it counts as missing
    until they hand it in. Dates moved so that it takes their work again make it news
    then, once. An assignment that opens later is skipped here; `opened_notify` (run
    by send_due_reminders) announces it once it opens."""
    now = now or timezone.now()
    sent = 0
    for assignment in assignments:
        if not assignment.is_open(now):
            continue
        item = assignment.item
        course = item.module.course
        by_due = defaultdict(list)
        for user_id, theirs in _students_dates(assignment):
            if refusal(theirs, now) is None:
                by_due[theirs.due_at, theirs.extended].append(user_id)
        for (due, theirs), user_ids in by_due.items():
            said = f"Due {_when(due, course)}{' (extended for you)' if theirs else ''}."
            sent += len(
                notify(
                    user_ids,
                    kind=NotificationKind.PUBLISHED,
                    title=f"New: {item.title}",
                    body=said if due else "",
                    url=item.get_absolute_url(),
                    course=course,
                    key=f"published:{assignment.pk}",
                )
            )
    return sent


def _told(assignment: Assignment, user_ids) -> set[int]:
    """Which of these students were told of the assignment (its "New" notice, which
    names their due date). One query, by the (user, key) index."""
    return set(
        Notification.objects.filter(
            user__in=user_ids, key=f"published:{assignment.pk}"
        ).values_list("user_id", flat=True)
    )


def _date_moved_tell(assignment: Assignment, user_ids, old, new, how: str = "") -> int:
    """Tell these students their due date for the assignment moved from `old` to `new`
    (`how`: why, said after the date). Each move is told once: the key counts the moves
    a student was told before, so a date moved back and forth is told each time, and
    the same move reported twice at once inserts one row."""
    item = assignment.item
    course = item.module.course
    said = f"Now due {_when(new, course)}{how}" if new else f"It no longer has a due date{how}"
    prefix = f"due_moved:{assignment.pk}:"
    earlier = Counter(
        Notification.objects.filter(user__in=list(user_ids), key__startswith=prefix).values_list(
            "user_id", flat=True
        )
    )
    by_count: dict[int, list[int]] = defaultdict(list)
    for user_id in user_ids:
        by_count[earlier[user_id]].append(user_id)
    return sum(
        len(
            notify(
                told,
                kind=NotificationKind.PUBLISHED,
                title=f"New date: {item.title}",
                body=f"{said} (was {_when(old, course)})." if old else f"{said}.",
                url=item.get_absolute_url(),
                course=course,
                key=f"{prefix}{count + 1}",
            )
        )
        for count, told in by_count.items()
    )


def due_moved_notify(
    assignments: Iterable[Assignment], was_due: dict, removed: Iterable[Extension] = ()
) -> int:
    """Tell the students already told of an assignment (its "New" notice names a due
    date) that their date moved: `was_due` maps each cohort (by id) to its due date
    before the change, `removed` the extensions the change overtook (their students'
    date was theirs). Not a student whose extension stands: their date did not move.
    Call it before `published_notify`, so whoever that tells now is not told twice.
    Saving the page again with the same dates tells nobody."""
    extended_was = {(e.assignment_id, e.user_id): e.due_at for e in removed}
    sent = 0
    for assignment in assignments:
        if assignment.cohort_id not in was_due:
            continue  # Given now: `published_notify` tells its date.
        told = _told(assignment, _students(assignment.cohort_id))
        new, by_old = assignment.due_at, defaultdict(list)
        for user_id, theirs in _students_dates(assignment):
            old = extended_was.get((assignment.pk, user_id), was_due[assignment.cohort_id])
            if user_id in told and not theirs.extended and old != new:
                by_old[old].append(user_id)
        for old, user_ids in by_old.items():
            sent += _date_moved_tell(assignment, user_ids, old, new)
    return sent


def extension_moved_notify(assignments: Iterable[Assignment], moves: dict) -> int:
    """Tell each student already told of an assignment that an extension moved their
    due date: `moves` maps (assignment id, user id) to their (old, new) date, new later
    for an extension given or changed, the cohort's again for one taken back. Giving
    the same date again tells nobody."""
    sent = 0
    for assignment in assignments:
        theirs = {
            user_id: dates
            for (assignment_id, user_id), dates in moves.items()
            if assignment_id == assignment.pk and dates[0] != dates[1]
        }
        if not theirs:
            continue
        told = _told(assignment, list(theirs))
        alike: dict[tuple, list[int]] = defaultdict(list)
        for user_id, dates in theirs.items():
            if user_id in told:
                alike[dates].append(user_id)
        for (old, new), user_ids in alike.items():
            later = new is None or (old is not None and new > old)
            how = ", extended for you" if later else ": your extension was taken back"
            sent += _date_moved_tell(assignment, user_ids, old, new, how)
    return sent


def section_moved_notify(user_ids, *, was, to, before: dict, after: dict) -> int:
    """Tell each student moved from the cohort `was` to `to`, in one notice, of every
    item whose due date is not what it was for them: `before` and `after` map each
    student to their due date on each item given to them, as they see it
    (`students_due_dates`), before and after the move. An item newly given to them is
    listed as new, one no longer given as gone. A student whose dates are all the same
    is told nothing. Deactivated accounts are told nothing."""
    active = set(
        User.objects.filter(pk__in=list(user_ids), is_active=True).values_list("pk", flat=True)
    )
    gone = object()
    alike: dict[tuple, list[int]] = defaultdict(list)
    for user_id in sorted(active):
        old, new = before.get(user_id, {}), after.get(user_id, {})
        changed = [
            (item, old.get(item, gone), new.get(item, gone))
            for item in sorted(
                old.keys() | new.keys(),
                key=lambda i: (i.module.course_id, i.module.position, i.position, i.pk),
            )
            if old.get(item, gone) != new.get(item, gone)
        ]
        if changed:
            alike[tuple(changed)].append(user_id)
    sent = 0
    for changed, students in alike.items():
        lines = []
        for item, was_due, due in changed:
            course = item.module.course
            if due is gone:
                lines.append(f"{item.title}: no longer given to you")
            elif was_due is gone:
                when = f"due {_when(due, course)}, new to you" if due else "new to you"
                lines.append(f"{item.title}: {when}")
            elif due is None:
                lines.append(
                    f"{item.title}: no longer has a due date (was {_when(was_due, course)})"
                )
            elif was_due is None:
                lines.append(f"{item.title}: now due {_when(due, course)} (had none)")
            else:
                lines.append(
                    f"{item.title}: now due {_when(due, course)} (was {_when(was_due, course)})"
                )
        courses = {item.module.course for item, _was, _due in changed}
        course = courses.pop() if len(courses) == 1 else None
        url = (
            reverse("cases:course_deadlines", args=[course.pk]) if course else reverse("cases:home")
        )
        sent += len(
            notify(
                students,
                kind=NotificationKind.PUBLISHED,
                title=f"Moved to {to.name}: your due dates changed",
                body=f"You were moved from {was.name} to {to.name}. " + "; ".join(lines) + ".",
                url=url,
                course=course,
            )
        )
    return sent


def opened_notify(*, now=None) -> int:
    """Announce the assignments that opened lately, for those given to a cohort before
    they opened, to each student whose work they still take (`published_notify`
    decides, by the student's own dates). Safe to repeat: the key decides."""
    now = now or timezone.now()
    opened = Assignment.objects.filter(
        opens_at__gt=now - OPENED_CATCH_UP, opens_at__lte=now
    ).select_related("item__module__course")
    return published_notify(opened, now=now)


def due_reminders_send(*, now=None) -> int:
    """Remind each student whose work on an open assignment falls due within 24 hours
    (their extension's date when they have one) and is neither submitted nor excused.
    Once per assignment and due date: a key with the date means a student reminded and
    then given an extension is reminded again before the new date, and never twice for
    one date, however many runs overlap. Returns the reminders written."""
    now = now or timezone.now()
    soon = now + REMINDER_AHEAD
    extended = Extension.objects.filter(assignment=OuterRef("pk"), due_at__gt=now, due_at__lte=soon)
    assignments = (
        Assignment.objects.open(now)
        .filter(Q(due_at__gt=now, due_at__lte=soon) | Exists(extended))
        .select_related("item__module__course")
    )
    sent = 0
    for assignment in assignments:
        work = {w.user_id: w for w in Work.objects.filter(item=assignment.item_id)}
        by_due = defaultdict(list)
        for user_id, theirs in _students_dates(assignment):
            due = theirs.due_at
            # Reminded while the work still asks something of them (`work_status`).
            unfinished = work_status(work.get(user_id), theirs, now) in UNFINISHED
            if unfinished and due is not None and now < due <= soon:
                by_due[due].append(user_id)
        item, course = assignment.item, assignment.item.module.course
        for due, user_ids in by_due.items():
            sent += len(
                notify(
                    user_ids,
                    kind=NotificationKind.DUE_SOON,
                    title=f"Due soon: {item.title}",
                    body=f"Due {_when(due, course)}.",
                    url=item.get_absolute_url(),
                    course=course,
                    key=f"due:{assignment.pk}:{int(due.timestamp())}",
                )
            )
    return sent


def grades_released_notify(assignment: Assignment, user_ids=None, *, now=None) -> int:
    """Tell the students of the assignment's cohort (or those of them named) who have a
    grade on it that it is released, each as they see it (their extension applied:
    a quiz that shows scores after the due date is theirs to read after their own).
    Those who may not read it yet are told when they may (`grades_readable_notify`).
    Once per assignment and student (`_released_tell`), however often it is hidden
    and released again, or graded again after its release."""
    if assignment.grades_released_at is None:
        return 0
    theirs = dict(_students_dates(assignment))
    if user_ids is not None:
        theirs = {user_id: theirs[user_id] for user_id in user_ids if user_id in theirs}
    return _released_tell(assignment, theirs, now or timezone.now())


def _released_tell(assignment: Assignment, theirs: dict, now) -> int:
    """Tell each student of `theirs` (their id to the assignment as they see it) whose
    grade on the item is one they may read now (`grade_released`) that it is released,
    under the key `released:{assignment.pk}`: once, and not when told of the item's
    grade under another of its assignments' releases. A grade is the status `work_status`
    says, as on their grades page: not an earlier grade waiting on work handed in
    again, nor excused work; notes short of the number asked once the assignment has
    closed (`scored_as_it_stands`)."""
    item = assignment.item
    course = item.module.course
    readable = [user_id for user_id, seen in theirs.items() if grade_released(seen, item, now)]
    if not readable:
        return 0  # A quiz that shows no score (yet): its grade is not theirs to read.
    # Told of the item's grade under another assignment's release (a section they have
    # left, another of their cohorts): the notice they have stands for this one.
    keys = (
        Assignment.objects.filter(item=item)
        .exclude(pk=assignment.pk)
        .annotate(key=Concat(Value("released:"), Cast("pk", CharField())))
        .values("key")
    )
    told = Notification.objects.filter(user=OuterRef("user"), key__in=Subquery(keys))
    works = (
        Work.objects.filter(item=item, user__in=readable)
        .exclude(Exists(told))
        .only("user_id", *STATUS_FIELDS)
    )
    return len(
        notify(
            [
                work.user_id
                for work in works
                if work_status(work, theirs[work.user_id], now) == WorkStatus.GRADED
            ],
            kind=NotificationKind.GRADE_RELEASED,
            title=f"Grade released for {item.title}",
            url=reverse("cases:student_grades", args=[course.pk]),
            course=course,
            key=f"released:{assignment.pk}",
        )
    )


def graded_after_release_notify(item, user_ids, *, now=None) -> int:
    """A person graded these students on an item whose grades were already released to
    them: the grade shows on their grades page at once, so each is told as the class
    was at the release (`_released_tell`, under its key: once). Released to them is
    their assignment as they see it (`seen_by`): their cohort's release, or one held
    for them from a section they have left. One query a student when nothing is
    released."""
    now = now or timezone.now()
    sent = 0
    for user_id in set(user_ids):
        seen = Assignment.objects.seen_by(user_id).filter(item=item)
        for assignment in seen.select_related("item__module__course"):
            sent += _released_tell(assignment, {user_id: assignment}, now)
    return sent


def grades_readable_notify(*, now=None) -> int:
    """Tell the students whose grade was released before it was theirs to read that it
    is released, once it is: a quiz whose score shows after the due date, once their
    own due date has passed; notes short of the number asked, once their assignment
    takes no more work (`scored_as_it_stands`). Each student's own dates (extension
    included) decide, lately (within READABLE_CATCH_UP), as `opened_notify` announces
    work. Grades readable at the release were told then (`grades_released_notify`);
    the key makes each student's notice once whichever tells first. Run by
    send_due_reminders; safe to repeat. A few queries, and two for each assignment
    whose date passed lately."""
    now = now or timezone.now()
    since = now - READABLE_CATCH_UP
    kinds = Q(item__quiz__feedback_release=FeedbackRelease.AFTER_DUE) | Q(
        item__kind=ItemKind.ANNOTATION
    )
    # Either date may be the one that makes it readable; each student's is checked.
    passed = Q(due_at__gt=since, due_at__lte=now) | Q(late_until__gt=since, late_until__lte=now)
    extended = Extension.objects.filter(passed, assignment=OuterRef("pk"))
    released = (
        Assignment.objects.filter(kinds, grades_released_at__isnull=False)
        .filter(passed | Exists(extended))
        .select_related("item__module__course")
    )
    sent = sum(grades_released_notify(assignment, now=now) for assignment in released)
    # Students moved from a section that had released it: held for them on their new
    # section's assignment, whose own grades are not released (`releases_follow`).
    extended_held = Extension.objects.filter(
        passed, assignment=OuterRef("assignment"), user=OuterRef("user")
    )
    held = HeldRelease.objects.filter(
        Q(
            assignment__due_at__gt=since,
            assignment__due_at__lte=now,
        )
        | Q(assignment__late_until__gt=since, assignment__late_until__lte=now)
        | Exists(extended_held),
        Q(assignment__item__quiz__feedback_release=FeedbackRelease.AFTER_DUE)
        | Q(assignment__item__kind=ItemKind.ANNOTATION),
        assignment__grades_released_at__isnull=True,
    ).select_related("assignment__item")
    for release in held:
        sent += graded_after_release_notify(release.assignment.item, [release.user_id], now=now)
    return sent


def _still_sees(item, user: User) -> bool:
    """Whether the user may still open the item (`item_access`): the author of a post or
    a memo who has since been removed from the course, or moved to a section not given
    the item, is not told of what happens on a page that is a 404 to them. One query."""
    found = items_with_access(user, item.kind).filter(pk=item.pk).first()
    return found is not None and item_access(found, user) is not None


def reply_notify(reply: Post) -> int:
    """Tell a post's author about a reply by someone else, while they may open the
    thread (`_still_sees`). The replier is not named, so an anonymous thread stays
    anonymous."""
    parent = reply.parent
    if parent is None or parent.author_id == reply.author_id:
        return 0
    item = reply.discussion.item
    if not _still_sees(item, parent.author):
        return 0
    return len(
        notify(
            [parent.author_id],
            kind=NotificationKind.REPLY,
            title=f"A reply to your post in {item.title}",
            url=reply.get_absolute_url(),
            course=item.module.course,
            key=f"reply:{reply.pk}",
        )
    )


def followers_notify(post: Post, *, now=None) -> int:
    """Tell those who follow the thread of a new post by someone else: one notice a
    thread while it is unread (linking the first post it tells of), and the next once
    they have read it. Only followers who may still open the thread and read the post:
    its staff, and students it is given to (`given_to`) who, in a post-first thread,
    have posted. Neither the post's author nor the author of the post it replies to
    (`reply_notify` tells them) is told. Nobody is named, so an anonymous thread stays
    anonymous. Two queries."""
    discussion = post.discussion
    item = discussion.item
    course = item.module.course
    now = now or timezone.now()
    not_told = [post.author_id]
    if post.parent_id is not None:
        not_told.append(post.parent.author_id)
    sees = Q(given_to(OuterRef("user"), item.pk, now))
    if discussion.post_first:
        posted = Post.objects.filter(
            discussion=discussion, author=OuterRef("user"), deleted_at__isnull=True
        )
        sees &= Q(Exists(posted))
    staff = Q(user__in=course.instructors.all()) | Q(user__in=course.teaching_assistants.all())
    unread = Notification.objects.filter(
        user=OuterRef("user"),
        kind=NotificationKind.FOLLOWED_POST,
        read_at__isnull=True,
        key__startswith=f"followed:{discussion.pk}:",
    )
    followers = (
        Follow.objects.filter(discussion=discussion, user__is_active=True)
        .exclude(user__in=not_told)
        .filter(sees | staff)
        .exclude(Exists(unread))
        .values_list("user", flat=True)
    )
    return len(
        notify(
            list(followers),
            kind=NotificationKind.FOLLOWED_POST,
            title=f"New posts in {item.title}",
            url=post.get_absolute_url(),
            course=course,
            key=f"followed:{discussion.pk}:{post.pk}",
        )
    )


def endorsement_notify(post: Post) -> int:
    """Tell a post's author that the course's staff endorsed it, while they may open the
    thread (`_still_sees`); once per post."""
    item = post.discussion.item
    if not _still_sees(item, post.author):
        return 0
    return len(
        notify(
            [post.author_id],
            kind=NotificationKind.ENDORSED,
            title=f"Your post in {item.title} was endorsed",
            url=post.get_absolute_url(),
            course=item.module.course,
            key=f"endorsed:{post.pk}",
        )
    )


# Written analyses ----------------------------------------------------------------------


def handed_in_notify(version: MemoVersion) -> int:
    """A receipt to the student who handed in a version of their memo: which item,
    which version, when, and how many words (or which file). Once per version."""
    memo = version.memo
    item = memo.item
    course = item.module.course
    what = f"the file {version.file_name}" if version.is_file else f"{version.word_count:,} words"
    return len(
        notify(
            [memo.author_id],
            kind=NotificationKind.HANDED_IN,
            title=f"Handed in: {item.title}, version {version.number}, at "
            f"{_when(version.submitted_at, course)}",
            body=f"Version {version.number} holds {what}. Keep this as your receipt.",
            url=item.get_absolute_url(),
            course=course,
            key=f"handed_in:{version.pk}",
        )
    )


def _review_due_dates(item, reviewer_ids: set[int]) -> dict[int, datetime | None]:
    """Each reviewer's due date for their reviews: their own due date for the item (their
    extension applied; with two cohorts, the later) plus the analysis's days to review.
    Two queries, however many reviewers."""
    days = timedelta(days=item.analysis.review_days)
    extensions = {
        (e.assignment_id, e.user_id): e.due_at
        for e in Extension.objects.filter(assignment__item=item, user__in=reviewer_ids)
    }
    dates: dict[int, list] = defaultdict(list)
    given = Assignment.objects.filter(
        item=item, cohort__memberships__user__in=reviewer_ids
    ).values_list("pk", "cohort__memberships__user", "due_at")
    for assignment_id, user_id, due_at in given:
        dates[user_id].append(extensions.get((assignment_id, user_id), due_at))
    # No due date counts as last, as `due_last` has it.
    due = {user_id: None if None in found else max(found) for user_id, found in dates.items()}
    return {user_id: (at + days if at else None) for user_id, at in due.items()}


def peer_reviews_notify(reviews: Iterable[PeerReview]) -> int:
    """Tell each reviewer how many classmates' memos they have to review on an item and
    by when, linking the item's page; once per reviewer and item, however often peer
    review is assigned again."""
    by_item: dict[int, dict[int, int]] = defaultdict(lambda: defaultdict(int))
    items = {}
    for review in reviews:
        by_item[review.item_id][review.reviewer_id] += 1
        items.setdefault(review.item_id, review.item)
    sent = 0
    for item_id, counts in by_item.items():
        item = items[item_id]
        course = item.module.course
        due = _review_due_dates(item, set(counts))
        # One notification call for each different message, not one per reviewer.
        alike: dict[tuple, list[int]] = defaultdict(list)
        for reviewer_id, count in counts.items():
            alike[(count, due.get(reviewer_id))].append(reviewer_id)
        for (count, at), reviewer_ids in alike.items():
            memos = "1 memo" if count == 1 else f"{count} memos"
            when = f", due {_when(at, course)}" if at else ""
            sent += len(
                notify(
                    reviewer_ids,
                    kind=NotificationKind.PEER_REVIEW,
                    title=f"{memos} to review for {item.title}{when}",
                    body="Whose memos they are stays hidden, as your name does from them.",
                    url=item.get_absolute_url(),
                    course=course,
                    key=f"peer_review:{item_id}",
                )
            )
    return sent


def review_received_notify(review: PeerReview) -> int:
    """Tell a memo's author that a classmate reviewed it, without naming the reviewer
    (the author knows them as "Reviewer 1, 2"), while they may open the item
    (`_still_sees`); once per review."""
    item = review.item
    if not _still_sees(item, review.author):
        return 0
    return len(
        notify(
            [review.author_id],
            kind=NotificationKind.REVIEW_RECEIVED,
            title=f"A classmate reviewed your memo for {item.title}",
            url=item.get_absolute_url(),
            course=item.module.course,
            key=f"review_received:{review.pk}",
        )
    )


# Opening a notification ----------------------------------------------------------------


def notification_target_gone(user: User, url: str) -> bool:
    """Whether what a notification leads to is no longer there for the user: an item
    deleted, taken back from their cohort or in a course they were removed from (its
    page a 404 to them, as `access_item` decides), or a course's grades page they no
    longer have (`access_course`). Links to other pages are taken as there."""
    path, prefix = urlsplit(url).path, get_script_prefix()
    try:
        match = resolve("/" + path.removeprefix(prefix) if path.startswith(prefix) else path)
    except Resolver404:
        return False  # Not a page of ours to judge: followed as before.
    check = {"cases:item_detail": access_item, "cases:student_grades": access_course}
    if (access := check.get(match.view_name)) is None or "pk" not in match.kwargs:
        return False
    try:
        access(user, match.kwargs["pk"])
    except Http404:
        return True
    return False


# Email ---------------------------------------------------------------------------------


def absolute(path: str) -> str:
    return settings.SITE_URL.rstrip("/") + path


def email_message(
    *, to: str, subject: str, template: str, context: dict, unsubscribe_url: str = ""
) -> EmailMultiAlternatives:
    """A plain-text email with an HTML alternative, both from templates/emails/."""
    text = render_to_string(f"emails/{template}.txt", context)
    html = render_to_string(f"emails/{template}.html", context)
    headers = {"List-Unsubscribe": f"<{unsubscribe_url}>"} if unsubscribe_url else {}
    subject = " ".join(subject.split())  # A header is one line.
    message = EmailMultiAlternatives(subject, text, None, [to], headers=headers)
    message.attach_alternative(html, "text/html")
    return message


def notification_link(notification: Notification) -> str:
    """Where an email sends its reader: the notification's own page, which marks it read
    (the bell then counts it no more) and goes on to what it is about, as a click in the
    list does. Signed out, the sign-in comes first and leads there."""
    return absolute(reverse("cases:notification_open", args=[notification.pk]))


def subject_for(course: Course | None, title: str) -> str:
    return f"{course.code or course.title}: {title}" if course else title


def unsubscribe_url(user_id: int, kind: str) -> str:
    token = signing.dumps([user_id, kind], salt=UNSUBSCRIBE_SALT)
    return absolute(reverse("cases:notification_unsubscribe", args=[token]))


def unsubscribe_read(token: str) -> tuple[User, str]:
    """The active user and kind a link from an email stands for; raises
    signing.BadSignature (or User.DoesNotExist) for anything else. Links do not expire:
    an old email's link still works."""
    try:
        user_id, kind = signing.loads(token, salt=UNSUBSCRIBE_SALT)
    except (TypeError, ValueError) as error:
        raise signing.BadSignature("Malformed token.") from error
    if kind not in NotificationKind.values:
        raise signing.BadSignature("Unknown kind.")
    return User.objects.get(pk=user_id, is_active=True), kind


def notification_email_off(*, user: User, kind: str) -> None:
    """Stop emailing the user about one kind of notification (they still see them in
    the app). Repeating it, or two at once, leaves one preference row."""
    NotificationPreference.objects.bulk_create(
        [NotificationPreference(user=user, kind=kind, email=False)],
        update_conflicts=True,
        unique_fields=["user", "kind"],
        update_fields=["email"],
    )


def notification_email_is_off(*, user: User, kind: str) -> bool:
    """Whether the user turned off the emails about this kind (`_kind_off` asks the same
    in a query)."""
    return NotificationPreference.objects.filter(user=user, kind=kind, email=False).exists()


def email_preferences_save(*, user: User, emailed: dict[str, bool], daily_digest: bool) -> None:
    """Save which kinds the user is emailed about and whether in a daily digest.
    Turning the digest on starts it now (`digest_since`): its first digest lists what
    comes from then on, not every unread notice they ever had; saving again with it on
    moves nothing. Turning it off sends what it was holding at once, as a last digest
    (a task, after the commit): from then on nothing else would email it."""
    with transaction.atomic():
        for kind, email in emailed.items():
            NotificationPreference.objects.update_or_create(
                user=user, kind=kind, defaults={"email": email}
            )
        row, _ = EmailSettings.objects.select_for_update().get_or_create(user=user)
        if row.daily_digest and not daily_digest:
            transaction.on_commit(partial(digest_last.enqueue, row.pk))
        if daily_digest and not row.daily_digest:
            row.digest_since = timezone.now()
        row.daily_digest = daily_digest
        row.save(update_fields=["daily_digest", "digest_since"])


def _kind_off(user_field: str = "user") -> Exists:
    return Exists(
        NotificationPreference.objects.filter(
            user=OuterRef(user_field), kind=OuterRef("kind"), email=False
        )
    )


def notification_message(notification: Notification) -> EmailMultiAlternatives:
    user = notification.user
    unsubscribe = unsubscribe_url(user.pk, notification.kind)
    context = {
        "user": user,
        "notification": notification,
        "course": notification.course,
        "link": notification_link(notification),
        "kind_label": NotificationKind(notification.kind).label,
        "unsubscribe_url": unsubscribe,
        "preferences_url": absolute(reverse("cases:notification_preferences")),
    }
    return email_message(
        to=user.email,
        subject=subject_for(notification.course, notification.title),
        template="notification",
        context=context,
        unsubscribe_url=unsubscribe,
    )


@task
def notifications_email(notification_ids: list[int]) -> int:
    """Email each of these notifications not emailed yet whose user wants it now. The
    rows are locked while they are sent and marked `emailed_at` in the same transaction,
    so a task run twice (or racing a digest) emails each once. Returns how many were
    sent."""
    digest = EmailSettings.objects.filter(user=OuterRef("user"), daily_digest=True)
    with transaction.atomic():
        notifications = list(
            Notification.objects.filter(
                pk__in=notification_ids, emailed_at__isnull=True, user__is_active=True
            )
            .exclude(user__email="")
            .exclude(_kind_off())
            .exclude(Exists(digest))
            .select_related("user", "course")
            .select_for_update(of=("self",))
            .order_by("pk")
        )
        if not notifications:
            return 0
        mailers.default.send_messages([notification_message(n) for n in notifications])
        Notification.objects.filter(pk__in=[n.pk for n in notifications]).update(
            emailed_at=timezone.now()
        )
    return len(notifications)


# The daily digest ----------------------------------------------------------------------


def digests_send(*, now=None) -> int:
    """Send each user who takes the daily digest one email listing their notifications
    that are neither read nor emailed (kinds whose email they turned off left out) and
    came since their digest began (`digest_start`), at most once in DIGEST_EVERY. Safe
    to rerun and to run on two hosts at once: a user's digest is claimed by a
    conditional UPDATE of `digest_sent_at` in the transaction that sends it. Returns
    the digests sent."""
    now = now or timezone.now()
    waiting = (
        EmailSettings.objects.filter(daily_digest=True, user__is_active=True)
        .exclude(user__email="")
        .filter(Q(digest_sent_at__isnull=True) | Q(digest_sent_at__lte=now - DIGEST_EVERY))
    )
    return sum(
        _digest_send(pk, previous, now)
        for pk, previous in waiting.values_list("pk", "digest_sent_at")
    )


@task
def digest_last(settings_id: int) -> int:
    """The digest of a user who has just turned it off: what it was holding, at once.
    Nothing when they took it again meanwhile (the daily run sends it then)."""
    row = EmailSettings.objects.filter(
        pk=settings_id, daily_digest=False, user__is_active=True
    ).exclude(user__email="")
    for previous in row.values_list("digest_sent_at", flat=True):
        return _digest_send(settings_id, previous, timezone.now())
    return 0


def digest_start(settings: EmailSettings, now: datetime) -> datetime:
    """Where a user's next digest starts: the later of the previous digest and their
    turning the digest on, so a first digest, or one after turning it off and on again,
    lists no notice from before (months-old unread ones, kinds whose email was off then).
    A digest with neither (turned on in the Django admin) starts a digest's period ago.
    The only place that says which notices a digest may list."""
    known = [at for at in (settings.digest_sent_at, settings.digest_since) if at is not None]
    start = max(known) if known else now - DIGEST_EVERY
    return start - DIGEST_OVERLAP


@transaction.atomic
def _digest_send(settings_id: int, previous, now) -> int:
    # Of two runs at once, only the one whose UPDATE still finds the old time goes on.
    if not EmailSettings.objects.filter(pk=settings_id, digest_sent_at=previous).update(
        digest_sent_at=now
    ):
        return 0
    row = EmailSettings.objects.select_related("user").get(pk=settings_id)
    user = row.user
    row.digest_sent_at = previous  # The start is counted from the digest before this one.
    notifications = list(
        Notification.objects.filter(
            user=user,
            emailed_at__isnull=True,
            read_at__isnull=True,
            created_at__gte=digest_start(row, now),
        )
        .exclude(_kind_off())
        .select_related("course")
        .select_for_update(of=("self",))
        .order_by("created_at", "pk")
    )
    if not notifications:
        return 0
    kinds = sorted({n.kind for n in notifications})
    context = {
        "user": user,
        "entries": [
            {
                "notification": n,
                "subject": subject_for(n.course, n.title),
                "link": notification_link(n),
            }
            for n in notifications
        ],
        "unsubscribe": [
            {"label": NotificationKind(kind).label, "url": unsubscribe_url(user.pk, kind)}
            for kind in kinds
        ],
    }
    count = len(notifications)
    message = email_message(
        to=user.email,
        subject=f"Red Queen: {count} new notification{'s' if count > 1 else ''}",
        template="digest",
        context=context,
    )
    mailers.default.send_messages([message])
    Notification.objects.filter(pk__in=[n.pk for n in notifications]).update(emailed_at=now)
    return 1
