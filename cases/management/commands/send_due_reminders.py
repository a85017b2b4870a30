from django.core.management.base import BaseCommand

from cases.services.notifications import due_reminders_send, opened_notify


class Command(BaseCommand):
    help = (
        "Remind students of work due within 24 hours and not yet done, and announce "
        "assignments that have just opened. Each student gets each notice once: safe to "
        "run from cron every few minutes, on several hosts at once."
    )

    def handle(self, *args, **options):
        opened = opened_notify()
        due = due_reminders_send()
        self.stdout.write(
            f"Sent {due} due-date reminder{'s' if due != 1 else ''} and "
            f"{opened} notice{'s' if opened != 1 else ''} of opened work."
        )
