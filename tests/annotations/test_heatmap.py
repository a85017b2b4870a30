"""The heat map of the class's notes on a case, as the course staff read it."""

import csv
import io
import re
from html import unescape

import pytest
from django.urls import reverse
from django.utils import timezone

from cases.anchors import sentences, text_of
from cases.models import Annotation, CaseReading, Visibility
from cases.permissions import CaseAccess
from cases.services.annotations import Selection, annotation_create, annotation_reply
from cases.services.heatmap import HeatMap, Paragraph, Sentence, heat_level, heat_notes
from tests.factories import (
    AssignmentFactory,
    CohortFactory,
    CourseFactory,
    ModuleFactory,
    ModuleItemFactory,
    UserFactory,
    enrol,
    make_case,
)
from tests.helpers import PAGE_BUDGET, page_queries

pytestmark = pytest.mark.django_db

BODY = """Shanghai Bell makes telecom switches. It was founded in 1984. Alcatel was its partner.

It has employed *many* researchers. Most of them work on development.

Its partners include a state firm.

The board met in 2001. It chose to build a lab!"""

STUDENT = CaseAccess(is_teaching_staff=False, can_edit=False)


def _place(case, number: int, words: str) -> tuple[int, int]:
    text = text_of(case.paragraphs.get(number=number).html)
    start = text.index(words)
    return start, start + len(words)


def note(case, author, number, words, *, visibility=Visibility.COHORT, to=None, to_words=None):
    """A note on `words` of ¶`number` (through ¶`to`'s `to_words`, if given)."""
    start, end = _place(case, number, words)
    if to is not None:
        _start, end = _place(case, to, to_words)
    return annotation_create(
        case=case,
        author=author,
        access=STUDENT,
        selection=Selection(number, start, to or number, end, quote=""),
        body=f"A note by {author.username} on {words}.",
        visibility=visibility,
    )


def _class(size_a: int = 2, size_b: int = 2, *, prefix: str = "s", body: str = BODY):
    """A course reading the case, given to sections A and B; an instructor, a TA
    limited to section A, and an admin."""
    instructor, ta, admin = UserFactory(), UserFactory(), UserFactory(is_staff=True)
    section_a, section_b = CohortFactory(name="Section A"), CohortFactory(name="Section B")
    course = CourseFactory(
        instructors=[instructor], teaching_assistants=[ta], cohorts=[section_a, section_b]
    )
    section_a.teaching_assistants.add(ta)
    case = make_case(slug=f"bell-{prefix}", body=body, created_by=instructor)
    item = ModuleItemFactory(module=ModuleFactory(course=course), title="Shanghai Bell")
    CaseReading.objects.create(item=item, case=case)
    for cohort in (section_a, section_b):
        AssignmentFactory(item=item, cohort=cohort)
    return {
        "course": course,
        "case": case,
        "item": item,
        "a": enrol(section_a, size_a, prefix=f"{prefix}a"),
        "b": enrol(section_b, size_b, prefix=f"{prefix}b"),
        "section_a": section_a,
        "section_b": section_b,
        "instructor": instructor,
        "ta": ta,
        "admin": admin,
        "url": reverse("cases:annotation_heatmap", args=[course.pk, case.slug]),
    }


@pytest.fixture
def annotated():
    """Sections A and B on the case: three notes on "founded in 1984" (A twice, B
    once), a question from A on ¶2's first sentence, B's note from ¶1's last sentence
    into ¶2, a reply; and what must not count: a private note on ¶4, a deleted and a
    hidden note, and a note orphaned by an edit. ¶3 and ¶4 stay untouched."""
    w = _class(3, 3)
    case = w["case"]
    (a1, a2, a3), (b1, b2, _b3) = w["a"], w["b"]
    founded = "It was founded in 1984."
    note(case, a1, 1, "founded in 1984")
    note(case, a2, 1, founded)
    note(case, b1, 1, "1984")
    asked = note(case, a1, 2, "employed", visibility=Visibility.INSTRUCTOR)
    across = note(case, b2, 1, "Alcatel", to=2, to_words="It has employed")
    annotation_reply(thread=across, author=b1, body="Alcatel again.")
    note(case, a2, 4, "The board met", visibility=Visibility.PRIVATE)
    gone = note(case, a3, 4, "build a lab")
    Annotation.objects.filter(pk=gone.pk).update(deleted_at=timezone.now())
    hidden = note(case, a3, 3, "state firm")
    Annotation.objects.filter(pk=hidden.pk).update(hidden_at=timezone.now(), hidden_reason="Rude")
    lost = note(case, b2, 3, "Its partners")
    Annotation.objects.filter(pk=lost.pk).update(orphaned=True)
    w["asked"] = asked
    return w


def _text(response) -> str:
    """The page's words, as read: tags gone, spaces collapsed."""
    text = " ".join(unescape(re.sub(r"<[^>]+>", " ", response.content.decode())).split())
    return re.sub(r" ([,.)])", r"\1", text)


def _table(html: str, heading: str) -> list[list[str]]:
    """The body rows of the table under `heading`, as cell texts."""
    section = html.split(f">{heading}</h2>", 1)[1].split("</table>", 1)[0]
    body = section.split("<tbody>", 1)[1]
    return [
        [
            " ".join(unescape(re.sub(r"<[^>]+>", "", cell)).split())
            for cell in re.findall(r"<td>(.*?)</td>", row, re.S)
        ]
        for row in re.findall(r"<tr>(.*?)</tr>", body, re.S)
    ]


def _totals(text: str) -> dict[str, str]:
    found = re.search(
        r"Notes (\d+) Students who annotated (\d+) of (\d+) Questions (\d+) Orphaned (\d+)", text
    )
    assert found, text[:2000]
    return dict(
        zip(["notes", "students", "class", "questions", "orphaned"], found.groups(), strict=True)
    )


def _csv(response) -> list[list[str]]:
    body = response.content.decode("utf-8")
    assert body.startswith("\ufeff")
    return list(csv.reader(io.StringIO(body[1:])))


def test_instructor_sees_where_the_class_highlighted_and_asked(annotated, client):
    client.force_login(annotated["instructor"])
    response = client.get(annotated["url"])
    assert response.status_code == 200
    html, text = response.content.decode(), _text(response)
    # Notes: 3 on "founded", the question, the note across ¶1-¶2, the orphaned one,
    # by A's first two students and B's first two.
    assert _totals(text) == {
        "notes": "6", "students": "4", "class": "6", "questions": "1", "orphaned": "1",
    }  # fmt: skip
    most = _table(html, "Most highlighted")
    assert most[0] == ["¶1", "It was founded in 1984.", "3", "3", "0"]
    # The question and the note from ¶1 into ¶2 both cover ¶2's first sentence.
    assert ["¶2", "It has employed many researchers.", "2", "2", "1"] in most
    assert ["¶1", "Alcatel was its partner.", "1", "1", "0"] in most
    assert len(most) == 3
    assert _table(html, "Where questions cluster") == [
        ["¶2", "It has employed many researchers.", "1", "2"]
    ]
    # ¶3 had only a hidden and an orphaned note, ¶4 only a private and a deleted one.
    assert "Paragraphs nobody touched: ¶3, ¶4" in text
    assert "The board met" in text  # The text is there, uncounted.
    assert "highlighted 3 times" not in text
    assert "It was founded in 1984. (highlighted by 3 students)" in text
    assert "(highlighted by 2 students, 1 question)" in text
    assert '<span class="heat heat--3">It was founded in 1984.' in html
    assert [level for level, _words in response.context["legend"]] == [0, 1, 2, 3]
    assert '<span class="heat heat--0">The board met in 2001.' in html
    assert "2 notes · 2 students · 1 question" in text  # ¶2's totals.
    assert "note by" not in html  # Counts only: nobody's words.


def test_private_notes_never_count_even_when_they_are_all_there_is(annotated, client):
    case = annotated["case"]
    Annotation.objects.filter(case=case).exclude(visibility=Visibility.PRIVATE).delete()
    client.force_login(annotated["instructor"])
    text = _text(client.get(annotated["url"]))
    assert _totals(text)["notes"] == "0"
    assert "No shared notes on this case yet." in text
    assert "Paragraphs nobody touched: ¶1, ¶2, ¶3, ¶4" in text
    rows = _csv(client.get(annotated["url"] + "?format=csv"))
    assert all(row[3:] == ["0", "0", "0", "0"] for row in rows[1:])


def test_filtering_to_section_b_counts_only_its_notes(annotated, client):
    client.force_login(annotated["instructor"])
    url = annotated["url"] + f"?cohort={annotated['section_b'].pk}"
    response = client.get(url)
    html, text = response.content.decode(), _text(response)
    assert f'<option value="{annotated["section_b"].pk}" selected>Section B</option>' in html
    assert _totals(text) == {
        "notes": "3", "students": "2", "class": "3", "questions": "0", "orphaned": "1",
    }  # fmt: skip
    most = _table(html, "Most highlighted")
    assert most[0][0] == "¶1" and most[0][2:] == ["1", "1", "0"]
    assert ["¶2", "It has employed many researchers.", "1", "1", "0"] in most
    assert "No questions to the instructor on this case yet." in text
    # Twice: the same filter gives the same page.
    assert _text(client.get(url)) == text
    # An unknown cohort is no filter at all.
    assert _totals(_text(client.get(annotated["url"] + "?cohort=999999")))["notes"] == "6"


def test_a_student_who_moves_section_leaves_their_notes_and_is_counted_in_their_new_one(
    annotated, client
):
    """Section A's a1 and a2 annotated; a1 moves to section B. Their notes stay section
    A's (the class they were written for), but "students who annotated" is out of each
    section's students now: A's one of two, not two of two; B's two of four, as
    before (a1 wrote nothing for B). Both sections together count a1 once."""
    client.force_login(annotated["instructor"])
    a1 = annotated["a"][0]
    annotated["section_a"].memberships.filter(user=a1).update(cohort=annotated["section_b"])
    for cohort, students, of in [("section_a", "1", "2"), ("section_b", "2", "4")]:
        url = annotated["url"] + f"?cohort={annotated[cohort].pk}"
        for _ in range(2):
            totals = _totals(_text(client.get(url)))
            assert (totals["students"], totals["class"]) == (students, of)
    both = _totals(_text(client.get(annotated["url"])))
    assert (both["students"], both["class"], both["notes"]) == ("4", "6", "6")


def test_csv_has_a_row_per_sentence_matching_the_page(annotated, client):
    client.force_login(annotated["instructor"])
    response = client.get(annotated["url"] + "?format=csv")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert "bell-s-heat-map.csv" in response["Content-Disposition"]
    rows = _csv(response)
    assert rows[0] == [
        "Paragraph", "Sentence", "Text", "Highlights", "Students", "Questions", "Replies",
    ]  # fmt: skip
    assert len(rows) == 1 + 3 + 2 + 1 + 2  # The case's sentences, paragraph by paragraph.
    by_place = {(r[0], r[1]): r for r in rows[1:]}
    assert by_place[("1", "2")] == ["1", "2", "It was founded in 1984.", "3", "3", "0", "0"]
    # The note from ¶1 into ¶2 has one reply.
    assert by_place[("1", "3")][3:] == ["1", "1", "0", "1"]
    assert by_place[("2", "1")] == [
        "2", "1", "It has employed many researchers.", "2", "2", "1", "1",
    ]  # fmt: skip
    assert by_place[("2", "2")][3:] == ["0", "0", "0", "0"]
    assert by_place[("4", "1")][3:] == ["0", "0", "0", "0"]  # Private and deleted.
    # Filtered to section B, as the page.
    rows = _csv(client.get(annotated["url"] + f"?cohort={annotated['section_b'].pk}&format=csv"))
    assert {(r[0], r[1]): r[3] for r in rows[1:]}[("1", "2")] == "1"


def test_csv_cells_cannot_run_as_formulas(client):
    w = _class(1, 0, prefix="f", body="=HYPERLINK(1) is a formula. Plain text.")
    client.force_login(w["instructor"])
    rows = _csv(client.get(w["url"] + "?format=csv"))
    assert rows[1][2] == "'=HYPERLINK(1) is a formula."
    assert rows[2][2] == "Plain text."


def test_ta_limited_to_section_a_sees_only_section_a(annotated, client):
    client.force_login(annotated["ta"])
    response = client.get(annotated["url"])
    html, text = response.content.decode(), _text(response)
    assert "Section B" not in html
    assert _totals(text) == {
        "notes": "3", "students": "2", "class": "3", "questions": "1", "orphaned": "0",
    }  # fmt: skip
    assert _table(html, "Most highlighted")[0][2:] == ["2", "2", "0"]
    # Asking for section B by its id shows section A's, never B's.
    url = annotated["url"] + f"?cohort={annotated['section_b'].pk}"
    assert _totals(_text(client.get(url)))["notes"] == "3"
    rows = _csv(client.get(url + "&format=csv"))
    assert sum(int(r[3]) for r in rows[1:]) == 3  # "founded" twice, the question once.


def test_students_are_refused_and_strangers_told_nothing(annotated, client):
    client.force_login(annotated["a"][0])
    assert client.get(annotated["url"]).status_code == 403
    assert client.get(annotated["url"] + "?format=csv").status_code == 403
    client.force_login(UserFactory())
    assert client.get(annotated["url"]).status_code == 404


def test_a_course_that_does_not_use_the_case_is_404(annotated, client):
    other = _class(1, 1, prefix="o")
    # The other course's instructor asks for this case through their own course.
    url = reverse("cases:annotation_heatmap", args=[other["course"].pk, annotated["case"].slug])
    for user in (other["instructor"], annotated["admin"]):
        client.force_login(user)
        assert client.get(url).status_code == 404
        assert client.get(url + "?format=csv").status_code == 404
    client.force_login(annotated["instructor"])
    missing = reverse("cases:annotation_heatmap", args=[annotated["course"].pk, "no-such-case"])
    assert client.get(missing).status_code == 404


def test_the_course_page_links_staff_to_the_heat_map(annotated, client):
    course_url = annotated["course"].get_absolute_url()
    client.force_login(annotated["instructor"])
    assert annotated["url"] in client.get(course_url).content.decode()
    client.force_login(annotated["a"][0])
    assert annotated["url"] not in client.get(course_url).content.decode()


def test_heat_levels_scale_to_the_most_highlighted_sentence():
    assert [heat_level(n, 8) for n in range(9)] == [0, 1, 1, 2, 2, 3, 3, 4, 4]
    # A quiet case: a sentence is no hotter than its count.
    assert [heat_level(n, 3) for n in range(4)] == [0, 1, 2, 3]
    assert heat_level(0, 0) == 0


def _busy_class(size: int):
    """`size` students in each section, each writing three notes (one a question) and a
    private one."""
    w = _class(size, size, prefix=f"q{size}")
    case = w["case"]
    for n, student in enumerate(w["a"] + w["b"]):
        note(case, student, 1, "Alcatel")
        note(case, student, 2, "researchers", to=3, to_words="state")
        note(case, student, 4 if n % 2 else 1, "It", visibility=Visibility.INSTRUCTOR)
        note(case, student, 3, "partners", visibility=Visibility.PRIVATE)
    return w


@pytest.mark.parametrize("role", ["instructor", "ta", "admin"])
def test_heat_map_queries_do_not_grow_with_the_class(client, role):
    counts = page_queries(client, _busy_class, (2, 20), role, url=lambda w: w["url"])
    assert counts[0] == counts[1], counts
    assert counts[1] <= PAGE_BUDGET, counts
    csv_counts = page_queries(
        client, _busy_class, (3, 15), role, url=lambda w: w["url"] + "?format=csv"
    )
    assert csv_counts[0] == csv_counts[1] <= PAGE_BUDGET, csv_counts


def test_a_note_across_paragraphs_covers_those_between_in_full():
    texts = {1: "One. Two.", 2: "Three. Four. Five.", 3: "Six. Seven.", 4: "Eight."}
    heat = HeatMap(
        [
            Paragraph(
                n, t, [Sentence(n, i, t[a:b], a, b) for i, (a, b) in enumerate(sentences(t), 1)]
            )
            for n, t in texts.items()
        ]
    )
    across = {"author_id": 1, "visibility": Visibility.INSTRUCTOR, "replies_read": 2}
    across |= {"orphaned": False, "paragraph": 1, "start": 6, "end_paragraph": 3, "end": 2}
    lost = across | {"paragraph": 9, "end_paragraph": None, "visibility": Visibility.COHORT}
    heat_notes(heat, [across, lost])
    covered = [(s.paragraph, s.text) for s in heat.sentences if s.highlights]
    assert covered == [(1, "Two."), (2, "Three."), (2, "Four."), (2, "Five."), (3, "Six.")]
    assert all(s.questions == 1 and s.replies == 2 for s in heat.sentences if s.highlights)
    assert (heat.notes, heat.questions, heat.orphaned, heat.students) == (2, 1, 1, 1)
    assert heat.untouched == [4]


def test_replies_under_an_instructors_note_count_for_the_cohort_that_wrote_them(client):
    """The instructor shares a note on a sentence; a student of section A and two of
    section B reply under it. Each section's heat map counts its own replies there; the
    note itself is nobody's highlight."""
    w = _class(1, 2)
    case = w["case"]
    start, end = _place(case, 1, "founded in 1984")
    shared = annotation_create(
        case=case,
        author=w["instructor"],
        access=CaseAccess(is_teaching_staff=True, can_edit=True),
        selection=Selection(1, start, 1, end, quote=""),
        body="Why 1984?",
        visibility=Visibility.COHORT,
    )
    for student, body in ((w["a"][0], "Reform."), (w["b"][0], "Shenzhen."), (w["b"][1], "Deng.")):
        client.force_login(student)
        reply = client.post(reverse("cases:annotation_reply", args=[shared.pk]), {"body": body})
        assert reply.status_code == 302

    def founded(user, cohort=None):
        client.force_login(user)
        query = {"format": "csv"} | ({"cohort": cohort.pk} if cohort else {})
        rows = _csv(client.get(w["url"], query))
        [row] = [r for r in rows if r[2] == "It was founded in 1984."]
        return {name: row[n] for n, name in ((3, "highlights"), (6, "replies"))}

    instructor = w["instructor"]
    assert founded(instructor) == {"highlights": "0", "replies": "3"}
    assert founded(instructor, w["section_a"]) == {"highlights": "0", "replies": "1"}
    assert founded(instructor, w["section_b"]) == {"highlights": "0", "replies": "2"}
    assert founded(w["ta"]) == {"highlights": "0", "replies": "1"}  # Section A's TA.
    client.force_login(instructor)
    assert _totals(_text(client.get(w["url"], {"cohort": w["section_a"].pk})))["notes"] == "0"
