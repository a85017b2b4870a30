from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db.models import Prefetch
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods

from cases.forms.builder import ItemCreateForm
from cases.http import HtmxHttpRequest
from cases.models import Assignment, ItemKind, ModuleItem
from cases.permissions import access_course, access_item
from cases.services import builder as services
from cases.services.workspace.work import student_items
from cases.views import discussions, live, quizzes, readings, stances, thesis

# Each item kind with a page of its own; the others show the generic item page.
ITEM_VIEWS = {
    ItemKind.CASE_READING: readings.item_reader,
    ItemKind.QUIZ: quizzes.item_quiz,
    ItemKind.DISCUSSION: discussions.item_discussion,
    ItemKind.STANCE_CHECK: stances.item_stance_check,
    ItemKind.DECISION: stances.item_decision,
    ItemKind.SPECTRUM: thesis.item_spectrum,
    ItemKind.LIVE_SESSION: live.item_live_class,
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
        )
    else:
        items = ModuleItem.objects.visible_to_student(request.user)
    modules = list(course.modules.prefetch_related(Prefetch("items", queryset=items)))
    if not access.can_grade:
        # The student's own dates (extension included) and where they stand on each.
        given = Assignment.objects.seen_by(request.user).filter(item__module__course=course)
        entries = {
            entry.assignment.item_id: entry
            for entry in student_items(request.user, given.select_related("item"), timezone.now())
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


@require_http_methods(["GET", "POST"])
def item_create(request: HtmxHttpRequest, pk: int):
    """Instructors and admins of the course add a case reading, quiz or discussion to a
    module and give it to cohorts. A quiz or thread then opens on its settings page."""
    course, access = access_course(request.user, pk)
    if not access.can_teach:
        raise PermissionDenied
    form = ItemCreateForm(request.POST or None, course=course)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        item = services.item_create(
            module=data["module"],
            kind=data["kind"],
            title=data["title"],
            case=data["case"],
            cohorts=data["cohorts"],
            due_at=data["due_at"],
            spectrum_cases=data["spectrum_cases"],
        )
        messages.success(request, f"Added “{item.title}”.")
        next_page = {
            ItemKind.QUIZ: "cases:quiz_settings",
            ItemKind.DISCUSSION: "cases:discussion_settings",
            ItemKind.STANCE_CHECK: "cases:stance_settings",
            ItemKind.DECISION: "cases:decision_settings",
        }.get(item.kind, "cases:item_detail")
        return redirect(next_page, pk=item.pk)
    return render(request, "cases/courses/item_form.html", {"form": form, "course": course})
