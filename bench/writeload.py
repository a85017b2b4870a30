"""The write load the drills share (`bench/faults.py`, `bench/backup_drill.py`): the demo
students, signed in, autosave quiz answers and post to a discussion through the real
endpoints, as htmx does, while a drill breaks something. Every write is recorded (what
was sent, when, what came back), so the drill can check afterwards that the database
holds everything that was acknowledged.

Each drill run's database is prepared by `prepare()` (created if missing, migrated,
static files collected, `seed_demo` loaded) and gets its own course from `build()`:
FAULT DRILL, given to the demo's two sections, with a quiz of three short-text questions
(one attempt, no time limit, so a student's attempt stays open from run to run) and a
discussion whose posts are deleted at the start of every run.

Each student is one thread with its own keep-alive connection (a `harness.Device`):
every SAVE_EVERY seconds or so it types into one of its three answers (a new value each
time, sent with a sequence number that only grows, as `static/js/app.js` does), and
every POST_EVERY seconds or so it posts (a unique marker in the body and the nonce of
its compose form). A post that was not acknowledged is sent again, with the same nonce,
on the student's next turn to post, as a student clicks Post again; the nonce makes it
one post. Posting stays under the rate limit of 10 a minute.

Import after `production.setup()`.
"""

import io
import random
import re
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta

from django.core.management import call_command
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from harness import Device, Reply, check_cache, create_database, sign_in

from cases.demo.seed import COURSE_CODE as DEMO_COURSE_CODE
from cases.models import (
    Answer,
    Assignment,
    Course,
    Discussion,
    ItemKind,
    Module,
    ModuleItem,
    Post,
    Question,
    QuestionKind,
    Quiz,
    QuizSlot,
    User,
)

CODE = "FAULT DRILL"
STUDENTS = [f"student{n}" for n in range(1, 25)]  # seed_demo's students.
QUESTIONS = 3
SAVE_EVERY = 0.8  # Seconds between a student's autosaves, on average.
POST_EVERY = 12.0  # Seconds between a student's posts (at most 5 a minute).
OUTAGE_TEXT = b"reach its database for a moment"  # The 503 page (cases/views/errors.py).

SLOT = re.compile(rb'name="questions" value="(\d+)"')
MARKER = re.compile(r"\[drill (\S+) (\S+) post (\d+)\]")


# The database ------------------------------------------------------------------------


def prepare() -> str:
    """Create, migrate and seed the drill's database; the cache's name."""
    create_database()
    cache_name = check_cache()
    call_command("migrate", verbosity=0)
    call_command("collectstatic", interactive=False, verbosity=0)  # Production's manifest.
    # The demo password is public; the drill's database is a throwaway one.
    call_command("seed_demo", force=True, stdout=io.StringIO())
    return cache_name


@dataclass
class Drill:
    course: Course
    quiz_item: ModuleItem
    discussion: Discussion
    students: list[User]


@transaction.atomic
def build() -> Drill:
    """The drill's course, built once, given to the demo's sections; the thread's earlier
    posts deleted."""
    course = Course.objects.filter(code=CODE).first()
    if course is None:
        demo = Course.objects.get(code=DEMO_COURSE_CODE)
        course = Course.objects.create(code=CODE, title="Fault drill")
        course.instructors.add(*demo.instructors.all())
        course.cohorts.add(*demo.cohorts.all())
        module = Module.objects.create(course=course, title="Under load", position=1)
        quiz_item = ModuleItem.objects.create(
            module=module, kind=ItemKind.QUIZ, title="Drill quiz", position=1
        )
        quiz = Quiz.objects.create(item=quiz_item, attempts_allowed=1, shuffle_choices=False)
        for position in range(1, QUESTIONS + 1):
            question = Question.objects.create(
                course=course,
                kind=QuestionKind.SHORT_TEXT,
                title=f"Drill question {position}",
                text="Write what you think; it saves as you type.",
            )
            QuizSlot.objects.create(quiz=quiz, question=question, position=position)
        thread_item = ModuleItem.objects.create(
            module=module, kind=ItemKind.DISCUSSION, title="Drill thread", position=2
        )
        Discussion.objects.create(item=thread_item, prompt="Post while the drill runs.")
        due = timezone.now() + timedelta(days=3650)
        for cohort in course.cohorts.all():
            for item in (quiz_item, thread_item):
                Assignment.objects.create(item=item, cohort=cohort, due_at=due, points=10)
    quiz_item = ModuleItem.objects.get(module__course=course, kind=ItemKind.QUIZ)
    discussion = Discussion.objects.get(item__module__course=course)
    Post.objects.filter(discussion=discussion).delete()
    students = list(User.objects.filter(username__in=STUDENTS).order_by("pk"))
    return Drill(course, quiz_item, discussion, students)


# The load ----------------------------------------------------------------------------


@dataclass
class Write:
    """One request that writes, as its student saw it."""

    kind: str  # "autosave" or "post"
    student: str
    slot: int  # Autosave: the attempt question. Post: 0.
    seq: int  # Autosave: its sequence number. Post: the post's number for its student.
    value: str  # Autosave: the text typed. Post: its marker.
    start: float
    end: float = 0.0
    status: int = 0  # 0: no answer at all (refused, reset, timed out).
    acknowledged: bool = False  # 200, the answer the app gives when it saved.
    outage_page: bool = False  # A 503 with the outage page and Retry-After.
    shown: bool = False  # Post: the acknowledged thread shows it.


@dataclass
class Student:
    user: User
    device: Device
    attempt: int = 0
    slots: list[int] = field(default_factory=list)
    posts: int = 0
    unsent_post: str | None = None  # A post's marker to send again.


class WriteLoad:
    """Students writing in threads, from `start()` to `stop()`; `writes` holds every
    write sent since the last `start()`."""

    def __init__(self, port: int, drill: Drill, *, run: str, seed: int = 7):
        self.port = port
        self.drill = drill
        self.run = run
        self.seed = seed
        self.students = [Student(user, Device(port, *sign_in(user))) for user in drill.students]
        self.writes: list[Write] = []
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.threads: list[threading.Thread] = []
        self.seq = int(time.time() * 1_000_000)  # Microseconds: above any earlier run's.
        self.posts_url = reverse("cases:post_create", args=[drill.discussion.item_id])

    def open(self) -> None:
        """Every student starts (or resumes) their attempt and opens it, over HTTP, to
        learn its questions; raises if the app refuses."""
        start_url = reverse("cases:attempt_start", args=[self.drill.quiz_item.pk])
        for student in self.students:
            reply = student.device.request("open", "POST", start_url, form={})
            location = reply.headers.get("location", "")
            if reply.status != 302 or "/attempts/" not in location:
                raise RuntimeError(f"{student.user}: starting the attempt gave {reply.status}")
            student.attempt = int(location.rstrip("/").rsplit("/", 1)[1])
            reply = student.device.request("open", "GET", location)
            student.slots = [int(s) for s in SLOT.findall(reply.body)]
            if reply.status != 200 or len(student.slots) != QUESTIONS:
                raise RuntimeError(f"{student.user}: the attempt page gave {reply.status}")
            student.device.close()

    def start(self) -> None:
        self.writes = []
        self.stopping.clear()
        self.threads = [
            # Daemons: a drill that fails half-way still exits.
            threading.Thread(
                target=self._student, args=(s, random.Random(self.seed + n)), daemon=True
            )
            for n, s in enumerate(self.students)
        ]
        for thread in self.threads:
            thread.start()

    def stop(self) -> list[Write]:
        self.stopping.set()
        for thread in self.threads:
            thread.join()
        for student in self.students:
            student.device.close()
        return self.writes

    def retries(self) -> int:
        """Requests sent again after the server closed a kept-alive connection."""
        return sum(s.device.retries for s in self.students)

    def _student(self, student: Student, rng: random.Random) -> None:
        now = time.perf_counter()
        next_save = now + rng.uniform(0, SAVE_EVERY)
        next_post = now + rng.uniform(0, POST_EVERY)
        while True:
            moment = min(next_save, next_post)
            if self.stopping.wait(max(0.0, moment - time.perf_counter())):
                return
            if moment == next_post:
                self._post(student)
                next_post = max(time.perf_counter(), next_post + POST_EVERY * rng.uniform(0.9, 1.1))
            else:
                self._autosave(student, rng)
                next_save = max(time.perf_counter(), next_save + SAVE_EVERY * rng.uniform(0.5, 1.5))

    def _next_seq(self) -> int:
        with self.lock:
            self.seq += 1
            return self.seq

    def _autosave(self, student: Student, rng: random.Random) -> None:
        slot = rng.choice(student.slots)
        seq = self._next_seq()
        value = f"drill {self.run} {student.user.username} {seq}"
        write = Write("autosave", student.user.username, slot, seq, value, time.perf_counter())
        reply = student.device.request(
            "autosave",
            "POST",
            reverse("cases:attempt_save", args=[student.attempt]),
            form={"questions": str(slot), "seq": str(seq), f"q{slot}": value},
            headers={"HX-Request": "true"},
        )
        self._record(write, reply)

    def _post(self, student: Student) -> None:
        if student.unsent_post is None:
            student.posts += 1
            student.unsent_post = f"[drill {self.run} {student.user.username} post {student.posts}]"
        marker = student.unsent_post
        write = Write("post", student.user.username, 0, student.posts, marker, time.perf_counter())
        body = f"{marker} The PRD cluster wins on process, not on invention (¶2)."
        # The compose form's nonce: the same for every try of one post.
        nonce = f"{self.run}-{student.user.pk}-{student.posts}"
        reply = student.device.request(
            "post",
            "POST",
            self.posts_url,
            form={"body": body, "nonce": nonce, "parent": ""},
            headers={"HX-Request": "true"},
        )
        self._record(write, reply)
        if write.acknowledged:
            student.unsent_post = None
            write.shown = marker.encode() in reply.body

    def _record(self, write: Write, reply: Reply) -> None:
        write.end = reply.sample.end
        write.status = reply.status
        write.acknowledged = reply.status == 200
        write.outage_page = (
            reply.status == 503 and "retry-after" in reply.headers and OUTAGE_TEXT in reply.body
        )
        with self.lock:
            self.writes.append(write)


# Checking ---------------------------------------------------------------------------


@dataclass
class Tally:
    sent: int = 0
    acknowledged: int = 0
    lost: int = 0  # Acknowledged, yet not in the database.
    stored_unacknowledged: int = 0  # In the database without an acknowledgement.
    duplicates: int = 0  # Posts stored more than once.


def stored_answers(slot_ids) -> dict[int, tuple[int, str | None]]:
    """Each attempt question's stored sequence number and text, to set against the
    autosaves that were acknowledged."""
    return {
        slot: (seq, (response or {}).get("text"))
        for slot, seq, response in Answer.objects.filter(slot_id__in=slot_ids).values_list(
            "slot_id", "seq", "response"
        )
    }


def check(drill: Drill, run: str, writes: list[Write]) -> dict[str, Tally]:
    """What the database holds against what was acknowledged. An autosave is kept when
    its answer holds its value or a value sent after it (a later save overwrites it); a
    post is kept when its marker is stored, once."""
    saves = [w for w in writes if w.kind == "autosave"]
    posts = [w for w in writes if w.kind == "post"]
    tallies = {"autosave": Tally(), "post": Tally()}

    sent_values = {(w.slot, w.seq): w.value for w in saves}
    stored = stored_answers({w.slot for w in saves})
    tally = tallies["autosave"]
    tally.sent = len(saves)
    tally.acknowledged = sum(w.acknowledged for w in saves)
    for w in saves:
        seq, text = stored.get(w.slot, (None, None))
        holds_ours = seq is not None and sent_values.get((w.slot, seq)) == text
        if w.acknowledged and not (holds_ours and seq >= w.seq):
            tally.lost += 1
    acknowledged_saves = {(w.slot, w.seq) for w in saves if w.acknowledged}
    tally.stored_unacknowledged = sum(
        1
        for slot, (seq, text) in stored.items()
        if (slot, seq) in sent_values and (slot, seq) not in acknowledged_saves
    )

    sent_markers = {w.value for w in posts}
    bodies = Post.objects.filter(discussion=drill.discussion, body__contains=f"[drill {run} ")
    found = (MARKER.search(body) for body in bodies.values_list("body", flat=True))
    counts = Counter(m.group(0) for m in found if m and m.group(0) in sent_markers)
    acknowledged_posts = {w.value for w in posts if w.acknowledged}
    tally = tallies["post"]
    tally.sent = len(posts)
    tally.acknowledged = len(acknowledged_posts)
    tally.lost = sum(1 for marker in acknowledged_posts if counts[marker] == 0)
    tally.stored_unacknowledged = sum(1 for m in counts if m not in acknowledged_posts)
    tally.duplicates = sum(1 for n in counts.values() if n > 1)
    return tallies
