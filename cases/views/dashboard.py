from django.core.exceptions import PermissionDenied
from django.db.models import Count
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET

from cases.http import HtmxHttpRequest
from cases.models import Assignment, Course
from cases.permissions import is_admin

UPCOMING_LIMIT = 12


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
    upcoming = (
        Assignment.objects.for_student(user)
        .upcoming()
        .select_related("item__module__course", "cohort")[:UPCOMING_LIMIT]
    )
    return render(
        request,
        "cases/dashboard/student_dashboard.html",
        {"courses": courses, "upcoming": upcoming},
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
