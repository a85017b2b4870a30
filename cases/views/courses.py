"""The courses as their people see them: the dashboards (what is due, the courses one
teaches), a course's page and an item's page, which each kind of item fills."""

from datetime import timedelta

from django.core.exceptions import PermissionDenied
from django.db.models import Count, F, Prefetch, Q
from django.db.models.functions import Coalesce
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET

from cases.compiled import compiled
from cases.http import HtmxHttpRequest
from cases.models import (
    Assignment,
    Cohort,
    Course,
    ItemKind,
    ModuleItem,
    WorkStatus,
    live_running_since,
    refusal,
)
from cases.models.workspace import UNFINISHED
from cases.permissions import (
    access_course,
    access_item,
    can_create_courses,
    courses_to_grade,
    is_admin,
    is_teaching_staff,
    live_running,
    live_sessions_to_join,
)
from cases.routes import route
from cases.services.peer_review import reviews_pending, reviews_to_do
from cases.services.workspace.todo import course_to_do
from cases.services.workspace.work import student_items, with_work
from cases.timezones import zone_named
from cases.views import analyses, discussions, live, readings
from cases.views.quizzes import taking
from cases.views.thesis import spectrum, stances

# Each item kind with a page of its own; the others show the generic item page.
ITEM_VIEWS = {
    ItemKind.CASE_READING: readings.item_reader,
    ItemKind.QUIZ: taking.item_quiz,
    ItemKind.DISCUSSION: discussions.item_discussion,
    ItemKind.STANCE_CHECK: stances.item_stance_check,
    ItemKind.DECISION: stances.item_decision,
    ItemKind.SPECTRUM: spectrum.item_spectrum,
    ItemKind.LIVE_SESSION: live.item_live_class,
    ItemKind.ANNOTATION: readings.item_annotation,
    ItemKind.ANALYSIS: analyses.item_analysis,
}


@require_GET
def course_detail(request: HtmxHttpRequest, pk: int):
    """Anyone in the course (its students, instructors, TAs) and admins: the course and
    its modules. Students see only items given to their cohorts, with their own dates;
    course staff see every item and every cohort's dates."""
    course, access = access_course(request.user, pk)
    if access.can_grade:
        items = ModuleItem.objects.prefetch_related(
            Prefetch(
                "assignments",
                queryset=Assignment.objects.select_related("cohort"),
                to_attr="shown_assignments",
            )
        ).annotate(
            # Readings and annotation assignments link the heat map of their case's notes.
            heatmap_slug=Coalesce("annotation_task__case__slug", "case_reading__case__slug")
        )
    else:
        items = ModuleItem.objects.visible_to_student(request.user)
    modules = list(course.modules.prefetch_related(Prefetch("items", queryset=items)))
    if not access.can_grade:
        # The student's own dates (extension included) and where they stand on each.
        given = Assignment.objects.seen_by(request.user).filter(item__module__course=course)
        given = with_work(given, request.user).select_related("item")
        entries = {
            entry.assignment.item_id: entry
            for entry in student_items(request.user, given, timezone.now())
        }
        for module in modules:
            for item in module.items.all():
                item.entry = entries.get(item.pk)
                item.shown_assignments = [item.entry.assignment] if item.entry else []
    return render(
        request,
        "cases/courses/course_detail.html",
        {"course": course, "access": access, "modules": modules},
    )


@require_GET
def item_detail(request: HtmxHttpRequest, pk: int):
    """Students of a cohort the item is assigned to, and the course's staff: one module
    item. Each item kind adds its own content here as it is built."""
    item, access = access_item(request.user, pk)
    kind_view = ITEM_VIEWS.get(item.kind)
    # A kind's view answers None when the item has no content yet (say, made in the
    # admin without its case); the generic page shows it instead.
    response = kind_view(request, item, access) if kind_view else None
    if response is not None:
        return response
    assignments = item.assignments.select_related("cohort")
    if not access.can_grade:
        assignments = assignments.for_student(request.user)
    return render(
        request,
        "cases/courses/item_detail.html",
        {"item": item, "course": item.module.course, "access": access, "assignments": assignments},
    )


UPCOMING_LIMIT = 12


# At most this many assignments are weighed for the dashboard (a week back and on).
DUE_WORK_LIMIT = 200


# What a row shows and where the student stands needs of each assignment; its module's
# title, course's code and course's time zone come as three values (`module_title`,
# `course_code`, `course_time_zone`), not as two more objects a row to build.
DUE_WORK_FIELDS = [
    *("opens_at", "due_at", "late_policy", "late_until"),
    "item__title",
    "item__kind",
]


# Work that fell due this recently stays on the dashboard, marked late or done.
RECENTLY_DUE = timedelta(days=7)


def _needs_doing(entry, now) -> bool:
    """Overdue: past the student's due date with nothing handed in, and still something
    they can do: the work is still taken, and it is not a class meeting already held."""
    return (
        entry.status == WorkStatus.LATE
        and entry.item.kind != ItemKind.LIVE_SESSION
        and refusal(entry.assignment, now) is None
    )


@compiled
def _courses_taken(user, live_since):
    """The student's courses, with whether a live session runs in each and whether
    they have a review to submit (as every course row says alike)."""
    return (
        Course.objects.taken_by(user)
        .annotate(
            module_count=Count("modules"),
            live_running=live_running(live_since),
            reviews_pending=reviews_pending(user),
        )
        .order_by("code")
    )


@compiled
def _due_work(user, now, since):
    """Everything due from `since` on (or undated), soonest first, with the student's
    Work on each, in one query."""
    given = Assignment.objects.open(now).seen_by(user)
    return (
        with_work(given, user)
        .filter(Q(student_due_at__isnull=True) | Q(student_due_at__gte=since))
        .select_related("item")
        .only(*DUE_WORK_FIELDS)
        .annotate(
            module_title=F("item__module__title"),
            course_code=F("item__module__course__code"),
            course_time_zone=F("item__module__course__time_zone"),
        )
        .order_by(F("student_due_at").asc(nulls_last=True), "pk")[:DUE_WORK_LIMIT]
    )


@require_GET
def home(request: HtmxHttpRequest):
    """Signed-in users. A student's dashboard: their courses and what is due next, each
    with where they stand (`work_status`, by their own dates, extensions included) and
    when, in its own course's time zone as the course's pages say it. Someone who only
    teaches is sent to the teaching dashboard."""
    user = request.user
    courses = list(_courses_taken(user=user, live_since=live_running_since()))
    if not courses and is_teaching_staff(user):
        return redirect("cases:instructor_dashboard")
    now = timezone.now()
    mine = _due_work(user=user, now=now, since=now - RECENTLY_DUE)
    entries = student_items(user, mine, now)
    for entry in entries:
        entry.url = route("cases:item_detail", entry.assignment.item_id)
        entry.zone = zone_named(entry.assignment.course_time_zone)
    due, overdue = [], []
    for entry in entries:
        if entry.assignment.due_at is None or entry.assignment.due_at >= now:
            due.append(entry)
        elif _needs_doing(entry, now):
            overdue.append(entry)
    # What still asks something of the student, apart from what they have finished.
    to_do = [e for e in due if e.status in UNFINISHED]
    finished = [e for e in entries if e.status not in UNFINISHED]
    reviews = []
    if not courses or courses[0].reviews_pending:
        reviews = reviews_to_do(user, [e.assignment for e in entries], now)
    # A student in sections that take no course yet is told so, not to find one.
    sections = [] if courses else list(Cohort.objects.current().filter(members=user))
    return render(
        request,
        "cases/courses/student_dashboard.html",
        {
            "courses": courses,
            "upcoming": to_do[:UPCOMING_LIMIT],
            "overdue": overdue,
            "finished": finished[:UPCOMING_LIMIT],
            "reviews": reviews,
            "live": live_sessions_to_join(user, courses),
            "now": now,
            "sections": sections,
        },
    )


@require_GET
def instructor_dashboard(request: HtmxHttpRequest):
    """Instructors and TAs see the courses they teach; admins see every course. Anyone
    else gets 403. Each course's dates are in its own time zone."""
    user = request.user
    courses = courses_to_grade(user, Course.objects.with_counts().order_by("code"))
    if not courses and not is_admin(user):
        raise PermissionDenied
    now = timezone.now()
    to_do = [course_to_do(user, course, access, now) for course, access in courses]
    context = {"to_do": to_do, "now": now, "may_create": can_create_courses(user)}
    return render(request, "cases/courses/instructor_dashboard.html", context)
