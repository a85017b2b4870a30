import html
import re

import pytest
from django.urls import reverse

from cases.models import Discussion, ParticipationGrade, Post
from cases.services.discussions import post_create, post_moderate

pytestmark = pytest.mark.django_db


def _html(response) -> str:
    return response.content.decode()


def _thread(world):
    return world.discussion.item.get_absolute_url()


def _posts_url(world):
    return reverse("cases:thread_posts", args=[world.discussion.item.pk])


def test_posts_show_with_linked_citations(world, client_for):
    html = _html(client_for("ta").get(_thread(world)))
    assert "Headcount is an input" in html
    assert f'href="/library/{world.case.slug}/#p2"' in html
    assert "hx-disable" in html


def test_posting_with_htmx_returns_the_thread_with_the_new_post(world, client_for):
    response = client_for("student_ta_elsewhere").post(
        reverse("cases:post_create", args=[world.discussion.item.pk]),
        {"body": "But see ¶3.", "nonce": "n1"},
        headers={"HX-Request": "true"},
    )
    html = _html(response)
    assert html.strip().startswith('<section id="thread-body"')
    assert "But see" in html and "post--new" in html


def test_posting_without_javascript_redirects_to_the_post(world, client_for):
    response = client_for("student_ta_elsewhere").post(
        reverse("cases:post_create", args=[world.discussion.item.pk]), {"body": "Plain post."}
    )
    post = Post.objects.get(body="Plain post.")
    assert response["Location"].endswith(f"#post-{post.pk}")


def test_a_refused_post_keeps_the_text_beside_the_message(world, client_for, settings):
    settings.POSTS_PER_MINUTE = 0
    response = client_for("student_ta_elsewhere").post(
        reverse("cases:post_create", args=[world.discussion.item.pk]),
        {"body": "My careful argument."},
    )
    html = _html(response)
    assert response.status_code == 200
    assert "posting very fast" in html
    assert "My careful argument." in html


def test_following_shows_on_the_page_again_after_a_refused_post(world, client_for, settings):
    """Follow, post too fast without JavaScript, follow no more, try again: each page,
    the one that keeps the refused text included, says where the student stands."""
    client = client_for("student_ta_elsewhere")
    follow = reverse("cases:discussion_follow", args=[world.discussion.item.pk])
    create = reverse("cases:post_create", args=[world.discussion.item.pk])
    settings.POSTS_PER_MINUTE = 0
    for following in ("1", "0", "1"):
        client.post(follow, {"follow": following})
        button = "Stop following" if following == "1" else "Follow this thread"
        assert button in _html(client.get(_thread(world)))
        refused = _html(client.post(create, {"body": "Too fast."}))
        assert "posting very fast" in refused and "Too fast." in refused
        assert button in refused


def test_anonymous_threads_never_give_students_a_classmates_name(world, client_for):
    Discussion.objects.filter(pk=world.discussion.pk).update(anonymous=True)
    student = world.users["student"]
    for role in ["student_ta_elsewhere"]:
        client = client_for(role)
        client.post(
            reverse("cases:post_create", args=[world.discussion.item.pk]), {"body": "Mine."}
        )
        for response in [
            client.get(_thread(world)),
            client.get(_posts_url(world), headers={"HX-Request": "true"}),
            client.get(reverse("cases:paragraph_detail", args=[world.case.slug, 2])),
        ]:
            html = _html(response)
            assert student.display_name not in html
            assert student.username not in html.replace("student_ta_elsewhere", "")
            assert "Classmate 1" in html
    staff_html = _html(client_for("ta").get(_thread(world)))
    assert student.display_name in staff_html


def test_the_compose_box_says_who_will_see_the_name(world, client_for):
    Discussion.objects.filter(pk=world.discussion.pk).update(anonymous=True)
    html = _html(client_for("student_ta_elsewhere").get(_thread(world)))
    assert "Classmates will not see your name; your instructor and TAs will." in html


def test_post_first_hides_classmates_until_the_student_posts(world, client_for):
    Discussion.objects.filter(pk=world.discussion.pk).update(post_first=True)
    client = client_for("student_ta_elsewhere")
    for response in [
        client.get(_thread(world)),
        client.get(_posts_url(world), headers={"HX-Request": "true"}),
        client.get(reverse("cases:case_detail", args=[world.case.slug])),
    ]:
        html = _html(response)
        assert "Headcount is an input" not in html
        assert "para__cites" not in html
    assert "Post your own answer first" in _html(client.get(_thread(world)))
    client.post(reverse("cases:post_create", args=[world.discussion.item.pk]), {"body": "Mine."})
    assert "Headcount is an input" in _html(client.get(_thread(world)))


def test_an_unchanged_thread_answers_304(world, client_for):
    client = client_for("student")
    first = client.get(_posts_url(world), headers={"HX-Request": "true"})
    etag = first["ETag"]
    again = client.get(_posts_url(world), headers={"HX-Request": "true", "If-None-Match": etag})
    assert again.status_code == 304
    post_create(discussion=world.discussion, author=world.users["ta"], body="New post.")
    changed = client.get(_posts_url(world), headers={"HX-Request": "true", "If-None-Match": etag})
    assert changed.status_code == 200
    assert "New post." in _html(changed)
    shown = re.search(r'data-etag="([^"]*)"', _html(changed)).group(1)
    assert html.unescape(shown) == changed["ETag"]


def test_hidden_posts_are_gone_for_students_but_marked_for_staff(world, client_for):
    post_moderate(post=world.post, action="hide", reason="Off topic")
    assert "Headcount is an input" not in _html(
        client_for("student_ta_elsewhere").get(_thread(world))
    )
    staff = _html(client_for("ta").get(_thread(world)))
    assert "Headcount is an input" in staff and "Off topic" in staff


def test_replying_to_a_hidden_post_is_refused(world, client_for):
    post_moderate(post=world.post, action="hide")
    response = client_for("student_ta_elsewhere").post(
        reverse("cases:post_create", args=[world.discussion.item.pk]),
        {"body": "Reply.", "parent": str(world.post.pk)},
    )
    assert "reply to that post" in _html(response)


def test_reply_form_opens_under_the_post_without_javascript(world, client_for):
    html = _html(client_for("student_ta_elsewhere").get(_thread(world) + f"?reply={world.post.pk}"))
    assert f'id="reply-{world.post.pk}"' in html
    assert f'name="parent" value="{world.post.pk}"' in html


def test_edit_in_place_over_htmx_then_save(world, client_for):
    client = client_for("student")
    form = client.get(
        reverse("cases:post_edit", args=[world.post.pk]), headers={"HX-Request": "true"}
    )
    assert _html(form).strip().startswith("<form")
    saved = client.post(
        reverse("cases:post_edit", args=[world.post.pk]),
        {"body": "Edited (¶3)."},
        headers={"HX-Request": "true"},
    )
    assert "Edited" in _html(saved) and "(edited)" in _html(saved)
    history = _html(client_for("ta").get(reverse("cases:post_history", args=[world.post.pk])))
    assert "Headcount is an input (¶2)." in history


def test_upvote_in_place(world, client_for):
    response = client_for("ta").post(
        reverse("cases:post_upvote", args=[world.post.pk]), headers={"HX-Request": "true"}
    )
    html = _html(response)
    assert 'aria-pressed="true"' in html and "▲ 1" in html


def test_participation_counts_posts_and_takes_a_grade(world, client_for):
    post_create(
        discussion=world.discussion,
        author=world.users["student"],
        body="More ¶1 ¶3.",
        parent=world.post,
    )
    client = client_for("instructor")
    html = _html(client.get(reverse("cases:participation", args=[world.discussion.item.pk])))
    assert "¶2</a>: 1 post" in html
    row = html.split(world.users["student"].display_name, 1)[1]
    assert "<td>1</td>\n    <td>1</td>" in row  # One post, one reply.
    client.post(
        reverse("cases:participation", args=[world.discussion.item.pk]),
        {"student": world.users["student"].pk, "points": "4.5"},
    )
    assert ParticipationGrade.objects.get(user=world.users["student"]).points == 4.5


def test_participation_grades_only_students_of_the_thread(world, client_for):
    response = client_for("instructor").post(
        reverse("cases:participation", args=[world.discussion.item.pk]),
        {"student": world.users["other_student"].pk, "points": "3"},
    )
    assert response.status_code == 404


def test_the_reader_margin_counts_citing_posts(world, client_for):
    html = _html(client_for("student").get(reverse("cases:case_detail", args=[world.case.slug])))
    assert f'href="/library/{world.case.slug}/paragraphs/2/">1 post' in html
    page = _html(
        client_for("student").get(reverse("cases:paragraph_detail", args=[world.case.slug, 2]))
    )
    assert "Headcount is an input" in page


def test_the_margin_counts_a_classmates_new_citation_and_forgets_a_hidden_one(world, client_for):
    """The counts are kept per thread version: a post, then a moderator hiding it, each
    show on the student's next look."""
    reader = reverse("cases:case_detail", args=[world.case.slug])
    count = f'href="/library/{world.case.slug}/paragraphs/2/">{{}} post'
    assert count.format(1) in _html(client_for("student").get(reader))
    post = post_create(
        discussion=world.discussion, author=world.users["student_ta_elsewhere"], body="¶2 too."
    )
    assert count.format(2) in _html(client_for("student").get(reader))
    post_moderate(post=post, action="hide", reason="Off topic")
    assert count.format(1) in _html(client_for("student").get(reader))


def test_citation_preview_is_a_fragment(world, client_for):
    response = client_for("student").get(
        reverse("cases:paragraph_detail", args=[world.case.slug, 2]) + "?preview=1"
    )
    html = _html(response)
    assert html.strip().startswith("<blockquote")
    assert "researchers" in html


def test_instructor_turns_on_anonymity_and_post_first(world, client_for):
    response = client_for("instructor").post(
        reverse("cases:discussion_settings", args=[world.discussion.item.pk]),
        {"case": world.case.pk, "prompt": "Argue it.", "post_first": "on", "anonymous": "on"},
    )
    assert response.status_code == 302
    world.discussion.refresh_from_db()
    assert world.discussion.post_first and world.discussion.anonymous


def test_replies_cannot_fall_due_before_first_posts(world, client_for):
    response = client_for("instructor").post(
        reverse("cases:discussion_settings", args=[world.discussion.item.pk]),
        {
            "prompt": "Argue it.",
            "first_post_due_at": "2027-02-10T17:00",
            "replies_due_at": "2027-02-08T17:00",
        },
    )
    assert "Replies fall due after the first post" in _html(response)


def test_a_hidden_post_cannot_be_upvoted_by_students(world, client_for):
    post_moderate(post=world.post, action="hide")
    response = client_for("student_ta_elsewhere").post(
        reverse("cases:post_upvote", args=[world.post.pk])
    )
    assert response.status_code == 404


def test_a_deleted_post_does_not_unlock_post_first_counts(world, client_for):
    from cases.services.discussions import post_delete

    Discussion.objects.filter(pk=world.discussion.pk).update(post_first=True)
    mine = post_create(
        discussion=world.discussion, author=world.users["student_ta_elsewhere"], body="Mine."
    )
    post_delete(post=mine)
    html = _html(
        client_for("student_ta_elsewhere").get(reverse("cases:case_detail", args=[world.case.slug]))
    )
    assert "para__cites" not in html


def test_post_first_margin_counts_wait_for_each_students_own_post(world, client_for):
    """In a post-first thread the reader's margin counts the class's citations for a
    student once they have posted there, for them alone, and not after they delete
    their post. A teaching assistant elsewhere is a student here."""
    from django.db.models import F
    from django.test import Client

    from cases.services.discussions import post_delete
    from tests.factories import MembershipFactory, UserFactory

    Discussion.objects.filter(pk=world.discussion.pk).update(
        post_first=True, version=F("version") + 1
    )
    reader = reverse("cases:case_detail", args=[world.case.slug])
    poster = client_for("student_ta_elsewhere")
    mei = UserFactory(username="mei")
    MembershipFactory(cohort=world.course.cohorts.get(name="Section A"), user=mei)
    waiting = Client()
    waiting.force_login(mei)
    assert "para__cites" not in _html(poster.get(reader))
    assert "para__cites" not in _html(waiting.get(reader))

    mine = post_create(
        discussion=world.discussion, author=world.users["student_ta_elsewhere"], body="I agree."
    )
    assert "para__cites" in _html(poster.get(reader))
    assert "para__cites" not in _html(waiting.get(reader))
    post_delete(post=mine)
    assert "para__cites" not in _html(poster.get(reader))
    assert "para__cites" in _html(client_for("student").get(reader))


def test_a_long_thread_is_paged_and_a_new_post_opens_on_its_page(world, client_for, settings):
    from cases.services.discussions import ROOTS_PER_PAGE

    settings.POSTS_PER_MINUTE = 1000
    for n in range(ROOTS_PER_PAGE + 5):
        post_create(discussion=world.discussion, author=world.users["ta"], body=f"Point {n}.")
    client = client_for("student")
    first = _html(client.get(_thread(world)))
    assert "Point 0." in first and f"Point {ROOTS_PER_PAGE + 4}." not in first
    assert 'aria-label="Pages of this thread"' in first
    second = _html(client.get(_thread(world) + "?page=2"))
    assert f"Point {ROOTS_PER_PAGE + 4}." in second and "Point 0." not in second
    response = client.post(
        reverse("cases:post_create", args=[world.discussion.item.pk]), {"body": "Latest."}
    )
    assert "?page=2#post-" in response["Location"]


def test_pages_count_the_posts_each_reader_sees(world, client_for, settings):
    """Hidden posts take no place on a student's pages: a new post opens on the page
    that shows it, over htmx and without JavaScript; the author of a hidden post sees
    it, on pages of their own; staff see every post."""
    from cases.services.discussions import ROOTS_PER_PAGE

    settings.POSTS_PER_MINUTE = 1000
    roots = Post.objects.filter(discussion=world.discussion, parent=None).count()
    for n in range(ROOTS_PER_PAGE - roots):
        post_create(discussion=world.discussion, author=world.users["ta"], body=f"Point {n}.")
    post_moderate(post=world.post, action="hide", reason="Off topic")
    post_moderate(post=Post.objects.get(body="Point 0."), action="hide")
    classmate = client_for("student_ta_elsewhere")
    url = reverse("cases:post_create", args=[world.discussion.item.pk])

    shown = _html(classmate.post(url, {"body": "Latest."}, headers={"HX-Request": "true"}))
    assert "Latest." in shown and "Point 1." in shown
    assert 'aria-label="Pages of this thread"' not in shown
    assert "?page=1#post-" in classmate.post(url, {"body": "Later."})["Location"]

    theirs = _html(classmate.get(_thread(world)))
    assert "Later." in theirs and "Headcount is an input" not in theirs
    assert 'aria-label="Pages of this thread"' not in theirs
    author = client_for("student")
    first, second = (_html(author.get(_thread(world) + f"?page={n}")) for n in (1, 2))
    assert "Headcount is an input" in first and "Later." not in first
    assert "Later." in second and 'aria-label="Pages of this thread"' in second
    staff = _html(client_for("ta").get(_thread(world) + "?page=2"))
    assert "Later." in staff and "Point 1." not in staff


def test_the_paragraph_page_costs_the_same_for_one_thread_or_several(world, client_for):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from tests.factories import AssignmentFactory, make_discussion

    url = reverse("cases:paragraph_detail", args=[world.case.slug, 2])
    client = client_for("student")
    counts = []
    for _ in range(2):
        with CaptureQueriesContext(connection) as queries:
            assert client.get(url).status_code == 200
        counts.append(len(queries))
        for _ in range(3):
            more = make_discussion(world.discussion.item.module, world.case, title="Another")
            AssignmentFactory(item=more.item, cohort=world.item.assignments.get().cohort)
            post_create(discussion=more, author=world.users["ta"], body="See ¶2.")
    assert counts[0] == counts[1]


def test_citations_in_the_prompt_are_linked_too(world, client_for):
    Discussion.objects.filter(pk=world.discussion.pk).update(prompt="Start from ¶3.")
    html = _html(client_for("student").get(_thread(world)))
    assert f'href="/library/{world.case.slug}/#p3"' in html


def test_without_javascript_a_new_post_is_linked_to_and_posted_is_said(world, client_for):
    client = client_for("student_ta_elsewhere")
    response = client.post(
        reverse("cases:post_create", args=[world.discussion.item.pk]),
        {"body": "Process, not product (¶2).", "nonce": "n-1"},
    )
    post = world.discussion.posts.get(body__startswith="Process")
    assert response["Location"].endswith(f"#post-{post.pk}")
    assert "Posted." in client.get(response["Location"]).content.decode()


def test_a_paragraph_added_to_the_case_is_citable_in_the_next_post(world, client_for):
    """The case's paragraph numbers are kept per revision: an edit that adds one makes
    it citable at once, in posts and in the prompt."""
    from cases.services.readings import case_update

    student = client_for("student_ta_elsewhere")
    url = reverse("cases:post_create", args=[world.discussion.item.pk])
    added = world.case.paragraphs.count() + 1
    student.post(url, {"body": f"Before: ¶{added}.", "nonce": "a"})
    assert Post.objects.get(nonce="a").cited_paragraphs == []
    Discussion.objects.filter(pk=world.discussion.pk).update(prompt=f"Start from ¶{added}.")
    assert f"#p{added}" not in _html(student.get(_thread(world)))
    world.case.body += "\n\nA paragraph the instructor added."
    case_update(case=world.case)
    student.post(url, {"body": f"After: ¶{added}.", "nonce": "b"})
    assert Post.objects.get(nonce="b").cited_paragraphs == [added]
    assert f"#p{added}" in _html(student.get(_thread(world)))


def test_a_reply_whose_post_was_hidden_takes_a_place_and_pushes_none_off_the_pages(
    world, client_for, settings
):
    """A reply to a post hidden since stands as a top-level post, and the pages count
    it: for a student who sees a page of their own (a post of theirs hidden), the last
    post is on a second page, not off the end of the first."""
    from cases.services.discussions import ROOTS_PER_PAGE

    settings.POSTS_PER_MINUTE = 1000
    ta, reader = world.users["ta"], world.users["student_ta_elsewhere"]
    hidden = post_create(discussion=world.discussion, author=ta, body="Soon hidden.")
    post_create(
        discussion=world.discussion, author=world.users["student"], body="A reply.", parent=hidden
    )
    mine = post_create(discussion=world.discussion, author=reader, body="Mine, hidden.")
    for n in range(ROOTS_PER_PAGE - 2):
        post_create(discussion=world.discussion, author=ta, body=f"Point {n}.")
    post_moderate(post=hidden, action="hide")
    post_moderate(post=mine, action="hide")

    client = client_for("student_ta_elsewhere")
    first = _html(client.get(_thread(world)))
    assert "A reply." in first and 'aria-label="Pages of this thread"' in first
    last = f"Point {ROOTS_PER_PAGE - 3}."
    assert last not in first and last in _html(client.get(_thread(world) + "?page=2"))
