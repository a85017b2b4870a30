"""Writes to the schedule: items given to cohorts with their dates, and students'
extensions; open quiz attempts follow at once. An assignment as one student sees it
is read from the models (`Assignment.objects.seen_by`, `assignment_for_student`)."""

from django.db import transaction
from django.utils import timezone

from cases.models import (
    Accommodation,
    Assignment,
    Attempt,
    AttemptState,
    Cohort,
    Course,
    Extension,
    ModuleItem,
    User,
)
from cases.services.notifications import published_notify
from cases.services.quizzes import attempt_deadline_refresh, attempts_deadline_sync
from cases.services.workspace.work import work_sync_cohorts

SCHEDULE_FIELDS = [
    "opens_at",
    "due_at",
    "points",
    "late_policy",
    "late_penalty_percent",
    "late_until",
]


@transaction.atomic
def assignments_schedule(
    *, item: ModuleItem, schedule: dict[Cohort, dict | None]
) -> list[Extension]:
    """Give the item to cohorts with their dates, or take it back (None). `schedule`
    maps each cohort to the fields of SCHEDULE_FIELDS. Upserts on (item, cohort). The
    students of a cohort given the item are notified once it is open.

    An extension the cohort's new due date reaches (due on or before it), or whose
    cohort no longer has a due date, extends nothing: kept, it would give its student
    an earlier date than their classmates', marked "extended". It is removed, its
    cut-off with it (the cohort's applies again), and returned with its student and
    cohort, so the schedule page says whose went and the instructor can grant a later
    one to whoever still needs more time. Removed rather than kept and ignored, as every
    page, reminder and quiz timer reads an extension as the student's date."""
    given = {c: v for c, v in schedule.items() if v is not None}
    taken = [c for c, v in schedule.items() if v is None]
    if taken:
        Assignment.objects.filter(item=item, cohort__in=taken).delete()
    overtaken = []
    if given:
        now = timezone.now()
        Assignment.objects.bulk_create(
            [
                Assignment(item=item, cohort=cohort, updated_at=now, **values)
                for cohort, values in given.items()
            ],
            update_conflicts=True,
            unique_fields=["item", "cohort"],
            update_fields=[*SCHEDULE_FIELDS, "updated_at"],
        )
        overtaken = list(
            Extension.objects.filter(assignment__item=item, assignment__cohort__in=list(given))
            .extending_nothing()
            .select_related("user", "assignment__cohort")
            .order_by("user__last_name", "user__username", "assignment__cohort__name")
        )
        Extension.objects.filter(pk__in=[extension.pk for extension in overtaken]).delete()
        work_sync_cohorts(item, list(given))
        # Once per assignment: saving new dates for a cohort already told tells nobody.
        published_notify(given_assignments(item, given))
    # Attempts open now end by the new dates.
    attempts_deadline_sync(item_id=item.pk)
    return overtaken


@transaction.atomic
def extensions_grant(
    *, item: ModuleItem, users, due_at, late_until=None, reason: str = "", by: User
) -> int:
    """Give each student a later due date (and cut-off) on every assignment of the item
    to a cohort of theirs; granting again replaces the earlier extension. Returns how
    many extensions were written. A date that is not later than one of those cohorts'
    due dates (or a cohort with none) extends nothing and is refused with ValueError:
    `ExtensionForm` says so beside the field first (`extension_too_early`)."""
    assignments = Assignment.objects.filter(item=item, cohort__memberships__user__in=users)
    if assignments.not_extended_by(due_at).exists():
        raise ValueError("An extension must come after each of its cohorts' due dates.")
    pairs = assignments.values_list("pk", "cohort__memberships__user").distinct()
    now = timezone.now()
    rows = [
        Extension(
            assignment_id=assignment_id,
            user_id=user_id,
            due_at=due_at,
            late_until=late_until,
            reason=reason,
            created_by=by,
            updated_at=now,
        )
        for assignment_id, user_id in pairs
    ]
    Extension.objects.bulk_create(
        rows,
        update_conflicts=True,
        unique_fields=["assignment", "user"],
        update_fields=["due_at", "late_until", "reason", "created_by", "updated_at"],
    )
    attempts_deadline_sync(item_id=item.pk, user_ids={user_id for _a, user_id in pairs})
    return len(rows)


@transaction.atomic
def extension_remove(*, extension: Extension) -> None:
    """Take a student's extension back: the cohort's dates apply to them again."""
    extension.delete()
    attempts_deadline_sync(item_id=extension.assignment.item_id, user_ids=[extension.user_id])


def extension_too_early(*, item: ModuleItem, users, due_at) -> list[Assignment]:
    """The students' assignments of the item (with their cohorts, by name) that an
    extension to `due_at` would not extend: due then or later, or not due at all."""
    return list(
        Assignment.objects.filter(item=item, cohort__memberships__user__in=users)
        .not_extended_by(due_at)
        .select_related("cohort")
        .distinct()
        .order_by("cohort__name")
    )


def given_assignments(item: ModuleItem, cohorts):
    return Assignment.objects.filter(item=item, cohort__in=list(cohorts)).select_related(
        "item__module__course"
    )


def _student_attempts_sync(course_id: int, student_id: int) -> None:
    """The student's open attempts in the course end by their time limit as it now is."""
    attempts = Attempt.objects.filter(
        user_id=student_id,
        state=AttemptState.IN_PROGRESS,
        quiz__item__module__course_id=course_id,
    ).select_related("quiz", "user")
    for attempt in attempts:
        attempt_deadline_refresh(attempt)


@transaction.atomic
def accommodation_set(
    *,
    course: Course,
    student: User,
    extra_minutes: int | None,
    time_multiplier,
    reason: str = "",
    by: User,
) -> Accommodation:
    """Give a student of the course extra time on its timed quizzes (setting it again
    replaces it); their open attempts get it at once."""
    accommodation, _created = Accommodation.objects.update_or_create(
        course=course,
        student=student,
        defaults={
            "extra_minutes": extra_minutes,
            "time_multiplier": time_multiplier,
            "reason": reason,
            "created_by": by,
        },
    )
    _student_attempts_sync(course.pk, student.pk)
    return accommodation


@transaction.atomic
def accommodation_remove(*, accommodation: Accommodation) -> None:
    """Take the extra time back: the quizzes' own limits apply to the student again,
    from the next save on, to an attempt already open too (one past the shorter limit
    is submitted with its saved answers, as any attempt whose time is up)."""
    accommodation.delete()
    _student_attempts_sync(accommodation.course_id, accommodation.student_id)
