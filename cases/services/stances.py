"""Stance checks: answering, and what the class's answers add up to."""

from dataclasses import dataclass

from django.db import transaction
from django.db.models import Count
from django.utils import timezone

from cases.models import SCALE, StanceAnswer, StanceCheck, StancePhase
from cases.services.work import assignment_for_student, refusal, work_sync


class StanceRefused(Exception):
    pass


@transaction.atomic
def stance_answer(*, stance: StanceCheck, user, value: int, reason: str, now=None) -> StanceAnswer:
    """Record the student's answer for the phase open now; answering again within the
    window replaces it (one row per student and phase, whatever the race)."""
    now = now or timezone.now()
    phase = stance.open_phase(now)
    if phase is None:
        raise StanceRefused("This stance check is not taking answers now.")
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


def distribution(stance: StanceCheck, phase: str, students=None) -> list[int]:
    """How many answered each point of the scale in a phase, 1 to 7, counted in SQL."""
    answers = StanceAnswer.objects.filter(stance=stance, phase=phase)
    if students is not None:
        answers = answers.filter(user__in=students)
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
