"""A memo handed in as a file, in Chromium: a page renamed .pdf is refused beside the
file field, a real PDF is taken, listed and downloaded under its name."""

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from cases.models import MemoVersion
from tests.browser.conftest import assert_accessible
from tests.factories import make_analysis

pytestmark = pytest.mark.django_db(transaction=True)

PDF = b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\n%%EOF\n"


def test_a_student_hands_in_a_file_after_one_is_refused(open_as, world):
    analysis = make_analysis(world.item.module, world.course.cohorts.all(), case=world.case)
    assignment = analysis.item.assignments.get()
    assignment.due_at = timezone.now() + timedelta(days=2)
    assignment.save()
    page = open_as("student")
    page.goto(analysis.item.get_absolute_url())
    field = page.get_by_label("Your memo as a file")
    expect(field).to_have_attribute("accept", ".pdf,.docx")
    field.set_input_files(
        files=[{"name": "memo.pdf", "mimeType": "application/pdf", "buffer": b"<html>hi</html>"}]
    )
    page.get_by_role("button", name="Upload this file").click()
    expect(page.locator("#upload-file_error")).to_contain_text("neither a PDF nor a Word")
    assert_accessible(page)
    page.get_by_label("Your memo as a file").set_input_files(
        files=[{"name": "Final memo.pdf", "mimeType": "application/pdf", "buffer": PDF}]
    )
    page.get_by_role("button", name="Upload this file").click()
    expect(page.get_by_role("status").or_(page.locator(".messages"))).to_contain_text(
        "Handed in: version 1"
    )
    link = page.get_by_role("link", name="Final memo.pdf")
    with page.expect_download() as download:
        link.click()
    assert download.value.suggested_filename == "Final memo.pdf"
    with open(download.value.path(), "rb") as file:
        assert file.read() == PDF
    assert MemoVersion.objects.get().file_type == "pdf"
    expect(page.get_by_role("button", name="Upload as a new version")).to_be_visible()
    assert_accessible(page)
