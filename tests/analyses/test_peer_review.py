"""Peer review of written analyses, as journeys: the staff assign it after the due date,
each student reviews classmates' memos anonymously until the reviews are due, the
writer rates the reviews, and the staff compare the reviewers with their own grades
and may use the peer scores as grades."""

from collections import Counter
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from cases.models import (
    AuditAction,
    AuditEntry,
    Memo,
    MemoVersion,
    Notification,
    NotificationKind,
    PeerReview,
    Rubric,
    StancePair,
    Work,
)
from cases.services import peer_review as services
from cases.services.people import user_deactivate, user_reactivate
from cases.services.workspace.grading import work_grade
from tests.factories import (
    AssignmentFactory,
    CohortFactory,
    CourseFactory,
    MembershipFactory,
    ModuleFactory,
    UserFactory,
    make_analysis,
    make_stance_check,
)
from tests.helpers import at_once, data_queries

pytestmark = pytest.mark.django_db

CRITERIA = [
    {
        "name": "Evidence",
        "levels": [
            {"label": "Thin", "points": 0},
            {"label": "Some", "points": 2},
            {"label": "Strong", "points": 4},
        ],
    },
    {
        "name": "Decision",
        "levels": [{"label": "Vague", "points": 0}, {"label": "Clear", "points": 6}],
    },
]


def hand_in(item, student, body=None, number=1):
    memo, _ = Memo.objects.get_or_create(item=item, author=student)
    text = body or f"Buy, not build: memo {student.pk}, version {number}."
    return MemoVersion.objects.create(
        memo=memo,
        number=number,
        body=text,
        body_html=f"<p>{text}</p>",
        word_count=12,
        submitted_at=timezone.now(),
    )


class Class:
    """A course with one cohort of `size` students (named so a test can look for them),
    a written analysis with peer review, due yesterday, and a rubric worth 10."""

    def __init__(self, size=7, reviews_each=2, due=None, prefix=""):
        self.instructor = UserFactory(username=f"{prefix}prof")
        self.ta = UserFactory(username=f"{prefix}helper")
        self.cohort = CohortFactory(name="Section A")
        self.students = []
        for n in range(size):
            student = UserFactory(
                username=f"{prefix}writer{n}x", first_name="Zebedee", last_name=f"Quill{n}x"
            )
            MembershipFactory(cohort=self.cohort, user=student)
            self.students.append(student)
        self.course = CourseFactory(
            instructors=[self.instructor], teaching_assistants=[self.ta], cohorts=[self.cohort]
        )
        self.module = ModuleFactory(course=self.course)
        self.analysis = make_analysis(self.module, peer_review=True, reviews_each=reviews_each)
        self.item = self.analysis.item
        self.rubric = Rubric.objects.create(course=self.course, title="Memo", criteria=CRITERIA)
        self.item.rubric = self.rubric
        self.item.save()
        self.assignment = AssignmentFactory(
            item=self.item,
            cohort=self.cohort,
            opens_at=None,
            due_at=due or timezone.now() - timedelta(days=1),
        )

    def pair(self, first, second):
        stance = make_stance_check(self.module)
        return StancePair.objects.create(stance=stance, first=first, second=second, distance=4)


def _balanced(item, students, k):
    rows = list(PeerReview.objects.filter(item=item))
    given = Counter(row.reviewer_id for row in rows)
    received = Counter(row.author_id for row in rows)
    assert set(given) == set(received) == {s.pk for s in students}
    assert set(given.values()) == set(received.values()) == {k}
    for row in rows:
        assert row.reviewer_id != row.author_id
    positions = {}
    for row in rows:
        positions.setdefault(row.reviewer_id, []).append(row.position)
    assert all(sorted(p) == list(range(1, k + 1)) for p in positions.values())
    return rows


def test_assigning_is_balanced_avoids_partners_and_changes_nothing_the_second_time(client):
    world = Class(size=7, reviews_each=2)
    partner_a, partner_b = world.students[0], world.students[1]
    world.pair(partner_a, partner_b)
    for student in world.students:
        hand_in(world.item, student)
    second = hand_in(world.item, world.students[3], number=2)  # The latest is reviewed.
    for seed in range(20):  # Many shuffles: none may give a partner's memo.
        PeerReview.objects.all().delete()
        services.peer_reviews_assign(item=world.item, cohort=world.cohort, seed=seed)
        rows = _balanced(world.item, world.students, 2)
        assert not any({r.reviewer_id, r.author_id} == {partner_a.pk, partner_b.pk} for r in rows)
    assert {r.version_id for r in rows if r.author_id == world.students[3].pk} == {second.pk}
    # Each reviewer was told once, however many times it was assigned.
    notices = Notification.objects.filter(kind=NotificationKind.PEER_REVIEW)
    assert notices.count() == 7
    # Through the staff's page: assigning again changes nothing.
    before = sorted(PeerReview.objects.values_list("pk", "reviewer", "author", "position"))
    client.force_login(world.instructor)
    response = client.post(
        reverse("cases:peer_reviews_assign", args=[world.item.pk]),
        {"cohort": world.cohort.pk},
        follow=True,
    )
    assert "already have their memos to review; nothing changed" in response.text
    after = sorted(PeerReview.objects.values_list("pk", "reviewer", "author", "position"))
    assert before == after
    # The service calls above named nobody; the instructor's repeat wrote nothing to audit.
    assert not AuditEntry.objects.filter(action=AuditAction.PEER_ASSIGN, actor__isnull=False)


def test_late_hand_ins_are_reviewed_among_themselves_leaving_everyone_balanced():
    world = Class(size=7, reviews_each=2)
    on_time, late = world.students[:5], world.students[5:]
    for student in on_time:
        hand_in(world.item, student)
    first = services.peer_reviews_assign(item=world.item, cohort=world.cohort, seed=1)
    assert first[0].created == 10
    before = set(PeerReview.objects.values_list("pk", "reviewer", "author"))
    hand_in(world.item, late[0])
    alone = services.peer_reviews_assign(item=world.item, cohort=world.cohort, seed=2)
    assert alone[0].created == 0 and alone[0].waiting == 1
    assert "not yet given memos" in alone[0].notes[0]
    hand_in(world.item, late[1])
    pair = services.peer_reviews_assign(item=world.item, cohort=world.cohort, seed=3)
    # Two late students review each other: one each, and the page says k shrank.
    assert pair[0].created == 2 and pair[0].reviews_each == 1
    assert "Each reviews 1 memo, not 2" in pair[0].notes[0]
    assert before <= set(PeerReview.objects.values_list("pk", "reviewer", "author"))
    late_rows = PeerReview.objects.filter(reviewer__in=late)
    assert {(r.reviewer_id, r.author_id) for r in late_rows} == {
        (late[0].pk, late[1].pk),
        (late[1].pk, late[0].pk),
    }
    given = Counter(PeerReview.objects.values_list("reviewer", flat=True))
    received = Counter(PeerReview.objects.values_list("author", flat=True))
    assert given == received


def test_a_deactivated_student_is_left_out_of_the_ring_until_reactivated(client):
    """A deactivated account cannot sign in to review, so a ring with it in would leave
    its reviewees a review short each: it neither reviews nor is reviewed, and once
    reactivated, assigning again puts it with the next students who hand in."""
    world = Class(size=6, reviews_each=2)
    for student in world.students:
        hand_in(world.item, student)
    gone, *present = world.students
    client.force_login(UserFactory(username="root", is_staff=True, is_superuser=True))
    client.post(reverse("cases:person_deactivate", args=[gone.pk]), {"confirm": "yes"})
    gone.refresh_from_db()
    assert not gone.is_active
    services.peer_reviews_assign(item=world.item, cohort=world.cohort, seed=4)
    _balanced(world.item, present, 2)  # Everyone signed in gives and gets two.
    assert not Notification.objects.filter(user=gone, kind=NotificationKind.PEER_REVIEW)

    client.post(reverse("cases:person_reactivate", args=[gone.pk]))
    late = UserFactory(username="latecomer")
    MembershipFactory(cohort=world.cohort, user=late)
    hand_in(world.item, late)
    services.peer_reviews_assign(item=world.item, cohort=world.cohort, seed=5)
    pair = PeerReview.objects.filter(reviewer__in=[gone, late])
    assert {(r.reviewer_id, r.author_id) for r in pair} == {(gone.pk, late.pk), (late.pk, gone.pk)}


def test_a_deactivated_student_is_left_out_until_reactivated(client):
    """Five handed in, then one was deactivated: they could never write the reviews
    they were given, so two classmates would each get a review fewer. The other four
    review each other, and the instructor's page says who was left out; reactivated,
    the student is taken by assigning again, like a late hand-in."""
    world = Class(size=5, reviews_each=2)
    for student in world.students:
        hand_in(world.item, student)
    gone = world.students[0]
    admin = UserFactory(username="registrar", is_staff=True)
    user_deactivate(user=gone, by=admin)
    client.force_login(world.instructor)
    url = reverse("cases:peer_reviews_assign", args=[world.item.pk])
    response = client.post(url, {"cohort": world.cohort.pk}, follow=True)
    assert "1 deactivated student is left out; once reactivated, assign again." in response.text
    _balanced(world.item, world.students[1:], 2)
    user_reactivate(user=gone, by=admin)
    [again] = services.peer_reviews_assign(item=world.item, cohort=world.cohort, seed=1)
    assert again.created == 0 and again.waiting == 1  # Alone now, as a late hand-in is.


def test_assigning_before_the_due_date_is_refused_clearly(client):
    world = Class(size=4, due=timezone.now() + timedelta(days=1))
    for student in world.students:
        hand_in(world.item, student)
    with pytest.raises(services.PeerRefused, match="once the due date has passed: Section A"):
        services.peer_reviews_assign(item=world.item, cohort=world.cohort)
    client.force_login(world.instructor)
    url = reverse("cases:peer_reviews_assign", args=[world.item.pk])
    response = client.post(url, {"cohort": world.cohort.pk}, follow=True)
    assert "Peer review can be assigned once the due date has passed" in response.text
    assert not PeerReview.objects.exists()
    # The due date moved earlier: now it can be.
    world.assignment.due_at = timezone.now() - timedelta(minutes=1)
    world.assignment.save()
    client.post(url, {"cohort": world.cohort.pk})
    _balanced(world.item, world.students, 2)
    entry = AuditEntry.objects.get(action=AuditAction.PEER_ASSIGN)
    assert entry.actor == world.instructor and entry.cohort == world.cohort
    assert entry.after == {"students": 4, "reviews_each": 2, "reviews": 8, "waiting": 0}


def test_a_small_cohort_reviews_fewer_and_the_page_says_so(client):
    world = Class(size=3, reviews_each=3)
    for student in world.students:
        hand_in(world.item, student)
    client.force_login(world.instructor)
    response = client.post(
        reverse("cases:peer_reviews_assign", args=[world.item.pk]),
        {"cohort": world.cohort.pk},
        follow=True,
    )
    assert "Each reviews 2 memos, not 3: only 3 students could be put together." in response.text
    _balanced(world.item, world.students, 2)


def _assigned(world, seed=0):
    for student in world.students:
        hand_in(world.item, student)
    services.peer_reviews_assign(item=world.item, cohort=world.cohort, seed=seed)
    return PeerReview.objects.select_related("reviewer", "author")


def test_a_reviewer_reviews_changes_it_before_the_deadline_and_not_after(client):
    world = Class(size=4)
    review = _assigned(world).filter(position=1).first()
    reviewer, author = review.reviewer, review.author
    client.force_login(reviewer)
    # The writing page lists the memos to review, by number, with their due date.
    page = client.get(world.item.get_absolute_url()).text
    assert "Memos to review" in page and "Memo 1" in page and "Memo 2" in page
    url = reverse("cases:peer_review", args=[review.pk])
    page = client.get(url)
    assert page.status_code == 200
    assert review.version.body in page.text and "Evidence" in page.text
    # A level missing: refused beside the criterion, the comment kept.
    response = client.post(url, {"criterion_0": "2", "comment": "Strong on the numbers."})
    assert response.status_code == 400
    assert "Choose a level for Decision." in response.text
    assert "Strong on the numbers." in response.text
    client.post(url, {"criterion_0": "2", "criterion_1": "1", "comment": "Strong, **clear**."})
    review.refresh_from_db()
    assert review.score == Decimal("10") and review.submitted_at is not None
    assert "<strong>clear</strong>" in review.comment_html
    first_submitted = review.submitted_at
    # Changed before the deadline: the new levels win, the first submission time stays.
    response = client.post(url, {"criterion_0": "1", "criterion_1": "1", "comment": "Fair."})
    assert response.status_code == 302
    review.refresh_from_db()
    assert review.score == Decimal("8") and review.comment == "Fair."
    assert review.submitted_at == first_submitted
    # The writer was told once, without the reviewer's name.
    told = Notification.objects.get(user=author, kind=NotificationKind.REVIEW_RECEIVED)
    assert reviewer.last_name not in told.title + told.body
    # The due date moved earlier, so the reviews' deadline has passed: read-only.
    world.assignment.due_at = timezone.now() - timedelta(days=10)
    world.assignment.save()
    page = client.get(url).text
    assert "no longer changed" in page and "<textarea" not in page
    response = client.post(url, {"criterion_0": "0", "criterion_1": "0", "comment": "Harsh."})
    assert response.status_code == 400 and "no longer changed" in response.text
    assert "Harsh." in response.text  # What they typed is shown, not kept.
    review.refresh_from_db()
    assert review.score == Decimal("8") and review.comment == "Fair."
    assert author.pk != reviewer.pk


def test_neither_side_learns_the_others_name(client):
    world = Class(size=4)
    reviews = _assigned(world)
    review = reviews.filter(position=1).first()
    reviewer, author = review.reviewer, review.author
    client.force_login(reviewer)
    url = reverse("cases:peer_review", args=[review.pk])
    client.post(url, {"criterion_0": "2", "criterion_1": "1", "comment": "Well argued."})
    for page in (client.get(url).text, client.get(world.item.get_absolute_url()).text):
        for other in world.students:
            if other != reviewer:
                assert other.username not in page and other.last_name not in page
    # The author reads "Reviewer 1" and the review, never the reviewer's name.
    client.force_login(author)
    page = client.get(world.item.get_absolute_url()).text
    assert "Reviews of your memo" in page and "Reviewer 1" in page and "Well argued." in page
    for other in world.students:
        if other != author:
            assert other.username not in page and other.last_name not in page


def test_a_student_not_given_the_review_gets_404_and_so_do_its_staff(client):
    world = Class(size=4)
    review = _assigned(world).filter(position=1).first()
    url = reverse("cases:peer_review", args=[review.pk])
    for user in (review.author, world.instructor, UserFactory()):
        client.force_login(user)
        assert client.get(url).status_code == 404
    # Only the author rates it, and only once it is submitted.
    rate = reverse("cases:peer_review_rate", args=[review.pk])
    client.force_login(review.author)
    assert client.post(rate, {"helpfulness": "4"}).status_code == 404
    client.force_login(review.reviewer)
    assert client.post(rate, {"helpfulness": "4"}).status_code == 404


def test_the_author_rates_a_review_and_the_second_rating_wins(client):
    world = Class(size=4)
    review = _assigned(world).filter(position=1).first()
    client.force_login(review.reviewer)
    client.post(
        reverse("cases:peer_review", args=[review.pk]),
        {"criterion_0": "2", "criterion_1": "1", "comment": "Good."},
    )
    client.force_login(review.author)
    url = reverse("cases:peer_review_rate", args=[review.pk])
    response = client.post(url, {"helpfulness": "2"})  # Without script: back to the page.
    assert response.status_code == 302 and response.url.endswith("#reviews-of-yours")
    response = client.post(url, {"helpfulness": "5"}, headers={"HX-Request": "true"})
    assert response.status_code == 200
    assert "Saved: 5 of 5." in response.text and "<html" not in response.text
    review.refresh_from_db()
    assert review.helpfulness == 5
    bad = client.post(url, {"helpfulness": "9"}, headers={"HX-Request": "true"})
    assert bad.status_code == 400 and "from 1 (not at all) to 5" in bad.text
    review.refresh_from_db()
    assert review.helpfulness == 5


def test_calibration_on_a_small_known_case(client):
    world = Class(size=3, reviews_each=2)
    reviews = _assigned(world)
    a, b, c = world.students
    # The staff scored a (7 of 10) and b (10 of 10), not c.
    work_grade(item=world.item, student=a, grader=world.instructor, rubric_levels={"0": 1, "1": 1})
    work_grade(item=world.item, student=b, grader=world.instructor, rubric_levels={"0": 2, "1": 1})
    levels = {  # The levels each reviewer gives each author: scores 4+6, 0+6, 0+0.
        a.pk: {"0": 2, "1": 1},
        b.pk: {"0": 0, "1": 1},
        c.pk: {"0": 0, "1": 0},
    }
    for review in reviews:
        services.peer_review_submit(
            review=review,
            rubric=world.rubric,
            levels=levels[review.author_id] if review.reviewer_id == c.pk else {"0": 2, "1": 1},
            comment="Noted.",
            deadline=None,
        )
    # c reviewed a (gave 10, staff 8) and b (gave 6, staff 10): mean difference 3 of 10.
    # a reviewed b (10 vs 10) and c (unscored): 0%. b reviewed a (10 vs 8) and c: 20%.
    client.force_login(world.instructor)
    page = client.get(reverse("cases:peer_reviews", args=[world.item.pk])).text
    cal = {}
    for student in world.students:
        at = page.index(student.display_name + "</th>")
        cal[student.pk] = page[at : page.index("</tbody>", at)]
    assert "<strong>100%</strong>" in cal[a.pk]
    assert "<strong>80%</strong>" in cal[b.pk] and "on 1 memo the staff graded)" in cal[b.pk]
    assert "<strong>70%</strong>" in cal[c.pk] and "on 2 memos the staff graded)" in cal[c.pk]
    assert services.calibration(
        [(Decimal(10), Decimal(8)), (Decimal(6), Decimal(10))], Decimal(10)
    ).agreement == Decimal(70)
    assert services.calibration([], Decimal(10)).agreement is None


def test_a_reviewer_with_no_staff_graded_memo_shows_n_a(client):
    world = Class(size=3)
    for review in _assigned(world):
        services.peer_review_submit(
            review=review,
            rubric=world.rubric,
            levels={"0": 1, "1": 1},
            comment="Ok.",
            deadline=None,
        )
    client.force_login(world.instructor)
    page = client.get(reverse("cases:peer_reviews", args=[world.item.pk])).text
    assert page.count(">n/a<") == 3


def test_using_peer_scores_gives_the_median_levels_and_keeps_the_staffs_grades(client):
    world = Class(size=4, reviews_each=3)
    reviews = _assigned(world)
    a, b, c, d = world.students
    work_grade(item=world.item, student=d, grader=world.instructor, rubric_levels={"0": 0, "1": 0})
    given = {a.pk: [{"0": 0, "1": 1}, {"0": 2, "1": 1}, {"0": 2, "1": 0}]}  # Median 2, 1.
    given[b.pk] = [{"0": 1, "1": 0}, {"0": 2, "1": 1}]  # Two of three submitted: 2, 1 (up).
    given[c.pk] = []  # No review submitted: no grade.
    for review in reviews:
        levels = given.get(review.author_id, [{"0": 2, "1": 1}] * 3)
        if levels:
            services.peer_review_submit(
                review=review, rubric=world.rubric, levels=levels.pop(), comment="x", deadline=None
            )
    # A TA may not use them; the instructor may, and does it twice.
    client.force_login(world.ta)
    url = reverse("cases:peer_scores_apply", args=[world.item.pk])
    assert client.post(url).status_code == 403
    client.force_login(world.instructor)
    response = client.post(url, follow=True)
    assert "Peer scores are now the rubric grade of 2 students" in response.text
    work = {w.user_id: w for w in Work.objects.filter(item=world.item)}
    assert work[a.pk].rubric_levels == {"0": 2, "1": 1} and work[a.pk].rubric_score == 10
    assert work[b.pk].rubric_levels == {"0": 2, "1": 1}
    assert c.pk not in work or work[c.pk].rubric_score is None
    assert work[d.pk].rubric_score == 0  # The staff's grade stands.
    assert work[a.pk].graded_by == world.instructor
    audited = AuditEntry.objects.filter(action=AuditAction.PEER_SCORES)
    assert {e.subject_id for e in audited} == {a.pk, b.pk}
    assert "peer reviews" in audited.first().summary
    response = client.post(url, follow=True)
    assert "No grade was set" in response.text
    assert AuditEntry.objects.filter(action=AuditAction.PEER_SCORES).count() == 2


def test_calibration_leaves_out_grades_made_of_peer_scores(client):
    world = Class(size=4, reviews_each=3)  # Everyone reviews the three others.
    reviews = _assigned(world)
    a, b, c, d = world.students
    # The staff grade a (8 of 10) and b (10 of 10); every review gives 10.
    work_grade(item=world.item, student=a, grader=world.instructor, rubric_levels={"0": 1, "1": 1})
    work_grade(item=world.item, student=b, grader=world.instructor, rubric_levels={"0": 2, "1": 1})
    for review in reviews:
        services.peer_review_submit(
            review=review, rubric=world.rubric, levels={"0": 2, "1": 1}, comment="x", deadline=None
        )
    client.force_login(world.instructor)
    response = client.post(reverse("cases:peer_scores_apply", args=[world.item.pk]), follow=True)
    assert "Peer scores are now the rubric grade of 2 students" in response.text
    assert Work.objects.get(item=world.item, user=c).rubric_score == 10

    def agreement():
        page = client.get(reverse("cases:peer_reviews", args=[world.item.pk])).text
        cells = {}
        for student in world.students:
            at = page.index(student.display_name + "</th>")
            cells[student.pk] = page[at : page.index("</tbody>", at)]
        return page, cells

    # The median of c's and d's reviews (each reviewer's own among them) is no staff
    # grade: a is compared on b alone, b on a alone (10 against 8), not on c and d too.
    page, cal = agreement()
    assert "<strong>100%</strong>" in cal[a.pk] and "on 1 memo the staff graded)" in cal[a.pk]
    assert "<strong>80%</strong>" in cal[b.pk] and "on 1 memo the staff graded)" in cal[b.pk]
    assert "on 2 memos the staff graded)" in cal[c.pk] and "on 2 memos" in cal[d.pk]
    assert "From peer scores" in cal[a.pk]
    assert "A grade set from peer scores is not the staff's and is left out" in page
    # A grader who changes those levels makes the grade theirs: then it counts.
    work_grade(item=world.item, student=c, grader=world.ta, rubric_levels={"0": 0, "1": 1})
    _page, cal = agreement()
    assert "<strong>80%</strong>" in cal[a.pk] and "on 2 memos the staff graded)" in cal[a.pk]


def test_the_staff_page_shows_a_ta_only_their_cohort(client):
    world = Class(size=3)
    other = CohortFactory(name="Section B")
    world.course.cohorts.add(other)
    outsider = UserFactory(username="bsideperson", last_name="Bside")
    MembershipFactory(cohort=other, user=outsider)
    AssignmentFactory(item=world.item, cohort=other, due_at=timezone.now() - timedelta(days=1))
    hand_in(world.item, outsider)
    hand_in(world.item, UserFactory(username="b2"))
    _assigned(world)
    other.teaching_assistants.add(UserFactory(username="other_ta"))
    world.cohort.teaching_assistants.add(world.ta)
    client.force_login(world.ta)
    page = client.get(reverse("cases:peer_reviews", args=[world.item.pk])).text
    assert "Section A" in page and "Section B" not in page
    assert world.students[0].display_name in page and "Bside" not in page
    assert "Assign peer reviews</button>" not in page and "Use peer scores</button>" not in page
    client.force_login(world.ta)
    assign = reverse("cases:peer_reviews_assign", args=[world.item.pk])
    assert client.post(assign, {"cohort": other.pk}).status_code == 403


def test_a_memo_handed_in_as_a_file_never_shows_its_file_name_to_the_reviewer(client):
    world = Class(size=3)
    reviews = _assigned(world)
    review = reviews.filter(position=1).first()
    MemoVersion.objects.filter(pk=review.version_id).update(
        file="memos/x/abc.pdf", file_name="Quill-final-memo.pdf", file_type="pdf", file_size=2048
    )
    client.force_login(review.reviewer)
    page = client.get(reverse("cases:peer_review", args=[review.pk])).text
    assert "handed in as" in page
    assert "Quill-final-memo" not in page and review.author.username not in page


@pytest.mark.django_db(transaction=True)
def test_two_instructors_assigning_at_once_write_one_set_of_reviews():
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL's concurrent connections; SQLite serialises writers")
    world = Class(size=9, reviews_each=3)
    for student in world.students:
        hand_in(world.item, student)
    errors = at_once(lambda: services.peer_reviews_assign(item=world.item, cohort=world.cohort), 6)
    assert errors == []
    _balanced(world.item, world.students, 3)
    assert Notification.objects.filter(key=f"peer_review:{world.item.pk}").count() == 9


def test_the_staff_page_pages_a_long_list_of_reviewers(client):
    world = Class(size=30, reviews_each=1)
    _assigned(world)
    client.force_login(world.instructor)
    url = reverse("cases:peer_reviews", args=[world.item.pk])
    first, second = client.get(url).text, client.get(url + "?page=2").text
    assert "Page 1 of 2" in first and first.count('scope="rowgroup"') == 25
    assert "Page 2 of 2" in second and second.count('scope="rowgroup"') == 5
    assert client.get(url + "?page=x").status_code == 200  # A bad page is the first.


def test_assigning_costs_the_same_queries_for_6_students_as_for_40():
    """One INSERT for the reviews and one notification call per message, not per
    student: the count does not grow with the class (500 in `make bench-peer`)."""
    counts = []
    for size in (6, 40):
        group = Class(size=size, reviews_each=2, prefix=f"q{size}")
        for student in group.students:
            hand_in(group.item, student)
        with CaptureQueriesContext(connection) as queries:
            services.peer_reviews_assign(item=group.item, seed=1, by=group.instructor)
        counts.append(data_queries(queries))
        assert PeerReview.objects.filter(item=group.item).count() == 2 * size
        told = Notification.objects.filter(kind=NotificationKind.PEER_REVIEW)
        assert told.filter(user__in=group.students).count() == size
    assert counts[0] == counts[1], counts


def test_the_dashboard_lists_reviews_to_write_until_they_are_written_or_due(client):
    world = Class(size=4, reviews_each=2)
    _assigned(world)
    reviewer = world.students[0]
    client.force_login(reviewer)
    page = client.get(reverse("cases:home")).text
    assert "Peer reviews to write" in page and "2 memos to review" in page
    assert world.item.get_absolute_url() in page
    # One written: one left.
    first, second = PeerReview.objects.filter(reviewer=reviewer).order_by("position")
    url = reverse("cases:peer_review", args=[first.pk])
    client.post(url, {"criterion_0": "2", "criterion_1": "1", "comment": "Clear."})
    assert "1 memo to review" in client.get(reverse("cases:home")).text
    # The due date moved back, so the reviews' deadline has passed: nothing to write.
    world.assignment.due_at = timezone.now() - timedelta(days=world.analysis.review_days + 1)
    world.assignment.save()
    assert "Peer reviews to write" not in client.get(reverse("cases:home")).text
    # Both written: nothing either, whatever the dates.
    world.assignment.due_at = timezone.now() - timedelta(hours=1)
    world.assignment.save()
    client.post(
        reverse("cases:peer_review", args=[second.pk]),
        {"criterion_0": "1", "criterion_1": "1", "comment": "Fine."},
    )
    assert "Peer reviews to write" not in client.get(reverse("cases:home")).text


def test_a_reviewer_removed_from_the_cohort_is_not_asked_for_reviews_they_cannot_open(client):
    """A student given memos to review leaves the section (an admin removes them): the
    item is no longer theirs and its reviews answer 404, so their dashboard stops
    listing "2 memos to review" with a link to a page they cannot open."""
    world = Class(size=4, reviews_each=2)
    _assigned(world)
    leaver = world.students[0]
    client.force_login(UserFactory(username="root", is_staff=True, is_superuser=True))
    members = reverse("cases:cohort_members", args=[world.cohort.pk])
    client.post(members, {"students": [leaver.pk], "action": "remove"})
    assert not world.cohort.memberships.filter(user=leaver).exists()
    client.force_login(leaver)
    review = PeerReview.objects.filter(reviewer=leaver).first()
    assert client.get(reverse("cases:peer_review", args=[review.pk])).status_code == 404
    assert "memos to review" not in client.get(reverse("cases:home")).text


def _reviewer(page: str, number: int) -> str:
    """The writer's page from "Reviewer N" to the next reviewer's heading."""
    part = page.split(f">Reviewer {number} ", 1)[1]
    return part.split("<h4 ", 1)[0]


def test_a_reviewer_keeps_their_number_when_an_earlier_assigned_review_comes_in_later(client):
    """The writer reads "Reviewer 1" as the first review that came in, and rates it;
    a second review, assigned before it but written after, is "Reviewer 2": the first
    does not become "Reviewer 2" under the writer's eyes."""
    world = Class(size=3, reviews_each=2)
    _assigned(world)
    author = world.students[0]
    first_assigned, second_assigned = PeerReview.objects.filter(author=author).order_by("pk")
    for review, comment in ((second_assigned, "Came in first."), (first_assigned, "Later.")):
        client.force_login(review.reviewer)
        url = reverse("cases:peer_review", args=[review.pk])
        client.post(url, {"criterion_0": "1", "criterion_1": "1", "comment": comment})
        client.force_login(author)
        page = client.get(world.item.get_absolute_url()).text
        assert "Came in first." in _reviewer(page, 1)
    assert "Later." in _reviewer(page, 2)


def test_peer_review_turned_off_after_assigning_asks_no_reviewer_for_reviews(client):
    """The instructor turns peer review off once reviews were assigned: the reviews'
    pages answer 404 and the writing page shows none, so the dashboard stops asking
    for them too; turned on again, they are asked for again."""
    world = Class(size=4, reviews_each=2)
    _assigned(world)
    reviewer = world.students[0]
    review = PeerReview.objects.filter(reviewer=reviewer).first()
    world.analysis.peer_review = False
    world.analysis.save()
    client.force_login(reviewer)
    assert client.get(reverse("cases:peer_review", args=[review.pk])).status_code == 404
    assert "memos to review" not in client.get(reverse("cases:home")).text
    world.analysis.peer_review = True
    world.analysis.save()
    assert "2 memos to review" in client.get(reverse("cases:home")).text


def test_a_rubric_edited_after_a_review_does_not_say_the_reviewer_changed_it(client):
    """A reviewer submits a review; two days later the instructor doubles the points
    of a rubric level. The review is scored again, and its page still says when the
    reviewer reviewed it, not that they "last changed" it at the instructor's edit."""
    from cases.services.workspace.grading import rubric_update

    world = Class(size=4)
    review = _assigned(world).filter(position=1).first()
    client.force_login(review.reviewer)
    url = reverse("cases:peer_review", args=[review.pk])
    client.post(url, {"criterion_0": "2", "criterion_1": "1", "comment": "Strong."})
    submitted = timezone.now() - timedelta(days=2)
    PeerReview.objects.filter(pk=review.pk).update(submitted_at=submitted, updated_at=submitted)
    criteria = [dict(CRITERIA[0]), CRITERIA[1]]
    criteria[0]["levels"] = [*CRITERIA[0]["levels"][:2], {"label": "Strong", "points": 8}]
    rubric_update(rubric=world.rubric, title="Memo", criteria=criteria, item_ids={world.item.pk})
    review.refresh_from_db()
    assert review.score == Decimal("14")  # Scored again by the rubric as it now stands.
    page = client.get(url).text
    assert "You reviewed it" in page and "last changed" not in page
