"""Grading by people: a person's part of a student's grade on one item (override,
rubric levels, comment, excused), and rubrics scored against it."""

from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal

from django.db import transaction
from django.db.models import Exists, F, OuterRef, Q
from django.utils import timezone

from cases.models import (
    Assignment,
    AuditAction,
    HeldRelease,
    ModuleItem,
    PeerReview,
    Rubric,
    Work,
    due_last,
)
from cases.models.workspace import work_changed
from cases.services.notifications import graded_after_release_notify
from cases.services.people import audit
from cases.services.workspace.work import work_sync, work_sync_items

# A person's part of a Work row; work_sync's fields (state, dates, scores of the kind,
# needs_grading) are never written here.
PERSON_FIELDS = [
    "rubric_levels",
    "override_score",
    "override_reason",
    "excused",
    "feedback",
]


@transaction.atomic
def work_grade(*, item: ModuleItem, student, grader, from_peers: bool = False, **changes) -> Work:
    """Set a person's part of one student's grade on one item: any of PERSON_FIELDS
    (rubric levels score themselves against the item's rubric; `from_peers` says they
    are the median of peer reviews, not a grader's choice). The same call twice
    leaves the same row; two graders at once are applied one after the other (the row
    is created once, by its unique (item, user), then locked), and only the fields
    given are written, so a concurrent work_sync is never undone."""
    if unknown := set(changes) - set(PERSON_FIELDS):
        raise TypeError(f"Not a person's part of a grade: {sorted(unknown)}")
    Work.objects.get_or_create(item=item, user=student)
    work = Work.objects.select_for_update().get(item=item, user=student)
    before = (work.override_score, work.override_reason)
    if "override_score" in changes:
        # A cleared override keeps no reason: the reason explains a score that is shown.
        reason = changes.get("override_reason", "").strip()
        changes["override_reason"] = reason if changes["override_score"] is not None else ""
    if "rubric_levels" in changes:
        changes["rubric_score"] = rubric_score(item.rubric, changes["rubric_levels"])
        changes["rubric_from_peers"] = from_peers
    for name, value in changes.items():
        setattr(work, name, value)
    work.graded_by = grader
    work.graded_at = timezone.now()
    work.save(update_fields=[*changes, "graded_by", "graded_at", "updated_at"])
    if "override_score" in changes and (work.override_score, work.override_reason) != before:
        _audit_override(work, item, student, grader, before)
    work_changed.send(ModuleItem, item=item, user_ids=[student.pk])
    graded_after_release_notify(item, [student.pk])
    return work


@transaction.atomic
def work_grade_stands(*, item: ModuleItem, student, grader) -> None:
    """The grader saved their grade of the student's work: it now stands for the work as
    it is. Work handed in again after its grade (a memo's new version, a thread's new
    posts) waits for a person again (`graded_earlier`); saving the grade, changed or
    not, answers it (stamped with who and when)."""
    work = Work.objects.filter(item=item, user=student).first()
    graded = work is not None and (
        work.rubric_score is not None
        or work.override_score is not None
        or work.auto_score is not None
    )
    if graded:
        work_grade(item=item, student=student, grader=grader)
    work_sync(item, [student.pk])
    graded_after_release_notify(item, [student.pk])


def _audit_override(work: Work, item: ModuleItem, student, grader, before) -> None:

    def shown(score, reason):
        return {"score": None if score is None else str(score), "reason": reason}

    audit(
        grader,
        AuditAction.GRADE_OVERRIDE,
        f"{student} on “{item.title}”: "
        + ("override cleared" if work.override_score is None else f"{work.override_score}"),
        subject=student,
        course=item.module.course,
        before=shown(*before),
        after=shown(work.override_score, work.override_reason),
    )


@transaction.atomic
def rubric_update(*, rubric: Rubric, title: str, criteria: list, item_ids: set[int]) -> int:
    """Save the rubric and make it the rubric of exactly these items of its course; then
    score again the work on every item that gained or lost it or whose criteria changed,
    its levels carried to the rubric as it now stands (`rubric_levels_carried`). Returns
    how many scores changed. `rubric_change` says beforehand what this would do."""
    before, _after = _rubric_sides(rubric, criteria, item_ids)
    rubric.title, rubric.criteria = title, criteria
    rubric.save()
    items = ModuleItem.objects.filter(module__course=rubric.course_id)
    # The items' `updated_at` moves with their rubric (`update()` does not set it).
    now = timezone.now()
    items.filter(pk__in=item_ids).update(rubric=rubric, updated_at=now)
    items.filter(rubric=rubric).exclude(pk__in=item_ids).update(rubric=None, updated_at=now)
    return rubric_rescore(list(before), chosen_under=before)


@dataclass
class RubricChange:
    """What saving a rubric as edited, or an item's rubric switched, would do to the
    scores already given (`criteria_change`), counting work a person scored and did not
    excuse."""

    scored: int  # Scored on an item whose rubric would read differently.
    regraded: int  # Of them, those given another grade (score, or the maximum).
    to_grade: int  # Of them, those that would lose their score and wait for a person.
    released: int  # Of those regraded or to grade, grades their students were shown.

    @property
    def at_stake(self) -> bool:
        return bool(self.scored)


def rubric_change(*, rubric: Rubric, criteria: list, item_ids: set[int]) -> RubricChange:
    """What `rubric_update` with these criteria and items would do to the scores already
    given on the items whose rubric would read differently (its criteria, levels or
    points edited, or the item given or taken this rubric): the rubric page asks before
    saving when any such score exists (`criteria_change`). Three queries."""
    before, after = _rubric_sides(rubric, criteria, item_ids)
    return criteria_change(before=before, after=after)


def item_rubric_change(
    *, item: ModuleItem, before: list | None, rubric: Rubric | None
) -> RubricChange:
    """What giving the item `rubric` (None: taking its rubric off) would do to the work
    scored on it under the criteria `before` (`criteria_change`): the item's page asks
    before saving when any such score exists. Two queries."""
    return criteria_change(
        before={item.pk: before}, after={item.pk: rubric.criteria if rubric else None}
    )


def criteria_change(*, before: dict, after: dict) -> RubricChange:
    """What scoring again the work on items whose rubric changes from the criteria
    `before` to `after` (by item id, None: no rubric) would do to the scores already
    given, worked out by the rule `rubric_rescore` applies, so a page asking first says
    what saving then does. The one answer for a rubric edited and an item's rubric
    switched or taken off. Two queries."""
    involved = [pk for pk in before if before[pk] != after[pk]]
    works = list(Work.objects.filter(item__in=involved, excused=False, rubric_score__isnull=False))
    changed = []
    for work in works:
        was, will = before[work.item_id], after[work.item_id]
        score = rubric_score(_as_rubric(will), rubric_levels_carried(work.rubric_levels, was, will))
        # A grade is the score's share of the rubric's maximum: the same score out of
        # another maximum is another grade.
        if (
            score is None
            or was is None
            or score * _as_rubric(was).max_points != work.rubric_score * _as_rubric(will).max_points
        ):
            changed.append((work, score))
    to_grade = sum(1 for _work, score in changed if score is None)
    released = _released({(work.item_id, work.user_id) for work, _score in changed})
    return RubricChange(len(works), len(changed) - to_grade, to_grade, len(released))


def _rubric_sides(rubric: Rubric, criteria: list, item_ids) -> tuple[dict, dict]:
    """The criteria each item of the rubric's course that has it or would have it is
    graded by now and would be after the edit (None: no rubric), by item id. One query."""
    items = ModuleItem.objects.filter(module__course=rubric.course_id).filter(
        Q(pk__in=item_ids) | Q(rubric=rubric)
    )
    before, after = {}, {}
    for item in items.select_related("rubric"):
        if item.rubric_id == rubric.pk:
            before[item.pk] = rubric.criteria
        else:
            before[item.pk] = item.rubric.criteria if item.rubric_id else None
        after[item.pk] = criteria if item.pk in item_ids else None
    return before, after


def _released(pairs: set[tuple[int, int]]) -> set[tuple[int, int]]:
    """Of (item id, student id) pairs, those whose student's assignment of the item (the
    one due last, of their cohorts') has its grades released to them: by their cohort,
    or held for them from a section they have left (`HeldRelease`, as `seen_by` puts it
    in place). One query."""
    if not pairs:
        return set()
    items, users = {item for item, _user in pairs}, {user for _item, user in pairs}
    held = HeldRelease.objects.filter(
        assignment=OuterRef("pk"), user=OuterRef("cohort__memberships__user")
    )
    assignments = Assignment.objects.filter(
        item__in=items, cohort__memberships__user__in=users
    ).annotate(student=F("cohort__memberships__user"), held=Exists(held))
    theirs = defaultdict(list)
    for assignment in assignments:
        theirs[(assignment.item_id, assignment.student)].append(assignment)
    return {
        pair
        for pair in pairs
        if (assignment := due_last(theirs[pair]))
        and (assignment.grades_released_at or assignment.held)
    }


def _as_rubric(criteria: list | None) -> Rubric | None:
    return None if criteria is None else Rubric(criteria=criteria)


@transaction.atomic
def rubric_rescore(item_ids, *, chosen_under: dict | None = None) -> int:
    """A rubric was edited, or items changed rubric: score again every chosen set of
    levels on those items against the rubric they have now (none: no rubric score).
    `chosen_under` gives, by item id, the criteria the levels were chosen under (None:
    no rubric): they are carried to the item's rubric as it now stands first
    (`rubric_levels_carried`), so a criterion or level that moved keeps its choice and
    one that went loses it, and that work waits for a person again. Items left out of
    it keep their levels as they are. Returns how many grades changed: scores, and
    scores kept out of a rubric's new maximum."""
    chosen_under = chosen_under or {}
    items = {i.pk: i for i in ModuleItem.objects.filter(pk__in=item_ids).select_related("rubric")}

    def carried(row) -> dict:
        item = items[row.item_id]
        if row.item_id not in chosen_under:
            return row.rubric_levels
        after = item.rubric.criteria if item.rubric_id else None
        return rubric_levels_carried(row.rubric_levels, chosen_under[row.item_id], after)

    # Items whose rubric's maximum moved: every score on them is another grade (points
    # out of the maximum), to be sent on even where the score itself stays.
    maxima_moved = {
        pk
        for pk, before in chosen_under.items()
        if before is not None
        and pk in items
        and items[pk].rubric_id
        and Rubric(criteria=before).max_points != items[pk].rubric.max_points
    }
    changed = []
    now = timezone.now()
    for work in Work.objects.select_for_update().filter(item__in=items):
        levels = carried(work)
        score = rubric_score(items[work.item_id].rubric, levels)
        regraded = score is not None and work.item_id in maxima_moved
        if regraded or (score, levels) != (work.rubric_score, work.rubric_levels):
            work.rubric_score, work.rubric_levels, work.updated_at = score, levels, now
            changed.append(work)
    Work.objects.bulk_update(changed, ["rubric_score", "rubric_levels", "updated_at"])
    by_item = defaultdict(list)
    for work in changed:
        by_item[work.item_id].append(work.user_id)
    for item_id, user_ids in by_item.items():  # Grades sent on (to an LMS) follow.
        work_changed.send(ModuleItem, item=items[item_id], user_ids=user_ids)
    # A peer review's score is scored by the same rubric, so it follows too: the
    # writer's page, calibration and the staff's grade then count the same points.
    reviews = []
    for review in PeerReview.objects.select_for_update().filter(
        item__in=items, submitted_at__isnull=False
    ):
        levels = carried(review)
        score = rubric_score(items[review.item_id].rubric, levels)
        if (score, levels) != (review.score, review.rubric_levels):
            review.score, review.rubric_levels = score, levels
            reviews.append(review)
    # `updated_at` is left alone: it says when the reviewer last changed their review,
    # and the reviewer changed nothing here.
    PeerReview.objects.bulk_update(reviews, ["score", "rubric_levels"])
    # Whether work waits for a person's points depends on the item having a rubric
    # (`needs_grading`, a kind's own fact): bring it in line for those who have work.
    students = Work.objects.filter(item__in=items).values_list("user", flat=True).distinct()
    work_sync_items(items, list(students))
    return len(changed)


def rubric_levels_carried(levels: dict, before: list | None, after: list | None) -> dict:
    """Levels chosen under the criteria `before` ({criterion position: level position},
    as Work and PeerReview keep them, positions as strings or numbers) as they stand
    under the criteria `after`. A criterion is the one of the same name wherever it now
    stands, else the one renamed in its place; a level likewise by its label within it.
    A level whose criterion or level is gone is dropped. Without a rubric on either
    side the levels stay as they are: given the rubric back, they score again."""
    if before is None or after is None:
        return levels
    criteria = _matched([c["name"] for c in before], [c["name"] for c in after])
    carried = {}
    for key, level in levels.items():
        old = int(key)
        if old not in criteria:
            continue
        new = criteria[old]
        labels = _matched(
            [lv["label"] for lv in before[old]["levels"]],
            [lv["label"] for lv in after[new]["levels"]],
        )
        if int(level) in labels:
            carried[str(new)] = labels[int(level)]
    return carried


def _matched(before: list[str], after: list[str]) -> dict[int, int]:
    """Positions in `before` to positions in `after`: the same name (ignoring case and
    spaces around it) wherever it moved; else, a name at the same position that
    `before` did not have, as a renamed one. Unmatched positions are left out."""
    old = [name.strip().casefold() for name in before]
    new = [name.strip().casefold() for name in after]
    matched: dict[int, int] = {}
    for at, name in enumerate(old):
        found = next(
            (n for n, other in enumerate(new) if other == name and n not in matched.values()), None
        )
        if found is not None:
            matched[at] = found
    for at in range(min(len(old), len(new))):
        if at not in matched and at not in matched.values() and new[at] not in old:
            matched[at] = at
    return matched


def rubric_score(rubric, levels: dict) -> Decimal | None:
    """Points from one chosen level per criterion; None until every criterion has one."""
    if rubric is None or not rubric.criteria:
        return None
    total = Decimal(0)
    for index, criterion in enumerate(rubric.criteria):
        chosen = levels.get(str(index))
        if chosen is None or not 0 <= int(chosen) < len(criterion["levels"]):
            return None
        total += Decimal(str(criterion["levels"][int(chosen)]["points"]))
    return total
