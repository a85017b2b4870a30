"""Where a student stands on each piece of assigned work, whatever its kind: the one
definition the dashboard (and the response tracker) read."""

from django.db import models
from django.db.models import Exists, OuterRef, Subquery

from cases.models.courses import Assignment, ItemKind
from cases.models.discussions import Post
from cases.models.quizzes import Attempt, AttemptState
from cases.models.readings import ReadingProgress
from cases.models.work import Work


class WorkStatus(models.TextChoices):
    NOT_STARTED = "not_started", "Not started"
    OPENED = "opened", "Opened"
    IN_PROGRESS = "in_progress", "In progress"
    DONE = "done", "Done"
    SUBMITTED = "submitted", "Submitted"
    POSTED = "posted", "Posted"
    LATE = "late", "Late"


def with_student_work(assignments, user):
    """Annotate assignments with the student's work on their items, in the same query:
    reading opened and done, quiz submitted or in progress, first post."""
    progress = ReadingProgress.objects.filter(user=user, case__readings__item=OuterRef("item"))
    attempts = Attempt.objects.filter(user=user, quiz__item=OuterRef("item"))
    posts = Post.objects.filter(
        author=user, discussion__item=OuterRef("item"), deleted_at__isnull=True
    )
    own_work = Work.objects.filter(user=user, item=OuterRef("item"))
    return assignments.annotate(
        work_opened=Exists(progress),
        work_done_at=Subquery(progress.values("done_at")[:1]),
        work_submitted_at=Subquery(
            attempts.filter(state=AttemptState.SUBMITTED)
            .order_by("submitted_at")
            .values("submitted_at")[:1]
        ),
        work_in_progress=Exists(attempts.filter(state=AttemptState.IN_PROGRESS)),
        work_first_post_at=Subquery(posts.order_by("created_at").values("created_at")[:1]),
        # Every other kind reports through its Work row (cases/services/work.py).
        work_state=Subquery(own_work.values("state")[:1]),
        work_handed_in_at=Subquery(own_work.values("submitted_at")[:1]),
    )


def work_status(assignment: Assignment, now) -> WorkStatus:
    """Not started, opened or in progress, done / submitted / posted, or late (finished
    after the due date, or not finished by it). Needs `with_student_work`."""
    kind = assignment.item.kind
    finished_at = {
        ItemKind.CASE_READING: assignment.work_done_at,
        ItemKind.QUIZ: assignment.work_submitted_at,
        ItemKind.DISCUSSION: assignment.work_first_post_at,
    }.get(kind, assignment.work_handed_in_at)
    if finished_at is not None:
        if assignment.due_at is not None and finished_at > assignment.due_at:
            return WorkStatus.LATE
        return {
            ItemKind.CASE_READING: WorkStatus.DONE,
            ItemKind.QUIZ: WorkStatus.SUBMITTED,
            ItemKind.DISCUSSION: WorkStatus.POSTED,
        }.get(kind, WorkStatus.DONE)
    if assignment.is_past_due(now):
        return WorkStatus.LATE
    if kind == ItemKind.CASE_READING and assignment.work_opened:
        return WorkStatus.OPENED
    if kind == ItemKind.QUIZ and assignment.work_in_progress:
        return WorkStatus.IN_PROGRESS
    if assignment.work_state in ("opened", "in_progress") and kind not in (
        ItemKind.CASE_READING,
        ItemKind.QUIZ,
    ):
        return WorkStatus.IN_PROGRESS
    return WorkStatus.NOT_STARTED
