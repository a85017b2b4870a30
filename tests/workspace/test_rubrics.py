"""A rubric edited after it scored work and the grades were released: the rubric page
asks first, saying what changes, keeps what was typed, and on saving every page says
the same grade, worked out from the levels the grader chose under the rubric as it now
reads."""

import csv
import io
import re

import pytest
from django.test import Client
from django.urls import reverse

from cases.models import Rubric, Work
from cases.models.workspace import work_changed
from cases.services.discussions import post_create
from cases.services.gradebook import assignment_release
from cases.services.workspace.grading import rubric_update

pytestmark = pytest.mark.django_db

ARGUMENT = "Evidence: Thin 0 | Strong 8\nClarity: Muddled 0 | Clear 2"


@pytest.fixture
def scored(world, client_for):
    """The instructor writes the rubric "Argument" and gives it to the thread, grades
    the two students who posted (the student: Strong and Muddled, 8 of 10; the other:
    Thin and Clear, 2 of 10) and releases the grades."""
    client = client_for("instructor")
    item, other = world.discussion.item, world.users["student_ta_elsewhere"]
    post_create(discussion=world.discussion, author=other, body="A D firm, by its process.")
    client.post(
        reverse("cases:rubric_list", args=[world.course.pk]),
        {"title": "Argument", "criteria": ARGUMENT},
    )
    rubric = Rubric.objects.get()
    _save(client, rubric, ARGUMENT, item)
    _grade(client, item, world.users["student"], criterion_0="1", criterion_1="0")
    _grade(client, item, other, criterion_0="0", criterion_1="1")
    assignment_release(assignment=item.assignments.get(), released=True)
    return rubric


def _save(client, rubric, criteria, item, title="Argument", **extra):
    url = reverse("cases:rubric_edit", args=[rubric.pk])
    return client.post(url, {"title": title, "criteria": criteria, "items": [item.pk], **extra})


def _grade(client, item, student, **levels):
    url = reverse("cases:grade_work", args=[item.pk, student.pk])
    assert client.post(url, levels).status_code == 302


def _seen(client, world, student) -> dict:
    """The thread's grade for the student as the tracker, the gradebook, its CSV and
    the student's own grades page show it, with the levels the grader shows chosen."""
    item = world.discussion.item
    tracker = client.get(reverse("cases:tracker", args=[world.course.pk])).content.decode()
    cell = re.search(rf'student={student.pk}&amp;item={item.pk}"[^>]*>(.*?)</a>', tracker, re.S)
    gradebook = client.get(reverse("cases:gradebook", args=[world.course.pk])).content.decode()
    response = client.get(reverse("cases:gradebook_csv", args=[world.course.pk]))
    body = b"".join(response.streaming_content).decode().lstrip("\ufeff")
    header, *rows = csv.reader(io.StringIO(body))
    row = dict(zip(header, next(r for r in rows if r[0] == student.username), strict=True))
    own = Client()
    own.force_login(student)
    grades = own.get(reverse("cases:student_grades", args=[world.course.pk])).content.decode()
    grader = client.get(reverse("cases:grade_work", args=[item.pk, student.pk])).content.decode()
    return {
        "tracker": re.sub(r"<[^>]+>", "", cell[1]).strip(),
        "csv": next(v for k, v in row.items() if item.title in k),
        "own": re.findall(r"([\d.]+) / 10", grades),
        "grader": re.findall(r'id="id_(criterion_\d+_\d+)" checked', grader),
        "version": re.search(r"known=(\w+)", gradebook)[1],
    }


def test_new_points_for_a_level_ask_first_then_every_page_shows_the_new_grade(
    scored, world, client_for
):
    client = client_for("instructor")
    student = world.users["student"]
    before = _seen(client, world, student)
    assert (before["tracker"], before["csv"], before["own"]) == ("Graded 8", "8.00", ["8"])
    assert before["grader"] == ["criterion_0_1", "criterion_1_0"]
    sent = []
    work_changed.connect(lambda **kw: sent.append(sorted(kw["user_ids"])), weak=False)

    # Strong is worth 4 now: the page asks, and says the student's released grade moves
    # (the other student's Thin and Clear, 2 of 6, is another grade too).
    edited = "Evidence: Thin 0 | Strong 4\nClarity: Muddled 0 | Clear 2"
    asked = _save(client, scored, edited, world.discussion.item)
    html = asked.content.decode()
    assert asked.status_code == 200
    assert "2 pieces of work</strong> scored with it" in html
    assert "2 get another grade" in html and "2 released grades</strong> change" in html
    assert 'name="criteria" value="Evidence: Thin 0 | Strong 4' in html
    assert _seen(client, world, student) == before  # Nothing saved yet.

    # Back to the rubric: the form as typed, the items still ticked.
    back = _save(client, scored, edited, world.discussion.item, action="edit", confirmed="1")
    assert "Strong 4" in back.content.decode()
    assert f'value="{world.discussion.item.pk}" checked' in back.content.decode()
    assert Rubric.objects.get().criteria[0]["levels"][1]["points"] == 8

    saved = _save(client, scored, edited, world.discussion.item, action="save", confirmed="1")
    assert saved.status_code == 302
    after = _seen(client, world, student)
    assert (after["tracker"], after["csv"], after["own"]) == ("Graded 6.67", "6.67", ["6.67"])
    assert after["grader"] == before["grader"] and after["version"] != before["version"]
    assert Work.objects.get(item=world.discussion.item, user=student).rubric_score == 4
    assert sent == [sorted([student.pk, world.users["student_ta_elsewhere"].pk])]


def test_a_removed_criterion_takes_its_levels_and_an_added_one_sends_work_back_to_grade(
    scored, world, client_for
):
    """Levels stay with their criterion by name: with Evidence gone, the student's
    Muddled still scores Clarity (0 of 2), not their Strong on Evidence read in its
    place. A new criterion has no level chosen: the work waits for a person, the grade
    leaves the student's page, and the grader shows the kept levels."""
    client = client_for("instructor")
    student, item = world.users["student"], world.discussion.item
    assert _save(client, scored, "Clarity: Muddled 0 | Clear 2", item).status_code == 200
    _save(client, scored, "Clarity: Muddled 0 | Clear 2", item, confirmed="1")
    seen = _seen(client, world, student)
    assert (seen["tracker"], seen["csv"], seen["own"]) == ("Graded 0", "0.00", ["0"])
    assert seen["grader"] == ["criterion_0_0"]
    other = _seen(client, world, world.users["student_ta_elsewhere"])
    assert (other["tracker"], other["own"]) == ("Graded 10", ["10"])
    assert Work.objects.get(item=item, user=student).rubric_levels == {"0": 0}

    added = "Clarity: Muddled 0 | Clear 2\nStyle: Plain 0 | Vivid 2"
    html = _save(client, scored, added, item).content.decode()
    assert "2 go back to “to grade”" in html and "2 released grades" in html
    _save(client, scored, added, item, confirmed="1")
    seen = _seen(client, world, student)
    assert (seen["tracker"], seen["csv"], seen["own"]) == ("Handed in", "to grade", [])
    assert seen["grader"] == ["criterion_0_0"]
    _grade(client, item, student, criterion_0="0", criterion_1="1")
    assert _seen(client, world, student)["own"] == ["5"]


def test_a_new_title_or_an_edit_before_anything_is_scored_saves_at_once(scored, world, client_for):
    client = client_for("instructor")
    item = world.discussion.item
    assert _save(client, scored, ARGUMENT, item, title="Argument, v2").status_code == 302
    assert Rubric.objects.get().title == "Argument, v2"
    Work.objects.filter(item=item).update(excused=True)  # Excused work has no grade.
    assert _save(client, scored, "Evidence: Thin 0 | Strong 1", item).status_code == 302
    assert Rubric.objects.get().max_points == 1


def test_saved_without_asking_levels_follow_their_criterion_and_label_and_the_lms_hears(
    scored, world
):
    """The service the page calls once confirmed: criteria reordered, a level put
    between two others and one renamed in its place, each chosen level stays on its
    own criterion and label; the other student's Thin and Clear keep their 2 points, of
    a new maximum, so their grade is sent on (to an LMS) too."""
    item = world.discussion.item
    sent = []
    work_changed.connect(lambda **kw: sent.extend(kw["user_ids"]), weak=False)
    criteria = [
        {"name": "Clarity", "levels": [{"label": "Muddled", "points": 0},
                                       {"label": "Clear", "points": 2}]},
        {"name": "Evidence", "levels": [{"label": "None at all", "points": 0},
                                        {"label": "Some", "points": 4},
                                        {"label": "Strong", "points": 8}]},
    ]  # fmt: skip
    rubric_update(rubric=scored, title="Argument", criteria=criteria, item_ids={item.pk})
    mine, theirs = (
        Work.objects.get(item=item, user=world.users[name])
        for name in ("student", "student_ta_elsewhere")
    )
    assert (mine.rubric_levels, mine.rubric_score) == ({"0": 0, "1": 2}, 8)
    assert (theirs.rubric_levels, theirs.rubric_score) == ({"0": 1, "1": 0}, 2)
    assert sorted(sent) == sorted(w.user_id for w in (mine, theirs))


def _edit_item(client, item, rubric, title="Thread", **extra):
    url = reverse("cases:item_edit", args=[item.pk])
    data = {"title": title, "instructions": "", "rubric": rubric.pk if rubric else "", **extra}
    return client.post(url, data)


def test_switching_an_items_rubric_on_its_page_asks_first_then_scores_again(
    scored, world, client_for
):
    """The item's own page asks as the rubric's does (one rule, `criteria_change`):
    the student's Strong on Evidence, 8 of 10 under "Argument", is 4 of 4 under "Short"
    (10 of 10), the other student's Thin 0 of 4."""
    client = client_for("instructor")
    student, item = world.users["student"], world.discussion.item
    short = Rubric.objects.create(
        course=world.course,
        title="Short",
        criteria=[
            {
                "name": "Evidence",
                "levels": [{"label": "Thin", "points": 0}, {"label": "Strong", "points": 4}],
            }
        ],
    )
    before = _seen(client, world, student)
    assert before["own"] == ["8"]

    asked = _edit_item(client, item, short, title="Thread, renamed")
    html = asked.content.decode()
    assert asked.status_code == 200
    assert f"Grade “{item.title}” with “Short”" in html
    assert "2 pieces of work</strong> scored with “Argument” will be scored again" in html
    assert "2 get another grade" in html and "2 released grades</strong> change" in html
    assert f'name="rubric" value="{short.pk}"' in html
    assert 'value="Thread, renamed"' in html
    assert "Save and score again" in html and "Back to the item" in html
    assert _seen(client, world, student) == before  # Nothing saved yet.
    item.refresh_from_db()
    assert item.rubric_id == scored.pk and item.title != "Thread, renamed"

    # Back to the item: the form as typed, the new rubric still chosen.
    back = _edit_item(client, item, short, title="Thread, renamed", action="edit", confirmed="1")
    html = back.content.decode()
    assert back.status_code == 200 and 'value="Thread, renamed"' in html
    assert f'<option value="{short.pk}" selected>' in html
    item.refresh_from_db()
    assert item.rubric_id == scored.pk

    saved = _edit_item(client, item, short, title="Thread, renamed", action="save", confirmed="1")
    assert saved.status_code == 302
    item.refresh_from_db()
    assert (item.rubric_id, item.title) == (short.pk, "Thread, renamed")
    assert _seen(client, world, student)["own"] == ["10"]
    assert Work.objects.get(item=item, user=student).rubric_score == 4
    assert _seen(client, world, world.users["student_ta_elsewhere"])["own"] == ["0"]

    # An edit that leaves the rubric as it is saves at once.
    assert _edit_item(client, item, short, title="Thread, again").status_code == 302
    item.refresh_from_db()
    assert item.title == "Thread, again"

    # Taking the rubric off asks too: both scores go, and the released grades with them.
    html = _edit_item(client, item, None, title="Thread, again").content.decode()
    assert "Take the rubric off" in html and "2 go back to “to grade”" in html
    assert "without a rubric, the levels chosen for them score nothing" in html
    assert Work.objects.get(item=item, user=student).rubric_score == 4
    _edit_item(client, item, None, title="Thread, again", confirmed="1")
    assert Work.objects.get(item=item, user=student).rubric_score is None


def test_a_ta_s_comment_saved_after_the_instructor_scored_the_rubric_keeps_the_levels(
    world, client_for
):
    """The TA and the instructor open the same student's thread in the grader while it
    is not yet scored. The instructor chooses the rubric's levels (8 of 10) and saves;
    the TA, whose page showed no level chosen, only writes a comment and saves. The
    student keeps the instructor's levels and score, and gets the TA's comment: the
    TA's form sent no level, which is what it was opened with, not a choice."""
    client = client_for("instructor")
    item, student = world.discussion.item, world.users["student"]
    client.post(
        reverse("cases:rubric_list", args=[world.course.pk]),
        {"title": "Argument", "criteria": ARGUMENT},
    )
    _save(client, Rubric.objects.get(), ARGUMENT, item)
    url = reverse("cases:grade_work", args=[item.pk, student.pk])
    ta = Client()
    ta.force_login(world.users["ta"])
    opened = ta.get(url).content.decode()
    assert 'name="criterion_0"' in opened and "checked" not in opened.split("criterion_0")[1][:200]
    # The page posts back the level it showed (none), beside the radios.
    assert 'name="initial-criterion_0"' in opened

    _grade(client, item, student, criterion_0="1", criterion_1="0")
    saved = ta.post(
        url,
        # What the TA's browser sends: the comment typed, the values the page was opened
        # with (no level was chosen, so no criterion is sent at all).
        {"feedback": "Cite ¶3.", "initial-feedback": "", "initial-excused": "False"},
    )
    assert saved.status_code == 302
    work = Work.objects.get(item=item, user=student)
    assert work.feedback == "Cite ¶3."
    assert work.rubric_levels == {"0": 1, "1": 0}
    assert work.rubric_score == 8


def test_a_moved_student_s_grade_still_shown_to_them_is_counted_as_released(
    scored, world, client_for
):
    """The student, whose grade on the thread was released in Section A, is moved to
    Section B, where the thread's grades are not released yet: their grade stays shown
    to them (the release they were shown holds). Editing the rubric, the instructor is
    told both released grades change, not one: the student reads the new one too."""
    from cases.models import Cohort
    from cases.services.cohorts import memberships_move
    from tests.factories import AssignmentFactory

    client = client_for("instructor")
    student, item = world.users["student"], world.discussion.item
    section_a = item.assignments.get().cohort
    section_b = Cohort.objects.create(name="Section B")
    world.course.cohorts.add(section_b)
    AssignmentFactory(item=item, cohort=section_b)
    memberships_move(cohort=section_a, to=section_b, users=[student], by=world.users["admin"])
    assert _seen(client, world, student)["own"] == ["8"]

    edited = "Evidence: Thin 0 | Strong 4\nClarity: Muddled 0 | Clear 2"
    html = _save(client, scored, edited, item).content.decode()
    assert "2 get another grade" in html
    assert "2 released grades</strong> change" in html, re.findall(r"\d+ released grade", html)
