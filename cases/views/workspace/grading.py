"""Grading by people: one student's work at a time, next and previous through the
class; the queue of every kind's work waiting for a person; the course's rubrics."""

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Exists, OuterRef, Subquery
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django.views.decorators.vary import vary_on_headers

from cases.forms.quizzes import GradeForm
from cases.forms.workspace import RubricForm, WorkGradeForm, rubric_as_text
from cases.http import HtmxHttpRequest, as_typed, parse_int
from cases.models import (
    Answer,
    Assignment,
    AttemptState,
    ItemKind,
    MemoVersion,
    ModuleItem,
    ParticipationGrade,
    QuestionKind,
    Rubric,
    Work,
    assignment_for_student,
    grade_released,
)
from cases.permissions import (
    MemoFeedback,
    access_answer_for_grading,
    access_course,
    access_item,
    access_student,
    course_to_teach,
    graded_students,
)
from cases.services import discussions as discussion_services
from cases.services import memo_feedback as memo_services
from cases.services import quizzes as quiz_services
from cases.services.workspace.grading import (
    rubric_change,
    rubric_update,
    work_grade,
    work_grade_stands,
)
from cases.services.workspace.matrix import work_cell
from cases.services.workspace.work import student_work
from cases.views.memo_feedback import GRADER, changes_context, memo_layer_context


def _neighbours(student_ids: list[int], current: int) -> tuple[int | None, int | None]:
    at = student_ids.index(current)
    before = student_ids[at - 1] if at > 0 else None
    after = student_ids[at + 1] if at + 1 < len(student_ids) else None
    return before, after


def _next_waiting(item: ModuleItem, student_ids: list[int], current: int) -> int | None:
    """The next student after `current` in the grader's order (from the top again at
    the end) whose work on the item still waits for a person."""
    waiting = set(
        Work.objects.filter(item=item, user__in=student_ids)
        .waiting_for_grader()
        .values_list("user", flat=True)
    )
    at = student_ids.index(current)
    for pk in student_ids[at + 1 :] + student_ids[:at]:
        if pk in waiting:
            return pk
    return None


def _short_answers(item: ModuleItem, student) -> list[Answer]:
    """The student's short-text answers in their submitted attempts at a quiz item."""
    if item.kind != ItemKind.QUIZ:
        return []
    return list(
        Answer.objects.filter(
            slot__attempt__quiz__item=item,
            slot__attempt__user=student,
            slot__attempt__state=AttemptState.SUBMITTED,
            slot__question__kind=QuestionKind.SHORT_TEXT,
        )
        .select_related("slot__question", "slot__attempt")
        .order_by("slot__attempt__number", "slot__position")
    )


def _memo_versions(item: ModuleItem, student) -> list[MemoVersion]:
    """The student's versions of their memo on a written analysis, oldest first, each
    with its memo: one query (none for another kind)."""
    if item.kind != ItemKind.ANALYSIS:
        return []
    versions = MemoVersion.objects.filter(memo__item=item, memo__author=student)
    return list(versions.select_related("memo").order_by("number"))


def _memo_context(request, item, student, access, assignment, versions) -> dict:
    """The grader's view of a memo: the version chosen (?version=N, else the latest)
    with the comment tools, what changed from the one before, and whether the
    student's feedback is released. One query (the version's comments)."""
    if not versions:
        return {"memo_versions": []}
    number = parse_int(request.GET.get("version"), low=1)
    version = next((v for v in versions if v.number == number), versions[-1])
    version.memo.item, version.memo.author = item, student
    at = versions.index(version)
    previous = versions[at - 1] if at else None
    released = grade_released(assignment, item)
    feedback = MemoFeedback(version, access, released, assignment)
    context = {
        "memo_versions": versions,
        "memo_released": released,
        "memo_latest": versions[-1].number,  # What the form says it was opened on.
    }
    context |= changes_context(previous, version)
    if not version.is_file:
        context |= memo_layer_context(request, feedback, origin=GRADER)
    else:
        context |= {"version": version, "feedback": feedback}
    return context


def _memo_moved_on(data, versions) -> bool:
    """Whether the memo has a version newer than the latest the grader's page showed
    (its form's `memo_version`; a form without one asks nothing)."""
    seen = parse_int(data.get("memo_version"), low=0)
    return seen is not None and bool(versions) and versions[-1].number != seen


@never_cache
@require_http_methods(["GET", "POST"])
def grade_work(request: HtmxHttpRequest, pk: int, student: int):
    """Instructors, TAs (their cohorts) and admins grade one student's work on one
    item: the work beside a rubric, points for each short answer, participation points,
    a comment the student sees and "excused"; then "Save and next" goes on to the next
    student whose work waits for a person (the n/p keys browse everyone). Work handed
    in again after it was graded comes with the earlier grade filled in and said to be
    the earlier one: saving it unchanged lets it stand for what was handed in last."""
    item, access = access_item(request.user, pk)
    if not access.can_grade:
        raise PermissionDenied
    course = item.module.course
    student = access_student(request.user, course, access, student)
    student_ids = list(
        graded_students(request.user, course, access, item=item)
        .order_by("last_name", "first_name", "username")
        .values_list("pk", flat=True)
    )
    if student.pk not in student_ids:
        student_ids.append(student.pk)
    previous, following = _neighbours(student_ids, student.pk)
    work = Work.objects.filter(item=item, user=student).first()
    assignment = assignment_for_student(item.pk, student)
    # Where the work stands, as the tracker has it: a grade given before it was handed
    # in again is prefilled below, and the page says it is the earlier one.
    rubric_max = item.rubric.max_points if item.rubric_id else None
    cell = work_cell(item, assignment, work, timezone.now(), rubric_max)
    discussion = getattr(item, "discussion", None)
    versions = _memo_versions(item, student)
    memo = versions[-1].memo if versions else None
    # Without a rubric a person gives points for the whole: a discussion's
    # participation, a memo handed in.
    participation = (discussion is not None or memo is not None) and item.rubric_id is None
    grade = (
        ParticipationGrade.objects.filter(discussion=discussion, user=student).first()
        if participation and discussion is not None
        else None
    )
    initial = {
        "feedback": work.feedback if work else "",
        "excused": work.excused if work else False,
        "participation": memo.points if memo else grade.points if grade else None,
    }
    for index, level in (work.rubric_levels if work else {}).items():
        initial[f"criterion_{index}"] = str(level)
    short_answers = _short_answers(item, student)
    form = WorkGradeForm(
        request.POST or None,
        initial=initial,
        rubric=item.rubric,
        participation=participation,
        points_label="Points" if memo is not None else "Participation points",
        max_points=assignment.points if assignment else None,
        answers=short_answers,
    )
    # A version handed in since the page was opened was not read: its grade is not
    # this form's to give (saving would make it stand for the new text unread).
    stale = request.method == "POST" and _memo_moved_on(request.POST, versions)
    if request.method == "POST" and form.is_valid() and not stale:
        data, changed = form.cleaned_data, set(form.changed_data)
        for answer_id, points, comment in form.graded_answers():
            quiz_services.answer_grade(
                answer_id=answer_id, points=points, comment=comment, grader=request.user
            )
        if "participation" in changed and memo:
            # Emptied, the points are taken away: the memo waits for a grade again.
            memo_services.memo_points(
                item=item, student=student, points=data.get("participation"), grader=request.user
            )
        elif "participation" in changed and data.get("participation") is not None:
            discussion_services.participation_grade(
                discussion=discussion,
                user_id=student.pk,
                points=data["participation"],
                comment=grade.comment if grade else "",
                grader=request.user,
            )
        # Only what this grader changed: a colleague's comment saved meanwhile stands.
        fields = {name: data[name] for name in ("feedback", "excused") if name in changed}
        if item.rubric_id and any(name.startswith("criterion_") for name in changed):
            fields["rubric_levels"] = form.rubric_levels()
        if fields:
            work_grade(item=item, student=student, grader=request.user, **fields)
        if memo is not None or discussion is not None:
            # Saved, changed or not: the grade now stands for the memo's latest version
            # or the thread's posts so far.
            work_grade_stands(item=item, student=student, grader=request.user)
        messages.success(request, f"Saved the grade for {student.display_name}.")
        if "next" not in request.POST:
            url = reverse("cases:grade_work", args=[item.pk, student.pk])
            return redirect(url + request.get_full_path()[len(request.path) :])
        if waiting := _next_waiting(item, student_ids, student.pk):
            return redirect("cases:grade_work", pk=item.pk, student=waiting)
        messages.info(request, f"No more work on “{item.title}” waits for a grade.")
        return redirect("cases:grading_queue", pk=course.pk)
    if stale:
        form.add_error(
            None,
            f"Version {versions[-1].number} was handed in since this page was opened, so "
            f"nothing was saved: read version {versions[-1].number}, then save again (what "
            "you typed is kept).",
        )
    context = {
        "item": item,
        "course": course,
        "student": student,
        "work": work,
        "cell": cell,
        "form": form,
        "short_answers": [(answer, *form.answer_fields(answer)) for answer in short_answers],
        "previous": previous,
        "following": following,
        "position": student_ids.index(student.pk) + 1,
        "count": len(student_ids),
        "nav_teaches": True,
        "assignment": assignment,
        # The memo is read below, with its versions and comments (`_memo_context`).
        **student_work(course, student, item, memos=False, assignment=assignment),
    }
    if item.kind == ItemKind.ANALYSIS:
        context |= _memo_context(request, item, student, access, assignment, versions)
    return render(request, "cases/workspace/grade_work.html", context)


@require_http_methods(["GET", "POST"])
def rubric_list(request: HtmxHttpRequest, pk: int):
    """Instructors and admins: the course's rubrics, and a form to add one."""
    course, _access = course_to_teach(request.user, pk)
    form = RubricForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        rubric = Rubric.objects.create(
            course=course, title=form.cleaned_data["title"], criteria=form.cleaned_data["criteria"]
        )
        messages.success(request, f"Added the rubric “{rubric.title}”.")
        return redirect("cases:rubric_edit", pk=rubric.pk)
    rubrics = course.rubrics.prefetch_related("items")
    return render(
        request,
        "cases/workspace/rubric_list.html",
        {"course": course, "rubrics": rubrics, "form": form},
    )


@require_http_methods(["GET", "POST"])
def rubric_edit(request: HtmxHttpRequest, pk: int):
    """Instructors and admins of the rubric's course edit it and choose the items it
    grades. An invalid form comes back with everything typed kept.

    An edit that changes how work already scored with it reads (its criteria, levels or
    points, or the items it grades) asks first (`rubric_change`): a page says how many
    scores, and released grades, would change, and carries what was typed, to save it
    (`confirmed`) or go back to the form with it (`action=edit`). On saving, the levels
    chosen are carried to the rubric as written and scored again; work whose level is
    gone waits for a person. With nothing scored, or only the title changed, it just
    saves."""
    rubric = get_object_or_404(Rubric, pk=pk)
    course, _access = course_to_teach(request.user, rubric.course_id)
    items = ModuleItem.objects.filter(module__course=course).select_related("module")
    initial = {"title": rubric.title, "criteria": rubric_as_text(rubric.criteria)}
    form = RubricForm(request.POST or None, initial=initial)
    if request.method == "POST":
        chosen = {int(v) for v in request.POST.getlist("items") if v.isdigit()}
    else:
        chosen = {item.pk for item in items if item.rubric_id == rubric.pk}
    if request.method == "POST" and request.POST.get("action") != "edit" and form.is_valid():
        change = {
            "rubric": rubric,
            "criteria": form.cleaned_data["criteria"],
            "item_ids": chosen,
        }
        if not request.POST.get("confirmed"):
            at_stake = rubric_change(**change)
            if at_stake.at_stake:
                return _confirm_rubric_change(request, rubric, course, at_stake)
        rubric_update(title=form.cleaned_data["title"], **change)
        messages.success(request, f"Saved the rubric “{rubric.title}”.")
        return redirect("cases:rubric_edit", pk=rubric.pk)
    context = {
        "course": course,
        "rubric": rubric,
        "form": form,
        "items": items,
        "chosen": chosen,
        "list_url": reverse("cases:rubric_list", args=[course.pk]),
    }
    return render(request, "cases/workspace/rubric_edit.html", context)


def _confirm_rubric_change(request, rubric, course, at_stake):
    """The page that asks before a rubric edit changes how scored work reads, saying
    how many scores and released grades change, with the form as typed in hidden
    fields."""
    context = {
        "rubric": rubric,
        "course": course,
        "at_stake": at_stake,
        "list_url": reverse("cases:rubric_list", args=[course.pk]),
        "carried": as_typed(request),
    }
    return render(request, "cases/workspace/rubric_confirm.html", context)


# The grading queue: every kind's work waiting for a person ---------------------------

QUEUE_PAGE_SIZE = 25


@require_GET
def grading_queue(request: HtmxHttpRequest, pk: int):
    """Instructors, TAs and admins of the course: short-text answers waiting for a
    person, oldest first, a page at a time."""
    course, access = access_course(request.user, pk)
    if not access.can_grade:
        raise PermissionDenied
    students = graded_students(request.user, course, access)
    # As `waiting_for_grader`: none on a quiz no longer given to its student.
    given = Assignment.objects.filter(
        item=OuterRef("slot__attempt__quiz__item"),
        cohort__memberships__user=OuterRef("slot__attempt__user"),
    )
    waiting = (
        Answer.objects.filter(
            needs_grading=True,
            slot__attempt__state=AttemptState.SUBMITTED,
            slot__attempt__quiz__item__module__course=course,
            slot__attempt__user__in=students,
        )
        .filter(Exists(given))
        .select_related("slot__question", "slot__attempt__user", "slot__attempt__quiz__item")
    )
    total = waiting.count()
    answers = waiting.order_by("slot__attempt__submitted_at", "pk")[:QUEUE_PAGE_SIZE]
    # Whole pieces of work waiting for a person, item by item: participation to grade,
    # short answers, rubric items handed in and not yet scored.
    waiting_work = Work.objects.filter(
        item__module__course=course, user__in=students
    ).waiting_for_grader()
    # Each item's first waiting student in the grader's order (by name).
    first_waiting = (
        waiting_work.filter(item=OuterRef("item"))
        .order_by("user__last_name", "user__first_name", "user__username")
        .values("user")[:1]
    )
    items = (
        waiting_work.values("item", "item__title", "item__kind")
        .annotate(waiting=Count("pk"), first_student=Subquery(first_waiting))
        .order_by("item__module__position", "item__position")
    )
    context = {
        "course": course,
        "answers": answers,
        "total": total,
        "form": GradeForm(),
        "items": items,
    }
    return render(request, "cases/workspace/grading_queue.html", context)


@require_POST
@vary_on_headers("HX-Request")
def answer_grade(request: HtmxHttpRequest, pk: int):
    """Instructors, TAs and admins of the course grade one answer (points and a
    comment). htmx replaces the answer's card; a plain post returns to the queue."""
    answer = access_answer_for_grading(request.user, pk)
    form = GradeForm(request.POST, max_points=answer.slot.question.points)
    course_pk = answer.slot.attempt.quiz.item.module.course_id
    if form.is_valid():
        answer = quiz_services.answer_grade(
            answer_id=answer.pk,
            points=form.cleaned_data["points"],
            comment=form.cleaned_data["comment"],
            grader=request.user,
        )
        if not request.htmx:
            messages.success(request, "Grade saved.")
            return redirect("cases:grading_queue", pk=course_pk)
    elif not request.htmx:
        messages.error(request, "; ".join(e for errors in form.errors.values() for e in errors))
        return redirect("cases:grading_queue", pk=course_pk)
    answer = Answer.objects.select_related(
        "slot__question", "slot__attempt__user", "slot__attempt__quiz__item"
    ).get(pk=answer.pk)
    return render(
        request,
        "cases/workspace/grading_queue.html#answer-card",
        {"answer": answer, "form": form, "course": {"pk": course_pk}},
    )
