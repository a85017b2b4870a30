"""LTI 1.3: what Red Queen keeps of its LMS platforms beyond django-lti's own tables
(registrations, deployments, keys, LMS users, contexts and memberships live in
`lti_tool`): the one-time values of a launch, and which Red Queen course and cohort an
LMS course is."""

from django.db import models
from django.utils import timezone

from cases.models.cohorts import Cohort
from cases.models.courses import Course


class LtiValue(models.Model):
    """A launch's server-side value: an OIDC state or nonce (each used once), the
    validated launch data, a one-time entry token. Stored in the database, so every
    instance of the app sees it and a nonce can be taken exactly once."""

    key = models.CharField(max_length=255, unique=True)
    value = models.JSONField(null=True)
    expires_at = models.DateTimeField(db_index=True)

    class Meta:
        verbose_name = "LTI launch value"
        verbose_name_plural = "LTI launch values"

    def __str__(self) -> str:
        return self.key

    @property
    def expired(self) -> bool:
        return self.expires_at <= timezone.now()


class LtiCourse(models.Model):
    """An LMS course (django-lti's LtiContext) linked to a Red Queen course: launches
    from it land in `course`, and its learners join `cohort`."""

    context = models.OneToOneField(
        "lti_tool.LtiContext", on_delete=models.CASCADE, related_name="red_queen"
    )
    course = models.ForeignKey(Course, on_delete=models.CASCADE, related_name="lti_links")
    cohort = models.ForeignKey(Cohort, on_delete=models.PROTECT, related_name="lti_links")
    linked_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "LMS course link"
        verbose_name_plural = "LMS course links"

    def __str__(self) -> str:
        return f"{self.context} → {self.course}"


class LtiGradeStatus(models.TextChoices):
    WAITING = "waiting", "Waiting to be sent"
    SENT = "sent", "Sent to the LMS"
    FAILED = "failed", "Failed: will be tried again"


class LtiGrade(models.Model):
    """A student's grade for an item, on its way to the LMS gradebook (Assignment and
    Grade Services): one row per item and student, re-sent whenever the grade changes."""

    link = models.ForeignKey(LtiCourse, on_delete=models.CASCADE, related_name="grades")
    item = models.ForeignKey("cases.ModuleItem", on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey("cases.User", on_delete=models.CASCADE, related_name="lti_grades")
    status = models.CharField(
        max_length=10, choices=LtiGradeStatus.choices, default=LtiGradeStatus.WAITING
    )
    # What was last sent, so an unchanged grade is not sent again.
    score_given = models.DecimalField(max_digits=8, decimal_places=2, null=True)
    score_maximum = models.DecimalField(max_digits=8, decimal_places=2, null=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    error = models.CharField(max_length=300, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "LMS grade"
        verbose_name_plural = "LMS grades"
        constraints = [
            models.UniqueConstraint(fields=["item", "user"], name="lti_grade_once_per_item")
        ]

    def __str__(self) -> str:
        return f"{self.item_id}/{self.user_id}: {self.status}"
