"""Writes to the schedule: items given to cohorts with their dates, and students'
extensions; open quiz attempts follow at once. What taking an item away from cohorts
would cost is read here too, to ask before (`assignments_at_stake`). An assignment as
one student sees it is read from the models (`Assignment.objects.seen_by`,
`assignment_for_student`)."""

import copy
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

from django.db import transaction
from django.db.models import Count, Exists, OuterRef, Q
from django.utils import timezone

from cases.models import (
    Accommodation,
    Assignment,
    Attempt,
    AttemptState,
    Cohort,
    Course,
    Extension,
    Membership,
    ModuleItem,
    User,
    Work,
    WorkStatus,
    due_last,
    is_graded,
    with_extension,
)
from cases.models.workspace import work_changed
from cases.services.notifications import (
    due_moved_notify,
    extension_moved_notify,
    published_notify,
)
from cases.services.quizzes import attempt_deadline_refresh, attempts_deadline_sync
from cases.services.workspace.work import work_sync, work_sync_cohorts

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
        existing = list(Assignment.objects.filter(item=item, cohort__in=list(given)))
        before = {assignment.cohort_id: _grading_terms(assignment) for assignment in existing}
        was_due = {assignment.cohort_id: assignment.due_at for assignment in existing}
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
        moved = [
            cohort
            for cohort, values in given.items()
            if before.get(cohort.pk) != _grading_terms(Assignment(**values))
        ]
        _grades_moved(item, cohorts=moved, user_ids=[e.user_id for e in overtaken])
        # Once per assignment: saving new dates for a cohort already told tells nobody
        # it is new, only, once per new date, that its due date moved.
        announced = list(given_assignments(item, given))
        due_moved_notify(announced, was_due, overtaken)
        published_notify(announced)
    # Attempts open now end by the new dates.
    attempts_deadline_sync(item_id=item.pk)
    return overtaken


# What an assignment's grades are reckoned from besides the work: its points, and the
# due date and policy a late penalty counts from (`work_points`).
GRADING_TERMS = ["due_at", "points", "late_policy", "late_penalty_percent"]


def _grading_terms(assignment: Assignment) -> tuple:
    return tuple(getattr(assignment, name) for name in GRADING_TERMS)


def _grades_moved(item: ModuleItem, *, cohorts=(), user_ids=()) -> None:
    """Dates, points or a late policy changed for these cohorts' students or these
    students (an extension): the grades of those with work on the item may have
    moved with them, and go on where grades go (`work_changed`: an LMS's gradebook)."""
    if not cohorts and not user_ids:
        return
    work = Work.objects.filter(item=item).filter(
        Q(user__memberships__cohort__in=list(cohorts)) | Q(user__in=list(user_ids))
    )
    students = sorted(set(work.values_list("user_id", flat=True)))
    if students:
        work_changed.send(ModuleItem, item=item, user_ids=students)


@dataclass
class TakenAway:
    """What taking an item away from one cohort costs (`assignments_at_stake`)."""

    cohort: Cohort
    # Its students who lose the item with work of theirs on it (started, handed in,
    # graded, commented on or excused); one who keeps it through another cohort is not.
    students: int
    # Of them, those whose grade was released: it leaves their grades page.
    released: int
    extensions: int  # Deleted with the assignment.

    @property
    def at_stake(self) -> bool:
        return bool(self.students or self.extensions)


def _graded(work: Work) -> bool:
    """A grade or comment a student is shown once released."""
    return work.excused or bool(work.feedback) or is_graded(work)


def assignments_at_stake(
    *, item: ModuleItem, schedule: dict[Cohort, dict | None]
) -> list[TakenAway]:
    """What `assignments_schedule` with this `schedule` would cost each cohort it takes
    the item from, where anything is at stake, by cohort name: the schedule page asks
    before it is saved. Taking an item away deletes the cohort's assignment: its
    students no longer see the item (404) nor their work and grade on it, and its
    dates, the release of its grades and its extensions go with it. Their Work rows
    stay: given the item again, they see their work again, but the dates are set
    afresh, the grades are not released until released again and extensions granted
    again. Four queries."""
    taken = [cohort.pk for cohort, values in schedule.items() if values is None]
    given = [cohort.pk for cohort, values in schedule.items() if values is not None]
    assignments = list(
        Assignment.objects.filter(item=item, cohort__in=taken)
        .select_related("cohort")
        .annotate(extension_count=Count("extensions"))
        .order_by("cohort__name")
    )
    if not assignments:
        return []
    # Students who keep the item through a cohort it stays given to lose nothing.
    keeping = set(
        Membership.objects.filter(Q(cohort__in=given) | Q(cohort__assignments__item=item))
        .exclude(cohort__in=taken)
        .values_list("user", flat=True)
    )
    losing: dict[int, set[int]] = {a.cohort_id: set() for a in assignments}
    for cohort_id, user_id in Membership.objects.filter(cohort__in=list(losing)).values_list(
        "cohort", "user"
    ):
        if user_id not in keeping:
            losing[cohort_id].add(user_id)
    work = {
        w.user_id: w for w in Work.objects.filter(item=item, user__in=set().union(*losing.values()))
    }
    started = {WorkStatus.IN_PROGRESS, WorkStatus.SUBMITTED}
    costs = []
    for assignment in assignments:
        theirs = [work[u] for u in losing[assignment.cohort_id] if u in work]
        done = [w for w in theirs if w.state in started or _graded(w)]
        released = [w for w in done if _graded(w)] if assignment.grades_released_at else []
        cost = TakenAway(assignment.cohort, len(done), len(released), assignment.extension_count)
        if cost.at_stake:
            costs.append(cost)
    return costs


@dataclass
class MadeLate:
    """What moving one cohort's due date earlier costs (`work_made_late`)."""

    cohort: Cohort
    # Its students who handed in by the due date it had and after the new one (and
    # have no extension covering that): their work would count as late, under a
    # penalty policy with fewer points.
    students: int
    released: int  # Of them, those whose grade was released: it changes before them.


def work_made_late(*, item: ModuleItem, schedule: dict[Cohort, dict | None]) -> list[MadeLate]:
    """What `assignments_schedule` with this `schedule` would make late, for each cohort
    whose due date it moves earlier than work already handed in, by cohort name: the
    schedule page asks before it is saved, as work on time when handed in would count
    late (`after_due`). A query a cohort whose date moves earlier, one more in all."""
    moving = {cohort.pk: values for cohort, values in schedule.items() if values}
    costs = []
    assignments = (
        Assignment.objects.filter(item=item, cohort__in=list(moving), due_at__isnull=False)
        .select_related("cohort")
        .order_by("cohort__name")
    )
    for assignment in assignments:
        new_due = moving[assignment.cohort_id].get("due_at")
        if new_due is None or new_due >= assignment.due_at:
            continue
        covered = Extension.objects.filter(
            assignment=assignment,
            user=OuterRef("user"),
            due_at__gt=new_due,
            due_at__gte=OuterRef("submitted_at"),
        )
        students = (
            Work.objects.filter(
                item=item,
                state=WorkStatus.SUBMITTED,
                user__memberships__cohort=assignment.cohort_id,
                submitted_at__gt=new_due,
                submitted_at__lte=assignment.due_at,
            )
            .exclude(Exists(covered))
            .count()
        )
        if students:
            released = students if assignment.grades_released_at else 0
            costs.append(MadeLate(assignment.cohort, students, released))
    return costs


@dataclass
class PutOff:
    """What moving one cohort's opening date later costs (`work_put_off`)."""

    cohort: Cohort
    opens_at: datetime  # The new opening.
    # Its students with work on the item (opened, started, handed in or graded) who
    # lose it until then, by name; one who keeps it through another cohort is not.
    students: list[User]
    handed_in: int  # Of them, those who handed it in: kept, and shown again then.


def work_put_off(
    *, item: ModuleItem, schedule: dict[Cohort, dict | None], now=None
) -> list[PutOff]:
    """What `assignments_schedule` with this `schedule` would take from students for a
    while, for each cohort whose opening it moves from the past (or none) to later than
    now, by cohort name: the schedule page asks before it is saved. An item not open
    is not given (`given_to`): until the new date its students no longer see it, nor
    their work on it, though the work is kept. Moving an opening earlier, or later when
    nobody has work on it, costs nothing. Four queries."""
    now = now or timezone.now()
    current = {a.cohort_id: a for a in Assignment.objects.filter(item=item)}
    later = {}
    for cohort, values in schedule.items():
        assignment = current.get(cohort.pk)
        opens = values.get("opens_at") if values else None
        if assignment is not None and assignment.is_open(now) and opens and opens > now:
            later[cohort.pk] = (cohort, opens)
    if not later:
        return []
    # Open after the change, for students who keep the item through another cohort.
    still_open = {pk for pk, a in current.items() if a.is_open(now)}
    for cohort, values in schedule.items():
        opens = values.get("opens_at") if values else None
        if values is None or (opens is not None and opens > now):
            still_open.discard(cohort.pk)
        else:
            still_open.add(cohort.pk)
    keeping = set(
        Membership.objects.filter(cohort__in=still_open - set(later)).values_list("user", flat=True)
    )
    begun = {WorkStatus.OPENED, WorkStatus.IN_PROGRESS, WorkStatus.SUBMITTED}
    work = {
        w.user_id: w
        for w in Work.objects.filter(item=item, user__memberships__cohort__in=list(later))
        .exclude(user__in=keeping)
        .select_related("user")
        if w.state in begun or _graded(w)
    }
    losing: dict[int, list[Work]] = {pk: [] for pk in later}
    for cohort_id, user_id in Membership.objects.filter(
        cohort__in=list(later), user__in=list(work)
    ).values_list("cohort", "user"):
        losing[cohort_id].append(work[user_id])
    costs = []
    for cohort_id, (cohort, opens) in sorted(later.items(), key=lambda kv: kv[1][0].name):
        if theirs := losing[cohort_id]:
            students = sorted(
                (w.user for w in theirs), key=lambda u: (u.display_name.lower(), u.username)
            )
            handed_in = sum(w.state == WorkStatus.SUBMITTED for w in theirs)
            costs.append(PutOff(cohort, opens, students, handed_in))
    return costs


class ExtensionTooEarly(ValueError):
    """An extension not later than a cohort's due date: it would extend nothing. The form
    says so first; this is for a date moved between the form's check and the grant."""


@transaction.atomic
def extensions_grant(
    *, item: ModuleItem, users, due_at, late_until=None, reason: str = "", by: User
) -> int:
    """Give each student a later due date (and cut-off) on every assignment of the item
    to a cohort of theirs; granting again replaces the earlier extension. Returns how
    many extensions were written. A date that is not later than one of those cohorts'
    due dates (or a cohort with none) extends nothing and is refused (ExtensionTooEarly):
    `ExtensionForm` says so beside the field first (`extension_too_early`). Each student
    already told of the item is told their new date (`extension_moved_notify`)."""
    assignments = Assignment.objects.filter(item=item, cohort__memberships__user__in=users)
    if assignments.not_extended_by(due_at).exists():
        raise ExtensionTooEarly("An extension must come after each of its cohorts' due dates.")
    pairs = list(assignments.values_list("pk", "cohort__memberships__user").distinct())
    given = {
        assignment.pk: assignment
        for assignment in Assignment.objects.filter(
            pk__in={assignment_id for assignment_id, _user in pairs}
        ).select_related("item__module__course")
    }
    # Each student's date before: their extension's, or else their cohort's.
    before = {
        (e.assignment_id, e.user_id): e.due_at
        for e in Extension.objects.filter(
            assignment__in=list(given), user__in={user_id for _a, user_id in pairs}
        )
    }
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
    # Work written after the cohort's date may now count (notes on a case, say).
    work_sync(item, {user_id for _a, user_id in pairs})
    # A later date may lift a late penalty from work already handed in.
    _grades_moved(item, user_ids={user_id for _a, user_id in pairs})
    moves = {
        (a, user_id): (before.get((a, user_id), given[a].due_at), due_at) for a, user_id in pairs
    }
    extension_moved_notify(given.values(), moves)
    return len(rows)


@transaction.atomic
def extension_remove(*, extension: Extension) -> None:
    """Take a student's extension back: the cohort's dates apply to them again, and
    they are told so."""
    extension.delete()
    attempts_deadline_sync(item_id=extension.assignment.item_id, user_ids=[extension.user_id])
    work_sync(extension.assignment.item, [extension.user_id])
    _grades_moved(extension.assignment.item, user_ids=[extension.user_id])
    assignment = extension.assignment
    moves = {(assignment.pk, extension.user_id): (extension.due_at, assignment.due_at)}
    extension_moved_notify([assignment], moves)


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


def students_due_dates(
    user_ids, *, items_of, now=None
) -> dict[int, dict[ModuleItem, datetime | None]]:
    """Each student's due date, as they see it, on each open item given to one of the
    cohorts `items_of` and to a cohort of theirs: their extension applied and, when two
    of their cohorts have it, the one due last (`due_last`, as `assignment_for_student`
    reads it). An item not given to them is absent. Three queries, whatever the number
    of students: what a move between sections changes is read before and after it."""
    now = now or timezone.now()
    ids = list(user_ids)
    cohorts_of: dict[int, set[int]] = defaultdict(set)
    for user_id, cohort_id in Membership.objects.filter(user__in=ids).values_list("user", "cohort"):
        cohorts_of[user_id].add(cohort_id)
    items = Assignment.objects.filter(cohort__in=list(items_of)).values("item")
    assignments = list(
        Assignment.objects.open(now)
        .filter(cohort__in=set().union(*cohorts_of.values()), item__in=items)
        .select_related("item__module__course")
    )
    extensions = {
        (e.assignment_id, e.user_id): e
        for e in Extension.objects.filter(user__in=ids, assignment__in=[a.pk for a in assignments])
    }
    dates = {}
    for user_id in ids:
        theirs: dict[ModuleItem, list[Assignment]] = defaultdict(list)
        for assignment in assignments:
            if assignment.cohort_id in cohorts_of[user_id]:
                extension = extensions.get((assignment.pk, user_id))
                theirs[assignment.item].append(with_extension(copy.copy(assignment), extension))
        dates[user_id] = {item: due_last(given).due_at for item, given in theirs.items()}
    return dates


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
