"""Quiz attempts: starting, autosaving, submitting, grading and regrading.

Every write to an attempt locks the attempt row first, so a save racing the submit is
either applied before the submit grades it or refused after; never applied after."""

import math
import random
import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field, replace
from decimal import Decimal
from difflib import SequenceMatcher

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Count, OuterRef, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone

from cases import sql
from cases.compiled import compiled
from cases.gift import (
    GiftError,
    GiftErrors,
    GiftQuestion,
    GiftRefusal,
    GiftResult,
    export_gift,
    format_decimal,
    read_gift,
)
from cases.models import (
    Accommodation,
    Answer,
    Assignment,
    Attempt,
    AttemptQuestion,
    AttemptState,
    Choice,
    LatePolicy,
    ModuleItem,
    Question,
    QuestionCategory,
    QuestionKind,
    Quiz,
    QuizSlot,
    assignment_for_student,
    given_to,
    refusal,
    time_limit_minutes,
)
from cases.models.quizzes import (
    TEXT_ONLY_KINDS,
    answer_given,
    matching_prompts,
    numeric_given,
    numeric_match,
    short_answer_match,
)
from cases.services.notifications import graded_after_release_notify
from cases.services.workspace.work import work_sync, work_sync_items

ZERO = Decimal("0")
ONE = Decimal("1")
CENT = Decimal("0.01")


class QuizError(Exception):
    """A request the quiz rules refuse; the message is for the student."""


class AttemptLimitReached(QuizError):
    pass


class QuizClosed(QuizError):
    pass


class QuizEmpty(QuizError):
    pass


def question_slots(quiz: Quiz) -> int:
    """How many places for a question the quiz has (text-only blocks are not questions;
    a slot drawing from a category is one)."""
    return quiz.slots.exclude(question__kind__in=TEXT_ONLY_KINDS).count()


class AttemptClosed(QuizError):
    pass


class InvalidAnswer(QuizError):
    pass


def _grace():
    return timezone.timedelta(seconds=settings.QUIZ_GRACE_SECONDS)


def assignment_for(quiz: Quiz, user) -> Assignment | None:
    """The student's assignment of this quiz, with any extension of theirs applied;
    `user` is the student or their id."""
    return assignment_for_student(quiz.item_id, user)


# Grading ---------------------------------------------------------------------------


def grade_response(question: Question, choices: list[Choice], response: dict) -> Decimal | None:
    """The fraction (0..1) of the question's points a response earns; None when a person
    must grade it or it is not scored at all. Pure: the same inputs, the same grade."""
    kind = question.kind
    if kind == QuestionKind.SHORT_TEXT or not question.is_scored:
        return None
    if kind in (QuestionKind.SINGLE, QuestionKind.MULTIPLE):
        chosen = set(response.get("choices", []))
        total = sum((c.fraction for c in choices if c.pk in chosen), ZERO)
        if kind == QuestionKind.SINGLE and len(chosen) > 1:
            return ZERO
        return min(ONE, max(ZERO, total))
    if kind == QuestionKind.TRUE_FALSE:
        given = response.get("value")
        return ONE if given is not None and given == question.true_false_answer else ZERO
    if kind == QuestionKind.NUMERIC:
        # Exact: the number as written against exact answers; the best credit it earns.
        match = numeric_match(question, choices, numeric_given(response))
        return ZERO if match is None else min(ONE, max(ZERO, match.fraction))
    if kind == QuestionKind.SPECTRUM:
        position = response.get("position")
        if position is None or question.spectrum_target is None:
            return ZERO
        beyond = max(0, abs(int(position) - question.spectrum_target) - question.spectrum_tolerance)
        return max(ZERO, ONE - Decimal(beyond) / Decimal(40)).quantize(Decimal("0.00001"))
    if kind == QuestionKind.MATCHING:
        # Partial credit per pair: the share of prompts given their right match.
        prompts = matching_prompts(choices)
        if not prompts:
            return ZERO
        given = response.get("pairs", {})
        right = sum(1 for c in prompts if given.get(str(c.pk)) == c.match)
        return (Decimal(right) / Decimal(len(prompts))).quantize(Decimal("0.00001"))
    if kind == QuestionKind.SHORT_ANSWER:
        # The best credit among the accepted answers it matches; none matched, none.
        match = short_answer_match(question, choices, response.get("text", ""))
        return ZERO if match is None else min(ONE, max(ZERO, match.fraction))
    return None


def _apply_grade(answer: Answer, question: Question, choices: list[Choice]) -> None:
    """Set an answer's automatic grade. A person's grade on a short text is kept as the
    share of the question's points they gave, so a question's points changed after it
    was graded scale it (full marks stay full marks, never more than it is worth)."""
    if question.kind == QuestionKind.SHORT_TEXT:
        answer.needs_grading = answer.graded_at is None and bool(answer.response.get("text"))
        if not answer.response.get("text"):
            answer.fraction, answer.points = ZERO, ZERO
        elif answer.graded_at is not None and answer.fraction is not None:
            answer.points = (question.points * answer.fraction).quantize(CENT)
        return
    fraction = grade_response(question, choices, answer.response)
    answer.fraction = fraction
    answer.points = None if fraction is None else (question.points * fraction).quantize(CENT)
    answer.needs_grading = False


def _graded_on(slot: AttemptQuestion, choices: list[Choice]) -> list[Choice]:
    """The lines an attempt's answer is graded on: a matching question's as its attempt
    asked them (a prompt added since was never put to the student, so it is not held
    against them); any other kind's as they stand, so that a corrected key counts."""
    if slot.question.kind != QuestionKind.MATCHING:
        return choices
    asked = set(slot.choice_order)
    return [choice for choice in choices if choice.pk in asked]


def slots_with_answers(attempt: Attempt) -> list[AttemptQuestion]:
    """The attempt's questions in order, each with its question, its answer and the
    question's choices (`question.all_choices`): two queries, compiled once a
    connection (a quiz's length is part of the second's shape)."""
    slots = list(_slots_of(attempt=attempt.pk))
    choices = defaultdict(list)
    for choice in _choices_of(questions=sorted({slot.question_id for slot in slots})):
        choices[choice.question_id].append(choice)
    for slot in slots:
        slot.attempt = attempt
        slot.question.all_choices = choices[slot.question_id]
    return slots


@compiled
def _slots_of(attempt):
    # In the model's order within one attempt, without joining the attempt and its user
    # for the order of attempts.
    slots = AttemptQuestion.objects.filter(attempt=attempt).select_related("question", "answer")
    return slots.order_by("position", "pk")


@compiled
def _choices_of(questions):
    # In the model's order within each question, without joining the question, its
    # course and category for the order of questions (the caller groups by question).
    return Choice.objects.filter(question__in=questions).order_by("question_id", "position", "pk")


def _score(attempt: Attempt, slots=None) -> None:
    """Total the attempt from its answers (already graded)."""
    slots = slots_with_answers(attempt) if slots is None else slots
    attempt.max_score = sum((s.question.points for s in slots if s.question.is_scored), ZERO)
    raw = sum((s.answer.points or ZERO for s in slots if s.question.is_scored), ZERO)
    # A late penalty is the gradebook's to apply (per day late, for every kind).
    attempt.score = raw
    attempt.needs_grading = any(s.answer.needs_grading for s in slots)


# Attempts --------------------------------------------------------------------------


def _build_slots(attempt: Attempt, quiz: Quiz) -> None:
    """Freeze this attempt's questions: fixed ones, random draws, the order of both and
    of each question's choices."""
    chosen: list[Question] = []
    for slot in quiz.slots.select_related("question", "category"):
        if slot.question_id:
            if slot.question not in chosen:
                chosen.append(slot.question)
            continue
        pool = [q for q in slot.category.questions.all() if q not in chosen]
        chosen += random.sample(pool, min(slot.draw_count, len(pool)))
    if quiz.shuffle_questions:
        random.shuffle(chosen)
    choice_ids: dict[int, list[int]] = {}
    for choice in Choice.objects.filter(question__in=chosen).order_by("position", "pk"):
        choice_ids.setdefault(choice.question_id, []).append(choice.pk)
    slots = []
    for position, question in enumerate(chosen, 1):
        order = choice_ids.get(question.pk, [])
        if quiz.shuffle_choices and question.kind != QuestionKind.TRUE_FALSE:
            random.shuffle(order)
        slots.append(
            AttemptQuestion(
                attempt=attempt, question=question, position=position, choice_order=order
            )
        )
    AttemptQuestion.objects.bulk_create(slots)
    # An empty answer per question from the start, so each save is one UPDATE.
    Answer.objects.bulk_create(Answer(slot=slot) for slot in attempt.slots.all())


def _work_closes_at(assignment: Assignment | None):
    """When an attempt must end at the latest: the cut-off, or the due date if late
    work is refused."""
    if assignment is None:
        return None
    if assignment.late_policy == LatePolicy.REFUSE and assignment.due_at:
        return assignment.due_at
    return assignment.late_until


def accommodation_for(quiz: Quiz, user_id: int) -> Accommodation | None:
    """The student's extra time in the quiz's course, if any. One query, none for an
    untimed quiz."""
    if not quiz.time_limit_minutes:
        return None
    return _accommodations.first(user=user_id, item=quiz.item_id)


@compiled
def _accommodations(user, item):
    return Accommodation.objects.filter(student_id=user, course__modules__items=item).order_by(
        "pk"
    )[:1]


def student_time_limit(quiz: Quiz, user_id: int) -> int | None:
    """The minutes one student has on the quiz: its time limit with their extra time."""
    return time_limit_minutes(quiz.time_limit_minutes, accommodation_for(quiz, user_id))


def attempt_deadline(attempt: Attempt, quiz: Quiz, assignment: Assignment | None):
    """When an attempt must end: its time limit (with the student's extra time, see
    `Accommodation`) after it started, or when the student's assignment stops taking
    work, whichever comes first. Judged from the schedule and accommodations as they
    stand now (the student's extension included), never from a value frozen at start,
    so a due date moved or extra time given while the attempt is open binds it. Extra
    time never carries an attempt past the assignment's cut-off."""
    ends = []
    if minutes := student_time_limit(quiz, attempt.user_id):
        ends.append(attempt.started_at + timezone.timedelta(minutes=minutes))
    if closes_at := _work_closes_at(assignment):
        ends.append(closes_at)
    return min(ends, default=None)


def attempt_deadline_refresh(attempt: Attempt, assignment: Assignment | None = None):
    """Store the attempt's deadline as the schedule now makes it (the take page's timer
    and `attempts_finalize_expired` read the stored one); returns it."""
    if assignment is None:
        assignment = assignment_for(attempt.quiz, attempt.user)
    deadline = attempt_deadline(attempt, attempt.quiz, assignment)
    if deadline != attempt.deadline_at:
        attempt.deadline_at = deadline
        Attempt.objects.filter(pk=attempt.pk, state=AttemptState.IN_PROGRESS).update(
            deadline_at=deadline
        )
    return deadline


def attempts_deadline_sync(*, item_id: int | None, user_ids=None) -> int:
    """After a schedule or an extension changed: bring the open attempts at the item's
    quiz (of these students, or everyone's) to their new deadline; with no item, these
    students' open attempts at any quiz (they moved section). Returns how many."""
    attempts = Attempt.objects.filter(state=AttemptState.IN_PROGRESS).select_related("quiz", "user")
    if item_id is not None:
        attempts = attempts.filter(quiz__item_id=item_id)
    if user_ids is not None:
        attempts = attempts.filter(user__in=list(user_ids))
    count = 0
    for attempt in attempts:
        attempt_deadline_refresh(attempt)
        count += 1
    return count


def attempt_start_refusal(
    *,
    quiz: Quiz,
    used: int,
    assignment: Assignment | None,
    now,
    question_count: int | None = None,
) -> QuizError | None:
    """Why a student who has made `used` attempts (none open) may not start another, or
    None if they may: the one rule that the quiz page's button, the start itself and the
    result page's answer key (kept back while an attempt is left to use it on) all read.
    A quiz the schedule has closed says so first, attempts left or not. A quiz given
    before its questions are written cannot be started: an empty attempt would score
    0 / 0 and use up an attempt meant for the real quiz. `question_count`: its
    `question_slots`, when the caller has counted them."""
    if reason := refusal(assignment, now):
        return QuizClosed(reason)
    if used >= quiz.attempts_allowed:
        if quiz.attempts_allowed == 1:
            return AttemptLimitReached("You have used your one attempt at this quiz.")
        return AttemptLimitReached(
            f"You have used all {quiz.attempts_allowed} attempts at this quiz."
        )
    if (question_slots(quiz) if question_count is None else question_count) == 0:
        return QuizEmpty(
            "This quiz has no questions yet. Come back once your instructor has added them."
        )
    return None


def key_withheld(*, quiz: Quiz, user, assignment: Assignment | None, now) -> bool:
    """Whether the right answers and feedback must wait, the score released or not:
    while the student has an attempt open, or may start another, to use them on. One
    query."""
    states = list(Attempt.objects.filter(quiz=quiz, user=user).values_list("state", flat=True))
    if AttemptState.IN_PROGRESS in states:
        return True
    return (
        attempt_start_refusal(quiz=quiz, used=len(states), assignment=assignment, now=now) is None
    )


def attempt_start(*, quiz: Quiz, user, now=None) -> Attempt:
    """Resume the student's open attempt, or start the next one if the limit allows.

    Concurrent starts are safe: attempt numbers are unique per quiz and student and never
    exceed `attempts_allowed`, and only one attempt may be open at a time, so twenty
    simultaneous clicks create one attempt and the rest resume it. Every call brings the
    student's Work in line, with the attempt it makes (a resume repairs it)."""
    now = now or timezone.now()
    attempts_finalize_expired(quiz=quiz, user=user, now=now)
    open_attempt = Attempt.objects.filter(quiz=quiz, user=user, state=AttemptState.IN_PROGRESS)
    if existing := open_attempt.first():
        work_sync(quiz.item, [user.pk])
        return existing
    assignment = assignment_for(quiz, user)
    used = Attempt.objects.filter(quiz=quiz, user=user).count()
    if refused := attempt_start_refusal(quiz=quiz, used=used, assignment=assignment, now=now):
        raise refused
    try:
        with transaction.atomic():
            attempt = Attempt(quiz=quiz, user=user, number=used + 1, started_at=now)
            attempt.deadline_at = attempt_deadline(attempt, quiz, assignment)
            attempt.save()
            _build_slots(attempt, quiz)
            work_sync(quiz.item, [user.pk])
    except IntegrityError:
        # Another request started an attempt at the same moment: resume that one.
        if existing := open_attempt.first():
            return existing
        raise AttemptLimitReached("You have used all your attempts at this quiz.") from None
    return attempt


def _parse_response(slot: AttemptQuestion, raw: dict) -> dict:
    """Check a posted answer against the question and this attempt; refuse anything
    naming a choice outside the attempt."""
    kind = slot.question.kind
    try:
        if kind in (QuestionKind.SINGLE, QuestionKind.MULTIPLE):
            # The page names choices by their place in this attempt's order, never by
            # database id (ids would reveal the order the author wrote them in).
            places = [str(value).strip() for value in raw.get("choices", []) if str(value).strip()]
            if not all(
                p.isascii() and p.isdigit() and int(p) < len(slot.choice_order) for p in places
            ):
                raise InvalidAnswer("That choice is not part of this question.")
            chosen = [slot.choice_order[int(p)] for p in dict.fromkeys(places)]
            if kind == QuestionKind.SINGLE and len(chosen) > 1:
                raise InvalidAnswer("Choose one answer.")
            return {"choices": chosen} if chosen else {}
        value = (raw.get("value") or "").strip()
        if kind == QuestionKind.TRUE_FALSE:
            return {"value": {"true": True, "false": False}[value]} if value else {}
        if kind == QuestionKind.NUMERIC:
            return {"value": number_read(value)} if value else {}
        if kind == QuestionKind.SHORT_TEXT:
            return {"text": value[:10_000]} if value else {}
        if kind == QuestionKind.LIKERT:
            scale = int(value) if value else None
            if scale is not None and not 1 <= scale <= 5:
                raise InvalidAnswer("Choose a point on the scale.")
            return {"scale": scale} if scale else {}
        if kind == QuestionKind.SPECTRUM:
            # A slider always posts a place; "not placed yet" ticked means it is none.
            if raw.get("unplaced"):
                return {}
            position = int(value) if value else None
            if position is not None and not 0 <= position <= 100:
                raise InvalidAnswer("Place it between 0 and 100.")
            return {"position": position} if position is not None else {}
        if kind == QuestionKind.MATCHING:
            return _parse_pairs(slot, raw.get("choices", []))
        if kind == QuestionKind.SHORT_ANSWER:
            return {"text": " ".join(value.split())[:500]} if value else {}
    except (ValueError, KeyError) as error:
        raise InvalidAnswer("That answer is not in the expected form.") from error
    return {}


# Commas that group digits in threes (1,600 or 12,345.5), and a lone decimal comma.
_GROUPED = re.compile(r"[+-]?[1-9][0-9]{0,2}(,[0-9]{3})+(\.[0-9]*)?")
_DECIMAL_COMMA = re.compile(r"[+-]?[0-9]*,[0-9]+")


def number_read(text: str) -> float:
    """The number a student typed into a numeric question, read one way only, so that
    a comma never silently makes another number of it:

    - commas grouping the digits before any point in threes are thousands separators:
      1,600 is 1600, 1,000,000.5 is 1000000.5. So 1,500 is 1500, as an English-language
      course writes it; the autosave's note says "read as 1500", for one who meant 1.5;
    - one comma, in a number with no point and not so grouped, is a decimal comma: 1,5
      is 1.5 (never 15), 0,125 is 0.125, 1234,5 is 1234.5;
    - any other comma (1,5,6 or 1.600,5) is refused, as is what is not a number
      ("2005?") or too large to be one. The page keeps what was typed beside it."""
    text = text.strip()
    if "," in text:
        if _GROUPED.fullmatch(text):
            text = text.replace(",", "")
        elif _DECIMAL_COMMA.fullmatch(text):
            text = text.replace(",", ".")
        else:
            raise InvalidAnswer(
                "That comma is not clear: write 1600 or 1,600 for thousands, "
                "and 2.5 or 2,5 for decimals."
            )
    try:
        number = float(text)
    except ValueError:
        raise InvalidAnswer("Write a number only, such as 1600 or 2.5.") from None
    if not math.isfinite(number):
        raise InvalidAnswer("Give an ordinary number.")
    return number


def _parse_pairs(slot: AttemptQuestion, posted: list) -> dict:
    """A matching answer: each select posts "<place>:<match>" (the prompt's place in
    this attempt's order, then the match chosen) or "" for no match yet."""
    choices = {c.pk: c for c in slot.question.choices.all()}
    matches = {c.match for c in choices.values() if c.match.strip()}
    pairs = {}
    for value in posted:
        place, _sep, match = str(value).partition(":")
        if not place and not match:
            continue
        if not (place.isascii() and place.isdigit() and int(place) < len(slot.choice_order)):
            raise InvalidAnswer("That prompt is not part of this question.")
        choice = choices.get(slot.choice_order[int(place)])
        if choice is None or not choice.text.strip():
            raise InvalidAnswer("That prompt is not part of this question.")
        if match:
            if match not in matches:
                raise InvalidAnswer("That match is not one of this question's.")
            pairs[str(choice.pk)] = match
    return {"pairs": pairs} if pairs else {}


@dataclass
class SaveResult:
    saved: int
    stale: int
    answered: int = 0
    total: int = 0
    # The answers not saved, by attempt question: why, in words for the student.
    refused: dict[int, str] = field(default_factory=dict)
    # Numbers typed with a comma, by attempt question: the number read (1,5: "1.5").
    read_as: dict[int, str] = field(default_factory=dict)


def answered_count(responses) -> int:
    """How many of these stored responses are real answers: what the take page, its
    autosave and the confirm page all show."""
    return sum(1 for response in responses if answer_given(response))


def questions_to_answer(slots) -> int:
    """How many of an attempt's questions ask for an answer (a description asks
    nothing): the "of N" the take page and the confirm page show."""
    return sum(1 for slot in slots if slot.question.kind not in TEXT_ONLY_KINDS)


@transaction.atomic
def answers_save(*, attempt_id: int, user, answers: dict[int, dict], seq: int | None, now=None):
    """Save answers to an open attempt: `answers` maps attempt-question ids to posted
    values. A save carrying a sequence number older than the stored one is ignored, so a
    delayed request never overwrites a newer answer; one without is applied
    (`_save_seq`). Raises AttemptClosed once the
    attempt is submitted or its time (plus grace) is over, judged by the schedule as it
    stands now, and InvalidAnswer for a question not in the attempt.

    An answer not in its question's form ("2005?" for a number) is refused on its own:
    it keeps its last saved answer and says why in `refused`, while every other answer
    of the save is saved, as a student posting a page of answers expects. Returns what
    was saved and refused, and how many questions now have an answer."""
    now = now or timezone.now()
    slots = list(_slots_to_save(attempt=attempt_id, user=user, slots=list(answers), now=now))
    if len(slots) != len(answers) or not slots:
        if not Attempt.objects.filter(pk=attempt_id, user=user).given(now).exists():
            raise Attempt.DoesNotExist
        if not slots and not answers:
            return SaveResult(0, 0)
        raise InvalidAnswer("That question is not part of this attempt.")
    attempt = slots[0].attempt
    if not attempt.is_open:
        raise AttemptClosed("This attempt has been submitted; answers can no longer change.")
    attempt.user = user
    deadline = attempt_deadline_refresh(attempt)
    if deadline is not None and now > deadline + _grace():
        # The caller finalises it (this transaction is about to roll back).
        raise AttemptClosed("Time is up: the attempt was submitted with the answers saved.")
    saved = stale = 0
    answered = slots[0].answered
    refused, read_as = {}, {}
    for slot in slots:
        try:
            response = _parse_response(slot, answers[slot.pk])
        except InvalidAnswer as refusal:
            refused[slot.pk] = str(refusal)
            continue
        typed = answers[slot.pk].get("value") or ""
        if response and slot.question.kind == QuestionKind.NUMERIC and "," in typed:
            read_as[slot.pk] = format_decimal(numeric_given(response))
        changed = sql.answer_save(
            slot_id=slot.pk,
            response=response,
            seq=_save_seq(slot.answer, seq),
            now=now,
            newer_only=seq is not None,
        )
        if changed:
            answered += answer_given(response) - answer_given(slot.answer.response)
            saved += 1
        else:
            stale += 1
    return SaveResult(saved, stale, answered, slots[0].questions, refused, read_as)


def _save_seq(answer: Answer, seq: int | None) -> int:
    """The sequence number a save stores. An autosave's is the time on the student's
    own clock; a save without one (the page's buttons, posted whatever the sequence) is
    applied and leaves the sequence where the autosaves took it (at least 1: saved), so
    that the server's clock, ahead of a laptop's, never makes the next autosave look
    older than it and dropped."""
    return seq if seq is not None else max(answer.seq, 1)


@compiled
def _slots_to_save(attempt, user, slots, now):
    """The attempt's questions being saved, the attempt locked, while its quiz is still
    given to the student (`given_to`); the attempt's count of answers and of questions
    ride on the locking query."""
    answers_of = Answer.objects.filter(slot__attempt=OuterRef("attempt"))
    return (
        AttemptQuestion.objects.select_for_update(of=("attempt",))
        .select_related("attempt__quiz", "question", "answer")
        .filter(attempt_id=attempt, attempt__user=user, pk__in=slots)
        .filter(given_to(user, OuterRef("attempt__quiz__item"), now))
        .annotate(
            answered=_count(answers_of.given()),
            questions=_count(answers_of.exclude(slot__question__kind__in=TEXT_ONLY_KINDS)),
        )
    )


def _count(queryset):
    counted = queryset.order_by().values("slot__attempt").annotate(n=Count("pk")).values("n")
    return Coalesce(Subquery(counted), 0)


def attempt_submit(*, attempt_id: int, user=None, now=None, timed_out: bool = False) -> Attempt:
    """Grade and close the attempt. Idempotent: submitting a submitted attempt returns it
    unchanged (and brings the student's Work in line again: a retry repairs). A
    timed-out attempt keeps the answers saved before its deadline."""
    now = now or timezone.now()
    with transaction.atomic():
        if user is None:
            attempt = _attempts_to_lock().get(pk=attempt_id)
        elif (
            attempt := _own_attempt_to_lock.first(attempt=attempt_id, user=user, now=now)
        ) is None:
            raise Attempt.DoesNotExist
        if not attempt.is_open:
            work_sync(attempt.quiz.item, [attempt.user_id])
            return attempt
        assignment = assignment_for(attempt.quiz, attempt.user_id)
        deadline = attempt_deadline_refresh(attempt, assignment)
        timed_out = timed_out or (deadline is not None and now > deadline + _grace())
        slots = slots_with_answers(attempt)
        for slot in slots:
            _apply_grade(slot.answer, slot.question, _graded_on(slot, slot.question.all_choices))
        _grades_save([slot.answer for slot in slots])
        attempt.state = AttemptState.SUBMITTED
        attempt.submitted_at, attempt.late = _handed_in(
            attempt, slots, deadline=deadline, assignment=assignment, now=now
        )
        attempt.timed_out = timed_out
        _score(attempt, slots)
        attempt.save()
        work_sync(attempt.quiz.item, [attempt.user_id])
    return attempt


def _handed_in(attempt: Attempt, slots, *, deadline, assignment: Assignment | None, now):
    """When a closing attempt counts as handed in, and whether late.

    It ends now, or when its deadline (and grace) ran out if that came first; but never
    before its start or the last answer it keeps. A deadline before those can only be one
    moved there afterwards (the instructor moved the due date, took an extension back,
    or shortened the time): such an attempt is handed in at its last answer (or its
    start), not at a moment before it began. Late is the one rule every page applies
    (`handed_in_late`): handed in after the student's due date as it stands, so an
    attempt cut short by a due date moved behind it reads late here as on the tracker,
    the gradebook and the dashboard; an extension, or excusing it, is the instructor's
    way to say otherwise."""
    kept_until = max(
        [attempt.started_at] + [slot.answer.saved_at for slot in slots if slot.answer.seq]
    )
    ended = max(min(now, deadline + _grace()) if deadline else now, kept_until)
    return ended, bool(assignment and assignment.due_at and ended > assignment.due_at)


def _attempts_to_lock():
    """Attempts to lock for a submit: the attempt alone (`of`), with its quiz and item
    to read; one row, so in no order (the model's would join the student for it)."""
    return Attempt.objects.select_for_update(of=("self",)).select_related("quiz__item").order_by()


@compiled
def _own_attempt_to_lock(attempt, user, now):
    """The student's own attempt at a quiz still given to them (`given_to`), locked:
    every submit, and every retry of one."""
    return _attempts_to_lock().filter(pk=attempt, user=user).given(now)


GRADE_FIELDS = ["fraction", "points", "needs_grading"]
# Answers sharing a grade are saved by one UPDATE each; past this many distinct grades,
# by one UPDATE with a CASE per answer (`bulk_update`).
_GRADE_GROUPS_MAX = 6


def _grades_save(answers: list[Answer]) -> None:
    """Store the grades `_apply_grade` set. A quiz's answers share a handful of grades
    (right, wrong, waiting for a person), so one short UPDATE per grade: Django's
    `bulk_update` composes a CASE arm per answer, which cost a submit 13 ms of its 40."""
    groups: dict[tuple, list[int]] = {}
    for answer in answers:
        grade = tuple(getattr(answer, name) for name in GRADE_FIELDS)
        groups.setdefault(grade, []).append(answer.pk)
    if len(groups) > _GRADE_GROUPS_MAX:
        Answer.objects.bulk_update(answers, GRADE_FIELDS)
        return
    for grade, ids in groups.items():
        Answer.objects.filter(pk__in=ids).update(**dict(zip(GRADE_FIELDS, grade, strict=True)))


def attempts_finalize_expired(*, quiz: Quiz | None = None, user=None, now=None) -> int:
    """Submit every attempt whose time and grace have run out. Safe when two runs
    overlap: each attempt is locked while submitted, and a submitted one is left alone."""
    now = now or timezone.now()
    expired = Attempt.objects.expired(now)
    if quiz is not None:
        expired = expired.filter(quiz=quiz)
    if user is not None:
        expired = expired.filter(user=user)
    count = 0
    for attempt_id in expired.values_list("pk", flat=True):
        attempt_submit(attempt_id=attempt_id, now=now, timed_out=True)
        count += 1
    return count


# Grading by people and regrading -----------------------------------------------------


@transaction.atomic
def answer_grade(*, answer_id: int, points: Decimal, comment: str, grader) -> Answer:
    """A person grades a short-text answer; the attempt's score follows."""
    answer = Answer.objects.select_related("slot__question", "slot__attempt__quiz").get(
        pk=answer_id
    )
    attempt = Attempt.objects.select_for_update().get(pk=answer.slot.attempt_id)
    question = answer.slot.question
    points = max(ZERO, min(points, question.points))
    answer.points = points.quantize(CENT)
    answer.fraction = (points / question.points) if question.points else ZERO
    answer.comment = comment
    answer.needs_grading = False
    answer.graded_by = grader
    answer.graded_at = timezone.now()
    answer.save()
    _score(attempt)
    attempt.save(update_fields=["score", "max_score", "needs_grading"])
    work_sync(attempt.quiz.item, [attempt.user_id])
    graded_after_release_notify(attempt.quiz.item, [attempt.user_id])
    return answer


def _rescore(attempt_ids) -> int:
    """Total again the given submitted attempts from their graded answers; a fixed
    number of queries however many. Returns how many scores changed."""
    attempts = list(Attempt.objects.select_for_update().filter(pk__in=attempt_ids))
    slots_by_attempt: dict[int, list[AttemptQuestion]] = {}
    for slot in AttemptQuestion.objects.filter(attempt__in=attempts).select_related(
        "question", "answer"
    ):
        slots_by_attempt.setdefault(slot.attempt_id, []).append(slot)
    changed = []
    for attempt in attempts:
        before = (attempt.score, attempt.max_score, attempt.needs_grading)
        _score(attempt, slots_by_attempt.get(attempt.pk, []))
        if before != (attempt.score, attempt.max_score, attempt.needs_grading):
            changed.append(attempt)
    Attempt.objects.bulk_update(changed, ["score", "max_score", "needs_grading"])
    work_sync_items(
        ModuleItem.objects.filter(quiz__attempts__in=changed).values_list("pk", flat=True),
        {attempt.user_id for attempt in changed},
    )
    return len(changed)


def _regrade_answers(questions) -> set[int]:
    """Grade again every submitted answer to these questions; return their attempts."""
    choices: dict[int, list[Choice]] = {}
    for choice in Choice.objects.filter(question__in=questions):
        choices.setdefault(choice.question_id, []).append(choice)
    slots = list(
        AttemptQuestion.objects.filter(
            question__in=questions, attempt__state=AttemptState.SUBMITTED
        ).select_related("question", "answer")
    )
    for slot in slots:
        _apply_grade(
            slot.answer, slot.question, _graded_on(slot, choices.get(slot.question_id, []))
        )
    _grades_save([slot.answer for slot in slots])
    return {slot.attempt_id for slot in slots}


@transaction.atomic
def question_regrade(*, question: Question) -> int:
    """After an answer key is corrected, recompute every submitted answer to it and the
    score of every attempt that holds it. Returns how many attempt scores changed."""
    return _rescore(_regrade_answers([question]))


@transaction.atomic
def quiz_regrade(*, quiz: Quiz) -> int:
    """Regrade every question used in the quiz's submitted attempts; each attempt is
    totalled once."""
    question_ids = set(
        AttemptQuestion.objects.filter(attempt__quiz=quiz).values_list("question", flat=True)
    )
    return _rescore(_regrade_answers(list(Question.objects.filter(pk__in=question_ids))))


# Question bank and quiz settings -------------------------------------------------------


@dataclass
class MatchPair:
    """One pair of a matching question as `question_save` takes it: the prompt (empty
    for an extra wrong match) and its match."""

    text: str
    match: str
    fraction: Decimal = ZERO
    feedback: str = ""


class QuestionLinesInUse(Exception):
    """An edit that would delete answer lines that students' answers name; `messages`
    say which, for the instructor, beside the field of lines."""

    def __init__(self, messages: list[str]):
        super().__init__(" ".join(messages))
        self.messages = messages


# Kinds whose answers name their lines by id: {"choices": [ids]}, {"pairs": {id: match}}.
ANSWERS_NAME_LINES = {QuestionKind.SINGLE, QuestionKind.MULTIPLE, QuestionKind.MATCHING}
LINE_FIELDS = [
    "text",
    "fraction",
    "feedback",
    "position",
    "match",
    "numeric_answer",
    "numeric_tolerance",
    "numeric_range",
]
# A line edited where it stands is the same line when at least this share of it is kept
# (difflib's ratio): a typo fixed, a word added; not another answer written over it.
REWORDED_AT_LEAST = 0.6


@transaction.atomic
def question_save(*, question: Question, course, new_category: str = "", choices=None):
    """Save a bank question of the course (new or edited), in a new category if one is
    named, with its answer lines when its kind has them (`_lines_save`: each line keeps
    its row, so students keep the answers they gave and a corrected key regrades them).
    Raises QuestionLinesInUse, saving nothing, if the edit would delete a line that
    students' answers name."""
    question.course = course
    if name := new_category.strip():
        question.category, _ = QuestionCategory.objects.get_or_create(course=course, name=name)
    question.save()
    if choices is not None:
        _lines_save(question, choices)
    return question


def _lines_save(question: Question, parsed: list) -> None:
    """Store a question's answer lines as typed, each in the row it was saved as before:
    answers name choices and matching prompts by row, so a row must go on meaning the
    same line. A line whose text is unchanged keeps its row wherever it moves (inserting
    or reordering lines moves nobody's answer); its credit may change, and regrading
    then follows it. A line edited where it stands keeps its row when most of it is kept
    (`REWORDED_AT_LEAST`: a typo fixed); written over with another answer, it is a new
    line and the old one is deleted. Deleting a line that an answer names is refused
    (QuestionLinesInUse) rather than the line kept out of sight: kept, it would still
    be graded, counted in the statistics and shown in results with a credit the
    instructor could no longer see or change."""
    kind = question.kind
    lines = [
        Choice(
            question=question,
            position=position,
            text=line.text[:500],
            fraction=line.fraction,
            feedback=line.feedback,
            match=getattr(line, "match", "")[:500],
            numeric_answer=getattr(line, "numeric_answer", None),
            numeric_tolerance=getattr(line, "numeric_tolerance", ZERO),
            numeric_range=getattr(line, "numeric_range", False),
        )
        for position, line in enumerate(parsed)
    ]
    existing = list(question.choices.all())
    old_keys = [_line_key(kind, row) for row in existing]
    new_keys = [_line_key(kind, line) for line in lines]
    kept: dict[int, Choice] = {}  # A new line's place: the row it keeps.
    unchanged: dict[tuple, list[Choice]] = defaultdict(list)
    for row, key in zip(existing, old_keys, strict=True):
        unchanged[key].append(row)
    for place, key in enumerate(new_keys):
        if unchanged[key]:
            kept[place] = unchanged[key].pop(0)
    claimed = {row.pk for row in kept.values()}
    # Lines edited where they stand: where the diff of the two lists replaces old
    # lines by new ones, those not matched above are paired in order.
    diff = SequenceMatcher(None, old_keys, new_keys, autojunk=False)
    for tag, old_from, old_to, new_from, new_to in diff.get_opcodes():
        if tag != "replace":
            continue
        olds = [i for i in range(old_from, old_to) if existing[i].pk not in claimed]
        news = [j for j in range(new_from, new_to) if j not in kept]
        for i, j in zip(olds, news, strict=False):
            if _reworded(old_keys[i], new_keys[j]):
                kept[j] = existing[i]
                claimed.add(existing[i].pk)
    if gone := [row for row in existing if row.pk not in claimed]:
        if refused := _lines_answered(question, gone):
            raise QuestionLinesInUse(refused)
        Choice.objects.filter(pk__in=[row.pk for row in gone]).delete()
    for place, row in kept.items():
        lines[place].pk = row.pk
    Choice.objects.bulk_update([line for line in lines if line.pk], LINE_FIELDS)
    Choice.objects.bulk_create([line for line in lines if line.pk is None])


def _line_key(kind: str, line: Choice) -> tuple:
    """What an answer line is, whatever its place and credit: its text; for a matching
    prompt, the prompt (its match may change) and for an extra match, the match; for a
    numeric answer, its number."""
    if kind == QuestionKind.NUMERIC:
        return (line.numeric_answer, line.numeric_tolerance, line.numeric_range)
    if kind == QuestionKind.MATCHING and not line.text.strip():
        return ("", line.match)
    return (line.text,)


def _reworded(old: tuple, new: tuple) -> bool:
    """Whether a line edited where it stands is still the same line (see `_lines_save`)."""

    def words(key: tuple) -> str:
        return " ".join(
            format_decimal(part) if isinstance(part, Decimal) else str(part) for part in key
        ).casefold()

    same_shape = len(old) == len(new)
    return same_shape and SequenceMatcher(None, words(old), words(new)).ratio() >= (
        REWORDED_AT_LEAST
    )


def _lines_answered(question: Question, rows: list[Choice]) -> list[str]:
    """Why each of these lines, about to be deleted, must stay: the answers that name
    it. The open attempts holding the question are locked first, so no save can name a
    line between this count and its deletion."""
    if question.kind not in ANSWERS_NAME_LINES:
        return []
    open_attempts = Attempt.objects.select_for_update(of=("self",)).filter(
        state=AttemptState.IN_PROGRESS, slots__question=question
    )
    list(open_attempts.order_by("pk").only("pk"))  # Locked until this edit commits.
    ids = {row.pk for row in rows}
    named: Counter[int] = Counter()
    answers = Answer.objects.filter(slot__question=question).given()
    for response in answers.values_list("response", flat=True):
        if question.kind == QuestionKind.MATCHING:
            given = {int(pk) for pk in response.get("pairs", {}) if str(pk).isdigit()}
        else:
            given = set(response.get("choices", []))
        named.update(given & ids)
    refused = []
    for row in rows:
        if count := named[row.pk]:
            attempts = f"{count} attempt{'s' if count != 1 else ''}"
            if question.kind == QuestionKind.MATCHING:
                refused.append(
                    f"The prompt “{row.text}” was answered in {attempts}: keep its line "
                    "(its match may change, and its wording be fixed), so those students "
                    "keep the answers they gave."
                )
            else:
                refused.append(
                    f"“{row.text}” was chosen in {attempts}: keep its line (its credit "
                    "may change, and its wording be fixed), so those students keep the "
                    "answer they gave."
                )
    if refused:
        lines = "that line" if len(refused) == 1 else "those lines"
        refused.append(f"To ask the question without {lines}, write a new question.")
    return refused


@transaction.atomic
def quiz_settings_save(*, quiz: Quiz, questions, draw_category=None, draw_count=None) -> Quiz:
    """Save the quiz's rules and its questions: fixed ones, then an optional random draw.
    Attempts froze their own questions when they started, so changing the questions
    changes only attempts started from now on; a changed time limit reaches open
    attempts at once, and a changed grading method the grades of attempts already
    handed in (the gradebook's Work rows)."""
    method_before = Quiz.objects.filter(pk=quiz.pk).values_list("grading_method", flat=True)
    method_changed = quiz.pk is not None and method_before.first() != quiz.grading_method
    quiz.save()
    quiz.slots.all().delete()
    slots = [QuizSlot(quiz=quiz, question=q, position=i) for i, q in enumerate(questions, 1)]
    if draw_category is not None:
        slots.append(
            QuizSlot(
                quiz=quiz, category=draw_category, draw_count=draw_count, position=len(slots) + 1
            )
        )
    QuizSlot.objects.bulk_create(slots)
    attempts_deadline_sync(item_id=quiz.item_id)
    if method_changed:
        students = Attempt.objects.filter(quiz=quiz, state=AttemptState.SUBMITTED)
        work_sync(quiz.item, set(students.values_list("user", flat=True)))
    return quiz


def gift_preview(*, text: str, course=None) -> list[GiftResult]:
    """What importing the GIFT text into `course`'s bank would do, question by question:
    each is readable with its meaning (and would be imported), or refused with its
    line, reason and fix, or left out as already in the bank (`_gift_already_in`).
    Stores nothing."""
    results = read_gift(text)
    return _gift_already_in(course, results) if course is not None else results


def _gift_already_in(course, results: list[GiftResult]) -> list[GiftResult]:
    """The results, with each question the bank holds already (the same category,
    title, text, answers, feedback and points: the file imported before, say after
    fixing the one question it refused) left out by name. A bank question is compared
    as GIFT reads it back from its export, so what the file says and what the bank
    holds are read alike."""
    titles = {r.question.title[:200] for r in results if r.question is not None}
    if not titles:
        return results
    bank = Question.objects.filter(course=course, title__in=titles)
    bank = bank.select_related("category").prefetch_related("choices")
    held = [
        replace(r.question, line=0)
        for r in read_gift(export_gift(bank)[0])
        if r.question is not None
    ]
    marked = []
    for result in results:
        question = result.question
        if question is not None and replace(question, line=0) in held:
            refusal = GiftRefusal(
                result.line,
                question.title,
                "This question is in the bank already (the same category, text and answers).",
                "Nothing to do: it is left out. To have a second copy, rename it in the file.",
                already=True,
            )
            result = GiftResult(result.line, None, refusal)
        marked.append(result)
    return marked


@transaction.atomic
def questions_import_gift(*, course, text: str, sound_only: bool = True) -> list[Question]:
    """Import a GIFT file into the course's bank in one transaction, leaving out the
    questions it holds already. `sound_only`: the questions that can be read with
    their meaning, skipping the refused ones. Otherwise all or nothing: any problem
    raises GiftErrors (listing every one) and nothing is saved."""
    results = gift_preview(text=text, course=course)
    if not sound_only:
        refused = [r.refusal for r in results if r.refusal and not r.refusal.already]
        errors = [GiftError(refusal.line, refusal.reason) for refusal in refused]
        if not results:
            errors = [GiftError(1, "no questions found.")]
        if errors:
            raise GiftErrors(errors)
    parsed = [result.question for result in results if result.question is not None]
    return questions_create_from_gift(course=course, questions=parsed)


@transaction.atomic
def questions_create_from_gift(*, course, questions: list[GiftQuestion]) -> list[Question]:
    """The one place questions read from GIFT become Questions with their Choices in
    the course's bank, in one transaction."""
    categories: dict[str, QuestionCategory] = {}
    created = []
    for parsed in questions:
        category = None
        if parsed.category:
            name = parsed.category
            if name not in categories:
                categories[name], _ = QuestionCategory.objects.get_or_create(
                    course=course, name=name
                )
            category = categories[name]
        question = Question.objects.create(
            course=course,
            category=category,
            kind=parsed.kind,
            title=parsed.title[:200],
            text=parsed.text,
            feedback=parsed.feedback,
            true_false_answer=parsed.true_false_answer,
            numeric_answer=parsed.numeric_answer,
            numeric_tolerance=parsed.numeric_tolerance,
            numeric_range=parsed.numeric_range,
            right_feedback=parsed.right_feedback,
            wrong_feedback=parsed.wrong_feedback,
            case_sensitive=False,  # GIFT has no way to say otherwise; Moodle reads it so.
            **({"points": parsed.points} if parsed.points is not None else {}),
        )
        Choice.objects.bulk_create(
            Choice(
                question=question,
                text=choice.text[:500],
                fraction=choice.fraction,
                feedback=choice.feedback,
                match=choice.match[:500],
                numeric_answer=choice.numeric_answer,
                numeric_tolerance=choice.numeric_tolerance,
                numeric_range=choice.numeric_range,
                position=position,
            )
            for position, choice in enumerate(parsed.choices)
        )
        created.append(question)
    return created
