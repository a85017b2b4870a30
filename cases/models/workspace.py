"""One student's work on one item, whatever its kind, how it is graded, and where the
student stands on it.

`Work` is written by the item kinds' services whenever a student's work changes state
(`cases.services.workspace.work.work_sync`), so every page reads one table instead of joining
every kind's own. A person's part of the grade (override, rubric, comment, excused)
lives on the same row and is never touched by a sync.

Where a student stands is `work_status`: the one definition the dashboard, the course
page, the deadlines, the tracker, the gradebook and the reminders all read.
"""

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Exists, OuterRef, Q
from django.dispatch import Signal
from django.utils import timezone

from cases.models.courses import Course, ItemKind, ModuleItem
from cases.models.quizzes import results_released
from cases.models.schedule import Assignment, takes_work_until


class WorkStatus(models.TextChoices):
    """Where a student stands on one assigned item. `Work.state` stores the first four
    (the student's own progress, kept by work_sync); the last three follow from it, the
    student's due date and a person's grading."""

    NOT_STARTED = "not_started", "Not started"
    OPENED = "opened", "Opened"
    IN_PROGRESS = "in_progress", "In progress"
    SUBMITTED = "submitted", "Handed in"
    LATE = "late", "Late"  # Past the (extended) due date with nothing handed in.
    GRADED = "graded", "Graded"
    EXCUSED = "excused", "Excused"


# What Work.state holds: the student's own progress.
PROGRESS = [WorkStatus.NOT_STARTED, WorkStatus.OPENED, WorkStatus.IN_PROGRESS, WorkStatus.SUBMITTED]


# Statuses that still ask something of the student.
UNFINISHED = {WorkStatus.NOT_STARTED, WorkStatus.OPENED, WorkStatus.IN_PROGRESS, WorkStatus.LATE}


# How "handed in" reads for each kind, on the student's own pages.
HANDED_IN_LABELS = {
    ItemKind.CASE_READING: "Done",
    ItemKind.QUIZ: "Submitted",
    ItemKind.DISCUSSION: "Posted",
    ItemKind.STANCE_CHECK: "Answered",
    ItemKind.DECISION: "Committed",
    ItemKind.SPECTRUM: "Placed",
    ItemKind.LIVE_SESSION: "Attended",
    ItemKind.ANNOTATION: "Annotated",
    ItemKind.ANALYSIS: "Handed in",
}


def _persons_score(work: "Work") -> bool:
    """A person's score is on the row: rubric levels, or points for the whole (a
    participation grade, posted or not; a memo's points), which the kind keeps with
    no maximum of its own."""
    return work.rubric_score is not None or (work.auto_score is not None and work.max_score is None)


def is_graded(work: "Work | None") -> bool:
    """A grade a student could be shown: a person's, or the kind's own once nothing
    waits for a person."""
    if work is None:
        return False
    if work.override_score is not None:
        return True
    # A person's rubric score or points stand, unless the work changed since and waits
    # for a person again (`graded_earlier`).
    if _persons_score(work):
        return not work.needs_grading
    return (
        work.state == WorkStatus.SUBMITTED
        and work.auto_score is not None
        and not work.needs_grading
    )


def graded_earlier(work: "Work | None") -> bool:
    """Graded by a person, then handed in again and waiting for a person once more (a
    memo revised after its grade, a thread posted in after the student's participation
    was graded): the score on the row is the earlier version's, not
    a grade of the work as it stands (`is_graded`), so the status is "handed in" and
    the gradebook leaves it out until a person grades it again. Every page shows that
    score only as the earlier one, beside "to grade" (`earlier_points`); an override
    and excused work stand whatever is handed in."""
    return (
        work is not None
        and work.needs_grading
        and work.override_score is None
        and not work.excused
        and _persons_score(work)
    )


def grade_released(assignment: Assignment | None, item: ModuleItem, now=None) -> bool:
    """Whether a student sees their grade (and comment) on an item: their assignment of
    it as they see it (`Assignment.objects.seen_by`: the cohort's release, or one held
    for them) has its grades released, and, on a quiz, the quiz's own rule shows them
    their score by now (`results_released`: never, or not before their due date). The
    one answer for every page of the student's (their grades and course total, an
    item's page, a memo's feedback), what they are told and what an LMS is sent; the
    staff see every grade whatever it says. Reads `item.quiz` for a quiz only."""
    if assignment is None or assignment.grades_released_at is None:
        return False
    quiz = getattr(item, "quiz", None) if item.kind == ItemKind.QUIZ else None
    return quiz is None or results_released(quiz, assignment.due_at, now or timezone.now())


# What `work_status` and `handed_in_late` read of a Work row.
STATUS_FIELDS = [
    *("item_id", "state", "submitted_at", "auto_score", "max_score", "needs_grading"),
    *("rubric_score", "override_score", "excused"),
]


def work_status(work: "Work | None", assignment: Assignment, now) -> WorkStatus:
    """Where the student stands, from their Work row (None: nothing yet) and their own
    assignment of the item: the cohort's dates with any extension of theirs applied
    (`Assignment.objects.seen_by`, `with_extension`). Handed in late is not a status
    but a mark beside it (`handed_in_late`)."""
    if work is not None and work.excused:
        return WorkStatus.EXCUSED
    if is_graded(work):
        return WorkStatus.GRADED
    if work is not None and work.state == WorkStatus.SUBMITTED:
        return WorkStatus.SUBMITTED
    if scored_as_it_stands(work, assignment, now):
        return WorkStatus.GRADED
    if assignment.is_past_due(now):
        return WorkStatus.LATE
    if work is None:
        return WorkStatus.NOT_STARTED
    return WorkStatus(work.state)


def scored_as_it_stands(work: "Work | None", assignment: Assignment, now) -> bool:
    """Work the kind scores as it goes, short of a hand-in (notes on a case: the share
    of the notes asked that were written, `_annotation`), once the student's assignment
    takes no more of it (`takes_work_until`: its cut-off, or its due date under "refuse
    late work"): nothing can change it now, so its score is its grade (`work_points`),
    on every page, as a hand-in's would be. Before then it is in progress (late once
    past due, as other work is); with nothing that scores, late."""
    if work is None or work.state == WorkStatus.SUBMITTED or work.needs_grading:
        return False
    if not (work.auto_score and work.max_score):
        return False
    ends = takes_work_until(assignment)
    return ends is not None and now > ends


def after_due(moment, assignment: Assignment | None) -> bool:
    """Whether something handed in at `moment` is late: after the student's due date as
    it stands (their extension applied). The one rule of "late" on every page, so that
    moving a date or granting an extension after the fact moves every late mark alike."""
    return bool(
        moment and assignment is not None and assignment.due_at and moment > assignment.due_at
    )


def handed_in_late(work: "Work | None", assignment: Assignment) -> bool:
    """Handed in after the (extended) due date: for a quiz, the attempt that counts."""
    return work is not None and after_due(work.submitted_at, assignment)


def attempts_late(attempts, assignment: Assignment | None) -> None:
    """Mark each attempt late or not by `after_due`, for the pages that list attempts:
    the flag an attempt stored as it closed says what was known then, and a date moved
    or an extension granted since would leave it saying otherwise than the tracker."""
    for attempt in attempts:
        attempt.late = after_due(attempt.submitted_at, assignment)


# Kinds scored for completion: handing in is the grade, so "graded" says nothing more.
COMPLETION_KINDS = {
    ItemKind.CASE_READING,
    ItemKind.STANCE_CHECK,
    ItemKind.DECISION,
    ItemKind.SPECTRUM,
    ItemKind.LIVE_SESSION,
    ItemKind.ANNOTATION,
}


def status_label(status: str, kind: str, work: "Work | None" = None) -> str:
    """The status as the student reads it: "handed in" in the kind's own words, and so
    is "graded" where handing in was the grade (a case read is "Done"); but "graded"
    of work never handed in (notes short of the number asked, `scored_as_it_stands`)."""
    handed_in = work is None or work.state == WorkStatus.SUBMITTED
    completed = status == WorkStatus.GRADED and kind in COMPLETION_KINDS and handed_in
    if status == WorkStatus.SUBMITTED or completed:
        return HANDED_IN_LABELS.get(kind, WorkStatus.SUBMITTED.label)
    return WorkStatus(status).label


class WorkQuerySet(models.QuerySet):
    def waiting_for_grader(self):
        """Work a person must still grade: short answers or participation to grade, or
        handed in on an item with a rubric and not yet scored. Excused work waits for
        nobody, nor work on an item no longer given to its student (taken away from
        their cohort: kept, but out of the tracker until it is given back). The grading
        queue, the Teaching page and the grader's "Save and next" all ask this."""
        rubric_unscored = Q(
            item__rubric__isnull=False, state=WorkStatus.SUBMITTED, rubric_score__isnull=True
        )
        given = Assignment.objects.filter(
            item=OuterRef("item"), cohort__memberships__user=OuterRef("user")
        )
        return (
            self.filter(excused=False)
            .filter(Q(needs_grading=True) | rubric_unscored)
            .filter(Exists(given))
        )


class Work(models.Model):
    item = models.ForeignKey(ModuleItem, on_delete=models.CASCADE, related_name="work")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="work"
    )
    # The student's part, kept in step with the kind's own tables by work_sync.
    state = models.CharField(
        max_length=12,
        choices=[(status.value, status.label) for status in PROGRESS],
        default=WorkStatus.NOT_STARTED,
    )
    opened_at = models.DateTimeField(null=True, blank=True)
    submitted_at = models.DateTimeField(null=True, blank=True)
    auto_score = models.DecimalField(max_digits=8, decimal_places=2, null=True, blank=True)
    # None means the score is already in the assignment's points (a participation grade).
    max_score = models.DecimalField(max_digits=8, decimal_places=2, null=True, blank=True)
    needs_grading = models.BooleanField(default=False)
    # A person's part.
    rubric_levels = models.JSONField(default=dict, blank=True)
    rubric_score = models.DecimalField(max_digits=8, decimal_places=2, null=True, blank=True)
    # The rubric levels are the median of peer reviews ("use peer scores"), not chosen by
    # a person on the staff: calibration must not compare reviewers with them. A default
    # in the database too: `sql.reading_work_upsert` inserts rows without the ORM.
    rubric_from_peers = models.BooleanField(default=False, db_default=False)
    override_score = models.DecimalField(max_digits=8, decimal_places=2, null=True, blank=True)
    override_reason = models.CharField(max_length=300, blank=True)
    feedback = models.TextField(blank=True, help_text="Shown to the student with the grade.")
    excused = models.BooleanField(default=False)
    graded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    graded_at = models.DateTimeField(null=True, blank=True)
    # Any change to the row: the tracker's ETag (each item's latest, by index).
    updated_at = models.DateTimeField(auto_now=True)

    objects = WorkQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["item", "user"], name="work_once_per_item"),
            models.CheckConstraint(
                condition=Q(override_score__isnull=True) | ~Q(override_reason=""),
                name="work_override_has_reason",
            ),
        ]
        indexes = [
            models.Index(fields=["user", "item"]),
            models.Index(fields=["item", "updated_at"], name="work_item_updated"),
        ]
        verbose_name_plural = "work"

    def __str__(self) -> str:
        return f"{self.user} on {self.item}"


class Rubric(models.Model):
    """Criteria, each with levels worth points; reusable across a course's items.

    `criteria` is a list of {"name": str, "levels": [{"label": str, "points": number}]}.
    """

    course = models.ForeignKey(Course, on_delete=models.CASCADE, related_name="rubrics")
    title = models.CharField(max_length=200)
    criteria = models.JSONField(default=list)
    # Any change to the row: the tracker's and gradebook's version, as a level's points
    # move the points of every score on it (out of the rubric's maximum).
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["course", "title"]

    def __str__(self) -> str:
        return self.title

    @property
    def max_points(self) -> Decimal:
        return sum(
            (max(Decimal(str(level["points"])) for level in c["levels"]) for c in self.criteria),
            Decimal(0),
        )


# Sent after the grades of some students for an item may have changed (work synced from
# the kind's own tables, or a person's grade saved): item=, user_ids=. The LTI link
# listens, to send the grades to an LMS gradebook (cases/services/lti.py).
work_changed = Signal()
