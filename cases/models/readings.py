from django.conf import settings
from django.core.validators import MaxValueValidator
from django.db import models
from django.db.models import Exists, OuterRef, Q

from cases.models.courses import ModuleItem
from cases.models.schedule import Assignment
from cases.routes import route


class Region(models.TextChoices):
    BEIJING = "beijing", "Beijing"
    SHANGHAI = "shanghai", "Shanghai"
    PRD = "prd", "Pearl River Delta"
    OTHER = "other", "Other / several regions"


# The case that sets the three regions side by side; the regions page links to it.
REGIONAL_CASE_SLUG = "regional-comparison"


class CaseStudyQuerySet(models.QuerySet):
    def assigned_to(self, user, now=None) -> "CaseStudyQuerySet":
        """Cases in a reading, an annotation assignment or a written analysis given to
        one of the user's cohorts and open now (or at `now`): a memo on a case cites its
        paragraphs, so its writer reads it even when no reading gives it."""
        return self.filter(
            Exists(
                Assignment.objects.open(now)
                .for_student(user)
                .filter(
                    Q(item__case_reading__case=OuterRef("pk"))
                    | Q(item__annotation_task__case=OuterRef("pk"))
                    | Q(item__analysis__case=OuterRef("pk"))
                )
            )
        )

    def matching(self, text: str, *, postgres: bool) -> "CaseStudyQuerySet":
        """Full-text search on PostgreSQL; every word as a substring elsewhere."""
        text = text.strip()
        if not text:
            return self
        if postgres:
            from django.contrib.postgres.search import SearchQuery, SearchRank, SearchVector

            vector = (
                SearchVector("title", weight="A", config="english")
                + SearchVector("company", weight="A", config="english")
                + SearchVector("summary", "sector", weight="B", config="english")
                + SearchVector("body", weight="C", config="english")
            )
            query = SearchQuery(text, search_type="websearch", config="english")
            # Matched by the query itself: ts_rank gives a case that misses a
            # several-word query a tiny positive rank, so `rank > 0` let every case in.
            return (
                self.annotate(document=vector, rank=SearchRank(vector, query))
                .filter(document=query)
                .order_by("-rank", "title")
            )
        condition = Q()
        for word in text.split():
            condition &= (
                Q(title__icontains=word)
                | Q(company__icontains=word)
                | Q(summary__icontains=word)
                | Q(sector__icontains=word)
                | Q(body__icontains=word)
            )
        return self.filter(condition)


class CaseStudy(models.Model):
    """A reusable library entry. `body` is the Markdown source; its paragraphs are kept
    as CaseParagraph rows with stable numbers so that citations survive edits."""

    title = models.CharField(max_length=200)
    slug = models.SlugField(max_length=80, unique=True)
    company = models.CharField(max_length=120)
    region = models.CharField(max_length=10, choices=Region.choices, default=Region.OTHER)
    sector = models.CharField(max_length=80)
    period = models.CharField(max_length=40, blank=True)
    summary = models.TextField()
    body = models.TextField(help_text="Markdown. Separate paragraphs with a blank line.")
    key_facts = models.JSONField(default=list, blank=True)
    discussion_questions = models.JSONField(default=list, blank=True)
    teaching_notes = models.TextField(blank=True)
    spectrum_placement = models.PositiveSmallIntegerField(
        null=True, blank=True, validators=[MaxValueValidator(100)]
    )
    spectrum_justification = models.TextField(blank=True)
    placement_released = models.BooleanField(default=False)
    source = models.TextField(blank=True)
    # The teaching case's furniture: whose decision it is (a role the case may imagine),
    # what they must decide, what each part rests on, and numbered exhibits (see
    # cases/exhibits.py for their shape).
    protagonist = models.CharField(max_length=300, blank=True)
    dilemma = models.CharField(
        max_length=500, blank=True, help_text="The decision the protagonist faces."
    )
    sources_note = models.TextField(blank=True, help_text="Markdown: what the case rests on.")
    exhibits = models.JSONField(default=list, blank=True)
    # A part B: what followed part A's decision. A student reads it only after committing
    # to the decision point that reveals it (`Decision.reveals`).
    follows = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="sequels"
    )
    body_html = models.TextField(
        blank=True, editable=False, help_text="The body rendered and sanitised, per revision."
    )
    revision = models.PositiveIntegerField(default=1)
    next_paragraph_number = models.PositiveIntegerField(default=1)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = CaseStudyQuerySet.as_manager()

    class Meta:
        ordering = ["title"]
        verbose_name_plural = "case studies"
        constraints = [
            models.CheckConstraint(
                condition=Q(spectrum_placement__lte=100), name="case_placement_0_to_100"
            )
        ]

    def __str__(self) -> str:
        return self.title

    def get_absolute_url(self) -> str:
        return route("cases:case_detail", self.slug)

    @property
    def word_count(self) -> int:
        return len(self.body.split())


class CaseParagraph(models.Model):
    """One numbered paragraph. `number` is the paragraph's identity (its anchor `p7`
    and its citation `¶7`): it never changes and is never reused, while `position`
    orders the paragraphs of the current revision. `html` caches the sanitised
    rendering of `text`."""

    case = models.ForeignKey(CaseStudy, on_delete=models.CASCADE, related_name="paragraphs")
    number = models.PositiveIntegerField()
    position = models.PositiveIntegerField()
    text = models.TextField()
    html = models.TextField()

    class Meta:
        ordering = ["case", "position"]
        constraints = [
            models.UniqueConstraint(fields=["case", "number"], name="paragraph_number_once")
        ]

    def __str__(self) -> str:
        return f"{self.case.slug} ¶{self.number}"

    @property
    def anchor(self) -> str:
        return f"p{self.number}"


class CaseReading(models.Model):
    """The case-reading kind of module item: which case to read."""

    item = models.OneToOneField(ModuleItem, on_delete=models.CASCADE, related_name="case_reading")
    case = models.ForeignKey(CaseStudy, on_delete=models.PROTECT, related_name="readings")

    def __str__(self) -> str:
        return f"Reading of {self.case}"


class ReadingProgress(models.Model):
    """One student's reading of one case, whatever course it came from."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="reading_progress"
    )
    case = models.ForeignKey(CaseStudy, on_delete=models.CASCADE, related_name="progress")
    first_opened_at = models.DateTimeField()
    last_opened_at = models.DateTimeField()
    # Unix seconds of the last sign of reading: whole seconds keep the heartbeat's
    # arithmetic in one portable UPDATE.
    last_beat = models.PositiveBigIntegerField()
    active_seconds = models.PositiveIntegerField(default=0)
    last_paragraph = models.PositiveIntegerField(null=True, blank=True)
    done_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "case"], name="progress_once_per_case")
        ]
        verbose_name_plural = "reading progress"

    def __str__(self) -> str:
        return f"{self.user} reading {self.case}"

    @property
    def active_minutes(self) -> int:
        return round(self.active_seconds / 60)
