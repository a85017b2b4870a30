"""Handing in a memo as a file: the upload, the download by each who may read it (a
reviewer under a neutral name), and what is refused, with the page kept."""

import io
import zipfile
from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from cases.models import (
    AuditAction,
    AuditEntry,
    MemoVersion,
    Notification,
    NotificationKind,
    PeerReview,
    Work,
    WorkStatus,
)
from cases.services import memo_files
from cases.services.analyses import MemoRefused
from tests.factories import CohortFactory, MembershipFactory, UserFactory, make_analysis
from tests.helpers import at_once

pytestmark = pytest.mark.django_db

PDF = b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    """Files go to a folder of the test's own, never into the repository."""
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.STORAGES = settings.STORAGES | {
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"}
    }
    return settings.MEDIA_ROOT


def stored(media) -> list[str]:
    return sorted(str(p.relative_to(media)) for p in media.rglob("*") if p.is_file())


@pytest.fixture
def memo_world(world):
    analysis = make_analysis(world.item.module, world.course.cohorts.all(), case=world.case)
    return world, analysis.item, world.users["student"]


def docx(parts: dict[str, bytes] | None = None) -> bytes:
    """A small Word document, or a zip with the given parts."""
    if parts is None:
        parts = {
            "[Content_Types].xml": b'<Types><Override PartName="/word/document.xml" '
            + b'ContentType="'
            + memo_files.DOCX_MAIN
            + b'"/></Types>',
            "word/document.xml": b"<w:document><w:body><w:p>Buy it.</w:p></w:body></w:document>",
        }
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in parts.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def zip_bomb(megabytes: int) -> bytes:
    """A Word document whose text part unpacks to `megabytes` of zeros: a few hundred
    kilobytes on the wire."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        types = b'<Types ContentType="' + memo_files.DOCX_MAIN + b'"/>'
        archive.writestr("[Content_Types].xml", types)
        with archive.open("word/document.xml", "w", force_zip64=True) as part:
            zeros = bytes(1024 * 1024)
            for _ in range(megabytes):
                part.write(zeros)
    return buffer.getvalue()


def upload(client, item, content: bytes, name="memo.pdf", nonce="n1", content_type=None):
    file = SimpleUploadedFile(name, content, content_type=content_type or "application/pdf")
    return client.post(
        reverse("cases:analysis_upload", args=[item.pk]), {"file": file, "nonce": nonce}
    )


def raw_upload(client, item, filename: str, content: bytes, nonce="raw"):
    """A multipart body written by hand, so the filename reaches the server as sent."""
    boundary = "BoUnDaRy"
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="nonce"\r\n\r\n{nonce}\r\n'
            f"--{boundary}\r\nContent-Disposition: form-data; "
            f'name="file"; filename="{filename}"\r\n'
            "Content-Type: application/pdf\r\n\r\n"
        ).encode()
        + content
        + f"\r\n--{boundary}--\r\n".encode()
    )
    return client.generic(
        "POST",
        reverse("cases:analysis_upload", args=[item.pk]),
        body,
        content_type=f"multipart/form-data; boundary={boundary}",
    )


def download(client, version):
    return client.get(reverse("cases:memo_file", args=[version.pk]))


def body_of(response) -> bytes:
    return b"".join(response.streaming_content)


def test_a_file_is_handed_in_listed_and_downloaded_by_those_who_may(client, memo_world, media):
    world, item, student = memo_world
    client.force_login(student)
    page = client.get(item.get_absolute_url())
    assert "Or hand in a file" in page.text and 'accept=".pdf,.docx"' in page.text
    assert "at most 10.0\xa0MB" in page.text

    response = upload(client, item, PDF, name="Final memo, Alcatel.pdf")
    assert response.status_code == 302
    version = MemoVersion.objects.get(memo__author=student)
    assert (version.number, version.file_type, version.word_count, version.body) == (
        1,
        "pdf",
        0,
        "",
    )
    assert version.file_name == "Final memo, Alcatel.pdf" and version.file_size == len(PDF)
    assert Work.objects.get(item=item, user=student).state == WorkStatus.SUBMITTED
    # Stored under a random name in the item's folder, not the student's name.
    [path] = stored(media)
    assert path.startswith(f"memos/{item.pk}/") and "Alcatel" not in path

    page = client.get(item.get_absolute_url())
    assert "Final memo, Alcatel.pdf" in page.text
    assert reverse("cases:memo_file", args=[version.pk]) in page.text

    # The author downloads it: an attachment, a fixed type, never sniffed or kept.
    response = download(client, version)
    assert response.status_code == 200
    assert body_of(response) == PDF
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"].startswith("attachment;")
    assert "Final memo, Alcatel.pdf" in response["Content-Disposition"]
    assert response["X-Content-Type-Options"] == "nosniff"
    assert "private" in response["Cache-Control"]

    # Those who grade the student download it under its name.
    for role in ("instructor", "ta", "admin"):
        client.force_login(world.users[role])
        response = download(client, version)
        assert response.status_code == 200, role
        assert "Final memo, Alcatel.pdf" in response["Content-Disposition"]

    # A classmate given it to review gets it under a neutral name; one who is not, 404.
    reviewer, bystander = UserFactory(), UserFactory()
    cohort = world.course.cohorts.get()
    MembershipFactory(cohort=cohort, user=reviewer)
    MembershipFactory(cohort=cohort, user=bystander)
    PeerReview.objects.create(
        item=item, reviewer=reviewer, author=student, version=version, position=2
    )
    client.force_login(reviewer)
    response = download(client, version)
    assert response.status_code == 200
    assert body_of(response) == PDF
    assert 'filename="memo-2.pdf"' in response["Content-Disposition"]
    assert "Alcatel" not in str(response.headers)
    for stranger in (bystander, world.users["other_student"], world.users["other_instructor"]):
        client.force_login(stranger)
        assert download(client, version).status_code == 404

    # A TA who looks after another section of the course does not see this one's work.
    section_b = CohortFactory(name="Section B")
    world.course.cohorts.add(section_b)
    section_b.teaching_assistants.add(world.users["ta"])
    client.force_login(world.users["ta"])
    assert download(client, version).status_code == 404


def test_a_text_after_a_file_is_the_next_version_and_has_no_file(client, memo_world):
    _world, item, student = memo_world
    client.force_login(student)
    word = docx()
    upload(client, item, word, name="memo.docx", nonce="file")
    client.post(
        reverse("cases:analysis_write", args=[item.pk]),
        {"body": "Buy it, as ¶2 shows.", "action": "submit", "nonce": "text"},
    )
    file_version, text_version = MemoVersion.objects.order_by("number")
    assert file_version.file_type == "docx" and file_version.file_name == "memo.docx"
    assert text_version.number == 2 and text_version.word_count == 5 and not text_version.is_file
    response = download(client, file_version)
    assert response["Content-Type"] == memo_files.CONTENT_TYPES["docx"]
    assert body_of(response) == word
    assert download(client, text_version).status_code == 404
    # And a file after the text is the third.
    upload(client, item, PDF, nonce="file-again")
    assert MemoVersion.objects.order_by("-number").first().number == 3


@pytest.mark.parametrize(
    ("content", "name"),
    [
        (b"<!doctype html><script>alert(document.cookie)</script>", "memo.pdf"),
        (
            b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>',
            "memo.pdf",
        ),
        (b"  %PDF-1.7 but not at the start", "memo.pdf"),
        (b"PK\x03\x04 a zip that is not one", "memo.docx"),
    ],
    ids=["html-as-pdf", "svg-as-pdf", "pdf-marker-late", "broken-zip"],
)
def test_a_file_that_is_not_what_its_name_says_is_refused_beside_the_field(
    client, memo_world, media, content, name
):
    _world, item, student = memo_world
    client.force_login(student)
    client.post(
        reverse("cases:analysis_write", args=[item.pk]), {"body": "My draft.", "action": "save"}
    )
    response = upload(client, item, content, name=name)
    assert response.status_code == 400
    assert 'id="upload-file_error"' in response.text
    refused = ("neither a PDF nor a Word", "Word file cannot be taken")
    assert any(reason in response.text for reason in refused)
    assert "My draft.</textarea>" in response.text  # The rest of the page as it was.
    assert not MemoVersion.objects.exists()
    assert stored(media) == []


def test_a_zip_bomb_is_refused_from_its_directory(client, memo_world, media):
    _world, item, student = memo_world
    client.force_login(student)
    bomb = zip_bomb(200)
    assert len(bomb) < 1024 * 1024  # Small on the wire, 200 MB unpacked.
    response = upload(client, item, bomb, name="memo.docx")
    assert response.status_code == 400
    assert "would unpack to 200.0\xa0MB" in response.text
    # Under the total cap, but packed a thousand to one: refused too.
    response = upload(client, item, zip_bomb(20), name="memo.docx")
    assert "packed far tighter than any document" in response.text
    # So is a zip of too many parts, and a zip that is no Word document.
    parts = {f"word/media/{n}.png": b"x" for n in range(1_001)}
    response = upload(client, item, docx(parts), name="memo.docx")
    assert "more than 1,000 parts" in response.text
    response = upload(client, item, docx({"a.txt": b"hello"}), name="memo.docx")
    assert "not a Word document" in response.text
    assert not MemoVersion.objects.exists() and stored(media) == []


def test_a_macro_enabled_word_file_is_refused():
    macro = docx(
        {
            "[Content_Types].xml": b'<Types ContentType="application/vnd.ms-word.document.'
            b'macroEnabled.main+xml"/>',
            "word/document.xml": b"<w:document/>",
        }
    )
    with pytest.raises(MemoRefused, match="macro-enabled"):
        memo_files.file_kind(SimpleUploadedFile("memo.docx", macro))


def test_an_oversized_file_is_refused_by_the_setting_of_the_day(
    client, memo_world, settings, media
):
    _world, item, student = memo_world
    client.force_login(student)
    settings.MEMO_MAX_BYTES = 1000
    big = PDF + b"%" * 2000
    response = upload(client, item, big)
    assert response.status_code == 400
    assert "the limit is 1000\xa0bytes" in response.text
    assert "at most 1000\xa0bytes" in response.text  # The help says so too.
    settings.MEMO_MAX_BYTES = 10_000
    assert upload(client, item, big, nonce="again").status_code == 302
    assert len(stored(media)) == 1


@pytest.mark.parametrize(
    ("sent", "kept"),
    [
        ("../../x.pdf", "x.pdf"),
        ("C:\\\\Users\\\\me\\\\x.pdf", "x.pdf"),
        ("..\\\\..\\\\x.pdf", "x.pdf"),
        ("/etc/passwd", "passwd.pdf"),
        ("x\x00.html", "x.html.pdf"),
        ("memo.docx", "memo.pdf"),  # A PDF named .docx is a PDF.
    ],
)
def test_a_path_in_the_filename_never_reaches_storage(client, memo_world, media, sent, kept):
    _world, item, student = memo_world
    client.force_login(student)
    response = raw_upload(client, item, sent, PDF)
    assert response.status_code == 302, response.content[:500]
    version = MemoVersion.objects.get()
    assert version.file_name == kept
    [path] = stored(media)
    assert path.startswith(f"memos/{item.pk}/") and path.endswith(".pdf") and ".." not in path
    assert not (media.parent / "x.pdf").exists()


def test_display_name_keeps_a_clean_base_name():
    assert memo_files.display_name("C:\\x.pdf", "pdf") == "x.pdf"
    assert memo_files.display_name("C:x.pdf", "pdf") == "x.pdf"
    assert memo_files.display_name("a/b\\c.DOCX", "docx") == "c.docx"
    assert memo_files.display_name("bad\x00\r\nname\u202e.pdf", "pdf") == "badname.pdf"
    assert memo_files.display_name("", "docx") == "memo.docx"
    assert memo_files.display_name("..", "pdf") == "memo.pdf"
    assert len(memo_files.display_name("x" * 500 + ".pdf", "pdf")) == 124


def test_the_same_form_posted_twice_makes_one_version(client, memo_world, media):
    _world, item, student = memo_world
    client.force_login(student)
    assert upload(client, item, PDF, nonce="same").status_code == 302
    assert upload(client, item, PDF, nonce="same").status_code == 302
    assert MemoVersion.objects.count() == 1
    assert len(stored(media)) == 1  # The second copy was never stored.
    # One receipt, naming the file, and one entry in the audit log.
    [receipt] = Notification.objects.filter(user=student, kind=NotificationKind.HANDED_IN)
    assert MemoVersion.objects.get().file_name in receipt.body
    assert AuditEntry.objects.filter(action=AuditAction.HAND_IN, subject=student).count() == 1


def test_the_same_form_sent_again_with_another_file_hands_that_file_in(client, memo_world, media):
    """Back to the upload form after handing in, another file chosen: the new file is
    version 2, not version 1 handed back while the new file goes nowhere."""
    _world, item, student = memo_world
    client.force_login(student)
    assert upload(client, item, PDF, name="draft.pdf", nonce="form").status_code == 302
    revised = PDF.replace(b"%%EOF", b"% revised\n%%EOF")
    response = upload(client, item, revised, name="final.pdf", nonce="form")
    assert response.status_code == 302
    assert "version 2, the file final.pdf" in client.get(response["Location"]).text
    assert list(MemoVersion.objects.order_by("number").values_list("file_name", flat=True)) == [
        "draft.pdf",
        "final.pdf",
    ]
    assert len(stored(media)) == 2


@pytest.mark.django_db(transaction=True)
def test_ten_uploads_of_one_form_at_once_make_one_version_and_one_file(world, media):
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL's row locks; SQLite serialises writers")
    item = make_analysis(world.item.module, world.course.cohorts.all()).item
    student = world.users["student"]

    def hand_in():
        memo_files.memo_file_submit(
            item=item, user=student, upload=SimpleUploadedFile("m.pdf", PDF), nonce="once"
        )

    assert at_once(hand_in, 10) == []
    assert MemoVersion.objects.filter(memo__item=item).count() == 1
    assert len(stored(media)) == 1


def test_after_the_due_date_a_handed_in_memo_takes_no_file(client, memo_world, media):
    _world, item, student = memo_world
    client.force_login(student)
    assignment = item.assignments.get()
    assignment.due_at = timezone.now() + timedelta(days=1)
    assignment.save()
    assert upload(client, item, PDF, nonce="a").status_code == 302
    assignment.due_at = timezone.now() - timedelta(hours=1)
    assignment.save()
    response = client.post(
        reverse("cases:analysis_upload", args=[item.pk]),
        {"file": SimpleUploadedFile("late.pdf", PDF), "nonce": "b"},
    )
    # The page says it is closed; the upload itself is refused all the same.
    assert response.status_code == 400
    assert MemoVersion.objects.count() == 1 and len(stored(media)) == 1


def test_a_first_file_after_the_due_date_is_taken_late(client, memo_world):
    _world, item, student = memo_world
    client.force_login(student)
    assignment = item.assignments.get()
    assignment.due_at = timezone.now() - timedelta(days=1)
    assignment.save()
    assert upload(client, item, PDF).status_code == 302
    assert "Late" in client.get(item.get_absolute_url()).text


def test_an_analysis_without_files_has_no_upload_and_refuses_one(client, memo_world, media):
    world, item, student = memo_world
    item.analysis.allow_upload = False
    item.analysis.save()
    client.force_login(student)
    assert "Or hand in a file" not in client.get(item.get_absolute_url()).text
    # Switched off while the student's page was open: refused beside the field.
    refused = upload(client, item, PDF)
    assert refused.status_code == 400 and "it takes no files" in refused.text
    client.force_login(world.users["instructor"])
    item.analysis.allow_upload = True
    item.analysis.save()
    assert upload(client, item, PDF).status_code == 403  # Staff do not hand in.
    assert stored(media) == []


def test_no_file_chosen_is_named_beside_the_field(client, memo_world):
    _world, item, student = memo_world
    client.force_login(student)
    response = client.post(reverse("cases:analysis_upload", args=[item.pk]), {"nonce": "x"})
    assert response.status_code == 400
    assert "Choose the file your memo is in." in response.text
