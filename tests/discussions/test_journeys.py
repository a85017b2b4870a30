"""Discussions used a second time, or where two features meet: journeys through the
real views, asserting what the people in them would notice."""

import pytest
from django.urls import reverse

from cases.models import Notification, ParticipationGrade, Post
from cases.services.discussions import ROOTS_PER_PAGE, post_create

pytestmark = pytest.mark.django_db


def _html(response) -> str:
    return response.content.decode()


def _fill_first_page(world, settings) -> None:
    """A full first page of top-level posts by the TA: the next post opens page 2."""
    settings.POSTS_PER_MINUTE = 1000
    roots = Post.objects.filter(discussion=world.discussion, parent=None).count()
    for n in range(ROOTS_PER_PAGE - roots):
        post_create(discussion=world.discussion, author=world.users["ta"], body=f"Point {n}.")


def test_a_reply_notice_and_a_moderators_return_land_on_the_page_holding_the_post(
    world, client_for, settings
):
    """A student's post on page 2 is replied to: the notice they follow shows the reply;
    the instructor who hides it from there comes back to the page that shows it."""
    _fill_first_page(world, settings)
    create = reverse("cases:post_create", args=[world.discussion.item.pk])
    client_for("student_ta_elsewhere").post(create, {"body": "A late argument."})
    late = Post.objects.get(body="A late argument.")
    client_for("student").post(create, {"body": "I disagree, see ¶1.", "parent": late.pk})
    reply = Post.objects.get(parent=late)

    notice = Notification.objects.get(user=world.users["student_ta_elsewhere"])
    page = _html(client_for("student_ta_elsewhere").get(notice.url))
    assert "I disagree" in page and f'id="post-{reply.pk}"' in page

    moderate = reverse("cases:post_moderate", args=[reply.pk])
    response = client_for("instructor").post(moderate, {"action": "hide", "reason": "Rude"})
    page = _html(client_for("instructor").get(response["Location"]))
    assert f'id="post-{reply.pk}"' in page and "Hidden from students: Rude." in page


def test_the_same_thread_given_to_two_cohorts_grades_each_student_out_of_their_own_points(
    world, client_for
):
    """Section A is given the thread for 10 points, section B for 20: a student of A
    can't be given 15 on the participation page (the grading page refuses it too), and
    their row says out of 10."""
    from tests.factories import AssignmentFactory, CohortFactory, MembershipFactory

    section_b = CohortFactory(name="Section B")
    world.course.cohorts.add(section_b)
    MembershipFactory(cohort=section_b, user=world.users["other_student"])
    AssignmentFactory(item=world.discussion.item, cohort=section_b, points=20)
    url = reverse("cases:participation", args=[world.discussion.item.pk])
    client = client_for("instructor")
    student = world.users["student"]

    response = client.post(url, {"student": student.pk, "points": "15"}, follow=True)
    assert not ParticipationGrade.objects.filter(user=student).exists()
    assert "at most 10" in _html(response)
    page = _html(client.get(url))
    assert f'id="points-{student.pk}" name="points" type="number" min="0" max="10"' in page
    other = world.users["other_student"].pk
    assert f'id="points-{other}" name="points" type="number" min="0" max="20"' in page

    client.post(url, {"student": other, "points": "15"})
    assert ParticipationGrade.objects.get(user=other).points == 15

    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from tests.factories import enrol

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get(url).status_code == 200
        return len(captured)

    before = queries()
    enrol(section_b, 25)
    assert queries() == before


def test_a_thread_locked_while_a_student_writes_keeps_their_text(world, client_for):
    """A student opens the thread and writes; meanwhile the TA locks it. Posting
    without JavaScript is refused with the reason, and the text is still on the page."""
    student = client_for("student_ta_elsewhere")
    assert "compose-body" in _html(student.get(world.discussion.item.get_absolute_url()))
    lock = reverse("cases:discussion_lock", args=[world.discussion.item.pk])
    client_for("ta").post(lock, {"locked": "1"})

    create = reverse("cases:post_create", args=[world.discussion.item.pk])
    page = _html(
        client_for("student_ta_elsewhere").post(create, {"body": "My long & careful case."})
    )
    assert "This thread is locked" in page
    assert "My long &amp; careful case." in page
    assert not Post.objects.filter(body__startswith="My long").exists()


def test_after_the_cut_off_a_students_posts_stand_as_handed_in(world, client_for):
    """A student posts; the thread falls due and refuses late work. Their page says so
    in place of the compose box, with no Edit or Delete; and an edit or delete sent from
    a page opened earlier is refused, leaving the post the grader reads as it was."""
    from datetime import timedelta

    from django.utils import timezone

    from cases.models import Assignment, LatePolicy

    client = client_for("student")
    thread = world.discussion.item.get_absolute_url()
    assert "Delete</button>" in _html(client.get(thread))
    Assignment.objects.filter(item=world.discussion.item).update(
        due_at=timezone.now() - timedelta(hours=1), late_policy=LatePolicy.REFUSE
    )

    page = _html(client.get(thread))
    assert "no longer accepts work" in page
    assert "compose-body" not in page and "Delete</button>" not in page
    edit = reverse("cases:post_edit", args=[world.post.pk])
    response = client.post(edit, {"body": "Rewritten after the deadline."})
    assert "no longer accepts work" in _html(response)
    client.post(reverse("cases:post_delete", args=[world.post.pk]))
    world.post.refresh_from_db()
    assert world.post.body == "Headcount is an input (¶2)." and not world.post.is_deleted


def test_names_posted_under_anonymity_stay_hidden_when_the_setting_is_turned_off(world, client_for):
    """A thread is anonymous to classmates and a student posts under it; the instructor
    then tries to turn anonymity off. The settings page refuses, beside the field, with
    what was typed kept; the classmate still sees no name."""
    from cases.models import Discussion

    settings_url = reverse("cases:discussion_settings", args=[world.discussion.item.pk])
    client_for("instructor").post(
        settings_url, {"case": world.case.pk, "prompt": "Argue it.", "anonymous": "on"}
    )
    assert Discussion.objects.get(pk=world.discussion.pk).anonymous
    create = reverse("cases:post_create", args=[world.discussion.item.pk])
    client_for("student_ta_elsewhere").post(create, {"body": "A frank view."})

    response = client_for("instructor").post(
        settings_url, {"case": world.case.pk, "prompt": "Argue it again, named."}
    )
    page = _html(response)
    assert response.status_code == 200 and "posted here anonymously" in page
    assert "Argue it again, named." in page
    assert Discussion.objects.get(pk=world.discussion.pk).anonymous

    page = _html(client_for("student").get(world.discussion.item.get_absolute_url()))
    assert "A frank view." in page
    assert world.users["student_ta_elsewhere"].display_name not in page


def test_a_thread_whose_posts_cite_its_case_keeps_that_case(world, client_for):
    """A student cites ¶2 of the thread's case; the instructor then tries to point the
    thread at another case. Refused beside the field: the post's ¶2 would otherwise be
    listed under the other case's ¶2, a paragraph it never cited."""
    from tests.factories import make_case

    other = make_case(created_by=world.users["instructor"], slug="tencent-qq", title="Tencent QQ")
    settings_url = reverse("cases:discussion_settings", args=[world.discussion.item.pk])
    response = client_for("instructor").post(
        settings_url, {"case": other.pk, "prompt": "Argue from Tencent."}
    )
    page = _html(response)
    assert response.status_code == 200 and "cite its paragraphs" in page
    assert "Argue from Tencent." in page

    reader = client_for("student_ta_elsewhere")
    wrong = _html(reader.get(reverse("cases:paragraph_detail", args=[other.slug, 2])))
    assert "Headcount is an input" not in wrong
    right = _html(reader.get(reverse("cases:paragraph_detail", args=[world.case.slug, 2])))
    assert "Headcount is an input" in right


def test_an_extension_keeps_a_closed_thread_open_to_its_student(world, client_for):
    """The thread closes for the class; one student was given an extension to later.
    Until their date they find the compose box and may post; a classmate without one
    finds the thread closed."""
    from datetime import timedelta

    from django.utils import timezone

    from cases.models import Assignment, Discussion, Extension

    now = timezone.now()
    Discussion.objects.filter(pk=world.discussion.pk).update(closes_at=now - timedelta(hours=1))
    assignment = Assignment.objects.get(item=world.discussion.item)
    Extension.objects.create(
        assignment=assignment, user=world.users["student"], due_at=now + timedelta(days=2)
    )
    thread = world.discussion.item.get_absolute_url()
    create = reverse("cases:post_create", args=[world.discussion.item.pk])

    classmate = client_for("student_ta_elsewhere")
    assert "closed for posting" in _html(classmate.get(thread))
    classmate.post(create, {"body": "Too late for me."})
    assert not Post.objects.filter(body="Too late for me.").exists()

    extended = client_for("student")
    page = _html(extended.get(thread))
    assert "closed for posting" not in page and "compose-body" in page
    extended.post(create, {"body": "My extended answer."})
    assert Post.objects.filter(body="My extended answer.").exists()


def test_points_refused_on_the_participation_page_are_kept_beside_their_message(world, client_for):
    """A grader types 12 for a student whose thread is out of 10: the page comes back
    with 12 still in that student's box and the reason beside it, not at the top of a
    fresh page; a grade saved earlier stands."""
    url = reverse("cases:participation", args=[world.discussion.item.pk])
    client = client_for("ta")
    student = world.users["student"].pk
    client.post(url, {"student": student, "points": "7"})

    response = client.post(url, {"student": student, "points": "12"})
    page = _html(response)
    assert response.status_code == 200
    box = page.split(f'id="points-{student}"', 1)[1].split("</td>", 1)[0]
    assert 'value="12"' in box and "at most 10" in box
    assert ParticipationGrade.objects.get(user=student).points == 7


def test_a_classmates_pseudonym_stays_theirs_when_another_post_is_hidden(world, client_for):
    """In an anonymous thread a student reads Classmate 1 and Classmate 2, and replies
    to Classmate 2 by name. A moderator hides Classmate 1's post: Classmate 2 is still
    Classmate 2 (not renamed Classmate 1, the name the reply now points at)."""
    import re

    from cases.models import Discussion
    from cases.services.discussions import post_moderate
    from tests.factories import MembershipFactory, UserFactory

    Discussion.objects.filter(pk=world.discussion.pk).update(anonymous=True)
    third = UserFactory(username="third")
    MembershipFactory(cohort=world.course.cohorts.get(), user=third)
    # The TA's post is the course staff's, numbered among no classmates.
    post_create(discussion=world.discussion, author=world.users["ta"], body="Staff view.")
    second = post_create(discussion=world.discussion, author=third, body="Second view.")
    client = client_for("student_ta_elsewhere")
    thread = world.discussion.item.get_absolute_url()

    def name_of(page: str, post: Post) -> str:
        return re.search(f'id="post-{post.pk}" aria-label="Post by ([^"]+)"', page)[1]

    page = _html(client.get(thread))
    assert (name_of(page, world.post), name_of(page, second)) == ("Classmate 1", "Classmate 2")
    post_moderate(post=world.post, action="hide", reason="Off topic")
    assert name_of(_html(client.get(thread)), second) == "Classmate 2"


def _form_fields(page: str, action: str) -> dict:
    """The hidden fields and textarea of the compose form posting to `action`."""
    import html
    import re

    form = page.split(f'action="{action}"', 1)[1].split("</form>", 1)[0]
    fields = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', form))
    body = re.search(r'<textarea id="compose-body" name="body"[^>]*>(.*?)</textarea>', form, re.S)
    return fields | {"body": html.unescape(body[1])}


def test_a_reply_to_a_post_taken_down_meanwhile_can_still_be_posted(world, client_for):
    """A student opens the reply form under a post (without JavaScript); meanwhile the
    post is hidden by a moderator. Their reply is refused with the reason and kept in
    the compose box, which now posts it on its own: sent again, it is posted."""
    from cases.services.discussions import post_moderate

    client = client_for("student_ta_elsewhere")
    thread = world.discussion.item.get_absolute_url()
    page = _html(client.get(f"{thread}?reply={world.post.pk}"))
    assert f'id="reply-{world.post.pk}"' in page
    post_moderate(post=world.post, action="hide", reason="Off topic")

    create = reverse("cases:post_create", args=[world.discussion.item.pk])
    form = {"body": "Headcount is not an input, though.", "parent": world.post.pk}
    page = _html(client.post(create, form))
    assert "taken down or deleted" in page
    again = _form_fields(page, create)
    assert again["body"] == form["body"] and "parent" not in again
    client.post(create, again)
    assert Post.objects.get(body=form["body"]).parent is None

    # Likewise under a post its author deleted meanwhile, over htmx: refused, not posted.
    theirs = post_create(discussion=world.discussion, author=world.users["student"], body="Mine.")
    client_for("student").post(reverse("cases:post_delete", args=[theirs.pk]))
    response = client_for("student_ta_elsewhere").post(
        create, {"body": "Too late.", "parent": theirs.pk}, headers={"HX-Request": "true"}
    )
    assert response.status_code == 400 and "taken down or deleted" in _html(response)
    assert not Post.objects.filter(body="Too late.").exists()


def test_deleting_a_post_on_a_later_page_returns_to_that_page(world, client_for, settings):
    """A student deletes their post on page 2 (without JavaScript): they come back to
    page 2, where it now says deleted, not to page 1."""
    _fill_first_page(world, settings)
    create = reverse("cases:post_create", args=[world.discussion.item.pk])
    client = client_for("student_ta_elsewhere")
    client.post(create, {"body": "Second thoughts."})
    late = Post.objects.get(body="Second thoughts.")
    response = client.post(reverse("cases:post_delete", args=[late.pk]), follow=True)
    page = _html(response)
    assert "Your post was deleted." in page
    article = page.split(f'id="post-{late.pk}"', 1)[1].split("</article>", 1)[0]
    assert "This post was deleted by its author." in article


def test_an_endorsement_is_told_to_its_author_once_the_class_can_see_the_post(world, client_for):
    """A TA hides a student's post; the instructor endorses it. The student is not told
    of an endorsement on a post the class can't see; once it is unhidden, they are,
    once."""
    moderate = reverse("cases:post_moderate", args=[world.post.pk])
    client_for("ta").post(moderate, {"action": "hide", "reason": "Check the numbers"})
    client_for("instructor").post(moderate, {"action": "endorse"})
    author = world.users["student"]
    assert not Notification.objects.filter(user=author, kind="endorsed").exists()
    client_for("instructor").post(moderate, {"action": "unhide"})
    client_for("instructor").post(moderate, {"action": "unhide"})
    assert Notification.objects.filter(user=author, kind="endorsed").count() == 1


def test_following_a_thread_tells_of_new_posts_once_until_read_and_stops_when_unfollowed(
    world, client_for, settings
):
    """The student follows the thread: a classmate's post brings one notice, a second
    post no other while it is unread, and once read the next post brings another. A
    reply to their own post is told as a reply only. Staff follow like anyone (the page
    does not claim they do); unfollowing, or leaving the course, ends the notices."""
    settings.POSTS_PER_MINUTE = 1000
    item = world.discussion.item
    follow = reverse("cases:discussion_follow", args=[item.pk])
    create = reverse("cases:post_create", args=[item.pk])
    student, classmate = world.users["student"], world.users["student_ta_elsewhere"]

    def notices(user, kind="followed_post"):
        return list(Notification.objects.filter(user=user, kind=kind).order_by("pk"))

    page = _html(client_for("instructor").get(item.get_absolute_url()))
    assert "Follow this thread" in page
    client_for("instructor").post(follow, {"follow": "1"})
    client_for("student").post(follow, {"follow": "1"})
    assert "Stop following" in _html(client_for("student").get(item.get_absolute_url()))

    client_for("student_ta_elsewhere").post(create, {"body": "Licensing was cheaper."})
    first = Post.objects.get(body="Licensing was cheaper.")
    [notice] = notices(student)
    assert notice.title == f"New posts in {item.title}"
    assert "student_ta_elsewhere" not in notice.title
    assert notices(classmate) == []  # Not told of their own post.
    assert len(notices(world.users["instructor"])) == 1
    page = _html(client_for("student").get(notice.url))
    assert f'id="post-{first.pk}"' in page

    # A second post while the notice is unread: still one.
    client_for("student_ta_elsewhere").post(create, {"body": "And faster."})
    assert len(notices(student)) == 1
    # Read (opened from the bell), the next post tells again.
    client_for("student").get(reverse("cases:notification_open", args=[notice.pk]))
    client_for("student_ta_elsewhere").post(create, {"body": "Third point."})
    assert len(notices(student)) == 2
    client_for("student").get(reverse("cases:notification_open", args=[notices(student)[1].pk]))

    # A reply to the student's own post is a reply notice, not a second one.
    client_for("student_ta_elsewhere").post(create, {"body": "Not so.", "parent": world.post.pk})
    assert len(notices(student)) == 2
    assert len(notices(student, "reply")) == 1

    # Unfollowed: nothing more.
    client_for("student").post(follow, {"follow": "0"})
    client_for("student_ta_elsewhere").post(create, {"body": "Fourth point."})
    assert len(notices(student)) == 2

    # Following again, then taken out of the section: nothing either.
    client_for("student").post(follow, {"follow": "1"})
    student.memberships.all().delete()
    client_for("student_ta_elsewhere").post(create, {"body": "Fifth point."})
    assert len(notices(student)) == 2


def test_a_reason_for_hiding_too_long_to_keep_is_refused_not_cut(world, client_for):
    """The hide box stops typing at what can be kept; a longer reason sent anyway (an
    older page, a script) is refused with its length, for a post and for a note alike,
    and nothing is hidden with half a reason."""
    from cases.models import Annotation
    from cases.permissions import CaseAccess
    from cases.services.annotations import Selection, annotation_create
    from cases.services.discussions import HIDE_REASON_MAX

    client = client_for("instructor")
    page = _html(client.get(world.discussion.item.get_absolute_url()))
    assert (
        f'name="reason" placeholder="Reason to hide" class="reason" maxlength="{HIDE_REASON_MAX}"'
        in page
    )
    long = "Off topic. " * 30  # 330 characters.
    moderate = reverse("cases:post_moderate", args=[world.post.pk])
    refused = client.post(
        moderate, {"action": "hide", "reason": long}, headers={"HX-Request": "true"}
    )
    assert refused.status_code == 400
    assert f"at most {HIDE_REASON_MAX} characters; this one has 329" in _html(refused)
    world.post.refresh_from_db()
    assert world.post.hidden_at is None
    client.post(moderate, {"action": "hide", "reason": long[:200]})
    world.post.refresh_from_db()
    assert world.post.hidden_reason == long[:200].strip()

    note = annotation_create(
        case=world.case,
        author=world.users["student"],
        access=CaseAccess(is_teaching_staff=False, can_edit=False),
        selection=Selection(2, 0, 2, 6),
        body="Off-topic rant.",
    )
    url = reverse("cases:annotation_moderate", args=[note.pk])
    refused = client.post(url, {"action": "hide", "reason": long}, headers={"HX-Request": "true"})
    assert refused.status_code == 400 and "this one has 329" in _html(refused)
    assert Annotation.objects.get(pk=note.pk).hidden_at is None


def test_a_posts_words_are_counted_as_a_memos_are_not_its_markdown_marks(world, client_for):
    """A student posts a line of dashes, a bullet and three words, then edits it to a
    rule of stars and one word. The participation page counts the words a grader would
    read (3, then 1), as a memo's and a note's are counted, not the Markdown marks."""
    from cases.services.discussions import post_edit

    author = world.users["student_ta_elsewhere"]
    post = post_create(
        discussion=world.discussion, author=author, body="- - - - - -\n\n* **Agreed**: D wins."
    )
    url = reverse("cases:participation", args=[world.discussion.item.pk])
    client = client_for("instructor")

    def words() -> str:
        page = _html(client.get(url))
        row = page.split(author.display_name, 1)[1].split("</tr>", 1)[0]
        return row.split("<td>")[3].split("</td>")[0]

    assert words() == "3"
    post_edit(post=post, body="* * *\n\nAgreed.")
    assert words() == "1"
