"""Discussions in a real browser: two students and the instructor argue from the case."""

import pytest
from playwright.sync_api import expect

from cases.models import Discussion
from cases.services.discussions import post_create
from tests.browser.conftest import assert_accessible, sign_in
from tests.factories import PASSWORD
from tests.xss_corpus import PAYLOADS

pytestmark = pytest.mark.django_db(transaction=True)


def test_two_students_and_the_instructor_hold_a_citing_discussion(open_as, world):
    def open_thread(username):
        page = open_as(username)
        page.goto(world.discussion.item.get_absolute_url())
        return page

    alice = open_thread("student_ta_elsewhere")
    alice.get_by_label("Your post").fill("Headcount is not output: see ¶2 and ¶3.")
    alice.get_by_role("button", name="Post", exact=True).click()
    expect(alice.locator(".post--new")).to_contain_text("Headcount is not output")
    cite = alice.locator(".post--new a.cite").first
    expect(cite).to_have_attribute("href", f"/library/{world.case.slug}/#p2")
    cite.hover()  # The preview shows the cited paragraph.
    expect(alice.locator(".cite-preview")).to_contain_text("researchers")
    assert_accessible(alice)

    bob = open_thread("student")
    bob.locator(".post", has_text="Headcount is not output").get_by_role(
        "link", name="Reply"
    ).click()
    bob.get_by_label("Reply to").fill("But ¶1 says it makes telecom switches.")
    bob.get_by_role("button", name="Reply", exact=True).click()
    expect(bob.locator(".post--depth-1", has_text="telecom switches")).to_be_visible()

    # Alice sees Bob's reply arrive without reloading (polling every 10 seconds).
    expect(alice.locator(".post", has_text="telecom switches")).to_be_visible(timeout=15_000)

    teacher = open_thread("instructor")
    teacher.locator(".post", has_text="telecom switches").get_by_role(
        "button", name="Endorse"
    ).click()
    expect(teacher.locator(".post--endorsed")).to_contain_text("telecom switches")
    teacher.get_by_role("link", name="Participation").click()
    row = teacher.locator("tr", has_text=world.users["student"].display_name)
    expect(row.locator("td").nth(1)).to_have_text("1")  # One reply.
    expect(teacher.get_by_text("¶2: 2 posts")).to_be_visible()
    assert_accessible(teacher)


def test_post_first_mode_shows_classmates_only_after_posting(page, world):
    Discussion.objects.filter(pk=world.discussion.pk).update(post_first=True)
    sign_in(page, "student_ta_elsewhere", PASSWORD)
    page.goto(world.discussion.item.get_absolute_url())
    expect(page.get_by_text("Post your own answer first")).to_be_visible()
    expect(page.get_by_text("Headcount is an input")).to_have_count(0)
    page.get_by_label("Your post").fill("My own view first.")
    page.get_by_role("button", name="Post", exact=True).click()
    expect(page.get_by_text("Headcount is an input")).to_be_visible()
    assert_accessible(page)


def test_no_xss_payload_executes_in_the_browser(page, world, settings, monkeypatch):
    settings.POSTS_PER_MINUTE = 1000
    monkeypatch.setattr("cases.services.discussions.ROOTS_PER_PAGE", 100)  # All on one page.
    for payload in PAYLOADS:
        post_create(discussion=world.discussion, author=world.users["student"], body=payload)
    dialogs = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    sign_in(page, "student_ta_elsewhere", PASSWORD)
    page.goto(world.discussion.item.get_absolute_url())
    expect(page.locator(".post")).to_have_count(len(PAYLOADS) + 1)
    for post in page.locator(".post__body").all():
        post.hover()
    page.wait_for_timeout(1500)
    assert dialogs == []
    found = page.evaluate(
        """() => {
            const bad = [];
            for (const el of document.querySelectorAll('.post__body *')) {
                for (const attr of el.attributes) {
                    const n = attr.name.toLowerCase();
                    if (n.startsWith('on') || n.startsWith('hx-') || n.startsWith('data-hx')
                        || n === 'id' || n === 'name' || n === 'style' || n === 'src') bad.push(n);
                    const url = attr.value.trim();
                    if (n === 'href' && /^(javascript|data|vbscript):/i.test(url)) bad.push(url);
                }
                const tag = el.tagName.toUpperCase();
                if (['SCRIPT', 'IFRAME', 'OBJECT', 'EMBED', 'FORM', 'INPUT', 'SVG', 'STYLE',
                     'META', 'BASE', 'IMG'].includes(tag)) bad.push(tag);
            }
            return bad;
        }"""
    )
    assert found == []
    assert page.url.endswith(world.discussion.item.get_absolute_url())  # Nothing logged out.


def test_a_new_post_is_brought_into_view_outlined_and_announced(page, world):
    """In a long thread the student's new post lands far below the compose box: it is
    scrolled to, outlined, and "Posted." is said; twice, as the second post moves it."""
    from cases.models import Post

    first = world.post
    Post.objects.bulk_create(
        Post(
            discussion=world.discussion,
            author=first.author,
            body=f"Point {n}.",
            body_html=f"<p>{f'Point {n}, from the case evidence. ' * 8}</p>",
        )
        for n in range(12)
    )
    sign_in(page, "student_ta_elsewhere", PASSWORD)
    page.goto(world.discussion.item.get_absolute_url())
    for attempt in ("First thought", "Second thought"):
        page.get_by_label("Your post").fill(f"{attempt}: ¶2 is about process.")
        page.get_by_role("button", name="Post", exact=True).click()
        new = page.locator(".post--new", has_text=attempt)
        expect(new).to_contain_text(attempt)
        expect(new).to_be_in_viewport()
        expect(page.get_by_role("status").filter(has_text="Posted.")).to_be_visible()


def test_an_edit_refused_then_corrected_is_saved_with_javascript_on(page, world):
    """The edit form, opened in the thread, posts plainly (the post's body is
    hx-disable'd); refused, it comes back as a page of its own, whose Save must then
    work too. It did nothing: it targeted a thread that page does not have."""
    post = world.discussion.posts.get(author=world.users["student"])
    sign_in(page, "student", PASSWORD)
    page.goto(world.discussion.item.get_absolute_url())
    page.locator(f"#post-{post.pk}").get_by_role("link", name="Edit").click()
    box = page.locator(f"#edit-body-{post.pk}")  # The compose box is "Your post" too.
    box.fill("")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("heading", name="Edit your post")).to_be_visible()
    expect(page.locator(".field__errors")).to_be_visible()
    box.fill("Headcount is an input, not an output (¶2).")
    page.get_by_role("button", name="Save").click()
    expect(page.locator(f"#post-{post.pk}")).to_contain_text("not an output")
    post.refresh_from_db()
    assert post.body == "Headcount is an input, not an output (¶2)."
