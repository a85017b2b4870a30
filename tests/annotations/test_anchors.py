"""The anchor functions on their own: the text a paragraph shows, its sentences, the
marks put into its HTML, and finding a quote again after an edit."""

import re
from html.parser import HTMLParser

import pytest

from cases.anchors import Anchor, Document, Span, find_anchor, mark_html, sentences, text_of

COUNT = re.compile(r'<a class="count">\d+</a>')


def count(n: int) -> str:
    return f'<a class="count">{n}</a>'


class Tree(HTMLParser):
    """Fails on a closing tag that does not close the element last opened."""

    VOID = {"br", "img", "hr", "input", "wbr"}

    def __init__(self):
        super().__init__(convert_charrefs=False)
        self.open: list[str] = []
        self.parents: list[tuple[str, str | None]] = []  # (tag, its parent)

    def handle_starttag(self, tag, attrs):
        self.parents.append((tag, self.open[-1] if self.open else None))
        if tag not in self.VOID:
            self.open.append(tag)

    def handle_endtag(self, tag):
        assert self.open and self.open[-1] == tag, f"</{tag}> closes {self.open}"
        self.open.pop()


def well_formed(html: str) -> Tree:
    tree = Tree()
    tree.feed(html)
    tree.close()
    assert tree.open == []
    return tree


def marked_text(html: str) -> str:
    """The text covered by marks, mark by mark."""
    return "|".join(text_of(m) for m in re.findall(r"<mark[^>]*>(.*?)</mark>", html))


# text_of --------------------------------------------------------------------------------


def test_text_drops_tags_and_reads_each_entity_as_one_character():
    html = (
        '<p>A &amp; B <a href="x?a=1&amp;b=2" title="t&gt;">&lt;b&gt;</a> &#39;q&#x27; &nbsp;©</p>'
    )
    assert text_of(html) == "A & B <b> 'q' \xa0©"


def test_text_keeps_the_newlines_between_blocks():
    assert text_of("<ul>\n<li>one</li>\n<li>two</li>\n</ul>") == "\none\ntwo\n"


def test_an_escaped_entity_is_read_once():
    assert text_of("<p>&amp;lt;</p>") == "&lt;"


# sentences ------------------------------------------------------------------------------


def _cut(text: str) -> list[str]:
    return [text[a:b] for a, b in sentences(text)]


def test_sentences_keep_closing_quotes_and_brackets():
    text = 'He said "Stop." Then he left (quietly.) Was it “over?” Yes!  '
    assert _cut(text) == ['He said "Stop."', "Then he left (quietly.)", "Was it “over?”", "Yes!"]


def test_sentences_leave_out_spaces_and_keep_an_unfinished_tail():
    text = "  One.   Two…\nthree and 3.5 more"
    assert _cut(text) == ["One.", "Two…", "three and 3.5 more"]
    assert sentences("   ") == []
    assert sentences("") == []


def test_an_abbreviation_may_split_a_sentence():
    assert _cut("Mr. Smith came.") == ["Mr.", "Smith came."]


# mark_html ------------------------------------------------------------------------------


def test_overlapping_spans_split_into_marks_by_who_covers_them():
    html = "<p>abcdefghij</p>"
    out = mark_html(
        html,
        [Span(1, 6, (1,), count(1)), Span(4, 9, (2,), count(2))],
        lambda keys: f'<mark data-k="{",".join(map(str, sorted(keys)))}">',
    )
    assert out == (
        '<p>a<mark data-k="1">bcd</mark><mark data-k="1,2">ef</mark>'
        + count(1)
        + '<mark data-k="2">ghi</mark>'
        + count(2)
        + "j</p>"
    )
    well_formed(out)


def test_marks_stop_at_every_tag_and_the_text_is_unchanged():
    html = (
        '<p>one <strong>two <a href="/x">three <em>four</em></a> five</strong> six &amp; seven</p>'
    )
    text = text_of(html)
    spans = [Span(2, 30, (1,), count(1)), Span(9, 12, (2,), count(2)), Span(0, len(text), (3,))]
    out = mark_html(html, spans)
    well_formed(out)
    assert text_of(COUNT.sub("", out)) == text
    # Every character is covered once by some mark: none lost, none doubled.
    assert marked_text(COUNT.sub("", out)).replace("|", "") == text


def test_a_span_ending_inside_a_link_has_its_count_after_the_link():
    html = '<p>see <a href="/x">the exhibit</a> now</p>'
    out = mark_html(html, [Span(4, 7, (1,), count(1))])
    assert (
        out == '<p>see <a href="/x"><mark class="hl">the</mark> exhibit</a>' + count(1) + " now</p>"
    )
    well_formed(out)


def test_a_span_ending_with_a_link_has_its_count_right_after_it():
    html = '<p><a href="/a">x</a><a href="/b">y</a></p>'
    out = mark_html(html, [Span(0, 1, (1,), count(1))])
    assert (
        out == '<p><a href="/a"><mark class="hl">x</mark></a>' + count(1) + '<a href="/b">y</a></p>'
    )


def test_an_entity_is_never_split():
    html = "<p>a &amp; b &#x1F600; c</p>"
    out = mark_html(html, [Span(2, 3, (1,)), Span(6, 7, (2,))])
    assert out == '<p>a <mark class="hl">&amp;</mark> b <mark class="hl">&#x1F600;</mark> c</p>'


def test_whitespace_between_blocks_is_never_marked():
    """A <mark> between table rows or list items would be moved out of the table by the
    browser (or be invalid in a list)."""
    html = "<table>\n<tr>\n<td>1</td>\n<td>2</td>\n</tr>\n</table>"
    out = mark_html(html, [Span(0, len(text_of(html)), (1,), count(1))])
    tree = well_formed(out)
    assert {parent for tag, parent in tree.parents if tag == "mark"} == {"td"}
    assert marked_text(out) == "1|2"
    assert text_of(COUNT.sub("", out)) == text_of(html)


def test_spans_past_the_end_or_empty_still_leave_well_formed_html():
    html = "<p>abc <em>d</em></p>"
    out = mark_html(html, [Span(2, 99, (1,), count(1)), Span(1, 1, (2,), count(2))])
    well_formed(out)
    assert marked_text(out) == "c |d"
    assert out.endswith(count(1))
    assert mark_html(html, []) == html


# find_anchor ----------------------------------------------------------------------------


P1 = "Shanghai Bell makes telecom switches for the state network."
P2 = "It has employed many researchers, and many researchers left."
P3 = "Its partners include a state firm and a foreign one."


def _found(document: Document, anchor: Anchor | None) -> str | None:
    return None if anchor is None else document.quote(anchor)


def _note(document: Document, paragraph: int, quote: str, *, nth: int = 0) -> dict:
    """What a note stores, made on `document`."""
    text = document.texts[paragraph]
    start = -1
    for _ in range(nth + 1):
        start = text.index(quote, start + 1)
    anchor = Anchor(paragraph, start, paragraph, start + len(quote))
    prefix, suffix = document.context(anchor, 40)
    return {"quote": quote, "prefix": prefix, "suffix": suffix, "paragraph": paragraph,
            "start": start, "end_paragraph": paragraph, "end": start + len(quote)}  # fmt: skip


@pytest.fixture
def before() -> Document:
    return Document([(1, P1), (2, P2), (3, P3)])


def test_a_quote_in_the_same_place_stays(before):
    note = _note(before, 2, "many researchers")
    assert find_anchor(before, **note) == Anchor(2, 16, 2, 32)


def test_a_quote_follows_its_paragraph_when_it_moves(before):
    note = _note(before, 3, "a state firm")
    after = Document([(3, P3), (1, P1), (4, "A new paragraph."), (2, P2)])
    anchor = find_anchor(after, **note)
    assert anchor == Anchor(3, 21, 3, 33)
    # Renumbered too (its paragraph deleted, the words elsewhere): found by its words.
    moved = Document([(1, P1), (2, P2), (5, "Today " + P3)])
    assert _found(moved, find_anchor(moved, **note)) == "a state firm"
    assert find_anchor(moved, **note).paragraph == 5


def test_a_repeated_quote_is_told_apart_by_its_context(before):
    first, second = (
        _note(before, 2, "many researchers"),
        _note(before, 2, "many researchers", nth=1),
    )
    # Text added before both: neither is where it was; the context says which is which.
    after = Document([(1, P1), (2, "Since 1990, " + P2), (3, P3)])
    assert find_anchor(after, **first) == Anchor(2, 28, 2, 44)
    assert find_anchor(after, **second) == Anchor(2, 50, 2, 66)
    # The same words now also in another paragraph: the context still decides.
    elsewhere = Document([(1, "So many researchers. " + P1), (2, "Since 1990, " + P2), (3, P3)])
    assert find_anchor(elsewhere, **second) == Anchor(2, 50, 2, 66)


def test_a_reworded_paragraph_keeps_a_quote_still_in_it(before):
    note = _note(before, 1, "telecom switches")
    after = Document([(1, "From 1984, the firm made telecom switches and routers."), (2, P2)])
    anchor = find_anchor(after, **note)
    assert anchor.paragraph == 1
    assert _found(after, anchor) == "telecom switches"


def test_a_typo_fixed_inside_the_quote_is_found_in_the_same_paragraph():
    before = Document([(1, "The firm emplyed many reserchers in its labs."), (2, P3)])
    note = _note(before, 1, "emplyed many reserchers")
    after = Document([(1, "The firm employed many researchers in its labs."), (2, P3)])
    anchor = find_anchor(after, **note)
    assert _found(after, anchor) == "employed many researchers"
    # Not in another paragraph, however alike.
    elsewhere = Document([(1, "Nothing here."), (2, "It employed many researchers.")])
    assert find_anchor(elsewhere, **note) is None
    # Nor when only the exact words are asked for (an orphan looked for again).
    assert find_anchor(after, **note, fuzzy=False) is None


def test_a_fuzzy_match_needs_most_of_the_words():
    before = Document([(1, "The firm employed many researchers in its labs in 1995.")])
    note = _note(before, 1, "employed many researchers in its labs")
    after = Document([(1, "The firm hired a few engineers for its plants in 1995.")])
    assert find_anchor(after, **note) is None


def test_a_deleted_quote_is_orphaned(before):
    note = _note(before, 2, "many researchers left")
    assert find_anchor(Document([(1, P1), (3, P3)]), **note) is None
    changed = Document([(1, P1), (2, "It has employed a few engineers."), (3, P3)])
    assert find_anchor(changed, **note) is None
    assert find_anchor(Document([]), **note) is None


def test_a_quote_across_two_paragraphs(before):
    start = P1.index("state network")
    anchor = Anchor(1, start, 2, len("It has employed"))
    quote = before.quote(anchor)
    assert quote == "state network.\n\nIt has employed"
    prefix, suffix = before.context(anchor, 40)
    note = {"quote": quote, "prefix": prefix, "suffix": suffix, "paragraph": 1, "start": start,
            "end_paragraph": 2, "end": len("It has employed")}  # fmt: skip
    assert find_anchor(before, **note) == anchor
    # Both paragraphs moved down together: found again, across them.
    after = Document([(4, "A new first paragraph."), (1, P1), (2, P2), (3, P3)])
    assert find_anchor(after, **note) == anchor
    # A paragraph now between them: the quote is gone, and not half-matched in one.
    split = Document([(1, P1), (4, "Between."), (2, P2), (3, P3)])
    assert find_anchor(split, **note) is None
    # Even when nearly all of it is in the first paragraph.
    mostly = Anchor(1, 5, 2, 2)
    prefix, suffix = before.context(mostly, 40)
    note = {"quote": before.quote(mostly), "prefix": prefix, "suffix": suffix, "paragraph": 1,
            "start": 5, "end_paragraph": 2, "end": 2}  # fmt: skip
    assert find_anchor(split, **note) is None


def test_an_anchor_at_the_end_of_a_paragraph_stays_in_it(before):
    anchor = before.anchor(0, len(P1))
    assert anchor == Anchor(1, 0, 1, len(P1))
    assert before.quote(anchor) == P1
