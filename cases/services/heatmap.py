"""The heat map of a class's notes on a case, for the course staff: which sentences
the students highlighted, how many of them, and where their questions gather.

Only notes others may read count: never a private note (not even as a number), nor a
deleted or hidden one. A note counts for every sentence its words touch; a note whose
words could not be found again after an edit (orphaned) counts only in the totals.
A staff note is not the class's and counts only for its replies by the cohorts'
students, as those cohorts read them (`replies_seen`).
Two queries, whatever the size of the class: the case's paragraphs and the notes.
"""

from dataclasses import dataclass, field

from django.db.models import (
    BooleanField,
    Count,
    Exists,
    ExpressionWrapper,
    OuterRef,
    Q,
    Subquery,
    Value,
)
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from cases.anchors import sentences, text_of
from cases.models import Annotation, CaseStudy, Membership, ModuleItem, Visibility
from cases.services.annotations import replies_seen

LEVELS = 4  # Heat levels above "nobody": 1 (coolest) to 4.
TOP_ROWS = 10

NOTE_FIELDS = (
    *("author_id", "visibility", "replies_read", "staff", "orphaned"),
    *("paragraph", "start", "end_paragraph", "end"),
    "member",  # The author is in one of the cohorts now (`heatmap_build`).
)  # `replies_read`: those the cohorts read; `staff`: a staff note, counted for them alone.


@dataclass
class Sentence:
    paragraph: int  # The paragraph's number (¶N).
    number: int  # Its place in the paragraph, from 1.
    text: str
    start: int
    end: int
    highlights: int = 0
    questions: int = 0
    replies: int = 0
    authors: set = field(default_factory=set)
    level: int = 0

    @property
    def students(self) -> int:
        return len(self.authors)

    @property
    def label(self) -> str:
        """What a screen reader hears after the sentence."""
        if not self.highlights:
            return "not highlighted"
        times = "" if self.highlights == self.students else f" {_count(self.highlights, 'time')}"
        words = f"highlighted{times} by {_count(self.students, 'student')}"
        if self.questions:
            words += f", {_count(self.questions, 'question')}"
        return words


@dataclass
class Paragraph:
    number: int
    text: str
    sentences: list[Sentence]
    notes: set = field(default_factory=set)  # Indexes of the notes touching it.
    authors: set = field(default_factory=set)
    questions: int = 0
    html: SafeString = field(default_factory=SafeString)

    @property
    def students(self) -> int:
        return len(self.authors)


@dataclass
class HeatMap:
    paragraphs: list[Paragraph]
    notes: int = 0
    students: int = 0  # Students who wrote a note counted here.
    questions: int = 0
    orphaned: int = 0
    most: int = 0  # Highlights on the most highlighted sentence.

    @property
    def sentences(self) -> list[Sentence]:
        return [s for p in self.paragraphs for s in p.sentences]

    @property
    def untouched(self) -> list[int]:
        return [p.number for p in self.paragraphs if not p.notes]

    @property
    def most_highlighted(self) -> list[Sentence]:
        found = [s for s in self.sentences if s.highlights]
        return sorted(found, key=lambda s: (-s.highlights, -s.students))[:TOP_ROWS]

    @property
    def question_clusters(self) -> list[Sentence]:
        found = [s for s in self.sentences if s.questions]
        return sorted(found, key=lambda s: (-s.questions, -s.highlights))[:TOP_ROWS]

    def legend(self) -> list[tuple[int, str]]:
        """(level, the highlights it stands for) for each level some count reaches."""
        rows = [(0, "Not highlighted")]
        scale = max(self.most, LEVELS)
        for level in range(1, LEVELS + 1):
            low = (level - 1) * scale // LEVELS + 1
            high = level * scale // LEVELS
            if low > min(high, self.most):
                continue
            rows.append(
                (
                    level,
                    _count(low, "highlight") if low == high else f"{low}\u2013{high} highlights",
                )
            )
        return rows


def _count(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def heat_level(highlights: int, most: int) -> int:
    """0 for nobody; else 1 to LEVELS, in proportion to the most highlighted sentence,
    and never hotter than the count itself: one note on a quiet case is not a fire."""
    if not highlights:
        return 0
    return min(LEVELS, -(-highlights * LEVELS // max(most, LEVELS)))


def course_case(course, slug: str, cohort_ids: list[int]) -> CaseStudy | None:
    """The case by its slug if the course uses it (read, annotated or discussed in one
    of its items), with `students`: how many students the cohorts hold. One query."""
    used = ModuleItem.objects.filter(module__course=course).filter(
        Q(case_reading__case=OuterRef("pk"))
        | Q(annotation_task__case=OuterRef("pk"))
        | Q(discussion__case=OuterRef("pk"))
    )
    # One row: the members of the cohorts, a student in two of them counted once.
    members = (
        Membership.objects.filter(cohort__in=cohort_ids)
        .annotate(all=Value(1))
        .values("all")
        .annotate(n=Count("user", distinct=True))
        .values("n")
    )
    return (
        CaseStudy.objects.filter(Exists(used), slug=slug)
        .annotate(students=Subquery(members))
        .only("pk", "slug", "title")
        .first()
    )


def heatmap_build(case: CaseStudy, cohort_ids: list[int]) -> HeatMap:
    """The heat map of the notes the cohorts' students wrote on the case: two queries.
    A note stays with the cohort it was written in when its author moves section, so
    each says whether its author is one of the cohorts' students now: only they count
    among "students who annotated", which is out of the cohorts' students now."""
    rows = case.paragraphs.order_by("position").values_list("number", "html")
    paragraphs = []
    for number, html in rows:
        text = text_of(html)
        found = [
            Sentence(number, n, text[start:end], start, end)
            for n, (start, end) in enumerate(sentences(text), start=1)
        ]
        paragraphs.append(Paragraph(number, text, found))
    # A staff note (no cohort) is not the class's, but the cohorts' students' replies
    # under it are: it counts only them, as the cohorts' readers count them.
    read = Annotation.objects.filter(case=case, cohort__in=cohort_ids)
    notes = (
        Annotation.objects.filter(
            case=case, thread__isnull=True, deleted_at__isnull=True, hidden_at__isnull=True
        )
        .exclude(visibility=Visibility.PRIVATE)
        .annotate(
            replies_read=replies_seen(read),
            staff=ExpressionWrapper(Q(cohort__isnull=True), output_field=BooleanField()),
            member=Exists(
                Membership.objects.filter(cohort__in=cohort_ids, user=OuterRef("author"))
            ),
        )
        .filter(Q(cohort__in=cohort_ids) | Q(cohort__isnull=True, replies_read__gt=0))
    )
    heat = HeatMap(paragraphs)
    heat_notes(heat, list(notes.values(*NOTE_FIELDS).order_by()))
    return heat


def heat_notes(heat: HeatMap, notes: list[dict]) -> None:
    """Count each note on the sentences its anchor overlaps (a note across paragraphs
    covers those between in full), then set each sentence's heat."""
    at = {p.number: n for n, p in enumerate(heat.paragraphs)}
    authors = set()
    for index, note in enumerate(notes):
        staff = note.get("staff", False)  # Only its replies count, on its sentences.
        if note.get("member", True) and not staff:
            authors.add(note["author_id"])
        question = not staff and note["visibility"] == Visibility.INSTRUCTOR
        heat.notes += not staff
        heat.questions += question
        first = at.get(note["paragraph"])
        last = at.get(note["end_paragraph"] or note["paragraph"])
        if note["orphaned"] or first is None or last is None or last < first:
            heat.orphaned += not staff
            continue
        for n in range(first, last + 1):
            paragraph = heat.paragraphs[n]
            low = note["start"] if n == first else 0
            high = note["end"] if n == last else len(paragraph.text)
            if not staff:
                paragraph.notes.add(index)
                paragraph.authors.add(note["author_id"])
            paragraph.questions += question
            for sentence in paragraph.sentences:
                if sentence.start < high and low < sentence.end:
                    if not staff:
                        sentence.highlights += 1
                        sentence.authors.add(note["author_id"])
                    sentence.questions += question
                    sentence.replies += note["replies_read"]
    heat.students = len(authors)
    heat.most = max((s.highlights for s in heat.sentences), default=0)
    for paragraph in heat.paragraphs:
        for sentence in paragraph.sentences:
            sentence.level = heat_level(sentence.highlights, heat.most)
        paragraph.html = paragraph_html(paragraph)


def paragraph_html(paragraph: Paragraph) -> SafeString:
    """The paragraph's text with each sentence in a span showing its heat, and its
    count in words for screen readers; built here, not in a template loop, since a
    case has hundreds of sentences."""
    pieces, at = [], 0
    for sentence in paragraph.sentences:
        pieces.append((paragraph.text[at : sentence.start], sentence))
        at = sentence.end
    # A sentence nobody touched says nothing more: its paragraph's label says "no
    # notes", and hundreds of "not highlighted" would drown the ones that matter.
    spans = format_html_join(
        "",
        '{}<span class="heat heat--{}">{}{}</span>',
        (
            (
                gap,
                s.level,
                s.text,
                format_html('<span class="visually-hidden"> ({})</span>', s.label)
                if s.highlights
                else "",
            )
            for gap, s in pieces
        ),
    )
    return format_html("{}{}", spans, paragraph.text[at:])
