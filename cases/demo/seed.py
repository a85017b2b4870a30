"""The demo course, loaded by `manage.py seed_demo`. Idempotent: every row is found by a
natural key first, and existing rows are left exactly as they are."""

import tomllib
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from decimal import Decimal
from pathlib import Path

from django.conf import settings
from django.core.management.base import CommandError
from django.db import transaction
from django.db.models import Max
from django.test.utils import override_settings
from django.utils import timezone

from cases.markdown import render_markdown
from cases.models import (
    REGIONAL_CASE_SLUG,
    Analysis,
    Annotation,
    AnnotationTask,
    AnnotationVote,
    Assignment,
    CaseReading,
    CaseStudy,
    Cohort,
    Course,
    Decision,
    Discussion,
    GradeCategory,
    ItemKind,
    Membership,
    Memo,
    MemoVersion,
    Module,
    ModuleItem,
    Notification,
    PeerReview,
    Post,
    Question,
    QuestionCategory,
    QuestionKind,
    Quiz,
    QuizSlot,
    ReadingProgress,
    Rubric,
    StanceCheck,
    User,
    Visibility,
)
from cases.permissions import CaseAccess
from cases.services import builder as course_services
from cases.services import live
from cases.services import people as people_services
from cases.services import thesis as stance_services
from cases.services.analyses import draft_save, memo_submit
from cases.services.annotations import (
    Selection,
    annotation_create,
    annotation_moderate,
    annotation_reply,
    annotation_vote_toggle,
    paragraph_texts,
)
from cases.services.discussions import post_create
from cases.services.gradebook import assignment_release, grade_categories_add_defaults
from cases.services.memo_feedback import comment_create, version_blocks
from cases.services.notifications import (
    peer_reviews_notify,
    published_notify,
    review_received_notify,
)
from cases.services.quizzes import (
    MatchPair,
    attempt_start,
    question_save,
    questions_import_gift,
)
from cases.services.readings import (
    case_create,
    case_fields_from_markdown,
    case_from_fields,
    reading_mark_done,
    reading_open,
)
from cases.services.thesis import spectrum_create
from cases.services.workspace.grading import rubric_score, work_grade
from cases.services.workspace.work import work_sync, work_sync_cohorts

DEMO_PASSWORD = "redqueen-demo"  # Demo only; seed_demo refuses to run in production.

STUDENT_NAMES = [
    ("Mei", "Chen"), ("Arjun", "Patel"), ("Sofia", "García"), ("Kwame", "Mensah"),
    ("Hannah", "Müller"), ("Diego", "Alvarez"), ("Yuki", "Tanaka"), ("Amara", "Okafor"),
    ("Liam", "O'Brien"), ("Priya", "Nair"), ("Jonas", "Berg"), ("Fatima", "Zahra"),
    ("Wei", "Zhang"), ("Isabella", "Rossi"), ("Noah", "Kim"), ("Leila", "Haddad"),
    ("Mateo", "Silva"), ("Chloé", "Martin"), ("Tomás", "Novák"), ("Aisha", "Bello"),
    ("Ethan", "Wright"), ("Ingrid", "Larsen"), ("Ravi", "Kumar"), ("Zoe", "Papadopoulos"),
]  # fmt: skip

COURSE_CODE = "MGT 6001"
COURSE_TITLE = "Run of the Red Queen: How China Innovates"
COURSE_DESCRIPTION = (
    "Is China's technology industry behind because it invents little, or ahead because "
    "it improves, adapts and produces faster than anyone? This course argues the "
    "*Run of the Red Queen* thesis of Dan Breznitz and Michael Murphree (2010) from "
    "cases in Beijing, Shanghai and the Pearl River Delta. You will place companies on "
    "the spectrum from novel-product research (R) to second-generation, process and "
    "production innovation (D), and decide where you stand."
)

COHORT_NAMES = ["MGT 6001 — Spring 2027, section A", "MGT 6001 — Spring 2027, section B"]
MODULES = [
    (
        "The Red Queen thesis",
        "What counts as innovation, and why running fast to stay at the frontier can be "
        "a winning strategy.",
    ),
    (
        "Beijing: design without factories",
        "Startups, research labs and design houses that leave production to others.",
    ),
    (
        "Shanghai: the developmental city",
        "Conglomerates, joint ventures and a planning authority with a vision.",
    ),
    (
        "The Pearl River Delta: built from below",
        "Export factories, domestic upstarts and clusters that upgrade step by step.",
    ),
    (
        "Policy: indigenous innovation and its risks",
        "Techno-nationalist standards and what central plans may cost the regions.",
    ),
]


CASE_FILES = Path(__file__).resolve().parent.parent / "demo" / "cases"
QUIZ_FILES = Path(__file__).resolve().parent.parent / "demo" / "quizzes"
DISCUSSION_FILE = Path(__file__).resolve().parent.parent / "demo" / "discussions.toml"
ANNOTATION_FILE = Path(__file__).resolve().parent.parent / "demo" / "annotations.toml"
ANALYSIS_FILE = Path(__file__).resolve().parent.parent / "demo" / "analyses.toml"
# Shanghai Bell's part B: what followed; the decision point opens it to each student.
PART_B_FILE = CASE_FILES / "04b-shanghai-bell-b.md"
# Which case files each module reads, by module position.
MODULE_READINGS = {
    1: ["01-thesis-overview"],
    2: ["02-techfaith", "03-lenovo"],
    3: ["04-shanghai-bell", "05-smic"],
    4: ["06-tencent-qq", "07-prd-ups-cluster"],
    5: ["08-regional-comparison", "09-wapi-td-scdma"],
}


@dataclass
class DemoLogin:
    username: str
    role: str


def _user(username: str, first: str, last: str, **flags) -> User:
    user, created = User.objects.get_or_create(
        username=username,
        defaults={
            "first_name": first,
            "last_name": last,
            "email": f"{username}@example.edu",
            **flags,
        },
    )
    if created:
        user.set_password(DEMO_PASSWORD)
        user.save(update_fields=["password"])
    return user


def _case_from_file(path: Path, *, author: User) -> CaseStudy:
    fields = case_fields_from_markdown(path.read_text(encoding="utf-8"))
    existing = CaseStudy.objects.filter(slug=fields["slug"]).first()
    if existing is not None:
        return existing
    return case_create(case=case_from_fields(fields), created_by=author)


# The demo's calendar, in days from today: section A's work falls due at 17:00 and
# section B's a day later. Module p's readings and their reading checks fall due on day
# 7p - 5 (`reading_day`); what builds on a reading falls due with it or after it: the
# decision with its reading, the class meeting the day after, the discussion two days
# after and the spectrum (over the cases of modules 2 to 4) on the last module's fourth
# day. Each stance check's "after" answers open once everything else is due. The one
# thing past is the opening class, which section A held as the demo was made: it asks
# for no reading, and a class already held is never overdue work.
CLASS_AFTER_READING = 1
DISCUSSION_AFTER_READING = 2
SPECTRUM_AFTER_READING = 4


def reading_day(module: Module) -> int:
    """The day the module's readings (and their reading checks) fall due for section A."""
    return 7 * module.position - 5


def _due(days: int) -> datetime:
    """Section A's due date: `days` from today, at 17:00."""
    today = timezone.make_aware(datetime.combine(timezone.localdate(), time(17, 0)))
    return today + timedelta(days=days)


def _assign(item: ModuleItem, cohorts, *, due_in_days: int) -> None:
    """Give the item to each cohort (section B a day after section A)."""
    due = _due(due_in_days)
    for offset, cohort in enumerate(cohorts):
        Assignment.objects.create(
            item=item, cohort=cohort, due_at=due + timedelta(days=offset), points=10
        )


def _give(item: ModuleItem, cohorts, *, due: datetime) -> None:
    """Give an item made by `item_create` to each cohort, section B a day after section
    A, and tell their students of what is still to come."""
    given = [
        Assignment.objects.create(item=item, cohort=cohort, due_at=due + timedelta(days=offset))
        for offset, cohort in enumerate(cohorts)
    ]
    work_sync_cohorts(item, list(cohorts))
    now = timezone.now()
    published_notify([assignment for assignment in given if assignment.due_at > now])


def _reading_check(module: Module, case: CaseStudy, order: int, cohorts, *, due_in_days: int):
    """A reading-check quiz on `case`, from its GIFT file, unless the module has one."""
    category_name = f"Reading checks/{case.slug}"
    title = f"Reading check: {case.company}"
    if ModuleItem.objects.filter(module=module, kind=ItemKind.QUIZ, title=title).exists():
        return
    course = module.course
    if not QuestionCategory.objects.filter(course=course, name=category_name).exists():
        path = QUIZ_FILES / f"{case_file_stem(case)}.gift"
        questions_import_gift(
            course=course, text=path.read_text(encoding="utf-8"), sound_only=False
        )
        if case.slug == REGIONAL_CASE_SLUG:
            _regions_matching(course, category_name)
    category = QuestionCategory.objects.get(course=course, name=category_name)
    item = ModuleItem.objects.create(
        module=module,
        kind=ItemKind.QUIZ,
        title=title,
        position=order,
        instructions="Check your reading of the case before class. Answers save as you go.",
    )
    quiz = Quiz.objects.create(
        item=item, attempts_allowed=2, time_limit_minutes=20, shuffle_choices=True
    )
    QuizSlot.objects.bulk_create(
        QuizSlot(quiz=quiz, question=question, position=position)
        for position, question in enumerate(category.questions.order_by("pk"), 1)
    )
    _assign(item, cohorts, due_in_days=due_in_days)


# The regional comparison's reading check asks, as a matching question, where each of
# the course's companies grew (each case's region).
REGIONS_MATCHING = [
    ("Lenovo", "Beijing"),
    ("TechFaith", "Beijing"),
    ("Shanghai Bell", "Shanghai"),
    ("SMIC", "Shanghai"),
    ("Tencent", "Pearl River Delta"),
    ("The PRD's UPS makers", "Pearl River Delta"),
]


def _regions_matching(course: Course, category_name: str) -> None:
    """The matching question of the regional comparison's reading check, made here
    rather than in its GIFT file for its 3 points (GIFT carries no points). Made with
    its category, so once only."""
    question = Question(
        kind=QuestionKind.MATCHING,
        title="Companies and their regions",
        text="Match each company from the course's cases to the region it grew up in.",
        feedback="Beijing's firms design and leave making to others; Shanghai's are big "
        "joint ventures and state-backed fabs; the Pearl River Delta's grew from "
        "manufacturing for export.",
        points=Decimal("3"),
        category=QuestionCategory.objects.get(course=course, name=category_name),
    )
    question_save(
        question=question,
        course=course,
        choices=[MatchPair(text=company, match=region) for company, region in REGIONS_MATCHING],
    )


def _discussions(course: Course, cohorts) -> None:
    """One thread per required case and a thesis thread, with demo posts that cite
    paragraphs, from cases/demo/discussions.toml; each thread sits in the module that
    reads its case (the thesis thread in the last module). A thread's `post_first` and
    `anonymous` keys turn on those settings."""
    data = tomllib.loads(DISCUSSION_FILE.read_text(encoding="utf-8"))
    last_module = course.modules.order_by("-position").first()
    for thread in data["threads"]:
        case = CaseStudy.objects.get(slug=thread["case"])
        reading = CaseReading.objects.filter(item__module__course=course, case=case).first()
        module = last_module if thread["case"] == "thesis-overview" else reading.item.module
        if ModuleItem.objects.filter(module=module, title=thread["title"]).exists():
            continue
        item = ModuleItem.objects.create(
            module=module, kind=ItemKind.DISCUSSION, title=thread["title"], position=90
        )
        discussion = Discussion.objects.create(
            item=item,
            case=case,
            prompt=thread["prompt"],
            post_first=thread.get("post_first", False),
            anonymous=thread.get("anonymous", False),
        )
        _assign(item, cohorts, due_in_days=reading_day(module) + DISCUSSION_AFTER_READING)
        by_key: dict[str, Post] = {}
        for post in thread["posts"]:
            by_key[post["key"]] = post_create(
                discussion=discussion,
                author=User.objects.get(username=post["author"]),
                body=post["text"],
                parent=by_key.get(post.get("reply_to", "")),
                nonce=f"demo-{post['key']}",
            )


SPECTRUM_TITLE = "Where do they sit? R or D"
SPECTRUM_CASES = [
    "shanghai-bell",
    "techfaith",
    "tencent-qq",
    "prd-ups-cluster",
    "lenovo",
    "smic",
]


def _spectrum(course: Course, cohorts) -> None:
    """A spectrum exercise in the last module over six of the companies, once."""

    last_module = course.modules.order_by("-position").first()
    if ModuleItem.objects.filter(module=last_module, title=SPECTRUM_TITLE).exists():
        return
    item = ModuleItem.objects.create(
        module=last_module, kind=ItemKind.SPECTRUM, title=SPECTRUM_TITLE, position=95
    )
    cases = CaseStudy.objects.filter(slug__in=SPECTRUM_CASES)
    spectrum_create(item=item, cases=list(cases))
    _assign(item, cohorts, due_in_days=reading_day(last_module) + SPECTRUM_AFTER_READING)


def case_file_stem(case: CaseStudy) -> str:
    return next(p.stem for p in CASE_FILES.glob("*.md") if p.stem.endswith(case.slug))


def _reading(module: Module, case: CaseStudy, order: int, cohorts, *, due_in_days: int):
    """A reading item for `case` in `module`, given to each cohort (section B a day
    after section A), unless the module already has one."""
    if CaseReading.objects.filter(item__module=module, case=case).exists():
        return
    item = ModuleItem.objects.create(
        module=module, kind=ItemKind.CASE_READING, title=case.title, position=order
    )
    CaseReading.objects.create(item=item, case=case)
    _assign(item, cohorts, due_in_days=due_in_days)


def _class_activity(course: Course, students: list[User]) -> None:
    """The class has started the first module: most opened the first case, some
    finished it, a few are partway through its reading check. Once only."""
    first = course.modules.order_by("position").first()
    reading = first.items.filter(kind="case_reading").select_related("case_reading__case").first()
    quiz = Quiz.objects.filter(item__module=first).order_by("item__position").first()
    case = reading.case_reading.case
    if ReadingProgress.objects.filter(case=case).exists():
        return  # Seeded before: a second opening would move the dates.
    for number, student in enumerate(students, 1):
        if number <= 18:
            reading_open(user=student, case=case)
        if number <= 11:
            reading_mark_done(user=student, case=case, done=True)
        if quiz is not None and number <= 5:
            attempt_start(quiz=quiz, user=student)


# (module position, statement): the first spans the course (its question comes back in
# the last module's thesis thread), the second the last module.
STANCE_CHECKS = [
    (1, "China should push its firms toward novel-product innovation."),
    (len(MODULES), "Second-generation innovation can sustain China's growth for the next decade."),
]
# The "after" answers are taken for a week.
STANCE_AFTER_WEEK = timedelta(days=7)
# Reasons the first twelve demo students give before the course starts.
STANCE_REASONS = [
    (6, "Copying caps your margins once wages rise."),
    (5, "Without own patents firms pay royalties forever."),
    (3, "Process skill already earns the money."),
    (2, "Novel products need a research base China is still building."),
    (5, "Standards fights show the cost of not owning technology."),
    (4, "It depends on the sector."),
    (2, "Fast followers can win the volume markets."),
    (6, "Prestige and security both point that way."),
    (3, "The ODM designers do fine without new products."),
    (1, "The state should not pick the kind of innovation."),
    (5, "Telecom vendors moved up by doing their own R&D."),
    (3, "Lenovo grew on distribution, not invention."),
]


def _stance_checks(course: Course, cohorts, students: list[User]) -> None:
    """The course's two stance checks, given to both sections; the first one answered
    "before" by section A. The "after" answers open once every other item of the course
    has fallen due for every section. Once only, like the rest of the seed."""
    last_due = (
        Assignment.objects.filter(item__module__course=course)
        .exclude(item__kind=ItemKind.STANCE_CHECK)
        .aggregate(last=Max("due_at"))["last"]
    )
    for position, statement in STANCE_CHECKS:
        module = course.modules.get(position=position)
        if StanceCheck.objects.filter(item__module=module).exists():
            continue
        item = course_services.item_create(
            module=module,
            kind=ItemKind.STANCE_CHECK,
            title=statement,
            cohorts=cohorts,
            due_at=last_due + STANCE_AFTER_WEEK,
        )
        item.position = 0  # First in its module: answered before the reading.
        item.save(update_fields=["position"])
        stance = item.stance_check
        stance.after_opens_at = last_due
        stance.save(update_fields=["after_opens_at"])
        if position == 1:
            for student, (value, reason) in zip(students, STANCE_REASONS, strict=False):
                stance_services.stance_answer(
                    stance=stance, user=student, value=value, reason=reason
                )


SHANGHAI_BELL_DECISION = {
    "question": (
        "Should the city back a stand-alone Shanghai Bell that builds a large research "
        "staff of its own?"
    ),
    "options": [
        "Yes: make it a stand-alone company and build a large research staff",
        "No: keep the joint venture and rely on its foreign partner's technology",
    ],
    "prediction": "Within a decade, Shanghai Bell will employ more than 1,000 researchers.",
    "follow_up": (
        "It did. Since 2002 Shanghai Bell has operated as an independent company "
        "incorporated in China, still called a joint venture, with its state partners "
        "holding strong influence. It pairs manufacturing with R&D and, by the time "
        "Breznitz and Murphree wrote in 2010, employed more than 1,600 researchers. "
        "Shanghai Bell (B) is now open to you.\n\n"
        "Yet the essay reports inputs only: no patents, standards, new products or "
        "financial results from that staff. Before the next class, return to the ten-year "
        "test you wrote for part A: does the headcount show a firm that moved toward R, or "
        "a capable developer working near the frontier without moving it? (Breznitz and "
        "Murphree, *Run of the Red Queen*, 2010.)"
    ),
}


def _decision_point(course: Course, cohorts, author: User) -> None:
    """A commit-then-reveal decision on Shanghai Bell, in the module that reads part A,
    due with the reading; committing opens part B (a library case no module gives as a
    reading)."""
    reading = CaseReading.objects.filter(
        item__module__course=course, case__slug="shanghai-bell"
    ).first()
    if reading is None or Decision.objects.filter(item__module__course=course).exists():
        return
    part_b = None
    if PART_B_FILE.exists():
        part_b = _case_from_file(PART_B_FILE, author=author)
    module = reading.item.module
    item = course_services.item_create(
        module=module, kind=ItemKind.DECISION, title=SHANGHAI_BELL_DECISION["question"]
    )
    Decision.objects.filter(item=item).update(
        reveals=part_b, **{k: v for k, v in SHANGHAI_BELL_DECISION.items() if k != "question"}
    )
    # Committed with the reading, before the class that discusses what followed.
    _give(item, cohorts, due=_due(reading_day(module)))


OPENING_TITLE = "Class 1: what counts as innovation?"
OPENING_POLL = {
    "prompt": "Before any reading: where do China's IT firms mostly innovate?",
    "options": [
        "Inventing products nobody has made before",
        "Improving products that others invented",
        "Improving how products are made and delivered",
    ],
}
# The ten of section A's twelve who came, what each answered, and the two who spoke.
OPENING_ANSWERS = [0, 1, 2, 1, 0, 2, 1, 0, 1, 2]
OPENING_MARKS = [
    (1, 2, "Named a firm that wins by improving what others invented."),
    (4, 1, "Asked whether copying can ever count as innovation."),
]
OPENING_EXCUSED = "Excused: told us ahead of class."


def _opening_class(course: Course, cohorts, students: list[User], instructor: User) -> None:
    """The first module's opening class, which asks for no reading: section A held it
    as the demo was made (who joined, a poll they answered, two contributions; the two
    who stayed away excused), section B meets a day later. Once only."""
    first = course.modules.order_by("position").first()
    if ModuleItem.objects.filter(module=first, title=OPENING_TITLE).exists():
        return
    item = course_services.item_create(
        module=first, kind=ItemKind.LIVE_SESSION, title=OPENING_TITLE
    )
    item.position = 0  # Before the reading.
    item.save(update_fields=["position"])
    section_a = students[:12]
    session = live.session_start(
        course=course, by=instructor, title="Class 1, section A", item=item, cohort=cohorts[0]
    )
    poll = live.poll_create(session=session, kind="single", **OPENING_POLL)
    live.poll_launch(poll)
    session.refresh_from_db()
    for student, choice in zip(section_a, OPENING_ANSWERS, strict=False):
        live.join(session, student)
        live.answer_save(session=session, poll=poll, user=student, answer={"choices": [choice]})
    live.poll_update(poll, results_shown=True, close=True)
    for index, points, note in OPENING_MARKS:
        live.mark_add(
            session=session, student=section_a[index], points=points, note=note, by=instructor
        )
    live.session_end(session)
    session.refresh_from_db()
    # Section A's class was due when it ended: those who came were on time.
    _give(item, cohorts, due=session.ended_at)
    for student in section_a[len(OPENING_ANSWERS) :]:
        work_grade(
            item=item, student=student, grader=instructor, excused=True, feedback=OPENING_EXCUSED
        )


LIVE_TITLE = "In class: Shanghai Bell, which road?"


def _live_class(course: Course, cohorts) -> None:
    """A graded class meeting in the module that reads Shanghai Bell, the day after the
    reading and the decision fall due; the instructor starts it in class."""
    reading = CaseReading.objects.filter(
        item__module__course=course, case__slug="shanghai-bell"
    ).first()
    if (
        reading is None
        or ModuleItem.objects.filter(module__course=course, title=LIVE_TITLE).exists()
    ):
        return
    module = reading.item.module
    item = course_services.item_create(module=module, kind=ItemKind.LIVE_SESSION, title=LIVE_TITLE)
    _give(item, cohorts, due=_due(reading_day(module) + CLASS_AFTER_READING))


ANNOTATION_TASK_TITLE = "Annotate Shanghai Bell: three substantive notes"
ANNOTATION_TASK_INSTRUCTIONS = (
    "Select words in Shanghai Bell (A) and leave at least three notes of 15 words or more "
    "on them, shared with your class or asked of the instructor; replies to classmates "
    "count. Cite the paragraphs you draw on (¶N). Private notes are yours alone and do "
    "not count."
)
# Annotation assignments count as written contributions, like a thread's posts.
ANNOTATION_CATEGORY = "Discussions"
FRIDAY = 4


def _friday_on_or_after(days: int) -> int:
    """The number of days from today to the first Friday on or after day `days`."""
    weekday = (timezone.localdate() + timedelta(days=days)).weekday()
    return days + (FRIDAY - weekday) % 7


def _annotation_assignment(course: Course, cohorts) -> None:
    """An annotation assignment on Shanghai Bell (A), in the module that reads it, due
    on the Friday of the week its reading falls due (or that day, if a Friday): notes
    build on the reading, as the demo's calendar asks. Once only."""
    reading = (
        CaseReading.objects.filter(item__module__course=course, case__slug="shanghai-bell")
        .select_related("item__module", "case")
        .first()
    )
    if (
        reading is None
        or ModuleItem.objects.filter(module__course=course, kind=ItemKind.ANNOTATION).exists()
    ):
        return
    module = reading.item.module
    item = ModuleItem.objects.create(
        module=module,
        kind=ItemKind.ANNOTATION,
        title=ANNOTATION_TASK_TITLE,
        position=89,  # After the readings, before the thread on the same case.
        instructions=ANNOTATION_TASK_INSTRUCTIONS,
    )
    AnnotationTask.objects.create(item=item, case=reading.case, min_notes=3, min_words=15)
    _give(item, cohorts, due=_due(_friday_on_or_after(reading_day(module))))


def _file_annotation_assignments(course: Course) -> None:
    """The gradebook's defaults file no annotation assignment: the demo's goes with
    the threads."""
    category = GradeCategory.objects.filter(course=course, name=ANNOTATION_CATEGORY).first()
    ModuleItem.objects.filter(
        module__course=course, kind=ItemKind.ANNOTATION, grade_category__isnull=True
    ).update(grade_category=category)


def quote_selection(texts: list[tuple[int, str]], quote: str, slug: str) -> Selection:
    """The selection of `quote` in a case's paragraph texts, where it must occur once:
    found by its words, so the seed survives small edits of the case file."""
    found = [(number, text.find(quote)) for number, text in texts for _ in range(text.count(quote))]
    if len(found) != 1:
        where = "nowhere" if not found else ", ".join(f"¶{n}" for n, _ in found)
        raise CommandError(
            f"The demo note's words {quote!r} must occur once in case {slug!r}; found {where}. "
            f"Edit {ANNOTATION_FILE.name} to quote the case as it now reads."
        )
    number, start = found[0]
    return Selection(
        paragraph=number, start=start, end_paragraph=number, end=start + len(quote), quote=quote
    )


def _annotations(instructor: User) -> None:
    """The class's notes on Shanghai Bell (A) and Tencent QQ, from
    cases/demo/annotations.toml: shared observations, questions to the instructor,
    private notes and replies, then their upvotes and the instructor's pin and
    endorsement. Each note's nonce makes a second run find it instead of writing it
    again; votes and moderation are only done where not done yet."""
    notes = tomllib.loads(ANNOTATION_FILE.read_text(encoding="utf-8"))["notes"]
    people = {u.username: u for u in User.objects.filter(username__in=_note_people(notes))}
    cases: dict[str, CaseStudy] = {}
    texts: dict[str, list[tuple[int, str]]] = {}
    made: dict[str, Annotation] = {}
    # The whole class writes within a second: the limit on notes a minute is for people.
    limit = max(settings.ANNOTATIONS_PER_MINUTE, len(notes))
    with override_settings(ANNOTATIONS_PER_MINUTE=limit):
        for note in notes:
            author, nonce = people[note["author"]], f"demo-{note['key']}"
            if "reply_to" in note:
                made[note["key"]] = annotation_reply(
                    thread=made[note["reply_to"]], author=author, body=note["text"], nonce=nonce
                )
                continue
            slug = note["case"]
            if slug not in cases:
                cases[slug] = CaseStudy.objects.get(slug=slug)
                texts[slug] = paragraph_texts(cases[slug])
            made[note["key"]] = annotation_create(
                case=cases[slug],
                author=author,
                access=CaseAccess(is_teaching_staff=author == instructor, can_edit=False),
                selection=quote_selection(texts[slug], note["quote"], slug),
                body=note["text"],
                visibility=Visibility(note.get("visibility", Visibility.COHORT)),
                nonce=nonce,
            )
    for note in notes:
        annotation = made[note["key"]]
        voted = set(
            AnnotationVote.objects.filter(annotation=annotation).values_list(
                "user__username", flat=True
            )
        )
        for username in note.get("votes", []):
            if username not in voted:
                annotation_vote_toggle(note=annotation, user=people[username])
        for action in note.get("moderate", []):
            done = {"pin": annotation.pinned, "endorse": annotation.endorsed}[action]
            if not done:
                annotation_moderate(note=annotation, action=action)


# The written analysis: memos handed in a few days ago, section A's peer reviews under
# way, and the main demo student's memo graded with comments on its words, released.
ANALYSIS_DUE_DAYS_AGO = 3


def _written_analysis(course: Course, cohorts, instructor: User) -> None:
    """A written analysis on Shanghai Bell (A) with the course rubric "Case memo", from
    cases/demo/analyses.toml. It was due a few days ago (section B a day after section
    A, late work taken), so it shows memos handed in, one twice, one late and one only
    drafted; it is listed first in the module that reads the case, whose reading falls
    due later. Once only: a course that has a written analysis is left as it is."""
    reading = (
        CaseReading.objects.filter(item__module__course=course, case__slug="shanghai-bell")
        .select_related("item__module", "case")
        .first()
    )
    if (
        reading is None
        or ModuleItem.objects.filter(module__course=course, kind=ItemKind.ANALYSIS).exists()
    ):
        return
    data = tomllib.loads(ANALYSIS_FILE.read_text(encoding="utf-8"))
    rubric, _ = Rubric.objects.get_or_create(
        course=course,
        title=data["rubric"]["title"],
        defaults={"criteria": data["rubric"]["criteria"]},
    )
    settings_ = data["analysis"]
    item = ModuleItem.objects.create(
        module=reading.item.module,
        kind=ItemKind.ANALYSIS,
        title=settings_["title"],
        position=0,  # Before the readings: it fell due before they do.
        rubric=rubric,
    )
    Analysis.objects.create(
        item=item,
        case=reading.case,
        prompt=settings_["prompt"],
        word_limit=settings_["word_limit"],
        allow_upload=True,
        peer_review=True,
        reviews_each=settings_["reviews_each"],
        review_days=settings_["review_days"],
    )
    _give(item, cohorts, due=_due(-ANALYSIS_DUE_DAYS_AGO))
    due = {a.cohort_id: a.due_at for a in item.assignments.all()}
    people = {u.username: u for u in User.objects.filter(memberships__cohort__in=cohorts)}
    latest: dict[str, MemoVersion] = {}
    for memo in data["memos"]:
        author = people[memo["author"]]
        cohort_due = due[author.memberships.get(cohort__in=cohorts).cohort_id]
        if "draft" in memo:
            at = cohort_due - timedelta(hours=memo["draft_hours_before_due"])
            draft_save(item=item, user=author, body=memo["draft"], seq=None, now=at)
            first = at
        for number, (text, hours) in enumerate(
            zip(memo.get("versions", []), memo.get("hours_before_due", []), strict=True), 1
        ):
            at = cohort_due - timedelta(hours=hours)
            # As the page does: the text is kept as the draft, then handed in.
            draft_save(item=item, user=author, body=text, seq=None, now=at - timedelta(minutes=2))
            latest[memo["author"]] = memo_submit(
                item=item, user=author, body=text, nonce=f"demo-{memo['key']}-{number}", now=at
            )
            if number == 1:
                first = at - timedelta(minutes=40)
        # Begun when the first words were saved, not when the seed ran.
        Memo.objects.filter(item=item, author=author).update(created_at=first)
    work_sync(item, [people[m["author"]].pk for m in data["memos"]])
    _peer_reviews(item, rubric, data["reviews"], people, latest, min(due.values()))
    _memo_graded(item, data["grade"], people, latest, instructor)


def _peer_reviews(item, rubric, reviews, people, latest, due) -> None:
    """Section A's reviews of each other's latest versions, a day after the due date;
    those with levels submitted, scored by the rubric, and the reviewers and authors
    told."""
    made = []
    for index, review in enumerate(reviews):
        levels = {str(i): level for i, level in enumerate(review.get("levels", []))}
        text = review.get("text", "")
        made.append(
            PeerReview.objects.create(
                item=item,
                reviewer=people[review["reviewer"]],
                author=people[review["author"]],
                version=latest[review["author"]],
                position=review["position"],
                rubric_levels=levels,
                score=rubric_score(rubric, levels) if levels else None,
                comment=text,
                comment_html=render_markdown(text) if text else "",
                submitted_at=due + timedelta(days=1, hours=index) if levels else None,
                helpfulness=review.get("helpfulness"),
            )
        )
    peer_reviews_notify(made)
    for review in made:
        if review.submitted_at:
            review_received_notify(review)


def _memo_graded(item, grade, people, latest, instructor: User) -> None:
    """The instructor grades the main demo student's memo with the rubric and a comment
    to them, comments on four passages of it, and releases their section's grades."""
    student = people[grade["student"]]
    version = latest[grade["student"]]
    levels = {str(i): level for i, level in enumerate(grade["levels"])}
    work_grade(
        item=item,
        student=student,
        grader=instructor,
        rubric_levels=levels,
        feedback=grade["feedback"],
    )
    # Anchored as a grader's selection is: the words found in their block of the memo.
    texts = [block.text for block in version_blocks(version.body_html)]
    for comment in grade["comments"]:
        number, quote = comment["paragraph"], comment["quote"]
        text = texts[number - 1] if 0 < number <= len(texts) else ""
        if text.count(quote) != 1:
            raise CommandError(
                f"The demo comment's words {quote!r} must occur once in paragraph {number} of "
                f"{version}. Edit {ANALYSIS_FILE.name} to quote the memo as it reads."
            )
        start = text.index(quote)
        comment_create(
            version=version,
            author=instructor,
            selection=Selection(number, start, number, start + len(quote), quote),
            body=comment["text"],
            nonce=f"demo-{comment['key']}",
        )
    cohort = student.memberships.get(cohort__courses=item.module.course).cohort
    assignment_release(assignment=item.assignments.get(cohort=cohort), released=True)


def _note_people(notes: list[dict]) -> set[str]:
    return {n["author"] for n in notes} | {v for n in notes for v in n.get("votes", [])}


def _ta_grades_section_a(course: Course, cohorts, ta: User, instructor: User) -> None:
    """The TA grades section A only, as the People page sets it; unless the TA is
    limited to some cohort already."""
    if not Cohort.objects.filter(courses=course, teaching_assistants=ta).exists():
        people_services.ta_cohorts_set(course=course, user=ta, cohorts=[cohorts[0]], by=instructor)


def demo_summary() -> str:
    """What the demo holds, in one line: "Demo course MGT 6001 ready: 1 course, ..."."""
    course = Course.objects.get(code=COURSE_CODE)
    counts = [
        (1, "course", "courses"),
        (course.modules.count(), "module", "modules"),
        (
            CaseStudy.objects.filter(readings__item__module__course=course).distinct().count(),
            "case",
            "cases",
        ),
        (ModuleItem.objects.filter(module__course=course).count(), "item", "items"),
        (course.cohorts.count(), "cohort", "cohorts"),
        (
            User.objects.filter(memberships__cohort__courses=course).distinct().count(),
            "student",
            "students",
        ),
    ]
    parts = ", ".join(f"{n} {one if n == 1 else many}" for n, one, many in counts)
    return f"Demo course {COURSE_CODE} ready: {parts}"


@transaction.atomic
def demo_seed() -> list[DemoLogin]:
    """Create the demo people, cohorts and course; return the logins to print."""
    started = timezone.now()
    _user("admin", "Avery", "Admin", is_staff=True, is_superuser=True)
    instructor = _user("instructor", "Elena", "Marsh")
    ta = _user("ta", "Sam", "Okoro")
    students = [
        _user(f"student{n}", first, last) for n, (first, last) in enumerate(STUDENT_NAMES, 1)
    ]

    cohorts = [Cohort.objects.get_or_create(name=name)[0] for name in COHORT_NAMES]
    for index, student in enumerate(students):
        Membership.objects.get_or_create(cohort=cohorts[index // 12], user=student)

    course, _ = Course.objects.get_or_create(
        code=COURSE_CODE, defaults={"title": COURSE_TITLE, "description": COURSE_DESCRIPTION}
    )
    course.instructors.add(instructor)
    course.teaching_assistants.add(ta)
    course.cohorts.add(*cohorts)
    for position, (title, summary) in enumerate(MODULES, 1):
        module, _ = Module.objects.get_or_create(
            course=course, position=position, defaults={"title": title, "summary": summary}
        )
        for order, name in enumerate(MODULE_READINGS[position], 1):
            case = _case_from_file(CASE_FILES / f"{name}.md", author=instructor)
            due_in_days = reading_day(module)
            _reading(module, case, 2 * order - 1, cohorts, due_in_days=due_in_days)
            _reading_check(module, case, 2 * order, cohorts, due_in_days=due_in_days)

    _discussions(course, cohorts)
    _spectrum(course, cohorts)
    _class_activity(course, students)
    _decision_point(course, cohorts, instructor)
    _live_class(course, cohorts)
    _annotation_assignment(course, cohorts)
    _annotations(instructor)
    _written_analysis(course, cohorts, instructor)
    _stance_checks(course, cohorts, students)
    _opening_class(course, cohorts, students, instructor)
    _ta_grades_section_a(course, cohorts, ta, instructor)
    # The gradebook's categories, with every item filed by its kind.
    grade_categories_add_defaults(course=course)
    _file_annotation_assignments(course)
    # The demo's made-up past shows in the app but is emailed to nobody: marked as sent
    # before the commit, the email tasks waiting for it find nothing to send.
    Notification.objects.filter(created_at__gte=started, emailed_at__isnull=True).update(
        emailed_at=started
    )

    return [
        DemoLogin("admin", "admin (staff)"),
        DemoLogin("instructor", f"instructor of {COURSE_CODE}"),
        DemoLogin("ta", f"teaching assistant of {COURSE_CODE}, grading section A"),
        DemoLogin("student1 … student12", COHORT_NAMES[0]),
        DemoLogin("student13 … student24", COHORT_NAMES[1]),
    ]
