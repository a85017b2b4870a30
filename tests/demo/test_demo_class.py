"""The demo class behaves like a class (issue 21): its calendar runs in order, nobody is
shown late work they cannot do, the TA grades one section, and two threads show the
post-first and anonymous settings. Seeded once for the module: each test's changes are
rolled back, the demo stays."""

import re

import pytest
from django.core.management import call_command
from django.db import transaction
from django.urls import reverse
from django.utils.html import escape

from cases.demo.seed import DEMO_PASSWORD, OPENING_TITLE
from cases.models import (
    Assignment,
    CaseReading,
    Cohort,
    Course,
    Decision,
    Discussion,
    ItemKind,
    ParticipationMark,
    Post,
    StanceAnswer,
    StanceCheck,
    User,
    Work,
)

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def demo(django_db_setup, django_db_blocker):
    """The demo course, seeded once inside a transaction that is rolled back after the
    module's tests (each of which runs in a savepoint of its own)."""
    with django_db_blocker.unblock(), transaction.atomic():
        call_command("seed_demo", force=True, verbosity=0)
        yield Course.objects.get(code="MGT 6001")
        transaction.set_rollback(True)


def _as(client, username: str):
    client.logout()
    assert client.login(username=username, password=DEMO_PASSWORD)
    return client


def _students(section: str) -> list[User]:
    return list(
        User.objects.filter(memberships__cohort__name__endswith=f"section {section}").order_by("pk")
    )


def _thread(course: Course, case_slug: str) -> Discussion:
    return Discussion.objects.get(item__module__course=course, case__slug=case_slug)


# The calendar -------------------------------------------------------------------------


def test_no_demo_student_is_shown_late_work_anywhere(demo, client):
    """Every student's dashboard has no "Overdue" panel, and neither it, the course page
    nor the deadlines page marks anything late: the one past item, the opening class
    section A held, shows as attended or excused."""
    pages = ["/", demo.get_absolute_url(), reverse("cases:course_deadlines", args=[demo.pk])]
    for student in _students("A") + _students("B"):
        _as(client, student.username)
        for page in pages:
            html = client.get(page).content.decode()
            assert "Overdue" not in html, (student.username, page)
            assert "tag--late" not in html, (student.username, page)


def test_section_a_held_the_opening_class_and_section_b_meets_it_next(demo, client):
    class_a = Assignment.objects.get(item__title=OPENING_TITLE, cohort__name__endswith="A")
    class_b = Assignment.objects.get(item__title=OPENING_TITLE, cohort__name__endswith="B")
    session = class_a.item.live_sessions.get()
    assert session.ended_at is not None and class_a.due_at >= session.ended_at
    assert class_b.due_at > session.ended_at

    statuses = dict(Work.objects.filter(item=class_a.item).values_list("user__username", "excused"))
    assert len(statuses) == 12 and sum(statuses.values()) == 2
    seen = {}
    for username in ["student1", "student12", "student13"]:
        dashboard = _as(client, username).get("/").context
        for shown in ["upcoming", "finished"]:
            for entry in dashboard[shown]:
                if entry.assignment.item.title == OPENING_TITLE:
                    seen[username] = (shown, entry.label, entry.late)
    assert seen == {
        "student1": ("finished", "Attended", False),
        "student12": ("finished", "Excused", False),
        "student13": ("upcoming", "Not started", False),
    }


def test_in_each_module_nothing_listed_after_a_reading_falls_due_before_it(demo):
    """The module's order is the order of work: what comes after a reading (its reading
    check, the discussion, the decision, the class) falls due with it or after it, in
    every section. Only what is listed before the readings (the stance check's "before"
    answer, the opening class) asks for none."""
    for cohort in Cohort.objects.filter(courses=demo):
        due = {a.item_id: a.due_at for a in Assignment.objects.filter(cohort=cohort)}
        for module in demo.modules.all():
            read_by = None  # When the readings listed so far are due.
            for item in module.items.all():
                if item.kind == ItemKind.CASE_READING:
                    read_by = max(read_by or due[item.pk], due[item.pk])
                elif read_by is not None:
                    assert due[item.pk] >= read_by, (cohort.name, item.title)
            assert read_by is not None, module.title


def test_what_draws_on_a_case_falls_due_after_its_reading(demo):
    """A thread, the decision and the spectrum each fall due with or after the reading
    of every case they draw on, even one read in an earlier module; the stance checks'
    "after" answers open once every reading is due."""
    for cohort in Cohort.objects.filter(courses=demo):
        given = Assignment.objects.filter(cohort=cohort, item__module__course=demo)
        read_by = {
            reading.case_id: given.get(item=reading.item).due_at
            for reading in CaseReading.objects.filter(item__module__course=demo)
        }
        for thread in Discussion.objects.filter(item__module__course=demo):
            assert given.get(item=thread.item).due_at >= read_by[thread.case_id], thread
        decision = Decision.objects.get(item__module__course=demo)
        shanghai_bell = CaseReading.objects.get(
            item__module=decision.item.module, case__slug="shanghai-bell"
        )
        assert given.get(item=decision.item).due_at >= read_by[shanghai_bell.case_id]
        spectrum = given.get(item__kind=ItemKind.SPECTRUM)
        cases = spectrum.item.spectrum.cases.values_list("pk", flat=True)
        assert all(spectrum.due_at >= read_by[case] for case in cases)
        for stance in StanceCheck.objects.filter(item__module__course=demo):
            assert stance.after_opens_at >= max(read_by.values())
            assert given.get(item=stance.item).due_at > stance.after_opens_at


def test_the_shanghai_bell_class_meets_after_its_reading_and_the_decision(demo):
    live_class = Assignment.objects.filter(
        item__kind=ItemKind.LIVE_SESSION, item__title__startswith="In class: Shanghai Bell"
    )
    assert not live_class.first().item.live_sessions.exists()
    for meeting in live_class:
        decision = Assignment.objects.get(item__kind=ItemKind.DECISION, cohort=meeting.cohort)
        reading = Assignment.objects.get(
            item__case_reading__case__slug="shanghai-bell", cohort=meeting.cohort
        )
        assert reading.due_at <= decision.due_at < meeting.due_at


# Section-scoped grading -----------------------------------------------------------------


def test_the_ta_grades_section_a_and_never_sees_section_b(demo, client):
    mei, wei = _students("A")[0], _students("B")[0]
    _as(client, "ta")
    tracker = client.get(reverse("cases:tracker", args=[demo.pk])).content.decode()
    assert mei.display_name in tracker and wei.display_name not in tracker
    queue = client.get(reverse("cases:grading_queue", args=[demo.pk])).content.decode()
    # Section A posted in the TechFaith thread; only section B in the PRD UPS one.
    techfaith = escape(_thread(demo, "techfaith").item.title)
    prd = escape(_thread(demo, "prd-ups-cluster").item.title)
    assert techfaith in queue and prd not in queue

    _as(client, "instructor")
    tracker = client.get(reverse("cases:tracker", args=[demo.pk])).content.decode()
    assert mei.display_name in tracker and wei.display_name in tracker
    queue = client.get(reverse("cases:grading_queue", args=[demo.pk])).content.decode()
    assert techfaith in queue and prd in queue


# Thread settings -------------------------------------------------------------------------


def test_the_post_first_thread_shows_classmates_posts_only_after_the_students_own(demo, client):
    thread = _thread(demo, "techfaith")
    assert thread.post_first and not thread.anonymous
    others = {
        p.author.display_name
        for p in Post.objects.filter(discussion=thread).exclude(author__username="student1")
    }
    student = _as(client, "student1")
    html = student.get(thread.item.get_absolute_url()).content.decode()
    assert "Post your own answer first" in html
    assert not any(escape(name) in html for name in others)

    student.post(
        reverse("cases:post_create", args=[thread.item.pk]),
        {"body": "Design for another's label is development work, see ¶6.", "nonce": "t1"},
    )
    html = student.get(thread.item.get_absolute_url()).content.decode()
    assert "Post your own answer first" not in html
    assert all(escape(name) in html for name in others)


def test_the_anonymous_thread_hides_every_classmates_name_from_a_student(demo, client):
    """Nothing on the page names a classmate: not the posts' authors, and not a post
    that answers one by name. Course staff see who wrote what."""
    thread = _thread(demo, "tencent-qq")
    assert thread.anonymous and not thread.post_first
    classmates = User.objects.filter(memberships__cohort__courses=demo).exclude(username="student1")
    html = _as(client, "student1").get(thread.item.get_absolute_url()).content.decode()
    assert "Classmate 1" in html
    for classmate in classmates:
        for name in (classmate.display_name, classmate.first_name):
            assert not re.search(rf"\b{re.escape(escape(name))}\b", html), name

    posts = Post.objects.filter(discussion=thread).exclude(author__username="instructor")
    html = _as(client, "instructor").get(thread.item.get_absolute_url()).content.decode()
    assert all(escape(post.author.display_name) in html for post in posts)


def test_other_threads_keep_names_and_show_posts_at_once(demo):
    settings = Discussion.objects.filter(item__module__course=demo).values_list(
        "case__slug", "post_first", "anonymous"
    )
    assert sorted(s for s in settings if s[1] or s[2]) == [
        ("techfaith", True, False),
        ("tencent-qq", False, True),
    ]


# Seeded words ---------------------------------------------------------------------------


def test_seeded_notes_and_reasons_call_no_one_by_a_username(demo):
    """What the seed writes (thread posts, contributions marked in class, stance
    reasons, the excuse for a missed class, the decision and thread prompts) never says
    "Student2": a classmate has a name."""
    texts = [
        *Post.objects.values_list("body", flat=True),
        *ParticipationMark.objects.values_list("note", flat=True),
        *StanceAnswer.objects.values_list("reason", flat=True),
        *Work.objects.exclude(feedback="").values_list("feedback", flat=True),
        *Discussion.objects.values_list("prompt", flat=True),
        *(
            text
            for decision in Decision.objects.all()
            for text in [decision.question, decision.prediction, decision.follow_up]
        ),
    ]
    assert texts
    assert not [t for t in texts if re.search(r"\bstudent ?\d+\b", t, re.IGNORECASE)]


# Shanghai Bell (A) and (B) -------------------------------------------------------------

# What part B reveals: no page a student sees before committing may say it.
OUTCOME = [
    "1,600",
    "1600",
    "2002",
    "independent chinese",
    "incorporated in china",
    "ndependent company",
]


def test_no_student_visible_page_of_part_a_gives_away_the_outcome(demo, client):
    student = _as(client, "student1")
    part_a = CaseReading.objects.get(item__module__course=demo, case__slug="shanghai-bell")
    decision = Decision.objects.get(item__module__course=demo)
    quiz = part_a.item.module.items.get(kind=ItemKind.QUIZ, title__contains="Shanghai Bell")
    pages = [
        part_a.case.get_absolute_url(),
        part_a.item.get_absolute_url(),
        reverse("cases:case_list"),
        reverse("cases:case_list") + "?q=Shanghai",
        quiz.get_absolute_url(),
        _thread(demo, "shanghai-bell").item.get_absolute_url(),
        decision.item.get_absolute_url(),
        demo.get_absolute_url(),
        reverse("cases:home"),
        reverse("cases:course_deadlines", args=[demo.pk]),
    ]
    start = student.post(reverse("cases:attempt_start", args=[quiz.pk]))
    questions = student.get(start["Location"])  # the reading check's questions
    attempt = start["Location"].rstrip("/").split("/")[-1]
    done = student.post(reverse("cases:attempt_submit", args=[attempt]))
    pages.append(done["Location"])  # and its results, every feedback shown
    for url, response in [(start["Location"], questions)] + [(u, student.get(u)) for u in pages]:
        assert response.status_code == 200, url
        text = response.content.decode().lower()
        assert not [term for term in OUTCOME if term in text], url
    part_b = decision.reveals
    assert part_b.follows == part_a.case
    assert student.get(part_b.get_absolute_url()).status_code == 404

    # Committed, the same student reads part B, which says it all.
    student.post(
        reverse("cases:decision_commit", args=[decision.item.pk]),
        {"choice": "0", "rationale": "Research pays.", "expects": "yes", "confidence": "70"},
    )
    html = student.get(part_b.get_absolute_url()).content.decode()
    assert "1,600" in html and "2002" in html
