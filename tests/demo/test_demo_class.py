"""The demo class behaves like a class (issue 21): its calendar runs in order, nobody is
shown late work they cannot do, the TA grades one section, and two threads show the
post-first and anonymous settings; and (issue 23) the class has annotated two cases and
has an annotation assignment under way. Seeded once for the module: each test's changes
are rolled back, the demo stays."""

import re
from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.db import transaction
from django.test.utils import override_settings
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape

from cases.anchors import Anchor, Document
from cases.demo.seed import (
    ANNOTATION_TASK_TITLE,
    DEMO_PASSWORD,
    OPENING_TITLE,
    quote_selection,
)
from cases.models import (
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
    ItemKind,
    Memo,
    MemoComment,
    MemoVersion,
    ParticipationMark,
    PeerReview,
    Post,
    StanceAnswer,
    StanceCheck,
    User,
    Visibility,
    Work,
    WorkStatus,
)
from cases.permissions import CaseAccess
from cases.services.annotations import annotations_visible, paragraph_texts
from cases.services.memo_feedback import version_blocks
from cases.services.workspace.grading import rubric_score
from cases.services.workspace.work import student_items, with_work

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def demo(django_db_setup, django_db_blocker):
    """The demo course, seeded once inside a transaction that is rolled back after the
    module's tests (each of which runs in a savepoint of its own)."""
    # The strictest limit on notes a minute: the seed writes the class's notes anyway.
    strict = override_settings(ANNOTATIONS_PER_MINUTE=1)
    with django_db_blocker.unblock(), transaction.atomic(), strict:
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


def _analysis(course: Course) -> Analysis:
    return Analysis.objects.select_related("item", "case").get(item__module__course=course)


def _thread(course: Course, case_slug: str) -> Discussion:
    return Discussion.objects.get(item__module__course=course, case__slug=case_slug)


# The calendar -------------------------------------------------------------------------


def test_no_demo_student_is_shown_late_work_anywhere_but_the_memo(demo, client):
    """Neither a student's dashboard, the course page nor the deadlines page marks
    anything late or overdue but the written analysis, which fell due a few days ago and
    still takes late work: the opening class section A held shows as attended or
    excused. Those who handed the memo in see nothing overdue; the one who handed it in
    late sees it marked so; those who did not (the one with a draft too) see it overdue."""
    memo_url = f'href="{_analysis(demo).item.get_absolute_url()}"'
    pages = ["/", demo.get_absolute_url(), reverse("cases:course_deadlines", args=[demo.pk])]
    handed_in = set(MemoVersion.objects.values_list("memo__author__username", flat=True).distinct())
    for student in _students("A") + _students("B"):
        _as(client, student.username)
        for page in pages:
            html = client.get(page).content.decode()
            rows = [row.split("</li>")[0] for row in html.split("<li")[1:]]
            late_rows = [row for row in rows if "tag--late" in row]
            assert all(memo_url in row for row in late_rows), (student.username, page)
            overdue = html.split('id="overdue-heading"')
            if student.username in handed_in:
                assert len(overdue) == 1, (student.username, page)
            elif page == "/":
                listed = overdue[1].split("</section>")[0]
                assert memo_url in listed and listed.count('href="/items/') == 1
        late = student.username == "student15"
        course_page = client.get(demo.get_absolute_url()).content.decode()
        assert ("Handed in late" in course_page) == late, student.username


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
    """What the seed writes (thread posts, notes on cases, contributions marked in class, stance
    reasons, the excuse for a missed class, the decision and thread prompts) never says
    "Student2": a classmate has a name."""
    texts = [
        *Post.objects.values_list("body", flat=True),
        *Annotation.objects.values_list("body", flat=True),
        *ParticipationMark.objects.values_list("note", flat=True),
        *StanceAnswer.objects.values_list("reason", flat=True),
        *Work.objects.exclude(feedback="").values_list("feedback", flat=True),
        *Discussion.objects.values_list("prompt", flat=True),
        *Memo.objects.values_list("draft", flat=True),
        *MemoVersion.objects.values_list("body", flat=True),
        *MemoComment.objects.values_list("body", flat=True),
        *PeerReview.objects.values_list("comment", flat=True),
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
        # What the page says, not its markup: an id in an attribute (PostgreSQL's
        # sequences reach 1600 over a run) is not the outcome given away.
        text = re.sub(r"<[^>]*>", " ", response.content.decode()).lower()
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


def test_no_note_on_part_a_gives_away_the_outcome(demo):
    bodies = Annotation.objects.filter(case__slug="shanghai-bell").values_list("body", flat=True)
    assert bodies
    assert not [b for b in bodies if any(term in b.lower() for term in OUTCOME)]


# Reading together (issue 23) -------------------------------------------------------------

NOTED_CASES = ["shanghai-bell", "tencent-qq"]
STUDENT = CaseAccess(is_teaching_staff=False, can_edit=False)


def test_the_class_has_annotated_shanghai_bell_and_tencent_qq(demo):
    """Thirty and more notes by several students of both sections: observations,
    questions to the instructor, private notes and replies that answer a classmate by
    name or cite a paragraph (but for a short one); upvotes from classmates who read the note; the
    instructor's own note, shared and pinned, and one endorsement."""
    notes = Annotation.objects.filter(case__slug__in=NOTED_CASES).select_related("author")
    assert notes.count() >= 30
    assert {n.case.slug for n in notes} == set(NOTED_CASES)
    students = {n.author for n in notes if n.author.username.startswith("student")}
    assert len(students) >= 5
    sections = Cohort.objects.filter(pk__in=notes.values("cohort")).values_list("name", flat=True)
    assert sorted(name[-1] for name in sections) == ["A", "B"]
    assert notes.filter(visibility=Visibility.INSTRUCTOR, thread__isnull=True).count() >= 2
    assert notes.filter(visibility=Visibility.PRIVATE).count() >= 2
    replies = [n for n in notes if n.is_reply and n.author.username != "instructor"]
    assert len(replies) >= 5
    for reply in [r for r in replies if r.word_count >= 15]:
        assert "¶" in reply.body or reply.thread.author.first_name in reply.body, reply.body
    # The instructor answered a question in its thread.
    assert notes.filter(author__username="instructor", thread__visibility="instructor").exists()

    (own,) = notes.filter(author__username="instructor", thread__isnull=True)
    assert own.cohort_id is None and own.visibility == Visibility.COHORT and own.pinned
    assert notes.filter(pinned=True).count() == notes.filter(endorsed=True).count() == 1
    assert notes.get(endorsed=True).author.username.startswith("student")

    votes = AnnotationVote.objects.filter(annotation__in=notes).select_related("annotation", "user")
    assert votes.count() >= 20
    for vote in votes:
        assert vote.user_id != vote.annotation.author_id
        readable = annotations_visible(vote.user, vote.annotation.case, STUDENT)
        assert readable.filter(pk=vote.annotation_id).exists(), vote
    assert all(n.upvote_count == n.votes.count() for n in notes)


def test_every_seeded_note_quotes_the_words_at_its_anchor(demo):
    for case in CaseStudy.objects.filter(slug__in=NOTED_CASES):
        texts = dict(paragraph_texts(case))
        roots = case.annotations.filter(thread__isnull=True)
        assert roots.count() >= 10
        for note in roots:
            assert not note.orphaned and note.end_paragraph is None, note
            assert texts[note.paragraph][note.start : note.end] == note.quote, note


def test_a_quote_the_case_no_longer_holds_stops_the_seed_by_name():
    texts = [(1, "Shanghai Bell makes switches."), (2, "It makes switches at scale.")]
    selection = quote_selection(texts, "at scale", "shanghai-bell")
    assert (selection.paragraph, selection.start, selection.end) == (2, 18, 26)
    with pytest.raises(CommandError, match=r"'builds routers'.*nowhere"):
        quote_selection(texts, "builds routers", "shanghai-bell")
    with pytest.raises(CommandError, match=r"'makes switches'.*¶1, ¶2"):
        quote_selection(texts, "makes switches", "shanghai-bell")


def test_each_section_reads_its_own_notes_and_the_instructors_never_the_others(demo):
    """Wei (section B) reads section B's shared notes and the instructor's, never
    section A's; Mei (section A) the reverse. Questions reach the staff, not classmates;
    private notes reach nobody else, the instructor included."""
    mei, wei = User.objects.get(username="student1"), User.objects.get(username="student13")
    instructor = User.objects.get(username="instructor")
    for case in CaseStudy.objects.filter(slug__in=NOTED_CASES):
        notes = Annotation.objects.filter(case=case)
        b_read = annotations_visible(wei, case, STUDENT)
        a_read = annotations_visible(mei, case, STUDENT)
        assert set(b_read) == set(
            notes.filter(cohort__name__endswith="B").exclude(visibility=Visibility.PRIVATE)
        ) | set(notes.filter(cohort__isnull=True))
        assert not a_read.filter(cohort__name__endswith="B").exists()
        assert not a_read.filter(visibility=Visibility.PRIVATE).exclude(author=mei).exists()
        assert (
            not a_read.filter(visibility=Visibility.INSTRUCTOR).exclude(thread__author=mei).exists()
        )
        staff = annotations_visible(
            instructor, case, CaseAccess(is_teaching_staff=True, can_edit=False)
        )
        assert set(staff) == set(notes.exclude(visibility=Visibility.PRIVATE))
    wei_notes = annotations_visible(wei, CaseStudy.objects.get(slug="shanghai-bell"), STUDENT)
    assert wei_notes.filter(author__username="student14").exists()
    assert wei_notes.filter(author=instructor, pinned=True).exists()


def test_the_annotation_assignment_is_handed_in_by_some_and_under_way_for_others(demo):
    """Due on the Friday of the week Shanghai Bell's reading falls due (section B a
    day later), in the module that reads it: four of section A handed in three
    substantive notes, others are partway (one wrote a short reply, which does not
    count), and most have not started; a note kept private counts for nothing."""
    task = AnnotationTask.objects.select_related("item", "case").get(item__module__course=demo)
    item = task.item
    assert (item.title, task.case.slug, task.min_notes, task.min_words) == (
        ANNOTATION_TASK_TITLE,
        "shanghai-bell",
        3,
        15,
    )
    reading = CaseReading.objects.get(item__module__course=demo, case=task.case)
    assert item.module == reading.item.module
    assert item.grade_category.name == "Discussions"
    for given in item.assignments.all():
        read_by = Assignment.objects.get(item=reading.item, cohort=given.cohort).due_at
        assert given.due_at.weekday() == (4 if given.cohort.name.endswith("A") else 5)
        assert read_by <= given.due_at < read_by + timedelta(days=8)

    work = dict(
        Work.objects.filter(item=item, user__username__startswith="student").values_list(
            "user__username", "state"
        )
    )
    handed_in = sorted(u for u, state in work.items() if state == WorkStatus.SUBMITTED)
    assert handed_in == ["student1", "student10", "student4", "student7"]
    under_way = {u for u, state in work.items() if state == WorkStatus.IN_PROGRESS}
    assert {"student2", "student5", "student13"} <= under_way
    assert 24 - len(work) >= 10 and "student3" not in work  # Only private notes.

    # As their dashboards and deadlines show it: handed in is the grade ("Annotated").
    seen = {}
    for username in ["student1", "student5", "student3"]:
        student = User.objects.get(username=username)
        given = with_work(Assignment.objects.seen_by(student).filter(item=item), student)
        (entry,) = student_items(student, given, timezone.now())
        seen[username] = (entry.label, entry.late)
    assert seen == {
        "student1": ("Annotated", False),
        "student5": ("In progress", False),
        "student3": ("Not started", False),
    }


def test_seeding_again_adds_no_note_vote_memo_review_or_work(demo):
    def rows():
        return (
            sorted(Annotation.objects.values_list()),
            sorted(AnnotationVote.objects.values_list()),
            sorted(map(str, Work.objects.filter(item__kind=ItemKind.ANNOTATION).values_list())),
            *(
                sorted(map(str, model.objects.values_list()))
                for model in (Memo, MemoVersion, MemoComment, PeerReview)
            ),
            sorted(map(str, Work.objects.filter(item__kind=ItemKind.ANALYSIS).values_list())),
        )

    before = rows()
    call_command("seed_demo", force=True, verbosity=0)
    assert rows() == before


# The written analysis (issue 24) ------------------------------------------------------


def test_the_written_analysis_was_handed_in_by_both_sections_a_few_days_ago(demo):
    """On Shanghai Bell (A), graded with the course's "Case memo" rubric, peer review on:
    due a few days ago (section B a day after A); memos of 150 to 400 words, citing the
    case's paragraphs, by students of both sections, one handed in twice, one late, and
    one only drafted; none tells what part B reveals."""
    analysis = _analysis(demo)
    item = analysis.item
    assert item.title == "Memo: Shanghai Bell's build-or-license decision"
    assert analysis.case.slug == "shanghai-bell" and analysis.peer_review
    assert analysis.reviews_each == 2
    assert item.rubric.title == "Case memo" and len(item.rubric.criteria) == 3
    assert all(3 <= len(c["levels"]) <= 4 for c in item.rubric.criteria)
    assert item.grade_category.name == "Written analyses"
    now = timezone.now()
    due = {a.cohort.name[-1]: a.due_at for a in item.assignments.select_related("cohort")}
    assert due["B"] - due["A"] == timedelta(days=1)
    assert now - timedelta(days=7) < due["A"] < due["B"] < now
    versions = list(MemoVersion.objects.filter(memo__item=item).select_related("memo__author"))
    authors = {v.memo.author for v in versions}
    sections = {m.cohort.name[-1] for a in authors for m in a.memberships.all()}
    assert len(authors) >= 6 and sections == {"A", "B"}
    paragraphs = {n for n, _text in paragraph_texts(analysis.case)}
    for version in versions:
        assert 150 <= version.word_count <= 400, version
        assert version.cited_paragraphs and set(version.cited_paragraphs) <= paragraphs
        assert not [term for term in OUTCOME if term in version.body.lower()], version
        assert len(version_blocks(version.body_html)) == version.body.count("\n\n") + 1
    assert max(v.number for v in versions) == 2
    late = []
    for version in versions:
        section = version.memo.author.memberships.get().cohort.name[-1]
        if version.submitted_at > due[section]:
            late.append(version.memo.author.username)
    assert late == ["student15"]
    drafted = Memo.objects.filter(item=item, versions__isnull=True)
    assert [m.author.username for m in drafted] == ["student5"] and drafted[0].draft
    states = dict(Work.objects.filter(item=item).values_list("user__username", "state"))
    assert states["student5"] == WorkStatus.IN_PROGRESS
    assert {states[a.username] for a in authors} == {WorkStatus.SUBMITTED}


def test_section_a_reviews_each_other_in_a_balanced_ring(demo):
    item = _analysis(demo).item
    reviews = list(PeerReview.objects.filter(item=item).select_related("version__memo"))
    section_a = {u.pk for u in _students("A")}
    assert reviews and all({r.reviewer_id, r.author_id} <= section_a for r in reviews)
    reviewers = [r.reviewer_id for r in reviews]
    authors = [r.author_id for r in reviews]
    assert {reviewers.count(x) for x in reviewers} == {2} == {authors.count(x) for x in authors}
    assert set(reviewers) == set(authors)
    for review in reviews:
        assert review.version.memo.author_id == review.author_id
        latest = MemoVersion.objects.filter(memo=review.version.memo).order_by("-number")[0]
        assert review.version == latest and review.position in (1, 2)
        if review.submitted_at:
            assert review.score == rubric_score(item.rubric, review.rubric_levels)
            assert review.comment and review.comment_html.startswith("<p>")
        else:
            assert review.score is None and not review.rubric_levels
    submitted = [r for r in reviews if r.submitted_at]
    assert 0 < len(submitted) < len(reviews)
    assert any(r.helpfulness for r in submitted)


def test_the_main_demo_student_reads_the_grade_and_the_comments_on_their_memo(demo, client):
    """student1's memo is graded with the rubric and a comment to them, with four
    comments anchored to its words, and section A's grades are released."""
    item = _analysis(demo).item
    student = User.objects.get(username="student1")
    work = Work.objects.get(item=item, user=student)
    assert work.rubric_score is not None and work.feedback
    version = MemoVersion.objects.get(memo__item=item, memo__author=student)
    comments = list(MemoComment.objects.filter(version=version))
    assert len(comments) == 4
    texts = [block.text for block in version_blocks(version.body_html)]
    document = Document(list(enumerate(texts, 1)))
    for comment in comments:
        last = comment.end_paragraph or comment.paragraph
        anchor = Anchor(comment.paragraph, comment.start, last, comment.end)
        assert texts[comment.paragraph - 1][comment.start : comment.end] == comment.quote
        assert document.context(anchor, 40) == (comment.prefix, comment.suffix)
        assert comment.body_html.startswith("<p>") and comment.author.username == "instructor"
    released = dict(item.assignments.values_list("cohort__name", "grades_released_at"))
    assert [name[-1] for name, at in released.items() if at] == ["A"]
    _as(client, "student1")
    grades = client.get(reverse("cases:student_grades", args=[demo.pk])).content.decode()
    assert escape(item.title) in grades and escape(work.feedback[:40]) in grades
    assert client.get(item.get_absolute_url()).status_code == 200
