"""Issue 20's journey in Chromium: an instructor imports a GIFT file (the preview's table
names each question's outcome, the sound ones come in, the same preview never imports
twice) and puts two imported questions in a quiz, which a student answers by keyboard
alone and is scored on."""

import re

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from cases.models import Assignment, ItemKind, ModuleItem, Question, Quiz
from tests.browser.conftest import PHONE, assert_accessible, choose_matches_by_keyboard, sign_in
from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db(transaction=True)

FILE = (
    "// A bank from Moodle, with one question broken.\n"
    "$CATEGORY: Imported/Week 1\n"
    "\n"
    "::Foreign partner::Which firm was Shanghai Bell's foreign partner?\n"
    "{=Alcatel #Right. ~Motorola ~IBM}\n"
    "\n"
    "::Broken::Which year did the joint venture start? {=1984 ~1990\n"
    "\n"
    "::Blue sky::The sky is blue on a clear day.{T}\n"
    "\n"
    "::Home cities::Match each firm to its city.{=Lenovo -> Beijing =SMIC -> Shanghai}\n"
    "\n"
    "::Home::Lenovo calls {=Beijing =%50%Peking} home.\n"
    "\n"
    "::Sky::The sky {T} blue.\n"
)


def test_an_imported_matching_and_missing_word_question_score_a_keyboard_student(
    page, open_as, world
):
    sign_in(page, "instructor", PASSWORD)
    page.goto(reverse("cases:question_list", args=[world.course.pk]))
    page.get_by_role("link", name="Import GIFT").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Import questions (GIFT)")
    assert_accessible(page)

    page.get_by_label("GIFT file (.gift or .txt)").set_input_files(
        {"name": "bank.gift", "mimeType": "text/plain", "buffer": FILE.encode()}
    )
    page.get_by_role("button", name="Preview the import").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Preview of the import")
    table = page.get_by_role("table", name="4 of 6 questions can be imported; 2 are refused.")
    expect(table).to_be_visible()
    rows = table.locator("tbody tr")
    expect(rows).to_have_count(6)
    expect(rows.nth(0)).to_contain_text("Imports as single choice")
    expect(rows.nth(1).locator("td").first).to_have_text("7")
    expect(rows.nth(1)).to_contain_text("Refused: The answer block is not closed with }.")
    expect(rows.nth(2)).to_contain_text("Imports as true / false")
    expect(rows.nth(3)).to_contain_text("Imports as matching")
    expect(rows.nth(4)).to_contain_text("Imports as short answer (graded automatically)")
    expect(rows.nth(5).locator("td").first).to_have_text("15")
    expect(rows.nth(5).get_by_role("rowheader")).to_have_text("Sky")
    expect(rows.nth(5)).to_contain_text("Refused: Missing-word questions are supported with")
    expect(rows.nth(5)).to_contain_text("its blank would have no meaning.")
    assert Question.objects.filter(title="Blue sky").count() == 0  # The preview stores nothing.
    assert_accessible(page)
    page.set_viewport_size(PHONE)
    assert_accessible(page)
    page.set_viewport_size({"width": 1280, "height": 900})

    form = page.locator("form", has=page.get_by_role("button", name="Import the 4 sound questions"))
    fields = form.evaluate(
        "f => Object.fromEntries([...f.querySelectorAll('input[type=hidden]')]"
        ".map(i => [i.name, i.value]))"
    )
    page.get_by_role("button", name="Import the 4 sound questions").click()
    expect(page).to_have_url(re.compile(reverse("cases:question_list", args=[world.course.pk])))
    expect(page.get_by_text("4 questions imported; 2 refused.")).to_be_visible()
    bank = page.get_by_role("table", name="Questions in the bank")
    expect(bank.get_by_role("link", name="Foreign partner")).to_be_visible()
    expect(bank.get_by_role("link", name="Blue sky")).to_be_visible()
    assert_accessible(page)
    partner = Question.objects.get(course=world.course, title="Foreign partner")
    # The text crossed the page in a hidden field and came back whole, multi-line included.
    assert partner.text == "Which firm was Shanghai Bell's foreign partner?"
    assert partner.choices.get(text="Alcatel").feedback == "Right."
    home = Question.objects.get(course=world.course, title="Home")
    assert home.kind == "short_answer" and home.text == "Lenovo calls ___ home."
    cities = Question.objects.get(course=world.course, title="Home cities")
    assert {c.text: c.match for c in cities.choices.all()} == {
        "Lenovo": "Beijing",
        "SMIC": "Shanghai",
    }

    # The same preview sent again (a second click, a resubmitted page): nothing doubles.
    again = page.request.post(
        reverse("cases:question_import_confirm", args=[world.course.pk]),
        multipart=fields | {"mode": "sound"},
    )
    assert again.ok and again.url.endswith(reverse("cases:question_list", args=[world.course.pk]))
    assert "already imported; nothing was added" in again.text()
    assert Question.objects.filter(course=world.course, title="Blue sky").count() == 1

    # The instructor puts the imported matching and missing-word questions in a quiz that
    # shows the score as soon as it is submitted.
    item = ModuleItem.objects.create(
        module=world.quiz.item.module, kind=ItemKind.QUIZ, title="Imported check", position=60
    )
    Quiz.objects.create(item=item)
    Assignment.objects.create(item=item, cohort=world.course.cohorts.get())
    page.goto(reverse("cases:quiz_settings", args=[item.pk]))
    page.get_by_label("Imported/Week 1 · Home cities", exact=True).check()
    page.get_by_label("Imported/Week 1 · Home", exact=True).check()
    feedback = page.get_by_label("Feedback release")
    feedback.select_option(label="Immediately after submitting")
    page.get_by_role("button", name="Save settings").click()
    expect(page.get_by_text("Quiz settings saved.")).to_be_visible()

    # The student answers by keyboard alone: SMIC matched to Beijing (one pair of two
    # right: half of 1 point) and the blank "peking" (accepted at 50%, any case: half of
    # 1 point), so 1 of 2 points.
    student = open_as("student")
    student.goto(item.get_absolute_url())
    student.get_by_role("button", name="Start the quiz").focus()
    student.keyboard.press("Enter")
    expect(student.get_by_text("0 of 2 answered.")).to_be_visible()
    choose_matches_by_keyboard(
        student, {"Lenovo": "Beijing", "SMIC": "Beijing"}, after="Match each firm to its city."
    )
    student.keyboard.press("Tab")
    expect(student.get_by_role("textbox", name="Blank in: Lenovo calls ___ home.")).to_be_focused()
    student.keyboard.type("peking")
    expect(student.get_by_text("2 of 2 answered.")).to_be_visible()  # Autosaved.
    assert_accessible(student)
    student.keyboard.press("Tab")
    expect(student.get_by_role("button", name="Save answers")).to_be_focused()
    student.keyboard.press("Tab")
    expect(student.get_by_role("button", name="Finish and submit…")).to_be_focused()
    student.keyboard.press("Enter")
    expect(student.get_by_role("heading", name="Submit your attempt?")).to_be_visible()
    student.get_by_role("button", name="Submit now").focus()
    student.keyboard.press("Enter")
    expect(student.locator(".score")).to_have_text("1.00 / 2.00")
    expect(student.get_by_text("SMIC: Your match: Beijing")).to_contain_text("Shanghai")
    expect(student.locator("mark.blank--filled")).to_have_text("peking")
    expect(student.get_by_text("0.50 / 1.00 points")).to_have_count(2)
    assert_accessible(student)

    # The instructor sees the same score in the tracker's panel for the student's work.
    page.goto(
        reverse("cases:tracker", args=[world.course.pk])
        + f"?student={world.users['student'].pk}&item={item.pk}"
    )
    expect(page.get_by_text("Attempt 1:")).to_contain_text("1.00 / 2.00")
