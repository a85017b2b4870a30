from dataclasses import dataclass

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db import connection
from django.db.models import Exists, OuterRef, Subquery
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django.views.decorators.vary import vary_on_headers

from cases.exhibits import exhibits_html
from cases.forms.readings import CaseImportForm, CaseStudyForm, LibraryFilterForm
from cases.http import HtmxHttpRequest, next_url, parse_int
from cases.markdown import render_markdown
from cases.models import CaseStudy, ModuleItem, assignment_for_student, takes_work_until
from cases.permissions import (
    CaseAccess,
    CourseAccess,
    access_case,
    author_required,
    can_author_cases,
    cases_for_user,
    item_case_access,
)
from cases.services import readings as services
from cases.services.annotations import task_progress
from cases.services.thesis import authors_placements_shown
from cases.views.annotations import layer_context

LIBRARY_PAGE_SIZE = 50


def _is_fragment_request(request: HtmxHttpRequest) -> bool:
    return bool(request.htmx) and not request.htmx.history_restore_request


@require_GET
@vary_on_headers("HX-Request")
def case_list(request: HtmxHttpRequest):
    """Signed-in users: the cases they may read (teaching staff: the whole library),
    filtered by region and sector and searched by text. htmx swaps only the results."""
    cases = cases_for_user(request.user)
    sectors = sorted(set(cases.values_list("sector", flat=True)))
    form = LibraryFilterForm(request.GET or None, sectors=sectors)
    if form.is_valid():
        if region := form.cleaned_data["region"]:
            cases = cases.filter(region=region)
        if sector := form.cleaned_data["sector"]:
            cases = cases.filter(sector=sector)
        cases = cases.matching(form.cleaned_data["q"], postgres=connection.vendor == "postgresql")
    cases = cases.only("title", "slug", "company", "region", "sector", "period", "summary")
    context = {
        "form": form,
        "cases": cases[:LIBRARY_PAGE_SIZE],
        "can_author": can_author_cases(request.user),
        # No case at all to read (no sector among them): that is what to say, whatever
        # was searched for.
        "library_empty": not sectors,
    }
    template = "cases/readings/case_list.html"
    if _is_fragment_request(request):
        template += "#case-results"
    return render(request, template, context)


def _reader(
    request: HtmxHttpRequest,
    case: CaseStudy,
    access: CaseAccess,
    *,
    item: ModuleItem | None = None,
    course_access: CourseAccess | None = None,
    task=None,
):
    """The case reader, alone or as a module item. Opening it records progress for
    students; teaching notes and the authors' placement are passed to the template only
    for teaching staff (and the placement once released, for everyone)."""
    progress = None
    if not access.is_teaching_staff:
        joined = (
            services.NOT_JOINED
            if item is None
            else services.progress_joined(item, user=request.user, case=case)
        )
        progress = services.reading_open(user=request.user, case=case, joined=joined)
    previous_item = next_item = None
    if item is not None:
        previous_item, next_item = ModuleItem.objects.neighbours_of(
            item, request.user, staff=course_access.can_grade
        )
    marked = layer_context(request, case, access, case.body_html)
    # A student's own dates for the task (their extension applied), and their count of
    # substantive notes against the task's.
    task_assignment = task_mine = task_closed = None
    if task is not None and not access.is_teaching_staff:
        task_assignment = assignment_for_student(item.pk, request.user)
        until = takes_work_until(task_assignment)
        task_mine = task_progress(
            task, marked["layer_rows"].own, until, getattr(task_assignment, "cohort_id", None)
        )
        task_closed = until is not None and timezone.now() > until
    context = {
        "case": case,
        **marked,
        "body": services.body_with_citations(case, request.user, access, marked["body"]),
        "task": task,
        "task_assignment": task_assignment,
        "task_mine": task_mine,
        # Notes are still the class's to read, but no longer count for the task.
        "task_closed": task_closed,
        "exhibits": exhibits_html(case),
        "part_b": _part_b(case, request.user),
        "progress": progress,
        "done": progress is not None and progress.done_at is not None,
        "item": item,
        "course": item.module.course if item else None,
        "previous_item": previous_item,
        "next_item": next_item,
        "can_edit": access.can_edit,
        # Staff's, or once released everyone's: set below.
        "teaching_notes": None,
        "heatmap_url": None,
        "placement": None,
    }
    if access.sees_teaching_notes:
        context["teaching_notes"] = render_markdown(case.teaching_notes)
        if item is not None:
            context["heatmap_url"] = reverse(
                "cases:annotation_heatmap", args=[item.module.course_id, case.slug]
            )
    if access.sees_teaching_notes or authors_placements_shown(request.user, [case]):
        context["placement"] = {
            "value": case.spectrum_placement,
            "justification": case.spectrum_justification,
            "released": case.placement_released,
        }
    return render(request, "cases/readings/case_reader.html", context)


@dataclass
class PartB:
    """What a part A's reader says of the part B that follows it: a link once the
    reader may open it, else the decision point that opens it."""

    case: CaseStudy
    open: bool
    decision_item: ModuleItem | None = None


def _part_b(case: CaseStudy, user) -> PartB | None:
    """The part B that continues this case, if any, as this reader may see it, with the
    decision point that opens it while it is locked. No query when the case was loaded
    knowing it has none (`_has_part_b`); else one."""
    if not getattr(case, "_has_part_b", True):
        return None
    opens_it = ModuleItem.objects.visible_to_student(user).filter(decision__reveals=OuterRef("pk"))
    sequel = (
        CaseStudy.objects.filter(follows=case)
        .annotate(
            open=Exists(cases_for_user(user).filter(pk=OuterRef("pk"))),
            decision_item_id=Subquery(opens_it.values("pk")[:1]),
            decision_item_title=Subquery(opens_it.values("title")[:1]),
        )
        .only("pk", "slug", "title")
        .first()
    )
    if sequel is None:
        return None
    if sequel.open:
        return PartB(sequel, True)
    item = None
    if sequel.decision_item_id is not None:
        item = ModuleItem(pk=sequel.decision_item_id, title=sequel.decision_item_title)
    return PartB(sequel, False, item)


@require_GET
def case_detail(request: HtmxHttpRequest, slug: str):
    """Students read cases given to their cohorts; teaching staff read any case."""
    case, access = access_case(request.user, slug)
    return _reader(request, case, access)


def _waits_for_commitment(request, case: CaseStudy, item: ModuleItem, course_access):
    """A part B the student may not open yet (`cases_for_user`: a decision point given
    to them reveals it and they have not committed), reached through an item that gives
    it: they go to that decision point, told why. None when they may read it; no query
    for a case that continues no other."""
    if case.follows_id is None or course_access.can_grade:
        return None
    if cases_for_user(request.user).filter(pk=case.pk).exists():
        return None
    opens_it = ModuleItem.objects.visible_to_student(request.user).filter(decision__reveals=case)
    decision_item = opens_it.only("pk").first()
    if decision_item is None:
        messages.info(request, f"{case.title} opens once you commit to its decision point.")
        return redirect(item.module.course)
    messages.info(request, f"{case.title} opens once you commit to this decision point.")
    return redirect(decision_item)


def item_reader(request: HtmxHttpRequest, item: ModuleItem, course_access: CourseAccess):
    """A case reading as a module item, with previous/next in its module. The item's
    access has been checked by item_detail."""
    reading = getattr(item, "case_reading", None)
    if reading is None:
        return None
    case = reading.case
    if waits := _waits_for_commitment(request, case, item, course_access):
        return waits
    case._has_part_b = getattr(item, "_has_part_b", True)
    access = item_case_access(request.user, case, course_access)
    return _reader(request, case, access, item=item, course_access=course_access)


def item_annotation(request: HtmxHttpRequest, item: ModuleItem, course_access: CourseAccess):
    """An annotation assignment as a module item: the case's reader with what the
    assignment asks and, for a student, how far they are. Access checked by
    item_detail."""
    task = getattr(item, "annotation_task", None)
    if task is None:
        return None
    case = task.case
    if waits := _waits_for_commitment(request, case, item, course_access):
        return waits
    case._has_part_b = getattr(item, "_has_part_b", True)
    access = item_case_access(request.user, case, course_access)
    return _reader(request, case, access, item=item, course_access=course_access, task=task)


@require_POST
def reading_heartbeat(request: HtmxHttpRequest, slug: str):
    """Students who may read the case: the page reports, while visible, that it is
    being read and where. Answers 204: nothing on the page changes."""
    case, access = access_case(request.user, slug)
    if not access.is_teaching_staff:
        services.reading_heartbeat(
            user=request.user,
            case=case,
            paragraph=parse_int(request.POST.get("paragraph"), low=1, high=100_000),
        )
    return HttpResponse(status=204)


@require_POST
@vary_on_headers("HX-Request")
def reading_done(request: HtmxHttpRequest, slug: str):
    """Students who may read the case mark it done (or not done). htmx gets the updated
    progress panel; a plain form post goes back to the page it came from."""
    case, access = access_case(request.user, slug)
    if access.is_teaching_staff:
        return redirect(case)
    done = request.POST.get("done") == "1"
    services.reading_mark_done(user=request.user, case=case, done=done)
    back = next_url(request, case)
    if request.htmx:
        # The swapped-in form goes back where the page's form went.
        return render(
            request,
            "cases/readings/case_reader.html#reading-progress",
            {"case": case, "done": done, "back": back},
        )
    messages.success(request, "Marked as done." if done else "Marked as not done.")
    return redirect(back)


def _case_form_response(request: HtmxHttpRequest, form: CaseStudyForm, case=None):
    body = form.data.get("body", "") if form.is_bound else (case.body if case else "")
    context = {
        "form": form,
        "case": case,
        # An imported file with problems opens here too: it must post to create.
        "form_action": reverse("cases:case_edit", args=[case.slug])
        if case
        else reverse("cases:case_create"),
        "preview": [render_markdown(p) for p in services.split_paragraphs(body)],
    }
    template = "cases/readings/case_form.html"
    if _is_fragment_request(request) and request.POST.get("action") == "preview":
        template += "#case-preview"
    return render(request, template, context)


@require_http_methods(["GET", "POST"])
@author_required
@vary_on_headers("HX-Request")
def case_create(request: HtmxHttpRequest):
    """Instructors and admins write a new case. "Preview" re-renders without saving (htmx
    does it as you type); bad input is shown beside its field, nothing typed is lost."""
    form = CaseStudyForm(request.POST or None)
    if request.method == "POST" and request.POST.get("action") != "preview" and form.is_valid():
        case = services.case_create(case=form.save(commit=False), created_by=request.user)
        messages.success(request, f"Saved “{case.title}”.")
        return redirect(case)
    return _case_form_response(request, form)


@require_http_methods(["GET", "POST"])
@vary_on_headers("HX-Request")
def case_edit(request: HtmxHttpRequest, slug: str):
    """The case's author and admins edit it; other signed-in users get 404 or 403."""
    case, access = access_case(request.user, slug)
    if not access.can_edit:
        raise PermissionDenied
    form = CaseStudyForm(request.POST or None, instance=case)
    if request.method == "POST" and request.POST.get("action") != "preview" and form.is_valid():
        expected = parse_int(request.POST.get("revision"), low=1)
        try:
            case = services.case_update(case=form.save(commit=False), expected_revision=expected)
        except services.CaseConflict as conflict:
            form.add_error(
                None,
                f"Someone else saved this case (now revision {conflict.args[0]}) after you "
                "opened it. Your version is still below: copy what you need, reload the "
                "page to see theirs, then apply your changes again.",
            )
        else:
            messages.success(request, f"Saved “{case.title}” (revision {case.revision}).")
            return redirect(case)
    return _case_form_response(request, form, case)


@require_http_methods(["GET", "POST"])
@author_required
def case_import(request: HtmxHttpRequest):
    """Instructors and admins import a case from a Markdown file with a front-matter
    header. A file that does not validate opens in the editor with its errors, so
    nothing in it is lost."""
    form = CaseImportForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        try:
            fields = services.case_fields_from_markdown(form.cleaned_data["file"])
        except services.CaseImportError as error:
            form.add_error("file", str(error))
        else:
            case_form = CaseStudyForm(CaseStudyForm.data_from_fields(fields))
            if case_form.is_valid():
                case = services.case_create(
                    case=case_form.save(commit=False), created_by=request.user
                )
                messages.success(request, f"Imported “{case.title}”.")
                return redirect(case)
            messages.error(request, "The file has problems; fix them below and save.")
            return _case_form_response(request, case_form)
    return render(request, "cases/readings/case_import.html", {"form": form})
