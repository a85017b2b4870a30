"""The teaching page's to-do list for one course: work waiting for a person, items
closing this week and students behind, each counted in SQL over the students the user
grades, in a fixed number of queries whatever the class size."""

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db.models import Min

from cases.models import Assignment, Course, Work
from cases.permissions import CourseAccess, graded_cohorts, graded_students
from cases.services.workspace.matrix import course_items, students_behind

THIS_WEEK = timedelta(days=7)


@dataclass
class Closing:
    item_id: int
    title: str
    due_at: datetime


@dataclass
class CourseToDo:
    course: Course
    access: CourseAccess
    waiting: int = 0  # Pieces of work waiting for a person (the grading queue's).
    behind: int = 0  # Students with overdue work not handed in (the tracker's filter).
    closing: list[Closing] = field(default_factory=list)  # Due in the next 7 days.
    counted: bool = True  # False for an admin's course they do not teach: no to-do.


def course_to_do(user, course: Course, access: CourseAccess, now: datetime) -> CourseToDo:
    """Three queries: the waiting work, the students behind, the items closing; none for
    a course the user only oversees as an admin (an admin sees every course, and the
    page must not cost three queries for each)."""
    if not (access.is_instructor or access.is_ta):
        return CourseToDo(course, access, counted=False)
    cohorts = graded_cohorts(user, course, access)
    students = graded_students(user, course, access)
    waiting = (
        Work.objects.filter(item__module__course=course, user__in=students)
        .waiting_for_grader()
        .count()
    )
    late = students.filter(students_behind(course_items(course, cohorts), now)).count()
    closing = [
        Closing(row["item"], row["item__title"], row["due"])
        for row in Assignment.objects.filter(
            item__module__course=course,
            cohort__in=cohorts,
            due_at__gte=now,
            due_at__lt=now + THIS_WEEK,
        )
        .values("item", "item__title")
        .annotate(due=Min("due_at"))
        .order_by("due", "item")
    ]
    return CourseToDo(course, access, waiting=waiting, behind=late, closing=closing)
