"""Building a course: items added to modules and given to cohorts."""

from django.db import transaction
from django.db.models import Max

from cases.models import (
    Assignment,
    CaseReading,
    CaseStudy,
    Discussion,
    ItemKind,
    Module,
    ModuleItem,
    Quiz,
)


@transaction.atomic
def item_create(
    *,
    module: Module,
    kind: str,
    title: str,
    case: CaseStudy | None = None,
    cohorts=(),
    due_at=None,
) -> ModuleItem:
    """Add an item at the end of the module with its kind's content, and give it to the
    cohorts (with one due date) so their students see it."""
    last = module.items.aggregate(last=Max("position"))["last"] or 0
    item = ModuleItem.objects.create(module=module, kind=kind, title=title, position=last + 1)
    if kind == ItemKind.CASE_READING:
        CaseReading.objects.create(item=item, case=case)
    elif kind == ItemKind.QUIZ:
        Quiz.objects.create(item=item)
    elif kind == ItemKind.DISCUSSION:
        prompt = "Argue from the case's evidence, citing paragraphs like ¶3."
        Discussion.objects.create(item=item, case=case, prompt=prompt)
    Assignment.objects.bulk_create(
        Assignment(item=item, cohort=cohort, due_at=due_at) for cohort in cohorts
    )
    return item
