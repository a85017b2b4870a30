"""The thesis tools, where students argue the course's thesis: stance checks (a
statement answered on a 7-point scale with a one-line reason, before a module and
after it), decision points (commit to a choice and a prediction before the case goes
on), pairs who argue with the other side, and the spectrum exercise (place the
companies from novel-product research, R at 0, to second-generation and process
innovation, D at 100)."""

from django.conf import settings
from django.db import models
from django.db.models import Case, Q, Value, When
from django.utils import timezone

from cases.models.courses import ModuleItem
from cases.models.readings import CaseStudy

SCALE = [
    (1, "Strongly disagree"),
    (2, "Disagree"),
    (3, "Somewhat disagree"),
    (4, "Neither"),
    (5, "Somewhat agree"),
    (6, "Agree"),
    (7, "Strongly agree"),
]


class StancePhase(models.TextChoices):
    BEFORE = "before", "Before the module"
    AFTER = "after", "After the module"


class StanceCheck(models.Model):
    """The stance-check kind of module item. The "before" window runs until the "after"
    window opens; each closes at its own date if one is set."""

    item = models.OneToOneField(ModuleItem, on_delete=models.CASCADE, related_name="stance_check")
    statement = models.CharField(max_length=300)
    before_closes_at = models.DateTimeField(null=True, blank=True)
    after_opens_at = models.DateTimeField(
        null=True, blank=True, help_text="Until then students answer the “before” check."
    )
    after_closes_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(after_opens_at__isnull=True)
                | Q(after_closes_at__isnull=True)
                | Q(after_closes_at__gt=models.F("after_opens_at")),
                name="stance_after_closes_after_it_opens",
            )
        ]

    def __str__(self) -> str:
        return self.statement

    def open_phase(self, now=None) -> str | None:
        """The phase students answer now, or None between or after the windows."""
        now = now or timezone.now()
        if self.after_opens_at is None or now < self.after_opens_at:
            if self.before_closes_at is None or now < self.before_closes_at:
                return StancePhase.BEFORE
            return None
        if self.after_closes_at is None or now < self.after_closes_at:
            return StancePhase.AFTER
        return None


class StanceAnswerQuerySet(models.QuerySet):
    def in_phase_order(self) -> "StanceAnswerQuerySet":
        """Before, then after: the phases' order, not their names' ("after" sorts
        first)."""
        first = Case(When(phase=StancePhase.BEFORE, then=Value(0)), default=Value(1))
        return self.order_by(first, "pk")


class StanceAnswer(models.Model):
    stance = models.ForeignKey(StanceCheck, on_delete=models.CASCADE, related_name="answers")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="stance_answers"
    )
    phase = models.CharField(max_length=6, choices=StancePhase.choices)
    value = models.PositiveSmallIntegerField(choices=SCALE)
    reason = models.CharField(max_length=200)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = StanceAnswerQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["stance", "user", "phase"], name="stance_answer_once_per_phase"
            ),
            models.CheckConstraint(
                condition=Q(value__gte=1) & Q(value__lte=7), name="stance_value_on_scale"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user} {self.phase}: {self.value}"


class Decision(models.Model):
    """The decision-point kind of module item: before the next part of a case opens,
    each student commits to a choice and a prediction with their confidence. The
    follow-up is shown only to those who committed; later the instructor records
    whether the prediction came true, and every student sees their calibration."""

    item = models.OneToOneField(ModuleItem, on_delete=models.CASCADE, related_name="decision")
    question = models.CharField(max_length=300)
    options = models.JSONField(default=list, help_text="The choices, one per line.")
    # Blank until the instructor writes them: a new decision point is not ready.
    prediction = models.CharField(
        max_length=300,
        blank=True,
        help_text="An event the case's next part settles, e.g. “It will …”.",
    )
    follow_up = models.TextField(
        blank=True, help_text="Markdown: the part revealed after committing."
    )
    came_true = models.BooleanField(null=True, blank=True)
    scored_at = models.DateTimeField(null=True, blank=True)
    # The case's part B this decision unlocks: a student may read it once committed.
    reveals = models.ForeignKey(
        "cases.CaseStudy",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="revealed_by",
        help_text="The case's part B, opened to each student once they commit.",
    )

    def __str__(self) -> str:
        return self.question

    @property
    def is_ready(self) -> bool:
        """Students may commit once the instructor has written the options, the
        prediction and the follow-up; until then the page says it is being prepared."""
        return bool(len(self.options) >= 2 and self.prediction.strip() and self.follow_up.strip())


class DecisionCommit(models.Model):
    """A student's committed decision and prediction; never changed once made."""

    decision = models.ForeignKey(Decision, on_delete=models.CASCADE, related_name="commits")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="decision_commits"
    )
    choice = models.PositiveSmallIntegerField()
    rationale = models.CharField(max_length=300)
    expects = models.BooleanField(help_text="Whether the student expects the event to happen.")
    confidence = models.PositiveSmallIntegerField(help_text="Percent, 50 to 100.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["decision", "user"], name="decision_commit_once"),
            models.CheckConstraint(
                condition=Q(confidence__gte=50) & Q(confidence__lte=100),
                name="decision_confidence_range",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user} on {self.decision_id}"

    @property
    def probability(self) -> float:
        """The probability the student gave the event."""
        return self.confidence / 100 if self.expects else 1 - self.confidence / 100


class StancePairQuerySet(models.QuerySet):
    def current(self) -> "StancePairQuerySet":
        """Pairs still arguing: not ended by a pairing after one of them left."""
        return self.filter(ended_at__isnull=True)

    def of(self, user) -> "StancePairQuerySet":
        return self.filter(Q(first=user) | Q(second=user))


class StancePair(models.Model):
    """Two students far apart on a claim (a stance check's statement, or where a
    spectrum exercise's companies sit), paired to argue it out in a thread of their
    own. A student has one current pair per claim; a pair ends (`ended_at`) when the
    instructor pairs again after one of its members left the class or was deactivated,
    and its thread stays for its own two members to read."""

    stance = models.ForeignKey(
        StanceCheck, null=True, blank=True, on_delete=models.CASCADE, related_name="pairs"
    )
    spectrum = models.ForeignKey(
        "SpectrumExercise", null=True, blank=True, on_delete=models.CASCADE, related_name="pairs"
    )
    first = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    second = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    distance = models.PositiveSmallIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)
    ended_at = models.DateTimeField(null=True, blank=True)

    objects = StancePairQuerySet.as_manager()

    class Meta:
        ordering = ["-distance", "pk"]
        # Once per claim among current pairs; an ended pair frees its members.
        constraints = [
            models.UniqueConstraint(
                fields=["stance", "first"],
                condition=Q(ended_at__isnull=True),
                name="stance_pair_first_once",
            ),
            models.UniqueConstraint(
                fields=["stance", "second"],
                condition=Q(ended_at__isnull=True),
                name="stance_pair_second_once",
            ),
            models.UniqueConstraint(
                fields=["spectrum", "first"],
                condition=Q(ended_at__isnull=True),
                name="spectrum_pair_first_once",
            ),
            models.UniqueConstraint(
                fields=["spectrum", "second"],
                condition=Q(ended_at__isnull=True),
                name="spectrum_pair_second_once",
            ),
            models.CheckConstraint(
                condition=Q(stance__isnull=False, spectrum__isnull=True)
                | Q(stance__isnull=True, spectrum__isnull=False),
                name="pair_on_one_claim",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.first} and {self.second}"

    @property
    def item(self):
        return self.stance.item if self.stance_id else self.spectrum.item

    def partner_of(self, user):
        return self.second if self.first_id == user.pk else self.first

    @property
    def claim(self) -> str:
        if self.stance_id:
            return self.stance.statement
        return "Where the companies sit between novel-product research (R) and development (D)"


class PairMessage(models.Model):
    pair = models.ForeignKey(StancePair, on_delete=models.CASCADE, related_name="messages")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    body = models.TextField()
    body_html = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "pk"]

    def __str__(self) -> str:
        return f"Message {self.pk} in pair {self.pair_id}"


MAX_JUSTIFICATION_CHARS = 600


class SpectrumExercise(models.Model):
    """A spectrum exercise as a module item: the companies to place and, once the
    instructor releases it, the class's placements beside the authors'."""

    item = models.OneToOneField(ModuleItem, on_delete=models.CASCADE, related_name="spectrum")
    cases = models.ManyToManyField(CaseStudy, related_name="spectrum_exercises")
    prompt = models.TextField(blank=True)
    released_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"Spectrum: {self.item}"

    @property
    def released(self) -> bool:
        return self.released_at is not None


class SpectrumPlacement(models.Model):
    """One student's placement of one company. `justification_html` caches the text
    rendered with its ¶ citations linked to the company's case."""

    exercise = models.ForeignKey(
        SpectrumExercise, on_delete=models.CASCADE, related_name="placements"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="spectrum_placements"
    )
    case = models.ForeignKey(CaseStudy, on_delete=models.CASCADE, related_name="+")
    position = models.PositiveSmallIntegerField()
    justification = models.TextField(blank=True, max_length=MAX_JUSTIFICATION_CHARS)
    justification_html = models.TextField(blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["exercise", "user", "case__title"]
        constraints = [
            models.UniqueConstraint(
                fields=["exercise", "user", "case"], name="spectrum_placement_once"
            ),
            models.CheckConstraint(
                condition=Q(position__gte=0) & Q(position__lte=100),
                name="spectrum_position_0_to_100",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user} placed {self.case} at {self.position}"
