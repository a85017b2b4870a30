"""A student page's cost in its two parts, each measured alone: the app's CPU for the
page, and PostgreSQL's CPU for the page's statements. `make bench` gives each page's
throughput against the 50-row reference page, on a machine whose speed drifts by a
third within minutes; this gives what separates a page from the reference page, in
numbers that hold from run to run within a few per cent.

    make bench-parts
    # or, with the database and cache named (the LOAD course is built afresh in it, as
    # `make bench` builds it: a run of the bench leaves the attempts it opened closed):
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/redqueen_load \\
        REDIS_URL=redis://127.0.0.1:6379/8 .venv/bin/python bench/parts.py

- **The app:** each page through Django's whole stack (middleware, session, login,
  the view, the template) in this process, with bench/benchsite.py's settings
  (production's, and the two references), as 60 students in turn, ROUNDS times after
  a round to warm, the pages in turn within each round; the thread's CPU per request,
  median. No network and no other thread: the CPU the page costs Python.
- **PostgreSQL:** the page's statements as ten students' requests sent them (each
  after that student's first visit, so the reader's first-open writes are not among
  them), each read replayed REPLAYS times on a connection of its own, the ten
  students' parameters in turn, prepared as production prepares them; the backend's
  CPU per run, from /proc (PostgreSQL on this machine). Only reads are replayed: a
  page's statements are reads once the first visit wrote.
- **Round trips:** the bare view with 0 and 8 extra statements (`SELECT %s`), under
  the same measure as the app: what one more statement costs the app in this process.

BENCH_PARTS_VERBOSE=1 prints each read's PostgreSQL milliseconds as it goes.

Under `wrk` (bench/load.py) each part costs more: sixteen app threads and sixteen
backends share the two cores. The parts say where a page's cost is; `make bench` says
what the machine serves.
"""

import os
import statistics
import sys
import time
from pathlib import Path

import production

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "benchsite")
production.setup(
    DATABASE_URL="postgres://postgres@127.0.0.1:5432/redqueen_load",
    REDIS_URL="redis://127.0.0.1:6379/8",
)

import psycopg  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from harness import pg_params, proc_stats  # noqa: E402
from notes import reading_of  # noqa: E402

from cases.models import Attempt, Course, ItemKind, ModuleItem, User  # noqa: E402

STUDENTS = 60
SENDERS = 10  # Students whose statements PostgreSQL replays, in turn.
VERBOSE = os.environ.get("BENCH_PARTS_VERBOSE") == "1"  # Each read's milliseconds.
ROUNDS = int(os.environ.get("BENCH_PARTS_ROUNDS", "4"))
REPLAYS = int(os.environ.get("BENCH_PARTS_REPLAYS", "2000"))
CODE = "LOAD"


def pages(course: Course, students: list[User]) -> dict:
    """Each page by name: the path each student opens (None: not theirs to open)."""
    reading = reading_of(course)
    discussion = (
        ModuleItem.objects.filter(module__course=course, kind=ItemKind.DISCUSSION)
        .order_by("pk")
        .first()
    )
    attempts = {
        a.user_id: a.get_absolute_url()
        for a in Attempt.objects.filter(
            quiz__item__module__course=course, user__in=students, submitted_at__isnull=True
        )
    }
    return {
        "reference: bare view, ok": lambda s: "/bench/ok/",
        "reference: 50-row page": lambda s: "/bench/reference/",
        "dashboard": lambda s: "/",
        "case reader": lambda s: reading.get_absolute_url(),
        "quiz, open attempt": lambda s: attempts.get(s.pk),
        "discussion thread": lambda s: discussion.get_absolute_url(),
    }


def app_ms(clients, paths: dict) -> dict:
    """Each page's median CPU of this thread for a request, over ROUNDS rounds of the
    students: the pages in turn within each round, so a drift of the machine's speed
    falls on every page alike."""
    spent = {name: [] for name in paths}
    for n in range(ROUNDS + 1):
        for name, path_of in paths.items():
            for student, client in clients:
                path = path_of(student)
                if path is None:
                    continue
                started = time.thread_time_ns()
                response = client.get(path, secure=True)
                took = time.thread_time_ns() - started
                if response.status_code != 200:
                    sys.exit(f"{path} answered {response.status_code} to {student.username}")
                if n:  # The first round warms.
                    spent[name].append(took / 1e6)
    return {name: statistics.median(times) for name, times in spent.items()}


def statements(client, path: str) -> list[tuple[str, tuple]]:
    """The statements a request sends, with their parameters, as sent."""
    sent = []

    def note(execute, sql, params, many, context):
        sent.append((sql, params))
        return execute(sql, params, many, context)

    client.get(path, secure=True)  # The first visit writes what it writes.
    with connection.execute_wrapper(note):
        client.get(path, secure=True)
    return sent


def backend_seconds(pid: int) -> float:
    return proc_stats()[pid][2]


def postgres_ms(replay, pid: int, sent_by_student: list) -> float:
    """PostgreSQL's CPU for one request's reads: each read replayed REPLAYS times, in
    turn with the parameters of each student who sent it (as a class's requests come:
    one student's alone would keep PostgreSQL planning for that student's values)."""
    total = 0.0
    first = sent_by_student[0]
    for at, (sql, _params) in enumerate(first):
        if not sql.lstrip().lstrip("(").upper().startswith("SELECT"):
            continue
        sent = [s[at] for s in sent_by_student if at < len(s) and s[at][0] == sql]
        for _ in range(2):  # Prepared, and planned for good.
            for statement, params in sent * 10:
                replay.execute(statement, params).fetchall()
        before = backend_seconds(pid)
        for n in range(REPLAYS):
            statement, params = sent[n % len(sent)]
            replay.execute(statement, params).fetchall()
        spent = (backend_seconds(pid) - before) / REPLAYS * 1000
        if VERBOSE:
            print(f"  {spent:.3f} ms  {' '.join(sql.split())[:100]}")
        total += spent
    return total


def round_trip_ms(clients) -> float:
    """One more statement's CPU in the app: the bare view's request with 8 statements
    more, less the bare view's, over 8."""

    def extra(execute, sql, params, many, context):
        result = execute(sql, params, many, context)
        if not getattr(extra, "busy", False):
            extra.busy = True
            try:
                with connection.cursor() as cursor:
                    for n in range(8):
                        cursor.execute("SELECT %s", [n])
                        cursor.fetchall()
            finally:
                extra.busy = False
        return result

    bare = app_ms(clients, {"bare": lambda s: "/bench/ok/"})["bare"]
    with connection.execute_wrapper(extra):
        more = app_ms(clients, {"more": lambda s: "/bench/ok/"})["more"]
    return (more - bare) / 8


def main() -> int:
    import load  # Its setup: the LOAD course built afresh, as `make bench` builds it.

    load.prepare()  # A run of `make bench` before closed the open attempts it started.
    course = Course.objects.get(code=CODE)
    students = list(
        User.objects.filter(cohorts__courses=course).order_by("username").distinct()[:STUDENTS]
    )
    clients = []
    for student in students:
        client = Client(HTTP_HOST="127.0.0.1")
        client.force_login(student)
        clients.append((student, client))
    replay = psycopg.connect(**pg_params(), autocommit=True, prepare_threshold=0)
    pid = replay.execute("SELECT pg_backend_pid()").fetchone()[0]
    if not Path(f"/proc/{pid}").exists():
        sys.exit("PostgreSQL runs on another machine: its CPU cannot be read here.")

    rows = []
    paths = pages(course, students)
    apps = app_ms(clients, paths)
    for name, path_of in paths.items():
        if VERBOSE:
            print(name)
        app = apps[name]
        senders = [(s, c) for s, c in clients if path_of(s) is not None][:SENDERS]
        sent = [statements(client, path_of(student)) for student, client in senders]
        rows.append((name, len(sent[0]), app, postgres_ms(replay, pid, sent)))
    trip = round_trip_ms(clients)

    reference = next(row for row in rows if row[0] == "reference: 50-row page")
    print(
        f"\n{len(students)} students of {CODE}, {ROUNDS} rounds after one to warm; "
        f"statements replayed {REPLAYS} times each"
    )
    print(
        f"{'page':<28} {'statements':>10} {'app ms':>7} {'÷ ref':>6} "
        f"{'PostgreSQL ms':>13} {'÷ ref':>6} {'sum ÷ ref':>9}"
    )
    print("-" * 85)
    for name, count, app, database in rows:
        whole = (app + database) / (reference[2] + reference[3])
        print(
            f"{name:<28} {count:>10} {app:>7.2f} {app / reference[2]:>6.2f} "
            f"{database:>13.3f} {database / reference[3]:>6.2f} {whole:>9.2f}"
        )
    print(f"\none more statement costs the app {trip:.3f} ms (the bare view with 8 more)")
    print(
        "app: this thread's CPU per request through Django's stack, median; PostgreSQL: "
        "the backend's CPU for the request's reads, replayed alone."
    )
    replay.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
