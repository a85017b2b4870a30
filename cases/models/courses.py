import secrets

from django.conf import settings
from django.db import models
from django.db.models import Count, Exists, OuterRef, Q, Subquery
from django.db.models.functions import Coalesce
from django.db.models.query import ModelIterable
from django.urls import reverse
from django.utils import timezone

JOIN_CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"


def new_join_code() -> str:
    # No 0/O or 1/I: students type these codes from a projector.
    return "".join(secrets.choice(JOIN_CODE_ALPHABET) for _ in range(8))


class Cohort(models.Model):
    name = models.CharField(max_length=200)
    join_code = models.CharField(max_length=16, unique=True, default=new_join_code)
    members = models.ManyToManyField(
        settings.AUTH_USER_MODEL, through="Membership", related_name="cohorts", blank=True
    )
    # TAs who grade only this cohort's students; a TA with none grades every cohort.
    teaching_assistants = models.ManyToManyField(
        settings.AUTH_USER_MODEL, related_name="assisted_cohorts", blank=True
    )
    join_code_enabled = models.BooleanField(
        default=True, help_text="Off: nobody joins with the code until it is turned on."
    )
    join_code_expires_at = models.DateTimeField(
        null=True, blank=True, help_text="After this, the code no longer admits anyone."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    # An archived cohort (a past term) is kept with its members and work, out of lists.
    archived_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def join_code_open(self, now=None) -> bool:
        """Whether the join code admits students now."""
        now = now or timezone.now()
        return (
            self.join_code_enabled
            and self.archived_at is None
            and (self.join_code_expires_at is None or now < self.join_code_expires_at)
        )


class Membership(models.Model):
    cohort = models.ForeignKey(Cohort, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    joined_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["cohort", "user"], name="membership_once_per_cohort")
        ]

    def __str__(self) -> str:
        return f"{self.user} in {self.cohort}"


def _teaching(user) -> Q:
    through_instructors = Course.instructors.through.objects.filter(course=OuterRef("pk"))
    through_tas = Course.teaching_assistants.through.objects.filter(course=OuterRef("pk"))
    return Q(Exists(through_instructors.filter(user=user))) | Q(
        Exists(through_tas.filter(user=user))
    )


def _taking(user) -> Q:
    through_cohorts = Course.cohorts.through.objects.filter(course=OuterRef("pk"))
    return Q(Exists(through_cohorts.filter(cohort__memberships__user=user)))


class CourseQuerySet(models.QuerySet):
    def for_user(self, user) -> "CourseQuerySet":
        """Courses the user may open: all for admins, else those they teach, assist on or
        take through a cohort."""
        if not user.is_authenticated:
            return self.none()
        if user.is_staff:
            return self.all()
        return self.filter(_teaching(user) | _taking(user))

    def taught_by(self, user) -> "CourseQuerySet":
        """Courses where the user is an instructor or a teaching assistant."""
        return self.filter(_teaching(user))

    def taken_by(self, user) -> "CourseQuerySet":
        """Courses the user takes as a member of one of its cohorts."""
        return self.filter(_taking(user))

    def with_counts(self) -> "CourseQuerySet":
        """Annotate modules, cohorts and distinct students, each in its own subquery so
        the joins do not multiply one another."""
        students = (
            Membership.objects.filter(cohort__courses=OuterRef("pk"))
            .values("cohort__courses")
            .annotate(n=Count("user", distinct=True))
            .values("n")
        )
        modules = (
            Module.objects.filter(course=OuterRef("pk"))
            .values("course")
            .annotate(n=Count("pk"))
            .values("n")
        )
        cohorts = (
            Course.cohorts.through.objects.filter(course=OuterRef("pk"))
            .values("course")
            .annotate(n=Count("pk"))
            .values("n")
        )
        return self.annotate(
            student_count=Coalesce(Subquery(students), 0),
            module_count=Coalesce(Subquery(modules), 0),
            cohort_count=Coalesce(Subquery(cohorts), 0),
        )


class Course(models.Model):
    code = models.CharField(max_length=40, unique=True)
    title = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    instructors = models.ManyToManyField(
        settings.AUTH_USER_MODEL, related_name="courses_taught", blank=True
    )
    teaching_assistants = models.ManyToManyField(
        settings.AUTH_USER_MODEL, related_name="courses_assisted", blank=True
    )
    cohorts = models.ManyToManyField(Cohort, related_name="courses", blank=True)
    time_zone = models.CharField(
        max_length=64,
        default="UTC",
        help_text="Dates are stored in UTC and shown in this zone, e.g. Asia/Shanghai.",
    )

    objects = CourseQuerySet.as_manager()

    class Meta:
        ordering = ["code"]

    def __str__(self) -> str:
        return f"{self.code}: {self.title}"

    def get_absolute_url(self) -> str:
        return reverse("cases:course_detail", args=[self.pk])


class Module(models.Model):
    course = models.ForeignKey(Course, on_delete=models.CASCADE, related_name="modules")
    title = models.CharField(max_length=200)
    summary = models.TextField(blank=True)
    position = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["course", "position", "pk"]

    def __str__(self) -> str:
        return self.title


class ItemKind(models.TextChoices):
    """Every kind of thing a module can hold. A kind's content lives in its own model,
    joined one-to-one to ModuleItem; see docs/architecture.md."""

    CASE_READING = "case_reading", "Case reading"
    QUIZ = "quiz", "Quiz"
    DISCUSSION = "discussion", "Discussion"
    STANCE_CHECK = "stance_check", "Stance check"
    DECISION = "decision", "Decision point"
    SPECTRUM = "spectrum", "Spectrum exercise"
    LIVE_SESSION = "live_session", "Live session"


class ModuleItemQuerySet(models.QuerySet):
    def with_content(self) -> "ModuleItemQuerySet":
        """Join each kind's own content, so showing an item costs one query."""
        return self.select_related(
            "module",
            "case_reading__case",
            "quiz",
            "discussion__case",
            "stance_check",
            "decision",
            "spectrum",
            "live_class",
        )

    def visible_to_student(self, user) -> "ModuleItemQuerySet":
        """Items given to one of the student's cohorts and open now. Unassigned items
        are drafts; an assignment that opens later hides its item until then."""
        return self.filter(
            Exists(Assignment.objects.open().for_student(user).filter(item=OuterRef("pk")))
        )


class ModuleItem(models.Model):
    module = models.ForeignKey(Module, on_delete=models.CASCADE, related_name="items")
    kind = models.CharField(max_length=20, choices=ItemKind.choices)
    title = models.CharField(max_length=200)
    instructions = models.TextField(blank=True, help_text="Markdown, shown above the item.")
    position = models.PositiveIntegerField(default=0)
    grade_category = models.ForeignKey(
        "GradeCategory", null=True, blank=True, on_delete=models.SET_NULL, related_name="items"
    )
    rubric = models.ForeignKey(
        "Rubric", null=True, blank=True, on_delete=models.SET_NULL, related_name="items"
    )

    objects = ModuleItemQuerySet.as_manager()

    class Meta:
        ordering = ["module", "position", "pk"]

    def __str__(self) -> str:
        return self.title

    def get_absolute_url(self) -> str:
        return reverse("cases:item_detail", args=[self.pk])


class LatePolicy(models.TextChoices):
    ACCEPT = "accept", "Accept late work"
    PENALIZE = "penalize", "Accept with a penalty"
    REFUSE = "refuse", "Refuse late work"


class ExtendedAssignmentIterable(ModelIterable):
    """Assignments from `seen_by`, with the student's extension put in place."""

    def __iter__(self):
        for assignment in super().__iter__():
            if assignment._extension is not None:
                assignment.due_at = assignment._extended_due_at
                assignment.late_until = assignment._extended_late_until
                assignment.extended = True
            yield assignment


class AssignmentQuerySet(models.QuerySet):
    def for_student(self, user) -> "AssignmentQuerySet":
        return self.filter(cohort__memberships__user=user)

    def seen_by(self, user) -> "AssignmentQuerySet":
        """The student's assignments as they see them: each comes back with its due date
        and cut-off replaced by the student's extension, when they have one (marked
        `extended`). The extension rides on the same query."""
        from cases.models.work import Extension

        extension = Extension.objects.filter(assignment=OuterRef("pk"), user=user)
        queryset = self.for_student(user).annotate(
            _extension=Subquery(extension.values("pk")[:1]),
            _extended_due_at=Subquery(extension.values("due_at")[:1]),
            _extended_late_until=Subquery(extension.values("late_until")[:1]),
            # The student's due date, for filtering and ordering in SQL.
            student_due_at=Coalesce("_extended_due_at", "due_at"),
        )
        queryset._iterable_class = ExtendedAssignmentIterable
        return queryset

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

    item = models.ForeignKey(ModuleItem, on_delete=models.CASCADE, related_name="assignments")
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
