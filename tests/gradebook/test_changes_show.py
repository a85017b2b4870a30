"""The gradebook is kept between changes (under the course's version) and polled every
15 seconds: each change an instructor makes to what it shows moves the version, so the
next load and the next poll show it at once, and the gradebook, its category view, its
CSV and the student's own grades page say the same."""

import csv
import io
import re
from decimal import Decimal

import pytest
from django.test import Client
from django.urls import reverse

from cases.models import GradeCategory, ModuleItem, Rubric
from cases.services.gradebook import assignment_release
from cases.services.workspace.grading import rubric_rescore, work_grade

pytestmark = pytest.mark.django_db

HTMX = {"HX-Request": "true"}


def _level(label: str, points: int) -> dict:
    return {"label": label, "points": points}


@pytest.fixture
def graded(world):
    """Quizzes (60%) and Discussions (40%), each with one item worth 10 points, both
    released: the student has 6 on the quiz (an override) and 8 on the thread (its
    rubric's Strong 8 and Muddled 0, of 10). The total is 0.6 * 60 + 0.4 * 80 = 68.0%."""
    course, student = world.course, world.users["student"]
    quizzes = GradeCategory.objects.create(course=course, name="Quizzes", weight=60, position=1)
    talk = GradeCategory.objects.create(course=course, name="Discussions", weight=40, position=2)
    rubric = Rubric.objects.create(
        course=course,
        title="Argument",
        criteria=[
            {"name": "Evidence", "levels": [_level("Thin", 0), _level("Strong", 8)]},
            {"name": "Clarity", "levels": [_level("Muddled", 0), _level("Clear", 2)]},
        ],
    )
    quiz, thread = world.quiz.item, world.discussion.item
    quiz.grade_category = quizzes
    quiz.save()
    thread.grade_category, thread.rubric = talk, rubric
    thread.save()
    rubric_rescore([thread.pk])  # As the item's edit page does when its rubric changes.
    instructor = world.users["instructor"]
    work_grade(
        item=quiz,
        student=student,
        grader=instructor,
        override_score=Decimal(6),
        override_reason="Answered in class.",
    )
    work_grade(item=thread, student=student, grader=instructor, rubric_levels={"0": 1, "1": 0})
    for item in (quiz, thread):
        assignment_release(assignment=item.assignments.get(), released=True)
    return world


def _gradebook(client, world, **params) -> str:
    response = client.get(reverse("cases:gradebook", args=[world.course.pk]), params)
    assert response.status_code == 200
    return response.content.decode()


def _known(html: str) -> str:
    """The version the table shows, which its poll carries."""
    return re.search(r"known=(\w+)", html).group(1)


def _poll(client, world, known: str) -> int:
    url = reverse("cases:gradebook", args=[world.course.pk])
    return client.get(url, {"poll": "1", "known": known}, headers=HTMX).status_code


def _row(html: str, student) -> str:
    match = re.search(rf'<tr id="student-{student.pk}"[^>]*>(.*?)</tr>', html, re.S)
    assert match, f"no row for {student}"
    return match.group(1)


def _total(html: str, student) -> str:
    row = _row(html, student)
    return re.search(r'gradebook__total">([^<]*)</td>', row).group(1)


def _headers(html: str) -> list[str]:
    """The counted categories' headers with their weights, as the category view shows
    them (the uncategorised reading's says "not counted")."""
    head = re.search(r"<thead>(.*?)</thead>", html, re.S).group(1)
    cells = re.findall(r'<th scope="col" class="gradebook__percent">(.*?)</th>', head)
    shown = [re.sub(r"<[^>]+>", "", cell).strip() for cell in cells]
    return [header for header in shown if header.endswith("%")]


def _csv(client, world) -> dict[str, str]:
    """The student's CSV row, by column."""
    response = client.get(reverse("cases:gradebook_csv", args=[world.course.pk]))
    body = b"".join(response.streaming_content).decode("utf-8").lstrip("\ufeff")
    header, *rows = list(csv.reader(io.StringIO(body)))
    row = next(r for r in rows if r[0] == "student")
    return dict(zip(header, row, strict=True))


def _own(world) -> str:
    """The student's own grades page."""
    client = Client()
    client.force_login(world.users["student"])
    response = client.get(reverse("cases:student_grades", args=[world.course.pk]))
    assert response.status_code == 200
    return response.content.decode()


def _seen(client, world) -> dict:
    """What every page says of the student, after checking that they agree: the total,
    the category headers with their weights, the thread's points."""
    student = world.users["student"]
    grid, totals = _gradebook(client, world), _gradebook(client, world, view="categories")
    exported, own = _csv(client, world), _own(world)
    total = _total(grid, student)
    assert _total(totals, student) == total
    assert f"{exported['Total (%)']}%" == total
    assert f"Your course grade so far: <strong>{total}</strong>" in own
    headers = _headers(totals)
    for header in headers:
        name, weight = header.rsplit(" ", 1)
        assert f"{name} (%)" in exported
        assert f'{name} <span class="meta">{weight} of the course grade' in own
    thread = next(v for k, v in exported.items() if world.discussion.item.title in k)
    points = f"{Decimal(thread):f}".rstrip("0").rstrip(".")  # 8.00 shows as 8.
    assert f">{points}</a>" in _row(grid, student)
    assert f"{points} / 10" in own
    return {"total": total, "headers": headers, "thread": points}


def _changed(client, world, change) -> tuple[dict, dict]:
    """What the pages show before and after `change(client)`, with the gradebook kept
    between them: the poll of the page loaded before answers 204 until the change, and
    200 with a new version after it."""
    before = _seen(client, world)
    known = _known(_gradebook(client, world))
    assert _poll(client, world, known) == 204  # Kept: nothing changed yet.
    change(client)
    assert _poll(client, world, known) == 200
    after = _seen(client, world)
    assert _known(_gradebook(client, world)) != known
    return before, after


def _categories_post(client, world, *, confirmed=False, **changes) -> None:
    """Save the course's categories from their page, each changed as `changes` says
    (by name: a dict of its fields); `confirmed`: as from the page that asks first when
    released totals move (tests/gradebook/test_views.py)."""
    categories = list(GradeCategory.objects.filter(course=world.course))
    data = {
        "action": "categories",
        "categories-TOTAL_FORMS": str(len(categories)),
        "categories-INITIAL_FORMS": str(len(categories)),
        "categories-MIN_NUM_FORMS": "0",
        "categories-MAX_NUM_FORMS": "1000",
    }
    for n, category in enumerate(categories):
        fields = {
            "id": category.pk,
            "name": category.name,
            "weight": category.weight,
            "drop_lowest": category.drop_lowest,
            "position": category.position,
        } | changes.get(category.name, {})
        data |= {f"categories-{n}-{key}": str(value) for key, value in fields.items()}
    if confirmed:
        data["confirmed"] = "1"
    url = reverse("cases:grade_categories", args=[world.course.pk])
    assert client.post(url, data).status_code == 302


def test_weights_swapped_keeping_their_sum_show_at_once(graded, client_for):
    client = client_for("instructor")

    def swap(client):
        # The released total moves: saved from the page that asks first.
        _categories_post(
            client,
            graded,
            confirmed=True,
            Quizzes={"weight": "40"},
            Discussions={"weight": "60"},
        )

    before, after = _changed(client, graded, swap)
    assert before["headers"] == ["Quizzes 60%", "Discussions 40%"]
    assert before["total"] == "68.0%"
    assert after["headers"] == ["Quizzes 40%", "Discussions 60%"]
    assert after["total"] == "72.0%"  # 0.4 * 60 + 0.6 * 80.


def test_a_rubric_levels_new_points_show_at_once(graded, client_for):
    """The student's levels stay chosen and score the same 8; the rubric's maximum
    grows from 10 to 20, so the thread's 10 points become 4."""
    client = client_for("instructor")
    rubric = graded.discussion.item.rubric

    def repoint(client):
        data = {
            "title": rubric.title,
            "criteria": "Evidence: Thin 0 | Strong 8\nClarity: Muddled 0 | Clear 12",
            "items": [graded.discussion.item.pk],
            "confirmed": "1",  # The page asks first (tests/workspace/test_rubrics.py).
        }
        assert client.post(reverse("cases:rubric_edit", args=[rubric.pk]), data).status_code == 302

    before, after = _changed(client, graded, repoint)
    assert (before["thread"], before["total"]) == ("8", "68.0%")
    assert (after["thread"], after["total"]) == ("4", "52.0%")  # 0.6 * 60 + 0.4 * 40.


def test_a_renamed_category_shows_at_once(graded, client_for):
    client = client_for("instructor")

    def rename(client):
        _categories_post(client, graded, Discussions={"name": "Class debate"})

    before, after = _changed(client, graded, rename)
    assert before["headers"] == ["Quizzes 60%", "Discussions 40%"]
    assert after["headers"] == ["Quizzes 60%", "Class debate 40%"]
    assert after["total"] == before["total"] == "68.0%"
    assert "Discussions" not in _gradebook(client, graded)


def test_items_swapped_between_categories_show_at_once(graded, client_for):
    """The quiz goes to Discussions and the thread to Quizzes: the same items, the same
    categories, each category holding one."""
    client = client_for("instructor")
    quizzes, talk = GradeCategory.objects.filter(course=graded.course).order_by("position")

    def swap(client):
        data = {
            "action": "items",
            f"item-{graded.quiz.item.pk}": str(talk.pk),
            f"item-{graded.discussion.item.pk}": str(quizzes.pk),
            f"item-{graded.item.pk}": "",
        }
        url = reverse("cases:grade_categories", args=[graded.course.pk])
        assert client.post(url, data).status_code == 302

    before, after = _changed(client, graded, swap)
    assert before["total"] == "68.0%"
    assert after["total"] == "72.0%"  # 0.6 * 80 + 0.4 * 60.
    assert ModuleItem.objects.get(pk=graded.quiz.item.pk).grade_category == talk
