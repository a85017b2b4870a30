"""People: the user model (roles follow from membership, never a field) and the audit
log of who changed whose enrolment, roles or account.

Audit entries are written by the services that make the changes and are never edited."""

from django.conf import settings
from django.contrib.auth.models import AbstractUser, UserManager
from django.db import models
from django.db.models.functions import Lower


class User(AbstractUser):
    """A person who signs in. Roles are not stored here: they follow from membership
    (staff is an admin, a course's instructor or TA list, a cohort's member list).
    A deactivated user (`is_active` off) cannot sign in and keeps their work."""

    # The institution's student number, from a roster import: unique when given.
    student_id = models.CharField(max_length=40, blank=True)

    objects = UserManager()

    class Meta:
        ordering = ["last_name", "first_name", "username"]
        constraints = [
            models.UniqueConstraint(
                fields=["student_id"],
                condition=~models.Q(student_id=""),
                name="user_student_id_unique",
            ),
            # One account per username in any case: sign-in accepts a username typed in
            # another case (`ThrottledModelBackend._named`), so "ann" beside "Ann" would
            # leave neither findable that way. Every way an account is made (sign-up,
            # roster import, invitation, LTI, the Django admin) meets this rule here.
            models.UniqueConstraint(
                Lower("username"),
                name="user_username_case_insensitive_unique",
                violation_error_message="A user with that username already exists.",
            ),
        ]

    def __str__(self) -> str:
        return self.get_full_name() or self.username

    @property
    def display_name(self) -> str:
        return self.get_full_name() or self.username


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
    GRADE_CATEGORIES = "grade_categories", "Grade categories changed"
    JOIN_CODE = "join_code", "Join code changed"
    COHORT = "cohort", "Cohort changed"
    HAND_IN = "hand_in", "Written work handed in"
    PEER_ASSIGN = "peer_assign", "Peer reviews assigned"
    PEER_SCORES = "peer_scores", "Peer scores used as grades"


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
