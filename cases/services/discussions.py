"""Discussion posts: writing, editing, voting, moderating, and the citations of case
paragraphs (¶7) that turn an opinion into an argument from evidence."""

import re
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape

from cases.markdown import render_markdown
from cases.models import (
    MAX_DEPTH,
    CaseStudy,
    Discussion,
    ParticipationGrade,
    Post,
    PostRevision,
    Upvote,
    assignment_for_student,
)
from cases.models import refusal as work_refusal
from cases.services.notifications import endorsement_notify, reply_notify
from cases.services.workspace.work import work_sync

MAX_POST_CHARS = 10_000
CITATION = re.compile(r"\[?¶\s?(\d{1,4})\]?")
TAG = re.compile(r"(<[^>]*>)")


class PostRefused(Exception):
    """A post the rules refuse; the message is for the writer."""


def render_post(body: str, case: CaseStudy | None, paragraphs: set[int]) -> tuple[str, list[int]]:
    """Markdown to sanitised HTML, then each ¶N naming a paragraph of the thread's case
    becomes a link to it. Links are added after sanitising, to text only, and never
    inside another link."""
    html = str(render_markdown(body))
    cited: list[int] = []
    if case is None:
        return html, cited
    out, in_link = [], False
    for part in TAG.split(html):
        if part.startswith("<"):
            if re.match(r"<a[\s>]", part):
                in_link = True
            elif part.startswith("</a"):
                in_link = False
            out.append(part)
            continue
        if in_link:
            out.append(part)
            continue

        def link(match, case=case):
            number = int(match.group(1))
            if number not in paragraphs:
                return match.group(0)
            if number not in cited:
                cited.append(number)
            url = escape(reverse("cases:case_detail", args=[case.slug]) + f"#p{number}")
            preview = escape(reverse("cases:paragraph_detail", args=[case.slug, number]))
            return f'<a class="cite" href="{url}" data-preview="{preview}">¶{number}</a>'

        out.append(CITATION.sub(link, part))
    return "".join(out), cited


def paragraph_numbers(case: CaseStudy | None) -> set[int]:
    if case is None:
        return set()
    return set(case.paragraphs.values_list("number", flat=True))


def _check_body(body: str) -> str:
    body = (body or "").strip()
    if not body:
        raise PostRefused("Write something before posting.")
    if len(body) > MAX_POST_CHARS:
        raise PostRefused(
            f"Posts are limited to {MAX_POST_CHARS:,} characters; this one has {len(body):,}."
        )
    return body


def posting_refusal(discussion: Discussion, now=None) -> str | None:
    """Why nobody may post in this thread now, or None."""
    if discussion.locked:
        return "This thread is locked: no new posts or replies."
    if discussion.closes_at and (now or timezone.now()) > discussion.closes_at:
        return "This thread closed for posting."
    return None


def _bump(discussion_id: int) -> None:
    Discussion.objects.filter(pk=discussion_id).update(version=F("version") + 1)


@transaction.atomic
def post_create(
    *, discussion: Discussion, author, body: str, parent: Post | None = None, nonce: str = ""
) -> Post:
    """Add a post or a reply. Idempotent per compose form (nonce): a double submit returns
    the first post. Refused in a locked or closed thread, under a hidden post, and past
    the per-user rate limit."""
    now = timezone.now()
    if nonce and (existing := Post.objects.filter(author=author, nonce=nonce).first()):
        return existing
    body = _check_body(body)
    if refusal := posting_refusal(discussion, now):
        raise PostRefused(refusal)
    # A student's own dates: not open yet, past the cut-off, or late work refused.
    if refusal := work_refusal(assignment_for_student(discussion.item_id, author), now):
        raise PostRefused(refusal)
    if parent is not None and (parent.discussion_id != discussion.pk or parent.hidden_at):
        raise PostRefused("You can't reply to that post.")
    recent = Post.objects.filter(author=author, created_at__gte=now - timedelta(minutes=1))
    if recent.count() >= settings.POSTS_PER_MINUTE:
        raise PostRefused(
            "You are posting very fast. Wait a minute, then post again; your text is kept."
        )
    html, cited = render_post(body, discussion.case, paragraph_numbers(discussion.case))
    try:
        with transaction.atomic():
            post = Post.objects.create(
                discussion=discussion,
                author=author,
                parent=parent,
                depth=min(parent.depth + 1, MAX_DEPTH) if parent else 0,
                body=body,
                body_html=html,
                cited_paragraphs=cited,
                citation_count=len(cited),
                word_count=len(body.split()),
                nonce=nonce[:40],
            )
    except IntegrityError:
        return Post.objects.get(author=author, nonce=nonce[:40])
    _bump(discussion.pk)
    work_sync(discussion.item, [author.pk])
    if parent is not None:
        reply_notify(post)
    return post


@transaction.atomic
def post_edit(*, post: Post, body: str) -> Post:
    """The author edits; the earlier text is kept as a revision."""
    body = _check_body(body)
    if refusal := posting_refusal(post.discussion):
        raise PostRefused(refusal)
    if post.is_deleted:
        raise PostRefused("A deleted post can't be edited.")
    if body == post.body:
        return post
    PostRevision.objects.create(
        post=post, body=post.body, created_at=post.edited_at or post.created_at
    )
    case = post.discussion.case
    post.body = body
    post.body_html, post.cited_paragraphs = render_post(body, case, paragraph_numbers(case))
    post.citation_count = len(post.cited_paragraphs)
    post.word_count = len(body.split())
    post.edited_at = timezone.now()
    post.save()
    _bump(post.discussion_id)
    return post


@transaction.atomic
def post_delete(*, post: Post) -> None:
    """The author deletes: the post stays as "deleted" so replies keep their place. The
    author's Work follows in the same transaction (their first post may have gone)."""
    Post.objects.filter(pk=post.pk, deleted_at__isnull=True).update(deleted_at=timezone.now())
    _bump(post.discussion_id)
    work_sync(post.discussion.item, [post.author_id])


@transaction.atomic
def participation_grade(*, discussion: Discussion, user_id: int, points, comment: str, grader):
    """A person grades a student's participation in a thread; the gradebook follows."""
    ParticipationGrade.objects.update_or_create(
        discussion=discussion,
        user_id=user_id,
        defaults={"points": points, "comment": comment, "graded_by": grader},
    )
    work_sync(discussion.item, [user_id])


@transaction.atomic
def post_upvote_toggle(*, post: Post, user) -> bool:
    """Upvote, or take the upvote back. One per user; not on one's own post. Returns
    whether the user now upvotes it."""
    if post.author_id == user.pk:
        raise PostRefused("You can't upvote your own post.")
    deleted, _ = Upvote.objects.filter(post=post, user=user).delete()
    if deleted:
        Post.objects.filter(pk=post.pk).update(upvote_count=F("upvote_count") - 1)
        voted = False
    else:
        try:
            with transaction.atomic():
                Upvote.objects.create(post=post, user=user)
        except IntegrityError:
            return True  # A concurrent click already counted it.
        Post.objects.filter(pk=post.pk).update(upvote_count=F("upvote_count") + 1)
        voted = True
    _bump(post.discussion_id)
    return voted


MODERATION = {
    "pin": {"pinned": True},
    "unpin": {"pinned": False},
    "endorse": {"endorsed": True},
    "unendorse": {"endorsed": False},
    "unhide": {"hidden_at": None, "hidden_reason": ""},
}


@transaction.atomic
def post_moderate(*, post: Post, action: str, reason: str = "") -> None:
    """Instructors and TAs pin, endorse or hide (with a reason) a post. Its author is
    notified of the first endorsement."""
    if action == "hide":
        changes = {"hidden_at": timezone.now(), "hidden_reason": reason.strip()[:300]}
    elif action in MODERATION:
        changes = MODERATION[action]
    else:
        raise PostRefused("Unknown moderation action.")
    Post.objects.filter(pk=post.pk).update(**changes)
    _bump(post.discussion_id)
    if action == "endorse" and not post.is_deleted:
        endorsement_notify(post)


def discussion_lock(*, discussion: Discussion, locked: bool) -> None:
    Discussion.objects.filter(pk=discussion.pk).update(locked=locked, version=F("version") + 1)
