"""Writing cases and recording how students read them."""

import difflib
import re
import tomllib
from collections import Counter
from datetime import timedelta

from django.db import transaction
from django.db.models import Count, Exists, F, OuterRef, Q, Value
from django.db.models.functions import Coalesce, Greatest, Least
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape, format_html
from django.utils.safestring import mark_safe

from cases import sql
from cases.compiled import compiled, from_columns
from cases.exhibits import ExhibitError, exhibits_clean, link_exhibits
from cases.http import kept
from cases.markdown import render_markdown
from cases.models import (
    CaseParagraph,
    CaseStudy,
    Course,
    Discussion,
    ModuleItem,
    Post,
    ReadingProgress,
)
from cases.models.courses import PROGRESS_FIELDS
from cases.permissions import CaseAccess
from cases.services.annotations import annotations_reanchor
from cases.services.workspace.work import work_sync_for_case

# Credit at most this much reading time per heartbeat, however long since the last one:
# a tab left open over lunch is not an hour of reading.
HEARTBEAT_MAX_CREDIT_SECONDS = 30
# And no more than this in total for one case.
READING_TIME_CAP_SECONDS = 4 * 60 * 60

FRONT_MATTER = re.compile(r"\A\+\+\+\s*\n(?P<meta>.*?)\n\+\+\+\s*\n(?P<body>.*)\Z", re.S)


EDITED_LIKENESS = 0.6


def _likeness(a: str, b: str) -> float:
    return difflib.SequenceMatcher(a=a, b=b, autojunk=False).ratio()


def split_paragraphs(body: str) -> list[str]:
    """Blank lines separate paragraphs; each paragraph is one citable unit."""
    text = body.replace("\r\n", "\n").strip()
    return [block.strip() for block in re.split(r"\n\s*\n", text) if block.strip()]


@transaction.atomic
def case_paragraphs_sync(*, case: CaseStudy) -> None:
    """Bring the paragraph rows in line with `case.body`, keeping numbers stable.

    A paragraph whose text is unchanged keeps its number wherever it moved; an edited
    paragraph keeps the number of the old one it most resembles (at least 60% alike);
    any other paragraph takes the next unused number. Deleted numbers are retired,
    never reused, so a citation never points at different text."""
    given = case
    case = CaseStudy.objects.select_for_update().get(pk=case.pk)
    old = list(case.paragraphs.order_by("position"))
    new_texts = split_paragraphs(case.body)
    unchanged: dict[str, list[int]] = {}
    for paragraph in old:
        unchanged.setdefault(paragraph.text, []).append(paragraph.number)
    numbers: list[int | None] = [
        unchanged[text].pop(0) if unchanged.get(text) else None for text in new_texts
    ]
    leftovers = [p for p in old if p.number not in set(numbers)]
    for index, text in enumerate(new_texts):
        if numbers[index] is not None or not leftovers:
            continue
        best = max(leftovers, key=lambda p: _likeness(p.text, text))
        if _likeness(best.text, text) >= EDITED_LIKENESS:
            numbers[index] = best.number
            leftovers.remove(best)
    # The stored counter, but never below a number in use (a stale save cannot make a
    # live number be handed out twice).
    next_number = max(case.next_paragraph_number, max((p.number for p in old), default=0) + 1)
    for index, number in enumerate(numbers):
        if number is None:
            numbers[index] = next_number
            next_number += 1

    paragraphs = [
        CaseParagraph(
            case=case, number=number, position=position, text=text, html=render_markdown(text)
        )
        for position, (number, text) in enumerate(zip(numbers, new_texts, strict=True), 1)
    ]
    case.paragraphs.all().delete()
    CaseParagraph.objects.bulk_create(paragraphs)
    exhibits = len(case.exhibits or [])
    body_html = "\n".join(_paragraph_markup(p, exhibits) for p in paragraphs)
    CaseStudy.objects.filter(pk=case.pk).update(
        next_paragraph_number=next_number, body_html=body_html
    )
    given.next_paragraph_number = next_number
    given.body_html = body_html
    # Notes on the case find their words again (or are kept, orphaned).
    annotations_reanchor(case)


def _paragraph_markup(paragraph: CaseParagraph, exhibits: int = 0) -> str:
    """A numbered paragraph with its anchor and a link to itself, its "Exhibit N"
    linked to the exhibit. Rendered once per save: the reader then costs one field,
    not a template loop."""
    return format_html(
        '<section class="para" id="p{n}" data-paragraph="{n}">'
        '<a class="para__number" href="#p{n}" title="Link to this paragraph">¶{n}'
        '<span class="visually-hidden">: link to paragraph {n}</span></a>'
        '<div class="para__text">{html}</div></section>',
        n=paragraph.number,
        # Cleaned by render_markdown; the exhibit links are ours.
        html=mark_safe(link_exhibits(paragraph.html, exhibits)),  # noqa: S308
    )


@transaction.atomic
def case_create(*, case: CaseStudy, created_by=None) -> CaseStudy:
    """Save a new case (built by a form or an import) and number its paragraphs."""
    case.created_by = created_by
    case.save()
    case_paragraphs_sync(case=case)
    return case


class CaseConflict(Exception):
    """Someone else saved the case after this editor opened it."""


@transaction.atomic
def case_update(*, case: CaseStudy, expected_revision: int | None = None) -> CaseStudy:
    """Save edits; a changed body is a new revision with stable paragraph numbers.

    With `expected_revision` (the revision the editor opened), a save made on top of
    someone else's newer revision is refused instead of silently undoing their work."""
    stored = CaseStudy.objects.select_for_update().values("body", "revision").get(pk=case.pk)
    if expected_revision is not None and stored["revision"] != expected_revision:
        raise CaseConflict(stored["revision"])
    previous_body = stored["body"]
    if previous_body != case.body:
        case.revision = F("revision") + 1
    case.save()
    case.refresh_from_db()
    case_paragraphs_sync(case=case)
    return case


class CaseImportError(ValueError):
    pass


def case_fields_from_markdown(text: str) -> dict:
    """Read a case file: TOML front matter between `+++` lines, then the Markdown body.
    The same format seeds the demo course and instructors import."""
    match = FRONT_MATTER.match(text.replace("\r\n", "\n").lstrip("\ufeff"))
    if not match:
        raise CaseImportError(
            "The file must start with a front-matter header between two lines of +++ "
            "(title, slug, company, …), followed by the Markdown body."
        )
    try:
        meta = tomllib.loads(match["meta"])
    except tomllib.TOMLDecodeError as error:
        raise CaseImportError(f"The front-matter header is not valid TOML: {error}") from error
    fields = {
        name: meta[name]
        for name in [
            "title", "slug", "company", "region", "sector", "period", "summary",
            "key_facts", "discussion_questions", "teaching_notes", "spectrum_placement",
            "spectrum_justification", "source", "protagonist", "dilemma", "sources_note",
        ]
        if name in meta
    }  # fmt: skip
    try:
        fields["exhibits"] = exhibits_clean(meta.get("exhibits", []))
    except ExhibitError as error:
        raise CaseImportError(str(error)) from error
    if follows := meta.get("follows"):
        fields["follows"] = str(follows)  # Part B of the case with this slug.
    fields["body"] = match["body"].strip()
    return fields


def case_from_fields(fields: dict) -> CaseStudy:
    """An unsaved case from a case file's fields; a part B's `follows` slug becomes its
    part A, which must be in the library already."""
    fields = dict(fields)
    if follows := fields.pop("follows", None):
        fields["follows"] = CaseStudy.objects.filter(slug=follows).first()
        if fields["follows"] is None:
            raise CaseImportError(
                f"“follows” names the case “{follows}”, which is not in the library: "
                "import its part A first."
            )
    return CaseStudy(**fields)


def _epoch(moment) -> int:
    return int(moment.timestamp())


def _progress_create(*, user, case: CaseStudy, now, done: bool = False) -> None:
    """The first progress row; if another request made it first, theirs stands."""
    ReadingProgress.objects.bulk_create(
        [
            ReadingProgress(
                user=user,
                case=case,
                first_opened_at=now,
                last_opened_at=now,
                last_beat=_epoch(now),
                done_at=now if done else None,
            )
        ],
        ignore_conflicts=True,
    )


# A case opened again this soon after it was last recorded (a reload, back from a note's
# page) is not recorded again: a read, not a write, as the reader pages through.
REOPEN_SECONDS = 60


# What `progress_joined` says of an item whose access query did not bring the progress.
NOT_JOINED = object()


def progress_joined(item: ModuleItem, *, user, case: CaseStudy):
    """The user's progress on the item's case as its access query brought it
    (`ModuleItemQuerySet.with_content`): a row, None if they have none yet, or
    NOT_JOINED if the query did not bring it (an item the process had not seen)."""
    if not hasattr(item, "_progress_id"):
        return NOT_JOINED
    if item._progress_id is None:
        return None
    row = {name: getattr(item, f"_progress_{name}") for name in PROGRESS_FIELDS}
    return from_columns(ReadingProgress, row | {"user_id": user.pk, "case_id": case.pk})


def reading_open(*, user, case: CaseStudy, joined=NOT_JOINED) -> ReadingProgress:
    """Record that the user opened the case now; idempotent and race-safe (the unique
    constraint settles two first opens at once). An open recorded brings the student's
    Work on the case's readings in line, so an open after any failure repairs it (one
    statement, which writes nothing when nothing changed). Within REOPEN_SECONDS of the
    last open recorded, nothing is written: the row is read, in one query, or taken
    from the item's access query (`joined`, from `progress_joined`)."""
    now = timezone.now()
    before = now - timedelta(seconds=REOPEN_SECONDS)
    progress = _progress_of.first(user=user.pk, case=case.pk) if joined is NOT_JOINED else joined
    if progress is not None and progress.last_opened_at >= before:
        return progress
    return _reading_record(user, case, now, before)


@transaction.atomic
def _reading_record(user, case: CaseStudy, now, before) -> ReadingProgress:
    progress = sql.reading_touch(
        user_id=user.pk, case_id=case.pk, now=now, beat=_epoch(now), before=before
    )
    if progress is None:
        progress = _progress_of.first(user=user.pk, case=case.pk)
        if progress is not None:
            return progress  # Another request recorded it since `before`.
        _progress_create(user=user, case=case, now=now)
        progress = ReadingProgress.objects.get(user=user, case=case)
    work_sync_for_case(case, user)
    return progress


@compiled
def _progress_of(user, case):
    return ReadingProgress.objects.filter(user=user, case=case)


@transaction.atomic
def reading_heartbeat(*, user, case: CaseStudy, paragraph: int | None) -> None:
    """Credit the reading time since the last beat, capped per beat and per case, in
    one UPDATE. The server measures the time, so a repeated or forged beat gains
    nothing, and concurrent beats cannot both claim the same seconds. Reading time is
    not part of Work, so only a beat that makes the progress row syncs it, in the same
    transaction: a beat that fails makes nothing, and the next one starts again."""
    now = timezone.now()
    rows = ReadingProgress.objects.filter(user=user, case=case)
    elapsed = Greatest(Value(_epoch(now)) - F("last_beat"), Value(0))
    changes = {
        "active_seconds": Least(
            F("active_seconds") + Least(elapsed, Value(HEARTBEAT_MAX_CREDIT_SECONDS)),
            Value(READING_TIME_CAP_SECONDS),
        ),
        "last_beat": _epoch(now),
    }
    if paragraph is not None:
        changes["last_paragraph"] = paragraph
    if not rows.update(**changes):
        _progress_create(user=user, case=case, now=now)
        if paragraph is not None:
            rows.update(last_paragraph=paragraph)
        work_sync_for_case(case, user)


@transaction.atomic
def reading_mark_done(*, user, case: CaseStudy, done: bool) -> None:
    """Mark the reading done, keeping the first time it was marked (so a double submit
    changes nothing), or not done."""
    now = timezone.now()
    rows = ReadingProgress.objects.filter(user=user, case=case)
    updated = rows.update(done_at=Coalesce(F("done_at"), Value(now)) if done else None)
    if not updated:
        _progress_create(user=user, case=case, now=now, done=done)
    work_sync_for_case(case, user)


# The reader's margin --------------------------------------------------------------------


def _citing(case, items):
    """The posts in the discussions of `items` on `case` that cite a paragraph of it."""
    return Post.objects.filter(
        discussion__case=case,
        discussion__item__in=items,
        deleted_at__isnull=True,
        hidden_at__isnull=True,
        citation_count__gt=0,
    )


def _cited(posts):
    """(cited paragraphs, how many posts cite them). Posts citing the same paragraphs are
    counted in the database: a class's thread has hundreds of posts but few distinct lists
    to decode."""
    return posts.values_list("cited_paragraphs").annotate(n=Count("pk")).order_by()


def _cited_for_student(case: CaseStudy, user) -> list:
    """`_cited` for a student: the threads on the case given to them now that they may
    read (a post-first thread once they have posted there), then those threads' counts,
    kept under their versions (every change to a post moves its thread's), as every
    student who may read the same threads sees the same counts."""
    now = timezone.now()
    threads = sorted(
        (pk, version)
        for pk, version, post_first, posted in _threads_on(case=case.pk, user=user.pk, now=now)
        if posted or not post_first
    )
    if not threads:
        return []
    versions = ",".join(f"{pk}v{version}" for pk, version in threads)
    ids = [pk for pk, _version in threads]
    return kept(f"cited:{case.pk}:{versions}", lambda: list(_threads_cited(threads=ids)))


@compiled
def _threads_on(case, user, now):
    given = ModuleItem.objects.visible_to_student(user, now)
    # Whether they posted (a post not deleted): before that, a post-first thread's
    # classmates are not shown to them, nor counted for them.
    mine = Post.objects.filter(discussion=OuterRef("pk"), author=user, deleted_at__isnull=True)
    threads = Discussion.objects.filter(case=case, item__in=given).annotate(posted=Exists(mine))
    return threads.values_list("pk", "version", "post_first", "posted")


@compiled
def _threads_cited(threads):
    return _cited(
        Post.objects.filter(
            discussion__in=threads,
            deleted_at__isnull=True,
            hidden_at__isnull=True,
            citation_count__gt=0,
        )
    )


@compiled
def _students_cited(case, user, now):
    posts = _citing(case, ModuleItem.objects.visible_to_student(user, now))
    # Before their first post in a post-first thread, a student sees no counts from it.
    mine = Post.objects.filter(
        discussion=OuterRef("discussion"), author=user, deleted_at__isnull=True
    )
    return _cited(posts.filter(Q(discussion__post_first=False) | Q(Exists(mine))))


def body_with_citations(
    case: CaseStudy, user, access: CaseAccess, html: str | None = None, *, kept_counts=True
):
    """The cached body (or `html`, the body already marked) with, in each paragraph's
    margin, how many posts the reader may see cite it, linking to them. For a student,
    the counts kept per thread version (two light queries, `_cited_for_student`), or
    without `kept_counts` counted at once (one query that scans the threads' posts: for
    the notes poll, whose fragment has a budget of four)."""
    if access.is_teaching_staff:
        items = ModuleItem.objects.filter(module__course__in=Course.objects.for_user(user))
        cited = _cited(_citing(case, items))
    elif kept_counts:
        cited = _cited_for_student(case, user)
    else:
        cited = _students_cited(case=case.pk, user=user.pk, now=timezone.now())
    counts = Counter()
    for numbers, posts in cited:
        for number in numbers:
            counts[number] += posts
    html = case.body_html if html is None else html
    if not counts:
        return mark_safe(html)  # noqa: S308 - the cached body.
    # The paragraph's page, reversed once: its number goes where the stand-in is.
    head, tail = map(
        escape, reverse("cases:paragraph_detail", args=[case.slug, 987654321]).split("987654321")
    )
    for number, count in counts.items():
        marker = f'data-paragraph="{number}">'
        badge = (
            f'<a class="para__cites" href="{head}{number}{tail}">'
            f"{count} post{'s' if count != 1 else ''}"
            '<span class="visually-hidden"> cite this paragraph</span></a>'
        )
        html = html.replace(marker, marker + badge, 1)
    return mark_safe(html)  # noqa: S308 - the cached body plus our own badges.
