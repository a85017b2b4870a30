"""Written analyses as their students write them: the prompt, an editor that keeps the
draft as they type (and without script, on "Save draft"), a preview with the case's
paragraphs linked, citations inserted, and handing in, again until the due date."""

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Q
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST
from django.views.decorators.vary import vary_on_headers

from cases.forms.memo_files import MemoFileForm
from cases.http import HtmxHttpRequest, parse_int
from cases.models import (
    MAX_MEMO_CHARS,
    Analysis,
    ModuleItem,
    Work,
    WorkStatus,
    assignment_for_student,
    grade_released,
    handed_in_late,
    is_graded,
    refusal,
)
from cases.permissions import CourseAccess, access_item_content, graded_students
from cases.services import analyses as services
from cases.services.annotations import new_nonce
from cases.views.peer_review import peer_student_context

PAGE = "cases/analyses/analysis.html"


class MemoForm(forms.Form):
    body = forms.CharField(
        label="Your analysis (Markdown)",
        required=False,
        max_length=MAX_MEMO_CHARS,
        strip=False,
        widget=forms.Textarea(attrs={"rows": 18, "spellcheck": "true"}),
    )
    nonce = forms.CharField(required=False, widget=forms.HiddenInput)


def _paragraphs(analysis: Analysis) -> list[tuple[int, str]]:
    """The case's paragraphs as the citation picker lists them: number and first words."""
    if analysis.case is None:
        return []
    rows = analysis.case.paragraphs.order_by("number").values_list("number", "text")
    return [(number, " ".join(text.split()[:10])) for number, text in rows]


def _student_context(request, item: ModuleItem, analysis: Analysis, form=None, **extra) -> dict:
    user = request.user
    now = timezone.now()
    assignment = assignment_for_student(item.pk, user)
    memo = services.memo_of(item, user)
    versions = memo.shown_versions if memo else []
    work = Work.objects.filter(item=item, user=user).first()
    if form is None:
        form = MemoForm(initial={"body": memo.draft if memo else "", "nonce": new_nonce()})
    peer = peer_student_context(item, user, analysis, assignment)
    closed = refusal(assignment, now) if assignment else "This analysis is not given to you."
    closed = closed or services.changes_closed(
        assignment,
        handed_in=bool(versions),
        under_review=peer.get("peer_under_review", False),
        now=now,
    )
    previous_item, next_item = ModuleItem.objects.neighbours_of(item, user, staff=False)
    # Closed, the editor is gone, but nothing the student wrote is hidden from them:
    # the text just sent, or else the draft kept since their last hand-in (or instead
    # of one), shown to copy.
    unsent = ""
    if closed:
        if form.is_bound:
            unsent = form["body"].value() or ""
        elif memo is not None and memo.draft.strip():
            last = versions[0].body.strip() if versions and not versions[0].is_file else None
            unsent = memo.draft if memo.draft.strip() != last else ""
    return {
        "item": item,
        "course": item.module.course,
        "analysis": analysis,
        "assignment": assignment,
        "memo": memo,
        "versions": versions,
        "late": handed_in_late(work, assignment) if assignment else False,
        # Released to the cohort is not graded for them: a grade of theirs must stand.
        "grade_released": grade_released(assignment, item) and is_graded(work),
        "form": form,
        "closed": closed,
        "unsent": unsent,
        "paragraphs": _paragraphs(analysis),
        "words": services.word_count(form["body"].value() or ""),
        "previous_item": previous_item,
        "next_item": next_item,
        # Its own nonce: a file and a text handed in from one page are two versions.
        "upload_form": MemoFileForm(initial={"nonce": new_nonce()})
        if analysis.allow_upload
        else None,
        **peer,
        **extra,
    }


def item_analysis(request: HtmxHttpRequest, item: ModuleItem, access: CourseAccess):
    """A written analysis as a module item: its student writes and hands in; the course
    staff read the prompt with the class's progress (the tracker and the grader do the
    rest). Access checked by item_detail."""
    analysis = getattr(item, "analysis", None)
    if analysis is None:
        return None
    analysis.item = item
    if access.can_grade:
        context = _staff_context(request, item, analysis, access) | {"access": access}
        return render(request, "cases/analyses/analysis_staff.html", context)
    return render(request, PAGE, _student_context(request, item, analysis))


def _staff_context(request, item: ModuleItem, analysis: Analysis, access: CourseAccess) -> dict:
    # The students this grader grades (a TA: their cohorts), of the cohorts given it.
    students = graded_students(request.user, item.module.course, access, item=item)
    counts = Work.objects.filter(item=item, user__in=students).aggregate(
        handed_in=Count("pk", filter=Q(state=WorkStatus.SUBMITTED)),
        writing=Count("pk", filter=Q(state=WorkStatus.IN_PROGRESS)),
    )
    return {
        "item": item,
        "course": item.module.course,
        "analysis": analysis,
        "handed_in": counts["handed_in"],
        "writing": counts["writing"],
        "nav_teaches": True,
    }


def _writer(request, pk: int):
    item, analysis, access = access_item_content(request.user, pk, "analysis")
    if access.can_grade:
        raise PermissionDenied  # Staff read memos; they do not write one.
    return item, analysis


@require_POST
def analysis_draft(request: HtmxHttpRequest, pk: int):
    """The editor's autosave (htmx, as the student types): keeps the draft and answers
    the line that says when it was saved and how many words it has."""
    item, analysis = _writer(request, pk)
    body = request.POST.get("body", "")
    try:
        saved = services.draft_save(
            item=item,
            user=request.user,
            body=body,
            seq=parse_int(request.POST.get("seq"), high=2**62),
        )
    except services.MemoRefused as refused:
        return render(
            request,
            f"{PAGE}#draft-status",
            {"error": str(refused), "words": services.word_count(body), "analysis": analysis},
        )
    return render(
        request,
        f"{PAGE}#draft-status",
        {"saved_at": saved.saved_at, "words": saved.words, "analysis": analysis},
    )


@require_POST
@vary_on_headers("HX-Request")
def analysis_preview(request: HtmxHttpRequest, pk: int):
    """The draft as it will read, with its ¶ citations linked (htmx: the preview panel;
    without script the writing page posts "Preview" to analysis_write)."""
    _item, analysis = _writer(request, pk)
    body = request.POST.get("body", "")[:MAX_MEMO_CHARS]
    html, cited = services.memo_html(body, analysis)
    return render(
        request, f"{PAGE}#preview", {"preview_html": html, "cited": cited, "preview": True}
    )


@require_POST
def analysis_write(request: HtmxHttpRequest, pk: int):
    """The editor's form without script, and handing in with or without: "Save draft",
    "Preview", "Insert ¶N" and "Hand in". Whatever happens the text typed comes back
    in the editor, with any refusal beside it."""
    item, analysis = _writer(request, pk)
    form = MemoForm(request.POST)
    action = request.POST.get("action", "save")
    body = request.POST.get("body", "")
    extra = {}
    if not form.is_valid():
        return render(request, PAGE, _student_context(request, item, analysis, form), status=400)
    if action == "cite":
        number = parse_int(request.POST.get("paragraph"), low=1, high=100_000)
        if number is not None:
            body = f"{body.rstrip()} ¶{number}"
        data = request.POST.copy()
        data["body"] = body
        form = MemoForm(data)
        form.is_valid()
    try:
        services.draft_save(item=item, user=request.user, body=body, seq=None)
        if action == "submit":
            version = services.memo_submit(
                item=item, user=request.user, body=body, nonce=request.POST.get("nonce", "")
            )
            messages.success(
                request, f"Handed in: version {version.number}, {version.word_count:,} words."
            )
            return redirect(item)
    except services.MemoRefused as refused:
        form.add_error("body", str(refused))
        return render(request, PAGE, _student_context(request, item, analysis, form), status=400)
    if action == "preview":
        html, cited = services.memo_html(body, analysis)
        extra = {"preview_html": html, "cited": cited, "preview": True}
    elif action == "save":
        messages.success(request, "Draft saved.")
        return redirect(item)
    return render(request, PAGE, _student_context(request, item, analysis, form, **extra))
