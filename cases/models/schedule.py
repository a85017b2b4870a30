"""The schedule: an item given to a cohort with its dates and late policy
(Assignment), and one student's later dates (Extension). `Assignment.objects.seen_by`
and `with_extension` give an assignment as one student sees it."""

from django.conf import settings
from django.db import models
from django.db.models import Exists, F, FilteredRelation, Q
from django.db.models.functions import Coalesce
from django.db.models.query import ModelIterable
from django.utils import timezone

from cases.compiled import compiled
from cases.models.cohorts import Cohort


class LatePolicy(models.TextChoices):
    ACCEPT = "accept", "Accept late work"
    PENALIZE = "penalize", "Accept with a penalty"
    REFUSE = "refuse", "Refuse late work"


def later_cut_off(extended, cohorts):
    """A student's cut-off under an extension: the later of the extension's and the
    cohort's, no cut-off (None) being the latest. An extension gives more time, never
    less: one granted with an earlier cut-off than the cohort's, or whose cohort's
    cut-off was moved past it since, would refuse its student's late work that their
    classmates may still hand in."""
    if extended is None or cohorts is None:
        return None
    return max(extended, cohorts)


class ExtendedAssignmentIterable(ModelIterable):
    """Assignments from `seen_by`, with the student's extension and any release held
    for them (`HeldRelease`) put in place."""

    def __iter__(self):
        for assignment in super().__iter__():
            # Unless the query left the release out (`only()`: a page showing no grades).
            if assignment.__dict__.get("grades_released_at", False) is None:
                assignment.grades_released_at = assignment._held_released_at
            if assignment._extended_due_at is not None:
                assignment.due_at = assignment._extended_due_at
                assignment.late_until = later_cut_off(
                    assignment._extended_late_until, assignment.late_until
                )
                assignment.extended = True
            yield assignment


class AssignmentQuerySet(models.QuerySet):
    def for_student(self, user) -> "AssignmentQuerySet":
        return self.filter(cohort__memberships__user=user)

    def seen_by(self, user) -> "AssignmentQuerySet":
        """The student's assignments as they see them: each comes back with its due date
        and cut-off replaced by the student's extension, when they have one (marked
        `extended`), and released to them when a release they were shown in a section
        they have left holds for them (`HeldRelease`). Whether a student sees their
        grade on an item is this `grades_released_at`, the one answer every page of
        theirs reads. The extension and the release ride on the same query."""
        # Outer joins: a student has at most one extension and one held release per
        # assignment.
        queryset = self.for_student(user).annotate(
            _extension=FilteredRelation("extensions", condition=Q(extensions__user=user)),
            _extended_due_at=F("_extension__due_at"),
            _extended_late_until=F("_extension__late_until"),
            _held=FilteredRelation("held_releases", condition=Q(held_releases__user=user)),
            _held_released_at=F("_held__released_at"),
            # The student's due date, for filtering and ordering in SQL.
            student_due_at=Coalesce("_extension__due_at", "due_at"),
        )
        queryset._iterable_class = ExtendedAssignmentIterable
        return queryset

    def not_extended_by(self, due_at) -> "AssignmentQuerySet":
        """Those an extension to `due_at` would not extend: due then or later, or with no
        due date at all. An extension gives a student a later date than their cohort's,
        never an earlier one nor a first one. `Extension.extends` is its twin for one
        extension."""
        return self.filter(Q(due_at__isnull=True) | Q(due_at__gte=due_at))

    def open(self, now=None) -> "AssignmentQuerySet":
        now = now or timezone.now()
        return self.filter(Q(opens_at__isnull=True) | Q(opens_at__lte=now))

    def upcoming(self, since=None) -> "AssignmentQuerySet":
        """Open now and due after `since` (default now) or with no due date, soonest
        first."""
        since = since or timezone.now()
        return (
            self.open()
            .filter(Q(due_at__isnull=True) | Q(due_at__gte=since))
            .order_by(models.F("due_at").asc(nulls_last=True), "pk")
        )


class Assignment(models.Model):
    """An item given to one cohort, with that cohort's dates. The same item may be given
    to several cohorts on different dates."""

    item = models.ForeignKey("ModuleItem", on_delete=models.CASCADE, related_name="assignments")
    cohort = models.ForeignKey(Cohort, on_delete=models.CASCADE, related_name="assignments")
    opens_at = models.DateTimeField(null=True, blank=True)
    due_at = models.DateTimeField(null=True, blank=True)
    points = models.PositiveIntegerField(default=10)
    late_policy = models.CharField(
        max_length=10, choices=LatePolicy.choices, default=LatePolicy.ACCEPT
    )
    late_penalty_percent = models.PositiveSmallIntegerField(
        default=0, help_text="Percent of the points taken off per day late."
    )
    late_until = models.DateTimeField(
        null=True, blank=True, help_text="Cut-off: late work is accepted until then."
    )
    grades_released_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = AssignmentQuerySet.as_manager()
    # True on an assignment as one student sees it when their extension moved its dates.
    extended = False

    class Meta:
        ordering = ["due_at", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["item", "cohort"], name="assignment_once_per_cohort"),
            models.CheckConstraint(
                condition=Q(opens_at__isnull=True)
                | Q(due_at__isnull=True)
                | Q(due_at__gt=models.F("opens_at")),
                name="assignment_due_after_open",
            ),
            models.CheckConstraint(
                condition=Q(late_penalty_percent__lte=100), name="assignment_penalty_percent"
            ),
            models.CheckConstraint(
                condition=Q(late_until__isnull=True)
                | (Q(due_at__isnull=False) & Q(late_until__gte=models.F("due_at"))),
                name="assignment_cutoff_after_due",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.item} for {self.cohort}"

    def is_open(self, now=None) -> bool:
        now = now or timezone.now()
        return self.opens_at is None or self.opens_at <= now

    def is_past_due(self, now=None) -> bool:
        now = now or timezone.now()
        return self.due_at is not None and now > self.due_at


class ExtensionQuerySet(models.QuerySet):
    def extending_nothing(self) -> "ExtensionQuerySet":
        """Those not later than their cohort's due date, or whose cohort has none
        (`Extension.extends` is false): after the cohort's date was moved past them."""
        return self.filter(
            Q(assignment__due_at__isnull=True) | Q(assignment__due_at__gte=F("due_at"))
        )


class Extension(models.Model):
    """A later due date (and cut-off) for one student on one assignment."""

    assignment = models.ForeignKey(Assignment, on_delete=models.CASCADE, related_name="extensions")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="extensions"
    )
    due_at = models.DateTimeField()
    late_until = models.DateTimeField(null=True, blank=True)
    reason = models.CharField(max_length=300, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    updated_at = models.DateTimeField(auto_now=True)

    objects = ExtensionQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["assignment", "user"], name="extension_once"),
            models.CheckConstraint(
                condition=Q(late_until__isnull=True) | Q(late_until__gte=models.F("due_at")),
                name="extension_cutoff_after_due",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user}: {self.assignment} due {self.due_at:%Y-%m-%d}"

    @property
    def cut_off(self):
        """Its student's cut-off on the assignment (`later_cut_off`)."""
        return later_cut_off(self.late_until, self.assignment.late_until)

    @property
    def extends(self) -> bool:
        """Whether it is later than its cohort's due date (the twin of
        `extending_nothing` and `not_extended_by`): one that is not gives its student
        an earlier date, or a first one. None is granted or kept so (`extensions_grant`,
        `assignments_schedule`); one from before that rule is flagged on the schedule
        page."""
        due = self.assignment.due_at
        return due is not None and self.due_at > due


class HeldRelease(models.Model):
    """The grades of an item released to one student in a section they have since left,
    held for them on their new section's assignment of the item: a grade they were
    shown stays shown (`seen_by`), whether or not the new section's grades are released
    yet. Written when a student is moved (`releases_follow`), as their extensions
    follow them."""

    assignment = models.ForeignKey(
        Assignment, on_delete=models.CASCADE, related_name="held_releases"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="held_releases"
    )
    # When the release they were shown was made.
    released_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["assignment", "user"], name="held_release_once"),
        ]

    def __str__(self) -> str:
        return f"{self.user}: {self.assignment} released {self.released_at:%Y-%m-%d}"


class Accommodation(models.Model):
    """More time on one student's timed quizzes in one course: a multiplier of each
    quiz's time limit (x1.5), extra minutes (+30), or both (the multiplier first).
    Untimed quizzes and the item's due date and cut-off are not changed by it: an
    attempt still ends when the assignment stops taking work."""

    course = models.ForeignKey("cases.Course", on_delete=models.CASCADE, related_name="+")
    student = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="accommodations"
    )
    extra_minutes = models.PositiveSmallIntegerField(null=True, blank=True)
    time_multiplier = models.DecimalField(max_digits=3, decimal_places=2, null=True, blank=True)
    reason = models.CharField(max_length=300, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["course", "student"], name="accommodation_once"),
            models.CheckConstraint(
                condition=Q(extra_minutes__isnull=False) | Q(time_multiplier__isnull=False),
                name="accommodation_gives_time",
            ),
            models.CheckConstraint(
                condition=Q(time_multiplier__isnull=True) | Q(time_multiplier__gte=1),
                name="accommodation_multiplier_at_least_one",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.student}: {self.label} in {self.course_id}"

    @property
    def label(self) -> str:
        """Times 1.5 written with the multiplication sign, "+30 min", or both."""
        parts = []
        if self.time_multiplier is not None:
            parts.append(f"\N{MULTIPLICATION SIGN}{self.time_multiplier.normalize():f}")
        if self.extra_minutes:
            parts.append(f"+{self.extra_minutes} min")
        return " ".join(parts)

    def minutes(self, limit: int) -> int:
        """A time limit of `limit` minutes with this accommodation (rounded up)."""
        longer = limit
        if self.time_multiplier is not None:
            longer = -(-(limit * self.time_multiplier) // 1)
        return int(longer) + (self.extra_minutes or 0)


def time_limit_minutes(limit: int | None, accommodation: "Accommodation | None") -> int | None:
    """One student's time limit on a quiz: the quiz's, stretched by their accommodation
    in the quiz's course. None for an untimed quiz (it stays untimed)."""
    if not limit or accommodation is None:
        return limit
    return accommodation.minutes(limit)


def with_extension(assignment: Assignment, extension: "Extension | None") -> Assignment:
    """The assignment as one student sees it: an extension replaces its due date, and
    its cut-off when later (`later_cut_off`). Returns the same object, changed in memory
    only."""
    if extension is not None:
        assignment.due_at = extension.due_at
        assignment.late_until = later_cut_off(extension.late_until, assignment.late_until)
        assignment.extended = True
    return assignment


def assignment_for_student(item_id: int, user) -> Assignment | None:
    """The student's assignment of an item, as they see it (their extension applied);
    with two cohorts, the one due last. One query."""
    return due_last(_student_assignments(item=item_id, user=user))


@compiled
def _student_assignments(item, user):
    return Assignment.objects.seen_by(user).filter(item=item)


def given_to(user, item, now=None) -> Exists:
    """Whether the item is given to the student (an assignment, open at `now`, to a
    cohort of theirs), as an expression: `user` and `item` are ids or OuterRefs. What a
    student's access to an item asks (`items_with_access`), and so to their attempts at
    a quiz: taken away from their cohort, or the student moved out of it, the quiz is
    no longer theirs to answer, hand in or read results of."""
    return Exists(Assignment.objects.open(now).for_student(user).filter(item=item))


def due_last(assignments) -> Assignment | None:
    """Of one item's assignments to a student's cohorts, the one due last (no due date
    counts as last): the student's own, when two of their cohorts are given the item."""
    return max(
        assignments,
        key=lambda a: (a.due_at is None, a.due_at or timezone.now()),
        default=None,
    )


def takes_work_until(assignment: Assignment | None):
    """When the student's assignment (as `seen_by` gives it) stops taking work, by
    `refusal`'s rule: its cut-off, or under "refuse late work" its due date; None while
    it takes work whenever it is handed in. What a kind whose work is written anyway
    (notes on a case) counts up to."""
    if assignment is None:
        return None
    ends = [assignment.late_until]
    if assignment.late_policy == LatePolicy.REFUSE:
        ends.append(assignment.due_at)
    return min((end for end in ends if end is not None), default=None)


def refusal(assignment: Assignment | None, now) -> str | None:
    """Why the student may not hand in work now, or None if they may."""
    if assignment is None:
        return None
    if not assignment.is_open(now):
        return "This is not open yet."
    if assignment.late_until is not None and now > assignment.late_until:
        return "The cut-off for late work has passed."
    if assignment.late_policy == LatePolicy.REFUSE and assignment.is_past_due(now):
        return "This was due and no longer accepts work."
    return None
