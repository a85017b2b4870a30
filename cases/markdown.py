"""User Markdown to safe HTML: render with markdown-it (raw HTML disabled), then clean
the result with nh3's allow-list. The only place user text becomes markup."""

import functools
import re
import secrets
from dataclasses import dataclass
from html import unescape

import nh3
from django.utils.html import strip_tags
from django.utils.safestring import SafeString, mark_safe
from markdown_it import MarkdownIt

_renderer = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": True})
_renderer.enable(["table", "strikethrough"])

# A word is a run of non-space characters with a letter or a digit in it, so Markdown's
# own marks (#, -, *, >) are not words: the one rule for a memo's, a note's and a
# post's words. The memo editor's script counts the same way.
WORD = re.compile(r"\S*[^\W_]\S*")


def word_count(text: str) -> int:
    """The words of a piece of Markdown a student wrote (`WORD`)."""
    return len(WORD.findall(text or ""))


ALLOWED_TAGS = {
    "a", "abbr", "b", "blockquote", "br", "code", "del", "em", "h3", "h4", "h5", "h6",
    "hr", "i", "li", "ol", "p", "pre", "s", "strong", "sub", "sup", "table", "tbody",
    "td", "th", "thead", "tr", "ul",
}  # fmt: skip
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}, "abbr": {"title"}, "th": {"align"}, "td": {"align"}}


def render_markdown(text: str) -> SafeString:
    html = _renderer.render(text or "")
    cleaned = nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer nofollow",
    )
    return mark_safe(cleaned.strip())  # noqa: S308 - nh3 has just sanitised it.


# Texts up to this long are kept once rendered (`shown_markdown`).
KEPT_MARKDOWN_CHARS = 20_000


def shown_markdown(text: str) -> SafeString:
    """`render_markdown` for text a page shows to every viewer alike (instructions,
    prompts, a quiz's questions): each distinct text up to KEPT_MARKDOWN_CHARS is
    rendered once a process. Rendering depends on the text alone."""
    text = text or ""
    return _kept(text) if len(text) <= KEPT_MARKDOWN_CHARS else render_markdown(text)


_kept = functools.lru_cache(maxsize=1024)(render_markdown)


# A missing word: three or more underscores, a word on its own ("Grant is ___ in
# Grant's tomb."). Before rendering it becomes a token no author can type (nor
# Markdown change), so Markdown cannot read it as a rule or as emphasis; after
# sanitising, the page puts its own widget where the token is.
BLANK = re.compile(r"(?<![\w\\])_{3,}(?!\w)")
_BLANK_TOKEN = f"RQBLANK{secrets.token_hex(8)}"


def count_blanks(text: str) -> int:
    return len(BLANK.findall(text or ""))


@dataclass
class BlankText:
    """Question text with one blank: the safe HTML before and after it, and the
    sentence as plain words for the blank's accessible name."""

    before: SafeString
    after: SafeString
    sentence: str


def render_markdown_blank(text: str) -> BlankText | None:
    """Render text holding exactly one blank, split at the blank; None without one (or
    with several, which the question form refuses)."""
    if count_blanks(text) != 1:
        return None
    html = render_markdown(BLANK.sub(_BLANK_TOKEN, text))
    if html.count(_BLANK_TOKEN) != 1:
        return None
    before, after = html.split(_BLANK_TOKEN)
    words = (
        unescape(strip_tags(before)).rsplit("\n", 1)[-1]
        + "___"
        + unescape(strip_tags(after)).split("\n", 1)[0]
    )
    sentence = " ".join(words.split())
    if len(sentence) > 160:
        sentence = sentence[:159] + "…"
    # Both halves are pieces of one sanitised document: safe joined around our widget.
    return BlankText(mark_safe(before), mark_safe(after), sentence)  # noqa: S308


TAG = re.compile(r"(<[^>]*>)")


def sub_outside_links(html: str, pattern: re.Pattern, replace) -> str:
    """Sanitised HTML with `pattern` replaced in its text only (never in a tag) and
    never inside a link: how ¶ citations and exhibit references become links."""
    out, in_link = [], False
    for part in TAG.split(html):
        if part.startswith("<"):
            if re.match(r"<a[\s>]", part):
                in_link = True
            elif part.startswith("</a"):
                in_link = False
            out.append(part)
        else:
            out.append(part if in_link else pattern.sub(replace, part))
    return "".join(out)
