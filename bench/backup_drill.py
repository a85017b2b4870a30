"""Backup drill: take a `pg_dump -Fc` while students write, restore it into a fresh
database and prove the copy is the database as it was at the dump's snapshot, migrated
and serving.

    make backup-drill
    # or, with the same defaults:
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/redqueen_faults \\
        REDIS_URL=redis://127.0.0.1:6379/9 .venv/bin/python bench/backup_drill.py [--keep]

Prepares the database and runs the write load of `bench/writeload.py` through gunicorn
(4 workers x 4 threads, DEBUG off). After WARMUP seconds of load it opens a REPEATABLE
READ transaction, exports its snapshot (`pg_export_snapshot()`) and runs
`pg_dump -Fc --snapshot=...` on it while, in that same transaction, it counts the rows
of every table and takes an md5 of every row, in id order, of quiz attempts, answers and
posts: what the dump must hold, although the load goes on writing. Then it stops the
load (checking that no acknowledged write was lost), restores the dump with
`pg_restore` into a new database (`<name>_restored_<time>`), compares the counts and
checksums, checks every sequence is past its table's ids, runs
`manage.py migrate --check` against the copy, and starts gunicorn on the copy (local
memory cache, so every page reads the copy) to sign in over HTTP as a demo student and
as the instructor and open the dashboard, a quiz, a discussion and the tracker.

Prints a table; exits non-zero on any mismatch, a lost write, migrations to apply or a
page that is not 200. The copy and the dump file are deleted at the end unless --keep.
"""

import argparse
import http.client
import os
import re
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlencode, urlsplit, urlunsplit

import production

production.setup(
    DATABASE_URL="postgres://postgres@127.0.0.1:5432/redqueen_faults",
    REDIS_URL="redis://127.0.0.1:6379/9",
)

import psycopg  # noqa: E402
import writeload  # noqa: E402
from django.conf import settings  # noqa: E402
from django.urls import reverse  # noqa: E402
from harness import (  # noqa: E402
    ROOT,
    Device,
    free_port,
    start_gunicorn,
    stop_gunicorn,
    table,
    wait_ready,
)
from psycopg import sql  # noqa: E402

from cases.demo.seed import COURSE_CODE as DEMO_COURSE_CODE  # noqa: E402
from cases.demo.seed import DEMO_PASSWORD  # noqa: E402
from cases.models import Answer, Attempt, Course, ItemKind, ModuleItem, Post  # noqa: E402

WORKERS = int(os.environ.get("BENCH_WORKERS", "4"))
THREADS = int(os.environ.get("BENCH_THREADS", "4"))
WARMUP = 3.0  # Seconds of load before the dump.
CHECKSUMMED = [Attempt, Answer, Post]


# Connections -------------------------------------------------------------------------


def conninfo(dbname: str) -> str:
    """libpq's connection string for a database of DATABASE_URL's server."""
    db = settings.DATABASES["default"]
    params = {"host": db["HOST"], "port": db["PORT"], "user": db["USER"], "dbname": dbname}
    return psycopg.conninfo.make_conninfo(**{k: v for k, v in params.items() if v})


def database_url(dbname: str) -> str:
    parts = urlsplit(os.environ["DATABASE_URL"])
    return urlunsplit(parts._replace(path=f"/{dbname}"))


def tool_env() -> dict[str, str]:
    """The environment for pg_dump and pg_restore: the password, if there is one."""
    password = settings.DATABASES["default"]["PASSWORD"]
    return {**os.environ, **({"PGPASSWORD": password} if password else {})}


def connect(dbname: str, **kwargs) -> psycopg.Connection:
    password = settings.DATABASES["default"]["PASSWORD"] or None  # None: left out.
    return psycopg.connect(conninfo(dbname), password=password, **kwargs)


# What a database holds ---------------------------------------------------------------


def fingerprint(cursor: psycopg.Cursor) -> tuple[dict[str, int], dict[str, str]]:
    """Row counts of every table of the public schema, and an md5 of every row (its text
    form, in id order) of the checksummed tables."""
    cursor.execute("SET LOCAL TIME ZONE 'UTC'")  # Rows as text: timestamps in one zone.
    cursor.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename")
    tables = [name for (name,) in cursor.fetchall()]
    counts = {}
    for name in tables:
        cursor.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(name)))
        counts[name] = cursor.fetchone()[0]
    checksums = {}
    for model in CHECKSUMMED:
        name = model._meta.db_table
        cursor.execute(
            sql.SQL(
                "SELECT md5(coalesce(string_agg(t::text, E'\\n' ORDER BY t.id), '')) FROM {} t"
            ).format(sql.Identifier(name))
        )
        checksums[name] = cursor.fetchone()[0]
    return counts, checksums


def sequences_behind(cursor: psycopg.Cursor) -> list[str]:
    """Tables whose id sequence would hand out an id already taken."""
    cursor.execute(
        "SELECT c.table_name, pg_get_serial_sequence(quote_ident(c.table_name), 'id')"
        " FROM information_schema.columns c WHERE c.table_schema = 'public'"
        " AND c.column_name = 'id' ORDER BY c.table_name"
    )
    behind = []
    for table_name, sequence in cursor.fetchall():
        if sequence is None:
            continue
        cursor.execute(
            sql.SQL("SELECT (SELECT max(id) FROM {}), last_value, is_called FROM {}").format(
                sql.Identifier(table_name), sql.SQL(sequence)
            )
        )
        top, last_value, is_called = cursor.fetchone()
        next_id = last_value + 1 if is_called else last_value
        if top is not None and next_id <= top:
            behind.append(table_name)
    return behind


# The dump and the restore ------------------------------------------------------------


def dump_at_snapshot(dbname: str, path: Path):
    """pg_dump of the database at a snapshot exported from a REPEATABLE READ transaction,
    and what that transaction saw: (seconds, counts, checksums)."""
    with connect(dbname) as source:
        source.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        with source.cursor() as cursor:
            cursor.execute("SELECT pg_export_snapshot()")
            snapshot = cursor.fetchone()[0]
            started = time.perf_counter()
            dump = subprocess.Popen(  # noqa: S603 (our own command line)
                [  # noqa: S607
                    "pg_dump",
                    "--format=custom",
                    f"--snapshot={snapshot}",
                    f"--file={path}",
                    f"--dbname={conninfo(dbname)}",
                ],
                env=tool_env(),
                stderr=subprocess.PIPE,
                text=True,
            )
            counts, checksums = fingerprint(cursor)
            _out, errors = dump.communicate()
            seconds = time.perf_counter() - started
        # The snapshot must outlive pg_dump's import of it: the transaction ends here.
        source.rollback()
    if dump.returncode:
        sys.exit(f"pg_dump failed ({dump.returncode}): {errors.strip()}")
    return seconds, counts, checksums


def restore(path: Path, dbname: str) -> float:
    with connect("postgres", autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(dbname)))
    started = time.perf_counter()
    result = subprocess.run(  # noqa: S603 (our own command line)
        [  # noqa: S607
            "pg_restore",
            "--no-owner",
            "--exit-on-error",
            f"--dbname={conninfo(dbname)}",
            str(path),
        ],
        env=tool_env(),
        capture_output=True,
        text=True,
    )
    if result.returncode:
        sys.exit(f"pg_restore failed ({result.returncode}): {result.stderr.strip()}")
    return time.perf_counter() - started


def drop(dbname: str) -> None:
    with connect("postgres", autocommit=True) as admin:
        admin.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(dbname))
        )


def migrate_check(dbname: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", "migrate", "--check"],
        cwd=ROOT,
        env={**os.environ, "DATABASE_URL": database_url(dbname)},
        capture_output=True,
        text=True,
    )


# Smoke test --------------------------------------------------------------------------

CSRF_FIELD = re.compile(rb'name="csrfmiddlewaretoken" value="([^"]+)"')


def cookie(headers: list[tuple[str, str]], name: str) -> str:
    for header, value in headers:
        if header.lower() == "set-cookie" and value.startswith(f"{name}="):
            return value.split(";", 1)[0].split("=", 1)[1]
    return ""


def sign_in_over_http(port: int, username: str) -> Device:
    """Sign in through the login form with the demo password, as a person does (the
    copy's password hashes, sessions and CSRF all take part)."""
    page = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        page.request("GET", reverse("login"))
        response = page.getresponse()
        body = response.read()
        csrf_cookie = cookie(response.getheaders(), settings.CSRF_COOKIE_NAME)
        found = CSRF_FIELD.search(body)
        if response.status != 200 or not found or not csrf_cookie:
            raise RuntimeError(f"the login page answered {response.status}")
        form = {
            "username": username,
            "password": DEMO_PASSWORD,
            "csrfmiddlewaretoken": found.group(1).decode(),
        }
        page.request(
            "POST",
            reverse("login"),
            body=urlencode(form),
            headers={
                "Content-Type": "application/x-www-form-urlencoded",
                "Cookie": f"{settings.CSRF_COOKIE_NAME}={csrf_cookie}",
            },
        )
        response = page.getresponse()
        response.read()
        session = cookie(response.getheaders(), settings.SESSION_COOKIE_NAME)
        if response.status != 302 or not session:
            raise RuntimeError(f"signing in as {username} answered {response.status}")
    finally:
        page.close()
    jar = f"{settings.SESSION_COOKIE_NAME}={session}; {settings.CSRF_COOKIE_NAME}={csrf_cookie}"
    return Device(port, jar, csrf_cookie)


def smoke_pages(drill: writeload.Drill) -> list[tuple[str, str]]:
    """(who, path) to open on the copy: ids read from the source, which the copy shares."""
    demo = Course.objects.get(code=DEMO_COURSE_CODE)
    items = ModuleItem.objects.filter(module__course=demo).order_by("module__position", "position")
    quiz = items.filter(kind=ItemKind.QUIZ).first()
    discussion = items.filter(kind=ItemKind.DISCUSSION).first()
    attempt = Attempt.objects.filter(quiz__item=drill.quiz_item, user__username="student1").get()
    return [
        ("student1", reverse("cases:home")),
        ("student1", quiz.get_absolute_url()),
        ("student1", discussion.get_absolute_url()),
        ("student1", attempt.get_absolute_url()),  # The answers the load saved.
        ("instructor", reverse("cases:instructor_dashboard")),
        ("instructor", quiz.get_absolute_url()),
        ("instructor", discussion.get_absolute_url()),
        ("instructor", reverse("cases:tracker", args=[demo.pk])),
        ("instructor", reverse("cases:tracker", args=[drill.course.pk])),
    ]


def smoke(dbname: str, pages: list[tuple[str, str]], workdir: Path) -> list[tuple[str, str, int]]:
    """Open the pages on gunicorn serving the copy: (who, path, status) each."""
    port = free_port()
    log_path = workdir / "gunicorn-copy.log"
    with log_path.open("w") as log:
        server = start_gunicorn(
            port,
            log,
            workers=1,
            threads=2,
            env={"DATABASE_URL": database_url(dbname), "REDIS_URL": ""},
        )
        try:
            wait_ready(server, port, 1)
            devices = {who: sign_in_over_http(port, who) for who in {w for w, _p in pages}}
            results = [
                (who, path, devices[who].request("smoke", "GET", path).status)
                for who, path in pages
            ]
        finally:
            stop_gunicorn(server)
    if "Traceback" in log_path.read_text():
        results.append(("gunicorn", "log", 500))
    return results


# The drill ---------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--keep", action="store_true", help="keep the copy and the dump file")
    keep = parser.parse_args().keep

    writeload.prepare()
    drill = writeload.build()
    source = settings.DATABASES["default"]["NAME"]
    stamp = datetime.now(UTC)
    run = stamp.strftime("%Y%m%dT%H%M%S")
    copy = f"{source}_restored_{run.lower()}"
    workdir = Path(tempfile.mkdtemp(prefix="backup-drill-"))
    dump_path = workdir / f"{source}.dump"

    port = free_port()
    log_path = workdir / "gunicorn.log"
    with log_path.open("w") as log:
        server = start_gunicorn(port, log, workers=WORKERS, threads=THREADS)
        load = writeload.WriteLoad(port, drill, run=run)
        try:
            wait_ready(server, port, WORKERS)
            load.open()
            load.start()
            time.sleep(WARMUP)
            dump_started = time.perf_counter()
            dump_seconds, counts, checksums = dump_at_snapshot(source, dump_path)
            dump_ended = time.perf_counter()
            time.sleep(1.0)  # Writes after the snapshot, which the copy must not hold.
        finally:
            writes = load.stop()
            stop_gunicorn(server)
    tallies = writeload.check(drill, run, writes)
    during = sum(w.acknowledged and dump_started <= w.end <= dump_ended for w in writes)
    with connect(source) as now:
        counts_after, checksums_after = fingerprint(now.cursor())

    restore_seconds = restore(dump_path, copy)
    reasons = []
    try:
        with connect(copy) as restored:
            cursor = restored.cursor()
            copy_counts, copy_checksums = fingerprint(cursor)
            behind = sequences_behind(cursor)
        migrations = migrate_check(copy)
        results = smoke(copy, smoke_pages(drill), workdir)
    finally:
        if not keep:
            drop(copy)

    mismatched = sorted(
        name
        for name in counts.keys() | copy_counts.keys()
        if counts.get(name) != copy_counts.get(name)
    )
    bad_sums = [name for name in checksums if checksums[name] != copy_checksums.get(name)]
    changed = sorted(
        {name for name in counts if counts_after.get(name) != counts[name]}
        | {name for name in checksums if checksums_after[name] != checksums[name]}
    )
    failed_pages = [(who, path, status) for who, path, status in results if status != 200]
    saves, posts = tallies["autosave"], tallies["post"]
    print(
        f"Backup drill {stamp:%Y-%m-%d %H:%M} UTC: {source} under the write load of "
        f"{len(drill.students)} students (gunicorn {WORKERS} x {THREADS}); "
        f"nproc {len(os.sched_getaffinity(0))}"
    )
    table(
        "backup and restore",
        [
            (
                "pg_dump -Fc at an exported snapshot: size / seconds",
                f"{dump_path.stat().st_size / 1e6:.1f} MB / {dump_seconds:.2f}",
            ),
            ("writes acknowledged while it ran", str(during)),
            ("pg_restore into a new database: seconds", f"{restore_seconds:.2f}"),
            ("tables compared / row-count mismatches", f"{len(counts)} / {len(mismatched)}"),
            (
                "rows at the snapshot / in the copy",
                f"{sum(counts.values())} / {sum(copy_counts.values())}",
            ),
            (
                "tables the load changed after the snapshot (the copy must not)",
                ", ".join(changed) or "none",
            ),
            *(
                (
                    f"md5 of {name} at the snapshot / in the copy",
                    f"{checksums[name][:12]} / {copy_checksums.get(name, '-')[:12]}"
                    f" ({'same' if name not in bad_sums else 'DIFFERENT'})",
                )
                for name in checksums
            ),
            ("sequences behind their table's ids", ", ".join(behind) or "none"),
            (
                "migrate --check on the copy",
                "no migration to apply"
                if migrations.returncode == 0
                else f"exit {migrations.returncode}",
            ),
            (
                "smoke pages on the copy: 200 / opened",
                f"{len(results) - len(failed_pages)} / {len(results)}",
            ),
            (
                "writes during the drill: autosaves / posts sent, acknowledged, lost",
                f"{saves.sent}, {saves.acknowledged}, {saves.lost} / "
                f"{posts.sent}, {posts.acknowledged}, {posts.lost}",
            ),
        ],
    )
    for who, path, status in results:
        print(f"    {status}  {who:<10} {path}")
    if mismatched:
        reasons.append(f"row counts differ: {', '.join(mismatched)}")
    if bad_sums:
        reasons.append(f"checksums differ: {', '.join(bad_sums)}")
    if behind:
        reasons.append(f"sequences behind: {', '.join(behind)}")
    if migrations.returncode:
        reasons.append(f"migrate --check: {migrations.stdout.strip()} {migrations.stderr.strip()}")
    if failed_pages:
        reasons.append(f"pages not 200: {failed_pages}")
    if saves.lost or posts.lost or posts.duplicates:
        reasons.append("acknowledged writes lost under the load")
    if not during:
        reasons.append("no write was acknowledged during the dump: the load did not run")
    if "Traceback" in log_path.read_text():
        reasons.append(f"a traceback in gunicorn's log {log_path}")

    print()
    for reason in reasons:
        print(f"FAILED: {reason}")
    if keep:
        print(f"kept: the copy {copy}, the dump {dump_path}")
    else:
        dump_path.unlink()
    if not reasons:
        print("the copy holds the database as it was at the dump's snapshot, and serves")
    if not reasons and not keep:
        for path in workdir.iterdir():
            path.unlink()
        workdir.rmdir()
    return 1 if reasons else 0


if __name__ == "__main__":
    sys.exit(main())
