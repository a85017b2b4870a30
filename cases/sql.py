"""Every query Red Queen writes in plain SQL, in one place.

The ORM writes everything else. A query is here only because a measurement showed that
composing it through the ORM cost more CPU than the database spent answering it, on a
path every request or poll takes, or because the ORM cannot say it (`INSERT ... ON
CONFLICT` with a condition or `RETURNING`). Each names its ORM twin, and
tests/test_sql.py checks that both give the same answer for every role of the test
world. Table and column names come from the models (never from input); values are
always named parameters.

The queries, who asks, and why plain SQL (CPU per request, measured with `make bench`):

- `course_with_roles`: every course page and poll (`access_course`); composing it through
  the ORM cost 6 ms, and the tracker's unchanged poll went from 19 to 7 ms with it.
- `is_teaching_staff`: the navigation's question, for a user the session did not load
  (the session's user brings the answer from `get_user`); the ORM cost ten times what
  PostgreSQL spends answering.
- `joined_session_version`: a phone's unchanged live poll (200 phones every 3 s); the
  whole 204 answers in one query, 1.6 ms, with the answers' count and latest change
  while results are shown on an open poll.
- `course_version_row`: the tracker's and gradebook's unchanged polls; 7 ms of ORM
  against 0.5 ms in PostgreSQL.
- `reading_work_upsert`: opening or finishing a reading; an upsert with a condition the
  ORM cannot say.
- `reading_touch`: an open of a case by a student, unless one was recorded within the
  last minute; `UPDATE ... RETURNING` makes recording the open and reading the progress
  one statement, which keeps the reader (with its notes) within its eight queries.
- `notifications_insert`: every notification; `ON CONFLICT DO NOTHING RETURNING`, so the
  constraint decides who is told.
- `thread_bump`: every change to a thread's posts (a post, an edit, a vote, a
  moderation); `UPDATE ... RETURNING` moves the version and reads the one it made, and
  whether the thread is locked, in one statement.
- `answer_save`: every autosave of a quiz answer (500 students every few seconds at a
  deadline); the ORM's filtered update cost 0.21 ms of CPU, the plain statement 0.07,
  and the autosave went from 2.08 to 1.74 ms (in process, in turn).
"""

import functools

from django.db import connection

from cases.models import (
    Accommodation,
    Answer,
    Assignment,
    CaseReading,
    Cohort,
    Course,
    Discussion,
    Extension,
    GradeCategory,
    LiveAnswer,
    LiveAttendance,
    LivePoll,
    LiveSession,
    Membership,
    Module,
    ModuleItem,
    Notification,
    PollState,
    ReadingProgress,
    Rubric,
    User,
    Work,
    WorkStatus,
)


def table(model) -> str:
    """The model's table, quoted for the database in use."""
    return connection.ops.quote_name(model._meta.db_table)


def tables(*models) -> dict[str, str]:
    """Quoted tables by model name."""
    return {model.__name__: table(model) for model in models}


def _datetime(value):
    return connection.ops.adapt_datetimefield_value(value)


# Roles -----------------------------------------------------------------------------------


def roles_sql(course_id: str) -> str:
    """The user's three roles in the course whose id is the column `course_id`:
    `_is_instructor`, `_is_ta` and `_is_student`, for the parameter `user`. ORM twin:
    `cases.permissions._roles`."""
    t = {
        name: table(model)
        for name, model in {
            "instructors": Course.instructors.through,
            "assistants": Course.teaching_assistants.through,
            "cohorts": Course.cohorts.through,
            "membership": Membership,
        }.items()
    }
    return f"""
    EXISTS (
        SELECT 1 FROM {t["instructors"]} i
        WHERE i.course_id = {course_id} AND i.user_id = %(user)s
    ) AS _is_instructor,
    EXISTS (
        SELECT 1 FROM {t["assistants"]} a
        WHERE a.course_id = {course_id} AND a.user_id = %(user)s
    ) AS _is_ta,
    EXISTS (
        SELECT 1 FROM {t["cohorts"]} cc JOIN {t["membership"]} m ON m.cohort_id = cc.cohort_id
        WHERE cc.course_id = {course_id} AND m.user_id = %(user)s
    ) AS _is_student"""  # noqa: S608 (table names from the models; values are parameters)


@functools.cache
def _course_with_roles_sql() -> str:
    return f"SELECT c.*, {roles_sql('c.id')} FROM {table(Course)} c WHERE c.id = %(course)s"  # noqa: S608


def course_with_roles(*, user_id: int, course_id: int) -> Course | None:
    """The course, annotated with the user's roles in it (booleans), or None. ORM twin:
    `Course.objects.annotate(**cases.permissions._roles(user, "pk"))`."""
    params = {"user": user_id, "course": course_id}
    course = next(iter(Course.objects.raw(_course_with_roles_sql(), params)), None)
    if course is not None:
        for role in ("_is_instructor", "_is_ta", "_is_student"):
            setattr(course, role, bool(getattr(course, role)))  # SQLite answers 0 or 1.
    return course


@functools.cache
def _teaching_staff_sql() -> str:
    instructors = table(Course.instructors.through)
    assistants = table(Course.teaching_assistants.through)
    return (
        f"SELECT 1 FROM {instructors} WHERE user_id = %(user)s "  # noqa: S608 (model tables)
        f"UNION ALL SELECT 1 FROM {assistants} WHERE user_id = %(user)s LIMIT 1"
    )


def is_teaching_staff(*, user_id: int) -> bool:
    """Whether the user teaches or assists on any course. ORM twin:
    `Course.objects.taught_by(user).exists()`."""
    with connection.cursor() as cursor:
        cursor.execute(_teaching_staff_sql(), {"user": user_id})
        return cursor.fetchone() is not None


# Live class ------------------------------------------------------------------------------


@functools.cache
def _joined_version_sql() -> str:
    t = tables(LiveSession, LiveAttendance, LivePoll, LiveAnswer)
    # The poll on screen joins only while its results are shown and it is open: counts
    # that move without the version. Otherwise the counts are NULL, found by an index
    # probe that finds nothing.
    answers = f"FROM {t['LiveAnswer']} x WHERE x.poll_id = p.id"
    return (
        # Whether it runs: `LiveSession.objects.running`, with `since` its cutoff.
        "SELECT s.version, s.ended_at IS NULL AND s.started_at > %(since)s, "  # noqa: S608
        f"(SELECT COUNT(*) {answers}), (SELECT MAX(x.updated_at) {answers}), p.id "
        f"FROM {t['LiveSession']} s LEFT JOIN {t['LivePoll']} p "
        "ON p.id = s.current_poll_id AND p.results_shown AND p.state = %(open)s "
        f"WHERE s.id = %(session)s AND EXISTS (SELECT 1 FROM {t['LiveAttendance']} a "
        "WHERE a.session_id = s.id AND a.user_id = %(user)s)"
    )


def joined_session_version(*, user_id: int, session_id: int, since) -> tuple | None:
    """If the user has joined the session: its version, whether it runs (not ended and
    started after `since`, `live_running_since()`), and while it runs and the results
    of the poll on screen are shown and it is open, how many answered it and when an answer last
    changed (else None and None). ORM twin: `LiveSession.objects.filter(pk=...,
    attendance__user=...)`, `is_running`, and `Count` and `Max` of the poll's answers."""
    params = {"session": session_id, "user": user_id, "open": PollState.OPEN.value}
    with connection.cursor() as cursor:
        cursor.execute(_joined_version_sql(), params | {"since": since})
        row = cursor.fetchone()
    if row is None:
        return None
    version, running, answers, answered_at, shown = row
    if shown is None or not running:
        answers = answered_at = None
    return (version, bool(running), answers, answered_at)


# The tracker's and gradebook's version ---------------------------------------------------


@functools.cache
def _course_version_sql() -> str:
    t = tables(
        Assignment,
        Work,
        Extension,
        Membership,
        Cohort,
        ModuleItem,
        Module,
        GradeCategory,
        Rubric,
        Accommodation,
        User,
    )
    course_cohorts = table(Course.cohorts.through)
    items = (
        f"SELECT i.id FROM {t['ModuleItem']} i JOIN {t['Module']} m "  # noqa: S608
        "ON m.id = i.module_id WHERE m.course_id = %(course)s"
    )
    return f"""
SELECT a.*, e.*, r.*, k.*, i.*, x.*, (
    -- Each item's latest Work change: an index probe an item, not a scan of every row
    -- (20,000 in a large course). Work rows are never deleted on their own; a cascade
    -- from an item or a student moves the items' or the roster's part.
    SELECT MAX((SELECT MAX(w.updated_at) FROM {t["Work"]} w WHERE w.item_id = ci.id))
    FROM ({items}) ci
)
FROM (
    -- Each due date and cut-off passed: notes short of the number asked are graded
    -- once their assignment takes no more work (`scored_as_it_stands`).
    SELECT MAX(updated_at), COUNT(*), SUM(CASE WHEN due_at <= %(now)s THEN 1 ELSE 0 END),
        SUM(CASE WHEN late_until <= %(now)s THEN 1 ELSE 0 END)
    FROM {t["Assignment"]} WHERE item_id IN ({items})
) a, (
    SELECT MAX(x.updated_at), COUNT(*), SUM(CASE WHEN x.due_at <= %(now)s THEN 1 ELSE 0 END),
        SUM(CASE WHEN x.late_until <= %(now)s THEN 1 ELSE 0 END)
    FROM {t["Extension"]} x JOIN {t["Assignment"]} xa ON xa.id = x.assignment_id
    WHERE xa.item_id IN ({items})
) e, (
    -- A sum of ids moves when a student changes cohort, a count would not. The
    -- members deactivated (a count and their ids) move it when an admin deactivates
    -- or reactivates one: the grids tag them, the "behind" filter leaves them out.
    SELECT COUNT(*), SUM(mm.id), SUM(mm.cohort_id),
        SUM(CASE WHEN u.is_active THEN 0 ELSE 1 END),
        SUM(CASE WHEN u.is_active THEN 0 ELSE u.id END)
    FROM {t["Membership"]} mm JOIN {t["User"]} u ON u.id = mm.user_id
    WHERE mm.cohort_id IN (SELECT cohort_id FROM {course_cohorts} WHERE course_id = %(course)s)
) r, (
    -- The cohorts' names head the release controls.
    SELECT MAX(updated_at) FROM {t["Cohort"]}
    WHERE id IN (SELECT cohort_id FROM {course_cohorts} WHERE course_id = %(course)s)
) k, (
    -- The columns: each item with its module, grade category and rubric, by their
    -- latest change (a title, an order, a name, a weight, a rubric's points: sums of
    -- them missed any change that kept the sum, such as two weights swapped), and
    -- what a deletion leaves: fewer items, or fewer with a category or a rubric (set
    -- null, which does not date the item). Writes that bypass `save()` date the rows.
    SELECT COUNT(*), MAX(i.updated_at), MAX(m.updated_at),
        COUNT(i.grade_category_id), MAX(g.updated_at), COUNT(i.rubric_id), MAX(b.updated_at)
    FROM {t["ModuleItem"]} i JOIN {t["Module"]} m ON m.id = i.module_id
    LEFT JOIN {t["GradeCategory"]} g ON g.id = i.grade_category_id
    LEFT JOIN {t["Rubric"]} b ON b.id = i.rubric_id
    WHERE m.course_id = %(course)s
) i, (
    -- The tracker's "extra time" beside a name.
    SELECT COUNT(*), MAX(updated_at) FROM {t["Accommodation"]} WHERE course_id = %(course)s
) x
"""  # noqa: S608 (table names from the models; values are parameters)


def course_version_row(*, course_id: int, now) -> tuple:
    """What the tracker and the gradebook show of a course, folded into one row of
    latest changes and counts, with the sums that say who is in which cohort and who of
    them is deactivated (see
    `course_version`). ORM twin: the aggregates of `tests/test_sql.py`'s
    `_course_version_orm`."""
    with connection.cursor() as cursor:
        cursor.execute(_course_version_sql(), {"course": course_id, "now": _datetime(now)})
        return cursor.fetchone()


# Writes the ORM cannot say ------------------------------------------------------------------


@functools.cache
def _reading_work_upsert_sql() -> str:
    t = tables(Work, ReadingProgress, CaseReading, Assignment, Membership, ModuleItem)
    work = t["Work"]
    return f"""
INSERT INTO {work} (
    item_id, user_id, state, opened_at, submitted_at, auto_score, max_score,
    needs_grading, rubric_levels, override_reason, feedback, excused, updated_at
)
SELECT reading.item_id, progress.user_id,
    CASE WHEN progress.done_at IS NULL THEN %(opened)s ELSE %(submitted)s END,
    progress.first_opened_at, progress.done_at,
    CASE WHEN progress.done_at IS NULL THEN NULL ELSE 1 END, 1,
    %(false)s, %(empty)s, '', '', %(false)s, %(now)s
FROM {t["ReadingProgress"]} progress
JOIN {t["CaseReading"]} reading ON reading.case_id = progress.case_id
WHERE progress.user_id = %(user)s AND progress.case_id = %(case)s AND EXISTS (
    SELECT 1 FROM {t["Assignment"]} assignment
    JOIN {t["Membership"]} membership ON membership.cohort_id = assignment.cohort_id
    WHERE assignment.item_id = reading.item_id AND membership.user_id = progress.user_id
)
ON CONFLICT (item_id, user_id) DO UPDATE SET
    state = excluded.state, opened_at = excluded.opened_at,
    submitted_at = excluded.submitted_at, auto_score = excluded.auto_score,
    max_score = excluded.max_score, updated_at = excluded.updated_at
WHERE {work}.state <> excluded.state OR {work}.opened_at IS NULL
RETURNING {work}.item_id,
    (SELECT item.module_id FROM {t["ModuleItem"]} item WHERE item.id = {work}.item_id)
"""  # noqa: S608 (table names from the models; values are parameters)


def reading_work_upsert(*, user_id: int, case_id: int, now) -> list[tuple[int, int]]:
    """Every reading item of the case given to one of the student's cohorts takes the
    state of their progress on it, in one statement, however many courses give the case;
    a row already in that state is left alone, so marking done twice does not move the
    tracker's version. Returns (item, module) of each item whose row it wrote
    (PostgreSQL; SQLite 3.35 and later). ORM twin: `work_sync(item, [user])` for each
    such item."""
    params = {
        "opened": WorkStatus.OPENED.value,
        "submitted": WorkStatus.SUBMITTED.value,
        "false": False,
        "empty": "{}",
        "now": _datetime(now),
        "user": user_id,
        "case": case_id,
    }
    with connection.cursor() as cursor:
        cursor.execute(_reading_work_upsert_sql(), params)
        return [(item_id, module_id) for item_id, module_id in cursor.fetchall()]


@functools.cache
def _reading_touch_sql() -> str:
    meta = ReadingProgress._meta
    quote = connection.ops.quote_name
    columns = ", ".join(quote(field.column) for field in meta.concrete_fields)
    return f"""
UPDATE {table(ReadingProgress)} SET last_opened_at = %(now)s, last_beat = %(beat)s
WHERE user_id = %(user)s AND case_id = %(case)s AND last_opened_at < %(before)s
RETURNING {columns}
"""  # noqa: S608 (table and column names from the model; values are parameters)


def reading_touch(*, user_id: int, case_id: int, now, beat: int, before) -> ReadingProgress | None:
    """Record that the student opened the case now and return their progress row, in
    one statement (PostgreSQL; SQLite 3.35 and later), if the open last recorded was
    before `before`; None when they have no row yet, or one opened since. ORM twin:
    `ReadingProgress.objects.filter(user=, case=, last_opened_at__lt=before)`:
    `update(...)` then `get()`."""
    params = {
        "now": _datetime(now),
        "beat": beat,
        "user": user_id,
        "case": case_id,
        "before": _datetime(before),
    }
    rows = list(ReadingProgress.objects.raw(_reading_touch_sql(), params))
    return rows[0] if rows else None


NOTIFICATION_COLUMNS = ["user", "kind", "title", "body", "url", "course", "key", "created_at"]


def notifications_insert(*, user_ids: list[int], values: dict, now) -> list[int]:
    """One INSERT of a notification per user (`values` holds the other columns by name)
    that skips rows the (user, key) constraint already holds and returns the ids of
    those it inserted (PostgreSQL; SQLite 3.35 and later). Deciding by the constraint,
    not by a lookup first, is what makes two runs at once insert each row once. ORM
    twin: `Notification.objects.bulk_create(..., ignore_conflicts=True)`, which cannot
    say which rows it inserted."""
    meta = Notification._meta
    quote = connection.ops.quote_name
    columns = ", ".join(quote(meta.get_field(name).column) for name in NOTIFICATION_COLUMNS)
    created_at = meta.get_field("created_at").get_db_prep_value(now, connection)
    params, rows = {"created_at": created_at}, []
    for name in NOTIFICATION_COLUMNS[1:-1]:
        params[name] = values[name]
    shared = ", ".join(f"%({name})s" for name in NOTIFICATION_COLUMNS[1:])
    for n, user_id in enumerate(user_ids):
        params[f"user{n}"] = user_id
        rows.append(f"(%(user{n})s, {shared})")
    sql = (
        f"INSERT INTO {quote(meta.db_table)} ({columns}) VALUES "  # noqa: S608
        + ", ".join(rows)
        + f" ON CONFLICT DO NOTHING RETURNING {quote(meta.pk.column)}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return [pk for (pk,) in cursor.fetchall()]


@functools.cache
def _answer_save_sql(newer_only: bool) -> str:
    newer = " AND seq < %(seq)s" if newer_only else ""
    return f"""
UPDATE {table(Answer)} SET response = %(response)s, seq = %(seq)s, saved_at = %(now)s
WHERE slot_id = %(slot)s{newer}
"""  # noqa: S608 (table and column names from the model; values are parameters)


def answer_save(*, slot_id: int, response: dict, seq: int, now, newer_only: bool) -> int:
    """Store an answer to one question of an attempt, with its sequence number; with
    `newer_only`, only over an answer saved with a smaller one (an older save arriving
    late changes nothing). Returns how many rows changed (1 or 0). ORM twin:
    `Answer.objects.filter(slot=, seq__lt=seq).update(response=, seq=, saved_at=)`."""
    params = {
        "response": Answer._meta.get_field("response").get_db_prep_save(response, connection),
        "seq": seq,
        "now": _datetime(now),
        "slot": slot_id,
    }
    with connection.cursor() as cursor:
        cursor.execute(_answer_save_sql(newer_only), params)
        return cursor.rowcount


@functools.cache
def _thread_bump_sql() -> str:
    return f"""
UPDATE {table(Discussion)} SET version = version + 1 WHERE id = %(discussion)s
RETURNING version, locked
"""  # noqa: S608 (table and column names from the model; values are parameters)


def thread_bump(*, discussion_id: int) -> tuple[int, bool] | None:
    """Move the thread's version on (every change to its posts does, as what is kept of
    it is kept per version) and return the version this change made and whether the
    thread is locked, in one statement that holds the row's lock until the transaction
    ends (PostgreSQL; SQLite 3.35 and later); None if the thread is gone. ORM twin:
    `Discussion.objects.filter(pk=).update(version=F("version") + 1)`, then the row's
    `version` and `locked`."""
    with connection.cursor() as cursor:
        cursor.execute(_thread_bump_sql(), {"discussion": discussion_id})
        found = cursor.fetchone()
    return None if found is None else (found[0], bool(found[1]))
