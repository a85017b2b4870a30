"""Commit, then reveal, in a real browser: the follow-up appears only after the student
commits, and the confidence slider shows its value as it moves."""

import pytest
from playwright.sync_api import expect

from cases.models import Assignment
from tests.browser.conftest import PHONE, assert_accessible
from tests.factories import make_decision

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_student_commits_then_reads_the_follow_up(open_as, world):
    decision = make_decision(world.item.module)
    Assignment.objects.create(item=decision.item, cohort=world.course.cohorts.get())
    student = open_as("student")
    student.goto(decision.item.get_absolute_url())
    expect(student.get_by_text("FOLLOW-UP-SECRET")).to_have_count(0)
    assert_accessible(student)
    student.get_by_role("radio", name="Push for own R&D").check()
    student.get_by_label("Why, in a line").fill("Researchers compound.")
    student.get_by_role("radio", name="Yes, it will").check()
    slider = student.get_by_label("How sure are you?")
    slider.focus()
    for _ in range(2):
        student.keyboard.press("ArrowRight")
    expect(student.locator("output.range-value")).to_have_text("80")
    student.get_by_role("button", name="Commit").click()
    expect(student.get_by_text("FOLLOW-UP-SECRET")).to_be_visible()
    expect(student.locator("p", has_text="You predicted that")).to_contain_text("80% sure")
    assert_accessible(student)


def test_part_b_opens_only_after_the_student_commits(open_as, world):
    from cases.exhibits import exhibits_clean
    from cases.models import CaseStudy
    from cases.services.readings import case_create, case_update

    chain = {"title": "Who does what", "kind": "chain", "columns": ["Stage", "Who"],
             "rows": [["Research", "Alcatel"], ["Switches", "Shanghai plants"]],
             "highlight": "Shanghai plants"}  # fmt: skip
    world.case.body += "\n\nExhibit 1 shows who does what."
    world.case.exhibits = exhibits_clean([chain])
    case_update(case=world.case)
    part_b = case_create(
        case=CaseStudy(
            title="Shanghai Bell (B)", slug="shanghai-bell-b", company="Shanghai Bell",
            sector="Telecom", summary="What followed.", follows=world.case,
            body="OUTCOME-B: the research staff grew.\n\nExhibit 1 dates it.",
            exhibits=exhibits_clean([{"title": "Dates", "kind": "timeline",
                                      "columns": ["When", "What"], "rows": [["Later", "Growth"]]}]),
        )
    )  # fmt: skip
    decision = make_decision(world.item.module)
    decision.reveals = part_b
    decision.save()
    Assignment.objects.create(item=decision.item, cohort=world.course.cohorts.get())

    student = open_as("student")
    student.goto(world.case.get_absolute_url())
    student.get_by_role("link", name="Exhibit 1").first.click()
    expect(student.locator("#exhibit-1")).to_be_in_viewport()
    expect(student.get_by_role("img", name="Exhibit 1. Who does what")).to_be_visible()
    assert_accessible(student)
    student.set_viewport_size(PHONE)
    assert_accessible(student)
    response = student.goto(part_b.get_absolute_url())
    assert response.status == 404

    student.goto(world.case.get_absolute_url())
    student.get_by_role("link", name=decision.item.title).click()
    student.get_by_role("link", name=world.case.title).first.wait_for()
    student.get_by_role("radio", name="Push for own R&D").check()
    student.get_by_label("Why, in a line").fill("Researchers compound.")
    student.get_by_role("radio", name="Yes, it will").check()
    student.get_by_role("button", name="Commit").click()
    expect(student.get_by_role("heading", name="How the class decided")).to_be_visible()
    student.get_by_role("link", name="Read Shanghai Bell (B)").click()
    expect(student.get_by_text("OUTCOME-B: the research staff grew.")).to_be_visible()
    expect(student.get_by_role("region", name="Exhibit 1. Dates")).to_be_visible()
    assert_accessible(student)
    # Leave the reader and come back round once: its last heartbeat, sent as the page
    # goes, is served before the test ends (not during the database's teardown).
    student.goto(decision.item.get_absolute_url())
    student.reload()
