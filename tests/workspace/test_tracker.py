"""The response tracker, its side panel, a student's timeline and grading one student
at a time, through real HTTP."""

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape

from cases.models import (
    Assignment,
    CaseReading,
    Cohort,
    Extension,
    ItemKind,
    ModuleItem,
    Rubric,
    Visibility,
    Work,
    WorkStatus,
)
from cases.permissions import CaseAccess
from cases.services.analyses import draft_save, memo_submit
from cases.services.annotations import Selection, annotation_create
from cases.services.discussions import post_create
from cases.services.live import join
from cases.services.readings import reading_mark_done
from cases.services.workspace.grading import rubric_rescore, work_grade
from cases.views.workspace import tracker as tracker_views
from tests.factories import (
    AssignmentFactory,
    CohortFactory,
    CourseFactory,
    MembershipFactory,
    ModuleFactory,
    ModuleItemFactory,
    UserFactory,
    enrol,
    make_analysis,
    make_annotation_task,
    make_case,
    make_live,
)
from tests.helpers import PAGE_BUDGET, data_queries, page_queries

pytestmark = pytest.mark.django_db


def _tracker(client, world, **params):
    return client.get(reverse("cases:tracker", args=[world.course.pk]), params)


def test_the_tracker_shows_each_students_status(world, client_for):
    response = _tracker(client_for("instructor"), world)
    html = response.content.decode()
    assert response["Cache-Control"] == "private, no-store"
    assert "In progress" in html  # The student's open attempt.
    assert "Handed in" in html  # Their post.
    assert html.count("<tr>") == 1 + 2  # Header and two students.


def test_an_unchanged_tracker_answers_304_and_a_change_refreshes_it(world, client_for):
    client = client_for("instructor")
    assert "ETag" not in _tracker(client, world)  # The page itself is not revalidated.
    first = client.get(
        reverse("cases:tracker", args=[world.course.pk]),
        {"cohort": "", "page": "1"},
        headers={"HX-Request": "true"},
    )
    etag = first["ETag"]
    again = client.get(
        reverse("cases:tracker", args=[world.course.pk]),
        {"cohort": "", "page": "1"},
        headers={"HX-Request": "true", "If-None-Match": etag},
    )
    assert again.status_code == 304
    reading_mark_done(user=world.users["student"], case=world.case, done=True)
    changed = client.get(
        reverse("cases:tracker", args=[world.course.pk]),
        {"cohort": "", "page": "1"},
        headers={"HX-Request": "true", "If-None-Match": etag},
    )
    assert changed.status_code == 200
    assert changed["ETag"] != etag
    html = changed.content.decode()
    assert html.strip().startswith('<div id="tracker-matrix"')  # The partial, not the page.
    # It asks again with its own ETag: a real 304, which htmx does not swap.
    assert f'data-etag="{escape(changed["ETag"])}"' in html
    assert "Graded" in html


def test_filters_narrow_the_rows(world, client_for):
    client = client_for("instructor")
    html = _tracker(client, world, status="in_progress").content.decode()
    assert html.count("<tr>") == 1 + 1
    world.item.assignments.update(due_at=timezone.now() - timedelta(days=1))
    html = _tracker(client, world, behind="1").content.decode()
    assert "2 students" in html and "Late" in html
    html = _tracker(client, world, module="999999").content.decode()
    assert "0 assigned items" in html


def test_the_side_panel_shows_the_students_work(world, client_for):
    client = client_for("ta")
    url = reverse(
        "cases:work_panel", args=[world.course.pk, world.users["student"].pk, world.quiz.item.pk]
    )
    fragment = client.get(url, headers={"HX-Request": "true"}).content.decode()
    assert fragment.strip().startswith('<aside id="work-panel"')
    assert "Attempt 1: In progress" in fragment
    page = client.get(url).content.decode()
    assert "<html" in page and "Attempt 1" in page


def test_the_compact_view_shows_named_symbols_and_stays_on_when_paging(
    world, client_for, monkeypatch
):
    monkeypatch.setattr(tracker_views, "TRACKER_PAGE_SIZE", 1)  # Two students: two pages.
    client = client_for("instructor")
    full = _tracker(client, world).content.decode()
    assert "matrix--compact" not in full and "Symbols</h2>" not in full
    compact_url = re.search(r'<a href="([^"]*view=compact[^"]*)">Compact symbols', full)[1]
    html = client.get(compact_url.replace("&amp;", "&")).content.decode()
    assert "matrix--compact" in html
    assert 'aria-current="page">Compact symbols</a>' in html
    # The legend names every symbol; a cell's symbol is hidden, its name is not.
    legend = html[html.index("Symbols</h2>") : html.index("</section>")]
    for status in WorkStatus:
        assert status.label in legend
    assert "Handed in late" in legend
    # Paging, the filter form, cells' panels and the poll keep the compact view.
    next_url = re.search(r'<a href="\?([^"]*)" rel="next"', html)[1].replace("&amp;", "&")
    assert "view=compact" in next_url and "page=2" in next_url
    assert '<input type="hidden" name="view" value="compact">' in html
    poll = re.search(r'id="tracker-matrix"[^>]*hx-get="([^"]*)"', html)[1]
    assert "view=compact" in poll
    page_two = _tracker(client, world, view="compact", page="2").content.decode()
    assert "matrix--compact" in page_two and "Page 2 of 2" in page_two
    both = html + page_two  # The student with an open quiz attempt is on one of them.
    assert '<span aria-hidden="true">◐</span><span class="visually-hidden">In progress' in both
    assert 'title="In progress"' in both
    cells = re.findall(r'<td class="cell[^"]*"><a href="([^"]*)"', page_two)
    assert cells and all("view=compact" in href and "page=2" in href for href in cells)
    fragment = client.get(poll.replace("&amp;", "&"), headers={"HX-Request": "true"})
    assert "matrix--compact" in fragment.content.decode()
    # The full view's poll is another version of the matrix, not a 304 of this one.
    plain = client.get(
        reverse("cases:tracker", args=[world.course.pk]),
        {"page": "1"},
        headers={"HX-Request": "true", "If-None-Match": fragment["ETag"]},
    )
    assert plain.status_code == 200 and "matrix--compact" not in plain.content.decode()
    # Back to full labels.
    full_url = re.search(r'<a href="([^"]*)">Full labels', html)[1]
    back = client.get(full_url).content.decode()
    assert 'aria-current="page">Full labels</a>' in back and "matrix--compact" not in back


def test_the_side_panel_has_an_address_that_opens_it_with_the_page(world, client_for):
    client = client_for("instructor")
    student, item = world.users["student"], world.quiz.item
    html = _tracker(client, world, cohort=world.course.cohorts.get().pk).content.decode()
    assert "Choose a cell to see" in html
    # The student's quiz cell links to the tracker with the panel open; htmx fetches only
    # the panel and shows that same address.
    cell = re.search(
        rf'<a href="([^"]*student={student.pk}&amp;item={item.pk})" hx-get="([^"]*)"'
        rf' hx-push-url="([^"]*)"',
        html,
    )
    href, fragment_url, pushed = cell.groups()
    assert pushed == href and "cohort=" in href  # The filters are kept.
    fragment = client.get(fragment_url, headers={"HX-Request": "true"}).content.decode()
    assert fragment.strip().startswith('<aside id="work-panel"')
    # Opened directly (a link, a reload, no script): the tracker with that panel open.
    page = client.get(href.replace("&amp;", "&")).content.decode()
    assert "Choose a cell to see" not in page
    assert "Response tracker</h1>" in page
    panel = page[page.index('<aside id="work-panel"') :]
    assert student.get_full_name() in panel and item.title in panel
    assert "Attempt 1: In progress" in panel
    # The same address for another item: that one, still the same student.
    other = _tracker(client, world, student=student.pk, item=world.discussion.item.pk)
    assert world.discussion.item.title in other.content.decode().split('id="work-panel"')[1]
    # A student the user may not grade, or an item of another course: not found.
    ta_client = client_for("ta")
    assert _tracker(ta_client, world, student=student.pk, item=item.pk).status_code == 200
    outsider = world.users["other_student"]
    assert _tracker(client, world, student=outsider.pk, item=item.pk).status_code == 404
    assert _tracker(client, world, student=student.pk, item=999999).status_code == 404
    assert _tracker(client_for("student"), world, student=student.pk, item=item.pk).status_code in {
        403,
        404,
    }


def test_a_ta_of_another_cohort_gets_404_for_this_student(world, client_for):
    section_b = Cohort.objects.create(name="Section B")
    world.course.cohorts.add(section_b)
    section_b.teaching_assistants.add(world.users["ta"])
    client = client_for("ta")
    url = reverse("cases:student_timeline", args=[world.course.pk, world.users["student"].pk])
    assert client.get(url).status_code == 404
    assert client_for("instructor").get(url).status_code == 200


def test_the_timeline_lists_the_students_activity_newest_first(world, client_for):
    reading_mark_done(user=world.users["student"], case=world.case, done=True)
    url = reverse("cases:student_timeline", args=[world.course.pk, world.users["student"].pk])
    html = client_for("instructor").get(url).content.decode()
    events = re.findall(r'timeline__event--(\w+)"', html)
    assert events[0] == "done"
    assert {"posted", "in_progress", "opened"} <= set(events)


def _text(html: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


def _timeline_lines(html: str) -> dict[str, tuple[str, str]]:
    """Each line of the timeline's "Grades and comments": the item's title → the status
    its tag carries and what the line says."""
    section = html.split("<h2>Grades and comments</h2>")[1].split("</ul>")[0]
    lines = re.findall(r'<li><a href="[^"]*">([^<]+)</a>: (.*?)</li>', section, re.S)
    return {
        title: ("".join(re.findall(r'data-status="(\w+)"', line)), _text(line))
        for title, line in lines
    }


def _tracker_cells(html: str, student, items) -> dict[str, tuple[str, str, str]]:
    """The tracker's cell of each item for the student: its status, the words it shows
    for it, and its points."""
    found = {}
    for item in items:
        cell = re.search(
            rf'cell--(\w+)"><a href="[^"]*[?;]student={student.pk}&amp;item={item.pk}"[^>]*>'
            r"(.*?)</a>",
            html,
        )
        points = re.search(r"<b>([\d.]+)</b>", cell[2])
        label = _text(re.sub(r"<(b|small|i)>.*?</\1>", "", cell[2]))
        found[item.title] = (cell[1], label, points[1] if points else "")
    return found


def test_the_timeline_says_what_the_tracker_says_of_each_item(world, client_for):
    """A memo drafted past its due date, a live class attended, an annotation assignment
    one note of three in (then two), a memo scored 12 of 15 on its rubric: each line of
    the student's timeline carries the tracker's status and points, for the instructor
    and a TA, after an extension and after the scored memo is handed in again."""
    module, cohort = world.item.module, world.course.cohorts.get()
    student, instructor = world.users["student"], world.users["instructor"]
    late_memo = make_analysis(module, [cohort], title="Memo: the draft").item
    late_memo.assignments.update(due_at=timezone.now() - timedelta(hours=2))
    draft_save(item=late_memo, user=student, body="Build, for the lab's sake.", seq=1)
    session = make_live(module, [cohort], title="Class 3", start_by=instructor)
    join(session, student)
    task = make_annotation_task(module, world.case, [cohort], min_notes=3)
    scored = make_analysis(module, [cohort], title="Memo: scored").item
    levels = [_level("None", 0), _level("Some", 2), _level("Full", 5)]
    scored.rubric = Rubric.objects.create(
        course=world.course,
        title="Fifteen",
        criteria=[{"name": name, "levels": levels} for name in ("A", "B", "C")],
    )
    scored.save()
    memo_submit(item=scored, user=student, body="Buy the lab: ¶2 says why.", nonce="1")
    work_grade(
        item=scored, student=student, grader=instructor, rubric_levels={"0": 2, "1": 2, "2": 1}
    )
    note = (
        "Headcount in research is an input here, not an outcome: the case never says what it made."
    )

    def write_note(start: int):
        first = world.case.paragraphs.order_by("position").first().number
        annotation_create(
            case=world.case,
            author=student,
            access=CaseAccess(is_teaching_staff=False, can_edit=False),
            selection=Selection(first, start, first, start + 13),
            body=note,
            visibility=Visibility.COHORT,
        )

    write_note(0)
    items = list(module.items.all())
    timeline_url = reverse("cases:student_timeline", args=[world.course.pk, student.pk])
    tracker_url = reverse("cases:tracker", args=[world.course.pk])

    def agree(role: str) -> dict[str, str]:
        """The timeline's lines, once each is checked against the tracker's cell."""
        client = client_for(role)
        lines = _timeline_lines(client.get(timeline_url).text)
        cells = _tracker_cells(client.get(tracker_url).text, student, items)
        for title, (_status, text) in lines.items():
            _shown, label, points = cells[title]
            assert text.startswith(label), (title, text, cells[title])
            assert (f"· {points} / 10 points" in text) == bool(points), (title, text, points)
        assert {title: status for title, (status, _text) in lines.items()} == {
            title: cells[title][0] for title in lines
        }
        return {title: text for title, (_status, text) in lines.items()}

    seen = agree("instructor")
    assert seen["Memo: the draft"] == "Late"
    assert seen["Class 3"] == "Graded · 5 / 10 points"
    assert seen[task.item.title] == "In progress · 3.33 / 10 points"
    assert seen["Memo: scored"] == "Graded · 8 / 10 points"
    # A second note, and an extension on the late memo: a TA looks.
    write_note(20)
    Extension.objects.create(
        assignment=late_memo.assignments.get(),
        user=student,
        due_at=timezone.now() + timedelta(days=1),
    )
    seen = agree("ta")
    assert seen["Memo: the draft"] == "In progress"
    assert seen[task.item.title] == "In progress · 6.67 / 10 points"
    # The scored memo handed in again: waiting for a grade, 8 only as the earlier one.
    memo_submit(item=scored, user=student, body="Buy the lab: ¶2 and ¶3 say why.", nonce="2")
    seen = agree("instructor")
    assert seen["Memo: scored"] == "Handed in again · to grade (was 8 / 10)"


def _level(label: str, points: int) -> dict:
    return {"label": label, "points": points}


def test_grading_with_a_rubric_and_moving_to_the_next_student(world, client_for):
    rubric = Rubric.objects.create(
        course=world.course,
        title="Argument",
        criteria=[
            {"name": "Evidence", "levels": [_level("None", 0), _level("Strong", 4)]},
            {"name": "Clarity", "levels": [_level("Muddled", 0), _level("Clear", 2)]},
        ],
    )
    item = world.discussion.item
    item.rubric = rubric
    item.save()
    rubric_rescore([item.pk])  # As the item's edit page does when its rubric changes.
    client = client_for("ta")
    student = world.users["student"]
    for user, last_name in [(student, "Adams"), (world.users["student_ta_elsewhere"], "Baker")]:
        user.last_name = last_name
        user.save()
    # Baker has posted too, so Baker's work waits for the rubric next.
    post_create(discussion=world.discussion, author=world.users["student_ta_elsewhere"], body="D.")
    url = reverse("cases:grade_work", args=[item.pk, student.pk])
    page = client.get(url)
    assert page["Cache-Control"].startswith("max-age=0")
    assert 'rel="next"' in page.content.decode()
    response = client.post(
        url, {"criterion_0": "1", "criterion_1": "0", "feedback": "Cite ¶2 again.", "next": "1"}
    )
    following = world.users["student_ta_elsewhere"]
    assert response.url == reverse("cases:grade_work", args=[item.pk, following.pk])
    work = Work.objects.get(item=item, user=student)
    assert (work.rubric_score, work.feedback, work.graded_by) == (
        Decimal("4"),
        "Cite ¶2 again.",
        world.users["ta"],
    )
    # The submitted post keeps its state; grading touched only the person's part.
    assert work.state == WorkStatus.SUBMITTED
    assignment = item.assignments.get()
    cells = client.get(reverse("cases:tracker", args=[world.course.pk])).content.decode()
    assert f"Graded <b>{Decimal(assignment.points) * 4 / 6:.2f}</b>" in cells


def test_participation_points_from_the_grader_reach_the_tracker(world, client_for):
    client = client_for("instructor")
    url = reverse("cases:grade_work", args=[world.discussion.item.pk, world.users["student"].pk])
    client.post(url, {"participation": "7", "feedback": ""})
    work = Work.objects.get(item=world.discussion.item, user=world.users["student"])
    assert work.auto_score == Decimal("7.00") and not work.needs_grading


def test_a_rubric_with_a_bad_line_is_refused_and_kept(world, client_for):
    client = client_for("instructor")
    response = client.post(
        reverse("cases:rubric_list", args=[world.course.pk]),
        {"title": "Argument", "criteria": "Evidence: None 0 | Strong four"},
    )
    html = response.content.decode()
    assert "Line 1: end each level with its points" in html
    assert "Strong four" in html
    assert not Rubric.objects.exists()


def _workspace_class(size: int):
    """A course of `size` students in two cohorts, twelve assigned readings, and work
    on most of them."""
    instructor = UserFactory()
    cohorts = [CohortFactory(), CohortFactory()]
    students = enrol(cohorts[0], size - size // 2, prefix=f"w{size}a-")
    students += enrol(cohorts[1], size // 2, prefix=f"w{size}b-")
    course = CourseFactory(instructors=[instructor], cohorts=cohorts)
    case = make_case(slug=f"ws-{size}", created_by=instructor)
    items = []
    for m in range(3):
        module = ModuleFactory(course=course)
        for i in range(4):
            item = ModuleItem.objects.create(
                module=module, kind=ItemKind.CASE_READING, title=f"R{m}{i}", position=i
            )
            CaseReading.objects.create(item=item, case=case)
            items.append(item)
    Assignment.objects.bulk_create(
        Assignment(item=item, cohort=cohort, due_at=timezone.now() + timedelta(days=1))
        for item in items
        for cohort in cohorts
    )
    now = timezone.now()
    Work.objects.bulk_create(
        Work(item=item, user=student, state=WorkStatus.SUBMITTED, submitted_at=now,
             auto_score=1, max_score=1)
        for student in students
        for item in items[::2]
    )  # fmt: skip
    return {"course": course, "instructor": instructor, "student": students[0], "item": items[0]}


WORKSPACE_PAGES = [
    lambda w: reverse("cases:tracker", args=[w["course"].pk]),
    lambda w: reverse("cases:tracker", args=[w["course"].pk]) + "?behind=1&status=graded",
    lambda w: reverse("cases:tracker", args=[w["course"].pk]) + "?view=compact&page=1",
    lambda w: reverse("cases:student_timeline", args=[w["course"].pk, w["student"].pk]),
    lambda w: reverse("cases:grade_work", args=[w["item"].pk, w["student"].pk]),
]


@pytest.mark.parametrize("url", WORKSPACE_PAGES)
def test_workspace_pages_cost_the_same_queries_for_20_or_400_students(client, url):
    counts = page_queries(client, _workspace_class, (20, 400), "instructor", url)
    print(f"queries at 20 and 400 students: {counts}")
    assert counts[0] == counts[1], counts
    assert counts[1] <= PAGE_BUDGET, counts


def test_the_tracker_with_its_panel_open_costs_the_page_and_the_panel_at_most(client):
    """The panel's student and item come from the page's matrix: only the student's work
    on the item (and its comment) are read for it, two queries over a page's budget."""

    def url(w):
        base = reverse("cases:tracker", args=[w["course"].pk])
        return f"{base}?view=compact&student={w['student'].pk}&item={w['item'].pk}"

    counts = page_queries(client, _workspace_class, (20, 400), "instructor", url)
    print(f"tracker with a panel, queries at 20 and 400 students: {counts}")
    assert counts[0] == counts[1], counts
    assert counts[1] <= PAGE_BUDGET + 2, counts


def test_tracker_fragments_stay_within_budget_for_400_students(client):
    world = _workspace_class(400)
    client.force_login(world["instructor"])
    url = reverse("cases:tracker", args=[world["course"].pk])
    first = client.get(url, headers={"HX-Request": "true"})
    for headers, budget, status in [
        ({"HX-Request": "true", "If-None-Match": first["ETag"]}, 3, 304),
        # A changed matrix is the page's data again, plus the version it checked.
        ({"HX-Request": "true"}, PAGE_BUDGET + 1, 200),
    ]:
        with CaptureQueriesContext(connection) as queries:
            response = client.get(url, headers=headers)
        assert response.status_code == status
        assert data_queries(queries) <= budget, [q["sql"][:80] for q in queries.captured_queries]


def test_the_grading_queue_lists_work_waiting_item_by_item(world, client_for):
    # The world's student has posted in the thread: participation waits for a person.
    html = (
        client_for("instructor")
        .get(reverse("cases:grading_queue", args=[world.course.pk]))
        .content.decode()
    )
    grade_url = reverse(
        "cases:grade_work", args=[world.discussion.item.pk, world.users["student"].pk]
    )
    assert f'href="{grade_url}"' in html and "1 student to grade" in html
    # A TA looking after another cohort has nothing of this student's waiting.
    section_b = Cohort.objects.create(name="Section B")
    world.course.cohorts.add(section_b)
    section_b.teaching_assistants.add(world.users["ta"])
    html = client_for("ta").get(reverse("cases:grading_queue", args=[world.course.pk]))
    assert grade_url not in html.content.decode()


def test_a_reload_between_changes_reuses_the_grid_and_a_change_or_another_grader_does_not(
    world, client_for
):
    """The grid is kept for each version of the course and set of cohorts shown: a
    reload costs the version and the grader's cohorts (not the columns or the rows),
    a change shows at once, and a TA given another section never sees the
    instructor's kept rows."""
    client = client_for("instructor")
    student = world.users["student"].display_name
    with CaptureQueriesContext(connection) as first:
        before = _tracker(client, world).content.decode()
    with CaptureQueriesContext(connection) as again:
        reloaded = _tracker(client, world).content.decode()
    assert data_queries(again) == data_queries(first) - 4
    body = re.compile(r"<thead>.*</tbody>", re.S)
    assert body.search(reloaded).group() == body.search(before).group()
    assert student in reloaded and "cell--graded" not in reloaded

    reading_mark_done(user=world.users["student"], case=world.case, done=True)
    assert "cell--graded" in _tracker(client, world).content.decode()

    section_b = Cohort.objects.create(name="Section B")
    world.course.cohorts.add(section_b)
    section_b.teaching_assistants.add(world.users["ta"])
    assert "cell--graded" in _tracker(client, world).content.decode()
    theirs = _tracker(client_for("ta"), world).content.decode()
    assert student not in theirs and "0 students" in theirs


def test_the_kept_tracker_shows_a_rubric_repointed_an_item_renamed_and_modules_moved_at_once(
    world, client_for
):
    """The grid is kept under the course's version, and its poll answers 304 on it: a
    rubric's level given other points (the student's levels and their 8 points stay,
    the rubric's maximum grows), an item renamed and the modules put in another order
    each show at the next poll and the next load."""
    client = client_for("instructor")
    rubric = Rubric.objects.create(
        course=world.course,
        title="Argument",
        criteria=[
            {"name": "Evidence", "levels": [_level("Thin", 0), _level("Strong", 8)]},
            {"name": "Clarity", "levels": [_level("Muddled", 0), _level("Clear", 2)]},
        ],
    )
    thread = world.discussion.item
    thread.rubric = rubric
    thread.save()
    rubric_rescore([thread.pk])  # As the item's edit page does when its rubric changes.
    work_grade(
        item=thread,
        student=world.users["student"],
        grader=world.users["instructor"],
        rubric_levels={"0": 1, "1": 0},
    )
    first_module = thread.module
    later = ModuleFactory(course=world.course, title="Later", position=first_module.position + 1)
    AssignmentFactory(
        item=ModuleItemFactory(module=later, title="Wrap-up"), cohort=world.course.cohorts.get()
    )
    url = reverse("cases:tracker", args=[world.course.pk])
    etag = client.get(url, headers={"HX-Request": "true"})["ETag"]

    def poll() -> str:
        nonlocal etag
        response = client.get(url, headers={"HX-Request": "true", "If-None-Match": etag})
        assert response.status_code == 200, "the change did not move the version"
        assert response["ETag"] != etag
        etag = response["ETag"]
        return response.content.decode()

    def head(html: str) -> list[str]:
        return re.findall(r'class="matrix__item"><a [^>]*>([^<]*)</a>', html)

    page = _tracker(client, world).content.decode()
    assert "Graded <b>8</b>" in page
    again = client.get(url, headers={"HX-Request": "true", "If-None-Match": etag})
    assert again.status_code == 304

    criteria = "Evidence: Thin 0 | Strong 8\nClarity: Muddled 0 | Clear 12"
    data = {"title": "Argument", "criteria": criteria, "items": [thread.pk], "confirmed": "1"}
    assert client.post(reverse("cases:rubric_edit", args=[rubric.pk]), data).status_code == 302
    assert "Graded <b>4</b>" in poll()  # 8 of 20, of 10 points.
    assert "Graded <b>4</b>" in _tracker(client, world).content.decode()

    data = {"title": "R firm, D firm, or neither?", "instructions": "", "rubric": rubric.pk}
    assert client.post(reverse("cases:item_edit", args=[thread.pk]), data).status_code == 302
    assert "R firm, D firm, or neither?" in head(poll())
    assert "R firm, D firm, or neither?" in head(_tracker(client, world).content.decode())

    assert head(_tracker(client, world).content.decode())[-1] == "Wrap-up"
    move = reverse("cases:module_move", args=[later.pk])
    assert client.post(move, {"direction": "up"}).status_code == 302
    assert head(poll())[0] == "Wrap-up"
    assert head(_tracker(client, world).content.decode())[0] == "Wrap-up"


def test_a_ta_moved_to_another_section_sees_it_on_the_open_tracker_and_gradebook(world, client_for):
    """A TA limited to Section A has the tracker and the gradebook open; the instructor
    moves them to Section B on the course's People page. The open pages' next poll
    shows Section B's students, not a 304 or 204 on Section A's (nothing of the
    students' work changed, but who the TA grades did)."""
    section_b = Cohort.objects.create(name="Section B")
    world.course.cohorts.add(section_b)
    b_student = UserFactory(first_name="Bea", last_name="Bsection")
    MembershipFactory(cohort=section_b, user=b_student)
    AssignmentFactory(item=world.item, cohort=section_b)
    section_a = world.course.cohorts.get(name="Section A")
    section_a.teaching_assistants.add(world.users["ta"])
    ta = client_for("ta")
    tracker_url = reverse("cases:tracker", args=[world.course.pk])
    poll = {"cohort": "", "page": "1"}
    first = ta.get(tracker_url, poll, headers={"HX-Request": "true"})
    assert world.users["student"].display_name in first.content.decode()
    assert b_student.display_name not in first.content.decode()
    gradebook_url = reverse("cases:gradebook", args=[world.course.pk])
    page = ta.get(gradebook_url).content.decode()
    known = re.search(r"known=([0-9a-f]+)", page).group(1)

    instructor = Client()
    instructor.force_login(world.users["instructor"])
    moved = instructor.post(
        reverse("cases:course_ta_cohorts", args=[world.course.pk, world.users["ta"].pk]),
        {"cohorts": [section_b.pk]},
    )
    assert moved.status_code in {200, 302}

    again = ta.get(
        tracker_url, poll, headers={"HX-Request": "true", "If-None-Match": first["ETag"]}
    )
    assert again.status_code == 200
    html = again.content.decode()
    assert b_student.display_name in html
    assert world.users["student"].display_name not in html
    polled = ta.get(gradebook_url, {"poll": "1", "known": known}, headers={"HX-Request": "true"})
    assert polled.status_code == 200
    assert b_student.display_name in polled.content.decode()


def test_a_new_course_s_empty_tracker_says_how_students_come_not_that_filters_hide_them(
    client,
):
    """A new instructor opens the tracker of a course no cohort takes yet: it says so
    and who attaches one, not "no students match these filters" (she set none). An
    admin attaches an empty section: the tracker now says its students are not in yet
    and sends her to the People page, where its join code is. Once a student joins, a
    filter that hides everyone still says the filters did it."""
    from cases.services.cohorts import cohort_course_attach

    prof = UserFactory(username="prof")
    admin = UserFactory(username="root", is_staff=True)
    course = CourseFactory(code="MGT 6300", instructors=[prof])
    client.force_login(prof)
    url = reverse("cases:tracker", args=[course.pk])

    def empty_note() -> str:
        html = client.get(url).content.decode()
        return re.sub(r"\s+", " ", re.search(r'<p class="empty">(.*?)</p>', html, re.S)[1])

    assert "match these filters" not in empty_note()
    assert "No cohort takes this course yet" in empty_note()

    section = CohortFactory(name="Section A")
    cohort_course_attach(cohort=section, course=course, by=admin)
    note = empty_note()
    assert "No students in Section A yet" in note
    assert reverse("cases:course_people", args=[course.pk]) in note

    MembershipFactory(cohort=section, user=UserFactory(username="ann"))
    html = client.get(url, {"behind": "1"}).content.decode()
    assert "No students match these filters." in html
