"""Students by assigned items for one course: the data under the response tracker, the
gradebook and the CSV export.

A fixed number of queries whatever the class size: the columns (items), their
assignments, one page of students with their cohorts, and those students' Work rows and
extensions. Each cell pairs the student's effective assignment (their cohort's dates,
moved by any extension) with their Work row, and knows its tracker status and points.
"""

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from django.db.models import (
    Count,
    Exists,
    OuterRef,
    Q,
    Subquery,
    Window,
)
from django.utils import timezone

from cases import sql
from cases.models import (
    Accommodation,
    Assignment,
    Extension,
    LatePolicy,
    Membership,
    ModuleItem,
    User,
    Work,
    WorkStatus,
    due_last,
    grade_released,
    handed_in_late,
    with_extension,
    work_status,
)
from cases.permissions import CourseAccess, graded_cohorts
from cases.services.workspace.work import earlier_points, work_points

# The tracker's filter offers these; "behind" is its own filter.
STATUS_FILTERS = [
    WorkStatus.NOT_STARTED,
    WorkStatus.IN_PROGRESS,
    WorkStatus.SUBMITTED,
    WorkStatus.LATE,
    WorkStatus.GRADED,
    WorkStatus.EXCUSED,
]


# The staff's words for work a person graded that was handed in again since.
HANDED_IN_AGAIN = "Handed in again"


@dataclass(slots=True)
class Cell:
    """One student's work on one item as every staff page and the student's grades show
    it (`work_cell`)."""

    item: ModuleItem
    assignment: Assignment | None  # None: not given to this student's cohort.
    work: "Work | GridWork | None"
    status: str = ""
    late: bool = False  # Handed in after the (extended) due date.
    points: Decimal | None = None
    # Graded by a person, then handed in again: that grade's points, shown as "was",
    # never counted (`earlier_points`). The status is then "handed in".
    earlier: Decimal | None = None

    @property
    def released(self) -> bool:
        """Whether the student sees this grade and its comment (`grade_released`): for
        their grades page, its percents and what an LMS is sent; the staff see all."""
        return grade_released(self.assignment, self.item)

    @property
    def label(self) -> str:
        """The status in the staff's words ("Handed in again" while an earlier grade
        waits to be redone)."""
        if self.earlier is not None:
            return HANDED_IN_AGAIN
        return WorkStatus(self.status).label if self.status else ""


@dataclass
class Row:
    student: User
    cells: list[Cell] = field(default_factory=list)
    cohorts: list[int] = field(default_factory=list)  # Ids of the student's shown cohorts.


@dataclass
class Matrix:
    items: list[ModuleItem]
    rows: list[Row]
    total: int  # Students matching the filters, on every page.
    page: int
    pages: int
    modules: list  # Modules with assigned items, for a filter.
    cohorts: list  # Every cohort the user may grade, for a filter.
    # Every assignment of the columns to the shown cohorts, with its cohort and item.
    assignments: list[Assignment] = field(default_factory=list)


@dataclass(slots=True)
class GridWork:
    """What a grid's cell reads of a Work row: its status and points."""

    item_id: int
    user_id: int
    state: str
    submitted_at: datetime | None
    auto_score: Decimal | None
    max_score: Decimal | None
    needs_grading: bool
    rubric_score: Decimal | None
    override_score: Decimal | None
    excused: bool


GRID_WORK_FIELDS = [f for f in GridWork.__dataclass_fields__]

# Graded by a person without a hand-in: participation points for a student who spoke in
# class but never posted.
PERSON_GRADED = Q(auto_score__isnull=False, max_score__isnull=True)


def students_behind(items, now) -> Q:
    """Students to chase: active accounts with an assignment past its (extended) due
    date and nothing handed in or excused. The tracker's "behind" filter and the
    teaching page's count both read it. A deactivated student (`user_deactivate`) has
    left: their late work stays late on their row (and under the "late" filter), but
    nobody should chase them."""
    return Q(is_active=True) & _overdue(items, now)


def _overdue(items, now) -> Q:
    """Students with an assignment past its (extended) due date and nothing handed in
    or excused: a "late" cell, active account or not."""
    student = OuterRef(OuterRef("pk"))
    extended = Extension.objects.filter(assignment=OuterRef("pk"), user=student, due_at__gte=now)
    # Not LATE in `work_status`: handed in, excused, or graded by a person without one.
    handed_in = Work.objects.filter(item=OuterRef("item"), user=student).filter(
        Q(state=WorkStatus.SUBMITTED)
        | Q(excused=True)
        | PERSON_GRADED
        | Q(override_score__isnull=False)
        | Q(rubric_score__isnull=False)
    )
    overdue = (
        Assignment.objects.filter(
            item__in=items, cohort__memberships__user=OuterRef("pk"), due_at__lt=now
        )
        .exclude(Exists(extended))
        .exclude(Exists(handed_in))
        .exclude(_scored_as_it_stands(now))
    )
    return Q(Exists(overdue))


def _scored_as_it_stands(now) -> Q:
    """Of an assignment past its cohort's due date, whether the student's (an
    OuterRef(OuterRef("pk"))) work is graded as it stands (`scored_as_it_stands`):
    scored short of a hand-in, past any extension of theirs, and the assignment takes
    no more work: late work refused, or past the cut-off and any later one of theirs."""
    student = OuterRef(OuterRef("pk"))
    extended = Extension.objects.filter(assignment=OuterRef("pk"), user=student, due_at__gte=now)
    scored = Work.objects.filter(
        item=OuterRef("item"),
        user=student,
        state__in=[WorkStatus.OPENED, WorkStatus.IN_PROGRESS],
        needs_grading=False,
        excused=False,
        auto_score__gt=0,
        max_score__gt=0,
    )
    # `later_cut_off`: an extension with no cut-off, or a later one, keeps it open.
    cut_off_later = Extension.objects.filter(assignment=OuterRef("pk"), user=student).filter(
        Q(late_until__isnull=True) | Q(late_until__gte=now)
    )
    closed = Q(late_policy=LatePolicy.REFUSE) | (Q(late_until__lt=now) & ~Q(Exists(cut_off_later)))
    return Q(Exists(scored)) & ~Q(Exists(extended)) & closed


def _with_status(items, status: str, now) -> Q:
    """Students with at least one of the shown items in this status (approximately, in
    SQL: extensions are not consulted for "not started")."""
    work = Work.objects.filter(item__in=items, user=OuterRef("pk"))
    if status == WorkStatus.LATE:
        return _overdue(items, now)
    if status == WorkStatus.EXCUSED:
        return Q(Exists(work.filter(excused=True)))
    if status == WorkStatus.GRADED:
        closed = Assignment.objects.filter(
            item__in=items, cohort__memberships__user=OuterRef("pk"), due_at__lt=now
        ).filter(_scored_as_it_stands(now))
        return Q(Exists(closed)) | Q(
            Exists(
                work.filter(
                    Q(override_score__isnull=False)
                    # As `is_graded`: a person's score stands unless the work waits again.
                    | Q(rubric_score__isnull=False, needs_grading=False)
                    | (PERSON_GRADED & Q(needs_grading=False))
                    | Q(state=WorkStatus.SUBMITTED, auto_score__isnull=False, needs_grading=False)
                )
            )
        )
    if status == WorkStatus.SUBMITTED:
        return Q(Exists(work.filter(state=WorkStatus.SUBMITTED, excused=False)))
    if status == WorkStatus.IN_PROGRESS:
        return Q(Exists(work.filter(state__in=[WorkStatus.OPENED, WorkStatus.IN_PROGRESS])))
    untouched = Assignment.objects.filter(
        item__in=items, cohort__memberships__user=OuterRef("pk")
    ).exclude(Exists(Work.objects.filter(item=OuterRef("item"), user=OuterRef(OuterRef("pk")))))
    return Q(Exists(untouched))


def course_items(course, cohorts):
    """The columns: items given to at least one of these cohorts, in course order."""
    return (
        ModuleItem.objects.filter(module__course=course)
        .filter(Exists(Assignment.objects.filter(item=OuterRef("pk"), cohort__in=cohorts)))
        .select_related("module", "grade_category", "rubric")
        .order_by("module__position", "module__pk", "position", "pk")
    )


@dataclass
class Columns:
    """A grid's columns and what its filters offer: two queries, whatever the class."""

    cohorts: list  # Every cohort the user may grade, for a filter.
    cohort_ids: list[int]  # Those shown.
    items: list[ModuleItem]  # The columns: items given to a cohort shown, in course order.
    modules: list  # Modules with assigned items, for a filter.
    # Every assignment of the columns to the shown cohorts, with its cohort and item.
    assignments: list[Assignment]


def shown_cohort_ids(cohorts: list, cohort_id: int | None) -> list[int]:
    """The cohorts a grid shows among those the user grades: the one filtered for, or
    all of them."""
    return [c.pk for c in cohorts if cohort_id is None or c.pk == cohort_id]


def matrix_columns(
    user,
    course,
    access: CourseAccess,
    *,
    cohort_id: int | None = None,
    module_id=None,
    cohorts: list | None = None,
) -> Columns:
    """The columns of the course's grid for this user: the assignments to the cohorts
    shown, with their items (given to at least one of them, as `course_items`).
    `cohorts`: the user's `graded_cohorts`, when the caller has them."""
    if cohorts is None:
        cohorts = list(graded_cohorts(user, course, access))
    cohort_ids = shown_cohort_ids(cohorts, cohort_id)
    assignments = list(
        Assignment.objects.filter(item__module__course=course, cohort__in=cohort_ids)
        .select_related(
            "cohort", "item__module", "item__grade_category", "item__rubric", "item__quiz"
        )
        .order_by("pk")
    )
    every_item = sorted(
        {a.item_id: a.item for a in assignments}.values(),
        key=lambda i: (i.module.position, i.module_id, i.position, i.pk),
    )
    if module_id is not None:
        assignments = [a for a in assignments if a.item.module_id == module_id]
    return Columns(
        cohorts=cohorts,
        cohort_ids=cohort_ids,
        items=[i for i in every_item if module_id is None or i.module_id == module_id],
        modules=list({i.module_id: i.module for i in every_item}.values()),
        assignments=assignments,
    )


def course_matrix(
    user,
    course,
    access: CourseAccess,
    *,
    cohort_id: int | None = None,
    module_id: int | None = None,
    status: str = "",
    behind: bool = False,
    student_id: int | None = None,
    page: int = 1,
    per_page: int | None = 50,
    now=None,
    columns: Columns | None = None,
) -> Matrix:
    """One page of the course's students (those the user may grade) by its assigned
    items. `per_page=None` gives every student (the CSV export). `columns`: the
    grid's columns, when the caller has them (`matrix_columns` with the same filters)."""
    now = now or timezone.now()
    if columns is None:
        columns = matrix_columns(user, course, access, cohort_id=cohort_id, module_id=module_id)
    cohort_ids, items, assignments = columns.cohort_ids, columns.items, columns.assignments
    # A student's cohorts among these: the first and the last is enough, since a student
    # is rarely in more than two sections of one course.
    mine = Membership.objects.filter(user=OuterRef("pk"), cohort__in=cohort_ids)
    students = (
        User.objects.filter(Exists(mine))
        .annotate(
            cohort_a=Subquery(mine.order_by("cohort").values("cohort")[:1]),
            cohort_b=Subquery(mine.order_by("-cohort").values("cohort")[:1]),
            # A small "extra time" tag beside the name (see Accommodation).
            extra_time=Exists(Accommodation.objects.filter(course=course, student=OuterRef("pk"))),
        )
        .order_by("last_name", "first_name", "username")
    )
    if student_id is not None:
        students = students.filter(pk=student_id)
    if behind:
        students = students.filter(students_behind(items, now))
    if status in WorkStatus.values:
        students = students.filter(_with_status(items, status, now))
    if per_page:
        # The total rides on each row (a window count), saving a COUNT query.
        counted = students.annotate(total=Window(Count("pk")))
        students = list(counted[(page - 1) * per_page : page * per_page])
        if not students and page > 1:
            page = 1
            students = list(counted[:per_page])
        total = students[0].total if students else 0
        pages = max(1, -(-total // per_page))
    else:
        students = list(students)
        total, pages, page = len(students), 1, 1
    student_ids = [s.id for s in students]
    item_ids = [i.id for i in items]

    by_item_cohort = {(a.item_id, a.cohort_id): a for a in assignments}
    works = Work.objects.filter(item__in=item_ids, user__in=student_ids)
    if student_id is None:
        # A grid reads a few fields of many rows: plain tuples into slotted objects cost
        # a quarter of what model instances do (a page has some 1,500).
        works = (GridWork(*values) for values in works.values_list(*GRID_WORK_FIELDS))
    works = {(w.user_id, w.item_id): w for w in works}
    extensions = {
        (e.user_id, e.assignment_id): e
        for e in Extension.objects.filter(
            assignment__in=[a.id for a in assignments], user__in=student_ids
        )
    }

    rubric_max = _rubric_maxima(items)
    rows = []
    # The loop runs once a cell (2,000 a page): ids read as attributes, not through
    # `.pk`, whose property costs more than the rest of a lookup.
    ids = [(item, item.id) for item in items]
    # Each column's assignment for a pair of cohorts, chosen once for the pair (a page
    # holds two or three pairs), not once a cell.
    given: dict[tuple, list] = {}
    for student in students:
        user_id = student.id
        pair = (student.cohort_a, student.cohort_b)
        my_cohorts = sorted({c for c in pair if c is not None})
        row = Row(student=student, cohorts=my_cohorts)
        if pair not in given:
            given[pair] = [_assignment_of(i, my_cohorts, by_item_cohort) for _, i in ids]
        for (item, item_id), assignment in zip(ids, given[pair], strict=True):
            work = works.get((user_id, item_id))
            extension = extensions.get((user_id, assignment.id)) if assignment else None
            row.cells.append(_cell(item, assignment, work, extension, now, rubric_max))
        rows.append(row)
    return Matrix(
        items=items,
        rows=rows,
        total=total,
        page=page,
        pages=pages,
        modules=columns.modules,
        cohorts=columns.cohorts,
        assignments=assignments,
    )


def student_row(student, course, *, now=None) -> Row:
    """One student's own row in the course (their grades page): every item given to one
    of their cohorts that they may open now, with their dates and work, each assignment
    as they see it (`seen_by`: their extension in place, and released to them when a
    release they were shown holds for them). An item none of whose assignments is open
    yet is left out until one is, as from their course page (`visible_to_student`): its
    page would refuse them. Two queries."""
    now = now or timezone.now()
    assignments = list(
        Assignment.objects.seen_by(student)
        .filter(item__module__course=course)
        # The quiz, for its own rule of when a score shows (`grade_released`).
        .select_related("item__module", "item__grade_category", "item__rubric", "item__quiz")
    )
    shown = {a.item_id for a in assignments if a.is_open(now)}
    assignments = [a for a in assignments if a.item_id in shown]
    items = sorted(
        {a.item_id: a.item for a in assignments}.values(),
        key=lambda i: (i.module.position, i.module_id, i.position, i.pk),
    )
    by_item_cohort = {(a.item_id, a.cohort_id): a for a in assignments}
    my_cohorts = sorted({a.cohort_id for a in assignments})
    works = {w.item_id: w for w in Work.objects.filter(item__in=items, user=student)}
    row = Row(student=student, cohorts=my_cohorts)
    rubric_max = _rubric_maxima(items)
    for item in items:
        assignment = _assignment_of(item.id, my_cohorts, by_item_cohort)
        row.cells.append(
            work_cell(item, assignment, works.get(item.pk), now, rubric_max.get(item.id))
        )
    return row


@dataclass
class Column:
    """One item's cells for a page of the students it is given to (those the user may
    grade), as the tracker shows them."""

    rows: list[Row]
    total: int  # Students given the item, on every page.
    page: int
    pages: int


def item_column(user, item, access: CourseAccess, *, page: int = 1, per_page: int = 50, now=None):
    """One page of the students the item is given to that the user may grade, each with
    the item's cell (status, late mark, points): four queries, whatever the class."""
    now = now or timezone.now()
    cohorts = graded_cohorts(user, item.module.course, access).filter(assignments__item=item)
    mine = Membership.objects.filter(user=OuterRef("pk"), cohort__in=cohorts)
    students = (
        User.objects.filter(Exists(mine))
        .annotate(
            cohort_a=Subquery(mine.order_by("cohort").values("cohort")[:1]),
            cohort_b=Subquery(mine.order_by("-cohort").values("cohort")[:1]),
            total=Window(Count("pk")),
        )
        .order_by("last_name", "first_name", "username")
    )
    rows = list(students[(page - 1) * per_page : page * per_page])
    if not rows and page > 1:
        page, rows = 1, list(students[:per_page])
    total = rows[0].total if rows else 0
    ids = [s.id for s in rows]
    by_item_cohort = {
        (a.item_id, a.cohort_id): a
        for a in Assignment.objects.filter(item=item, cohort__in=cohorts)
    }
    works = {w.user_id: w for w in Work.objects.filter(item=item, user__in=ids)}
    extensions = {
        (e.user_id, e.assignment_id): e
        for e in Extension.objects.filter(assignment__item=item, user__in=ids)
    }
    rubric_max = _rubric_maxima([item])
    found = []
    for student in rows:
        my_cohorts = sorted(c for c in {student.cohort_a, student.cohort_b} if c is not None)
        assignment = _assignment_of(item.id, my_cohorts, by_item_cohort)
        extension = extensions.get((student.id, assignment.id)) if assignment else None
        cell = _cell(item, assignment, works.get(student.id), extension, now, rubric_max)
        found.append(Row(student=student, cells=[cell], cohorts=my_cohorts))
    return Column(rows=found, total=total, page=page, pages=max(1, -(-total // per_page)))


def given_cells(given, now=None) -> list[Cell]:
    """One student's cells from (their assignment of an item, their Work row) pairs, as
    `student_works` gives them: their row as the tracker has it (`work_cell`), for the
    timeline; no query (each item comes with its rubric)."""
    now = now or timezone.now()
    rubric_max = _rubric_maxima([assignment.item for assignment, _work in given])
    return [
        work_cell(assignment.item, assignment, work, now, rubric_max.get(assignment.item_id))
        for assignment, work in given
    ]


def _rubric_maxima(items) -> dict[int, Decimal]:
    """Each rubric-graded item's maximum, worked out once rather than once a cell."""
    return {item.pk: item.rubric.max_points for item in items if item.rubric_id}


def _cell(item, assignment, work, extension, now, rubric_max: dict[int, Decimal]) -> Cell:
    if assignment is not None and extension is not None:
        assignment = with_extension(_copy(assignment), extension)
    return work_cell(item, assignment, work, now, rubric_max.get(item.id))


def work_cell(item, assignment, work, now, rubric_max: Decimal | None = None) -> Cell:
    """One student's work on one item, from their own assignment of it (their
    extension already in place; None: not given to them) and their Work row: where
    they stand (`work_status`), whether they handed it in late, the points it earns
    (`work_points`) and an earlier grade waiting to be redone (`earlier_points`). The
    one place these are put together: the tracker and its panel, the gradebook and its
    CSV, the grade page, the grader, a student's grades and the timeline read them."""
    cell = Cell(item=item, assignment=assignment, work=work)
    if assignment is None:
        return cell
    cell.status = work_status(work, assignment, now)
    cell.late = handed_in_late(work, assignment)
    cell.points = work_points(work, assignment, rubric_max)
    if cell.points is None and cell.status == WorkStatus.SUBMITTED:
        cell.earlier = earlier_points(work, assignment, rubric_max)
    return cell


def _assignment_of(item_id: int, cohort_ids, by_item_cohort) -> Assignment | None:
    """The student's assignment of the item (in two cohorts, `due_last`'s choice)."""
    return due_last(
        by_item_cohort[(item_id, c)] for c in cohort_ids if (item_id, c) in by_item_cohort
    )


def _copy(assignment: Assignment) -> Assignment:
    """A shallow copy, so one student's extension does not move their classmates'."""
    clone = Assignment.__new__(Assignment)
    clone.__dict__ = assignment.__dict__.copy()
    return clone


def course_version(course, now) -> str:
    """Everything the tracker and gradebook show, folded into one short string in one
    query (`cases.sql.course_version_row`): any change to students' work, dates, points,
    releases, extensions, extra time, the roster and its cohorts' names, who of it is
    deactivated (the tag beside a name), the items and modules (titles, order), their
    grade categories (names, weights, drop-lowest, order) and rubrics (levels and
    points), and each due date and cut-off that has passed since, moves it.
    Unchanged polls ask this and nothing more. Not folded in: a student's name, which
    shows within `KEPT_SECONDS`."""
    row = sql.course_version_row(course_id=course.pk, now=now)
    return hashlib.blake2b(repr(row).encode(), digest_size=8).hexdigest()
