"""Reading together: notes on the words of a case. Who reads which note (decided here,
once, for the reader, its polls, the paragraph pages and the heat map), writing,
replying, voting and moderating, finding every anchor again after an edit, and the
marks the reader shows.

A student's note is read by its author and, when shared, by their cohort (or, as a
question, by the course staff); private notes by nobody else, staff included. Teaching
staff read the shared notes and questions of the cohorts they teach, and every reply to
their own notes; their own shared notes reach the students (and staff) of the courses
they teach; admins read all but private ones. A reply is read by whoever reads its
note.
"""

import functools
import operator
import re
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import timedelta
from html import escape as html_escape
from typing import NamedTuple

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import (
    BooleanField,
    Case,
    Count,
    Exists,
    ExpressionWrapper,
    F,
    IntegerField,
    OuterRef,
    Q,
    Subquery,
    Sum,
    When,
)
from django.db.models.functions import Coalesce
from django.urls import reverse
from django.utils import timezone
from django.utils.safestring import SafeString, mark_safe

from cases.anchors import Anchor, Document, Span, find_anchor, mark_html, text_of
from cases.compiled import compiled
from cases.markdown import word_count
from cases.models import (
    FOR_THE_CLASS,
    Annotation,
    AnnotationTask,
    AnnotationVote,
    Assignment,
    CaseStudy,
    Course,
    ItemKind,
    Membership,
    ModuleItem,
    Visibility,
    counted_for,
    counted_row,
    for_the_class,
)
from cases.models.annotations import CONTEXT_CHARS, MAX_ANNOTATION_CHARS, MAX_QUOTE_CHARS
from cases.permissions import CaseAccess, cases_for_user, is_admin

# The same actions as on posts, and the same limit on a reason for hiding.
from cases.services.discussions import (
    MODERATION,
    PostRefused,
    hide_reason,
    paragraph_numbers,
    render_post,
)
from cases.services.workspace.work import work_sync


class AnnotationRefused(Exception):
    """A note the rules refuse; the message is for the writer, beside `field` (the
    note's text, the words it is about, or who reads it)."""

    def __init__(self, message: str, field: str = "body"):
        super().__init__(message)
        self.field = field


# Who reads what -------------------------------------------------------------------------


def annotations_visible(user, case: CaseStudy, access: CaseAccess):
    """The notes and replies on `case` this user may read, hidden ones included for
    those who may see them (their authors and the staff). No query until evaluated."""
    notes = Annotation.objects.filter(case=case)
    own = Q(author=user)
    if is_admin(user):
        return notes.filter(own | ~Q(visibility=Visibility.PRIVATE))
    if access.is_teaching_staff:
        courses = Course.objects.taught_by(user)
        taught = _staff_cohorts(user)
        # As a student does, the author of a note reads every reply in its thread: a TA
        # the answers of a section they do not look after to the note it read.
        return notes.filter(
            own
            | (
                ~Q(visibility=Visibility.PRIVATE)
                & (
                    Q(cohort__in=taught)
                    | Q(cohort__isnull=True, author__in=_staff_of(courses))
                    | Q(thread__author=user)
                )
            )
        )
    return _visible_to_student(user, case)


def _visible_to_student(user, case):
    """`annotations_visible` for a student, from ids alone (so it compiles: `_student_layer`)."""
    mine = Membership.objects.filter(user=user).values("cohort")
    courses = Course.objects.filter(cohorts__memberships__user=user)
    staff_shared = Q(cohort__isnull=True, author__in=_staff_of(courses))
    shared = Q(visibility=Visibility.COHORT) & (Q(cohort__in=mine) | staff_shared)
    # The author of a note reads every reply in its thread: the answers to their
    # question, and their classmates' replies even once they have moved to another
    # section (the note stays with the section it was written in).
    answered = Q(thread__author=user)
    not_hidden = Q(hidden_at__isnull=True) & (
        Q(thread__isnull=True) | Q(thread__hidden_at__isnull=True)
    )
    return Annotation.objects.filter(case=case).filter(
        Q(author=user) | ((shared | answered) & not_hidden)
    )


def _staff_cohorts(user):
    """The cohorts whose notes a member of the teaching staff reads, as a subquery: as
    `graded_cohorts` decides per course, every cohort of the courses they instruct, and
    of the courses they assist on those they are assigned to (all, if none)."""
    given = Course.cohorts.through.objects
    limited = Exists(given.filter(course=OuterRef("course"), cohort__teaching_assistants=user))
    assisting = given.filter(course__teaching_assistants=user).filter(
        Q(cohort__teaching_assistants=user) | ~limited
    )
    instructing = given.filter(course__instructors=user)
    return instructing.values("cohort").union(assisting.values("cohort"))


def _staff_of(courses):
    """The instructors and TAs of these courses, as a subquery: their shared notes
    (which have no cohort) reach the courses' readers, not every reader of the case."""
    instructors = Course.instructors.through.objects.filter(course__in=courses).values("user")
    assistants = Course.teaching_assistants.through.objects.filter(course__in=courses)
    return instructors.union(assistants.values("user"))


def annotation_tasks_given(user, case: CaseStudy, now=None):
    """Annotation assignments on the case given to the student now (or at `now`)."""
    return AnnotationTask.objects.filter(
        case=case, item__in=ModuleItem.objects.visible_to_student(user, now)
    )


def annotate_first_tasks(user, case: CaseStudy, now=None):
    """Annotation assignments on the case, given to the student now (or at `now`), that
    hide classmates' notes until the student has written one."""
    return annotation_tasks_given(user, case, now).filter(annotate_first=True)


def _gated(user, case: CaseStudy, now=None):
    """Whether annotate-first holds classmates' notes back from this student now (or at
    `now`): an assignment on the case asks it, and they have no note of their own on it
    yet. An expression, annotated on the query that fetches the notes."""
    own = Annotation.objects.filter(
        case=case, author=user, thread__isnull=True, deleted_at__isnull=True
    )
    return ExpressionWrapper(
        Q(Exists(annotate_first_tasks(user, case, now))) & ~Q(Exists(own)),
        output_field=BooleanField(),
    )


def student_cohort(user, case: CaseStudy):
    """The cohort a student reads the case with: one given an item on it, else any of
    theirs; of several, a current one (not archived) first, then the newest. Its
    classmates read their shared notes: a student taking the course again reads (and
    writes) with this term's class, not last term's."""
    on_case = (
        Q(item__case_reading__case=case)
        | Q(item__annotation_task__case=case)
        | Q(item__decision__reveals=case)
        | Q(item__discussion__case=case)
    )
    given = Assignment.objects.filter(on_case, cohort=OuterRef("cohort"))
    memberships = Membership.objects.filter(user=user).order_by(
        F("cohort__archived_at").asc(nulls_first=True), "-cohort_id"
    )
    found = memberships.filter(Exists(given)).values_list("cohort_id", flat=True).first()
    return found or memberships.values_list("cohort_id", flat=True).first()


# Writing ---------------------------------------------------------------------------------


def paragraph_texts(case: CaseStudy) -> list[tuple[int, str]]:
    """The case's paragraphs in order, as (number, the text the reader shows)."""
    rows = case.paragraphs.order_by("position").values_list("number", "html")
    return [(number, text_of(html)) for number, html in rows]


def _check_body(body: str) -> str:
    body = (body or "").strip()
    if not body:
        raise AnnotationRefused("Write your note before saving it.")
    if len(body) > MAX_ANNOTATION_CHARS:
        raise AnnotationRefused(
            f"Notes are limited to {MAX_ANNOTATION_CHARS:,} characters; this one has {len(body):,}."
        )
    return body


def _check_rate(author, now) -> None:
    recent = Annotation.objects.filter(author=author, created_at__gte=now - timedelta(minutes=1))
    if recent.count() >= settings.ANNOTATIONS_PER_MINUTE:
        raise AnnotationRefused(
            "You are writing notes very fast. Wait a minute, then save again; your text is kept."
        )


def _existing(author, nonce: str, **same) -> Annotation | None:
    """The note or reply this form already made (`same`: in the same thread, say)."""
    if not nonce:
        return None
    return Annotation.objects.filter(author=author, nonce=nonce[:40], **same).first()


@dataclass
class Selection:
    """What a reader chose: from `start` in paragraph `paragraph` to `end` in
    `end_paragraph`, and the words the page showed there (checked, never trusted)."""

    paragraph: int
    start: int
    end_paragraph: int
    end: int
    quote: str = ""


def selection_anchor(document: Document, selection: Selection):
    """The anchor of a selection in the case as it is now. The quote the page sent must
    be what the server finds there; if the case changed since the page was loaded, the
    quote is looked for again near where it was."""
    anchor = find_anchor(
        document,
        quote=selection.quote,
        paragraph=selection.paragraph,
        start=selection.start,
        end_paragraph=selection.end_paragraph,
        end=selection.end,
    )
    if selection.quote and anchor is not None:
        return anchor
    if selection.quote:
        raise AnnotationRefused(
            "The case changed since you opened it and those words are no longer there. "
            "Reload the page and select them again; your note is kept below.",
            "words",
        )
    anchor = Anchor(selection.paragraph, selection.start, selection.end_paragraph, selection.end)
    if not document.quote(anchor):
        raise AnnotationRefused("Choose the words your note is about.", "words")
    return anchor


@transaction.atomic
def annotation_create(
    *,
    case: CaseStudy,
    author,
    access: CaseAccess,
    selection: Selection,
    body: str,
    visibility: str = Visibility.COHORT,
    nonce: str = "",
) -> Annotation:
    """A note on the words selected. Idempotent per form (nonce): a double submit
    returns the first note. Refused past the rate limit, or on words not in the case."""
    now = timezone.now()
    if existing := _existing(author, nonce, case=case, thread__isnull=True):
        return existing
    body = _check_body(body)
    if visibility not in Visibility.values:
        raise AnnotationRefused("Choose who reads your note.", "visibility")
    _check_rate(author, now)
    document = Document(paragraph_texts(case))
    anchor = selection_anchor(document, selection)
    quote = document.quote(anchor)
    if len(quote) > MAX_QUOTE_CHARS:
        raise AnnotationRefused(
            f"Select at most {MAX_QUOTE_CHARS:,} characters; a note is about a passage.", "words"
        )
    prefix, suffix = document.context(anchor, CONTEXT_CHARS)
    staff = access.is_teaching_staff
    try:
        with transaction.atomic():
            note = Annotation.objects.create(
                case=case,
                author=author,
                cohort_id=None if staff else student_cohort(author, case),
                visibility=visibility,
                paragraph=anchor.paragraph,
                start=anchor.start,
                end_paragraph=anchor.end_paragraph
                if anchor.end_paragraph != anchor.paragraph
                else None,
                end=anchor.end,
                quote=quote,
                prefix=prefix,
                suffix=suffix,
                anchored_revision=case.revision,
                nonce=nonce[:40],
                **_rendered(body, case),
            )
    except IntegrityError:
        return Annotation.objects.get(author=author, nonce=nonce[:40])
    _work_follows(note)
    return note


def _rendered(body: str, case: CaseStudy) -> dict:
    """A note's text as safe HTML, each ¶N of its case linked to the paragraph (with the
    hover preview), as a post's citations are."""
    html, _cited = render_post(body, case, paragraph_numbers(case))
    # Words as a memo's are counted: Markdown's own marks (-, *, >) are not words.
    return {"body": body, "body_html": html, "word_count": word_count(body)}


@transaction.atomic
def annotation_reply(*, thread: Annotation, author, body: str, nonce: str = "") -> Annotation:
    """A reply in a note's thread, read by whoever reads the note."""
    now = timezone.now()
    if existing := _existing(author, nonce, thread=thread.thread_id or thread.pk):
        return existing
    body = _check_body(body)
    # The note is locked while its replies are counted: two replies at once both count.
    thread = Annotation.objects.select_for_update().get(pk=thread.thread_id or thread.pk)
    if thread.visibility == Visibility.PRIVATE and thread.author_id != author.pk:
        raise AnnotationRefused("You can't reply to that note.")
    if thread.hidden_at is not None or (thread.is_deleted and not thread.reply_count):
        raise AnnotationRefused("You can't reply to that note.")
    _check_rate(author, now)
    try:
        with transaction.atomic():
            reply = Annotation.objects.create(
                case_id=thread.case_id,
                author=author,
                # A student's reply to a staff note (which has no cohort) is their
                # cohort's to read, like their own notes.
                cohort_id=thread.cohort_id or student_cohort(author, thread.case),
                thread=thread,
                visibility=thread.visibility,
                nonce=nonce[:40],
                **_rendered(body, thread.case),
            )
    except IntegrityError:
        return Annotation.objects.get(author=author, nonce=nonce[:40])
    _recount(thread.pk)
    _work_follows(reply)
    return reply


def _recount(thread_id: int) -> None:
    """A note's count of replies shown (not deleted, not hidden); its change is a
    change of the note, for the live layer. The note's row is locked first, so two
    changes at once count one after the other."""
    Annotation.objects.select_for_update().filter(pk=thread_id).values_list("pk").first()
    shown = Annotation.objects.filter(
        thread=thread_id, deleted_at__isnull=True, hidden_at__isnull=True
    ).count()
    Annotation.objects.filter(pk=thread_id).update(reply_count=shown, updated_at=timezone.now())


@transaction.atomic
def annotation_delete(*, note: Annotation) -> None:
    """The author deletes a note or reply; a note with replies stays, as "deleted", to
    keep its thread."""
    Annotation.objects.filter(pk=note.pk, deleted_at__isnull=True).update(
        deleted_at=timezone.now(), updated_at=timezone.now()
    )
    if note.thread_id:
        _recount(note.thread_id)
    _work_follows(note)


@transaction.atomic
def annotation_vote_toggle(*, note: Annotation, user) -> bool:
    """Upvote, or take the upvote back; one per reader, never on one's own note."""
    if note.author_id == user.pk:
        raise AnnotationRefused("You can't upvote your own note.")
    deleted, _ = AnnotationVote.objects.filter(annotation=note, user=user).delete()
    now = timezone.now()
    if deleted:
        Annotation.objects.filter(pk=note.pk).update(
            upvote_count=F("upvote_count") - 1, updated_at=now
        )
        return False
    try:
        with transaction.atomic():
            AnnotationVote.objects.create(annotation=note, user=user)
    except IntegrityError:
        return True  # A concurrent click already counted it.
    Annotation.objects.filter(pk=note.pk).update(upvote_count=F("upvote_count") + 1, updated_at=now)
    return True


@transaction.atomic
def annotation_moderate(*, note: Annotation, action: str, reason: str = "") -> None:
    """Course staff pin, endorse, or hide a note or reply with a reason (its author
    still reads it, with the reason)."""
    if action == "hide":
        try:
            reason = hide_reason(reason)
        except PostRefused as refused:
            raise AnnotationRefused(str(refused)) from None
        if not reason:
            raise AnnotationRefused("Say why you hide it: its author reads the reason.")
        changes = {"hidden_at": timezone.now(), "hidden_reason": reason}
    elif action in MODERATION:
        changes = dict(MODERATION[action])
    else:
        raise AnnotationRefused("Unknown moderation action.")
    Annotation.objects.filter(pk=note.pk).update(**changes, updated_at=timezone.now())
    if note.thread_id:
        _recount(note.thread_id)
    if action in ("hide", "unhide"):
        _work_follows(note, thread=True)


# Work on annotation assignments ----------------------------------------------------------


def _work_follows(note: Annotation, *, thread: bool = False) -> None:
    """A student's count of notes changed: their Work on every annotation assignment of
    the case follows; with `thread` (a note hidden or shown again), so does the Work of
    everyone who replied to it."""
    items = ModuleItem.objects.filter(
        kind=ItemKind.ANNOTATION, annotation_task__case_id=note.case_id
    ).select_related("annotation_task")
    authors = {note.author_id}
    if thread and note.thread_id is None:
        authors |= set(note.replies.values_list("author", flat=True))
    for item in items:
        work_sync(item, authors)


@dataclass
class NoteCounts:
    """One student's notes on an annotation assignment's case, for the staff."""

    notes: int = 0  # Notes and replies, any length, the class reads (`FOR_THE_CLASS`).
    substantive: int = 0
    words: int = 0
    replies_received: int = 0
    upvotes: int = 0


def note_counts(task: AnnotationTask, user_ids, until=None) -> dict[int, NoteCounts]:
    """Per student: notes and replies the class reads (what the assignment counts),
    substantive ones (written by when their assignment stopped taking work, `until`:
    {student: `takes_work_until`}), their words, replies their notes received from
    others, and upvotes; two queries."""
    counts: dict[int, NoteCounts] = defaultdict(NoteCounts)
    shared = Annotation.objects.filter(
        FOR_THE_CLASS, case=task.case_id, deleted_at__isnull=True, hidden_at__isnull=True
    ).exclude(thread__hidden_at__isnull=False)
    # Written after their assignment closed: one condition for each date, not each student.
    closing: dict = defaultdict(list)
    for student, ends in (until or {}).items():
        if ends is not None:
            closing[ends].append(student)
    too_late = functools.reduce(
        operator.or_,
        (Q(author__in=students, created_at__gt=ends) for ends, students in closing.items()),
        Q(pk__in=[]),
    )
    rows = (
        shared.filter(counted_for(task.item_id), author__in=user_ids)
        .values("author")
        .annotate(
            notes=Count("pk"),
            substantive=Count("pk", filter=Q(word_count__gte=task.min_words) & ~too_late),
            words=Sum("word_count"),
            upvotes=Sum("upvote_count"),
        )
        .order_by()
    )
    for row in rows:
        found = counts[row["author"]]
        found.notes, found.substantive = row["notes"], row["substantive"]
        found.words, found.upvotes = row["words"] or 0, row["upvotes"] or 0
    replies = (
        shared.filter(thread__author__in=user_ids)
        .exclude(author=F("thread__author"))
        .values_list("thread__author")
        .annotate(n=Count("pk"))
        .order_by()
    )
    for author, n in replies:
        counts[author].replies_received = n
    return dict(counts)


# The reader's layer ----------------------------------------------------------------------


SECTION = re.compile(r'(?=<section class="para" id="p\d+" data-paragraph="(\d+)">)')
TEXT_OPEN = '<div class="para__text">'
TEXT_CLOSE = "</div></section>"


def body_sections(body_html: str) -> list[tuple[int | None, str]]:
    """The cached body cut into (paragraph number, its section's markup)."""
    parts = SECTION.split(body_html)
    found: list[tuple[int | None, str]] = []
    if parts[0]:
        found.append((None, parts[0]))
    for n in range(1, len(parts), 2):
        found.append((int(parts[n]), parts[n + 1]))
    return found


@dataclass
class Layer:
    """The reader's notes: the body with its marks, each paragraph's count of notes,
    orphaned notes, and whether classmates' notes wait for the reader's first."""

    body: SafeString
    counts: dict[int, int] = field(default_factory=dict)
    orphaned: list = field(default_factory=list)
    waiting: bool = False  # Annotate-first: classmates' notes hidden until one of yours.
    total: int = 0


NOTE_FIELDS = [
    *("pk", "author_id", "thread_id", "paragraph", "start", "end_paragraph", "end"),
    *("quote", "visibility", "reply_count", "deleted_at", "hidden_at", "orphaned"),
    *("created_at", "updated_at", "word_count", "thread__hidden_at"),
    *("cohort_id", "cohort__archived_at"),  # Whether a task counts it (`counted_row`).
]


@dataclass
class LayerRows:
    """What the reader's layer is made of: the notes (not replies) the reader sees, as
    dicts; whether annotate-first holds classmates' back; and the reader's own notes
    and replies (for their progress on an annotation assignment)."""

    roots: list[dict]
    waiting: bool
    own: list[dict]


def replies_seen(visible):
    """A note's replies shown to this reader (not deleted, not hidden), for a query of
    the notes `visible` to them (for the heat map, the notes of the cohorts it shows).
    A staff note (no cohort) is read by several cohorts and each student's reply by
    their own: its stored `reply_count` counts every cohort's, so it is counted here,
    reader by reader. Any other note's readers read all its replies: its stored count
    stands."""
    replies = visible.filter(
        thread=OuterRef("pk"), deleted_at__isnull=True, hidden_at__isnull=True
    ).order_by()
    counted = replies.values("thread").annotate(n=Count("pk")).values("n")
    return Case(
        When(cohort__isnull=True, thread__isnull=True, then=Coalesce(Subquery(counted), 0)),
        default=F("reply_count"),
        output_field=IntegerField(),
    )


def layer_rows(user, case: CaseStudy, access: CaseAccess) -> LayerRows:
    """The reader's layer, from one query (compiled once a connection for students)."""
    if access.is_teaching_staff or is_admin(user):
        visible = annotations_visible(user, case, access)
        rows = visible.filter(_layer_notes(user)).annotate(replies_seen=replies_seen(visible))
        if not access.is_teaching_staff:
            rows = rows.annotate(gated=_gated(user, case))
        fields = [*NOTE_FIELDS, "replies_seen", *([] if access.is_teaching_staff else ["gated"])]
        rows = list(rows.order_by(*_IN_CASE).values(*fields))
    else:
        rows = list(_student_layer(user=user.pk, case=case.pk, now=timezone.now()))
    for row in rows:
        row["reply_count"] = row.pop("replies_seen")
    me = user.pk  # Once: request.user is a lazy object, each attribute a detour.
    own = [r for r in rows if r["author_id"] == me]
    roots = [
        r for r in rows if r["thread_id"] is None and (r["deleted_at"] is None or r["reply_count"])
    ]
    waiting = False
    # The same for every row (the reader's, not the note's): asked of the first.
    if rows and rows[0].get("gated"):
        waiting = any(r["author_id"] != me for r in roots)
        roots = [r for r in roots if r["author_id"] == me]
    return LayerRows(roots, waiting, own)


def _layer_notes(user) -> Q:
    """The layer's rows among the notes a reader sees: notes, and the reader's replies."""
    return Q(thread__isnull=True) | Q(author=user)


@compiled
def _student_layer(user, case, now):
    visible = _visible_to_student(user, case)
    rows = visible.filter(_layer_notes(user)).annotate(replies_seen=replies_seen(visible))
    rows = rows.annotate(gated=_gated(user, case, now)).order_by(*_IN_CASE)
    return rows.values(*NOTE_FIELDS, "replies_seen", "gated")


# The model's order within one case, without joining the case for the order of cases.
_IN_CASE = ("created_at", "pk")


def task_progress(task: AnnotationTask, own: list[dict], until=None, cohort_id=None) -> dict:
    """A student's progress on an annotation assignment, from their own notes and
    replies (`LayerRows.own`): as `_annotation` in the work sources counts them, what
    the class reads (`for_the_class`) in a section the count takes (`counted_row`, for
    their assignment's `cohort_id`), written by `until` (`takes_work_until` of their
    assignment) when it stops taking work."""
    counting = [
        r
        for r in own
        if for_the_class(r["visibility"])
        and counted_row(r, cohort_id)
        and r["deleted_at"] is None
        and r["hidden_at"] is None
        and r["thread__hidden_at"] is None
        and r["word_count"] >= task.min_words
        and (until is None or r["created_at"] <= until)
    ]
    return {
        "done": len(counting),
        "wanted": task.min_notes,
        "left": max(0, task.min_notes - len(counting)),
    }


def _detail_pattern() -> str:
    """A note's address with `{}` for its id: reversed once a page, not once a note."""
    sentinel = 987654321
    head, tail = reverse("cases:annotation_detail", args=[sentinel]).split(str(sentinel))
    return head + "{}" + tail


def reader_layer(case: CaseStudy, body_html: str, rows: LayerRows) -> Layer:
    """The body with the reader's notes (`layer_rows`) marked in it: each stretch of
    text some note covers in a <mark> (its heat from how many notes cover it), and where
    each span ends a link to its notes with their count (replies included). Marked once
    a process for each body and set of notes (`_marked`): the students of a cohort see
    the same notes, but for their private ones."""
    layer = Layer(body=mark_safe(body_html), waiting=rows.waiting, total=len(rows.roots))  # noqa: S308
    if not rows.roots:
        return layer
    # Plain tuples to key the marking by; made `_Anchor`s only when it is done again.
    body, counts, orphaned = _marked(body_html, tuple(map(_ANCHOR_FIELDS, rows.roots)))
    layer.body = mark_safe(body)  # noqa: S308 - the cached body plus our own marks.
    layer.counts = dict(counts)
    layer.orphaned = [rows.roots[n] for n in orphaned]
    return layer


# What marking reads of a note: a tuple, so that a set of notes can key `_marked`.
class _Anchor(NamedTuple):
    pk: int
    paragraph: int
    start: int
    end_paragraph: int | None
    end: int
    orphaned: bool
    reply_count: int
    visibility: str
    quote: str


_ANCHOR_FIELDS = operator.itemgetter(*_Anchor._fields)


@functools.lru_cache(maxsize=64)
def _marked(body_html: str, roots: tuple) -> tuple[str, tuple, tuple]:
    """`body_html` with the notes of `roots` (tuples of `_Anchor`'s fields) marked;
    each paragraph's count; the places in `roots` of the notes whose words are gone."""
    roots = [_Anchor._make(root) for root in roots]
    sections = body_sections(body_html)
    order = [number for number, _ in sections if number is not None]
    position = {number: n for n, number in enumerate(order)}
    by_paragraph: dict[int, list[Span]] = defaultdict(list)
    spans: dict[tuple, list[_Anchor]] = defaultdict(list)
    counts: dict[int, int] = {}
    orphaned = []
    for place, note in enumerate(roots):
        first, last = note.paragraph, note.end_paragraph or note.paragraph
        if first not in position or last not in position or note.orphaned:
            orphaned.append(place)
            continue
        spans[(first, note.start, last, note.end)].append(note)
    detail = _detail_pattern()
    for (first, start, last, end), notes in spans.items():
        count = sum(1 + note.reply_count for note in notes)
        keys = tuple(note.pk for note in notes)
        questions = sum(1 for note in notes if note.visibility == Visibility.INSTRUCTOR)
        label = f"{count} note{'s' if count != 1 else ''}" + (
            f", {questions} question{'s' if questions != 1 else ''}" if questions else ""
        )
        # A span's link, for each of up to hundreds of spans: joined here, with the
        # quote escaped (the standard library's escape, as Django's escapes, minus the
        # lazy-string check that costs more than the escaping).
        url = detail.format(notes[0].pk) + "?span=1"  # Every note on the words, as counted.
        after = (
            f'<a class="hl__count" href="{url}" hx-get="{url}" '
            'hx-target="#annotation-panel" hx-push-url="false" data-annotation-ui '
            f'aria-label="{label} on “{html_escape(_snippet(notes[0].quote))}”">{count}</a>'
        )
        for number in order[position[first] : position[last] + 1]:
            local_start = start if number == first else 0
            local_end = end if number == last else 10**9
            by_paragraph[number].append(
                Span(local_start, local_end, keys, after if number == last else "")
            )
        counts[first] = counts.get(first, 0) + count
    out = []
    for number, section in sections:
        if number is None or number not in by_paragraph:
            out.append(section)
            continue
        begin = section.find(TEXT_OPEN) + len(TEXT_OPEN)
        finish = section.rfind(TEXT_CLOSE)
        inner = section[begin:finish]
        length = len(text_of(inner))
        paragraph_spans = [
            Span(s.start, min(s.end, length), s.keys, s.after) for s in by_paragraph[number]
        ]
        out.append(section[:begin] + mark_html(inner, paragraph_spans, _mark) + section[finish:])
    return "".join(out), tuple(counts.items()), tuple(orphaned)


def _mark(keys: frozenset) -> str:
    heat = min(len(keys), 4)
    return f'<mark class="hl hl--{heat}" data-notes="{" ".join(map(str, sorted(keys)))}">'


def _snippet(quote: str, length: int = 60) -> str:
    quote = " ".join(quote.split())
    return quote if len(quote) <= length else quote[: length - 1] + "…"


def new_nonce() -> str:
    return uuid.uuid4().hex


# After an edit ----------------------------------------------------------------------------


@transaction.atomic
def annotations_reanchor(case: CaseStudy) -> dict[str, int]:
    """Find every note's words again in the case as it now is (`find_anchor`): those
    found move there, the rest are kept, orphaned, with their quote. Counts by outcome.

    An orphaned note is looked for again at every save, but by its exact words only
    (restore them and it comes back): the near-matches of its old paragraph were tried
    when it was orphaned, and trying them again at every save for every orphan would
    make each save slower than the last. Runs inside every save of the case, so the
    moves are written as a few UPDATEs, one per paragraph and shift, not a CASE per
    note and field."""
    document = Document(paragraph_texts(case))
    outcome = {"kept": 0, "moved": 0, "orphaned": 0}
    orphans: list[int] = []
    moves: dict[tuple, list[int]] = defaultdict(list)
    notes = Annotation.objects.filter(case=case, thread__isnull=True).exclude(quote="")
    rows = notes.values_list(
        "pk", "paragraph", "start", "end_paragraph", "end", "quote", "prefix", "suffix", "orphaned"
    )
    for pk, paragraph, start, end_paragraph, end, quote, prefix, suffix, orphaned in rows:
        anchor = find_anchor(
            document,
            quote=quote,
            prefix=prefix,
            suffix=suffix,
            paragraph=paragraph,
            start=start,
            end_paragraph=end_paragraph,
            end=end,
            fuzzy=not orphaned,
        )
        if anchor is None:
            if not orphaned:
                orphans.append(pk)
            continue
        last = anchor.end_paragraph if anchor.end_paragraph != anchor.paragraph else None
        if (anchor.paragraph, anchor.start, last, anchor.end, False) == (
            paragraph, start, end_paragraph, end, orphaned
        ):  # fmt: skip
            outcome["kept"] += 1
            continue
        moves[(anchor.paragraph, last, anchor.start - start, anchor.end - end)].append(pk)
    now = timezone.now()
    if orphans:
        outcome["orphaned"] = notes.filter(pk__in=orphans).update(orphaned=True, updated_at=now)
    for (paragraph, last, shift, stretch), pks in moves.items():
        outcome["moved"] += notes.filter(pk__in=pks).update(
            paragraph=paragraph,
            end_paragraph=last,
            start=F("start") + shift,
            end=F("end") + stretch,
            orphaned=False,
            updated_at=now,
        )
    return outcome


# Threads ----------------------------------------------------------------------------------


@dataclass
class NoteView:
    """A note or reply as its reader may see it: names and flags resolved here, so a
    template never sees a raw Annotation."""

    pk: int
    author: str
    staff: bool
    mine: bool
    html: SafeString
    quote: str
    where: str
    paragraph: int | None
    visibility: str
    created_at: object
    deleted: bool
    hidden: bool
    hidden_reason: str
    pinned: bool
    endorsed: bool
    orphaned: bool
    upvotes: int
    voted: bool
    words: int
    replies: list["NoteView"] = field(default_factory=list)

    @property
    def is_question(self) -> bool:
        return self.visibility == Visibility.INSTRUCTOR

    @property
    def is_private(self) -> bool:
        return self.visibility == Visibility.PRIVATE


def _thread_rows(user, case: CaseStudy, access: CaseAccess, roots: Q):
    """The notes matching `roots` and their replies, as this reader may see them, in one
    query, with who wrote them and whether the reader upvoted each."""
    teaches = Course.instructors.through.objects.filter(
        user=OuterRef("author"), course__cohorts=OuterRef("cohort")
    )
    assists = Course.teaching_assistants.through.objects.filter(
        user=OuterRef("author"), course__cohorts=OuterRef("cohort")
    )
    thread_roots = Q(thread__isnull=True) & roots
    replies = Q(thread__isnull=False) & Q(
        thread__in=Annotation.objects.filter(case=case, thread__isnull=True).filter(roots)
    )
    rows = annotations_visible(user, case, access).filter(thread_roots | replies)
    if not access.is_teaching_staff:
        rows = rows.annotate(gated=_gated(user, case))
    return rows.select_related("author").annotate(
        author_staff=Q(cohort__isnull=True) | Exists(teaches) | Exists(assists),
        voted=Exists(AnnotationVote.objects.filter(annotation=OuterRef("pk"), user=user)),
    )


def _view(note: Annotation, user) -> NoteView:
    return NoteView(
        pk=note.pk,
        author="You" if note.author_id == user.pk else note.author.display_name,
        staff=note.author_staff,
        mine=note.author_id == user.pk,
        # Sanitised (render_post) when saved.
        html=mark_safe(note.body_html) if not note.is_deleted else "",  # noqa: S308
        quote=note.quote,
        where=note.where,
        paragraph=note.paragraph,
        visibility=note.visibility,
        created_at=note.created_at,
        deleted=note.is_deleted,
        hidden=note.hidden_at is not None,
        hidden_reason=note.hidden_reason,
        pinned=note.pinned,
        endorsed=note.endorsed,
        orphaned=note.orphaned,
        upvotes=note.upvote_count,
        voted=note.voted,
        words=note.word_count,
    )


@dataclass
class Threads:
    notes: list[NoteView]
    waiting: bool = False  # Annotate-first holds classmates' notes back.


def threads(user, case: CaseStudy, access: CaseAccess, roots: Q, *, by_place=False) -> Threads:
    """The threads of the notes matching `roots` (a Q on Annotation) this reader may
    see: pinned first, then oldest first (`by_place`: by paragraph and place in it
    first, orphaned notes last), each with its replies in order. One query."""
    rows = list(_thread_rows(user, case, access, roots))
    waiting = False
    if any(getattr(r, "gated", False) for r in rows):
        waiting = any(r.author_id != user.pk for r in rows)
        rows = [r for r in rows if r.author_id == user.pk]
    views = {r.pk: _view(r, user) for r in rows}
    # A deleted note stays for the replies this reader reads (`replies_seen`).
    answered = {
        r.thread_id for r in rows if r.thread_id and not r.is_deleted and r.hidden_at is None
    }
    notes = []
    for row in rows:
        if row.thread_id is None:
            if row.is_deleted and row.pk not in answered:
                continue
            notes.append((row, views[row.pk]))
        elif row.thread_id in views:
            views[row.thread_id].replies.append(views[row.pk])

    def order(pair):
        row = pair[0]
        when = (not row.pinned, row.created_at, row.pk)
        if by_place:
            return (row.orphaned, row.paragraph or 0, row.start, *when)
        return when

    notes.sort(key=order)
    return Threads([view for _row, view in notes], waiting)


def note_for(user, pk: int):
    """The case of note `pk`, if this user may read the case (with `_staff` from
    `cases_for_user`), else None. One query."""
    return cases_for_user(user).filter(annotations=pk).first()


def layer_etag(case: CaseStudy, user, rows: LayerRows) -> str:
    """What the reader's layer shows, in a word: the case's revision and the notes the
    reader sees (their latest change and their number)."""
    shown = rows.roots + rows.own
    latest = max((r["updated_at"] for r in shown), default=None)
    stamp = int(latest.timestamp() * 1_000_000) if latest else 0
    waiting = "w" if rows.waiting else ""  # Annotate-first holds notes back, or not.
    counts = f"{len(rows.roots)}-{len(rows.own)}{waiting}"
    return f'W/"notes-{case.pk}-r{case.revision}-{stamp}-{counts}-u{user.pk}"'
