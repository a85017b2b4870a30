"""Live class: the instructor's cockpit during a class meeting. A session has a join
code; students join from their phones, answer polls launched one at a time, and may be
called on; contributions earn participation marks.

A session's state lives in these tables only, never in a process's memory, so any
number of app processes can serve one class."""

import secrets
from datetime import datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from cases.models.cohorts import JOIN_CODE_ALPHABET, Cohort
from cases.models.courses import Course, ModuleItem
from cases.models.quizzes import Question
from cases.routes import route


def new_live_code() -> str:
    # Six characters from the projector-safe alphabet: about a billion codes.
    return "".join(secrets.choice(JOIN_CODE_ALPHABET) for _ in range(6))


class LiveClass(models.Model):
    """The live-session kind of module item: how its class meetings are graded.
    Joining earns `attendance_percent` of the points; contribution marks earn the rest,
    in full at `marks_for_full_credit`."""

    item = models.OneToOneField(ModuleItem, on_delete=models.CASCADE, related_name="live_class")
    attendance_percent = models.PositiveSmallIntegerField(
        default=50, help_text="Share of the points a student earns by joining the session."
    )
    marks_for_full_credit = models.PositiveSmallIntegerField(
        default=2, help_text="Contribution marks (+1 or +2 each) that earn the rest."
    )

    class Meta:
        verbose_name = "live class"
        verbose_name_plural = "live classes"
        constraints = [
            models.CheckConstraint(
                condition=Q(attendance_percent__lte=100), name="live_attendance_percent"
            ),
            models.CheckConstraint(
                condition=Q(marks_for_full_credit__gte=1), name="live_marks_for_full_credit"
            ),
        ]

    def __str__(self) -> str:
        return self.item.title

    def percent_for(self, points: int) -> Decimal:
        """The share of the item's points a student who joined earned, 0-100: joining
        earns the attendance share, contribution points the rest (in full at the mark
        count)."""
        share = Decimal(self.attendance_percent)
        earned = min(points, self.marks_for_full_credit) / Decimal(self.marks_for_full_credit)
        return (share + (100 - share) * earned).quantize(Decimal("0.01"))


# A session nobody ended stops running this long after it started: a class meeting is
# over by then, and a student must not join last week's class from home.
LIVE_STALE_AFTER = timedelta(hours=6)


def live_running_since(now: datetime | None = None) -> datetime:
    """The earliest start of a session still running at `now` (`LIVE_STALE_AFTER`)."""
    return (now or timezone.now()) - LIVE_STALE_AFTER


class LiveSessionQuerySet(models.QuerySet):
    def running(self, since: datetime | None = None):
        """Sessions running now: not ended, and started less than `LIVE_STALE_AFTER`
        ago (`LiveSession.is_running`, the same rule). `since` is
        `live_running_since()`, given by a compiled query's caller as its parameter."""
        since = since or live_running_since()
        return self.filter(ended_at__isnull=True, started_at__gt=since)

    def left_running(self, since: datetime | None = None):
        """Sessions nobody ended that are no longer running: ended by time."""
        since = since or live_running_since()
        return self.filter(ended_at__isnull=True, started_at__lte=since)


class LiveSession(models.Model):
    """One class meeting: started from a live-session item (graded) or ad hoc from a
    course (not graded; its marks still count toward who has spoken)."""

    course = models.ForeignKey(Course, on_delete=models.CASCADE, related_name="live_sessions")
    item = models.ForeignKey(
        ModuleItem, null=True, blank=True, on_delete=models.SET_NULL, related_name="live_sessions"
    )
    cohort = models.ForeignKey(
        Cohort,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="live_sessions",
        help_text="Only this cohort joins; empty: every student of the course (or item).",
    )
    title = models.CharField(max_length=200)
    join_code = models.CharField(max_length=8, unique=True, default=new_live_code)
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    started_at = models.DateTimeField(auto_now_add=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    # The poll on screen: the open one, or the last one closed.
    current_poll = models.ForeignKey(
        "LivePoll", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Bumped by every change students or the projector see, except answers (counted
    # instead, so 200 students answering never queue on this row).
    version = models.PositiveBigIntegerField(default=0)

    objects = LiveSessionQuerySet.as_manager()

    class Meta:
        ordering = ["-started_at", "-pk"]

    def __str__(self) -> str:
        return self.title

    def get_absolute_url(self) -> str:
        return route("cases:live_session", self.pk)

    @property
    def is_running(self) -> bool:
        """Not ended, and started less than `LIVE_STALE_AFTER` ago: the rule of
        `LiveSessionQuerySet.running`, for a session in hand. Everything that asks
        whether a session runs asks one of the two."""
        if self.ended_at is not None:
            return False
        return self.started_at is None or self.started_at > live_running_since()

    @property
    def ended_by_time(self) -> bool:
        """Nobody pressed End, and it stopped running `LIVE_STALE_AFTER` after it began."""
        return self.ended_at is None and not self.is_running

    @property
    def stale_hours(self) -> int:
        """`LIVE_STALE_AFTER` in hours, for the sentences that say it."""
        return int(LIVE_STALE_AFTER.total_seconds() // 3600)

    @property
    def stopped_at(self):
        """When it stopped running: End pressed, or by time; None while it runs."""
        if self.ended_by_time:
            return self.started_at + LIVE_STALE_AFTER
        return self.ended_at


class PollKind(models.TextChoices):
    SINGLE = "single", "Single choice"
    MULTIPLE = "multiple", "Multiple choice"
    LIKERT = "likert", "Agree or disagree (5 points)"
    SPECTRUM = "spectrum", "Spectrum placement (R 0 to D 100)"
    WORD = "word", "A word or two"


# Kinds whose answers pick from `options`.
OPTION_KINDS = {PollKind.SINGLE, PollKind.MULTIPLE}
MAX_WORD_CHARS = 40


class PollState(models.TextChoices):
    DRAFT = "draft", "Not launched"
    OPEN = "open", "Open"
    CLOSED = "closed", "Closed"


class LivePoll(models.Model):
    session = models.ForeignKey(LiveSession, on_delete=models.CASCADE, related_name="polls")
    position = models.PositiveIntegerField(default=0)
    kind = models.CharField(max_length=10, choices=PollKind.choices)
    prompt = models.CharField(max_length=300)
    options = models.JSONField(default=list, blank=True)
    # The bank question it was made from, if any.
    question = models.ForeignKey(
        Question, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    state = models.CharField(max_length=6, choices=PollState.choices, default=PollState.DRAFT)
    results_shown = models.BooleanField(default=False)
    opened_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["session", "position", "pk"]

    def __str__(self) -> str:
        return self.prompt


class LiveAnswer(models.Model):
    """A student's answer to a poll; answering again while it is open replaces it."""

    poll = models.ForeignKey(LivePoll, on_delete=models.CASCADE, related_name="answers")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="live_answers"
    )
    # Option indexes (single and multiple choice), a point (Likert 1-5, spectrum 0-100)
    # or a short text (lower-cased), by the poll's kind.
    choices = models.JSONField(default=list, blank=True)
    value = models.PositiveSmallIntegerField(null=True, blank=True)
    text = models.CharField(max_length=MAX_WORD_CHARS, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["poll", "user"], name="live_answer_once_per_poll")
        ]

    def __str__(self) -> str:
        return f"{self.user} on poll {self.poll_id}"


class LiveAttendance(models.Model):
    """A student joined the session: that is attendance."""

    session = models.ForeignKey(LiveSession, on_delete=models.CASCADE, related_name="attendance")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="live_attendance"
    )
    joined_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["session", "user"], name="live_attendance_once")
        ]

    def __str__(self) -> str:
        return f"{self.user} at {self.session_id}"


class CallOutcome(models.TextChoices):
    CALLED = "called", "Called on"
    ABSENT = "absent", "Not there"
    CONTRIBUTED = "contributed", "Contributed"


class ColdCall(models.Model):
    session = models.ForeignKey(LiveSession, on_delete=models.CASCADE, related_name="cold_calls")
    student = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+"
    )
    called_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    called_at = models.DateTimeField(auto_now_add=True)
    outcome = models.CharField(
        max_length=12, choices=CallOutcome.choices, default=CallOutcome.CALLED
    )

    class Meta:
        ordering = ["-called_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.student} called in {self.session_id}"


class ParticipationMark(models.Model):
    """A contribution in class: +1 or +2, with a note for the instructor."""

    session = models.ForeignKey(LiveSession, on_delete=models.CASCADE, related_name="marks")
    student = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="participation_marks"
    )
    points = models.PositiveSmallIntegerField(choices=[(1, "+1"), (2, "+2")])
    note = models.CharField(max_length=200, blank=True)
    cold_call = models.ForeignKey(
        ColdCall, null=True, blank=True, on_delete=models.SET_NULL, related_name="marks"
    )
    marked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "pk"]
        indexes = [models.Index(fields=["student", "session"])]
        constraints = [
            models.CheckConstraint(condition=Q(points__in=[1, 2]), name="mark_points_one_or_two")
        ]

    def __str__(self) -> str:
        return f"+{self.points} for {self.student} in {self.session_id}"
