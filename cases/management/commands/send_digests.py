from django.core.management.base import BaseCommand

from cases.services.notifications import digests_send


class Command(BaseCommand):
    help = (
        "Email each user who chose the daily digest their unread notifications not yet "
        "emailed. Run once a day from cron; a rerun (or a second host) sends nothing twice."
    )

    def handle(self, *args, **options):
        count = digests_send()
        self.stdout.write(f"Sent {count} digest{'s' if count != 1 else ''}.")
