"""Headless Chromium (Debian's, driven by Playwright) against live_server.

`playwright install` cannot download browsers here, so we launch /usr/bin/chromium.
axe-core 4.14.1 (`axe.min.js`, from npm, MPL-2.0) is injected with page.evaluate, since
the Content-Security-Policy rightly blocks injected script tags."""

import os
import re
from pathlib import Path

import pytest
from django.core.servers.basehttp import WSGIServer
from django.db import connections
from django.test.testcases import LiveServerThread
from playwright.sync_api import Page, expect, sync_playwright

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
AXE_SOURCE = (Path(__file__).parent / "axe.min.js").read_text()
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}


def pytest_collection_modifyitems(items):
    for item in items:
        if Path(item.fspath).parent == Path(__file__).parent:
            item.add_marker(pytest.mark.browser)


class _SerialWSGIServer(WSGIServer):
    """One request at a time: on SQLite the live server's threads would share the test's
    single connection, which SQLite does not allow."""

    def __init__(self, *args, connections_override=None, **kwargs):
        super().__init__(*args, **kwargs)


@pytest.fixture(scope="session", autouse=True)
def _serial_live_server_on_sqlite():
    if connections["default"].vendor == "sqlite":
        LiveServerThread.server_class = _SerialWSGIServer


@pytest.fixture(scope="session")
def browser():
    if not os.path.exists(CHROMIUM):
        message = "Debian's chromium is not installed (apt-get install chromium)"
        if os.environ.get("REDQUEEN_REQUIRE_BROWSER"):
            pytest.fail(message)
        pytest.skip(message)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser, live_server):
    """A fresh browser context per test; console errors (CSP violations, script errors)
    are collected and fail the test at the end."""
    context = browser.new_context(viewport=DESKTOP, base_url=live_server.url)
    context.set_default_timeout(10_000)
    page = context.new_page()
    complaints: list[str] = []
    page.on("console", lambda m: m.type == "error" and complaints.append(m.text))
    page.on("pageerror", lambda e: complaints.append(str(e)))
    yield page
    context.close()
    assert complaints == [], complaints


def sign_in(page: Page, username: str, password: str) -> None:
    page.goto("/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state()


def choose_matches_by_keyboard(page: Page, matches: dict[str, str], *, after: str) -> None:
    """Click the text `after` (a matching question's), then Tab to each select in turn
    and pick its match by typing the match's first letter (Chromium's type-to-select on
    a closed select). `matches`: prompt → match."""
    page.get_by_text(after).click()
    for _ in range(len(matches)):
        for _tab in range(5):
            page.keyboard.press("Tab")
            if page.evaluate("document.activeElement.tagName") == "SELECT":
                break
        prompt = page.evaluate("document.activeElement.labels[0].textContent.trim()")
        page.keyboard.press(matches[prompt][0])
        expect(page.get_by_label(prompt, exact=True)).to_have_value(
            re.compile(rf"^\d+:{re.escape(matches[prompt])}$")
        )


AXE_RULES = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"]


def assert_accessible(page: Page) -> None:
    """No axe-core violation at all, of any impact, of WCAG 2.2 A/AA (target size
    included) or of axe's best practices; and nothing wider than the screen."""
    page.evaluate(AXE_SOURCE)
    result = page.evaluate(
        """async (tags) => await axe.run(document, {
            runOnly: {type: 'tag', values: tags},
            rules: {'target-size': {enabled: true}},
            resultTypes: ['violations'],
        })""",
        AXE_RULES,
    )
    found = [
        f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']][:3]}"
        for v in result["violations"]
    ]
    assert found == [], f"{page.url}: {found}"
    overflow = page.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 0, f"{page.url} is {overflow}px wider than the screen"


@pytest.fixture
def open_as(browser, live_server):
    """open_as(username) gives a page in a browser context of its own, signed in as
    that demo-password user; every context closes after the test."""
    from tests.factories import PASSWORD

    contexts = []

    def _open_as(username: str) -> Page:
        context = browser.new_context(base_url=live_server.url)
        context.set_default_timeout(10_000)
        contexts.append(context)
        page = context.new_page()
        sign_in(page, username, PASSWORD)
        return page

    yield _open_as
    for context in contexts:
        context.close()
