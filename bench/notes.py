"""The reader with a class's notes on its case, for `make bench` (bench/load.py runs it
after its table): the same case reading page, opened by the same student one request
at a time, with no note on the case and with 300 in four turns (the notes cleared and
written again between), then the live layer's poll, unchanged (304) and changed (200).

Each request's CPU is the app thread's own (the X-CPU-us header of benchurls.py), so
the numbers are the page's cost, not the machine's load; wall time is the client's.
The 300 notes are what a class of students leaves with the reader's forms: sentences
or their first words, across the case's paragraphs (every ninth from one paragraph
into the next), shared ones, questions to the instructor and private ones, every fifth
with a reply, a few by the instructor; written by the student's cohort. They are
deleted at the end (and at the start, if a run stopped half-way).

Alone, on the course `make bench` built (it must have run once):

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/redqueen_load \\
        REDIS_URL=redis://127.0.0.1:6379/8 .venv/bin/python bench/notes.py
"""

import os
import sys
import tempfile
from pathlib import Path

if __name__ == "__main__":
    import production

    production.setup(
        DATABASE_URL="postgres://postgres@127.0.0.1:5432/redqueen_load",
        REDIS_URL="redis://127.0.0.1:6379/8",
    )

from django.db import connection
from django.urls import reverse
from harness import (
    ROOT,
    Device,
    free_port,
    percentile,
    sign_in,
    start_gunicorn,
    stop_gunicorn,
    wait_ready,
)

from cases.anchors import sentences, text_of
from cases.models import (
    Annotation,
    CaseStudy,
    Course,
    ItemKind,
    Membership,
    ModuleItem,
    User,
    Visibility,
)

NOTES = 300
RUNS = int(os.environ.get("BENCH_READER_RUNS", "100"))
WARM = 10
ROUNDS = 4  # Turns of the page without notes and with them.
MARK = "[bench-notes]"  # Starts the body of every note the benchmark writes.
HTMX = {"HX-Request": "true"}
GOAL = 1.5  # The reader with 300 notes: at most this many times its CPU without.


def annotate(case: CaseStudy, authors: list[User], instructor: User, count: int) -> int:
    """`count` notes on `case` (and their replies), as described above. Returns the
    rows written."""
    paragraphs = list(case.paragraphs.order_by("position").values_list("number", "html"))
    texts = {number: text_of(html) for number, html in paragraphs}
    numbers = [number for number, _html in paragraphs if sentences(texts[number])]
    cohort_of = dict(
        Membership.objects.filter(user__in=authors).values_list("user_id", "cohort_id")
    )
    notes = []
    for n in range(count):
        author = instructor if n % 25 == 24 else authors[n % len(authors)]
        at = (n * 7) % len(numbers)
        first = numbers[at]
        found = sentences(texts[first])
        start, end = found[(n // len(numbers)) % len(found)]
        if n % 4 == 1 and " " in texts[first][start:end]:  # The sentence's first words.
            end = texts[first].rfind(" ", start, end)
        last = None
        quote = texts[first][start:end]
        if n % 9 == 7 and at + 1 < len(numbers):
            last = numbers[at + 1]
            end = sentences(texts[last])[0][1]
            quote = texts[first][start:] + "\n\n" + texts[last][:end]
        visibility = (
            Visibility.INSTRUCTOR
            if n % 7 == 3
            else Visibility.PRIVATE
            if n % 11 == 5
            else Visibility.COHORT
        )
        body = f"{MARK} Note {n}: the licences came with conditions that shaped the lab."
        notes.append(
            Annotation(
                case=case,
                author=author,
                cohort_id=None if author == instructor else cohort_of[author.pk],
                visibility=visibility,
                paragraph=first,
                start=start,
                end_paragraph=last,
                end=end,
                quote=quote,
                body=body,
                body_html=f"<p>{body}</p>",
                word_count=len(body.split()),
            )
        )
    notes = Annotation.objects.bulk_create(notes)
    body = f"{MARK} A reply: compare the third paragraph."
    replies = [
        Annotation(
            case=case,
            author=authors[(n + 1) % len(authors)],
            cohort_id=root.cohort_id,
            thread=root,
            visibility=root.visibility,
            body=body,
            body_html=f"<p>{body}</p>",
            word_count=len(body.split()),
        )
        for n, root in enumerate(notes)
        if n % 5 == 0 and root.visibility != Visibility.PRIVATE
    ]
    Annotation.objects.bulk_create(replies)
    for reply in replies:
        reply.thread.reply_count = 1
    Annotation.objects.bulk_update([r.thread for r in replies], ["reply_count"])
    # The planner's statistics, as autovacuum gathers them within a minute of a class
    # writing this many notes. Without them it plans for the empty table the seed's
    # ANALYZE saw: the notes' query then read every note once for each note (26 ms a
    # page, not 1), or not, as autovacuum had come by or not, and the goal flapped.
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {connection.ops.quote_name(Annotation._meta.db_table)}")
    return len(notes) + len(replies)


def clear(case: CaseStudy) -> None:
    """The benchmark's notes deleted, and the dead rows they leave vacuumed, as
    autovacuum would after a class's notes went (this machine's PostgreSQL runs with
    it off): each turn, and the next run, reads the table as a class would find it."""
    Annotation.objects.filter(case=case, body__startswith=MARK).delete()
    with connection.cursor() as cursor:
        cursor.execute(f"VACUUM ANALYZE {connection.ops.quote_name(Annotation._meta.db_table)}")


def measure(device: Device, path: str, expect: int, headers=None, *, runs=RUNS, taken=None):
    """`runs` requests one after another (after WARM unmeasured ones): CPU and wall time,
    in ms, and the queries and size of the last. `taken` (the CPU and wall times of
    earlier rounds of the same request) adds its samples to this round's."""
    for _ in range(WARM):
        device.request("warm", "GET", path, headers=headers)
    cpu, wall = taken or ([], [])
    reply = None
    for _ in range(runs):
        reply = device.request("notes", "GET", path, headers=headers)
        if reply.status != expect:
            raise RuntimeError(f"{path} answered {reply.status}, not {expect}")
        cpu.append(int(reply.headers["x-cpu-us"]) / 1000)
        wall.append(reply.sample.ms)
    return {
        "taken": (cpu, wall),
        "status": reply.status,
        "queries": int(reply.headers["x-queries"]),
        "bytes": len(reply.body),
        "cpu": (percentile(cpu, 0.5), percentile(cpu, 0.9)),
        "wall": (percentile(wall, 0.5), percentile(wall, 0.9)),
        "marks": reply.body.count(b'<mark class="hl'),
    }


def run(port: int, reading, instructor: User, students: list[User]) -> list[str]:
    """Prints the table; returns the goals missed."""
    case = reading.case_reading.case
    student = students[0]
    cohort = Membership.objects.filter(user=student).values_list("cohort_id", flat=True)[0]
    in_cohort = set(
        Membership.objects.filter(cohort=cohort, user__in=students).values_list("user", flat=True)
    )
    classmates = [s for s in students if s.pk in in_cohort]
    device = Device(port, *sign_in(student))
    page = reading.get_absolute_url()
    live = reverse("cases:annotation_live", args=[case.slug])
    rows = []
    clear(case)
    try:
        others = Annotation.objects.filter(case=case).count()
        # The page without notes and with them, in ROUNDS turns (the notes cleared and
        # written again between), so a drift of the machine's speed falls on both alike:
        # measured one after the other, the ratio moved by a fifth from run to run.
        bare = noted = None
        for _ in range(ROUNDS):
            clear(case)
            bare = measure(device, page, 200, runs=RUNS // ROUNDS, taken=bare and bare["taken"])
            written = annotate(case, classmates[:60], instructor, NOTES)
            noted = measure(device, page, 200, runs=RUNS // ROUNDS, taken=noted and noted["taken"])
        rows.append(("case reader, no notes", bare))
        rows.append((f"case reader, {NOTES} notes", noted))
        rows.append(("notes poll, changed (200)", measure(device, live, 200, HTMX)))
        etag = device.request("etag", "GET", live, headers=HTMX).headers["etag"]
        unchanged = HTMX | {"If-None-Match": etag}
        rows.append(("notes poll, unchanged (304)", measure(device, live, 304, unchanged)))
    finally:
        clear(case)
        device.close()

    print(
        f"\nthe reader with notes: {case.title} ({case.paragraphs.count()} paragraphs) as "
        f"{student.username}, one request at a time, {RUNS} each after {WARM} to warm (the page "
        f"without notes and with them in {ROUNDS} turns); "
        f"{written} notes and replies written by {min(60, len(classmates))} classmates and "
        f"the instructor ({others} other notes on the case)"
    )
    header = (
        f"{'request':<30} {'status':>6} {'queries':>7} {'KiB':>6} {'marks':>5} "
        f"{'CPU p50':>7} {'CPU p90':>7} {'wall p50':>8} {'wall p90':>8}"
    )
    print(header)
    print("-" * len(header))
    for name, r in rows:
        print(
            f"{name:<30} {r['status']:>6} {r['queries']:>7} {r['bytes'] / 1024:>6.1f} "
            f"{r['marks']:>5} {r['cpu'][0]:>7.2f} {r['cpu'][1]:>7.2f} "
            f"{r['wall'][0]:>8.2f} {r['wall'][1]:>8.2f}"
        )
    print("CPU: ms of the app thread per request (X-CPU-us); wall: ms at the client.")
    results = dict(rows)
    bare, noted = results["case reader, no notes"], results[f"case reader, {NOTES} notes"]
    ratio = noted["cpu"][0] / bare["cpu"][0]
    goals = [
        (f"reader with {NOTES} notes, CPU p50 <= {GOAL}x without", f"{ratio:.2f}x", ratio <= GOAL),
        (
            f"reader with {NOTES} notes, queries == without",
            noted["queries"],
            noted["queries"] == bare["queries"],
        ),
        (
            "notes poll, unchanged (304): queries <= 4",
            results["notes poll, unchanged (304)"]["queries"],
            results["notes poll, unchanged (304)"]["queries"] <= 4,
        ),
        (
            "notes poll, changed (200): queries <= 4",
            results["notes poll, changed (200)"]["queries"],
            results["notes poll, changed (200)"]["queries"] <= 4,
        ),
    ]
    print("\ngoals (the reader with notes)")
    for text, value, met in goals:
        print(f"  {'met ' if met else 'MISSED'}  {text}: {value}")
    return [text for text, _value, met in goals if not met]


def reading_of(course: Course) -> ModuleItem:
    """The case reading `make bench` drives as "case reader"."""
    items = ModuleItem.objects.filter(module__course=course, kind=ItemKind.CASE_READING)
    return items.select_related("case_reading__case").order_by("pk").first()


def main() -> int:
    course = Course.objects.filter(code="LOAD").first()
    if course is None:
        sys.exit("No LOAD course: run `make bench` once (or seed_load).")
    instructor = course.instructors.order_by("pk").first()
    students = list(
        User.objects.filter(cohorts__courses=course).order_by("username").distinct()[:200]
    )
    port = free_port()
    workers = int(os.environ.get("BENCH_WORKERS", "4"))
    log_path = Path(tempfile.mkdtemp(prefix="bench-notes-")) / "gunicorn.log"
    with log_path.open("w") as log:
        env = {"DJANGO_SETTINGS_MODULE": "benchsite", "PYTHONPATH": str(ROOT / "bench")}
        server = start_gunicorn(
            port, log, workers=workers, threads=int(os.environ.get("BENCH_THREADS", "4")), env=env
        )
        try:
            wait_ready(server, port, workers)
            missed = run(port, reading_of(course), instructor, students)
        finally:
            stop_gunicorn(server)
    if "Traceback" in log_path.read_text():
        print(f"tracebacks in gunicorn's log: {log_path}")
        return 1
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
