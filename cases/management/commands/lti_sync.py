"""Bring every LMS-linked course in line with its LMS: the roster (Names and Role
Provisioning) and the grades still waiting or failed (Assignment and Grade Services).
Run it from cron, hourly or nightly: `python manage.py lti_sync`."""

from django.core.management.base import BaseCommand

from cases.models import LtiCourse
from cases.services import lti


class Command(BaseCommand):
    help = "Sync rosters from the LMS and send grades still waiting."

    def handle(self, *args, **options):
        failed = 0
        for link in LtiCourse.objects.select_related("course", "cohort", "context"):
            try:
                change = lti.roster_sync(link)
            except Exception as error:  # One LMS down never stops the others.
                failed += 1
                self.stderr.write(f"{link.course.code}: the LMS did not answer ({error})")
            else:
                self.stdout.write(f"{link.course.code}: {change.summary}")
        sent = lti.grades_retry()
        self.stdout.write(
            f"Grades sent: {sent}. Expired launch values forgotten: {lti.values_purge()}."
        )
        if failed:
            raise SystemExit(1)
