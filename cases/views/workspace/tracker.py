"""The response tracker: who has done what, live, for the course's staff."""

from django.shortcuts import get_object_or_404, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_GET
from django.views.decorators.vary import vary_on_headers

from cases.http import HtmxHttpRequest, kept, not_modified, parse_int
from cases.models import (
    Accommodation,
    ItemKind,
    ModuleItem,
    Work,
    WorkStatus,
    assignment_for_student,
)
from cases.permissions import access_student, course_to_grade, graded_cohorts
from cases.services.workspace.matrix import (
    STATUS_FILTERS,
    course_matrix,
    course_version,
    given_cells,
    matrix_columns,
    shown_cohort_ids,
    work_cell,
)
from cases.services.workspace.work import student_work, student_works
from cases.templatetags.redqueen import tracker_rows

TRACKER_PAGE_SIZE = 50

# The compact view's symbol for each status, with its name for the legend and for
# screen readers (the symbol itself is hidden from them).
STATUS_SYMBOLS = {
    WorkStatus.NOT_STARTED: "·",
    WorkStatus.OPENED: "○",
    WorkStatus.IN_PROGRESS: "◐",
    WorkStatus.SUBMITTED: "●",
    WorkStatus.LATE: "!",
    WorkStatus.GRADED: "✓",
    WorkStatus.EXCUSED: "⊘",
}
LATE_SYMBOL = "†"  # Handed in after the (extended) due date.


def _accommodation(course, student, item, *, known: bool = True):
    """On a quiz's panel, the student's extra time on timed quizzes, if any (`known`
    False when the page already knows they have none)."""
    if item.kind != ItemKind.QUIZ or not known:
        return None
    return Accommodation.objects.filter(course=course, student=student).first()


def _panel_context(user, course, access, student_id: int, item_id: int) -> dict:
    """What the side panel shows of one student's work on one item: the student must be
    one the user may grade (404 otherwise), the item one of the course's."""
    student = access_student(user, course, access, student_id)
    item = get_object_or_404(
        ModuleItem.objects.select_related("module"), module__course=course, pk=item_id
    )
    assignment = assignment_for_student(item.pk, student)
    work = Work.objects.filter(item=item, user=student).first()
    cell = None
    if assignment is not None:
        rubric_max = item.rubric.max_points if item.rubric_id else None
        cell = work_cell(item, assignment, work, timezone.now(), rubric_max)
    return {
        "student": student,
        "item": item,
        "cell": cell,
        "feedback": work.feedback if work else "",
        "accommodation": _accommodation(course, student, item),
        **student_work(course, student, item, assignment=assignment),
    }


def _panel_from_matrix(matrix, course, student_id: int, item_id: int) -> dict | None:
    """The side panel from the page's own matrix when the student is on this page and
    the item one of its columns (the matrix holds only students the user may grade), so
    opening the tracker with a panel costs the panel's own work and little more. None
    otherwise: `_panel_context` then looks them up and checks access."""
    for row in matrix.rows:
        if row.student.pk != student_id:
            continue
        for cell in row.cells:
            if cell.item.pk == item_id and cell.assignment is not None:
                feedback = ""
                if cell.work is not None:
                    feedback = (
                        Work.objects.filter(item_id=item_id, user_id=student_id)
                        .values_list("feedback", flat=True)
                        .first()
                    )
                return {
                    "student": row.student,
                    "item": cell.item,
                    "cell": cell,
                    "feedback": feedback or "",
                    "accommodation": _accommodation(
                        course, row.student, cell.item, known=row.student.extra_time
                    ),
                    **student_work(course, row.student, cell.item, assignment=cell.assignment),
                }
    return None


@require_GET
@vary_on_headers("HX-Request")
def tracker(request: HtmxHttpRequest, pk: int):
    """Instructors, TAs (their cohorts) and admins: students by assigned items, each
    cell the student's status and score, filtered by cohort, module, status or
    "behind". htmx polls the matrix; an unchanged course answers 304 after one query."""
    course, access = course_to_grade(request.user, pk)
    now = timezone.now()
    filters = {
        "cohort": parse_int(request.GET.get("cohort"), low=1),
        "module": parse_int(request.GET.get("module"), low=1),
        "status": request.GET.get("status", "")
        if request.GET.get("status") in {status.value for status in STATUS_FILTERS}
        else "",
        "behind": request.GET.get("behind") == "1",
        "page": parse_int(request.GET.get("page"), low=1, high=100_000) or 1,
        "view": "compact" if request.GET.get("view") == "compact" else "",
    }
    # The side panel's own address: ?student=<id>&item=<id> opens it with the page.
    panel_ids = (
        parse_int(request.GET.get("student"), low=1),
        parse_int(request.GET.get("item"), low=1),
    )
    partial = request.htmx and not request.htmx.history_restore_request
    with_panel = not partial and all(panel_ids)
    # The version keys the poll's ETag and the kept rows; a page with its panel open
    # computes its rows (the panel reads them), so it needs none.
    version = None if with_panel else course_version(course, now)
    shown = urlencode(sorted((k, str(v)) for k, v in filters.items()))
    etag = None
    if partial:  # Only polls revalidate: the page itself is never cached.
        etag = f'W/"tracker-{course.pk}-u{request.user.pk}-{version}-{shown}"'
        if unchanged := not_modified(request, etag):
            return unchanged
    cohorts = list(graded_cohorts(request.user, course, access))
    query = {k: v for k, v in filters.items() if v and k != "page"}
    tracker_url = reverse("cases:tracker", args=[course.pk])
    compact = filters["view"] == "compact"
    symbols = [(status, STATUS_SYMBOLS[status]) for status in WorkStatus]

    def grid() -> dict:
        """The columns and a page of students, as rows of cells: what grows with the
        class."""
        columns = matrix_columns(
            request.user,
            course,
            access,
            cohort_id=filters["cohort"],
            module_id=filters["module"],
            cohorts=cohorts,
        )
        matrix = course_matrix(
            request.user,
            course,
            access,
            status=filters["status"],
            behind=filters["behind"],
            page=filters["page"],
            per_page=TRACKER_PAGE_SIZE,
            now=now,
            columns=columns,
        )
        # Where a cell's panel lives: this page (filters, view and page kept) with it open.
        panel_query = urlencode({**query, "page": matrix.page})
        shape = (symbols, LATE_SYMBOL) if compact else ()
        rows = tracker_rows(matrix, tracker_url, panel_query, *shape)
        head = render_to_string("cases/workspace/tracker.html#matrix-head", {"matrix": matrix})
        return {
            "matrix": matrix,
            "shown": {
                "total": matrix.total,
                "page": matrix.page,
                "pages": matrix.pages,
                "items": len(matrix.items),
                "modules": [(m.pk, m.title) for m in matrix.modules],
            },
            "rows": str(rows),
            "head": head,
            "panel_query": panel_query,
        }

    panel = None
    if with_panel:
        # The panel comes from the page's own matrix when it can: computed here.
        shown_grid = grid()
        panel = _panel_from_matrix(shown_grid["matrix"], course, *panel_ids)
    else:
        # Rendered once for each version of the course (it moves with any change the
        # grid shows), set of cohorts shown and filter, for every grader who sees
        # them: a reload, a page back or another tab between changes costs the
        # version and the grader's cohorts only.
        shown_ids = ",".join(map(str, shown_cohort_ids(cohorts, filters["cohort"])))

        def kept_grid():
            return {k: v for k, v in grid().items() if k != "matrix"}

        shown_grid = kept(f"tracker:{course.pk}:{version}:c{shown_ids}:{shown}", kept_grid)
    plain = {k: v for k, v in query.items() if k != "view"}
    context = {
        "course": course,
        "access": access,
        "cohorts": cohorts,
        "matrix": shown_grid["shown"],
        "head": mark_safe(shown_grid["head"]),  # noqa: S308 - rendered by the template.
        "rows": mark_safe(shown_grid["rows"]),  # noqa: S308 - tracker_rows escapes names.
        "filters": filters,
        "nav_teaches": True,
        "statuses": STATUS_FILTERS,
        "query": urlencode(query),
        "refreshed_at": now,
        "tracker_url": tracker_url,
        "panel_query": shown_grid["panel_query"],
        "compact": compact,
        "symbols": symbols,
        "late_symbol": LATE_SYMBOL,
        "compact_url": f"{tracker_url}?{urlencode({**plain, 'view': 'compact'})}",
        "full_url": f"{tracker_url}?{urlencode(plain)}" if plain else tracker_url,
        # The page itself has none: its first poll answers 200 with the ETag.
        "etag": etag,
    }
    if with_panel:
        context["panel"] = panel or _panel_context(request.user, course, access, *panel_ids)
    template = "cases/workspace/tracker.html" + ("#tracker-matrix" if partial else "")
    response = render(request, template, context)
    if etag:  # A poll revalidates; the page itself is private, no-store by default.
        response["ETag"] = etag
        response["Cache-Control"] = "private, no-cache"
    return response


@require_GET
@vary_on_headers("HX-Request")
def work_panel(request: HtmxHttpRequest, pk: int, student: int, item: int):
    """Course staff who may grade the student: their work on one item (attempts, posts,
    reading time), for the tracker's side panel."""
    course, access = course_to_grade(request.user, pk)
    context = {
        "course": course,
        "nav_teaches": True,
        **_panel_context(request.user, course, access, student, item),
    }
    template = "cases/workspace/work_panel.html"
    if request.htmx and not request.htmx.history_restore_request:
        template += "#work-panel"
    return render(request, template, context)


@require_GET
def student_timeline(request: HtmxHttpRequest, pk: int, student: int):
    """Course staff who may grade the student: where the student stands on each item
    they have done something on or are late on, with its status and points as the
    tracker shows them (`work_cell`) and its comment, and everything they did in the
    course, newest first."""
    course, access = course_to_grade(request.user, pk)
    student = access_student(request.user, course, access, student)
    work = student_work(course, student, memos=False)
    given, work["memos"], work["drafts"] = student_works(course, student)
    # Where the student stands on each item, as the tracker's row has it: the items
    # they have done something on or are late on.
    cells = [
        cell
        for cell in given_cells(given)
        if cell.work is not None or cell.status != WorkStatus.NOT_STARTED
    ]
    events = []
    for progress in work["readings"]:
        events.append(
            (
                progress.first_opened_at,
                "opened",
                f"Opened the case “{progress.case.title}”",
                progress,
            )
        )
        if progress.done_at:
            events.append(
                (
                    progress.done_at,
                    "done",
                    f"Finished reading “{progress.case.title}”"
                    f" ({progress.active_minutes} min read)",
                    progress,
                )
            )
    for attempt in work["attempts"]:
        events.append(
            (
                attempt.started_at,
                "in_progress",
                f"Started attempt {attempt.number} at “{attempt.quiz.item.title}”",
                attempt,
            )
        )
        if attempt.submitted_at:
            score = (
                f"{attempt.score} / {attempt.max_score}"
                if attempt.score is not None
                else "awaiting grading"
            )
            events.append(
                (
                    attempt.submitted_at,
                    "submitted",
                    f"Submitted attempt {attempt.number} at “{attempt.quiz.item.title}”: {score}",
                    attempt,
                )
            )
    for post in work["posts"]:
        kind = "Replied" if post.parent_id else "Posted"
        events.append(
            (
                post.created_at,
                "posted",
                f"{kind} in “{post.discussion.item.title}” ({post.word_count} words)",
                post,
            )
        )
    for note in work["notes"]:
        kind, where = ("Replied", note.thread.where) if note.thread_id else ("Noted", note.where)
        events.append(
            (
                note.created_at,
                "posted",
                f"{kind} on “{note.case.title}” {where} ({note.word_count} words)",
                note,
            )
        )
    for version in work["memos"]:
        what = f"the file {version.file_name}" if version.is_file else f"{version.word_count} words"
        events.append(
            (
                version.submitted_at,
                "submitted",
                f"Handed in version {version.number} of “{version.memo.item.title}” ({what})",
                version,
            )
        )
    for memo in work["drafts"]:
        if memo.draft_saved_at:
            events.append(
                (
                    memo.draft_saved_at,
                    "in_progress",
                    f"Last saved a draft of “{memo.item.title}”",
                    memo,
                )
            )
    for cell in cells:
        if (w := cell.work) is not None and w.graded_at:
            by = f" by {w.graded_by.display_name}" if w.graded_by else ""
            events.append((w.graded_at, "graded", f"Graded on “{w.item.title}”{by}", w))
    # Newest first; of two events at one moment, the later one recorded comes first.
    events = sorted(reversed(events), key=lambda e: e[0], reverse=True)
    context = {
        "course": course,
        "student": student,
        "events": [{"at": at, "kind": kind, "text": text} for at, kind, text, _obj in events],
        "cells": cells,
        "nav_teaches": True,
    }
    return render(request, "cases/workspace/student_timeline.html", context)
