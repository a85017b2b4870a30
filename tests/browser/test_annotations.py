"""Notes on the words of a case in Chromium: a student marks words with the mouse, a
classmate replies and the first student's reader shows it live, the instructor endorses;
the same by keyboard alone, and without JavaScript; the reader with notes at a desktop's
and a phone's width.

Every test leaves the case reader before it ends: the reading heartbeat's parting
request would otherwise race the test's database flush."""

import os
import re
from pathlib import Path

import pytest
from django.urls import NoReverseMatch, reverse
from playwright.sync_api import Page, expect

from cases.anchors import text_of
from cases.models import Annotation, CaseReading
from cases.permissions import CaseAccess
from cases.services.annotations import Selection, annotation_create, annotation_reply
from tests.browser.conftest import DESKTOP, PHONE, assert_accessible, sign_in
from tests.factories import PASSWORD, make_case

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
    expect(alice.get_by_label("Your note", exact=True)).to_be_focused()
    assert_accessible(alice)
    alice.get_by_label("Your note", exact=True).fill("Adapting is development, not research.")
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

    # The instructor looks at the class's heat map, once it exists (it is being built
    # on another branch), and endorses the student's note from the notes of the case.
    teacher = open_as("instructor")
    try:
        heatmap = reverse("cases:annotation_heatmap", args=[world.course.pk, case.slug])
    except NoReverseMatch:
        heatmap = None
    if heatmap:
        assert teacher.goto(heatmap).ok
        assert_accessible(teacher)
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


def test_a_note_by_keyboard_alone_with_the_focus_always_in_sight(page, world, case):
    sign_in(page, "student", PASSWORD)
    _reader(page, world)
    # From the first paragraph's link, Tab on to the second paragraph's "+ note".
    page.get_by_role("link", name=re.compile(r"^¶1\s*: link to paragraph 1$")).focus()
    for _ in range(6):
        page.keyboard.press("Tab")
        ring = _focus_ring(page)
        if "annotate paragraph 2" in ring["name"]:
            break
    annotate = page.get_by_role("link", name=re.compile(r"^\+ note\s*: annotate paragraph 2$"))
    expect(annotate).to_be_focused()
    page.keyboard.press("Enter")
    panel = page.locator("#annotation-panel")
    expect(panel.get_by_role("heading", name="¶2: notes")).to_be_visible()
    # The panel gives the focus to the first field: the words the note is about.
    words = page.get_by_label("Words your note is about")
    expect(words).to_be_focused()
    _focus_ring(page)
    assert_accessible(page)
    for _ in range(3):  # The whole paragraph, sentence 1, 2, 3.
        page.keyboard.press("ArrowDown")
    assert page.evaluate("document.activeElement.selectedOptions[0].textContent") == (
        f"Sentence 3: {FEW}"
    )
    page.keyboard.press("Tab")  # Who reads it: the class, as it was.
    expect(page.get_by_role("radio", checked=True)).to_be_focused()
    _focus_ring(page)
    page.keyboard.press("Tab")
    expect(page.get_by_label("Your note", exact=True)).to_be_focused()
    _focus_ring(page)
    page.keyboard.type("Writing new designs is what research would have looked like.")
    page.keyboard.press("Tab")
    expect(page.get_by_role("button", name="Save note")).to_be_focused()
    _focus_ring(page)
    page.keyboard.press("Enter")

    expect(panel.get_by_role("status")).to_have_text("Note saved.")
    heading = panel.get_by_role("heading", name="Notes on ¶2")
    expect(heading).to_be_focused()
    _focus_ring(page)
    expect(_mark(page, FEW)).to_have_text(FEW)
    expect(page.locator("#reader-layer a.hl__count")).to_have_text("1")
    assert_accessible(page)

    # The count is a link to the thread, reached by keyboard like the rest.
    count = page.locator("#reader-layer a.hl__count")
    count.focus()
    _focus_ring(page)
    page.keyboard.press("Enter")
    expect(panel.locator(".note")).to_contain_text("what research would have looked like")
    expect(heading).to_be_focused()
    _leave(page)


def test_without_javascript_the_note_form_is_a_page_and_the_reader_shows_the_mark(
    browser, live_server, world, case
):
    context = browser.new_context(
        java_script_enabled=False, viewport=DESKTOP, base_url=live_server.url
    )
    try:
        page = context.new_page()
        sign_in(page, "student", PASSWORD)
        _reader(page, world)
        expect(page.get_by_role("button", name="Annotate selection")).to_have_count(0)
        page.get_by_role("link", name=re.compile(r"^\+ note\s*: annotate paragraph 2$")).click()
        expect(page).to_have_url(re.compile(rf"/library/{case.slug}/notes/\?paragraph=2#add$"))
        expect(page.get_by_role("heading", level=1)).to_have_text(f"Notes on {case.title}, ¶2")
        words = page.get_by_label("Words your note is about")
        words.select_option(label=f"Sentence 2: {ADAPTED}")
        page.get_by_label("Your note", exact=True).fill("Adapting designs is development.")
        page.get_by_role("button", name="Save note").click()
        note = Annotation.objects.get()
        expect(page).to_have_url(re.compile(rf"/notes/{note.pk}/$"))
        expect(page.get_by_text("Note saved.")).to_be_visible()
        expect(page.locator(".note")).to_contain_text("Adapting designs is development.")
        assert (note.paragraph, note.quote) == (2, ADAPTED)
        page.get_by_role("link", name="Back to the case at ¶2").click()
        expect(_mark(page, ADAPTED)).to_have_text(ADAPTED)
        expect(page.locator("#reader-layer a.hl__count")).to_have_text("1")
        _leave(page)
    finally:
        context.close()


def _seed_notes(world, case) -> None:
    """Notes of two classmates on ¶2, one replied to and overlapping the other."""
    texts = dict(case.paragraphs.values_list("number", "html"))
    second = text_of(texts[2])
    student, classmate = world.users["student"], world.users["student_ta_elsewhere"]
    at = second.index(ADAPTED)
    first = annotation_create(
        case=case,
        author=student,
        access=STUDENT,
        selection=Selection(2, at, 2, at + len(ADAPTED), ADAPTED),
        body="Adapting designs is development, not research: the case says so twice.",
    )
    annotation_reply(thread=first, author=classmate, body="A start, not an end.")
    wide = second[at + len("Most of them ") :]
    annotation_create(
        case=case,
        author=classmate,
        access=STUDENT,
        selection=Selection(2, at + len("Most of them "), 2, len(second), wide),
        body="Who decided which designs to adapt?",
    )


@pytest.mark.parametrize("size", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_the_reader_with_notes_and_its_open_panel_fit_the_screen(open_as, world, case, size):
    """Screenshots go to $REDQUEEN_SCREENSHOTS when it is set, to be looked at."""
    _seed_notes(world, case)
    page = open_as("student")
    page.set_viewport_size(size)
    _reader(page, world)
    counts = page.locator("#reader-layer a.hl__count")
    expect(counts).to_have_text(["2", "1"])
    assert_accessible(page)
    shots = os.environ.get("REDQUEEN_SCREENSHOTS")
    if shots:
        page.screenshot(path=Path(shots) / f"notes-{size['width']}-reader.png", full_page=True)
    counts.first.click()
    panel = page.locator("#annotation-panel")
    expect(panel.locator(".note__reply")).to_contain_text("A start, not an end.")
    expect(panel.get_by_role("heading", name="Notes on ¶2")).to_be_in_viewport()
    assert_accessible(page)
    if shots:
        page.screenshot(path=Path(shots) / f"notes-{size['width']}-panel.png", full_page=True)
        page.screenshot(path=Path(shots) / f"notes-{size['width']}-panel-view.png")
    page.get_by_role("link", name=re.compile(r"^\+ note\s*: annotate paragraph 3$")).click()
    expect(panel.get_by_role("heading", name="¶3: notes")).to_be_visible()
    assert_accessible(page)
    if shots:
        page.screenshot(path=Path(shots) / f"notes-{size['width']}-form-view.png")
    _leave(page)
