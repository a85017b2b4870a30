"""Annotation assignments, for the staff: each student's notes counted beside where
they stand, to grade them in the grader."""

from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from cases.http import HtmxHttpRequest, parse_int
from cases.models import takes_work_until
from cases.permissions import access_item
from cases.services.annotations import NoteCounts, note_counts
from cases.services.workspace.matrix import item_column

REPORT_PAGE_SIZE = 50


@require_GET
def annotation_report(request: HtmxHttpRequest, pk: int):
    """Instructors, TAs (their cohorts) and admins: every student given the annotation
    assignment, with their notes, substantive notes, words, replies received, upvotes
    and status, a page of 50 at a time; each row links to the grader."""
    item, access = access_item(request.user, pk)
    if not access.can_grade:
        raise PermissionDenied
    task = getattr(item, "annotation_task", None)
    if task is None:
        raise Http404
    page = parse_int(request.GET.get("page"), low=1, high=100_000) or 1
    column = item_column(
        request.user, item, access, page=page, per_page=REPORT_PAGE_SIZE, now=timezone.now()
    )
    until = {row.student.pk: takes_work_until(row.cells[0].assignment) for row in column.rows}
    counts = note_counts(task, [row.student.pk for row in column.rows], until)
    rows = [
        (row.student, row.cells[0], counts.get(row.student.pk, NoteCounts())) for row in column.rows
    ]
    context = {
        "item": item,
        "course": item.module.course,
        "task": task,
        "rows": rows,
        "column": column,
        "nav_teaches": True,
    }
    return render(request, "cases/workspace/annotation_report.html", context)
