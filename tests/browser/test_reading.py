"""Reading a case in Chromium: where the student stopped survives leaving the page."""

import pytest
from playwright.sync_api import expect

from cases.models import ReadingProgress
from cases.services.readings import case_update
from tests.browser.conftest import sign_in
from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db(transaction=True)

LONG_BODY = "\n\n".join(
    f"Part {n}: the joint venture's engineers adapted switching designs for the "
    "Chinese network, one process step at a time. " * 6
    for n in range(1, 13)
)

# Resolves once the browser has delivered intersection changes up to now: a fresh
# observer's first report comes in the same step as every other observer's pending ones.
OBSERVED = """el => new Promise(done => {
    const observer = new IntersectionObserver(() => { observer.disconnect(); done(); });
    observer.observe(el);
})"""


def _read_to(page, nth: int) -> int:
    """Scroll the case's nth paragraph to the top of the window and stay there a few
    seconds (on Playwright's clock: no time passes in the test). Returns its ¶ number."""
    paragraph = page.locator("[data-paragraph]").nth(nth - 1)
    paragraph.evaluate("p => p.scrollIntoView({block: 'start'})")
    paragraph.evaluate(OBSERVED)
    page.clock.run_for(3000)
    return int(paragraph.get_attribute("data-paragraph"))


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
    seventh = _read_to(page, 7)
    # Back up to the menu and on to the dashboard, long before the 20-second beat.
    page.get_by_role("link", name="Dashboard").first.click()
    expect(page.get_by_role("heading", name="My courses")).to_be_visible()
    assert _stored(page, student, seventh) == seventh
    page.goto(world.item.get_absolute_url())
    resume = page.get_by_role("link", name=f"Continue where you left off (¶{seventh})")
    expect(resume).to_be_visible()

    # The second time: read on to the tenth and leave the site altogether.
    tenth = _read_to(page, 10)
    page.goto("about:blank")
    assert _stored(page, student, tenth) == tenth
