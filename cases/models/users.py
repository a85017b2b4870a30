from django.contrib.auth.models import AbstractUser, UserManager
from django.db import models


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
            )
        ]

    def __str__(self) -> str:
        return self.get_full_name() or self.username

    @property
    def display_name(self) -> str:
        return self.get_full_name() or self.username


class LoginThrottle(models.Model):
    """Failed sign-ins counted per key (a username or a client address), in the database
    so that every server process sees the same count."""

    key = models.CharField(max_length=200, unique=True)
    failures = models.PositiveIntegerField(default=0)
    window_started_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.key}: {self.failures}"
