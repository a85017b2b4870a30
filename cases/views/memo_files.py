"""Memos handed in as a file: the student uploads a PDF or Word document on the
writing page, and those who may read the version download it through the app (never
from storage directly, never shown inline)."""

import logging

from django.contrib import messages
from django.http import FileResponse, Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from cases.forms.memo_files import MemoFileForm
from cases.http import HtmxHttpRequest
from cases.permissions import access_memo_version
from cases.services import memo_files as services
from cases.services.analyses import MemoRefused
from cases.views.analyses import PAGE, _student_context, _writer

log = logging.getLogger(__name__)


@require_POST
def analysis_upload(request: HtmxHttpRequest, pk: int):
    """A student given the analysis hands in a file instead of writing here, again
    until the due date (each file a new version), when the analysis allows files (files
    switched off while the page was open are refused beside the field, like any refused
    file); 403 for its staff. The rest of the page stays as it was."""
    item, analysis = _writer(request, pk)
    form = MemoFileForm(request.POST, request.FILES)
    if form.is_valid():
        try:
            version = services.memo_file_submit(
                item=item,
                user=request.user,
                upload=form.cleaned_data["file"],
                nonce=form.cleaned_data["nonce"],
            )
        except MemoRefused as refused:
            form.add_error("file", str(refused))
        else:
            messages.success(
                request, f"Handed in: version {version.number}, the file {version.file_name}."
            )
            return redirect(item)
    context = _student_context(request, item, analysis, upload_form=form)
    return render(request, PAGE, context, status=400)


@require_GET
def memo_file(request: HtmxHttpRequest, pk: int):
    """A handed-in file, as a download: for its author, those who grade them and a
    student given it to review (who gets a neutral name, "memo-2.pdf", never the
    author's); 404 for everyone else and for a version that is text."""
    version, access = access_memo_version(request.user, pk)
    kind = version.file_type
    if not version.is_file or kind not in services.CONTENT_TYPES:
        raise Http404
    if access.is_reviewer:
        filename = f"memo-{access.review.position}.{kind}"
    else:
        filename = version.file_name or f"memo.{kind}"
    try:
        handle = version.file.open("rb")
    except FileNotFoundError:
        log.error("The file of memo version %s is missing from storage.", version.pk)
        raise Http404 from None
    response = FileResponse(
        handle, as_attachment=True, filename=filename, content_type=services.CONTENT_TYPES[kind]
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, no-store"
    return response
