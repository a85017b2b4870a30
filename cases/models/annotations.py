"""Reading together: notes anchored to the words of a case, threaded beside them, and
the annotation assignment that grades them.

An anchor follows the W3C Web Annotation model: the text it quotes with a little
context either side (a TextQuoteSelector) and where that text sits (a
TextPositionSelector, here counted within the paragraph's stable number, so that it
survives paragraphs being added or moved). Offsets count the characters of the
paragraph's text as the reader shows it (`cases.anchors.text_of`). When the case is
edited every anchor is found again by its quote; one that cannot be is kept, orphaned,
with its quote (`cases.services.annotations.annotations_reanchor`).
"""

from django.conf import settings
from django.db import models
from django.db.models import Exists, OuterRef, Q

from cases.models.cohorts import Cohort
from cases.models.courses import ModuleItem
from cases.models.readings import CaseStudy

# Context kept either side of the quote, to tell apart two places with the same words.
CONTEXT_CHARS = 40
MAX_ANNOTATION_CHARS = 5_000
MAX_QUOTE_CHARS = 2_000


class Visibility(models.TextChoices):
    """Who reads a note besides its author. A reply is read by whoever reads its note."""

    COHORT = "cohort", "My class"
    INSTRUCTOR = "instructor", "Question to the instructor"
    PRIVATE = "private", "Only me"


# What an annotation assignment counts: notes and replies the class reads (a reply is
# read by whoever reads its note, and takes its visibility). A question to the
# instructor is answered, not counted, and a private note is the student's own.
FOR_THE_CLASS = Q(visibility=Visibility.COHORT)


def for_the_class(visibility: str) -> bool:
    """`FOR_THE_CLASS`, of a row already read (the student's own progress)."""
    return visibility == Visibility.COHORT


def counted_for(item) -> Q:
    """Of a student's notes, those an annotation assignment (`item`: an id or an
    OuterRef) may count besides `FOR_THE_CLASS`: written in a current section, or in a
    section given the item. A past term's notes (its section archived) count for what
    that term was given, never for a new term's copy a student taking the course again
    is given: they write afresh."""
    from cases.models.schedule import Assignment

    return (
        Q(cohort__isnull=True)
        | Q(cohort__archived_at__isnull=True)
        | Q(Exists(Assignment.objects.filter(item=item, cohort=OuterRef("cohort"))))
    )


def counted_row(row: dict, cohort_id) -> bool:
    """`counted_for`, of a row already read (with `cohort_id` and
    `cohort__archived_at`), for the student's assignment given to `cohort_id`."""
    return (
        row["cohort_id"] is None
        or row["cohort__archived_at"] is None
        or row["cohort_id"] == cohort_id
    )


class Annotation(models.Model):
    """A note on a span of a case (a root, `thread` empty) or a reply in a note's thread.

    A student's note belongs to the cohort they read the case with, so section B never
    reads section A's. Teaching staff's notes have no cohort: shared, the readers of the
    courses their author teaches read them."""

    case = models.ForeignKey(CaseStudy, on_delete=models.CASCADE, related_name="annotations")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="annotations"
    )
    cohort = models.ForeignKey(
        Cohort, null=True, blank=True, on_delete=models.CASCADE, related_name="annotations"
    )
    thread = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.CASCADE, related_name="replies"
    )
    visibility = models.CharField(
        max_length=10, choices=Visibility.choices, default=Visibility.COHORT
    )
    # The anchor (a root's; empty on replies). An orphaned note keeps its last place.
    paragraph = models.PositiveIntegerField(null=True, blank=True)
    start = models.PositiveIntegerField(default=0)
    end_paragraph = models.PositiveIntegerField(null=True, blank=True)
    end = models.PositiveIntegerField(default=0)
    quote = models.TextField(blank=True)
    prefix = models.CharField(max_length=CONTEXT_CHARS, blank=True)
    suffix = models.CharField(max_length=CONTEXT_CHARS, blank=True)
    orphaned = models.BooleanField(default=False)
    anchored_revision = models.PositiveIntegerField(default=1)

    body = models.TextField()
    body_html = models.TextField()
    word_count = models.PositiveIntegerField(default=0)
    # A token from the form: the same form submitted twice makes one note.
    nonce = models.CharField(max_length=40, blank=True)
    upvote_count = models.PositiveIntegerField(default=0)
    reply_count = models.PositiveIntegerField(default=0)  # Replies shown, on a root.
    created_at = models.DateTimeField(auto_now_add=True)
    # Any change (a reply, a vote, moderation, a new anchor): the live layer's ETag.
    updated_at = models.DateTimeField(auto_now=True)
    deleted_at = models.DateTimeField(null=True, blank=True)
    pinned = models.BooleanField(default=False)
    endorsed = models.BooleanField(default=False)
    hidden_at = models.DateTimeField(null=True, blank=True)
    hidden_reason = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["case", "created_at", "pk"]
        indexes = [
            models.Index(fields=["case", "updated_at"], name="annotation_case_updated"),
            models.Index(fields=["case", "paragraph"], name="annotation_case_paragraph"),
            models.Index(fields=["author", "created_at"], name="annotation_author_created"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["author", "nonce"], condition=~Q(nonce=""), name="annotation_nonce_once"
            ),
            models.CheckConstraint(
                condition=Q(end_paragraph__isnull=True) | Q(paragraph__isnull=False),
                name="annotation_end_has_start",
            ),
        ]

    def __str__(self) -> str:
        if self.thread_id:
            return f"Reply {self.pk} by {self.author} to note {self.thread_id}"
        return f"Note {self.pk} by {self.author} on {self.case.slug} {self.where}"

    @property
    def is_reply(self) -> bool:
        return self.thread_id is not None

    @property
    def is_question(self) -> bool:
        return self.visibility == Visibility.INSTRUCTOR

    @property
    def is_deleted(self) -> bool:
        return self.deleted_at is not None

    @property
    def last_paragraph(self) -> int | None:
        return self.end_paragraph or self.paragraph

    @property
    def where(self) -> str:
        """¶7, ¶7 to ¶9 as "¶7\u20139", or orphaned."""
        if self.orphaned or self.paragraph is None:
            return "orphaned"
        if self.end_paragraph and self.end_paragraph != self.paragraph:
            return f"¶{self.paragraph}\u2013{self.end_paragraph}"
        return f"¶{self.paragraph}"


class AnnotationVote(models.Model):
    annotation = models.ForeignKey(Annotation, on_delete=models.CASCADE, related_name="votes")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["annotation", "user"], name="annotation_vote_once")
        ]

    def __str__(self) -> str:
        return f"{self.user} +1 note {self.annotation_id}"


class AnnotationTask(models.Model):
    """The annotation kind of module item: annotate a case, with at least so many
    substantive notes (notes and replies others can read, of at least so many words)."""

    item = models.OneToOneField(
        ModuleItem, on_delete=models.CASCADE, related_name="annotation_task"
    )
    case = models.ForeignKey(CaseStudy, on_delete=models.PROTECT, related_name="annotation_tasks")
    min_notes = models.PositiveSmallIntegerField(
        default=3, help_text="Substantive notes or replies a student writes to hand it in."
    )
    min_words = models.PositiveSmallIntegerField(
        default=15, help_text="Words a note needs to count as substantive."
    )
    annotate_first = models.BooleanField(
        default=False,
        help_text="Students see classmates' notes on the case only after writing their own.",
    )

    def __str__(self) -> str:
        return f"Annotate {self.case}"
