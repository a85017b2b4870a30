"""A live class in real browsers: the instructor's console and the projector, two
students' phones answering a poll, the projector keeping up, then a cold call."""

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import PHONE, assert_accessible
from tests.factories import make_live

pytestmark = pytest.mark.django_db(transaction=True)


def test_two_phones_answer_and_the_projector_keeps_up(open_as, world):
    session = make_live(
        world.item.module, world.course.cohorts.all(), start_by=world.users["instructor"]
    )

    console = open_as("instructor")
    console.goto(session.get_absolute_url())
    console.get_by_label("Kind").select_option("single")
    console.get_by_label("Question", exact=True).fill("Where does Shanghai Bell's edge come from?")
    console.get_by_label("Options, one per line").fill("Its own research\nMaking things better")
    console.get_by_role("button", name="Add the poll").click()
    expect(console.locator("#board-heading")).to_have_text(
        "Where does Shanghai Bell's edge come from?"
    )
    assert_accessible(console)

    projector = console.context.new_page()
    projector.goto(f"{session.get_absolute_url()}projector/")
    expect(projector.locator(".projector__code")).to_have_text(session.join_code)
    expect(projector.get_by_text("0 answers")).to_be_visible()
    assert_accessible(projector)

    # Nothing changes, so the polls (one a second) are 304s that replace nothing: the
    # instructor's buttons and focus stay put.
    board = console.locator("#console-board").element_handle()
    screen = projector.locator("#projector-board").element_handle()
    console.wait_for_timeout(2_500)
    assert board.evaluate("e => e.isConnected") and screen.evaluate("e => e.isConnected")

    phones = []
    for username, option in [("student", "Its own research"), ("student_ta_elsewhere", "Making")]:
        phone = open_as(username)
        phone.set_viewport_size(PHONE)
        phone.goto("/live/")
        phone.get_by_label("Join code").fill(session.join_code.lower())
        phone.get_by_role("button", name="Join").click()
        expect(phone.get_by_role("heading", name="Where does Shanghai Bell")).to_be_visible()
        phone.get_by_role("radio", name=option).check()
        phone.get_by_role("button", name="Send my answer").click()
        expect(phone.get_by_text("Your answer:")).to_be_visible()
        phones.append(phone)
    assert_accessible(phones[0])

    # The projector polls every second: both answers show within two seconds.
    expect(projector.get_by_text("2 answers")).to_be_visible(timeout=2_000)
    expect(projector.get_by_text("Results are hidden")).to_be_visible()
    console.get_by_role("button", name="Reveal results").click()
    expect(projector.get_by_text("1 · 50%").first).to_be_visible(timeout=2_000)
    expect(phones[0].get_by_text("How the class answered")).to_be_visible(timeout=4_000)

    # A phone changes its answer; the projector follows.
    phones[1].get_by_role("radio", name="Its own research").check()
    phones[1].get_by_role("button", name="Change my answer").click()
    expect(projector.get_by_text("2 · 100%")).to_be_visible(timeout=4_000)

    console.get_by_role("button", name="Call on someone").click()
    picked = console.locator(".cold-call__name")
    expect(picked).to_be_visible()
    name = picked.inner_text()
    present = {world.users[role].display_name for role in ("student", "student_ta_elsewhere")}
    assert name in present
    console.locator(".cold-call").get_by_role("button", name=f"+2 for {name}").click()
    expect(console.locator(".roster tr", has_text=name).get_by_text("+2")).to_be_visible()
    expect(console.locator(".cold-call__pick")).to_contain_text("Contributed")


def test_the_roster_stays_inside_its_card_on_desktop_and_phone(open_as, world):
    """Students with long names and a long note: the mark buttons, the note box and the
    marks wrap inside the roster's card at 1280 and 390 px, and the page has no axe
    violations."""
    from cases.models import Membership
    from cases.services import live as services
    from tests.factories import UserFactory

    session = make_live(
        world.item.module, world.course.cohorts.all(), start_by=world.users["instructor"]
    )
    cohort = world.course.cohorts.get()
    for n, last in enumerate(["Papadopoulou", "Okonkwo-Adeyemi", "Nair", "Chen"]):
        student = UserFactory(username=f"roster{n}", first_name="Alexandra", last_name=last)
        Membership.objects.create(cohort=cohort, user=student)
        services.join(session, student)
    services.join(session, world.users["student"])
    services.mark_add(
        session=session,
        student=world.users["student"],
        points=2,
        note="Tied the licence terms to what the factory learned on the line.",
        by=world.users["instructor"],
    )

    console = open_as("instructor")
    for viewport in ({"width": 1280, "height": 900}, PHONE):
        console.set_viewport_size(viewport)
        console.goto(session.get_absolute_url())
        roster = console.locator("table.roster")
        expect(roster.get_by_role("button", name="+1 for Alexandra Chen")).to_be_visible()
        table = roster.bounding_box()
        card = console.locator("section.panel", has=roster).bounding_box()
        assert table["x"] >= card["x"], viewport
        assert table["x"] + table["width"] <= card["x"] + card["width"], viewport
        for button in roster.get_by_role("button", name="+2 for").all():
            box = button.bounding_box()
            assert box["x"] + box["width"] <= card["x"] + card["width"], viewport
            assert box["width"] >= 24 and box["height"] >= 24, viewport
        assert console.evaluate("document.documentElement.scrollWidth") <= viewport["width"]
        assert_accessible(console)

    # A mark from the phone-width console lands in the row.
    row = console.locator(".roster tr", has_text="Alexandra Nair")
    row.get_by_label("Note on Alexandra Nair's contribution").fill("Good question")
    row.get_by_role("button", name="+1 for Alexandra Nair").click()
    expect(console.locator(".roster tr", has_text="Alexandra Nair").locator(".mark")).to_have_text(
        "+1 Good question undo"
    )
