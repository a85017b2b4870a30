"""Where written analyses meet the rest of the course: extensions and peer review,
deleting an item whose memos are files, and the like. Each test is a journey found by
using the feature a second time or beside another one."""

from datetime import timedelta

import pytest
from django.contrib.messages import get_messages
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from cases.models import Extension, LatePolicy, Memo, MemoVersion, PeerReview, Work
from cases.services import peer_review as services
from cases.services.analyses import memo_submit
from cases.services.memo_files import memo_file_submit
from tests.analyses.test_peer_review import Class
from tests.analyses.test_uploads import PDF, stored
from tests.analyses.test_uploads import media as media
from tests.factories import (
    AssignmentFactory,
    CohortFactory,
    MembershipFactory,
    UserFactory,
    make_analysis,
)
from tests.helpers import data_queries


@pytest.fixture
def media_root(media):
    return media


pytestmark = pytest.mark.django_db


def _write(client, item, body, action="submit", nonce=""):
    return client.post(
        reverse("cases:analysis_write", args=[item.pk]),
        {"body": body, "action": action, "nonce": nonce},
    )


def test_a_student_still_within_an_extension_is_not_reviewed_until_it_passes(client):
    world = Class(size=5, reviews_each=2)
    now = timezone.now()
    for student in world.students:
        memo_submit(
            item=world.item, user=student, body="Buy it: memo one.", now=now - timedelta(days=2)
        )
    late_a, late_b = world.students[0], world.students[1]
    for student in (late_a, late_b):
        Extension.objects.create(
            assignment=world.assignment, user=student, due_at=now + timedelta(days=2)
        )
    client.force_login(world.instructor)
    response = client.post(reverse("cases:peer_reviews_assign", args=[world.item.pk]))
    said = " ".join(str(m) for m in get_messages(response.wsgi_request))
    assert "2 students with an extension are left out until it has passed" in said
    # Neither reviews a classmate's memo nor has theirs given to anyone.
    involved = PeerReview.objects.filter(item=world.item)
    assert not involved.filter(reviewer__in=[late_a, late_b]).exists()
    assert not involved.filter(author__in=[late_a, late_b]).exists()
    assert involved.count() == 3 * 2
    # So within the extension the student may still improve the memo.
    client.force_login(late_a)
    _write(client, world.item, "Buy it: memo two, improved.", nonce="a2")
    assert MemoVersion.objects.filter(memo__author=late_a).count() == 2
    # Once the extensions pass, assigning again gives the two each other's latest.
    Extension.objects.update(due_at=now - timedelta(minutes=1))
    client.force_login(world.instructor)
    client.post(reverse("cases:peer_reviews_assign", args=[world.item.pk]))
    mine = PeerReview.objects.get(item=world.item, reviewer=late_b)
    assert mine.author == late_a and mine.version.number == 2


def test_an_extension_after_reviews_were_assigned_does_not_unpin_the_memo(client):
    world = Class(size=4, reviews_each=2)
    now = timezone.now()
    for student in world.students:
        memo_submit(
            item=world.item, user=student, body="Buy it: memo one.", now=now - timedelta(days=2)
        )
    client.force_login(world.instructor)
    client.post(reverse("cases:peer_reviews_assign", args=[world.item.pk]))
    student = world.students[2]
    assert PeerReview.objects.filter(author=student).count() == 2
    # An extension granted afterwards moves the student's review deadline…
    Extension.objects.create(
        assignment=world.assignment, user=student, due_at=now + timedelta(days=1)
    )
    client.force_login(student)
    page = client.get(world.item.get_absolute_url())
    assert "Classmates have been given your memo to review" in page.text
    # …but the memo the reviewers were given stays as they read it.
    response = _write(client, world.item, "Buy it: a second memo.", nonce="b2")
    assert response.status_code == 400
    assert "Classmates have been given your memo to review" in response.text
    assert Memo.objects.get(author=student).draft == "Buy it: a second memo."  # Kept.
    assert MemoVersion.objects.filter(memo__author=student).count() == 1
    # Peer review switched off: the memo is no longer pinned by reviews nobody reads.
    world.analysis.peer_review = False
    world.analysis.save()
    _write(client, world.item, "Buy it: a second memo.", nonce="b3")
    assert MemoVersion.objects.filter(memo__author=student).count() == 2


def test_deleting_an_item_or_a_student_takes_their_memo_files_from_storage(
    client, media_root, django_capture_on_commit_callbacks
):
    world = Class(size=2, reviews_each=1, due=timezone.now() + timedelta(days=1))
    first, second = world.students
    for student in (first, second):
        upload = SimpleUploadedFile("memo.pdf", PDF, content_type="application/pdf")
        memo_file_submit(item=world.item, user=student, upload=upload)
    other = make_analysis(world.module, [world.cohort], title="A second memo")
    memo_file_submit(
        item=other.item,
        user=first,
        upload=SimpleUploadedFile("mine.pdf", PDF, content_type="application/pdf"),
    )
    assert len(stored(media_root)) == 3
    # The second student leaves the system: their file goes with them.
    with django_capture_on_commit_callbacks(execute=True):
        second.delete()
    assert len(stored(media_root)) == 2
    # The instructor deletes the first analysis from the builder: its file goes, the
    # other item's stays.
    client.force_login(world.instructor)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("cases:item_delete", args=[world.item.pk]))
    assert response.status_code == 302
    [left] = stored(media_root)
    assert left == MemoVersion.objects.get().file.name


def test_a_rubric_edited_after_the_reviews_scores_them_again_and_peer_scores_use_it(client):
    world = Class(size=3, reviews_each=2)
    now = timezone.now()
    for student in world.students:
        memo_submit(item=world.item, user=student, body="Buy it.", now=now - timedelta(days=2))
    services.peer_reviews_assign(item=world.item, seed=3)
    writer = world.students[0]
    for review in PeerReview.objects.filter(author=writer):
        client.force_login(review.reviewer)
        client.post(
            reverse("cases:peer_review", args=[review.pk]),
            {"criterion_0": "2", "criterion_1": "1", "comment": "Strong evidence."},
        )
    # Strong evidence (4) and a clear decision (6): 10 of 10.
    client.force_login(writer)
    assert "10 of 10 points" in client.get(world.item.get_absolute_url()).text
    # Evidence's levels are worth more, and Decision's top level less (confirmed, as
    # the page asks first): the reviews count 8 + 2 of 10, and so do the peer scores.
    client.force_login(world.instructor)
    rubric_page = reverse("cases:rubric_edit", args=[world.rubric.pk])
    criteria = "Evidence: Thin 0 | Some 4 | Strong 8\nDecision: Vague 0 | Clear 2"
    client.post(rubric_page, {"title": "Memo", "criteria": criteria, "items": [world.item.pk]})
    client.force_login(writer)
    assert "10 of 10 points" in client.get(world.item.get_absolute_url()).text
    client.force_login(world.instructor)
    client.post(reverse("cases:peer_scores_apply", args=[world.item.pk]))
    assert Work.objects.get(item=world.item, user=writer).rubric_score == 10
    # The instructor cuts Evidence's "Strong", which the reviews and the grade chose.
    cut = "Evidence: Thin 0 | Some 4\nDecision: Vague 0 | Clear 2"
    data = {"title": "Memo", "criteria": cut, "items": [world.item.pk], "confirmed": "1"}
    client.post(rubric_page, data)
    # The reviews are scored again by the rubric as it is now: Evidence has no level
    # that they chose, so they have no score, and the writer's page says none.
    assert set(PeerReview.objects.filter(author=writer).values_list("score", flat=True)) == {None}
    client.force_login(writer)
    assert "of 6 points" not in client.get(world.item.get_absolute_url()).text
    # The grade built on it waits for a person, with Decision's level still chosen;
    # using the peer scores gives no grade built from a level the rubric lost.
    work = Work.objects.get(item=world.item, user=writer)
    assert (work.rubric_score, work.rubric_levels) == (None, {"1": 1})
    client.force_login(world.instructor)
    response = client.post(reverse("cases:peer_scores_apply", args=[world.item.pk]), follow=True)
    assert "Peer scores are now the rubric grade" not in response.text
    assert Work.objects.get(item=world.item, user=writer).rubric_score is None


def test_the_item_page_counts_the_memos_of_the_students_its_reader_grades(client):
    world = Class(size=3, reviews_each=1, due=timezone.now() + timedelta(days=1))
    section_b = CohortFactory(name="Section B")
    world.course.cohorts.add(section_b)
    AssignmentFactory(item=world.item, cohort=section_b, opens_at=None)
    outsider = UserFactory(username="bsider")
    MembershipFactory(cohort=section_b, user=outsider)
    world.cohort.teaching_assistants.add(world.ta)
    for student in [*world.students, outsider]:
        memo_submit(item=world.item, user=student, body="Buy it.")

    def counted(user) -> str:
        client.force_login(user)
        page = client.get(world.item.get_absolute_url()).text
        return " ".join(page.split("<strong>")[1:3])

    assert counted(world.instructor).startswith("4</strong> handed in")
    # The TA of section A reads section A's count, as the tracker shows them.
    with CaptureQueriesContext(connection) as queries:
        assert counted(world.ta).startswith("3</strong> handed in")
    assert data_queries(queries) <= 8
    # A student who leaves the course's cohorts is no longer counted.
    world.students[0].memberships.all().delete()
    assert counted(world.instructor).startswith("3</strong> handed in")


def test_a_hand_in_refused_because_the_page_closed_meanwhile_shows_what_was_typed(client):
    world = Class(size=2, reviews_each=1, due=timezone.now() + timedelta(hours=1))
    world.assignment.late_policy = LatePolicy.REFUSE
    world.assignment.save()
    student = world.students[0]
    client.force_login(student)
    assert "Write your analysis" in client.get(world.item.get_absolute_url()).text
    # While the student writes, the due date passes; this assignment refuses late work,
    # so neither the draft nor the hand-in is taken.
    world.assignment.due_at = timezone.now() - timedelta(minutes=1)
    world.assignment.save()
    typed = "Build it: a research staff pays back within ten years, as ¶3 shows."
    response = _write(client, world.item, typed, nonce="late")
    assert response.status_code == 400
    assert "no longer accepts work" in response.text
    assert not MemoVersion.objects.exists()
    assert not Memo.objects.filter(draft=typed).exists()
    # The words are on the page, to be copied.
    assert "What you wrote" in response.text and typed in response.text
    # A fresh look at the page offers nothing to copy: nothing was sent.
    assert "What you wrote" not in client.get(world.item.get_absolute_url()).text


def test_a_rubric_given_or_taken_away_after_hand_in_moves_memos_in_and_out_of_the_queue(client):
    world = Class(size=2, reviews_each=1, due=timezone.now() + timedelta(days=1))
    world.item.rubric = None
    world.item.save()
    first, second = world.students
    for student in (first, second):
        memo_submit(item=world.item, user=student, body="Buy it.")
    waiting = Work.objects.filter(item=world.item).waiting_for_grader
    assert waiting().count() == 2  # Points to give, without a rubric.
    # The instructor grades with the rubric after all.
    client.force_login(world.instructor)
    rubric_page = reverse("cases:rubric_edit", args=[world.rubric.pk])
    criteria = "Evidence: Thin 0 | Some 2 | Strong 4\nDecision: Vague 0 | Clear 6"
    client.post(rubric_page, {"title": "Memo", "criteria": criteria, "items": [world.item.pk]})
    grader = reverse("cases:grade_work", args=[world.item.pk, first.pk])
    response = client.post(grader, {"criterion_0": "2", "criterion_1": "1", "next": "1"})
    # "Save and next" goes on to the other memo; the one graded waits no more.
    assert response["Location"] == reverse("cases:grade_work", args=[world.item.pk, second.pk])
    assert list(waiting().values_list("user", flat=True)) == [second.pk]
    # The rubric taken away again: the rubric's grade is gone, so both wait for points.
    data = {"title": "Memo", "criteria": criteria, "items": [], "confirmed": "1"}
    client.post(rubric_page, data)
    assert waiting().count() == 2
    queue = client.get(reverse("cases:grading_queue", args=[world.course.pk])).text
    assert world.item.title in queue
