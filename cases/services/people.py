"""People: course roles given and taken away, accounts deactivated and reactivated.
Each change is audited in its own transaction. Who may ask for a change is decided by
`cases/permissions.py`; the rules that hold whoever asks (nobody changes their own
role or account, a course keeps an instructor who can sign in) are enforced here."""

from importlib import import_module

from django.conf import settings
from django.contrib.auth import SESSION_KEY
from django.contrib.sessions.models import Session
from django.db import transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from cases.models import AuditAction, AuditEntry, Cohort, Course, User
from cases.permissions import CourseRole, is_admin


def audit(
    actor,
    action: str,
    summary: str,
    *,
    subject=None,
    cohort=None,
    course=None,
    before=None,
    after=None,
) -> AuditEntry:
    return AuditEntry.objects.create(
        actor=actor if actor is not None and actor.pk else None,
        action=action,
        summary=summary[:300],
        subject=subject,
        cohort=cohort,
        course=course,
        before=before,
        after=after,
    )


def audit_many(entries: list[AuditEntry]) -> None:
    """Many entries in one statement (a roster import's enrolments)."""
    AuditEntry.objects.bulk_create(entries, batch_size=1000)


class Refused(Exception):
    """A change the rules forbid; the message says why, for the person who asked."""


def _people(course: Course, role: str):
    if role == CourseRole.INSTRUCTOR:
        return course.instructors
    return course.teaching_assistants


def _taught_by_another(user: User, course=None) -> Exists:
    """Whether the course (the row's, or the one named) has an active instructor other
    than `user`: a deactivated one cannot sign in to teach it."""
    return Exists(
        Course.instructors.through.objects.filter(
            course=OuterRef("pk") if course is None else course, user__is_active=True
        ).exclude(user=user)
    )


def courses_only_taught_by(user: User) -> list[Course]:
    """The courses the user is the only active instructor of, by code: taking their
    instructor role away is refused there, and deactivating them leaves the courses
    with nobody to teach them."""
    return list(
        Course.objects.filter(instructors=user).exclude(_taught_by_another(user)).order_by("code")
    )


def course_role_of(course: Course, user: User) -> str | None:
    """The user's course role (instructor first), or None."""
    if course.instructors.filter(pk=user.pk).exists():
        return CourseRole.INSTRUCTOR
    if course.teaching_assistants.filter(pk=user.pk).exists():
        return CourseRole.TA
    return None


def _shown(role: str | None) -> dict:
    return {"role": CourseRole(role).label if role else "none"}


@transaction.atomic
def course_role_add(*, course: Course, user: User, role: str, by: User) -> None:
    """Give `user` a role in the course. An instructor made a TA is refused (take the
    instructor role away first); a TA made an instructor stops being a TA. Refused for
    oneself, for a deactivated account and for a student of the course."""
    if user.pk == by.pk:
        raise Refused("You cannot change your own role: ask another admin.")
    if not user.is_active:
        raise Refused(f"{user.display_name}'s account is deactivated: reactivate it first.")
    # One lock per course serialises its role changes (see course_role_remove).
    course = Course.objects.select_for_update().get(pk=course.pk)
    if course.cohorts.filter(memberships__user=user).exists():
        raise Refused(
            f"{user.display_name} is a student in this course: "
            "staff of a course cannot also take it."
        )
    before = course_role_of(course, user)
    if before == role:
        raise Refused(f"{user.display_name} is already {CourseRole(role).with_article}.")
    if before == CourseRole.INSTRUCTOR:
        raise Refused(
            f"{user.display_name} is an instructor: remove that role first to make them a TA."
        )
    if before is not None:
        _people(course, before).remove(user)
    _people(course, role).add(user)
    audit(
        by,
        AuditAction.ROLE_ADD,
        f"{user.display_name} made {CourseRole(role).label.lower()} of {course.code}",
        subject=user,
        course=course,
        before=_shown(before),
        after=_shown(role),
    )


@transaction.atomic
def course_role_remove(*, course: Course, user: User, role: str, by: User) -> None:
    """Take a role in the course away from `user`. Refused for oneself, except to an
    admin, who keeps the course as an admin (one who made a course for its instructor
    steps down once they are in), and for the course's last instructor. The course row
    is locked first, so two admins removing its last two instructors at once cannot
    both succeed."""
    if user.pk == by.pk and not is_admin(by):
        raise Refused("You cannot change your own role: ask another admin.")
    course = Course.objects.select_for_update().get(pk=course.pk)
    people = _people(course, role)
    if not people.filter(pk=user.pk).exists():
        raise Refused(f"{user.display_name} is not {CourseRole(role).with_article} here.")
    if role == CourseRole.INSTRUCTOR and course in courses_only_taught_by(user):
        raise Refused(
            f"{user.display_name} is the course's last instructor (the others, if any, are "
            "deactivated): add another one first."
        )
    people.remove(user)
    audit(
        by,
        AuditAction.ROLE_REMOVE,
        f"{user.display_name} no longer {CourseRole(role).label.lower()} of {course.code}",
        subject=user,
        course=course,
        before=_shown(role),
        after=_shown(None),
    )


def _sessions_end(user: User) -> int:
    """Delete the user's sessions from the table and the cache. Sessions are not indexed
    by user, so this decodes every unexpired one: a rare admin action can afford it.
    Without it, a deactivated user is already treated as signed out (Django's
    ModelBackend.get_user refuses inactive users on every request), but their old
    session would come back to life on reactivation."""
    store = import_module(settings.SESSION_ENGINE).SessionStore
    ended = 0
    live = Session.objects.filter(expire_date__gt=timezone.now())
    for session in live.iterator(chunk_size=1000):
        if session.get_decoded().get(SESSION_KEY) == str(user.pk):
            store(session_key=session.session_key).delete()
            ended += 1
    return ended


@transaction.atomic
def user_deactivate(*, user: User, by: User) -> None:
    """Deactivate an account: it can no longer sign in, its sessions end, and its work,
    grades and memberships are kept. Refused for oneself."""
    if user.pk == by.pk:
        raise Refused("You cannot deactivate your own account.")
    user = User.objects.select_for_update().get(pk=user.pk)
    if not user.is_active:
        raise Refused(f"{user.display_name} is already deactivated.")
    user.is_active = False
    user.save(update_fields=["is_active"])
    _sessions_end(user)
    audit(
        by,
        AuditAction.DEACTIVATE,
        f"{user.display_name} ({user.username}) deactivated",
        subject=user,
        before={"active": "yes"},
        after={"active": "no"},
    )


@transaction.atomic
def user_reactivate(*, user: User, by: User) -> None:
    """Reactivate a deactivated account: it signs in again with its old password and
    finds its work where it left it."""
    user = User.objects.select_for_update().get(pk=user.pk)
    if user.is_active:
        raise Refused(f"{user.display_name} is already active.")
    user.is_active = True
    user.save(update_fields=["is_active"])
    audit(
        by,
        AuditAction.REACTIVATE,
        f"{user.display_name} ({user.username}) reactivated",
        subject=user,
        before={"active": "no"},
        after={"active": "yes"},
    )


@transaction.atomic
def cohort_assistants_set(*, cohort: Cohort, users, by: User) -> int:
    """Make exactly `users` the cohort's own TAs (a TA named on a cohort grades only its
    students, in every course it takes), auditing each one given or taken away. Returns
    how many changed."""
    cohort = Cohort.objects.select_for_update().get(pk=cohort.pk)
    before, after = set(cohort.teaching_assistants.all()), set(users)
    role, none = {"role": "TA of the cohort"}, {"role": "none"}
    for user in after ^ before:
        given = user in after
        if given:
            cohort.teaching_assistants.add(user)
        else:
            cohort.teaching_assistants.remove(user)
        audit(
            by,
            AuditAction.ROLE_ADD if given else AuditAction.ROLE_REMOVE,
            f"{user.display_name} {'made' if given else 'no longer'} TA of the cohort "
            f"{cohort.name}",
            subject=user,
            cohort=cohort,
            before=none if given else role,
            after=role if given else none,
        )
    if after ^ before:
        # Who grades the cohort is part of what its courses' tracker and gradebook show
        # each TA (`course_version` reads the cohorts' latest change): an open page's
        # next poll shows the TA the students they now grade.
        cohort.save(update_fields=["updated_at"])
    return len(after ^ before)


@transaction.atomic
def ta_cohorts_set(*, course: Course, user: User, cohorts, by: User) -> int:
    """Limit a TA of the course to exactly `cohorts` among the course's cohorts (none:
    every cohort), through `cohort_assistants_set` on each cohort that changes, so each
    change is audited. A cohort that takes other courses limits the TA there too.
    Returns how many cohorts changed. Refused for someone who is not a TA here."""
    if not course.teaching_assistants.filter(pk=user.pk).exists():
        raise Refused(f"{user.display_name} is not a teaching assistant here.")
    chosen = {cohort.pk for cohort in cohorts}
    changed = 0
    for cohort in Cohort.objects.filter(courses=course).prefetch_related("teaching_assistants"):
        assistants = set(cohort.teaching_assistants.all())
        if (user in assistants) == (cohort.pk in chosen):
            continue
        wanted = assistants | {user} if cohort.pk in chosen else assistants - {user}
        changed += cohort_assistants_set(cohort=cohort, users=wanted, by=by)
    return changed


@transaction.atomic
def user_admin_set(*, user: User, is_staff: bool, is_superuser: bool, by: User) -> bool:
    """Make `user` an admin (staff), a superuser, both or neither, audited. Refused for
    oneself. Returns whether anything changed."""
    if user.pk == by.pk:
        raise Refused("You cannot change your own role: ask another admin.")
    user = User.objects.select_for_update().get(pk=user.pk)
    before = {"admin": user.is_staff, "superuser": user.is_superuser}
    after = {"admin": is_staff, "superuser": is_superuser}
    if before == after:
        return False
    user.is_staff, user.is_superuser = is_staff, is_superuser
    user.save(update_fields=["is_staff", "is_superuser"])
    action = (
        AuditAction.ROLE_ADD
        if sum(after.values()) > sum(before.values())
        else (AuditAction.ROLE_REMOVE)
    )
    shown = {"admin": "yes" if is_staff else "no", "superuser": "yes" if is_superuser else "no"}
    audit(
        by,
        action,
        f"{user.display_name} ({user.username}): admin {shown['admin']}, "
        f"superuser {shown['superuser']}",
        subject=user,
        before={k: "yes" if v else "no" for k, v in before.items()},
        after=shown,
    )
    return True
