from django.core.management.base import BaseCommand

from cases.services.quizzes import attempts_finalize_expired


class Command(BaseCommand):
    help = (
        "Submit every quiz attempt whose time limit (plus grace) has passed, with the "
        "answers saved so far. Safe to run from cron every minute, even overlapping."
    )

    def handle(self, *args, **options):
        count = attempts_finalize_expired()
        self.stdout.write(f"Finalised {count} expired attempt{'s' if count != 1 else ''}.")
