"""The spectrum exercise: students place companies between novel-product research (R,
0) and second-generation and process innovation (D, 100); the instructor releases the
class's placements beside the authors'."""

from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from cases.models import (
    CaseParagraph,
    CaseReading,
    CaseStudy,
    ModuleItem,
    SpectrumExercise,
    SpectrumPlacement,
    User,
)
from cases.services.discussions import render_post
from cases.services.work import assignment_for_student, refusal, work_sync

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


def spectrum_release(*, exercise: SpectrumExercise, release: bool) -> None:
    """Show (or hide again) the class's placements and the authors' to students."""
    released_at = timezone.now() if release else None
    SpectrumExercise.objects.filter(pk=exercise.pk).update(released_at=released_at)
    exercise.released_at = released_at
