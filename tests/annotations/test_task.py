"""The annotation assignment as a kind of item: built in the builder, given to a
cohort, handed in by writing substantive notes, followed by the tracker, graded in the
grader and the gradebook, copied with its course."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape

from cases.models import (
    AnnotationTask,
    Assignment,
    ItemKind,
    ModuleItem,
    Visibility,
    Work,
    WorkStatus,
)
from cases.permissions import CaseAccess
from cases.services.annotations import (
    Selection,
    annotation_create,
    annotation_delete,
    annotation_moderate,
    annotation_reply,
    note_counts,
)
from tests.factories import (
    CohortFactory,
    CourseFactory,
    ModuleFactory,
    UserFactory,
    enrol,
    make_annotation_task,
    make_case,
)
from tests.helpers import PAGE_BUDGET, page_queries

pytestmark = pytest.mark.django_db

STUDENT = CaseAccess(is_teaching_staff=False, can_edit=False)
STAFF = CaseAccess(is_teaching_staff=True, can_edit=False)
LONG = "Headcount in research is an input, not an outcome: the case never says what they made."
SHORT = "Interesting."


def _note(case, author, body=LONG, visibility=Visibility.COHORT, *, start=0, access=STUDENT):
    """A note on the first words of the case's first paragraph."""
    first = case.paragraphs.order_by("position").first().number
    return annotation_create(
        case=case,
        author=author,
        access=access,
        selection=Selection(first, start, first, start + 13),
        body=body,
        visibility=visibility,
    )


def _work(item, user) -> Work | None:
    return Work.objects.filter(item=item, user=user).first()


def _panel(client, world, item, student):
    url = reverse("cases:work_panel", args=[world.course.pk, student.pk, item.pk])
    return client.get(url).content.decode()


def _build(client, world, **fields):
    data = {
        "kind": ItemKind.ANNOTATION,
        "title": "Annotate Shanghai Bell",
        "module": world.item.module_id,
        "case": world.case.pk,
        "min_notes": "3",
        "min_words": "15",
        "cohorts": [world.course.cohorts.get().pk],
        "due_at": (timezone.localtime() + timedelta(days=2)).strftime("%Y-%m-%dT%H:%M"),
    } | fields
    return client.post(reverse("cases:item_create", args=[world.course.pk]), data)


def test_an_annotation_assignment_is_built_handed_in_hidden_late_and_graded(world, client_for):
    student, instructor = world.users["student"], world.users["instructor"]
    client = client_for("instructor")

    # The builder offers the kind, and asks for its own fields with their defaults.
    page = client.get(reverse("cases:item_create", args=[world.course.pk]), {"kind": "annotation"})
    html = page.content.decode()
    assert "Case to annotate" in html and 'name="min_notes"' in html and 'value="3"' in html
    assert 'name="annotate_first"' in html and 'name="prompt"' not in html

    # Bad input is refused beside its field, and what was typed is kept.
    refused = _build(client, world, case="", min_notes="0", min_words="many")
    assert refused.status_code == 200
    html = refused.content.decode()
    assert "Choose the case to annotate." in html
    assert "Ask for at least one note." in html
    assert "Write a whole number of words." in html
    assert 'value="Annotate Shanghai Bell"' in html
    assert not ModuleItem.objects.filter(kind=ItemKind.ANNOTATION).exists()

    response = _build(client, world, annotate_first="on")
    item = ModuleItem.objects.get(kind=ItemKind.ANNOTATION)
    assert response.status_code == 302 and response["Location"] == item.get_absolute_url()
    task = item.annotation_task
    assert (task.case, task.min_notes, task.min_words, task.annotate_first) == (
        world.case,
        3,
        15,
        True,
    )
    assert item.assignments.get().cohort == world.course.cohorts.get()
    # Its page opens for its student and its staff.
    assert client.get(item.get_absolute_url()).status_code == 200
    assert client_for("student").get(item.get_absolute_url()).status_code == 200
    client = client_for("instructor")

    # Two substantive notes, a short one, a private one and a long question to the
    # instructor (which the class does not read): in progress, two counted.
    _note(world.case, student)
    _note(world.case, student, start=1)
    _note(world.case, student, SHORT, start=2)
    private = _note(world.case, student, LONG, Visibility.PRIVATE, start=3)
    _note(world.case, student, LONG, Visibility.INSTRUCTOR, start=6)
    work = _work(item, student)
    assert work.state == WorkStatus.IN_PROGRESS
    assert (work.auto_score, work.max_score) == (2, 3)
    html = _panel(client, world, item, student)
    assert "tag--in_progress" in html
    assert html.count("(counts)") == 2 and "too short to count" in html
    assert "a question to the instructor · " in html and "words (questions do not count)" in html
    assert escape(private.body) not in html.replace(escape(LONG), "", 4)  # Never shown.
    assert html.count("Note on ¶") == 4  # The private note is its author's alone.
    assert note_counts(task, [student.pk])[student.pk].substantive == 2
    # The student's own count, on the item's page, says the same.
    mine = client_for("student").get(item.get_absolute_url()).content.decode()
    assert "2 of 3 substantive notes" in mine
    client = client_for("instructor")

    # A reply counts too; written twice (one form), it is one reply.
    other = UserFactory(username="classmate")
    world.course.cohorts.get().members.add(other)
    classmate_note = _note(world.case, other)
    reply = annotation_reply(thread=classmate_note, author=student, body=LONG, nonce="form-1")
    assert (
        annotation_reply(thread=classmate_note, author=student, body=LONG, nonce="form-1") == reply
    )
    work = _work(item, student)
    assert work.state == WorkStatus.SUBMITTED
    assert work.submitted_at == reply.created_at
    assert not _late_mark(client, world, item, student)
    # Handing in was the grade: the student reads it in the kind's words.
    course_page = client_for("student").get(world.course.get_absolute_url()).content.decode()
    assert "Annotated" in course_page
    client = client_for("instructor")

    # The author deletes the reply: back in progress. The staff hide one: still.
    annotation_delete(note=reply)
    assert _work(item, student).state == WorkStatus.IN_PROGRESS
    third = _note(world.case, student, start=4)
    assert _work(item, student).state == WorkStatus.SUBMITTED
    annotation_moderate(note=third, action="hide", reason="Copied from the case.")
    annotation_moderate(note=third, action="hide", reason="Copied from the case.")
    work = _work(item, student)
    assert work.state == WorkStatus.IN_PROGRESS and work.submitted_at is None
    html = _panel(client, world, item, student)
    assert "tag--in_progress" in html and "Copied from the case." in html
    # The tracker opens the same panel with its page; its cell says the same.
    tracker = client.get(
        reverse("cases:tracker", args=[world.course.pk]), {"student": student.pk, "item": item.pk}
    ).content.decode()
    assert "Copied from the case." in tracker and "tag--in_progress" in tracker

    # The due date passes before the last note: handed in, marked late.
    Assignment.objects.filter(item=item).update(due_at=timezone.now() - timedelta(hours=1))
    assert "tag--late" in _panel(client, world, item, student)  # Late, nothing handed in.
    _note(world.case, student, start=5)
    work = _work(item, student)
    assert work.state == WorkStatus.SUBMITTED
    html = _panel(client, world, item, student)
    assert "Handed in late" in html
    assert _late_mark(client, world, item, student)

    # The grader shows the notes in full; the instructor overrides the grade in the
    # gradebook's editor and writes a comment.
    grader = client.get(reverse("cases:grade_work", args=[item.pk, student.pk]))
    html = grader.content.decode()
    assert grader.status_code == 200
    # Four notes others read, the question and the hidden one, marked; not the private
    # or deleted.
    assert html.count('class="post note"') == 6
    assert html.count("<strong>hidden</strong>: Copied from the case.") == 1
    edit = reverse("cases:grade_edit", args=[world.course.pk, student.pk, item.pk])
    for _ in range(2):
        saved = client.post(
            edit,
            {
                "override_score": "7.5",
                "override_reason": "Strong notes, one copied.",
                "feedback": "Cite the figures.",
                "initial-override_score": "",
                "initial-override_reason": "",
                "initial-feedback": "",
                "initial-excused": "",
            },
        )
        assert saved.status_code == 302
    work = _work(item, student)
    assert work.override_score == Decimal("7.5") and work.graded_by == instructor
    gradebook = client.get(reverse("cases:gradebook", args=[world.course.pk])).content.decode()
    assert "7.5" in gradebook
    assert "tag--graded" in _panel(client, world, item, student)


def _late_mark(client, world, item, student) -> bool:
    return "Handed in late" in _panel(client, world, item, student)


def test_the_settings_page_changes_what_counts_and_work_follows(world, client_for):
    student = world.users["student"]
    task = make_annotation_task(
        world.item.module, world.case, world.course.cohorts.all(), min_notes=3
    )
    _note(world.case, student)
    _note(world.case, student, start=1)
    assert _work(task.item, student).state == WorkStatus.IN_PROGRESS
    url = reverse("cases:annotation_settings", args=[task.item.pk])
    client = client_for("instructor")
    assert "Annotation settings" in client.get(url).content.decode()

    refused = client.post(url, {"case": world.case.pk, "min_notes": "51", "min_words": "0"})
    assert refused.status_code == 200
    html = refused.content.decode()
    assert "Ask for at most 50 notes." in html and "A note needs at least one word." in html
    task.refresh_from_db()
    assert task.min_notes == 3

    # Asking two notes hands in the student's work at once; twice changes nothing more.
    for _ in range(2):
        saved = client.post(url, {"case": world.case.pk, "min_notes": "2", "min_words": "15"})
        assert saved.status_code == 302
    task.refresh_from_db()
    assert (task.min_notes, task.annotate_first) == (2, False)
    assert _work(task.item, student).state == WorkStatus.SUBMITTED
    # The item's edit page links its settings; a TA may not change them.
    edit = client.get(reverse("cases:item_edit", args=[task.item.pk])).content.decode()
    assert url in edit
    assert client_for("ta").post(url, {"min_notes": "9"}).status_code == 403


def test_work_written_by_the_old_rule_is_worked_out_again_by_the_command(world):
    """Before 6a45d77 a question to the instructor counted: a student's row says handed
    in, 3 of 3. `work_resync` brings it to what the rule says now, keeps the grader's
    comment, and a second run changes nothing."""
    from io import StringIO

    from django.core.management import call_command

    task = make_annotation_task(
        world.item.module, world.case, world.course.cohorts.all(), min_notes=3, min_words=5
    )
    student = world.users["student"]
    for start in range(3):
        _note(world.case, student, LONG, Visibility.INSTRUCTOR, start=start)
    assert _work(task.item, student) is None  # Questions alone start nothing now.
    Work.objects.create(
        item=task.item,
        user=student,
        state=WorkStatus.SUBMITTED,
        opened_at=timezone.now(),
        submitted_at=timezone.now(),
        auto_score=3,
        max_score=3,
        feedback="Ask more.",
    )
    said = StringIO()
    call_command("work_resync", kind=[ItemKind.ANNOTATION], stdout=said)
    work = _work(task.item, student)
    assert (work.state, work.auto_score, work.submitted_at) == (WorkStatus.NOT_STARTED, None, None)
    assert work.feedback == "Ask more."
    assert "1 item worked out again; 1 changed." in said.getvalue()
    call_command("work_resync", stdout=said)
    assert said.getvalue().endswith("0 changed.\n")


def test_staff_notes_and_other_courses_students_make_no_work(world):
    """Notes are kept per case: only students given the item have Work on it."""
    task = make_annotation_task(world.item.module, world.case, world.course.cohorts.all())
    _note(world.case, world.users["instructor"], access=STAFF)
    _note(world.case, world.users["other_student"])
    assert not Work.objects.filter(item=task.item).exists()
    _note(world.case, world.users["student"])
    assert Work.objects.filter(item=task.item).get().user == world.users["student"]


def test_a_course_copy_keeps_its_annotation_assignment(world, client_for):
    task = make_annotation_task(
        world.item.module, world.case, world.course.cohorts.all(), min_notes=4, min_words=20
    )
    _note(world.case, world.users["student"])
    response = client_for("instructor").post(
        reverse("cases:course_duplicate", args=[world.course.pk]),
        {"code": "MGT 6001 (2027)", "title": "Again"},
    )
    assert response.status_code == 302
    copy = AnnotationTask.objects.get(item__module__course__code="MGT 6001 (2027)")
    assert (copy.case, copy.min_notes, copy.min_words) == (world.case, 4, 20)
    assert copy.item.kind == ItemKind.ANNOTATION and copy.pk != task.pk
    assert not Work.objects.filter(item=copy.item).exists()  # No cohorts, no work.


def test_the_notes_report_counts_each_students_notes_beside_their_status(world, client_for):
    student, ta_student = world.users["student"], world.users["student_ta_elsewhere"]
    task = make_annotation_task(
        world.item.module, world.case, world.course.cohorts.all(), min_notes=2
    )
    first = _note(world.case, student)
    _note(world.case, student, SHORT, start=1)
    _note(world.case, student, LONG, Visibility.PRIVATE, start=2)
    annotation_reply(thread=first, author=ta_student, body=LONG)
    url = reverse("cases:annotation_report", args=[task.item.pk])
    for role in ("instructor", "ta"):
        html = client_for(role).get(url).content.decode()
        row = html.split(escape(student.display_name))[1].split("</tr>")[0]
        # Two notes others read, one substantive, its words, one reply, no upvotes.
        cells = [c.split("</td>")[0] for c in row.split("<td>")[1:6]]
        words = len(LONG.split()) + len(SHORT.split())
        assert cells == ["2", "1 / 2", str(words), "1", "0"], cells
        assert "tag--in_progress" in row
        other = html.split(escape(ta_student.display_name))[1].split("</tr>")[0]
        assert "tag--in_progress" in other and "1 / 2" in other
    # The panel links the report; the report links the grader.
    panel = _panel(client_for("instructor"), world, task.item, student)
    assert url in panel
    assert reverse("cases:grade_work", args=[task.item.pk, student.pk]) in html


def test_the_notes_report_pages_a_large_class(client):
    world = _annotated_class(120)
    client.force_login(world["instructor"])
    url = reverse("cases:annotation_report", args=[world["item"].pk])
    first = client.get(url).content.decode()
    assert "Page 1 of 3" in first and first.count('class="tag tag--') == 50
    last = client.get(url, {"page": "3"}).content.decode()
    assert last.count('class="tag tag--') == 20
    assert client.get(url, {"page": "99"}).content.decode().count('class="tag tag--') == 50


def _annotated_class(size: int):
    """A course of `size` students in two cohorts given an annotation assignment, the
    first ten with notes on its case."""
    instructor = UserFactory()
    cohorts = [CohortFactory(), CohortFactory()]
    students = enrol(cohorts[0], size - size // 2, prefix=f"n{size}a-")
    students += enrol(cohorts[1], size // 2, prefix=f"n{size}b-")
    course = CourseFactory(instructors=[instructor], cohorts=cohorts)
    case = make_case(slug=f"annotated-{size}", created_by=instructor)
    task = make_annotation_task(ModuleFactory(course=course), case, cohorts, min_notes=2)
    for n, student in enumerate(students[:10]):
        _note(case, student, start=n)
    return {
        "course": course,
        "instructor": instructor,
        "student": students[0],
        "item": task.item,
    }


STAFF_PAGES = [
    lambda w: reverse("cases:annotation_report", args=[w["item"].pk]),
    lambda w: reverse("cases:annotation_settings", args=[w["item"].pk]),
    lambda w: reverse("cases:grade_work", args=[w["item"].pk, w["student"].pk]),
    lambda w: reverse("cases:work_panel", args=[w["course"].pk, w["student"].pk, w["item"].pk]),
    lambda w: reverse("cases:student_timeline", args=[w["course"].pk, w["student"].pk]),
]


@pytest.mark.parametrize("url", STAFF_PAGES)
def test_annotation_staff_pages_cost_the_same_queries_for_15_or_150_students(client, url):
    counts = page_queries(client, _annotated_class, (15, 150), "instructor", url)
    print(f"queries at 15 and 150 students: {counts}")
    assert counts[0] == counts[1], counts
    assert counts[1] <= PAGE_BUDGET, counts


def test_the_tracker_with_an_annotation_panel_open_stays_within_its_budget(client):
    def url(w):
        base = reverse("cases:tracker", args=[w["course"].pk])
        return f"{base}?student={w['student'].pk}&item={w['item'].pk}"

    counts = page_queries(client, _annotated_class, (15, 150), "instructor", url)
    print(f"tracker with a panel, queries at 15 and 150 students: {counts}")
    assert counts[0] == counts[1], counts
    assert counts[1] <= PAGE_BUDGET + 2, counts


def test_replies_under_a_hidden_note_stop_counting_and_count_again_when_shown(world):
    task = make_annotation_task(world.item.module, world.case, world.course.cohorts.all())
    AnnotationTask.objects.filter(pk=task.pk).update(min_notes=1)
    replier = world.users["student_ta_elsewhere"]  # A classmate in section A.
    note = _note(world.case, world.users["student"], body=SHORT)
    annotation_reply(thread=note, author=replier, body=LONG)
    assert _work(task.item, replier).state == WorkStatus.SUBMITTED
    annotation_moderate(note=note, action="hide", reason="Off topic.")
    assert _work(task.item, replier).state == WorkStatus.NOT_STARTED
    note_counts_after = note_counts(AnnotationTask.objects.get(pk=task.pk), [replier.pk])
    assert replier.pk not in note_counts_after
    annotation_moderate(note=note, action="unhide")
    assert _work(task.item, replier).state == WorkStatus.SUBMITTED


def test_the_grader_never_says_a_hidden_note_or_a_reply_under_one_counts(world, client_for):
    """The staff hide a student's note, and a classmate's note the student replied
    under: neither counts for the assignment (the work is in progress, 1 of 3), so the
    panel and the grader mark only the note still shown as counting."""
    task = make_annotation_task(world.item.module, world.case, world.course.cohorts.all())
    student, classmate = world.users["student"], world.users["student_ta_elsewhere"]
    _note(world.case, student)
    hidden = _note(world.case, student, start=1)
    theirs = _note(world.case, classmate, start=2)
    annotation_reply(thread=theirs, author=student, body=LONG)
    annotation_moderate(note=hidden, action="hide", reason="Copied from the case.")
    annotation_moderate(note=theirs, action="hide", reason="Off topic.")
    work = _work(task.item, student)
    assert work.state == WorkStatus.IN_PROGRESS and work.auto_score == 1
    client = client_for("instructor")
    html = _panel(client, world, task.item, student)
    assert html.count("(counts)") == 1
    grader = client.get(reverse("cases:grade_work", args=[task.item.pk, student.pk])).text
    assert grader.count("(counts)") == 1
    assert "hidden, does not count" in grader


def test_the_count_beside_the_case_follows_each_note_written_with_htmx(world, client_for):
    """A student writes notes from the reader with htmx (the page is not reloaded): the
    answer to each brings the assignment's count beside the case along, out of band,
    so the third substantive note shows "3 of 3" and its tick, not the "2 of 3" the
    page was opened with; a reply counts the same way."""
    task = make_annotation_task(world.item.module, world.case, world.course.cohorts.all())
    student, classmate = world.users["student"], world.users["student_ta_elsewhere"]
    theirs = _note(world.case, classmate)
    _note(world.case, student)
    client = client_for("student")
    page = client.get(task.item.get_absolute_url()).text
    assert f'id="task-progress-{task.item_id}"' in page and "1 of 3 substantive notes" in page
    first = world.case.paragraphs.order_by("position").first().number
    url = reverse("cases:annotation_list", args=[world.case.slug])
    note = {"paragraph": first, "body": LONG, "visibility": "cohort", "nonce": "n-2"}
    answer = client.post(url, note, headers={"HX-Request": "true"}).text
    assert "2 of 3 substantive notes" in answer and 'hx-swap-oob="true"' in answer
    reply = {"body": LONG, "nonce": "n-3"}
    answer = client.post(
        reverse("cases:annotation_reply", args=[theirs.pk]), reply, headers={"HX-Request": "true"}
    ).text
    assert "3 of 3 substantive notes ✓" in answer
    assert _work(task.item, student).state == WorkStatus.SUBMITTED
    # The staff, writing their own notes, are shown no count of their own.
    client = client_for("instructor")
    staff = {"paragraph": first, "body": LONG, "visibility": "cohort", "nonce": "s-1"}
    assert "substantive notes" not in client.post(url, staff, headers={"HX-Request": "true"}).text


def test_the_assignment_beside_the_case_says_when_it_is_due_extension_included(world, client_for):
    """A student opening an annotation assignment reads by when it is due, as a quiz or
    a memo says it; once given an extension, their own later date, marked extended."""
    from cases.models import Extension

    task = make_annotation_task(world.item.module, world.case, world.course.cohorts.all())
    assignment = task.item.assignments.get()
    client = client_for("student")
    due = timezone.localtime(assignment.due_at).strftime("%a %-d %b, %H:%M")
    page = client.get(task.item.get_absolute_url()).text
    assert "Due <time" in page and due in page
    later = assignment.due_at + timedelta(days=2)
    Extension.objects.create(assignment=assignment, user=world.users["student"], due_at=later)
    page = client.get(task.item.get_absolute_url()).text
    assert timezone.localtime(later).strftime("%a %-d %b, %H:%M") in page
    assert "(extended)" in page


def test_notes_written_after_the_assignment_stops_taking_work_do_not_count(world, client_for):
    """An annotation assignment that refuses late work: a student writes two notes
    before the due date and the third after it. The third does not hand the work in
    (2 of 3, which the gradebook counts as two thirds of the points), neither on the
    student's box nor in the grader; an extension to a later date makes it count, and taking the
    extension back undoes that."""
    from cases.models import Extension, LatePolicy
    from cases.services.schedule import extension_remove, extensions_grant

    task = make_annotation_task(world.item.module, world.case, world.course.cohorts.all())
    student, instructor = world.users["student"], world.users["instructor"]
    assignment = task.item.assignments.get()
    assignment.late_policy = LatePolicy.REFUSE
    assignment.save()
    on_time = [_note(world.case, student).pk, _note(world.case, student, start=1).pk]
    from cases.models import Annotation

    Annotation.objects.filter(pk__in=on_time).update(created_at=timezone.now() - timedelta(hours=1))
    assignment.due_at = timezone.now() - timedelta(minutes=1)
    assignment.save()
    _note(world.case, student, start=2)
    work = _work(task.item, student)
    assert work.state == WorkStatus.IN_PROGRESS and work.auto_score == 2
    page = client_for("student").get(task.item.get_absolute_url()).text
    assert "2 of 3 substantive notes" in page
    assert "no longer takes work: notes you write now are read by your class" in page
    grader = client_for("instructor").get(
        reverse("cases:grade_work", args=[task.item.pk, student.pk])
    )
    assert grader.text.count("(counts)") == 2 and "after the assignment closed" in grader.text
    extensions_grant(
        item=task.item, users=[student], due_at=timezone.now() + timedelta(days=1), by=instructor
    )
    work = _work(task.item, student)
    assert work.state == WorkStatus.SUBMITTED and work.auto_score == 3
    page = client_for("student").get(task.item.get_absolute_url()).text
    assert "3 of 3 substantive notes" in page and "no longer takes work" not in page
    extension_remove(extension=Extension.objects.get(user=student))
    assert _work(task.item, student).state == WorkStatus.IN_PROGRESS


def test_the_notes_report_counts_only_notes_written_while_the_assignment_took_work(
    world, client_for
):
    """The report's substantive count agrees with the status beside it: under "refuse
    late work" a note written after the due date is in the notes, not the substantive."""
    from cases.models import Annotation, LatePolicy

    task = make_annotation_task(world.item.module, world.case, world.course.cohorts.all())
    student = world.users["student"]
    Assignment.objects.filter(item=task.item).update(
        late_policy=LatePolicy.REFUSE, due_at=timezone.now() - timedelta(minutes=1)
    )
    early = _note(world.case, student)
    Annotation.objects.filter(pk=early.pk).update(created_at=timezone.now() - timedelta(hours=1))
    _note(world.case, student, start=1)
    assert note_counts(task, [student.pk])[student.pk].substantive == 2  # No dates given.
    report = client_for("instructor").get(reverse("cases:annotation_report", args=[task.item.pk]))
    assert "1 / 3" in report.text and "2 / 3" not in report.text
    assert "nor notes written once a student's assignment stopped taking work" in report.text


MARKS = "- - - - - -\n* * *\n> — — —\n\n**Agreed**."  # One word among Markdown's marks.


def test_markdown_marks_are_not_words_of_a_substantive_note(world, client_for):
    """A note of bullets and dashes around one word is not substantive: its words are
    counted by the rule a memo's are (`word_count`), so the count beside the case, the
    student's Work, the notes report and the grader agree, and a real note still counts.
    A note stored under the old rule (a split on spaces) is recounted by the migration,
    and `work_resync` brings the student's Work in line with it."""
    from importlib import import_module
    from io import StringIO

    from django.apps import apps
    from django.core.management import call_command

    task = make_annotation_task(
        world.item.module, world.case, world.course.cohorts.all(), min_notes=2, min_words=5
    )
    student = world.users["student"]
    client = client_for("student")
    first = world.case.paragraphs.order_by("position").first().number
    url = reverse("cases:annotation_list", args=[world.case.slug])
    marks = {"paragraph": first, "body": MARKS, "visibility": "cohort", "nonce": "m-1"}
    answer = client.post(url, marks, headers={"HX-Request": "true"}).text
    assert "0 of 2 substantive notes" in answer
    note = {"paragraph": first, "body": LONG, "visibility": "cohort", "nonce": "m-2"}
    answer = client.post(url, note, headers={"HX-Request": "true"}).text
    assert "1 of 2 substantive notes" in answer
    work = _work(task.item, student)
    assert (work.state, work.auto_score) == (WorkStatus.IN_PROGRESS, 1)
    report = client_for("instructor").get(reverse("cases:annotation_report", args=[task.item.pk]))
    row = report.text.split(escape(student.display_name))[1].split("</tr>")[0]
    cells = [c.split("</td>")[0] for c in row.split("<td>")[1:4]]
    assert cells == ["2", "1 / 2", str(len(LONG.split()) + 1)], cells

    # Stored before the rule changed: the marks counted as eight words, and the
    # student's Work said handed in, 2 of 2.
    stored = task.case.annotations.get(body=MARKS)
    type(stored).objects.filter(pk=stored.pk).update(word_count=len(MARKS.split()))
    Work.objects.filter(pk=work.pk).update(state=WorkStatus.SUBMITTED, auto_score=2)
    recount = import_module("cases.migrations.0037_annotation_words_as_memos_count")
    recount.recount_words(apps, None)
    stored.refresh_from_db()
    assert stored.word_count == 1
    call_command("work_resync", kind=[ItemKind.ANNOTATION], stdout=StringIO())
    work.refresh_from_db()
    assert (work.state, work.auto_score) == (WorkStatus.IN_PROGRESS, 1)
    page = client_for("student").get(task.item.get_absolute_url()).text
    assert "1 of 2 substantive notes" in page


@pytest.mark.xfail(
    strict=True,
    reason="Not fixed: the live poll's changed answer costs 4 queries (the fragment budget); "
    "the count needs the student's tasks on the case and each one's assignment (2 more).",
)
def test_the_count_beside_the_case_drops_on_the_next_poll_when_staff_hide_a_note(world, client_for):
    """A student has 2 of 3 substantive notes beside the case; the instructor hides one.
    The student's page, polling the notes, should then say 1 of 3 without a reload."""
    task = make_annotation_task(world.item.module, world.case, world.course.cohorts.all())
    student = world.users["student"]
    _note(world.case, student)
    hidden = _note(world.case, student, start=1)
    page = client_for("student").get(task.item.get_absolute_url()).text
    assert "2 of 3 substantive notes" in page
    client = client_for("instructor")
    hide = {"action": "hide", "reason": "Copied from the case."}
    client.post(reverse("cases:annotation_moderate", args=[hidden.pk]), hide)
    assert _work(task.item, student).auto_score == 1
    poll = client_for("student").get(
        reverse("cases:annotation_live", args=[world.case.slug]), headers={"HX-Request": "true"}
    )
    assert poll.status_code == 200
    assert "1 of 3 substantive notes" in poll.text


def test_notes_short_of_the_number_asked_earn_their_share_once_the_assignment_closes(
    world, client_for
):
    """Three notes asked, late work refused; the student writes two before the due
    date. While it takes work the gradebook leaves it out (in progress). Once the due
    date passes, 2 of 3 earn two thirds of the points on every page: the tracker, the
    gradebook and its CSV, the student's grades and course total, as the notes report
    says. Late work accepted after all, it is late again and counts 0 until a cut-off
    passes, when the share counts once more. Released before it closed, the student
    is told of their grade when it closes, once."""
    from cases.models import Annotation, GradeCategory, LatePolicy
    from cases.services.notifications import grades_readable_notify
    from cases.services.workspace.matrix import course_version

    task = make_annotation_task(world.item.module, world.case, world.course.cohorts.all())
    item, student = task.item, world.users["student"]
    category = GradeCategory.objects.create(course=world.course, name="Notes", weight=100)
    ModuleItem.objects.filter(pk=item.pk).update(grade_category=category)
    Assignment.objects.filter(item=item).update(
        late_policy=LatePolicy.REFUSE, due_at=timezone.now() + timedelta(hours=1)
    )
    written = [_note(world.case, student).pk, _note(world.case, student, start=1).pk]
    Annotation.objects.filter(pk__in=written).update(created_at=timezone.now() - timedelta(hours=2))
    client = client_for("instructor")
    client.post(
        reverse("cases:assignment_release", args=[item.assignments.get().pk]), {"release": "1"}
    )
    tracker_url = reverse("cases:tracker", args=[world.course.pk])
    gradebook_url = reverse("cases:gradebook", args=[world.course.pk])
    csv_url = reverse("cases:gradebook_csv", args=[world.course.pk])
    grades_url = reverse("cases:student_grades", args=[world.course.pk])

    def pages() -> dict[str, str]:
        staff = client_for("instructor")
        seen = {
            "tracker": staff.get(tracker_url).text,
            "gradebook": staff.get(gradebook_url).text,
            "csv": b"".join(staff.get(csv_url).streaming_content).decode(),
        }
        seen["grades"] = client_for("student").get(grades_url).text
        return seen

    before = pages()
    assert "course grade so far" not in before["grades"]  # Nothing counts yet.

    Assignment.objects.filter(item=item).update(due_at=timezone.now() - timedelta(minutes=1))
    closed = pages()
    for name, html in closed.items():
        assert "6.67" in html, name
    assert "Your course grade so far: <strong>66.7%</strong>" in closed["grades"]
    assert "tag--late" not in closed["tracker"].split(item.title, 1)[-1].split("</tr>")[0]
    # The student reads it as graded, not as annotated: they wrote 2 of the 3.
    course_page = client_for("student").get(world.course.get_absolute_url()).text
    line = course_page.split(item.title, 1)[1].split("</li>")[0]
    assert "Graded" in line and "Annotated" not in line, line
    # The tracker's filters say the same: the classmate with no notes is the one late.
    staff = client_for("instructor")
    for filters, rows in [({"behind": "1"}, 1), ({"status": "late"}, 1), ({"status": "graded"}, 1)]:
        shown = staff.get(tracker_url, filters).text
        assert shown.count("<tr>") == 1 + rows, filters
        assert (student.get_full_name() in shown) == (filters == {"status": "graded"}), filters
    # Released before it closed, the grade is news now: the scheduled run tells it, once.
    told = student.notifications.filter(kind="grade_released")
    assert not told.exists()
    assert grades_readable_notify() == 1 and grades_readable_notify() == 0
    assert told.count() == 1

    Assignment.objects.filter(item=item).update(late_policy=LatePolicy.ACCEPT)
    late = pages()
    assert "Your course grade so far: <strong>0.0%</strong>" in late["grades"]
    cut_off = timezone.now() + timedelta(hours=1)
    Assignment.objects.filter(item=item).update(late_until=cut_off)
    # The cut-off passing, with nothing written, is news to the tracker's polls.
    before, after = cut_off - timedelta(seconds=1), cut_off + timedelta(seconds=1)
    assert course_version(world.course, before) != course_version(world.course, after)
    Assignment.objects.filter(item=item).update(late_until=timezone.now() - timedelta(seconds=1))
    assert "Your course grade so far: <strong>66.7%</strong>" in pages()["grades"]
    release = reverse("cases:assignment_release", args=[item.assignments.get().pk])
    client = client_for("instructor")
    client.post(release, {"release": ""})
    client.post(release, {"release": "1"})
    assert told.count() == 1
