"""Peer review of written analyses, as each side sees it: the reviewer reads a
classmate's memo (named only "Memo 2") beside the rubric and writes a review until the
reviews are due; the author reads "Reviewer 1, 2" and rates each review; the staff
assign the reviews per cohort, see who reviewed whom with how well each reviewer agrees
with the staff's own grades, and may make the median peer levels the grade."""

from collections import defaultdict

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Count, Exists, IntegerField, OuterRef, Q, Subquery, Value
from django.db.models.functions import Coalesce
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django.views.decorators.vary import vary_on_headers

from cases.http import HtmxHttpRequest, parse_int
from cases.models import (
    Analysis,
    Assignment,
    Cohort,
    Memo,
    MemoVersion,
    ModuleItem,
    PeerReview,
    Work,
    assignment_for_student,
)
from cases.models.analyses import MAX_COMMENT_CHARS
from cases.permissions import access_item_content, graded_cohorts, graded_students
from cases.services import peer_review as services

REVIEW_PAGE = "cases/analyses/peer_review.html"
STAFF_PAGE = "cases/analyses/peer_reviews.html"
STUDENT_PART = "cases/analyses/peer_student.html"
REVIEWERS_A_PAGE = 25


class PeerReviewForm(forms.Form):
    """A review: a level for each of the rubric's criteria and a comment for the writer."""

    comment = forms.CharField(
        label="Your comments for the writer (Markdown)",
        max_length=MAX_COMMENT_CHARS,
        widget=forms.Textarea(attrs={"rows": 10}),
        help_text="What convinces you, what does not, and what would make the memo stronger.",
        error_messages={"required": "Write a comment: the writer learns most from it."},
    )

    def __init__(self, *args, rubric=None, **kwargs):
        super().__init__(*args, **kwargs)
        for index, criterion in enumerate(rubric.criteria if rubric else []):
            self.fields[f"criterion_{index}"] = forms.ChoiceField(
                label=criterion["name"],
                choices=[
                    (str(n), f"{level['label']} ({level['points']:g})")
                    for n, level in enumerate(criterion["levels"])
                ],
                widget=forms.RadioSelect,
                error_messages={"required": f"Choose a level for {criterion['name']}."},
            )
        # The rubric first, as the grader's form has it; the comment last.
        self.order_fields([name for name in self.fields if name != "comment"] + ["comment"])

    def criteria(self):
        return [self[name] for name in self.fields if name.startswith("criterion_")]

    def rubric_levels(self) -> dict[str, int]:
        return {
            name.removeprefix("criterion_"): int(value)
            for name, value in self.cleaned_data.items()
            if name.startswith("criterion_")
        }


# The student's side ---------------------------------------------------------------------


def peer_student_context(
    item: ModuleItem, user, analysis: Analysis, assignment: Assignment | None
) -> dict:
    """What the writing page shows of peer review: the memos the student reviews (by
    number) with their due date, and the submitted reviews of their memo (by reviewer
    number). One query, none when the analysis has no peer review."""
    if not analysis.peer_review:
        return {}
    given, received = [], []
    mine = PeerReview.objects.filter(item=item).filter(Q(reviewer=user) | Q(author=user))
    rubric = None
    # The rubric rides along, to name the levels the reviewers chose.
    for review in mine.select_related("item__rubric"):
        (given if review.reviewer_id == user.pk else received).append(review)
        rubric = review.item.rubric
    # Given to reviewers: the memo stays as they read it (`changes_closed`).
    under_review = bool(received)
    received = [review for review in received if review.submitted_at is not None]
    # Numbered in the order they came in (a first submission's time is kept): a review
    # written later is the next number, never one that renumbers those already read.
    received.sort(key=lambda review: (review.submitted_at, review.pk))
    for number, review in enumerate(received, start=1):
        review.number = number
        review.levels_shown = _levels_of(rubric, review.rubric_levels)
    deadline = services.review_deadline(assignment, analysis)
    return {
        "peer_under_review": under_review,
        "peer_given": sorted(given, key=lambda review: review.position),
        "peer_received": received,
        "peer_deadline": deadline,
        "peer_closed": services.review_closed(deadline),
        "peer_max": rubric.max_points if rubric and rubric.criteria else None,
    }


def _file_url(version: MemoVersion) -> str | None:
    """The download of a memo handed in as a file, once that page exists."""
    try:
        return reverse("cases:memo_file", args=[version.pk])
    except NoReverseMatch:
        return None


def _levels_of(rubric, levels: dict) -> list[tuple[str, str]]:
    """(criterion, chosen level) for a review, as the author and the reviewer read it."""
    shown = []
    for index, criterion in enumerate(rubric.criteria if rubric else []):
        chosen = levels.get(str(index))
        if chosen is not None and 0 <= int(chosen) < len(criterion["levels"]):
            level = criterion["levels"][int(chosen)]
            shown.append((criterion["name"], f"{level['label']} ({level['points']:g})"))
    return shown


@never_cache
@require_http_methods(["GET", "POST"])
def peer_review(request: HtmxHttpRequest, pk: int):
    """The reviewer alone (anyone else: 404, so a review's id tells nothing): the memo
    they were given, named by its number only, beside the rubric and a comment. Saving
    again before the reviews are due replaces the review; afterwards it is read-only."""
    review = get_object_or_404(
        PeerReview.objects.select_related("version"), pk=pk, reviewer=request.user.pk
    )
    item, analysis, _access = access_item_content(request.user, review.item_id, "analysis")
    if not analysis.peer_review:
        raise Http404
    rubric = item.rubric if item.rubric_id else None
    deadline = services.review_deadline(assignment_for_student(item.pk, request.user), analysis)
    closed = services.review_closed(deadline)
    initial = {"comment": review.comment}
    for index, level in review.rubric_levels.items():
        initial[f"criterion_{index}"] = str(level)
    form = PeerReviewForm(
        request.POST if request.method == "POST" else None, initial=initial, rubric=rubric
    )
    status = 200
    if request.method == "POST":
        if closed:
            form.is_valid()
            form.add_error(None, closed)
            status = 400
        elif form.is_valid():
            try:
                services.peer_review_submit(
                    review=review,
                    rubric=rubric,
                    levels=form.rubric_levels(),
                    comment=form.cleaned_data["comment"],
                    deadline=deadline,
                )
            except services.PeerRefused as refused:
                form.add_error(None, str(refused))
                status = 400
            else:
                messages.success(
                    request,
                    f"Review of memo {review.position} saved. You can change it until "
                    "the reviews are due.",
                )
                return redirect("cases:peer_review", pk=review.pk)
        else:
            status = 400
    context = {
        "item": item,
        "course": item.module.course,
        "analysis": analysis,
        "review": review,
        "version": review.version,
        "file_url": _file_url(review.version) if review.version.is_file else None,
        "form": form,
        "deadline": deadline,
        "closed": closed,
        "levels": _levels_of(rubric, review.rubric_levels),
        "max_points": rubric.max_points if rubric and rubric.criteria else None,
    }
    return render(request, REVIEW_PAGE, context, status=status)


@require_POST
@vary_on_headers("HX-Request")
def peer_review_rate(request: HtmxHttpRequest, pk: int):
    """The memo's author alone (anyone else: 404) rates a submitted review of it from
    1 to 5; rating again replaces it. With htmx the answer is the rating's form."""
    review = get_object_or_404(
        PeerReview.objects.select_related("item"),
        pk=pk,
        author=request.user.pk,
        submitted_at__isnull=False,
    )
    value = parse_int(request.POST.get("helpfulness"), low=1, high=5)
    error = None
    if value is None:
        error = "Choose how helpful it was, from 1 (not at all) to 5 (very)."
    else:
        services.peer_review_rate(review=review, author=request.user, helpfulness=value)
    if request.htmx and not request.htmx.history_restore_request:
        context = {"review": review, "rating_error": error, "rated": error is None}
        return render(request, f"{STUDENT_PART}#rating", context, status=400 if error else 200)
    if error:
        messages.error(request, error)
    else:
        messages.success(request, "Thank you: your rating is saved.")
    return redirect(f"{review.item.get_absolute_url()}#reviews-of-yours")


# The staff's side -----------------------------------------------------------------------


def _staff_item(request, pk: int, *, teach: bool = False):
    item, analysis, access = access_item_content(request.user, pk, "analysis")
    if not access.can_grade or (teach and not access.can_teach):
        raise PermissionDenied
    return item, analysis, access


def _count(queryset) -> Coalesce:
    """A subquery counting the rows of `queryset` (one item's rows), 0 when none."""
    counted = queryset.order_by().values("item").annotate(n=Count("pk")).values("n")
    return Coalesce(Subquery(counted, output_field=IntegerField()), Value(0))


def _cohorts(request, item: ModuleItem, access) -> list[Assignment]:
    """The item's assignments to the cohorts the user grades, each with how many of its
    students handed in and how many reviews its students were given: one query."""
    cohorts = graded_cohorts(request.user, item.module.course, access)
    handed_in = Memo.objects.filter(
        item=item,
        author__memberships__cohort=OuterRef("cohort"),
        pk__in=MemoVersion.objects.values("memo"),
    )
    reviews = PeerReview.objects.filter(item=item, reviewer__memberships__cohort=OuterRef("cohort"))
    return list(
        Assignment.objects.filter(item=item, cohort__in=cohorts)
        .select_related("cohort")
        .annotate(handed_in=_count(handed_in), reviews=_count(reviews))
        .order_by("cohort__name", "pk")
    )


@never_cache
@require_GET
def peer_reviews(request: HtmxHttpRequest, pk: int):
    """The course's graders (a TA only their cohorts): per cohort, whether its reviews
    are assigned; who reviewed whom with the score given, when, and how helpful the
    author found it; and how well each reviewer agrees with the staff's rubric grades.
    Instructors and admins assign the reviews and may use the peer scores as grades."""
    item, analysis, access = _staff_item(request, pk)
    course = item.module.course
    cohorts = _cohorts(request, item, access)
    reviewers = (
        graded_students(request.user, course, access)
        .filter(Exists(PeerReview.objects.filter(item=item, reviewer=OuterRef("pk"))))
        .order_by("last_name", "first_name", "username")
    )
    page = Paginator(reviewers, REVIEWERS_A_PAGE).get_page(
        parse_int(request.GET.get("page"), low=1) or 1
    )
    people = list(page.object_list)
    # Only a score a person on the staff gave is the staff's: one made of the peer
    # reviews (the reviewer's own among them) would flatter every reviewer's agreement.
    work = Work.objects.filter(item=item, user=OuterRef("author"), rubric_score__isnull=False)
    reviews = (
        PeerReview.objects.filter(item=item, reviewer__in=[person.pk for person in people])
        .select_related("author", "item__rubric")
        .annotate(
            staff_score=Subquery(work.filter(rubric_from_peers=False).values("rubric_score")[:1]),
            from_peers=Exists(work.filter(rubric_from_peers=True)),
        )
        .order_by("reviewer", "position")
    )
    by_reviewer = defaultdict(list)
    rubric = None
    for review in reviews:
        by_reviewer[review.reviewer_id].append(review)
        rubric = review.item.rubric
    maximum = rubric.max_points if rubric and rubric.criteria else None
    rows = []
    for person in people:
        given = by_reviewer.get(person.pk, [])
        pairs = [
            (review.score, review.staff_score)
            for review in given
            if review.submitted_at and review.score is not None and review.staff_score is not None
        ]
        rows.append((person, given, services.calibration(pairs, maximum)))
    context = {
        "item": item,
        "course": course,
        "analysis": analysis,
        "access": access,
        "cohorts": cohorts,
        "now": timezone.now(),
        "page": page,
        "rows": rows,
        "has_rubric": bool(item.rubric_id),
        "nav_teaches": True,
    }
    return render(request, STAFF_PAGE, context)


def _back(item: ModuleItem):
    return redirect("cases:peer_reviews", pk=item.pk)


@require_POST
def peer_reviews_assign(request: HtmxHttpRequest, pk: int):
    """Instructors and admins (TAs and students: 403) give the students of one cohort
    (or of every cohort past its due date, without one) their memos to review. Doing it
    again changes nothing already assigned; students who handed in since are put
    together in a ring of their own."""
    item, _analysis, _access = _staff_item(request, pk, teach=True)
    cohort = None
    if "cohort" in request.POST:
        cohort = get_object_or_404(
            Cohort.objects.filter(assignments__item=item),
            pk=parse_int(request.POST.get("cohort"), low=1) or 0,
        )
    try:
        results = services.peer_reviews_assign(item=item, cohort=cohort, by=request.user)
    except services.PeerRefused as refused:
        messages.error(request, str(refused))
        return _back(item)
    for result in results:
        if result.created:
            text = (
                f"{result.cohort.name}: {result.students} students each review "
                f"{result.reviews_each} memo{'s' if result.reviews_each != 1 else ''} "
                f"({result.created} reviews); each was told."
            )
            if result.already:
                text += f" The {result.already} given memos before keep them."
        elif result.already:
            text = (
                f"{result.cohort.name}: all {result.already} students who handed in already "
                "have their memos to review; nothing changed."
            )
        elif result.waiting:
            text = f"{result.cohort.name}: no reviews assigned yet."
        else:
            text = f"{result.cohort.name}: nobody has handed in, so there is nothing to review."
        messages.success(request, " ".join([text, *result.notes]))
    return _back(item)


@require_POST
def peer_scores_apply(request: HtmxHttpRequest, pk: int):
    """Instructors and admins (TAs and students: 403): for each student whose memo was
    reviewed and whom the staff have not scored on the rubric, the median of the
    reviews' levels becomes their rubric grade, adjustable in the grader."""
    item, _analysis, _access = _staff_item(request, pk, teach=True)
    try:
        count = services.peer_scores_apply(item=item, by=request.user)
    except services.PeerRefused as refused:
        messages.error(request, str(refused))
        return _back(item)
    if count:
        messages.success(
            request,
            f"Peer scores are now the rubric grade of {count} student{'s' if count != 1 else ''}; "
            "change any of them in the grader.",
        )
    else:
        messages.info(
            request,
            "No grade was set: every student with submitted reviews already has a rubric "
            "score from the staff, or none has complete reviews yet.",
        )
    return _back(item)
