"""Anchors in a case's text, and the marks that show them, with no database in sight.

A paragraph's text is what its sanitised HTML shows: tags dropped, entities read
(`text_of`). The reader's script counts a selection in the same characters, so an
offset means the same on both sides. `mark_html` puts the highlights into the HTML the
server sends (the case text is never rewritten by a script); `find_anchor` finds a
quote again after an edit; `sentences` cuts a paragraph into the sentences a keyboard
user picks from and the heat map counts.
"""

import difflib
import re
from bisect import bisect_right
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from html import unescape

TOKEN = re.compile(r"(<[^>]*>)")
# A character reference is one character of text; anything else one per character.
ENTITY = re.compile(r"&(?:#\d+|#[xX][0-9a-fA-F]+|[A-Za-z][A-Za-z0-9]*);")
LINK_OPEN = re.compile(r"<a[\s>]", re.I)
LINK_CLOSE = re.compile(r"</a[\s>]", re.I)
SENTENCE_END = re.compile("[.!?\u2026][\"'\u201d\u2019)\\]]*(?=\\s+|$)")
# Between paragraphs in a case's whole text: no quote within one paragraph holds it.
SEPARATOR = "\n\n"
FUZZY_LIKENESS = 0.85


def text_of(html: str) -> str:
    """The text a paragraph's HTML shows, as the browser's textContent counts it."""
    return unescape("".join(part for part in TOKEN.split(html) if not part.startswith("<")))


def sentences(text: str) -> list[tuple[int, int]]:
    """(start, end) of each sentence of a paragraph's text, its spaces left out."""
    found, start = [], 0
    for match in SENTENCE_END.finditer(text):
        end = match.end()
        if text[start:end].strip():
            found.append(_trimmed(text, start, end))
        start = end
    if text[start:].strip():
        found.append(_trimmed(text, start, len(text)))
    return found


def trimmed(text: str) -> tuple[int, int]:
    """(start, end) of the text without its leading and trailing spaces: the whole of a
    paragraph as a note anchors it (a count link after trailing space would fall
    between a table's or a list's tags)."""
    return _trimmed(text, 0, len(text))


def _trimmed(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


# Marks --------------------------------------------------------------------------------


@dataclass
class Span:
    """Characters [start, end) of one paragraph, highlighted by the notes `keys`. The
    span where a note ends carries its count link (`after`), markup of our own."""

    start: int
    end: int
    keys: tuple = ()
    after: str = ""


def mark_html(
    html: str, spans: Iterable[Span], mark: Callable[[frozenset], str] | None = None
) -> str:
    """Sanitised paragraph HTML with each stretch of text that notes cover wrapped in a
    <mark> (`mark(keys)` gives its opening tag), split wherever a tag or another note
    begins or ends, and each span's `after` put right where it ends (after the link it
    ends in, if any: links do not nest).

    A mark never crosses a tag, so the HTML stays well-formed; text of only spaces
    between tags (the newlines between table rows or list items) is never marked, as a
    <mark> there would be invalid, or moved out of a table by the browser."""
    spans = [s for s in spans if s.end > s.start]
    if not spans:
        return html
    mark = mark or (lambda keys: '<mark class="hl">')
    starts = sorted(spans, key=lambda s: s.start)
    ends = sorted(spans, key=lambda s: s.end)
    out: list[str] = []
    active: list[Span] = []
    pending: list[str] = []  # Count links waiting for the end of the link they fell in.
    in_link = False
    marking = False
    at = 0  # Characters of text so far.
    began = ended = 0  # Spans begun and ended so far, in `starts` and `ends`.

    def close():
        nonlocal marking
        if marking:
            out.append("</mark>")
            marking = False

    def end_spans():
        """Spans ending here end now, their counts right after their last character."""
        nonlocal ended
        while ended < len(ends) and ends[ended].end <= at:
            span = ends[ended]
            ended += 1
            if span in active:
                close()
                active.remove(span)
            if span.after:
                (pending if in_link else out).append(span.after)

    for part in TOKEN.split(html):
        if not part:
            continue
        if part.startswith("<"):
            close()
            out.append(part)
            if LINK_OPEN.match(part):
                in_link = True
            elif LINK_CLOSE.match(part):
                in_link = False
                out.extend(pending)
                pending.clear()
            continue
        blank = part.isspace()
        where = _unit_offsets(part)
        length = len(part) if where is None else len(where) - 1
        done = 0
        while done < length:
            # Spans beginning here begin lazily, so a mark opens after any tag.
            while began < len(starts) and starts[began].start <= at:
                span = starts[began]
                began += 1
                if span.end > at:
                    close()
                    active.append(span)
            if active and not marking and not blank:
                out.append(mark(frozenset(k for s in active for k in s.keys)))
                marking = True
            # Up to the next place a span begins or ends, nothing changes: one slice.
            step = length - done
            if began < len(starts):
                step = min(step, starts[began].start - at)
            if ended < len(ends):
                step = min(step, ends[ended].end - at)
            step = max(1, step)
            if where is None:
                out.append(part[done : done + step])
            else:
                out.append(part[where[done] : where[done + step]])
            done += step
            at += step
            end_spans()
    close()
    at = max(at, max(s.end for s in spans))
    end_spans()
    out.extend(pending)
    return "".join(out)


def _unit_offsets(text: str) -> list[int] | None:
    """Where each character of the text shown begins in a run of HTML text, and where
    it ends, when a character reference makes the two differ; None when they do not."""
    if "&" not in text:
        return None
    where, at = [], 0
    for entity in ENTITY.finditer(text):
        where.extend(range(at, entity.start() + 1))
        at = entity.end()
    where.extend(range(at, len(text) + 1))
    return where


# Finding a quote again ----------------------------------------------------------------


@dataclass(frozen=True)
class Anchor:
    """Where a quote sits: from `start` in paragraph `paragraph` to `end` in
    `end_paragraph` (the same paragraph unless the quote crosses paragraphs)."""

    paragraph: int
    start: int
    end_paragraph: int
    end: int


class Document:
    """A case's paragraphs, in order, as one text with a SEPARATOR between them, so a
    quote across paragraphs is one string and a position one number."""

    def __init__(self, paragraphs: list[tuple[int, str]]):
        self.numbers = [number for number, _text in paragraphs]
        self.texts = dict(paragraphs)
        self.offsets: dict[int, int] = {}
        parts, at = [], 0
        for number, text in paragraphs:
            self.offsets[number] = at
            parts.append(text)
            at += len(text) + len(SEPARATOR)
        self.text = SEPARATOR.join(parts)
        self.starts = [self.offsets[number] for number in self.numbers]

    def absolute(self, paragraph: int, offset: int) -> int | None:
        if paragraph not in self.offsets or offset > len(self.texts[paragraph]):
            return None
        return self.offsets[paragraph] + offset

    def locate(self, position: int) -> tuple[int, int]:
        """The paragraph holding a position of the whole text, and the offset in it."""
        found = self.numbers[max(0, bisect_right(self.starts, position) - 1)]
        return found, min(position - self.offsets[found], len(self.texts[found]))

    def anchor(self, start: int, end: int) -> Anchor:
        first, offset = self.locate(start)
        # An end just past a paragraph's last character stays in that paragraph.
        last, end_offset = self.locate(max(start, end - 1))
        return Anchor(first, offset, last, end_offset + (1 if end > start else 0))

    def quote(self, anchor: Anchor) -> str | None:
        start = self.absolute(anchor.paragraph, anchor.start)
        end = self.absolute(anchor.end_paragraph, anchor.end)
        if start is None or end is None or end < start:
            return None
        return self.text[start:end]

    def context(self, anchor: Anchor, chars: int) -> tuple[str, str]:
        start = self.absolute(anchor.paragraph, anchor.start) or 0
        end = self.absolute(anchor.end_paragraph, anchor.end) or start
        return self.text[max(0, start - chars) : start], self.text[end : end + chars]


def _agreement(a: str, b: str, *, backwards: bool) -> int:
    """How many characters two context strings share, from the quote outwards."""
    if backwards:
        a, b = a[::-1], b[::-1]
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n


def find_anchor(
    document: Document,
    *,
    quote: str,
    prefix: str = "",
    suffix: str = "",
    paragraph: int | None = None,
    start: int = 0,
    end_paragraph: int | None = None,
    end: int = 0,
    fuzzy: bool = True,
) -> Anchor | None:
    """The quote's place in the (edited) document, or None: orphaned.

    Where it was, if the same words are still there; else wherever the exact words are,
    the place whose surrounding words agree best with the stored context winning, then
    the one in the same paragraph, then the nearest; else, in the same paragraph only,
    words close enough to the quote (a typo fixed, a comma moved)."""
    if not quote or not document.numbers:
        return None
    if paragraph is not None:
        was = Anchor(paragraph, start, end_paragraph or paragraph, end)
        if document.quote(was) == quote:
            return was
    old = document.absolute(paragraph, start) if paragraph is not None else None
    best, best_score = None, None
    at = document.text.find(quote)
    while at != -1:
        before = document.text[max(0, at - len(prefix)) : at]
        after = document.text[at + len(quote) : at + len(quote) + len(suffix)]
        found = document.anchor(at, at + len(quote))
        score = (
            _agreement(before, prefix, backwards=True) + _agreement(after, suffix, backwards=False),
            found.paragraph == paragraph,
            -abs(at - old) if old is not None else 0,
        )
        if best_score is None or score > best_score:
            best, best_score = found, score
        at = document.text.find(quote, at + 1)
    if best is not None:
        return best
    # Words close to a quote across paragraphs would be half of it, in one of them.
    if not fuzzy or paragraph is None or paragraph not in document.texts or SEPARATOR in quote:
        return None
    return _fuzzy(document, paragraph, quote)


def _fuzzy(document: Document, paragraph: int, quote: str) -> Anchor | None:
    """The stretch of one paragraph most like the quote, if alike enough (difflib's
    ratio at least FUZZY_LIKENESS).

    The quote's longest common run with the paragraph places it; the common runs of
    the quote with the text about that place then give its ends, with and without
    the short runs at either edge (stray letters matched further off). A few ratios,
    not a search over every window: this runs inside every save of the case."""
    text = document.texts[paragraph]
    if not text or len(quote) > 2 * len(text) + 20:
        return None
    matcher = difflib.SequenceMatcher(None, text, quote, autojunk=False)
    block = matcher.find_longest_match(0, len(text), 0, len(quote))
    if block.size == 0:
        return None
    slack = 10 + max(3, len(quote) // 10)
    low = max(0, block.a - block.b - slack)
    high = min(len(text), block.a - block.b + len(quote) + slack)
    matcher.set_seq1(text[low:high])
    runs = [run for run in matcher.get_matching_blocks() if run.size]
    matched = sum(run.size for run in runs)
    # No window of the text about the place matches more than `matched` characters,
    # so none has a ratio above 2m / (m + len(quote)).
    if 2 * matched / (matched + len(quote)) < FUZZY_LIKENESS:
        return None
    firsts = [n for n, run in enumerate(runs) if n == 0 or runs[n - 1].size < 3][:3]
    lasts = [
        n
        for n, run in reversed(list(enumerate(runs)))
        if n == len(runs) - 1 or runs[n + 1].size < 3
    ][:3]
    best, best_ratio = None, 0.0
    for first in firsts:
        for last in lasts:
            if last < first:
                continue
            head, tail = runs[first], runs[last]
            begin = max(0, low + head.a - head.b)
            finish = min(len(text), low + tail.a + tail.size + len(quote) - tail.b - tail.size)
            if finish <= begin:
                continue
            matcher.set_seq1(text[begin:finish])
            ratio = matcher.ratio()
            if ratio > best_ratio:
                best, best_ratio = (begin, finish), ratio
    if best is None or best_ratio < FUZZY_LIKENESS:
        return None
    begin, finish = _trimmed(text, *best)
    return Anchor(paragraph, begin, paragraph, finish)
