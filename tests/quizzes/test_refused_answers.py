"""An answer its question refuses ("2005?" for a number) is refused on its own: beside
its question, with what was typed kept, and the page's other answers saved; with
JavaScript (the autosave) and without (the page's Save and Finish buttons). A number
typed with a comma is read one way only, and the note says how."""

import re
from decimal import Decimal
from html import unescape

import pytest
from django.urls import reverse
from django.utils.html import escape

from cases.models import Answer, Attempt
from cases.services.quizzes import InvalidAnswer, number_read
from tests.helpers import quiz_slots

pytestmark = pytest.mark.django_db

NOT_A_NUMBER = "Not saved: Write a number only, such as 1600 or 2.5."
UNCLEAR_COMMA = (
    "Not saved: That comma is not clear: write 1600 or 1,600 for thousands, "
    "and 2.5 or 2,5 for decimals."
)
SAVED = re.compile(r"Saved \d\d:\d\d:\d\d")


def _html(response) -> str:
    return response.content.decode()


def _note(html: str, slot) -> str:
    """What the question's note says ("Saved …", or why not)."""
    return unescape(re.search(rf'id="saved-{slot.pk}"[^>]*>([^<]*)<', html).group(1))


def _count(html: str) -> str:
    return re.search(r'id="answered-count"[^>]*>([^<]*)<', html).group(1)


def _alerts(html: str) -> list[str]:
    return [unescape(a) for a in re.findall(r'class="alert alert--\w+"[^>]*>([^<]*)<', html)]


def _stored(slot) -> dict:
    return Answer.objects.get(slot=slot).response


def test_a_bad_number_without_javascript_keeps_the_page_as_typed_and_saves_the_rest(
    world, client_for
):
    """Without JavaScript the page posts every answer at once: a "2005?" is refused
    beside its question, and what was typed stays in every field, while the other
    answers are saved. "Finish and submit…" does not submit past it; with one question
    a page, the refused question stays on screen instead of moving on."""
    client = client_for("student")
    slots = quiz_slots(world.attempt)
    partner, levers, numeric = slots["Partner"], slots["Levers"], slots["Researchers"]
    owner, essay = slots["Owner"], slots["Argue"]
    save = reverse("cases:attempt_save", args=[world.attempt.pk])
    paragraph = "Shanghai Bell is a D firm: it adapts Alcatel's designs (¶4) & ships them."
    page = {
        "questions": ",".join(str(slot.pk) for slot in slots.values()),
        f"q{partner.pk}": "0",
        f"q{levers.pk}": ["0", "1"],
        f"q{numeric.pk}": "2005?",
        f"q{owner.pk}": "false",
        f"q{essay.pk}": paragraph,
    }

    # Save answers: the page comes back, not a redirect, with the refusal beside its
    # question and every field as typed; the four good answers are saved.
    response = client.post(save, page)
    html = _html(response)
    assert response.status_code == 200
    assert _alerts(html) == [
        "Question 3 was not saved: see the note beside it. Your other answers are saved."
    ]
    assert _note(html, numeric) == NOT_A_NUMBER
    assert f'name="q{numeric.pk}" value="2005?" aria-invalid="true"' in html
    assert f'aria-describedby="saved-{numeric.pk}"' in html
    assert SAVED.fullmatch(_note(html, essay))
    assert f"{escape(paragraph)}</textarea>" in html
    assert f'name="q{partner.pk}" value="0" checked' in html
    assert f'name="q{levers.pk}" value="1" checked' in html
    assert f'name="q{owner.pk}" value="false" checked' in html
    assert _count(html) == "4 of 5 answered."
    assert _stored(numeric) == {}
    assert _stored(essay) == {"text": paragraph}
    assert _stored(partner) == {"choices": [partner.choice_order[0]]}

    # Corrected, it saves as any page does, and the page shows the answers saved.
    response = client.post(save, page | {f"q{numeric.pk}": "2005"}, follow=True)
    html = _html(response)
    assert response.redirect_chain == [(world.attempt.get_absolute_url(), 302)]
    assert _alerts(html) == ["Your answers are saved."]
    assert _note(html, numeric) == ""
    assert f'name="q{numeric.pk}" value="2005"' in html
    assert _stored(numeric) == {"value": 2005.0}

    # A bad answer again, with everything else changed, and "Finish and submit…": not
    # submitted, the last good number kept, and the rest just typed saved, not dropped.
    changed = page | {f"q{partner.pk}": "1", f"q{essay.pk}": "On second thought: an R firm."}
    response = client.post(save, changed | {"action": "submit"})
    html = _html(response)
    assert response.status_code == 200
    assert _alerts(html) == [
        "Not submitted. Question 3 was not saved: see the note beside it. Your other "
        "answers are saved; correct it, then submit."
    ]
    assert _note(html, numeric) == NOT_A_NUMBER
    assert f'name="q{numeric.pk}" value="2005?"' in html
    assert f'name="q{partner.pk}" value="1" checked' in html
    assert "On second thought: an R firm.</textarea>" in html
    assert _stored(numeric) == {"value": 2005.0}
    assert _stored(essay) == {"text": "On second thought: an R firm."}
    assert _stored(partner) == {"choices": [partner.choice_order[1]]}
    assert Attempt.objects.get(pk=world.attempt.pk).is_open

    # One question a page: "Next question" with a bad number stays on that question.
    world.quiz.one_question_per_page = True
    world.quiz.save()
    response = client.post(
        save, {"questions": str(numeric.pk), f"q{numeric.pk}": "20 05", "goto": "4"}
    )
    html = _html(response)
    assert "Question 3 of 5" in html
    assert _note(html, numeric) == NOT_A_NUMBER
    assert f'name="q{numeric.pk}" value="20 05"' in html
    assert f'name="q{owner.pk}"' not in html
    response = client.post(
        save, {"questions": str(numeric.pk), f"q{numeric.pk}": "1600", "action": "submit"}
    )
    assert response["Location"] == reverse("cases:attempt_submit", args=[world.attempt.pk])
    assert _stored(numeric) == {"value": 1600.0}


def test_a_refused_autosave_says_so_beside_its_question_until_it_saves(world, client_for):
    """With JavaScript each question autosaves on its own: a refusal is that question's
    note (no page-level alert), and its next good save replaces it. The last good
    answer is kept meanwhile, and the count of answers does not move."""
    client = client_for("student")
    numeric, essay = quiz_slots(world.attempt)["Researchers"], quiz_slots(world.attempt)["Argue"]
    save = reverse("cases:attempt_save", args=[world.attempt.pk])

    def autosave(slot, value, seq):
        data = {"questions": str(slot.pk), f"q{slot.pk}": value, "seq": str(seq)}
        response = client.post(save, data, headers={"HX-Request": "true"})
        assert response.status_code == 200
        assert "HX-Retarget" not in response and "htmx-error" not in _html(response)
        return _html(response)

    html = autosave(numeric, "2005?", 1)
    assert _note(html, numeric) == NOT_A_NUMBER
    assert _count(html) == "0 of 5 answered."
    assert SAVED.fullmatch(_note(autosave(essay, "A D firm.", 2), essay))
    html = autosave(numeric, "2005", 3)
    assert SAVED.fullmatch(_note(html, numeric))
    assert _count(html) == "2 of 5 answered."

    # Shown one question a page, a question autosaves the same way.
    world.quiz.one_question_per_page = True
    world.quiz.save()
    html = autosave(numeric, "2005!", 4)
    assert _note(html, numeric) == NOT_A_NUMBER
    assert _count(html) == "2 of 5 answered."
    assert _stored(numeric) == {"value": 2005.0}
    assert SAVED.fullmatch(_note(autosave(numeric, "2006", 5), numeric))
    assert _stored(numeric) == {"value": 2006.0}


def test_a_comma_in_a_number_is_read_one_way_and_the_note_says_how(world, client_for):
    """A decimal comma is a decimal comma (1,5 is 1.5, never 15); commas between
    thousands group them (1,600 is 1600); any other comma is refused beside the
    question, with what was typed kept. The number read is what is graded."""
    client = client_for("student")
    numeric = quiz_slots(world.attempt)["Researchers"]
    save = reverse("cases:attempt_save", args=[world.attempt.pk])

    def autosave(value, seq):
        data = {"questions": str(numeric.pk), f"q{numeric.pk}": value, "seq": str(seq)}
        return _note(_html(client.post(save, data, headers={"HX-Request": "true"})), numeric)

    assert re.fullmatch(r"Saved \d\d:\d\d:\d\d, read as 1\.5", autosave("1,5", 1))
    assert _stored(numeric) == {"value": 1.5}
    assert autosave("1,600", 2).endswith(", read as 1600")
    assert _stored(numeric) == {"value": 1600.0}
    assert autosave("0,5", 3).endswith(", read as 0.5")
    assert _stored(numeric) == {"value": 0.5}
    assert SAVED.fullmatch(autosave("1600", 4))  # No comma: nothing to say.
    assert autosave("1,5,6", 5) == UNCLEAR_COMMA
    assert _stored(numeric) == {"value": 1600.0}

    # Without JavaScript: a comma written the other way round is refused beside it,
    # as typed; a decimal comma is read as one on the page posted back.
    response = client.post(save, {"questions": str(numeric.pk), f"q{numeric.pk}": "1.600,5"})
    html = _html(response)
    assert _note(html, numeric) == UNCLEAR_COMMA
    assert f'name="q{numeric.pk}" value="1.600,5"' in html
    assert _stored(numeric) == {"value": 1600.0}

    # The key becomes 1.5: a student who wrote 1,5 gets the points.
    numeric.question.numeric_answer = Decimal("1.5")
    numeric.question.numeric_tolerance = Decimal(0)
    numeric.question.save()
    response = client.post(
        save, {"questions": str(numeric.pk), f"q{numeric.pk}": "1,5", "action": "submit"}
    )
    assert response["Location"] == reverse("cases:attempt_submit", args=[world.attempt.pk])
    client.post(reverse("cases:attempt_submit", args=[world.attempt.pk]))
    assert Answer.objects.get(slot=numeric).points == numeric.question.points


@pytest.mark.parametrize(
    ("typed", "read"),
    [
        ("1,5", 1.5),
        ("0,5", 0.5),
        ("0,125", 0.125),
        ("-2,25", -2.25),
        ("1234,5", 1234.5),
        ("1,000", 1000.0),
        ("1,600", 1600.0),
        ("12,345,678", 12345678.0),
        ("1,600.25", 1600.25),
        (" 2005 ", 2005.0),
        ("1e3", 1000.0),
    ],
)
def test_a_number_is_read_as_written(typed, read):
    assert number_read(typed) == read


@pytest.mark.parametrize(
    "typed", ["2005?", "1,5,6", "1.000,5", "1,60.5", "1,,5", "1,", "12,34,567", "inf", "1e400"]
)
def test_a_number_read_two_ways_or_none_is_refused(typed):
    with pytest.raises(InvalidAnswer):
        number_read(typed)
