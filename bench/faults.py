"""Fault drill: break PostgreSQL and gunicorn under a write load and prove that the app
answers cleanly, recovers by itself and loses nothing it acknowledged.

    make faults
    # or, with the same defaults:
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/redqueen_faults \\
        REDIS_URL=redis://127.0.0.1:6379/9 .venv/bin/python bench/faults.py

Restarts the PostgreSQL cluster that serves DATABASE_URL's port on this machine (found
with `pg_lsclusters`; run it as root or the cluster's owner), so point it at a cluster
that nobody else is using. Prepares the database as `bench/writeload.py` says, starts
gunicorn (4 workers x 4 threads, gthread, DEBUG off) on a free port and has the 24 demo
students autosave answers and post (see `bench/writeload.py`) through two phases:

- A: after WARMUP seconds of load, PostgreSQL is stopped (`pg_ctlcluster ... stop`,
  a fast shutdown that cuts every session), left down DOWN_FOR seconds and started
  again. Every response during the outage must be the 503 page with Retry-After (a
  connection-level failure is counted apart); the app must answer 2xx again within
  RECOVERY_LIMIT seconds of PostgreSQL accepting connections, by itself.
- B: after WARMUP seconds of load, one gunicorn worker is killed with SIGKILL;
  gunicorn starts another. Requests that fail at the connection level are counted.

Each phase runs AFTER seconds past its fault, then the load stops and the database is
checked: every acknowledged post is stored once, every acknowledged autosave is stored
or overwritten by a later save of the same answer. Prints a table per phase; exits
non-zero on a lost write, a duplicate post, a 500 or any response other than 2xx, the
503 page or a connection failure, a traceback in gunicorn's log, or no recovery.
"""

import http.client
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import production

production.setup(
    DATABASE_URL="postgres://postgres@127.0.0.1:5432/redqueen_faults",
    REDIS_URL="redis://127.0.0.1:6379/9",
)

import psycopg  # noqa: E402
import writeload  # noqa: E402
from django.conf import settings  # noqa: E402
from django.db import connection  # noqa: E402
from harness import (  # noqa: E402
    children,
    free_port,
    machine_busy,
    start_gunicorn,
    stop_gunicorn,
    table,
    wait_ready,
)
from writeload import Write, WriteLoad  # noqa: E402

WORKERS = int(os.environ.get("BENCH_WORKERS", "4"))
THREADS = int(os.environ.get("BENCH_THREADS", "4"))
WARMUP = 5.0  # Seconds of load before a fault.
AFTER = 15.0  # Seconds of load after it (a failed post is sent again within 12 s).
DOWN_FOR = 3.0  # Seconds PostgreSQL stays stopped.
RECOVERY_LIMIT = 10.0  # The app answers 2xx again within this long of PostgreSQL's return.
REPLACE_LIMIT = 30.0  # gunicorn replaces a killed worker within this long.


# PostgreSQL --------------------------------------------------------------------------


@dataclass
class Cluster:
    version: str
    name: str
    port: int

    def ctl(self, action: str) -> None:
        subprocess.run(  # noqa: S603 (our own command line)
            ["pg_ctlcluster", self.version, self.name, action],  # noqa: S607
            check=True,
            capture_output=True,
        )


def local_cluster() -> Cluster:
    """The cluster on this machine that listens on DATABASE_URL's port."""
    db = settings.DATABASES["default"]
    if db["ENGINE"] != "django.db.backends.postgresql":
        sys.exit("bench/faults.py restarts PostgreSQL: set DATABASE_URL to a postgres:// URL.")
    if db["HOST"] not in ("", "127.0.0.1", "localhost", "::1"):
        sys.exit(f"bench/faults.py restarts a local cluster; DATABASE_URL names {db['HOST']}.")
    port = int(db["PORT"] or 5432)
    try:
        listing = subprocess.run(
            ["pg_lsclusters", "--no-header"],  # noqa: S607
            check=True,
            capture_output=True,
            text=True,
        ).stdout
    except (OSError, subprocess.CalledProcessError) as error:
        sys.exit(f"pg_lsclusters failed ({error}): the drill needs Debian's postgresql-common.")
    for line in listing.splitlines():
        version, name, cluster_port, status, *_rest = line.split()
        if int(cluster_port) == port:
            if status != "online":
                sys.exit(f"cluster {version} {name} on port {port} is {status}")
            return Cluster(version, name, port)
    sys.exit(f"no PostgreSQL cluster of pg_lsclusters listens on port {port}")


def database_accepts() -> bool:
    db = settings.DATABASES["default"]
    params = {
        "dbname": db["NAME"],
        "user": db["USER"],
        "password": db["PASSWORD"],
        "host": db["HOST"],
        "port": db["PORT"],
    }
    try:
        with psycopg.connect(**{k: v for k, v in params.items() if v}, connect_timeout=2):
            return True
    except psycopg.OperationalError:
        return False


@dataclass
class Outage:
    stop_at: float  # `pg_ctlcluster stop` issued.
    down_at: float  # It returned: the server is down.
    start_at: float  # `pg_ctlcluster start` issued.
    back_at: float  # The first new connection succeeded.
    started_at: float  # `pg_ctlcluster start` returned.

    @property
    def seconds(self) -> float:
        return self.back_at - self.stop_at


def restart_postgres(cluster: Cluster) -> Outage:
    """Stop, wait, start; meanwhile a connection is tried every 20 ms, so the moment the
    server accepts again is known (before `pg_ctlcluster start` returns)."""
    back: list[float] = []

    def watch() -> None:
        while not database_accepts():
            time.sleep(0.02)
        back.append(time.perf_counter())

    stop_at = time.perf_counter()
    cluster.ctl("stop")
    try:
        down_at = time.perf_counter()
        time.sleep(DOWN_FOR)
    finally:  # Whatever happens, the cluster is started again.
        watcher = threading.Thread(target=watch, daemon=True)
        start_at = time.perf_counter()
        watcher.start()
        cluster.ctl("start")
        started_at = time.perf_counter()
    watcher.join()
    return Outage(stop_at, down_at, start_at, back[0], started_at)


# gunicorn ----------------------------------------------------------------------------


@dataclass
class WorkerKill:
    victim: int
    killed_at: float
    replacement: int | None = None
    replaced_at: float | None = None


def kill_worker(server: subprocess.Popen) -> WorkerKill:
    before = set(children(server.pid))
    kill = WorkerKill(min(before), time.perf_counter())
    os.kill(kill.victim, signal.SIGKILL)
    while time.perf_counter() < kill.killed_at + REPLACE_LIMIT:
        now = set(children(server.pid))
        if kill.victim not in now and len(now) == WORKERS:
            kill.replacement = min(now - before)
            kill.replaced_at = time.perf_counter()
            break
        time.sleep(0.05)
    return kill


# Phases ------------------------------------------------------------------------------


@dataclass
class Phase:
    writes: list[Write]
    tallies: dict[str, writeload.Tally]
    retries: int


def run_phase(load: WriteLoad, drill: writeload.Drill, run: str, fault):
    """Load, the fault, more load; then what the database holds."""
    retries = load.retries()
    load.start()
    time.sleep(WARMUP)
    event = fault()
    time.sleep(AFTER)
    writes = load.stop()
    connection.close()  # The drill's own connection did not survive a restart.
    phase = Phase(writes, writeload.check(drill, run, writes), load.retries() - retries)
    return phase, event


def server_connections(since: float) -> tuple[int, float, float]:
    """gunicorn's connections to the database now, and the first and last opened, in
    seconds after `since` (a perf_counter moment)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*), coalesce(max(extract(epoch FROM now() - backend_start)), 0),"
            " coalesce(min(extract(epoch FROM now() - backend_start)), 0)"
            " FROM pg_stat_activity WHERE datname = current_database()"
            " AND backend_type = 'client backend' AND pid <> pg_backend_pid()"
        )
        count, oldest, newest = cursor.fetchone()
    elapsed = time.perf_counter() - since
    return count, elapsed - float(oldest), elapsed - float(newest)


def outcome(w: Write) -> str:
    if w.acknowledged:
        return "200"
    if w.outage_page:
        return "503 page"
    if w.status == 0:
        return "connection failed"
    return f"{w.status} (unexpected)"


def outcomes(writes: list[Write]) -> str:
    counted = Counter(outcome(w) for w in writes)
    return ", ".join(f"{label} {n}" for label, n in counted.most_common()) or "none"


def tally_rows(phase: Phase) -> list[tuple[str, str]]:
    saves, posts = phase.tallies["autosave"], phase.tallies["post"]
    return [
        (
            "autosaves sent / acknowledged / lost",
            f"{saves.sent} / {saves.acknowledged} / {saves.lost}",
        ),
        (
            "posts sent (with tries again) / acknowledged / lost / stored twice",
            f"{posts.sent} / {posts.acknowledged} / {posts.lost} / {posts.duplicates}",
        ),
        (
            "stored without an acknowledgement: autosaves / posts",
            f"{saves.stored_unacknowledged} / {posts.stored_unacknowledged}",
        ),
        (
            "acknowledged posts not shown back",
            str(sum(w.acknowledged and not w.shown for w in phase.writes if w.kind == "post")),
        ),
    ]


def lost(phase: Phase) -> bool:
    return any(t.lost or t.duplicates for t in phase.tallies.values())


def report_outage(phase: Phase, outage: Outage, cluster: Cluster, reconnected) -> list[str]:
    """Phase A's table; the reasons it failed."""
    writes = phase.writes
    stopping = [w for w in writes if w.end >= outage.stop_at and w.start <= outage.down_at]
    down = [w for w in writes if w.end > outage.down_at and w.start <= outage.back_at]
    after = [w for w in writes if w.end > outage.back_at]
    first_ok = min((w.end for w in after if w.acknowledged), default=None)
    recovery = None if first_ok is None else first_ok - outage.back_at
    failed_after = [w for w in after if w.start >= outage.back_at and not w.acknowledged]
    last_failure = max((w.end for w in failed_after), default=None)
    table(
        f"A: PostgreSQL {cluster.version} {cluster.name} stopped for {DOWN_FOR:g} s under load",
        [
            *tally_rows(phase),
            ("responses while PostgreSQL stops (stop issued to down)", outcomes(stopping)),
            ("responses while it is down and starting", outcomes(down)),
            ("responses in the whole phase", outcomes(writes)),
            (
                "outage, s: stop issued / down / start issued / accepting / start returned",
                " / ".join(
                    f"{t - outage.stop_at:.2f}"
                    for t in (
                        outage.stop_at,
                        outage.down_at,
                        outage.start_at,
                        outage.back_at,
                        outage.started_at,
                    )
                ),
            ),
            (
                "recovery: first 2xx after PostgreSQL accepts again, s",
                "never" if recovery is None else f"{recovery:.3f}",
            ),
            (
                "gunicorn's connections at the end: count, opened s after the return",
                f"{reconnected[0]}, {reconnected[1]:.2f} to {reconnected[2]:.2f}",
            ),
            (
                "requests sent after it that failed (last, s after)",
                f"{len(failed_after)}"
                + (f" ({last_failure - outage.back_at:.2f})" if last_failure else ""),
            ),
        ],
    )
    reasons = []
    if lost(phase):
        reasons.append("A: acknowledged writes lost or posts stored twice")
    if any(outcome(w).endswith("(unexpected)") for w in writes):
        reasons.append("A: a response other than 200, the 503 page or a connection failure")
    if recovery is None or recovery > RECOVERY_LIMIT:
        reasons.append(f"A: no 2xx within {RECOVERY_LIMIT:g} s of PostgreSQL's return")
    if last_failure is not None and last_failure - outage.back_at > RECOVERY_LIMIT:
        reasons.append(f"A: requests still failing {RECOVERY_LIMIT:g} s after the return")
    return reasons


def report_kill(phase: Phase, kill: WorkerKill) -> list[str]:
    """Phase B's table; the reasons it failed."""
    writes = phase.writes
    replaced = (
        f"pid {kill.victim} killed, pid {kill.replacement} serving "
        f"{kill.replaced_at - kill.killed_at:.2f} s later"
        if kill.replaced_at
        else f"pid {kill.victim} killed, not replaced within {REPLACE_LIMIT:g} s"
    )
    table(
        "B: one gunicorn worker killed (SIGKILL) under load",
        [
            *tally_rows(phase),
            ("worker restart", replaced),
            ("responses in the whole phase", outcomes(writes)),
            ("requests failed at the connection level", str(sum(w.status == 0 for w in writes))),
            ("requests sent again on a reset kept-alive connection", str(phase.retries)),
        ],
    )
    reasons = []
    if lost(phase):
        reasons.append("B: acknowledged writes lost or posts stored twice")
    if any(w.status >= 500 or outcome(w).endswith("(unexpected)") for w in writes):
        reasons.append("B: a 5xx or an unexpected response")
    if kill.replaced_at is None:
        reasons.append("B: gunicorn did not replace the killed worker")
    return reasons


def main() -> int:
    cluster = local_cluster()
    cache_name = writeload.prepare()
    drill = writeload.build()
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        pg_version = cursor.fetchone()[0].split()[0]
    idle = machine_busy(1.0)
    stamp = datetime.now(UTC)
    run = stamp.strftime("%Y%m%dT%H%M%S")
    print(
        f"Fault drill {stamp:%Y-%m-%d %H:%M} UTC: gunicorn {WORKERS} workers x {THREADS} "
        f"threads (gthread); PostgreSQL {pg_version} (cluster {cluster.version} "
        f"{cluster.name}, port {cluster.port}); cache and sessions: {cache_name}; "
        f"{len(drill.students)} students; nproc {len(os.sched_getaffinity(0))}, "
        f"{idle:.0%} busy before the run"
    )

    port = int(os.environ.get("BENCH_PORT") or free_port())
    workdir = Path(tempfile.mkdtemp(prefix="faults-"))
    log_path = workdir / "gunicorn.log"
    reasons: list[str] = []
    with log_path.open("w") as log:
        server = start_gunicorn(port, log, workers=WORKERS, threads=THREADS)
        try:
            wait_ready(server, port, WORKERS)
            load = WriteLoad(port, drill, run=run)
            load.open()
            phase, outage = run_phase(load, drill, run, lambda: restart_postgres(cluster))
            reconnected = server_connections(outage.back_at)
            reasons += report_outage(phase, outage, cluster, reconnected)
            phase, kill = run_phase(load, drill, run, lambda: kill_worker(server))
            reasons += report_kill(phase, kill)
            reasons += still_serving(port)
        finally:
            stop_gunicorn(server)
    log_text = log_path.read_text()
    traces = log_text.count("Traceback") + log_text.count("Internal Server Error")
    table(
        "gunicorn's log",
        [
            ("tracebacks and 'Internal Server Error' lines", str(traces)),
            ("'database unreachable' lines (one per 503)", str(log_text.count("unreachable"))),
            ("the first of them", first_line_with(log_text, "unreachable")[:110]),
            ("the worker killed", first_line_with(log_text, "SIGKILL")[:110]),
            ("exit status", str(server.returncode)),
        ],
    )
    if traces:
        reasons.append("a traceback in gunicorn's log")
    if server.returncode:
        reasons.append(f"gunicorn exited with {server.returncode}")
    print()
    for reason in reasons:
        print(f"FAILED: {reason}")
    if reasons:
        print(f"gunicorn's log: {log_path}")
        return 1
    print("no acknowledged write lost; every outage response was the 503 page or a refusal")
    log_path.unlink()
    workdir.rmdir()
    return 0


def first_line_with(text: str, needle: str) -> str:
    return next((line for line in text.splitlines() if needle in line), "none")


def still_serving(port: int) -> list[str]:
    """After both phases /healthz answers 200 (the health check of a load balancer)."""
    probe = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        probe.request("GET", "/healthz")
        status = probe.getresponse().status
    except OSError as error:
        return [f"/healthz after the drill: {error}"]
    finally:
        probe.close()
    return [] if status == 200 else [f"/healthz after the drill answered {status}"]


if __name__ == "__main__":
    sys.exit(main())
