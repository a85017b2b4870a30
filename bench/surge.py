"""Two real surges on the LOAD course, through gunicorn on PostgreSQL with DEBUG off:
`make bench` runs them after its endpoint table, on the same server; alone:

    make bench-surge
    # or, with the same defaults:
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/redqueen_load \\
        REDIS_URL=redis://127.0.0.1:6379/8 .venv/bin/python bench/surge.py

Alone, it builds the LOAD course afresh first (`seed_load --fresh`, as `make bench`
does) and starts gunicorn (BENCH_WORKERS x BENCH_THREADS gthread, default 4 x 4).

**Quiz deadline surge.** BENCH_SURGE_STUDENTS (default 500) students each have an open
attempt at a quiz (started in-process before the window, on the quiz of fixed
questions, one of them short text, with the fewest attempts that lets them start one).
Over BENCH_SURGE_SECONDS (default 120) each student autosaves a short-text answer every
3 to 5 s, as htmx does (HX-Request, CSRF, a `seq` that only grows: the time in
milliseconds, as static/js/app.js sends it; a save due while the last is still out is
counted, not sent), and submits once at a uniformly random moment of the window (the
confirm page's plain form: a 302 to the result page, which the browser then opens).
Afterwards the database must hold every acknowledged autosave (its value, or a later
one of the same question) and every acknowledged submit (a submitted attempt).

**Live class surge.** BENCH_SURGE_PHONES (default 300) students join a fresh ad hoc
session over HTTP; their phones poll the session's state every 3 s (unchanged: 204) and
the projector polls every second with If-None-Match, as htmx does. The instructor,
over HTTP, launches a poll; the students answer within ten seconds of seeing it; once
the projector shows every answer the instructor reveals the results, and a few seconds
later launches the next poll (which closes the first), which they answer too; then
reveals it and closes it. No answer may be lost and the projector must show them all.
The clients are bench/live.py's (its join, checks, projector and clock).

Each surge prints a table and its goals, "met" or "MISSED"; the run fails (non-zero
exit) on any error (5xx, an unexpected status, a connection error) or a lost write.
Every student is a thread with its own keep-alive connection (harness.Device); the
table shows the load generator's own CPU and how late it sent, to tell its delay from
the server's.
"""

import os
import random
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import production

production.setup(
    DATABASE_URL="postgres://postgres@127.0.0.1:5432/redqueen_load",
    REDIS_URL="redis://127.0.0.1:6379/8",
)

import live  # noqa: E402
from django.db import connection  # noqa: E402
from django.db.models import Count  # noqa: E402
from django.urls import reverse  # noqa: E402
from django.utils.html import escape  # noqa: E402
from harness import (  # noqa: E402
    ROOT,
    TIMEOUT,
    CpuSnapshot,
    Device,
    Reply,
    Sample,
    check_cache,
    children,
    cpu_seconds,
    free_port,
    percentile,
    pids_named,
    run_setting,
    sign_in,
    start_gunicorn,
    stop_gunicorn,
    table,
    wait_ready,
)
from writeload import stored_answers  # noqa: E402

from cases.models import (  # noqa: E402
    Attempt,
    AttemptQuestion,
    AttemptState,
    Course,
    LiveAnswer,
    LiveAttendance,
    LivePoll,
    LiveSession,
    QuestionKind,
    Quiz,
    User,
)
from cases.services import live as live_services  # noqa: E402
from cases.services import quizzes as quiz_services  # noqa: E402

WORKERS = int(os.environ.get("BENCH_WORKERS", "4"))
THREADS = int(os.environ.get("BENCH_THREADS", "4"))
SECONDS = float(os.environ.get("BENCH_SURGE_SECONDS", "120"))
STUDENTS = int(os.environ.get("BENCH_SURGE_STUDENTS", "500"))
PHONES = int(os.environ.get("BENCH_SURGE_PHONES", "300"))
SEED = int(os.environ.get("BENCH_SEED", "7"))
CODE = "LOAD"
HTMX = {"HX-Request": "true"}

SAVE_EVERY = (3.0, 5.0)  # Seconds between a student's autosaves, uniformly.
QUIZ_P99_MS = 500
PHONE_P99_MS = 300

POLLS = [
    ("What should Alcatel do?", live.OPTIONS),
    ("Who should run the joint venture?", ["Alcatel's managers", "Shanghai's", "Both, shared"]),
]
DISCUSS = 5.0  # Seconds the revealed results stay up before the next poll.
CLOSE_AFTER = 3.0  # Seconds from the last reveal to the close; the phones poll once more.


# Shared -------------------------------------------------------------------------------


def spread(values: list[float]) -> str:
    """p50 / p99 / max, in ms."""
    return live.spread(values)


def print_goals(goals: list[tuple[str, object, bool]]) -> list[str]:
    """The goals as bench/load.py prints them; returns those missed."""
    print("\ngoals")
    for text, value, met in goals:
        shown = f"{value:.1f}" if isinstance(value, float) else value
        print(f"  {'met ' if met else 'MISSED'}  {text}: {shown}")
    return [text for text, _value, met in goals if not met]


class Costs:
    """What each request cost the app, by kind, as bench/benchurls.py's headers tell:
    its thread's CPU (X-CPU-us: not the GIL waits, nor gunicorn's own thread) and its
    queries."""

    def __init__(self):
        self.seen: dict[str, list[tuple[int, int]]] = {}

    def request(self, device: Device, kind: str, method: str, path: str, **options) -> Reply:
        reply = device.request(kind, method, path, **options)
        if "x-cpu-us" in reply.headers:
            # One append: safe from the clients' threads.
            self.seen.setdefault(kind, []).append(
                (int(reply.headers["x-cpu-us"]), int(reply.headers.get("x-queries", 0)))
            )
        return reply

    def rows(self) -> list[tuple[str, str]]:
        rows = []
        for kind, seen in self.seen.items():
            cpu = [us / 1000 for us, _q in seen]
            queries = sum(q for _us, q in seen) / len(seen)
            rows.append(
                (
                    f"app thread CPU ms p50 / mean, queries: {kind}",
                    f"{percentile(cpu, 0.5):.1f} / {sum(cpu) / len(cpu):.1f}, {queries:.1f}",
                )
            )
        return rows


def database_backends() -> list[int]:
    """The PostgreSQL backends connected to this database, other than this process's:
    gunicorn's persistent connections. Their CPU is ours; the rest of PostgreSQL's may be
    another run's on another database."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> pg_backend_pid()"
        )
        return [row[0] for row in cursor.fetchall()]


def server_rows(before: CpuSnapshot, after: CpuSnapshot, server, requests: int, backends, late):
    """The table rows on what the window cost: CPU per request, cores busy, the load
    generator's delay."""
    seconds = after.at - before.at
    cpu = {
        "gunicorn": cpu_seconds(before, after, [server.pid, *children(server.pid)]),
        "PostgreSQL": cpu_seconds(before, after, pids_named(after, "postgres")),
        "Redis": cpu_seconds(before, after, pids_named(after, "redis-server")),
        "load generator": after.own - before.own,
    }
    cpu["other"] = max(0.0, before.busy_seconds(after) - sum(cpu.values()))
    ours = cpu_seconds(before, after, backends)
    n = max(1, requests)
    return [
        (
            "window s / requests / per second",
            f"{seconds:.1f} / {requests} / {requests / seconds:.0f}",
        ),
        (
            "CPU ms per request: gunicorn / PostgreSQL (this database's backends) / Redis",
            f"{cpu['gunicorn'] * 1000 / n:.2f} / {cpu['PostgreSQL'] * 1000 / n:.2f} "
            f"({ours * 1000 / n:.2f}) / {cpu['Redis'] * 1000 / n:.2f}",
        ),
        ("load generator CPU ms per request", f"{cpu['load generator'] * 1000 / n:.2f}"),
        (
            f"cores busy: {' / '.join(cpu)}",
            " / ".join(f"{v / seconds:.2f}" for v in cpu.values())
            + f" ({before.busy_share(after):.0%} of all)",
        ),
        (
            "load generator late to send p50 / p99 / max ms",
            f"{percentile(late, 0.5) * 1000:.1f} / {percentile(late, 0.99) * 1000:.1f} / "
            f"{max(late, default=0) * 1000:.1f}",
        ),
    ]


# Quiz deadline surge ---------------------------------------------------------------------


@dataclass
class Save:
    slot: int
    seq: int
    value: str
    sample: Sample
    acknowledged: bool


@dataclass
class Taker:
    """A student with an open attempt, autosaving until they submit."""

    user: User
    device: Device
    attempt: int
    slots: list[int]  # The attempt's short-text questions.
    first_save: float = 0.0  # Seconds into the window.
    submit_at: float = 0.0
    seq: int = 0
    skipped: int = 0  # Saves due while the previous one was still out.
    saves: list[Save] = field(default_factory=list)
    submit: Sample | None = None
    submit_acknowledged: bool = False
    result: Sample | None = None


def open_attempts(course: Course, students: list[User]) -> tuple[dict[int, Attempt], dict]:
    """Each student's open attempt, started (or resumed) as the quiz page starts it, on
    the quiz with the fewest attempts that lets them; and the attempts by quiz."""
    # Quizzes of fixed questions, one of them short text (a review quiz draws its
    # questions from categories: an attempt may have none to type into).
    quizzes = list(
        Quiz.objects.filter(
            item__module__course=course, slots__question__kind=QuestionKind.SHORT_TEXT
        )
        .exclude(slots__category__isnull=False)
        .annotate(taken=Count("attempts", distinct=True))
        .order_by("taken", "pk")
        .distinct()
    )
    attempts = {}
    for student in students:
        for quiz in quizzes:
            try:
                attempts[student.pk] = quiz_services.attempt_start(quiz=quiz, user=student)
                break
            except quiz_services.QuizError:
                continue
        else:
            sys.exit(f"{student.username} can start no quiz attempt: run seed_load --fresh.")
    by_quiz = {}
    for attempt in attempts.values():
        by_quiz[attempt.quiz_id] = by_quiz.get(attempt.quiz_id, 0) + 1
    return attempts, by_quiz


def quiz_takers(course: Course, port: int) -> tuple[list[Taker], dict]:
    students = list(
        User.objects.filter(cohorts__courses=course).order_by("username").distinct()[:STUDENTS]
    )
    attempts, by_quiz = open_attempts(course, students)
    slots: dict[int, list[int]] = {}
    for attempt_id, slot_id in (
        AttemptQuestion.objects.filter(
            attempt_id__in=[a.pk for a in attempts.values()],
            question__kind=QuestionKind.SHORT_TEXT,
        )
        .order_by("position", "pk")
        .values_list("attempt_id", "pk")
    ):
        slots.setdefault(attempt_id, []).append(slot_id)
    takers = []
    for student in students:
        attempt = attempts[student.pk]
        if not slots.get(attempt.pk):
            sys.exit(f"{student.username}'s attempt {attempt.pk} has no short-text question.")
        takers.append(
            Taker(student, Device(port, *sign_in(student)), attempt.pk, slots[attempt.pk])
        )
    return takers, by_quiz


def open_pages(takers: list[Taker]) -> None:
    """Every student opens their attempt's page before the window, as one with the quiz
    open has (and every worker is warm): sixteen at a time, not timed."""
    pending = list(takers)
    lock = threading.Lock()
    failures = []

    def work() -> None:
        while True:
            with lock:
                if not pending or failures:
                    return
                taker = pending.pop()
            url = reverse("cases:attempt_detail", args=[taker.attempt])
            reply = taker.device.request("page", "GET", url)
            if reply.status != 200 or b'name="questions"' not in reply.body:
                failures.append(live.refused(reply, f"{taker.user.username}'s quiz page"))
            taker.device.close()

    pool = [threading.Thread(target=work) for _ in range(16)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    if failures:
        sys.exit(failures[0])
    for taker in takers:
        taker.device.samples.clear()


def take(taker: Taker, clock: live.Clock, rng: random.Random, costs: Costs) -> None:
    """One student: autosaves every 3-5 s until their moment to submit, then submits
    and opens the result page it redirects to."""
    device = taker.device
    save_url = reverse("cases:attempt_save", args=[taker.attempt])
    submit_url = reverse("cases:attempt_submit", args=[taker.attempt])
    result_url = reverse("cases:attempt_result", args=[taker.attempt])
    moment = clock.lead_start + taker.first_save
    submit_due = clock.lead_start + taker.submit_at
    try:
        while submit_due > moment:
            if not clock.sleep_until(moment):
                return
            slot = rng.choice(taker.slots)
            # app.js sends Date.now(); one student's clock only moves on.
            taker.seq = max(taker.seq + 1, int(time.time() * 1000))
            value = f"Surge {taker.user.username} {taker.seq}"
            form = {"questions": str(slot), f"q{slot}": value, "seq": str(taker.seq)}
            reply = costs.request(device, "autosave", "POST", save_url, form=form, headers=HTMX)
            acknowledged = reply.status == 200 and b"Saved " in reply.body
            taker.saves.append(Save(slot, taker.seq, value, reply.sample, acknowledged))
            gap = rng.uniform(*SAVE_EVERY)
            following = live.next_tick(moment, gap)
            # Saves due while this one was out are not sent: the load follows the server.
            taker.skipped += round((following - moment) / gap) - 1
            moment = following
        if not clock.sleep_until(submit_due):
            return
        reply = costs.request(device, "submit", "POST", submit_url, form={})
        taker.submit = reply.sample
        taker.submit_acknowledged = (
            reply.status == 302 and reply.headers.get("location") == result_url
        )
        if taker.submit_acknowledged:
            taker.result = costs.request(device, "result", "GET", result_url).sample
    finally:
        device.close()


def quiz_surge(port: int, server, course: Course) -> tuple[list[str], bool]:
    """Run the quiz deadline surge and print its table; the goals missed, and whether
    the run failed (an error or a lost write)."""
    started = time.perf_counter()
    takers, by_quiz = quiz_takers(course, port)
    open_pages(takers)
    setup_seconds = time.perf_counter() - started
    rng = random.Random(SEED)
    for taker in takers:
        taker.first_save = rng.uniform(0, SAVE_EVERY[1])
        taker.submit_at = rng.uniform(0, SECONDS)
    clock = live.Clock(time.perf_counter() + 1.0)
    costs = Costs()
    threads = [
        threading.Thread(target=take, args=(t, clock, random.Random(SEED + n), costs), daemon=True)
        for n, t in enumerate(takers)
    ]
    for thread in threads:
        thread.start()
    clock.sleep_until(clock.lead_start)
    before = CpuSnapshot.take()
    deadline = clock.lead_start + SECONDS + TIMEOUT + 5
    for thread in threads:
        thread.join(timeout=max(0.0, deadline - time.perf_counter()))
    clock.stop.set()
    for thread in threads:
        thread.join()
    after = CpuSnapshot.take()
    backends = database_backends()

    # What the database holds against what was acknowledged.
    saves = [s for t in takers for s in t.saves]
    sent = {(s.slot, s.seq): s.value for s in saves}
    stored = stored_answers({s.slot for s in saves})
    lost_saves = 0
    for save in saves:
        seq, text = stored.get(save.slot, (None, None))
        holds_ours = seq is not None and sent.get((save.slot, seq)) == text
        if save.acknowledged and not (holds_ours and seq >= save.seq):
            lost_saves += 1
    submitted = set(
        Attempt.objects.filter(
            pk__in=[t.attempt for t in takers], state=AttemptState.SUBMITTED
        ).values_list("pk", flat=True)
    )
    acknowledged_submits = [t for t in takers if t.submit_acknowledged]
    lost_submits = sum(1 for t in acknowledged_submits if t.attempt not in submitted)

    samples = [s for t in takers for s in t.device.samples]
    expected = {"autosave": {200}, "submit": {302}, "result": {200}}
    server_errors = sum(1 for s in samples if s.status >= 500)
    unexpected = sum(1 for s in samples if 0 < s.status < 500 and s.status not in expected[s.kind])
    connection_errors = sum(1 for s in samples if s.status == 0)
    unacknowledged = sum(1 for s in saves if not s.acknowledged) + sum(
        1 for t in takers if t.submit and not t.submit_acknowledged
    )
    never_submitted = sum(1 for t in takers if t.submit is None)
    errors = server_errors + unexpected + connection_errors + unacknowledged + never_submitted

    print(
        f"\nQuiz deadline surge: {len(takers)} students autosave every "
        f"{SAVE_EVERY[0]:g}-{SAVE_EVERY[1]:g} s and each submits once within {SECONDS:g} s"
    )
    print(
        f"setup: {len(takers)} open attempts on {len(by_quiz)} quiz(zes) "
        f"({', '.join(f'quiz {q}: {n}' for q, n in sorted(by_quiz.items()))}), "
        f"signed in and opened over HTTP in {setup_seconds:.1f} s"
    )

    def kind(name: str) -> list[float]:
        return [s.ms for s in samples if s.kind == name]

    autosave_ms, submit_ms = kind("autosave"), kind("submit")
    slice_seconds = SECONDS / 4
    slices = [
        [
            s.ms
            for s in samples
            if n * slice_seconds <= s.start - clock.lead_start < (n + 1) * slice_seconds
        ]
        for n in range(4)
    ]
    devices = [t.device for t in takers]
    rows = server_rows(before, after, server, len(samples), backends, clock.late)
    table(
        "quiz surge",
        [
            (
                "autosaves sent / acknowledged / lost",
                f"{len(saves)} / {sum(s.acknowledged for s in saves)} / {lost_saves}",
            ),
            (
                "autosaves skipped: due while the student's last one was still out",
                str(sum(t.skipped for t in takers)),
            ),
            ("autosave p50 / p99 / max ms", spread(autosave_ms)),
            (
                "submits sent / acknowledged / submitted in the database / lost",
                f"{sum(t.submit is not None for t in takers)} / {len(acknowledged_submits)} / "
                f"{len(submitted)} / {lost_submits}",
            ),
            ("submit p50 / p99 / max ms", spread(submit_ms)),
            ("result page after submit p50 / p99 / max ms", spread(kind("result"))),
            (
                f"every request by {slice_seconds:g} s of the window: requests, p99 ms",
                " / ".join(f"{len(v)}, {percentile(v, 0.99):.0f}" for v in slices),
            ),
            *rows,
            *costs.rows(),
            (
                "connections opened / stale keep-alive retries",
                f"{sum(d.connects for d in devices)} / {sum(d.retries for d in devices)}",
            ),
            (
                "errors: 5xx / unexpected status / connection / unacknowledged / never sent",
                f"{server_errors} / {unexpected} / {connection_errors} / {unacknowledged} / "
                f"{never_submitted}",
            ),
        ],
    )
    lost = lost_saves + lost_submits
    p99 = {
        name: percentile(values, 0.99)
        for name, values in [("autosave", autosave_ms), ("submit", submit_ms)]
    }
    missed = print_goals(
        [
            (
                f"quiz surge: autosave p99 < {QUIZ_P99_MS} ms",
                p99["autosave"],
                p99["autosave"] < QUIZ_P99_MS,
            ),
            (
                f"quiz surge: submit p99 < {QUIZ_P99_MS} ms",
                p99["submit"],
                p99["submit"] < QUIZ_P99_MS,
            ),
            ("quiz surge: errors == 0", errors, errors == 0),
            ("quiz surge: writes lost == 0", lost, lost == 0),
        ]
    )
    return missed, errors > 0 or lost > 0


# Live class surge -------------------------------------------------------------------------


@dataclass
class Phone(live.Student):
    """A student's phone through both polls: when they answer each (seconds after they
    see it) and with what."""

    delays: list[float] = field(default_factory=list)
    picks: list[int] = field(default_factory=list)
    answers: dict[int, Sample] = field(default_factory=dict)  # By round.
    confirmed: set[int] = field(default_factory=set)
    seen: float = 0.0  # When the phone last showed the state.


@dataclass
class Round:
    poll_id: str
    launched_at: float
    launch: Sample
    acks: list[float] = field(default_factory=list)
    all_shown_at: float | None = None
    reveal: Sample | None = None


class Class(live.Clock):
    """The live class's timeline: the rounds the instructor launched so far."""

    def __init__(self, lead_start: float):
        super().__init__(lead_start)
        self.rounds: list[Round] = []


def phone(student: Phone, clock: Class, state_url: str, answer_url: str, costs: Costs) -> None:
    """Polls every 3 s from the lead-in on; answers each poll once, a moment after the
    phone shows it."""
    device = student.device

    def poll_state() -> None:
        reply = costs.request(
            device, "state", "GET", f"{state_url}?known={student.known}", headers=HTMX
        )
        if reply.status == 200:
            if found := live.KNOWN.search(reply.body):
                student.known = found.group(1).decode()
            found = live.POLL_ID.search(reply.body)
            student.poll_id = found.group(1).decode() if found else None

    def answer_due() -> tuple[int, float] | None:
        """The round to answer and when, once the phone shows its poll."""
        for number, round_ in enumerate(clock.rounds):
            if number not in student.answers and student.poll_id == round_.poll_id:
                return number, max(round_.launched_at + student.delays[number], student.seen)
        return None

    next_poll = clock.lead_start + student.lead_poll_at
    try:
        while not clock.stop.is_set():
            due = answer_due()
            if due is not None and due[1] <= next_poll:
                number, moment = due
                if not clock.sleep_until(moment):
                    return
                options = POLLS[number][1]
                form = {"poll": student.poll_id, "answer": student.picks[number]}
                reply = costs.request(device, "answer", "POST", answer_url, form=form, headers=HTMX)
                student.answers[number] = reply.sample
                chosen = escape(options[student.picks[number]])
                mine = f"Your answer: <strong>{chosen}</strong>".encode()
                if reply.status == 200 and mine in reply.body:
                    student.confirmed.add(number)
                if found := live.KNOWN.search(reply.body):
                    student.known = found.group(1).decode()
                continue
            if not clock.sleep_until(next_poll):
                return
            poll_state()
            student.seen = time.perf_counter()
            next_poll = live.next_tick(next_poll, live.PHONE_EVERY)
    finally:
        device.close()


def run_round(
    number: int, session: LiveSession, console: Device, clock: Class, phones, screen, costs
):
    """The instructor launches poll `number`; every student answers; once the projector
    shows them all (or TAIL s after the last), the instructor reveals the results."""
    prompt, options = POLLS[number]
    form = {"kind": "single", "prompt": prompt, "options": "\n".join(options), "launch": "on"}
    create = reverse("cases:live_poll_create", args=[session.pk])
    launch = costs.request(console, "launch", "POST", create, form=form, headers=HTMX)
    poll = LivePoll.objects.filter(session=session).order_by("-position").first()
    round_ = Round(str(poll.pk), launch.sample.end, launch.sample)
    clock.rounds.append(round_)
    deadline = round_.launched_at + live.ANSWER_WINDOW + live.PHONE_EVERY + TIMEOUT
    while time.perf_counter() < deadline and any(number not in p.answers for p in phones):
        time.sleep(0.02)
    round_.acks = sorted(
        p.answers[number].end
        for p in phones
        if number in p.answers and p.answers[number].status == 200
    )
    last = round_.acks[-1] if round_.acks else time.perf_counter()
    while time.perf_counter() < last + live.TAIL and screen.shown < len(phones):
        time.sleep(0.01)
    control = reverse("cases:live_poll_control", args=[poll.pk])
    round_.reveal = costs.request(
        console, "reveal", "POST", control, form={"action": "reveal"}, headers=HTMX
    ).sample
    return round_, poll


def live_surge(port: int, server, course: Course, instructor: User) -> tuple[list[str], bool]:
    """Run the live class surge and print its table; the goals missed, and whether the
    run failed (an error, a lost answer, a projector that missed answers)."""
    LiveSession.objects.filter(course=course, title__startswith="Bench surge").delete()
    session = live_services.session_start(course=course, by=instructor, title="Bench surge")
    users = list(
        User.objects.filter(cohorts__courses=course).order_by("username").distinct()[:PHONES]
    )
    teacher = sign_in(instructor)
    phones = [Phone(Device(port, *sign_in(user)), user) for user in users]
    live.check_before(port, session, teacher, sign_in(users[0]))
    started = time.perf_counter()
    live.join_all(phones, session)
    join_seconds = time.perf_counter() - started
    joined = LiveAttendance.objects.filter(session=session).count()
    if joined != len(phones):
        sys.exit(f"{joined} of {len(phones)} students joined")
    rng = random.Random(SEED)
    for p in phones:
        p.delays = [rng.uniform(0, live.ANSWER_WINDOW) for _ in POLLS]
        p.picks = [rng.randrange(len(options)) for _prompt, options in POLLS]
        p.lead_poll_at = rng.uniform(0, live.PHONE_EVERY)
        p.device.samples.clear()

    state_url = reverse("cases:live_state", args=[session.pk])
    answer_url = reverse("cases:live_answer", args=[session.pk])
    projector_url = reverse("cases:live_projector", args=[session.pk])
    clock = Class(time.perf_counter() + 1.0)
    costs = Costs()
    screen = live.Projector(Device(port, *teacher), 1.0)
    threads = [
        threading.Thread(target=phone, args=(p, clock, state_url, answer_url, costs), daemon=True)
        for p in phones
    ]
    threads.append(
        threading.Thread(target=live.projector, args=(screen, clock, projector_url), daemon=True)
    )
    for thread in threads:
        thread.start()
    clock.sleep_until(clock.lead_start - 0.05)
    before = CpuSnapshot.take()
    clock.sleep_until(clock.lead_start + live.LEAD_IN)

    console = Device(port, *teacher)
    rounds = []
    for number in range(len(POLLS)):
        if number:
            clock.sleep_until(time.perf_counter() + DISCUSS)
        round_, poll = run_round(number, session, console, clock, phones, screen, costs)
        rounds.append((round_, poll))
    clock.sleep_until(time.perf_counter() + CLOSE_AFTER)
    control = reverse("cases:live_poll_control", args=[poll.pk])
    close = costs.request(
        console, "close", "POST", control, form={"action": "close"}, headers=HTMX
    ).sample
    clock.sleep_until(time.perf_counter() + live.PHONE_EVERY + 0.5)  # Every phone sees it.
    console.close()
    clock.stop.set()
    for thread in threads:
        thread.join()
    after = CpuSnapshot.take()
    backends = database_backends()

    print(
        f"\nLive class surge: {len(phones)} phones poll every {live.PHONE_EVERY:g} s and the "
        f"projector every 1 s; the instructor launches, reveals and moves on through "
        f"{len(POLLS)} polls, each answered by every student within "
        f"{live.ANSWER_WINDOW:g} s of seeing it"
    )
    print(f"setup: {joined} students joined and opened the page over HTTP in {join_seconds:.1f} s")

    shots = screen.device.samples
    lost_total, unconfirmed_total, projector_failed = 0, 0, False
    round_rows = []
    for number, (round_, poll) in enumerate(rounds):
        stored = dict(LiveAnswer.objects.filter(poll=poll).values_list("user_id", "choices"))
        sent = [p for p in phones if number in p.answers]
        acked = [p for p in sent if p.answers[number].status == 200]
        lost = [p for p in phones if stored.get(p.user.pk) != [p.picks[number]]]
        unconfirmed = [p for p in acked if number not in p.confirmed]
        lost_total += len(lost)
        unconfirmed_total += len(unconfirmed)
        # The projector's requests while this poll was on screen.
        until = rounds[number + 1][0].launch.start if number + 1 < len(rounds) else after.at
        on_screen = [s for s in shots if s.start >= round_.launched_at and s.end <= until]
        full = next((s.end for s in on_screen if s.shown >= len(phones)), None)
        stale = sum(1 for s in on_screen if s.shown < sum(a <= s.start for a in round_.acks))
        projector_failed |= full is None or stale > 0
        last_ack = round_.acks[-1] if round_.acks else round_.launched_at
        round_rows += [
            (
                f"poll {number + 1}: sent / acknowledged / stored / lost",
                f"{len(sent)} / {len(acked)} / {len(stored)} / {len(lost)}",
            ),
            (
                f"poll {number + 1}: answer p50 / p99 / max ms",
                spread([p.answers[number].ms for p in sent]),
            ),
            (
                f"poll {number + 1}: launch / reveal ms",
                f"{round_.launch.ms:.0f} ({round_.launch.status}) / "
                f"{round_.reveal.ms:.0f} ({round_.reveal.status})",
            ),
            (
                f"poll {number + 1}: last answer, s after launch / projector shows all, ms after",
                f"{last_ack - round_.launched_at:.1f} / "
                + (f"{(full - last_ack) * 1000:.0f}" if full else "never"),
            ),
            (f"poll {number + 1}: projector responses showing fewer than acknowledged", str(stale)),
        ]

    phone_samples = [s for p in phones for s in p.device.samples]
    states = [s for s in phone_samples if s.kind == "state"]
    unchanged = [s for s in states if s.status == 204]
    console_samples = [r.launch for r, _p in rounds] + [r.reveal for r, _p in rounds] + [close]
    samples = phone_samples + shots + console_samples
    expected = {
        "state": {200, 204},
        "answer": {200},
        "projector": {200, 304},
        "launch": {200},  # The console's htmx forms get the polls' part back.
        "reveal": {200},
        "close": {200},
    }
    server_errors = sum(1 for s in samples if s.status >= 500)
    unexpected = sum(1 for s in samples if 0 < s.status < 500 and s.status not in expected[s.kind])
    connection_errors = sum(1 for s in samples if s.status == 0)
    errors = server_errors + unexpected + connection_errors + unconfirmed_total
    rows = server_rows(before, after, server, len(samples), backends, clock.late)
    devices = [p.device for p in phones] + [screen.device]
    table(
        "live surge",
        [
            *round_rows,
            (
                "phone polls: requests / 204 share",
                f"{len(states)} / {len(unchanged) / max(1, len(states)):.1%}",
            ),
            ("phone polls 204 p50 / p99 / max ms", spread([s.ms for s in unchanged])),
            (
                "phone polls 200 p50 / p99 / max ms",
                spread([s.ms for s in states if s.status != 204]),
            ),
            ("phones, every request p50 / p99 / max ms", spread([s.ms for s in phone_samples])),
            (
                "projector: requests / 304 / 200; p50 / p99 / max ms",
                f"{len(shots)} / {sum(s.status == 304 for s in shots)} / "
                f"{sum(s.status == 200 for s in shots)}; {spread([s.ms for s in shots])}",
            ),
            ("instructor's close", f"{close.status} in {close.ms:.0f} ms"),
            *rows,
            *costs.rows(),
            (
                "connections opened / stale keep-alive retries",
                f"{sum(d.connects for d in devices)} / {sum(d.retries for d in devices)}",
            ),
            (
                "errors: 5xx / unexpected status / connection / answer not shown back",
                f"{server_errors} / {unexpected} / {connection_errors} / {unconfirmed_total}",
            ),
        ],
    )
    phone_p99 = percentile([s.ms for s in phone_samples], 0.99)
    missed = print_goals(
        [
            (f"live surge: phones' p99 < {PHONE_P99_MS} ms", phone_p99, phone_p99 < PHONE_P99_MS),
            ("live surge: errors == 0", errors, errors == 0),
            ("live surge: answers lost == 0", lost_total, lost_total == 0),
            (
                "live surge: the projector shows every answer",
                not projector_failed,
                not projector_failed,
            ),
        ]
    )
    return missed, errors > 0 or lost_total > 0 or projector_failed


# Both -------------------------------------------------------------------------------------


def run(port: int, server, course: Course, instructor: User) -> bool:
    """Both surges on a running server; True if either failed."""
    _missed, quiz_failed = quiz_surge(port, server, course)
    _missed, live_failed = live_surge(port, server, course, instructor)
    return quiz_failed or live_failed


def main() -> int:
    import load  # Its setup: the LOAD course built afresh, as `make bench` builds it.

    cache_name = check_cache()
    course, instructor, _students = load.prepare()
    print(run_setting(WORKERS, THREADS, cache_name))
    port = int(os.environ.get("BENCH_PORT") or free_port())
    workdir = Path(tempfile.mkdtemp(prefix="bench-surge-"))
    log_path = workdir / "gunicorn.log"
    failed = True
    with log_path.open("w") as log:
        env = {"DJANGO_SETTINGS_MODULE": "benchsite", "PYTHONPATH": str(ROOT / "bench")}
        server = start_gunicorn(port, log, workers=WORKERS, threads=THREADS, env=env)
        try:
            wait_ready(server, port, WORKERS)
            failed = run(port, server, course, instructor)
        finally:
            stop_gunicorn(server)
            tracebacks = log_path.read_text().count("Traceback")
            if tracebacks:
                print(f"{tracebacks} tracebacks in gunicorn's log")
                failed = True
            if failed:
                print(f"gunicorn's log: {log_path}")
    if not failed:
        log_path.unlink()
        workdir.rmdir()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
