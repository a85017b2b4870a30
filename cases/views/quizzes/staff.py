"""Course staff's side of quizzes: the question bank, grading, statistics, regrading."""

import uuid
from collections import Counter, defaultdict
from decimal import Decimal

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Prefetch
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import content_disposition_header
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django.views.decorators.vary import vary_on_headers

from cases.forms.quizzes import (
    GiftImportConfirmForm,
    GiftImportForm,
    QuestionForm,
    QuizSettingsForm,
)
from cases.gift import GiftErrors, export_gift, format_decimal
from cases.http import HtmxHttpRequest, parse_int
from cases.models import (
    Answer,
    Attempt,
    AttemptState,
    Question,
    QuestionCategory,
    QuestionKind,
    quiz_result,
)
from cases.models.quizzes import TEXT_ONLY_KINDS, matching_prompts, numeric_given
from cases.permissions import (
    access_item,
    access_question,
    class_students,
    course_to_teach,
)
from cases.services import quizzes as services
from cases.views.kinds import kind_form


@require_GET
def question_list(request: HtmxHttpRequest, pk: int):
    """Instructors and admins of the course: its question bank, by category."""
    course, _access = course_to_teach(request.user, pk)
    category = parse_int(request.GET.get("category"), low=1)
    questions = Question.objects.filter(course=course).select_related("category")
    if category is not None:
        questions = questions.filter(category_id=category)
    # By name, ordered here: Django leaves the model's `ordering` out of a query with an
    # aggregate.
    categories = (
        QuestionCategory.objects.filter(course=course)
        .annotate(n=Count("questions"))
        .order_by("name", "pk")
    )
    context = {
        "course": course,
        "questions": questions,
        "categories": categories,
        "category": str(category or ""),
    }
    return render(request, "cases/quizzes/question_list.html", context)


def _question_form_response(request, form, course, question=None):
    context = {
        "form": form,
        "course": course,
        "question": question,
        "kinds": QuestionKind.choices,
    }
    return render(request, "cases/quizzes/question_form.html", context)


@vary_on_headers("HX-Request")
@require_http_methods(["GET", "POST"])
def question_create(request: HtmxHttpRequest, pk: int):
    """Instructors and admins add a question to the course's bank: its kind first,
    then only that kind's fields."""
    course, _access = course_to_teach(request.user, pk)
    url = reverse("cases:question_create", args=[course.pk])
    form, fragment = kind_form(request, QuestionForm, url=url, course=course)
    if fragment is not None:
        return fragment
    if form.is_bound and form.is_valid():
        question = services.question_save(
            question=form.save(commit=False),
            course=course,
            new_category=form.cleaned_data["new_category"],
            choices=form.choices(),
        )
        messages.success(request, f"Added “{question.title}”.")
        return redirect("cases:question_list", pk=course.pk)
    return _question_form_response(request, form, course)


@require_http_methods(["GET", "POST"])
def question_edit(request: HtmxHttpRequest, pk: int):
    """Instructors and admins of the question's course edit it (its kind stays: the
    answers given were given to it). Saving a changed answer key regrades every
    submitted attempt that holds the question; each answer line keeps its identity, and
    deleting one that students chose is refused beside the lines, what was typed kept."""
    question, _access = access_question(request.user, pk)
    form = QuestionForm(request.POST or None, instance=question, course=question.course)
    if request.method == "POST" and form.is_valid():
        try:
            saved = services.question_save(
                question=form.save(commit=False),
                course=question.course,
                new_category=form.cleaned_data["new_category"],
                choices=form.choices(),
            )
        except services.QuestionLinesInUse as refused:
            form.add_error(form.lines_field, refused.messages)
        else:
            changed = services.question_regrade(question=saved)
            messages.success(
                request,
                f"Saved “{saved.title}”; regraded, {changed} attempt score"
                f"{'s' if changed != 1 else ''} changed.",
            )
            return redirect("cases:question_list", pk=saved.course_id)
    return _question_form_response(request, form, question.course, question)


GIFT_IMPORTS_DONE = "gift_imports_done"  # Session key: tokens of previews imported.


def _plural(count: int, one: str, many: str) -> str:
    return f"{count} {one if count == 1 else many}"


def _gift_preview_response(request, course, text: str, *, token: str, problem: str = ""):
    """The preview: each question of the file, imported as what or refused and why, and
    the form that imports them (the text rides along in a hidden field)."""
    results = services.gift_preview(text=text, course=course)
    labels = dict(QuestionKind.choices)
    rows = [
        {
            "line": r.line,
            "title": r.question.title if r.question else r.refusal.title,
            "kind": labels.get(r.question.kind, r.question.kind) if r.question else "",
            "refusal": r.refusal,
        }
        for r in results
    ]
    sound = sum(r.question is not None for r in results)
    already = sum(r.refusal is not None and r.refusal.already for r in results)
    refused = len(results) - sound - already
    if refused == already == 0:
        summary = f"All {sound} questions can be imported." if sound > 1 else "It can be imported."
    else:
        summary = f"{sound} of {_plural(len(results), 'question', 'questions')} can be imported"
        if refused:
            summary += f"; {refused} {'is' if refused == 1 else 'are'} refused"
        if already:
            summary += f"; {already} {'is' if already == 1 else 'are'} in the bank already"
        summary += "."
    confirm = GiftImportConfirmForm(initial={"text": text, "token": token})
    context = {
        "course": course,
        "form": GiftImportForm(),
        "confirm": confirm,
        "rows": rows,
        "sound": sound,
        "refused": refused,
        "summary": summary,
        "problem": problem,
    }
    return render(request, "cases/quizzes/question_import.html", context)


@require_http_methods(["GET", "POST"])
def question_import(request: HtmxHttpRequest, pk: int):
    """Instructors and admins upload a GIFT file and see, question by question, what it
    would import as or why it is refused. Nothing is stored until they confirm."""
    course, _access = course_to_teach(request.user, pk)
    form = GiftImportForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        text = form.cleaned_data["file"]
        if services.gift_preview(text=text):  # The bank is asked once there is a preview.
            return _gift_preview_response(request, course, text, token=uuid.uuid4().hex)
        form.add_error(
            "file", "No questions found in this file: each question needs an answer block { … }."
        )
    return render(request, "cases/quizzes/question_import.html", {"form": form, "course": course})


@require_POST
def question_import_confirm(request: HtmxHttpRequest, pk: int):
    """Import the previewed file: its sound questions (the refused left out), or all or
    nothing. Each preview imports once: its token is remembered in the session, so a
    reload or a second click of the same preview does not import the questions again."""
    course, _access = course_to_teach(request.user, pk)
    form = GiftImportConfirmForm(request.POST)
    if not form.is_valid():
        messages.error(request, "That import could not be read. Upload the file again.")
        return redirect("cases:question_import", pk=course.pk)
    text, token = form.cleaned_data["text"], form.cleaned_data["token"]
    done = request.session.get(GIFT_IMPORTS_DONE, [])
    if token in done:
        messages.info(request, "Those questions were already imported; nothing was added.")
        return redirect("cases:question_list", pk=course.pk)
    sound_only = form.cleaned_data["mode"] == GiftImportConfirmForm.SOUND
    results = services.gift_preview(text=text, course=course)
    refused = sum(r.refusal is not None and not r.refusal.already for r in results)
    already = sum(r.refusal is not None and r.refusal.already for r in results)
    try:
        created = services.questions_import_gift(course=course, text=text, sound_only=sound_only)
    except GiftErrors:
        problem = (
            f"Nothing was imported: {_plural(refused, 'question is', 'questions are')} "
            "refused, each listed below with what would fix it."
        )
        return _gift_preview_response(request, course, text, token=token, problem=problem)
    if not created and already and not refused:
        messages.info(
            request, "Every question of that file is in the bank already; nothing was added."
        )
        return redirect("cases:question_list", pk=course.pk)
    if not created:
        problem = "Nothing was imported: no question in this file can be imported as it is."
        return _gift_preview_response(request, course, text, token=token, problem=problem)
    request.session[GIFT_IMPORTS_DONE] = [*done, token][-50:]
    message = f"{_plural(len(created), 'question', 'questions')} imported"
    if refused:
        message += f"; {refused} refused"
    if already:
        message += f"; {already} in the bank already, left out"
    messages.success(request, f"{message}.")
    return redirect("cases:question_list", pk=course.pk)


@require_GET
def question_export(request: HtmxHttpRequest, pk: int):
    """Instructors and admins download the bank as GIFT. Likert and spectrum questions
    (and the few export_gift cannot say with their meaning) have no GIFT form; the
    file's first lines name any left out, and what GIFT lost of those written (a
    description's general feedback), so nothing goes missing unsaid."""
    course, _access = course_to_teach(request.user, pk)
    questions = Question.objects.filter(course=course).select_related("category")
    questions = questions.prefetch_related("choices").order_by("category__name", "pk")
    # What GIFT cannot say is left out by name rather than exported as another kind.
    text, skipped, lost = export_gift(questions)
    header = f"// Question bank of {course.code}, exported from Red Queen.\n"
    for said, names in (
        ("Left out (no GIFT form)", skipped),
        ("Lost (GIFT has no place for it)", lost),
    ):
        if names:  # On one comment line: a title's line break would end the comment.
            header += f"// {said}: " + " ".join("; ".join(names).split()) + "\n"
    response = HttpResponse(header + "\n" + text, content_type="text/plain; charset=utf-8")
    slug = "".join(ch if ch.isalnum() else "-" for ch in course.code).strip("-").lower()
    # A name outside Latin-1 (a course coded 创新 101) goes in RFC 5987's filename*.
    response["Content-Disposition"] = content_disposition_header(True, f"{slug}-questions.gift")
    return response


def _quiz_item(user, item_pk: int, *, teach: bool = False):
    item, access = access_item(user, item_pk)
    quiz = getattr(item, "quiz", None)
    if quiz is None:
        raise Http404
    if not (access.can_teach if teach else access.can_grade):
        raise PermissionDenied
    return item, quiz, access


@require_http_methods(["GET", "POST"])
def quiz_settings(request: HtmxHttpRequest, pk: int):
    """Instructors and admins of the course set the quiz's rules and questions."""
    item, quiz, _access = _quiz_item(request.user, pk, teach=True)
    form = QuizSettingsForm(request.POST or None, instance=quiz)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        services.quiz_settings_save(
            quiz=form.save(commit=False),
            questions=data["questions"],
            draw_category=data.get("draw_category"),
            draw_count=data.get("draw_count"),
        )
        messages.success(
            request, "Quiz settings saved. Attempts already started keep their questions."
        )
        return redirect(item)
    context = {
        "form": form,
        "item": item,
        "course": item.module.course,
        "heading": "Settings and questions",
        "help": "Attempts already started keep the questions they were given.",
        # Where the questions come from: said first when there are none to choose.
        "bank": {
            "url": reverse("cases:question_list", args=[item.module.course_id]),
            "empty": not form.fields["questions"].queryset.exists(),
        },
    }
    return render(request, "cases/builder/item_settings.html", context)


@require_POST
def quiz_regrade(request: HtmxHttpRequest, pk: int):
    """Instructors and admins recompute every submitted attempt of the quiz."""
    item, quiz, _access = _quiz_item(request.user, pk, teach=True)
    changed = services.quiz_regrade(quiz=quiz)
    messages.success(
        request, f"Regraded: {changed} attempt score{'s' if changed != 1 else ''} changed."
    )
    return redirect("cases:quiz_stats", pk=item.pk)


def _statistics(quiz, attempts: list[Attempt], answers: list[Answer]):
    """Distribution of scores (the grade that counts per student), per-question percent
    right, a discrimination index (top 27% minus bottom 27% of students by total), and
    the most common wrong choices."""
    by_user: dict[int, list[Attempt]] = defaultdict(list)
    for attempt in attempts:
        by_user[attempt.user_id].append(attempt)
    grades = {}
    for user_id, user_attempts in by_user.items():
        result = quiz_result(user_attempts, quiz.grading_method)
        if result is not None:
            grade, out_of = result
            grades[user_id] = float(grade / (out_of or Decimal(1)) * 100)
    buckets = [0] * 10
    for percent in grades.values():
        buckets[min(9, int(percent // 10))] += 1
    ranked = sorted(grades, key=grades.get)
    cut = max(1, round(len(ranked) * 0.27)) if ranked else 0
    low, high = set(ranked[:cut]), set(ranked[-cut:]) if cut else set()
    per_question: dict[int, dict] = {}
    wrong_choices: dict[int, Counter] = defaultdict(Counter)
    wrong_pairs: dict[int, Counter] = defaultdict(Counter)
    # Short answers not given full credit, as typed (case aside).
    wrong_answers: dict[int, Counter] = defaultdict(Counter)
    for answer in answers:
        question = answer.slot.question
        if question.kind in TEXT_ONLY_KINDS:
            continue  # Nothing was asked.
        row = per_question.setdefault(
            question.pk,
            {"question": question, "n": 0, "sum": 0.0, "high": [], "low": []},
        )
        if answer.fraction is None:
            continue
        fraction = float(answer.fraction)
        row["n"] += 1
        row["sum"] += fraction
        user_id = answer.slot.attempt.user_id
        if user_id in high:
            row["high"].append(fraction)
        if user_id in low:
            row["low"].append(fraction)
        for choice_id in answer.response.get("choices", []):
            wrong_choices[question.pk][choice_id] += 1
        if question.kind == QuestionKind.MATCHING:
            given = answer.response.get("pairs", {})
            for choice in matching_prompts(question.choices.all()):
                match = given.get(str(choice.pk))
                if match and match != choice.match:
                    wrong_pairs[question.pk][f"{choice.text} → {match}"] += 1
        if question.kind == QuestionKind.SHORT_ANSWER and fraction < 1:
            wrong_answers[question.pk][answer.response.get("text", "").casefold()] += 1
        if question.kind == QuestionKind.NUMERIC and fraction < 1:
            given = numeric_given(answer.response)
            wrong_answers[question.pk][format_decimal(given) if given is not None else ""] += 1
    choices = {c.pk: c for q in per_question.values() for c in q["question"].choices.all()}
    rows = []
    for question_pk, row in per_question.items():

        def mean(values):
            return sum(values) / len(values) if values else None

        high_mean, low_mean = mean(row["high"]), mean(row["low"])
        common_wrong = [
            (choices[choice_id].text, count)
            for choice_id, count in wrong_choices[question_pk].most_common()
            if choice_id in choices and choices[choice_id].fraction <= 0
        ][:2] + wrong_pairs[question_pk].most_common(2)
        if row["question"].kind in (QuestionKind.SHORT_ANSWER, QuestionKind.NUMERIC):
            common_wrong = [
                (text or "(no answer)", count)
                for text, count in wrong_answers[question_pk].most_common(2)
            ]
        rows.append(
            {
                "question": row["question"],
                "answered": row["n"],
                "percent_right": round(row["sum"] / row["n"] * 100) if row["n"] else None,
                "discrimination": round(high_mean - low_mean, 2)
                if high_mean is not None and low_mean is not None
                else None,
                "common_wrong": common_wrong,
            }
        )
    peak = max(buckets) or 1
    histogram = []
    for i, count in enumerate(buckets):
        height = count * 140 // peak
        histogram.append(
            {
                "label": f"{i * 10} to {i * 10 + 9 if i < 9 else 100}%",
                "short": f"{i * 10}",
                "count": count,
                "x": i * 50 + 4,
                "y": 150 - height,
                "height": height,
                "cx": i * 50 + 25,
            }
        )
    return {"students": len(grades), "histogram": histogram, "rows": rows}


@require_GET
def quiz_stats(request: HtmxHttpRequest, pk: int):
    """Instructors, TAs and admins of the course: how the class did, question by
    question, counting the class as the tracker shows it (`class_students`: the
    current members of the cohorts the user grades that are given the quiz; a student
    removed or moved out keeps their attempts, uncounted). A fixed number of queries
    whatever the class size."""
    item, quiz, access = _quiz_item(request.user, pk)
    students = class_students(item, request.user, access)
    every_attempt = list(Attempt.objects.filter(quiz=quiz, user__in=students))
    attempts = [a for a in every_attempt if a.state == AttemptState.SUBMITTED]
    answers = list(
        Answer.objects.filter(slot__attempt__in=[a.pk for a in attempts])
        .select_related("slot__question", "slot__attempt")
        .only(
            "response",
            "fraction",
            "slot__question__title",
            "slot__question__kind",
            "slot__attempt__user_id",
        )
        .prefetch_related(Prefetch("slot__question__choices"))
    )
    context = {"item": item, "quiz": quiz, "access": access, "course": item.module.course}
    context |= _statistics(quiz, attempts, answers)
    context["in_progress"] = len(every_attempt) - len(attempts)
    return render(request, "cases/quizzes/quiz_stats.html", context)
