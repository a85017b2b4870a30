"""Cohort administration: cohorts created, renamed, archived and restored, attached to
and detached from courses; their join codes rotated, switched and given an expiry; their
members moved and removed; students joining with a code (newcomers creating their
account with one: cases/services/cohorts/signup.py). Every change writes its audit entry in the
same transaction."""

from collections import Counter

from django.db import transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from cases.models import (
    Assignment,
    AuditAction,
    AuditEntry,
    Cohort,
    Course,
    Extension,
    HeldRelease,
    Membership,
    ModuleItem,
    User,
)
from cases.models.cohorts import new_join_code
from cases.permissions import enrolment_conflicts, join_refusal, join_refusal_for
from cases.services.gradebook import releases_follow
from cases.services.notifications import section_moved_notify
from cases.services.people import audit, audit_many
from cases.services.quizzes import attempts_deadline_sync
from cases.services.schedule import students_due_dates
from cases.services.workspace.work import work_sync


class CohortRefused(Exception):
    """A change the cohort's state does not allow; the message says why, for the user."""


class JoinRefused(CohortRefused):
    """A join code that admits nobody now, or not this user; the message says why, for
    the user. `wrong_code`: the code itself is at fault (what the lockout counts)."""

    def __init__(self, message: str, *, wrong_code: bool = True):
        super().__init__(message)
        self.wrong_code = wrong_code


def _refuse_conflicts(cohort: Cohort, users, *, courses=None, leaving=None) -> None:
    """CohortRefused, naming each in the order given, when any of these users may not
    be a student of the cohort (of `courses`, when given; `leaving`, a cohort they are
    moved out of) (`enrolment_conflicts`)."""
    users = list(users)
    conflicts = enrolment_conflicts(
        cohort, [user.pk for user in users], courses=courses, leaving=leaving
    )
    if conflicts:
        raise CohortRefused(
            " ".join(
                conflicts[user.pk].reason(user.username) for user in users if user.pk in conflicts
            )
        )


def _when(value) -> str | None:
    return value.isoformat() if value else None


def _locked(cohort: Cohort) -> Cohort:
    """The cohort's row as it is now, locked until the transaction ends, so that two
    admins changing it at once each record what they really changed."""
    return Cohort.objects.select_for_update().get(pk=cohort.pk)


def _unused_join_code() -> str:
    # 32**8 codes make a clash unlikely; the unique constraint backs this check.
    while True:
        code = new_join_code()
        if not Cohort.objects.filter(join_code=code).exists():
            return code


def work_sync_new_members(cohort: Cohort, user_ids) -> None:
    """Students just put in the cohort see the work they already did (a case read for
    another course, say) on the items given to it. Only their rows are recomputed: the
    rest of the cohort's did not change, and a join must not cost more in a big class."""
    given = Assignment.objects.filter(item=OuterRef("pk"), cohort=cohort)
    for item in ModuleItem.objects.with_content().filter(Exists(given)):
        work_sync(item, user_ids)


# Cohorts ------------------------------------------------------------------------------


@transaction.atomic
def cohort_create(*, name: str, by: User) -> Cohort:
    cohort = Cohort.objects.create(name=name, join_code=_unused_join_code())
    audit(
        by,
        AuditAction.COHORT,
        f"Created the cohort {cohort.name}",
        cohort=cohort,
        after={"name": cohort.name, "join_code": cohort.join_code},
    )
    return cohort


@transaction.atomic
def cohort_rename(*, cohort: Cohort, name: str, by: User) -> bool:
    """Rename the cohort; False (and nothing written) if the name is the same."""
    cohort = _locked(cohort)
    if cohort.name == name:
        return False
    before = cohort.name
    cohort.name = name
    cohort.save(update_fields=["name", "updated_at"])
    audit(
        by,
        AuditAction.COHORT,
        f"Renamed the cohort {before} to {name}",
        cohort=cohort,
        before={"name": before},
        after={"name": name},
    )
    return True


@transaction.atomic
def cohort_archive(*, cohort: Cohort, archived: bool, by: User) -> bool:
    """Archive the cohort (its members and their work stay; its join code stops
    admitting anyone) or restore it. False if it already was in that state. Restoring
    is refused (CohortRefused) while a member has since joined another current section
    of one of its courses, or teaches one (`enrolment_conflicts`)."""
    cohort = _locked(cohort)
    if (cohort.archived_at is not None) == archived:
        return False
    if not archived:
        _refuse_conflicts(
            cohort, User.objects.filter(memberships__cohort=cohort).order_by("username")
        )
    before = cohort.archived_at
    cohort.archived_at = timezone.now() if archived else None
    cohort.save(update_fields=["archived_at", "updated_at"])
    audit(
        by,
        AuditAction.COHORT,
        f"{'Archived' if archived else 'Restored'} the cohort {cohort.name}",
        cohort=cohort,
        before={"archived_at": _when(before)},
        after={"archived_at": _when(cohort.archived_at)},
    )
    return True


@transaction.atomic
def cohort_course_attach(*, cohort: Cohort, course: Course, by: User) -> bool:
    """The cohort takes the course: its members see it (and the items given to them).
    False if it already did. Refused (CohortRefused, naming each) while a member teaches
    the course or is in another current section of it (`enrolment_conflicts`)."""
    cohort = _locked(cohort)
    if course.cohorts.filter(pk=cohort.pk).exists():
        return False
    members = User.objects.filter(memberships__cohort=cohort).order_by("username")
    _refuse_conflicts(cohort, members, courses=[course])
    course.cohorts.add(cohort)
    audit(
        by,
        AuditAction.COHORT,
        f"Attached the cohort {cohort.name} to {course.code}",
        cohort=cohort,
        course=course,
        after={"course": course.code},
    )
    return True


@transaction.atomic
def cohort_course_detach(*, cohort: Cohort, course: Course, by: User) -> bool:
    """The cohort no longer takes the course. Refused while any of the course's items is
    given to the cohort: those dates would stay on the students' dashboards for a course
    they could no longer open, and the schedule page (which lists only the course's
    cohorts) could no longer remove them. False if it was not attached."""
    cohort = _locked(cohort)
    if not course.cohorts.filter(pk=cohort.pk).exists():
        return False
    scheduled = Assignment.objects.filter(cohort=cohort, item__module__course=course).count()
    if scheduled:
        raise CohortRefused(
            f"{course.code} still gives {scheduled} item{'s' if scheduled != 1 else ''} to "
            f"this cohort. Remove the cohort from those items' schedules first."
        )
    course.cohorts.remove(cohort)
    audit(
        by,
        AuditAction.COHORT,
        f"Detached the cohort {cohort.name} from {course.code}",
        cohort=cohort,
        course=course,
        before={"course": course.code},
    )
    return True


# Join codes ---------------------------------------------------------------------------


@transaction.atomic
def join_code_rotate(*, cohort: Cohort, by: User) -> Cohort:
    """A new random code; the old one admits nobody from now on."""
    cohort = _locked(cohort)
    before = cohort.join_code
    cohort.join_code = _unused_join_code()
    cohort.save(update_fields=["join_code", "updated_at"])
    audit(
        by,
        AuditAction.JOIN_CODE,
        f"New join code for {cohort.name}",
        cohort=cohort,
        before={"join_code": before},
        after={"join_code": cohort.join_code},
    )
    return cohort


@transaction.atomic
def join_code_enable(*, cohort: Cohort, enabled: bool, by: User) -> bool:
    """Turn the code on or off; False if it already was."""
    cohort = _locked(cohort)
    if cohort.join_code_enabled == enabled:
        return False
    cohort.join_code_enabled = enabled
    cohort.save(update_fields=["join_code_enabled", "updated_at"])
    audit(
        by,
        AuditAction.JOIN_CODE,
        f"{'Enabled' if enabled else 'Disabled'} the join code of {cohort.name}",
        cohort=cohort,
        before={"join_code_enabled": not enabled},
        after={"join_code_enabled": enabled},
    )
    return True


@transaction.atomic
def join_code_expire(*, cohort: Cohort, expires_at, by: User) -> bool:
    """Set (or, with None, clear) when the code stops admitting; False if unchanged."""
    cohort = _locked(cohort)
    before = cohort.join_code_expires_at
    if before == expires_at:
        return False
    cohort.join_code_expires_at = expires_at
    cohort.save(update_fields=["join_code_expires_at", "updated_at"])
    audit(
        by,
        AuditAction.JOIN_CODE,
        f"{'Set' if expires_at else 'Cleared'} the join code's expiry for {cohort.name}",
        cohort=cohort,
        before={"join_code_expires_at": _when(before)},
        after={"join_code_expires_at": _when(expires_at)},
    )
    return True


# Members ------------------------------------------------------------------------------


def _entries(action: str, users, by: User, cohort: Cohort, summary: str, **values):
    return [
        AuditEntry(
            actor=by,
            action=action,
            subject=user,
            cohort=cohort,
            summary=summary.format(user=user.username)[:300],
            **values,
        )
        for user in users
    ]


def _extensions_follow(*, cohort: Cohort, to: Cohort, user_ids: list[int]) -> dict[int, str]:
    """Students moved from `cohort` to `to` keep each extension of theirs that still gives
    them more time: it moves to `to`'s assignment of the same item when later than that
    one's due date. The rest go, as when a cohort's date is moved past one: those not
    later than `to`'s date, and those on items not given to `to`. Left on `cohort`'s
    assignments, they would be listed there for students no longer in it, and the
    student would find themselves late. Returns, per student who had any, what became
    of them, for the audit log."""
    extensions = list(
        Extension.objects.filter(assignment__cohort=cohort, user__in=user_ids).select_related(
            "assignment"
        )
    )
    if not extensions:
        return {}
    targets = {
        a.item_id: a
        for a in Assignment.objects.filter(
            cohort=to, item__in={e.assignment.item_id for e in extensions}
        )
    }
    taken = set(
        Extension.objects.filter(assignment__in=targets.values(), user__in=user_ids).values_list(
            "assignment", "user"
        )
    )
    kept, there, early, elsewhere = Counter(), Counter(), Counter(), Counter()
    for extension in extensions:
        target = targets.get(extension.assignment.item_id)
        if target is None:
            elsewhere[extension.user_id] += 1
        elif (target.pk, extension.user_id) in taken:
            # An extension of their own in `to` already (from an earlier stay) stands.
            there[extension.user_id] += 1
        elif not (target.due_at is not None and extension.due_at > target.due_at):
            early[extension.user_id] += 1
        else:
            kept[extension.user_id] += 1
            extension.assignment = target
            extension.save(update_fields=["assignment", "updated_at"])
            continue
        extension.delete()
    said = {}
    for user_id in kept | there | early | elsewhere:
        parts = [f"{kept[user_id]} kept"]
        if there[user_id]:
            parts.append(f"{there[user_id]} replaced by their own in {to.name}")
        if early[user_id]:
            parts.append(f"{early[user_id]} no longer later than {to.name}'s date")
        if elsewhere[user_id]:
            parts.append(f"{elsewhere[user_id]} on items not given to {to.name}")
        said[user_id] = ", ".join(parts)
    return said


@transaction.atomic
def memberships_move(*, cohort: Cohort, to: Cohort, users, by: User) -> int:
    """Move students from `cohort` to `to`. Their work stays theirs (it belongs to the
    student and the item, not the cohort) and shows on the items given to `to`; their
    extensions follow them where they still give more time (`_extensions_follow`), and
    each is told, in one notice, of the items whose due dates are not what they were
    (`section_moved_notify`). Those no longer in `cohort` (a second click) are left
    alone. Returns how many moved. Refused (CohortRefused, naming each) when one of them
    teaches a course `to` takes or is in another current section of it
    (`enrolment_conflicts`)."""
    memberships = Membership.objects.select_for_update(of=("self",)).filter(
        cohort=cohort, user__in=[u.pk for u in users]
    )
    moved = [m.user for m in memberships.select_related("user")]
    if not moved:
        return 0
    ids = [u.pk for u in moved]
    _refuse_conflicts(to, moved, leaving=cohort)
    now = timezone.now()
    dates_before = students_due_dates(ids, items_of=[cohort, to], now=now)
    Membership.objects.filter(cohort=cohort, user__in=ids).delete()
    Membership.objects.bulk_create(
        [Membership(cohort=to, user=user) for user in moved], ignore_conflicts=True
    )
    extensions = _extensions_follow(cohort=cohort, to=to, user_ids=ids)
    # A grade released to them stays shown, whatever `to` has released.
    releases_follow(cohort=cohort, to=to, user_ids=ids)
    entries = _entries(
        AuditAction.MOVE,
        moved,
        by,
        to,
        f"Moved {{user}} from {cohort.name} to {to.name}",
        before={"cohort": cohort.pk, "name": cohort.name},
        after={"cohort": to.pk, "name": to.name},
    )
    for entry in entries:
        if said := extensions.get(entry.subject.pk):
            entry.after = entry.after | {"extensions": said}
    audit_many(entries)
    work_sync_new_members(to, ids)
    # An attempt open now ends by the dates of the section they are in now.
    attempts_deadline_sync(item_id=None, user_ids=ids)
    # Sections may differ in their dates: each student is told how theirs changed.
    dates_after = students_due_dates(ids, items_of=[cohort, to], now=now)
    section_moved_notify(ids, was=cohort, to=to, before=dates_before, after=dates_after)
    return len(moved)


@transaction.atomic
def memberships_remove(*, cohort: Cohort, users, by: User) -> int:
    """Take students out of the cohort; their accounts and work stay. Their extensions
    on the cohort's assignments go, as those a move does not carry do: left behind,
    they would be listed on the schedule for students no longer in the section. Each
    removal's audit entry says how many went. Returns how many were removed (none on a
    second click)."""
    memberships = Membership.objects.select_for_update(of=("self",)).filter(
        cohort=cohort, user__in=[u.pk for u in users]
    )
    removed = [m.user for m in memberships.select_related("user")]
    if not removed:
        return 0
    ids = [u.pk for u in removed]
    Membership.objects.filter(cohort=cohort, user__in=ids).delete()
    extensions = Extension.objects.filter(assignment__cohort=cohort, user__in=ids)
    gone = Counter(extensions.values_list("user", flat=True))
    extensions.delete()
    HeldRelease.objects.filter(assignment__cohort=cohort, user__in=ids).delete()
    entries = _entries(
        AuditAction.UNENROL,
        removed,
        by,
        cohort,
        f"Removed {{user}} from {cohort.name}",
        before={"cohort": cohort.pk, "name": cohort.name},
    )
    for entry in entries:
        if n := gone[entry.subject.pk]:
            entry.after = {"extensions": f"{n} removed"}
    audit_many(entries)
    return len(removed)


# Self-enrolment -----------------------------------------------------------------------


def cohort_for_join_code(code: str) -> Cohort:
    """The cohort whose join code this is, if the code admits students now; JoinRefused
    with the reason otherwise. Codes are matched ignoring case and spaces."""
    code = "".join(code.split())
    cohort = Cohort.objects.filter(join_code__iexact=code).order_by("pk").first() if code else None
    refusal = join_refusal(cohort)
    if refusal:
        raise JoinRefused(refusal)
    return cohort


@transaction.atomic
def cohort_join(*, user: User, code: str) -> tuple[Cohort, bool]:
    """Put the user in the cohort of a join code that admits students now. Joining again
    changes nothing (the membership is unique per cohort and user). The cohort row is
    not locked: a class joining at once must not queue on it, and a code turned off a
    moment after it was read admitted that student fairly. The user's own row is: two
    codes typed at once (two tabs) must not put them in two sections of one course.
    Staff of the cohort's course, and a student in another of its sections, are refused
    (`join_refusal_for`)."""
    cohort = cohort_for_join_code(code)
    User.objects.select_for_update().filter(pk=user.pk).exists()
    if Membership.objects.filter(cohort=cohort, user=user).exists():
        return cohort, False
    if refusal := join_refusal_for(user, cohort):
        raise JoinRefused(refusal, wrong_code=False)
    _membership, created = Membership.objects.get_or_create(cohort=cohort, user=user)
    if created:
        audit(
            user,
            AuditAction.ENROL,
            f"{user.username} joined {cohort.name} with its join code",
            subject=user,
            cohort=cohort,
            after={"cohort": cohort.pk, "name": cohort.name, "by": "join code"},
        )
        work_sync_new_members(cohort, [user.pk])
    return cohort, created
