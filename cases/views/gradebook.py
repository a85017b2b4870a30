"""The gradebook: the course staff's grades for every student they may grade, one
student's grade on one item, releasing an assignment's grades, grade categories, the CSV
export, and a student's own grades. The arithmetic is in `cases.services.gradebook`.

Every page here holds grades, so none may be cached (`never_cache`): a shared or
back-button copy must not show a grade to the next person at the keyboard.
"""

import csv
from decimal import Decimal
from operator import attrgetter

from django.contrib import messages
from django.http import Http404, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.utils.safestring import mark_safe
from django.utils.text import slugify
from django.utils.timezone import get_current_timezone_name
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django.views.decorators.vary import vary_on_headers

from cases.forms.gradebook import GradeCategoryFormSet, GradeEditForm, ItemCategoriesForm
from cases.http import (
    CSRF_SLOT_INPUT,
    CsvEcho,
    HtmxHttpRequest,
    as_typed,
    csv_cell,
    kept,
    parse_int,
    with_token,
)
from cases.models import Assignment, GradeCategory, LtiGrade, ModuleItem, WorkStatus
from cases.permissions import (
    access_course,
    access_student,
    course_to_grade,
    course_to_teach,
    graded_cohorts,
)
from cases.services import gradebook as services
from cases.services.gradebook import gradebook_groups, row_grades
from cases.services.workspace.grading import work_grade
from cases.services.workspace.matrix import (
    course_matrix,
    course_version,
    matrix_columns,
    shown_cohort_ids,
    student_row,
)

PAGE_SIZE = 50


def _gradebook_url(
    course_pk: int, cohort: int | None = None, page: int | None = None, view: str = ""
) -> str:
    page = page if page and page > 1 else None  # The first page is the plain address.
    query = {k: v for k, v in {"cohort": cohort, "page": page, "view": view}.items() if v}
    url = reverse("cases:gradebook", args=[course_pk])
    return f"{url}?{urlencode(query)}" if query else url


def _item_points(assignments) -> dict[int, str]:
    """Item id → its points ("10", or "10/20" when cohorts differ)."""
    points: dict[int, set[int]] = {}
    for assignment in assignments:
        points.setdefault(assignment.item_id, set()).add(assignment.points)
    return {k: "/".join(str(p) for p in sorted(v)) for k, v in points.items()}


@never_cache
@require_GET
@vary_on_headers("HX-Request")
def gradebook(request: HtmxHttpRequest, pk: int):
    """Instructors, TAs and admins of the course: the students they may grade (50 a
    page; a TA given one cohort sees only it) by assigned item, grouped by grade
    category, with each category's percent and the weighted total. Instructors and
    admins also release each assignment's grades here. A fixed number of queries."""
    course, access = course_to_grade(request.user, pk)
    cohort_id = parse_int(request.GET.get("cohort"), low=1)
    page = parse_int(request.GET.get("page"), low=1) or 1
    # "categories": a column per category and the total (the same `row_grades`), not
    # a column per item.
    view = "categories" if request.GET.get("view") == "categories" else ""
    # The table polls every 15 seconds, carrying the version it shows: an unchanged
    # course answers 204 (htmx swaps nothing) after one query. Not a 304: grade pages
    # are never stored, so the browser cannot revalidate them.
    poll = bool(request.htmx) and request.GET.get("poll") == "1"
    version = course_version(course, timezone.now())
    if poll and request.GET.get("known") == version:
        return HttpResponse(status=204)
    cohorts = list(graded_cohorts(request.user, course, access))
    if cohort_id not in {c.pk for c in cohorts}:
        cohort_id = None
    shown_ids = ",".join(map(str, shown_cohort_ids(cohorts, cohort_id)))

    def grid() -> dict:
        """The table (its columns and a page of students with their grades, what grows
        with the class) and the release controls, rendered."""
        columns = matrix_columns(request.user, course, access, cohort_id=cohort_id, cohorts=cohorts)
        groups = gradebook_groups(columns.items)
        points = _item_points(columns.assignments)
        for item in columns.items:
            item.points_label = points.get(item.pk, "")
        column_count = len(columns.items) + len(groups) + 2
        matrix = course_matrix(
            request.user,
            course,
            access,
            cohort_id=cohort_id,
            page=page,
            per_page=PAGE_SIZE,
            columns=columns,
        )
        back_query = urlencode({"cohort": cohort_id or "", "page": matrix.page})
        values = {
            "course": course,
            "matrix": matrix,
            "groups": groups,
            "view": view,
            "back_query": back_query,
            "column_count": column_count,
            "version": version,
            "cohort_id": cohort_id,
        }
        values["rows"] = mark_safe(  # noqa: S308 - rendered by Jinja2, escaped.
            render_to_string(
                "cases/gradebook/rows.jinja",
                values | {"rows": [row_grades(row, groups) for row in matrix.rows]},
                using="jinja2",
            )
        )
        releases = ""
        if access.can_teach:
            # A row per item, a column per cohort shown; the viewer's token goes in last.
            release_cohorts = sorted(
                {a.cohort for a in columns.assignments}, key=attrgetter("name")
            )
            by_item_cohort = {(a.item_id, a.cohort_id): a for a in columns.assignments}
            values["releases"] = [
                (item, [by_item_cohort.get((item.pk, c.pk)) for c in release_cohorts])
                for group in groups
                for item in group.items
            ]
            values["release_cohorts"] = release_cohorts
            values["csrf_input"] = CSRF_SLOT_INPUT
            releases = render_to_string("cases/gradebook/releases.jinja", values, using="jinja2")
        return {
            "table": render_to_string("cases/gradebook/table.jinja", values, using="jinja2"),
            "releases": releases,
            "any": bool(columns.items),
            "uncategorised": any(g.category is None for g in groups),
            "page": matrix.page,
            "pages": matrix.pages,
        }

    # Rendered once for each version of the course (it moves with any change a grade
    # shows), set of cohorts shown, page and view, for every grader who sees them: a
    # reload, a poll after a change elsewhere or a page back between changes costs the
    # version and the grader's cohorts.
    shown = kept(
        ":".join(
            map(
                str,
                (
                    "gradebook",
                    course.pk,
                    version,
                    shown_ids,
                    cohort_id,
                    page,
                    view,
                    access.can_teach,
                    get_current_timezone_name(),
                ),
            )
        ),
        grid,
    )
    page = shown["page"]
    context = {
        "course": course,
        "access": access,
        "cohorts": cohorts,
        "cohort_id": cohort_id,
        "shown": shown,
        "table": mark_safe(shown["table"]),  # noqa: S308 - rendered by Jinja2, escaped.
        "releases": mark_safe(  # noqa: S308 - rendered by Jinja2, escaped.
            with_token(request, shown["releases"])
        ),
        "previous_url": _gradebook_url(course.pk, cohort_id, page - 1, view) if page > 1 else "",
        "next_url": _gradebook_url(course.pk, cohort_id, page + 1, view)
        if page < shown["pages"]
        else "",
        "view": view,
        "grid_url": _gradebook_url(course.pk, cohort_id, page),
        "categories_url": _gradebook_url(course.pk, cohort_id, page, "categories"),
        "nav_teaches": True,  # Graders teach or are admins: saves the navigation's query.
    }
    template = "cases/gradebook/gradebook.html" + ("#gradebook-table" if poll else "")
    return render(request, template, context)


@never_cache
@require_GET
def gradebook_csv(request: HtmxHttpRequest, pk: int):
    """Instructors, TAs and admins of the course: the gradebook as a CSV file, one row
    per student they may grade (a deactivated one too, said so), streamed. UTF-8 with a
    byte-order mark, so Excel reads the names right; no cell can run as a formula."""
    course, access = course_to_grade(request.user, pk)
    matrix = course_matrix(request.user, course, access, per_page=None)
    cohort_names = {c.pk: c.name for c in matrix.cohorts}
    groups = gradebook_groups(matrix.items)
    points = _item_points(matrix.assignments)
    columns = [item for group in groups for item in group.items]
    # "Account": a deactivated student stays in the export (their grades are real),
    # said so, for whoever files the grades.
    header = ["Username", "Student", "Email", "Cohort", "Account"]
    header += [f"{item.module.title} / {item.title} ({points[item.pk]})" for item in columns]
    header += [f"{g.name} (%)" for g in groups] + ["Total (%)"]
    writer = csv.writer(CsvEcho())

    def cell_value(cell):
        """What the gradebook's cell says: the points that count, 0 for work missing
        past its due date, "excused", or "to grade" for work waiting for a person (with
        the earlier grade of work handed in again, which does not count either)."""
        if cell is None or cell.assignment is None:
            return ""
        if cell.status == WorkStatus.EXCUSED:
            return "excused"
        if cell.status == WorkStatus.GRADED and cell.points is not None:
            return cell.points
        if cell.status == WorkStatus.LATE:
            return Decimal(0)  # Missing past its due date: counts as 0.
        if cell.status == WorkStatus.SUBMITTED:
            return "to grade" if cell.earlier is None else f"to grade (was {cell.earlier})"
        return ""

    def lines():
        yield "\ufeff"
        yield writer.writerow([csv_cell(h) for h in header])
        for row in matrix.rows:
            grades = row_grades(row, groups)
            by_item = {cell.item.pk: cell for cell in row.cells}
            student = row.student
            values = [
                student.username,
                student.get_full_name(),
                student.email,
                "; ".join(cohort_names[c] for c in row.cohorts if c in cohort_names),
                "active" if student.is_active else "deactivated",
            ]
            values += [cell_value(by_item.get(item.pk)) for item in columns]
            values += [g.percent for g in grades.groups] + [grades.total]
            yield writer.writerow([csv_cell(v) for v in values])

    response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
    filename = f"{slugify(course.code) or 'course'}-gradebook.csv"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def _student_in_gradebook(user, course, access, student, item, cohort_id):
    """The student's gradebook row (the columns of the gradebook filtered by
    `cohort_id`, as the grader sees it) and its cell for the item; 404 if the item is
    not given to any of the student's cohorts the user grades."""
    for cohort in [cohort_id, None] if cohort_id else [None]:
        matrix = course_matrix(
            user, course, access, cohort_id=cohort, student_id=student.pk, per_page=None
        )
        for row in matrix.rows:
            for cell in row.cells:
                if cell.item.pk == item.pk and cell.assignment is not None:
                    return matrix, row, cell
    raise Http404


@never_cache
@require_http_methods(["GET", "POST"])
@vary_on_headers("HX-Request")
def grade_edit(request: HtmxHttpRequest, pk: int, student_pk: int, item_pk: int):
    """Instructors, TAs and admins of the course, for a student they may grade and an
    item given to that student: override the score (with a reason), excuse the item,
    and write the comment the student sees once grades are released. htmx swaps the
    form in place; a plain post returns to the gradebook."""
    course, access = course_to_grade(request.user, pk)
    student = access_student(request.user, course, access, student_pk)
    item = get_object_or_404(
        ModuleItem.objects.select_related("module"), pk=item_pk, module__course=course
    )
    cohort = parse_int(request.GET.get("cohort") or request.POST.get("cohort"), low=1)
    page = parse_int(request.GET.get("page") or request.POST.get("page"), low=1)
    # Opened from a gradebook cell by htmx: saving also refreshes the student's row.
    inline = bool(request.htmx) and (request.GET.get("inline") or request.POST.get("inline"))
    matrix, row, cell = _student_in_gradebook(request.user, course, access, student, item, cohort)
    work = cell.work
    initial = {}
    if work is not None:
        initial = {
            "override_score": work.override_score,
            "override_reason": work.override_reason,
            "excused": work.excused,
            "feedback": work.feedback,
        }
    max_points = cell.assignment.points
    form = GradeEditForm(request.POST or None, initial=initial, max_points=max_points)
    saved = False
    if request.method == "POST" and form.is_valid():
        data, changed = form.cleaned_data, set(form.changed_data)
        # Only what this grader changed: a colleague's comment saved meanwhile stands.
        fields = {name: data[name] for name in ("excused", "feedback") if name in changed}
        if changed & {"override_score", "override_reason"}:
            fields["override_score"] = data["override_score"]
            fields["override_reason"] = data["override_reason"]
        if fields:
            work_grade(item=item, student=student, grader=request.user, **fields)
        if not request.htmx:
            messages.success(request, f"Saved {student.display_name}'s grade on “{item.title}”.")
            return redirect(_gradebook_url(course.pk, cohort, page))
        saved = True
        matrix, row, cell = _student_in_gradebook(
            request.user, course, access, student, item, cohort
        )
    context = {
        "course": course,
        "student": student,
        "item": item,
        "cell": cell,
        "lms_grade": LtiGrade.objects.filter(item=cell.item, user=row.student).first(),
        "form": form,
        "saved": saved,
        "cohort": cohort or "",
        "page": page or "",
        "back_url": _gradebook_url(course.pk, cohort, page),
        "inline": inline,
        "nav_teaches": True,
    }
    template = "cases/gradebook/grade_edit.html"
    if not request.htmx or request.htmx.history_restore_request:
        return render(request, template, context)
    html = render_to_string(f"{template}#grade-form", context, request)
    if saved and inline:
        # The row's cells, category percents and total, swapped out of band.
        row_context = {
            "grades": row_grades(row, gradebook_groups(matrix.items)),
            "course": course,
            "back_query": urlencode({"cohort": cohort or "", "page": page or 1}),
            "Status": WorkStatus,
            "oob": True,
        }
        # A <tr> parses only inside a table or a <template>: htmx unwraps the template.
        row_html = render_to_string(
            "cases/gradebook/student_row.jinja", row_context, request, using="jinja2"
        )
        html += f"<template>{row_html}</template>"
    return HttpResponse(html)


@require_POST
@vary_on_headers("HX-Request")
def assignment_release(request: HtmxHttpRequest, pk: int):
    """Instructors and admins of the course show an assignment's grades and comments
    to its cohort's students (`release=1`), or hide them again (`release=0`)."""
    assignment = get_object_or_404(
        Assignment.objects.select_related("item__module", "cohort"), pk=pk
    )
    course, _access = course_to_teach(request.user, assignment.item.module.course_id)
    released = request.POST.get("release") == "1"
    services.assignment_release(assignment=assignment, released=released)
    if request.htmx:
        return render(
            request,
            "cases/gradebook/release_control.jinja",
            {"assignment": assignment, "cohort_id": parse_int(request.POST.get("cohort"), low=1)},
            using="jinja2",
        )
    what = "released to" if released else "hidden again from"
    messages.success(
        request, f"Grades for “{assignment.item.title}” {what} {assignment.cohort.name}."
    )
    cohort = parse_int(request.POST.get("cohort"), low=1)
    return redirect(_gradebook_url(course.pk, cohort))


@require_http_methods(["GET", "POST"])
def grade_categories(request: HtmxHttpRequest, pk: int):
    """Instructors and admins of the course: its grade categories (names, weights,
    drop lowest) and which category each item counts in. A course without categories
    gets the defaults from a button, never by merely opening the page.

    An edit of the categories that changes what counts asks first
    (`grade_categories_change`): deleting a category that holds items (they become
    uncategorised and stop counting), or any edit that moves a student's released
    total. A page says which categories go with how many items, and how many released
    totals change, and carries what was typed, to save it (`confirmed`) or go back to
    the form with it (`action=edit`). A rename, a new order, a new category or an
    empty one deleted just saves."""
    course, access = course_to_teach(request.user, pk)
    categories = GradeCategory.objects.filter(course=course)
    items = (
        ModuleItem.objects.filter(module__course=course)
        .select_related("module")
        .order_by("module__position", "module__pk", "position", "pk")
    )
    action = request.POST.get("action", "")
    formset = GradeCategoryFormSet(queryset=categories, prefix="categories")
    items_form = ItemCategoriesForm(items=items, categories=categories)
    if request.method == "POST":
        if action == "defaults":
            filed = services.grade_categories_add_defaults(course=course, by=request.user)
            messages.success(request, f"Default categories in place; {filed} items filed.")
            return redirect("cases:grade_categories", pk=course.pk)
        if action in ("categories", "edit"):
            formset = GradeCategoryFormSet(request.POST, queryset=categories, prefix="categories")
            if action == "categories" and formset.is_valid():
                change = {
                    "course": course,
                    "saved": formset.save(commit=False),
                    "deleted": formset.deleted_objects,
                }
                if not request.POST.get("confirmed"):
                    at_stake = services.grade_categories_change(**change)
                    if at_stake.at_stake:
                        return _confirm_categories_change(request, course, at_stake)
                services.grade_categories_save(**change, by=request.user)
                messages.success(request, "Grade categories saved.")
                return redirect("cases:grade_categories", pk=course.pk)
        elif action == "items":
            items_form = ItemCategoriesForm(request.POST, items=items, categories=categories)
            if items_form.is_valid():
                services.items_file(course=course, changes=items_form.changes())
                messages.success(request, "Items filed in their categories.")
                return redirect("cases:grade_categories", pk=course.pk)
    total = sum((c.weight for c in categories), Decimal(0))
    context = {
        "course": course,
        "access": access,
        "formset": formset,
        "items_form": items_form,
        "has_categories": bool(formset.queryset),
        "weights_total": total,
        "nav_teaches": True,
    }
    return render(request, "cases/gradebook/grade_categories.html", context)


def _confirm_categories_change(request, course, at_stake):
    """The page that asks before an edit of the categories changes what counts, saying
    which categories go with how many items and how many released totals change, with
    the form as typed in hidden fields."""
    context = {
        "course": course,
        "at_stake": at_stake,
        "carried": as_typed(request),
        "nav_teaches": True,
    }
    return render(request, "cases/gradebook/grade_categories_confirm.html", context)


@never_cache
@require_GET
def student_grades(request: HtmxHttpRequest, pk: int):
    """A student of the course: their own grades, item by item, each shown (with its
    comment) only once its assignment's grades are released, and their category and
    course percents over released grades. Course staff are sent to the gradebook.

    Work handed in again after its grade was released waits for a new one: the student
    still sees the earlier grade and comment, marked as the earlier ones, since they
    were shown that grade and most likely revised in answer to the comment; hiding
    both would read as a grade taken away. The earlier grade counts in no percent
    until a person grades the work again, as on the staff's gradebook."""
    course, access = access_course(request.user, pk)
    if not access.is_student:
        return redirect("cases:gradebook", pk=course.pk)
    row = student_row(request.user, course)
    groups = gradebook_groups([cell.item for cell in row.cells])
    grades = row_grades(row, groups, released_only=True)
    context = {"course": course, "access": access, "grades": grades, "Status": WorkStatus}
    return render(request, "cases/gradebook/student_grades.html", context)
