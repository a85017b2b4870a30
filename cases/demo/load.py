"""A large course for load benchmarks, built by `manage.py seed_load`.

The LOAD course: two cohorts of students (500 by default), 8 modules of 5 items of every
kind, and a term's worth of students' work on them, dated around now: case readings
opened and finished, quiz attempts handed in or in progress, discussion threads with
replies and upvotes, stance answers, decisions, spectrum placements and live-class
attendance. It is written with `bulk_create` in one transaction, then every student's
`Work` row is computed by the app's own `work_sync`, so the tracker and the gradebook
show what the app itself would.

How many students do each thing is a fixed share of the class per module (`PHASES`),
so the counts depend only on the number of students (`load_plan`); the seed of the
random generator chooses who, what they answer and when.
"""

import random
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from django.contrib.auth.hashers import make_password
from django.db import transaction
from django.db.models import Model
from django.utils import timezone

from cases.demo.seed import CASE_FILES, QUIZ_FILES
from cases.gift import parse_gift
from cases.markdown import word_count
from cases.models import (
    MAX_DEPTH,
    Answer,
    Assignment,
    Attempt,
    AttemptQuestion,
    AttemptState,
    CaseParagraph,
    CaseReading,
    CaseStudy,
    Choice,
    Cohort,
    Course,
    Decision,
    DecisionCommit,
    Discussion,
    FeedbackRelease,
    ItemKind,
    LatePolicy,
    LiveAttendance,
    LiveClass,
    LiveSession,
    Membership,
    Module,
    ModuleItem,
    ParticipationGrade,
    ParticipationMark,
    Post,
    Question,
    QuestionCategory,
    QuestionKind,
    Quiz,
    QuizSlot,
    ReadingProgress,
    SpectrumExercise,
    SpectrumPlacement,
    StanceAnswer,
    StanceCheck,
    StancePhase,
    Upvote,
    User,
)
from cases.services.discussions import render_post
from cases.services.gradebook import grade_categories_add_defaults

# The quiz engine's own grading of one answer and totalling of an attempt, so that the
# seeded scores are exactly what submitting would have given.
from cases.services.quizzes import _apply_grade, _score, questions_import_gift
from cases.services.readings import case_create, case_fields_from_markdown, case_from_fields
from cases.services.workspace.work import work_sync_items

LOAD_CODE = "LOAD"
LOAD_TITLE = "Load test: the Red Queen at scale"
LOAD_DESCRIPTION = (
    "A large made-up course for load benchmarks, built by `manage.py seed_load`: "
    "two cohorts, eight modules and a term of students' work. Not a real class."
)
USERNAME_PREFIX = "load-"
# Public, like the demo's password: seed_load refuses to run in production.
LOAD_PASSWORD = "load-password"  # noqa: S105
COHORT_NAMES = ["LOAD — section A", "LOAD — section B"]
DEFAULT_STUDENTS = 500
DEFAULT_SEED = 1
BATCH = 1000

# The eight modules, one case each, and what each holds after its case reading, its
# reading check and its discussion: 40 items of every kind.
K = ItemKind
MODULES = [
    ("Week 1: what counts as innovation", "thesis-overview", [K.STANCE_CHECK, K.LIVE_SESSION]),
    ("Week 2: design for hire", "techfaith", [K.QUIZ, K.DECISION]),
    ("Week 3: a brand built on distribution", "lenovo", [K.DISCUSSION, K.LIVE_SESSION]),
    ("Week 4: the joint venture", "shanghai-bell", [K.QUIZ, K.SPECTRUM]),
    ("Week 5: chips and the state", "smic", [K.STANCE_CHECK, K.LIVE_SESSION]),
    ("Week 6: the copy that outgrew its model", "tencent-qq", [K.QUIZ, K.DISCUSSION]),
    ("Week 7: a cluster of small makers", "prd-ups-cluster", [K.DECISION, K.SPECTRUM]),
    ("Week 8: standards as policy", "wapi-td-scdma", [K.QUIZ, K.STANCE_CHECK]),
]
# The second discussions of weeks 3 and 6: their case, title and prompt.
EXTRA_THREADS = {
    3: (
        "regional-comparison",
        "Which region would you bet on?",
        "If you had to back one region's way of building a technology industry for the "
        "next ten years, which would it be? Argue from the case and cite its paragraphs, "
        "like ¶2.",
    ),
    6: (
        "thesis-overview",
        "Halfway: has the thesis held up so far?",
        "Six weeks and six firms in, which case fits the thesis best, and which fits it "
        "worst? Cite the overview's paragraphs (like ¶4) and the cases you have read.",
    ),
}
# Module 5's items fall due this week; module 8's have not opened yet.
CURRENT_MODULE = 5
# An assignment opens this long before it is due.
OPEN_FOR = timedelta(days=16)
# A review quiz: its Likert and spectrum questions, then one question drawn from each
# of the last two reading checks.
REVIEW_DRAWS = 1
REVIEW_FIXED = 2
POINTS = {
    ItemKind.CASE_READING: 5,
    ItemKind.QUIZ: 10,
    ItemKind.DISCUSSION: 10,
    ItemKind.STANCE_CHECK: 5,
    ItemKind.DECISION: 5,
    ItemKind.SPECTRUM: 5,
    ItemKind.LIVE_SESSION: 5,
}


@dataclass(frozen=True)
class Shares:
    """What share of the class has done what on one module's items by now."""

    started: float  # opened the reading; answered a stance check "before"
    finished: float  # reading done, quiz handed in, "after" answered, committed, placed, joined
    retried: float  # handed in a second quiz attempt as well
    working: float  # a quiz attempt open with answers saved; some companies placed
    posted: float  # wrote a first post in a thread
    replied: float  # replies in a thread, as a share of the class


PAST = Shares(started=0.97, finished=0.75, retried=0.06, working=0.03, posted=0.85, replied=0.68)
PHASES = {
    1: PAST,
    2: PAST,
    3: PAST,
    4: PAST,
    5: Shares(started=0.9, finished=0.55, retried=0.05, working=0.12, posted=0.6, replied=0.4),
    6: Shares(started=0.7, finished=0.25, retried=0.0, working=0.15, posted=0.35, replied=0.2),
    7: Shares(started=0.4, finished=0.06, retried=0.0, working=0.1, posted=0.12, replied=0.05),
    8: Shares(started=0, finished=0, retried=0, working=0, posted=0, replied=0),
}
# Grades are given and released for the first weeks.
GRADED_MODULES = {1, 2, 3, 4}
RELEASED_MODULES = {1, 2, 3}


def share(fraction: float, students: int) -> int:
    """How many of the class a share is: the one rounding both the plan and the build
    use."""
    return round(fraction * students)


def due_in_days(module: int, position: int) -> int:
    """Days from now to the first cohort's due date (the second's is a day later)."""
    return 7 * (module - CURRENT_MODULE) + position - 3


# The plan -------------------------------------------------------------------------------


@dataclass(frozen=True)
class ItemPlan:
    module: int
    position: int
    kind: str
    case: str  # the slug of the case it is about, if any
    review: bool = False  # a review quiz rather than a reading check


@dataclass
class LoadPlan:
    """What seed_load builds for a number of students, counted without building it."""

    students: int
    cohorts: int
    modules: int
    items: dict[str, int] = field(default_factory=dict)
    assignments: int = 0
    reading_progress: int = 0
    attempts: int = 0
    answers: int = 0
    posts: int = 0

    @property
    def item_count(self) -> int:
        return sum(self.items.values())


def plan_items() -> list[ItemPlan]:
    items = []
    for module, (_title, case, extras) in enumerate(MODULES, 1):
        items += [
            ItemPlan(module, 1, ItemKind.CASE_READING, case),
            ItemPlan(module, 2, ItemKind.QUIZ, case),
            ItemPlan(module, 3, ItemKind.DISCUSSION, case),
        ]
        for position, kind in enumerate(extras, 4):
            items.append(
                ItemPlan(
                    module,
                    position,
                    kind,
                    EXTRA_THREADS[module][0] if kind == ItemKind.DISCUSSION else case,
                    review=kind == ItemKind.QUIZ,
                )
            )
    return items


def reading_check_size(slug: str) -> int:
    """Questions in a reading check: every question of the case's GIFT file."""
    return len(parse_gift((QUIZ_FILES / f"{_case_stem(slug)}.gift").read_text(encoding="utf-8")))


def _quiz_size(item: ItemPlan) -> int:
    return REVIEW_FIXED + 2 * REVIEW_DRAWS if item.review else reading_check_size(item.case)


def load_plan(*, students: int = DEFAULT_STUDENTS) -> LoadPlan:
    items = plan_items()
    plan = LoadPlan(students=students, cohorts=len(COHORT_NAMES), modules=len(MODULES))
    for item in items:
        plan.items[item.kind] = plan.items.get(item.kind, 0) + 1
        shares = PHASES[item.module]
        if item.kind == ItemKind.CASE_READING:
            plan.reading_progress += share(shares.started, students)
        elif item.kind == ItemKind.QUIZ:
            attempts = sum(
                share(s, students) for s in (shares.finished, shares.retried, shares.working)
            )
            plan.attempts += attempts
            plan.answers += attempts * _quiz_size(item)
        elif item.kind == ItemKind.DISCUSSION:
            plan.posts += sum(_thread_size(shares, students))
    plan.assignments = len(items) * len(COHORT_NAMES)
    return plan


def _thread_size(shares: Shares, students: int) -> tuple[int, int]:
    """First posts and replies in one thread (no replies without a first post)."""
    posts = share(shares.posted, students)
    return posts, share(shares.replied, students) if posts else 0


# Building -------------------------------------------------------------------------------


@dataclass
class LoadResult:
    created: bool
    plan: LoadPlan
    seconds: float = 0.0


@contextmanager
def _dates_as_given(*fields_):
    """`auto_now_add` stamps a row with the moment it is inserted, even through
    bulk_create; the course's made-up past needs the dates it gives. The stamping is
    switched off for these fields while the seed inserts (one thread: the command) and
    switched back on after, whatever happens."""
    saved = [(f, f.auto_now_add) for f in fields_]
    for f, _ in saved:
        f.auto_now_add = False
    try:
        yield
    finally:
        for f, value in saved:
            f.auto_now_add = value


def _field(model: type[Model], name: str):
    return model._meta.get_field(name)


def load_delete() -> None:
    """Delete the LOAD course, the cohorts it made and every `load-` account, with all
    their work. Nothing else is touched: the library's cases stay."""
    course = Course.objects.filter(code=LOAD_CODE).first()
    if course is not None:
        cohort_ids = list(course.cohorts.filter(name__in=COHORT_NAMES).values_list("pk", flat=True))
        # Attempts first: their frozen questions protect the course's question bank.
        Attempt.objects.filter(quiz__item__module__course=course).delete()
        course.delete()
        Cohort.objects.filter(pk__in=cohort_ids).delete()
    User.objects.filter(username__startswith=USERNAME_PREFIX).delete()


class LoadExists(Exception):
    """Accounts of an earlier load course are in the way."""


@transaction.atomic
def load_seed(
    *, students: int = DEFAULT_STUDENTS, seed: int = DEFAULT_SEED, fresh: bool = False
) -> LoadResult:
    """Build the LOAD course unless it exists (then nothing changes); with `fresh`,
    delete it and its accounts first. One transaction: a failure leaves nothing half
    built, and a failed rebuild keeps the old course."""
    started = time.perf_counter()
    plan = load_plan(students=students)
    if fresh:
        load_delete()
    elif Course.objects.filter(code=LOAD_CODE).exists():
        return LoadResult(created=False, plan=plan)
    elif User.objects.filter(username__startswith=USERNAME_PREFIX).exists():
        raise LoadExists("Accounts named load-… exist without the LOAD course: use --fresh.")
    rng = random.Random(seed)  # noqa: S311 - made-up data, reproducible by design.
    _Builder(students=students, rng=rng).build()
    return LoadResult(created=True, plan=plan, seconds=time.perf_counter() - started)


def _case_stem(slug: str) -> str:
    return next(p.stem for p in CASE_FILES.glob("*.md") if p.stem.endswith(slug))


def _library_cases() -> dict[str, CaseStudy]:
    """The demo's cases, loaded from cases/demo/cases the way seed_demo does when the
    library lacks them; existing ones are used as they are."""
    cases = {case.slug: case for case in CaseStudy.objects.all()}
    for path in sorted(CASE_FILES.glob("*.md")):
        fields_ = case_fields_from_markdown(path.read_text(encoding="utf-8"))
        if fields_["slug"] not in cases:
            cases[fields_["slug"]] = case_create(case=case_from_fields(fields_))
    return cases


class _Builder:
    """One build of the course. Holds what the steps share: the generator, the time
    the course's "now" is, the people, and the items by kind."""

    def __init__(self, *, students: int, rng: random.Random):
        self.rng = rng
        self.size = students
        self.now = timezone.now().replace(microsecond=0)

    def build(self) -> None:
        self._people()
        self._course()
        self._items()
        with _dates_as_given(
            _field(Post, "created_at"),
            _field(StanceAnswer, "created_at"),
            _field(DecisionCommit, "created_at"),
            _field(SpectrumPlacement, "created_at"),
            _field(LiveSession, "started_at"),
            _field(LiveAttendance, "joined_at"),
            _field(ParticipationMark, "created_at"),
        ):
            self._readings()
            self._quizzes()
            self._discussions()
            self._stance_checks()
            self._decisions()
            self._spectrums()
            self._live_classes()
        # Every student's Work row, by the app's own rules.
        work_sync_items([item.pk for item, _plan in self.items], [s.pk for s in self.students])

    # People and the course ----------------------------------------------------------

    def _people(self) -> None:
        password = make_password(LOAD_PASSWORD)  # Once: hashing is the slow part.
        rng = self.rng

        def person(username: str, first: str, last: str) -> User:
            return User(
                username=username,
                first_name=first,
                last_name=last,
                email=f"{username}@example.edu",
                password=password,
            )

        self.instructor = person(f"{USERNAME_PREFIX}instructor", "Lena", "Okonkwo-Berg")
        self.ta = person(f"{USERNAME_PREFIX}ta", "Tomasz", "Quispe")
        students = [
            person(f"{USERNAME_PREFIX}s{n:04d}", rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES))
            for n in range(1, self.size + 1)
        ]
        created = User.objects.bulk_create([self.instructor, self.ta, *students], batch_size=BATCH)
        self.instructor, self.ta, *self.students = created
        # Each student's ability: the chance they answer a question right.
        self.skill = {s.pk: rng.uniform(0.45, 0.95) for s in self.students}

    def _course(self) -> None:
        course = Course.objects.create(
            code=LOAD_CODE, title=LOAD_TITLE, description=LOAD_DESCRIPTION
        )
        course.instructors.add(self.instructor)
        course.teaching_assistants.add(self.ta)
        self.cohorts = Cohort.objects.bulk_create(Cohort(name=name) for name in COHORT_NAMES)
        course.cohorts.add(*self.cohorts)
        half = self.size - self.size // 2
        self.cohort_of = {
            s.pk: self.cohorts[0] if n < half else self.cohorts[1]
            for n, s in enumerate(self.students)
        }
        Membership.objects.bulk_create(
            (Membership(cohort=self.cohort_of[s.pk], user=s) for s in self.students),
            batch_size=BATCH,
        )
        self.course = course

    # Items and their content --------------------------------------------------------

    def _items(self) -> None:
        cases = _library_cases()
        self.cases = cases
        self.paragraphs: dict[int, list[int]] = {}
        for case_id, number in CaseParagraph.objects.filter(
            case__in=list(cases.values())
        ).values_list("case", "number"):
            self.paragraphs.setdefault(case_id, []).append(number)
        modules = Module.objects.bulk_create(
            Module(
                course=self.course, title=title, summary=_module_summary(cases[slug]), position=n
            )
            for n, (title, slug, _extras) in enumerate(MODULES, 1)
        )
        plans = plan_items()
        items = ModuleItem.objects.bulk_create(
            ModuleItem(
                module=modules[p.module - 1],
                kind=p.kind,
                title=self._title(p),
                position=p.position,
                instructions=INSTRUCTIONS.get(p.kind, ""),
            )
            for p in plans
        )
        self.items = list(zip(items, plans, strict=True))
        self._assignments()
        self._content()
        grade_categories_add_defaults(course=self.course)

    def _title(self, p: ItemPlan) -> str:
        case = self.cases[p.case]
        if p.kind == ItemKind.CASE_READING:
            return case.title
        if p.kind == ItemKind.QUIZ:
            if p.review:
                return f"Review quiz: weeks {p.module - 1} and {p.module}"
            return f"Reading check: {case.company}"
        if p.kind == ItemKind.DISCUSSION:
            if p.position > 3:
                return EXTRA_THREADS[p.module][1]
            return f"{case.company}: nearer R or nearer D?"
        if p.kind == ItemKind.STANCE_CHECK:
            return STANCE_STATEMENTS[p.module]
        if p.kind == ItemKind.DECISION:
            return DECISIONS[p.module]["question"]
        if p.kind == ItemKind.SPECTRUM:
            return f"Place the companies of weeks {p.module - 2} to {p.module}"
        return f"In class: {case.company}"

    def _assignments(self) -> None:
        self.due: dict[tuple[int, int], datetime] = {}
        rows = []
        for item, p in self.items:
            first_due = self.now.replace(hour=17, minute=0, second=0) + timedelta(
                days=due_in_days(p.module, p.position)
            )
            for offset, cohort in enumerate(self.cohorts):
                due = first_due + timedelta(days=offset)
                self.due[(item.pk, cohort.pk)] = due
                quiz = p.kind == ItemKind.QUIZ
                rows.append(
                    Assignment(
                        item=item,
                        cohort=cohort,
                        opens_at=due - OPEN_FOR,
                        due_at=due,
                        points=POINTS[p.kind],
                        late_policy=LatePolicy.PENALIZE if quiz else LatePolicy.ACCEPT,
                        late_penalty_percent=10 if quiz else 0,
                        grades_released_at=(
                            due + timedelta(days=3) if p.module in RELEASED_MODULES else None
                        ),
                    )
                )
        Assignment.objects.bulk_create(rows)

    def _content(self) -> None:
        by_kind: dict[str, list[tuple[ModuleItem, ItemPlan]]] = {}
        for item, p in self.items:
            by_kind.setdefault(p.kind, []).append((item, p))
        self.by_kind = by_kind
        CaseReading.objects.bulk_create(
            CaseReading(item=item, case=self.cases[p.case])
            for item, p in by_kind[ItemKind.CASE_READING]
        )
        discussions = Discussion.objects.bulk_create(
            Discussion(
                item=item,
                case=self.cases[p.case],
                prompt=_prompt(self.cases[p.case], p),
                # The week-3 debate hides names from classmates; week 6's asks for a
                # post before showing the others.
                anonymous=p.module == 3 and p.position > 3,
                post_first=p.module == 6 and p.position > 3,
            )
            for item, p in by_kind[ItemKind.DISCUSSION]
        )
        self.discussions = dict(
            zip([i.pk for i, _ in by_kind[ItemKind.DISCUSSION]], discussions, strict=True)
        )
        self.stances = StanceCheck.objects.bulk_create(
            StanceCheck(
                item=item,
                statement=item.title,
                after_opens_at=self._due(item) - timedelta(days=5),
            )
            for item, _p in by_kind[ItemKind.STANCE_CHECK]
        )
        self.decisions = Decision.objects.bulk_create(
            Decision(
                item=item,
                question=item.title,
                options=DECISIONS[p.module]["options"],
                prediction=DECISIONS[p.module]["prediction"],
                follow_up=DECISIONS[p.module]["follow_up"],
                # The week-2 prediction has been settled; week 7's has not.
                came_true=True if p.module in GRADED_MODULES else None,
                scored_at=self.now - timedelta(days=2) if p.module in GRADED_MODULES else None,
            )
            for item, p in by_kind[ItemKind.DECISION]
        )
        self.spectrums = SpectrumExercise.objects.bulk_create(
            SpectrumExercise(item=item, prompt=SPECTRUM_PROMPT)
            for item, _p in by_kind[ItemKind.SPECTRUM]
        )
        through = SpectrumExercise.cases.through
        through.objects.bulk_create(
            through(spectrumexercise=exercise, casestudy=self.cases[MODULES[m - 1][1]])
            for exercise, (_item, p) in zip(self.spectrums, by_kind[ItemKind.SPECTRUM], strict=True)
            for m in range(p.module - 2, p.module + 1)
        )
        LiveClass.objects.bulk_create(
            LiveClass(item=item) for item, _p in by_kind[ItemKind.LIVE_SESSION]
        )
        self._quiz_content()

    def _due(self, item: ModuleItem, student: User | None = None) -> datetime:
        cohort = self.cohort_of[student.pk] if student else self.cohorts[0]
        return self.due[(item.pk, cohort.pk)]

    def _quiz_content(self) -> None:
        """The reading checks from the demo's GIFT files (the importer instructors
        use), and for each review quiz a Likert and a spectrum question of its own."""
        course = self.course
        for _title, slug, _extras in MODULES:
            path = QUIZ_FILES / f"{_case_stem(slug)}.gift"
            text = path.read_text(encoding="utf-8")
            questions_import_gift(course=course, text=text, sound_only=False)
        review = QuestionCategory.objects.create(course=course, name="Review")
        reviews = [(item, p) for item, p in self.by_kind[ItemKind.QUIZ] if p.review]
        own = []
        for _item, p in reviews:
            case = self.cases[p.case]
            own.append(
                Question(
                    course=course,
                    category=review,
                    kind=QuestionKind.LIKERT,
                    title=f"Week {p.module}: where you stand",
                    text=LIKERT_STATEMENTS[p.module],
                )
            )
            own.append(
                Question(
                    course=course,
                    category=review,
                    kind=QuestionKind.SPECTRUM,
                    title=f"Week {p.module}: place {case.company}",
                    text=f"Place {case.company} between novel-product research (R, 0) and "
                    "second-generation and process innovation (D, 100).",
                    spectrum_target=case.spectrum_placement,
                    spectrum_graded=case.spectrum_placement is not None,
                )
            )
        Question.objects.bulk_create(own)
        questions = {
            q.pk: q for q in Question.objects.filter(course=course).select_related("category")
        }
        choices: dict[int, list[Choice]] = {}
        for choice in Choice.objects.filter(question__course=course).order_by("position", "pk"):
            choices.setdefault(choice.question_id, []).append(choice)
        for question in questions.values():
            question.all_choices = choices.get(question.pk, [])
        by_category: dict[str, list[Question]] = {}
        for question in sorted(questions.values(), key=lambda q: q.pk):
            by_category.setdefault(question.category.name, []).append(question)
        categories = {c.name: c for c in QuestionCategory.objects.filter(course=course)}

        self.quizzes: list[tuple[Quiz, ModuleItem, ItemPlan]] = []
        slots = []
        for item, p in self.by_kind[ItemKind.QUIZ]:
            if p.review:
                quiz = Quiz(
                    item=item,
                    attempts_allowed=1,
                    shuffle_questions=True,
                    feedback_release=FeedbackRelease.AFTER_DUE,
                )
            else:
                quiz = Quiz(item=item, attempts_allowed=2, shuffle_choices=True)
            self.quizzes.append((quiz, item, p))
        Quiz.objects.bulk_create([quiz for quiz, _item, _p in self.quizzes])
        self.quiz_draws: dict[int, list] = {}
        for quiz, _item, p in self.quizzes:
            if p.review:
                fixed = [
                    q for q in by_category["Review"] if q.title.startswith(f"Week {p.module}:")
                ]
                drawn = [
                    categories[f"Reading checks/{MODULES[m - 1][1]}"]
                    for m in (p.module - 1, p.module)
                ]
                slots += [
                    QuizSlot(quiz=quiz, question=q, position=n) for n, q in enumerate(fixed, 1)
                ]
                slots += [
                    QuizSlot(quiz=quiz, category=c, draw_count=REVIEW_DRAWS, position=n)
                    for n, c in enumerate(drawn, len(fixed) + 1)
                ]
                self.quiz_draws[quiz.pk] = [fixed, [by_category[c.name] for c in drawn]]
            else:
                fixed = by_category[f"Reading checks/{p.case}"]
                slots += [
                    QuizSlot(quiz=quiz, question=q, position=n) for n, q in enumerate(fixed, 1)
                ]
                self.quiz_draws[quiz.pk] = [fixed, []]
        QuizSlot.objects.bulk_create(slots)

    # Students' work -----------------------------------------------------------------

    def _pick(self, *fractions: float) -> list[User]:
        """Students at random, as many as the shares add up to (each rounded as the
        plan rounds it); the first share's come first."""
        count = sum(share(fraction, self.size) for fraction in fractions)
        return self.rng.sample(self.students, min(count, self.size))

    def _moment(self, start: datetime, end: datetime) -> datetime:
        """A second between start and end (start if the window is empty)."""
        span = max(0, int((end - start).total_seconds()))
        return start + timedelta(seconds=self.rng.randint(0, span))

    def _window(self, item: ModuleItem, student: User) -> tuple[datetime, datetime]:
        """When a student does an item's work: after it opens, by a day past its due
        date (a few are late), and before now."""
        due = self._due(item, student)
        return due - OPEN_FOR, min(self.now - timedelta(hours=1), due + timedelta(days=1))

    def _readings(self) -> None:
        rows = []
        for item, p in self.by_kind[ItemKind.CASE_READING]:
            case = self.cases[p.case]
            numbers = sorted(self.paragraphs.get(case.pk, [1]))
            shares = PHASES[p.module]
            readers = self._pick(shares.started)
            done = set(s.pk for s in readers[: share(shares.finished, self.size)])
            for student in readers:
                first = self._moment(*self._window(item, student))
                last = self._moment(first, min(self.now, first + timedelta(days=3)))
                rows.append(
                    ReadingProgress(
                        user=student,
                        case=case,
                        first_opened_at=first,
                        last_opened_at=last,
                        last_beat=int(last.timestamp()),
                        active_seconds=self.rng.randint(120, 3600),
                        last_paragraph=self.rng.choice(numbers),
                        done_at=last if student.pk in done else None,
                    )
                )
        ReadingProgress.objects.bulk_create(rows, batch_size=BATCH)

    def _quizzes(self) -> None:
        attempts: list[Attempt] = []
        slots: list[AttemptQuestion] = []
        answers: list[Answer] = []
        for quiz, item, p in self.quizzes:
            shares = PHASES[p.module]
            takers = self._pick(shares.finished, shares.working)
            finished = takers[: share(shares.finished, self.size)]
            working = takers[len(finished) :]
            again = set(s.pk for s in finished[: share(shares.retried, self.size)])
            for student in finished:
                start, end = self._window(item, student)
                first_done = self._moment(start, end)
                plan = [(1, first_done)]
                if student.pk in again:
                    plan.append((2, self._moment(first_done, self.now - timedelta(minutes=30))))
                for number, done_at in plan:
                    self._attempt(quiz, item, p, student, number, done_at, attempts, slots, answers)
            for student in working:
                start, _end = self._window(item, student)
                began = self._moment(max(start, self.now - timedelta(days=2)), self.now)
                self._attempt(quiz, item, p, student, 1, None, attempts, slots, answers, began)
        Attempt.objects.bulk_create(attempts, batch_size=BATCH)
        AttemptQuestion.objects.bulk_create(slots, batch_size=BATCH)
        Answer.objects.bulk_create(answers, batch_size=BATCH)

    def _attempt(
        self, quiz, item, p, student, number, done_at, attempts, slots, answers, began=None
    ):
        """One attempt with its frozen questions and answers, graded and totalled by
        the quiz engine when handed in (`done_at`), autosaved part-way when not."""
        rng = self.rng
        fixed, pools = self.quiz_draws[quiz.pk]
        chosen = list(fixed)
        for pool in pools:
            chosen += rng.sample([q for q in pool if q not in chosen], REVIEW_DRAWS)
        if quiz.shuffle_questions:
            rng.shuffle(chosen)
        started = began or done_at - timedelta(minutes=rng.randint(6, 40))
        attempt = Attempt(
            quiz=quiz, user=student, number=number, started_at=started, max_score=Decimal(0)
        )
        own = []
        answered = len(chosen) if done_at else rng.randint(1, max(1, len(chosen) - 1))
        for position, question in enumerate(chosen, 1):
            order = [c.pk for c in question.all_choices]
            if quiz.shuffle_choices and question.kind != QuestionKind.TRUE_FALSE:
                rng.shuffle(order)
            slot = AttemptQuestion(
                attempt=attempt, question=question, position=position, choice_order=order
            )
            answer = Answer(slot=slot, saved_at=started)
            if position <= answered and (not done_at or rng.random() > 0.04):
                saved = self._moment(started, done_at or self.now)
                answer.response = self._response(question, self.skill[student.pk])
                answer.saved_at = saved
                answer.seq = int(saved.timestamp() * 1000)
            slot.answer = answer
            own.append(slot)
        if done_at is not None:
            graded = p.module in GRADED_MODULES
            for slot in own:
                if graded:
                    self._grade_by_person(slot.answer, slot.question, done_at)
                _apply_grade(slot.answer, slot.question, slot.question.all_choices)
            attempt.state = AttemptState.SUBMITTED
            attempt.submitted_at = done_at
            attempt.late = done_at > self._due(item, student)
            _score(attempt, own)
        attempts.append(attempt)
        slots += own
        answers += [slot.answer for slot in own]

    def _response(self, question: Question, skill: float) -> dict:
        rng = self.rng
        right = rng.random() < skill
        kind = question.kind
        choices = question.all_choices
        if kind == QuestionKind.SINGLE:
            best = max(choices, key=lambda c: c.fraction)
            wrong = [c for c in choices if c is not best]
            return {"choices": [best.pk if right or not wrong else rng.choice(wrong).pk]}
        if kind == QuestionKind.MULTIPLE:
            if right:
                return {"choices": [c.pk for c in choices if c.fraction > 0]}
            return {"choices": [c.pk for c in rng.sample(choices, rng.randint(1, len(choices)))]}
        if kind == QuestionKind.TRUE_FALSE:
            return {
                "value": question.true_false_answer if right else not question.true_false_answer
            }
        if kind == QuestionKind.NUMERIC:
            miss = (question.numeric_tolerance + rng.randint(1, 10)) * rng.choice([-1, 1])
            return {"value": float(question.numeric_answer + (0 if right else miss))}
        if kind == QuestionKind.SHORT_TEXT:
            return {"text": rng.choice(SHORT_ANSWERS)}
        if kind == QuestionKind.LIKERT:
            return {"scale": rng.randint(1, 5)}
        target = question.spectrum_target if question.spectrum_target is not None else 50
        spread = 8 if right else 30
        return {"position": max(0, min(100, target + rng.randint(-spread, spread)))}

    def _grade_by_person(self, answer: Answer, question: Question, done_at: datetime) -> None:
        """The TA has graded the short answers of the first weeks' quizzes, as
        `answer_grade` would."""
        if question.kind != QuestionKind.SHORT_TEXT or not answer.response.get("text"):
            return
        points = question.points * Decimal(self.rng.choice([0, 1, 2, 2, 3, 4, 4])) / 4
        answer.points = points.quantize(Decimal("0.01"))
        answer.fraction = points / question.points if question.points else Decimal(0)
        answer.comment = self.rng.choice(GRADER_COMMENTS)
        answer.graded_by = self.ta
        answer.graded_at = min(self.now, done_at + timedelta(days=2))

    def _discussions(self) -> None:
        rng = self.rng
        rendered: dict[tuple[str, int], tuple[str, list[int]]] = {}
        generations: list[list[Post]] = [[]]
        counts: dict[int, int] = {}
        for item, p in self.by_kind[ItemKind.DISCUSSION]:
            discussion = self.discussions[item.pk]
            case = self.cases[p.case]
            reply_count = _thread_size(PHASES[p.module], self.size)[1]
            thread: list[tuple[Post, int]] = []  # (post, generation)

            def post(author, when, *, parent=None, generation=0, case=case, discussion=discussion):
                numbers = self.paragraphs.get(case.pk, [])
                body = _post_body(rng, case, numbers, reply=parent is not None)
                key = (body, case.pk)
                if key not in rendered:
                    rendered[key] = render_post(body, case, set(numbers))
                html, cited = rendered[key]
                return Post(
                    discussion=discussion,
                    author=author,
                    parent=parent,
                    depth=min(generation, MAX_DEPTH),
                    body=body,
                    body_html=html,
                    cited_paragraphs=cited,
                    citation_count=len(cited),
                    word_count=word_count(body),
                    created_at=when,
                )

            for author in self._pick(PHASES[p.module].posted):
                made = post(author, self._moment(*self._window(item, author)))
                thread.append((made, 0))
            for _ in range(reply_count):
                # Replies go to first posts more often than to other replies, and no
                # deeper than the fourth generation.
                tops = [t for t in thread if t[1] == 0]
                parent, generation = rng.choice(
                    tops if rng.random() < 0.6 else [t for t in thread if t[1] < 4]
                )
                author = rng.choice(self.students)
                when = min(self.now, parent.created_at + timedelta(minutes=rng.randint(5, 4320)))
                thread.append(
                    (post(author, when, parent=parent, generation=generation + 1), generation + 1)
                )
            for made, generation in thread:
                while len(generations) <= generation:
                    generations.append([])
                generations[generation].append(made)
            counts[discussion.pk] = len(thread)
            self._participation(item, p, discussion, [t[0] for t in thread])
        everything = [made for posts in generations for made in posts]
        voters = self._voters(everything)
        # A reply needs its parent's id: one insert per generation.
        for posts in generations:
            Post.objects.bulk_create(posts, batch_size=BATCH)
        Upvote.objects.bulk_create(
            (Upvote(post=made, user_id=user_id) for made, user_id in voters), batch_size=BATCH
        )
        for discussion_id, count in counts.items():
            Discussion.objects.filter(pk=discussion_id).update(version=count)

    def _participation(self, item, p, discussion, posts) -> None:
        """The first weeks' threads are graded: every student who wrote in them gets
        participation points from the TA."""
        if p.module not in GRADED_MODULES:
            return
        writers = sorted({made.author.pk for made in posts})
        ParticipationGrade.objects.bulk_create(
            ParticipationGrade(
                discussion=discussion,
                user_id=user_id,
                points=Decimal(self.rng.randint(5, POINTS[ItemKind.DISCUSSION])),
                comment=self.rng.choice(GRADER_COMMENTS),
                graded_by=self.ta,
            )
            for user_id in writers
        )

    def _voters(self, posts: list[Post]) -> list[tuple[Post, int]]:
        """A few classmates upvote each post (never its author); the count is set on
        the post before it is inserted."""
        votes = []
        for made in posts:
            count = min(self.size, self.rng.choice([0, 0, 1, 1, 2, 3]))
            voters = sorted({v.pk for v in self.rng.sample(self.students, count)})
            voters = [v for v in voters if v != made.author.pk]
            made.upvote_count = len(voters)
            votes += [(made, v) for v in voters]
        return votes

    def _stance_checks(self) -> None:
        rng = self.rng
        rows = []
        for stance, (item, p) in zip(
            self.stances, self.by_kind[ItemKind.STANCE_CHECK], strict=True
        ):
            shares = PHASES[p.module]
            before = self._pick(shares.started)
            after_open = stance.after_opens_at <= self.now
            after = (
                set(s.pk for s in before[: share(shares.finished, self.size)])
                if after_open
                else set()
            )
            for student in before:
                value = rng.randint(1, 7)
                start, end = self._window(item, student)
                when = self._moment(start, min(self.now, stance.after_opens_at))
                rows.append(
                    StanceAnswer(
                        stance=stance,
                        user=student,
                        phase=StancePhase.BEFORE,
                        value=value,
                        reason=rng.choice(STANCE_REASONS),
                        created_at=when,
                    )
                )
                if student.pk in after:
                    moved = max(1, min(7, value + rng.choice([-2, -1, 0, 0, 1, 1, 2])))
                    when = self._moment(stance.after_opens_at, end)
                    rows.append(
                        StanceAnswer(
                            stance=stance,
                            user=student,
                            phase=StancePhase.AFTER,
                            value=moved,
                            reason=rng.choice(STANCE_REASONS),
                            created_at=when,
                        )
                    )
        StanceAnswer.objects.bulk_create(rows, batch_size=BATCH)

    def _decisions(self) -> None:
        rng = self.rng
        rows = []
        for decision, (item, p) in zip(
            self.decisions, self.by_kind[ItemKind.DECISION], strict=True
        ):
            for student in self._pick(PHASES[p.module].finished):
                rows.append(
                    DecisionCommit(
                        decision=decision,
                        user=student,
                        choice=rng.randrange(len(decision.options)),
                        rationale=rng.choice(DECISION_REASONS),
                        expects=rng.random() < 0.6,
                        confidence=rng.choice(range(50, 101, 5)),
                        created_at=self._moment(*self._window(item, student)),
                    )
                )
        DecisionCommit.objects.bulk_create(rows, batch_size=BATCH)

    def _spectrums(self) -> None:
        rng = self.rng
        rows = []
        rendered: dict[tuple[str, int], str] = {}
        for exercise, (item, p) in zip(
            self.spectrums, self.by_kind[ItemKind.SPECTRUM], strict=True
        ):
            shares = PHASES[p.module]
            cases = [self.cases[MODULES[m - 1][1]] for m in range(p.module - 2, p.module + 1)]
            placers = self._pick(shares.finished, shares.working)
            complete = set(s.pk for s in placers[: share(shares.finished, self.size)])
            for student in placers:
                placed = (
                    cases if student.pk in complete else cases[: rng.randint(1, len(cases) - 1)]
                )
                when = self._moment(*self._window(item, student))
                for case in placed:
                    numbers = self.paragraphs.get(case.pk, [1])
                    text = rng.choice(SPECTRUM_REASONS).format(p=rng.choice(numbers))
                    if (text, case.pk) not in rendered:
                        rendered[(text, case.pk)] = render_post(text, case, set(numbers))[0]
                    target = case.spectrum_placement if case.spectrum_placement is not None else 50
                    rows.append(
                        SpectrumPlacement(
                            exercise=exercise,
                            user=student,
                            case=case,
                            position=max(0, min(100, target + rng.randint(-30, 30))),
                            justification=text,
                            justification_html=rendered[(text, case.pk)],
                            created_at=when,
                        )
                    )
        SpectrumPlacement.objects.bulk_create(rows, batch_size=BATCH)

    def _live_classes(self) -> None:
        """Each live-session item met once per cohort, a day before it was due:
        attendance and a few contribution marks."""
        rng = self.rng
        sessions = {}
        for item, p in self.by_kind[ItemKind.LIVE_SESSION]:
            for cohort in self.cohorts:
                held = self.due[(item.pk, cohort.pk)] - timedelta(days=1, hours=2)
                if held > self.now - timedelta(hours=2) or not share(
                    PHASES[p.module].finished, self.size
                ):
                    continue
                sessions[(item.pk, cohort.pk)] = LiveSession(
                    course=self.course,
                    item=item,
                    cohort=cohort,
                    title=f"{item.title}, {cohort.name}",
                    started_by=self.instructor,
                    started_at=held,
                    ended_at=held + timedelta(minutes=80),
                    version=2,
                )
        LiveSession.objects.bulk_create(list(sessions.values()))
        attendance, marks = [], []
        for item, p in self.by_kind[ItemKind.LIVE_SESSION]:
            for student in self._pick(PHASES[p.module].finished):
                session = sessions.get((item.pk, self.cohort_of[student.pk].pk))
                if session is None:
                    continue
                joined = session.started_at + timedelta(minutes=rng.randint(0, 10))
                attendance.append(LiveAttendance(session=session, user=student, joined_at=joined))
                if rng.random() < 0.15:
                    marks.append(
                        ParticipationMark(
                            session=session,
                            student=student,
                            points=rng.choice([1, 2]),
                            note=rng.choice(MARK_NOTES),
                            marked_by=self.instructor,
                            created_at=joined + timedelta(minutes=rng.randint(10, 70)),
                        )
                    )
        LiveAttendance.objects.bulk_create(attendance, batch_size=BATCH)
        ParticipationMark.objects.bulk_create(marks, batch_size=BATCH)


# Words -------------------------------------------------------------------------------------
# All written for this seed: made-up students arguing in general terms, citing whichever
# paragraphs of the case they are about.

FIRST_NAMES = [
    "Ada", "Bilal", "Carmen", "Dmitri", "Efua", "Farid", "Greta", "Hiro", "Ines", "Jun",
    "Kofi", "Lucia", "Malik", "Nadia", "Oskar", "Paulo", "Qing", "Rosa", "Sanjay", "Tala",
    "Umar", "Vera", "Wen", "Ximena", "Yusuf", "Zara", "Anders", "Beatriz", "Chidi", "Dana",
]  # fmt: skip
LAST_NAMES = [
    "Abe", "Banerjee", "Costa", "Dlamini", "Eriksen", "Fischer", "Gomez", "Horvat", "Ibrahim",
    "Jensen", "Kowalski", "Li", "Moreau", "Nguyen", "Osei", "Petrov", "Quinn", "Reyes",
    "Sato", "Tran", "Usman", "Varga", "Wong", "Yilmaz", "Zhou", "Andersson", "Brennan",
]  # fmt: skip

INSTRUCTIONS = {
    ItemKind.CASE_READING: "Read the case before the week's class and mark it done.",
    ItemKind.QUIZ: "Answers save as you go. Two attempts on reading checks; the best counts.",
    ItemKind.DISCUSSION: "Post your argument, then reply to at least one classmate.",
}


def _module_summary(case: CaseStudy) -> str:
    return f"This week's case: {case.company}. Read it, check your reading, then argue."


def _prompt(case: CaseStudy, p: ItemPlan) -> str:
    if p.position > 3:
        return EXTRA_THREADS[p.module][2]
    return (
        f"Where does {case.company} sit between novel-product research (R) and "
        "second-generation and process innovation (D)? Take a position, cite the "
        "paragraphs you rely on (like ¶3), and say what evidence would change your mind."
    )


STANCE_STATEMENTS = {
    1: "Getting better at making things is worth as much to a country as inventing them.",
    5: "A national champion in chips is worth what it costs in subsidies.",
    8: "Setting its own technical standards helps a country's firms more than it costs them.",
}
LIKERT_STATEMENTS = {
    2: "A firm that designs for other brands is doing real innovation.",
    4: "A large research staff is good evidence that a firm does research.",
    6: "Copying a product well is a sound way to start a technology company.",
    8: "Governments should choose which technologies their industries back.",
}
DECISIONS = {
    2: {
        "question": "Should a design house like this one start making its own handsets?",
        "options": ["Yes: build or buy a factory", "No: stay a design specialist"],
        "prediction": "Within five years the firm will still make no handsets itself.",
        "follow_up": "Compare your answer with the case's account of who designs, who "
        "builds and who sells. Bring the paragraph that most supports your decision.",
    },
    7: {
        "question": "Should a small maker in the cluster specialise further or diversify?",
        "options": ["Specialise in one component", "Diversify into finished products"],
        "prediction": "Most firms in the cluster will stay component makers.",
        "follow_up": "The case describes firms that upgrade step by step. Which step would "
        "you take next, and what would it cost?",
    },
}
SPECTRUM_PROMPT = (
    "Place each company between novel-product research (R, 0) and second-generation and "
    "process innovation (D, 100), with a sentence citing the case."
)

OPENERS = [
    "My reading puts {company} nearer the D end.",
    "I think {company} does more original work than it first appears.",
    "Start with what {company} actually sells.",
    "The evidence on {company} is thinner than the summary suggests.",
    "Here is where I land on {company}, and why.",
    "{company} looks to me like a fast follower, and a good one.",
    "I changed my mind about {company} while writing this.",
]
CLAIMS = [
    "Most of its engineering goes into adapting designs that already exist (¶{p}).",
    "Its edge is speed: it gets a known product to market sooner than rivals (¶{p}).",
    "A research headcount tells us about inputs, not about what comes out (¶{p}).",
    "The money comes from making things cheaper and better, not from new categories (¶{p}).",
    "Its customers set the agenda, which keeps the work close to the market (¶{p}).",
    "Policy shaped its choices more than its founders' ambitions did (¶{p}).",
    "It has the skills to move toward R if the incentives changed (¶{p}).",
    "Where the factories are matters as much as where the engineers are (¶{p}).",
    "The firm is *not* trying to invent a category; it is trying to win one.",
]
EVIDENCE = [
    "Compare ¶{p} with ¶{q}: one describes an ambition, the other a practice.",
    "¶{p} is the strongest point against my view, and I don't find it decisive.",
    "Nothing in ¶{p} shows a product nobody had made before.",
    "Read ¶{p} closely: the verbs are about improving, not inventing.",
    "The case is silent on patents, which matters for how far we can go.",
]
CLOSERS = [
    "So I would place it somewhere around {pos} on the spectrum.",
    "What would change my mind is evidence of technology others pay to license.",
    "I'd like to hear from anyone who reads it the other way.",
    "If the thesis is right, that is a strength rather than a failing.",
    "**Short version:** capable, fast, and closer to D than its marketing suggests.",
]
REPLIES = [
    "I agree with most of this, but ¶{p} cuts the other way.",
    "Good point about speed. Does the case say who keeps the margin?",
    "I read it differently. {claim}",
    "Building on this: {claim}",
    "Fair reading, though I'd put it a little nearer R.",
    "Which paragraph supports that? I couldn't find it.",
    "This is the clearest version of the D argument so far.",
    "Agreed, and ¶{p} adds a second reason.",
]
SHORT_ANSWERS = [
    "It adapts existing designs faster than its rivals, which is development, not research.",
    "Specialising keeps it focused, but it depends on others for the rest of the chain.",
    "The case doesn't say enough to decide; I would want to see what it patents.",
    "Its strength is know-how in production, which is hard to copy quickly.",
    "Its partners set the direction, so the research serves their plans.",
    "",
]
GRADER_COMMENTS = [
    "Clear argument; cite the case more precisely next time.",
    "Good use of evidence.",
    "You describe the firm well but don't take a position.",
    "Strong: you weigh both readings before deciding.",
    "Too short to show your reasoning.",
]
STANCE_REASONS = [
    "Process skill is where the money is made.",
    "Without ideas of its own a country pays royalties forever.",
    "It depends on the industry.",
    "Fast followers win the volume markets.",
    "Costs rise; copying stops paying once wages do.",
    "The state is bad at picking winners.",
    "Security needs its own technology.",
]
DECISION_REASONS = [
    "Factories tie up capital the firm does not have.",
    "Owning production would protect its margins.",
    "Its clients would see it as a rival.",
    "Specialists in this case do better than generalists.",
    "The next step up the chain is the obvious one.",
]
SPECTRUM_REASONS = [
    "Adapts known designs quickly (¶{p}).",
    "More research than most, but little that is new to the world (¶{p}).",
    "Production know-how is its edge (¶{p}).",
    "Its clients decide what gets made (¶{p}).",
    "Closer to R than it looks: see ¶{p}.",
]
MARK_NOTES = [
    "Tied the case to the thesis.",
    "Good counter-example.",
    "Asked the question that moved the discussion.",
    "Brought numbers from the case.",
]


def _post_body(rng: random.Random, case: CaseStudy, numbers: list[int], *, reply: bool) -> str:
    """A short argument about the case in the voice of a made-up student, citing its
    paragraphs by number."""

    def cite(template: str) -> str:
        p, q = rng.sample(numbers, 2) if len(numbers) > 1 else (1, 2)
        return template.format(
            company=case.company, p=p, q=q, pos=rng.choice(range(20, 90, 5)), claim=""
        )

    if reply:
        template = rng.choice(REPLIES)
        return cite(template.replace("{claim}", rng.choice(CLAIMS)))
    parts = [cite(rng.choice(OPENERS)), cite(rng.choice(CLAIMS))]
    if rng.random() < 0.6:
        parts.append(cite(rng.choice(EVIDENCE)))
    return " ".join(parts) + "\n\n" + cite(rng.choice(CLOSERS))
