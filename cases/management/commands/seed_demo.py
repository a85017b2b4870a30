import logging
import time
from contextlib import contextmanager

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from cases.demo.seed import DEMO_PASSWORD, demo_seed, demo_summary


@contextmanager
def _quiet(logger_name: str, level: int = logging.WARNING):
    """The demo's notifications run as tasks at once in development, and each task logs
    two lines: hundreds of lines a newcomer need not read. Warnings still show."""
    logger = logging.getLogger(logger_name)
    before = logger.level
    logger.setLevel(level)
    try:
        yield
    finally:
        logger.setLevel(before)


class Command(BaseCommand):
    help = "Load the demo course, cohorts and people (idempotent); print a short summary."

    def add_arguments(self, parser):
        parser.add_argument(
            "--force",
            action="store_true",
            help="Run even with debug off. The demo password is public: never in production.",
        )
        parser.add_argument(
            "--url",
            default="",
            help="The address the demo will be served at, printed after the logins.",
        )

    def handle(self, *args, force: bool = False, url: str = "", **options):
        if not settings.DEBUG and not force:
            raise CommandError(
                "Refusing to load demo accounts with a public password while DJANGO_DEBUG "
                "is off. Use --force only on a throwaway database."
            )
        started = time.perf_counter()
        with _quiet("django.tasks"):
            logins = demo_seed()
        took = time.perf_counter() - started
        self.stdout.write(self.style.SUCCESS(f"{demo_summary()} (took {took:.1f} s)."))
        self.stdout.write(f"Demo logins (password for all: {DEMO_PASSWORD}):")
        for login in logins:
            self.stdout.write(f"  {login.username:<24} {login.role}")
        if url:
            self.stdout.write(self.style.SUCCESS(f"Open {url} and sign in as one of them."))
