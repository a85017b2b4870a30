"""Time the instructor workspace on a large course: the response tracker (its first
page of 50 students by 40 items, and an unchanged poll), the gradebook's first page and
the full CSV export of 500 students by 40 assignments, through Django's request stack
(no network), with DEBUG off.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/redqueen_bench \\
        .venv/bin/python bench/workspace.py

Builds its own course (BENCH 500: 2 cohorts x 250 students, 8 modules x 5 items, work
on three cells in four) in the configured database the first time, after migrating it.
Prints a table: page, queries, median and 95th-percentile milliseconds, response size.
"""

import os
import random
import statistics
import time
from datetime import timedelta

import production

production.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection, reset_queries, transaction  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from django.urls import reverse  # noqa: E402
from django.utils import timezone  # noqa: E402

from cases.models import (  # noqa: E402
    Assignment,
    Cohort,
    Course,
    Extension,
    ItemKind,
    Membership,
    Module,
    ModuleItem,
    User,
    Work,
    WorkStatus,
)

RUNS = int(os.environ.get("BENCH_RUNS", "15"))
CODE = "BENCH 500"
KINDS = [ItemKind.CASE_READING, ItemKind.QUIZ, ItemKind.DISCUSSION]


@transaction.atomic
def seed() -> Course:
    course = Course.objects.filter(code=CODE).first()
    if course is not None:
        return course
    rng = random.Random(6)
    course = Course.objects.create(code=CODE, title="Workspace benchmark")
    instructor = User.objects.create(username="bench-instructor", first_name="Bench")
    course.instructors.add(instructor)
    cohorts = [Cohort.objects.create(name=f"Bench section {s}") for s in "AB"]
    course.cohorts.add(*cohorts)
    students = User.objects.bulk_create(
        User(username=f"bench-{n}", first_name="Student", last_name=f"{n:03d}") for n in range(500)
    )
    Membership.objects.bulk_create(
        Membership(cohort=cohorts[n // 250], user=s) for n, s in enumerate(students)
    )
    now = timezone.now()
    items = []
    for m in range(8):
        module = Module.objects.create(course=course, title=f"Module {m + 1}", position=m)
        items += ModuleItem.objects.bulk_create(
            ModuleItem(module=module, kind=KINDS[i % 3], title=f"Item {m + 1}.{i + 1}", position=i)
            for i in range(5)
        )
    assignments = Assignment.objects.bulk_create(
        Assignment(item=item, cohort=cohort, due_at=now + timedelta(days=n - 20), points=10)
        for n, item in enumerate(items)
        for cohort in cohorts
    )
    works = []
    for student in students:
        for item in items:
            if rng.random() < 0.75:
                done = rng.random() < 0.8
                works.append(
                    Work(
                        item=item,
                        user=student,
                        state=WorkStatus.SUBMITTED if done else WorkStatus.IN_PROGRESS,
                        opened_at=now - timedelta(days=30),
                        submitted_at=now - timedelta(days=rng.randint(0, 29)) if done else None,
                        auto_score=rng.randint(0, 10) if done else None,
                        max_score=10,
                    )
                )
    Work.objects.bulk_create(works, batch_size=2000)
    Extension.objects.bulk_create(
        Extension(assignment=assignments[n], user=students[n], due_at=now + timedelta(days=30))
        for n in range(0, 80, 2)
    )
    return course


def measure(client: Client, path: str, headers=None) -> tuple[int, float, float, int, int]:
    def fetch():
        response = client.get(path, headers=headers or {})
        if response.streaming:
            size = sum(len(chunk) for chunk in response.streaming_content)
        else:
            size = len(response.content)
        return response, size

    fetch()  # Warm caches and the connection.
    reset_queries()  # Each request empties the query log as it starts; so does this.
    with CaptureQueriesContext(connection) as queries:
        response, size = fetch()
    count = len(queries)  # Now: the log is read lazily, and the next request empties it.
    timings = []
    for _ in range(RUNS):
        start = time.perf_counter()
        fetch()
        timings.append((time.perf_counter() - start) * 1000)
    timings.sort()
    p95 = timings[max(0, int(len(timings) * 0.95) - 1)]
    return count, statistics.median(timings), p95, response.status_code, size


def main() -> None:
    call_command("migrate", verbosity=0)
    call_command("collectstatic", interactive=False, verbosity=0)  # Production's manifest.
    started = time.perf_counter()
    course = seed()
    print(f"seeded in {time.perf_counter() - started:.1f} s")
    client = Client(HTTP_HOST="127.0.0.1")
    client.force_login(User.objects.get(username="bench-instructor"))
    tracker = reverse("cases:tracker", args=[course.pk])
    poll = client.get(tracker, headers={"HX-Request": "true"})
    pages = [
        ("tracker, page 1 (50 x 40)", tracker, None),
        ("tracker poll, changed (htmx)", tracker, {"HX-Request": "true"}),
        (
            "tracker poll, unchanged (304)",
            tracker,
            {"HX-Request": "true", "If-None-Match": poll["ETag"]},
        ),
        ("gradebook, page 1 (50 x 40)", reverse("cases:gradebook", args=[course.pk]), None),
        ("gradebook CSV (500 x 40)", reverse("cases:gradebook_csv", args=[course.pk]), None),
    ]
    students = Membership.objects.filter(cohort__courses=course).count()
    items = ModuleItem.objects.filter(module__course=course).count()
    print(f"database: {connection.vendor}; {students} students x {items} items; {RUNS} runs each")
    print(f"{'page':<32} {'status':>6} {'queries':>7} {'median ms':>10} {'p95 ms':>8} {'KB':>7}")
    for name, path, headers in pages:
        queries, median, p95, status, size = measure(client, path, headers)
        print(
            f"{name:<32} {status:>6} {queries:>7} {median:>10.1f} {p95:>8.1f} {size / 1024:>7.0f}"
        )


if __name__ == "__main__":
    main()
