"""Cohort administration in a real browser: an admin makes a cohort and a fresh join
code, a newcomer signs up with it, follows the emailed link and lands on their
dashboard, and the admin sees them among the members. Each page passes an
accessibility audit."""

import re

import pytest
from django.core import mail
from playwright.sync_api import expect

from cases.models import Cohort
from tests.browser.conftest import DESKTOP, assert_accessible, sign_in
from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db(transaction=True)


def test_admin_makes_a_cohort_and_a_newcomer_signs_up_with_its_code(
    page, world, browser, live_server
):
    sign_in(page, "admin", PASSWORD)
    page.get_by_role("link", name="Cohorts").click()
    assert_accessible(page)
    page.get_by_label("Name").fill("MGT 6001, section C")
    page.get_by_role("button", name="Create cohort").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("MGT 6001, section C")
    assert_accessible(page)

    first_code = page.locator(".join-code__value").inner_text()
    page.get_by_role("button", name="New code").click()
    expect(page.locator(".join-code__value")).not_to_have_text(first_code)
    code = page.locator(".join-code__value").inner_text()
    assert Cohort.objects.get(name="MGT 6001, section C").join_code == code

    # Someone without an account, in a browser of their own.
    context = browser.new_context(viewport=DESKTOP, base_url=live_server.url)
    try:
        newcomer = context.new_page()
        newcomer.goto("/login/")
        newcomer.get_by_role("link", name="Have a join code? Create your account").click()
        expect(newcomer.get_by_role("heading", level=1)).to_have_text("Create your account")
        assert_accessible(newcomer)
        newcomer.get_by_label("Join code").fill(code.lower())
        newcomer.get_by_label("Username").fill("meilin")
        newcomer.get_by_label("First name").fill("Mei")
        newcomer.get_by_label("Last name").fill("Lin")
        newcomer.get_by_label("Email address").fill("mei@example.edu")
        newcomer.get_by_role("button", name="Continue").click()
        expect(newcomer.get_by_role("heading", level=1)).to_have_text("Check your inbox")
        assert_accessible(newcomer)
        [email] = mail.outbox
        link = re.search(r"https?://\S+", email.body).group()
        newcomer.goto(link[link.index("/signup/") :])
        expect(newcomer.get_by_role("heading", level=1)).to_have_text(
            "Finish creating your account"
        )
        assert_accessible(newcomer)
        newcomer.get_by_label("Password", exact=True).fill("red-queen-runs-fast")
        newcomer.get_by_label("Password confirmation").fill("red-queen-runs-fast")
        newcomer.get_by_role("button", name="Create my account").click()
        expect(newcomer.get_by_role("heading", level=1)).to_have_text("Hello, Mei")
        expect(newcomer.get_by_text("You are in MGT 6001, section C.")).to_be_visible()
        assert_accessible(newcomer)
        # Joining again with the code changes nothing, and says so.
        newcomer.goto("/join/")
        assert_accessible(newcomer)
        newcomer.get_by_label("Join code").fill(code)
        newcomer.get_by_role("button", name="Join").click()
        expect(newcomer.get_by_text("You are already in MGT 6001, section C.")).to_be_visible()
    finally:
        context.close()

    page.reload()
    members = page.locator("#cohort-members")
    expect(members.get_by_role("rowheader", name="Mei Lin")).to_be_visible()
    expect(members.get_by_role("cell", name="mei@example.edu")).to_be_visible()
