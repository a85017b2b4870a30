"""Time the main pages through Django's full request stack (no network) and count
their queries. Run against a seeded database:

    DJANGO_DEBUG=1 .venv/bin/python bench/pages.py            # SQLite
    DATABASE_URL=postgres://... DJANGO_DEBUG=1 .venv/bin/python bench/pages.py

Prints a table: page, user, queries, median and 95th-percentile milliseconds.
"""

import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "redqueen.settings")

import django

django.setup()

from django.db import connection, reset_queries  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

from cases.models import CaseReading, Course, User  # noqa: E402

RUNS = int(os.environ.get("BENCH_RUNS", "30"))


def measure(client: Client, path: str) -> tuple[int, float, float, int]:
    client.get(path)  # Warm caches and the connection.
    reset_queries()  # The debug query log is capped; start it empty.
    with CaptureQueriesContext(connection) as queries:
        response = client.get(path)
    count = len(queries)  # Now: the log is read lazily, and the next request empties it.
    timings = []
    for _ in range(RUNS):
        start = time.perf_counter()
        client.get(path)
        timings.append((time.perf_counter() - start) * 1000)
    timings.sort()
    p95 = timings[max(0, int(len(timings) * 0.95) - 1)]
    return count, statistics.median(timings), p95, response.status_code


def main() -> None:
    course = Course.objects.order_by("pk").first()
    reading = CaseReading.objects.select_related("item", "case").order_by("item__pk").first()
    if course is None or reading is None:
        sys.exit("No demo data: run `python manage.py seed_demo` first.")
    pages = [
        ("student1", "/"),
        ("student1", course.get_absolute_url()),
        ("student1", "/library/"),
        ("student1", "/library/?q=telecom"),
        ("student1", reading.item.get_absolute_url()),
        ("instructor", "/teach/"),
        ("instructor", course.get_absolute_url()),
        ("instructor", reading.case.get_absolute_url()),
    ]
    print(f"database: {connection.vendor}, {RUNS} runs a page")
    print(f"{'page':<34} {'user':<11} {'queries':>7} {'median ms':>10} {'p95 ms':>8}")
    for username, path in pages:
        client = Client(HTTP_HOST="127.0.0.1")
        client.force_login(User.objects.get(username=username))
        queries, median, p95, status = measure(client, path)
        assert status == 200, (path, status)
        print(f"{path:<34} {username:<11} {queries:>7} {median:>10.1f} {p95:>8.1f}")


if __name__ == "__main__":
    main()
