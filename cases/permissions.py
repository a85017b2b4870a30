"""Who may do what. Every view and htmx endpoint asks here, nowhere else.

Objects are fetched through `access_*` helpers that scope the query to the user, so a
wrong or forbidden id is the same 404. Role questions are named predicates on the
`CourseAccess` those helpers return.
"""

from dataclasses import dataclass
from functools import wraps

from django.core.exceptions import PermissionDenied
from django.db.models import Exists, OuterRef
from django.http import Http404
from django.shortcuts import get_object_or_404

from cases.models import Course, ModuleItem


@dataclass(frozen=True)
class CourseAccess:
    """What one user is in one course."""

    is_admin: bool
    is_instructor: bool
    is_ta: bool
    is_student: bool

    @property
    def can_view(self) -> bool:
        return self.is_admin or self.is_instructor or self.is_ta or self.is_student

    @property
    def can_teach(self) -> bool:
        """Build and change the course: its modules, items, assignments and dates."""
        return self.is_admin or self.is_instructor

    @property
    def can_grade(self) -> bool:
        """See every student's work and grade it."""
        return self.is_admin or self.is_instructor or self.is_ta

    @property
    def role_label(self) -> str:
        if self.is_instructor:
            return "Instructor"
        if self.is_ta:
            return "Teaching assistant"
        if self.is_student:
            return "Student"
        return "Admin" if self.is_admin else ""


def is_admin(user) -> bool:
    return user.is_authenticated and user.is_active and user.is_staff


def _with_roles(queryset, user):
    return queryset.annotate(
        _is_instructor=Exists(
            Course.instructors.through.objects.filter(course=OuterRef("pk"), user=user)
        ),
        _is_ta=Exists(
            Course.teaching_assistants.through.objects.filter(course=OuterRef("pk"), user=user)
        ),
        _is_student=Exists(
            Course.cohorts.through.objects.filter(
                course=OuterRef("pk"), cohort__memberships__user=user
            )
        ),
    )


def _access_of(course: Course, user) -> CourseAccess:
    return CourseAccess(
        is_admin=is_admin(user),
        is_instructor=course._is_instructor,
        is_ta=course._is_ta,
        is_student=course._is_student,
    )


def access_course(user, course_id: int) -> tuple[Course, CourseAccess]:
    """The course and the user's roles in it, in one query; 404 if the user may not see
    it."""
    course = get_object_or_404(_with_roles(Course.objects.for_user(user), user), pk=course_id)
    return course, _access_of(course, user)


def access_item(user, item_id: int) -> tuple[ModuleItem, CourseAccess]:
    """A module item with its module and course, and the user's roles in that course;
    404 if the user may not see it.

    Students see only items assigned to one of their cohorts (an unassigned item is a
    draft); staff of the course see every item."""
    item = get_object_or_404(ModuleItem.objects.select_related("module"), pk=item_id)
    course, access = access_course(user, item.module.course_id)
    item.module.course = course
    visible = ModuleItem.objects.visible_to_student(user).filter(pk=item.pk)
    if not access.can_grade and not visible.exists():
        raise Http404
    return item, access


def staff_required(view):
    """Admins only; anyone else signed in gets 403."""

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if not is_admin(request.user):
            raise PermissionDenied
        return view(request, *args, **kwargs)

    return wrapper
