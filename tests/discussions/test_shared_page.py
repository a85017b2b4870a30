"""A thread's page of posts is rendered once per thread version for every student alike
(cases/views/discussions.py, `_posts_html`), and each student gets what is theirs put
in: their own posts, their upvotes, their token and ETag. Each journey compares every
page a student is served with the same page rendered whole for them (`?reply=0`: a
reply form for no post, which is always rendered whole)."""

import re

import pytest
from django.test import Client
from django.urls import reverse

from cases.models import Discussion
from cases.services.discussions import post_create, post_moderate
from tests.factories import MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db

TOKEN = re.compile(r'(name="csrfmiddlewaretoken" value=")[^"]+"|("X-CSRFToken": ")[^"]+"')
NONCE = re.compile(r'((?:name="nonce" value=|nonce=)")[^"]+"')


def _same(html: str) -> str:
    """The page with what differs between two renders of it for the same reader (the
    masked CSRF tokens, the compose form's nonce, the scripts' CSP nonce) blanked out."""
    return NONCE.sub(r"\1", TOKEN.sub(r"\1\2", html))


@pytest.fixture
def chen(world):
    student = UserFactory(username="chen", first_name="Chen", last_name="Li")
    MembershipFactory(cohort=world.course.cohorts.get(name="Section A"), user=student)
    return student


def _page(world, user, query: str = "") -> str:
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    url = world.discussion.item.get_absolute_url()
    shown = client.get(url + query).content.decode()
    whole = client.get(url + (query + "&" if query else "?") + "reply=0").content.decode()
    assert _same(shown) == _same(whole)
    return shown


def _article(html: str, post) -> str:
    start = html.index(f'id="post-{post.pk}"')
    return html[start : html.index("</article>", start)]


def test_each_student_sees_their_own_posts_and_upvotes_on_the_shared_page(world, chen):
    ana, bo = world.users["student"], world.users["student_ta_elsewhere"]
    mine = world.post  # Ana's.
    theirs = _article(_page(world, bo), mine)  # Bo opens first: the page is kept.
    assert ana.display_name in theirs and "Edit</a>" not in theirs
    assert 'aria-pressed="false"' in theirs
    own = _article(_page(world, ana), mine)
    assert '<strong class="post__author">You</strong>' in own
    assert "Edit</a>" in own and "0 upvotes" in own and "aria-pressed" not in own

    # Bo upvotes Ana's post with the token the shared page gave him.
    client = Client(enforce_csrf_checks=True)
    client.force_login(bo)
    page = client.get(world.discussion.item.get_absolute_url()).content.decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', _article(page, mine))[1]
    upvote = reverse("cases:post_upvote", args=[mine.pk])
    assert client.post(upvote, {"csrfmiddlewaretoken": token}).status_code == 302

    assert 'aria-pressed="true">▲ 1' in _article(_page(world, bo), mine)
    assert 'aria-pressed="false">▲ 1' in _article(_page(world, chen), mine)
    assert "1 upvote<" in _article(_page(world, ana), mine)

    # Chen replies; Ana and Bo see it named, and Chen sees it as theirs.
    reply = post_create(discussion=world.discussion, author=chen, body="Yet ¶3.", parent=mine)
    assert "Chen Li" in _article(_page(world, ana), reply)
    assert "You</strong>" in _article(_page(world, chen), reply)
    assert 'aria-pressed="true">▲ 1' in _article(_page(world, bo), mine)  # Still his.


def test_a_page_that_differs_for_its_reader_is_rendered_for_them(world, chen, client_for):
    """Pseudonyms around one's own post, a post of one's own hidden by a moderator, a
    post-first thread before posting, and staff: each page as that reader sees it."""
    ana, bo = world.users["student"], world.users["student_ta_elsewhere"]
    bos = post_create(discussion=world.discussion, author=bo, body="Bo thinks otherwise.")
    post_moderate(post=bos, action="hide", reason="Off topic")
    assert "Bo thinks" in _page(world, bo) and "Bo thinks" not in _page(world, chen)
    assert "Off topic" in _page(world, world.users["instructor"])
    post_moderate(post=bos, action="unhide")

    Discussion.objects.filter(pk=world.discussion.pk).update(anonymous=True)
    world.discussion.refresh_from_db()
    chens = _page(world, chen)
    assert "Classmate 1" in _article(chens, world.post) and "Classmate 2" in _article(chens, bos)
    anas = _page(world, ana)  # Her own post is hers; Bo is Classmate 2 to every reader.
    assert "You</strong>" in _article(anas, world.post) and "Classmate 2" in _article(anas, bos)

    Discussion.objects.filter(pk=world.discussion.pk).update(post_first=True, anonymous=False)
    world.discussion.refresh_from_db()
    assert "Post your own answer first" in _page(world, chen)
    assert "Headcount is an input" in _page(world, ana)
