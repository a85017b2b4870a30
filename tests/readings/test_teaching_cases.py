"""Teaching cases (issue 21): exhibits drawn from a case's facts and cited from its text
and posts, and a part B that a student opens only after committing to the decision that
reveals it."""

import io

import pytest
from django.urls import reverse

from cases.exhibits import ExhibitError, exhibits_clean, exhibits_for, link_exhibits
from cases.models import (
    Assignment,
    CaseReading,
    CaseStudy,
    Discussion,
    ItemKind,
    ModuleItem,
)
from cases.services.discussions import render_post
from cases.services.readings import case_update
from tests.factories import ModuleFactory, make_case, make_decision

PART_B = """+++
title = "Shanghai Bell (B)"
slug = "shanghai-bell-b"
company = "Shanghai Bell"
region = "shanghai"
sector = "Telecom equipment"
summary = "What followed the decision."
follows = "shanghai-bell"
protagonist = "A deputy director at the city's commission (a role this case imagines)"
dilemma = "Whether the decision paid off."
sources_note = "The essay (Breznitz and Murphree 2010)."

[[exhibits]]
title = "From joint venture to research house"
kind = "timeline"
columns = ["When", "What happened"]
rows = [["1980s", "Switches made in Shanghai"], ["Later", "A research staff of its own"]]

[[exhibits]]
title = "Who does what"
kind = "chain"
columns = ["Stage", "Who does it"]
rows = [["Research", "PART-B-RESEARCHERS"], ["Making switches", "Shanghai plants"]]
highlight = "PART-B-RESEARCHERS"
note = "The course's simplification."
+++

OUTCOME-SECRET: what followed, as Exhibit 1 shows and Exhibit 2 draws.

The second paragraph.
"""


def _upload(text: str, name: str = "case.md"):
    upload = io.BytesIO(text.encode())
    upload.name = name
    return upload


def _commit(client, item):
    data = {"choice": "0", "rationale": "Research pays.", "expects": "yes", "confidence": "70"}
    return client.post(reverse("cases:decision_commit", args=[item.pk]), data)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ([{"kind": "table", "columns": ["a", "b"], "rows": [["1", "2"]]}], "give it a title"),
        ([{"title": "T", "kind": "pie", "columns": ["a", "b"], "rows": [["1", "2"]]}], "pie"),
        ([{"title": "T", "columns": ["a", "b"], "rows": [["1"]]}], "row 1 needs 2 cells"),
        ([{"title": "T", "kind": "chain", "columns": ["a", "b", "c"], "rows": []}], "exactly two"),
        (
            [{"title": "T", "kind": "spectrum", "columns": ["a", "b"], "rows": [["x", "120"]]}],
            "whole number from 0 to 100",
        ),
    ],
)
def test_an_exhibit_that_cannot_be_drawn_is_named_and_explained(raw, message):
    with pytest.raises(ExhibitError, match="Exhibit 1: ") as error:
        exhibits_clean(raw)
    assert message in str(error.value)


def test_exhibit_citations_link_only_to_real_exhibits_and_never_inside_links():
    html = '<p>See Exhibit 2, Exhibit 3 and <a href="/x">Exhibit 1</a>; exhibit 1.</p>'
    linked = link_exhibits(html, 2, "/library/a/")
    assert '<a class="exhibit-ref" href="/library/a/#exhibit-2">Exhibit 2</a>' in linked
    assert "Exhibit 3 and" in linked  # no third exhibit: left as text
    assert '<a href="/x">Exhibit 1</a>' in linked and "exhibit 1." in linked


def test_a_spectrum_gives_every_firm_its_own_row_in_order():
    case = CaseStudy(
        exhibits=exhibits_clean(
            [
                {
                    "title": "Where",
                    "kind": "spectrum",
                    "columns": ["Work", "Place"],
                    "rows": [["Assembly", "95"], ["Basic research", "5"], ["Design", "50"]],
                }
            ]
        )
    )
    (exhibit,) = exhibits_for(case.exhibits)
    assert [(m.label, m.x) for m in exhibit.marks] == [
        ("Basic research", 41.6),
        ("Design", 200.0),
        ("Assembly", 358.4),
    ]
    assert len({m.y for m in exhibit.marks}) == 3  # a row each: no label crosses another
    assert "Basic research at 5; Design at 50; Assembly at 95" in exhibit.description


@pytest.mark.django_db
def test_part_b_opens_for_a_student_only_after_committing(world, client_for):
    # The instructor imports part B: its exhibits and its part A come with it.
    teacher = client_for("instructor")
    response = teacher.post(reverse("cases:case_import"), {"file": _upload(PART_B)})
    part_b = CaseStudy.objects.get(slug="shanghai-bell-b")
    assert response["Location"] == part_b.get_absolute_url()
    assert part_b.follows == world.case and len(part_b.exhibits) == 2
    decision = make_decision(world.item.module)
    decision.reveals = part_b
    decision.save()
    Assignment.objects.create(item=decision.item, cohort=world.course.cohorts.get())

    # Before committing: part B is nowhere for the student, and part A says how it opens.
    student = client_for("student")
    assert student.get(part_b.get_absolute_url()).status_code == 404
    library = student.get(reverse("cases:case_list")).content.decode()
    assert world.case.title in library and "Shanghai Bell (B)" not in library
    part_a = student.get(world.case.get_absolute_url()).content.decode()
    assert "Shanghai Bell (B) opens once you commit to the decision point" in part_a
    assert decision.item.get_absolute_url() in part_a and "OUTCOME-SECRET" not in part_a
    page = student.get(decision.item.get_absolute_url()).content.decode()
    assert f'Read the case first: <a href="{world.case.get_absolute_url()}">' in page
    assert "OUTCOME-SECRET" not in page and "How the class decided" not in page

    # Committed: the class's split, and part B, with its exhibits drawn and cited.
    assert _commit(student, decision.item).status_code == 302
    page = student.get(decision.item.get_absolute_url()).content.decode()
    assert "How the class decided" in page and "1 committed; 1 expect" in page
    assert f'href="{part_b.get_absolute_url()}">Read Shanghai Bell (B)</a>' in page
    html = student.get(part_b.get_absolute_url()).content.decode()
    assert "OUTCOME-SECRET" in html and "This case continues" in html
    assert '<a class="exhibit-ref" href="#exhibit-1">Exhibit 1</a> shows' in html
    assert 'id="exhibit-2"' in html and "Exhibit 2. Who does what" in html
    assert 'class="exhibit__stage exhibit__stage--focus"' in html  # the highlighted holder
    assert "Stages in order: Research (PART-B-RESEARCHERS); then Making switches" in html
    part_a = student.get(world.case.get_absolute_url()).content.decode()
    assert f'href="{part_b.get_absolute_url()}">Read Shanghai Bell (B)</a>' in part_a
    assert "Shanghai Bell (B)" in student.get(reverse("cases:case_list")).content.decode()

    # Another student, not committed, still cannot open it; teaching staff always can.
    assert client_for("other_student").get(part_b.get_absolute_url()).status_code == 404
    assert client_for("ta").get(part_b.get_absolute_url()).status_code == 200

    # Given as a reading too, it still waits for the commitment.
    reading = ModuleItem.objects.create(
        module=world.item.module, kind=ItemKind.CASE_READING, title="Part B", position=95
    )
    CaseReading.objects.create(item=reading, case=part_b)
    Assignment.objects.create(item=reading, cohort=world.course.cohorts.get())
    assert client_for("student").get(part_b.get_absolute_url()).status_code == 200
    decision.commits.all().delete()
    assert client_for("student").get(part_b.get_absolute_url()).status_code == 404


def _part_b_with_decision(world):
    part_b = make_case(
        title="Shanghai Bell (B)", slug="shanghai-bell-b", follows=world.case,
        body="OUTCOME-SECRET: what followed.\n\nThe second paragraph.",
    )  # fmt: skip
    decision = make_decision(world.item.module)
    decision.reveals = part_b
    decision.save()
    Assignment.objects.create(item=decision.item, cohort=world.course.cohorts.get())
    return part_b, decision


def _reading_of(case, module, cohort):
    item = ModuleItem.objects.create(
        module=module, kind=ItemKind.CASE_READING, title=case.title, position=95
    )
    CaseReading.objects.create(item=item, case=case)
    Assignment.objects.create(item=item, cohort=cohort)
    return item


@pytest.mark.django_db
def test_a_part_b_on_the_course_page_waits_for_the_commitment_too(world, client_for):
    # Given as a reading beside the decision point, part B opened from the course page
    # (the item's address) before the student committed: only the library's address
    # waited.
    part_b, decision = _part_b_with_decision(world)
    reading = _reading_of(part_b, world.item.module, world.course.cohorts.get())
    student = client_for("student")
    response = student.get(reading.get_absolute_url(), follow=True)
    html = response.content.decode()
    assert response.redirect_chain[-1][0] == decision.item.get_absolute_url()
    assert "OUTCOME-SECRET" not in html
    assert "Shanghai Bell (B) opens once you commit to this decision point." in html
    assert _commit(student, decision.item).status_code == 302
    assert "OUTCOME-SECRET" in student.get(reading.get_absolute_url()).content.decode()
    assert "OUTCOME-SECRET" in client_for("ta").get(reading.get_absolute_url()).content.decode()


@pytest.mark.django_db
def test_a_part_b_another_course_gives_as_a_plain_reading_is_read_there_in_full(world, client_for):
    # A decision point in one course locked part B for the students of every course:
    # another course that gives it as a plain reading showed it on the item's page, but
    # its library page, notes and "mark as done" answered 404.
    part_b, _decision = _part_b_with_decision(world)
    other = world.other_course
    reading = _reading_of(part_b, ModuleFactory(course=other), other.cohorts.get())
    student = client_for("other_student")
    assert "OUTCOME-SECRET" in student.get(reading.get_absolute_url()).content.decode()
    assert student.get(part_b.get_absolute_url()).status_code == 200
    assert student.get(reverse("cases:annotation_list", args=[part_b.slug])).status_code == 200
    assert "Shanghai Bell (B)" in student.get(reverse("cases:case_list")).content.decode()
    # The course with the decision point still waits for its students' commitment.
    assert client_for("student").get(part_b.get_absolute_url()).status_code == 404


@pytest.mark.django_db
def test_a_bad_exhibit_opens_the_editor_with_the_reason_beside_it_and_nothing_lost(
    world, client_for
):
    text = PART_B.replace('kind = "chain"', 'kind = "pie"')
    response = client_for("instructor").post(reverse("cases:case_import"), {"file": _upload(text)})
    html = response.content.decode()
    assert "Exhibit 2: kind must be one of" in html
    assert not CaseStudy.objects.filter(slug="shanghai-bell-b").exists()


@pytest.mark.django_db
def test_exhibits_written_in_the_editor_show_again_as_written_and_are_cited_in_posts(
    world, client_for
):
    world.case.exhibits = exhibits_clean(
        [{"title": "Figures", "kind": "table", "columns": ["What", "How many"],
          "rows": [["Research staff", "many"]], "note": "The essay."}]
    )  # fmt: skip
    case_update(case=world.case)
    edit = client_for("instructor").get(reverse("cases:case_edit", args=[world.case.slug]))
    assert (
        "[[exhibits]]\ntitle = &quot;Figures&quot;\nkind = &quot;table&quot;"
        in edit.content.decode()
    )
    discussion = Discussion.objects.filter(case=world.case).first()
    html, _ = render_post("As Exhibit 1 shows, and Exhibit 4 does not.", world.case, set())
    assert f'href="{world.case.get_absolute_url()}#exhibit-1">Exhibit 1</a>' in html
    assert "Exhibit 4 does not" in html
    assert discussion is None or discussion.case == world.case
