"""The audit log: who enrolled, moved, promoted, deactivated or overrode what, and when,
with the values before and after. Entries are written by the services that make the
changes and are never edited."""

from django.conf import settings
from django.db import models


class AuditAction(models.TextChoices):
    ENROL = "enrol", "Enrolled"
    UNENROL = "unenrol", "Removed from a cohort"
    MOVE = "move", "Moved between cohorts"
    IMPORT = "import", "Roster imported"
    INVITE = "invite", "Invitation sent"
    ROLE_ADD = "role_add", "Role given"
    ROLE_REMOVE = "role_remove", "Role taken away"
    DEACTIVATE = "deactivate", "Account deactivated"
    REACTIVATE = "reactivate", "Account reactivated"
    GRADE_OVERRIDE = "grade_override", "Grade overridden"
    JOIN_CODE = "join_code", "Join code changed"
    COHORT = "cohort", "Cohort changed"


class AuditEntry(models.Model):
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="audit_entries_made",
        help_text="Empty for the system (a command run from the shell names no one).",
    )
    action = models.CharField(max_length=20, choices=AuditAction.choices)
    subject = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="audit_entries",
        help_text="The person the change was about.",
    )
    cohort = models.ForeignKey(
        "Cohort", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    course = models.ForeignKey(
        "Course", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    summary = models.CharField(max_length=300)
    before = models.JSONField(null=True, blank=True)
    after = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name_plural = "audit entries"

    def __str__(self) -> str:
        return self.summary


class Invitation(models.Model):
    """A set-password email sent to a new user; the link itself is Django's password
    reset token (one use: it dies when the password is set; it expires after
    PASSWORD_RESET_TIMEOUT)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="invitations"
    )
    cohort = models.ForeignKey(
        "Cohort", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    sent_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    sent_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-sent_at", "-pk"]

    def __str__(self) -> str:
        return f"Invitation to {self.user}"
