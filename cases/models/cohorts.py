"""Cohorts: named groups of students with a join code, their members, and the
invitations sent to students enrolled from a roster."""

import secrets

from django.conf import settings
from django.db import models
from django.utils import timezone

JOIN_CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"


def new_join_code() -> str:
    # No 0/O or 1/I: students type these codes from a projector.
    return "".join(secrets.choice(JOIN_CODE_ALPHABET) for _ in range(8))


class CohortQuerySet(models.QuerySet):
    def current(self) -> "CohortQuerySet":
        """Cohorts not archived: the only ones given new work or new dates. An archived
        cohort (a past term) keeps what it was given, shown but no longer changed.
        `Cohort.is_current` is its twin for one cohort."""
        return self.filter(archived_at__isnull=True)


class Cohort(models.Model):
    name = models.CharField(max_length=200)
    join_code = models.CharField(max_length=16, unique=True, default=new_join_code)
    members = models.ManyToManyField(
        settings.AUTH_USER_MODEL, through="Membership", related_name="cohorts", blank=True
    )
    # TAs who grade only this cohort's students; a TA with none grades every cohort.
    teaching_assistants = models.ManyToManyField(
        settings.AUTH_USER_MODEL, related_name="assisted_cohorts", blank=True
    )
    join_code_enabled = models.BooleanField(
        default=True, help_text="Off: nobody joins with the code until it is turned on."
    )
    join_code_expires_at = models.DateTimeField(
        null=True, blank=True, help_text="After this, the code no longer admits anyone."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    # An archived cohort (a past term) is kept with its members and work, out of lists.
    archived_at = models.DateTimeField(null=True, blank=True)
    # Any change to the row (a save with `update_fields` names it too): the gradebook's
    # version, as its release controls are headed by the cohorts' names.
    updated_at = models.DateTimeField(auto_now=True)

    objects = CohortQuerySet.as_manager()

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def is_current(self) -> bool:
        """Not archived: it may be given new work (`CohortQuerySet.current`)."""
        return self.archived_at is None

    def join_code_open(self, now=None) -> bool:
        """Whether the join code admits students now."""
        now = now or timezone.now()
        return (
            self.join_code_enabled
            and self.archived_at is None
            and (self.join_code_expires_at is None or now < self.join_code_expires_at)
        )

    def join_code_state(self, now=None) -> str:
        """Where the join code stands, for the staff who share it: "open" (it admits
        students), "disabled" (switched off), "expired" or "archived"."""
        if self.archived_at is not None:
            return "archived"
        if not self.join_code_enabled:
            return "disabled"
        if not self.join_code_open(now):
            return "expired"
        return "open"


class Membership(models.Model):
    cohort = models.ForeignKey(Cohort, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    joined_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["cohort", "user"], name="membership_once_per_cohort")
        ]

    def __str__(self) -> str:
        return f"{self.user} in {self.cohort}"


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
