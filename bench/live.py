"""Load a live poll the way a class does: 200 students answer one single-choice poll
within ten seconds of its launch, through gunicorn processes on PostgreSQL with the
Redis cache, with DEBUG off, and prove that no answer is lost and the projector keeps
up.

    make bench-live
    # or, with the same defaults:
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/redqueen_bench_live \\
        REDIS_URL=redis://127.0.0.1:6379/7 .venv/bin/python bench/live.py

Creates the database if it is missing, migrates it, collects static files and builds
its own course the first time (BENCH LIVE: one cohort of 200 students, an instructor and
a live-session item given to the cohort); every run deletes the course's earlier
sessions and starts a fresh one. Then it starts gunicorn (BENCH_WORKERS x BENCH_THREADS
gthread, default 4 x 4) on a free port, and every student joins and opens the session
page over HTTP (not timed). `REDIS_URL=` (empty) runs on each process's local memory.

The timed window opens three seconds before the launch, with every phone polling its
state every 3 s carrying the version its page showed (an unchanged session answers 204)
and the projector polling every second with If-None-Match, as htmx does, beside a
second projector polling every 0.25 s for a finer measure of its lag. The instructor
launches the poll over HTTP. Each student answers once at a uniformly random moment in
the ten seconds after the launch, with the poll id from the fragment their phone got
(a phone's first poll after the launch falls before its student's answer). The window
closes when both projectors show every answer, or 5 s after the last one.

Prints a table: answers sent, acknowledged and stored; latencies; 204 and 304 shares;
the projector's lag behind the last answer; server CPU per request. Exits non-zero if an
answer was lost, a request failed (5xx, unexpected status or connection error) or a
projector showed fewer answers than had been acknowledged before it asked.
"""

import math
import os
import random
import re
import sys
import tempfile
import threading
import time
from bisect import bisect_left
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import production

production.setup(
    DATABASE_URL="postgres://postgres@127.0.0.1:5432/redqueen_bench_live",
    REDIS_URL="redis://127.0.0.1:6379/7",
)

from django.core.management import call_command  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.urls import reverse  # noqa: E402
from django.utils import timezone  # noqa: E402
from harness import (  # noqa: E402
    TIMEOUT,
    CpuSnapshot,
    Device,
    Reply,
    Sample,
    check_cache,
    children,
    cpu_seconds,
    create_database,
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

from cases.models import (  # noqa: E402
    Assignment,
    Cohort,
    Course,
    ItemKind,
    LiveAnswer,
    LiveAttendance,
    LiveClass,
    LivePoll,
    LiveSession,
    Membership,
    Module,
    ModuleItem,
    User,
)
from cases.services import live as services  # noqa: E402

STUDENTS = int(os.environ.get("BENCH_STUDENTS", "200"))
WORKERS = int(os.environ.get("BENCH_WORKERS", "4"))
THREADS = int(os.environ.get("BENCH_THREADS", "4"))
CODE = "BENCH LIVE"
OPTIONS = ["Licence the technology", "Form a joint venture", "Stay out of China"]
ANSWER_WINDOW = 10.0  # Every student answers within this many seconds of the launch.
PHONE_EVERY = 3.0  # The phone's htmx poll (templates/cases/live/student.html).
PROJECTORS = (1.0, 0.25)  # The projector's htmx poll, and a tighter one to measure lag.
LEAD_IN = 3.0  # Phones and projectors poll this long before the launch.
TAIL = 5.0  # After the last answer, projectors poll this long at most to show them all.

KNOWN = re.compile(rb"known=([0-9a-z-]*)")
POLL_ID = re.compile(rb'name="poll" value="(\d+)"')
SHOWN = re.compile(rb'class="projector__meta">(\d+) answer')


# Setup ------------------------------------------------------------------------------


@transaction.atomic
def seed() -> tuple[ModuleItem, User, list[User]]:
    """The bench course: its live-session item, instructor and students, built once."""
    course = Course.objects.filter(code=CODE).first()
    if course is None:
        course = Course.objects.create(code=CODE, title="Live poll benchmark")
        course.instructors.add(
            User.objects.create(username="bench-live-instructor", first_name="Bench")
        )
        cohort = Cohort.objects.create(name="Bench live section")
        course.cohorts.add(cohort)
        module = Module.objects.create(course=course, title="Live class", position=0)
        item = ModuleItem.objects.create(
            module=module, kind=ItemKind.LIVE_SESSION, title="Class 1: Shanghai Bell"
        )
        LiveClass.objects.create(item=item)
        due = timezone.now() + timedelta(days=365)
        Assignment.objects.create(item=item, cohort=cohort, due_at=due, points=10)
    cohort = course.cohorts.get()
    item = ModuleItem.objects.get(module__course=course, kind=ItemKind.LIVE_SESSION)
    names = [f"bench-live-{n:03d}" for n in range(STUDENTS)]
    have = set(User.objects.filter(username__in=names).values_list("username", flat=True))
    User.objects.bulk_create(
        User(username=name, first_name="Student", last_name=name[-3:])
        for name in names
        if name not in have
    )
    students = list(User.objects.filter(username__in=names).order_by("username"))
    Membership.objects.bulk_create(
        [Membership(cohort=cohort, user=s) for s in students], ignore_conflicts=True
    )
    return item, course.instructors.get(), students


def fresh_session(item: ModuleItem, instructor: User) -> LiveSession:
    course = item.module.course
    LiveSession.objects.filter(course=course).delete()
    stamp = timezone.now().strftime("%Y-%m-%d %H:%M:%S")
    return services.session_start(course=course, by=instructor, title=f"Bench {stamp}", item=item)


# The class ---------------------------------------------------------------------------


@dataclass
class Student:
    device: Device
    user: User
    known: str = ""  # The version the phone shows.
    answer_at: float = 0.0  # Seconds after the launch.
    first_poll_at: float = 0.0
    lead_poll_at: float = 0.0  # Seconds into the lead-in.
    choice: int = 0
    poll_id: str | None = None
    answer: Sample | None = None
    answer_confirmed: bool = False
    done: threading.Event = field(default_factory=threading.Event)


class Clock:
    """The timeline every client follows: the lead-in start, the launch, the stop."""

    def __init__(self, lead_start: float):
        self.lead_start = lead_start
        self.launched_at = 0.0
        self.launched = threading.Event()
        self.stop = threading.Event()
        # How late a client that slept woke for its next request: the load generator's
        # own delay (a request due while the previous one was still out is not counted).
        self.late: list[float] = []

    def sleep_until(self, moment: float) -> bool:
        """Wait for the moment; False if the run stopped first."""
        delay = moment - time.perf_counter()
        if delay <= 0:
            return not self.stop.is_set()
        if self.stop.wait(delay):
            return False
        self.late.append(time.perf_counter() - moment)
        return True


def next_tick(moment: float, every: float) -> float:
    """The next poll of a timer that fires every `every` seconds from `moment`: like
    htmx, a device skips the ticks that came while its request was out."""
    now = time.perf_counter()
    moment += every
    if moment < now:
        moment += math.ceil((now - moment) / every) * every
    return moment


def phone(student: Student, clock: Clock, state_url: str, answer_url: str) -> None:
    device = student.device
    htmx = {"HX-Request": "true"}

    def poll_state() -> None:
        reply = device.request("state", "GET", f"{state_url}?known={student.known}", headers=htmx)
        if reply.status == 200:
            if found := KNOWN.search(reply.body):
                student.known = found.group(1).decode()
            if found := POLL_ID.search(reply.body):
                student.poll_id = found.group(1).decode()

    try:
        if not clock.sleep_until(clock.lead_start + student.lead_poll_at):
            return
        poll_state()
        clock.launched.wait()
        next_poll = clock.launched_at + student.first_poll_at
        answer_due = clock.launched_at + student.answer_at
        while not clock.stop.is_set():
            if student.answer is None and student.poll_id and answer_due <= next_poll:
                if not clock.sleep_until(answer_due):
                    return
                form = {"poll": student.poll_id, "answer": student.choice}
                reply = device.request("answer", "POST", answer_url, form=form, headers=htmx)
                student.answer = reply.sample
                mine = f"Your answer: <strong>{OPTIONS[student.choice]}</strong>".encode()
                student.answer_confirmed = reply.status == 200 and mine in reply.body
                if found := KNOWN.search(reply.body):
                    student.known = found.group(1).decode()
                student.done.set()
                continue
            if not clock.sleep_until(next_poll):
                return
            poll_state()
            next_poll = next_tick(next_poll, PHONE_EVERY)
    finally:
        student.done.set()
        device.close()


@dataclass
class Projector:
    device: Device
    every: float
    shown: int = 0
    etag: str = ""


def projector(screen: Projector, clock: Clock, url: str) -> None:
    device = screen.device
    moment = clock.lead_start
    try:
        while clock.sleep_until(moment):
            headers = {"HX-Request": "true"}
            if screen.etag:
                headers["If-None-Match"] = screen.etag
            reply = device.request("projector", "GET", url, headers=headers)
            if reply.status == 200:
                screen.etag = reply.headers.get("etag", "")
                found = SHOWN.search(reply.body)
                screen.shown = int(found.group(1)) if found else 0
            reply.sample.shown = screen.shown
            moment = next_tick(moment, screen.every)
    finally:
        device.close()


# Checks before the load ----------------------------------------------------------------


def refused(reply: Reply, what: str) -> str:
    """Why a request before the load went wrong, as the message to exit with."""
    hint = ""
    if reply.status == 403:
        hint = " (CSRF or permission refused: check the cookie and X-CSRFToken)"
    elif "hx-redirect" in reply.headers or "login" in reply.headers.get("location", ""):
        hint = " (not signed in: the session cookie was not accepted)"
    return f"{what}; got {reply.status}{hint}: {reply.body[:300]!r}"


def expect(reply: Reply, status: int, what: str) -> Reply:
    if reply.status == status and "hx-redirect" not in reply.headers:
        return reply
    sys.exit(refused(reply, f"{what}: expected {status}"))


def join_all(students: list[Student], session: LiveSession) -> None:
    """Every student joins over HTTP and opens the session page it redirects to, whose
    live-state block gives the version the phone starts from. Sixteen at a time."""
    join_url = reverse("cases:live_session_join", args=[session.pk])
    page_url = session.get_absolute_url()
    pending = list(students)
    lock = threading.Lock()
    failures = []

    def work() -> None:
        while True:
            with lock:
                if not pending or failures:
                    return
                student = pending.pop()
            device, name = student.device, student.user.username
            reply = device.request("join", "POST", join_url, form={})
            if reply.status != 302 or reply.headers.get("location") != page_url:
                failures.append(refused(reply, f"{name} joining: expected 302 to {page_url}"))
                return
            reply = device.request("page", "GET", page_url)
            found = KNOWN.search(reply.body)
            if reply.status != 200 or not found:
                failures.append(refused(reply, f"{name}'s page: expected 200 with live state"))
                return
            student.known = found.group(1).decode()
            device.close()

    pool = [threading.Thread(target=work) for _ in range(16)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    if failures:
        sys.exit(failures[0])


def check_before(port: int, session: LiveSession, instructor: tuple[str, str], first) -> None:
    """Fail loudly before the load if signing in, CSRF or the ETag round trip fails."""
    device = Device(port, *first)
    state_url = reverse("cases:live_state", args=[session.pk])
    htmx = {"HX-Request": "true"}
    reply = device.request("check", "GET", f"{state_url}?known=-1", headers=htmx)
    expect(reply, 200, "a student's state poll")
    if b'id="live-state"' not in reply.body:
        sys.exit(f"a student's state poll: no live state in {reply.body[:300]!r}")
    device.close()
    device = Device(port, *instructor)
    url = reverse("cases:live_projector", args=[session.pk])
    reply = expect(device.request("check", "GET", url, headers=htmx), 200, "the projector")
    etag = reply.headers.get("etag", "")
    headers = {**htmx, "If-None-Match": etag}
    expect(device.request("check", "GET", url, headers=headers), 304, "the unchanged projector")
    device.close()


# Report ------------------------------------------------------------------------------


def spread(values: list[float]) -> str:
    if not values:
        return "-"
    return " / ".join(
        f"{v:.1f}" for v in (percentile(values, 0.5), percentile(values, 0.99), max(values))
    )


def main() -> int:
    create_database()
    cache_name = check_cache()
    call_command("migrate", verbosity=0)
    call_command("collectstatic", interactive=False, verbosity=0)  # Production's manifest.
    item, instructor, users = seed()
    session = fresh_session(item, instructor)
    with connection.cursor() as cursor:
        # The last run's session, its attendance and answers, just deleted, go as
        # autovacuum would take them (this machine's PostgreSQL runs without it), and the
        # planner sees the tables as they are.
        cursor.execute("VACUUM ANALYZE")
    config = run_setting(WORKERS, THREADS, cache_name)

    port = int(os.environ.get("BENCH_PORT") or free_port())
    workdir = Path(tempfile.mkdtemp(prefix="bench-live-"))
    log_path = workdir / "gunicorn.log"
    failed = True
    with log_path.open("w") as log:
        server = start_gunicorn(port, log, workers=WORKERS, threads=THREADS)
        try:
            wait_ready(server, port, WORKERS)
            failed = bench(port, server, session, instructor, users, config)
        finally:
            stop_gunicorn(server)
            log_text = log_path.read_text()
            errors = log_text.count("Traceback") + log_text.count("Internal Server Error")
            if server.returncode or errors:
                print(f"gunicorn exited with {server.returncode}, {errors} errors in its log")
                failed = True
            if failed:
                print(f"gunicorn's log: {log_path}")
    if not failed:
        log_path.unlink()
        workdir.rmdir()
    return 1 if failed else 0


def bench(port: int, server, session: LiveSession, instructor: User, users, config: str) -> bool:
    """Join, run the timed window, print the table; True if the run failed."""
    teacher = sign_in(instructor)
    students = [Student(Device(port, *sign_in(user)), user) for user in users]
    check_before(port, session, teacher, sign_in(users[0]))
    started = time.perf_counter()
    join_all(students, session)
    join_seconds = time.perf_counter() - started
    joined = LiveAttendance.objects.filter(session=session).count()
    if joined != len(students):
        sys.exit(f"{joined} of {len(students)} students joined")
    known_before = ", ".join(sorted({student.known for student in students}))
    rng = random.Random(int(os.environ.get("BENCH_SEED", "7")))
    for student in students:
        student.answer_at = rng.uniform(0, ANSWER_WINDOW)
        # A phone's first poll after the launch comes before its student answers.
        student.first_poll_at = rng.uniform(0, min(PHONE_EVERY, student.answer_at))
        student.lead_poll_at = rng.uniform(0, LEAD_IN)
        student.choice = rng.randrange(len(OPTIONS))
        student.device.samples.clear()
    window = play(port, session, teacher, students)
    session.refresh_from_db()
    print(
        f"\nLive poll: {len(students)} students answer one single-choice poll within "
        f"{ANSWER_WINDOW:.0f} s of its launch"
    )
    print(config)
    print(
        f"setup: {joined} students joined and opened the page over HTTP in {join_seconds:.1f} s;"
        f" session version before the launch {known_before}, after {session.version}"
    )
    return report(window, session, server)


@dataclass
class Window:
    """What the timed window saw."""

    students: list[Student]
    screens: list[Projector]
    clock: Clock
    launch: Sample
    before: CpuSnapshot
    after: CpuSnapshot
    acks: list[float]  # When each acknowledged answer came back, in order.

    @property
    def samples(self) -> list[Sample]:
        devices = [s.device for s in self.students] + [s.device for s in self.screens]
        return [sample for device in devices for sample in device.samples] + [self.launch]

    def since_launch(self, moment: float) -> float:
        return moment - self.clock.launched_at


def play(port: int, session: LiveSession, teacher, students: list[Student]) -> Window:
    """The timed window: phones and projectors poll, the instructor launches the poll,
    students answer; it closes when the projectors show every answer (or TAIL seconds
    after the last)."""
    state_url = reverse("cases:live_state", args=[session.pk])
    answer_url = reverse("cases:live_answer", args=[session.pk])
    projector_url = reverse("cases:live_projector", args=[session.pk])
    clock = Clock(time.perf_counter() + 1.0)
    screens = [Projector(Device(port, *teacher), every) for every in PROJECTORS]
    threads = [
        threading.Thread(target=phone, args=(s, clock, state_url, answer_url)) for s in students
    ]
    threads += [threading.Thread(target=projector, args=(s, clock, projector_url)) for s in screens]
    for thread in threads:
        thread.start()
    clock.sleep_until(clock.lead_start - 0.05)
    before = CpuSnapshot.take()

    clock.sleep_until(clock.lead_start + LEAD_IN)
    console = Device(port, *teacher)
    form = {"kind": "single", "prompt": "What should Alcatel do?", "options": "\n".join(OPTIONS)}
    launch_url = reverse("cases:live_poll_create", args=[session.pk])
    launch = console.request("launch", "POST", launch_url, form={**form, "launch": "on"})
    console.close()
    clock.launched_at = launch.sample.end
    clock.launched.set()

    deadline = clock.launched_at + ANSWER_WINDOW + TIMEOUT
    for student in students:
        student.done.wait(timeout=max(0.0, deadline - time.perf_counter()))
    acks = sorted(s.answer.end for s in students if s.answer and s.answer.status == 200)
    last = acks[-1] if acks else time.perf_counter()
    while time.perf_counter() < last + TAIL:
        if all(screen.shown >= len(students) for screen in screens):
            break
        time.sleep(0.01)
    clock.stop.set()
    for thread in threads:
        thread.join()
    after = CpuSnapshot.take()
    return Window(students, screens, clock, launch.sample, before, after, acks)


def report(window: Window, session: LiveSession, server) -> bool:
    """Print the tables; True if an answer was lost, a request failed or a projector
    fell behind."""
    students, acks = window.students, window.acks
    last_ack = acks[-1] if acks else window.after.at
    marks = [
        window.clock.launched_at + t for t in range(1, math.ceil(window.since_launch(last_ack)) + 2)
    ]

    poll = LivePoll.objects.get(session=session)
    stored = dict(LiveAnswer.objects.filter(poll=poll).values_list("user_id", "choices"))
    answers = [s.answer for s in students if s.answer]
    acked = [s for s in students if s.answer and s.answer.status == 200]
    lost = [s for s in students if s.answer and stored.get(s.user.pk) != [s.choice]]
    unconfirmed = [s for s in acked if not s.answer_confirmed]
    sent_at = [window.since_launch(s.start) for s in answers] or [math.nan]
    table(
        "answers",
        [
            (
                "sent / acknowledged / stored / lost",
                f"{len(answers)} / {len(acked)} / {len(stored)} / {len(lost)}",
            ),
            ("acknowledged without the answer shown back", str(len(unconfirmed))),
            ("sent, s after launch: first / last", f"{min(sent_at):.2f} / {max(sent_at):.2f}"),
            ("latency p50 / p99 / max ms", spread([s.ms for s in answers])),
            (
                "acknowledged by 1, 2, 3... s after launch",
                " ".join(str(bisect_left(acks, mark)) for mark in marks),
            ),
        ],
    )

    states = [s for s in window.samples if s.kind == "state"]
    unchanged = [s.ms for s in states if s.status == 204]
    table(
        f"phone polls (every {PHONE_EVERY:g} s)",
        [
            ("requests / 204 share", f"{len(states)} / {len(unchanged) / len(states):.1%}"),
            ("204 p50 / p99 / max ms", spread(unchanged)),
            ("200 p50 / p99 / max ms", spread([s.ms for s in states if s.status == 200])),
        ],
    )

    projector_failed = False
    for screen in window.screens:
        got = screen.device.samples
        full = next((s.end for s in got if s.shown >= len(students)), None)
        # Stale: fewer answers shown than had been acknowledged when the request left.
        stale = sum(1 for s in got if s.shown < bisect_left(acks, s.start))
        projector_failed |= full is None or stale > 0
        shown = [max((s.shown for s in got if s.end <= mark), default=0) for mark in marks]
        table(
            f"projector (every {screen.every:g} s)",
            [
                (
                    "requests / 304 / 200",
                    f"{len(got)} / {sum(s.status == 304 for s in got)} / "
                    f"{sum(s.status == 200 for s in got)}",
                ),
                ("304 p50 / p99 / max ms", spread([s.ms for s in got if s.status == 304])),
                ("200 p50 / p99 / max ms", spread([s.ms for s in got if s.status == 200])),
                (
                    "lag: last answer acknowledged to all shown, ms",
                    f"{(full - last_ack) * 1000:.0f}" if full else "never",
                ),
                ("responses showing fewer than acknowledged", str(stale)),
                ("shown by 1, 2, 3... s after launch", " ".join(map(str, shown))),
            ],
        )

    samples = window.samples
    expected = {"state": {200, 204}, "answer": {200}, "projector": {200, 304}, "launch": {302}}
    server_errors = sum(1 for s in samples if s.status >= 500)
    unexpected = sum(1 for s in samples if 0 < s.status < 500 and s.status not in expected[s.kind])
    connection_errors = sum(1 for s in samples if s.status == 0)
    before, after = window.before, window.after
    seconds = after.at - before.at
    cpu = {
        "gunicorn": cpu_seconds(before, after, [server.pid, *children(server.pid)]),
        "PostgreSQL": cpu_seconds(before, after, pids_named(after, "postgres")),
        "Redis": cpu_seconds(before, after, pids_named(after, "redis-server")),
        "load generator": after.own - before.own,
    }
    cpu["other"] = max(0.0, before.busy_seconds(after) - sum(cpu.values()))
    devices = [s.device for s in students] + [s.device for s in window.screens]
    late = window.clock.late
    table(
        "server",
        [
            (
                "window s / requests / per second",
                f"{seconds:.1f} / {len(samples)} / {len(samples) / seconds:.0f}",
            ),
            (
                "CPU ms per request: gunicorn / PostgreSQL / Redis",
                " / ".join(f"{cpu[n] * 1000 / len(samples):.2f}" for n in list(cpu)[:3]),
            ),
            (
                f"cores busy: {' / '.join(cpu)}",
                " / ".join(f"{v / seconds:.2f}" for v in cpu.values())
                + f" ({before.busy_share(after):.0%} of all)",
            ),
            (
                "load generator late to send p99 / max ms",
                f"{percentile(late, 0.99) * 1000:.1f} / {max(late, default=0) * 1000:.1f}",
            ),
            (
                "connections opened / stale keep-alive retries",
                f"{sum(d.connects for d in devices)} / {sum(d.retries for d in devices)}",
            ),
            (
                "errors: 5xx / unexpected status / connection",
                f"{server_errors} / {unexpected} / {connection_errors}",
            ),
            ("instructor's launch", f"{window.launch.status} in {window.launch.ms:.0f} ms"),
        ],
    )
    zero_lost = len(stored) == len(acked) == len(answers) == len(students) and not lost
    print(f"\n{'no answer lost' if zero_lost else 'ANSWERS LOST'}")
    errors = server_errors + unexpected + connection_errors
    return not zero_lost or bool(unconfirmed) or projector_failed or errors > 0


if __name__ == "__main__":
    sys.exit(main())
