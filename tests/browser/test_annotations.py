"""Notes on the words of a case in Chromium: a student marks words with the mouse, a
classmate replies and the first student's reader shows it live, the instructor endorses;
the same by keyboard alone, and without JavaScript; the reader with notes at a desktop's
and a phone's width.

Every test leaves the case reader before it ends: the reading heartbeat's parting
request would otherwise race the test's database flush."""

import re

import pytest
from playwright.sync_api import Page, expect

from cases.models import Annotation, CaseReading
from cases.permissions import CaseAccess
from tests.browser.conftest import assert_accessible
from tests.factories import make_case

pytestmark = pytest.mark.django_db(transaction=True)

BODY = (
    "Shanghai Bell makes telecom switches for the Chinese network.\n\n"
    "It has employed many researchers since 1984. Most of them adapted designs from Alcatel. "
    "Few of them wrote new ones.\n\n"
    "Its partners include a state firm. The board planned a laboratory in 1995."
)
ADAPTED = "Most of them adapted designs from Alcatel."
FEW = "Few of them wrote new ones."
STUDENT = CaseAccess(is_teaching_staff=False, can_edit=False)

# Where the words are on the screen: just inside their first and last characters.
WORDS_AT = """([number, words]) => {
    const text = document.querySelector(`[data-paragraph="${number}"] .para__text`);
    const walker = document.createTreeWalker(text, NodeFilter.SHOW_TEXT);
    while (walker.nextNode()) {
        const node = walker.currentNode;
        const at = node.data.indexOf(words);
        if (at < 0) continue;
        const range = document.createRange();
        range.setStart(node, at);
        range.setEnd(node, at + 1);
        const first = range.getBoundingClientRect();
        range.setStart(node, at + words.length - 1);
        range.setEnd(node, at + words.length);
        const last = range.getBoundingClientRect();
        return {
            x0: first.left + 1, y0: first.top + first.height / 2,
            x1: last.right - 1, y1: last.top + last.height / 2,
        };
    }
    return null;
}"""

# The focused element's focus indicator, as drawn: an outline or a box shadow.
FOCUS_RING = """() => {
    const el = document.activeElement;
    if (!el || el === document.body) return null;
    const style = getComputedStyle(el);
    const outline = style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) > 0;
    return {
        tag: el.tagName, name: el.getAttribute('aria-label') || el.textContent.trim().slice(0, 40)
            || el.id,
        visible: outline || style.boxShadow !== 'none',
    };
}"""


@pytest.fixture
def case(world):
    """The course's case reading, of a case whose second paragraph has sentences to
    pick from."""
    case = make_case(
        title="Shanghai Bell's engineers",
        slug="shanghai-bell-engineers",
        body=BODY,
        created_by=world.users["instructor"],
    )
    CaseReading.objects.filter(item=world.item).update(case=case)
    return case


def _reader(page: Page, world) -> None:
    page.goto(world.item.get_absolute_url())
    expect(page.locator("#reader-layer")).to_contain_text(ADAPTED)


def _leave(page: Page) -> None:
    """Off the reader, so that its parting heartbeat lands before the test ends."""
    page.goto("/")
    expect(page.get_by_role("heading", name="My courses")).to_be_visible()


def _select_with_mouse(page: Page, number: int, words: str) -> None:
    at = page.evaluate(WORDS_AT, [number, words])
    assert at, f"{words!r} is not in ¶{number}"
    page.mouse.move(at["x0"], at["y0"])
    page.mouse.down()
    page.mouse.move((at["x0"] + at["x1"]) / 2, at["y1"], steps=4)
    page.mouse.move(at["x1"], at["y1"], steps=4)
    page.mouse.up()
    assert page.evaluate("String(window.getSelection())") == words


def _mark(page: Page, words: str):
    return page.locator("#reader-layer mark.hl", has_text=words)


def _count(page: Page, words: str):
    """The count link after the marked words."""
    return page.locator("#reader-layer a.hl__count").filter(
        has=page.locator(f"xpath=self::*[contains(@aria-label, '{words[:20]}')]")
    )


def _focus_ring(page: Page) -> dict:
    ring = page.evaluate(FOCUS_RING)
    assert ring and ring["visible"], f"no visible focus on {ring}"
    return ring


def test_a_note_made_with_the_mouse_is_replied_to_live_and_endorsed(open_as, world, case):
    alice = open_as("student")
    alice.clock.install()  # The live poll comes when the test says: no 10-second waits.
    _reader(alice, world)
    expect(alice.get_by_role("button", name="Annotate selection")).to_be_hidden()
    _select_with_mouse(alice, 2, ADAPTED)
    alice.clock.run_for(300)  # The button waits for the selection to settle.
    alice.get_by_role("button", name="Annotate selection").click()
    panel = alice.locator("#annotation-panel")
    expect(panel.get_by_role("heading", name="¶2: notes")).to_be_visible()
    expect(panel.locator(".note-form .note__quote")).to_have_text(f"“{ADAPTED}”")
    expect(alice.get_by_label("Your note")).to_be_focused()
    assert_accessible(alice)
    alice.get_by_label("Your note").fill("Adapting is development, not research.")
    alice.get_by_role("button", name="Save note").click()
    expect(panel.get_by_role("status")).to_have_text("Note saved.")
    expect(panel.locator(".note")).to_contain_text("Adapting is development")
    expect(_mark(alice, ADAPTED)).to_have_text(ADAPTED)
    expect(alice.locator("#reader-layer a.hl__count")).to_have_text("1")
    expect(alice.get_by_role("link", name="1 note on paragraph 2")).to_be_visible()
    assert_accessible(alice)

    # A classmate finds the mark, opens its thread from the count and replies.
    bob = open_as("student_ta_elsewhere")
    _reader(bob, world)
    expect(_mark(bob, ADAPTED)).to_be_visible()
    bob.locator("#reader-layer a.hl__count").click()
    bob_panel = bob.locator("#annotation-panel")
    expect(bob_panel.get_by_role("heading", name=re.compile("^Notes on"))).to_be_focused()
    expect(bob_panel.locator(".note")).to_contain_text("Adapting is development")
    assert_accessible(bob)
    bob.get_by_label(re.compile("^Reply to")).fill("Alcatel's designs were a start, not an end.")
    bob.get_by_role("button", name="Reply", exact=True).click()
    expect(bob_panel.get_by_role("status")).to_have_text("Reply saved.")
    expect(bob_panel.locator(".note__reply")).to_contain_text("a start, not an end")
    bob.reload()
    expect(bob.locator("#reader-layer a.hl__count")).to_have_text("2")
    _leave(bob)

    # Alice's reader picks the reply up at its next poll, without a reload.
    alice.clock.run_for(10_500)
    expect(alice.locator("#reader-layer a.hl__count")).to_have_text("2")
    expect(_mark(alice, ADAPTED)).to_be_visible()
    _leave(alice)

    # The instructor endorses the student's note from the notes of the case.
    teacher = open_as("instructor")
    teacher.goto(f"/library/{case.slug}/notes/")
    note = teacher.locator(".note", has_text="Adapting is development")
    expect(note).to_contain_text("a start, not an end")
    assert_accessible(teacher)
    note.get_by_role("button", name="Endorse").first.click()
    expect(teacher.locator(".note--endorsed")).to_contain_text("Adapting is development")
    expect(teacher.locator(".note--endorsed .tag--done")).to_have_text("Endorsed")
    expect(teacher.get_by_text("Saved.")).to_be_visible()
    assert_accessible(teacher)
    assert Annotation.objects.get(thread=None).endorsed
