"""The thesis tools: stance checks (answering, and what the class's answers add up
to), decision points (commit, then reveal; predictions scored into calibration), pairs
who argue with the other side, and the spectrum exercise (placing companies between
novel-product research and process innovation; released beside the authors')."""

from dataclasses import dataclass
from functools import reduce
from operator import or_

from django.db import transaction
from django.db.models import Avg, Count, Q
from django.utils import timezone

from cases.models import (
    SCALE,
    Assignment,
    CaseParagraph,
    CaseReading,
    CaseStudy,
    Decision,
    DecisionCommit,
    ModuleItem,
    PairMessage,
    SpectrumExercise,
    SpectrumPlacement,
    StanceAnswer,
    StanceCheck,
    StancePair,
    StancePhase,
    User,
    assignment_for_student,
    refusal,
)
from cases.services.discussions import render_post
from cases.services.workspace.work import work_sync


class StanceRefused(Exception):
    pass


class StancePhaseMoved(StanceRefused):
    """The answer was given for a phase that is no longer the open one."""

    def __init__(self, phase: str):
        self.phase = phase
        super().__init__(
            f"The “{StancePhase(phase).label.lower()}” check has opened since this page "
            "was loaded, so your answer was not saved. It is below: check it, then save "
            "it again as your answer now."
        )


@transaction.atomic
def stance_answer(
    *, stance: StanceCheck, user, value: int, reason: str, phase: str = "", now=None
) -> StanceAnswer:
    """Record the student's answer for the phase open now; answering again within the
    window replaces it (one row per student and phase, whatever the race). `phase`, the
    one the student's page asked for: when another is open now, nothing is saved
    (StancePhaseMoved), so a "before" page sent late never becomes the "after" answer."""
    now = now or timezone.now()
    asked, phase = phase, stance.open_phase(now)
    if phase is None:
        raise StanceRefused("This stance check is not taking answers now.")
    if asked and asked != phase:
        raise StancePhaseMoved(phase)
    if reason_closed := refusal(assignment_for_student(stance.item_id, user), now):
        raise StanceRefused(reason_closed)
    StanceAnswer.objects.bulk_create(
        [StanceAnswer(stance=stance, user=user, phase=phase, value=value, reason=reason.strip())],
        update_conflicts=True,
        unique_fields=["stance", "user", "phase"],
        update_fields=["value", "reason", "updated_at"],
    )
    work_sync(stance.item, [user.pk])
    return StanceAnswer.objects.get(stance=stance, user=user, phase=phase)


# The class's answers ------------------------------------------------------------------
# Each takes `students`, the class it counts: `class_students(item)` on a student's page,
# `class_students(item, user, access)` on the staff's, so both count the same students.


def distribution(stance: StanceCheck, phase: str, students) -> list[int]:
    """How many of the students answered each point of the scale in a phase, 1 to 7,
    counted in SQL. One query."""
    answers = StanceAnswer.objects.filter(stance=stance, phase=phase, user__in=students)
    counts = dict(answers.values_list("value").annotate(n=Count("pk")).values_list("value", "n"))
    return [counts.get(value, 0) for value, _label in SCALE]


@dataclass
class Shift:
    student: object
    before: StanceAnswer | None
    after: StanceAnswer | None

    @property
    def moved(self) -> int | None:
        if self.before is None or self.after is None:
            return None
        return self.after.value - self.before.value


def shifts(stance: StanceCheck, students) -> list[Shift]:
    """Each student's before and after answers, the biggest movers first. Two queries."""
    students = list(students.order_by("last_name", "first_name", "username"))
    answers = StanceAnswer.objects.filter(stance=stance, user__in=[s.pk for s in students])
    people = {s.pk: s for s in students}
    by_user: dict[tuple[int, str], StanceAnswer] = {}
    for answer in answers:
        answer.user = people[answer.user_id]  # Already loaded: no query per reason shown.
        by_user[(answer.user_id, answer.phase)] = answer
    rows = [
        Shift(s, by_user.get((s.pk, StancePhase.BEFORE)), by_user.get((s.pk, StancePhase.AFTER)))
        for s in students
    ]
    return sorted(rows, key=lambda r: -abs(r.moved) if r.moved is not None else 1)


def reasons_by_position(rows: list[Shift], phase: str) -> list[tuple[str, list[StanceAnswer]]]:
    """The reasons given in a phase, grouped by the position on the scale."""
    grouped: dict[int, list[StanceAnswer]] = {value: [] for value, _label in SCALE}
    for row in rows:
        answer = row.before if phase == StancePhase.BEFORE else row.after
        if answer is not None:
            grouped[answer.value].append(answer)
    return [(f"{value} · {label}", grouped[value]) for value, label in SCALE if grouped[value]]


# Commit, then reveal ----------------------------------------------------------------


@transaction.atomic
def decision_commit(
    *, decision: Decision, user, choice: int, rationale: str, expects: bool, confidence: int
) -> tuple[DecisionCommit, bool]:
    """Commit the student's decision and prediction, once, and say whether it was made
    now: a second commit (a double click, a second tab, Back and send again) returns
    the first, unchanged, with False, so the student can be told which stands; it
    brings the student's Work in line again, so a retry after a failure repairs it."""
    if not decision.is_ready:
        raise StanceRefused("This decision point is still being written: come back later.")
    if not 0 <= choice < len(decision.options):
        raise StanceRefused("Choose one of the options.")
    if reason_closed := refusal(assignment_for_student(decision.item_id, user), timezone.now()):
        raise StanceRefused(reason_closed)
    commit, created = DecisionCommit.objects.get_or_create(
        decision=decision,
        user=user,
        defaults={
            "choice": choice,
            "rationale": rationale.strip(),
            "expects": expects,
            "confidence": confidence,
        },
    )
    work_sync(decision.item, [user.pk])
    return commit, created


@dataclass
class DecisionSplit:
    choices: list[int]  # How many committed to each option, in the options' order.
    committed: int
    expecting: int  # How many expect the predicted event.
    confidence: float | None  # Their mean confidence, in percent.


def decision_split(decision: Decision, students) -> DecisionSplit:
    """How the students' commitments split over the options, and how many of them
    expect the predicted event. Two queries."""
    commits = DecisionCommit.objects.filter(decision=decision, user__in=students)
    by_choice = dict(commits.values_list("choice").annotate(n=Count("pk")))
    summary = commits.aggregate(
        n=Count("pk"),
        expecting=Count("pk", filter=Q(expects=True)),
        confidence=Avg("confidence"),
    )
    return DecisionSplit(
        choices=[by_choice.get(i, 0) for i in range(len(decision.options))],
        committed=summary["n"],
        expecting=summary["expecting"],
        confidence=summary["confidence"],
    )


def decision_score(*, decision: Decision, came_true: bool | None) -> None:
    """The instructor records whether the predicted event happened (or clears it)."""
    decision.came_true = came_true
    decision.scored_at = timezone.now() if came_true is not None else None
    decision.save(update_fields=["came_true", "scored_at"])


@dataclass
class CalibrationBucket:
    label: str
    predictions: int
    mean_confidence: float | None  # Percent the student gave the outcome they expected.
    hit_rate: float | None  # Percent of those that came out as they expected.


def calibration(commits: list[DecisionCommit]) -> tuple[list[CalibrationBucket], float | None]:
    """A student's scored predictions by confidence band (50-59 ... 90-100): how sure
    they were against how often they were right; and their Brier score (0 is perfect,
    0.25 is always saying 50%)."""
    bands = [(50, 59), (60, 69), (70, 79), (80, 89), (90, 100)]
    scored = [c for c in commits if c.decision.came_true is not None]
    buckets = []
    for low, high in bands:
        inside = [c for c in scored if low <= c.confidence <= high]
        right = [c for c in inside if c.expects == c.decision.came_true]
        buckets.append(
            CalibrationBucket(
                label=f"{low} to {high}%",
                predictions=len(inside),
                mean_confidence=round(sum(c.confidence for c in inside) / len(inside), 1)
                if inside
                else None,
                hit_rate=round(100 * len(right) / len(inside), 1) if inside else None,
            )
        )
    if not scored:
        return buckets, None
    brier = sum((c.probability - (1 if c.decision.came_true else 0)) ** 2 for c in scored)
    return buckets, round(brier / len(scored), 3)


# Arguing with the other side ---------------------------------------------------------


# Pairs are at least this far apart on the 7-point scale.
PAIR_MIN_DISTANCE = 2


def polarisation(values: list[int]) -> float | None:
    """How far answers sit from the middle of the scale, 0 (all "neither") to 1 (all
    at the two ends): the mean distance from 4, over the greatest possible, 3."""
    if not values:
        return None
    return round(sum(abs(value - 4) for value in values) / len(values) / 3, 2)


def _paired(claim: dict, students) -> set[int]:
    """Students who keep their partner on this claim (stance= or spectrum=): those of
    the current pairs whose two members are both still in the class (`students`) and
    active. Any other current pair ends here, its thread kept for its two members to
    read, so the one who stayed is paired again like everyone still waiting. Call it
    with the claim's row locked."""
    here = students.filter(is_active=True).values("pk")
    current = StancePair.objects.filter(**claim).current()
    current.exclude(first__in=here, second__in=here).update(ended_at=timezone.now())
    taken = set()
    for first, second in current.values_list("first", "second"):
        taken |= {first, second}
    return taken


def _pair_far_ends(scores: dict[int, float], min_distance: float, claim: dict) -> int:
    """Pair students by score, the lowest with the highest, working inward while pairs
    stay at least `min_distance` apart; anyone left waits for the next round."""
    ranked = sorted((score, user_id) for user_id, score in scores.items())
    pairs = []
    low, high = 0, len(ranked) - 1
    while low < high and ranked[high][0] - ranked[low][0] >= min_distance:
        pairs.append(
            StancePair(
                first_id=ranked[low][1],
                second_id=ranked[high][1],
                distance=round(ranked[high][0] - ranked[low][0]),
                **claim,
            )
        )
        low, high = low + 1, high - 1
    StancePair.objects.bulk_create(pairs)
    return len(pairs)


@transaction.atomic
def stance_pairs_make(*, stance: StanceCheck, students, phase: str) -> int:
    """Pair students far apart on their answers in a phase (at least
    PAIR_MIN_DISTANCE). Students already paired keep their partner while both are in
    the class and active; a pair one of them left ends, and the other is paired again
    (`_paired`). A deactivated account (its answers kept) is never paired: nobody would
    answer their partner. Whoever is left over waits for the next pairing. The stance
    row is locked, so two clicks make one set of pairs."""
    StanceCheck.objects.select_for_update().get(pk=stance.pk)
    taken = _paired({"stance": stance}, students)
    answers = StanceAnswer.objects.filter(
        stance=stance, phase=phase, user__in=students, user__is_active=True
    )
    scores = {a.user_id: a.value for a in answers if a.user_id not in taken}
    return _pair_far_ends(scores, PAIR_MIN_DISTANCE, {"stance": stance})


# Spectrum pairs are at least this far apart, in mean points over the companies.
SPECTRUM_PAIR_MIN_DISTANCE = 20


@transaction.atomic
def spectrum_pairs_make(*, exercise, students) -> int:
    """Pair students whose placements are far apart on average over the exercise's
    companies, as `stance_pairs_make` does for a stance check (never a deactivated
    account)."""
    SpectrumExercise.objects.select_for_update().get(pk=exercise.pk)
    taken = _paired({"spectrum": exercise}, students)
    placed: dict[int, list[int]] = {}
    placements = SpectrumPlacement.objects.filter(
        exercise=exercise, user__in=students, user__is_active=True
    )
    for user_id, position in placements.values_list("user", "position"):
        if user_id not in taken:
            placed.setdefault(user_id, []).append(position)
    scores = {user_id: sum(v) / len(v) for user_id, v in placed.items()}
    return _pair_far_ends(scores, SPECTRUM_PAIR_MIN_DISTANCE, {"spectrum": exercise})


def pairs_of(user, pairs) -> tuple[StancePair | None, list[StancePair]]:
    """The student's current pair among `pairs` (one claim's), or None, and their
    ended ones, latest first, whose threads they still read. One query."""
    mine = pairs.of(user).select_related("first", "second").order_by("-ended_at", "-pk")
    current, earlier = None, []
    for pair in mine:
        if pair.ended_at is None:
            current = pair
        else:
            earlier.append(pair)
    return current, earlier


PAIR_ENDED = (
    "This pair has ended: one of you left the class, so nobody is here to answer. "
    "The conversation stays for the two of you to read."
)


@transaction.atomic
def pair_message_create(*, pair: StancePair, author, body: str) -> PairMessage:
    """A message in a pair's thread: Markdown, rendered and cleaned like a post. Sent
    again (a double click, Back and send again), it is kept once: the pair is locked
    while the thread's last message is compared, so two sends at once make one.
    Refused once the pair has ended (`PAIR_ENDED`)."""
    body = body.strip()
    if not body:
        raise StanceRefused("Write something before sending.")
    if len(body) > 5000:
        raise StanceRefused("Keep it under 5,000 characters.")
    locked = StancePair.objects.select_for_update().filter(pk=pair.pk)
    if locked.values_list("ended_at", flat=True).first() is not None:
        raise StanceRefused(PAIR_ENDED)
    last = PairMessage.objects.filter(pair=pair).order_by("-created_at", "-pk").first()
    if last is not None and last.author_id == author.pk and last.body == body:
        return last
    html, _cited = render_post(body, None, set())
    return PairMessage.objects.create(pair=pair, author=author, body=body, body_html=html)


DEFAULT_PROMPT = (
    "Place each company between novel-product research (R, 0) and second-generation and "
    "process innovation (D, 100), and say why in a sentence or two, citing paragraphs "
    "like ¶3."
)


class SpectrumRefused(Exception):
    """The student may not change their placements now; the message says why."""


@dataclass(frozen=True)
class PlacementInput:
    case_id: int
    position: int
    justification: str


def spectrum_create(*, item: ModuleItem, cases=None, prompt: str = DEFAULT_PROMPT):
    """The exercise's content for a new item: the given cases, or by default every case
    the item's course reads."""
    exercise = SpectrumExercise.objects.create(item=item, prompt=prompt)
    if cases is None or not len(cases):
        readings = CaseReading.objects.filter(item__module__course=item.module.course_id)
        cases = CaseStudy.objects.filter(pk__in=readings.values("case"))
    exercise.cases.set(cases)
    return exercise


def spectrum_refusal(exercise: SpectrumExercise, assignment, now=None) -> str | None:
    """Why the student (whose assignment of the item this is) may not place companies
    now, or None. Once the class's placements and the authors' are shown, answers stop
    changing."""
    if exercise.released:
        return "The placements have been released, so yours can no longer change."
    return refusal(assignment, now or timezone.now())


@transaction.atomic
def spectrum_save(
    *, exercise: SpectrumExercise, user: User, placements: list[PlacementInput], now=None
) -> int:
    """Upsert the student's placements, one row per company, in one statement; saving
    the same answer twice leaves the same rows. Refused when the exercise is released
    or the assignment no longer accepts work. Returns how many were saved."""
    message = spectrum_refusal(exercise, assignment_for_student(exercise.item_id, user), now)
    if message:
        raise SpectrumRefused(message)
    allowed = {case.pk: case for case in exercise.cases.all()}
    numbers: dict[int, set[int]] = {pk: set() for pk in allowed}
    for case_id, number in CaseParagraph.objects.filter(case__in=allowed).values_list(
        "case", "number"
    ):
        numbers[case_id].add(number)
    rows = []
    for placement in placements:
        case = allowed.get(placement.case_id)
        if case is None:
            continue
        text = placement.justification.strip()
        html = render_post(text, case, numbers[case.pk])[0] if text else ""
        rows.append(
            SpectrumPlacement(
                exercise=exercise,
                user=user,
                case=case,
                position=placement.position,
                justification=text,
                justification_html=html,
            )
        )
    if rows:
        SpectrumPlacement.objects.bulk_create(
            rows,
            update_conflicts=True,
            unique_fields=["exercise", "user", "case"],
            update_fields=["position", "justification", "justification_html", "updated_at"],
        )
        work_sync(exercise.item, [user.pk])
    return len(rows)


def spectrum_positions(exercise: SpectrumExercise, students) -> dict[int, list[int]]:
    """Where the students placed each company, by case id. One query."""
    return spectrum_positions_across({exercise: students})


def spectrum_positions_across(classes: dict, cases=None) -> dict[int, list[int]]:
    """Where each exercise's class placed the companies, by case id, over several
    exercises (the regional comparison's): `classes` maps each exercise to the students
    it counts, so a placement by one no longer in that exercise's class is left out
    there as on the exercise's own page. Only `cases`, if named. One query."""
    positions: dict[int, list[int]] = {}
    if not classes:
        return positions
    placements = SpectrumPlacement.objects.filter(
        reduce(or_, (Q(exercise=e, user__in=students) for e, students in classes.items()))
    )
    if cases is not None:
        placements = placements.filter(case__in=cases)
    for case_id, position in placements.values_list("case", "position"):
        positions.setdefault(case_id, []).append(position)
    return positions


def spectrum_waiting(user, case_ids) -> set[int]:
    """Of the cases `case_ids`, those a spectrum exercise given to this student asks
    them to place and is not released yet: until it is, no one's placement of the
    company (the class's elsewhere, the authors') is shown to them, so that none
    anchors theirs. One query."""
    given = Assignment.objects.for_student(user).values("item")
    open_on = SpectrumExercise.cases.through.objects.filter(
        casestudy__in=case_ids,
        spectrumexercise__released_at__isnull=True,
        spectrumexercise__item__in=given,
    )
    return set(open_on.values_list("casestudy", flat=True))


def authors_placements_shown(user, cases, waiting: set[int] | None = None) -> set[int]:
    """Of `cases`, those whose authors' placement a student may be shown now (the
    reader, the regional comparison): released in the library (`placement_released`),
    but not while a spectrum exercise on the company waits for them
    (`spectrum_waiting`, unless given); its page shows it once released. One query,
    none if no case is released or `waiting` is given."""
    released = {case.pk for case in cases if case.placement_released}
    if not released:
        return set()
    return released - (spectrum_waiting(user, released) if waiting is None else waiting)


def spectrum_release(*, exercise: SpectrumExercise, release: bool) -> None:
    """Show (or hide again) the class's placements and the authors' to students."""
    released_at = timezone.now() if release else None
    SpectrumExercise.objects.filter(pk=exercise.pk).update(released_at=released_at)
    exercise.released_at = released_at
