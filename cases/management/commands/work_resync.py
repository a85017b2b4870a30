from django.core.management.base import BaseCommand

from cases.models import ItemKind, ModuleItem
from cases.services.workspace.work import work_sync_cohorts


class Command(BaseCommand):
    help = (
        "Work out again every student's Work (status, hand-in time, the kind's own "
        "score) from the kinds' own tables, for every item given to a cohort, or only "
        "those of the kinds named: after an upgrade that changes what counts (see "
        "docs/operations.md, 'After an upgrade'). A person's grades, comments and "
        "excusals are kept. Safe to run again, and while the class works."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--kind",
            action="append",
            choices=ItemKind.values,
            help="Only items of this kind (may be given more than once).",
        )

    def handle(self, *args, kind=None, **options):
        items = ModuleItem.objects.with_content().filter(assignments__isnull=False).distinct()
        if kind:
            items = items.filter(kind__in=kind)
        seen = changed = 0
        for item in items.order_by("pk"):
            cohorts = list(item.assignments.values_list("cohort", flat=True))
            changed += work_sync_cohorts(item, cohorts)
            seen += 1
        self.stdout.write(
            f"{seen} item{'s' if seen != 1 else ''} worked out again; {changed} changed."
        )
