from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from cases.models import Cohort
from cases.services.cohorts.roster import RosterInvalid, roster_apply, roster_plan, roster_rejected


def report(plan) -> str:
    """Every bad row, one a line, as the web page lists them."""
    return "\n".join(
        f"Line {e.line}: {e.reason}" if e.line else f"The file: {e.reason}" for e in plan.errors
    )


class Command(BaseCommand):
    help = (
        "Enrol a cohort from a CSV roster (email, first_name, last_name, student_id): all "
        "rows or none. Exits non-zero listing every bad row."
    )

    def add_arguments(self, parser):
        parser.add_argument("cohort_id", type=int)
        parser.add_argument("file", type=Path)
        parser.add_argument("--dry-run", action="store_true", help="Check and report only.")
        parser.add_argument(
            "--no-invite", action="store_true", help="Do not email new accounts a link."
        )

    def handle(self, *args, cohort_id, file, dry_run, no_invite, **options):
        cohort = Cohort.objects.filter(pk=cohort_id).first()
        if cohort is None:
            raise CommandError(f"No cohort has id {cohort_id}.")
        try:
            data = file.read_bytes()
        except OSError as error:
            raise CommandError(f"Cannot read {file}: {error.strerror}.") from error
        plan = roster_plan(cohort, data)
        if not plan.ok:
            roster_rejected(cohort, plan, None)
            raise CommandError(f"Nothing imported; fix these rows:\n{report(plan)}")
        counts = plan.counts
        summary = (
            f"{counts['create']} created, {counts['update']} updated, "
            f"{counts['skip']} unchanged in {cohort.name}"
        )
        for row in plan.rows:
            if row.warning:
                self.stdout.write(f"Line {row.line}: {row.email}: {row.warning}.")
        if dry_run:
            self.stdout.write(f"Would import: {summary}.")
            return
        try:
            roster_apply(cohort=cohort, data=data, actor=None, invite=not no_invite)
        except RosterInvalid as refused:  # The database changed since the check.
            roster_rejected(cohort, refused.plan, None)
            message = f"Nothing imported; fix these rows:\n{report(refused.plan)}"
            raise CommandError(message) from None
        self.stdout.write(self.style.SUCCESS(f"Imported: {summary}."))
