"""The gradebook's arithmetic: pure functions over a row of the matrix, no queries.

The rules, in the order a student's course total is built:

- A cell counts in its category when it has a grade (`WorkStatus.GRADED`: a person's,
  the kind's own once nothing waits for a person, or the score of work in progress
  once its assignment takes no more, `scored_as_it_stands`), as points out of the
  assignment's points; or when it is past its (extended) due date with nothing handed
  in (`WorkStatus.LATE`), as 0. Work handed in and waiting for a person, work not yet
  due, excused work, items not given to the student and items worth 0 points are left
  out: they neither help nor hurt.
- A category's percent is the sum of the points earned over the sum of the points
  possible of the cells that count, after dropping the category's `drop_lowest` cells
  with the lowest percent (never the last one left).
- The course total weighs the category percents by their weights, over the categories
  that have a percent for this student: the weights are renormalised, so a category
  with nothing graded yet neither counts as 0 nor as full marks.
- Items without a category fall into "Uncategorised", weight 0: shown, never counted.
- On a student's own grades page only grades released to them count (`released_only`:
  `grade_released`, which a quiz's own "never" also withholds).
"""

from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

from django.db import transaction
from django.db.models import CharField, Count, Value
from django.db.models.functions import Cast, Concat
from django.utils import timezone

from cases.models import (
    Assignment,
    AuditAction,
    Course,
    GradeCategory,
    HeldRelease,
    ItemKind,
    ModuleItem,
    Work,
    WorkStatus,
)
from cases.models.workspace import work_changed
from cases.services.notifications import grades_released_notify
from cases.services.people import audit
from cases.services.workspace.matrix import Cell, Row, course_matrix, matrix_columns

ZERO = Decimal(0)


HUNDRED = Decimal(100)


TENTH = Decimal("0.1")


UNCATEGORISED = "Uncategorised"


@dataclass
class Group:
    """A category's columns. `category` is None for the uncategorised items."""

    category: object
    name: str
    weight: Decimal
    drop_lowest: int
    items: list = field(default_factory=list)

    @property
    def counted(self) -> bool:
        return self.weight > 0


@dataclass(frozen=True)
class Score:
    earned: Decimal
    possible: Decimal

    @property
    def fraction(self) -> Decimal:
        return self.earned / self.possible


@dataclass
class GroupGrades:
    group: Group
    cells: list[Cell]
    percent: Decimal | None
    dropped: set[int]  # Item ids dropped as this student's lowest.


@dataclass
class RowGrades:
    row: Row
    groups: list[GroupGrades]
    total: Decimal | None


def gradebook_groups(items) -> list[Group]:
    """The items grouped by grade category (in the categories' order), uncategorised
    last. Items keep their course order inside a group. Reads `item.grade_category`,
    which the matrix selects with the items."""
    groups: dict[object, Group] = {}
    loose = Group(category=None, name=UNCATEGORISED, weight=ZERO, drop_lowest=0)
    for item in items:
        category = item.grade_category
        if category is None:
            loose.items.append(item)
            continue
        group = groups.get(category.pk)
        if group is None:
            group = groups[category.pk] = Group(
                category=category,
                name=category.name,
                weight=Decimal(category.weight),
                drop_lowest=category.drop_lowest,
            )
        group.items.append(item)
    ordered = sorted(groups.values(), key=lambda g: (g.category.position, g.category.pk))
    return [*ordered, loose] if loose.items else ordered


def cell_score(cell: Cell, *, released_only: bool = False) -> Score | None:
    """What a cell counts for in its category, or None if it is left out."""
    assignment = cell.assignment
    if assignment is None or not assignment.points:
        return None
    if released_only and not cell.released:
        return None
    possible = Decimal(assignment.points)
    if cell.status == WorkStatus.GRADED and cell.points is not None:
        return Score(earned=cell.points, possible=possible)
    if cell.status == WorkStatus.LATE:  # Past due, nothing handed in, not excused.
        return Score(earned=ZERO, possible=possible)
    return None


def category_percent(scores: dict[int, Score], drop_lowest: int) -> tuple[Decimal | None, set[int]]:
    """The percent over the scores (keyed by item id) after dropping the `drop_lowest`
    lowest by percent, and the keys dropped. At least one score is always kept."""
    if not scores:
        return None, set()
    # A stable sort: of equal percents, the earlier item is dropped first.
    ranked = sorted(scores, key=lambda k: scores[k].fraction)
    dropped = set(ranked[: min(drop_lowest, len(ranked) - 1)])
    kept = [s for k, s in scores.items() if k not in dropped]
    possible = sum((s.possible for s in kept), ZERO)
    earned = sum((s.earned for s in kept), ZERO)
    return earned / possible * HUNDRED, dropped


def weighted_total(parts) -> Decimal | None:
    """The course percent from (weight, percent) pairs: weights renormalised over the
    parts that have a percent; None when no weighted part has one."""
    counted = [(w, p) for w, p in parts if w > 0 and p is not None]
    weights = sum((w for w, _ in counted), ZERO)
    if not weights:
        return None
    return sum((w * p for w, p in counted), ZERO) / weights


def row_grades(row: Row, groups: list[Group], *, released_only: bool = False) -> RowGrades:
    """One student's cells by group, each group's percent and the course total."""
    by_item = {cell.item.pk: cell for cell in row.cells}
    graded = []
    for group in groups:
        cells = [by_item[item.pk] for item in group.items if item.pk in by_item]
        scores = {}
        for cell in cells:
            score = cell_score(cell, released_only=released_only)
            if score is not None:
                scores[cell.item.pk] = score
        percent, dropped = category_percent(scores, group.drop_lowest)
        graded.append(GroupGrades(group=group, cells=cells, percent=percent, dropped=dropped))
    total = weighted_total((g.group.weight, g.percent) for g in graded)
    return RowGrades(
        row=row,
        groups=[GroupGrades(g.group, g.cells, rounded(g.percent), g.dropped) for g in graded],
        total=rounded(total),
    )


def rounded(percent: Decimal | None) -> Decimal | None:
    """A percent to one decimal place, for showing and exporting."""
    return None if percent is None else percent.quantize(TENTH, rounding=ROUND_HALF_UP)


# The categories a course starts with, by name: (weight, drop lowest, item kinds filed
# there). Participation takes the in-class kinds.
DEFAULT_CATEGORIES = {
    "Readings": (Decimal(10), 0, [ItemKind.CASE_READING]),
    "Quizzes": (Decimal(30), 1, [ItemKind.QUIZ]),
    "Discussions": (Decimal(20), 0, [ItemKind.DISCUSSION, ItemKind.ANNOTATION]),
    "Written analyses": (Decimal(20), 0, [ItemKind.ANALYSIS]),
    "Participation": (
        Decimal(20),
        0,
        [ItemKind.STANCE_CHECK, ItemKind.SPECTRUM, ItemKind.DECISION, ItemKind.LIVE_SESSION],
    ),
}


def _categories_shown(course) -> dict[str, str]:
    """The course's categories as the audit log shows them: name → weight (and drop)."""
    return {
        c.name: f"{c.weight.normalize():f}%" + (f", drop {c.drop_lowest}" if c.drop_lowest else "")
        for c in GradeCategory.objects.filter(course=course).order_by("position", "pk")
    }


def _categories_audit(course, before: dict[str, str], by) -> None:
    """Every total in the gradebook moves with its categories, released ones too, so a
    change is audited like a grade override, with the categories before and after."""
    after = _categories_shown(course)
    if after != before:
        audit(
            by,
            AuditAction.GRADE_CATEGORIES,
            f"Grade categories of {course.code} changed",
            course=course,
            before=before,
            after=after,
        )


@dataclass(frozen=True)
class GradeCategoriesChange:
    """What saving an edit of a course's categories would do to what counts
    (`grade_categories_change`)."""

    # The deleted categories that hold items, with how many: those items become
    # uncategorised, which counts in no total.
    emptied: list[tuple[GradeCategory, int]]
    # Students whose course total over released grades (their grades page's) moves.
    released: int

    @property
    def at_stake(self) -> bool:
        return bool(self.emptied or self.released)


def grade_categories_change(
    *, course, saved: list[GradeCategory], deleted: list[GradeCategory]
) -> GradeCategoriesChange:
    """What `grade_categories_save` with this edit would do to the totals: the deleted
    categories that hold items (with how many), and how many students' released totals
    move with the deletions and the new weights and lowest dropped, worked out by the
    same `row_grades` their grades page uses. The categories page asks before saving
    when either is so; a rename, a new order, a new category or an empty one deleted
    moves nothing. One query; at most six when a category holding items is deleted,
    reweighed or drops another number, whatever the class size."""
    before = {
        c.pk: c for c in GradeCategory.objects.filter(course=course).annotate(held=Count("items"))
    }
    gone = {c.pk for c in deleted if c.pk in before}
    after = {c.pk: c for c in saved if c.pk in before}
    moved = gone | {
        pk
        for pk, c in after.items()
        if (c.weight, c.drop_lowest) != (before[pk].weight, before[pk].drop_lowest)
    }
    emptied = [(c, c.held) for c in before.values() if c.pk in gone and c.held]
    released = 0
    if any(before[pk].held for pk in moved):
        released = _released_totals_moved(course, gone=gone, after=after)
    return GradeCategoriesChange(emptied=emptied, released=released)


def _released_totals_moved(course, *, gone: set[int], after: dict[int, GradeCategory]) -> int:
    """How many of the course's students have a released total that the categories
    deleted (`gone`) and edited (`after`, by id) would move, as their grades page rounds
    it. Five queries: every cohort's columns and every student's row."""
    cohorts = list(course.cohorts.all())
    # The matrix's user and access only choose the cohorts, given here: all of them.
    columns = matrix_columns(None, course, None, cohorts=cohorts)
    if not any(a.grades_released_at for a in columns.assignments):
        return 0
    matrix = course_matrix(None, course, None, per_page=None, columns=columns)
    now = gradebook_groups(columns.items)
    then = []
    loose = Group(category=None, name=UNCATEGORISED, weight=ZERO, drop_lowest=0)
    for group in now:
        if group.category is None or group.category.pk in gone:
            loose.items = [*loose.items, *group.items]
            continue
        category = after.get(group.category.pk, group.category)
        then.append(
            Group(
                category=category,
                name=category.name,
                weight=Decimal(category.weight),
                drop_lowest=category.drop_lowest,
                items=group.items,
            )
        )
    then.append(loose)
    return sum(
        1
        for row in matrix.rows
        if row_grades(row, now, released_only=True).total
        != row_grades(row, then, released_only=True).total
    )


@transaction.atomic
def grade_categories_save(
    *, course, saved: list[GradeCategory], deleted: list[GradeCategory], by=None
):
    """The course's categories as edited on its page: every change or none. Names are
    unique in a course only once the whole edit is saved, not after each row: the
    deleted go first and the renamed step aside under a name of their own (their id),
    so two categories may swap names, or one take the name of one deleted. Audited."""
    before = _categories_shown(course)
    for category in deleted:
        category.delete()
    renamed = [c.pk for c in saved if c.pk is not None]
    GradeCategory.objects.filter(pk__in=renamed).update(
        name=Concat(Value("\u241f"), Cast("pk", CharField())), updated_at=timezone.now()
    )
    for category in saved:
        category.course = course
        category.save()
    _categories_audit(course, before, by)


@transaction.atomic
def items_file(*, course, changes: dict[int, GradeCategory | None]) -> int:
    """File items of the course in grade categories (None: in none). Returns how many.
    Each item's `updated_at` moves with it (`update()` does not set it by itself): the
    gradebook's version reads it."""
    items = ModuleItem.objects.filter(module__course=course)
    now = timezone.now()
    return sum(
        items.filter(pk=item_pk).update(grade_category=category, updated_at=now)
        for item_pk, category in changes.items()
    )


@transaction.atomic
def assignment_release(*, assignment: Assignment, released: bool, now=None) -> Assignment:
    """Show (or hide again) the assignment's grades and comments to its cohort's
    students. Releasing twice keeps the first release time. Students with a grade are
    notified of the first release (a key makes it once), and their grades go on to a
    linked LMS's gradebook, which is sent only released grades (`work_changed`)."""
    if released and assignment.grades_released_at is None:
        assignment.grades_released_at = now or timezone.now()
    elif not released:
        assignment.grades_released_at = None
    Assignment.objects.filter(pk=assignment.pk).update(
        grades_released_at=assignment.grades_released_at, updated_at=timezone.now()
    )
    if released:
        grades_released_notify(assignment)
        students = Work.objects.filter(
            item=assignment.item_id, user__memberships__cohort=assignment.cohort_id
        ).values_list("user_id", flat=True)
        work_changed.send(ModuleItem, item=assignment.item, user_ids=list(students))
    return assignment


def releases_follow(*, cohort, to, user_ids) -> int:
    """Students moved from `cohort` to `to` keep seeing the grades released to them
    there (the cohort's own release, or one held for them from an earlier section): it
    is held for them on `to`'s assignment of the same item (`HeldRelease`, which
    `seen_by` reads), so a grade they were shown is not taken away by a section whose
    grades are not released yet. Grades never released to them follow `to`'s release.
    Releases held on `cohort`'s assignments go, as they no longer apply. Returns how
    many releases are held. Three queries and a write."""
    user_ids = list(user_ids)
    left = {
        a.item_id: a
        for a in Assignment.objects.filter(
            cohort=cohort, item__in=Assignment.objects.filter(cohort=to).values("item")
        )
    }
    held = HeldRelease.objects.filter(assignment__cohort=cohort, user__in=user_ids)
    theirs = {
        (item_id, user_id): at
        for item_id, user_id, at in held.values_list("assignment__item", "user", "released_at")
    }
    kept = [
        HeldRelease(assignment=target, user_id=user_id, released_at=at)
        for target in Assignment.objects.filter(cohort=to, item__in=left)
        for user_id in user_ids
        if (at := left[target.item_id].grades_released_at or theirs.get((target.item_id, user_id)))
    ]
    held.delete()
    # One held already (from an earlier stay in `to`) stands: it was shown first.
    HeldRelease.objects.bulk_create(kept, ignore_conflicts=True)
    return len(kept)


@transaction.atomic
def grade_categories_add_defaults(*, course: Course, by=None) -> int:
    """Give a course without categories the default ones, and file each of its
    uncategorised items in the default category for its kind. A course that has
    categories keeps them; only its uncategorised items are filed, into default
    categories that still exist by name. Returns the number of items filed."""
    before = _categories_shown(course)
    if not before:
        GradeCategory.objects.bulk_create(
            GradeCategory(
                course=course, name=name, weight=weight, drop_lowest=drop, position=position
            )
            for position, (name, (weight, drop, _kinds)) in enumerate(DEFAULT_CATEGORIES.items(), 1)
        )
        _categories_audit(course, before, by)
    by_name = {c.name: c for c in GradeCategory.objects.filter(course=course)}
    filed = 0
    for name, (_weight, _drop, kinds) in DEFAULT_CATEGORIES.items():
        if name in by_name:
            filed += ModuleItem.objects.filter(
                module__course=course, grade_category__isnull=True, kind__in=kinds
            ).update(grade_category=by_name[name], updated_at=timezone.now())
    return filed
