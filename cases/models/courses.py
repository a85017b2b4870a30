"""Courses, their ordered modules and the items those hold (a case reading, a quiz, a
discussion, ...): the kinds' own content is one-to-one to ModuleItem (see
docs/architecture.md)."""

from django.conf import settings
from django.db import models
from django.db.models import Count, Exists, OuterRef, Q, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone

from cases.compiled import compiled
from cases.models.cohorts import Cohort, Membership
from cases.models.schedule import Assignment
from cases.routes import route
from cases.timezones import zone_of


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
        return route("cases:course_detail", self.pk)

    @property
    def zone(self):
        """The zone its dates are shown in wherever they appear (`zone_of`): for a
        template that lists several courses' dates, each in its own course's zone."""
        return zone_of(self)


class Module(models.Model):
    course = models.ForeignKey(Course, on_delete=models.CASCADE, related_name="modules")
    title = models.CharField(max_length=200)
    summary = models.TextField(blank=True)
    position = models.PositiveIntegerField(default=0)
    # Any change to the row (`QuerySet.update()` and `bulk_update` must set it too): the
    # tracker's and gradebook's version, as the grids show the title and the order.
    updated_at = models.DateTimeField(auto_now=True)

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
    ANNOTATION = "annotation", "Annotation assignment"
    ANALYSIS = "analysis", "Written analysis"


# Each kind's own content, as `with_content` joins it.
KIND_CONTENT = {
    ItemKind.CASE_READING: ("case_reading__case",),
    ItemKind.QUIZ: ("quiz",),
    ItemKind.DISCUSSION: ("discussion__case",),
    ItemKind.STANCE_CHECK: ("stance_check",),
    ItemKind.DECISION: ("decision__reveals__follows",),
    ItemKind.SPECTRUM: ("spectrum",),
    ItemKind.LIVE_SESSION: ("live_class",),
    ItemKind.ANNOTATION: ("annotation_task__case",),
    ItemKind.ANALYSIS: ("analysis__case",),
}
# The one-to-one that holds each kind's content: `item.quiz`, `item.stance_check`, ...
KIND_FIELD = {kind: paths[0].split("__")[0] for kind, paths in KIND_CONTENT.items()}
# A case's text, which a discussion's page never shows (it names and links its case):
# left out of a discussion's access query, a few kilobytes each decompressed and sent.
CASE_TEXT = (
    "body",
    "body_html",
    "teaching_notes",
    "key_facts",
    "discussion_questions",
    "summary",
    "spectrum_justification",
    "source",
    "sources_note",
)
# The kinds whose case may have a part B (`_has_part_b`).
CASE_KINDS = (ItemKind.CASE_READING, ItemKind.ANNOTATION)
# A reader's progress on the case of an item of those kinds, joined by
# `with_content(kind, reader=...)` as `_progress_<field>`: what opening the reader reads
# first (`readings.progress_joined`).
PROGRESS_FIELDS = (
    *("id", "first_opened_at", "last_opened_at", "last_beat", "active_seconds"),
    *("last_paragraph", "done_at"),
)


class ModuleItemQuerySet(models.QuerySet):
    def with_content(self, kind: str | None = None, reader=None) -> "ModuleItemQuerySet":
        """Join each kind's own content, so showing an item costs one query; a reading
        or an annotation assignment also says whether its case has a part B
        (`_has_part_b`). Given the `kind` of the items, only that kind's content: a
        query a fifth as long, composed and planned in a third of the time (see
        `permissions.access_item`); pair with `ModuleItem.content_known`. A
        discussion's case comes without its text (`CASE_TEXT`). Given the kind of a
        reading or an annotation assignment and a `reader` (a user or their id), their
        progress on its case comes along (`PROGRESS_FIELDS`), a query fewer for the
        reader that opening it asks."""
        case_study = self.model._meta.apps.get_model("cases", "CaseStudy")
        kinds = [kind] if kind else list(KIND_CONTENT)
        paths = [path for k in kinds for path in KIND_CONTENT[k]]
        queryset = self.select_related("module", *paths, "rubric")
        if ItemKind.DISCUSSION in kinds:
            queryset = queryset.defer(*(f"discussion__case__{f}" for f in CASE_TEXT))
        if not any(k in CASE_KINDS for k in kinds):
            return queryset
        follows = [
            models.Q(follows=models.OuterRef(KIND_CONTENT[k][0])) for k in kinds if k in CASE_KINDS
        ]
        if kind and reader is not None:
            case = KIND_CONTENT[kind][0]
            queryset = queryset.annotate(
                _progress=models.FilteredRelation(
                    f"{case}__progress", condition=Q(**{f"{case}__progress__user": reader})
                ),
                **{f"_progress_{name}": models.F(f"_progress__{name}") for name in PROGRESS_FIELDS},
            )
        return queryset.annotate(
            _has_part_b=models.Exists(case_study.objects.filter(models.Q.create(follows, "OR")))
        )

    def neighbours_of(self, item: "ModuleItem", user, *, staff: bool) -> tuple:
        """The items before and after `item` in its module, as this user sees the module
        (a student only the items given to them): one query."""
        if staff:
            siblings = list(_siblings(module=item.module_id))
        else:
            siblings = list(_siblings_seen(module=item.module_id, user=user, now=timezone.now()))
        at = next((n for n, s in enumerate(siblings) if s.pk == item.pk), None)
        if at is None:
            return None, None
        return (
            siblings[at - 1] if at > 0 else None,
            siblings[at + 1] if at + 1 < len(siblings) else None,
        )

    def visible_to_student(self, user, now=None) -> "ModuleItemQuerySet":
        """Items given to one of the student's cohorts and open now (or at `now`).
        Unassigned items are drafts; an assignment that opens later hides its item until
        then."""
        return self.filter(
            Exists(Assignment.objects.open(now).for_student(user).filter(item=OuterRef("pk")))
        )


_SIBLING_FIELDS = ("pk", "title", "kind", "module_id")
# The model's order within one module: its own columns, with no join to the module and
# the course (whose order the model's `ordering` follows, the same for every sibling).
_IN_MODULE = ("position", "pk")


@compiled
def _siblings(module):
    return ModuleItem.objects.filter(module=module).only(*_SIBLING_FIELDS).order_by(*_IN_MODULE)


@compiled
def _siblings_seen(module, user, now):
    siblings = ModuleItem.objects.filter(module=module).visible_to_student(user, now)
    return siblings.only(*_SIBLING_FIELDS).order_by(*_IN_MODULE)


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
    # Any change to the row (`QuerySet.update()` and `bulk_update` must set it too): the
    # tracker's and gradebook's version, as the grids show the title, the order, the
    # category and the rubric.
    updated_at = models.DateTimeField(auto_now=True)

    objects = ModuleItemQuerySet.as_manager()

    class Meta:
        ordering = ["module", "position", "pk"]

    def __str__(self) -> str:
        return self.title

    def get_absolute_url(self) -> str:
        return route("cases:item_detail", self.pk)

    def content_known(self) -> None:
        """After `with_content(kind)`: the other kinds' content is known to be absent,
        as the full join would have found it, so asking for it costs no query."""
        for kind, name in KIND_FIELD.items():
            if kind != self.kind:
                field = self._meta.get_field(name)
                if not field.is_cached(self):
                    field.set_cached_value(self, None)


def content_model(kind: str) -> type[models.Model]:
    """The model of a kind's own content: `Quiz` for a quiz, `StanceCheck` for a stance
    check."""
    return ModuleItem._meta.get_field(KIND_FIELD[kind]).related_model
