"""Students' work on items, kept in one table for the tracker and the gradebook.

Each item kind's services call `work_sync` after a student's work changes state (a
reading opened or done, an attempt started, submitted or graded, a post written or
deleted, a participation grade given). It recomputes the rows from the kind's own tables,
so calling it twice, or concurrently, leaves the same rows; rows that did not change are
not written, so the tracker's ETag moves only when something a teacher would see moved.
"""

import math
from dataclasses import dataclass
from datetime import timedelta
from decimal import ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo

from django.db.models import (
    Count,
    Exists,
    F,
    FilteredRelation,
    Max,
    Min,
    OuterRef,
    Q,
    Subquery,
    Sum,
    Value,
)
from django.utils import timezone

from cases import sql
from cases.compiled import compiled, from_columns
from cases.models import (
    FOR_THE_CLASS,
    Annotation,
    AnnotationTask,
    Assignment,
    Attempt,
    AttemptState,
    DecisionCommit,
    Extension,
    ItemKind,
    LatePolicy,
    LiveAttendance,
    LiveClass,
    Membership,
    Memo,
    MemoVersion,
    ModuleItem,
    ParticipationGrade,
    ParticipationMark,
    Post,
    ReadingProgress,
    SpectrumPlacement,
    StanceAnswer,
    StancePhase,
    User,
    Visibility,
    Work,
    WorkStatus,
    attempts_late,
    awaiting_grader,
    counted_for,
    counting_attempt,
    due_last,
    graded_earlier,
    handed_in_late,
    quiz_result,
    status_label,
    takes_work_until,
    with_extension,
    work_status,
)
from cases.models.workspace import STATUS_FIELDS, work_changed

CENT = Decimal("0.01")


ZERO = Decimal(0)


ONE = Decimal(1)


# Fields work_sync owns; a person's part of the row (override, rubric, comment, excused)
# is never among them.
SYNCED_FIELDS = ["state", "opened_at", "submitted_at", "auto_score", "max_score", "needs_grading"]


# Where a student stands, for their own pages ------------------------------------------


@dataclass
class StudentItem:
    """One assigned item as its student sees it: the assignment with their dates, their
    Work row and where they stand (`work_status`), in the kind's own words."""

    assignment: Assignment
    work: Work | None
    status: WorkStatus
    late: bool  # Handed in after the student's due date.
    label: str
    url: str = ""  # The item's page, when the caller sets it.
    # The course's zone its dates show in, when the caller's page lists several
    # courses' (the dashboard); else None, and the active zone (the course's) is used.
    zone: ZoneInfo | None = None

    @property
    def item(self) -> ModuleItem:
        return self.assignment.item

    @property
    def kind_label(self) -> str:
        """The item's kind as the student reads it (`get_kind_display`, without the
        choices' dict it builds on every call)."""
        return ItemKind(self.item.kind).label


# The Work fields `with_work` brings along with each assignment.
_JOINED_WORK = ("id", *(name for name in STATUS_FIELDS if name != "item_id"))


def with_work(assignments, user):
    """The assignments (from `Assignment.objects.seen_by(user)`) with the user's Work row
    on each one's item joined in, for `student_items`: one outer join on the
    assignments' own query, since a student has at most one Work row an item."""
    return assignments.annotate(
        _mine=FilteredRelation("item__work", condition=Q(item__work__user=user)),
        **{f"_work_{name}": F(f"_mine__{name}") for name in _JOINED_WORK},
    )


def _joined_work(assignment: Assignment, user) -> Work | None:
    if assignment._work_id is None:
        return None
    values = {name: getattr(assignment, f"_work_{name}") for name in _JOINED_WORK}
    # As Django makes a row's model: half the time of the keywords' way, each row.
    return from_columns(Work, values | {"item_id": assignment.item_id, "user_id": user.pk})


def student_items(user, assignments, now) -> list[StudentItem]:
    """Where the student stands on each item of these assignments (`with_work`, with
    their items), in the order given; no query of its own."""
    by_item: dict[int, list[Assignment]] = {}
    for assignment in assignments:
        by_item.setdefault(assignment.item_id, []).append(assignment)
    found = []
    for given in by_item.values():
        assignment = due_last(given)
        mine = _joined_work(assignment, user)
        status = work_status(mine, assignment, now)
        found.append(
            StudentItem(
                assignment=assignment,
                work=mine,
                status=status,
                late=handed_in_late(mine, assignment),
                label=status_label(status, assignment.item.kind, mine),
            )
        )
    return found


@dataclass
class _Found:
    state: str = WorkStatus.NOT_STARTED
    opened_at: object = None
    submitted_at: object = None
    auto_score: Decimal | None = None
    max_score: Decimal | None = None
    needs_grading: bool = False


def _reading(item: ModuleItem, user_ids) -> dict[int, _Found]:
    """Progress is kept per case, whichever course gave it: it counts as work on the
    item for the students the item is given to (as `cases.sql.reading_work_upsert`)."""
    found = {}
    given = Assignment.objects.filter(item=item, cohort__memberships__user=OuterRef("user"))
    progress = ReadingProgress.objects.filter(case__readings__item=item, user__in=user_ids).filter(
        Exists(given)
    )
    for row in progress.values("user", "first_opened_at", "done_at"):
        done = row["done_at"] is not None
        found[row["user"]] = _Found(
            state=WorkStatus.SUBMITTED if done else WorkStatus.OPENED,
            opened_at=row["first_opened_at"],
            submitted_at=row["done_at"],
            auto_score=ONE if done else None,
            max_score=ONE,
        )
    return found


def _quiz(item: ModuleItem, user_ids) -> dict[int, _Found]:
    quiz = item.quiz
    by_user: dict[int, list[Attempt]] = {}
    for attempt in _for_students(_attempts, quiz=quiz.pk, users=user_ids):
        by_user.setdefault(attempt.user_id, []).append(attempt)
    found = {}
    for user_id, attempts in by_user.items():
        submitted = [a for a in attempts if a.state == AttemptState.SUBMITTED]
        counting = counting_attempt(submitted, quiz.grading_method)
        score, out_of = quiz_result(submitted, quiz.grading_method) or (None, None)
        found[user_id] = _Found(
            state=WorkStatus.SUBMITTED if submitted else WorkStatus.IN_PROGRESS,
            opened_at=min(a.started_at for a in attempts),
            # When the attempt that counts was handed in: a late best attempt is late.
            submitted_at=counting.submitted_at if counting else None,
            auto_score=score,
            max_score=out_of,
            needs_grading=awaiting_grader(submitted, quiz.grading_method),
        )
    return found


def _discussion(item: ModuleItem, user_ids) -> dict[int, _Found]:
    """Handed in with a first post still standing. Without a rubric a person's
    participation points are the grade (the queue finds posters without them). Posts
    written after a person last graded the student's participation (their points, or
    the rubric, comment or "save" on the grader: `work_grade_stands`) wait for a person
    again: the grade stands for fewer posts, so it is kept as the earlier one
    (`graded_earlier`), as a memo handed in again after its grade."""
    discussion = item.discussion.pk
    posted = {
        author: (first, last, graded_at)
        for author, first, last, graded_at in _for_students(
            _posted, discussion=discussion, users=user_ids
        )
    }
    grades = {
        user: (points, graded_at)
        for user, points, graded_at in _for_students(
            _participation_points, discussion=discussion, users=user_ids
        )
    }
    found = {}
    for user_id in posted.keys() | grades.keys():
        first, last, work_graded_at = posted.get(user_id, (None, None, None))
        points, points_at = grades.get(user_id, (None, None))
        graded_at = max((at for at in (work_graded_at, points_at) if at is not None), default=None)
        ungraded = user_id not in grades and not item.rubric_id
        revised = graded_at is not None and last is not None and last > graded_at
        found[user_id] = _Found(
            state=WorkStatus.SUBMITTED if first else WorkStatus.NOT_STARTED,
            opened_at=first,
            submitted_at=first,
            auto_score=points,
            max_score=None,  # Participation points are the assignment's points.
            # With a rubric, the rubric score is the grade (the queue finds those).
            needs_grading=first is not None and (ungraded or revised),
        )
    return found


def _stance_check(item: ModuleItem, user_ids) -> dict[int, _Found]:
    """In progress once answered before the module, handed in once answered after:
    graded for completion."""
    found = {}
    answers = StanceAnswer.objects.filter(stance__item=item, user__in=user_ids)
    by_user: dict[int, dict[str, StanceAnswer]] = {}
    for answer in answers:
        by_user.setdefault(answer.user_id, {})[answer.phase] = answer
    for user_id, phases in by_user.items():
        after = phases.get(StancePhase.AFTER)
        first = min(a.created_at for a in phases.values())
        found[user_id] = _Found(
            state=WorkStatus.SUBMITTED if after else WorkStatus.IN_PROGRESS,
            opened_at=first,
            submitted_at=after.created_at if after else None,
            auto_score=ONE if after else None,
            max_score=ONE,
        )
    return found


def _decision(item: ModuleItem, user_ids) -> dict[int, _Found]:
    """Handed in once committed: graded for completion."""
    commits = DecisionCommit.objects.filter(decision__item=item, user__in=user_ids)
    return {
        user_id: _Found(
            state=WorkStatus.SUBMITTED,
            opened_at=at,
            submitted_at=at,
            auto_score=ONE,
            max_score=ONE,
        )
        for user_id, at in commits.values_list("user", "created_at")
    }


def _spectrum(item: ModuleItem, user_ids) -> dict[int, _Found]:
    """Submitted once the student has placed every company (full marks for
    completion), in progress while some; handed in when the last company was first
    placed, so later edits do not make it late."""
    exercise = getattr(item, "spectrum", None)
    if exercise is None:
        return {}
    total = exercise.cases.count()
    rows = (
        SpectrumPlacement.objects.filter(exercise=exercise, user__in=user_ids)
        .values("user")
        .annotate(placed=Count("pk"), first=Min("created_at"), last=Max("created_at"))
    )
    found = {}
    for row in rows:
        done = total > 0 and row["placed"] >= total
        found[row["user"]] = _Found(
            state=WorkStatus.SUBMITTED if done else WorkStatus.IN_PROGRESS,
            opened_at=row["first"],
            submitted_at=row["last"] if done else None,
            auto_score=ONE if done else None,
            max_score=ONE,
        )
    return found


def _live_session(item: ModuleItem, user_ids) -> dict[int, _Found]:
    """Handed in on joining one of the item's sessions; scored as a percent: the
    attendance share plus contribution marks (see LiveClass)."""
    joined = dict(
        LiveAttendance.objects.filter(session__item=item, user__in=user_ids)
        .values("user")
        .annotate(first=Min("joined_at"))
        .values_list("user", "first")
    )
    points = dict(
        ParticipationMark.objects.filter(session__item=item, student__in=user_ids)
        .values("student")
        .annotate(total=Sum("points"))
        .values_list("student", "total")
    )
    live = getattr(item, "live_class", None)
    return {
        user_id: _Found(
            state=WorkStatus.SUBMITTED,
            opened_at=at,
            submitted_at=at,
            auto_score=(live or LiveClass()).percent_for(points.get(user_id, 0)),
            max_score=Decimal(100),
        )
        for user_id, at in joined.items()
    }


def _annotation(item: ModuleItem, user_ids) -> dict[int, _Found]:
    """In progress with a first note on the case the class reads (`FOR_THE_CLASS`),
    handed in with the task's number of substantive ones (when the last of those was
    written); scored as the share of those written, at most all."""
    task = getattr(item, "annotation_task", None)
    if task is None:
        return {}
    # Notes are kept per case, whichever course's assignment they were written for: they
    # count for the students the item is given to (the staff's own notes never make Work).
    given = Assignment.objects.filter(item=item, cohort__memberships__user=OuterRef("author"))
    shared = (
        Annotation.objects.filter(
            FOR_THE_CLASS,
            case=task.case_id,
            author__in=user_ids,
            deleted_at__isnull=True,
            hidden_at__isnull=True,
        )
        # A reply under a hidden note is hidden with it.
        .exclude(thread__hidden_at__isnull=False)
        .filter(Exists(given), counted_for(item.pk))
    )
    by_user: dict[int, list] = {}
    for author, created_at, words in shared.order_by("created_at", "pk").values_list(
        "author", "created_at", "word_count"
    ):
        by_user.setdefault(author, []).append((created_at, words))
    wanted = max(task.min_notes, 1)
    until = _taking_until(item, by_user.keys())
    found = {}
    for user_id, notes in by_user.items():
        # A note written once the assignment stopped taking work is the class's to
        # read, and counts for nothing here.
        ends = until.get(user_id)
        counting = [
            at for at, words in notes if words >= task.min_words and (ends is None or at <= ends)
        ]
        done = len(counting) >= wanted
        found[user_id] = _Found(
            state=WorkStatus.SUBMITTED if done else WorkStatus.IN_PROGRESS,
            opened_at=notes[0][0],
            submitted_at=counting[wanted - 1] if done else None,
            auto_score=Decimal(min(len(counting), wanted)),
            max_score=Decimal(wanted),
        )
    return found


def _taking_until(item: ModuleItem, user_ids) -> dict[int, object]:
    """Each student's `takes_work_until` on the item: their assignment (the one due
    last of their cohorts', their extension applied). One query, two when one of the
    item's assignments stops taking work at all."""
    user_ids = list(user_ids)
    if not user_ids:
        return {}
    assignments = list(
        Assignment.objects.filter(item=item, cohort__memberships__user__in=user_ids).annotate(
            student=F("cohort__memberships__user")
        )
    )
    if not any(takes_work_until(assignment) for assignment in assignments):
        return {}
    extensions = {
        (e.assignment_id, e.user_id): e
        for e in Extension.objects.filter(assignment__item=item, user__in=user_ids)
    }
    theirs: dict[int, list] = {}
    for assignment in assignments:
        extension = extensions.get((assignment.pk, assignment.student))
        theirs.setdefault(assignment.student, []).append(with_extension(assignment, extension))
    return {user_id: takes_work_until(due_last(found)) for user_id, found in theirs.items()}


def _analysis(item: ModuleItem, user_ids) -> dict[int, _Found]:
    """In progress with a draft, handed in with a version (when the last one was: a
    student hands in again only before the due date). Without a rubric a person's
    points on the memo are the grade (the queue finds memos without them). A version
    handed in after the memo was last graded waits for a person again: the grade
    stands for an earlier text."""
    graded = Work.objects.filter(item=item, user=OuterRef("author")).values("graded_at")[:1]
    memos = (
        Memo.objects.filter(item=item, author__in=user_ids)
        .annotate(
            versions_count=Count("versions"),
            last=Max("versions__submitted_at"),
            graded_at=Subquery(graded),
        )
        .values("author", "created_at", "versions_count", "last", "points", "graded_at")
    )
    found = {}
    for memo in memos:
        handed_in = memo["versions_count"] > 0
        ungraded = memo["points"] is None and not item.rubric_id
        revised = (
            memo["graded_at"] is not None and memo["last"] and memo["last"] > memo["graded_at"]
        )
        found[memo["author"]] = _Found(
            state=WorkStatus.SUBMITTED if handed_in else WorkStatus.IN_PROGRESS,
            opened_at=memo["created_at"],
            submitted_at=memo["last"],
            auto_score=memo["points"],
            max_score=None,  # Points are the assignment's points.
            needs_grading=handed_in and (ungraded or revised),
        )
    return found


# Each kind that students hand work in for; a later kind adds itself here.
WORK_SOURCES = {
    ItemKind.CASE_READING: _reading,
    ItemKind.QUIZ: _quiz,
    ItemKind.DISCUSSION: _discussion,
    ItemKind.STANCE_CHECK: _stance_check,
    ItemKind.DECISION: _decision,
    ItemKind.SPECTRUM: _spectrum,
    ItemKind.LIVE_SESSION: _live_session,
    ItemKind.ANNOTATION: _annotation,
    ItemKind.ANALYSIS: _analysis,
}


def _for_students(query, *, users, **given):
    """A compiled query of some students' rows (`users`, a list of ids): compiled once
    a connection for one student, the hot path of every hand-in (a post, a submit, a
    first open); composed afresh for several, whose counts vary without end, so no
    shape is kept per count."""
    users = sorted(set(users))
    if len(users) == 1:
        return query(users=users, **given)
    return query.build(users=users, **given)


@compiled
def _works(item, users):
    return Work.objects.filter(item=item, user__in=users)


@compiled
def _attempts(quiz, users):
    return Attempt.objects.filter(quiz=quiz, user__in=users).order_by("number")


@compiled
def _posted(discussion, users):
    """Each student's first and last post still standing in the thread, by author, with
    when a person last graded their work on it (`Work.graded_at`)."""
    posts = Post.objects.filter(discussion=discussion, author__in=users, deleted_at__isnull=True)
    graded = Work.objects.filter(item__discussion=discussion, user=OuterRef("author"))
    return (
        posts.values("author")
        .annotate(
            first=Min("created_at"),
            last=Max("created_at"),
            graded_at=Subquery(graded.values("graded_at")[:1]),
        )
        .values_list("author", "first", "last", "graded_at")
    )


@compiled
def _participation_points(discussion, users):
    grades = ParticipationGrade.objects.filter(discussion=discussion, user__in=users)
    return grades.values_list("user", "points", "graded_at")


def work_sync(item: ModuleItem, user_ids) -> int:
    """Bring the given students' Work rows for the item in line with the kind's own
    tables. Returns how many rows changed."""
    source = WORK_SOURCES.get(item.kind)
    user_ids = set(user_ids)
    if source is None or not user_ids:
        return 0
    found = source(item, user_ids)
    existing = {w.user_id: w for w in _for_students(_works, item=item.pk, users=user_ids)}
    changed = []
    for user_id in found.keys() | existing.keys():
        now_found = found.get(user_id, _Found())
        work = existing.get(user_id) or Work(item=item, user_id=user_id)
        values = {name: getattr(now_found, name) for name in SYNCED_FIELDS}
        if work.pk is None or any(getattr(work, k) != v for k, v in values.items()):
            for name, value in values.items():
                setattr(work, name, value)
            changed.append(work)
    if changed:
        now = timezone.now()
        for work in changed:
            work.updated_at = now
        Work.objects.bulk_create(
            changed,
            update_conflicts=True,
            unique_fields=["item", "user"],
            update_fields=[*SYNCED_FIELDS, "updated_at"],
        )
        work_changed.send(ModuleItem, item=item, user_ids=[work.user_id for work in changed])
    return len(changed)


def work_lowered(item: ModuleItem) -> tuple[set[int], set[int]]:
    """What `work_sync` would do, with the item's content as it stands in memory (say,
    settings edited and not yet saved), to the work of the students it is given to:
    those whose hand-in it would take back, and those whose score of the kind it would
    lower (the first among them). Excused work is left out. Two queries and the kind's
    own."""
    source = WORK_SOURCES.get(item.kind)
    if source is None:
        return set(), set()
    students = Membership.objects.filter(cohort__assignments__item=item).values("user")
    rows = list(
        Work.objects.filter(item=item, user__in=students, excused=False).filter(
            Q(state=WorkStatus.SUBMITTED) | Q(auto_score__gt=0)
        )
    )
    found = source(item, {w.user_id for w in rows})
    undone, lowered = set(), set()
    for work in rows:
        after = found.get(work.user_id, _Found())
        if work.state == WorkStatus.SUBMITTED and after.state != WorkStatus.SUBMITTED:
            undone.add(work.user_id)
        if _share(work.auto_score, work.max_score) > _share(after.auto_score, after.max_score):
            lowered.add(work.user_id)
    return undone, lowered | undone


def _share(score, maximum) -> Decimal:
    return score / maximum if score and maximum else Decimal(0)


def work_sync_cohorts(item: ModuleItem, cohorts) -> int:
    """An item was given to cohorts: work their students did before it was (a case read
    for another course, say) shows at once."""
    students = Membership.objects.filter(cohort__in=cohorts).values_list("user", flat=True)
    return work_sync(item, students)


def work_sync_items(item_ids, user_ids) -> int:
    """work_sync for several items by id (say, every quiz a regrade touched)."""
    items = ModuleItem.objects.with_content().filter(pk__in=set(item_ids))
    return sum(work_sync(item, user_ids) for item in items)


def work_sync_for_case(case, user) -> None:
    """A reading was opened or marked (not) done: bring the student's Work on every
    reading of that case in line, in one statement (`cases.sql.reading_work_upsert`),
    however many courses give the case; as `work_sync`, rows that changed are sent on
    (`work_changed`: a reading's grade is its completion, for an LMS's gradebook too),
    each item as the statement names it (its id and module)."""
    changed = sql.reading_work_upsert(user_id=user.pk, case_id=case.pk, now=timezone.now())
    for item_id, module_id in changed:
        item = ModuleItem(pk=item_id, module_id=module_id)
        work_changed.send(ModuleItem, item=item, user_ids=[user.pk])


# Grades -------------------------------------------------------------------------------


def days_late(submitted_at, due_at) -> int:
    if submitted_at is None or due_at is None or submitted_at <= due_at:
        return 0
    return math.ceil((submitted_at - due_at) / timedelta(days=1))


def work_points(work: Work | None, assignment: Assignment, rubric_max: Decimal | None = None):
    """The points (of the assignment's) a student's work earns, or None when it has no
    grade yet. Excused work has no grade and counts for nothing either way, and a
    person's score given before the work was handed in again is no grade of it now
    (`graded_earlier`: `earlier_points` gives it).

    An override wins; then a rubric score; then the kind's own score as a share of its
    maximum. Late work under a penalty policy loses its percent per day late."""
    if work is None or work.excused or graded_earlier(work):
        return None
    return _earned(work, assignment, rubric_max)


def earlier_points(work: Work | None, assignment: Assignment, rubric_max: Decimal | None = None):
    """The points of a person's grade given before the work was handed in again and
    waiting for a person once more (`graded_earlier`), reckoned as `work_points`
    reckoned them: what the pages show as "was 8 / 10" beside "to grade", and the
    gradebook never counts. None for any other work."""
    if not graded_earlier(work):
        return None
    return _earned(work, assignment, rubric_max)


def _earned(work: Work, assignment: Assignment, rubric_max: Decimal | None) -> Decimal | None:
    points = Decimal(assignment.points)
    if work.override_score is not None:
        return work.override_score
    if work.rubric_score is not None and rubric_max:
        earned = points * work.rubric_score / rubric_max
    elif work.auto_score is None:
        return None
    elif work.max_score is None:
        earned = min(work.auto_score, points)
    elif work.max_score == 0:
        earned = points if work.state == WorkStatus.SUBMITTED else ZERO
    else:
        earned = points * work.auto_score / work.max_score
    if assignment.late_policy == LatePolicy.PENALIZE and assignment.late_penalty_percent:
        late = days_late(work.submitted_at, assignment.due_at)
        kept = max(ZERO, ONE - Decimal(assignment.late_penalty_percent * late) / 100)
        earned *= kept
    return earned.quantize(CENT, rounding=ROUND_HALF_UP)


# A student's own traces, for the staff's side panel, grader and timeline ---------------


def student_work(course, student, item=None, *, memos: bool = True, assignment=None) -> dict:
    """The student's own traces in the course, or on one item (then only that kind's
    query runs): reading progress, attempts, posts, notes and memos (unless the caller
    reads those with `student_works`). Given the student's `assignment` of the item,
    each attempt is marked late as the tracker marks work (`attempts_late`)."""
    kind = item.kind if item is not None else None
    found = {
        **{"readings": [], "attempts": [], "posts": [], "notes": [], "answers": []},
        **{"memos": [], "drafts": []},
    }
    if kind in (None, ItemKind.CASE_READING):
        readings = ReadingProgress.objects.filter(user=student).select_related("case")
        if item is None:
            readings = readings.filter(case__readings__item__module__course=course).distinct()
        else:
            readings = readings.filter(case__readings__item=item)
        found["readings"] = list(readings)
    if kind in (None, ItemKind.QUIZ):
        attempts = Attempt.objects.filter(user=student).select_related("quiz__item")
        where = {"quiz__item": item} if item else {"quiz__item__module__course": course}
        found["attempts"] = list(attempts.filter(**where).order_by("-started_at"))
        if assignment is not None:
            attempts_late(found["attempts"], assignment)
    if kind in (None, ItemKind.DISCUSSION):
        posts = Post.objects.filter(author=student).select_related("discussion__item")
        where = {"discussion__item": item} if item else {"discussion__item__module__course": course}
        found["posts"] = list(posts.filter(**where).order_by("-created_at")[:50])
    if kind in (None, ItemKind.ANNOTATION):
        found["notes"] = student_notes(course, student, item, until=takes_work_until(assignment))
    if memos and kind in (None, ItemKind.ANALYSIS):
        found["memos"], found["drafts"] = student_memos(course, student, item)
    if item is not None:
        found["answers"] = thesis_answers(item, student)
    return found


# The notes the staff read of one student: enough for any assignment's count, and for
# the timeline's latest.
NOTES_SHOWN = 100


def student_notes(course, student, item=None, *, until=None) -> list[Annotation]:
    """The student's notes and replies that others may read (hidden ones too, marked:
    the staff hid them) on the case of an annotation assignment (of the course's, or
    the one named: each then knows whether it is long enough to count, `counts`),
    oldest first, each with the note a reply answers: one query. Private notes stay
    their author's alone, and deleted ones are gone. `until`: when the student's
    assignment stopped taking work (`takes_work_until`), after which none counts."""
    notes = Annotation.objects.filter(author=student, deleted_at__isnull=True).exclude(
        visibility=Visibility.PRIVATE
    )
    if item is not None:
        task = AnnotationTask.objects.filter(item=item)
        notes = notes.filter(case=Subquery(task.values("case")[:1])).annotate(
            # As `_annotation` counts: a hidden note, or a reply under one, does not,
            # nor one written once the student's assignment stopped taking work.
            counts=Q(word_count__gte=Subquery(task.values("min_words")[:1]))
            & FOR_THE_CLASS
            & counted_for(item.pk)
            & Q(hidden_at__isnull=True, thread__hidden_at__isnull=True)
            & (Q(created_at__lte=until) if until is not None else Q()),
            after_close=Q(created_at__gt=until) if until is not None else Value(False),
        )
    else:
        tasks = AnnotationTask.objects.filter(item__module__course=course)
        notes = notes.filter(case__in=tasks.values("case"))
    notes = notes.select_related("thread", "case").order_by("-created_at", "-pk")
    return list(reversed(notes[:NOTES_SHOWN]))


# A MemoVersion's columns, read through its memo's join (`student_memos`).
_VERSION_FIELDS = [field.attname for field in MemoVersion._meta.concrete_fields]


def student_memos(course, student, item=None) -> tuple[list[MemoVersion], list[Memo]]:
    """The student's memos on the course's written analyses (or the one named): the
    versions they handed in, newest first, each with its memo and the memo's item; and
    every memo (with its draft's last save), a draft not yet handed in too. One query:
    the memos outer-joined to their versions."""
    memos = Memo.objects.filter(author=student).select_related("item")
    memos = (
        memos.filter(item=item) if item is not None else memos.filter(item__module__course=course)
    )
    rows = memos.annotate(**{f"v_{name}": F(f"versions__{name}") for name in _VERSION_FIELDS})
    by_pk: dict[int, Memo] = {}
    versions = []
    for row in rows.order_by("pk", "versions__number"):
        memo = by_pk.setdefault(row.pk, row)
        if version := _version_of(row, "v_", memo):
            versions.append(version)
    return _newest_first(versions), list(by_pk.values())


def _version_of(row, prefix: str, memo: Memo) -> MemoVersion | None:
    """The version whose columns a joined row carries (named `prefix` + column), or None
    for a memo with none."""
    if getattr(row, f"{prefix}id") is None:
        return None
    values = [getattr(row, f"{prefix}{name}") for name in _VERSION_FIELDS]
    version = MemoVersion.from_db(row._state.db, _VERSION_FIELDS, values)
    version.memo = memo
    return version


def _newest_first(versions: list[MemoVersion]) -> list[MemoVersion]:
    return sorted(versions, key=lambda v: (v.submitted_at, v.pk), reverse=True)


# What the timeline reads of a student's Work row and of its grader, through the
# student's assignments (`student_works`).
_WORK_FIELDS = [field.attname for field in Work._meta.concrete_fields]
_GRADER_FIELDS = ("first_name", "last_name", "username")
# The course's order of items, as the tracker's columns follow it.
_COURSE_ORDER = ("item__module__position", "item__module_id", "item__position", "item_id")


def student_works(
    course, student
) -> tuple[list[tuple[Assignment, Work | None]], list[MemoVersion], list[Memo]]:
    """Each item of the course given to one of the student's cohorts, in course order,
    as (their assignment of it, their Work row on it or None): the assignment with
    their extension in place (`seen_by`; of two cohorts' the one due last), the row
    with its grader; and, riding on the same query, what `student_memos` finds: their
    memo on each item and its versions. One query, for the timeline, which shows where
    the student stands on each item as the tracker does (`work_cell`) within a page's
    budget. Work on an item no longer given to the student is left out, as the
    tracker leaves it out."""
    work = FilteredRelation("item__work", condition=Q(item__work__user=student))
    memo = FilteredRelation("item__memos", condition=Q(item__memos__author=student))
    rows = (
        Assignment.objects.seen_by(student)
        .filter(item__module__course=course)
        .select_related("item__rubric")
        .annotate(_work=work, _memo=memo)
        .annotate(
            **{f"w_{name}": F(f"_work__{name}") for name in _WORK_FIELDS},
            **{f"g_{name}": F(f"_work__graded_by__{name}") for name in _GRADER_FIELDS},
            memo_pk=F("_memo__id"),
            memo_created_at=F("_memo__created_at"),
            memo_draft_saved_at=F("_memo__draft_saved_at"),
            **{f"v_{name}": F(f"_memo__versions__{name}") for name in _VERSION_FIELDS},
        )
        .order_by(*_COURSE_ORDER, "pk", "_memo__versions__number")
    )
    # A row for each of the student's cohorts given the item and each version.
    given: dict[int, list[Assignment]] = {}
    works: dict[int, Work] = {}
    memos: dict[int, Memo] = {}
    versions: dict[int, MemoVersion] = {}
    for row in rows:
        mine = given.setdefault(row.item_id, [])
        if all(assignment.pk != row.pk for assignment in mine):
            mine.append(row)
        if row.w_id is not None and row.item_id not in works:
            works[row.item_id] = _work_of(row)
        if row.memo_pk is None:
            continue
        if row.memo_pk not in memos:
            memos[row.memo_pk] = Memo(
                pk=row.memo_pk,
                item=row.item,
                author_id=student.pk,
                created_at=row.memo_created_at,
                draft_saved_at=row.memo_draft_saved_at,
            )
        if version := _version_of(row, "v_", memos[row.memo_pk]):
            versions.setdefault(version.pk, version)
    found = [(due_last(mine), works.get(item_id)) for item_id, mine in given.items()]
    return found, _newest_first(list(versions.values())), list(memos.values())


def _work_of(row: Assignment) -> Work:
    """The Work row (and its grader's name) a `student_works` row carries."""
    work = from_columns(Work, {name: getattr(row, f"w_{name}") for name in _WORK_FIELDS})
    work.item = row.item
    if work.graded_by_id is not None:
        names = {name: getattr(row, f"g_{name}") for name in _GRADER_FIELDS}
        work.graded_by = from_columns(User, {"id": work.graded_by_id} | names)
    return work


def thesis_answers(item, student) -> list[str]:
    """A thesis tool's answers by the student, as lines for the side panel: one query."""
    if item.kind == ItemKind.STANCE_CHECK:
        answers = StanceAnswer.objects.filter(stance__item=item, user=student).in_phase_order()
        return [
            f"{a.get_phase_display()}: {a.value} ({a.get_value_display()}): “{a.reason}”"
            for a in answers
        ]
    if item.kind == ItemKind.DECISION:
        commit = DecisionCommit.objects.filter(decision__item=item, user=student).first()
        if commit is None:
            return []
        options = item.decision.options
        choice = options[commit.choice] if commit.choice < len(options) else "?"
        expects = "will" if commit.expects else "will not"
        return [
            f"Chose “{choice}”: “{commit.rationale}”",
            f"Predicted it {expects} happen, {commit.confidence}% sure",
        ]
    if item.kind == ItemKind.SPECTRUM:
        placements = SpectrumPlacement.objects.filter(exercise__item=item, user=student)
        return [
            f"{p.case.company}: {p.position}"
            + (f": “{p.justification}”" if p.justification else "")
            for p in placements.select_related("case").order_by("case__company")
        ]
    if item.kind == ItemKind.LIVE_SESSION:
        joined = LiveAttendance.objects.filter(session__item=item, user=student)
        marks = ParticipationMark.objects.filter(session__item=item, student=student)
        return [
            f"Joined “{a.session.title}” at {timezone.localtime(a.joined_at):%H:%M}"
            for a in joined.select_related("session").order_by("joined_at")
        ] + [
            f"+{m.points} in “{m.session.title}”" + (f": “{m.note}”" if m.note else "")
            for m in marks.select_related("session").order_by("created_at")
        ]
    return []
