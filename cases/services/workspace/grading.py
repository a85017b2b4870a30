"""Grading by people: a person's part of a student's grade on one item (override,
rubric levels, comment, excused), and rubrics scored against it."""

from collections import defaultdict
from decimal import Decimal

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from cases.models import (
    AuditAction,
    ModuleItem,
    PeerReview,
    Rubric,
    Work,
)
from cases.models.workspace import work_changed
from cases.services.people import audit
from cases.services.workspace.work import work_sync_items

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
def work_grade(*, item: ModuleItem, student, grader, **changes) -> Work:
    """Set a person's part of one student's grade on one item: any of PERSON_FIELDS
    (rubric levels score themselves against the item's rubric). The same call twice
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
    for name, value in changes.items():
        setattr(work, name, value)
    work.graded_by = grader
    work.graded_at = timezone.now()
    work.save(update_fields=[*changes, "graded_by", "graded_at", "updated_at"])
    if "override_score" in changes and (work.override_score, work.override_reason) != before:
        _audit_override(work, item, student, grader, before)
    work_changed.send(ModuleItem, item=item, user_ids=[student.pk])
    return work


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
    score again the work on every item that gained or lost it. Returns how many scores
    changed."""
    rubric.title, rubric.criteria = title, criteria
    rubric.save()
    items = ModuleItem.objects.filter(module__course=rubric.course_id)
    affected = set(items.filter(Q(pk__in=item_ids) | Q(rubric=rubric)).values_list("pk", flat=True))
    # The items' `updated_at` moves with their rubric (`update()` does not set it).
    now = timezone.now()
    items.filter(pk__in=item_ids).update(rubric=rubric, updated_at=now)
    items.filter(rubric=rubric).exclude(pk__in=item_ids).update(rubric=None, updated_at=now)
    return rubric_rescore(affected)


@transaction.atomic
def rubric_rescore(item_ids) -> int:
    """A rubric was edited, or items changed rubric: score again every chosen set of
    levels on those items against the rubric they have now (none: no rubric score)."""
    items = {i.pk: i for i in ModuleItem.objects.filter(pk__in=item_ids).select_related("rubric")}
    changed = []
    now = timezone.now()
    for work in Work.objects.select_for_update().filter(item__in=items):
        score = rubric_score(items[work.item_id].rubric, work.rubric_levels)
        if score != work.rubric_score:
            work.rubric_score, work.updated_at = score, now
            changed.append(work)
    Work.objects.bulk_update(changed, ["rubric_score", "updated_at"])
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
        score = rubric_score(items[review.item_id].rubric, review.rubric_levels)
        if score != review.score:
            review.score = score
            reviews.append(review)
    PeerReview.objects.bulk_update(reviews, ["score"])
    # Whether work waits for a person's points depends on the item having a rubric
    # (`needs_grading`, a kind's own fact): bring it in line for those who have work.
    students = Work.objects.filter(item__in=items).values_list("user", flat=True).distinct()
    work_sync_items(items, list(students))
    return len(changed)


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
