"""The spectrum exercise: students place each company between novel-product research
(R) and second-generation and process innovation (D); course staff see the class's
placements; the instructor releases them, with the authors', to the class."""

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db.models import F
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST
from django.views.decorators.vary import vary_on_headers

from cases.charts import dot_plot
from cases.forms.thesis import SpectrumForm
from cases.http import HtmxHttpRequest
from cases.models import ModuleItem, SpectrumPlacement, StancePair, assignment_for_student
from cases.permissions import CourseAccess, access_item_content, class_students
from cases.services import thesis as services
from cases.services.thesis import SPECTRUM_PAIR_MIN_DISTANCE

TEMPLATE = "cases/thesis/spectrum_detail.html"
AUTHORS = "Authors' placement"


def _chart(title: str, description: str, cases, positions: dict[int, list[int]]):
    return dot_plot(
        title,
        description,
        [(case.company, positions.get(case.pk, []), case.spectrum_placement) for case in cases],
        empty="No placements yet: the chart fills in as students save theirs.",
    )


def _student_context(request, item, exercise, access, *, form=None, saved=False) -> dict:
    """A student's own placements, and once released the class's beside the authors'.
    Before release the authors' placement and classmates' answers are not loaded."""
    user = request.user
    cases = exercise.cases.order_by("title")
    if not exercise.released:
        cases = cases.only("title", "slug", "company")
    cases = list(cases)
    own = {p.case_id: p for p in SpectrumPlacement.objects.filter(exercise=exercise, user=user)}
    assignment = assignment_for_student(item.pk, user)
    pair, earlier = services.pairs_of(user, StancePair.objects.filter(spectrum=exercise))
    context = {
        "pair": pair,
        "partner": pair.partner_of(user) if pair else None,
        "earlier_pairs": [(old, old.partner_of(user)) for old in earlier],
        "item": item,
        "course": item.module.course,
        "access": access,
        "assignments": [assignment] if assignment else [],
        "exercise": exercise,
        "form": form or SpectrumForm(cases=cases, placements=own),
        "closed": services.spectrum_refusal(exercise, assignment, timezone.now()),
        "saved": saved,
    }
    if exercise.released:
        positions = services.spectrum_positions(exercise, class_students(item))
        chart = _chart(
            "Where the class placed each company",
            "Each dot is one student's placement from 0 (novel-product research) to 100 "
            "(second-generation and process innovation); the triangle is the authors'.",
            cases,
            positions,
        )
        results = []
        for case, row in zip(cases, chart.rows, strict=True):
            mine = own.get(case.pk)
            distance = None
            if mine is not None and case.spectrum_placement is not None:
                distance = abs(mine.position - case.spectrum_placement)
            results.append({"case": case, "row": row, "mine": mine, "distance": distance})
        context |= {"chart": chart, "results": results}
    return context


def _staff_context(request, item, exercise, access: CourseAccess) -> dict:
    """Every placement by the students the user grades and the item is given to, as a
    dot plot with the authors' marker (the class's positions, counted as a student's
    page counts them), a count per company and a table per student."""
    course = item.module.course
    cases = list(exercise.cases.order_by("title"))
    students = class_students(item, request.user, access)
    placements = (
        SpectrumPlacement.objects.filter(exercise=exercise, user__in=students)
        .select_related("user")
        .order_by("user__last_name", "user__first_name", "user")
    )
    positions = services.spectrum_positions(exercise, students)
    by_student: dict[int, dict] = {}
    for placement in placements:
        row = by_student.setdefault(placement.user_id, {"student": placement.user, "cases": {}})
        row["cases"][placement.case_id] = placement
    chart = _chart(
        "Where your students placed each company",
        "Each dot is one student's placement from 0 (novel-product research) to 100 "
        "(second-generation and process innovation); the triangle is the authors'.",
        cases,
        positions,
    )
    rows = [
        {"student": row["student"], "placements": [row["cases"].get(c.pk) for c in cases]}
        for row in by_student.values()
    ]
    return {
        "item": item,
        "course": course,
        "access": access,
        "assignments": item.assignments.select_related("cohort"),
        "exercise": exercise,
        "cases": cases,
        "chart": chart,
        "rows": rows,
        "student_count": students.count(),
        "pairs": StancePair.objects.filter(spectrum=exercise)
        .select_related("first", "second")
        .order_by(F("ended_at").asc(nulls_first=True), "-distance", "pk"),
        "pair_min_distance": SPECTRUM_PAIR_MIN_DISTANCE,
    }


def item_spectrum(request: HtmxHttpRequest, item: ModuleItem, access: CourseAccess):
    """A spectrum exercise as a module item. Students given it place each company and
    see only their own placements until the instructor releases the class's; course
    staff see every placement by the students they grade, at any time."""
    exercise = getattr(item, "spectrum", None)
    if exercise is None:
        return None
    exercise.item = item
    if access.can_grade:
        return render(request, TEMPLATE, _staff_context(request, item, exercise, access))
    return render(request, TEMPLATE, _student_context(request, item, exercise, access))


@require_POST
@vary_on_headers("HX-Request")
def spectrum_save(request: HtmxHttpRequest, pk: int):
    """Students given the exercise save their placements (all companies in one go,
    saving again overwrites). Errors and refusals come back beside the fields with
    everything typed kept; htmx gets the form back, a plain post is redirected."""
    item, exercise, access = access_item_content(request.user, pk, "spectrum")
    if access.can_grade:
        raise PermissionDenied
    cases = list(exercise.cases.order_by("title").only("title", "slug", "company"))
    form = SpectrumForm(request.POST, cases=cases)
    saved = False
    if form.is_valid():
        try:
            services.spectrum_save(
                exercise=exercise, user=request.user, placements=form.placements()
            )
        except services.SpectrumRefused as refused:
            form.add_error(None, str(refused))
        else:
            if not request.htmx:
                messages.success(request, "Your placements are saved.")
                return redirect(item)
            saved = True
    context = _student_context(request, item, exercise, access, form=form, saved=saved)
    template = TEMPLATE
    if request.htmx and not request.htmx.history_restore_request:
        template += "#spectrum-form"
    return render(request, template, context)


@require_POST
def spectrum_release(request: HtmxHttpRequest, pk: int):
    """Instructors and admins of the course show students the class's placements and
    the authors' (or hide them again); TAs and students are refused."""
    item, exercise, access = access_item_content(request.user, pk, "spectrum")
    if not access.can_teach:
        raise PermissionDenied
    release = request.POST.get("release") != "0"
    services.spectrum_release(exercise=exercise, release=release)
    messages.success(
        request,
        "Students now see the class's placements and the authors'."
        if release
        else "Students again see only their own placements.",
    )
    return redirect(item)
