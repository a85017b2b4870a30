"""The course builder: courses, modules and items made, edited, ordered, copied and
deleted by the course's instructors and admins (`CourseAccess.can_teach`)."""

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Count, Prefetch
from django.http import Http404, HttpResponseBadRequest
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django.views.decorators.vary import vary_on_headers

from cases.forms.builder import (
    ITEM_KINDS,
    AnalysisForm,
    AnnotationTaskForm,
    CourseDuplicateForm,
    CourseForm,
    ItemCopyForm,
    ItemCreateForm,
    ItemEditForm,
    ModuleForm,
)
from cases.http import HtmxHttpRequest, as_typed, parse_int
from cases.models import Course, ItemKind, ModuleItem, Work
from cases.permissions import (
    access_course,
    access_item,
    access_module,
    course_creator_required,
    course_to_teach,
    courses_to_copy_from,
)
from cases.services import builder as services
from cases.services import live
from cases.services.workspace.grading import item_rubric_change, rubric_rescore
from cases.views.kinds import kind_form

# Each kind's own settings page, where a new item of it is set up next (the other
# kinds open on the item's page).
SETTINGS_PAGES = {
    ItemKind.QUIZ: "cases:quiz_settings",
    ItemKind.DISCUSSION: "cases:discussion_settings",
    ItemKind.STANCE_CHECK: "cases:stance_settings",
    ItemKind.DECISION: "cases:decision_settings",
    ItemKind.ANALYSIS: "cases:analysis_settings",
}

# Kinds whose "add" form already asks for their settings: a new one opens on its page,
# and the settings page is reached from the item's edit page.
LATER_SETTINGS_PAGES = {ItemKind.ANNOTATION: "cases:annotation_settings"}


BUILDER = "cases/builder/course_builder.html"
FORM_PAGE = "cases/builder/form_page.html"


def _builder_modules(course: Course):
    """The course's modules with their items in the order the course page shows them
    (their positions, as Up and Down set them), each item with its grade category and
    how many cohorts it is given to: two queries, whatever the course's size."""
    # Ordered here, not by the model's `ordering`: Django leaves that out of a query
    # with an aggregate (GROUP BY), so the count alone gave the items in any order.
    items = (
        ModuleItem.objects.select_related("grade_category")
        .annotate(cohort_count=Count("assignments"))
        .order_by("position", "pk")
    )
    return list(course.modules.prefetch_related(Prefetch("items", queryset=items)))


def _module_list(request: HtmxHttpRequest, course: Course):
    """After a change to the order: the module list for htmx, else back to the page."""
    if request.htmx:
        context = {"course": course, "modules": _builder_modules(course)}
        return render(request, f"{BUILDER}#module-list", context)
    return redirect("cases:course_builder", pk=course.pk)


def _form_page(request, *, form, heading, submit_label, course=None, help="", status=200, **extra):
    context = {
        "form": form,
        "heading": heading,
        "submit_label": submit_label,
        "course": course,
        "help": help,
        **extra,
    }
    return render(request, FORM_PAGE, context, status=status)


@require_http_methods(["GET", "POST"])
@course_creator_required
def course_create(request: HtmxHttpRequest):
    """Admins and instructors of some course start a new course; they become its
    instructor."""
    form = CourseForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        course = services.course_create(
            code=data["code"],
            title=data["title"],
            description=data["description"],
            time_zone=data["time_zone"],
            by=request.user,
        )
        messages.success(request, f"Created {course.code}. Add its first module.")
        return redirect("cases:course_builder", pk=course.pk)
    return _form_page(request, form=form, heading="New course", submit_label="Create course")


@require_http_methods(["GET", "POST"])
def course_edit(request: HtmxHttpRequest, pk: int):
    """Instructors and admins of the course change its code, title, description and
    time zone."""
    course, _access = course_to_teach(request.user, pk)
    form = CourseForm(request.POST or None, instance=course)
    if request.method == "POST" and form.is_valid():
        form.save()
        messages.success(request, "Course saved.")
        return redirect("cases:course_builder", pk=course.pk)
    return _form_page(request, form=form, heading="Edit course", submit_label="Save", course=course)


# What a duplicate brings along, named from `ItemKind` so that no kind goes unmentioned.
DUPLICATE_HELP = (
    "Copies the modules and every item with its own content, whatever its kind ("
    + ", ".join(str(label).lower() for label in ItemKind.labels)
    + "), the question bank, grade categories and rubrics. A copied decision point "
    "opens the same part B. Cohorts, dates and students' work are not copied, nor what "
    "this term's class made of an item: a scored prediction, released placements, a "
    "locked thread."
)


@require_http_methods(["GET", "POST"])
def course_duplicate(request: HtmxHttpRequest, pk: int):
    """Instructors and admins of the course copy it for a new term: its content, not its
    cohorts, dates or students' work. They become instructors of the copy."""
    course, _access = course_to_teach(request.user, pk)
    initial = {"code": f"{course.code} (copy)"[:40], "title": course.title}
    form = CourseDuplicateForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        copy = services.course_duplicate(
            source=course,
            code=form.cleaned_data["code"],
            title=form.cleaned_data["title"],
            by=request.user,
        )
        messages.success(request, f"Created {copy.code} from {course.code}. Give it cohorts.")
        return redirect("cases:course_builder", pk=copy.pk)
    return _form_page(
        request,
        form=form,
        heading="Duplicate for a new term",
        submit_label="Duplicate course",
        course=course,
        help=DUPLICATE_HELP,
    )


@require_GET
def course_builder(request: HtmxHttpRequest, pk: int):
    """Instructors and admins of the course: its modules and items, to add, edit,
    reorder, schedule and delete."""
    course, access = course_to_teach(request.user, pk)
    context = {"course": course, "access": access, "modules": _builder_modules(course)}
    return render(request, BUILDER, context)


@require_http_methods(["GET", "POST"])
def module_create(request: HtmxHttpRequest, pk: int):
    """Instructors and admins of the course add a module at its end."""
    course, _access = course_to_teach(request.user, pk)
    form = ModuleForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        module = services.module_create(
            course=course, title=form.cleaned_data["title"], summary=form.cleaned_data["summary"]
        )
        messages.success(request, f"Added the module “{module.title}”.")
        return redirect("cases:course_builder", pk=course.pk)
    return _form_page(
        request, form=form, heading="New module", submit_label="Add module", course=course
    )


def _teach_module(user, pk: int):
    module, access = access_module(user, pk)
    if not access.can_teach:
        raise PermissionDenied
    return module


@require_http_methods(["GET", "POST"])
def module_edit(request: HtmxHttpRequest, pk: int):
    """Instructors and admins of the course rename a module or change its summary."""
    module = _teach_module(request.user, pk)
    form = ModuleForm(request.POST or None, instance=module)
    if request.method == "POST" and form.is_valid():
        form.save()
        messages.success(request, "Module saved.")
        return redirect("cases:course_builder", pk=module.course_id)
    return _form_page(
        request, form=form, heading="Edit module", submit_label="Save", course=module.course
    )


@require_http_methods(["GET", "POST"])
def module_delete(request: HtmxHttpRequest, pk: int):
    """Instructors and admins of the course delete a module and its items, after
    confirming (students' work on those items goes with them)."""
    module = _teach_module(request.user, pk)
    if request.method == "POST":
        with transaction.atomic():
            live.item_sessions_end(module.items.all())  # As for one item (`item_delete`).
            module.delete()
        messages.success(request, f"Deleted the module “{module.title}”.")
        return redirect("cases:course_builder", pk=module.course_id)
    context = {
        "course": module.course,
        "what": f"the module “{module.title}”",
        "item_count": module.items.count(),
        "work_count": Work.objects.filter(item__module=module).count(),
    }
    return render(request, "cases/builder/confirm_delete.html", context)


@vary_on_headers("HX-Request")
@require_POST
def module_move(request: HtmxHttpRequest, pk: int):
    """Instructors and admins of the course move a module one place up or down. With
    htmx, answers the updated module list; else back to the builder."""
    module = _teach_module(request.user, pk)
    direction = request.POST.get("direction")
    if direction not in (services.UP, services.DOWN):
        return HttpResponseBadRequest("Move up or down.")
    services.module_move(module=module, direction=direction)
    return _module_list(request, module.course)


def _teach_item(user, pk: int) -> ModuleItem:
    item, access = access_item(user, pk)
    if not access.can_teach:
        raise PermissionDenied
    return item


@require_http_methods(["GET", "POST"])
def item_edit(request: HtmxHttpRequest, pk: int):
    """Instructors and admins of the course change an item's title, instructions, grade
    category and (for kinds a person grades) rubric. Its kind is fixed; its kind's own
    content is on the kind's settings page, linked.

    Switching the rubric, or taking it off, when work on the item is already scored
    asks first (`item_rubric_change`, the rubric page's rule): a page says how many
    scores, and released grades, would change, and carries what was typed, to save it
    (`confirmed`) or go back to the form with it (`action=edit`)."""
    item = _teach_item(request.user, pk)
    # The criteria the levels already chosen were chosen under, before the form sets
    # the item's new rubric on it.
    before = item.rubric.criteria if item.rubric_id else None
    was, title = item.rubric, item.title
    form = ItemEditForm(request.POST or None, instance=item)
    if request.method == "POST" and request.POST.get("action") != "edit" and form.is_valid():
        switched = "rubric" in form.changed_data
        if switched and not request.POST.get("confirmed"):
            rubric = form.cleaned_data["rubric"]
            at_stake = item_rubric_change(item=item, before=before, rubric=rubric)
            if at_stake.at_stake:
                context = {
                    "item": item,
                    "title": title,
                    "course": item.module.course,
                    "was": was,
                    "rubric": rubric,
                    "taken_off": rubric is None,
                    "at_stake": at_stake,
                    "carried": as_typed(request),
                }
                return render(request, "cases/builder/item_rubric_confirm.html", context)
        form.save()
        if switched:
            # Levels already chosen are carried to the new rubric and score on it.
            rubric_rescore([item.pk], chosen_under={item.pk: before})
        messages.success(request, "Item saved.")
        return redirect("cases:course_builder", pk=item.module.course_id)
    settings = SETTINGS_PAGES.get(item.kind) or LATER_SETTINGS_PAGES.get(item.kind)
    return _form_page(
        request,
        form=form,
        heading=f"Edit “{item.title}”",
        submit_label="Save",
        course=item.module.course,
        kind_label=item.get_kind_display(),
        settings_url=reverse(settings, args=[item.pk]) if settings else "",
    )


def _content_settings(
    request: HtmxHttpRequest, pk: int, field: str, form_class, save, heading, change=None
):
    """A kind's own settings page: its content (the item's one-to-one `field`) in
    `form_class`, saved through the kind's service `save`, back to the item.

    `change`, the kind's service that says what the edit would do to work handed in
    (a `WorkChange`): when any is at stake a page says so first and carries what was
    typed, to save it (`confirmed`) or go back to the form with it (`action=edit`)."""
    item = _teach_item(request.user, pk)
    content = getattr(item, field, None)
    if content is None:
        raise Http404
    form = form_class(request.POST or None, instance=content)
    if request.method == "POST" and request.POST.get("action") != "edit" and form.is_valid():
        content = form.save(commit=False)
        if change is not None and not request.POST.get("confirmed"):
            at_stake = change(content)
            if at_stake.at_stake:
                context = {
                    "item": item,
                    "course": item.module.course,
                    "heading": heading,
                    "at_stake": at_stake,
                    "carried": as_typed(request),
                }
                return render(request, "cases/builder/item_settings_confirm.html", context)
        save(content)
        messages.success(request, f"{heading} saved.")
        return redirect(item)
    context = {"form": form, "item": item, "heading": heading}
    return render(request, "cases/builder/item_settings.html", context)


@require_http_methods(["GET", "POST"])
def annotation_settings(request: HtmxHttpRequest, pk: int):
    """Instructors and admins of the course change an annotation assignment's case, the
    substantive notes and words it asks, and annotate-first; students' work follows.
    A change that would take back hand-ins or lower scores asks first."""
    return _content_settings(
        request,
        pk,
        "annotation_task",
        AnnotationTaskForm,
        lambda task: services.annotation_task_update(task=task),
        "Annotation settings",
        change=lambda task: services.annotation_task_change(task=task),
    )


@require_http_methods(["GET", "POST"])
def analysis_settings(request: HtmxHttpRequest, pk: int):
    """Instructors and admins of the course set a written analysis's case, prompt, word
    limit, whether a file may be handed in, and its peer review."""
    return _content_settings(
        request,
        pk,
        "analysis",
        AnalysisForm,
        lambda analysis: services.analysis_update(analysis=analysis),
        "Written analysis settings",
    )


@require_http_methods(["GET", "POST"])
def item_delete(request: HtmxHttpRequest, pk: int):
    """Instructors and admins of the course delete an item, after confirming (students'
    work on it goes with it)."""
    item = _teach_item(request.user, pk)
    course = item.module.course
    if request.method == "POST":
        with transaction.atomic():
            live.item_sessions_end([item])  # A class of it running ends, not opens to all.
            item.delete()
        messages.success(request, f"Deleted “{item.title}”.")
        return redirect("cases:course_builder", pk=course.pk)
    context = {
        "course": course,
        "what": f"“{item.title}”",
        "work_count": Work.objects.filter(item=item).count(),
    }
    return render(request, "cases/builder/confirm_delete.html", context)


@vary_on_headers("HX-Request")
@require_POST
def item_move(request: HtmxHttpRequest, pk: int):
    """Instructors and admins of the course move an item one place up or down, or to
    the end of another module of the course. With htmx, answers the updated module
    list; else back to the builder."""
    item = _teach_item(request.user, pk)
    course = item.module.course
    direction = request.POST.get("direction")
    if "module" in request.POST:
        to_module = course.modules.filter(pk=parse_int(request.POST["module"])).first()
        if to_module is None:
            return HttpResponseBadRequest("Choose a module of this course.")
        services.item_move(item=item, to_module=to_module)
    elif direction in (services.UP, services.DOWN):
        services.item_move(item=item, direction=direction)
    else:
        return HttpResponseBadRequest("Move up or down, or to a module.")
    return _module_list(request, course)


@require_http_methods(["GET", "POST"])
def item_copy(request: HtmxHttpRequest, pk: int):
    """Instructors and admins of the course copy an item of any kind from any course
    they teach into one of its modules (its content, a quiz's questions and its rubric;
    never students' work)."""
    course, _access = course_to_teach(request.user, pk)
    form = ItemCopyForm(
        request.POST or None, course=course, courses=courses_to_copy_from(request.user)
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        item = services.item_copy(source=data["source"], module=data["module"], title=data["title"])
        messages.success(request, f"Copied “{item.title}”. Schedule it for your cohorts.")
        return redirect("cases:item_schedule", pk=item.pk)
    return _form_page(
        request,
        form=form,
        heading="Copy an item",
        submit_label="Copy",
        course=course,
        help=(
            "Copies its settings and content (a quiz's questions, its rubric); never "
            "students' work: attempts, posts, notes, memos or grades."
        ),
    )


@vary_on_headers("HX-Request")
@require_http_methods(["GET", "POST"])
def item_create(request: HtmxHttpRequest, pk: int):
    """Instructors and admins of the course add an item to a module and give it to
    cohorts: first its kind ("What are you adding?"), then only that kind's fields.
    A quiz, thread, stance check or decision then opens on its settings page."""
    course, access = access_course(request.user, pk)
    if not access.can_teach:
        raise PermissionDenied
    url = reverse("cases:item_create", args=[course.pk])
    form, fragment = kind_form(request, ItemCreateForm, url=url, course=course)
    if fragment is not None:
        return fragment
    if form.is_bound and form.is_valid():
        data = form.cleaned_data
        item = services.item_create(
            module=data["module"],
            kind=data["kind"],
            title=data["title"],
            case=data.get("case"),
            cohorts=data["cohorts"],
            due_at=data["due_at"],
            spectrum_cases=data.get("spectrum_cases"),
            prompt=data.get("prompt", ""),
            **{
                name: data[name]
                for name in ("min_notes", "min_words", "annotate_first")
                if name in data
            },
        )
        messages.success(request, f"Added “{item.title}”.")
        return redirect(SETTINGS_PAGES.get(item.kind, "cases:item_detail"), pk=item.pk)
    context = {
        "form": form,
        "course": course,
        "kinds": ITEM_KINDS,
        # "Add one" in a module names it; choosing the kind keeps it.
        "module_chosen": parse_int(request.GET.get("module")),
    }
    return render(request, "cases/builder/item_form.html", context)


# Dashboards --------------------------------------------------------------------------
