"""Reading a case in Chromium: where the student stopped survives leaving the page."""

import pytest
from playwright.sync_api import expect

from cases.models import ReadingProgress
from cases.services.readings import case_update
from tests.browser.conftest import sign_in
from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db(transaction=True)

LONG_BODY = "\n\n".join(
    f"Paragraph {n}: the joint venture's engineers adapted switching designs for the "
    "Chinese network, one process step at a time. " * 6
    for n in range(1, 13)
)


def _read_to(page, number: int) -> None:
    """Scroll ¶number to the top of the window and stay there a few seconds (the page's
    clock is Playwright's, so no time passes in the test)."""
    page.locator(f"#p{number}").evaluate("p => p.scrollIntoView({block: 'start'})")
    page.evaluate("new Promise(done => requestAnimationFrame(() => requestAnimationFrame(done)))")
    page.clock.run_for(3000)


def _stored(page, student, number: int) -> int | None:
    """The stored position, once the request sent on leaving has landed (or 5 s)."""
    for _ in range(50):
        progress = ReadingProgress.objects.filter(user=student).first()
        if progress and progress.last_paragraph == number:
            break
        page.wait_for_timeout(100)
    return progress.last_paragraph if progress else None


def test_the_paragraph_read_last_survives_leaving_the_page_and_is_offered_back(page, world):
    world.case.body = LONG_BODY
    case_update(case=world.case)
    student = world.users["student"]
    page.clock.install()
    sign_in(page, "student", PASSWORD)
    page.goto(world.item.get_absolute_url())
    _read_to(page, 7)
    # Back up to the menu and on to the dashboard, long before the 20-second beat.
    page.get_by_role("link", name="Dashboard").first.click()
    expect(page.get_by_role("heading", name="My courses")).to_be_visible()
    assert _stored(page, student, 7) == 7
    page.goto(world.item.get_absolute_url())
    expect(page.get_by_role("link", name="Continue where you left off (¶7)")).to_be_visible()

    # The second time: read on to ¶10 and leave the site altogether.
    _read_to(page, 10)
    page.goto("about:blank")
    assert _stored(page, student, 10) == 10
