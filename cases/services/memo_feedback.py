"""A grader's feedback on a handed-in memo: the version cut into numbered blocks, the
comments anchored to its words (as a note is to a case, with `cases.anchors`), the
marks and margin that show them, points on a memo graded without a rubric, and what
changed from one version to the next.

A version never changes once handed in, so a comment's anchor never moves: the
blocks are cut from `body_html` the same way every time, and a block's text is what
`text_of` reads in it, as the page's script counts a selection.
"""

import difflib
import re
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe

from cases.anchors import (
    TOKEN,
    Anchor,
    Document,
    Span,
    find_anchor,
    mark_html,
    sentences,
    text_of,
)
from cases.markdown import render_markdown
from cases.models import Memo, MemoComment, MemoVersion, ModuleItem
from cases.models.analyses import MAX_COMMENT_CHARS
from cases.models.annotations import CONTEXT_CHARS, MAX_QUOTE_CHARS
from cases.services.annotations import Selection
from cases.services.notifications import graded_after_release_notify
from cases.services.workspace.grading import work_grade
from cases.services.workspace.work import work_sync

TAG = re.compile(r"<\s*(/?)\s*([A-Za-z][A-Za-z0-9]*)")
VOID = {"br", "hr", "img", "wbr", "col", "area", "source", "input"}


class CommentRefused(Exception):
    """A comment the rules refuse; the message is for the grader, beside `field` (the
    comment's text or the words it is about)."""

    def __init__(self, message: str, field: str = "body"):
        super().__init__(message)
        self.field = field


# A version's blocks ------------------------------------------------------------------------


@dataclass(frozen=True)
class Block:
    """One top-level block of a version's text (a paragraph, a list, a heading, a
    quote, a table), numbered from 1, with the text it shows."""

    number: int
    html: str
    text: str


def version_blocks(body_html: str) -> list[Block]:
    """A version's rendering cut into its top-level blocks. A rule (<hr>) is no block:
    it has no words to comment on. Loose text between blocks (none, from Markdown) is a
    block of its own, so no word is ever outside one."""
    found: list[str] = []
    current: list[str] = []
    depth = 0
    for part in TOKEN.split(body_html or ""):
        if not part:
            continue
        if not part.startswith("<"):
            if depth:
                current.append(part)
            elif part.strip():
                found.append(part.strip())
            continue
        tag = TAG.match(part)
        if tag is None:  # A comment or a doctype: not text, kept inside a block only.
            if depth:
                current.append(part)
            continue
        closing, name = tag[1] == "/", tag[2].lower()
        if name in VOID or part.rstrip().endswith("/>"):
            if depth:
                current.append(part)
            elif name != "hr":
                found.append(part)
            continue
        if closing:
            if not depth:
                continue  # A stray end tag outside any block.
            current.append(part)
            depth -= 1
            if not depth:
                found.append("".join(current))
                current = []
        else:
            current.append(part)
            depth += 1
    if current:
        found.append("".join(current))
    return [Block(n, html, text_of(html)) for n, html in enumerate(found, 1)]


def version_document(blocks: list[Block]) -> Document:
    return Document([(block.number, block.text) for block in blocks])


# Writing and deleting comments ---------------------------------------------------------------


def _anchor(document: Document, selection: Selection) -> Anchor:
    """Where the selected words are. A version never changes, so the words the page
    sent must be exactly there (or, if the offsets were counted differently, found
    once elsewhere); without words, the offsets of a sentence picked from a list."""
    if selection.quote:
        anchor = find_anchor(
            document,
            quote=selection.quote,
            paragraph=selection.paragraph,
            start=selection.start,
            end_paragraph=selection.end_paragraph,
            end=selection.end,
            fuzzy=False,
        )
        if anchor is None:
            raise CommentRefused(
                "Those words are not in this version. Select them again; your comment is kept.",
                "words",
            )
        return anchor
    anchor = Anchor(selection.paragraph, selection.start, selection.end_paragraph, selection.end)
    if not (document.quote(anchor) or "").strip():
        raise CommentRefused("Choose the words your comment is about.", "words")
    return anchor


@transaction.atomic
def comment_create(
    *, version: MemoVersion, author, selection: Selection, body: str, nonce: str = ""
) -> MemoComment:
    """A grader's comment on words of a version. Idempotent per form (nonce): the same
    form posted twice returns the first comment (the unique constraint settles a race)."""
    nonce = (nonce or "")[:40]
    if nonce and (same := MemoComment.objects.filter(author=author, nonce=nonce).first()):
        return same
    body = (body or "").strip()
    if not body:
        raise CommentRefused("Write your comment before saving it.")
    if len(body) > MAX_COMMENT_CHARS:
        raise CommentRefused(
            f"A comment is limited to {MAX_COMMENT_CHARS:,} characters; this one has {len(body):,}."
        )
    document = version_document(version_blocks(version.body_html))
    anchor = _anchor(document, selection)
    quote = document.quote(anchor) or ""
    if len(quote) > MAX_QUOTE_CHARS:
        raise CommentRefused(
            f"Select at most {MAX_QUOTE_CHARS:,} characters; a comment is about a passage.",
            "words",
        )
    prefix, suffix = document.context(anchor, CONTEXT_CHARS)
    try:
        with transaction.atomic():
            return MemoComment.objects.create(
                version=version,
                author=author,
                paragraph=anchor.paragraph,
                start=anchor.start,
                end_paragraph=anchor.end_paragraph
                if anchor.end_paragraph != anchor.paragraph
                else None,
                end=anchor.end,
                quote=quote,
                prefix=prefix,
                suffix=suffix,
                body=body,
                body_html=render_markdown(body),
                nonce=nonce,
            )
    except IntegrityError:
        return MemoComment.objects.get(author=author, nonce=nonce)


def comment_delete(*, comment: MemoComment) -> None:
    MemoComment.objects.filter(pk=comment.pk).delete()


# Points on a memo without a rubric -------------------------------------------------------------


@transaction.atomic
def memo_points(*, item: ModuleItem, student, points: Decimal | None, grader) -> Memo:
    """A person's points on a student's memo (an analysis graded without a rubric): the
    kind's own score, which work_sync carries to the student's Work (stamped with who
    graded it). The memo is locked, so two graders saving at once are applied one after
    the other, and saving the same points again changes nothing more."""
    memo = Memo.objects.select_for_update().get(item=item, author=student)
    memo.points = points
    memo.save(update_fields=["points"])
    work_grade(item=item, student=student, grader=grader)  # Who graded it, and when.
    work_sync(item, [student.pk])
    graded_after_release_notify(item, [student.pk])  # The points are the grade.
    return memo


# What the page shows --------------------------------------------------------------------------


@dataclass
class CommentView:
    """A comment as the page lists it: its place in the order (the number its mark
    carries), where it is, and whether the reader may delete it."""

    comment: MemoComment
    number: int
    can_delete: bool = False

    @property
    def where(self) -> str:
        first, last = self.comment.paragraph, self.comment.end_paragraph
        if first is None:
            return "The whole memo"
        return f"¶{first}" if not last or last == first else f"¶{first} to ¶{last}"


@dataclass
class MarkedBlock:
    number: int
    html: SafeString
    comments: list[CommentView] = field(default_factory=list)


@dataclass
class Layer:
    """A version's text with its comments marked, each block with the comments that
    begin in it (for the margin), and every comment in order (for a phone, below)."""

    blocks: list[MarkedBlock]
    comments: list[CommentView]
    loose: list[CommentView]  # On the whole memo, or on no block of this version.


def _mark(keys: frozenset) -> str:
    return f'<mark class="hl memo-hl" data-comments="{" ".join(map(str, sorted(keys)))}">'


def _ref(view: CommentView) -> str:
    """The number a comment's words end with, linking to the comment: beside the text
    on a wide screen, in the list below on a phone (each shown at its width only)."""
    return format_html(
        '<a class="memo-ref memo-ref--wide" href="#c{pk}" data-annotation-ui>'
        '<span class="visually-hidden">comment </span>{n}</a>'
        '<a class="memo-ref memo-ref--narrow" href="#comment-{pk}" data-annotation-ui>'
        '<span class="visually-hidden">comment </span>{n}</a>',
        pk=view.comment.pk,
        n=view.number,
    )


def version_layer(
    blocks: list[Block], comments: list[MemoComment], *, user=None, moderates=False
) -> Layer:
    """The blocks with the comments marked in them (`mark_html`, as the case reader
    marks notes) and the comments numbered in reading order."""
    numbers = [block.number for block in blocks]
    position = {number: n for n, number in enumerate(numbers)}
    ordered = sorted(comments, key=lambda c: (c.paragraph is None, c.paragraph or 0, c.start, c.pk))
    views = [
        CommentView(c, n, moderates or (user is not None and c.author_id == user.pk))
        for n, c in enumerate(ordered, 1)
    ]
    spans: dict[int, list[Span]] = defaultdict(list)
    starting: dict[int, list[CommentView]] = defaultdict(list)
    loose = []
    for view in views:
        c = view.comment
        first, last = c.paragraph, c.end_paragraph or c.paragraph
        if first not in position or last not in position:
            loose.append(view)
            continue
        starting[first].append(view)
        for number in numbers[position[first] : position[last] + 1]:
            spans[number].append(
                Span(
                    c.start if number == first else 0,
                    c.end if number == last else 10**9,
                    (c.pk,),
                    _ref(view) if number == last else "",
                )
            )
    marked = []
    for block in blocks:
        length = len(block.text)
        mine = [Span(s.start, min(s.end, length), s.keys, s.after) for s in spans[block.number]]
        html = mark_html(block.html, mine, _mark) if mine else block.html
        # The version's sanitised rendering, with our own marks and links.
        marked.append(MarkedBlock(block.number, mark_safe(html), starting[block.number]))  # noqa: S308
    return Layer(marked, views, loose)


def sentence_choices(block: Block) -> list[tuple[str, str]]:
    """The sentences of a block, for a keyboard (or a page without script) to pick the
    words a comment is about, as the notes' form offers them."""
    found = [("", f"The whole of ¶{block.number}")]
    for n, (start, end) in enumerate(sentences(block.text), 1):
        words = block.text[start:end]
        label = words if len(words) <= 90 else words[:89] + "…"
        found.append((f"{start}-{end}", f"Sentence {n}: {label}"))
    return found


# What changed between versions ----------------------------------------------------------------

WORD_RUN = re.compile(r"\S+\s*")
BREAK = "\n\n"  # Between blocks, in the sequence of words compared.


@dataclass
class Change:
    kind: str  # "same", "added" or "removed"
    text: str


def _words(version: MemoVersion) -> list[str]:
    words: list[str] = []
    for block in version_blocks(version.body_html):
        if words:
            words.append(BREAK)
        words.extend(WORD_RUN.findall(block.text.strip()))
    return words


def memo_changes(old: MemoVersion, new: MemoVersion) -> list[list[Change]]:
    """What changed from `old` to `new`, word by word (difflib on their words, as each
    version's page shows them), as paragraphs of runs kept, added and removed."""
    a, b = _words(old), _words(new)
    matcher = difflib.SequenceMatcher(None, a, b, autojunk=False)
    paragraphs: list[list[Change]] = [[]]

    def put(kind: str, words: list[str]) -> None:
        for word in words:
            if word == BREAK:
                if paragraphs[-1]:
                    paragraphs.append([])
                continue
            line = paragraphs[-1]
            if line and line[-1].kind == kind:
                line[-1].text += word
            else:
                line.append(Change(kind, word))

    for op, a1, a2, b1, b2 in matcher.get_opcodes():
        if op == "equal":
            put("same", b[b1:b2])
        else:
            put("removed", a[a1:a2])
            put("added", b[b1:b2])
    return [_spaces_outside(line) for line in paragraphs if line]


def _spaces_outside(line: list[Change]) -> list[Change]:
    """The space after a run added or removed is no part of the change: it is shown
    unmarked, so a struck-through word does not strike the space after it."""
    out: list[Change] = []
    for change in line:
        text = change.text.rstrip()
        space = change.text[len(text) :]
        if change.kind == "same" or not space:
            out.append(change)
            continue
        out.append(Change(change.kind, text))
        out.append(Change("same", space))
    return out


def changes_counted(paragraphs: list[list[Change]]) -> dict[str, int]:
    counted = {"added": 0, "removed": 0}
    for line in paragraphs:
        for change in line:
            if change.kind in counted:
                counted[change.kind] += len(change.text.split())
    return counted
