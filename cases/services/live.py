"""Live class: starting and ending sessions, polls launched one at a time, answers from
phones, the cold-call picker and participation marks.

Every write is safe to repeat and to race: one attendance row and one answer per
student (unique constraints, written with ON CONFLICT), and the session row is locked
while a poll is launched or a student is picked, so two clicks make one change.
"""

import io
import random
from dataclasses import dataclass, field
from functools import lru_cache

import segno
from django.db import IntegrityError, transaction
from django.db.models import Count, F, OuterRef, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.safestring import SafeString, mark_safe

from cases.charts import histogram
from cases.models import (
    LIKERT_LABELS,
    CallOutcome,
    Cohort,
    ColdCall,
    Course,
    LiveAnswer,
    LiveAttendance,
    LiveClass,
    LivePoll,
    LiveSession,
    ParticipationMark,
    PollKind,
    PollState,
    Post,
    Question,
    QuestionKind,
    User,
)
from cases.services.workspace.work import work_sync, work_sync_cohorts

MAX_OPTIONS = 10
SPECTRUM_BINS = 10
SHOWN_WORDS = 30


class LiveRefused(Exception):
    """A student's action the session cannot take now; the message says why."""


# Sessions ---------------------------------------------------------------------------


@transaction.atomic
def session_start(*, course: Course, by: User, title: str, item=None, cohort=None) -> LiveSession:
    """A new running session with a fresh join code (drawn again on the rare clash). The
    same person starting again what they have running (the same item, cohort and
    title: Start clicked twice, or Back and Start) gets that session, marked `resumed`, not a
    second one with a second code and a second Join link on every dashboard; the
    course's row is locked for the look.

    A session nobody ended stops running `LIVE_STALE_AFTER` after it started
    (`LiveSession.objects.running`): last week's "Office hours" left running is not
    resumed this week. A new session closes the course's sessions so left running, as
    of the time they stopped, so their record says when; they are listed in
    `ended_stale`. Sessions still running (another section's class) run on."""
    Course.objects.select_for_update().filter(pk=course.pk).exists()
    running = (
        LiveSession.objects.running()
        .filter(course=course, started_by=by, item=item, cohort=cohort, title=title)
        .order_by("-pk")
        .first()
    )
    if running is not None:
        running.resumed = True
        return running
    stale = list(
        LiveSession.objects.left_running().filter(course=course).order_by("started_at", "pk")
    )
    for old in stale:
        session_end(old, at=old.stopped_at)
    for _attempt in range(5):
        try:
            with transaction.atomic():
                session = LiveSession.objects.create(
                    course=course, item=item, cohort=cohort, title=title, started_by=by
                )
        except IntegrityError:
            continue
        session.ended_stale = stale
        return session
    raise RuntimeError("Could not draw an unused join code.")


def _bump(session: LiveSession) -> None:
    LiveSession.objects.filter(pk=session.pk).update(version=F("version") + 1)


@transaction.atomic
def session_end(session: LiveSession, *, at=None) -> None:
    """Close the open poll and stop taking joins and answers. Ending twice is a no-op.
    `at`: when it ended, if not now (a session that stopped running by time)."""
    now = at or timezone.now()
    LivePoll.objects.filter(session=session, state=PollState.OPEN).update(
        state=PollState.CLOSED, closed_at=now
    )
    LiveSession.objects.filter(pk=session.pk, ended_at__isnull=True).update(
        ended_at=now, version=F("version") + 1
    )


@transaction.atomic
def item_sessions_end(items) -> int:
    """The items (a module's, or one) are being deleted: their running sessions end
    with them, rather than run on as ad hoc sessions (the link set null) that any
    student of the course may join. Returns how many ended."""
    running = list(LiveSession.objects.filter(item__in=items, ended_at=None))
    for session in running:
        session_end(session)
    return len(running)


@transaction.atomic
def join(session: LiveSession, user: User) -> bool:
    """Record that the student joined (that is attendance). True the first time."""
    if not session.is_running:
        raise LiveRefused("This live session has ended.")
    _attendance, created = LiveAttendance.objects.get_or_create(session=session, user=user)
    if created and session.item_id:
        work_sync(session.item, [user.pk])
    return created


# Polls ------------------------------------------------------------------------------


def poll_fields_from_question(question: Question) -> dict:
    """A bank question as a poll: its kind, its title as the prompt and its choices as
    options. Numeric questions have no poll kind and short text becomes a word poll."""
    kinds = {
        QuestionKind.SINGLE: PollKind.SINGLE,
        QuestionKind.MULTIPLE: PollKind.MULTIPLE,
        QuestionKind.TRUE_FALSE: PollKind.SINGLE,
        QuestionKind.LIKERT: PollKind.LIKERT,
        QuestionKind.SPECTRUM: PollKind.SPECTRUM,
        QuestionKind.SHORT_TEXT: PollKind.WORD,
    }
    if question.kind not in kinds:
        raise ValueError(f"A {question.get_kind_display().lower()} question cannot be a poll.")
    options = []
    if question.kind == QuestionKind.TRUE_FALSE:
        options = ["True", "False"]
    elif question.kind in (QuestionKind.SINGLE, QuestionKind.MULTIPLE):
        options = [choice.text[:200] for choice in question.choices.all()][:MAX_OPTIONS]
    return {"kind": kinds[question.kind], "prompt": question.title[:300], "options": options}


@transaction.atomic
def poll_create(
    *, session: LiveSession, kind: str, prompt: str, options=(), question=None, after=None
) -> LivePoll:
    """A new poll at the end of the session's. `after`, how many polls the console showed
    when its form was drawn: if one has been added since and it is this very poll (the
    form sent twice without JavaScript), that one is the answer, not a second that
    closes the first as it opens. Under the session's lock, so two at once alike."""
    LiveSession.objects.select_for_update().filter(pk=session.pk).first()
    options = list(options) if kind in (PollKind.SINGLE, PollKind.MULTIPLE) else []
    newest = session.polls.order_by("-position").first()
    if after is not None and newest is not None and session.polls.count() > after:
        same = (newest.kind, newest.prompt, newest.options, newest.question_id)
        if same == (kind, prompt.strip(), options, getattr(question, "pk", None)):
            return newest
    return LivePoll.objects.create(
        session=session,
        position=(newest.position if newest else 0) + 1,
        kind=kind,
        prompt=prompt.strip(),
        options=options,
        question=question,
    )


@transaction.atomic
def poll_launch(poll: LivePoll) -> None:
    """Put the poll on screen and open it, results hidden; any other open poll of the
    session closes. Launching a closed poll opens it again, keeping its answers. The
    poll open on screen launched again (a console drawn before it opened) stays as it
    is, its results shown if they were. The poll object is brought up to date; a
    session object the caller holds is not."""
    session = LiveSession.objects.select_for_update().get(pk=poll.session_id)
    if not session.is_running:
        raise LiveRefused("This live session has ended.")
    if session.current_poll_id == poll.pk:
        poll.refresh_from_db()
        if poll.state == PollState.OPEN:
            return
    now = timezone.now()
    LivePoll.objects.filter(session=session, state=PollState.OPEN).exclude(pk=poll.pk).update(
        state=PollState.CLOSED, closed_at=now
    )
    opened = {"state": PollState.OPEN, "opened_at": now, "closed_at": None, "results_shown": False}
    LivePoll.objects.filter(pk=poll.pk).update(**opened)
    for name, value in opened.items():
        setattr(poll, name, value)
    session.current_poll = poll
    session.version += 1
    session.save(update_fields=["current_poll", "version"])


@transaction.atomic
def poll_update(poll: LivePoll, *, results_shown: bool | None = None, close: bool = False) -> None:
    """Reveal or hide the results, or close the poll; it stays on screen."""
    changes = {}
    if results_shown is not None:
        changes["results_shown"] = results_shown
    if close:
        changes |= {"state": PollState.CLOSED, "closed_at": timezone.now()}
        LivePoll.objects.filter(pk=poll.pk, state=PollState.OPEN).update(**changes)
    else:
        LivePoll.objects.filter(pk=poll.pk).update(**changes)
    _bump(poll.session)


def answer_save(*, session: LiveSession, poll: LivePoll, user: User, answer: dict) -> None:
    """Store the student's answer to the open poll on screen (replacing an earlier one);
    `answer` holds the cleaned `choices`, `value` or `text` for the poll's kind. One
    statement, so a repeated or concurrent answer leaves one row. (An answer that
    arrives as the poll closes, after the check, is kept: it was sent while open.)"""
    if not session.is_running:
        raise LiveRefused("This live session has ended.")
    if session.current_poll_id != poll.pk or poll.state != PollState.OPEN:
        raise LiveRefused("That poll closed before your answer arrived.")
    row = LiveAnswer(
        poll=poll,
        user=user,
        choices=answer.get("choices", []),
        value=answer.get("value"),
        text=answer.get("text", ""),
    )
    LiveAnswer.objects.bulk_create(
        [row],
        update_conflicts=True,
        unique_fields=["poll", "user"],
        update_fields=["choices", "value", "text", "updated_at"],
    )


def answer_text(poll: LivePoll | None, answer: LiveAnswer | None) -> str:
    """A student's answer in words, for their phone."""
    if poll is None or answer is None:
        return ""
    if poll.kind in (PollKind.SINGLE, PollKind.MULTIPLE):
        return "; ".join(poll.options[i] for i in answer.choices if 0 <= i < len(poll.options))
    if poll.kind == PollKind.LIKERT:
        return dict(LIKERT_LABELS).get(answer.value, "")
    if poll.kind == PollKind.SPECTRUM:
        return f"{answer.value} of 100"
    return answer.text


# Results ----------------------------------------------------------------------------


@dataclass
class ResultRow:
    label: str
    count: int
    percent: int


@dataclass
class PollResults:
    poll: LivePoll
    total: int
    rows: list[ResultRow] = field(default_factory=list)  # Options or Likert points.
    chart: object = None  # Spectrum: a histogram of the placements.
    mean: float | None = None
    words: list[tuple[str, int, int]] = field(default_factory=list)  # word, count, size 1-5


def _rows(labels, counts, total) -> list[ResultRow]:
    return [
        ResultRow(label, count, round(100 * count / total) if total else 0)
        for label, count in zip(labels, counts, strict=True)
    ]


def poll_results(poll: LivePoll) -> PollResults:
    """What the class answered, counted in one query."""
    answers = LiveAnswer.objects.filter(poll=poll)
    if poll.kind in (PollKind.SINGLE, PollKind.MULTIPLE):
        counts = [0] * len(poll.options)
        total = 0
        for choices in answers.values_list("choices", flat=True):
            total += 1
            for index in choices:
                if 0 <= index < len(counts):
                    counts[index] += 1
        return PollResults(poll, total, _rows(poll.options, counts, total))
    if poll.kind == PollKind.LIKERT:
        found = dict(answers.values_list("value").annotate(n=Count("pk")))
        counts = [found.get(value, 0) for value, _label in LIKERT_LABELS]
        total = sum(counts)
        labels = [f"{value} · {label}" for value, label in LIKERT_LABELS]
        return PollResults(poll, total, _rows(labels, counts, total))
    if poll.kind == PollKind.SPECTRUM:
        values = list(answers.values_list("value", flat=True))
        bins = [0] * SPECTRUM_BINS
        for value in values:
            bins[min(value // (100 // SPECTRUM_BINS), SPECTRUM_BINS - 1)] += 1
        labels = [f"{low}-{low + 9}" if low < 90 else "90-100" for low in range(0, 100, 10)]
        chart = histogram(
            "Where the class placed it",
            "How many students placed it in each tenth of the spectrum, from 0 (novel-product "
            "research, R) to 100 (second-generation and process innovation, D).",
            labels,
            ("", bins),
            axis=[str(low) for low in range(0, 100, 10)],
            empty="No answers yet: the chart fills in as students answer.",
        )
        mean = round(sum(values) / len(values), 1) if values else None
        return PollResults(poll, len(values), chart=chart, mean=mean)
    found = list(
        answers.exclude(text="")
        .values_list("text")
        .annotate(n=Count("pk"))
        .order_by("-n", "text")
        .values_list("text", "n")
    )
    total = sum(n for _text, n in found)
    top = found[0][1] if found else 1
    words = [(text, n, 1 + round(4 * n / top)) for text, n in found[:SHOWN_WORDS]]
    return PollResults(poll, total, words=words)


# Cold calls and marks ---------------------------------------------------------------


def with_spoken(course: Course, students):
    """The students annotated with `spoken`: how often each has spoken in the course,
    counting participation marks in its live sessions and discussion posts (not
    deleted) in its threads."""

    def count(queryset, ref):
        return Coalesce(
            Subquery(
                queryset.filter(**{ref: OuterRef("pk")})
                .values(ref)
                .annotate(n=Count("pk"))
                .values("n")
            ),
            0,
        )

    marks = ParticipationMark.objects.filter(session__course=course)
    posts = Post.objects.filter(discussion__item__module__course=course, deleted_at__isnull=True)
    return students.annotate(spoken=count(marks, "student") + count(posts, "author"))


def spoken_counts(course: Course, students) -> dict[int, int]:
    """How often each student has spoken in the course (see `with_spoken`). One query."""
    return dict(with_spoken(course, students).values_list("pk", "spoken"))


def joined_students(session: LiveSession, students):
    """Those of `students` who joined the session, each annotated with `absent_call`:
    the call on which they were found not there (None if they never were). A
    deactivated account (a student withdrawn mid-class) is not there at all."""
    absent = ColdCall.objects.filter(
        session=session, student=OuterRef("pk"), outcome=CallOutcome.ABSENT
    )
    return students.filter(live_attendance__session=session, is_active=True).annotate(
        absent_call=Subquery(absent.order_by("-pk").values("pk")[:1])
    )


def present_students(session: LiveSession, students):
    """Those of `students` who joined the session and were not found absent when
    called on (or were, and were brought back: `cold_call_here`)."""
    return joined_students(session, students).filter(absent_call__isnull=True)


def pick_weight(turns: int) -> float:
    """A student's chance of being picked, against others': 1 for one who has had no
    turn yet, a quarter for one who had one, a ninth for two..."""
    return 1 / (1 + turns) ** 2


def current_call(session: LiveSession) -> ColdCall | None:
    """The session's latest pick, the one the console shows and acts on. Ordered here,
    not by the model's default: that ordering is dropped from grouped queries."""
    calls = ColdCall.objects.filter(session=session).select_related("student")
    return calls.order_by("-pk").first()


@transaction.atomic
def cold_call_pick(
    *, session: LiveSession, by: User, students, rng=None, after: int | None = None
) -> ColdCall | None:
    """Pick a present student, never the one picked last, favouring those who have had
    fewest turns: times spoken in the course plus times called on in this session (a
    call answered with a mark counts once). None when nobody else is there to pick.
    `after`, the pick the console showed when asked (0: none): if another was made
    since (the same button pressed twice without JavaScript), that one is the answer,
    not a second pick that would count as a turn nobody had."""
    rng = rng or random.SystemRandom()
    LiveSession.objects.select_for_update().filter(pk=session.pk).first()
    last = current_call(session)
    if after is not None and (last.pk if last else 0) != after:
        return last
    candidates = present_students(session, students)
    if last is not None:
        candidates = candidates.exclude(pk=last.student_id)
    turns = spoken_counts(session.course, candidates)
    if not turns:
        return None
    unmarked_calls = ColdCall.objects.filter(
        session=session, student__in=list(turns), marks__isnull=True
    )
    for student_id in unmarked_calls.values_list("student", flat=True):
        turns[student_id] += 1
    ids = sorted(turns)
    chosen = rng.choices(ids, weights=[pick_weight(turns[pk]) for pk in ids])[0]
    return ColdCall.objects.create(session=session, student_id=chosen, called_by=by)


def cold_call_absent(call: ColdCall) -> None:
    """The student called on is not there: not called again this session. A call
    already answered with a mark (its +1 given from another console, or before a stale
    "Not there" arrived) stays answered: the student spoke, so they are there."""
    ColdCall.objects.filter(pk=call.pk, outcome=CallOutcome.CALLED).update(
        outcome=CallOutcome.ABSENT
    )


def cold_call_here(call: ColdCall) -> None:
    """The student found not there is back in the room (or "Not there" was pressed by
    mistake): present again, to be marked and called on; the call counts as a turn."""
    ColdCall.objects.filter(
        session=call.session_id, student=call.student_id, outcome=CallOutcome.ABSENT
    ).update(outcome=CallOutcome.CALLED)


@transaction.atomic
def mark_add(
    *,
    session: LiveSession,
    student: User,
    points: int,
    note: str,
    by: User,
    call=None,
    seen: int | None = None,
) -> ParticipationMark | None:
    """A contribution: +1 or +2 with a note. The student spoke, so they are present
    (joined if they had not); a cold call it answers becomes "contributed". A form sent
    twice (pressed twice without JavaScript) marks once: a call takes one mark, and
    when the student's marks in the session are no longer `seen`, the count when the
    form was drawn, the newest being this very mark (the same grader, points and note)
    is the answer. Another grader's mark in between (the TA's console beside the
    instructor's) is another contribution. None when nothing was marked; under the
    session's lock, so two at once alike."""
    LiveSession.objects.select_for_update().filter(pk=session.pk).first()
    if call is not None:
        repeat = ColdCall.objects.filter(pk=call.pk, outcome=CallOutcome.CONTRIBUTED).exists()
    else:
        marks = ParticipationMark.objects.filter(session=session, student=student)
        repeat = False
        if seen is not None and marks.count() != seen:
            newest = marks.order_by("-pk").first()
            same = (getattr(by, "pk", None), points, note.strip())
            repeat = (
                newest is not None and (newest.marked_by_id, newest.points, newest.note) == same
            )
    if repeat:
        return None
    LiveAttendance.objects.get_or_create(session=session, user=student)
    mark = ParticipationMark.objects.create(
        session=session,
        student=student,
        points=points,
        note=note.strip(),
        marked_by=by,
        cold_call=call,
    )
    if call is not None:
        ColdCall.objects.filter(pk=call.pk).update(outcome=CallOutcome.CONTRIBUTED)
    if session.item_id:
        work_sync(session.item, [student.pk])
    return mark


@transaction.atomic
def mark_remove(mark: ParticipationMark) -> None:
    session = mark.session
    if mark.cold_call_id and not mark.cold_call.marks.exclude(pk=mark.pk).exists():
        ColdCall.objects.filter(pk=mark.cold_call_id).update(outcome=CallOutcome.CALLED)
    mark.delete()
    if session.item_id:
        work_sync(session.item, [mark.student_id])


# Grades -----------------------------------------------------------------------------


@transaction.atomic
def live_class_update(*, live: LiveClass) -> None:
    """Save how a live-session item is graded; every student's score follows."""
    live.save()
    work_sync_cohorts(live.item, Cohort.objects.filter(assignments__item=live.item_id))


@lru_cache(maxsize=64)
def join_qr_svg(join_url: str) -> SafeString:
    """The QR code the projector shows for the join address, as inline SVG (the CSP
    allows markup, not script). Only the absolute address the server builds from its
    own route and the validated host is ever passed in; segno escapes the title and
    writes nothing else but numbers, so the markup is safe to embed."""
    out = io.BytesIO()
    segno.make(join_url, error="m").save(
        out,
        kind="svg",
        xmldecl=False,
        svgns=True,
        title=f"QR code for {join_url}",
        svgclass="qr",
        lineclass=None,
        omitsize=True,
        border=2,
        dark="#000",
        light="#fff",
    )
    return mark_safe(out.getvalue().decode())  # noqa: S308 (segno's own output, see above)
