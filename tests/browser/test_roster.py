"""Enrolling a cohort from a roster in a real browser: a bad file is refused with every
problem listed and nothing changed, a good one previewed and imported, and the audit
log shows both."""

import pytest
from playwright.sync_api import expect

from cases.models import Membership, User
from tests.browser.conftest import assert_accessible

pytestmark = pytest.mark.django_db(transaction=True)

HEADER = "email,first_name,last_name,student_id\n"


def test_an_admin_enrols_a_cohort_from_a_csv(open_as, world, tmp_path):
    cohort = world.course.cohorts.get()
    bad = tmp_path / "bad.csv"
    bad.write_text(HEADER + "ann@example.edu,Ann,Lee,A1\nnot-an-email,Bo,Li,B2\n,Cy,Ma,C3\n")
    good = tmp_path / "good.csv"
    good.write_text(HEADER + "ann@example.edu,Ann,Lee,A1\nbo@example.edu,Bo,Li,B2\n")

    admin = open_as("admin")
    admin.goto("/manage/cohorts/")
    row = admin.get_by_role("row").filter(
        has=admin.get_by_role("link", name=cohort.name, exact=True)
    )
    row.get_by_role("link", name="Import a roster").click()
    admin.get_by_label("Roster (CSV)").set_input_files(str(bad))
    admin.get_by_role("button", name="Preview").click()
    expect(admin.get_by_role("heading", name="Nothing was imported: 2 problems")).to_be_visible()
    expect(admin.get_by_text("“not-an-email” is not an email address.")).to_be_visible()
    expect(admin.get_by_text("The email is missing.")).to_be_visible()
    assert not User.objects.filter(email="ann@example.edu").exists()
    assert_accessible(admin)

    admin.get_by_label("Roster (CSV)").set_input_files(str(good))
    admin.get_by_label("Email new accounts a link").uncheck()
    admin.get_by_role("button", name="Preview").click()
    expect(admin.get_by_role("heading", name="Preview: 2 to create")).to_be_visible()
    assert_accessible(admin)
    admin.get_by_role("button", name="Confirm: import 2 rows").click()
    expect(admin.get_by_text("Imported into Section A: 2 new accounts")).to_be_visible()
    assert (
        Membership.objects.filter(
            cohort=cohort, user__email__in=["ann@example.edu", "bo@example.edu"]
        ).count()
        == 2
    )

    admin.goto("/manage/audit/")
    admin.get_by_label("Action").select_option("import")
    admin.get_by_role("button", name="Filter").click()
    expect(admin.get_by_text("rejected: 2 bad rows, nothing imported")).to_be_visible()
    expect(admin.get_by_text("Roster imported into Section A: 2 created")).to_be_visible()
    assert_accessible(admin)
