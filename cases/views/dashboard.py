from datetime import timedelta

from django.core.exceptions import PermissionDenied
from django.db.models import Count
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET

from cases.http import HtmxHttpRequest
from cases.models import Course, WorkStatus, due_work, work_status
from cases.permissions import is_admin, is_teaching_staff, live_sessions_to_join

UPCOMING_LIMIT = 12
# Work that fell due this recently stays on the dashboard, marked late or done.
RECENTLY_DUE = timedelta(days=7)


def _unfinished(assignment) -> bool:
    return not (
        assignment.work_done_at or assignment.work_submitted_at or assignment.work_first_post_at
    )


@require_GET
def home(request: HtmxHttpRequest):
    """Signed-in users. A student's dashboard: their courses and what is due next. Someone
    who only teaches is sent to the teaching dashboard."""
    user = request.user
    courses = list(
        Course.objects.taken_by(user).annotate(module_count=Count("modules")).order_by("code")
    )
    if not courses and is_teaching_staff(user):
        return redirect("cases:instructor_dashboard")
    now = timezone.now()
    upcoming, recent = due_work(user, now, limit=UPCOMING_LIMIT, recent=RECENTLY_DUE)
    # The item's URL reversed once, not once a row.
    head, tail = reverse("cases:item_detail", args=[0]).rsplit("0", 1)
    for assignment in upcoming + recent:
        assignment.status = work_status(assignment, now)
        assignment.url = f"{head}{assignment.item_id}{tail}"
    # Past due and finished needs no attention; past due and unfinished does.
    overdue = [a for a in recent if a.status == WorkStatus.LATE and _unfinished(a)]
    return render(
        request,
        "cases/dashboard/student_dashboard.html",
        {
            "courses": courses,
            "upcoming": upcoming,
            "overdue": overdue,
            "live": live_sessions_to_join(user, courses),
        },
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
