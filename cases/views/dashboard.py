from datetime import timedelta

from django.core.exceptions import PermissionDenied
from django.db.models import Count
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET

from cases.http import HtmxHttpRequest
from cases.models import (
    Assignment,
    Course,
    ItemKind,
    ReadingProgress,
    ReadingStatus,
    reading_status,
)
from cases.permissions import is_admin

UPCOMING_LIMIT = 12
# Work that fell due this recently stays on the dashboard, marked late or done.
RECENTLY_DUE = timedelta(days=7)


def _attach_statuses(user, assignments: list[Assignment], now) -> None:
    """Give each assignment the student's status on it, in one query per item kind."""
    readings = [
        a
        for a in assignments
        if a.item.kind == ItemKind.CASE_READING and hasattr(a.item, "case_reading")
    ]
    progress = {
        p.case_id: p
        for p in ReadingProgress.objects.filter(
            user=user, case__in=[a.item.case_reading.case_id for a in readings]
        )
    }
    for assignment in readings:
        status = reading_status(progress.get(assignment.item.case_reading.case_id), assignment, now)
        assignment.status = ReadingStatus(status)


@require_GET
def home(request: HtmxHttpRequest):
    """Signed-in users. A student's dashboard: their courses and what is due next. Someone
    who only teaches is sent to the teaching dashboard."""
    user = request.user
    courses = list(
        Course.objects.taken_by(user).annotate(module_count=Count("modules")).order_by("code")
    )
    if not courses and (is_admin(user) or Course.objects.taught_by(user).exists()):
        return redirect("cases:instructor_dashboard")
    now = timezone.now()
    mine = Assignment.objects.for_student(user).select_related(
        "item__module__course", "item__case_reading", "cohort"
    )
    upcoming = list(mine.upcoming(now)[:UPCOMING_LIMIT])
    recent = list(
        mine.open()
        .filter(due_at__lt=now, due_at__gte=now - RECENTLY_DUE)
        .order_by("-due_at")[:UPCOMING_LIMIT]
    )
    _attach_statuses(user, upcoming + recent, now)
    # Past due and finished needs no attention; past due and unfinished does.
    overdue = [a for a in recent if getattr(a, "status", None) == ReadingStatus.LATE]
    return render(
        request,
        "cases/dashboard/student_dashboard.html",
        {"courses": courses, "upcoming": upcoming, "overdue": overdue},
    )


@require_GET
def instructor_dashboard(request: HtmxHttpRequest):
    """Instructors and TAs see the courses they teach; admins see every course. Anyone
    else gets 403."""
    user = request.user
    if is_admin(user):
        courses = Course.objects.all()
    else:
        courses = Course.objects.taught_by(user)
        if not courses.exists():
            raise PermissionDenied
    courses = courses.with_counts().order_by("code")
    return render(request, "cases/dashboard/instructor_dashboard.html", {"courses": courses})
