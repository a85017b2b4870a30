"""Scheduling: an item given to cohorts with their dates, extensions for students, and
the course's deadlines. Dates are shown and typed in the course's time zone, which the
access helpers activate for the request."""

from datetime import timedelta

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db.models import Exists, OuterRef
from django.shortcuts import get_object_or_404, redirect, render
from django.template.defaultfilters import pluralize
from django.utils import timezone
from django.utils.formats import date_format
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from cases.forms.schedule import (
    AccommodationForm,
    AssignmentBulkForm,
    AssignmentScheduleForm,
    ExtensionForm,
)
from cases.http import HtmxHttpRequest, as_typed
from cases.models import (
    Accommodation,
    Assignment,
    Extension,
    ItemKind,
    Membership,
    ModuleItem,
    User,
)
from cases.permissions import access_course, access_item
from cases.services import schedule as services
from cases.services.workspace.work import student_items, with_work
from cases.timezones import zone_of

# The deadlines page shows what is due from this long ago onwards.
RECENT = timedelta(days=7)


def _teach_item(user, pk: int) -> ModuleItem:
    item, access = access_item(user, pk)
    if not access.can_teach:
        raise PermissionDenied
    return item


def _item_students(item: ModuleItem):
    """Students of the cohorts the item is given to."""
    return User.objects.filter(
        Exists(Membership.objects.filter(user=OuterRef("pk"), cohort__assignments__item=item))
    ).order_by("last_name", "first_name", "username")


def _row_forms(item, cohorts, assignments, data=None):
    """One schedule form per current cohort of the course, filled from its assignment if
    any; an archived cohort's only when it has one (shown, not edited) or the post
    names it anyway (refused beside its row)."""
    zone = str(zone_of(item.module.course))
    rows = []
    for cohort in cohorts:
        assignment = assignments.get(cohort.pk)
        prefix = f"cohort-{cohort.pk}"
        named = data is not None and any(key.startswith(f"{prefix}-") for key in data)
        if not cohort.is_current and assignment is None and not named:
            continue
        initial = {}
        if assignment is not None:
            initial = {name: getattr(assignment, name) for name in services.SCHEDULE_FIELDS}
            initial["assigned"] = True
        form = AssignmentScheduleForm(
            data, prefix=prefix, initial=initial, zone_name=zone, cohort=cohort
        )
        form.assignment = assignment
        rows.append((cohort, form))
    return rows


def _course_students(course):
    """Students of the course's cohorts."""
    return User.objects.filter(
        Exists(Membership.objects.filter(user=OuterRef("pk"), cohort__courses=course))
    ).order_by("last_name", "first_name", "username")


def _schedule_page(request, item, *, rows=None, bulk=None, extension=None, accommodation=None):
    course = item.module.course
    zone = str(zone_of(course))
    cohorts = list(course.cohorts.all())
    assignments = {a.cohort_id: a for a in item.assignments.all()}
    context = {
        "item": item,
        "course": course,
        "zone": zone,
        "rows": rows or _row_forms(item, cohorts, assignments),
        # The same dates for several cohorts, when there are several to give them to.
        "bulk_offered": sum(cohort.is_current for cohort in cohorts) > 1,
        # Students can be given extensions once the item is given to their cohort.
        "assigned_any": bool(assignments),
        "bulk_form": bulk
        or AssignmentBulkForm(prefix="bulk", cohorts=course.cohorts.all(), zone_name=zone),
        "extension_form": extension
        or ExtensionForm(item=item, students=_item_students(item), zone_name=zone),
        "extensions": Extension.objects.filter(assignment__item=item)
        .select_related("user", "assignment__cohort")
        .order_by("user__last_name", "user__username", "assignment__cohort__name"),
    }
    if item.kind == ItemKind.QUIZ:
        context["accommodation_form"] = accommodation or AccommodationForm(
            students=_course_students(course)
        )
        context["accommodations"] = (
            Accommodation.objects.filter(course=course)
            .select_related("student")
            .order_by("student__last_name", "student__username")
        )
    return render(request, "cases/schedule/item_schedule.html", context)


@require_http_methods(["GET", "POST"])
def item_schedule(request: HtmxHttpRequest, pk: int):
    """Instructors and admins of the course give the item to cohorts, each with its own
    opening, due date, points, late policy and cut-off; or apply one set of dates to
    several cohorts at once. An invalid form comes back with everything typed kept.

    Taking the item away from a cohort whose students have work on it, or extensions,
    asks first (`assignments_at_stake`), as does moving a cohort's due date before work
    already handed in (`work_made_late`) or its opening later than now after students
    began on it (`work_put_off`): a page says what each such cohort loses and
    carries what was typed, to save it (`confirmed`) or go back to the schedule with it
    (`action=edit`). With nothing at stake it just saves.

    Only current cohorts are offered: an archived cohort's assignment is listed as it
    was, not changed nor taken away, and a post naming an archived cohort is refused
    beside its row or the cohorts field, with everything typed kept."""
    item = _teach_item(request.user, pk)
    if request.method == "GET":
        return _schedule_page(request, item)
    course = item.module.course
    zone = str(zone_of(course))
    cohorts = list(course.cohorts.all())
    if request.POST.get("action") in ("apply", "apply_edit"):
        bulk = AssignmentBulkForm(
            request.POST, prefix="bulk", cohorts=course.cohorts.all(), zone_name=zone
        )
        if request.POST["action"] == "apply_edit" or not bulk.is_valid():
            return _schedule_page(request, item, bulk=bulk)
        chosen = bulk.cleaned_data["cohorts"]
        schedule = {c: bulk.schedule() for c in chosen}
        if not request.POST.get("confirmed"):
            made_late = services.work_made_late(item=item, schedule=schedule)
            put_off = services.work_put_off(item=item, schedule=schedule)
            if made_late or put_off:
                return _confirm_take_away(request, item, [], made_late, put_off, bulk=True)
        overtaken = services.assignments_schedule(item=item, schedule=schedule)
        messages.success(request, f"Dates applied to {len(chosen)} cohort{pluralize(len(chosen))}.")
        _say_overtaken(request, overtaken)
        return redirect("cases:item_schedule", pk=item.pk)
    assignments = {a.cohort_id: a for a in item.assignments.all()}
    rows = _row_forms(item, cohorts, assignments, request.POST)
    if request.POST.get("action") == "edit" or not all(form.is_valid() for _c, form in rows):
        return _schedule_page(request, item, rows=rows)
    # An archived cohort's assignment is left as it was.
    schedule = {
        cohort: form.schedule() if form.cleaned_data["assigned"] else None
        for cohort, form in rows
        if not form.archived
    }
    if not request.POST.get("confirmed"):
        at_stake = services.assignments_at_stake(item=item, schedule=schedule)
        made_late = services.work_made_late(item=item, schedule=schedule)
        put_off = services.work_put_off(item=item, schedule=schedule)
        if at_stake or made_late or put_off:
            return _confirm_take_away(request, item, at_stake, made_late, put_off)
    overtaken = services.assignments_schedule(item=item, schedule=schedule)
    messages.success(request, "Schedule saved.")
    _say_overtaken(request, overtaken)
    return redirect("cases:item_schedule", pk=item.pk)


def _confirm_take_away(request, item, at_stake, made_late=(), put_off=(), *, bulk: bool = False):
    """The page that asks before the item is taken away from cohorts with work on it,
    a cohort's due date moved before work already handed in, or its opening moved
    later than now after students began on it (from its row, or `bulk` from the same
    dates applied to several), saying what each loses, with the schedule as typed in
    hidden fields."""
    context = {
        "item": item,
        "course": item.module.course,
        "at_stake": at_stake,
        "cohort_names": [cost.cohort.name for cost in at_stake],
        "made_late": made_late,
        "put_off": put_off,
        "carried": as_typed(request),
        # The form it came from: a cohort's row, or the same dates for several.
        "save_action": "apply" if bulk else "save",
        "edit_action": "apply_edit" if bulk else "edit",
    }
    return render(request, "cases/schedule/confirm_take_away.html", context)


def _say_overtaken(request, overtaken) -> None:
    """Whose extensions the cohorts' new due dates reached, and so were removed
    (`assignments_schedule`), with the dates they had: a student who still needs more
    time is granted a later one."""
    if not overtaken:
        return
    whose = "; ".join(
        f"{e.user.display_name} ({e.assignment.cohort.name}, "
        f"{date_format(timezone.localtime(e.due_at), 'D j M Y, H:i')})"
        for e in overtaken
    )
    n = len(overtaken)
    messages.warning(
        request,
        f"{n} extension{pluralize(n)} no longer came after the cohort's due date, so "
        f"{pluralize(n, 'it was,they were')} removed: {whose}. Grant a later one to a student "
        "who still needs more time.",
    )


@require_POST
def extension_grant(request: HtmxHttpRequest, pk: int):
    """Instructors and admins of the course give one or several students of the item's
    cohorts a later due date (and cut-off); granting again replaces the extension. A
    date not later than a chosen student's cohort's due date is refused beside the
    field, with everything typed kept."""
    item = _teach_item(request.user, pk)

    def checked() -> ExtensionForm:
        form = ExtensionForm(
            request.POST,
            item=item,
            students=_item_students(item),
            zone_name=str(zone_of(item.module.course)),
        )
        form.is_valid()
        return form

    form = checked()
    if not form.is_valid():
        return _schedule_page(request, item, extension=form)
    data = form.cleaned_data
    try:
        count = services.extensions_grant(
            item=item,
            users=data["students"],
            due_at=data["due_at"],
            late_until=data["late_until"],
            reason=data["reason"],
            by=request.user,
        )
    except services.ExtensionTooEarly:
        # A cohort's date moved past it since the form checked: checked again, it says
        # which, beside the field.
        return _schedule_page(request, item, extension=checked())
    n = len(data["students"])
    messages.success(
        request,
        f"Extension{pluralize(count)} saved for {n} student{pluralize(n)}.",
    )
    return redirect("cases:item_schedule", pk=item.pk)


@require_POST
def extension_delete(request: HtmxHttpRequest, pk: int, extension_pk: int):
    """Instructors and admins of the course remove a student's extension."""
    item = _teach_item(request.user, pk)
    extension = get_object_or_404(
        Extension.objects.select_related("assignment"), pk=extension_pk, assignment__item=item
    )
    services.extension_remove(extension=extension)
    messages.success(request, "Extension removed.")
    return redirect("cases:item_schedule", pk=item.pk)


@require_POST
def accommodation_set(request: HtmxHttpRequest, pk: int):
    """Instructors and admins of the course give a student extra time on every timed
    quiz of the course (set from a quiz's schedule page); setting it again replaces it."""
    item = _teach_item(request.user, pk)
    course = item.module.course
    form = AccommodationForm(request.POST, students=_course_students(course))
    if not form.is_valid():
        return _schedule_page(request, item, accommodation=form)
    data = form.cleaned_data
    accommodation = services.accommodation_set(
        course=course,
        student=data["student"],
        extra_minutes=data["extra_minutes"],
        time_multiplier=data["time_multiplier"],
        reason=data["reason"],
        by=request.user,
    )
    messages.success(
        request,
        f"Extra time saved for {data['student'].display_name}: {accommodation.label} "
        f"on every timed quiz of {course.code}.",
    )
    return redirect("cases:item_schedule", pk=item.pk)


@require_POST
def accommodation_delete(request: HtmxHttpRequest, pk: int, accommodation_pk: int):
    """Instructors and admins of the course take a student's extra time away."""
    item = _teach_item(request.user, pk)
    accommodation = get_object_or_404(
        Accommodation.objects.select_related("student"),
        pk=accommodation_pk,
        course=item.module.course,
    )
    services.accommodation_remove(accommodation=accommodation)
    messages.success(request, f"Extra time removed for {accommodation.student.display_name}.")
    return redirect("cases:item_schedule", pk=item.pk)


@require_GET
def course_deadlines(request: HtmxHttpRequest, pk: int):
    """Anyone in the course: what falls due from a week ago onwards, by day, in the
    course's time zone. Staff see every cohort's dates; a student sees their own, with
    any extension applied."""
    course, access = access_course(request.user, pk)
    now = timezone.now()
    since = now - RECENT
    if access.can_grade:
        shown = list(
            Assignment.objects.filter(item__module__course=course, due_at__gte=since)
            .select_related("item", "cohort")
            .order_by("due_at", "item__title", "cohort__name")
        )
    else:
        given = Assignment.objects.open(now).seen_by(request.user)
        given = with_work(given.filter(item__module__course=course), request.user)
        given = given.select_related("item")
        # Each with where the student stands on it, as on their dashboard.
        entries = student_items(request.user, given, now)
        shown = []
        for entry in entries:
            entry.assignment.entry = entry
            shown.append(entry.assignment)
        shown = sorted(
            (a for a in shown if a.due_at is not None and a.due_at >= since),
            key=lambda a: (a.due_at, a.item.title),
        )
    days = []
    for assignment in shown:
        assignment.past = assignment.due_at < now
        day = timezone.localtime(assignment.due_at).date()
        if not days or days[-1]["day"] != day:
            days.append({"day": day, "assignments": []})
        days[-1]["assignments"].append(assignment)
    context = {
        "course": course,
        "access": access,
        "days": days,
        "zone": str(zone_of(course)),
        "today": timezone.localdate(),
    }
    return render(request, "cases/schedule/deadlines.html", context)
