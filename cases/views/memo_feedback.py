"""A handed-in version of a memo as its author and its graders read it: the text with
the grader's comments marked in it and listed in the margin, the rubric and the
overall comment (for the author, once the grades are released), commenting on its
words and deleting a comment, and what changed from the version before.

Without script a grader comments through "+ comment" beside a paragraph (a form whose
first field lists its sentences); with htmx, selecting words opens the same form
beside them and a saved comment appears without a reload. The grader
(`grade_work`) shows the same text and tools through `memo_layer_context`."""

import re

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django.views.decorators.vary import vary_on_headers
from django_htmx.http import reswap, retarget

from cases.anchors import trimmed
from cases.http import HtmxHttpRequest, parse_int
from cases.models import LatePolicy, MemoComment, MemoVersion, Work, graded_earlier
from cases.permissions import MemoFeedback, access_memo_feedback
from cases.services import memo_feedback as services
from cases.services.annotations import Selection, new_nonce
from cases.services.workspace.work import days_late, earlier_points, work_points

PAGE = "cases/analyses/version.html"
LAYER = f"{PAGE}#memo-layer"
FORM = f"{PAGE}#comment-form"
GRADER = "grader"  # The `origin` of the grader's forms: they go back to the grader.


# The text with its comments ----------------------------------------------------------------


def _form(block, data, *, error: str = "", field: str = "") -> dict:
    """The comment form for words of `block`: the selection the page sent, or the
    block's sentences to pick from; what was typed kept."""
    start = parse_int(data.get("start"), low=0)
    end = parse_int(data.get("end"), low=0)
    end_paragraph = parse_int(data.get("end_paragraph"), low=1)
    quote = (data.get("quote") or "")[:2000]
    selected = bool(quote and start is not None and end is not None)
    return {
        "block": block,
        "selection": {
            "start": start,
            "end": end,
            "end_paragraph": end_paragraph or block.number,
            "quote": quote,
        }
        if selected
        else None,
        "sentences": [] if selected else services.sentence_choices(block),
        "sentence": data.get("sentence", ""),
        "body": data.get("body", ""),
        "nonce": data.get("nonce") or new_nonce(),
        "error": error,
        "error_field": field,
    }


def memo_layer_context(
    request, feedback: MemoFeedback, *, origin: str = "", form: dict | None = None, comments=None
) -> dict:
    """What the text with its comments needs: the blocks marked, the comments in order,
    the tools for a grader, and an open form (`form`, from `_form`). One query (the
    comments) unless they are given, none when the reader may not see them yet."""
    version = feedback.version
    blocks = services.version_blocks(version.body_html)
    if not feedback.shows_feedback:
        comments = []
    elif comments is None:
        comments = list(
            MemoComment.objects.filter(version=version).select_related("author").order_by("pk")
        )
    moderates = bool(feedback.access and feedback.access.can_teach)
    layer = services.version_layer(blocks, comments, user=request.user, moderates=moderates)
    return {
        "version": version,
        "feedback": feedback,
        "layer": layer,
        "origin": origin,
        "comment_form": form,
        "comments_url": reverse("cases:memo_comment_create", args=[version.pk]),
    }


def _back(feedback: MemoFeedback, origin: str, anchor: str = "") -> str:
    """Where a form without script returns: the grader, or the version's page."""
    version = feedback.version
    if origin == GRADER:
        memo = version.memo
        url = reverse("cases:grade_work", args=[memo.item_id, memo.author_id])
        return f"{url}?version={version.number}{anchor}"
    return reverse("cases:memo_version", args=[version.pk]) + anchor


def _rubric_rows(work: Work | None) -> list[dict]:
    """The rubric's criteria with the level the grader chose in each (if any)."""
    rubric = work.item.rubric if work is not None else None
    if rubric is None:
        return []
    rows = []
    for index, criterion in enumerate(rubric.criteria):
        chosen = work.rubric_levels.get(str(index))
        levels = criterion["levels"]
        level = (
            levels[int(chosen)] if chosen is not None and 0 <= int(chosen) < len(levels) else None
        )
        rows.append(
            {
                "name": criterion["name"],
                "level": level,
                "most": max(lvl["points"] for lvl in levels),
            }
        )
    return rows


def _grade(work: Work | None, assignment) -> dict:
    """The points the work earns of the assignment's, as the gradebook and "My grades"
    reckon them (an override, else the rubric or the points given, less any late
    penalty; the earlier grade while it waits to be graded again), and the days late
    a penalty took off."""
    if work is None or assignment is None:
        return {}
    rubric_max = work.item.rubric.max_points if work.item.rubric_id else None
    reckon = earlier_points if graded_earlier(work) else work_points
    points = reckon(work, assignment, rubric_max)
    penalized = (
        assignment.late_policy == LatePolicy.PENALIZE
        and assignment.late_penalty_percent
        and work.override_score is None
    )
    late = days_late(work.submitted_at, assignment.due_at) if penalized else 0
    return {"grade_points": points, "late_days": late}


def _page(
    request, feedback: MemoFeedback, *, form: dict | None = None, origin: str = "", status=200
):
    version = feedback.version
    memo = version.memo
    # The versions to move between, with the author's name riding along.
    versions = list(
        MemoVersion.objects.filter(memo=memo)
        .select_related("memo__author")
        .only("pk", "number", "submitted_at", "memo__author")
    )
    memo.author = versions[0].memo.author
    work = None
    if feedback.shows_feedback:
        work = Work.objects.filter(item=memo.item_id, user=memo.author_id)
        work = work.select_related("item__rubric").first()
    context = memo_layer_context(request, feedback, origin=origin, form=form)
    context |= {
        "memo": memo,
        "item": memo.item,
        "course": memo.item.module.course,
        "author": memo.author,
        "versions": versions,
        "previous": next((v for v in versions if v.number == version.number - 1), None),
        "work": work,
        # Graded, then handed in again: the grade shown is the earlier one, to redo.
        "graded_earlier": graded_earlier(work),
        "rubric_rows": _rubric_rows(work),
        **_grade(work, feedback.assignment),
    }
    if feedback.access is not None:
        context["nav_teaches"] = True  # Known from the grader's access; no query.
    return render(request, PAGE, context, status=status)


@require_GET
@vary_on_headers("HX-Request")
def memo_version(request: HtmxHttpRequest, pk: int):
    """A handed-in version: its author reads the text, and the grader's comments in
    its margin, the rubric and the comment once their grades are released; the
    course's graders (a TA: of their cohorts) and admins read everything and comment."""
    return _page(request, access_memo_feedback(request.user, pk))


# Commenting --------------------------------------------------------------------------------


def _grader(request, pk: int, *, release: bool = False) -> MemoFeedback:
    """The version for one who grades its author (`release`: whether the grades are
    released is asked too, for a whole page); its author is refused."""
    feedback = access_memo_feedback(request.user, pk, release=release)
    if not feedback.can_comment:
        raise PermissionDenied  # Its author reads the comments; graders write them.
    return feedback


def _block(feedback: MemoFeedback, number: int | None) -> services.Block:
    """The block of the version a comment form is for (its first, if the number is not
    one of them); 404 for a version handed in as a file."""
    blocks = services.version_blocks(feedback.version.body_html)
    if not blocks:
        raise Http404
    return next((b for b in blocks if b.number == number), blocks[0])


@require_http_methods(["GET", "POST"])
@vary_on_headers("HX-Request")
def memo_comment_create(request: HtmxHttpRequest, pk: int):
    """The course's graders comment on words of a version. GET: the form for a
    paragraph (?paragraph=3, with the selected words if any): for htmx, beside the
    paragraph; else the version's page with the form open there. POST: the comment,
    made once however often the form is sent; refused input comes back beside its
    field, with what was typed."""
    feedback = _grader(request, pk, release=not request.htmx)  # Without htmx: a page.
    data = request.POST if request.method == "POST" else request.GET
    origin = data.get("origin", "")
    block = _block(feedback, parse_int(data.get("paragraph"), low=1))
    if request.method == "GET":
        form = _form(block, data)
        if request.htmx and not request.htmx.history_restore_request:
            context = memo_layer_context(request, feedback, origin=origin, form=form, comments=[])
            return render(request, FORM, context)
        return _page(request, feedback, form=form, origin=origin)
    start, end = parse_int(data.get("start"), low=0), parse_int(data.get("end"), low=0)
    end_paragraph = parse_int(data.get("end_paragraph"), low=1) or block.number
    quote = data.get("quote", "")
    if not (quote and start is not None and end is not None):
        # A sentence picked from the list, or the whole paragraph.
        quote = ""
        picked = re.fullmatch(r"(\d+)-(\d+)", data.get("sentence", ""))
        start, end = (int(picked[1]), int(picked[2])) if picked else trimmed(block.text)
        end_paragraph = block.number
    try:
        comment = services.comment_create(
            version=feedback.version,
            author=request.user,
            selection=Selection(block.number, start, end_paragraph, end, quote),
            body=data.get("body", ""),
            nonce=data.get("nonce", ""),
        )
    except services.CommentRefused as refused:
        form = _form(block, data, error=str(refused), field=refused.field)
        if request.htmx:
            context = memo_layer_context(request, feedback, origin=origin, form=form, comments=[])
            return render(request, FORM, context)
        return _page(request, feedback, form=form, origin=origin, status=400)
    if request.htmx:
        context = memo_layer_context(request, feedback, origin=origin)
        context["announce"] = "Comment saved."
        return reswap(retarget(render(request, LAYER, context), "#memo-layer"), "outerHTML")
    messages.success(request, "Comment saved.")
    return redirect(_back(feedback, origin, f"#c{comment.pk}"))


@require_POST
@vary_on_headers("HX-Request")
def memo_comment_delete(request: HtmxHttpRequest, pk: int):
    """A comment's author deletes it, as may the course's instructors and admins; other
    graders are refused; anyone who may not grade the memo is not told it exists."""
    comment = get_object_or_404(MemoComment.objects.only("pk", "version_id", "author_id"), pk=pk)
    feedback = _grader(request, comment.version_id)
    if comment.author_id != request.user.pk and not feedback.access.can_teach:
        raise PermissionDenied
    services.comment_delete(comment=comment)
    origin = request.POST.get("origin", "")
    if request.htmx:
        context = memo_layer_context(request, feedback, origin=origin)
        context["announce"] = "Comment deleted."
        return render(request, LAYER, context)
    messages.success(request, "Comment deleted.")
    return redirect(_back(feedback, origin))


# What changed ------------------------------------------------------------------------------


def changes_context(previous: MemoVersion | None, version: MemoVersion) -> dict:
    """What changed from the version before to this one, for the page and the grader."""
    if previous is None:
        return {"changes": None, "changes_note": "This is the first version handed in."}
    found = {"previous_version": previous}
    if previous.is_file or version.is_file:
        return found | {
            "changes": None,
            "changes_note": "A version handed in as a file cannot be compared word by word.",
        }
    changes = services.memo_changes(previous, version)
    return found | {"changes": changes, "counted": services.changes_counted(changes)}


@require_GET
def memo_changes(request: HtmxHttpRequest, pk: int):
    """What changed from the version before to this one, word by word: for the course's
    graders and for the author (it is their own writing, released or not)."""
    feedback = access_memo_feedback(request.user, pk)
    version = feedback.version
    previous = MemoVersion.objects.filter(memo=version.memo, number=version.number - 1).first()
    context = {
        "version": version,
        "previous": previous,
        "memo": version.memo,
        "item": version.memo.item,
        "course": version.memo.item.module.course,
        "author": version.memo.author,
        "feedback": feedback,
        **changes_context(previous, version),
    }
    if feedback.access is not None:
        context["nav_teaches"] = True
    return render(request, "cases/analyses/version_changes.html", context)
