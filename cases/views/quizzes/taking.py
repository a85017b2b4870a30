from dataclasses import dataclass, field

from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django.views.decorators.vary import vary_on_headers
from django_htmx.http import HttpResponseClientRedirect

from cases.http import HtmxHttpRequest, parse_int
from cases.markdown import render_markdown_blank, shown_markdown
from cases.models import (
    LIKERT_LABELS,
    Attempt,
    ModuleItem,
    QuestionKind,
    attempts_late,
    numeric_given,
    numeric_key,
    numeric_match,
    results_released,
    short_answer_match,
    time_limit_minutes,
)
from cases.models.quizzes import TEXT_ONLY_KINDS, matching_options
from cases.permissions import CourseAccess, access_attempt, access_item
from cases.services import quizzes as services
from cases.services.quizzes import assignment_for
from cases.views.errors import htmx_alert

# Views for taking quizzes. The bank, grading and statistics are in quiz_staff.py.


# Numbers a page writes into its markup (ids, names, values) are kept as text: Django's
# templates localize every number they print, and a quiz page prints a hundred.


@dataclass
class ChoiceView:
    value: str  # Its place in the attempt's order.
    text: str
    checked: bool
    # Only on released results:
    right: bool | None = None
    feedback: str = ""


@dataclass
class PairView:
    """One prompt of a matching question and the match the student gave it."""

    place: str
    prompt: str
    chosen: str
    # Only on released results:
    right: bool | None = None
    key: str = ""


@dataclass
class QuestionView:
    """What the template may show of one question: never the key before release."""

    slot_id: str
    number: str
    kind: str
    title: str
    text: str
    choices: list[ChoiceView] = field(default_factory=list)
    value: object = None
    # Only on released results:
    fraction: object = None
    points: object = None
    max_points: object = None
    key: str = ""
    key_label: str = "Right answer"
    feedback: str = ""
    comment: str = ""
    pending: bool = False
    # Matching questions: the prompts, and the matches to choose from.
    pairs: list[PairView] = field(default_factory=list)
    options: list[str] = field(default_factory=list)
    # A missing word: `text` is the question up to the blank, `text_after` the rest;
    # the page puts the answer's input (or, on results, the answer) in between.
    has_blank: bool = False
    text_after: str = ""
    blank_label: str = ""
    filled: object = None
    # Only on released results: the feedback on the answer given (true/false, numeric)
    # or on the accepted answer it matched (short answer).
    answer_feedback: str = ""
    # Only on a page posted back without JavaScript: its "saved" note (the time, and
    # the number a comma was read as), or why its answer was not saved.
    saved: str = ""
    read_as: str = ""
    error: str = ""


def _shown_value(response: dict):
    """The student's own non-choice answer, as they would write it (1600, not 1600.0)."""
    for key in ("value", "text", "scale", "position"):
        if key in response:
            value = response[key]
            if isinstance(value, float) and value.is_integer():
                return int(value)
            return value
    return None


def _accepted_key(choices) -> str:
    """A short answer's accepted answers with credit, fullest credit first."""
    credited = sorted((c for c in choices if c.fraction > 0), key=lambda c: -c.fraction)
    return "; ".join(
        c.text if c.fraction == 1 else f"{c.text} ({(c.fraction * 100).normalize():f}%)"
        for c in credited
    )


def _numbers(slots) -> dict[int, int]:
    """Each question's number in its attempt: descriptions ask nothing and take none."""
    asking = [slot for slot in slots if slot.question.kind not in TEXT_ONLY_KINDS]
    return {slot.pk: number for number, slot in enumerate(asking, 1)}


def _question_views(
    attempt: Attempt, slots, *, released: bool, numbers: dict[int, int] | None = None
) -> list[QuestionView]:
    views = []
    numbers = _numbers(slots) if numbers is None else numbers
    for slot in slots:
        question, answer = slot.question, slot.answer
        by_id = {c.pk: c for c in question.all_choices}
        chosen = set(answer.response.get("choices", []))
        # A choice is named by its place in this attempt's order, never by its id.
        places = [(place, pk) for place, pk in enumerate(slot.choice_order) if pk in by_id]
        if question.kind in (QuestionKind.SHORT_ANSWER, QuestionKind.NUMERIC):
            places = []  # Its choices are the other accepted answers: the key.
        view = QuestionView(
            slot_id=str(slot.pk),
            number=str(numbers.get(slot.pk, 0)),
            kind=question.kind,
            title=question.title,
            text=shown_markdown(question.text),
            choices=[
                ChoiceView(value=str(place), text=by_id[pk].text, checked=pk in chosen)
                for place, pk in places
            ],
            value=_shown_value(answer.response),
        )
        if question.kind == QuestionKind.MATCHING:
            # Prompts and matches are not choices to tick: shown as pairs instead.
            prompts = [(place, by_id[pk]) for place, pk in places if by_id[pk].text.strip()]
            places, view.choices = [], []
            given = answer.response.get("pairs", {})
            view.pairs = [
                PairView(place=str(place), prompt=choice.text, chosen=given.get(str(choice.pk), ""))
                for place, choice in prompts
            ]
            view.options = matching_options(question.all_choices, slot.pk)
            if released:
                for pair, (_place, choice) in zip(view.pairs, prompts, strict=True):
                    pair.key = choice.match
                    pair.right = pair.chosen == choice.match
        if question.kind in (QuestionKind.SINGLE, QuestionKind.SHORT_ANSWER) and (
            blank := render_markdown_blank(question.text)
        ):
            view.has_blank, view.text, view.text_after = True, blank.before, blank.after
            view.blank_label = f"Blank in: {blank.sentence}"
            chosen_text = next((c.text for c in view.choices if c.checked), None)
            view.filled = chosen_text if question.kind == QuestionKind.SINGLE else view.value
        if released:
            for choice, (_place, pk) in zip(view.choices, places, strict=True):
                source = by_id[pk]
                choice.right = source.fraction > 0
                choice.feedback = source.feedback if choice.checked else ""
            view.fraction = answer.fraction
            view.points = answer.points
            view.max_points = question.points if question.is_scored else None
            view.feedback = shown_markdown(question.feedback)
            view.comment = answer.comment
            view.pending = answer.needs_grading
            if question.kind == QuestionKind.NUMERIC:
                view.key = numeric_key(question, question.all_choices)
                if any(
                    c.numeric_answer is not None and c.fraction > 0 for c in question.all_choices
                ):
                    view.key_label = "Accepted answers"
                if answer.response:
                    match = numeric_match(
                        question, question.all_choices, numeric_given(answer.response)
                    )
                    view.answer_feedback = match.feedback if match else question.wrong_feedback
            elif question.kind == QuestionKind.TRUE_FALSE:
                view.key = "True" if question.true_false_answer else "False"
                if answer.fraction is not None and answer.response:
                    right = answer.fraction == 1
                    view.answer_feedback = (
                        question.right_feedback if right else question.wrong_feedback
                    )
            elif question.kind == QuestionKind.SPECTRUM and question.spectrum_graded:
                view.key = f"{question.spectrum_target} on the spectrum"
            elif question.kind == QuestionKind.SHORT_ANSWER:
                view.key, view.key_label = _accepted_key(question.all_choices), "Accepted answers"
                match = short_answer_match(question, question.all_choices, view.value or "")
                view.answer_feedback = match.feedback if match else ""
        views.append(view)
    return views


def item_quiz(request: HtmxHttpRequest, item: ModuleItem, access: CourseAccess):
    """A quiz as a module item: its rules and the student's attempts, with a button to
    resume, or to start when `attempt_start_refusal` allows (else why not: closed by
    its schedule, or no attempt left). Staff get links to statistics, grading and the
    bank."""
    quiz = getattr(item, "quiz", None)
    if quiz is None:
        return None
    now = timezone.now()
    attempts, assignment = [], None
    if not access.can_grade:
        attempts = list(Attempt.objects.filter(quiz=quiz, user=request.user))
        if any(a.is_expired(now) for a in attempts):
            services.attempts_finalize_expired(quiz=quiz, user=request.user, now=now)
            attempts = list(Attempt.objects.filter(quiz=quiz, user=request.user))
        assignment = assignment_for(quiz, request.user)
        attempts_late(attempts, assignment)
    accommodation = None if access.can_grade else services.accommodation_for(quiz, request.user.pk)
    open_attempt = next((a for a in attempts if a.is_open), None)
    question_count = services.question_slots(quiz)
    refused = None
    if not access.can_grade and open_attempt is None:
        refused = services.attempt_start_refusal(
            quiz=quiz,
            used=len(attempts),
            assignment=assignment,
            now=now,
            question_count=question_count,
        )
    due_at = assignment.due_at if assignment else None
    context = {
        "item": item,
        "course": item.module.course,
        "quiz": quiz,
        "access": access,
        "attempts": attempts,
        "open_attempt": open_attempt,
        "can_start": open_attempt is None and refused is None,
        # Why not, in the words the start itself would refuse with.
        "start_refusal": str(refused or ""),
        "assignment": assignment,
        "released": results_released(quiz, due_at, now),
        "question_count": question_count,
        "time_limit": time_limit_minutes(quiz.time_limit_minutes, accommodation),
        "extra_time": accommodation is not None,
    }
    return render(request, "cases/quizzes/quiz_overview.html", context)


@require_POST
def attempt_start(request: HtmxHttpRequest, pk: int):
    """Students given the quiz start an attempt, or resume their open one."""
    item, access = access_item(request.user, pk)
    quiz = getattr(item, "quiz", None)
    if quiz is None or access.can_grade:
        raise Http404
    try:
        attempt = services.attempt_start(quiz=quiz, user=request.user)
    except services.QuizError as error:
        messages.error(request, str(error))
        return redirect(item)
    return redirect(attempt)


def _load(attempt: Attempt):
    return services.slots_with_answers(attempt)


def _page_slots(attempt: Attempt, slots, page: int):
    if not attempt.quiz.one_question_per_page:
        return slots, 1, 1
    page = max(1, min(page, len(slots) or 1))
    return slots[page - 1 : page], page, len(slots)


@never_cache
@require_GET
def attempt_detail(request: HtmxHttpRequest, pk: int):
    """The student who owns the attempt answers it. Answers autosave as they change
    (htmx); without JavaScript the Save and Submit buttons post the same form."""
    attempt = access_attempt(request.user, pk)
    if attempt.is_open:
        services.attempt_deadline_refresh(attempt)
    if attempt.is_expired():
        services.attempts_finalize_expired(quiz=attempt.quiz, user=request.user)
        return redirect("cases:attempt_result", pk=attempt.pk)
    if not attempt.is_open:
        return redirect("cases:attempt_result", pk=attempt.pk)
    slots = _load(attempt)
    page_number = parse_int(request.GET.get("page"), low=1, high=1000) or 1
    context = _attempt_context(attempt, slots, page_number)
    return render(request, "cases/quizzes/attempt_detail.html", context)


def _attempt_context(attempt: Attempt, slots, page_number: int) -> dict:
    """What the page of an open attempt shows: a page of its questions, with their
    answers as saved."""
    page_slots, page, pages = _page_slots(attempt, slots, page_number)
    return {
        "attempt": attempt,
        "item": attempt.quiz.item,
        "questions": _question_views(attempt, page_slots, released=False, numbers=_numbers(slots)),
        "page": page,
        "pages": pages,
        "answered": services.answered_count(s.answer.response for s in slots),
        "total": services.questions_to_answer(slots),
        "seconds_left": attempt.seconds_left(),
        "extra_time": services.accommodation_for(attempt.quiz, attempt.user_id) is not None,
        "likert": LIKERT_LABELS,
    }


def _as_typed(view: QuestionView, raw: dict) -> None:
    """Show a question's fields as the student posted them, saved or refused: a page
    posted back keeps everything typed, a refused "2005?" included."""
    value, chosen = raw["value"], raw["choices"]
    if view.kind == QuestionKind.MATCHING:
        given = dict(str(posted).partition(":")[::2] for posted in chosen)
        for pair in view.pairs:
            pair.chosen = given.get(pair.place, "")
    elif view.kind in (QuestionKind.SINGLE, QuestionKind.MULTIPLE):
        for choice in view.choices:
            choice.checked = choice.value in chosen
    elif view.kind == QuestionKind.TRUE_FALSE:
        view.value = {"true": True, "false": False}.get(value.strip())
    elif view.kind == QuestionKind.LIKERT:
        view.value = parse_int(value, low=1, high=5)
    elif view.kind == QuestionKind.SPECTRUM:
        view.value = None if raw["unplaced"] or not value else value
    else:
        view.value = value


def _refused_page(request, pk: int, answers: dict[int, dict], result, *, submitting: bool):
    """A page posted without JavaScript with answers refused: shown again, not
    redirected, with every field as typed, each refusal beside its question and a
    "saved" note beside the others (they are saved). A submit stops here."""
    attempt = access_attempt(request.user, pk)
    slots = _load(attempt)
    numbers = _numbers(slots)
    first = next(i for i, slot in enumerate(slots) if slot.pk in result.refused)
    context = _attempt_context(attempt, slots, first + 1)
    saved = timezone.localtime().strftime("%H:%M:%S")
    for view in context["questions"]:
        slot_id = int(view.slot_id)
        if slot_id in answers:
            _as_typed(view, answers[slot_id])
            view.error = result.refused.get(slot_id, "")
            view.saved = "" if view.error else saved
            view.read_as = result.read_as.get(slot_id, "")
    refused = [str(numbers[slot.pk]) for slot in slots if slot.pk in result.refused]
    context["not_saved"] = _not_saved(refused, submitting=submitting)
    return render(request, "cases/quizzes/attempt_detail.html", context)


def _not_saved(numbers: list[str], *, submitting: bool) -> str:
    """The page's word on the answers refused, by question number: which, where to
    look, and that the others are saved; a submit adds that it waits for them."""
    if len(numbers) == 1:
        said, them = f"Question {numbers[0]} was not saved: see the note beside it.", "it"
    else:
        which = f"{', '.join(numbers[:-1])} and {numbers[-1]}"
        said, them = f"Questions {which} were not saved: see the note beside each.", "them"
    if submitting:
        return f"Not submitted. {said} Your other answers are saved; correct {them}, then submit."
    return f"{said} Your other answers are saved."


def _posted_answers(request: HtmxHttpRequest) -> dict[int, dict]:
    """Answers in the posted form, keyed by attempt-question id: every question listed
    in `questions` counts, so clearing an answer saves the empty answer."""
    answers = {}
    for raw_id in request.POST.getlist("questions"):
        for part in raw_id.split(","):
            slot_id = parse_int(part, low=1)
            if slot_id is None:
                raise services.InvalidAnswer("That question is not part of this attempt.")
            name = f"q{slot_id}"
            answers[slot_id] = {
                "choices": request.POST.getlist(name),
                "value": request.POST.get(name, ""),
                "unplaced": request.POST.get(f"{name}_unplaced") == "1",
            }
    return answers


@require_POST
@vary_on_headers("HX-Request")
def attempt_save(request: HtmxHttpRequest, pk: int):
    """The attempt's owner saves answers. htmx autosaves one question and gets its
    "saved" note back, or why it was not saved; a plain post saves the page, then moves
    on, or asks to submit. An answer its question refuses ("2005?" for a number) is not
    saved but the page's others are, and the page comes back (not a redirect) with what
    was typed in every field and the refusal beside its question; a submit waits."""
    # answers_save checks the attempt is the user's as it locks it: no separate query.
    attempt_url = reverse("cases:attempt_detail", args=[pk])
    try:
        answers = _posted_answers(request)
        result = services.answers_save(
            attempt_id=pk,
            user=request.user,
            answers=answers,
            seq=parse_int(request.POST.get("seq"), high=2**62),
        )
    except Attempt.DoesNotExist:
        raise Http404 from None
    except services.AttemptClosed as error:
        services.attempts_finalize_expired(user=request.user)
        messages.info(request, str(error))
        result = reverse("cases:attempt_result", args=[pk])
        return HttpResponseClientRedirect(result) if request.htmx else redirect(result)
    except services.InvalidAnswer as error:
        # A question not in this attempt (a forged post): there is no field to show it
        # beside. An answer refused by its question comes back in `result.refused`.
        if request.htmx:
            return htmx_alert(request, title="Not saved", message=str(error), status=400)
        messages.error(request, str(error))
        return redirect(attempt_url)
    if request.htmx:
        # The question's note ("saved", or why not), and the count of answers given
        # swapped in out of band.
        slot_id = next(iter(answers), 0)
        saved_at = timezone.localtime()
        error = result.refused.get(slot_id, "")
        context = {
            "slot_id": slot_id,
            "saved": "" if error else saved_at.strftime("%H:%M:%S"),
            "read_as": result.read_as.get(slot_id, ""),
            "error": error,
            "saved_at": saved_at,
            "answered": result.answered,
            "total": result.total,
        }
        return render(request, "cases/quizzes/attempt_detail.html#autosaved", context)
    submitting = request.POST.get("action") == "submit"
    if result.refused:
        return _refused_page(request, pk, answers, result, submitting=submitting)
    if submitting:
        return redirect("cases:attempt_submit", pk=pk)
    target = parse_int(request.POST.get("goto"), low=1, high=1000)
    messages.success(request, "Your answers are saved.")
    return redirect(attempt_url + (f"?page={target}" if target else ""))


@never_cache
@require_http_methods(["GET", "POST"])
def attempt_submit(request: HtmxHttpRequest, pk: int):
    """The attempt's owner confirms (GET) and submits (POST). Submitting twice is one
    submission."""
    if request.method == "POST":
        # attempt_submit checks the attempt is the user's as it locks it (anyone else's
        # is 404, as `access_attempt` has it): no separate query.
        try:
            services.attempt_submit(attempt_id=pk, user=request.user)
        except Attempt.DoesNotExist:
            raise Http404 from None
        return redirect("cases:attempt_result", pk=pk)
    attempt = access_attempt(request.user, pk)
    if not attempt.is_open:
        return redirect("cases:attempt_result", pk=attempt.pk)
    slots = _load(attempt)
    context = {
        "attempt": attempt,
        "item": attempt.quiz.item,
        "answered": services.answered_count(s.answer.response for s in slots),
        "total": services.questions_to_answer(slots),
        "seconds_left": attempt.seconds_left(),
        "extra_time": services.accommodation_for(attempt.quiz, attempt.user_id) is not None,
    }
    return render(request, "cases/quizzes/attempt_submit.html", context)


@never_cache
@require_GET
def attempt_result(request: HtmxHttpRequest, pk: int):
    """The attempt's owner sees it after submitting: the score once the release rule
    allows; the right answers and feedback also need that no attempt is left to use
    them on."""
    attempt = access_attempt(request.user, pk)
    if attempt.is_open:
        return redirect(attempt)
    assignment = assignment_for(attempt.quiz, request.user)
    attempts_late([attempt], assignment)
    now = timezone.now()
    released = results_released(attempt.quiz, assignment.due_at if assignment else None, now)
    # The key waits until the student can no longer use it on another attempt.
    keys = released and not services.key_withheld(
        quiz=attempt.quiz, user=request.user, assignment=assignment, now=now
    )
    item = attempt.quiz.item
    previous_item, next_item = ModuleItem.objects.neighbours_of(item, request.user, staff=False)
    context = {
        "attempt": attempt,
        "item": item,
        "course": item.module.course,
        "previous_item": previous_item,
        "next_item": next_item,
        "released": released,
        "keys_released": keys,
        "release_rule": attempt.quiz.get_feedback_release_display(),
        "due_at": assignment.due_at if assignment else None,
        "questions": _question_views(attempt, _load(attempt), released=True) if keys else [],
    }
    return render(request, "cases/quizzes/attempt_result.html", context)
