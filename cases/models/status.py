"""Where a student stands on each piece of assigned work, whatever its kind: the one
definition the dashboard reads."""

import functools
from datetime import timedelta

from django.db import connection, models

from cases.models.courses import Assignment, Course, ItemKind, Membership, Module, ModuleItem
from cases.models.discussions import Discussion, Post
from cases.models.quizzes import Attempt, AttemptState, Quiz
from cases.models.readings import CaseReading, ReadingProgress
from cases.models.work import Work
from cases.sql import tables


class WorkStatus(models.TextChoices):
    NOT_STARTED = "not_started", "Not started"
    OPENED = "opened", "Opened"
    IN_PROGRESS = "in_progress", "In progress"
    DONE = "done", "Done"
    SUBMITTED = "submitted", "Submitted"
    POSTED = "posted", "Posted"
    LATE = "late", "Late"


# The columns of `due_work`'s query, in order.
_DUE_WORK_ROW = (
    "part",  # 0: upcoming, 1: fell due recently.
    "item_id",
    "kind",
    "title",
    "module_title",
    "course_code",
    "due_at",
    "work_opened",
    "work_done_at",
    "work_submitted_at",
    "work_in_progress",
    "work_first_post_at",
    "work_state",
    "work_handed_in_at",
)


class DueWork:
    """One assignment on a student's dashboard, with what the row shows of its item and
    the student's work on it: what `work_status` reads."""

    __slots__ = (*_DUE_WORK_ROW, "status", "url")

    def __init__(self, row):
        for name, value in zip(_DUE_WORK_ROW, row, strict=True):
            setattr(self, name, value)
        self.status = self.url = None

    @property
    def kind_label(self) -> str:
        return ItemKind(self.kind).label


def due_work(user, now, *, limit: int, recent: timedelta) -> tuple[list, list]:
    """The student's open assignments due from `now` on (or undated), soonest first, and
    those that fell due in the `recent` time before `now`, latest first, at most `limit`
    of each, every one with the student's work on its item (reading opened and done,
    quiz submitted or in progress, first post, and the Work row every other kind reports
    through, cases/services/work.py): one query in plain SQL, since composing it through
    the ORM cost the dashboard 6 ms of Python."""
    at = connection.ops.adapt_datetimefield_value
    user_params = [user.pk] * 7
    params = [
        *user_params,
        user.pk,
        at(now),
        at(now),
        limit,
        *user_params,
        user.pk,
        at(now),
        at(now),
        at(now - recent),
        limit,
    ]
    with connection.cursor() as cursor:
        cursor.execute(_due_work_sql(), params)
        rows = cursor.fetchall()
    converters = _datetime_converters()
    found = ([], [])
    for row in rows:
        work = DueWork(row)
        for name in _DATETIMES:
            value = getattr(work, name)
            for function, col in converters:
                value = function(value, col, connection)
            setattr(work, name, value)
        work.work_opened = bool(work.work_opened)  # SQLite answers 0 or 1.
        work.work_in_progress = bool(work.work_in_progress)
        found[work.part].append(work)
    return found


_DATETIMES = (
    "due_at",
    "work_done_at",
    "work_submitted_at",
    "work_first_post_at",
    "work_handed_in_at",
)


@functools.cache
def _datetime_converters() -> list:
    """The database's converters of a datetime column's values (SQLite reads text)."""
    col = Assignment._meta.get_field("due_at").get_col("a")
    return [
        (function, col)
        for function in connection.ops.get_db_converters(col) + col.get_db_converters(connection)
    ]


@functools.cache
def _due_work_sql() -> str:
    table = tables(
        Assignment,
        Membership,
        ModuleItem,
        Module,
        Course,
        ReadingProgress,
        CaseReading,
        Attempt,
        Quiz,
        Post,
        Discussion,
        Work,
    )
    progress = f"""FROM {table["ReadingProgress"]} rp JOIN {table["CaseReading"]} cr
            ON cr.case_id = rp.case_id WHERE cr.item_id = a.item_id AND rp.user_id = %s"""
    attempts = f"""FROM {table["Attempt"]} att JOIN {table["Quiz"]} q ON q.id = att.quiz_id
            WHERE q.item_id = a.item_id AND att.user_id = %s"""
    work = f"FROM {table['Work']} w WHERE w.item_id = a.item_id AND w.user_id = %s"
    select = f"""a.item_id, i.kind, i.title, md.title, c.code, a.due_at,
        EXISTS (SELECT 1 {progress}),
        (SELECT rp.done_at {progress} LIMIT 1),
        (SELECT att.submitted_at {attempts} AND att.state = '{AttemptState.SUBMITTED}'
            ORDER BY att.submitted_at LIMIT 1),
        EXISTS (SELECT 1 {attempts} AND att.state = '{AttemptState.IN_PROGRESS}'),
        (SELECT p.created_at FROM {table["Post"]} p JOIN {table["Discussion"]} d
            ON d.id = p.discussion_id
            WHERE d.item_id = a.item_id AND p.author_id = %s AND p.deleted_at IS NULL
            ORDER BY p.created_at LIMIT 1),
        (SELECT w.state {work} LIMIT 1),
        (SELECT w.submitted_at {work} LIMIT 1)
        FROM {table["Assignment"]} a
        JOIN {table["Membership"]} mb ON mb.cohort_id = a.cohort_id
        JOIN {table["ModuleItem"]} i ON i.id = a.item_id
        JOIN {table["Module"]} md ON md.id = i.module_id
        JOIN {table["Course"]} c ON c.id = md.course_id
        WHERE mb.user_id = %s AND (a.opens_at IS NULL OR a.opens_at <= %s)"""  # noqa: S608
    # The parts are subqueries because SQLite allows no ORDER BY or LIMIT on the
    # members of a UNION.
    return f"""
SELECT * FROM (SELECT 0 AS part, {select}
    AND (a.due_at IS NULL OR a.due_at >= %s)
    ORDER BY a.due_at IS NULL, a.due_at, a.id LIMIT %s) upcoming
UNION ALL
SELECT * FROM (SELECT 1 AS part, {select}
    AND a.due_at < %s AND a.due_at >= %s
    ORDER BY a.due_at DESC LIMIT %s) recent
"""  # noqa: S608 (table names from the models; values are parameters)


def work_status(assignment: DueWork, now) -> WorkStatus:
    """Not started, opened or in progress, done / submitted / posted, or late (finished
    after the due date, or not finished by it), for a `DueWork` from `due_work`."""
    kind = assignment.kind
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
    if assignment.due_at is not None and now > assignment.due_at:
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
