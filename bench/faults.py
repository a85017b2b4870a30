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
or overwritten by a later save of the same answer.

- C: slow clients, with the load stopped. SLOW_CLIENTS connections (four times
  gunicorn's threads) each start a POST to the sign-in form and hold: half stop within
  their headers, half send headers declaring a SLOW_BODY-byte body and one byte of it.
  First straight to gunicorn, which gives each a thread until its request is whole, so
  /healthz straight to it stalls (each probe is given up after PROBE_TIMEOUT); they
  hang up. Then the same against nginx running the shipped `deploy/nginx.conf` in front
  of gunicorn (`bench/proxy.py`), which buffers a request before passing it on: PROBES
  /healthz through nginx must all answer 200 within PROXY_LIMIT_MS (the slowest one
  counts, not a percentile: a load balancer acts on single probes), and nginx must cut
  the slow clients by itself (its 10 s client timeouts) without gunicorn seeing them.

Prints a table per phase; exits non-zero on a lost write, a duplicate post, a 500 or
any response other than 2xx, the 503 page or a connection failure, a traceback in
gunicorn's log, no recovery, or a /healthz through nginx that failed or was slow.
"""

import http.client
import os
import re
import selectors
import shutil
import signal
import socket
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
    percentile,
    pg_params,
    start_gunicorn,
    stop_gunicorn,
    table,
    wait_ready,
)
from proxy import Proxy, start_proxy, stop_proxy  # noqa: E402
from writeload import Write, WriteLoad  # noqa: E402

WORKERS = int(os.environ.get("BENCH_WORKERS", "4"))
THREADS = int(os.environ.get("BENCH_THREADS", "4"))
WARMUP = 5.0  # Seconds of load before a fault.
AFTER = 15.0  # Seconds of load after it (a failed post is sent again within 12 s).
DOWN_FOR = 3.0  # Seconds PostgreSQL stays stopped.
RECOVERY_LIMIT = 10.0  # The app answers 2xx again within this long of PostgreSQL's return.
REPLACE_LIMIT = 30.0  # gunicorn replaces a killed worker within this long.
SLOW_CLIENTS = 4 * WORKERS * THREADS  # Four times gunicorn's threads.
SLOW_BODY = 100_000  # The Content-Length a slow client declares; it sends one byte.
PROBES = 40  # /healthz requests through nginx while the slow clients hold.
DIRECT_PROBES = 10  # The same straight to gunicorn, each given up after PROBE_TIMEOUT.
PROBE_TIMEOUT = 1.0
PROXY_LIMIT_MS = 100.0  # Every /healthz through nginx answers within this.
CUT_LIMIT = 30.0  # nginx drops a slow client within this long (its timeouts are 10 s).


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
    if connection.vendor != "postgresql":
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
    try:
        with psycopg.connect(**pg_params(), connect_timeout=2):
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


# Slow clients --------------------------------------------------------------------------


@dataclass
class SlowClient:
    """A connection that stops sending partway through its request and holds."""

    sock: socket.socket
    kind: str  # "headers": stops within them; "body": headers, then 1 byte of the body.
    sent_at: float
    closed_at: float | None = None
    answer: str = ""  # The status line the server sent before closing, if any.


def open_slow_clients(port: int) -> list[SlowClient]:
    """SLOW_CLIENTS connections, half stopping within the headers, half after one byte
    of a declared SLOW_BODY-byte body, all to the public sign-in form. The CSRF cookie
    makes Django read the body before it can refuse the missing token."""
    head = (
        b"POST /login/ HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        b"Content-Type: application/x-www-form-urlencoded\r\n"
    )
    rest = f"Cookie: {settings.CSRF_COOKIE_NAME}={'s' * 32}\r\nContent-Length: {SLOW_BODY}\r\n"
    whole = head + rest.encode() + b"\r\nu"
    clients = []
    for n in range(SLOW_CLIENTS):
        kind = "headers" if n % 2 else "body"
        sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        clients.append(SlowClient(sock, kind, time.perf_counter()))
        sock.sendall(head if kind == "headers" else whole)
    time.sleep(0.5)  # Until the server has read what they sent.
    return clients


def watch_closes(clients: list[SlowClient], limit: float) -> None:
    """Until the server has closed every connection, or `limit` seconds: when each was
    closed and the status line it was sent first."""
    deadline = time.perf_counter() + limit
    with selectors.DefaultSelector() as selector:
        for client in clients:
            if client.closed_at is None:
                selector.register(client.sock, selectors.EVENT_READ, client)
        while selector.get_map() and time.perf_counter() < deadline:
            for key, _events in selector.select(timeout=deadline - time.perf_counter()):
                client = key.data
                try:
                    data = client.sock.recv(65536)
                except OSError:
                    data = b""
                if not client.answer and data:
                    client.answer = data.split(b"\r\n", 1)[0].decode("latin-1")
                if not data:
                    client.closed_at = time.perf_counter()
                    selector.unregister(client.sock)


def close_all(clients: list[SlowClient]) -> None:
    for client in clients:
        client.sock.close()


def probe(port: int, timeout: float) -> tuple[str, float]:
    """One /healthz on a new connection, as a load balancer sends it: the outcome
    ("200", another status, "timed out" or the error) and its milliseconds."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    start = time.perf_counter()
    try:
        conn.request("GET", "/healthz")
        response = conn.getresponse()
        response.read()
        outcome = str(response.status)
    except TimeoutError:
        outcome = "timed out"
    except (OSError, http.client.HTTPException) as error:
        outcome = type(error).__name__
    finally:
        conn.close()
    return outcome, (time.perf_counter() - start) * 1000


def probes(port: int, count: int, timeout: float = PROBE_TIMEOUT) -> list[tuple[str, float]]:
    return [probe(port, timeout) for _ in range(count)]


def summary(results: list[tuple[str, float]]) -> str:
    answered = [ms for outcome, ms in results if outcome == "200"]
    text = f"{len(answered)} of {len(results)} 200"
    if answered:
        text += (
            f", p50 {percentile(answered, 0.5):.1f} / p95 {percentile(answered, 0.95):.1f}"
            f" / max {max(answered):.1f} ms"
        )
    others = Counter(outcome for outcome, _ms in results if outcome != "200")
    for outcome, n in others.items():
        after = f" after {PROBE_TIMEOUT:g} s" if outcome == "timed out" else ""
        text += f"; {n} {outcome}{after}"
    return text


def slow_ms(results: list[tuple[str, float]]) -> float:
    return max((ms for _outcome, ms in results), default=0.0)


def ends(clients: list[SlowClient], kind: str, *, timed: bool = True) -> str:
    """How the server ended one kind of slow client: with what answer and, if `timed`,
    how long after its last byte."""
    mine = [c for c in clients if c.kind == kind]
    closed = [c.closed_at - c.sent_at for c in mine if c.closed_at is not None]
    answers = Counter(c.answer.split(" ", 1)[-1] if c.answer else "no answer" for c in mine)
    text = ", ".join(f"{answer} {n}" for answer, n in answers.most_common())
    if closed and timed:
        text += f"; closed {min(closed):.1f} to {max(closed):.1f} s after their last byte"
    if len(closed) < len(mine):
        text += f"; {len(mine) - len(closed)} still open"
    return text


def logged(proxy: Proxy) -> str:
    """The statuses nginx's access log gives the slow clients' requests."""
    log = (proxy.directory / "access.log").read_text()
    statuses = Counter(re.findall(r'"POST /login/ HTTP/1\.1" (\d+)', log))
    return ", ".join(f"{status} {n}" for status, n in statuses.most_common()) or "none"


def redirects(proxy: Proxy) -> str:
    """What nginx's plain-HTTP server answers a page: a redirect to HTTPS."""
    conn = http.client.HTTPConnection("127.0.0.1", proxy.redirect_port, timeout=PROBE_TIMEOUT)
    try:
        conn.request("GET", "/login/?next=/", headers={"Host": "redqueen.example.edu"})
        response = conn.getresponse()
        return f"{response.status} {response.getheader('Location')}"
    except (OSError, http.client.HTTPException) as error:
        return type(error).__name__
    finally:
        conn.close()


def run_slow_clients(port: int, proxy: Proxy) -> list[str]:
    """Phase C: slow clients against gunicorn directly, then through nginx; its table
    and the reasons it failed."""
    before_direct, before_proxy = probes(port, 10), probes(proxy.port, 10)

    clients = open_slow_clients(port)
    try:
        stalled = probes(port, DIRECT_PROBES)
        for client in clients:  # Hang up: the server reads the end of what they sent.
            client.sock.shutdown(socket.SHUT_WR)
        hung_up = time.perf_counter()
        recovered = probe(port, 10.0)
        recovered_after = time.perf_counter() - hung_up
        watch_closes(clients, 10.0)
    finally:
        close_all(clients)
    direct = clients

    clients = open_slow_clients(proxy.port)
    try:
        held = probes(proxy.port, PROBES)
        balancer = probes(proxy.redirect_port, 5)
        redirect = redirects(proxy)
        watch_closes(clients, CUT_LIMIT)
    finally:
        close_all(clients)

    table(
        f"C: {SLOW_CLIENTS} slow clients ({SLOW_CLIENTS // 2} stop within their headers, "
        f"{SLOW_CLIENTS // 2} send headers for a {SLOW_BODY:,}-byte body and 1 byte of it), "
        f"nginx {proxy.version} with deploy/nginx.conf in front",
        [
            ("/healthz before, straight to gunicorn", summary(before_direct)),
            ("/healthz before, through nginx", summary(before_proxy)),
            ("slow clients held by gunicorn: /healthz straight to it", summary(stalled)),
            (
                "once they hung up: the next /healthz",
                f"{recovered[0]} {recovered_after * 1000:.0f} ms after",
            ),
            (
                "  gunicorn's answers to those stopping in their headers",
                ends(direct, "headers", timed=False),
            ),
            ("  and to those stopping in their body", ends(direct, "body", timed=False)),
            ("slow clients held by nginx: /healthz through it", summary(held)),
            ("  through its plain-HTTP server (the balancer's probe)", summary(balancer)),
            ("  a page there", redirect),
            ("  nginx's answers to those stopping in their headers", ends(clients, "headers")),
            ("  and to those stopping in their body", ends(clients, "body")),
            ("  their requests in nginx's access log", logged(proxy)),
        ],
    )
    reasons = []
    for name, results in [("nginx", held), ("nginx's plain-HTTP server", balancer)]:
        if any(outcome != "200" for outcome, _ms in results):
            reasons.append(f"C: /healthz through {name} failed while slow clients held")
        if slow_ms(results) >= PROXY_LIMIT_MS:
            reasons.append(f"C: /healthz through {name} took {slow_ms(results):.0f} ms")
    if not redirect.startswith("301 https://"):
        reasons.append(f"C: nginx's plain-HTTP server answered a page with {redirect}")
    if any(c.closed_at is None for c in clients):
        reasons.append(f"C: nginx held a slow client longer than {CUT_LIMIT:g} s")
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
            proxy = start_proxy(port)
            try:
                reasons += run_slow_clients(port, proxy)
            finally:
                stop_proxy(proxy)
            reasons += still_serving(port)
        finally:
            stop_gunicorn(server)
    log_text = log_path.read_text()
    traces = log_text.count("Traceback") + log_text.count("Internal Server Error")
    refused = log_text.count("Forbidden (CSRF token missing.): /login/")
    table(
        "gunicorn's log",
        [
            ("tracebacks and 'Internal Server Error' lines", str(traces)),
            ("'database unreachable' lines (one per 503)", str(log_text.count("unreachable"))),
            ("the first of them", first_line_with(log_text, "unreachable")[:110]),
            ("the worker killed", first_line_with(log_text, "SIGKILL")[:110]),
            (
                "slow clients' sign-ins refused (C: expected from the direct ones only)",
                f"{refused} of {SLOW_CLIENTS // 2}",
            ),
            ("exit status", str(server.returncode)),
        ],
    )
    if traces:
        reasons.append("a traceback in gunicorn's log")
    if refused > SLOW_CLIENTS // 2:
        reasons.append("C: slow clients on nginx reached gunicorn (request buffering is off?)")
    if server.returncode:
        reasons.append(f"gunicorn exited with {server.returncode}")
    print()
    for reason in reasons:
        print(f"FAILED: {reason}")
    if reasons:
        print(f"gunicorn's log: {log_path}; nginx's: {proxy.directory}")
        return 1
    print(
        "no acknowledged write lost; every outage response was the 503 page or a refusal; "
        f"/healthz through nginx under {PROXY_LIMIT_MS:g} ms while slow clients held"
    )
    log_path.unlink()
    workdir.rmdir()
    shutil.rmtree(proxy.directory)
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
