"""Written analyses with the rest of the platform: the hand-in receipt and the audit
log, peer review's notifications, the tracker's side panel and timeline, the grading
queue and the gradebook, and the status every student page shows."""

import csv
import io
import itertools
import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core import mail
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from cases.models import (
    AuditAction,
    AuditEntry,
    Extension,
    GradeCategory,
    Memo,
    MemoVersion,
    Notification,
    NotificationKind,
    NotificationPreference,
    PeerReview,
    Rubric,
    User,
    Work,
    WorkStatus,
)
from cases.services.analyses import draft_save, memo_submit
from cases.services.gradebook import assignment_release, grade_categories_add_defaults
from cases.services.notifications import (
    due_reminders_send,
    handed_in_notify,
    peer_reviews_notify,
    review_received_notify,
)
from cases.services.workspace.grading import work_grade
from cases.services.workspace.work import student_work
from tests.factories import (
    CohortFactory,
    CourseFactory,
    ModuleFactory,
    UserFactory,
    enrol,
    make_analysis,
    make_case,
)
from tests.helpers import PAGE_BUDGET, data_queries, page_queries
from tests.workspace.test_status import _shown, _student_pages

pytestmark = pytest.mark.django_db

MEMO = "Shanghai Bell should license the switch, as ¶2 shows, and build on it."


@pytest.fixture
def commit(django_capture_on_commit_callbacks):
    """Run what waits for the transaction to commit (the email tasks) as a commit would."""
    return lambda: django_capture_on_commit_callbacks(execute=True)


@pytest.fixture
def memo_world(world):
    analysis = make_analysis(
        world.item.module, world.course.cohorts.all(), case=world.case, title="Memo: build or buy"
    )
    return world, analysis.item


def _classmates(world, count: int) -> list[User]:
    cohort = world.course.cohorts.get()
    return [world.users["student"], world.users["student_ta_elsewhere"], *enrol(cohort, count)]


# Notifications and the audit log -------------------------------------------------------


def test_handing_in_gives_a_receipt_once_per_version_and_an_audit_entry(memo_world, commit):
    world, item = memo_world
    student = world.users["student"]
    mail.outbox.clear()
    with commit():
        first = memo_submit(item=item, user=student, body=MEMO, nonce="a")
    with commit():  # The same form again: the same version, no second receipt.
        assert memo_submit(item=item, user=student, body=MEMO, nonce="a") == first
    receipts = Notification.objects.filter(kind=NotificationKind.HANDED_IN)
    [receipt] = receipts
    assert receipt.user == student and receipt.url == item.get_absolute_url()
    assert receipt.title.startswith("Handed in: Memo: build or buy, version 1, at ")
    assert "13 words" in receipt.body
    [message] = mail.outbox
    assert message.to == [student.email] and "version 1" in message.subject
    [entry] = AuditEntry.objects.filter(action=AuditAction.HAND_IN)
    assert (entry.actor, entry.subject, entry.course) == (student, student, world.course)
    assert "version 1" in entry.summary and "13 words" in entry.summary
    # Handed in again (new words): a second receipt, a second entry; the student has
    # turned off these emails meanwhile, so it shows in the app only.
    NotificationPreference.objects.create(
        user=student, kind=NotificationKind.HANDED_IN, email=False
    )
    with commit():
        memo_submit(item=item, user=student, body=MEMO + " Then design.", nonce="b")
    receipts = Notification.objects.filter(kind=NotificationKind.HANDED_IN)
    assert receipts.count() == 2 and "version 2" in receipts.first().title
    assert len(mail.outbox) == 1
    assert AuditEntry.objects.filter(action=AuditAction.HAND_IN).count() == 2
    # A repeated report of the same version notifies nobody again.
    assert handed_in_notify(MemoVersion.objects.get(number=2)) == 0


def test_a_file_receipt_names_the_file(memo_world):
    world, item = memo_world
    memo = Memo.objects.create(item=item, author=world.users["student"])
    version = MemoVersion.objects.create(
        memo=memo,
        number=1,
        file="memos/1/abc.pdf",
        file_name="My memo.pdf",
        file_type="pdf",
        submitted_at=timezone.now(),
    )
    assert handed_in_notify(version) == 1
    assert "the file My memo.pdf" in Notification.objects.get().body


def _reviews_ring(item, students: list[User], each: int = 2) -> list[PeerReview]:
    versions = {}
    for student in students:
        versions[student.pk] = memo_submit(item=item, user=student, body=f"{MEMO} {student.pk}")
    reviews = []
    for index, reviewer in enumerate(students):
        for position in range(1, each + 1):
            author = students[(index + position) % len(students)]
            reviews.append(
                PeerReview.objects.create(
                    item=item,
                    reviewer=reviewer,
                    author=author,
                    version=versions[author.pk],
                    position=position,
                )
            )
    return reviews


def test_reviewers_hear_once_per_item_how_many_and_by_when(memo_world, commit):
    world, item = memo_world
    students = _classmates(world, 2)
    reviews = _reviews_ring(item, students)
    assignment = item.assignments.get()
    # One reviewer has an extension: their reviews fall due three days after it.
    extended = assignment.due_at + timedelta(days=2)
    Extension.objects.create(assignment=assignment, user=students[1], due_at=extended)
    mail.outbox.clear()
    with commit():
        assert peer_reviews_notify(reviews) == 4
    with commit():  # Assigned again (or reported twice): nobody hears twice.
        assert peer_reviews_notify(reviews) == 0
    rows = Notification.objects.filter(kind=NotificationKind.PEER_REVIEW)
    assert rows.count() == 4
    # Emailed to each reviewer with an address.
    assert sorted(m.to[0] for m in mail.outbox) == sorted(s.email for s in students if s.email)
    mine = rows.get(user=students[0])
    assert mine.url == item.get_absolute_url()
    assert mine.title.startswith("2 memos to review for Memo: build or buy, due ")
    local = timezone.localtime(assignment.due_at + timedelta(days=3))
    assert f"{local:%-d %b %Y, %H:%M}" in mine.title
    theirs = rows.get(user=students[1]).title
    assert f"{timezone.localtime(extended + timedelta(days=3)):%-d %b %Y, %H:%M}" in theirs
    # No reviewer is told whose memos they are.
    for row in rows:
        for student in students:
            assert student.username not in row.title + row.body


def test_an_author_hears_of_each_review_without_the_reviewers_name(memo_world, commit):
    world, item = memo_world
    students = _classmates(world, 1)
    reviews = _reviews_ring(item, students, each=1)
    review = reviews[0]
    reviewer = review.reviewer
    reviewer.first_name, reviewer.last_name = "Zed", "Quill"
    reviewer.save()
    mail.outbox.clear()
    with commit():
        assert review_received_notify(review) == 1
    with commit():
        assert review_received_notify(review) == 0
    [row] = Notification.objects.filter(kind=NotificationKind.REVIEW_RECEIVED)
    assert row.user == review.author and row.url == item.get_absolute_url()
    assert row.title == "A classmate reviewed your memo for Memo: build or buy"
    [message] = mail.outbox
    assert "Quill" not in message.body and reviewer.username not in message.body
    # An author who turned these emails off still sees the next one in the app.
    NotificationPreference.objects.create(
        user=reviews[1].author, kind=NotificationKind.REVIEW_RECEIVED, email=False
    )
    with commit():
        review_received_notify(reviews[1])
    assert len(mail.outbox) == 1
    assert Notification.objects.filter(kind=NotificationKind.REVIEW_RECEIVED).count() == 2


# The tracker's side panel and the timeline ---------------------------------------------


def test_the_panel_and_timeline_show_versions_late_ones_and_the_draft(memo_world, client_for):
    world, item = memo_world
    student, other = world.users["student"], world.users["student_ta_elsewhere"]
    assignment = item.assignments.get()
    now = timezone.now()
    memo_submit(item=item, user=student, body=MEMO, now=now - timedelta(days=1))
    # The due date passes before the second version is handed in: that one is late.
    assignment.due_at = now - timedelta(hours=1)
    assignment.save()
    Extension.objects.create(assignment=assignment, user=student, due_at=now + timedelta(days=1))
    memo_submit(item=item, user=student, body=MEMO + " Later.", now=now)
    draft_save(item=item, user=other, body="Half a thought", seq=1)
    client = client_for("instructor")
    panel_url = reverse("cases:work_panel", args=[world.course.pk, student.pk, item.pk])
    panel = client.get(panel_url).content.decode()
    # Each version's line, its link (to the version's page) read as its text.
    lines = [
        re.sub(r"<a [^>]*>|</a>", "", line)
        for line in re.findall(r"<li>((?:<a [^>]*>)?Version \d.*?)</li>", panel, re.S)
    ]
    assert [line.split(",")[0] for line in lines] == ["Version 2", "Version 1"]
    assert "13 words" in lines[1] and "late" not in lines[1]
    assert "late" not in lines[0]  # Within the student's extension.
    Extension.objects.all().delete()
    panel = client.get(panel_url).content.decode()
    # Each version's line, its link (to the version's page) read as its text.
    lines = [
        re.sub(r"<a [^>]*>|</a>", "", line)
        for line in re.findall(r"<li>((?:<a [^>]*>)?Version \d.*?)</li>", panel, re.S)
    ]
    assert 'tag--late">late' in lines[0] and "late" not in lines[1]
    # The classmate who only drafted: the draft's last save, no version.
    other_panel = client.get(
        reverse("cases:work_panel", args=[world.course.pk, other.pk, item.pk])
    ).content.decode()
    assert "Draft last saved" in other_panel and "Version 1" not in other_panel
    assert "Nothing yet." not in other_panel
    # The same panel opened with the tracker page.
    tracker = client.get(
        reverse("cases:tracker", args=[world.course.pk]) + f"?student={student.pk}&item={item.pk}"
    ).content.decode()
    assert "Version 2" in tracker and "Version 1" in tracker
    # The timeline lists each version, newest first, and the draft.
    timeline = client.get(
        reverse("cases:student_timeline", args=[world.course.pk, student.pk])
    ).content.decode()
    assert timeline.index("Handed in version 2 of “Memo: build or buy”") < timeline.index(
        "Handed in version 1 of “Memo: build or buy” (13 words)"
    )
    other_timeline = client.get(
        reverse("cases:student_timeline", args=[world.course.pk, other.pk])
    ).content.decode()
    assert "Last saved a draft of “Memo: build or buy”" in other_timeline


def test_student_work_reads_memos_in_one_query_with_their_memo_and_item(memo_world):
    world, item = memo_world
    student = world.users["student"]
    memo_submit(item=item, user=student, body=MEMO, nonce="1")
    memo_submit(item=item, user=student, body=MEMO + " Again.", nonce="2")
    for scope in (item, None):
        with CaptureQueriesContext(connection) as queries:
            found = student_work(world.course, student, scope)
            titles = [v.memo.item.title for v in found["memos"]]
            drafts = [m.draft_saved_at for m in found["drafts"]]
        assert [v.number for v in found["memos"]] == [2, 1]
        assert titles == ["Memo: build or buy"] * 2 and drafts == [None]
        assert found["memos"][0].body == MEMO + " Again."
        assert found["memos"][1].cited_paragraphs == [2]
        memo_queries = [q for q in queries.captured_queries if "cases_memo" in q["sql"]]
        assert len(memo_queries) == 1, memo_queries
        if scope is item:
            assert data_queries(queries) == 1


CLASSES = itertools.count()


def _analysis_class(size: int) -> dict:
    instructor = UserFactory()
    cohort = CohortFactory()
    students = enrol(cohort, size)
    course = CourseFactory(instructors=[instructor], cohorts=[cohort])
    case = make_case(slug=f"memo-{next(CLASSES)}", created_by=instructor)
    analysis = make_analysis(ModuleFactory(course=course), [cohort], case=case)
    for student in students[:3]:
        memo_submit(item=analysis.item, user=student, body=MEMO, nonce="x")
        memo_submit(item=analysis.item, user=student, body=MEMO + " More.", nonce="y")
    return {
        "course": course,
        "instructor": instructor,
        "student": students[0],
        "item": analysis.item,
    }


def test_the_tracker_with_an_analysis_panel_open_keeps_its_budget(client):
    def url(w):
        base = reverse("cases:tracker", args=[w["course"].pk])
        return f"{base}?student={w['student'].pk}&item={w['item'].pk}"

    counts = page_queries(client, _analysis_class, (20, 200), "instructor", url)
    print(f"tracker with an analysis panel, queries at 20 and 200 students: {counts}")
    assert counts[0] == counts[1] and counts[1] <= PAGE_BUDGET + 2, counts
    timeline = page_queries(
        client,
        _analysis_class,
        (20, 200),
        "instructor",
        lambda w: reverse("cases:student_timeline", args=[w["course"].pk, w["student"].pk]),
    )
    print(f"timeline with memos, queries at 20 and 200 students: {timeline}")
    assert timeline[0] == timeline[1] and timeline[1] <= PAGE_BUDGET, timeline


# The grading queue and the gradebook ---------------------------------------------------


def _case_memo_rubric(course) -> Rubric:
    levels = [{"label": "Thin", "points": 1}, {"label": "Sound", "points": 3}]
    return Rubric.objects.create(
        course=course,
        title="Case memo",
        criteria=[{"name": name, "levels": levels} for name in ("Position", "Evidence")],
    )


def test_a_memo_handed_in_waits_in_the_queue_until_graded_then_shows_everywhere(
    memo_world, client_for
):
    world, item = memo_world
    student = world.users["student"]
    item.rubric = _case_memo_rubric(world.course)
    item.save()
    grade_categories_add_defaults(course=world.course)
    item.refresh_from_db()
    assert item.grade_category.name == "Written analyses"
    instructor = client_for("instructor")
    queue_url = reverse("cases:grading_queue", args=[world.course.pk])
    assert item.title not in instructor.get(queue_url).content.decode()
    # The student hands in: the queue lists the item with one memo waiting.
    memo_submit(item=item, user=student, body=MEMO, nonce="q")
    queue = instructor.get(queue_url).content.decode()
    grader_url = reverse("cases:grade_work", args=[item.pk, student.pk])
    assert f'href="{grader_url}">{item.title}</a>: 1 student to grade' in queue
    # Graded with the rubric: 3 + 1 of 6 points.
    work_grade(
        item=item,
        student=student,
        grader=world.users["instructor"],
        rubric_levels={"0": 1, "1": 0},
        feedback="A clear position; bring in more of the case.",
    )
    assert item.title not in instructor.get(queue_url).content.decode()
    assignment = item.assignments.get()
    points = (Decimal(assignment.points) * 4 / 6).quantize(Decimal("0.01"))
    tracker = instructor.get(reverse("cases:tracker", args=[world.course.pk])).content.decode()
    assert re.search(
        rf'cell--graded"><a href="[^"]*student={student.pk}&amp;item={item.pk}"', tracker
    )
    assert f"Graded <b>{points}</b>" in tracker
    # The gradebook's export has the memo's column and the student's points in it.
    export = instructor.get(reverse("cases:gradebook_csv", args=[world.course.pk]))
    rows = list(csv.reader(io.StringIO(b"".join(export.streaming_content).decode("utf-8-sig"))))
    column = next(i for i, name in enumerate(rows[0]) if item.title in name)
    assert "Written analyses (%)" in rows[0]
    [row] = [r for r in rows[1:] if r[0] == student.username]
    assert Decimal(row[column]) == points
    # The student sees the points once the grades are released.
    mine = client_for("student")
    grades_url = reverse("cases:student_grades", args=[world.course.pk])
    assert str(points) not in mine.get(grades_url).content.decode()
    assignment_release(assignment=assignment, released=True)
    page = mine.get(grades_url).content.decode()
    assert str(points) in page and item.title in page


def test_without_a_rubric_a_memo_waits_for_points(memo_world, client_for):
    world, item = memo_world
    student = world.users["student"]
    memo_submit(item=item, user=student, body=MEMO)
    work = Work.objects.get(item=item, user=student)
    assert work.needs_grading and work.state == WorkStatus.SUBMITTED
    queue_url = reverse("cases:grading_queue", args=[world.course.pk])
    assert f"{item.title}</a>: 1 student" in client_for("ta").get(queue_url).content.decode()
    assert GradeCategory.objects.filter(course=world.course).count() == 0


# What each student page says -----------------------------------------------------------


def test_every_student_page_says_where_a_memo_stands(memo_world, client_for):
    world, item = memo_world
    student = world.users["student"]
    assignment = item.assignments.get()
    assignment.due_at = timezone.now() + timedelta(hours=6)
    assignment.late_policy = "accept"
    assignment.save()
    client = client_for("student")

    def shown():
        pages = _student_pages(client, world.course)
        return {name: _shown(html, item.pk) for name, html in pages.items()}, pages

    seen, _pages = shown()
    assert set(seen.values()) == {"not_started"}
    # A draft only: in progress on every page, and reminded that it falls due.
    draft_save(item=item, user=student, body="A first thought", seq=1)
    seen, pages = shown()
    assert set(seen.values()) == {"in_progress"}
    assert "In progress" in pages["course page"]
    assert due_reminders_send() == 2  # The student, and the classmate who did nothing.
    assert Notification.objects.filter(kind=NotificationKind.DUE_SOON, user=student).exists()
    # Past the due date with no version: late, and overdue on the dashboard.
    assignment.due_at = timezone.now() - timedelta(hours=1)
    assignment.save()
    seen, pages = shown()
    assert set(seen.values()) == {"late"}
    overdue = pages["dashboard"].split('id="overdue-heading"')[1].split("</section>")[0]
    assert f'href="/items/{item.pk}/"' in overdue
    # Handed in after the due date: handed in, marked late, no longer overdue.
    memo_submit(item=item, user=student, body=MEMO)
    seen, pages = shown()
    assert set(seen.values()) == {"submitted"}
    assert "Handed in late" in pages["course page"]
    assert ">Handed in<" in pages["course page"]
    overdue = pages["dashboard"].split('id="overdue-heading"')
    assert len(overdue) == 1 or f'href="/items/{item.pk}/"' not in overdue[1].split("</section>")[0]


# Graded, then handed in again ----------------------------------------------------------


def _text(html: str) -> str:
    """What a piece of a page reads as: its words, without the markup."""
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


def test_a_memo_handed_in_again_after_its_grade_reads_the_same_on_every_page(
    memo_world, client_for
):
    """Given 8 of 10 points in the grader and released, then handed in again: the
    gradebook and its CSV, the grade page, the tracker and its panel, the grader and the
    student's grades all say it waits for a grade, with 8 as the earlier grade, which
    counts nowhere; hidden from the student and released again meanwhile. The TA saving
    the points again makes 8 the grade everywhere; handed in a third time, the
    instructor gives 9."""
    world, item = memo_world
    course, student = world.course, world.users["student"]
    grade_categories_add_defaults(course=course)
    assignment = item.assignments.get()
    ta, instructor, mine = Client(), client_for("instructor"), Client()
    ta.force_login(world.users["ta"])
    mine.force_login(student)
    grader_url = reverse("cases:grade_work", args=[item.pk, student.pk])
    grade_url = reverse("cases:grade_edit", args=[course.pk, student.pk, item.pk])
    panel_url = reverse("cases:work_panel", args=[course.pk, student.pk, item.pk])

    def grade(client, **changes):
        """The grader's form posted back as shown, with `changes`."""
        form = client.get(grader_url).context["form"]
        shown = {k: v for k, v in form.initial.items() if v is not None}
        data = shown | {f"initial-{k}": v for k, v in shown.items()} | changes
        assert client.post(grader_url, data).status_code == 302

    def release(shown: bool):
        url = reverse("cases:assignment_release", args=[assignment.pk])
        instructor.post(url, {"release": "1" if shown else "0"})

    def pages() -> dict[str, str]:
        """What each page says of the student's memo."""
        gradebook = instructor.get(reverse("cases:gradebook", args=[course.pk])).text
        cell = re.search(rf'<a href="{grade_url}\?[^"]*"[^>]*>(.*?)</td>', gradebook, re.S)
        export = instructor.get(reverse("cases:gradebook_csv", args=[course.pk]))
        rows = list(csv.reader(io.StringIO(b"".join(export.streaming_content).decode("utf-8-sig"))))
        column = next(i for i, name in enumerate(rows[0]) if item.title in name)
        [row] = [r for r in rows[1:] if r[0] == student.username]
        grade_page = instructor.get(grade_url).text
        tracker = instructor.get(reverse("cases:tracker", args=[course.pk])).text
        tracker_cell = re.search(
            rf'<a href="[^"]*[?;]student={student.pk}&amp;item={item.pk}"[^>]*>(.*?)</a>',
            tracker,
            re.S,
        )
        panel = re.search(r"<p>(<span class=\"tag tag--.*?)</p>", ta.get(panel_url).text, re.S)
        grades = mine.get(reverse("cases:student_grades", args=[course.pk])).text
        line = re.search(rf">{item.title}</a></th>(.*?)</tr>", grades, re.S)
        latest = MemoVersion.objects.filter(memo__item=item).order_by("number").last()
        version = mine.get(reverse("cases:memo_version", args=[latest.pk])).text
        return {
            "gradebook": _text(cell[1]),
            "csv": row[column],
            "status": _text(re.search(r"<dt>Status</dt><dd>(.*?)</dd>", grade_page)[1]),
            "grade now": _text(re.search(r"<dt>Grade now</dt><dd>(.*?)</dd>", grade_page)[1]),
            "tracker": _text(tracker_cell[1]),
            "panel": _text(panel[1]),
            "student": _text(line[1]).split(" ", 4)[-1],  # After the due date.
            "version": _text(re.search(r'id="grade-heading">(.*?)</h2>', version)[1]),
        }

    waiting = {
        "gradebook": "— to grade was 8",
        "csv": "to grade (was 8.00)",
        "status": "Handed in again",
        "grade now": "none yet: to grade (was 8 / 10)",
        "tracker": "Handed in (was 8)",
        "panel": "Handed in again · to grade (was 8 / 10)",
        "student": "Handed in again, not graded yet (your earlier grade: 8 / 10, not counted"
        " until then) On what you handed in before: Cite more of the case.",
        "version": "Your earlier grade",
    }

    def graded(points: str) -> dict[str, str]:
        return {
            "gradebook": points,
            "csv": f"{points}.00",
            "status": "Graded",
            "grade now": f"{points} / 10",
            "tracker": f"Graded {points}",
            "panel": f"Graded · {points} / 10 points",
            "student": f"{points} / 10 Cite more of the case.",
            "version": "Your grade",
        }

    memo_submit(item=item, user=student, body=MEMO, nonce="1")
    grade(ta, participation="8", feedback="Cite more of the case.")
    release(True)
    assert pages() == graded("8")
    grades_url = reverse("cases:student_grades", args=[course.pk])
    assert "Your course grade so far: <strong>80.0%</strong>" in mine.get(grades_url).text
    # Handed in again: waiting for a grade on every page, 8 only as the earlier one.
    memo_submit(item=item, user=student, body=MEMO + " With ¶3 too.", nonce="2")
    assert pages() == waiting
    assert "Your course grade so far" not in mine.get(grades_url).text  # 8 counts nowhere.
    grader = ta.get(grader_url)
    assert grader.context["form"].initial["participation"] == Decimal(8)
    assert "The grade below is the earlier one (8 / 10)" in _text(grader.text)
    # Hidden from the student and released again: the earlier grade goes and comes back.
    release(False)
    hidden = mine.get(grades_url).text
    assert "Not released" in hidden and "Cite more of the case." not in hidden
    release(True)
    assert pages() == waiting
    # The TA saves the points as they are: 8 is the grade of the new version.
    grade(ta)
    assert pages() == graded("8")
    assert "earlier one" not in ta.get(grader_url).text
    # Handed in a third time, and the instructor gives 9.
    memo_submit(item=item, user=student, body=MEMO + " And ¶1.", nonce="3")
    assert pages() == waiting
    grade(instructor, participation="9")
    assert pages() == graded("9")
