"""Written case analyses: the memo a student writes on a case's decision, its drafts
and the versions handed in, a grader's comments on its words, and calibrated peer
review.

A student writes in Red Queen (Markdown, autosaved to `Memo.draft`) or uploads a PDF or
Word file; handing in freezes a `MemoVersion`, and each resubmission before the due date
adds one. A grader's `MemoComment` is anchored to the words of one version as a note is
to a case (`cases.anchors`): versions never change, so comments never move. After the
due date each student may be given classmates' latest versions to review
(`PeerReview`), anonymously both ways.
"""

import uuid
from pathlib import PurePosixPath

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q

from cases.models.courses import ModuleItem
from cases.models.readings import CaseStudy

MAX_MEMO_CHARS = 60_000
MAX_COMMENT_CHARS = 5_000


class Analysis(models.Model):
    """The written-analysis kind of module item: a prompt, a word limit, whether a file
    may be handed in instead, and whether peer review follows the due date."""

    item = models.OneToOneField(ModuleItem, on_delete=models.CASCADE, related_name="analysis")
    case = models.ForeignKey(
        CaseStudy,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="analyses",
        help_text="Its paragraphs can be cited as ¶3.",
    )
    prompt = models.TextField(help_text="Markdown: what the memo answers.")
    word_limit = models.PositiveIntegerField(
        default=1500,
        validators=[MinValueValidator(50), MaxValueValidator(10_000)],
        help_text="The most words a memo may have; checked when it is handed in.",
    )
    allow_upload = models.BooleanField(
        default=True,
        verbose_name="Allow a file instead",
        help_text="Students may hand in a PDF or Word file instead of writing here.",
    )
    peer_review = models.BooleanField(
        default=False,
        help_text="After the due date each student reviews classmates' memos, anonymously.",
    )
    reviews_each = models.PositiveSmallIntegerField(
        default=2,
        validators=[MinValueValidator(1), MaxValueValidator(3)],
        verbose_name="Memos each student reviews",
    )
    review_days = models.PositiveSmallIntegerField(
        default=3,
        validators=[MinValueValidator(1), MaxValueValidator(30)],
        verbose_name="Days to review",
        help_text="Reviews are due this many days after each student's due date.",
    )

    class Meta:
        verbose_name_plural = "analyses"

    def __str__(self) -> str:
        return f"Written analysis: {self.item}"


class Memo(models.Model):
    """One student's writing for one written analysis: the draft they are writing
    (saved as they type; a save older than the stored one is ignored, as quiz answers
    are) and the versions they handed in. Without a rubric a person grades it in
    points (`points`, the kind's own score)."""

    item = models.ForeignKey(ModuleItem, on_delete=models.CASCADE, related_name="memos")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memos"
    )
    draft = models.TextField(blank=True)
    draft_seq = models.BigIntegerField(default=0)
    draft_saved_at = models.DateTimeField(null=True, blank=True)
    points = models.DecimalField(max_digits=8, decimal_places=2, null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["item", "author"], name="memo_once_per_item"),
        ]

    def __str__(self) -> str:
        return f"{self.author} on {self.item}"


def memo_upload_to(version: "MemoVersion", filename: str) -> str:
    """Where an uploaded memo is stored: a random name under the item's folder, so no
    student's filename ever becomes a path (the name they gave is kept in `file_name`)."""
    suffix = PurePosixPath(filename).suffix.lower()
    return f"memos/{version.memo.item_id}/{uuid.uuid4().hex}{suffix}"


class MemoVersion(models.Model):
    """What a student handed in, frozen: the text written here (with its rendering,
    words and cited paragraphs), or an uploaded file."""

    memo = models.ForeignKey(Memo, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    body = models.TextField(blank=True)
    body_html = models.TextField(blank=True)
    word_count = models.PositiveIntegerField(default=0)
    cited_paragraphs = models.JSONField(default=list, blank=True)
    file = models.FileField(upload_to=memo_upload_to, blank=True, max_length=200)
    file_name = models.CharField(max_length=200, blank=True)
    file_type = models.CharField(max_length=10, blank=True)  # "pdf" or "docx"
    file_size = models.PositiveIntegerField(default=0)
    submitted_at = models.DateTimeField()
    # A token from the form: the same form submitted twice makes one version.
    nonce = models.CharField(max_length=40, blank=True)

    class Meta:
        ordering = ["memo", "number"]
        constraints = [
            models.UniqueConstraint(fields=["memo", "number"], name="memo_version_number_once"),
            models.UniqueConstraint(
                fields=["memo", "nonce"], condition=~Q(nonce=""), name="memo_version_nonce_once"
            ),
        ]

    def __str__(self) -> str:
        return f"Version {self.number} of {self.memo}"

    @property
    def is_file(self) -> bool:
        return bool(self.file)


class MemoComment(models.Model):
    """A grader's comment on words of one handed-in version, anchored as a note is to a
    case: paragraph numbers (the version's blocks, from 1) and offsets in their text,
    with the quote and its context. A comment with no paragraph is on the whole memo.
    The student reads comments once the item's grades are released to their cohort."""

    version = models.ForeignKey(MemoVersion, on_delete=models.CASCADE, related_name="comments")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memo_comments"
    )
    paragraph = models.PositiveIntegerField(null=True, blank=True)
    start = models.PositiveIntegerField(default=0)
    end_paragraph = models.PositiveIntegerField(null=True, blank=True)
    end = models.PositiveIntegerField(default=0)
    quote = models.TextField(blank=True)
    prefix = models.CharField(max_length=40, blank=True)
    suffix = models.CharField(max_length=40, blank=True)
    body = models.TextField()
    body_html = models.TextField()
    nonce = models.CharField(max_length=40, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["version", "paragraph", "start", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["author", "nonce"], condition=~Q(nonce=""), name="memo_comment_nonce_once"
            ),
        ]

    def __str__(self) -> str:
        return f"Comment {self.pk} by {self.author} on {self.version}"


class PeerReview(models.Model):
    """One student asked to review one classmate's memo (the version latest when peer
    review was assigned), against the item's rubric with a comment. Neither learns who
    the other is: the reviewer reads "Memo 1, 2, 3" (`position`), the author "Reviewer
    1, 2". The author rates how helpful the review was (1 to 5)."""

    item = models.ForeignKey(ModuleItem, on_delete=models.CASCADE, related_name="peer_reviews")
    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="reviews_given"
    )
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="reviews_received"
    )
    version = models.ForeignKey(MemoVersion, on_delete=models.CASCADE, related_name="reviews")
    position = models.PositiveSmallIntegerField()
    rubric_levels = models.JSONField(default=dict, blank=True)
    score = models.DecimalField(max_digits=8, decimal_places=2, null=True, blank=True)
    comment = models.TextField(blank=True)
    comment_html = models.TextField(blank=True)
    submitted_at = models.DateTimeField(null=True, blank=True)
    helpfulness = models.PositiveSmallIntegerField(
        null=True, blank=True, validators=[MinValueValidator(1), MaxValueValidator(5)]
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["item", "reviewer", "position"]
        constraints = [
            models.UniqueConstraint(fields=["item", "reviewer", "author"], name="peer_review_once"),
            models.UniqueConstraint(
                fields=["item", "reviewer", "position"], name="peer_review_position_once"
            ),
            models.CheckConstraint(condition=~Q(reviewer=F("author")), name="peer_review_not_own"),
            models.CheckConstraint(
                condition=Q(helpfulness__isnull=True)
                | (Q(helpfulness__gte=1) & Q(helpfulness__lte=5)),
                name="peer_review_helpfulness_range",
            ),
        ]
        indexes = [models.Index(fields=["item", "author"], name="peer_review_item_author")]

    def __str__(self) -> str:
        return f"{self.reviewer} reviews {self.author} on {self.item}"
