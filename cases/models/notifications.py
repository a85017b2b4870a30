"""Notifications: what happened that a user should know, shown in the app and, as each
user prefers, emailed (at once or in a daily digest)."""

from django.conf import settings
from django.db import models
from django.db.models import Q


class NotificationKind(models.TextChoices):
    PUBLISHED = "published", "New work given to you"
    DUE_SOON = "due_soon", "Due within 24 hours and not yet done"
    GRADE_RELEASED = "grade_released", "A grade released"
    REPLY = "reply", "A reply to your post"
    FOLLOWED_POST = "followed_post", "New posts in a thread you follow"
    ENDORSED = "endorsed", "Your post endorsed"
    INVITATION = "invitation", "An invitation"
    HANDED_IN = "handed_in", "A receipt for written work handed in"
    PEER_REVIEW = "peer_review", "Classmates' work to review"
    REVIEW_RECEIVED = "review_received", "A review of your work"


class Notification(models.Model):
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications"
    )
    kind = models.CharField(max_length=20, choices=NotificationKind.choices)
    title = models.CharField(max_length=300)
    body = models.TextField(blank=True)
    url = models.CharField(max_length=500, help_text="Where the notification leads.")
    course = models.ForeignKey(
        "Course", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    # Makes an event notify a user once, whatever the races (say "due_soon:assignment:7").
    key = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    read_at = models.DateTimeField(null=True, blank=True)
    emailed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["user", "read_at"])]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "key"], condition=~Q(key=""), name="notification_once_per_key"
            )
        ]

    def __str__(self) -> str:
        return self.title


class NotificationPreference(models.Model):
    """Whether a user is emailed about one kind of notification (in-app ones always
    show). No row: emailed."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notification_preferences"
    )
    kind = models.CharField(max_length=20, choices=NotificationKind.choices)
    email = models.BooleanField(default=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "kind"], name="notification_preference_once")
        ]

    def __str__(self) -> str:
        return f"{self.user} {self.kind}: {'email' if self.email else 'no email'}"


class EmailSettings(models.Model):
    """A user's choice of one daily digest instead of an email per notification."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="email_settings"
    )
    daily_digest = models.BooleanField(default=False)
    # When the user last turned the digest on: their digest starts there, so a first
    # digest does not list every unread notice they ever had.
    digest_since = models.DateTimeField(null=True, blank=True)
    digest_sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "email settings"
        verbose_name_plural = "email settings"

    def __str__(self) -> str:
        return f"{self.user}: {'digest' if self.daily_digest else 'each'}"
