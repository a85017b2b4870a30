"""Prove that no state lives in one process: two gunicorn instances on two ports share
one PostgreSQL database and one Redis, and each request a person makes goes to one or
the other, as a load balancer without sticky sessions may send it.

    make scale-out
    # or, with the same defaults:
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/redqueen_scale \\
        REDIS_URL=redis://127.0.0.1:6379/10 .venv/bin/python bench/scale_out.py

Creates the database if it is missing, migrates it, collects static files and loads
the demo course (`seed_demo --force`: a throwaway database). Starts instances A and B
(SCALE_WORKERS x SCALE_THREADS gthread each, default 2 x 4) with DEBUG off, then acts
as real browsers over HTTP, every request naming which instance it goes to:

- sessions: sign in through the login form on A, B shows the signed-in dashboard;
  the session's Redis entry is deleted (a Redis restart) and A still shows it signed
  in, read back from the table; sign out on B with the CSRF token of a page A
  served, A shows the sign-out message B set and treats the user as signed out, and
  the session cookie from before the sign-out, replayed on A, is refused;
- quiz autosave: start an attempt on B from A's page, autosave (the htmx request the
  page sends) on B, reload on A, autosave on A, reload on B, submit on B, result on A;
- live poll: the instructor starts a session on A (its message shows on B) and
  launches a poll on A; students join and answer on A and B; the phones, the
  console and the projector see each change on the other instance at once, and an
  unchanged session is a 204 (phones) or 304 (projector, console) on both.
- LTI 1.3 launches from the test LMS of tests/lti/platform.py, run on a local port and
  registered in this database: both instances publish the one tool key; each launch
  starts on one instance (OIDC login initiation, which keeps a state and a nonce in
  the table cases_ltivalue), goes through the LMS's authorisation page, and posts its
  signed id_token to the other, which must find and take them; /lti/enter/ follows on
  that one and the page it leads to is opened on the first. The instances swap roles
  each launch. An LMS instructor links the LMS course to the demo course (link page
  on one instance, the choice posted on the other); learners land on one of its
  items, framed by the LMS alone, one of them twice (the same account); and each
  launch replayed to the instance that did not take it is refused (403).
- files handed in: both instances store uploads in one S3 bucket (moto's S3 server,
  started here on a free port, named to them by DJANGO_STORAGE_BUCKET and
  DJANGO_STORAGE_ENDPOINT_URL); a student hands in a PDF on a written analysis through
  A's file form, the object is found in the bucket, and B lists it on the student's
  page and serves it byte for byte as an attachment.

- the audit log's CSV, the one streamed query (`QuerySet.iterator()`): signed in on A,
  downloaded from B, one row for each entry.
- PgBouncer: unless SCALE_PGBOUNCER=0, both instances reach PostgreSQL through a
  PgBouncer started here (Debian's package; `make scale-out` installs it if missing)
  from an ini written to a temporary folder: pool_mode transaction, default_pool_size
  SCALE_POOL_SIZE (default 10), on a free port, trust for the database's user; the
  instances run with DJANGO_DB_TRANSACTION_POOLING=1. PgBouncer's admin console then
  shows it was in the path: SHOW STATS counts the checks' transactions, SHOW POOLS the
  mode and the server connections (no more than the pool); and a client's SET TIME ZONE
  holds on every transaction while another's keeps the default (PgBouncer carries the
  zone from one server connection to the next, as Django's connection set-up needs).
  What becomes of prepared statements through it is printed, not checked. This script's
  own queries (migrate, the seed, reading answers back) go to PostgreSQL directly.

Every check looks at the page's content, not only its status, and the answers are
also read back from the database.

Then, while the pair still runs, a short bounded load on the signed-in dashboard with
`wrk` (SCALE_LOAD_SECONDS, default 10; 0 skips it): one instance alone, then both,
with the same number of connections in all (SCALE_CONNECTIONS, default 8), and the
server CPU each request cost.

Last, negative controls restart the pair broken on purpose and run the session
checks again, which must fail: B signing with another DJANGO_SECRET_KEY (B refuses
the sessions A signs in); and each process reading sessions through its own
local-memory cache (bench/local_session_cache.py; one worker each, so the outcome does
not hang on which worker answers). Signing in still works there, as sessions are
cached_db and a cache miss reads the table, but signing out ends the session only in
the cache of the process that did it: the replayed cookie is still signed in on A.
(Without REDIS_URL the app itself keeps sessions in the database alone for this
reason.) A third restarts the pair with no bucket, each instance keeping files on its
own disk: B lists the file A took but cannot serve it (404).

Prints a table of every step: instance, status, what was checked, pass or fail. Exits
non-zero if a check fails, a control is not caught, a server logged an error or the
load saw a response other than 200.

The site has one name in front of both instances (Host 127.0.0.1, and Origin
http://127.0.0.1 on POSTs, as a browser sends it), so a cookie set by one instance goes
to the other. Production settings mark the cookies Secure; this client sends them over
plain HTTP where a browser would use HTTPS through the load balancer.
"""

import contextlib
import csv
import hashlib
import html
import http.client
import io
import json
import logging
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.cookies import SimpleCookie
from importlib import import_module
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

import boto3
import production
import psycopg
from moto.server import ThreadedMotoServer

production.setup(
    DATABASE_URL="postgres://postgres@127.0.0.1:5432/redqueen_scale",
    REDIS_URL="redis://127.0.0.1:6379/10",
)

from django.conf import settings  # noqa: E402
from django.core.cache import caches  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.db.models import Q  # noqa: E402
from django.utils import timezone  # noqa: E402
from harness import (  # noqa: E402
    TIMEOUT,
    CpuSnapshot,
    check_cache,
    children,
    cpu_seconds,
    create_database,
    free_port,
    machine_busy,
    pids_named,
    sign_in,
    start_gunicorn,
    stop_gunicorn,
    wait_ready,
)
from lti_tool.models import (  # noqa: E402
    Key,
    LtiPlatformInstance,
    LtiRegistration,
    LtiUser,
)

from cases.demo.seed import COHORT_NAMES, COURSE_CODE, DEMO_PASSWORD  # noqa: E402
from cases.models import (  # noqa: E402
    Analysis,
    Answer,
    Assignment,
    Attempt,
    AuditEntry,
    Cohort,
    Course,
    ItemKind,
    LiveAnswer,
    LiveSession,
    LtiCourse,
    LtiValue,
    Membership,
    Memo,
    MemoVersion,
    ModuleItem,
    User,
)
from tests.lti.platform import INSTRUCTOR, LEARNER, Platform  # noqa: E402
from tests.lti.tool import register  # noqa: E402

WORKERS = int(os.environ.get("SCALE_WORKERS", "2"))
THREADS = int(os.environ.get("SCALE_THREADS", "4"))
LOAD_SECONDS = int(os.environ.get("SCALE_LOAD_SECONDS", "10"))
CONNECTIONS = int(os.environ.get("SCALE_CONNECTIONS", "8"))
# PgBouncer in transaction mode between the instances and PostgreSQL (0: straight to it).
PGBOUNCER = os.environ.get("SCALE_PGBOUNCER", "1") != "0"
POOL_SIZE = int(os.environ.get("SCALE_POOL_SIZE", "10"))
# What every instance adds to this process's environment: set by main() when PgBouncer
# runs (DATABASE_URL pointing at it, and the pooler setting on).
INSTANCE_ENV: dict[str, str] = {}
SITE = "127.0.0.1"  # The one host name both instances serve, as behind a load balancer.
ORIGIN = f"http://{SITE}"
LIVE_TITLE = "Scale-out check"
PROMPT = "What should Alcatel do in China?"
OPTIONS = ["Licence the technology", "Form a joint venture", "Stay out of China"]

CSRF_FIELD = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
CSRF_HEADER = re.compile(r"hx-headers='\{\"X-CSRFToken\": \"([^\"]+)\"\}'")
KNOWN = re.compile(r"known=(\d+)")
POLL_ID = re.compile(r'name="poll" value="(\d+)"')
DATA_ETAG = re.compile(r'data-etag="([^"]+)"')
JOIN_CODE = re.compile(r'class="live-code__value">([A-Z0-9]{6})<')
SCORE = re.compile(r'class="score"><strong>([\d.]+)</strong> / ([\d.]+)')
BARS = re.compile(r'poll-bars__label">([^<]+)</span>.*?poll-bars__count">(\d+) ·', re.S)


# A browser -------------------------------------------------------------------------


@dataclass
class Page:
    status: int
    headers: list[tuple[str, str]]
    text: str
    content: bytes = b""

    def header(self, name: str) -> str:
        return next((v for k, v in self.headers if k.lower() == name.lower()), "")

    @property
    def location(self) -> str:
        return self.header("Location")

    def csrf(self) -> str:
        """The token of the page's first form (or its hx-headers), as a browser posts it."""
        found = CSRF_FIELD.search(self.text) or CSRF_HEADER.search(self.text)
        return found.group(1) if found else ""


@dataclass
class Instance:
    name: str
    port: int
    server: subprocess.Popen
    log: Path


class Browser:
    """One person's browser: one cookie jar for the site, whichever instance answers."""

    def __init__(self, username: str):
        self.username = username
        self.jar: dict[str, str] = {}

    def request(
        self, instance: Instance, method: str, path: str, *, form=None, files=None, headers=None
    ) -> Page:
        sent = {"Host": SITE, **(headers or {})}
        if self.jar:
            sent["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.jar.items())
        body = None
        if files:
            body, sent["Content-Type"] = multipart(form or {}, files)
            sent.setdefault("Origin", ORIGIN)
        elif form is not None:
            body = urlencode(form, doseq=True)
            sent["Content-Type"] = "application/x-www-form-urlencoded"
            sent.setdefault("Origin", ORIGIN)  # The LMS's own, for its form_post.
        conn = http.client.HTTPConnection("127.0.0.1", instance.port, timeout=TIMEOUT)
        try:
            conn.request(method, path, body=body, headers=sent)
            response = conn.getresponse()
            content = response.read()
            text = content.decode("utf-8", "replace")
        except (OSError, http.client.HTTPException) as error:
            return Page(0, [], f"connection error: {error}")
        finally:
            conn.close()
        for raw in response.msg.get_all("Set-Cookie") or []:
            cookie = SimpleCookie()
            cookie.load(raw)
            for name, morsel in cookie.items():
                if morsel["max-age"] == "0" or not morsel.value:
                    self.jar.pop(name, None)  # Django deletes a cookie this way.
                else:
                    self.jar[name] = morsel.coded_value
        return Page(response.status, response.getheaders(), text, content)

    def get(self, instance: Instance, path: str, **headers: str) -> Page:
        return self.request(instance, "GET", path, headers=headers)

    def post(self, instance: Instance, path: str, form: dict, **headers: str) -> Page:
        return self.request(instance, "POST", path, form=form, headers=headers)

    def htmx(self, page_path: str, csrf: str = "", **extra: str) -> dict:
        """The headers htmx sends from a page at `page_path`."""
        headers = {"HX-Request": "true", "HX-Current-URL": ORIGIN + page_path, **extra}
        if csrf:
            headers["X-CSRFToken"] = csrf
        return headers


def multipart(form: dict, files: dict[str, tuple[str, str, bytes]]) -> tuple[bytes, str]:
    """A multipart/form-data body as a browser sends a form with a file input: `files`
    maps each field to (file name, content type, bytes)."""
    boundary = f"----scale-out-{os.urandom(8).hex()}"
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
        for name, value in form.items()
    ]
    for name, (filename, content_type, data) in files.items():
        head = (
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; '
            f'filename="{filename}"\r\nContent-Type: {content_type}\r\n\r\n'
        )
        parts.append(head.encode() + data + b"\r\n")
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


# The report ----------------------------------------------------------------------------


@dataclass
class Row:
    step: str
    instance: str
    status: int | str
    checked: str
    ok: bool


@dataclass
class Report:
    rows: list[Row] = field(default_factory=list)

    def check(self, step: str, where: str, page: Page | None, checked: str, ok: bool) -> bool:
        status = page.status if page is not None else "-"
        self.rows.append(Row(step, where, status, checked, bool(ok)))
        return bool(ok)

    @property
    def failed(self) -> list[Row]:
        return [row for row in self.rows if not row.ok]

    def print(self, title: str, *, expect_failure: bool = False) -> None:
        print(f"\n{title}")
        width = max(len(row.step) for row in self.rows)
        digits = len(str(len(self.rows)))
        print(f"  {'#':>{digits}}  {'step':<{width}}  {'inst':<5}  {'status':>6}  result  checked")
        for number, row in enumerate(self.rows, 1):
            if expect_failure:
                result = "caught" if not row.ok else "pass"
            else:
                result = "pass" if row.ok else "FAIL"
            print(
                f"  {number:>{digits}}  {row.step:<{width}}  {row.instance:<5}  {row.status!s:>6}  "
                f"{result:<6}  {row.checked}"
            )


def signed_in_as(page: Page, user: User) -> bool:
    """The header's account link, which names the user only while they are signed in."""
    return f'title="Account: change password">{user.display_name}</a>' in page.text


# Sessions, sign-in and sign-out --------------------------------------------------------


def sign_in_form(report: Report, browser: Browser, user: User, at: Instance, step: str) -> bool:
    """Sign in as a person does: the login page for the CSRF cookie and token, then the
    form posted with the password."""
    page = browser.get(at, "/login/")
    token = page.csrf()
    if not report.check(
        step,
        at.name,
        page,
        "login page: 200, CSRF cookie and form token",
        page.status == 200 and token and "csrftoken" in browser.jar,
    ):
        return False
    form = {"csrfmiddlewaretoken": token, "username": user.username, "password": DEMO_PASSWORD}
    page = browser.post(at, "/login/", form)
    return report.check(
        step,
        at.name,
        page,
        f"POST /login/ as {user.username}: 302 to / and a session cookie",
        page.status == 302 and page.location == "/" and "sessionid" in browser.jar,
    )


def forget_cached_session(browser: Browser) -> bool:
    """Delete the browser's session from the cache only, as a Redis restart or flush
    would; True if it was there."""
    key = browser.jar.get(settings.SESSION_COOKIE_NAME)
    store = import_module(settings.SESSION_ENGINE).SessionStore(session_key=key)
    sessions = caches[settings.SESSION_CACHE_ALIAS]
    cached = sessions.get(store.cache_key) is not None
    sessions.delete(store.cache_key)
    return cached


def check_sessions(
    report: Report, a: Instance, b: Instance, user: User, *, redis_loss: bool = True
) -> None:
    """Sign in on A, signed in on B; the cached copy of the session lost (unless
    `redis_loss` is off), still signed in on A; sign out on B with A's CSRF token,
    signed out on A with the message B set. Last, the cookie from before the
    sign-out, replayed on A: the browser dropped it, but a copy of it (a tab restored
    from disk, a stolen cookie) must be refused too, so the session must have ended
    on every instance, not only in B's memory."""
    step = "session"
    browser = Browser(user.username)
    if not sign_in_form(report, browser, user, a, step):
        return
    page = browser.get(b, "/")
    report.check(
        step,
        b.name,
        page,
        f"dashboard: 200 showing {user.display_name} (the session A made)",
        page.status == 200 and signed_in_as(page, user),
    )
    if redis_loss:
        report.check(
            step,
            "redis",
            None,
            "the session's cache entry deleted, as a Redis restart would (it was there)",
            forget_cached_session(browser),
        )
    page = browser.get(a, "/")
    token = page.csrf()
    report.check(
        step,
        a.name,
        page,
        "dashboard: 200 signed in (read back from the table), with the sign-out token"
        if redis_loss
        else "dashboard: 200 signed in, with the sign-out form's token",
        page.status == 200 and signed_in_as(page, user) and token,
    )
    copied = Browser(user.username)
    copied.jar = dict(browser.jar)
    page = browser.post(b, "/logout/", {"csrfmiddlewaretoken": token})
    report.check(
        step,
        b.name,
        page,
        "sign out with A's CSRF token: 302 to /login/ (a 403 would be a refusal)",
        page.status == 302 and page.location == "/login/",
    )
    page = browser.get(a, "/login/")
    report.check(
        step,
        a.name,
        page,
        "login page: 200 with the flash B set, 'You have signed out.'",
        page.status == 200 and "You have signed out." in page.text and not signed_in_as(page, user),
    )
    page = browser.get(a, "/")
    report.check(
        step,
        a.name,
        page,
        "dashboard: signed out, 302 to the login page",
        page.status == 302 and page.location.startswith("/login/"),
    )
    page = copied.get(a, "/")
    report.check(
        step,
        a.name,
        page,
        "the session cookie from before the sign-out, replayed: 302 to the login page",
        page.status == 302 and page.location.startswith("/login/"),
    )


# Quiz autosave ---------------------------------------------------------------------------


@dataclass
class QuestionForm:
    slot: int
    post_url: str
    params: list[str]
    choices: list[str]  # Radio values in page order.
    checked: str | None


def quiz_questions(page: Page) -> list[QuestionForm]:
    """The attempt page's autosaving fieldsets that hold radio buttons."""
    found = []
    for block in page.text.split('<fieldset class="question panel"')[1:]:
        slot = int(re.search(r'id="question-(\d+)"', block).group(1))
        post_url = re.search(r'hx-post="([^"]+)"', block).group(1)
        params = re.search(r'hx-params="([^"]+)"', block).group(1).split(",")
        radios = re.findall(rf'type="radio" name="q{slot}" value="([^"]+)"( checked)?', block)
        if radios:
            checked = next((value for value, mark in radios if mark), None)
            found.append(QuestionForm(slot, post_url, params, [v for v, _m in radios], checked))
    return found


def answered_line(page: Page) -> str:
    found = re.search(r"(\d+) of (\d+) answered\.", page.text)
    return found.group(0) if found else ""


def autosave(browser: Browser, at: Instance, attempt_url: str, question, value, csrf) -> Page:
    """What htmx sends when a choice changes: the fieldset's hx-params only (the
    question, its answer and the `seq` app.js adds), the token from the page's
    hx-headers."""
    values = {"questions": str(question.slot), "seq": str(int(time.time() * 1000))}
    values[f"q{question.slot}"] = value
    form = {name: values[name] for name in question.params if name in values}
    headers = browser.htmx(
        attempt_url,
        csrf,
        **{"HX-Trigger": f"question-{question.slot}", "HX-Target": f"saved-{question.slot}"},
    )
    return browser.post(at, question.post_url, form, **headers)


def quiz_for(user: User) -> Assignment:
    """The student's quiz that falls due last (open for weeks after seeding), with
    their attempts at it from earlier runs removed so one can start."""
    assignment = (
        Assignment.objects.filter(item__kind=ItemKind.QUIZ, cohort__memberships__user=user)
        .select_related("item__quiz")
        .order_by("-due_at")
        .first()
    )
    Attempt.objects.filter(quiz=assignment.item.quiz, user=user).delete()
    return assignment


def check_quiz(report: Report, a: Instance, b: Instance, user: User) -> None:
    """Start on B from A's page; autosave on B, seen on A; autosave on A, seen on B;
    submit on B, the result on A with the score the database holds."""
    step = "quiz"
    item = quiz_for(user).item
    browser = Browser(user.username)
    if not sign_in_form(report, browser, user, a, step):
        return
    page = browser.get(a, f"/items/{item.pk}/")
    token = page.csrf()
    if not report.check(
        step,
        a.name,
        page,
        f"quiz page '{item.title}': 200 with the start form",
        page.status == 200 and "Start the quiz" in page.text and token,
    ):
        return
    page = browser.post(b, f"/items/{item.pk}/attempts/", {"csrfmiddlewaretoken": token})
    found = re.fullmatch(r"/attempts/(\d+)/", page.location)
    if not report.check(
        step,
        b.name,
        page,
        "start the attempt with A's form token: 302 to the attempt",
        page.status == 302 and found,
    ):
        return
    attempt_url = page.location
    attempt = Attempt.objects.get(pk=int(found.group(1)), user=user)
    page = browser.get(a, attempt_url)
    questions = quiz_questions(page)
    total = len(re.findall(r'<fieldset class="question panel"', page.text))
    if not report.check(
        step,
        a.name,
        page,
        f"attempt page: 200, '0 of {total} answered.', two choice questions",
        page.status == 200
        and answered_line(page) == f"0 of {total} answered."
        and len(questions) >= 2,
    ):
        return
    first, second = questions[0], questions[1]
    first_value, second_value = first.choices[-1], second.choices[0]
    page = autosave(browser, b, attempt_url, first, first_value, page.csrf())
    report.check(
        step,
        b.name,
        page,
        f"autosave question 1 (htmx): 200, the 'Saved' note for slot {first.slot}",
        page.status == 200 and f'id="saved-{first.slot}"' in page.text and "Saved " in page.text,
    )
    page = browser.get(a, attempt_url)
    shown = {q.slot: q.checked for q in quiz_questions(page)}
    report.check(
        step,
        a.name,
        page,
        f"reload: question 1 shows '{first_value}' checked; '1 of {total} answered.'",
        page.status == 200
        and shown.get(first.slot) == first_value
        and answered_line(page) == f"1 of {total} answered.",
    )
    page = autosave(browser, a, attempt_url, second, second_value, page.csrf())
    report.check(
        step,
        a.name,
        page,
        f"autosave question 2 (htmx): 200, the 'Saved' note for slot {second.slot}",
        page.status == 200 and f'id="saved-{second.slot}"' in page.text,
    )
    page = browser.get(b, attempt_url)
    shown = {q.slot: q.checked for q in quiz_questions(page)}
    report.check(
        step,
        b.name,
        page,
        f"reload: both answers checked; '2 of {total} answered.'",
        page.status == 200
        and shown.get(first.slot) == first_value
        and shown.get(second.slot) == second_value
        and answered_line(page) == f"2 of {total} answered.",
    )
    stored = dict(
        Answer.objects.filter(slot__attempt=attempt, slot__in=[first.slot, second.slot])
        .exclude(response={})
        .values_list("slot_id", "response")
    )
    report.check(
        step,
        "db",
        None,
        "both answers stored once, in the attempt's rows",
        set(stored) == {first.slot, second.slot},
    )
    page = browser.get(b, f"{attempt_url}submit/")
    token = page.csrf()
    page = browser.post(b, f"{attempt_url}submit/", {"csrfmiddlewaretoken": token})
    result_url = f"{attempt_url}result/"
    report.check(
        step,
        b.name,
        page,
        "submit (confirm page's token): 302 to the result",
        token and page.status == 302 and page.location == result_url,
    )
    page = browser.get(a, result_url)
    attempt.refresh_from_db()
    score = SCORE.search(page.text)
    shown_score = f"{score.group(1)} / {score.group(2)}" if score else "none"
    report.check(
        step,
        a.name,
        page,
        f"result: 200, submitted, score {shown_score} as stored ({attempt.score} / "
        f"{attempt.max_score})",
        page.status == 200
        and not attempt.is_open
        and score is not None
        and float(score.group(1)) == float(attempt.score)
        and float(score.group(2)) == float(attempt.max_score),
    )


# Files handed in ---------------------------------------------------------------------------

MEMO_TITLE = "Scale-out memo"
UPLOAD_NONCE = re.compile(r'name="nonce" value="([^"]+)" id="upload-nonce"')
VERSION_FILE = re.compile(r'href="(/memos/versions/(\d+)/file/)"')


def memo_pdf() -> bytes:
    """A PDF of a few hundred kilobytes, different each run, so a byte-identical
    download proves the bytes travelled and were not cached or made up."""
    filler = os.urandom(300 * 1024).hex().encode()
    return b"%PDF-1.7\n% scale-out check\n" + filler + b"\n%%EOF\n"


def analysis_for(user: User) -> ModuleItem:
    """A written analysis that takes files, given to the student's cohort in the demo
    course and due in a week; made once per database, the student's memo on it from
    an earlier run removed."""
    course = Course.objects.get(code=COURSE_CODE)
    cohort = Cohort.objects.get(courses=course, memberships__user=user)
    item = ModuleItem.objects.filter(module__course=course, title=MEMO_TITLE).first()
    if item is None:
        module = course.modules.order_by("position").first()
        item = ModuleItem.objects.create(
            module=module, kind=ItemKind.ANALYSIS, title=MEMO_TITLE, position=99
        )
        Analysis.objects.create(item=item, prompt="Should Alcatel enter China?")
    Assignment.objects.update_or_create(
        item=item, cohort=cohort, defaults={"due_at": timezone.now() + timedelta(days=7)}
    )
    Memo.objects.filter(item=item, author=user).delete()
    return item


def check_upload(report: Report, a: Instance, b: Instance, user: User, *, step="upload") -> None:
    """A student hands in a PDF on A (the writing page's file form, multipart, its CSRF
    token and nonce); the file is in the shared bucket; B lists it on the student's page
    and serves it byte for byte, as an attachment."""
    item = analysis_for(user)
    browser = Browser(user.username)
    if not sign_in_form(report, browser, user, a, step):
        return
    page = browser.get(a, f"/items/{item.pk}/")
    nonce = UPLOAD_NONCE.search(page.text)
    if not report.check(
        step,
        a.name,
        page,
        f"writing page '{item.title}': 200 with the file form",
        page.status == 200 and "Or hand in a file" in page.text and nonce,
    ):
        return
    data = memo_pdf()
    digest = hashlib.sha256(data).hexdigest()
    form = {"csrfmiddlewaretoken": page.csrf(), "nonce": nonce.group(1)}
    files = {"file": ("Alcatel memo.pdf", "application/pdf", data)}
    page = browser.request(a, "POST", f"/items/{item.pk}/memo/upload/", form=form, files=files)
    version = (
        MemoVersion.objects.filter(memo__item=item, memo__author=user).order_by("-number").first()
    )
    if not report.check(
        step,
        a.name,
        page,
        f"POST a {len(data) // 1024} KB PDF: 302 to the page, a file version stored",
        page.status == 302 and version is not None and version.file_size == len(data),
    ):
        return
    head = object_in_bucket(version.file.name)
    report.check(
        step,
        "s3",
        None,
        f"object {version.file.name} in bucket {BUCKET}: {head} bytes",
        head == len(data),
    )
    page = browser.get(b, f"/items/{item.pk}/")
    linked = {match.group(1) for match in VERSION_FILE.finditer(page.text)}
    url = f"/memos/versions/{version.pk}/file/"
    if not report.check(
        step,
        b.name,
        page,
        "the student's page lists 'Alcatel memo.pdf' with its download link",
        page.status == 200 and "Alcatel memo.pdf" in page.text and url in linked,
    ):
        return
    page = browser.get(b, url)
    got = hashlib.sha256(page.content).hexdigest()
    report.check(
        step,
        b.name,
        page,
        f"download: 200, attachment, application/pdf, nosniff, sha256 {got[:12]} "
        f"(uploaded {digest[:12]})",
        page.status == 200
        and page.content == data
        and page.header("Content-Disposition").startswith("attachment;")
        and page.header("Content-Type") == "application/pdf"
        and page.header("X-Content-Type-Options") == "nosniff",
    )


# The shared bucket: moto's S3 server in this process, on a free port, for both instances.
BUCKET = "redqueen-scale-out"


def start_bucket():
    """moto's S3 server and the bucket, with both instances pointed at it through the
    settings' environment variables; returns the server, to stop."""
    for name in ("werkzeug", "botocore"):  # Not a line for each request to the bucket.
        logging.getLogger(name).setLevel(logging.WARNING)
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    os.environ.update(
        {
            "DJANGO_STORAGE_BUCKET": BUCKET,
            "DJANGO_STORAGE_ENDPOINT_URL": f"http://127.0.0.1:{port}",
            "DJANGO_STORAGE_REGION": "us-east-1",
            "AWS_ACCESS_KEY_ID": "scale-out",
            "AWS_SECRET_ACCESS_KEY": "scale-out-not-a-secret",
        }
    )
    s3_client().create_bucket(Bucket=BUCKET)
    return server


def s3_client():
    return boto3.client(
        "s3",
        endpoint_url=os.environ["DJANGO_STORAGE_ENDPOINT_URL"],
        region_name=os.environ["DJANGO_STORAGE_REGION"],
    )


def object_in_bucket(key: str) -> int | None:
    """The size of the object under `key` in the shared bucket, or None."""
    try:
        return s3_client().head_object(Bucket=BUCKET, Key=key)["ContentLength"]
    except Exception:  # Any answer but the object is a miss.
        return None


# Live poll -------------------------------------------------------------------------------


@dataclass
class Phone:
    user: User
    browser: Browser
    home: Instance  # Where this student signed in and opens pages.
    away: Instance
    known: str = ""
    poll_id: str = ""
    csrf: str = ""
    choice: int = 0


def poll_state(phone: Phone, at: Instance, session_pk: int) -> Page:
    path = f"/live/sessions/{session_pk}/state/?known={phone.known}"
    page = phone.browser.get(at, path, **phone.browser.htmx(f"/live/sessions/{session_pk}/"))
    if page.status == 200:
        if found := KNOWN.search(page.text):
            phone.known = found.group(1)
        if found := POLL_ID.search(page.text):
            phone.poll_id = found.group(1)
            phone.csrf = page.csrf()
    return page


def revalidate(browser: Browser, at: Instance, path: str, etag: str) -> Page:
    """A board's htmx poll: app.js sends the ETag of what it shows as If-None-Match."""
    return browser.get(at, path, **browser.htmx(path, **{"If-None-Match": etag}))


def form_token(browser: Browser, at: Instance, path: str) -> str:
    return browser.get(at, path).csrf()


def etag_of(page: Page) -> str:
    """The ETag a board shows in data-etag, as app.js reads it (unescaped)."""
    found = DATA_ETAG.search(page.text)
    return html.unescape(found.group(1)) if found else ""


def check_live(report: Report, a: Instance, b: Instance, teacher: User, students) -> None:
    """The instructor runs the session from A (the projector and the console board from
    B); students sign in, join and answer on alternate instances; every poll checks
    what the screen would show, and that an unchanged session is 204 or 304 on both."""
    step = "live"
    course = Course.objects.get(code=COURSE_CODE)
    LiveSession.objects.filter(course=course, title__startswith=LIVE_TITLE).delete()
    console = Browser(teacher.username)
    if not sign_in_form(report, console, teacher, a, step):
        return
    page = console.get(a, f"/courses/{course.pk}/live/")
    title = f"{LIVE_TITLE} {datetime.now(UTC):%H:%M:%S}"
    form = {"csrfmiddlewaretoken": page.csrf(), "title": title, "item": "", "cohort": ""}
    page = console.post(a, f"/courses/{course.pk}/live/", form)
    found = re.fullmatch(r"/live/sessions/(\d+)/", page.location)
    if not report.check(
        step, a.name, page, "start a session: 302 to its console", page.status == 302 and found
    ):
        return
    session_path = page.location
    pk = int(found.group(1))
    page = console.get(b, session_path)
    code = JOIN_CODE.search(page.text)
    code = code.group(1) if code else ""
    board_etag = etag_of(page)
    if not report.check(
        step,
        b.name,
        page,
        f"console: 200, the flash A set ('Started … Join code: {code}'), a board ETag",
        page.status == 200
        and f"Started “{title}”. Join code: {code}." in page.text
        and code
        and board_etag,
    ):
        return

    phones = []
    for number, user in enumerate(students):
        home, away = (a, b) if number % 2 == 0 else (b, a)
        phone = Phone(user, Browser(user.username), home, away, choice=number % len(OPTIONS))
        phones.append(phone)
        if not sign_in_form(report, phone.browser, user, home, step):
            return
        page = phone.browser.get(home, f"/live/{code}/")
        form = {"csrfmiddlewaretoken": page.csrf(), "code": code}
        page = phone.browser.post(away, "/live/", form)
        report.check(
            step,
            away.name,
            page,
            f"{user.username} types the code (form from {home.name}): 302 to the session",
            page.status == 302 and page.location == session_path,
        )
        page = phone.browser.get(home, session_path)
        found = KNOWN.search(page.text)
        phone.known = found.group(1) if found else ""
        report.check(
            step,
            home.name,
            page,
            f"{user.username}'s phone: 200, 'You are in.', version {phone.known}",
            page.status == 200 and "You are in." in page.text and phone.known,
        )

    for phone in phones[:2]:
        for at in (a, b):
            page = poll_state(phone, at, pk)
            report.check(
                step, at.name, page, "phone poll, nothing changed: 204", page.status == 204
            )

    projector = f"/live/sessions/{pk}/projector/"
    page = console.get(b, projector)
    etag = etag_of(page)
    report.check(
        step,
        b.name,
        page,
        f"projector: 200, code {code}, '{len(phones)} joined'",
        page.status == 200
        and f"<span>{len(phones)}</span> joined" in page.text
        and code in page.text
        and etag,
    )
    for at in (a, b):
        page = revalidate(console, at, projector, etag)
        report.check(
            step,
            at.name,
            page,
            "projector poll, nothing changed: 304 with the same ETag",
            page.status == 304 and page.header("ETag") == etag,
        )

    form = {
        "csrfmiddlewaretoken": console.get(b, session_path).csrf(),
        "question": "",
        "kind": "single",
        "prompt": PROMPT,
        "options": "\n".join(OPTIONS),
        "launch": "on",
    }
    page = console.post(
        a,
        f"/live/sessions/{pk}/polls/",
        form,
        **console.htmx(session_path, form["csrfmiddlewaretoken"]),
    )
    report.check(
        step,
        a.name,
        page,
        "launch a poll (the console's htmx form): 200, the poll open on the console",
        page.status == 200 and PROMPT in page.text and "Reveal results" in page.text,
    )
    for phone in phones:
        known = phone.known
        page = poll_state(phone, phone.away, pk)
        report.check(
            step,
            phone.away.name,
            page,
            f"{phone.user.username}'s phone poll (version {known}): 200, the question and "
            f"its form, version {phone.known}",
            page.status == 200 and PROMPT in page.text and phone.poll_id and phone.known != known,
        )
    page = poll_state(phones[0], phones[0].home, pk)
    report.check(
        step,
        phones[0].home.name,
        page,
        f"phone poll at version {phones[0].known}, nothing changed: 204",
        page.status == 204,
    )
    page = revalidate(console, b, projector, etag)
    etag = etag_of(page)
    report.check(
        step,
        b.name,
        page,
        "projector poll with the old ETag: 200, the question, '0 answers'",
        page.status == 200 and PROMPT in page.text and ">0 answers" in page.text and etag,
    )

    for phone in phones:
        form = {
            "csrfmiddlewaretoken": phone.csrf,
            "poll": phone.poll_id,
            "answer": str(phone.choice),
        }
        headers = phone.browser.htmx(session_path, phone.csrf)
        page = phone.browser.post(phone.home, f"/live/sessions/{pk}/answer/", form, **headers)
        report.check(
            step,
            phone.home.name,
            page,
            f"{phone.user.username} answers (htmx): 200, 'Your answer: {OPTIONS[phone.choice]}'",
            page.status == 200
            and f"Your answer: <strong>{OPTIONS[phone.choice]}</strong>" in page.text,
        )

    page = revalidate(console, b, session_path, board_etag)
    board_etag = etag_of(page)
    report.check(
        step,
        b.name,
        page,
        f"console board poll: 200, '{len(phones)} answered this poll'",
        page.status == 200 and f"<strong>{len(phones)}</strong> answered this poll" in page.text,
    )
    page = revalidate(console, a, session_path, board_etag)
    report.check(step, a.name, page, "console board poll, nothing changed: 304", page.status == 304)
    page = revalidate(console, b, projector, etag)
    etag = etag_of(page)
    report.check(
        step,
        b.name,
        page,
        f"projector poll: 200, '{len(phones)} answers'",
        page.status == 200 and f">{len(phones)} answers" in page.text,
    )
    page = revalidate(console, a, projector, etag)
    report.check(step, a.name, page, "projector poll, nothing changed: 304", page.status == 304)

    poll_id = phones[0].poll_id
    form = {"csrfmiddlewaretoken": form_token(console, a, session_path), "action": "reveal"}
    page = console.post(
        a,
        f"/live/polls/{poll_id}/",
        form,
        **console.htmx(session_path, form["csrfmiddlewaretoken"]),
    )
    report.check(
        step,
        a.name,
        page,
        "reveal the results (htmx): 200, 'Hide results' offered",
        page.status == 200 and "Hide results" in page.text,
    )
    expected = {option: sum(p.choice == n for p in phones) for n, option in enumerate(OPTIONS)}
    page = revalidate(console, b, projector, etag)
    bars = {label: int(n) for label, n in BARS.findall(page.text)}
    report.check(
        step,
        b.name,
        page,
        "projector poll: 200, bars " + ", ".join(f"{n}" for n in expected.values()),
        page.status == 200 and bars == expected,
    )
    phone = phones[1]
    page = poll_state(phone, a, pk)
    report.check(
        step,
        a.name,
        page,
        f"{phone.user.username}'s phone poll: 200, the class's results and their answer",
        page.status == 200
        and "How the class answered" in page.text
        and f"Your answer: <strong>{OPTIONS[phone.choice]}</strong>" in page.text,
    )
    stored = dict(
        LiveAnswer.objects.filter(poll_id=poll_id).values_list("user__username", "choices")
    )
    report.check(
        step,
        "db",
        None,
        f"{len(phones)} answers stored, one per student, each as chosen",
        stored == {p.user.username: [p.choice] for p in phones},
    )
    form = {"csrfmiddlewaretoken": form_token(console, b, session_path)}
    page = console.post(b, f"/live/sessions/{pk}/end/", form)
    report.check(step, b.name, page, "end the session: 302 to it", page.status == 302)
    page = poll_state(phones[0], a, pk)
    report.check(
        step,
        a.name,
        page,
        "phone poll: 200, 'This session has ended'",
        page.status == 200 and "This session has ended" in page.text,
    )


# LTI 1.3 launches ------------------------------------------------------------------------

LMS_NAME = "Scale-out test LMS"
LMS_COURSE = {"id": "scale-out-101", "label": "SCALE 101", "title": "Scale-out in the LMS"}
LMS_INSTRUCTOR = {"sub": "scale-out-prof", "given_name": "Pat", "family_name": "Prof"}
LMS_LEARNERS = [
    {"sub": f"scale-out-learner-{n}", "given_name": name, "family_name": "Lms"}
    for n, name in enumerate(["Ada", "Ben", "Cai"], 1)
]
# Both instances serve the one site name, so the launch URL either gives the LMS (built
# from the Host header) is the same: the LMS's form posts there, and the load balancer,
# here this script, picks the instance.
LAUNCH_URL = f"{ORIGIN}/lti/launch/"
ENTER = re.compile(r"/lti/enter/[\w-]+/")


def lms_register(platform: Platform, a: Instance) -> LtiRegistration:
    """The test platform registered as an admin registers an LMS, in the shared
    database (the tool's key made first if there is none), and the tool's URLs given
    to the platform. The registration of an earlier run goes first, with the accounts
    its launches made, so runs do not pile up LMS learners in the demo cohort."""
    earlier = LtiRegistration.objects.filter(name=LMS_NAME)
    made = LtiUser.objects.filter(registration__in=earlier).values("auth_user")
    User.objects.filter(pk__in=made).delete()
    LtiPlatformInstance.objects.filter(issuer__in=earlier.values("issuer")).delete()
    earlier.delete()
    return register(platform, LAUNCH_URL, f"http://127.0.0.1:{a.port}/lti/jwks/", name=LMS_NAME)


def kept(state: str, nonce: str) -> int:
    """How many of a login's state and nonce the shared table still holds, live."""
    if not (state and nonce):
        return -1
    return (
        LtiValue.objects.filter(expires_at__gt=timezone.now())
        .filter(Q(key__endswith=state) | Q(key__endswith=f"nonce-{nonce}"))
        .count()
    )


@dataclass
class Launch:
    browser: Browser
    fields: dict  # What the LMS's page posted: the id_token and the state.
    landing: str  # Where /lti/enter/ sent the browser.


def lti_launch(
    report: Report,
    platform: Platform,
    registration: LtiRegistration,
    who: str,
    hint: str,
    target: str,
    first: Instance,
    second: Instance,
) -> Launch | None:
    """One launch as an LMS and a browser in its frame make it: the login initiation on
    `first`, which keeps a state and a nonce in the database; the LMS's authorisation
    page, whose form posts the signed id_token back; that post sent to `second`, which
    must find and take the state and nonce `first` wrote; /lti/enter/ on `second`."""
    step = "lti"
    browser = Browser(who)
    query = urlencode(platform.login_initiation_params(hint, target))
    page = browser.get(first, f"/lti/login/{registration.uuid}/?{query}")
    sent = parse_qs(urlsplit(page.location).query)
    state, nonce = (sent.get(name, [""])[0] for name in ("state", "nonce"))
    if not report.check(
        step,
        first.name,
        page,
        f"{who}: login initiation: 302 to the LMS's auth; state and nonce in cases_ltivalue",
        page.status == 302
        and page.location.startswith(platform.auth_url + "?")
        and sent.get("redirect_uri") == [LAUNCH_URL]
        and kept(state, nonce) == 2,
    ):
        return None
    try:
        action, fields = platform.follow_auth(page.location)
    except Exception as error:  # The LMS refused the tool's request: a failed check.
        action, fields = f"refused ({error})", {}
    if not report.check(
        step,
        "lms",
        None,
        f"{who}: the LMS's auth page: a form posting id_token and state to {LAUNCH_URL}",
        action == LAUNCH_URL and set(fields) == {"id_token", "state"},
    ):
        return None
    page = browser.post(second, urlsplit(action).path, fields, Origin=platform.url)
    entry = page.location
    if not report.check(
        step,
        second.name,
        page,
        f"{who}: the signed launch, with {first.name}'s state: 302 to /lti/enter/",
        page.status == 302 and ENTER.fullmatch(entry),
    ):
        return None
    report.check(
        step,
        "db",
        None,
        f"{who}: the state and nonce {first.name} stored are taken, so usable no more",
        kept(state, nonce) == 0,
    )
    page = browser.get(second, entry)
    report.check(
        step,
        second.name,
        page,
        f"{who}: /lti/enter/: 302 on, signed in",
        page.status == 302 and page.location and "sessionid" in browser.jar,
    )
    return Launch(browser, fields, page.location)


def check_lti(report: Report, a: Instance, b: Instance) -> None:
    """LTI 1.3 launches from a real test platform, each split across the instances: the
    login initiation on one, the signed launch on the other, then alternated. First an
    instructor launches and links the LMS course to the demo course; then learners
    launch to one of its items (one twice: the same account again). Each launch,
    replayed to the instance that did not take it, is refused: its state and nonce
    were taken from the shared table, once for both instances."""
    step = "lti"
    course = Course.objects.get(code=COURSE_CODE)
    cohort = Cohort.objects.get(name=COHORT_NAMES[0])
    item = (
        ModuleItem.objects.filter(
            module__course=course, kind=ItemKind.CASE_READING, assignments__cohort=cohort
        )
        .order_by("module__position", "position")
        .first()
    )
    platform = Platform()
    try:
        registration = lms_register(platform, a)
        keys = Key.objects.as_jwks()
        for instance in (a, b):
            page = Browser("lms").get(instance, "/lti/jwks/")
            report.check(
                step,
                instance.name,
                page,
                f"the tool's JWKS: 200, the {len(keys['keys'])} active key(s) the database holds",
                page.status == 200 and json_or_none(page.text) == keys,
            )
        check_lti_link(report, a, b, platform, registration, course, cohort)
        check_lti_learners(report, a, b, platform, registration, item, cohort)
    finally:
        platform.stop()


def json_or_none(text: str) -> object:
    try:
        return json.loads(text)
    except ValueError:
        return None


def check_lti_link(
    report: Report,
    a: Instance,
    b: Instance,
    platform: Platform,
    registration: LtiRegistration,
    course: Course,
    cohort: Cohort,
) -> None:
    """The instructor's first launch (login on A, launch on B) leads to the link page;
    they teach the demo course, so they link the LMS course to it and its first cohort
    (page on A, choice posted on B)."""
    step = "lti"
    who = "Pat Prof (instructor)"
    hint = platform.resource_launch(
        LMS_INSTRUCTOR, LMS_COURSE, [INSTRUCTOR], "scale-out-link-0", LAUNCH_URL
    )
    launch = lti_launch(report, platform, registration, who, hint, LAUNCH_URL, a, b)
    if launch is None or not report.check(
        step, b.name, None, f"{who}: landed on /lti/link/", launch.landing == "/lti/link/"
    ):
        return
    # As an admin makes the LMS instructor an instructor of an existing course (the
    # tests do the same): then the link page offers that course's cohorts.
    prof = LtiUser.objects.get(registration=registration, sub=LMS_INSTRUCTOR["sub"]).auth_user
    course.instructors.add(prof)
    choice = f"{course.pk}:{cohort.pk}"
    page = launch.browser.get(a, "/lti/link/")
    token = page.csrf()
    if not report.check(
        step,
        a.name,
        page,
        f"{who}: link page (the launch B validated): 200, {course.code} offered",
        page.status == 200 and f'value="{choice}"' in page.text and token,
    ):
        return
    page = launch.browser.post(b, "/lti/link/", {"csrfmiddlewaretoken": token, "course": choice})
    link = LtiCourse.objects.filter(context__id_on_platform=LMS_COURSE["id"]).first()
    report.check(
        step,
        b.name,
        page,
        f"{who}: link to {course.code}, first cohort: 302 to the course; the link stored",
        page.status == 302
        and page.location == course.get_absolute_url()
        and link is not None
        and (link.course_id, link.cohort_id) == (course.pk, cohort.pk),
    )


def check_lti_learners(
    report: Report,
    a: Instance,
    b: Instance,
    platform: Platform,
    registration: LtiRegistration,
    item: ModuleItem,
    cohort: Cohort,
) -> None:
    """Learners launch to the item, the instances swapping roles each time; each lands
    on it, framed by the LMS alone, and each launch replayed to the other instance is
    refused. The first learner launches twice: the same account, found by the LMS's
    `sub`, whichever instance made it."""
    step = "lti"
    target = f"{ORIGIN}{item.get_absolute_url()}"
    learners = [*LMS_LEARNERS, LMS_LEARNERS[0]]
    for n, person in enumerate(learners):
        first, second = (a, b) if n % 2 else (b, a)
        who = f"{person['given_name']} (learner)"
        hint = platform.resource_launch(
            person, LMS_COURSE, [LEARNER], "scale-out-link-1", target, title=item.title
        )
        launch = lti_launch(report, platform, registration, who, hint, target, first, second)
        if launch is None:
            continue
        page = launch.browser.get(first, launch.landing)
        report.check(
            step,
            first.name,
            page,
            f"{who}: lands on '{item.title}': 200, framed by the LMS alone",
            launch.landing == item.get_absolute_url()
            and page.status == 200
            and html.escape(item.title) in page.text
            and f"frame-ancestors {platform.url};" in page.header("Content-Security-Policy") + ";",
        )
        page = Browser("replay").post(first, "/lti/launch/", launch.fields, Origin=platform.url)
        report.check(
            step,
            first.name,
            page,
            f"{who}: the same launch replayed to {first.name}: 403, 'already been used'",
            page.status == 403 and "already been used" in page.text,
        )
    subs = [person["sub"] for person in LMS_LEARNERS]
    accounts = LtiUser.objects.filter(registration=registration, sub__in=subs)
    members = Membership.objects.filter(cohort=cohort, user__in=accounts.values("auth_user"))
    report.check(
        step,
        "db",
        None,
        f"{len(subs)} LMS learners, {len(learners)} launches: one account each, in the cohort",
        accounts.filter(auth_user__isnull=False).count() == len(subs)
        and members.count() == len(subs),
    )


# Instances -------------------------------------------------------------------------------


@contextlib.contextmanager
def cluster(workdir: Path, *, workers: int, env_a=None, env_b=None):
    """Instances A and B on free ports, both against the configured database (and the
    cache, unless `env_*` says otherwise); stopped on the way out. Yields A, B and a
    list that then holds what went wrong in their logs."""
    instances, problems = [], []
    try:
        for name, env in (("A", env_a), ("B", env_b)):
            port = free_port()
            log = workdir / f"gunicorn-{name}-{port}.log"
            with log.open("w") as out:
                server = start_gunicorn(
                    port, out, workers=workers, threads=THREADS, env=INSTANCE_ENV | (env or {})
                )
            instances.append(Instance(name, port, server, log))
        for instance in instances:
            wait_ready(instance.server, instance.port, workers)
        yield instances[0], instances[1], problems
    finally:
        for instance in instances:
            stop_gunicorn(instance.server)
            text = instance.log.read_text()
            errors = text.count("Traceback") + text.count("Internal Server Error")
            if instance.server.returncode or errors:
                problems.append(
                    f"instance {instance.name} exited with {instance.server.returncode}, "
                    f"{errors} errors in its log: {instance.log}"
                )


def describe(instance: Instance) -> str:
    workers = ", ".join(str(pid) for pid in sorted(children(instance.server.pid)))
    return f"{instance.name}: port {instance.port}, master {instance.server.pid}, workers {workers}"


# PgBouncer --------------------------------------------------------------------------------

PGBOUNCER_INI = """\
[databases]
; Any database name, on the PostgreSQL the script was given.
* = {server}

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {port}
unix_socket_dir =
pool_mode = transaction
default_pool_size = {pool_size}
max_client_conn = {max_client_conn}
auth_type = trust
auth_file = {folder}/userlist.txt
admin_users = {user}
ignore_startup_parameters = extra_float_digits
"""


@dataclass
class Bouncer:
    process: subprocess.Popen
    port: int
    folder: Path
    user: str

    def url(self, name: str) -> str:
        return f"postgres://{self.user}@127.0.0.1:{self.port}/{name}"

    def admin(self, command: str) -> list[dict]:
        """A SHOW command on PgBouncer's admin console (simple query protocol only, which
        psycopg's client-side-binding cursor speaks)."""
        with psycopg.connect(
            host="127.0.0.1",
            port=self.port,
            dbname="pgbouncer",
            user=self.user,
            autocommit=True,
            cursor_factory=psycopg.ClientCursor,
        ) as console:
            cursor = console.execute(command)
            names = [column.name for column in cursor.description]
            return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

    def ours(self, command: str) -> dict:
        """SHOW POOLS or SHOW STATS: the row of the database the instances use."""
        name = connection.settings_dict["NAME"]
        rows = [row for row in self.admin(command) if row["database"] == name]
        return rows[0] if rows else {}


def start_pgbouncer() -> Bouncer:
    """PgBouncer on a free port, in transaction mode, in front of the configured
    PostgreSQL, from an ini of its own in a temporary folder. PgBouncer refuses to run as
    root: then it runs as postgres, so its folder is readable by all."""
    binary = shutil.which("pgbouncer") or "/usr/sbin/pgbouncer"
    if not Path(binary).exists():
        sys.exit("scale-out needs PgBouncer: apt-get install pgbouncer (or SCALE_PGBOUNCER=0)")
    db = connection.settings_dict
    user = db["USER"] or "postgres"
    folder = Path(tempfile.mkdtemp(prefix="scale-out-pgbouncer-"))
    folder.chmod(0o755)
    port = free_port()
    server = f"host={db['HOST'] or '127.0.0.1'} port={db['PORT'] or 5432}"
    ini = folder / "pgbouncer.ini"
    ini.write_text(
        PGBOUNCER_INI.format(
            server=server,
            port=port,
            pool_size=POOL_SIZE,
            # Both instances' threads, the controls' pairs, wrk's load and the checks.
            max_client_conn=4 * 2 * WORKERS * THREADS + 50,
            folder=folder,
            user=user,
        )
    )
    # With auth_type trust no client password is asked; PgBouncer logs in to PostgreSQL
    # with the one written here.
    (folder / "userlist.txt").write_text(f'"{user}" "{db["PASSWORD"]}"\n')
    log = folder / "pgbouncer.log"
    command = [binary, *(["-u", "postgres"] if os.geteuid() == 0 else []), str(ini)]
    with log.open("w") as out:
        process = subprocess.Popen(  # noqa: S603 (our own command line)
            command, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    bouncer = Bouncer(process, port, folder, user)
    deadline = time.monotonic() + 10
    while True:
        try:
            bouncer.admin("SHOW VERSION")
            return bouncer
        except psycopg.OperationalError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                sys.exit(f"PgBouncer did not start: {log.read_text()[-2000:]}")
            time.sleep(0.1)


def stop_pgbouncer(bouncer: Bouncer) -> None:
    bouncer.process.terminate()
    try:
        bouncer.process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        bouncer.process.kill()
        bouncer.process.wait()


def pooled_server_connections(pool: dict) -> int:
    return sum(int(pool.get(k, 0)) for k in pool if k.startswith("sv_"))


def check_pgbouncer(report: Report, bouncer: Bouncer, before: dict) -> None:
    """PgBouncer was in the path: the checks' transactions went through it, on no more
    server connections than its pool, in transaction mode, and a session's time zone
    (the one SET Django sends on connecting) held across the server connections."""
    stats, pool = bouncer.ours("SHOW STATS"), bouncer.ours("SHOW POOLS")
    xacts = int(stats.get("total_xact_count", 0)) - int(before.get("total_xact_count", 0))
    queries = int(stats.get("total_query_count", 0)) - int(before.get("total_query_count", 0))
    report.check(
        "pgbouncer",
        "pgb",
        None,
        f"SHOW STATS: {xacts} transactions and {queries} queries from the instances "
        f"through PgBouncer during the checks",
        xacts > 0 and queries >= xacts,
    )
    servers = pooled_server_connections(pool)
    report.check(
        "pgbouncer",
        "pgb",
        None,
        f"SHOW POOLS: pool_mode {pool.get('pool_mode')}, {pool.get('cl_active')} clients "
        f"(instance threads) on {servers} server connections (default_pool_size {POOL_SIZE})",
        pool.get("pool_mode") == "transaction" and 0 < servers <= POOL_SIZE,
    )
    # Two clients, one with a session time zone of its own, take turns: each
    # transaction may get another server connection, and each must see its own zone.
    seen = {"Pacific/Auckland": set(), "default": set()}
    # No prepared statements, as the app's settings hold them off (see prepared() below).
    params = {
        "host": "127.0.0.1",
        "port": bouncer.port,
        "user": bouncer.user,
        "prepare_threshold": None,
    }
    name = connection.settings_dict["NAME"]
    with (
        psycopg.connect(**params, dbname=name, autocommit=True) as zoned,
        psycopg.connect(**params, dbname=name, autocommit=True) as plain,
    ):
        zoned.execute("SET TIME ZONE 'Pacific/Auckland'")
        for _ in range(20):
            seen["Pacific/Auckland"].add(zoned.execute("SHOW TimeZone").fetchone()[0])
            seen["default"].add(plain.execute("SHOW TimeZone").fetchone()[0])
    report.check(
        "pgbouncer",
        "pgb",
        None,
        f"a session's SET TIME ZONE holds on every transaction: {sorted(seen['Pacific/Auckland'])}"
        f", another client's stays {sorted(seen['default'])}",
        seen["Pacific/Auckland"] == {"Pacific/Auckland"}
        and "Pacific/Auckland" not in seen["default"],
    )


def prepared(bouncer: Bouncer) -> str:
    """What becomes of psycopg's prepared statements through this PgBouncer: two clients
    take turns running the same query, each preparing it at once (prepare_threshold 0).
    Before PgBouncer 1.21 (and without its max_prepared_statements) a statement prepared
    on one server connection is missing on, or clashes with, the next: the reason
    DJANGO_DB_TRANSACTION_POOLING keeps them off. Reported, not checked: the outcome
    depends on PgBouncer's version and on which server connection each turn gets."""
    params = {"host": "127.0.0.1", "port": bouncer.port, "user": bouncer.user}
    name = connection.settings_dict["NAME"]
    try:
        with (
            psycopg.connect(**params, dbname=name, autocommit=True, prepare_threshold=0) as one,
            psycopg.connect(**params, dbname=name, autocommit=True, prepare_threshold=0) as two,
        ):
            for turn in range(10):
                (one, two)[turn % 2].execute("SELECT %s::int", [turn]).fetchone()
    except psycopg.Error as error:
        return f"fail ({type(error).__name__}: {str(error).strip()})"
    return "worked in 10 turns"


def check_audit_csv(report: Report, a: Instance, b: Instance, admin: User) -> None:
    """The audit log's CSV, the one streamed view (`QuerySet.iterator()`, a server-side
    cursor unless DISABLE_SERVER_SIDE_CURSORS): signed in on A, downloaded from B, one
    line for each entry in the table."""
    browser = Browser(admin.username)
    if not sign_in_form(report, browser, admin, a, "audit csv"):
        return
    page = browser.get(b, "/manage/audit.csv")
    entries = AuditEntry.objects.count()
    lines = list(csv.reader(io.StringIO(page.text.lstrip("\ufeff"))))
    report.check(
        "audit csv",
        b.name,
        page,
        f"the audit log as CSV: 200, text/csv, a header and {entries} entries",
        page.status == 200
        and page.header("Content-Type").startswith("text/csv")
        and lines[:1]
        and lines[0][0] == "When (UTC)"
        and len(lines) - 1 == entries > 0,
    )


# Negative controls -----------------------------------------------------------------------

# bench/local_session_cache.py: sessions cached_db over a local-memory cache.
LOCAL_SESSION_CACHE = {
    "REDIS_URL": "",
    "DJANGO_SETTINGS_MODULE": "local_session_cache",
    "PYTHONPATH": str(Path(__file__).resolve().parent),
}

CONTROLS = [
    (
        "B signs with another DJANGO_SECRET_KEY",
        WORKERS,
        None,
        {"DJANGO_SECRET_KEY": "scale-out-control-a-different-key"},
    ),
    (
        "each process reads sessions through its own memory (1 worker each)",
        1,
        LOCAL_SESSION_CACHE,
        LOCAL_SESSION_CACHE,
    ),
]


UPLOAD_CONTROL = "each instance keeps files on its own disk (no bucket)"


def run_controls(workdir: Path, student: User, uploader: User) -> tuple[list[str], list[str]]:
    """Each broken pair must fail the session checks, and a pair without the shared
    bucket the upload check: the names of the controls that were not caught, and what
    went wrong in the servers' logs."""
    missed, problems = [], []
    for title, workers, env_a, env_b in CONTROLS:
        report = Report()
        with cluster(workdir, workers=workers, env_a=env_a, env_b=env_b) as (a, b, logs):
            check_sessions(report, a, b, student, redis_loss=False)
        problems += logs
        report.print(f"Negative control: {title}; must be caught", expect_failure=True)
        if not report.failed:
            missed.append(title)
    report = Report()
    disk = {
        name: {"DJANGO_STORAGE_BUCKET": "", "DJANGO_MEDIA_ROOT": str(workdir / f"media-{name}")}
        for name in "AB"
    }
    with cluster(workdir, workers=WORKERS, env_a=disk["A"], env_b=disk["B"]) as (a, b, logs):
        check_upload(report, a, b, uploader, step="upload, no bucket")
    problems += logs
    report.print(f"Negative control: {UPLOAD_CONTROL}; must be caught", expect_failure=True)
    if not report.failed:
        missed.append(UPLOAD_CONTROL)
    return missed, problems


# Load ------------------------------------------------------------------------------------

WRK_SCRIPT = """\
-- Count every response but 200: signed out, the dashboard would be a 302 to the login.
local threads = {}
function setup(thread)
  table.insert(threads, thread)
end
function init(args)
  non200 = 0
end
function response(status, headers, body)
  if status ~= 200 then
    non200 = non200 + 1
  end
end
function done(summary, latency, requests)
  local total = 0
  for _, thread in ipairs(threads) do
    total = total + thread:get("non200")
  end
  io.write(string.format("non200 %d\\n", total))
end
"""
WRK = shutil.which("wrk") or "wrk"
UNIT_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}


@dataclass
class Load:
    requests: int
    per_second: float
    p50: float
    p99: float
    bad: int  # Not 200, or a socket error.


def parse_wrk(text: str) -> Load:
    def ms(share: str) -> float:
        found = re.search(rf"^\s+{share}%\s+([\d.]+)(us|ms|s|m)\s*$", text, re.M)
        return float(found.group(1)) * UNIT_MS[found.group(2)] if found else float("nan")

    requests = re.search(r"(\d+) requests in", text)
    per_second = re.search(r"Requests/sec:\s+([\d.]+)", text)
    non200 = re.search(r"^non200 (\d+)", text, re.M)
    sockets = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text
    )
    bad = int(non200.group(1)) if non200 else 1
    if sockets:
        bad += sum(int(n) for n in sockets.groups())
    return Load(
        int(requests.group(1)) if requests else 0,
        float(per_second.group(1)) if per_second else 0.0,
        ms("50"),
        ms("99"),
        bad,
    )


def wrk(targets: list[Instance], cookie: str, seconds: int, script: Path) -> list[Load]:
    """wrk against each target at once, the connections shared out between them."""
    each = max(1, CONNECTIONS // len(targets))
    threads = max(1, 2 // len(targets))
    runs = [
        subprocess.Popen(  # noqa: S603 (our own command line)
            [
                WRK,
                f"-t{threads}",
                f"-c{each}",
                f"-d{seconds}s",
                "--latency",
                "-s",
                str(script),
                "-H",
                f"Host: {SITE}",
                "-H",
                f"Cookie: {cookie}",
                f"http://127.0.0.1:{target.port}/",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for target in targets
    ]
    return [parse_wrk(run.communicate()[0]) for run in runs]


def database_backends() -> list[int]:
    """The PostgreSQL backends serving this database for others than this process."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        return [pid for (pid,) in cursor.fetchall()]


def measure_load(
    a: Instance, b: Instance, student: User, workdir: Path, bouncer: Bouncer | None
) -> bool:
    """The dashboard under a short bounded load, one instance and then both; True if a
    response was not 200."""
    if not shutil.which(WRK):
        print("\nload: wrk is not installed (apt-get install wrk), or SCALE_LOAD_SECONDS=0")
        return True
    script = workdir / "count_non200.lua"
    script.write_text(WRK_SCRIPT)
    cookie, _csrf = sign_in(student)  # Made directly: a load of logins would time hashing.
    browser = Browser(student.username)
    browser.jar = dict(part.split("=", 1) for part in cookie.split("; "))
    for instance in (a, b):
        page = browser.get(instance, "/")
        if not (page.status == 200 and signed_in_as(page, student)):
            print(f"load: the dashboard on {instance.name} is not signed in ({page.status})")
            return True
    idle = machine_busy(1.0)
    wrk([a, b], cookie, 2, script)  # Warm both: connections to PostgreSQL, imports.
    gunicorn = [p for i in (a, b) for p in (i.server.pid, *children(i.server.pid))]
    rows, failed = [], False
    for label, targets in (("one instance (A)", [a]), ("two instances (A + B)", [a, b])):
        backends = database_backends()
        before, spent = CpuSnapshot.take(), resource.getrusage(resource.RUSAGE_CHILDREN)
        loads = wrk(targets, cookie, LOAD_SECONDS, script)
        after, ended = CpuSnapshot.take(), resource.getrusage(resource.RUSAGE_CHILDREN)
        # A backend opened during the run counts from zero; only ours, not other
        # databases' on the same server.
        backends = set(backends) | set(database_backends())
        requests = sum(load.requests for load in loads)
        failed |= any(load.bad for load in loads) or not requests
        per_request = max(1, requests)

        def ms(seconds: float, n=per_request) -> str:
            return f"{seconds * 1000 / n:.2f}"

        client = (ended.ru_utime + ended.ru_stime) - (spent.ru_utime + spent.ru_stime)
        ours = {
            "gunicorn": cpu_seconds(before, after, gunicorn),
            "postgres": cpu_seconds(before, after, backends),
            "pgbouncer": cpu_seconds(before, after, [bouncer.process.pid] if bouncer else []),
            "redis": cpu_seconds(before, after, pids_named(after, "redis-server")),
            "wrk": client,
            "this script": after.own - before.own,
        }
        others = max(0.0, before.busy_seconds(after) - sum(ours.values()))
        rows.append(
            (
                label,
                f"{WORKERS}x{THREADS} x {len(targets)}",
                str(requests),
                f"{sum(load.per_second for load in loads):.0f}",
                " / ".join(f"{load.p50:.1f}" for load in loads),
                " / ".join(f"{load.p99:.1f}" for load in loads),
                str(sum(load.bad for load in loads)),
                ms(ours["gunicorn"]),
                ms(ours["postgres"]),
                ms(ours["pgbouncer"]) if bouncer else "-",
                ms(ours["redis"]),
                ms(client),
                f"{before.busy_share(after):.0%}",
                f"{others / (after.at - before.at):.2f}",
            )
        )
    for instance in (a, b):
        page = browser.get(instance, "/")
        failed |= not (page.status == 200 and signed_in_as(page, student))
    held = len(database_backends())
    header = (
        "run",
        "workers",
        "requests",
        "req/s",
        "p50 ms",
        "p99 ms",
        "not 200",
        "CPU ms/req: gunicorn",
        "PostgreSQL",
        "PgBouncer",
        "Redis",
        "wrk",
        "machine busy",
        "others, cores",
    )
    widths = [max(len(str(r[n])) for r in [header, *rows]) for n in range(len(header))]
    print(
        f"\nLoad: GET / (the dashboard) signed in as {student.username}, {CONNECTIONS} "
        f"connections in all, {LOAD_SECONDS} s a run, wrk on the same {os.cpu_count()}-core "
        f"machine ({idle:.0%} busy before); latency per instance; others: the cores the "
        f"rest of the machine kept busy meanwhile"
    )
    for row in [header, *rows]:
        print("  " + "  ".join(f"{cell:<{w}}" for cell, w in zip(row, widths, strict=True)))
    if bouncer:
        pool, stats = bouncer.ours("SHOW POOLS"), bouncer.ours("SHOW STATS")
        print(
            f"  PostgreSQL connections afterwards: {held}, PgBouncer's (SHOW POOLS: "
            f"{pooled_server_connections(pool)} server connections for {pool.get('cl_active')} "
            f"client connections, default_pool_size {POOL_SIZE}; at most "
            f"{2 * WORKERS * THREADS} without it); SHOW STATS since it started: "
            f"{stats.get('total_xact_count')} transactions, {stats.get('total_query_count')} "
            f"queries, {int(stats.get('total_wait_time', 0)) / 1000:.0f} ms waited for a "
            f"server connection in all"
        )
    else:
        print(
            f"  PostgreSQL connections the instances keep open afterwards: {held} "
            f"(persistent, one a thread that served: at most {2 * WORKERS * THREADS})"
        )
    return failed


# Main ------------------------------------------------------------------------------------


def main() -> int:
    create_database()
    cache_name = check_cache()
    call_command("migrate", verbosity=0)
    call_command("collectstatic", interactive=False, verbosity=0)  # Production's manifest.
    call_command("seed_demo", force=True, stdout=io.StringIO())  # A throwaway database.
    users = {user.username: user for user in User.objects.filter(username__in=USERS)}
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        pg_version = cursor.fetchone()[0].split()[0]
    workdir = Path(tempfile.mkdtemp(prefix="scale-out-"))
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    print(
        f"Scale-out: two gunicorn instances ({WORKERS} workers x {THREADS} threads each), "
        f"DEBUG off; PostgreSQL {pg_version} ({connection.settings_dict['NAME']}); cache and "
        f"sessions: {cache_name}; {stamp}; gunicorn logs in {workdir}, kept if anything fails"
    )

    bucket = start_bucket()
    endpoint = os.environ["DJANGO_STORAGE_ENDPOINT_URL"]
    print(f"Files handed in: bucket {BUCKET} on moto's S3 server at {endpoint}")
    bouncer = start_pgbouncer() if PGBOUNCER else None
    if bouncer:
        version = bouncer.admin("SHOW VERSION")[0]["version"]
        INSTANCE_ENV.update(
            DATABASE_URL=bouncer.url(connection.settings_dict["NAME"]),
            DJANGO_DB_TRANSACTION_POOLING="1",
        )
        print(
            f"Database: the instances through {version} on port {bouncer.port}, "
            f"pool_mode transaction, default_pool_size {POOL_SIZE} "
            f"(ini in {bouncer.folder}), DJANGO_DB_TRANSACTION_POOLING=1"
        )
    else:
        print("Database: the instances straight to PostgreSQL (SCALE_PGBOUNCER=0)")
    report = Report()
    load_failed = False
    try:
        stats = bouncer.ours("SHOW STATS") if bouncer else {}
        with cluster(workdir, workers=WORKERS) as (a, b, problems):
            print(describe(a))
            print(describe(b))
            check_sessions(report, a, b, users["student1"])
            check_quiz(report, a, b, users["student2"])
            check_live(report, a, b, users["instructor"], [users[n] for n in LIVE_STUDENTS])
            check_lti(report, a, b)
            check_upload(report, a, b, users[UPLOADER])
            check_audit_csv(report, a, b, users["admin"])
            if bouncer:
                check_pgbouncer(report, bouncer, stats)
                print(f"Prepared statements through PgBouncer (not used): {prepared(bouncer)}")
            report.print("Checks: every request names the instance that answered it")
            if LOAD_SECONDS:
                load_failed = measure_load(a, b, users["student5"], workdir, bouncer)
        missed, control_problems = run_controls(workdir, users["student1"], users[UPLOADER])
        problems += control_problems
    finally:
        bucket.stop()
        if bouncer:
            stop_pgbouncer(bouncer)
    if bouncer:
        log = (bouncer.folder / "pgbouncer.log").read_text()
        problems += [f"PgBouncer: {line}" for line in log.splitlines() if " ERROR " in line]
        if not problems:
            shutil.rmtree(bouncer.folder, ignore_errors=True)

    print()
    passed = len(report.rows) - len(report.failed)
    print(f"checks: {passed} of {len(report.rows)} passed")
    controls = len(CONTROLS) + 1  # And the upload's.
    print(f"negative controls: {controls - len(missed)} of {controls} caught")
    for title in missed:
        print(f"  NOT CAUGHT: {title}")
    if load_failed:
        print("load: a response was not 200 (or the session did not survive the load)")
    for problem in problems:
        print(problem)
    if report.failed or missed or load_failed or problems:
        return 1
    shutil.rmtree(workdir)
    return 0


LIVE_STUDENTS = ["student3", "student4", "student15", "student16"]
UPLOADER = "student6"
USERS = ["admin", "instructor", "student1", "student2", "student5", UPLOADER, *LIVE_STUDENTS]


if __name__ == "__main__":
    sys.exit(main())
