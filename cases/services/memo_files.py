"""Memos handed in as a file, a PDF or a Word document (.docx), instead of written here.

What a file is comes from its bytes, never from its name or the content type the
browser claims: a PDF starts with `%PDF-`; a Word document is a zip archive holding
`[Content_Types].xml` (naming a Word document as its main part) and `word/document.xml`.
A zip is judged from its central directory, without unpacking it, so a small archive
that would unpack to gigabytes (a zip bomb) is refused by what it declares, and the only
part read is the short `[Content_Types].xml`, read no further than its declared size.

The name the student gave is kept for display only (`MemoVersion.file_name`, cleaned to
a base name); storage picks its own random name (`memo_upload_to`). A file version is
handed in under the same rules as a written one (`memo_submit`): the student's
assignment must be taking work, after the due date only a first hand-in is taken, the
same form posted twice makes one version, and the student's memo row is locked while
the version is made. A text handed in after a file, or a file after a text, is simply
the next version: the latest is the one that counts.
"""

import re
import unicodedata
import zipfile
from pathlib import PurePosixPath

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.db.models.signals import post_delete
from django.dispatch import receiver
from django.template.defaultfilters import filesizeformat
from django.utils import timezone

from cases.models import Analysis, MemoVersion, ModuleItem
from cases.services.analyses import MemoRefused, hand_in_begin, memo_handed_in
from cases.services.workspace.work import work_sync

PDF = "pdf"
DOCX = "docx"
CONTENT_TYPES = {
    PDF: "application/pdf",
    DOCX: "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
}
# A Word document's main part; a macro-enabled one (.docm) declares another and is refused.
DOCX_MAIN = b"application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"
DOCX_REQUIRED = {"[Content_Types].xml", "word/document.xml"}
# Caps on what a .docx may declare. A long memo with pictures unpacks to a few times its
# size; text compresses about ten to one, a run of zeros a thousand to one.
DOCX_MAX_ENTRIES = 1_000
DOCX_MAX_UNPACKED = 100 * 1024 * 1024
DOCX_MAX_RATIO = 100
DOCX_RATIO_FROM = 1024 * 1024  # Smaller parts may compress as they like.
CONTENT_TYPES_MAX = 64 * 1024

NOT_A_MEMO = (
    "This file is neither a PDF nor a Word document (.docx). Save your memo as one of "
    "those and upload it again."
)


def _refuse_docx(reason: str) -> MemoRefused:
    return MemoRefused(f"This Word file cannot be taken: {reason} Save it again as .docx.")


def _check_docx(upload: UploadedFile) -> None:
    """Refuse a .docx that is no Word document or that would unpack too large, judged
    from the archive's directory."""
    upload.seek(0)
    try:
        with zipfile.ZipFile(upload) as archive:
            entries = archive.infolist()
            if len(entries) > DOCX_MAX_ENTRIES:
                raise _refuse_docx(f"it holds more than {DOCX_MAX_ENTRIES:,} parts.")
            if not {entry.filename for entry in entries} >= DOCX_REQUIRED:
                raise _refuse_docx("it is a zip archive but not a Word document.")
            unpacked = sum(entry.file_size for entry in entries)
            if unpacked > DOCX_MAX_UNPACKED:
                raise _refuse_docx(
                    f"it would unpack to {filesizeformat(unpacked)}, more than the "
                    f"{filesizeformat(DOCX_MAX_UNPACKED)} a memo may."
                )
            for entry in entries:
                squeezed = max(entry.compress_size, 1)
                if (
                    entry.file_size > DOCX_RATIO_FROM
                    and entry.file_size > squeezed * DOCX_MAX_RATIO
                ):
                    raise _refuse_docx("a part of it is packed far tighter than any document.")
            types = archive.getinfo("[Content_Types].xml")
            if types.file_size > CONTENT_TYPES_MAX:
                raise _refuse_docx("its list of contents is too long.")
            with archive.open(types) as part:
                if DOCX_MAIN not in part.read(CONTENT_TYPES_MAX):
                    raise _refuse_docx(
                        "it is not a Word document (a macro-enabled one is not taken)."
                    )
    except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, EOFError, ValueError):
        raise _refuse_docx("it is damaged.") from None
    except RuntimeError:  # An encrypted archive asks for a password.
        raise _refuse_docx("it is protected by a password.") from None
    finally:
        upload.seek(0)


def file_kind(upload: UploadedFile) -> str:
    """ "pdf" or "docx", from the file's bytes; refused (with the reason, for the student)
    when it is empty, too large or neither."""
    limit = settings.MEMO_MAX_BYTES
    if not upload.size:
        raise MemoRefused("This file is empty. Choose the file your memo is in.")
    if upload.size > limit:
        raise MemoRefused(
            f"This file is {filesizeformat(upload.size)}; the limit is {filesizeformat(limit)}. "
            "Make it smaller (for a PDF, export it without high-resolution images) and upload "
            "it again."
        )
    upload.seek(0)
    head = upload.read(8)
    upload.seek(0)
    if head.startswith(b"%PDF-"):
        return PDF
    if head.startswith(b"PK\x03\x04"):
        _check_docx(upload)
        return DOCX
    raise MemoRefused(NOT_A_MEMO)


def display_name(name: str, kind: str) -> str:
    """The name the student gave, fit for display only: no folders (either kind of
    slash), no drive, no control characters, at most 120 characters, and ending in
    the suffix of what the file really is."""
    name = re.split(r"[\\/]", name or "")[-1]
    name = re.sub(r"^[A-Za-z]:", "", name)
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] not in "CZ" or ch == " ")
    stem = (
        PurePosixPath(name).stem
        if PurePosixPath(name).suffix.lower() in (".pdf", ".docx")
        else name
    )
    stem = " ".join(stem.split()).strip(". ")[:120]
    return f"{stem or 'memo'}.{kind}"


@transaction.atomic
def memo_file_submit(
    *, item: ModuleItem, user, upload: UploadedFile, nonce: str = "", now=None
) -> MemoVersion:
    """Hand in an uploaded file as the next version of the student's memo: word count
    0, no text. Idempotent per form (nonce) and file (its name and size: the same form
    sent again with another file hands that in). The file is stored only once the rules
    have taken it, and removed again if the version cannot be kept."""
    now = now or timezone.now()
    analysis = Analysis.objects.get(item=item)
    if not analysis.allow_upload:
        raise MemoRefused("This analysis is written here: it takes no files.")
    kind = file_kind(upload)
    nonce = (nonce or "")[:40]
    name = display_name(upload.name, kind)
    begun = hand_in_begin(item, user, nonce, now)
    if begun.same is not None:
        same = begun.same
        if same.is_file and (same.file_name, same.file_size) == (name, upload.size):
            return same
        # The form that made it, sent again with another file (Back, another file
        # chosen): a hand-in of its own, which keeps no nonce (it was used).
        begun, nonce = hand_in_begin(item, user, "", now), ""
    version = MemoVersion(
        memo=begun.memo,
        number=begun.number,
        file_name=name,
        file_type=kind,
        file_size=upload.size,
        submitted_at=now,
        nonce=nonce,
    )
    # Storage takes a neutral name; `memo_upload_to` keeps only its suffix.
    version.file.save(f"memo.{kind}", upload, save=False)
    try:
        version.save()
        work_sync(item, [user.pk])
        memo_handed_in(version)
    except BaseException:
        version.file.delete(save=False)
        raise
    return version


@receiver(post_delete, sender=MemoVersion)
def _file_removed(sender, instance: MemoVersion, **kwargs) -> None:
    """A version deleted (with its item, its module, its course or its author) takes
    its file from storage too, once the deletion commits: a student's memo is never
    left behind in storage with nothing pointing to it."""
    if instance.file:
        storage, name = instance.file.storage, instance.file.name
        transaction.on_commit(lambda: storage.delete(name))
