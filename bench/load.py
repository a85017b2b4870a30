"""The load benchmark: the app served by gunicorn on PostgreSQL with DEBUG off, driven
over 127.0.0.1 by wrk from a separate process, endpoint by endpoint and then as a mix.

    make bench
    # or, with the same defaults:
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/redqueen_load \\
        REDIS_URL=redis://127.0.0.1:6379/8 .venv/bin/python bench/load.py

Creates the database if it is missing, migrates it, collects static files and runs
`seed_load` (2 cohorts x 250 students, 40 items; it does nothing when the course is
there). Starts gunicorn (BENCH_WORKERS x BENCH_THREADS gthread, default 4 x 4) with
bench/benchsite.py's settings: production's, plus two references served through the same
middleware and login, a bare view returning "ok" and a page rendering 50 rows of one
query in a plain template, and an X-Queries header counting each request's queries.

Signs in 200 students and the instructor (sessions made directly, as a login would),
then runs wrk (bench/wrk.lua) against each endpoint for BENCH_SECONDS (default 5) over
BENCH_CONNECTIONS (default 8) connections, each request as another student; a student
page in three turns with the 50-row reference page, its ratio taken against the
reference page in the same seconds (`in_turns`); the instructor's pages also run over
one connection, as one instructor clicking, for their latency. Writes are real:
autosaves change answers, submits close attempts, posts add posts (the run's own marked
posts are deleted at the start of the next run).

Prints a table: endpoint, concurrency, requests, errors, req/s and its ratio to the
reference page, p50 and p99 ms, queries per request, gunicorn and PostgreSQL CPU ms per
request; then the goals, and each gunicorn process's memory; then the reader with and
without 300 notes on its case, and the notes' live poll (bench/notes.py); then two
surges, a quiz deadline and a live class (bench/surge.py). Exits non-zero on any error
(an unexpected status or a connection error), a write the surges lost or a traceback in
gunicorn's log.
"""

import io
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from urllib.parse import urlencode

import production

production.setup(
    DATABASE_URL="postgres://postgres@127.0.0.1:5432/redqueen_load",
    REDIS_URL="redis://127.0.0.1:6379/8",
)

import notes  # noqa: E402
import surge  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.urls import reverse  # noqa: E402
from django.utils import timezone  # noqa: E402
from harness import (  # noqa: E402
    ROOT,
    CpuSnapshot,
    Device,
    check_cache,
    children,
    cpu_seconds,
    create_database,
    free_port,
    pids_named,
    run_setting,
    sign_in,
    start_gunicorn,
    stop_gunicorn,
    wait_ready,
)

from cases.models import (  # noqa: E402
    Attempt,
    AttemptQuestion,
    Course,
    ItemKind,
    LiveAttendance,
    LiveSession,
    Membership,
    ModuleItem,
    Post,
    Quiz,
    User,
)
from cases.services import live as live_services  # noqa: E402
from cases.services import quizzes as quiz_services  # noqa: E402

WORKERS = int(os.environ.get("BENCH_WORKERS", "4"))
THREADS = int(os.environ.get("BENCH_THREADS", "4"))
SECONDS = float(os.environ.get("BENCH_SECONDS", "5"))
WARM_SECONDS = 1.0  # Each endpoint alone, before the timed runs (`warm`).
CONNECTIONS = int(os.environ.get("BENCH_CONNECTIONS", "8"))
USERS = 200  # Students signed in; each endpoint's requests cycle through them.
SUBMITS = 600  # Attempts started before the run, each submitted once.
CODE = "LOAD"
MARK = "[bench-load]"  # In the body of every post the benchmark writes.
WRK_SCRIPT = Path(__file__).with_name("wrk.lua")
HTMX = {"HX-Request": "true"}


@dataclass
class Endpoint:
    name: str
    role: str  # student, instructor or reference
    lines: list[str]  # wrk requests (see wrk.lua)
    expect: int | None  # the status every request must get; None: any below 400
    connections: int = CONNECTIONS
    seconds: float = SECONDS
    result: dict = field(default_factory=dict)
    # Builds the requests again just before the run: for conditional requests, whose
    # ETag the writes of earlier runs moved.
    refresh: Callable[[], list[str]] | None = None
    consumes: bool = False  # Each request uses up what it writes to: warm on a few.
    # The 50-row reference page's result in the turns it was measured in with this
    # endpoint (`in_turns`), if it was.
    paired: dict | None = None


def line(method: str, path: str, cookie: str, csrf: str, headers=None, body: str = "") -> str:
    sent = {"Cookie": cookie, **(headers or {})}
    if method == "POST":
        sent |= {"X-CSRFToken": csrf, "Content-Type": "application/x-www-form-urlencoded"}
    return "\t".join([method, path, "|".join(f"{k}: {v}" for k, v in sent.items()), body])


def autosave_body(slot: AttemptQuestion) -> str:
    """A changed answer to one question, as the page's htmx autosave posts it: the
    value holds wrk's "{n}" where the kind takes free input."""
    value = {
        "numeric": "{n}",
        "short_text": "Draft {n}",
        "true_false": "true",
        "likert": "3",
        "spectrum": "50",
    }.get(slot.question.kind, "0")
    body = urlencode({"questions": slot.pk, f"q{slot.pk}": "VALUE", "seq": "SEQ"})
    # The seed's answers carry app.js's seq, the time in ms, and a save with a smaller
    # one is ignored as stale: wrk's number alone would write nothing. The time in
    # seconds followed by its digits is larger, and grows with it.
    seq = f"{int(time.time())}{{n}}"
    return body.replace("VALUE", value.replace(" ", "+")).replace("SEQ", seq)


# Setup ------------------------------------------------------------------------------


def prepare() -> tuple[Course, User, list[User]]:
    create_database()
    call_command("migrate", verbosity=0)
    call_command("collectstatic", interactive=False, verbosity=0)  # Production's manifest.
    started = time.perf_counter()
    # Every run starts from the same course: the last run's writes are gone.
    call_command("seed_load", fresh=True, force=True, stdout=io.StringIO())
    with connection.cursor() as cursor:
        # Fresh tables need the planner's statistics, and the rows the last run's writes
        # left dead go: as autovacuum, on by default, would have done. This machine's
        # PostgreSQL runs with autovacuum off, and the notes the last run wrote and
        # deleted (four times) stayed as 15,000 dead rows that the reader's notes query
        # read on every page: 0.53 ms instead of 0.09.
        cursor.execute("VACUUM ANALYZE")
    print(f"seed_load --fresh and VACUUM ANALYZE: {time.perf_counter() - started:.1f} s")
    course = Course.objects.get(code=CODE)
    instructor = course.instructors.order_by("pk").first()
    students = list(
        User.objects.filter(cohorts__courses=course).order_by("username").distinct()[:USERS]
    )
    return course, instructor, students


def live_session(course: Course, instructor: User, students: list[User]) -> LiveSession:
    """An ad hoc session every signed-in student has joined."""
    LiveSession.objects.filter(course=course, title__startswith="Bench").delete()
    session = live_services.session_start(course=course, by=instructor, title="Bench load")
    LiveAttendance.objects.bulk_create(
        [LiveAttendance(session=session, user=s) for s in students], ignore_conflicts=True
    )
    session.refresh_from_db()
    return session


def new_attempts(course: Course, students: list[User], exclude) -> list[Attempt]:
    """Up to SUBMITS attempts started afresh, each by another student where possible."""
    taken = {(a.quiz_id, a.user_id) for a in exclude}
    quizzes = list(Quiz.objects.filter(item__module__course=course).order_by("pk"))
    started = []
    for quiz in quizzes:
        for student in students:
            if len(started) == SUBMITS:
                return started
            if (quiz.pk, student.pk) in taken:
                continue
            try:
                started.append(quiz_services.attempt_start(quiz=quiz, user=student))
            except quiz_services.QuizError:
                break  # Closed, or no attempt left: the next quiz.
    return started


def endpoints(course: Course, instructor: User, students: list[User], port: int):
    """Every endpoint the benchmark drives, with its requests."""
    signed = [(s, *sign_in(s)) for s in students]
    teacher = sign_in(instructor)
    items = ModuleItem.objects.filter(module__course=course)
    reading = items.filter(kind=ItemKind.CASE_READING).order_by("pk").first()
    discussion = items.filter(kind=ItemKind.DISCUSSION).order_by("pk").first()
    if reading is None or discussion is None:
        sys.exit("The LOAD course has no case reading or discussion: run seed_load --fresh.")
    session = live_session(course, instructor, students)

    # The seed's open attempts take the autosaves (to their first question); new ones,
    # started as students start them, are there to submit, each once.
    saving = {
        a.pk: a
        for a in Attempt.objects.filter(
            quiz__item__module__course=course, user__in=students, submitted_at__isnull=True
        )
    }
    submitting = new_attempts(course, students, exclude=saving.values())
    if not submitting:
        sys.exit("No quiz attempt could be started to submit: run seed_load --fresh.")
    first_slots = {}
    for slot in (
        AttemptQuestion.objects.filter(attempt_id__in=list(saving))
        .select_related("question")
        .order_by("attempt_id", "position", "pk")
    ):
        first_slots.setdefault(slot.attempt_id, slot)
    cookies = {s.pk: (cookie, csrf) for s, cookie, csrf in signed}

    def each_student(method, path, headers=None, body=""):
        return [line(method, path(s), c, t, headers, body) for s, c, t in signed]

    tracker = reverse("cases:tracker", args=[course.pk])
    probe = Device(port, *teacher)
    projector = reverse("cases:live_projector", args=[session.pk])

    def unchanged(path: str) -> list[str]:
        """The request of a poll that shows what it showed a moment ago."""
        etag = probe.request("etag", "GET", path, headers=HTMX).headers.get("etag", "")
        return staff("GET", path, HTMX | {"If-None-Match": etag})

    state = reverse("cases:live_state", args=[session.pk])
    post_new = reverse("cases:post_create", args=[discussion.pk])
    post_body = urlencode({"body": f"{MARK} On process innovation, point "}) + "{n}&nonce={n}"

    def staff(method, path, headers=None):
        return [line(method, path, *teacher, headers)]

    yield Endpoint(
        "reference: bare view, ok", "reference", each_student("GET", lambda s: "/bench/ok/"), 200
    )
    yield Endpoint(
        "reference: 50-row page",
        "reference",
        each_student("GET", lambda s: "/bench/reference/"),
        200,
    )
    yield Endpoint("dashboard", "student", each_student("GET", lambda s: "/"), 200)
    yield Endpoint(
        "case reader", "student", each_student("GET", lambda s: reading.get_absolute_url()), 200
    )
    yield Endpoint(
        "quiz, open attempt",
        "student",
        [line("GET", a.get_absolute_url(), *cookies[a.user_id]) for a in saving.values()],
        200,
    )
    yield Endpoint(
        "quiz autosave (htmx)",
        "student",
        [
            line(
                "POST",
                reverse("cases:attempt_save", args=[slot.attempt_id]),
                *cookies[saving[slot.attempt_id].user_id],
                HTMX,
                autosave_body(slot),
            )
            for slot in first_slots.values()
        ],
        200,
    )
    yield Endpoint(
        "quiz submit",
        "student",
        [
            line("POST", reverse("cases:attempt_submit", args=[a.pk]), *cookies[a.user_id])
            for a in submitting
        ],
        302,
        consumes=True,
    )
    yield Endpoint(
        "discussion thread",
        "student",
        each_student("GET", lambda s: discussion.get_absolute_url()),
        200,
    )
    yield Endpoint(
        "discussion post (htmx)",
        "student",
        each_student("POST", lambda s: post_new, HTMX, post_body),
        200,
    )
    yield Endpoint(
        "live phone poll, unchanged (204)",
        "student",
        each_student("GET", lambda s: f"{state}?known={session.version}", HTMX),
        204,
    )
    yield Endpoint(
        "live projector, unchanged (304)",
        "instructor",
        unchanged(projector),
        304,
        refresh=lambda: unchanged(projector),
    )
    yield Endpoint(
        "tracker poll, unchanged (304)",
        "instructor",
        unchanged(tracker),
        304,
        refresh=lambda: unchanged(tracker),
    )
    yield Endpoint("tracker, page 1 (50 x 40)", "instructor", staff("GET", tracker), 200)
    yield Endpoint(
        "tracker, page 1, one instructor", "instructor", staff("GET", tracker), 200, connections=1
    )
    gradebook = reverse("cases:gradebook", args=[course.pk])
    yield Endpoint("gradebook, page 1 (50 x 40)", "instructor", staff("GET", gradebook), 200)
    yield Endpoint(
        "gradebook, page 1, one instructor",
        "instructor",
        staff("GET", gradebook),
        200,
        connections=1,
    )
    yield Endpoint(
        "gradebook CSV (500 x 40), one instructor",
        "instructor",
        staff("GET", reverse("cases:gradebook_csv", args=[course.pk])),
        200,
        connections=1,
        seconds=max(SECONDS, 8),
    )


# Running wrk ------------------------------------------------------------------------


# Where wrk's "{n}" starts for the next run (wrk.lua): past every number sent before.
_first_n = 0


def run_wrk(port: int, endpoint: Endpoint, workdir: Path, server) -> dict:
    """One wrk run over the endpoint's requests; its counts with the CPU the gunicorn and
    PostgreSQL processes spent meanwhile."""
    global _first_n
    requests = workdir / "requests.tsv"
    requests.write_text("\n".join(endpoint.lines) + "\n")
    threads = min(2, endpoint.connections)
    command = [
        shutil.which("wrk") or "wrk",
        f"-t{threads}",
        f"-c{endpoint.connections}",
        f"-d{endpoint.seconds:g}s",
        "--timeout",
        "30s",
        "-s",
        str(WRK_SCRIPT),
        f"http://127.0.0.1:{port}",
    ]
    before = CpuSnapshot.take()
    started = time.monotonic()
    env = {**os.environ, "BENCH_REQUESTS": str(requests), "BENCH_FIRST_N": str(_first_n)}
    done = subprocess.run(  # noqa: S603 (our own command line)
        command, env=env, capture_output=True, text=True
    )
    ended = time.monotonic()
    after = CpuSnapshot.take()
    found = [text for text in done.stdout.splitlines() if text.startswith("BENCH ")]
    if done.returncode or not found:
        raise RuntimeError(f"wrk failed ({done.returncode}): {done.stdout}{done.stderr}")
    result = json.loads(found[-1].removeprefix("BENCH "))
    # Past what any thread sent: the run's requests, and those still out when it ended.
    _first_n += result["requests"] + 1000
    result["gunicorn_cpu"] = cpu_seconds(before, after, [server.pid, *children(server.pid)])
    result["postgres_cpu"] = cpu_seconds(before, after, pids_named(after, "postgres"))
    result["busy"] = before.busy_share(after)
    result["at"] = (started + ended) / 2
    return result


def errors(endpoint: Endpoint) -> int:
    """Requests that failed: any status but the expected one (in a mix, any error
    status), or a connection error."""
    r = endpoint.result
    expect = endpoint.expect
    wrong = sum(
        n
        for status, n in r["statuses"].items()
        if (int(status) >= 400 if expect is None else int(status) != expect)
    )
    return wrong + r["connect"] + r["read"] + r["write"] + r["timeout"]


def per_second(result: dict) -> float:
    return result["requests"] / (result["duration_us"] / 1e6)


def rate(endpoint: Endpoint) -> float:
    return per_second(endpoint.result)


# Each reference is measured first and again after the other endpoints: this machine's
# speed drifts by a third within minutes, and a ratio to a reference measured in
# another minute measures the drift. An endpoint is compared with its reference's
# rate at the time of its run, between the two measurements.
AGAIN = " (again)"


def rate_at(reference: str, endpoint: Endpoint, measured: list[Endpoint]) -> float:
    """The named reference's rate at the time of `endpoint`'s run: interpolated between
    its first measurement and the one again after the others."""
    by_name = {e.name: e for e in measured}
    first, last = by_name[reference], by_name.get(reference + AGAIN)
    if last is None:
        return rate(first)
    span = last.result["at"] - first.result["at"]
    share = min(1.0, max(0.0, (endpoint.result["at"] - first.result["at"]) / span))
    return rate(first) + (rate(last) - rate(first)) * share


def again(reference: Endpoint, port: int, workdir: Path, server) -> Endpoint:
    """The reference measured again, after the other endpoints (`rate_at`)."""
    repeat = replace(reference, name=reference.name + AGAIN, result={})
    repeat.result = run_wrk(port, repeat, workdir, server)
    return repeat


# A student page is measured in turns with the 50-row reference page, TURNS times each
# for TURN_SECONDS: its "x ref" is then taken against the reference page measured in the
# same seconds, alike for drift (the reference measured first and last, minutes apart,
# gave the same page 0.69 and 0.85 in two runs of one commit, and a submit measured
# once 1.49 in a run whose first minutes were slow). A submit's requests are rotated
# past as many as the turns before sent, so a turn does not start over at the attempts
# the first one closed (most of a submit's requests resubmit one, in turns or not: wrk's
# two threads start 119 attempts apart and the run sends thousands). Its "x ref" is the
# median of the turns' ratios: a stall of a few hundred milliseconds in one turn (of the
# page or of the reference page) moved the ratio of the turns summed by a tenth, and
# gave one commit's thread 0.92 in one run and 1.07 in the next, where five of its six
# turns were at 0.97 to 1.07 and one at 0.50.
TURNS = int(os.environ.get("BENCH_TURNS", "5"))
TURN_SECONDS = max(2.0, SECONDS / TURNS)


def in_turns(reference: Endpoint, endpoint: Endpoint, port: int, workdir: Path, server):
    """The endpoint's result and the reference page's, each from TURNS runs in turn."""
    mine, theirs = [], []
    lines = endpoint.lines
    for _ in range(TURNS):
        theirs.append(run_wrk(port, replace(reference, seconds=TURN_SECONDS), workdir, server))
        mine.append(
            run_wrk(port, replace(endpoint, lines=lines, seconds=TURN_SECONDS), workdir, server)
        )
        if endpoint.consumes:  # The next turn starts past what this one used up.
            done = mine[-1]["requests"] % len(lines)
            lines = lines[done:] + lines[:done]
    each = [per_second(m) / per_second(t) for m, t in zip(mine, theirs, strict=True)]
    return merged(mine) | {"turns": each}, merged(theirs)


def merged(results: list[dict]) -> dict:
    """Several runs' results as one: counts and CPU summed, the median of their
    medians, the largest of their 99th percentiles."""
    summed = (
        *("requests", "duration_us", "connect", "read", "write", "timeout", "status_errors"),
        *("queries", "counted", "gunicorn_cpu", "postgres_cpu"),
    )
    total = {key: sum(r[key] for r in results) for key in summed}
    statuses = Counter()
    for r in results:
        statuses.update(r["statuses"])
    return total | {
        "statuses": dict(statuses),
        "p50_us": statistics.median(r["p50_us"] for r in results),
        "p99_us": max(r["p99_us"] for r in results),
        "max_us": max(r["max_us"] for r in results),
        "busy": statistics.mean(r["busy"] for r in results),
        "at": statistics.mean(r["at"] for r in results),
    }


def warm(port: int, all_endpoints: list[Endpoint], workdir: Path, server) -> None:
    """Before the timed runs, each endpoint runs alone for WARM_SECONDS, so every
    gunicorn thread has compiled its templates, filled its process's caches and run the
    endpoint's statements often enough to stop planning them: psycopg prepares a
    statement on its fifth run on a connection, and PostgreSQL settles on one plan
    after five more. A run on a server warmed less measured that planning, a cost each
    connection pays once in its life (a tenth of a millisecond to 10 ms a statement),
    as part of every page. An endpoint whose requests use something up (a submit
    closes its attempt) warms on its first 20 requests only."""
    for endpoint in all_endpoints:
        if endpoint.connections == 1 or "CSV" in endpoint.name:
            continue
        lines = endpoint.lines[:20] if endpoint.consumes else endpoint.lines
        run_wrk(port, replace(endpoint, lines=lines, seconds=WARM_SECONDS), workdir, server)


def mix(all_endpoints: list[Endpoint]) -> Endpoint:
    """A class's afternoon: students read, answer, argue and poll; instructors track.
    Requests in proportion to WEIGHTS, shuffled."""
    by_name = {e.name: e for e in all_endpoints}
    lines = []
    rng = random.Random(2)
    for name, weight in WEIGHTS.items():
        source = by_name[name].lines
        lines += [source[rng.randrange(len(source))] for _ in range(weight * 10)]
    rng.shuffle(lines)
    return Endpoint("mix (weights below)", "mix", lines, None, seconds=SECONDS * 2)


WEIGHTS = {  # Requests in a hundred.
    "dashboard": 12,
    "case reader": 14,
    "quiz, open attempt": 8,
    "quiz autosave (htmx)": 16,
    "discussion thread": 10,
    "discussion post (htmx)": 3,
    "live phone poll, unchanged (204)": 30,
    "tracker poll, unchanged (304)": 4,
    "tracker, page 1 (50 x 40)": 1,
    "gradebook, page 1 (50 x 40)": 1,
    "live projector, unchanged (304)": 1,
}


# Report -----------------------------------------------------------------------------


def memory(pid: int) -> tuple[float, float]:
    """Resident and proportional set size in MiB."""
    rss = pss = 0
    for text in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
        if text.startswith("Rss:"):
            rss = int(text.split()[1])
        elif text.startswith("Pss:"):
            pss = int(text.split()[1])
    return rss / 1024, pss / 1024


def report(measured: list[Endpoint], mixed: Endpoint, server) -> list[str]:
    """Prints the table and the goals; returns the goals missed."""

    def x_ref(endpoint: Endpoint) -> float:
        if endpoint.paired:
            return statistics.median(endpoint.result["turns"])
        return rate(endpoint) / rate_at("reference: 50-row page", endpoint, measured)

    header = (
        f"{'endpoint':<42} {'conn':>4} {'requests':>8} {'errors':>6} {'req/s':>7} "
        f"{'x ref':>6} {'p50 ms':>7} {'p99 ms':>7} {'queries':>7} {'app CPU':>7} {'db CPU':>6}"
    )
    print("\n" + header)
    print("-" * len(header))
    for endpoint in [*measured, mixed]:
        r = endpoint.result
        n = max(1, r["requests"])
        queries = r["queries"] / r["counted"] if r["counted"] else float("nan")
        print(
            f"{endpoint.name + (' *' if endpoint.paired else ''):<42} "
            f"{endpoint.connections:>4} {r['requests']:>8} "
            f"{errors(endpoint):>6} {rate(endpoint):>7.0f} "
            f"{x_ref(endpoint):>6.2f} {r['p50_us'] / 1000:>7.1f} "
            f"{r['p99_us'] / 1000:>7.1f} {queries:>7.1f} "
            f"{r['gunicorn_cpu'] * 1000 / n:>7.2f} {r['postgres_cpu'] * 1000 / n:>6.2f}"
        )
    print(
        "conn: wrk's connections; x ref: throughput over the 50-row reference page's at "
        "the time: for a student page measured in turns (*), the median of its ratios to "
        f"the reference page's in the same {TURNS} turns of {TURN_SECONDS:g} s; for the "
        "others, each reference is "
        "measured first and again last, and taken between the two by the time of the run; "
        "CPU: ms per request of the gunicorn and the PostgreSQL processes."
    )
    paired = [e for e in measured if e.paired]
    print(
        "* each turn's x ref, in order (the table gives their median): "
        + ", ".join(
            f"{e.name} " + " / ".join(f"{x:.2f}" for x in e.result["turns"]) for e in paired
        )
    )
    print(
        "* the same turns summed, the page's requests over the reference page's: "
        + ", ".join(f"{e.name} {rate(e) / per_second(e.paired):.2f}" for e in paired)
    )
    print(
        "* the same pages against the reference measured first and last (the earlier way): "
        + ", ".join(
            f"{e.name} {rate(e) / rate_at('reference: 50-row page', e, measured):.2f}"
            for e in paired
        )
    )

    by_name = {e.name: e for e in measured}
    goals = []
    for e in measured:
        if e.role == "student" and e.connections == CONNECTIONS:
            goals.append((f"{e.name}: x ref >= 1.0", x_ref(e), x_ref(e) >= 1.0))
    for grid in ("tracker", "gradebook"):
        alone = by_name[f"{grid}, page 1, one instructor"].result["p50_us"] / 1000
        goals.append((f"{grid} page 1 median < 60 ms (one instructor)", alone, alone < 60))
        busy = next(e for e in measured if e.name.startswith(f"{grid}, page 1 ("))
        p99 = busy.result["p99_us"] / 1000
        goals.append(
            (f"{grid} page 1 p99 < 300 ms ({busy.connections} connections)", p99, p99 < 300)
        )
    csv = by_name["gradebook CSV (500 x 40), one instructor"].result["p50_us"] / 1000
    goals.append(("gradebook CSV 500 x 40 median < 1000 ms", csv, csv < 1000))
    for name in (
        "tracker poll, unchanged (304)",
        "live phone poll, unchanged (204)",
        "live projector, unchanged (304)",
    ):
        share = rate(by_name[name]) / rate_at("reference: bare view, ok", by_name[name], measured)
        goals.append((f"{name} >= 25% of the bare view", share, share >= 0.25))
    total_errors = sum(errors(e) for e in [*measured, mixed])
    goals.append(("errors == 0", total_errors, total_errors == 0))
    print("\ngoals")
    for text, value, met in goals:
        shown = (
            f"{value:.0%}" if "%" in text else f"{value:.2f}" if isinstance(value, float) else value
        )
        print(f"  {'met ' if met else 'MISSED'}  {text}: {shown}")

    print("\nmemory per gunicorn process after the run (MiB): RSS / PSS")
    print(f"  master {server.pid}: " + " / ".join(f"{v:.0f}" for v in memory(server.pid)))
    for pid in children(server.pid):
        print(f"  worker {pid}: " + " / ".join(f"{v:.0f}" for v in memory(pid)))
    return [text for text, _value, met in goals if not met]


def main() -> int:
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed: `apt-get install -y wrk` (make bench does it).")
    cache_name = check_cache()
    course, instructor, students = prepare()
    began = timezone.now()
    counts = (
        Membership.objects.filter(cohort__courses=course).count(),
        ModuleItem.objects.filter(module__course=course).count(),
        Post.objects.filter(discussion__item__module__course=course).count(),
    )
    print(
        f"{run_setting(WORKERS, THREADS, cache_name)}; course {CODE}: {counts[0]} students x "
        f"{counts[1]} items, {counts[2]} posts; wrk {CONNECTIONS} connections, {SECONDS:g} s "
        "an endpoint"
    )

    port = int(os.environ.get("BENCH_PORT") or free_port())
    workdir = Path(tempfile.mkdtemp(prefix="bench-load-"))
    log_path = workdir / "gunicorn.log"
    failed = True
    with log_path.open("w") as log:
        env = {"DJANGO_SETTINGS_MODULE": "benchsite", "PYTHONPATH": str(ROOT / "bench")}
        server = start_gunicorn(port, log, workers=WORKERS, threads=THREADS, env=env)
        try:
            wait_ready(server, port, WORKERS)
            measured = list(endpoints(course, instructor, students, port))
            warm(port, measured, workdir, server)
            reference = next(e for e in measured if e.name == "reference: 50-row page")
            for endpoint in measured:
                if endpoint.refresh:
                    endpoint.lines = endpoint.refresh()
                if endpoint.role == "student":
                    endpoint.result, endpoint.paired = in_turns(
                        reference, endpoint, port, workdir, server
                    )
                else:
                    endpoint.result = run_wrk(port, endpoint, workdir, server)
            measured += [again(e, port, workdir, server) for e in measured if e.role == "reference"]
            mixed = mix(measured)
            mixed.result = run_wrk(port, mixed, workdir, server)
            missed = report(measured, mixed, server)
            print(
                "mix weights (requests in a hundred): "
                + ", ".join(f"{k} {v}" for k, v in WEIGHTS.items())
            )
            submitted = Attempt.objects.filter(
                quiz__item__module__course=course, submitted_at__gte=began
            ).count()
            print(
                f"quiz submit: {submitted} attempts submitted during the run, "
                f"of {SUBMITS} started for it; any later request resubmits one (a 302 "
                "after one query)."
            )
            failed = any(text.startswith("errors") for text in missed)
            notes.run(port, notes.reading_of(course), instructor, students)
            failed = surge.run(port, server, course, instructor) or failed
        finally:
            stop_gunicorn(server)
            log_text = log_path.read_text()
            tracebacks = log_text.count("Traceback")
            if tracebacks:
                print(f"{tracebacks} tracebacks in gunicorn's log: {log_path}")
                failed = True
    if not failed:
        shutil.rmtree(workdir)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
