"""Notes on the words of a case: the reader's layer of marks and its live poll, a
paragraph's notes with the form to add one, a note's thread, and replying, voting,
moderating and deleting. Every page works without JavaScript; htmx opens threads in
the reader's margin panel and keeps the marks live."""

import functools
import re

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db.models import Q
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.html import format_html
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django.views.decorators.vary import vary_on_headers

from cases.anchors import sentences, text_of, trimmed
from cases.http import HtmxHttpRequest, not_modified, parse_int
from cases.models import CaseStudy, Visibility, assignment_for_student, takes_work_until
from cases.permissions import CaseAccess, access_case, case_access
from cases.routes import route
from cases.services import annotations as services
from cases.services.readings import body_with_citations
from cases.views.errors import htmx_alert

NOTES = "cases/annotations/notes.html"
LAYER = "cases/readings/case_reader.html#reader-layer"
TASK_PROGRESS = "cases/readings/case_reader.html#task-progress"
PARAGRAPH_OPEN = re.compile(r'data-paragraph="(\d+)">')


# The reader's layer ----------------------------------------------------------------------


def layer_context(request, case: CaseStudy, access: CaseAccess, body_html: str, rows=None):
    """What the reader's layer shows: the body marked with the reader's notes, each
    paragraph's tools (annotate it, its count of notes), and the layer's ETag. One
    query (`layer_rows`) unless the rows are given."""
    if rows is None:
        rows = services.layer_rows(request.user, case, access)
    layer = services.reader_layer(case, body_html, rows)
    notes_url = route("cases:annotation_list", case.slug)

    def tools(match):
        number = int(match.group(1))
        return match.group(0) + _paragraph_tools(notes_url, number, layer.counts.get(number, 0))

    body = PARAGRAPH_OPEN.sub(tools, layer.body)
    return {
        "layer": layer,
        "layer_rows": rows,
        "body": mark_safe(body),  # noqa: S308 - the marked body plus our own links.
        "layer_etag": services.layer_etag(case, request.user, rows),
    }


@functools.lru_cache(maxsize=4096)
def _paragraph_tools(notes_url: str, number: int, count: int) -> str:
    """A paragraph's tools in the reader: annotate it, and its count of notes. The same
    for every reader of the case while the count stands, so made once a process."""
    url = f"{notes_url}?paragraph={number}"
    return format_html(
        '<div class="para__tools no-print" data-annotation-ui>'
        '<a class="para__annotate" href="{}#add" hx-get="{}" hx-target="#annotation-panel" '
        'hx-push-url="false">+ note'
        '<span class="visually-hidden">: annotate paragraph {}</span></a>'
        "{}</div>",
        url,
        url,
        number,
        format_html(
            '<a class="para__notes" href="{}#notes" hx-get="{}" hx-target="#annotation-panel" '
            'hx-push-url="false">{}<span class="para__notes-word"> note{}</span>'
            '<span class="visually-hidden"> on paragraph {}</span></a>',
            url,
            url,
            count,
            "s" if count != 1 else "",
            number,
        )
        if count
        else "",
    )


@require_GET
def annotation_live(request: HtmxHttpRequest, slug: str):
    """Anyone who may read the case: the reader's marked body, for htmx to poll while
    the page is visible and nobody is writing. Unchanged notes answer 304 after one
    query of the notes themselves."""
    case, access = access_case(request.user, slug)
    rows = services.layer_rows(request.user, case, access)
    etag = services.layer_etag(case, request.user, rows)
    if unchanged := not_modified(request, etag):
        return unchanged
    # The citation counts ride along, put in as the page puts them: after the notes'
    # marks and tools, so a poll redraws the margin as the page drew it.
    context = {"case": case, **layer_context(request, case, access, case.body_html, rows)}
    context["body"] = body_with_citations(
        case, request.user, access, context["body"], kept_counts=False
    )
    response = render(request, LAYER, context)
    response["ETag"] = etag
    response["Cache-Control"] = "private, no-cache"
    return response


# A paragraph's notes, and adding one ------------------------------------------------------


def _paragraph(case: CaseStudy, number: int | None):
    if number is None:
        return None
    paragraph = case.paragraphs.filter(number=number).only("number", "html").first()
    if paragraph is None:
        raise Http404
    return paragraph


def _choices(paragraph) -> list[tuple[str, str]]:
    """The sentences of a paragraph, for a keyboard (or a page without script) to pick
    the words a note is about: each its place and its words (`_picked`), so a sentence
    picked before the paragraph was edited is found again, or refused, not taken for
    whatever words came to be at its place."""
    text = text_of(paragraph.html)
    found = [("", f"The whole of ¶{paragraph.number}")]
    for n, (start, end) in enumerate(sentences(text), 1):
        words = text[start:end]
        label = words if len(words) <= 90 else words[:89] + "…"
        found.append((f"{start}-{end}:{words}", f"Sentence {n}: {label}"))
    return found


def _picked(value: str) -> tuple[int, int, str] | None:
    """A sentence picked in `_choices`: its start, end and words (none from a form of
    before they were sent: its place alone), or None for the whole paragraph."""
    picked = re.fullmatch(r"(\d+)-(\d+)(?::(.*))?", value, re.DOTALL)
    if picked is None:
        return None
    # A browser sends a line break in a value as CRLF; the case's text has LF.
    return int(picked[1]), int(picked[2]), (picked[3] or "").replace("\r\n", "\n")


def _form_context(request, case, access, paragraph, *, data=None, error="", field=""):
    data = data if data is not None else request.GET
    start = parse_int(data.get("start"), low=0)
    end = parse_int(data.get("end"), low=0)
    end_paragraph = parse_int(data.get("end_paragraph"), low=1)
    quote = (data.get("quote") or "")[:2000]
    selected = quote and start is not None and end is not None
    return {
        "case": case,
        "access": access,
        "paragraph": paragraph,
        "paragraph_html": mark_safe(paragraph.html) if paragraph else "",  # noqa: S308
        "sentences": _choices(paragraph) if paragraph and not selected else [],
        "selection": {
            "start": start,
            "end": end,
            "end_paragraph": end_paragraph or (paragraph.number if paragraph else None),
            "quote": quote,
        }
        if selected
        else None,
        "sentence": data.get("sentence", "").replace("\r\n", "\n"),  # As `_picked` reads it.
        "visibility": data.get("visibility") or Visibility.COHORT,
        "visibilities": Visibility.choices,
        "body": data.get("body", ""),
        "nonce": data.get("nonce") or services.new_nonce(),
        "error": error,
        "error_field": field,
    }


@require_http_methods(["GET", "POST"])
@vary_on_headers("HX-Request")
def annotation_list(request: HtmxHttpRequest, slug: str):
    """Anyone who may read the case: its notes as the reader may see them, a paragraph
    at a time (?paragraph=7) with the form to add one to it, or all of them by
    paragraph. htmx gets the paragraph's panel for the reader's margin. A POST adds a
    note; refused input comes back beside its field, with what was typed."""
    case, access = access_case(request.user, slug)
    if request.method == "POST":
        return _create(request, case, access)
    number = parse_int(request.GET.get("paragraph"), low=1)
    paragraph = _paragraph(case, number)
    context = _form_context(request, case, access, paragraph)
    roots = Q(paragraph=number) | Q(end_paragraph=number) if number else Q()
    found = services.threads(request.user, case, access, roots, by_place=not number)
    context |= {"threads": found.notes, "waiting": found.waiting}
    if request.htmx and not request.htmx.history_restore_request and paragraph:
        return render(request, f"{NOTES}#paragraph-panel", context)
    return render(request, NOTES, context)


def _create(request, case, access):
    post = request.POST
    number = parse_int(post.get("paragraph"), low=1)
    paragraph = case.paragraphs.filter(number=number).only("number", "html").first()
    start, end = parse_int(post.get("start"), low=0), parse_int(post.get("end"), low=0)
    end_paragraph = parse_int(post.get("end_paragraph"), low=1) or number
    quote = post.get("quote", "")
    selected = bool(quote and number and start is not None and end is not None)
    if paragraph is None and not selected:
        # The case was edited since the form was opened: the form comes back on its
        # first paragraph, the note kept. (Selected words are looked for anywhere.)
        first = case.paragraphs.order_by("position").only("number", "html").first()
        refusal = services.AnnotationRefused(
            "That paragraph is no longer in the case. Choose the words again; your note is "
            "kept below.",
            "words",
        )
        return _refused(request, case, access, first, refusal, drop_selection=True)
    if not selected:
        # A sentence picked from the list (its words checked against the case as it is
        # now, as selected words are), or the whole paragraph as it is now.
        picked = _picked(post.get("sentence", ""))
        if picked is None:
            (start, end), quote = trimmed(text_of(paragraph.html)), ""
        else:
            start, end, quote = picked
        end_paragraph = number
    selection = services.Selection(number, start, end_paragraph, end, quote)
    try:
        note = services.annotation_create(
            case=case,
            author=request.user,
            access=access,
            selection=selection,
            body=post.get("body", ""),
            visibility=post.get("visibility") or Visibility.COHORT,
            nonce=post.get("nonce", ""),
        )
    except services.AnnotationRefused as refusal:
        if paragraph is None:
            paragraph = case.paragraphs.order_by("position").only("number", "html").first()
        return _refused(request, case, access, paragraph, refusal)
    if request.htmx:
        response = _thread_response(request, case, access, note.pk, announce="Note saved.")
        return _with_layer(request, case, access, response)
    messages.success(request, "Note saved.")
    return redirect("cases:annotation_detail", note.pk)


def _refused(request, case, access, paragraph, refusal, *, drop_selection=False):
    """The form again, with the refusal beside its field and everything typed kept."""
    data = request.POST.copy()
    if drop_selection:
        for name in ("start", "end", "end_paragraph", "quote", "sentence"):
            data.pop(name, None)
    context = _form_context(
        request, case, access, paragraph, data=data, error=str(refusal), field=refusal.field
    )
    context["threads"] = []
    template = f"{NOTES}#paragraph-panel" if request.htmx and paragraph else NOTES
    return render(request, template, context)


# One note's thread ------------------------------------------------------------------------


def _note_case(request, pk: int) -> tuple[CaseStudy, CaseAccess]:
    case = services.note_for(request.user, pk)
    if case is None:
        raise Http404
    return case, case_access(request.user, case)


def _thread(request, case, access, pk: int, *, span: bool = False):
    """The thread of note `pk` (or, with `span`, of every note on the same words) as
    this reader sees it; 404 if they may not see the note."""
    roots = Q(pk=pk)
    if span:
        anchor = (
            services.annotations_visible(request.user, case, access)
            .filter(pk=pk, thread__isnull=True)
            .values("paragraph", "start", "end_paragraph", "end")
            .first()
        )
        if anchor is None:
            raise Http404
        roots = Q(**anchor, orphaned=False)
    found = services.threads(request.user, case, access, roots)
    if not any(note.pk == pk for note in found.notes) and not span:
        raise Http404
    return found


def _thread_response(request, case, access, pk: int, *, announce: str = "", span=False):
    found = _thread(request, case, access, pk, span=span)
    context = {
        "case": case,
        "access": access,
        "threads": found.notes,
        "focus": pk,
        "announce": announce,
        "nonce": services.new_nonce(),
    }
    if request.htmx and not request.htmx.history_restore_request:
        return render(request, f"{NOTES}#thread-panel", context)
    return render(request, "cases/annotations/note_detail.html", context)


@require_GET
@vary_on_headers("HX-Request")
def annotation_detail(request: HtmxHttpRequest, pk: int):
    """Whoever may read the note: its thread (with ?span=1, every note on the same
    words), as a page or, for htmx, the reader's margin panel."""
    case, access = _note_case(request, pk)
    return _thread_response(request, case, access, pk, span=request.GET.get("span") == "1")


def _with_layer(request, case, access, response):
    """An htmx answer that changed what the reader marks: the layer comes along, out
    of band, so the marks and counts change at once."""
    layer = {"case": case, "oob": True}
    layer |= layer_context(request, case, access, body_with_citations(case, request.user, access))
    response.content += render(request, LAYER, layer).content
    if not access.is_teaching_staff:
        # A student's count of substantive notes beside the case follows at once too.
        for task in services.annotation_tasks_given(request.user, case):
            assignment = assignment_for_student(task.item_id, request.user)
            progress = services.task_progress(
                task,
                layer["layer_rows"].own,
                takes_work_until(assignment),
                getattr(assignment, "cohort_id", None),
            )
            context = {"task": task, "task_mine": progress, "oob": True}
            response.content += render(request, TASK_PROGRESS, context).content
    return response


def _after_action(request, case, access, pk: int, message: str, *, marks: bool = False):
    if request.htmx:
        response = _thread_response(request, case, access, pk, announce=message)
        return _with_layer(request, case, access, response) if marks else response
    messages.success(request, message)
    return redirect("cases:annotation_detail", pk)


def _action_refused(request, pk: int, message: str):
    if request.htmx:
        return htmx_alert(request, title="Not saved", message=message, status=400)
    messages.error(request, message)
    return redirect("cases:annotation_detail", pk)


def _visible_note(request, case, access, pk: int, *, shown: bool = False):
    """The note or reply `pk` if this user may read it; with `shown`, only if its
    thread is shown to them now (annotate-first may hold it back). Else 404."""
    note = services.annotations_visible(request.user, case, access).filter(pk=pk).first()
    if note is None:
        raise Http404
    if shown and not access.is_teaching_staff:
        _thread(request, case, access, note.thread_id or note.pk)
    return note


@require_POST
@vary_on_headers("HX-Request")
def annotation_reply(request: HtmxHttpRequest, pk: int):
    """Whoever may read the note replies in its thread."""
    case, access = _note_case(request, pk)
    note = _visible_note(request, case, access, pk, shown=True)
    try:
        reply = services.annotation_reply(
            thread=note,
            author=request.user,
            body=request.POST.get("body", ""),
            nonce=request.POST.get("nonce", ""),
        )
    except services.AnnotationRefused as refusal:
        if request.htmx:
            return _action_refused(request, pk, str(refusal))
        context = {
            "case": case,
            "access": access,
            "threads": _thread(request, case, access, note.thread_id or pk).notes,
            "focus": pk,
            "reply_body": request.POST.get("body", ""),
            "reply_error": str(refusal),
            "nonce": request.POST.get("nonce") or services.new_nonce(),
        }
        return render(request, "cases/annotations/note_detail.html", context)
    return _after_action(request, case, access, reply.thread_id or pk, "Reply saved.", marks=True)


@require_POST
@vary_on_headers("HX-Request")
def annotation_vote(request: HtmxHttpRequest, pk: int):
    """Whoever may read the note upvotes it, or takes the upvote back; not their own."""
    case, access = _note_case(request, pk)
    note = _visible_note(request, case, access, pk, shown=True)
    try:
        voted = services.annotation_vote_toggle(note=note, user=request.user)
    except services.AnnotationRefused as refusal:
        return _action_refused(request, pk, str(refusal))
    return _after_action(
        request, case, access, note.thread_id or pk, "Upvoted." if voted else "Upvote taken back."
    )


@require_POST
@vary_on_headers("HX-Request")
def annotation_moderate(request: HtmxHttpRequest, pk: int):
    """Teaching staff who see the note pin, endorse or hide it (with a reason)."""
    case, access = _note_case(request, pk)
    if not access.is_teaching_staff:
        raise PermissionDenied
    note = _visible_note(request, case, access, pk)
    try:
        services.annotation_moderate(
            note=note, action=request.POST.get("action", ""), reason=request.POST.get("reason", "")
        )
    except services.AnnotationRefused as refusal:
        return _action_refused(request, pk, str(refusal))
    hides = request.POST.get("action") in ("hide", "unhide")
    return _after_action(request, case, access, note.thread_id or pk, "Saved.", marks=hides)


@require_POST
@vary_on_headers("HX-Request")
def annotation_delete(request: HtmxHttpRequest, pk: int):
    """The author deletes their note or reply."""
    case, access = _note_case(request, pk)
    note = _visible_note(request, case, access, pk)
    if note.author_id != request.user.pk:
        raise PermissionDenied
    services.annotation_delete(note=note)
    root = note.thread_id or note.pk
    # A reply, or a note whose replies keep its thread: the thread, as it now is; unless
    # it is gone for this reader (the last reply under a deleted note).
    if (note.thread_id or note.reply_count) and services.threads(
        request.user, case, access, Q(pk=root)
    ).notes:
        return _after_action(request, case, access, root, "Deleted.", marks=True)
    announce = "Reply deleted." if note.thread_id else "Note deleted."
    if request.htmx:
        context = {"case": case, "threads": [], "announce": announce}
        response = render(request, f"{NOTES}#thread-panel", context)
        return _with_layer(request, case, access, response)
    messages.success(request, announce)
    paragraph = note.thread.paragraph if note.thread_id else note.paragraph
    return redirect(f"{case.get_absolute_url()}#p{paragraph}")
