"""Matching questions (prompt -> match pairs, partial credit per pair) and description
items (text between questions, nothing to answer, no points): authored in the bank,
taken without JavaScript, graded, shown on the result page, regraded, counted in
statistics, copied with the course."""

import re
from decimal import Decimal

import pytest
from django.urls import reverse

from cases.models import (
    Answer,
    Assignment,
    Attempt,
    Choice,
    ItemKind,
    ModuleItem,
    Question,
    QuestionKind,
    Quiz,
)
from cases.services.builder import course_duplicate
from cases.services.quizzes import (
    InvalidAnswer,
    _parse_response,
    attempt_start,
    grade_response,
)

pytestmark = pytest.mark.django_db

PAIRS = "Lenovo -> Beijing\nTechFaith -> Beijing\nSMIC -> Shanghai\n-> Hangzhou"
ANSWER_FIELDS = {
    "choices_text",
    "pairs_text",
    "true_false_answer",
    "numeric_answer",
    "numeric_tolerance",
    "spectrum_target",
    "spectrum_graded",
    "spectrum_tolerance",
}


def _names(html: str) -> set[str]:
    return set(re.findall(r'name="([a-z_]+)"', html)) - {"csrfmiddlewaretoken"}


def _field(html: str, name: str) -> str:
    for chunk in html.split('<div class="field')[1:]:
        if f'name="{name}"' in chunk:
            return chunk
    raise AssertionError(f"No field {name!r} on the page")


def _new(world, kind=""):
    url = reverse("cases:question_create", args=[world.course.pk])
    return f"{url}?kind={kind}" if kind else url


def _matching_question(course, pairs=PAIRS, points="3") -> Question:
    question = Question.objects.create(
        course=course,
        kind=QuestionKind.MATCHING,
        title="Regions",
        text="Match them.",
        points=points,
    )
    for position, line in enumerate(pairs.splitlines()):
        prompt, _arrow, match = line.partition("->")
        Choice.objects.create(
            question=question, text=prompt.strip(), match=match.strip(), position=position
        )
    return question


def _selects(html: str) -> dict[str, list[str]]:
    """The matching selects on a page: each prompt (its label) → the options' texts."""
    found = {}
    for select_id, body in re.findall(r'<select[^>]*id="([^"]+)"[^>]*>(.*?)</select>', html, re.S):
        label = re.search(rf'<label[^>]*for="{select_id}"[^>]*>([^<]+)</label>', html)
        assert label, f"select {select_id} has no label"
        found[label.group(1).strip()] = re.findall(r"<option[^>]*>([^<]+)</option>", body)
    return found


def _value(html: str, prompt: str, match: str) -> str:
    """The posted value of choosing `match` for `prompt` on the attempt page."""
    select_id = re.search(rf'<label[^>]*for="([^"]+)"[^>]*>{prompt}</label>', html).group(1)
    body = re.search(rf'<select[^>]*id="{select_id}"[^>]*>(.*?)</select>', html, re.S).group(1)
    return re.search(rf'<option value="([^"]*)"[^>]*>{match}</option>', body).group(1)


def test_grading_gives_each_right_pair_its_share(world):
    question = _matching_question(world.course)
    choices = list(question.choices.all())
    ids = {c.text: str(c.pk) for c in choices if c.text}
    right = {ids["Lenovo"]: "Beijing", ids["TechFaith"]: "Beijing", ids["SMIC"]: "Shanghai"}
    assert grade_response(question, choices, {"pairs": right}) == 1
    one_wrong = right | {ids["SMIC"]: "Hangzhou"}
    assert grade_response(question, choices, {"pairs": one_wrong}) == Decimal("0.66667")
    assert grade_response(question, choices, {"pairs": {ids["Lenovo"]: "Beijing"}}) == Decimal(
        "0.33333"
    )
    assert grade_response(question, choices, {"pairs": {ids["Lenovo"]: "Hangzhou"}}) == 0
    assert grade_response(question, choices, {}) == 0
    description = Question(kind=QuestionKind.DESCRIPTION, title="Read", text="Context.")
    assert grade_response(description, [], {}) is None
    assert not description.is_scored


def test_a_matching_answer_names_prompts_by_place_and_only_the_questions_matches(world):
    question = _matching_question(world.course)
    quiz = _quiz(world, [question])
    attempt = attempt_start(quiz=quiz, user=world.users["student"])
    slot = attempt.slots.get()
    order = [Choice.objects.get(pk=pk) for pk in slot.choice_order]
    place = {c.text: n for n, c in enumerate(order)}
    assert _parse_response(slot, {"choices": [f"{place['SMIC']}:Shanghai", ""]}) == {
        "pairs": {str(order[place["SMIC"]].pk): "Shanghai"}
    }
    assert _parse_response(slot, {"choices": ["", f"{place['SMIC']}:"]}) == {}
    for bad in [f"{place['SMIC']}:Tokyo", f"{place['']}:Beijing", "9:Beijing", "x:Beijing"]:
        with pytest.raises(InvalidAnswer):
            _parse_response(slot, {"choices": [bad]})


def _quiz(world, questions) -> Quiz:
    item = ModuleItem.objects.create(
        module=world.quiz.item.module, kind=ItemKind.QUIZ, title="Regions check", position=60
    )
    quiz = Quiz.objects.create(item=item, attempts_allowed=1, shuffle_choices=True)
    for position, question in enumerate(questions, 1):
        quiz.slots.create(question=question, position=position)
    Assignment.objects.create(item=item, cohort=world.course.cohorts.first())
    return quiz


def test_an_instructor_authors_a_matching_question_and_a_student_is_graded_per_pair(
    world, client_for
):
    client = client_for("instructor")
    html = client.get(_new(world)).content.decode()
    assert 'href="?kind=matching"' in html and 'href="?kind=description"' in html
    html = client.get(_new(world, "matching")).content.decode()
    assert ANSWER_FIELDS & _names(html) == {"pairs_text"}
    assert "points" in _names(html)
    assert "Pairs, one per line: prompt -&gt; match" in html

    # Bad input: every problem beside the field, what was typed kept.
    data = {"kind": "matching", "title": "Regions", "text": "Match each company.", "points": "3"}
    bad = "Lenovo -> Beijing\nTencent in Shenzhen\nlenovo -> Shanghai"
    html = client.post(_new(world), data | {"pairs_text": bad}).content.decode()
    field = _field(html, "pairs_text")
    assert "Line 2 has no “-&gt;”" in field
    assert "Line 3 repeats the prompt “lenovo”" in field
    assert "Tencent in Shenzhen" in field
    html = client.post(_new(world), data | {"pairs_text": "Lenovo -> Beijing\n-> Hangzhou"})
    assert "at least two pairs" in _field(html.content.decode(), "pairs_text")
    assert not Question.objects.filter(title="Regions").exists()

    response = client.post(_new(world), data | {"pairs_text": PAIRS})
    assert response.status_code == 302
    question = Question.objects.get(title="Regions")
    assert [(c.text, c.match) for c in question.choices.all()] == [
        ("Lenovo", "Beijing"),
        ("TechFaith", "Beijing"),
        ("SMIC", "Shanghai"),
        ("", "Hangzhou"),
    ]
    edit = reverse("cases:question_edit", args=[question.pk])
    assert "-&gt; Hangzhou" in _field(client.get(edit).content.decode(), "pairs_text")

    # A description: no answer fields, no points.
    html = client.get(_new(world, "description")).content.decode()
    assert ANSWER_FIELDS & _names(html) == set() and "points" not in _names(html)
    assert "nothing to answer, no points" in html
    response = client.post(
        _new(world),
        {"kind": "description", "title": "Before you start", "text": "CONTEXT-TEXT here."},
    )
    assert response.status_code == 302
    description = Question.objects.get(title="Before you start")

    quiz = _quiz(world, [])
    response = client.post(
        reverse("cases:quiz_settings", args=[quiz.item.pk]),
        {
            "attempts_allowed": "1",
            "grading_method": "highest",
            "feedback_release": "immediately",
            "shuffle_choices": "on",
            "questions": [str(description.pk), str(question.pk)],
        },
    )
    assert response.status_code == 302

    # The student: the description as text only, a labelled select per prompt offering
    # every match once, in an order a reload keeps.
    student = client_for("student")
    overview = student.get(quiz.item.get_absolute_url()).content.decode()
    assert "1 question slot." in overview  # The description asks nothing.
    start = student.post(reverse("cases:attempt_start", args=[quiz.item.pk]))
    attempt = Attempt.objects.get(quiz=quiz)
    page = student.get(start["Location"]).content.decode()
    assert "CONTEXT-TEXT here." in page
    assert "Question 1</span> Regions" in page and "Question 2" not in page
    assert "0 of 1 answered." in page
    selects = _selects(page)
    assert set(selects) == {"Lenovo", "TechFaith", "SMIC"}
    for options in selects.values():
        assert options[0] == "Choose…"
        assert sorted(options[1:]) == ["Beijing", "Hangzhou", "Shanghai"]
    assert _selects(student.get(start["Location"]).content.decode()) == selects
    description_block = page.split("CONTEXT-TEXT")[0].rsplit("<section", 1)[1]
    assert "<input" not in description_block and "<select" not in description_block

    # Saved without JavaScript: all right, then changed to one wrong.
    slot = attempt.slots.get(question=question)
    save = reverse("cases:attempt_save", args=[attempt.pk])

    def answer(lenovo, techfaith, smic):
        values = [
            _value(page, "Lenovo", lenovo),
            _value(page, "TechFaith", techfaith),
            _value(page, "SMIC", smic),
        ]
        return student.post(save, {"questions": str(slot.pk), f"q{slot.pk}": values})

    assert answer("Beijing", "Beijing", "Shanghai").status_code == 302
    page = student.get(start["Location"]).content.decode()
    assert "1 of 1 answered." in page
    assert re.search(r"selected>Shanghai</option>", page)
    answer("Beijing", "Beijing", "Hangzhou")
    assert Answer.objects.get(slot=slot).response["pairs"][
        str(question.choices.get(text="SMIC").pk)
    ] == ("Hangzhou")

    done = student.post(reverse("cases:attempt_submit", args=[attempt.pk]))
    attempt.refresh_from_db()
    assert (attempt.score, attempt.max_score) == (Decimal("2.00"), Decimal("3.00"))
    result = student.get(done["Location"]).content.decode()
    assert "<strong>2.00</strong> / 3.00" in result
    assert "CONTEXT-TEXT here." in result
    smic = result.split("SMIC:")[1].split("</li>")[0]
    assert "Hangzhou" in smic and "wrong" in smic and "Right match:</strong> Shanghai" in smic
    assert "right" in result.split("Lenovo:")[1].split("</li>")[0]

    # Statistics: the matching question with its common wrong pair; no description row.
    client = client_for("instructor")
    stats = client.get(reverse("cases:quiz_stats", args=[quiz.item.pk])).content.decode()
    assert "SMIC → Hangzhou (1)" in stats and "67%" in stats
    assert "Before you start" not in stats

    # The instructor changes the key to the student's answer: the attempt is regraded.
    fixed = "Lenovo -> Beijing\nTechFaith -> Beijing\nSMIC -> Hangzhou\n-> Wuhan"
    response = client.post(
        edit,
        {"title": "Regions", "text": "Match each company.", "points": "3", "pairs_text": fixed},
    )
    assert response.status_code == 302
    attempt.refresh_from_db()
    assert attempt.score == Decimal("3.00")
    result = client_for("student").get(done["Location"]).content.decode()
    assert "<strong>3.00</strong> / 3.00" in result


def test_a_course_copy_keeps_the_pairs(world):
    _matching_question(world.course)
    copy = course_duplicate(
        source=world.course, code="MGT 6001-B", title="Copy", by=world.users["instructor"]
    )
    question = copy.questions.get(title="Regions")
    assert [(c.text, c.match) for c in question.choices.all()] == [
        ("Lenovo", "Beijing"),
        ("TechFaith", "Beijing"),
        ("SMIC", "Shanghai"),
        ("", "Hangzhou"),
    ]
