"""The reader and the notes pages cost the same number of queries with 10 notes by 5
students as with 300 notes by 60: within the page budget (8), and the live layer's
poll within the fragment budget (4), unchanged (304) or not.

Transaction control is not counted (see tests/helpers.py)."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from cases.anchors import sentences, text_of
from cases.models import (
    Annotation,
    AnnotationTask,
    CaseReading,
    ItemKind,
    ModuleItem,
    Visibility,
)
from cases.services.readings import reading_open
from tests.factories import (
    AssignmentFactory,
    CohortFactory,
    CourseFactory,
    ModuleFactory,
    ModuleItemFactory,
    UserFactory,
    enrol,
    make_case,
)
from tests.helpers import FRAGMENT_BUDGET, PAGE_BUDGET, data_queries

pytestmark = pytest.mark.django_db

SIZES = ((10, 5), (300, 60))  # (notes, students)
HTMX = {"HX-Request": "true"}

BODY = """The firm began as a joint venture. Its partner held the licences. The state set the terms.

It has employed *many* researchers. Most of them worked on switches! Few wrote patents.

Its partners include a state firm. Exports grew? Margins did not."""


def notes_on(case, authors, instructor, count: int) -> list[Annotation]:
    """`count` notes on `case`, as the reader's forms make them: sentences of its
    paragraphs or their first words (and, every ninth, from a sentence of one
    paragraph into the next),
    shared, questions and private ones, every fifth note with a reply (and the root's
    count of replies kept); a few by the instructor."""
    paragraphs = list(case.paragraphs.order_by("position"))
    texts = {p.number: text_of(p.html) for p in paragraphs}
    spans = {number: sentences(text) for number, text in texts.items()}
    numbers = [p.number for p in paragraphs]
    cohort_of = {
        a.pk: a.cohorts.values_list("pk", flat=True).first() for a in {*authors, instructor}
    }
    notes = []
    for n in range(count):
        author = instructor if n % 25 == 24 else authors[n % len(authors)]
        first = numbers[n % len(numbers)]
        start, end = spans[first][(n // len(numbers)) % len(spans[first])]
        if n % 4 == 1:  # The sentence's first words only.
            end = texts[first].rfind(" ", start, end) if " " in texts[first][start:end] else end
        last = None
        quote = texts[first][start:end]
        if n % 9 == 7 and first != numbers[-1]:
            last = numbers[numbers.index(first) + 1]
            end = spans[last][0][1]
            quote = texts[first][start:] + "\n\n" + texts[last][:end]
        visibility = (
            Visibility.INSTRUCTOR
            if n % 7 == 3
            else Visibility.PRIVATE
            if n % 11 == 5
            else Visibility.COHORT
        )
        body = f"Note {n}: the licences came with conditions that shaped the lab."
        notes.append(
            Annotation(
                case=case,
                author=author,
                cohort_id=None if author == instructor else cohort_of[author.pk],
                visibility=visibility,
                paragraph=first,
                start=start,
                end_paragraph=last,
                end=end,
                quote=quote,
                body=body,
                body_html=f"<p>{body}</p>",
                word_count=len(body.split()),
            )
        )
    notes = Annotation.objects.bulk_create(notes)
    replies = [
        Annotation(
            case=case,
            author=authors[(n + 1) % len(authors)],
            cohort_id=root.cohort_id,
            thread=root,
            visibility=root.visibility,
            body="A reply: compare the third paragraph.",
            body_html="<p>A reply: compare the third paragraph.</p>",
            word_count=6,
        )
        for n, root in enumerate(notes)
        if n % 5 == 0 and root.visibility != Visibility.PRIVATE
    ]
    Annotation.objects.bulk_create(replies)
    for reply in replies:
        reply.thread.reply_count = 1
    Annotation.objects.bulk_update([r.thread for r in replies], ["reply_count"])
    return notes


def _annotated_class(notes: int, size: int) -> dict:
    """A course of `size` students in two cohorts, a case reading and an annotation
    assignment (annotate first) on one case, and `notes` notes on it."""
    instructor = UserFactory()
    cohorts = [CohortFactory(), CohortFactory()]
    students = enrol(cohorts[0], size - size // 2, prefix=f"n{size}a-")
    students += enrol(cohorts[1], size // 2, prefix=f"n{size}b-")
    course = CourseFactory(instructors=[instructor], cohorts=cohorts)
    module = ModuleFactory(course=course)
    case = make_case(slug=f"noted-{size}", body=BODY, created_by=instructor)
    reading = ModuleItemFactory(module=module)
    CaseReading.objects.create(item=reading, case=case)
    task_item = ModuleItem.objects.create(
        module=module, kind=ItemKind.ANNOTATION, title="Annotate the case", position=2
    )
    AnnotationTask.objects.create(item=task_item, case=case, annotate_first=True, min_notes=2)
    for item in (reading, task_item):
        for cohort in cohorts:
            AssignmentFactory(item=item, cohort=cohort)
    written = notes_on(case, students, instructor, notes)
    for student in students[:5]:
        reading_open(user=student, case=case)
    return {
        "student": students[0],
        "instructor": instructor,
        "case": case,
        "reading": reading,
        "task": task_item,
        # The student's own note, shared: both roles may read its thread.
        "note": next(
            n
            for n in written
            if n.author_id == students[0].pk and n.visibility == Visibility.COHORT
        ),
    }


PAGES = [
    ("case reader as a module item", lambda w: w["reading"].get_absolute_url(), {}),
    ("case reader in the library", lambda w: w["case"].get_absolute_url(), {}),
    ("annotation assignment", lambda w: w["task"].get_absolute_url(), {}),
    ("notes list", lambda w: reverse("cases:annotation_list", args=[w["case"].slug]), {}),
    (
        "a paragraph's notes",
        lambda w: reverse("cases:annotation_list", args=[w["case"].slug]) + "?paragraph=2",
        {},
    ),
    (
        "a paragraph's notes (htmx)",
        lambda w: reverse("cases:annotation_list", args=[w["case"].slug]) + "?paragraph=2",
        HTMX,
    ),
    ("a thread", lambda w: reverse("cases:annotation_detail", args=[w["note"].pk]), {}),
    ("a thread (htmx)", lambda w: reverse("cases:annotation_detail", args=[w["note"].pk]), HTMX),
    (
        "a span's threads (htmx)",
        lambda w: reverse("cases:annotation_detail", args=[w["note"].pk]) + "?span=1",
        HTMX,
    ),
]


@pytest.fixture(scope="module")
def worlds(django_db_setup, django_db_blocker):
    """Built once for the module (the tests only read), in a transaction rolled back
    at its end."""
    with django_db_blocker.unblock():
        from django.db import transaction

        atomic = transaction.atomic()
        atomic.__enter__()
        try:
            yield [_annotated_class(notes, size) for notes, size in SIZES]
        finally:
            transaction.set_rollback(True)
            atomic.__exit__(None, None, None)


def _count(client, world, role, url, headers=None) -> tuple[int, object]:
    client.force_login(world[role])
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url, headers=headers or {})
    return data_queries(queries), response


@pytest.mark.parametrize("role", ["student", "instructor"])
@pytest.mark.parametrize(("page", "url", "headers"), PAGES, ids=[p[0] for p in PAGES])
def test_notes_pages_cost_the_same_with_300_notes(client, worlds, role, page, url, headers):
    counts = []
    for world in worlds:
        count, response = _count(client, world, role, url(world), headers)
        assert response.status_code == 200, (page, response.status_code)
        counts.append(count)
    print(f"{role} {page}: {counts}")
    assert counts[0] == counts[1], counts
    assert counts[1] <= (FRAGMENT_BUDGET if headers else PAGE_BUDGET), counts


@pytest.mark.parametrize("role", ["student", "instructor"])
def test_the_reader_marks_the_notes_it_counts(client, worlds, role):
    """The 300 notes are on the page: the budget is not met by leaving them out."""
    world = worlds[1]
    _queries, response = _count(client, world, role, world["reading"].get_absolute_url())
    marks = response.text.count('<mark class="hl')
    assert marks > 10
    assert 'class="hl__count"' in response.text
    assert "para__notes" in response.text


@pytest.mark.parametrize("role", ["student", "instructor"])
def test_the_live_layer_poll_stays_within_the_fragment_budget(client, worlds, role):
    """A poll of the unchanged layer is a 304; after a change (a new note), a 200 with
    the layer; both within the fragment budget and flat in the class and its notes."""
    unchanged, changed = [], []
    for world in worlds:
        url = reverse("cases:annotation_live", args=[world["case"].slug])
        count, first = _count(client, world, role, url, HTMX)
        assert first.status_code == 200
        assert "<mark" in first.text
        changed.append(count)
        etag = first["ETag"]
        count, again = _count(client, world, role, url, HTMX | {"If-None-Match": etag})
        assert again.status_code == 304
        unchanged.append(count)
    print(f"{role} poll: 200 {changed}, 304 {unchanged}")
    assert unchanged[0] == unchanged[1] <= FRAGMENT_BUDGET, unchanged
    assert changed[0] == changed[1] <= FRAGMENT_BUDGET, changed
