"""The Red Queen cases: their size and shape, and that every sentence is our own."""

import re
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command

from cases.demo.seed import CASE_FILES
from cases.models import Assignment, CaseReading, CaseStudy, Region
from cases.services.readings import case_fields_from_markdown, split_paragraphs

ESSAY = Path(settings.BASE_DIR).parent / "shared" / "seed" / "run-of-the-red-queen.txt"
CASES = sorted(CASE_FILES.glob("*.md"))
REQUIRED = {"shanghai-bell", "techfaith", "tencent-qq", "prd-ups-cluster"}
EXPECTED = {"lenovo", "smic", "regional-comparison", "wapi-td-scdma", "thesis-overview"}


def _words(text: str) -> list[str]:
    text = text.replace("\u2019", "'").replace("\u2018", "'").lower()
    return re.findall(r"[a-z0-9]+(?:'[a-z]+)?", text)


def _eight_grams(text: str) -> set[tuple[str, ...]]:
    words = _words(text)
    return {tuple(words[i : i + 8]) for i in range(len(words) - 7)}


def _texts(fields: dict) -> list[str]:
    """Each piece of text on its own, so no run spans two pieces."""
    names = ["title", "summary", "body", "teaching_notes", "spectrum_justification"]
    names += ["protagonist", "dilemma", "sources_note"]
    texts = [fields.get(n, "") for n in names] + fields["key_facts"]
    texts += fields["discussion_questions"]
    for exhibit in fields.get("exhibits", []):
        texts += [exhibit.get("title", ""), exhibit.get("note", "")]
        texts += [" ".join(str(cell) for cell in row) for row in exhibit.get("rows", [])]
    return texts


def test_all_cases_are_present():
    slugs = {case_fields_from_markdown(p.read_text())["slug"] for p in CASES}
    assert slugs >= REQUIRED | EXPECTED


@pytest.mark.parametrize("path", CASES, ids=lambda p: p.stem)
def test_case_has_the_size_and_parts_a_case_needs(path):
    fields = case_fields_from_markdown(path.read_text())
    words = len(fields["body"].split())
    assert 600 <= words <= 1200, words
    assert len(split_paragraphs(fields["body"])) >= 8
    assert len(fields["key_facts"]) >= 5
    assert len(fields["discussion_questions"]) >= 4
    assert len(fields["teaching_notes"].split()) >= 100
    assert 0 <= fields["spectrum_placement"] <= 100
    assert fields["spectrum_justification"]
    assert "Breznitz" in fields["source"] and "Murphree" in fields["source"]
    assert fields["region"] in Region.values


@pytest.mark.parametrize("path", CASES, ids=lambda p: p.stem)
def test_no_case_repeats_an_eight_word_run_of_the_essay(path):
    if not ESSAY.exists():
        pytest.skip(f"the essay is not at {ESSAY}")
    essay = _eight_grams(ESSAY.read_text())
    fields = case_fields_from_markdown(path.read_text())
    copied = set().union(*(_eight_grams(text) for text in _texts(fields))) & essay
    assert copied == set(), [" ".join(run) for run in sorted(copied)[:5]]


def test_the_eight_word_check_catches_a_copied_sentence():
    if not ESSAY.exists():
        pytest.skip(f"the essay is not at {ESSAY}")
    copied = "China's innovative edge lies much closer to D than to R on the R&D spectrum."
    assert _eight_grams(copied) & _eight_grams(ESSAY.read_text())


@pytest.mark.django_db
def test_seed_demo_links_every_case_into_the_course_and_assigns_it():
    call_command("seed_demo", force=True)
    assert CaseStudy.objects.count() == len(CASES)
    # A part B is no reading of its own: the decision point opens it.
    part_b = CaseStudy.objects.get(follows__isnull=False)
    assert part_b.revealed_by.get().item.module.course.code == "MGT 6001"
    assert CaseReading.objects.count() == len(CASES) - 1
    for reading in CaseReading.objects.select_related("case"):
        assert reading.item.assignments.count() == 2
        assert reading.case.paragraphs.count() >= 8
    assert Assignment.objects.filter(due_at__isnull=True).count() == 0


@pytest.mark.parametrize("path", CASES, ids=lambda p: p.stem)
def test_no_student_visible_text_gives_away_a_firms_placement(path):
    """Students place the firms in the spectrum exercise, and each case's placement stays
    hidden until the instructor releases it: a case's exhibits place kinds of work, never
    the course's firms, and no student-visible text states a firm's number."""
    firms = {case_fields_from_markdown(p.read_text())["company"].casefold() for p in CASES}
    fields = case_fields_from_markdown(path.read_text())
    for exhibit in fields.get("exhibits", []):
        if exhibit["kind"] == "spectrum":
            named = {row[0].casefold() for row in exhibit["rows"]} & firms
            assert not named, (exhibit["title"], named)
    visible = [fields["summary"], fields["body"], *fields["key_facts"]]
    visible += fields["discussion_questions"]
    placement = f"at {fields['spectrum_placement']}"
    assert not any(placement in text for text in visible), placement


TEACHING_NOTE_PARTS = [
    "Board plan",
    "Timing",
    "Questions in order",
    "Where students usually go wrong",
    "Connections",
]


@pytest.mark.parametrize("path", CASES, ids=lambda p: p.stem)
def test_each_case_is_a_teaching_case(path):
    """A protagonist facing a decision, a sources note, at least two exhibits each cited
    from the text, teaching notes in their five parts, and no stock disclaimer repeated."""
    fields = case_fields_from_markdown(path.read_text())
    assert fields["protagonist"] and fields["dilemma"] and fields["sources_note"]
    assert len(fields["exhibits"]) >= 2
    for number in range(1, len(fields["exhibits"]) + 1):
        assert f"Exhibit {number}" in fields["body"], f"Exhibit {number} is never cited"
    for part in TEACHING_NOTE_PARTS:
        assert part.casefold() in fields["teaching_notes"].casefold(), part
    assert fields["body"].casefold().count("the essay does not say") <= 1
