import random
from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import OuterRef, Q
from django.utils import timezone

from cases.models.courses import Course, ModuleItem
from cases.models.schedule import given_to
from cases.routes import route


class QuestionKind(models.TextChoices):
    SINGLE = "single", "Single choice"
    MULTIPLE = "multiple", "Multiple choice"
    TRUE_FALSE = "true_false", "True / false"
    NUMERIC = "numeric", "Numeric"
    SHORT_TEXT = "short_text", "Short text (graded by a person)"
    LIKERT = "likert", "Likert stance (recorded)"
    SPECTRUM = "spectrum", "Spectrum placement (0 to 100)"
    MATCHING = "matching", "Matching"
    DESCRIPTION = "description", "Description (text only)"
    SHORT_ANSWER = "short_answer", "Short answer (graded automatically)"


CHOICE_KINDS = {QuestionKind.SINGLE, QuestionKind.MULTIPLE}
# Kinds with no right answer: recorded, never scored.
UNSCORED_KINDS = {QuestionKind.LIKERT, QuestionKind.DESCRIPTION}
# Kinds that ask nothing: shown between questions, never counted as to be answered.
TEXT_ONLY_KINDS = {QuestionKind.DESCRIPTION}
LIKERT_LABELS = [
    (1, "Strongly disagree"),
    (2, "Disagree"),
    (3, "Neither agree nor disagree"),
    (4, "Agree"),
    (5, "Strongly agree"),
]


class QuestionCategory(models.Model):
    course = models.ForeignKey(Course, on_delete=models.CASCADE, related_name="categories")
    name = models.CharField(max_length=200)

    class Meta:
        ordering = ["course", "name"]
        verbose_name_plural = "question categories"
        constraints = [
            models.UniqueConstraint(fields=["course", "name"], name="category_name_per_course")
        ]

    def __str__(self) -> str:
        return self.name


class NumericAnswer(models.Model):
    """A numeric answer: right if within `numeric_tolerance` of `numeric_answer`, bounds
    included; exact decimals (at most 15 significant digits: what SQLite keeps exactly
    too). `numeric_range`: written as a range min..max (answer ± tolerance), shown and
    exported so. A question's own right answer, and each of its other answers."""

    numeric_answer = models.DecimalField(max_digits=20, decimal_places=10, null=True, blank=True)
    numeric_tolerance = models.DecimalField(
        max_digits=20,
        decimal_places=10,
        default=Decimal("0"),
        validators=[MinValueValidator(Decimal("0"))],
    )
    numeric_range = models.BooleanField(default=False)

    class Meta:
        abstract = True


class Question(NumericAnswer):
    """A question in a course's bank. The answer key lives here and in its choices; it
    is read only by grading code and by pages for course staff."""

    course = models.ForeignKey(Course, on_delete=models.CASCADE, related_name="questions")
    category = models.ForeignKey(
        QuestionCategory, null=True, blank=True, on_delete=models.SET_NULL, related_name="questions"
    )
    kind = models.CharField(max_length=12, choices=QuestionKind.choices)
    title = models.CharField(max_length=200)
    text = models.TextField(help_text="Markdown.")
    feedback = models.TextField(blank=True, help_text="General feedback, shown when released.")
    points = models.DecimalField(max_digits=6, decimal_places=2, default=Decimal("1"))
    # Numeric questions: the right answer (NumericAnswer's fields).
    # True/false questions.
    true_false_answer = models.BooleanField(null=True, blank=True)
    # True/false and numeric questions: feedback on a right answer, on a wrong one.
    right_feedback = models.TextField(blank=True)
    wrong_feedback = models.TextField(blank=True)
    # Spectrum questions: graded by distance to the target only when `spectrum_graded`.
    spectrum_target = models.PositiveSmallIntegerField(
        null=True, blank=True, validators=[MaxValueValidator(100)]
    )
    spectrum_graded = models.BooleanField(default=False)
    spectrum_tolerance = models.PositiveSmallIntegerField(
        default=10, help_text="Full credit within this distance; none beyond it plus 40."
    )
    # Short-answer questions: whether "Entombed" and "entombed" are different answers.
    # The accepted answers are its choices (`short_answer_match`).
    case_sensitive = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["course", "category__name", "title", "pk"]

    def __str__(self) -> str:
        return self.title

    def get_absolute_url(self) -> str:
        return route("cases:question_edit", self.pk)

    @property
    def is_scored(self) -> bool:
        if self.kind in UNSCORED_KINDS:
            return False
        return self.kind != QuestionKind.SPECTRUM or self.spectrum_graded

    @property
    def needs_person(self) -> bool:
        return self.kind == QuestionKind.SHORT_TEXT


class Choice(NumericAnswer):
    question = models.ForeignKey(Question, on_delete=models.CASCADE, related_name="choices")
    text = models.CharField(max_length=500)
    # Share of the question's points this choice is worth: 1 for the right single
    # choice; for multiple choice, the right choices' fractions add up to 1 and wrong
    # ones are negative. A multiple-choice answer scores the sum of the chosen fractions,
    # clamped to 0..1.
    fraction = models.DecimalField(
        max_digits=6,
        decimal_places=5,
        default=Decimal("0"),
        validators=[MinValueValidator(Decimal("-1")), MaxValueValidator(Decimal("1"))],
    )
    feedback = models.TextField(blank=True)
    position = models.PositiveSmallIntegerField(default=0)
    # Matching questions: `text` is the prompt (left) and this its match (right); a
    # choice with an empty prompt is an extra wrong match.
    match = models.CharField(max_length=500, blank=True)
    # Numeric questions: an answer besides the question's own right one, worth
    # `fraction`, with its `feedback` (NumericAnswer's fields).

    class Meta:
        ordering = ["question", "position", "pk"]

    def __str__(self) -> str:
        return self.text


def numeric_shown(answer: "Question | Choice") -> str:
    """A numeric answer as its author wrote it: "3.141 to 3.142", "1600 (± 100)", "7"."""
    from cases.gift import format_decimal

    if answer.numeric_answer is None:
        return ""
    number, tolerance = answer.numeric_answer, answer.numeric_tolerance or Decimal(0)
    if answer.numeric_range:
        return f"{format_decimal(number - tolerance)} to {format_decimal(number + tolerance)}"
    if not tolerance:
        return format_decimal(number)
    return f"{format_decimal(number)} (± {format_decimal(tolerance)})"


def numeric_key(question: "Question", choices) -> str:
    """A numeric question's answers that earn credit, as written, the right one first:
    "1822; 1820 to 1824 (50%)"."""
    others = sorted(
        (c for c in choices if c.numeric_answer is not None and c.fraction > 0),
        key=lambda c: -c.fraction,
    )
    return "; ".join(
        [numeric_shown(question)]
        + [
            numeric_shown(c)
            + ("" if c.fraction == 1 else f" ({(c.fraction * 100).normalize():f}%)")
            for c in others
        ]
    )


@dataclass(frozen=True)
class NumericMatch:
    """The answer a number given to a numeric question counts as: its credit and the
    feedback the student sees."""

    fraction: Decimal
    feedback: str


def numeric_match(question: "Question", choices, given: Decimal | None) -> NumericMatch | None:
    """The answer a number fits that gives the most credit: the question's own right
    answer (full credit, `right_feedback`) or one of its other answers (choices with a
    number, each worth its fraction); None when it fits none. Bounds included."""
    if given is None:
        return None
    found = None
    candidates = [(question, Decimal(1), question.right_feedback)] + [
        (choice, choice.fraction, choice.feedback)
        for choice in choices
        if choice.numeric_answer is not None
    ]
    for answer, fraction, feedback in candidates:
        if answer.numeric_answer is None or (found is not None and fraction <= found.fraction):
            continue
        if abs(given - answer.numeric_answer) <= (answer.numeric_tolerance or Decimal(0)):
            found = NumericMatch(fraction, feedback)
    return found


def numeric_given(response: dict) -> Decimal | None:
    """The number a student gave, exactly as written: JSON keeps a float, and its
    shortest repr is what they typed."""
    value = response.get("value")
    if value is None or isinstance(value, bool):
        return None
    return Decimal(repr(value)) if isinstance(value, float) else Decimal(str(value))


def matching_prompts(choices) -> list[Choice]:
    """A matching question's pairs that ask something (not the extra wrong matches)."""
    return [choice for choice in choices if choice.text.strip()]


def matching_options(choices, seed: int) -> list[str]:
    """The right-hand matches a student chooses from: each once, in an order shuffled
    from `seed` (the attempt question's id), so a reload shows the same order."""
    options = sorted({choice.match for choice in choices if choice.match.strip()})
    random.Random(seed).shuffle(options)  # noqa: S311 - an order to show, not a secret.
    return options


def _normal_spaces(text: str) -> str:
    return " ".join(str(text).split())


def _pieces(pattern: str) -> list[str]:
    """An accepted answer split at its wildcards: `*` stands for any characters, `\\*`
    for a star itself."""
    pieces = [""]
    rest = pattern
    while rest:
        if rest.startswith("\\*"):
            pieces[-1] += "*"
            rest = rest[2:]
        elif rest[0] == "*":
            pieces.append("")
            rest = rest[1:]
        else:
            pieces[-1] += rest[0]
            rest = rest[1:]
    return pieces


def short_answer_fits(pattern: str, given: str, *, case_sensitive: bool) -> bool:
    """Whether an answer fits an accepted answer, spaces trimmed and collapsed in both.
    Wildcards are matched left to right, never backtracking, however many stars."""
    pattern, given = _normal_spaces(pattern), _normal_spaces(given)
    if not case_sensitive:
        pattern, given = pattern.casefold(), given.casefold()
    pieces = _pieces(pattern)
    if len(pieces) == 1:
        return given == pieces[0]
    first, *middle, last = pieces
    start, end = len(first), len(given) - len(last)
    if end < start or not given.startswith(first) or not given.endswith(last):
        return False
    for piece in middle:
        found = given.find(piece, start, end)
        if found < 0:
            return False
        start = found + len(piece)
    return True


def short_answer_match(question: "Question", choices, text: str):
    """The accepted answer (a choice) a short answer matches that gives the most
    credit, or None: what grading counts and what the result page's feedback names."""
    given = _normal_spaces(text or "")
    if not given:
        return None
    matching = [
        choice
        for choice in choices
        if short_answer_fits(choice.text, given, case_sensitive=question.case_sensitive)
    ]
    return max(matching, key=lambda choice: (choice.fraction, -choice.position), default=None)


class GradingMethod(models.TextChoices):
    HIGHEST = "highest", "Highest attempt"
    LAST = "last", "Last attempt"
    AVERAGE = "average", "Average of attempts"


class FeedbackRelease(models.TextChoices):
    IMMEDIATELY = "immediately", "Immediately after submitting"
    AFTER_DUE = "after_due", "After the due date"
    NEVER = "never", "Never"


def results_released(quiz: "Quiz", due_at, now) -> bool:
    """Whether the quiz's own rule shows a student their score by `now`, given their due
    date: at once, after the due date, or never. The quiz's pages ask it, and so does
    `grade_released` for every other page of the student's."""
    if quiz.feedback_release == FeedbackRelease.IMMEDIATELY:
        return True
    if quiz.feedback_release == FeedbackRelease.AFTER_DUE:
        return due_at is None or now > due_at
    return False


class Quiz(models.Model):
    """The quiz kind of module item."""

    # The rules an instructor sets: its settings form's fields.
    SETTINGS = [
        "attempts_allowed",
        "time_limit_minutes",
        "shuffle_questions",
        "shuffle_choices",
        "one_question_per_page",
        "grading_method",
        "feedback_release",
    ]

    item = models.OneToOneField(ModuleItem, on_delete=models.CASCADE, related_name="quiz")
    attempts_allowed = models.PositiveSmallIntegerField(
        default=1, validators=[MinValueValidator(1)]
    )
    time_limit_minutes = models.PositiveSmallIntegerField(null=True, blank=True)
    shuffle_questions = models.BooleanField(default=False)
    shuffle_choices = models.BooleanField(default=True)
    one_question_per_page = models.BooleanField(default=False)
    grading_method = models.CharField(
        max_length=10, choices=GradingMethod.choices, default=GradingMethod.HIGHEST
    )
    feedback_release = models.CharField(
        max_length=12, choices=FeedbackRelease.choices, default=FeedbackRelease.IMMEDIATELY
    )

    class Meta:
        verbose_name_plural = "quizzes"

    def __str__(self) -> str:
        return self.item.title


class QuizSlot(models.Model):
    """One place in a quiz: a fixed question, or `draw_count` questions drawn at random
    from a category when an attempt starts (frozen for that attempt)."""

    quiz = models.ForeignKey(Quiz, on_delete=models.CASCADE, related_name="slots")
    position = models.PositiveSmallIntegerField(default=0)
    question = models.ForeignKey(Question, null=True, blank=True, on_delete=models.CASCADE)
    category = models.ForeignKey(QuestionCategory, null=True, blank=True, on_delete=models.CASCADE)
    draw_count = models.PositiveSmallIntegerField(default=1)

    class Meta:
        ordering = ["quiz", "position", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(question__isnull=False, category__isnull=True)
                | Q(question__isnull=True, category__isnull=False),
                name="slot_question_or_category",
            )
        ]

    def __str__(self) -> str:
        return str(self.question or f"{self.draw_count} from {self.category}")


class AttemptState(models.TextChoices):
    IN_PROGRESS = "in_progress", "In progress"
    SUBMITTED = "submitted", "Submitted"


class AttemptQuerySet(models.QuerySet):
    def given(self, now=None) -> "AttemptQuerySet":
        """Attempts at quizzes still given to their student (`given_to`)."""
        return self.filter(given_to(OuterRef("user"), OuterRef("quiz__item"), now))

    def expired(self, now=None) -> "AttemptQuerySet":
        """In-progress attempts whose time (and grace) has run out."""
        now = now or timezone.now()
        grace = timezone.timedelta(seconds=settings.QUIZ_GRACE_SECONDS)
        return self.filter(state=AttemptState.IN_PROGRESS, deadline_at__lt=now - grace)


class Attempt(models.Model):
    quiz = models.ForeignKey(Quiz, on_delete=models.CASCADE, related_name="attempts")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="attempts"
    )
    number = models.PositiveSmallIntegerField()
    state = models.CharField(
        max_length=12, choices=AttemptState.choices, default=AttemptState.IN_PROGRESS
    )
    started_at = models.DateTimeField(default=timezone.now)
    deadline_at = models.DateTimeField(null=True, blank=True)
    submitted_at = models.DateTimeField(null=True, blank=True)
    timed_out = models.BooleanField(default=False)
    late = models.BooleanField(default=False)
    score = models.DecimalField(max_digits=8, decimal_places=2, null=True, blank=True)
    max_score = models.DecimalField(max_digits=8, decimal_places=2, default=Decimal("0"))
    needs_grading = models.BooleanField(default=False)

    objects = AttemptQuerySet.as_manager()

    class Meta:
        ordering = ["quiz", "user", "number"]
        constraints = [
            # With `number` capped at attempts_allowed by the service, this is what holds
            # the attempts limit under concurrent starts.
            models.UniqueConstraint(fields=["quiz", "user", "number"], name="attempt_number_once"),
            models.UniqueConstraint(
                fields=["quiz", "user"],
                condition=Q(state="in_progress"),
                name="one_open_attempt",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user} on {self.quiz} #{self.number}"

    def get_absolute_url(self) -> str:
        return route("cases:attempt_detail", self.pk)

    @property
    def is_open(self) -> bool:
        return self.state == AttemptState.IN_PROGRESS

    def is_expired(self, now=None) -> bool:
        """Open, but past its deadline and the grace period: due to be finalised."""
        if not self.is_open or self.deadline_at is None:
            return False
        grace = timezone.timedelta(seconds=settings.QUIZ_GRACE_SECONDS)
        return (now or timezone.now()) > self.deadline_at + grace

    def seconds_left(self, now=None) -> int | None:
        if self.deadline_at is None:
            return None
        return max(0, int((self.deadline_at - (now or timezone.now())).total_seconds()))


class AttemptQuestion(models.Model):
    """A question as it stands in one attempt: its place and its choices' order."""

    attempt = models.ForeignKey(Attempt, on_delete=models.CASCADE, related_name="slots")
    question = models.ForeignKey(Question, on_delete=models.PROTECT, related_name="+")
    position = models.PositiveSmallIntegerField()
    choice_order = models.JSONField(default=list)

    class Meta:
        ordering = ["attempt", "position"]
        constraints = [
            models.UniqueConstraint(
                fields=["attempt", "question"], name="question_once_per_attempt"
            )
        ]

    def __str__(self) -> str:
        return f"{self.attempt} Q{self.position}"


# A question never touched, or whose answer was cleared, is stored as this and nothing
# else (`_parse_response`; migration 0017 brought older empty answers in line), so
# "answered" is one comparison, in Python (`answer_given`) as in SQL (`given()`).
NO_ANSWER: dict = {}


def answer_given(response: dict) -> bool:
    """Whether a stored response is a real answer."""
    return response != NO_ANSWER


class AnswerQuerySet(models.QuerySet):
    def given(self) -> "AnswerQuerySet":
        """Real answers (see `answer_given`)."""
        return self.exclude(response=NO_ANSWER)


class Answer(models.Model):
    """A student's answer to one question of one attempt, saved as they go."""

    slot = models.OneToOneField(AttemptQuestion, on_delete=models.CASCADE, related_name="answer")
    # What the student gave: {"choices": [ids]}, {"value": 12.5}, {"text": "…"},
    # {"scale": 4} or {"position": 70}.
    response = models.JSONField(default=dict)
    seq = models.BigIntegerField(default=0)
    saved_at = models.DateTimeField(default=timezone.now)
    fraction = models.DecimalField(max_digits=6, decimal_places=5, null=True, blank=True)
    points = models.DecimalField(max_digits=8, decimal_places=2, null=True, blank=True)
    needs_grading = models.BooleanField(default=False)
    comment = models.TextField(blank=True)
    graded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    graded_at = models.DateTimeField(null=True, blank=True)

    objects = AnswerQuerySet.as_manager()

    def __str__(self) -> str:
        return f"Answer to {self.slot}"


# Grading: pure functions of the attempts, read by the quiz's services and by work_sync.


def _share(attempt: Attempt) -> Decimal:
    """The part of its own maximum an attempt scored (0 for one with nothing scored)."""
    return attempt.score / attempt.max_score if attempt.max_score else Decimal(0)


def quiz_result(attempts: list[Attempt], method: str) -> tuple[Decimal, Decimal] | None:
    """The grade that counts for the gradebook, from one student's submitted attempts:
    a score and what it is out of. Attempts may be out of different totals (a question
    dropped from the quiz, or points changed, between them): each attempt is judged
    against its own, so the best attempt is the best share, the last one counts out of
    its own questions, and an average is the average share, out of the last attempt's
    total."""
    scored = [a for a in attempts if a.state == AttemptState.SUBMITTED and a.score is not None]
    if not scored:
        return None
    if method == "average":
        out_of = max(scored, key=lambda a: a.number).max_score
        if out_of and all(a.max_score for a in scored):
            mean = sum((_share(a) for a in scored), Decimal(0)) / len(scored) * out_of
        else:
            mean = sum((a.score for a in scored), Decimal(0)) / len(scored)
        return mean.quantize(Decimal("0.01")), out_of
    counting = counting_attempt(scored, method)
    return counting.score, counting.max_score


def quiz_grade(attempts: list[Attempt], method: str) -> Decimal | None:
    """The score of `quiz_result`: the grade that counts, in its points."""
    result = quiz_result(attempts, method)
    return None if result is None else result[0]


def awaiting_grader(submitted: list[Attempt], method: str) -> bool:
    """Whether the grade that counts waits for a person: an answer to grade in an
    attempt that may count. When the last attempt counts, an earlier one never will,
    so its essay holds nothing back; for the best or the average, any attempt may."""
    if method == GradingMethod.LAST:
        last = counting_attempt(submitted, method)
        return last is not None and last.needs_grading
    return any(attempt.needs_grading for attempt in submitted)


def counting_attempt(submitted: list[Attempt], method: str) -> Attempt | None:
    """The attempt whose hand-in time the grade carries: the best one (the best share
    of its own total, the first of equals) for "highest", else the last one handed in."""
    if not submitted:
        return None
    if method == "highest":
        scored = [a for a in submitted if a.score is not None] or submitted
        return max(
            scored,
            key=lambda a: (_share(a) if a.score is not None else -1, a.score or 0, -a.number),
        )
    return max(submitted, key=lambda a: a.number)
