"""A grader's feedback on a handed-in memo, as journeys: comments on words (across
paragraphs, with emoji, posted twice), who reads them before and after release,
grading from the grader with and without a rubric, and what changed between
versions."""

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from cases.models import (
    MemoComment,
    Notification,
    NotificationKind,
    PeerReview,
    Rubric,
    Work,
    WorkStatus,
)
from cases.models.workspace import work_status
from cases.services import analyses
from cases.services.gradebook import assignment_release
from cases.services.memo_feedback import version_blocks
from tests.factories import CohortFactory, MembershipFactory, UserFactory, make_analysis

pytestmark = pytest.mark.django_db
HTMX = {"HX-Request": "true"}
CITED = {"label": "Cited", "points": 5}

FIRST = """The firm should buy the lab 😀 rather than build one. It saves two years.

- Licences come with the deal.
- Staff stay on.

Building would cost more 🚀 and take longer. The board prefers speed."""

SECOND = """The firm should buy the lab rather than build one. It saves three years.

- Licences come with the deal.
- Staff stay on.

Building would cost more and take longer. The board prefers speed, as ¶2 shows."""


@pytest.fixture
def memo(world):
    """A student's memo handed in once, on an analysis given to the course's section."""
    analysis = make_analysis(world.item.module, world.course.cohorts.all(), case=world.case)
    item = analysis.item
    version = analyses.memo_submit(item=item, user=world.users["student"], body=FIRST)
    return world, item, version


def _selection(version, paragraph, start, end_paragraph, end):
    """The offsets and words a browser sends for a selection (counted in code points)."""
    blocks = {b.number: b.text for b in version_blocks(version.body_html)}
    if paragraph == end_paragraph:
        quote = blocks[paragraph][start:end]
    else:
        middle = [blocks[n] for n in range(paragraph + 1, end_paragraph)]
        quote = "\n\n".join([blocks[paragraph][start:], *middle, blocks[end_paragraph][:end]])
    return {
        "paragraph": paragraph,
        "start": start,
        "end_paragraph": end_paragraph,
        "end": end,
        "quote": quote,
    }


def _comment(client, version, body, nonce, htmx=False, **selection):
    url = reverse("cases:memo_comment_create", args=[version.pk])
    return client.post(
        url, {"body": body, "nonce": nonce, **selection}, headers=HTMX if htmx else {}
    )


def test_a_ta_comments_and_the_student_reads_it_once_released(client, memo):
    world, item, version = memo
    student, ta = world.users["student"], world.users["ta"]
    blocks = version_blocks(version.body_html)
    assert [b.number for b in blocks] == [1, 2, 3]
    # The TA selects "buy the lab 😀" (the emoji is one character, as the server counts).
    text = blocks[0].text
    start = text.index("buy")
    end = text.index("😀") + 1
    one = _selection(version, 1, start, 1, end)
    assert one["quote"] == "buy the lab 😀"
    client.force_login(ta)
    response = _comment(client, version, "Say **why** buying is faster.", "n1", **one)
    assert response.status_code == 302
    # The same form sent twice makes one comment.
    _comment(client, version, "Say **why** buying is faster.", "n1", **one)
    assert MemoComment.objects.count() == 1
    first = MemoComment.objects.get()
    assert (first.paragraph, first.start, first.end, first.quote) == (1, start, end, one["quote"])
    assert first.body_html == "<p>Say <strong>why</strong> buying is faster.</p>"
    # A second passage, from the list into the last paragraph, with htmx: the margin
    # and the mark come back without a reload.
    across = _selection(version, 2, 1, 3, len("Building would cost more 🚀"))
    response = _comment(client, version, "This list is not evidence.", "n2", htmx=True, **across)
    assert response.status_code == 200
    assert response["HX-Retarget"] == "#memo-layer"
    second = MemoComment.objects.get(nonce="n2")
    assert (second.paragraph, second.end_paragraph) == (2, 3)
    assert second.quote.endswith("Building would cost more 🚀")
    assert f'id="c{second.pk}"' in response.text
    assert response.text.count(f'data-comments="{second.pk}"') >= 2  # Marked in both.
    page = client.get(reverse("cases:memo_version", args=[version.pk]))
    mark = f'<mark class="hl memo-hl" data-comments="{first.pk}">buy the lab 😀</mark>'
    assert mark in page.text
    assert "¶2 to ¶3" in page.text
    # The student: the text, no comments before release.
    client.force_login(student)
    page = client.get(reverse("cases:memo_version", args=[version.pk]))
    assert page.status_code == 200
    assert "Feedback not released yet" in page.text
    assert "buying is faster" not in page.text and "memo-hl" not in page.text
    assert "+ comment" not in page.text
    # The student may not comment on their own memo.
    assert _comment(client, version, "Me too", "s1", **one).status_code == 403
    # Released: the comments in the margin of their own text.
    assignment_release(assignment=item.assignments.get(), released=True)
    page = client.get(reverse("cases:memo_version", args=[version.pk]))
    assert "Feedback not released yet" not in page.text
    assert "Say <strong>why</strong> buying is faster." in page.text
    assert "This list is not evidence." in page.text
    assert "memo-hl" in page.text and "+ comment" not in page.text
    # Their writing page links the version.
    writing = client.get(item.get_absolute_url())
    assert reverse("cases:memo_version", args=[version.pk]) in writing.text


def test_a_paragraph_sentence_picked_without_script(client, memo):
    world, _item, version = memo
    client.force_login(world.users["instructor"])
    form = client.get(reverse("cases:memo_comment_create", args=[version.pk]) + "?paragraph=3")
    assert form.status_code == 200
    assert "Sentence 2: The board prefers speed." in form.text
    text = version_blocks(version.body_html)[2].text
    start = text.index("The board")
    response = client.post(
        reverse("cases:memo_comment_create", args=[version.pk]),
        {"paragraph": 3, "sentence": f"{start}-{len(text)}", "body": "Evidence?", "nonce": "k1"},
    )
    assert response.status_code == 302
    assert MemoComment.objects.get().quote == "The board prefers speed."
    # An empty comment is refused beside the field, the words chosen kept.
    refused = client.post(
        reverse("cases:memo_comment_create", args=[version.pk]),
        {"paragraph": 3, "sentence": f"{start}-{len(text)}", "body": "  ", "nonce": "k2"},
    )
    assert refused.status_code == 400
    assert "Write your comment before saving it." in refused.text
    assert f'value="{start}-{len(text)}" selected' in refused.text
    # Words not in the version are refused, and the comment typed is kept.
    wrong = _selection(version, 1, 0, 1, 5) | {"quote": "Nothing like this"}
    refused = _comment(client, version, "Keep me", "k3", **wrong)
    assert "not in this version" in refused.text and "Keep me" in refused.text
    assert MemoComment.objects.count() == 1


def test_who_reads_a_version(client, memo):
    world, item, version = memo
    url = reverse("cases:memo_version", args=[version.pk])
    # A classmate in the same section, not the author: not told it exists.
    classmate = UserFactory(username="classmate")
    MembershipFactory(cohort=world.course.cohorts.get(), user=classmate)
    client.force_login(classmate)
    assert client.get(url).status_code == 404
    assert client.get(reverse("cases:memo_changes", args=[version.pk])).status_code == 404
    # Given the memo to review, they read it on their review page, never its feedback.
    PeerReview.objects.create(
        item=item, reviewer=classmate, author=world.users["student"], version=version, position=1
    )
    assert client.get(url).status_code == 404
    # A TA of the course limited to another section: 404 as well.
    other = CohortFactory(name="Section B")
    world.course.cohorts.add(other)
    limited = UserFactory(username="limited_ta")
    world.course.teaching_assistants.add(limited)
    other.teaching_assistants.add(limited)
    client.force_login(limited)
    assert client.get(url).status_code == 404
    assert _comment(client, version, "x", "t1", paragraph=1, sentence="").status_code == 404
    # The course's TA (no sections of their own) and its instructor read it.
    for role in ("ta", "instructor", "admin"):
        client.force_login(world.users[role])
        assert client.get(url).status_code == 200


def test_deleting_a_comment(client, memo):
    world, _item, version = memo
    ta, instructor = world.users["ta"], world.users["instructor"]
    client.force_login(ta)
    _comment(client, version, "First", "d1", paragraph=1, sentence="")
    _comment(client, version, "Second", "d2", paragraph=3, sentence="")
    first, second = MemoComment.objects.order_by("pk")
    # Another TA of the course may not delete the TA's comment; the instructor may.
    colleague = UserFactory(username="colleague")
    world.course.teaching_assistants.add(colleague)
    client.force_login(colleague)
    delete = reverse("cases:memo_comment_delete", args=[first.pk])
    assert client.post(delete).status_code == 403
    client.force_login(instructor)
    response = client.post(delete, headers=HTMX)
    assert response.status_code == 200 and "Comment deleted." in response.text
    assert "First" not in response.text and "Second" in response.text
    # Its author deletes their own, without script: back to the page.
    client.force_login(ta)
    response = client.post(reverse("cases:memo_comment_delete", args=[second.pk]))
    assert response.status_code == 302
    assert not MemoComment.objects.exists()
    # The student cannot delete anything, and is not told whether it existed.
    client.force_login(world.users["student"])
    assert client.post(delete).status_code == 404


def test_grading_a_memo_with_a_rubric_from_the_grader(client, memo):
    world, item, version = memo
    rubric = Rubric.objects.create(
        course=world.course,
        title="Memo",
        criteria=[
            {
                "name": "Evidence",
                "levels": [{"label": "Thin", "points": 1}, {"label": "Strong", "points": 4}],
            },
            {
                "name": "Clarity",
                "levels": [{"label": "Muddled", "points": 0}, {"label": "Clear", "points": 2}],
            },
        ],
    )
    item.rubric = rubric
    item.save()
    student = world.users["student"]
    client.force_login(world.users["ta"])
    url = reverse("cases:grade_work", args=[item.pk, student.pk])
    page = client.get(url)
    assert page.status_code == 200
    # The text with its comment tools beside the rubric; no points field.
    assert "data-comments-layer" in page.text and "buy the lab" in page.text
    assert "Evidence" in page.text and "Points (out of" not in page.text
    assert "Not released yet" in page.text
    form = page.context["form"]
    data = {f"initial-{k}": v for k, v in form.initial.items() if v is not None}
    data |= {"criterion_0": "1", "criterion_1": "1", "feedback": "A clear case for buying."}
    assert client.post(url, data).status_code == 302
    work = Work.objects.get(item=item, user=student)
    assert work.rubric_score == Decimal(6) and work.feedback == "A clear case for buying."
    # Released: the student reads the levels chosen and the comment.
    assignment_release(assignment=item.assignments.get(), released=True)
    client.force_login(student)
    page = client.get(reverse("cases:memo_version", args=[version.pk]))
    assert "Strong" in page.text and "Clear" in page.text
    assert "A clear case for buying." in page.text and "6 of 6" in page.text


def test_grading_a_memo_without_a_rubric_in_points(client, memo):
    world, item, _version = memo
    student = world.users["student"]
    client.force_login(world.users["instructor"])
    queue = client.get(reverse("cases:grading_queue", args=[world.course.pk]))
    assert item.title in queue.text
    url = reverse("cases:grade_work", args=[item.pk, student.pk])
    page = client.get(url)
    assert "Points (out of" in page.text and "Participation" not in page.text
    form = page.context["form"]
    data = {f"initial-{k}": v for k, v in form.initial.items() if v is not None}
    # Too many points are refused beside the field.
    most = item.assignments.get().points
    refused = client.post(url, data | {"participation": str(most + 1)})
    assert refused.status_code == 200 and "less than or equal" in refused.text
    assert client.post(url, data | {"participation": "7.5"}).status_code == 302
    work = Work.objects.get(item=item, user=student)
    assert work.auto_score == Decimal("7.5") and not work.needs_grading
    assert work.graded_by == world.users["instructor"]
    assignment = item.assignments.get()
    assert work_status(work, assignment, timezone.now()) == WorkStatus.GRADED
    queue = client.get(reverse("cases:grading_queue", args=[world.course.pk]))
    assert item.title not in queue.text
    # Released, the student reads their points.
    assignment_release(assignment=assignment, released=True)
    client.force_login(student)
    page = client.get(reverse("cases:memo_version", args=[_version.pk]))
    assert f"7.50 of {assignment.points}" in page.text
    client.force_login(world.users["instructor"])
    # Saving again without touching the points leaves them.
    page = client.get(url)
    form = page.context["form"]
    data = {f"initial-{k}": v for k, v in form.initial.items() if v is not None}
    client.post(url, data | {"participation": "7.5", "feedback": "Good."})
    assert Work.objects.get(item=item, user=student).auto_score == Decimal("7.5")
    # Emptying the points takes the grade away: the memo waits in the queue again.
    page = client.get(url)
    form = page.context["form"]
    data = {f"initial-{k}": v for k, v in form.initial.items() if v is not None}
    assert client.post(url, data | {"participation": "", "feedback": "Good."}).status_code == 302
    work = Work.objects.get(item=item, user=student)
    assert work.auto_score is None and work.needs_grading
    queue = client.get(reverse("cases:grading_queue", args=[world.course.pk]))
    assert item.title in queue.text


def test_what_changed_between_two_versions(client, memo):
    world, item, first = memo
    student = world.users["student"]
    second = analyses.memo_submit(item=item, user=student, body=SECOND)
    assert second.number == 2
    url = reverse("cases:memo_changes", args=[second.pk])
    client.force_login(world.users["ta"])
    page = client.get(url)
    assert page.status_code == 200
    text = page.text
    assert '<del><span class="visually-hidden">[removed: </span>two<span' in text
    assert '<ins><span class="visually-hidden">[added: </span>three<span' in text
    assert "😀" in text and "<del>" in text.split("😀")[0][-200:]  # The emoji removed.
    assert "as ¶2 shows." in text
    # The grader shows the latest version and, under the selector, the same changes.
    grader = client.get(reverse("cases:grade_work", args=[item.pk, student.pk]))
    assert "What changed from version 1" in grader.text and "[added: </span>three" in grader.text
    earlier = client.get(reverse("cases:grade_work", args=[item.pk, student.pk]) + "?version=1")
    assert "What changed from version" not in earlier.text and "😀" in earlier.text
    # The first version has nothing to compare; the author reads the changes too.
    client.force_login(student)
    assert (
        "first version handed in" in client.get(reverse("cases:memo_changes", args=[first.pk])).text
    )
    assert client.get(url).status_code == 200
    # A file version says it cannot be compared.
    second.file = "memos/1/x.pdf"
    second.save()
    assert "cannot be compared" in client.get(url).text


def test_a_due_date_passed_keeps_comments_where_they_were(client, memo):
    """Versions never change: a comment's marks stay on its words however the memo
    goes on (a later version is a new text with no comments of its own)."""
    world, item, first = memo
    client.force_login(world.users["ta"])
    one = _selection(first, 3, 0, 3, len("Building"))
    _comment(client, first, "Why?", "z1", **one)
    item.assignments.update(due_at=timezone.now() + timedelta(days=1))
    second = analyses.memo_submit(item=item, user=world.users["student"], body=SECOND)
    page = client.get(reverse("cases:memo_version", args=[first.pk]))
    assert "<mark" in page.text and ">Building</mark>" in page.text
    page = client.get(reverse("cases:memo_version", args=[second.pk]))
    assert "<mark" not in page.text


@pytest.mark.django_db(transaction=True)
def test_the_same_form_sent_at_once_makes_one_comment_and_points_stay_whole(world):
    from django.db import connection

    from cases.services.annotations import Selection
    from cases.services.memo_feedback import comment_create, memo_points
    from tests.helpers import at_once

    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL's concurrent connections; SQLite serialises writers")
    analysis = make_analysis(world.item.module, world.course.cohorts.all(), case=world.case)
    item, student, ta = analysis.item, world.users["student"], world.users["ta"]
    version = analyses.memo_submit(item=item, user=student, body=FIRST)
    selection = Selection(3, 0, 3, len("Building"), "Building")
    errors = at_once(
        lambda: comment_create(
            version=version, author=ta, selection=selection, body="Why?", nonce="same"
        ),
        8,
    )
    assert errors == []
    assert MemoComment.objects.filter(version=version).count() == 1
    # Two graders saving points at once: one after the other, the Work in step.
    scores = iter([Decimal(6), Decimal(8)])
    errors = at_once(
        lambda: memo_points(item=item, student=student, points=next(scores), grader=ta), 2
    )
    assert errors == []
    memo = item.memos.get(author=student)
    assert Work.objects.get(item=item, user=student).auto_score == memo.points


def test_a_memo_handed_in_again_after_its_grade_waits_for_one_again(client, memo):
    """Graded with the rubric, then revised before the due date: the grade stands for
    the old text, so the memo is "handed in" again and back in the queue; the grader
    saving (the same levels) answers it."""
    world, item, _version = memo
    student, ta = world.users["student"], world.users["ta"]
    item.rubric = Rubric.objects.create(
        course=world.course,
        title="Memo",
        criteria=[{"name": "Evidence", "levels": [{"label": "Thin", "points": 0}, CITED]}],
    )
    item.save()
    client.force_login(ta)
    url = reverse("cases:grade_work", args=[item.pk, student.pk])
    form = client.get(url).context["form"]
    data = {f"initial-{k}": v for k, v in form.initial.items() if v is not None}
    assert client.post(url, data | {"criterion_0": "1"}).status_code == 302
    assignment = item.assignments.get()
    work = Work.objects.get(item=item, user=student)
    assert work_status(work, assignment, timezone.now()) == WorkStatus.GRADED
    queue = reverse("cases:grading_queue", args=[world.course.pk])
    assert item.title not in client.get(queue).text
    # The student hands in a new text before the due date.
    analyses.memo_submit(item=item, user=student, body=SECOND)
    work.refresh_from_db()
    assert work.needs_grading and work.rubric_score == 5
    assert work_status(work, assignment, timezone.now()) == WorkStatus.SUBMITTED
    assert item.title in client.get(queue).text
    # The tracker's "graded" filter agrees with the status.
    tracker = client.get(reverse("cases:tracker", args=[world.course.pk]), {"status": "graded"})
    assert student.display_name not in tracker.text
    # The TA reads the new version and saves the same levels: graded again.
    form = client.get(url).context["form"]
    data = {f"initial-{k}": v for k, v in form.initial.items() if v is not None}
    assert client.post(url, data | {"criterion_0": "1"}).status_code == 302
    work.refresh_from_db()
    assert not work.needs_grading
    assert work_status(work, assignment, timezone.now()) == WorkStatus.GRADED
    assert item.title not in client.get(queue).text


def _page_fields(html: str) -> dict:
    """The hidden fields of the grader's form that say what the page showed."""
    return dict(re.findall(r'<input type="hidden" name="(memo_version)" value="(\d+)"', html))


def test_a_grade_saved_from_a_page_opened_before_a_new_version_does_not_grade_it(client, memo):
    """The TA reads version 1 and types 8 points; meanwhile the student hands in version
    2. Saving would make 8 the grade of a text nobody read: the grader refuses, keeps
    what was typed and shows version 2; saved from there, the grade stands for it."""
    world, item, _version = memo
    student, ta = world.users["student"], world.users["ta"]
    assignment = item.assignments.get()
    client.force_login(ta)
    url = reverse("cases:grade_work", args=[item.pk, student.pk])
    page = client.get(url)
    assert _page_fields(page.text) == {"memo_version": "1"}
    analyses.memo_submit(item=item, user=student, body=SECOND)
    stale = client.post(
        url, {"participation": "8", "feedback": "Clear.", **_page_fields(page.text)}
    )
    assert stale.status_code == 200
    assert "Version 2 was handed in since this page was opened, so nothing was saved" in stale.text
    assert 'value="8"' in stale.text and "three years" in stale.text  # Kept; v2 shown.
    work = Work.objects.get(item=item, user=student)
    assert work.auto_score is None and work.feedback == ""
    assert work_status(work, assignment, timezone.now()) == WorkStatus.SUBMITTED
    assert item.title in client.get(reverse("cases:grading_queue", args=[world.course.pk])).text

    again = client.post(
        url, {"participation": "8", "feedback": "Clear.", **_page_fields(stale.text)}
    )
    assert again.status_code == 302
    work.refresh_from_db()
    assert work.auto_score == Decimal(8) and work.feedback == "Clear."
    assert work_status(work, assignment, timezone.now()) == WorkStatus.GRADED


def test_a_grade_given_after_the_release_is_announced_as_one_given_before(client, memo):
    """The instructor releases the memo's grades with half the class graded; a grade
    given afterwards shows on the student's grades page at once, and the student is
    told, as those graded before the release were (once, however often it is saved)."""
    world, item, _version = memo
    student = world.users["student"]
    assignment = item.assignments.get()
    client.force_login(world.users["instructor"])
    client.post(reverse("cases:assignment_release", args=[assignment.pk]), {"release": "1"})
    released = Notification.objects.filter(user=student, kind=NotificationKind.GRADE_RELEASED)
    assert not released.exists()  # Nothing to tell yet: not graded.

    url = reverse("cases:grade_work", args=[item.pk, student.pk])
    fields = _page_fields(client.get(url).text)
    assert client.post(url, {"participation": "8", **fields}).status_code == 302
    assert client.post(url, {"participation": "9", **fields}).status_code == 302
    (notice,) = released
    assert notice.url == reverse("cases:student_grades", args=[world.course.pk])


def test_the_version_page_shows_the_grade_that_counts_as_my_grades_does(client, world):
    """A memo handed in three days late under a 10% a day penalty, given 8 points and
    released: the student's version page says 5.60 of 10, as "My grades" does, not the 8
    before the penalty; and once the instructor overrides the grade in the gradebook,
    both say the override."""
    from cases.models import LatePolicy
    from cases.services.workspace.grading import work_grade

    analysis = make_analysis(world.item.module, world.course.cohorts.all(), case=world.case)
    item, student = analysis.item, world.users["student"]
    assignment = item.assignments.get()
    assignment.due_at = timezone.now() - timedelta(days=2, hours=1)
    assignment.late_policy, assignment.late_penalty_percent = LatePolicy.PENALIZE, 10
    assignment.save()
    version = analyses.memo_submit(item=item, user=student, body=FIRST)
    client.force_login(world.users["instructor"])
    url = reverse("cases:grade_work", args=[item.pk, student.pk])
    form = client.get(url).context["form"]
    data = {f"initial-{k}": v for k, v in form.initial.items() if v is not None}
    assert client.post(url, data | {"participation": "8"}).status_code == 302
    assignment_release(assignment=assignment, released=True)
    client.force_login(student)
    grades = client.get(reverse("cases:student_grades", args=[world.course.pk])).text
    assert "5.60 / 10" in grades
    page = client.get(reverse("cases:memo_version", args=[version.pk])).text
    assert "5.60 of 10" in page and "8 of 10" not in page
    assert "late penalty" in page
    work_grade(
        item=item,
        student=student,
        grader=world.users["instructor"],
        override_score=Decimal("9"),
        override_reason="Illness.",
    )
    assert "9 / 10" in client.get(reverse("cases:student_grades", args=[world.course.pk])).text
    page = client.get(reverse("cases:memo_version", args=[version.pk])).text
    assert "9 of 10" in page and "5.60 of 10" not in page
