"""Stance checks: students answer before and after a module; the staff see how the
class moved."""

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db.models import Exists, OuterRef
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST
from django.views.decorators.vary import vary_on_headers

from cases.charts import histogram
from cases.forms import StanceAnswerForm, StanceSettingsForm
from cases.http import HtmxHttpRequest
from cases.models import SCALE, Membership, ModuleItem, StanceAnswer, StancePhase
from cases.permissions import CourseAccess, access_item, graded_students
from cases.services import stances as services

SCALE_LABELS = [str(value) for value, _label in SCALE]
SHIFT_LABELS = ["-3 or less", "-2", "-1", "0", "+1", "+2", "+3 or more"]


def _stance_item(user, pk: int):
    item, access = access_item(user, pk)
    stance = getattr(item, "stance_check", None)
    if stance is None:
        raise Http404
    stance.item = item
    return item, stance, access


def _student_context(request, item, stance, form=None) -> dict:
    now = timezone.now()
    mine = {a.phase: a for a in StanceAnswer.objects.filter(stance=stance, user=request.user)}
    phase = stance.open_phase(now)
    if form is None:
        current = mine.get(phase)
        initial = {"value": current.value, "reason": current.reason} if current else {}
        form = StanceAnswerForm(initial=initial)
    # The class's answers only after one's own, phase by phase.
    charts = [
        (
            f"stance-{answered}",
            histogram(
                f"The class {label.lower()}",
                f"How many students chose each point from 1 (strongly disagree) to 7 (strongly "
                f"agree), {label.lower()}.",
                SCALE_LABELS,
                ("", services.distribution(stance, answered)),
            ),
        )
        for answered, label in StancePhase.choices
        if answered in mine
    ]
    return {
        "item": item,
        "course": item.module.course,
        "stance": stance,
        "phase": phase,
        "phase_label": StancePhase(phase).label if phase else "",
        "mine": mine,
        "form": form,
        "charts": charts,
    }


def _shift_bucket(moved: int) -> int:
    return max(-3, min(3, moved)) + 3


def _staff_context(request, item, stance, access: CourseAccess) -> dict:
    course = item.module.course
    given = Membership.objects.filter(user=OuterRef("pk"), cohort__assignments__item=item)
    students = graded_students(request.user, course, access).filter(Exists(given))
    rows = services.shifts(stance, students)
    before = [0] * 7
    after = [0] * 7
    moves = [0] * 7
    for row in rows:
        if row.before:
            before[row.before.value - 1] += 1
        if row.after:
            after[row.after.value - 1] += 1
        if row.moved is not None:
            moves[_shift_bucket(row.moved)] += 1
    paired = [r for r in rows if r.moved is not None]
    return {
        "item": item,
        "course": course,
        "stance": stance,
        "access": access,
        "rows": rows,
        "answered_before": sum(before),
        "answered_after": sum(after),
        "moved": sum(1 for r in paired if r.moved),
        "mean_shift": round(sum(r.moved for r in paired) / len(paired), 2) if paired else None,
        "distribution": histogram(
            "Before and after the module",
            "How many students chose each point from 1 (strongly disagree) to 7 (strongly "
            "agree), before the module and after it.",
            SCALE_LABELS,
            ("Before", before),
            ("After", after),
        ),
        "shift_chart": histogram(
            "How far each student moved",
            "Students who answered both times, by how many points their answer moved "
            "(negative: toward disagreeing).",
            SHIFT_LABELS,
            ("", moves),
        ),
        "reasons": [
            (label, services.reasons_by_position(rows, phase))
            for phase, label in StancePhase.choices
        ],
        "nav_teaches": True,
    }


def item_stance_check(request: HtmxHttpRequest, item: ModuleItem, access: CourseAccess):
    """A stance check as a module item: students answer (and then see the class's
    answers); course staff see the distributions, each student's shift and the
    reasons grouped by position."""
    stance = getattr(item, "stance_check", None)
    if stance is None:
        return None
    stance.item = item
    if access.can_grade:
        context = _staff_context(request, item, stance, access)
        return render(request, "cases/stances/stance_results.html", context)
    return render(
        request, "cases/stances/stance_check.html", _student_context(request, item, stance)
    )


@require_POST
@vary_on_headers("HX-Request")
def stance_answer(request: HtmxHttpRequest, pk: int):
    """Students given the item answer the phase open now (again, to change it). htmx
    gets the panel back; a plain post returns to the item."""
    item, stance, access = _stance_item(request.user, pk)
    if access.can_grade:
        raise PermissionDenied  # Staff do not answer; they read the results.
    form = StanceAnswerForm(request.POST)
    if form.is_valid():
        try:
            services.stance_answer(
                stance=stance,
                user=request.user,
                value=form.cleaned_data["value"],
                reason=form.cleaned_data["reason"],
            )
        except services.StanceRefused as refused:
            form.add_error(None, str(refused))
        else:
            if not request.htmx:
                messages.success(request, "Your answer is saved.")
                return redirect(item)
            form = None
    context = _student_context(request, item, stance, form)
    template = "cases/stances/stance_check.html"
    status = 200 if form is None or form.is_valid() else 400
    if request.htmx:
        template += "#stance-panel"
        status = 200  # htmx swaps only 2xx answers; the errors are in the panel.
    return render(request, template, context, status=status)


@require_http_methods(["GET", "POST"])
def stance_settings(request: HtmxHttpRequest, pk: int):
    """Instructors and admins set the statement and the before and after windows."""
    item, stance, access = _stance_item(request.user, pk)
    if not access.can_teach:
        raise PermissionDenied
    form = StanceSettingsForm(request.POST or None, instance=stance)
    if request.method == "POST" and form.is_valid():
        form.save()
        messages.success(request, "Stance check saved.")
        return redirect(item)
    context = {
        "form": form,
        "item": item,
        "course": item.module.course,
        "heading": "Statement and windows",
        "help": "Students answer “before” until the “after” window opens, then “after”.",
    }
    return render(request, "cases/courses/item_settings.html", context)
