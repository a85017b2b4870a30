"""Calibrated peer review of written analyses: giving each student classmates' memos to
review after the due date, their reviews, the author's rating of each, how well each
reviewer agrees with the staff's own grades, and the peer scores used as grades.

Assignment is a shuffled ring per cohort: with the students who handed in set in a
random order, student i reviews students i+1 … i+k, so everyone gives and receives
exactly k reviews and no one reviews themselves (deactivated accounts are left out:
they cannot sign in to review). Orders are drawn again until no student is given
their pair partner's memo (a stance check's or a spectrum exercise's pair in the
course); when no order avoids them, or the cohort has fewer than k+1 students, k
shrinks and the result says so.

Assigning again never changes a row that exists. The students who handed in since the
last assignment (and so review nobody yet) form a ring of their own: they review and
are reviewed by each other, k each, which leaves everyone's balance as it was. A lone
late student waits until another joins them.
"""

import math
import random
import statistics
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.db import transaction
from django.db.models import Count, Exists, Q
from django.utils import timezone
from django.utils.formats import date_format

from cases.compiled import compiled
from cases.markdown import render_markdown
from cases.models import (
    Analysis,
    Assignment,
    AuditAction,
    AuditEntry,
    Cohort,
    Extension,
    Membership,
    MemoVersion,
    ModuleItem,
    PeerReview,
    StancePair,
    Work,
    assignment_for_student,
)
from cases.models.analyses import MAX_COMMENT_CHARS
from cases.services.notifications import peer_reviews_notify, review_received_notify
from cases.services.people import audit, audit_many
from cases.services.workspace.grading import rubric_score, work_grade
from cases.timezones import zone_named

# Orders drawn for one ring before k is shrunk; with everyone paired, an order avoids
# every partner with a chance of about e^-k (5% at k=3), so this is plenty.
RING_TRIES = 400


def _when(moment: datetime) -> str:
    return date_format(timezone.localtime(moment), "D j M, H:i")


class PeerRefused(Exception):
    """An action peer review's rules refuse; the message is for the person who asked."""


# Assigning ------------------------------------------------------------------------------


@dataclass
class CohortAssigned:
    """What one call did for one cohort."""

    cohort: Cohort
    wanted: int  # The analysis's `reviews_each`.
    reviews_each: int = 0  # What this call gave each new student (0: nobody new).
    students: int = 0  # New students put in a ring by this call.
    created: int = 0  # Reviews written.
    already: int = 0  # Students who already had their memos to review.
    waiting: int = 0  # Students who handed in but could not be given any (alone).
    notes: list[str] = field(default_factory=list)


def _ring(
    students: list[int], k: int, partners: set[frozenset], rng: random.Random
) -> list[int] | None:
    """An order of the students in which no one's next k include their partner; None
    if none was found."""
    order = list(students)
    n = len(order)
    for _ in range(RING_TRIES):
        rng.shuffle(order)
        if not partners or not any(
            frozenset((order[i], order[(i + d) % n])) in partners
            for i in range(n)
            for d in range(1, k + 1)
        ):
            return order
    return None


def _partners(item: ModuleItem) -> set[frozenset]:
    """Pairs of students paired on a stance check or a spectrum exercise of the course."""
    course_id = item.module.course_id
    rows = (
        StancePair.objects.filter(
            Q(stance__item__module__course=course_id) | Q(spectrum__item__module__course=course_id)
        )
        .order_by()
        .values_list("first_id", "second_id")
    )
    return {frozenset(row) for row in rows}


def review_deadline(assignment: Assignment | None, analysis: Analysis) -> datetime | None:
    """When a student's reviews are due: their assignment's due date as it stands now
    (their extension applied) plus the analysis's review days."""
    if assignment is None or assignment.due_at is None:
        return None
    return assignment.due_at + timedelta(days=analysis.review_days)


def _assign_cohort(
    item: ModuleItem,
    analysis: Analysis,
    assignment: Assignment,
    partners: set[frozenset],
    taken: set[int],
    rng: random.Random,
    now: datetime,
) -> tuple[CohortAssigned, list[PeerReview]]:
    result = CohortAssigned(cohort=assignment.cohort, wanted=analysis.reviews_each)
    members = Membership.objects.filter(cohort=assignment.cohort_id).values("user_id")
    latest: dict[int, int] = {}  # Author → their latest version.
    numbers: dict[int, int] = {}
    versions = MemoVersion.objects.filter(memo__item=item, memo__author__in=members).order_by()
    inactive: set[int] = set()
    rows = versions.values_list("pk", "memo__author_id", "number", "memo__author__is_active")
    for pk, author, number, active in rows:
        if number > numbers.get(author, 0):
            latest[author], numbers[author] = pk, number
        if not active:
            inactive.add(author)
    result.already = len(latest.keys() & taken)
    # A deactivated student could never write the reviews they were given, so their
    # classmates would each get fewer: they neither review nor are reviewed until
    # reactivated (then assigning again takes them, as it takes a late hand-in).
    gone = inactive - taken
    if gone:
        result.notes.append(
            f"{len(gone)} deactivated student{'s' if len(gone) != 1 else ''} "
            + ("is" if len(gone) == 1 else "are")
            + " left out; once reactivated, assign again."
        )
    # A student whose extension runs on may still change their memo: they neither
    # review nor are reviewed until it has passed (then assigning again takes them).
    extended = set(
        Extension.objects.filter(assignment=assignment, due_at__gt=now).values_list(
            "user_id", flat=True
        )
    )
    later = (latest.keys() - taken - gone) & extended
    if later:
        result.notes.append(
            f"{len(later)} student{'s' if len(later) != 1 else ''} with an extension "
            + ("is" if len(later) == 1 else "are")
            + " left out until it has passed; assign again then."
        )
    new = sorted(latest.keys() - taken - extended - gone)
    result.waiting = len(later)
    k = min(analysis.reviews_each, len(new) - 1)
    order = None
    while k >= 1 and (order := _ring(new, k, partners, rng)) is None:
        k -= 1
    if k < 1 or order is None:
        result.waiting += len(new)
        if new:
            result.notes.append(
                f"{len(new)} student{'s' if len(new) != 1 else ''} who handed in "
                + ("is" if len(new) == 1 else "are")
                + " not yet given memos: at least two students who are not partners are "
                "needed. Assign again when more have handed in."
            )
        return result, []
    if k < analysis.reviews_each:
        result.notes.append(
            f"Each reviews {k} memo{'s' if k != 1 else ''}, not {analysis.reviews_each}: "
            + (
                f"only {len(new)} students could be put together."
                if k == len(new) - 1
                else "more would give some students their partner's memo."
            )
        )
    rows = []
    n = len(order)
    for i, reviewer in enumerate(order):
        for d in range(1, k + 1):
            author = order[(i + d) % n]
            rows.append(
                PeerReview(
                    item=item,
                    reviewer_id=reviewer,
                    author_id=author,
                    version_id=latest[author],
                    position=d,
                )
            )
    taken.update(order)
    result.reviews_each, result.students, result.created = k, n, len(rows)
    return result, rows


@transaction.atomic
def peer_reviews_assign(
    *, item: ModuleItem, cohort: Cohort | None = None, seed=None, by=None, now=None
) -> list[CohortAssigned]:
    """Give each student of the cohort (or of every cohort given the item) who handed
    in `reviews_each` classmates' latest versions to review, once the cohort's due date
    has passed. Idempotent: rows that exist stand, and only students who review nobody
    yet are put in a new ring (of their own). All rows are written in one INSERT;
    each reviewer is told once. Refused (PeerRefused) when the item has no peer review,
    or the cohort's due date has not passed; with every cohort, those not yet due are
    left out and noted."""
    now = now or timezone.now()
    # One assignment at a time per item: the lock makes a double click wait, then find
    # the rows the first one wrote.
    analysis = Analysis.objects.select_for_update().get(item=item)
    if not analysis.peer_review:
        raise PeerRefused("This analysis has no peer review; turn it on in its settings first.")
    assignments = Assignment.objects.filter(item=item).select_related("cohort")
    if cohort is not None:
        assignments = assignments.filter(cohort=cohort)
    assignments = list(assignments.order_by("cohort__name", "pk"))
    if not assignments:
        raise PeerRefused("This analysis is not given to that cohort.")
    results, rows, skipped = [], [], []
    for assignment in assignments:
        if assignment.due_at is None:
            skipped.append(f"{assignment.cohort.name} has no due date")
        elif not assignment.is_past_due(now):
            skipped.append(f"{assignment.cohort.name} is due {_when(assignment.due_at)}")
    if skipped and (cohort is not None or len(skipped) == len(assignments)):
        raise PeerRefused(
            "Peer review can be assigned once the due date has passed: " + "; ".join(skipped) + "."
        )
    due = [a for a in assignments if a.due_at is not None and a.is_past_due(now)]
    partners = _partners(item)
    reviewing = PeerReview.objects.filter(item=item).order_by().values_list("reviewer_id")
    taken = {reviewer for (reviewer,) in reviewing}
    rng = random.Random(seed)  # noqa: S311 - an order to review in, not a secret.
    for assignment in due:
        result, cohort_rows = _assign_cohort(item, analysis, assignment, partners, taken, rng, now)
        results.append(result)
        rows += cohort_rows
    if skipped:
        results[0].notes.append("Not yet due, so left out: " + "; ".join(skipped) + ".")
    PeerReview.objects.bulk_create(rows)
    peer_reviews_notify(rows)
    for result in results:
        if result.created:
            audit(
                by,
                AuditAction.PEER_ASSIGN,
                f"{result.cohort.name} on “{item.title}”: {result.students} students review "
                f"{result.reviews_each} memos each ({result.created} reviews)",
                cohort=result.cohort,
                course=item.module.course,
                after={
                    "students": result.students,
                    "reviews_each": result.reviews_each,
                    "reviews": result.created,
                    "waiting": result.waiting,
                },
            )
    return results


@dataclass
class ReviewsToDo:
    """Classmates' memos a student still has to review on one item, and by when."""

    item_id: int
    title: str
    count: int
    deadline: datetime | None
    zone: ZoneInfo  # The item's course's, which the deadline is shown in.


@compiled
def _pending_reviews(reviewer):
    """The reviewer's unsubmitted reviews, counted by item (every dashboard asks), on
    analyses whose peer review is on (turned off, its reviews are not to be opened)."""
    return (
        PeerReview.objects.filter(
            reviewer=reviewer, submitted_at__isnull=True, item__analysis__peer_review=True
        )
        .values(
            "item", "item__title", "item__analysis__review_days", "item__module__course__time_zone"
        )
        .annotate(count=Count("pk"))
        .order_by()
    )


def reviews_pending(user) -> Exists:
    """Whether the user has a review to submit: an annotation for the query that lists
    a dashboard's courses, which then asks `reviews_to_do` only when it is true."""
    return Exists(
        PeerReview.objects.filter(
            reviewer=user, submitted_at__isnull=True, item__analysis__peer_review=True
        )
    )


def reviews_to_do(user, assignments, now) -> list[ReviewsToDo]:
    """The reviews the student has not submitted, item by item, whose deadline (their
    own due date for the item, extension included, plus the analysis's review days) has
    not passed, soonest first; none on an item no longer given to them (they left the
    section: its reviews are not theirs to open). `assignments` are the student's own
    (`seen_by`); an item not among them costs one query more. One query otherwise."""
    given = {assignment.item_id: assignment for assignment in assignments}
    found = []
    for row in _pending_reviews(reviewer=user):
        assignment = given.get(row["item"]) or assignment_for_student(row["item"], user)
        if assignment is None:
            continue
        deadline = None
        if assignment is not None and assignment.due_at is not None:
            deadline = assignment.due_at + timedelta(days=row["item__analysis__review_days"])
        if deadline is None or deadline >= now:
            zone = zone_named(row["item__module__course__time_zone"])
            found.append(ReviewsToDo(row["item"], row["item__title"], row["count"], deadline, zone))
    far = now + timedelta(days=3650)
    return sorted(found, key=lambda todo: todo.deadline or far)


# Reviewing ------------------------------------------------------------------------------


def review_closed(deadline: datetime | None, now=None) -> str | None:
    """Why a review can no longer be changed, or None while it can."""
    now = now or timezone.now()
    if deadline is not None and now > deadline:
        return f"Reviews were due {_when(deadline)}; this one can be read but no longer changed."
    return None


@transaction.atomic
def peer_review_submit(
    *,
    review: PeerReview,
    rubric,
    levels: dict[str, int],
    comment: str,
    deadline: datetime | None,
    now=None,
) -> PeerReview:
    """Save the reviewer's levels and comment; submitting again before the deadline
    replaces them (the first submission's time is kept). Refused after the deadline."""
    now = now or timezone.now()
    if reason := review_closed(deadline, now):
        raise PeerRefused(reason)
    comment = (comment or "").replace("\r\n", "\n").strip()
    if len(comment) > MAX_COMMENT_CHARS:
        raise PeerRefused(f"A comment is limited to {MAX_COMMENT_CHARS:,} characters.")
    row = PeerReview.objects.select_for_update().get(pk=review.pk)
    first = row.submitted_at is None
    row.rubric_levels = {str(k): int(v) for k, v in levels.items()}
    row.score = rubric_score(rubric, row.rubric_levels)
    row.comment = comment
    row.comment_html = render_markdown(comment)
    row.submitted_at = row.submitted_at or now
    row.save(
        update_fields=[
            "rubric_levels",
            "score",
            "comment",
            "comment_html",
            "submitted_at",
            "updated_at",
        ]
    )
    if first:
        # The writer hears of a review once, when it is first submitted; never by whom.
        review_received_notify(row)
    return row


def peer_review_rate(*, review: PeerReview, author, helpfulness: int) -> None:
    """The author's rating of a submitted review, 1 to 5; rating again replaces it."""
    if not 1 <= helpfulness <= 5:
        raise PeerRefused("Rate a review from 1 (not helpful) to 5 (very helpful).")
    # `updated_at` is left alone: it says when the reviewer last changed their review.
    PeerReview.objects.filter(pk=review.pk, author=author, submitted_at__isnull=False).update(
        helpfulness=helpfulness
    )
    review.helpfulness = helpfulness


# Calibration ----------------------------------------------------------------------------


@dataclass
class Calibration:
    """How one reviewer's scores compare with the staff's on the memos both graded."""

    compared: int  # Reviews of memos the staff graded with the rubric.
    difference: Decimal | None  # Mean absolute difference, percent of the rubric's max.

    @property
    def agreement(self) -> Decimal | None:
        return None if self.difference is None else Decimal(100) - self.difference


def calibration(pairs: list[tuple[Decimal, Decimal]], maximum: Decimal | None) -> Calibration:
    """From (peer score, staff score) pairs: the mean absolute difference as a percent
    of the rubric's maximum, and agreement = 100 minus it."""
    if not pairs or not maximum:
        return Calibration(len(pairs), None)
    mean = sum(abs(peer - staff) for peer, staff in pairs) / len(pairs)
    return Calibration(len(pairs), (mean * 100 / maximum).quantize(Decimal("0.1")))


# Peer scores as grades --------------------------------------------------------------------


def median_levels(reviews: list[dict], criteria: list[dict]) -> dict[str, int] | None:
    """The median level per criterion of the reviews' levels, an even split rounded up
    (to the student's favour); None unless every criterion has a level. A level the
    rubric no longer has (it was edited after the reviews) is not counted."""
    levels = {}
    for index, criterion in enumerate(criteria):
        given = (r.get(str(index)) for r in reviews)
        chosen = [int(n) for n in given if n is not None and 0 <= int(n) < len(criterion["levels"])]
        if not chosen:
            return None
        # The median of whole levels is whole or a half; a half rounds up.
        levels[str(index)] = math.ceil(statistics.median(chosen))
    return levels


@transaction.atomic
def peer_scores_apply(*, item: ModuleItem, by, authors=None) -> int:
    """For each author with submitted reviews and no rubric score from the staff yet,
    make the median of their reviews' levels their rubric levels (with `work_grade`, so
    the grader shows and adjusts it as any grade). Audited per student. Returns how
    many grades were set. `authors` limits it to those students (a TA's cohorts)."""
    rubric = item.rubric
    if rubric is None or not rubric.criteria:
        raise PeerRefused(
            "This analysis has no rubric: peer scores come from the rubric, so give it one first."
        )
    reviews = PeerReview.objects.filter(item=item, submitted_at__isnull=False)
    if authors is not None:
        reviews = reviews.filter(author__in=authors)
    graded = Work.objects.filter(item=item, rubric_score__isnull=False).values("user_id")
    reviews = reviews.exclude(author__in=graded).select_related("author")
    by_author: dict = defaultdict(list)
    people = {}
    for review in reviews:
        by_author[review.author_id].append(review.rubric_levels)
        people[review.author_id] = review.author
    entries = []
    for author_id, levels_given in sorted(by_author.items()):
        levels = median_levels(levels_given, rubric.criteria)
        if levels is None:
            continue
        # A grader may have scored this student since the reviews were read: their
        # grade stands (the row is locked until this transaction ends).
        Work.objects.get_or_create(item=item, user_id=author_id)
        mine = Work.objects.select_for_update().get(item=item, user_id=author_id)
        if mine.rubric_score is not None:
            continue
        work = work_grade(
            item=item, student=people[author_id], grader=by, rubric_levels=levels, from_peers=True
        )
        entries.append(
            AuditEntry(
                actor=by,
                action=AuditAction.PEER_SCORES,
                summary=f"{people[author_id]} on “{item.title}”: {work.rubric_score} "
                f"from the median of {len(levels_given)} peer reviews"[:300],
                subject=people[author_id],
                course=item.module.course,
                before={"rubric_score": None},
                after={
                    "rubric_score": None if work.rubric_score is None else str(work.rubric_score),
                    "rubric_levels": levels,
                    "from": "peer reviews",
                },
            )
        )
    audit_many(entries)
    return len(entries)
