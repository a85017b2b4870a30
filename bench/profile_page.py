"""Profile one page of the LOAD course in-process, with production settings (DEBUG
off) on PostgreSQL, through Django's full request stack (no network): where a page's
CPU goes, function by function.

    make bench   # once: builds the LOAD course in redqueen_load
    .venv/bin/python bench/profile_page.py student|instructor PAGE [--runs N] [--top N]

PAGE is one of PAGES below (dashboard, reader, quiz, thread, tracker, gradebook, ...).
Prints the median milliseconds over the runs, then cProfile's functions by own time
and by cumulative time over all the runs.
"""

import argparse
import cProfile
import pstats
import statistics
import sys
import time

import production

production.setup(
    DATABASE_URL="postgres://postgres@127.0.0.1:5432/redqueen_load",
    REDIS_URL="redis://127.0.0.1:6379/8",
)

from django.test import Client  # noqa: E402
from django.urls import reverse  # noqa: E402

from cases.models import Attempt, Course, ItemKind, ModuleItem, User  # noqa: E402


def pages(course: Course, student: User) -> dict[str, str]:
    items = ModuleItem.objects.filter(module__course=course).order_by("pk")
    attempt = (
        Attempt.objects.filter(quiz__item__module__course=course, user=student)
        .filter(submitted_at__isnull=True)
        .first()
    )
    return {
        "dashboard": "/",
        "course": course.get_absolute_url(),
        "reader": items.filter(kind=ItemKind.CASE_READING).first().get_absolute_url(),
        "thread": items.filter(kind=ItemKind.DISCUSSION).first().get_absolute_url(),
        "quiz": attempt.get_absolute_url() if attempt else "/",
        "tracker": reverse("cases:tracker", args=[course.pk]),
        "gradebook": reverse("cases:gradebook", args=[course.pk]),
    }


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("role", choices=["student", "instructor"])
    parser.add_argument("page")
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--top", type=int, default=30)
    parser.add_argument("--filter", help="only functions whose file matches (a regex)")
    args = parser.parse_args()

    course = Course.objects.get(code="LOAD")
    student = User.objects.filter(cohorts__courses=course).order_by("username").first()
    user = student if args.role == "student" else course.instructors.order_by("pk").first()
    path = pages(course, student)[args.page]
    client = Client(HTTP_HOST="127.0.0.1")
    client.force_login(user)
    for _ in range(3):  # Templates compiled, caches filled, connection open.
        assert client.get(path).status_code == 200, path
    timings = []
    profile = cProfile.Profile()
    for _ in range(args.runs):
        started = time.perf_counter()
        profile.enable()
        client.get(path)
        profile.disable()
        timings.append((time.perf_counter() - started) * 1000)
    print(f"{path} as {user.username}: median {statistics.median(timings):.1f} ms (profiled)")
    stats = pstats.Stats(profile)
    stats.sort_stats("tottime").print_stats(args.top)
    stats.sort_stats("cumulative").print_stats(args.filter or "", args.top)
    return 0


if __name__ == "__main__":
    sys.exit(main())
