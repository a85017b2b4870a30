"""Thesis tools: stance checks (students answer before and after a module; the staff
see how the class moved) and decision points (commit, then reveal)."""

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db.models import Count, F
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.timezone import localtime
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django.views.decorators.vary import vary_on_headers

from cases.charts import dot_plot, histogram
from cases.forms.thesis import (
    DecisionCommitForm,
    DecisionSettingsForm,
    StanceAnswerForm,
    StanceSettingsForm,
)
from cases.http import HtmxHttpRequest
from cases.models import (
    REGIONAL_CASE_SLUG,
    SCALE,
    CaseStudy,
    DecisionCommit,
    ModuleItem,
    Region,
    SpectrumExercise,
    StanceAnswer,
    StancePair,
    StancePhase,
)
from cases.permissions import (
    CourseAccess,
    access_course,
    access_item_content,
    access_pair,
    class_students,
    graded_students,
)
from cases.services import thesis as services
from cases.services.workspace.work import thesis_answers

SCALE_LABELS = [str(value) for value, _label in SCALE]
SHIFT_LABELS = ["-3 or less", "-2", "-1", "0", "+1", "+2", "+3 or more"]
SHIFT_AXIS = ["≤ -3", "-2", "-1", "0", "+1", "+2", "≥ +3"]


def _student_context(request, item, stance, form=None) -> dict:
    now = timezone.now()
    answers = StanceAnswer.objects.filter(stance=stance, user=request.user).in_phase_order()
    mine = {a.phase: a for a in answers}
    phase = stance.open_phase(now)
    if form is None:
        current = mine.get(phase)
        initial = {"value": current.value, "reason": current.reason} if current else {}
        form = StanceAnswerForm(initial=initial | {"phase": phase})
    # The class's answers only after one's own, phase by phase.
    students = class_students(item)
    charts = [
        (
            f"stance-{answered}",
            histogram(
                f"The class {label.lower()}",
                f"How many students chose each point from 1 (strongly disagree) to 7 (strongly "
                f"agree), {label.lower()}.",
                SCALE_LABELS,
                ("", services.distribution(stance, answered, students)),
                mine=mine[answered].value - 1,
            ),
        )
        for answered, label in StancePhase.choices
        if answered in mine
    ]
    pair, earlier = services.pairs_of(request.user, StancePair.objects.filter(stance=stance))
    return {
        "pair": pair,
        "partner": pair.partner_of(request.user) if pair else None,
        "earlier_pairs": [(old, old.partner_of(request.user)) for old in earlier],
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


def _shift_empty(stance) -> str:
    """When the chart of moves will have something to show."""
    when = ""
    if stance.after_opens_at and stance.after_opens_at > timezone.now():
        when = (
            f" (after-module answers open {date_format(localtime(stance.after_opens_at), 'D j M')})"
        )
    return f"Appears once a student has answered both before and after the module{when}."


def _staff_context(request, item, stance, access: CourseAccess) -> dict:
    course = item.module.course
    students = class_students(item, request.user, access)
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
    pairs = StancePair.objects.filter(stance=stance).select_related("first", "second")
    # Current pairs, farthest apart first, then ended ones, ordered here: Django leaves
    # the model's `ordering` out of a query with an aggregate.
    pairs = pairs.annotate(message_count=Count("messages")).order_by(
        F("ended_at").asc(nulls_first=True), "-distance", "pk"
    )
    if not (access.is_instructor or access.is_admin):
        shown = {row.student.pk for row in rows}  # A TA sees the pairs of their students.
        pairs = [p for p in pairs if p.first_id in shown or p.second_id in shown]
    return {
        "pairs": pairs,
        "polarisation": [
            (
                label,
                services.polarisation(
                    [r.before.value for r in rows if r.before]
                    if phase == StancePhase.BEFORE
                    else [r.after.value for r in rows if r.after]
                ),
            )
            for phase, label in StancePhase.choices
        ],
        "pair_min_distance": services.PAIR_MIN_DISTANCE,
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
            empty="No answers yet: the chart fills in as students answer the check.",
        ),
        "shift_chart": histogram(
            "How far each student moved",
            "Students who answered both times, by how many points their answer moved "
            "(negative: toward disagreeing).",
            SHIFT_LABELS,
            ("", moves),
            axis=SHIFT_AXIS,
            empty=_shift_empty(stance),
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
        return render(request, "cases/thesis/stance_results.html", context)
    return render(
        request, "cases/thesis/stance_check.html", _student_context(request, item, stance)
    )


@require_POST
@vary_on_headers("HX-Request")
def stance_answer(request: HtmxHttpRequest, pk: int):
    """Students given the item answer the phase open now (again, to change it). htmx
    gets the panel back; a plain post returns to the item."""
    item, stance, access = access_item_content(request.user, pk, "stance_check")
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
                phase=form.cleaned_data["phase"],
            )
        except services.StancePhaseMoved as moved:
            # The answer comes back as typed, now asking for the phase open now.
            data = request.POST.copy()
            data["phase"] = moved.phase
            form = StanceAnswerForm(data)
            form.is_valid()
            form.add_error(None, str(moved))
        except services.StanceRefused as refused:
            form.add_error(None, str(refused))
        else:
            if not request.htmx:
                messages.success(request, "Your answer is saved.")
                return redirect(item)
            form = None
    context = _student_context(request, item, stance, form)
    template = "cases/thesis/stance_check.html"
    status = 200 if form is None or form.is_valid() else 400
    if request.htmx:
        template += "#stance-panel"
        status = 200  # htmx swaps only 2xx answers; the errors are in the panel.
    return render(request, template, context, status=status)


@require_http_methods(["GET", "POST"])
def stance_settings(request: HtmxHttpRequest, pk: int):
    """Instructors and admins set the statement and the before and after windows."""
    item, stance, access = access_item_content(request.user, pk, "stance_check")
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
    return render(request, "cases/builder/item_settings.html", context)


# Commit, then reveal ----------------------------------------------------------------


def _decision_student_context(request, item, decision, form=None) -> dict:
    """Before committing: the case to read first (part A) and the form. After: what
    the student committed to, the class's split, and the case's part B."""
    commit = DecisionCommit.objects.filter(decision=decision, user=request.user).first()
    if commit is None and form is None:
        form = DecisionCommitForm(options=decision.options)
    part_b = decision.reveals
    context = {
        "item": item,
        "course": item.module.course,
        "decision": decision,
        "commit": commit,
        "choice_label": decision.options[commit.choice] if commit else "",
        "form": form,
        "part_a": part_b.follows if part_b else None,
        "part_b": part_b if commit else None,
    }
    if commit:
        context |= _decision_split(decision, class_students(item))
    return context


def _decision_split(decision, students) -> dict:
    """How the students' commitments split over the options, and how many expect the
    predicted event: what staff see, and what a student sees once committed."""
    split = services.decision_split(decision, students)
    return {
        "summary": split,
        "choices": histogram(
            "What the class decided",
            "How many students committed to each option.",
            decision.options,
            ("", split.choices),
            empty="Nobody has committed yet: the chart fills in as students commit.",
        ),
    }


def _decision_staff_context(request, item, decision, access: CourseAccess) -> dict:
    course = item.module.course
    students = class_students(item, request.user, access)
    return {
        "item": item,
        "course": course,
        "decision": decision,
        "access": access,
        "nav_teaches": True,
    } | _decision_split(decision, students)


def item_decision(request: HtmxHttpRequest, item: ModuleItem, access: CourseAccess):
    """A decision point as a module item: students commit to a decision and a
    prediction, then read the follow-up; staff see what the class decided and record
    whether the prediction came true."""
    decision = getattr(item, "decision", None)
    if decision is None:
        return None
    decision.item = item
    if access.can_grade:
        context = _decision_staff_context(request, item, decision, access)
        return render(request, "cases/thesis/decision_results.html", context)
    context = _decision_student_context(request, item, decision)
    return render(request, "cases/thesis/decision.html", context)


@require_POST
def decision_commit(request: HtmxHttpRequest, pk: int):
    """Students given the item commit, once; the follow-up then opens. Sent again (a
    second tab, Back), the first commitment stands and the student is told so."""
    item, decision, access = access_item_content(request.user, pk, "decision")
    if access.can_grade:
        raise PermissionDenied
    form = DecisionCommitForm(request.POST, options=decision.options)
    if form.is_valid():
        try:
            commit, created = services.decision_commit(
                decision=decision, user=request.user, **form.cleaned_data
            )
        except services.StanceRefused as refused:
            form.add_error(None, str(refused))
        else:
            if created:
                messages.success(request, "Committed. Read on: the case continues below.")
            else:
                messages.warning(request, _committed_before(decision, commit, form))
            return redirect(item)
    context = _decision_student_context(request, item, decision, form)
    return render(request, "cases/thesis/decision.html", context, status=400)


def _committed_before(decision, commit, form) -> str:
    """What a student who commits again is told: their first commitment stands."""
    first = decision.options[commit.choice]
    sent = form.cleaned_data["choice"]
    if sent != commit.choice:
        return (
            f"You had already committed to “{first}”, and a commitment cannot change: "
            f"that one stands, and “{decision.options[sent]}” was not saved."
        )
    return f"You had already committed to “{first}”: that commitment stands, unchanged."


@require_POST
def decision_score(request: HtmxHttpRequest, pk: int):
    """Instructors and admins record whether the predicted event came true."""
    item, decision, access = access_item_content(request.user, pk, "decision")
    if not access.can_teach:
        raise PermissionDenied
    outcome = {"yes": True, "no": False}.get(request.POST.get("came_true", ""))
    services.decision_score(decision=decision, came_true=outcome)
    messages.success(request, "Prediction scored." if outcome is not None else "Score cleared.")
    return redirect(item)


@require_http_methods(["GET", "POST"])
def decision_settings(request: HtmxHttpRequest, pk: int):
    """Instructors and admins write the question, options, prediction and follow-up."""
    item, decision, access = access_item_content(request.user, pk, "decision")
    if not access.can_teach:
        raise PermissionDenied
    form = DecisionSettingsForm(request.POST or None, instance=decision)
    if request.method == "POST" and form.is_valid():
        form.save()
        messages.success(request, "Decision point saved.")
        return redirect(item)
    context = {
        "form": form,
        "item": item,
        "course": item.module.course,
        "heading": "Question, prediction and follow-up",
        "help": "Students see the follow-up only once they have committed.",
    }
    return render(request, "cases/builder/item_settings.html", context)


@require_GET
def calibration(request: HtmxHttpRequest, pk: int):
    """Students of the course: their scored predictions across the course, by how sure
    they were against how often they were right. Staff: each student's score."""
    course, access = access_course(request.user, pk)
    if access.can_grade:
        commits = DecisionCommit.objects.filter(
            decision__item__module__course=course,
            decision__came_true__isnull=False,
            user__in=graded_students(request.user, course, access),
        ).select_related("decision", "user")
        by_student: dict[int, list] = {}
        for commit in commits:
            by_student.setdefault(commit.user_id, []).append(commit)
        rows = sorted(
            (
                (items[0].user, len(items), services.calibration(items)[1])
                for items in by_student.values()
            ),
            key=lambda row: row[2],
        )
        context = {"course": course, "rows": rows, "nav_teaches": True}
        return render(request, "cases/thesis/calibration_class.html", context)
    commits = list(
        DecisionCommit.objects.filter(
            decision__item__module__course=course, user=request.user
        ).select_related("decision__item")
    )
    buckets, brier = services.calibration(commits)
    context = {
        "course": course,
        "commits": commits,
        "buckets": buckets,
        "brier": brier,
        "chart": histogram(
            "How sure you were, and how often you were right",
            "For each band of confidence, your average confidence and the share of those "
            "predictions that came out as you expected, in percent.",
            [b.label for b in buckets],
            ("Your confidence", [round(b.mean_confidence or 0) for b in buckets]),
            ("Came out as you expected", [round(b.hit_rate or 0) for b in buckets]),
            empty="Appears once your instructor has recorded how a decision you committed to "
            "came out.",
        ),
    }
    return render(request, "cases/thesis/calibration.html", context)


# Arguing with the other side ---------------------------------------------------------


@require_POST
def stance_pairs(request: HtmxHttpRequest, pk: int):
    """Instructors and admins pair students far apart on a phase's answers."""
    item, stance, access = access_item_content(request.user, pk, "stance_check")
    if not access.can_teach:
        raise PermissionDenied
    phase = request.POST.get("phase")
    if phase not in StancePhase.values:
        phase = StancePhase.BEFORE
    students = graded_students(request.user, item.module.course, access, item=item)
    made = services.stance_pairs_make(stance=stance, students=students, phase=phase)
    messages.success(
        request,
        f"Made {made} pair{'s' if made != 1 else ''} of students at least "
        f"{services.PAIR_MIN_DISTANCE} points apart."
        if made
        else "No new pairs to make.",
    )
    return redirect(item)


@require_POST
def spectrum_pairs(request: HtmxHttpRequest, pk: int):
    """Instructors and admins pair students whose placements are far apart."""
    item, exercise, access = access_item_content(request.user, pk, "spectrum")
    if not access.can_teach:
        raise PermissionDenied
    students = graded_students(request.user, item.module.course, access, item=item)
    made = services.spectrum_pairs_make(exercise=exercise, students=students)
    messages.success(
        request,
        f"Made {made} pair{'s' if made != 1 else ''} of students at least "
        f"{services.SPECTRUM_PAIR_MIN_DISTANCE} points apart on average."
        if made
        else "No new pairs to make.",
    )
    return redirect(item)


@require_http_methods(["GET", "POST"])
def pair_thread(request: HtmxHttpRequest, pk: int):
    """The two students of a pair argue the statement out; the course staff who grade
    them read along."""
    pair, access = access_pair(request.user, pk)
    error = ""
    if request.method == "POST":
        if access is not None:
            raise PermissionDenied  # Staff read; the pair argues.
        try:
            services.pair_message_create(
                pair=pair, author=request.user, body=request.POST.get("body", "")
            )
        except services.StanceRefused as refused:
            error = str(refused)
        else:
            return redirect("cases:pair_thread", pk=pair.pk)
    item = pair.item
    context = {
        "pair": pair,
        "item": item,
        "course": item.module.course,
        "sides": [(person, thesis_answers(item, person)) for person in (pair.first, pair.second)],
        "messages_list": pair.messages.select_related("author"),
        "error": error,
        "body": request.POST.get("body", "") if error else "",
        "can_write": access is None and pair.ended_at is None,
    }
    return render(request, "cases/thesis/pair_thread.html", context, status=400 if error else 200)


# Regional comparison ------------------------------------------------------------------


@require_GET
def regional_comparison(request: HtmxHttpRequest, pk: int):
    """Everyone in the course: Beijing, Shanghai and the Pearl River Delta side by side:
    the course's companies in each, where the authors place them on the R-to-D
    spectrum (students: once released) and where the class placed them (students: once
    a spectrum exercise on them is released: each exercise's class, as its page counts
    it; neither, for a student, on a company an open exercise asks them to place:
    `spectrum_waiting`). Four queries, five for a student."""
    course, access = access_course(request.user, pk)
    in_course = list(
        CaseStudy.objects.filter(readings__item__module__course=course)
        .distinct()
        .order_by("company")
    )
    cases = [c for c in in_course if c.region != Region.OTHER]
    regional_case = next((c for c in in_course if c.slug == REGIONAL_CASE_SLUG), None)
    if access.can_grade:
        empty = "No placements yet: the chart fills in as students place these companies."
    else:
        empty = (
            "Where the class placed these companies appears once your instructor releases "
            "a spectrum exercise on them, and the authors' placements once they are released."
        )
    # Each exercise counts its own class, as its page does: the current members of the
    # cohorts it is given to (for staff, the part they grade).
    exercises = SpectrumExercise.objects.filter(
        item__module__course=course, cases__in=cases
    ).distinct()
    if not access.can_grade:
        exercises = exercises.filter(released_at__isnull=False)
    staff = (request.user, access) if access.can_grade else ()
    # A student's companies still to place in an open exercise: nobody's placements yet.
    waiting = set() if access.can_grade else services.spectrum_waiting(request.user, cases)
    by_case = services.spectrum_positions_across(
        {
            e: class_students(e.item, *staff)
            for e in exercises.select_related("item__module__course")
        },
        cases=[c for c in cases if c.pk not in waiting],
    )
    shown = (
        set()
        if access.can_grade
        else services.authors_placements_shown(request.user, cases, waiting)
    )
    regions = []
    for region in (Region.BEIJING, Region.SHANGHAI, Region.PRD):
        here = [c for c in cases if c.region == region]
        rows = []
        for case in here:
            authors = case.spectrum_placement if (access.can_grade or case.pk in shown) else None
            rows.append((case.company, by_case.get(case.pk, []), authors))
        chart = dot_plot(
            f"{region.label}: the companies on the R-to-D spectrum",
            f"Where the class placed each {region.label} company from 0 (novel-product "
            "research) to 100 (second-generation and process innovation), with the "
            "authors' placement where it may be shown.",
            rows,
            empty=empty,
        )
        regions.append(
            {"region": region, "cases": here, "chart": chart, "chart_id": f"region-{region.value}"}
        )
    context = {
        "course": course,
        "access": access,
        "regions": regions,
        "regional_case": regional_case,
    }
    return render(request, "cases/thesis/regions.html", context)
