"""What the benchmarks and drills share: gunicorn started and stopped, signed-in HTTP
clients with keep-alive connections, CPU time read from /proc, percentiles, tables.

Import after `production.setup()`: signing in uses Django's settings and session store.
"""

import http.client
import math
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import import_module
from pathlib import Path
from urllib.parse import urlencode

from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.core.cache import cache
from django.db import connection
from django.utils.crypto import get_random_string

ROOT = Path(__file__).resolve().parent.parent
# gunicorn closes a keep-alive connection idle for 2 s (its default --keep-alive), so a
# client idle this long reconnects rather than race the close (one that loses the race
# anyway sends again, as browsers do).
REUSE_SECONDS = 1.5
TIMEOUT = 30.0


# HTTP clients -------------------------------------------------------------------------


@dataclass
class Sample:
    """One request as a client saw it: status 0 is a connection error."""

    kind: str
    start: float
    end: float
    status: int
    shown: int = 0  # Projector: the answer count on screen after it.

    @property
    def ms(self) -> float:
        return (self.end - self.start) * 1000


@dataclass
class Reply:
    status: int
    headers: dict
    body: bytes
    sample: Sample


class Device:
    """A phone or a projector: one signed-in browser with its own keep-alive connection
    (opened again when gunicorn may have closed it). Keeps a sample of every request."""

    def __init__(self, port: int, cookie: str, csrf: str):
        self.port = port
        self.headers = {"Cookie": cookie, "X-CSRFToken": csrf}
        self.conn: http.client.HTTPConnection | None = None
        self.last_used = 0.0
        self.samples: list[Sample] = []
        self.connects = 0
        self.retries = 0

    def _connect(self) -> None:
        self.close()
        self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=TIMEOUT)
        self.connects += 1

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None

    def request(
        self, kind: str, method: str, path: str, *, form: dict | None = None, headers=None
    ) -> Reply:
        sent = {**self.headers, **(headers or {})}
        body = None
        if form is not None:
            body = urlencode(form)
            sent["Content-Type"] = "application/x-www-form-urlencoded"
        start = time.perf_counter()
        status, got, data = 0, {}, b""
        for attempt in range(2):
            reused = self.conn is not None and start - self.last_used < REUSE_SECONDS
            try:
                if not reused:
                    self._connect()
                self.conn.request(method, path, body=body, headers=sent)
                response = self.conn.getresponse()
                data = response.read()
                status = response.status
                got = {name.lower(): value for name, value in response.getheaders()}
                break
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                # Closed by the server between two requests: a browser sends it again.
                self.close()
                if not reused or attempt:
                    break
                self.retries += 1
            except (OSError, http.client.HTTPException):
                self.close()
                break
        end = self.last_used = time.perf_counter()
        sample = Sample(kind, start, end, status)
        self.samples.append(sample)
        return Reply(status, got, data, sample)


# Servers and sign-in ------------------------------------------------------------------------------


def pg_params(dbname: str | None = None) -> dict:
    """psycopg.connect's arguments for the default database (or `dbname` on the same
    server): those of its settings that are set."""
    db = settings.DATABASES["default"]
    params = {
        "dbname": dbname or db["NAME"],
        "user": db["USER"],
        "password": db["PASSWORD"],
        "host": db["HOST"],
        "port": db["PORT"],
    }
    return {k: v for k, v in params.items() if v}


def create_database() -> None:
    db = settings.DATABASES["default"]
    if connection.vendor != "postgresql":
        sys.exit(f"{sys.argv[0]} measures gunicorn processes on PostgreSQL: set DATABASE_URL.")
    import psycopg
    from psycopg import sql

    with psycopg.connect(**pg_params("postgres"), autocommit=True) as pg:
        found = pg.execute("SELECT 1 FROM pg_database WHERE datname = %s", [db["NAME"]])
        if found.fetchone() is None:
            pg.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(db["NAME"])))
            print(f"created database {db['NAME']}")


def check_cache() -> str:
    """The cache the processes share, by name; exits if Redis is set but unusable."""
    url = os.environ.get("REDIS_URL")
    if not url:
        return "none (local memory per process)"
    try:
        import redis
    except ModuleNotFoundError:
        sys.exit(
            "REDIS_URL is set but the redis package is not installed (Django's Redis cache "
            "needs it): `.venv/bin/pip install redis`, or run with REDIS_URL= to bench "
            "without Redis."
        )
    cache.set("bench-live-check", 1, 5)
    version = redis.Redis.from_url(url).info("server")["redis_version"]
    return f"Redis {version} ({url.rsplit('/', 1)[-1]})"


def sign_in(user) -> tuple[str, str]:
    """A session for the user, made directly (posting 200 passwords would time the
    password hasher): the Cookie header and the CSRF token to send."""
    store = import_module(settings.SESSION_ENGINE).SessionStore()
    store[SESSION_KEY] = str(user.pk)
    store[BACKEND_SESSION_KEY] = settings.AUTHENTICATION_BACKENDS[0]
    store[HASH_SESSION_KEY] = user.get_session_auth_hash()
    store.create()
    csrf = get_random_string(32)  # A bare secret is a valid token (cookie-based CSRF).
    cookie = f"{settings.SESSION_COOKIE_NAME}={store.session_key}; "
    return cookie + f"{settings.CSRF_COOKIE_NAME}={csrf}", csrf


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_gunicorn(
    port: int, log, *, workers: int, threads: int, app: str = "redqueen.wsgi", env=None
) -> subprocess.Popen:
    """gunicorn with gthread workers on 127.0.0.1:port, in its own process group; `env`
    adds to this process's environment."""
    command = [
        str(Path(sys.executable).parent / "gunicorn"),
        app,
        "--workers",
        str(workers),
        "--worker-class",
        "gthread",
        "--threads",
        str(threads),
        "--bind",
        f"127.0.0.1:{port}",
    ]
    return subprocess.Popen(  # noqa: S603 (our own command line)
        command,
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        env={**os.environ, **(env or {})},
    )


def wait_ready(server: subprocess.Popen, port: int, workers: int) -> None:
    """Until /healthz answers and every worker has started."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"gunicorn exited with {server.returncode}")
        probe = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        try:
            probe.request("GET", "/healthz")
            if probe.getresponse().status == 200 and len(children(server.pid)) == workers:
                return
        except OSError:
            pass
        finally:
            probe.close()
        time.sleep(0.2)
    raise RuntimeError("gunicorn did not answer /healthz within 60 s")


def stop_gunicorn(server: subprocess.Popen) -> None:
    if server.poll() is None:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=40)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


# CPU time ---------------------------------------------------------------------------

TICK = os.sysconf("SC_CLK_TCK")


def proc_stats() -> dict[int, tuple[str, int, float]]:
    """Every process: its name, parent and CPU seconds (user + system)."""
    stats = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            text = (entry / "stat").read_text()
        except OSError:
            continue
        name = text[text.index("(") + 1 : text.rindex(")")]
        rest = text[text.rindex(")") + 2 :].split()
        stats[int(entry.name)] = (name, int(rest[1]), (int(rest[11]) + int(rest[12])) / TICK)
    return stats


def children(pid: int) -> list[int]:
    return [child for child, (_n, parent, _c) in proc_stats().items() if parent == pid]


@dataclass
class CpuSnapshot:
    at: float
    per_pid: dict[int, tuple[str, int, float]]
    machine: tuple[int, int]  # busy and total jiffies, all cores
    own: float

    @classmethod
    def take(cls) -> "CpuSnapshot":
        # user nice system idle iowait irq softirq steal (guest time is in user's)
        line = Path("/proc/stat").read_text().split("\n")[0]
        fields = [int(n) for n in line.split()[1:9]]
        idle = fields[3] + fields[4]
        own = time.process_time()
        return cls(time.perf_counter(), proc_stats(), (sum(fields) - idle, sum(fields)), own)

    def busy_share(self, later: "CpuSnapshot") -> float:
        """The share of all cores busy from this snapshot to the later one."""
        return (later.machine[0] - self.machine[0]) / max(1, later.machine[1] - self.machine[1])

    def busy_seconds(self, later: "CpuSnapshot") -> float:
        """CPU seconds every process spent from this snapshot to the later one."""
        return (later.machine[0] - self.machine[0]) / TICK


def cpu_seconds(before: CpuSnapshot, after: CpuSnapshot, pids) -> float:
    """CPU time the processes spent between the snapshots (one born meanwhile counts
    from zero)."""
    total = 0.0
    for pid in pids:
        if pid in after.per_pid:
            then = before.per_pid.get(pid)
            total += after.per_pid[pid][2] - (then[2] if then else 0.0)
    return total


def pids_named(snapshot: CpuSnapshot, name: str) -> list[int]:
    return [pid for pid, (n, _p, _c) in snapshot.per_pid.items() if n == name]


def percentile(values: list[float], share: float) -> float:
    """Nearest rank; NaN for none."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


def machine_busy(seconds: float) -> float:
    """The share of all cores busy over the next `seconds`."""
    first = CpuSnapshot.take()
    time.sleep(seconds)
    return first.busy_share(CpuSnapshot.take())


# Reports ----------------------------------------------------------------------------


def table(title: str, rows: list[tuple[str, str]]) -> None:
    print(f"\n{title}")
    width = max(len(label) for label, _value in rows)
    for label, value in rows:
        print(f"  {label:<{width}}  {value}")


def run_setting(workers: int, threads: int, cache_name: str) -> str:
    """One line on what a run ran on: gunicorn, PostgreSQL, the cache, the time, the
    cores and how busy others kept them a moment before (warned of when it is much)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        pg_version = cursor.fetchone()[0].split()[0]
    idle = machine_busy(1.0)
    if idle > 0.2:
        print(f"warning: other processes keep the machine {idle:.0%} busy; expect slower numbers")
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return (
        f"gunicorn {workers} workers x {threads} threads (gthread), DEBUG off; PostgreSQL "
        f"{pg_version}, persistent connections; cache and sessions: {cache_name}; {stamp}; "
        f"nproc {len(os.sched_getaffinity(0))}, {idle:.0%} busy before the run"
    )
