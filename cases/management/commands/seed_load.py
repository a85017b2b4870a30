from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from cases.demo.load import (
    COHORT_NAMES,
    DEFAULT_SEED,
    DEFAULT_STUDENTS,
    LOAD_CODE,
    LOAD_PASSWORD,
    USERNAME_PREFIX,
    LoadExists,
    load_seed,
)


class Command(BaseCommand):
    help = (
        "Build the LOAD course for load benchmarks: 2 cohorts of students, 40 items and a "
        "term of their work. Does nothing if it exists; --fresh rebuilds it."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--students",
            type=int,
            default=DEFAULT_STUDENTS,
            help=f"Students, split across two cohorts (default {DEFAULT_STUDENTS}).",
        )
        parser.add_argument(
            "--seed",
            type=int,
            default=DEFAULT_SEED,
            help="Seed of the random choices: the same seed builds the same course.",
        )
        parser.add_argument(
            "--fresh",
            action="store_true",
            help=f"Delete the {LOAD_CODE} course and every {USERNAME_PREFIX}… account first.",
        )
        parser.add_argument(
            "--force",
            action="store_true",
            help="Run even with debug off. The password is public: never in production.",
        )

    def handle(self, *args, students: int, seed: int, fresh: bool, force: bool, **options):
        if not settings.DEBUG and not force:
            raise CommandError(
                "Refusing to create load accounts with a public password while DJANGO_DEBUG "
                "is off. Use --force only on a throwaway database."
            )
        if not 2 <= students <= 9999:
            raise CommandError("--students must be between 2 and 9999.")
        try:
            result = load_seed(students=students, seed=seed, fresh=fresh)
        except LoadExists as error:
            raise CommandError(str(error)) from error
        if not result.created:
            self.stdout.write(
                f"The {LOAD_CODE} course exists already: nothing changed "
                "(--fresh deletes and rebuilds it)."
            )
            return
        plan = result.plan
        self.stdout.write(
            self.style.SUCCESS(
                f"{LOAD_CODE} course built in {result.seconds:.1f} s: {plan.students} students, "
                f"{plan.item_count} items, {plan.assignments} assignments, "
                f"{plan.reading_progress:,} reading progress rows, {plan.attempts:,} quiz "
                f"attempts with {plan.answers:,} answers, {plan.posts:,} discussion posts."
            )
        )
        half = students - students // 2
        self.stdout.write(f"Load logins (password for all: {LOAD_PASSWORD}):")
        for username, role in [
            (f"{USERNAME_PREFIX}instructor", f"instructor of {LOAD_CODE}"),
            (f"{USERNAME_PREFIX}ta", f"teaching assistant of {LOAD_CODE}"),
            (f"{USERNAME_PREFIX}s0001 … {USERNAME_PREFIX}s{half:04d}", COHORT_NAMES[0]),
            (
                f"{USERNAME_PREFIX}s{half + 1:04d} … {USERNAME_PREFIX}s{students:04d}",
                COHORT_NAMES[1],
            ),
        ]:
            self.stdout.write(f"  {username:<26} {role}")
