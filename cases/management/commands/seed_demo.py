from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from cases.demo.seed import DEMO_PASSWORD, demo_seed


class Command(BaseCommand):
    help = "Load the demo course, cohorts and people (idempotent)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--force",
            action="store_true",
            help="Run even with debug off. The demo password is public: never in production.",
        )

    def handle(self, *args, force: bool = False, **options):
        if not settings.DEBUG and not force:
            raise CommandError(
                "Refusing to load demo accounts with a public password while DJANGO_DEBUG "
                "is off. Use --force only on a throwaway database."
            )
        logins = demo_seed()
        self.stdout.write(self.style.SUCCESS("Demo course ready."))
        self.stdout.write(f"Demo logins (password for all: {DEMO_PASSWORD}):")
        for login in logins:
            self.stdout.write(f"  {login.username:<24} {login.role}")
