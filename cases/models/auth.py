"""Signing in: failures counted per key (a username, an address, a join code), so the
throttles in `cases.services.auth` hold across every server process."""

from django.db import models


class LoginThrottle(models.Model):
    """Failed sign-ins counted per key (a username or a client address), in the database
    so that every server process sees the same count."""

    key = models.CharField(max_length=200, unique=True)
    failures = models.PositiveIntegerField(default=0)
    window_started_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.key}: {self.failures}"
