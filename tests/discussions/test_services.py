from datetime import timedelta

import pytest
from django.utils import timezone

from cases.models import Post, PostRevision
from cases.services.discussions import (
    PostRefused,
    post_create,
    post_delete,
    post_edit,
    post_upvote_toggle,
    render_post,
)

pytestmark = pytest.mark.django_db


def test_citations_link_to_existing_paragraphs_only(world):
    html, cited = render_post("See ¶2 and [¶3], not ¶99.", world.case, {1, 2, 3})
    assert cited == [2, 3]
    assert f'href="/library/{world.case.slug}/#p2"' in html
    assert f'href="/library/{world.case.slug}/#p3"' in html
    assert "¶99" in html and "#p99" not in html


def test_citations_are_never_made_inside_links_or_attributes(world):
    html, cited = render_post('[read ¶2](https://example.org "¶3 title")', world.case, {2, 3})
    assert cited == []
    assert html.count("<a ") == 1


def test_a_thread_without_a_case_leaves_citations_as_text(world):
    html, cited = render_post("See ¶2.", None, {2})
    assert cited == [] and "<a" not in html


def test_double_submit_with_the_same_form_makes_one_post(world):
    kwargs = {"discussion": world.discussion, "author": world.users["ta"], "body": "Hi ¶1."}
    first = post_create(**kwargs, nonce="abc")
    second = post_create(**kwargs, nonce="abc")
    assert first == second
    assert Post.objects.filter(author=world.users["ta"]).count() == 1


@pytest.mark.parametrize(
    ("body", "message"), [("   ", "Write something"), ("x" * 10_001, "limited")]
)
def test_empty_or_oversized_posts_are_refused(world, body, message):
    with pytest.raises(PostRefused, match=message):
        post_create(discussion=world.discussion, author=world.users["student"], body=body)


def test_a_locked_or_closed_thread_refuses_posts(world):
    world.discussion.locked = True
    with pytest.raises(PostRefused, match="locked"):
        post_create(discussion=world.discussion, author=world.users["student"], body="Hi")
    world.discussion.locked = False
    world.discussion.closes_at = timezone.now() - timedelta(minutes=1)
    with pytest.raises(PostRefused, match="closed"):
        post_create(discussion=world.discussion, author=world.users["student"], body="Hi")


def test_a_thread_locked_after_the_post_was_checked_refuses_it_and_keeps_nothing(world):
    """The instructor locks the thread while a student's post is on its way (the page's
    thread, read before the lock, says open): the bump, under the row's lock, says
    locked, and the post is refused with nothing kept; the thread's version is as the
    lock left it."""
    from cases.models import Discussion
    from cases.services.discussions import discussion_lock

    seen_open = Discussion.objects.get(pk=world.discussion.pk)
    discussion_lock(discussion=world.discussion, locked=True)
    version = Discussion.objects.get(pk=world.discussion.pk).version
    before = Post.objects.count()
    for _ in range(2):
        with pytest.raises(PostRefused, match="locked"):
            post_create(discussion=seen_open, author=world.users["student"], body="Late (¶2).")
        assert Post.objects.count() == before
        assert Discussion.objects.get(pk=world.discussion.pk).version == version
        seen_open.locked = False  # The next try reads the thread as open again.


def test_the_rate_limit_stops_a_flood(world, settings):
    settings.POSTS_PER_MINUTE = 3
    author = world.users["ta"]
    for n in range(3):
        post_create(discussion=world.discussion, author=author, body=f"Post {n}")
    with pytest.raises(PostRefused, match="very fast"):
        post_create(discussion=world.discussion, author=author, body="One more")


def test_replies_nest_to_a_limit_then_stay_flat(world):
    parent = world.post
    for _ in range(5):
        parent = post_create(
            discussion=world.discussion, author=world.users["ta"], body="Reply", parent=parent
        )
    assert parent.depth == 3


def test_editing_keeps_the_earlier_text(world):
    post_edit(post=world.post, body="Better: headcount is an input (¶2, ¶3).")
    world.post.refresh_from_db()
    assert world.post.cited_paragraphs == [2, 3]
    assert world.post.edited_at is not None
    assert PostRevision.objects.get(post=world.post).body == "Headcount is an input (¶2)."


def test_deleting_keeps_the_post_as_deleted(world):
    post_delete(post=world.post)
    world.post.refresh_from_db()
    assert world.post.is_deleted


def test_upvotes_toggle_and_count_once_per_user(world):
    voter = world.users["ta"]
    assert post_upvote_toggle(post=world.post, user=voter) is True
    assert post_upvote_toggle(post=world.post, user=voter) is False
    assert post_upvote_toggle(post=world.post, user=voter) is True
    world.post.refresh_from_db()
    assert world.post.upvote_count == 1
    with pytest.raises(PostRefused, match="own"):
        post_upvote_toggle(post=world.post, user=world.users["student"])


def test_every_change_bumps_the_thread_version(world):
    world.discussion.refresh_from_db()
    before = world.discussion.version
    post_upvote_toggle(post=world.post, user=world.users["ta"])
    world.discussion.refresh_from_db()
    assert world.discussion.version == before + 1


def test_a_new_post_keeps_the_threads_keys_as_reading_them_again_would(
    world, client_for, django_capture_on_commit_callbacks
):
    """A post keeps the keys of the version it made from the version before's, with
    its own added: for a post and then a reply, they are the keys the thread's posts
    give, and a classmate's page shows both. A version before that was never kept
    keeps nothing (the next reader reads the posts)."""
    from django.db.models import F

    from cases.http import kept_value
    from cases.models import Discussion
    from cases.services.discussions import _keys_key, keep_keys_after, key_rows, post_keys

    discussion = world.discussion
    discussion.refresh_from_db()
    post_keys(discussion)  # A reader keeps this version's.
    made = []
    for body, parent in (("Process beats product here (¶2).", None), ("Agreed.", True)):
        with django_capture_on_commit_callbacks(execute=True):
            made.append(
                post_create(
                    discussion=discussion,
                    author=world.users["student_ta_elsewhere"],
                    body=body,
                    parent=made[0] if parent else None,
                )
            )
        discussion.refresh_from_db()
        kept_keys = kept_value(_keys_key(discussion))
        assert kept_keys == key_rows(discussion)
    page = client_for("student").get(discussion.item.get_absolute_url()).content.decode()
    assert "Process beats product here" in page and "Agreed." in page

    # A post made a moment before another can commit, and move the version, after it:
    # its keys go where the query puts them.
    earlier = Post.objects.create(
        discussion=discussion, author=world.users["ta"], body="Made first, committed last."
    )
    earlier.created_at = made[0].created_at - timedelta(microseconds=1)
    Post.objects.filter(pk=earlier.pk).update(created_at=earlier.created_at)
    Discussion.objects.filter(pk=discussion.pk).update(version=F("version") + 1)
    discussion.refresh_from_db()
    keep_keys_after(discussion, discussion.version, earlier)
    assert kept_value(_keys_key(discussion)) == key_rows(discussion)

    Discussion.objects.filter(pk=discussion.pk).update(version=F("version") + 1)
    with django_capture_on_commit_callbacks(execute=True):
        post_create(discussion=discussion, author=world.users["ta"], body="Later.")
    discussion.refresh_from_db()
    assert kept_value(_keys_key(discussion)) is None


def test_a_new_post_keeps_the_threads_outline_as_ordering_the_keys_would(world, settings):
    """The outline a post keeps for its version, made from the version before's, is
    the one ordering the thread's keys gives: top-level posts filling a page then
    starting the next, after a pinned one; replies, and replies to replies, after their
    parent's earlier replies; a deleted post's author posting again. A top-level post
    older than the last one (a late commit) is left to the keys."""
    from cases.services.discussions import (
        ROOTS_PER_PAGE,
        PostKey,
        _outline_of,
        _outline_with,
        key_row,
        key_rows,
        post_delete,
        post_moderate,
    )

    settings.POSTS_PER_MINUTE = 1000
    discussion = world.discussion
    ta, classmate = world.users["ta"], world.users["student_ta_elsewhere"]

    def keys():
        return [PostKey(*row) for row in key_rows(discussion)]

    def post(author, body, parent=None):
        before = _outline_of(keys())
        made = post_create(discussion=discussion, author=author, body=body, parent=parent)
        assert _outline_with(before, key_row(made)) == _outline_of(keys())
        return made

    post_moderate(post=world.post, action="pin")
    mine = post(classmate, "Mine.")
    post_delete(post=mine)
    roots = [post(ta, f"Point {n}.") for n in range(ROOTS_PER_PAGE)]
    assert len(_outline_of(keys())[0]) == 2
    first = post(classmate, "A reply.", roots[2])
    post(ta, "A reply to the reply.", first)
    post(classmate, "A second reply.", roots[2])
    post(classmate, "A reply on the second page.", roots[-1])

    late = post_create(discussion=discussion, author=ta, body="Made before the last.")
    Post.objects.filter(pk=late.pk).update(created_at=roots[5].created_at)
    late.refresh_from_db()
    outline = _outline_of([key for key in keys() if key.pk != late.pk])
    assert _outline_with(outline, key_row(late)) is None
