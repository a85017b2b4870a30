"""Importing a GIFT file: a preview names what each question imports as, or why it is
refused; then the sound questions come in (one transaction), or all or nothing."""

import io
import re
from html import unescape

import pytest
from django.urls import reverse

from cases.gift import GiftErrors
from cases.models import Question
from cases.services.quizzes import gift_preview, questions_import_gift

pytestmark = pytest.mark.django_db

# Two sound questions around a broken one (its answer block never closes).
FILE = (
    "$CATEGORY: Imported/Week 1\n"
    "\n"
    "::Foreign partner::Which firm was Shanghai Bell's foreign partner?{=Alcatel ~Motorola ~IBM}\n"
    "\n"
    "::Broken::Which year did the joint venture start? {=1984 ~1990\n"
    "\n"
    "::Blue sky::The sky is blue on a clear day.{T}\n"
)


def _upload(text: str = FILE, name: str = "bank.gift", raw: bytes | None = None):
    upload = io.BytesIO(raw if raw is not None else text.encode())
    upload.name = name
    return upload


def _rows(html: str) -> list[list[str]]:
    body = html.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    return [
        [" ".join(unescape(re.sub(r"<[^>]+>", "", cell)).split()) for cell in cells]
        for cells in (
            re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, re.S)
            for row in re.findall(r"<tr[^>]*>(.*?)</tr>", body, re.S)
        )
    ]


def _hidden(html: str, name: str) -> str:
    value = re.search(rf'<input type="hidden" name="{name}" value="([^"]*)"', html).group(1)
    return unescape(value)


def _preview(client, world, text: str = FILE):
    url = reverse("cases:question_import", args=[world.course.pk])
    response = client.post(url, {"file": _upload(text)})
    assert response.status_code == 200
    return response.content.decode()


def _confirm(client, world, html: str, mode: str = "sound"):
    url = reverse("cases:question_import_confirm", args=[world.course.pk])
    data = {"text": _hidden(html, "text"), "token": _hidden(html, "token"), "mode": mode}
    return client.post(url, data)


def _bank(world) -> list[str]:
    return list(
        Question.objects.filter(course=world.course).order_by("pk").values_list("title", flat=True)
    )


def test_the_instructor_previews_then_imports_the_sound_questions_once(world, client_for):
    client = client_for("instructor")
    before = _bank(world)
    html = _preview(client, world)
    # The preview stores nothing and lists every question, the refused one by its line.
    assert _bank(world) == before
    rows = _rows(html)
    assert [row[:2] for row in rows] == [
        ["3", "Foreign partner"],
        ["5", "Broken"],
        ["7", "Blue sky"],
    ]
    assert rows[0][2] == "Imports as single choice"
    assert rows[1][2].startswith("Refused: The answer block is not closed with }. — ")
    assert rows[2][2] == "Imports as true / false"
    assert "2 of 3 questions can be imported; 1 is refused." in html
    assert "Import the 2 sound questions" in html

    response = _confirm(client, world, html)
    assert response.status_code == 302
    assert response["Location"] == reverse("cases:question_list", args=[world.course.pk])
    page = client.get(response["Location"]).content.decode()
    assert "2 questions imported; 1 refused." in page
    assert _bank(world) == [*before, "Foreign partner", "Blue sky"]
    partner = Question.objects.get(course=world.course, title="Foreign partner")
    assert partner.category.name == "Imported/Week 1"
    assert [(c.text, c.fraction) for c in partner.choices.order_by("position")] == [
        ("Alcatel", 1),
        ("Motorola", 0),
        ("IBM", 0),
    ]

    # The same preview sent again (a reload, the back button, a second click) adds nothing.
    again = _confirm(client, world, html)
    assert again.status_code == 302
    assert "already imported; nothing was added" in client.get(again["Location"]).content.decode()
    assert _bank(world) == [*before, "Foreign partner", "Blue sky"]

    # Uploading the file afresh: its questions are in the bank already, left out.
    _confirm(client, world, _preview(client, world))
    assert _bank(world).count("Foreign partner") == 1


def test_all_or_nothing_imports_nothing_and_lists_every_problem(world, client_for):
    client = client_for("instructor")
    before = _bank(world)
    two_broken = FILE + "\n::Empty::Which one? {~a ~b}\n"
    html = _preview(client, world, two_broken)
    assert "2 of 4 questions can be imported; 2 are refused." in html
    response = _confirm(client, world, html, mode="all")
    assert response.status_code == 200
    page = response.content.decode()
    assert "Nothing was imported: 2 questions are refused" in page
    refused = [row for row in _rows(page) if row[2].startswith("Refused:")]
    assert [row[:2] for row in refused] == [["5", "Broken"], ["9", "Empty"]]
    assert "No answer is marked right" in refused[1][2]
    assert _bank(world) == before
    # Nothing came in, so the same preview may still import its sound questions.
    assert _confirm(client, world, page).status_code == 302
    assert _bank(world) == [*before, "Foreign partner", "Blue sky"]


def test_a_sound_file_imports_whole_in_either_mode(world, client_for):
    client = client_for("instructor")
    sound = "::One::The sky is blue.{T}\n\n::Two::Grass is red.{F}\n"
    html = _preview(client, world, sound)
    assert "All 2 questions can be imported." in html
    assert "All or nothing" not in html  # Nothing to choose between.
    assert "Import the 2 questions" in html
    assert _confirm(client, world, html, mode="all").status_code == 302
    assert _bank(world)[-2:] == ["One", "Two"]


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"", "The submitted file is empty."),
        (b"   \n\n", "This file is empty"),
        ("::A::Caf\xe9 {T}".encode("latin-1"), "Save the file as UTF-8 text"),
        (b"// only a comment\n", "No questions found in this file"),
    ],
)
def test_an_unreadable_file_is_refused_beside_the_field(world, client_for, raw, message):
    client = client_for("instructor")
    before = _bank(world)
    url = reverse("cases:question_import", args=[world.course.pk])
    html = client.post(url, {"file": _upload(raw=raw)}).content.decode()
    beside = html[html.index('id="id_file_error"') :].split("</ul>", 1)[0]
    assert message in beside
    assert "<tbody>" not in html  # No preview.
    assert _bank(world) == before


def test_a_file_over_the_limit_is_refused_beside_the_field(world, client_for):
    url = reverse("cases:question_import", args=[world.course.pk])
    big = ("::A::The sky is blue.{T}\n\n" * 90_000).encode()
    assert len(big) > 2 * 1024 * 1024
    html = client_for("instructor").post(url, {"file": _upload(raw=big)}).content.decode()
    assert "That file is over 2 MB." in html.split('id="id_file_error"', 1)[1]


def test_a_tampered_or_expired_confirmation_imports_nothing(world, client_for):
    client = client_for("instructor")
    before = _bank(world)
    url = reverse("cases:question_import_confirm", args=[world.course.pk])
    response = client.post(url, {"text": FILE, "token": "not-a-token", "mode": "sound"})
    assert response["Location"] == reverse("cases:question_import", args=[world.course.pk])
    assert "Upload the file again" in client.get(response["Location"]).content.decode()
    assert _bank(world) == before


def test_only_the_course_instructors_preview_or_import(world, client_for):
    html = _preview(client_for("instructor"), world)
    before = _bank(world)
    for role, status in [("ta", 403), ("student", 403), ("other_instructor", 404)]:
        client = client_for(role)
        upload_url = reverse("cases:question_import", args=[world.course.pk])
        assert client.post(upload_url, {"file": _upload()}).status_code == status
        assert _confirm(client, world, html).status_code == status
    assert _bank(world) == before


def test_the_preview_costs_the_same_for_a_short_or_a_long_file(
    world, client_for, django_assert_max_num_queries
):
    client = client_for("instructor")
    for count in (3, 60):
        text = "\n\n".join(f"::Q{i}::Question {i}?{{=yes ~no}}" for i in range(count))
        with django_assert_max_num_queries(8):
            _preview(client, world, text)


def test_the_service_imports_what_is_sound_or_all_or_nothing(world):
    results = gift_preview(text=FILE)
    assert [r.line for r in results] == [3, 5, 7]
    refused = [r.refusal for r in results if r.refusal]
    assert len(refused) == 1 and refused[0].title == "Broken"
    assert refused[0].line == 5 and refused[0].reason and refused[0].fix
    assert all((r.question is None) != (r.refusal is None) for r in results)

    before = _bank(world)
    with pytest.raises(GiftErrors) as error:
        questions_import_gift(course=world.course, text=FILE, sound_only=False)
    assert len(error.value.errors) >= 1
    assert _bank(world) == before
    created = questions_import_gift(course=world.course, text=FILE)
    assert [q.title for q in created] == ["Foreign partner", "Blue sky"]
    assert [q.kind for q in created] == ["single", "true_false"]


def test_an_answer_too_long_to_store_is_refused_with_its_line_not_cut_short(world, client_for):
    # A choice's text is stored in at most 500 characters: a longer one came in cut off
    # mid-word, the preview saying it could be imported.
    client = client_for("instructor")
    long = " ".join(["process"] * 70)  # 559 characters.
    text = f"::Short::Which?{{=Alcatel ~Motorola}}\n\n::Long::Which?{{={long} ~Motorola}}\n"
    html = _preview(client, world, text)
    assert _rows(html)[1][:2] == ["3", "Long"]
    assert "Refused: An answer is at most 500 characters" in _rows(html)[1][2]
    assert _confirm(client, world, html).status_code == 302
    assert _bank(world)[-1] == "Short"
    assert not Question.objects.filter(title="Long").exists()


def test_a_question_whose_html_shows_an_image_is_refused_by_name_not_imported_without_it(
    world, client_for
):
    # Questions show no images: Moodle's <img> came in as its alt text, the preview
    # saying it could be imported, and students were asked about a chart nobody saw.
    client = client_for("instructor")
    text = (
        "::Chart::[html]<p>What does this chart show?</p>"
        '<p><img src="@@PLUGINFILE@@/chart.png" alt="Exports by year"></p>'
        "{=Growth ~Decline}\n"
        "\n"
        '::Answer::Which one?{=[html]<img src\\="https\\://example.org/a.png"> ~[html]<b>B</b>}\n'
        "\n"
        "::Plain::[html]<p>Who was the <b>partner</b>?</p>{=Alcatel ~Motorola}\n"
    )
    html = _preview(client, world, text)
    rows = _rows(html)
    assert [row[:2] for row in rows] == [["1", "Chart"], ["3", "Answer"], ["5", "Plain"]]
    for row in rows[:2]:
        assert "Refused: It shows an image" in row[2]
        assert "Describe the image in words" in row[2]
    assert rows[2][2] == "Imports as single choice"
    assert _confirm(client, world, html).status_code == 302
    assert _bank(world)[-1] == "Plain"
    assert not Question.objects.filter(title__in=["Chart", "Answer"]).exists()


def _import_into(client, course, text: str) -> str:
    """Preview `text` as a GIFT upload into `course`'s bank, then import its sound
    questions; the preview's HTML."""
    response = client.post(
        reverse("cases:question_import", args=[course.pk]), {"file": _upload(text)}
    )
    html = response.content.decode()
    data = {"text": _hidden(html, "text"), "token": _hidden(html, "token"), "mode": "sound"}
    assert (
        client.post(reverse("cases:question_import_confirm", args=[course.pk]), data).status_code
        == 302
    )
    return html


def test_points_survive_an_export_and_an_import_into_another_course(world, client_for):
    """GIFT cannot say what a question is worth: an essay worth 2 points came back worth
    1. The instructor exports a bank with a 2-point essay, a half-point true/false and a
    1-point choice (Licensee); the other course's instructor imports the file and sees each worth
    what it was, and the export marks only the two not worth the default."""
    from decimal import Decimal

    for title, kind, points in (
        ("Reflect", "short_text", Decimal(2)),
        ("Quick check", "true_false", Decimal("0.5")),
        ("Licensee", "single", Decimal(1)),
    ):
        question = Question.objects.create(
            course=world.course, kind=kind, title=title, text=f"{title}?", points=points,
            true_false_answer=True if kind == "true_false" else None,
        )  # fmt: skip
        if kind == "single":
            question.choices.create(text="Alcatel", fraction=1, position=0)
            question.choices.create(text="IBM", fraction=0, position=1)
    exported = client_for("instructor").get(
        reverse("cases:question_export", args=[world.course.pk])
    )
    text = exported.content.decode()
    assert "// points: 2\n::Reflect::" in text and "// points: 0.5\n::Quick check::" in text
    assert "\n\n::Licensee::" in text  # Worth the default: no comment.

    other = client_for("other_instructor")
    html = _import_into(other, world.other_course, text)
    assert "All 8 questions can be imported." in html
    imported = Question.objects.filter(
        course=world.other_course, title__in=["Reflect", "Quick check", "Licensee"]
    )
    assert dict(imported.values_list("title", "points")) == {
        "Reflect": Decimal(2), "Quick check": Decimal("0.5"), "Licensee": Decimal(1),
    }  # fmt: skip
    page = other.get(reverse("cases:question_list", args=[world.other_course.pk])).content.decode()
    assert "<td>2.00</td>" in page and "<td>0.50</td>" in page
    # Exported again from the other course, the file reads the same from the questions on.
    again = other.get(reverse("cases:question_export", args=[world.other_course.pk]))
    assert again.content.decode().split("\n", 1)[1] == text.split("\n", 1)[1]


def test_a_moodle_file_without_points_imports_at_the_default_and_a_bad_points_comment_is_refused(
    world, client_for
):
    client = client_for("instructor")
    text = (
        "// A Moodle comment.\n"
        "::Essay::Explain the joint venture.{}\n"
        "\n"
        "// points: 0\n"
        "::Free::Worth nothing?{T}\n"
    )
    html = _preview(client, world, text)
    assert _rows(html)[1][:2] == ["5", "Free"]
    assert _rows(html)[1][2].startswith(
        "Refused: The points comment on line 4 ('0') is not a number of points"
    )
    _confirm(client, world, html)
    essay = Question.objects.get(course=world.course, title="Essay")
    assert essay.points == 1
    assert not Question.objects.filter(title="Free").exists()


def test_a_question_name_too_long_to_store_is_refused_with_its_line_not_cut_short(
    world, client_for
):
    """A name is stored in at most 200 characters: a longer one came in cut off, the
    preview saying it could be imported. It is refused by its line; the other question
    comes in."""
    client = client_for("instructor")
    name = "The joint venture's first decade " * 7  # 230 characters, stripped.
    text = f"::Short::Which?{{=Alcatel ~Motorola}}\n\n::{name}::Which?{{=Alcatel ~Motorola}}\n"
    html = _preview(client, world, text)
    assert _rows(html)[1][0] == "3"
    assert _rows(html)[1][2].startswith(
        "Refused: The question name is 230 characters; a name is at most 200."
    )
    assert "1 of 2 questions can be imported; 1 is refused." in html
    _confirm(client, world, html)
    assert _bank(world)[-1] == "Short"
    assert not Question.objects.filter(title__startswith="The joint venture").exists()


def test_an_answer_that_says_r_to_d_with_an_arrow_is_left_out_by_name_not_exported_broken(
    world, client_for
):
    """GIFT reads '->' in an answer block as a matching pair, as Moodle does, and has no
    escape for it: a single choice whose answer read 'R -> D' was exported as written,
    and importing the file back refused it as a malformed matching question. The export
    leaves such a question out by name, as it does a matching prompt holding '->'; the
    rest of the bank round-trips."""
    arrow = Question.objects.create(
        course=world.course, kind="single", title="Direction", text="Where does Lenovo move?"
    )
    arrow.choices.create(text="R -> D", fraction=1, position=0)
    arrow.choices.create(text="Nowhere", fraction=0, position=1, feedback="It moves -> D.")
    said = Question.objects.create(
        course=world.course, kind="short_answer", title="Said", text="Its standard?"
    )
    said.choices.create(text="WAPI", fraction=1, position=0, feedback="Yes: WLAN -> WAPI.")
    general = Question.objects.create(
        course=world.course, kind="single", title="Plain", text="Who?", feedback="R -> D."
    )
    general.choices.create(text="Lenovo", fraction=1, position=0)
    general.choices.create(text="IBM", fraction=0, position=1)
    client = client_for("instructor")
    text = client.get(reverse("cases:question_export", args=[world.course.pk])).content.decode()
    assert "// Left out (no GIFT form): " in text
    left_out = text.split("// Left out (no GIFT form): ", 1)[1].split("\n", 1)[0]
    assert "Direction" in left_out and "Said" in left_out and "Plain" not in left_out

    other = client_for("other_instructor")
    html = other.post(
        reverse("cases:question_import", args=[world.other_course.pk]), {"file": _upload(text)}
    ).content.decode()
    assert "All 6 questions can be imported." in html  # Every exported question imports.
    _import_into(other, world.other_course, text)
    copy = Question.objects.get(course=world.other_course, title="Plain")
    assert copy.feedback == "R -> D." and copy.kind == "single"


def test_the_file_uploaded_again_after_fixing_its_broken_question_adds_only_that_one(
    world, client_for
):
    """The instructor imports the file's two sound questions, fixes the one it refused,
    and uploads the file again: every question of the file came in a second time, so
    the bank held two of each (and a quiz drawing from the category drew them twice).
    The preview now says which are in the bank already and leaves them out; the fixed
    one comes in, and a third upload adds nothing."""
    client = client_for("instructor")
    before = Question.objects.filter(course=world.course).count()
    assert _confirm(client, world, _preview(client, world)).status_code == 302
    assert Question.objects.filter(course=world.course).count() == before + 2

    fixed = FILE.replace("{=1984 ~1990\n", "{=1984 ~1990}\n")
    html = _preview(client, world, fixed)
    rows = _rows(html)
    assert [row[1] for row in rows] == ["Foreign partner", "Broken", "Blue sky"]
    assert rows[0][2].startswith("Left out: This question is in the bank already")
    assert rows[1][2] == "Imports as single choice"
    assert "1 of 3 questions can be imported; 2 are in the bank already." in html
    done = _confirm(client, world, html)
    assert done.status_code == 302
    titles = list(
        Question.objects.filter(course=world.course, category__name="Imported/Week 1")
        .order_by("title")
        .values_list("title", flat=True)
    )
    assert titles == ["Blue sky", "Broken", "Foreign partner"]
    listing = client.get(done["Location"]).content.decode()
    assert "1 question imported; 2 in the bank already, left out." in listing

    again = _confirm(client, world, _preview(client, world, fixed), mode="all")
    assert again.status_code == 302
    assert (
        "in the bank already; nothing was added" in client.get(again["Location"]).content.decode()
    )
    assert Question.objects.filter(course=world.course).count() == before + 3
    # Into another course's bank, the same file is new: all three come in.
    other = client_for("other_instructor")
    _import_into(other, world.other_course, fixed)
    assert Question.objects.filter(course=world.other_course, title="Broken").count() == 1


def test_two_questions_without_a_blank_line_between_them_are_refused_naming_the_line(
    world, client_for
):
    """GIFT separates questions by a blank line. With it forgotten, the second question
    was read as the end of the first one's text (a missing word): the preview said the
    first imports as single choice, the second was not listed, and students would have
    read '___::Standard::Which standard? {=WAPI ~WLAN}' as its text. The preview now
    refuses the pair, naming the line where the second question starts."""
    client = client_for("instructor")
    text = (
        "::Foreign partner::Who was the partner? {=Alcatel ~IBM}\n"
        "::Standard::Which standard?\n"
        "{=WAPI ~WLAN}\n"
        "\n"
        "::Sky::The sky is blue.{T}\n"
    )
    html = _preview(client, world, text)
    rows = _rows(html)
    assert [row[:2] for row in rows] == [["1", "Foreign partner"], ["5", "Sky"]]
    assert rows[0][2].startswith("Refused: Another question begins on line 2")
    assert "Put a blank line before the second question" in rows[0][2]
    assert _confirm(client, world, html).status_code == 302
    assert not Question.objects.filter(title__in=["Foreign partner", "Standard"]).exists()
    assert Question.objects.filter(course=world.course, title="Sky").exists()
    # A second question with no answer block (a description) run on is named as well,
    # and one whose name is not on a line of its own by its answer block.
    run_on = gift_preview(text="::Sea::Is it blue?{T}\n::Intro::About the sea.\n")
    assert run_on[0].refusal.reason.startswith("Another question begins on line 2")
    run_on = gift_preview(text="Is it blue?{T}\nIs it green?{F}\n")
    assert run_on[0].refusal.reason.startswith("Another question begins on line 2")


def test_a_bank_of_a_course_with_a_chinese_code_downloads_as_a_file(world, client_for):
    """A course coded '创新 101' exported its bank with the whole Content-Disposition
    header MIME-encoded ('=?utf-8?b?…?='), which browsers do not read: the GIFT file
    opened as a page, or saved under a garbled name. The header now says attachment,
    with the name in RFC 5987's filename*, and the text is the bank's, Chinese kept."""
    world.course.code = "创新 101"
    world.course.save()
    Question.objects.create(
        course=world.course, kind="short_text", title="第二代创新", text="什么是第二代创新"
    )
    response = client_for("instructor").get(
        reverse("cases:question_export", args=[world.course.pk])
    )
    header = response.serialize_headers().decode("latin-1")
    disposition = next(
        line for line in header.split("\r\n") if line.startswith("Content-Disposition")
    )
    assert disposition.startswith("Content-Disposition: attachment;")
    assert "filename*=utf-8''%E5%88%9B%E6%96%B0-101-questions.gift" in disposition
    assert "::第二代创新::什么是第二代创新{}" in response.content.decode()


def test_a_category_name_too_long_to_store_refuses_its_questions_naming_its_line_not_cut_short(
    world, client_for
):
    """A category name is stored in at most 200 characters: a longer one came in cut
    off, the preview saying its questions could be imported, so they landed in a
    category of another name. Each question under it is refused by its line, the
    reason naming the $CATEGORY line and the limit; the next category's question comes
    in. The instructor shortens the name and uploads the file again: the two come in
    under it, and the one imported before is left out as already there."""
    from cases.models import QuestionCategory

    client = client_for("instructor")
    long_name = "Week 1/" + "The joint venture's first decade " * 7  # 237 characters.
    text = (
        f"$CATEGORY: {long_name}\n"
        "\n"
        "::Foreign partner::Which firm was Shanghai Bell's foreign partner?{=Alcatel ~Motorola}\n"
        "\n"
        "::Blue sky::The sky is blue on a clear day.{T}\n"
        "\n"
        "$CATEGORY: Week 2\n"
        "\n"
        "::Licensee::Which firm licensed its switch?{=Alcatel ~IBM}\n"
    )
    html = _preview(client, world, text)
    rows = _rows(html)
    assert [row[:2] for row in rows] == [
        ["3", "Foreign partner"],
        ["5", "Blue sky"],
        ["9", "Licensee"],
    ]
    for row in rows[:2]:
        assert row[2].startswith(
            "Refused: Its category, named on line 1, is 237 characters; a category name "
            "is at most 200."
        ), row[2]
    assert rows[2][2] == "Imports as single choice"
    assert "1 of 3 questions can be imported; 2 are refused." in html
    _confirm(client, world, html)
    assert not Question.objects.filter(
        course=world.course, title__in=["Foreign partner", "Blue sky"]
    ).exists()
    assert list(
        QuestionCategory.objects.filter(course=world.course).values_list("name", flat=True)
    ) == ["Week 2"]

    fixed = text.replace(long_name, "Week 1/The joint venture")
    html = _preview(client, world, fixed)
    assert "2 of 3 questions can be imported" in html
    _confirm(client, world, html)
    partner = Question.objects.get(course=world.course, title="Foreign partner")
    assert partner.category.name == "Week 1/The joint venture"
    assert _bank(world).count("Licensee") == 1


def test_a_description_s_general_feedback_lost_on_export_is_named_in_the_file(world, client_for):
    """GIFT writes a description as its text alone: the general feedback an instructor
    gave one ("Read ¶3 before you answer") was dropped from the export without a word,
    and the copy imported into another course had none. The file's first lines now
    name each question that lost something and what; a choice's general feedback, which
    GIFT carries, is not named and arrives. A bank that loses nothing says nothing."""
    client = client_for("instructor")
    url = reverse("cases:question_export", args=[world.course.pk])
    assert "// Lost" not in client.get(url).content.decode()
    Question.objects.create(
        course=world.course, kind="description", title="Before you start",
        text="The questions below are about the joint venture.",
        feedback="Read ¶3 before you answer.",
    )  # fmt: skip
    plain = Question.objects.create(
        course=world.course, kind="single", title="Plain", text="Who?", feedback="Lenovo."
    )
    plain.choices.create(text="Lenovo", fraction=1, position=0)
    plain.choices.create(text="IBM", fraction=0, position=1)
    text = client.get(url).content.decode()
    header = text.split("\n\n", 1)[0]
    assert (
        "// Lost (GIFT has no place for it): the general feedback of “Before you start”"
        in header.splitlines()
    )
    assert "Plain" not in header

    other = client_for("other_instructor")
    _import_into(other, world.other_course, text)
    copy = Question.objects.get(course=world.other_course, title="Before you start")
    assert (copy.kind, copy.feedback) == ("description", "")
    assert Question.objects.get(course=world.other_course, title="Plain").feedback == "Lenovo."
