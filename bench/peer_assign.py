"""Time assigning peer review for a large cohort: `peer_reviews_assign` for 500 students
who all handed in, every one of them paired with a classmate (so the ring must avoid
250 partners), with DEBUG off, on PostgreSQL.

    make bench-peer
    # or, with the same default:
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/rq_peer_bench \\
        .venv/bin/python bench/peer_assign.py

Builds its course the first time (after migrating the database), with bulk_create.
Each run deletes the item's reviews and their notifications, then assigns; "again" is
the same call repeated, which must write nothing. Prints a table: students, reviews
each, rows written, queries, seconds (the median of BENCH_RUNS runs). The goal is
under 2 s.
"""

import os
import statistics
import sys
import time
from datetime import timedelta

import production

production.setup(DATABASE_URL="postgres://postgres@127.0.0.1:5432/rq_peer_bench")

from django.core.management import call_command  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from django.utils import timezone  # noqa: E402
from harness import create_database  # noqa: E402

from cases.models import (  # noqa: E402
    Analysis,
    Assignment,
    Cohort,
    Course,
    ItemKind,
    Membership,
    Memo,
    MemoVersion,
    Module,
    ModuleItem,
    Notification,
    PeerReview,
    StanceCheck,
    StancePair,
    User,
)
from cases.services.peer_review import peer_reviews_assign  # noqa: E402

STUDENTS = 500
RUNS = int(os.environ.get("BENCH_RUNS", "5"))
CODE = "PEER 500"
GOAL_SECONDS = 2.0


@transaction.atomic
def seed() -> tuple[ModuleItem, Cohort]:
    item = ModuleItem.objects.filter(module__course__code=CODE, kind=ItemKind.ANALYSIS).first()
    if item is not None:
        return item, item.assignments.get().cohort
    now = timezone.now()
    course = Course.objects.create(code=CODE, title="Peer review benchmark")
    cohort = Cohort.objects.create(name="Peer bench section")
    course.cohorts.add(cohort)
    students = User.objects.bulk_create(
        User(username=f"peer-{n}", first_name="Student", last_name=f"{n:03d}")
        for n in range(STUDENTS)
    )
    Membership.objects.bulk_create(Membership(cohort=cohort, user=s) for s in students)
    module = Module.objects.create(course=course, title="Module 1", position=0)
    item = ModuleItem.objects.create(
        module=module, kind=ItemKind.ANALYSIS, title="Memo: build or buy", position=0
    )
    Analysis.objects.create(item=item, prompt="Build or buy?", peer_review=True, reviews_each=3)
    Assignment.objects.create(item=item, cohort=cohort, due_at=now - timedelta(days=1))
    memos = Memo.objects.bulk_create(Memo(item=item, author=s) for s in students)
    MemoVersion.objects.bulk_create(
        MemoVersion(
            memo=memo, number=number, body="Buy.", body_html="<p>Buy.</p>", submitted_at=now
        )
        for memo in memos
        for number in (1, 2)
    )
    stance_item = ModuleItem.objects.create(
        module=module, kind=ItemKind.STANCE_CHECK, title="Stance", position=1
    )
    stance = StanceCheck.objects.create(item=stance_item, statement="Build it.")
    StancePair.objects.bulk_create(
        StancePair(stance=stance, first=students[n], second=students[n + 1], distance=4)
        for n in range(0, STUDENTS, 2)
    )
    return item, cohort


def run(item, cohort, reviews_each: int, *, again: bool = False) -> tuple[int, int, float]:
    """One assignment (or, with `again`, a repeat of one): rows, queries, seconds."""
    if not again:
        PeerReview.objects.filter(item=item).delete()
        Notification.objects.filter(key=f"peer_review:{item.pk}").delete()
    Analysis.objects.filter(item=item).update(reviews_each=reviews_each)
    before = PeerReview.objects.filter(item=item).count()
    with CaptureQueriesContext(connection) as queries:
        started = time.perf_counter()
        peer_reviews_assign(item=item, cohort=cohort, seed=None)
        seconds = time.perf_counter() - started
    rows = PeerReview.objects.filter(item=item).count() - before
    return rows, len(queries), seconds


def main() -> None:
    create_database()
    call_command("migrate", verbosity=0)
    item, cohort = seed()
    print(f"peer_reviews_assign, {connection.vendor}, median of {RUNS} runs")
    print(f"{'students':>9} {'reviews each':>13} {'rows':>6} {'queries':>8} {'seconds':>8}")
    worst = 0.0
    for reviews_each in (1, 2, 3):
        results = [run(item, cohort, reviews_each) for _ in range(RUNS)]
        rows, queries = results[-1][0], results[-1][1]
        seconds = statistics.median(r[2] for r in results)
        worst = max(worst, seconds)
        print(f"{STUDENTS:>9} {reviews_each:>13} {rows:>6} {queries:>8} {seconds:>8.3f}")
    rows, queries, seconds = run(item, cohort, 3, again=True)
    print(f"{STUDENTS:>9} {'3 (again)':>13} {rows:>6} {queries:>8} {seconds:>8.3f}")
    if worst >= GOAL_SECONDS:
        sys.exit(f"slower than the goal of {GOAL_SECONDS} s")


if __name__ == "__main__":
    main()
