"""An instructor imports a GIFT file in Chromium: the preview's table names each
question's outcome, the sound ones come in, and the same preview never imports twice."""

import re

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from cases.models import Question
from tests.browser.conftest import PHONE, assert_accessible, sign_in
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
)


def test_instructor_previews_a_gift_file_and_imports_the_sound_questions(page, world):
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
    table = page.get_by_role("table", name="4 of 5 questions can be imported; 1 is refused.")
    expect(table).to_be_visible()
    rows = table.locator("tbody tr")
    expect(rows).to_have_count(5)
    expect(rows.nth(0)).to_contain_text("Imports as single choice")
    expect(rows.nth(1).locator("td").first).to_have_text("7")
    expect(rows.nth(1)).to_contain_text("Refused: The answer block is not closed with }.")
    expect(rows.nth(2)).to_contain_text("Imports as true / false")
    expect(rows.nth(3)).to_contain_text("Imports as matching")
    expect(rows.nth(4)).to_contain_text("Imports as short answer (graded automatically)")
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
    expect(page.get_by_text("4 questions imported; 1 refused.")).to_be_visible()
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
