from django.core.management.base import BaseCommand

from cases.services.notifications import due_reminders_send, grades_readable_notify, opened_notify


class Command(BaseCommand):
    help = (
        "Remind students of work due within 24 hours and not yet done, announce "
        "assignments that have just opened, and tell students of grades released before "
        "their due date let them read them. Each student gets each notice once: safe to "
        "run from cron every few minutes, on several hosts at once."
    )

    def handle(self, *args, **options):
        opened = opened_notify()
        due = due_reminders_send()
        readable = grades_readable_notify()
        self.stdout.write(
            f"Sent {due} due-date reminder{'s' if due != 1 else ''}, "
            f"{opened} notice{'s' if opened != 1 else ''} of opened work and "
            f"{readable} of grades now readable."
        )
