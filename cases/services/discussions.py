"""Discussion posts: writing, editing, voting, moderating, and the citations of case
paragraphs (¶7) that turn an opinion into an argument from evidence; and reading a
thread: which posts a viewer sees, under which names, a page at a time."""

import bisect
import functools
import operator
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Count, Exists, F, OuterRef, Value
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape
from django.utils.safestring import mark_safe

from cases import sql
from cases.compiled import compiled, padded
from cases.exhibits import link_exhibits
from cases.http import keep, kept, kept_value
from cases.markdown import render_markdown, sub_outside_links, word_count
from cases.models import (
    MAX_DEPTH,
    CaseParagraph,
    CaseStudy,
    Course,
    Discussion,
    Follow,
    ParticipationGrade,
    Post,
    PostRevision,
    Upvote,
    assignment_for_student,
)
from cases.models import refusal as work_refusal
from cases.permissions import CourseAccess
from cases.routes import route
from cases.services.notifications import (
    endorsement_notify,
    followers_notify,
    graded_after_release_notify,
    reply_notify,
)
from cases.services.workspace.work import work_sync

MAX_POST_CHARS = 10_000
CITATION = re.compile(r"\[?¶\s?(\d{1,4})\]?")


class PostRefused(Exception):
    """A post the rules refuse; the message is for the writer."""


class ReplyRefused(PostRefused):
    """A reply refused for its post (taken down or deleted since the form was opened):
    the text may still be posted on its own."""


def render_post(body: str, case: CaseStudy | None, paragraphs: set[int]) -> tuple[str, list[int]]:
    """Markdown to sanitised HTML, then each ¶N naming a paragraph of the thread's case
    becomes a link to it, and each "Exhibit N" to the case's exhibit. Links are added
    after sanitising, to text only, and never inside another link."""
    html = str(render_markdown(body))
    cited: list[int] = []
    if case is None:
        return html, cited

    def link(match):
        number = int(match.group(1))
        if number not in paragraphs:
            return match.group(0)
        if number not in cited:
            cited.append(number)
        url = escape(reverse("cases:case_detail", args=[case.slug]) + f"#p{number}")
        preview = escape(reverse("cases:paragraph_detail", args=[case.slug, number]))
        return f'<a class="cite" href="{url}" data-preview="{preview}">¶{number}</a>'

    html = sub_outside_links(html, CITATION, link)
    base = reverse("cases:case_detail", args=[case.slug])
    return link_exhibits(html, len(case.exhibits or []), base), cited


def paragraph_numbers(case: CaseStudy | None) -> frozenset[int]:
    """The numbers of the case's paragraphs: read once a process for each revision of
    the case (a new body is a new revision; its paragraphs change with nothing else)."""
    if case is None:
        return frozenset()
    return _paragraph_numbers(case.pk, case.revision)


@functools.lru_cache(maxsize=256)
def _paragraph_numbers(case: int, revision: int) -> frozenset[int]:
    return frozenset(CaseParagraph.objects.filter(case=case).values_list("number", flat=True))


def _check_body(body: str) -> str:
    body = (body or "").strip()
    if not body:
        raise PostRefused("Write something before posting.")
    if len(body) > MAX_POST_CHARS:
        raise PostRefused(
            f"Posts are limited to {MAX_POST_CHARS:,} characters; this one has {len(body):,}."
        )
    return body


def posting_refusal(discussion: Discussion, now=None, *, until=None) -> str | None:
    """Why nobody may post in this thread now, or None. `until`: a student's extension,
    which keeps the thread open to them past its closing, until then."""
    if discussion.locked:
        return "This thread is locked: no new posts or replies."
    closes = discussion.closes_at
    if closes and until:
        closes = max(closes, until)
    if closes and (now or timezone.now()) > closes:
        return "This thread closed for posting."
    return None


def writing_refusal(discussion: Discussion, author, now=None, *, staff=False) -> str | None:
    """Why `author` (a user or their id) may not write in the thread now (post, reply,
    or edit or delete a post of theirs), or None: the thread's rule (`posting_refusal`),
    then their own dates (not open yet, past the cut-off, late work refused). A
    student's posts stand as handed in once their work closes, as the grader reads
    them; an extension keeps a thread closed to the class open to its student. `staff`:
    the author grades the course and is in none of its cohorts, so has no dates of
    their own: none are read (a thread's page for its staff, one query fewer)."""
    now = now or timezone.now()
    assignment = None if staff else assignment_for_student(discussion.item_id, author)
    # An extension reaches past the thread's closing: to its cut-off, else its due date.
    until = None
    if assignment is not None and assignment.extended:
        until = assignment.late_until or assignment.due_at
    if refusal := posting_refusal(discussion, now, until=until):
        return refusal
    return work_refusal(assignment, now)


def _bump(discussion_id: int) -> tuple[int, bool]:
    """Move the thread's version on, holding its row locked until the transaction ends;
    the version this change made, and whether the thread is locked now."""
    bumped = sql.thread_bump(discussion_id=discussion_id)
    if bumped is None:  # Deleted since it was read (its item, say): nothing to change.
        raise Discussion.DoesNotExist
    return bumped


@compiled
def _thread_state(discussion):
    """The thread's version and whether it is locked, as they stand: after a change."""
    return Discussion.objects.filter(pk=discussion).values_list("version", "locked")


def thread_state_refresh(discussion: Discussion) -> None:
    """`discussion.refresh_from_db(fields=["version", "locked"])`, compiled once."""
    discussion.version, discussion.locked = _thread_state.first(discussion=discussion.pk)


@compiled
def _posts_since(author, since):
    """How many posts the author made since `since`: a row, or none if none."""
    posts = Post.objects.filter(author=author, created_at__gte=since).order_by()
    return posts.values("author").annotate(n=Count("pk")).values_list("n", flat=True)


@transaction.atomic
def post_create(
    *, discussion: Discussion, author, body: str, parent: Post | None = None, nonce: str = ""
) -> Post:
    """Add a post or a reply. Idempotent per compose form (nonce): a double submit returns
    the first post, and brings the author's Work in line again (a retry repairs).
    Refused in a locked or closed thread, under a hidden or deleted post, and past the
    per-user rate limit."""
    now = timezone.now()
    if nonce and (existing := Post.objects.filter(author=author, nonce=nonce).first()):
        work_sync(discussion.item, [author.pk])
        return existing
    body = _check_body(body)
    if refusal := writing_refusal(discussion, author, now):
        raise PostRefused(refusal)
    gone = parent is not None and (parent.hidden_at or parent.deleted_at)
    if gone or (parent is not None and parent.discussion_id != discussion.pk):
        raise ReplyRefused(
            "You can't reply to that post: it was taken down or deleted. Your text is "
            "kept; post it on its own."
        )
    recent = _posts_since.first(author=author.pk, since=now - timedelta(minutes=1)) or 0
    if recent >= settings.POSTS_PER_MINUTE:
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
                word_count=word_count(body),
                nonce=nonce[:40],
            )
    except IntegrityError:
        work_sync(discussion.item, [author.pk])
        return Post.objects.get(author=author, nonce=nonce[:40])
    # Read under the row lock the bump takes: the version this post alone made, and
    # whether the thread was locked since it was checked above (then nothing is kept).
    version, locked = _bump(discussion.pk)
    if locked:
        discussion.locked = True
        raise PostRefused(posting_refusal(discussion, now))
    transaction.on_commit(functools.partial(keep_keys_after, discussion, version, post))
    work_sync(discussion.item, [author.pk])
    if parent is not None:
        reply_notify(post)
    followers_notify(post, now=now)
    return post


@transaction.atomic
def post_edit(*, post: Post, body: str) -> Post:
    """The author edits; the earlier text is kept as a revision."""
    body = _check_body(body)
    if refusal := writing_refusal(post.discussion, post.author_id):
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
    post.word_count = word_count(body)
    post.edited_at = timezone.now()
    post.save()
    _bump(post.discussion_id)
    return post


@transaction.atomic
def post_delete(*, post: Post) -> None:
    """The author deletes: the post stays as "deleted" so replies keep their place. The
    author's Work follows in the same transaction (their first post may have gone).
    Refused where they may not write (`writing_refusal`)."""
    if refusal := writing_refusal(post.discussion, post.author_id):
        raise PostRefused(refusal)
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
    graded_after_release_notify(discussion.item, [user_id])


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


HIDE_REASON_MAX = Post._meta.get_field("hidden_reason").max_length


def hide_reason(reason: str) -> str:
    """A moderator's reason for hiding a post or a note, as kept: refused when longer
    than it can be kept (its author reads it whole; the form's field stops typing there,
    so only a request made by other means reaches this)."""
    reason = reason.strip()
    if len(reason) > HIDE_REASON_MAX:
        raise PostRefused(
            f"A reason for hiding is at most {HIDE_REASON_MAX} characters; this one has "
            f"{len(reason)}. Shorten it: its author reads it whole."
        )
    return reason


@transaction.atomic
def post_moderate(*, post: Post, action: str, reason: str = "") -> None:
    """Instructors and TAs pin, endorse or hide (with a reason) a post. Its author is
    notified of the first endorsement, once the class can see the post: when it is
    endorsed, or unhidden endorsed."""
    if action == "hide":
        changes = {"hidden_at": timezone.now(), "hidden_reason": hide_reason(reason)}
    elif action in MODERATION:
        changes = MODERATION[action]
    else:
        raise PostRefused("Unknown moderation action.")
    Post.objects.filter(pk=post.pk).update(**changes)
    _bump(post.discussion_id)
    for name, value in changes.items():
        setattr(post, name, value)
    seen = post.endorsed and not post.hidden_at and not post.is_deleted
    if action in ("endorse", "unhide") and seen:
        endorsement_notify(post)


def discussion_lock(*, discussion: Discussion, locked: bool) -> None:
    Discussion.objects.filter(pk=discussion.pk).update(locked=locked, version=F("version") + 1)


# Reading a thread ------------------------------------------------------------------------
# Who sees which posts, under which names, a page at a time: decided here, once, for the
# thread page, its polls and the paragraph pages. Templates never see a raw Post.


# A long thread is shown this many top-level posts (with their replies) a page.
ROOTS_PER_PAGE = 30


def _shows(user, access: CourseAccess, sees_others: bool):
    """Whether this viewer sees a post: others' posts only when `sees_others`; hidden
    ones only their own, but staff see every post."""

    def shows(post) -> bool:
        mine = post.author_id == user.pk
        return (sees_others or mine) and (access.can_grade or not post.hidden or mine)

    return shows


def _tree(shown: list) -> tuple[list, dict]:
    """The posts shown as a tree: its roots in reading order (pinned first, then oldest
    first) and each post's replies. A reply whose parent is not shown stands as a root."""
    children: dict[int | None, list] = {}
    ids = {p.pk for p in shown}
    for post in shown:
        parent = post.parent_id if post.parent_id in ids else None
        children.setdefault(parent, []).append(post)
    roots = sorted(children.get(None, []), key=lambda p: (not p.pinned, p.created, p.pk))
    return roots, children


def _descend(roots: list, children: dict) -> list:
    """Each root followed by its replies, depth first."""
    ordered = []
    stack = list(reversed(roots))
    while stack:
        post = stack.pop()
        ordered.append(post)
        stack.extend(reversed(children.get(post.pk, [])))
    return ordered


def _paged(shown: list) -> list[list]:
    """The posts shown, a page at a time in reading order: each page this many
    top-level posts with all their replies."""
    roots, children = _tree(shown)
    return [
        _descend(roots[start : start + ROOTS_PER_PAGE], children)
        for start in range(0, len(roots), ROOTS_PER_PAGE)
    ]


@dataclass
class PostView:
    """One post as this viewer may see it. Names are resolved here, so an anonymous
    thread never hands a classmate's name to a student's template."""

    pk: int
    parent_id: int | None
    depth: int
    author: str
    author_role: str
    mine: bool
    html: str
    created_at: object
    edited: bool
    deleted: bool
    hidden: bool
    hidden_reason: str
    pinned: bool
    endorsed: bool
    upvotes: int
    voted: bool
    urls: dict[str, str]  # The post's own actions, by name: upvote, edit, delete...


# A post's actions, each linked on every post of a page (`route`: reversed once).
POST_ACTIONS = ["upvote", "edit", "delete", "moderate", "history"]


def post_rows(discussions, user_id: int | None):
    """The posts of these threads in one query, each with whether its author teaches
    the thread's course and whether the viewer (`user_id`) upvoted it."""
    course = OuterRef("discussion__item__module__course")
    return Post.objects.filter(discussion__in=discussions).annotate(
        author_instructs=Exists(
            Course.instructors.through.objects.filter(course=course, user=OuterRef("author"))
        ),
        author_assists=Exists(
            Course.teaching_assistants.through.objects.filter(
                course=course, user=OuterRef("author")
            )
        ),
        # Nobody (`NOBODY`, a page rendered for every student alike) has upvoted nothing.
        voted=Exists(Upvote.objects.filter(post=OuterRef("pk"), user=user_id))
        if user_id is not None
        else Value(False),
    )


class _Nobody:
    """The viewer of a page of posts shown alike to every student who sees the thread
    (cases/views/discussions.py, `_posts_html`): nothing is theirs, they upvoted
    nothing."""

    pk = None


NOBODY = _Nobody()


@dataclass(slots=True)
class PostKey:
    """What paging and visibility read of a post. A long thread's page shows 30 of its
    hundreds of posts: only those are loaded whole (`page_loader`). Paging reads the
    same names of a whole post (`Post.created`, `Post.hidden`, `Post.is_deleted`)."""

    pk: int
    parent_id: int | None
    author_id: int
    pinned: bool
    created: int  # When, in microseconds since the epoch: for ordering.
    hidden: bool
    deleted: bool

    @property
    def is_deleted(self) -> bool:
        return self.deleted


# The post's fields a key is made from, in `PostKey`'s order.
_KEY_FIELDS = ("pk", "parent_id", "author_id", "pinned", "created_at", "hidden_at", "deleted_at")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def key_row(post: Post) -> tuple:
    """A post's key as a row (`PostKey`'s fields in order): plain numbers and flags,
    which a thread's thousand keys pickle in a fifth of their datetimes' time (a post
    keeps the next version's keys and outline, two pickles of them)."""
    return _row(*operator.attrgetter(*_KEY_FIELDS)(post))


def _row(pk, parent_id, author_id, pinned, created_at, hidden_at, deleted_at) -> tuple:
    created = (created_at - _EPOCH) // _MICROSECOND
    return pk, parent_id, author_id, pinned, created, hidden_at is not None, deleted_at is not None


def key_rows(discussion: Discussion) -> list[tuple]:
    """Every post of the thread as key rows, from the database (one query)."""
    return [_row(*values) for values in _post_keys(discussion=discussion.pk)]


def post_keys(discussion: Discussion) -> list[PostKey]:
    """Every post of the thread, as keys: kept per thread version (every change to a
    post moves it), else one query (compiled once a connection). Kept as tuples, which
    the cache unpickles in a third of a dataclass's time."""
    rows = kept(_keys_key(discussion), lambda: key_rows(discussion))
    return [PostKey(*row) for row in rows]


def keep_keys_after(discussion: Discussion, version: int, post: Post) -> None:
    """Once `post` is made, which alone moved the thread to `version`, keep the thread's
    keys for that version from those of the one before, with the post's added, when
    those are kept (and its outline likewise): a thread of a thousand posts is not read
    and ordered again for one more. Run after the commit: a version rolled back is made
    again by the next change."""
    earlier = kept_value(_keys_key(discussion, version - 1))
    if earlier is None:
        return
    # In the model's order (created, then id), as the query gives them: a post made a
    # moment before another may commit, and so move the version, after it.
    rows = [row for row in earlier if row[0] != post.pk]
    row = key_row(post)
    bisect.insort(rows, row, key=_creation_order)
    keep(_keys_key(discussion, version), rows)
    # And the outline, which is ordered from the keys, from the version before's.
    outline = kept_value(_outline_key(discussion, version - 1))
    if outline is not None and (outline := _outline_with(outline, row)) is not None:
        keep(_outline_key(discussion, version), outline)


def _creation_order(row: tuple) -> tuple:
    return row[4], row[0]  # created, pk: PostKey's order of fields.


def _keys_key(discussion: Discussion, version: int | None = None) -> str:
    return _versioned("thread-keys", discussion, version)


def _versioned(name: str, discussion: Discussion, version: int | None) -> str:
    """The key of what is kept of a thread at a version (its current one by default)."""
    return f"{name}:{discussion.pk}:{discussion.version if version is None else version}"


@compiled
def _post_keys(discussion):
    return Post.objects.filter(discussion=discussion).values_list(*_KEY_FIELDS)


# No post has this id: the row `_marks` gives for following the thread.
_FOLLOWS = 0


class ViewerMarks:
    """What a thread holds of one viewer: the posts they upvoted (`votes`) and whether
    they follow the thread (`following`). Read on first use, both in one query: the
    thread's page asks both, its poll only the votes."""

    def __init__(self, discussion: Discussion, user):
        self.discussion, self.user = discussion, user

    @functools.cached_property
    def _ids(self) -> set[int]:
        return set(_marks(discussion=self.discussion.pk, user=self.user.pk))

    @property
    def votes(self) -> set[int]:
        return self._ids - {_FOLLOWS}

    @property
    def following(self) -> bool:
        return _FOLLOWS in self._ids


@compiled
def _marks(discussion, user):
    """The ids of the thread's posts the user upvoted, and `_FOLLOWS` if they follow it."""
    votes = Upvote.objects.filter(post__discussion=discussion, user=user)
    follows = Follow.objects.filter(discussion=discussion, user=user)
    return votes.values_list("post_id", flat=True).union(
        follows.values_list(Value(_FOLLOWS), flat=True), all=True
    )


def page_loader(discussion: Discussion, user, access: CourseAccess):
    """Loads the posts of a page whole, with their flags, in one query; authors only
    when the viewer may see names."""

    names = access.can_grade or not discussion.anonymous

    def load(ids: list[int]) -> dict[int, Post]:
        if user.pk is None:  # `NOBODY`: a page every student sees alike.
            posts = _page_posts_alike(discussion=discussion.pk, ids=padded(ids), names=names)
        else:
            posts = _page_posts(
                discussion=discussion.pk, user=user.pk, ids=padded(ids), names=names
            )
        return {post.pk: post for post in posts}

    return load


@compiled
def _page_posts(discussion, user, ids, *, names: bool):
    """A page's posts (`page_loader`) with the viewer's upvotes, and their authors when
    `names`."""
    return _page_of(post_rows([discussion], user), ids, names)


@compiled
def _page_posts_alike(discussion, ids, *, names: bool):
    """`_page_posts` as `NOBODY` sees them: upvoted by nobody."""
    return _page_of(post_rows([discussion], None), ids, names)


def _page_of(posts, ids, names: bool):
    posts = posts.filter(pk__in=ids)
    return posts.select_related("author") if names else posts


def may_see_others(discussion: Discussion, user, access: CourseAccess, posts) -> bool:
    if access.can_grade or not discussion.post_first:
        return True
    return any(p.author_id == user.pk and not p.is_deleted for p in posts)


def thread_order(
    discussion: Discussion,
    user,
    access: CourseAccess,
    posts,
    *,
    sees_others: bool | None = None,
) -> list:
    """The posts this viewer may see, in reading order: pinned first, then each post
    followed by its replies. `sees_others` overrides `may_see_others` (for `NOBODY`,
    who has no post)."""
    if sees_others is None:
        sees_others = may_see_others(discussion, user, access, posts)
    shows = _shows(user, access, sees_others)
    return _descend(*_tree([p for p in posts if shows(p)]))


def thread_views(
    discussion: Discussion,
    user,
    access: CourseAccess,
    posts,
    *,
    load=None,
    sees_others: bool | None = None,
) -> list[PostView]:
    """The posts this viewer may see (`thread_order`), as they see them. `posts` are
    whole, or keys that `load` turns into whole posts."""
    sees_names = access.can_grade or not discussion.anonymous
    ordered = thread_order(discussion, user, access, posts, sees_others=sees_others)
    pseudonyms = {} if sees_names else classmate_names(discussion)
    if load is not None:
        whole = load([post.pk for post in ordered])
        ordered = [whole[post.pk] for post in ordered if post.pk in whole]
    views = []
    for post in ordered:
        if post.author_id == user.pk:
            name = "You"
        elif post.author_instructs or post.author_assists:
            name = post.author.display_name if sees_names else "Course staff"
        elif sees_names:
            name = post.author.display_name
        else:
            name = pseudonyms.get(post.author_id, "A classmate")
        views.append(
            PostView(
                pk=post.pk,
                parent_id=post.parent_id,
                depth=post.depth,
                author=name,
                author_role="Instructor or TA"
                if (post.author_instructs or post.author_assists)
                else "",
                mine=post.author_id == user.pk,
                # Sanitised by render_markdown when saved; citation links are ours.
                html=mark_safe(post.body_html) if not post.is_deleted else "",  # noqa: S308
                created_at=post.created_at,
                edited=post.edited_at is not None,
                deleted=post.is_deleted,
                hidden=post.hidden_at is not None,
                hidden_reason=post.hidden_reason,
                pinned=post.pinned,
                endorsed=post.endorsed,
                upvotes=post.upvote_count,
                voted=post.voted,
                urls={a: route(f"cases:post_{a}", post.pk) for a in POST_ACTIONS},
            )
        )
    return views


def classmate_names(discussion: Discussion) -> dict[int, str]:
    """In a thread anonymous to classmates, each student author's name for them:
    "Classmate N", N the place of their first post in the thread (hidden and deleted
    ones counted), course staff left out. So a name is the same on every page, to
    every classmate, and after a post is hidden or deleted: a reply that names
    Classmate 2 still points at them. Kept per thread version."""
    return kept(_versioned("thread-classmates", discussion, None), lambda: _classmates(discussion))


def _classmates(discussion: Discussion) -> dict[int, str]:
    course = Course.objects.filter(modules__items=discussion.item_id)
    staff = set(
        Course.instructors.through.objects.filter(course__in=course)
        .values_list("user", flat=True)
        .union(
            Course.teaching_assistants.through.objects.filter(course__in=course).values_list(
                "user", flat=True
            )
        )
    )
    names: dict[int, str] = {}
    for key in sorted(post_keys(discussion), key=lambda key: (key.created, key.pk)):
        if key.author_id not in staff and key.author_id not in names:
            names[key.author_id] = f"Classmate {len(names) + 1}"
    return names


@dataclass
class ThreadPage:
    """One page of a thread as its viewer may see it, as keys: the posts are loaded
    whole (`thread_views` with `page_loader`) only where the page is rendered."""

    shown: list[PostKey]  # This page's, in reading order.
    page: int
    pages: int
    sees_others: bool  # False: a post-first thread the viewer has not posted in yet.
    # The page every student who sees the thread's other posts, and has none of their
    # own hidden, sees alike (but for their own posts and upvotes): `thread_outline`'s.
    alike: bool = False


def thread_page(
    discussion: Discussion, user, access, *, page: int | None = None, highlight: int | None = None
) -> ThreadPage:
    """The page of the thread this viewer asked for (or the one holding `highlight`),
    within the pages they may see. For most students, a page of the thread's outline
    (kept per version); for staff and the rest, worked out from the posts' keys."""
    if not access.can_grade:
        pages, pages_of, posters, hidden = thread_outline(discussion)
        if user.pk not in hidden and (not discussion.post_first or user.pk in posters):
            count = max(1, len(pages))
            page = pages_of.get(highlight, 1) if highlight is not None else min(page or 1, count)
            shown = [PostKey(*row) for row in pages[page - 1]] if pages else []
            return ThreadPage(shown, page, count, sees_others=True, alike=True)
    keys = post_keys(discussion)
    sees_others = may_see_others(discussion, user, access, keys)
    shows = _shows(user, access, sees_others)
    pages = _paged([p for p in keys if shows(p)])
    count = max(1, len(pages))
    if highlight is not None:
        page = next((n for n, on in enumerate(pages, 1) if any(p.pk == highlight for p in on)), 1)
    page = min(page or 1, count)
    return ThreadPage(pages[page - 1] if pages else [], page, count, sees_others)


_KEY_ROW = operator.attrgetter(*PostKey.__slots__)


def thread_outline(discussion: Discussion) -> tuple[list, dict, frozenset, frozenset]:
    """What every student who sees the thread's other posts, and has none of their own
    hidden, sees of it alike, kept per thread version: its pages, each the keys (as
    rows) of its posts in reading order; the page of each post shown; the authors of
    posts not deleted (who see a post-first thread's others); and the authors of hidden
    posts (who see their own, so a page of their own)."""
    return kept(_outline_key(discussion), lambda: _outline_of(post_keys(discussion)))


def _outline_key(discussion: Discussion, version: int | None = None) -> str:
    return _versioned("thread-outline", discussion, version)


def _outline_of(keys: list[PostKey]) -> tuple[list, dict, frozenset, frozenset]:
    pages, pages_of = [], {}
    for posts in _paged([p for p in keys if not p.hidden]):
        pages.append([_KEY_ROW(p) for p in posts])
        pages_of |= dict.fromkeys((p.pk for p in posts), len(pages))
    posters = frozenset(p.author_id for p in keys if not p.is_deleted)
    hidden = frozenset(p.author_id for p in keys if p.hidden)
    return pages, pages_of, posters, hidden


def _outline_with(outline: tuple, row: tuple) -> tuple | None:
    """The outline with one new post (its key as a row) put in as `_outline_of` would
    place it, or None where that would move others between pages (a top-level post
    older than the last one, which a late commit makes) or the post is no plain new one.
    A reply goes after its parent's replies made before it; a top-level post (or a
    reply to a post not shown) goes last, on a new page when the last one is full."""
    pages, pages_of, posters, hidden = outline
    pk, parent_id, author_id, pinned, _created, is_hidden, is_deleted = row
    if pk in pages_of or pinned or is_hidden or is_deleted:
        return None
    pages = [list(page) for page in pages]
    pages_of = dict(pages_of)
    if parent_id in pages_of:
        page = pages[pages_of[parent_id] - 1]
        at = next(n for n, other in enumerate(page) if other[0] == parent_id) + 1
        within = {parent_id}
        while at < len(page) and page[at][1] in within:
            if page[at][1] == parent_id and _creation_order(page[at]) > _creation_order(row):
                break
            within.add(page[at][0])
            at += 1
        page.insert(at, row)
        pages_of[pk] = pages_of[parent_id]
    else:
        last = pages[-1] if pages else []
        roots = [other for other in last if other[1] is None or other[1] not in pages_of]
        if roots and not roots[-1][3] and _creation_order(roots[-1]) > _creation_order(row):
            return None  # Older than the last (pinned ones come first): among the others.
        if not pages or len(roots) >= ROOTS_PER_PAGE:
            pages.append([])
        pages[-1].append(row)
        pages_of[pk] = len(pages)
    return pages, pages_of, posters | {author_id}, hidden
